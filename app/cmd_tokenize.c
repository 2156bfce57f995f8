/*
 * app/cmd_tokenize.c - `cove tokenize`: print the token ids of a text.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "cli.h"
#include "cove/engine.h"

#define CMD "tokenize"

static void usage(FILE *f)
{
    fprintf(f, "usage: cove tokenize -m MODEL [--raw] (TEXT | --file F)\n\n"
               "Prints the token ids of TEXT (or of the contents of file F) on one line,\n"
               "separated by spaces. Only the model's vocabulary is loaded.\n\n"
               "  -m MODEL   GGUF file with a vocabulary\n"
               "  --raw      add no BOS/EOS and read control-token text (\"<s>\") as plain text\n"
               "  --file F   tokenize the bytes of F (at most %u bytes)\n\n"
               "Exit status: 0 done, 1 error, 2 bad usage.\n",
            (unsigned)COVE_MAX_PROMPT_FILE);
}

/* Read the whole file into *out (cove_malloc'd). Returns 0 or an exit code. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(CMD, "cannot open %s", path);
    size_t cap = 1u << 16, n = 0;
    char *buf = cove_malloc(cap);
    int rc = buf ? 0 : cli_fail(CMD, "out of memory");
    while (rc == 0) {
        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f))
            rc = cli_fail(CMD, "cannot read %s", path);
        else if (n < cap)
            break;
        else if (cap > COVE_MAX_PROMPT_FILE)
            rc = cli_fail(CMD, "%s is larger than %u bytes", path, (unsigned)COVE_MAX_PROMPT_FILE);
        else {
            char *bigger = cove_realloc(buf, cap * 2);
            rc = bigger ? 0 : cli_fail(CMD, "out of memory");
            buf = bigger ? bigger : buf;
            cap *= 2;
        }
    }
    fclose(f);
    if (rc) {
        cove_free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int print_tokens(const cove_model *m, const char *text, size_t len, int raw)
{
    cove_error err = {0};
    int32_t need = 0;
    cove_status st = cove_tokenize(m, text, len, !raw, !raw, NULL, 0, &need, &err);
    if (st != COVE_OK && st != COVE_ERR_LIMIT)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    int32_t *ids = cove_malloc(((size_t)need + 1) * sizeof *ids), n = 0;
    if (!ids)
        return cli_fail(CMD, "out of memory");
    st = cove_tokenize(m, text, len, !raw, !raw, ids, need, &n, &err);
    for (int32_t i = 0; st == COVE_OK && i < n; i++)
        printf(i ? " %d" : "%d", (int)ids[i]);
    cove_free(ids);
    if (st != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    printf("\n");
    return fflush(stdout) == 0 ? COVE_EXIT_OK : cli_fail(CMD, "cannot write the output");
}

int cove_cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text = NULL, *file = NULL;
    int raw = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return COVE_EXIT_OK;
        } else if (strcmp(argv[i], "--raw") == 0) {
            raw = 1;
        } else if ((strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc) {
            *(argv[i][1] == 'm' ? &model : &file) = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error(CMD, "unknown option or missing value: '%s'", argv[i]);
        } else if (text) {
            return cli_usage_error(CMD, "give the text as one argument (quote it)");
        } else {
            text = argv[i];
        }
    }
    if (!model)
        return cli_usage_error(CMD, "-m MODEL is required");
    if (!text == !file)
        return cli_usage_error(CMD, "give either TEXT or --file F");
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *m = NULL;
    if (cove_cli_model_load(CMD, model, mp, &m) != COVE_EXIT_OK)
        return COVE_EXIT_ERROR;
    char *data = NULL;
    size_t len = text ? strlen(text) : 0;
    int rc = file ? read_file(file, &data, &len) : 0;
    if (rc == 0)
        rc = print_tokens(m, file ? data : text, len, raw);
    cove_free(data);
    cove_model_free(m);
    return rc;
}
