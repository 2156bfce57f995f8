/*
 * app/cmd_validate.c - `cove validate` (check a JSON document against a JSON Schema)
 * and `cove schema2gbnf` (print the GBNF grammar of a JSON Schema).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "cli.h"
#include "schema/schema.h"

/* Read a whole file ("-" = stdin) of at most COVE_SCHEMA_MAX_BYTES into b. */
static int read_all(const char *cmd, const char *path, struct cove_buf *b)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return cli_fail(cmd, "cannot open %s", path);
    char chunk[65536];
    size_t n;
    cove_status st = COVE_OK;
    while (!st && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = cove_buf_append(b, chunk, n);
    int rerr = ferror(f);
    if (f != stdin)
        fclose(f);
    if (st == COVE_ERR_LIMIT)
        return cli_fail(cmd, "%s is longer than %u bytes", path, COVE_SCHEMA_MAX_BYTES);
    if (st || rerr)
        return cli_fail(cmd, "cannot read %s", path);
    return COVE_EXIT_OK;
}

static void validate_usage(FILE *f)
{
    fprintf(f, "usage: cove validate SCHEMA.json [DOC.json]\n\n"
               "Checks a JSON document (DOC.json, or stdin when absent or '-') against a JSON\n"
               "Schema (draft 2020-12; see docs/json-schema.md). Prints 'valid' on stdout, or\n"
               "the JSON pointer of the first failure, the keyword and the reason on stderr.\n\n"
               "Exit status: 0 valid, 1 invalid (or a schema or file error), 2 bad usage.\n");
}

int cove_cmd_validate(int argc, char **argv)
{
    const char *cmd = "validate";
    if (argc > 1 && cli_is_help(argv[1])) {
        validate_usage(stdout);
        return COVE_EXIT_OK;
    }
    if (argc < 2 || argc > 3)
        return cli_usage_error(cmd, "expected SCHEMA.json and at most one document");
    struct cove_buf s, d;
    cove_buf_init(&s, COVE_SCHEMA_MAX_BYTES);
    cove_buf_init(&d, COVE_SCHEMA_MAX_BYTES);
    int rc = read_all(cmd, argv[1], &s);
    if (rc == COVE_EXIT_OK)
        rc = read_all(cmd, argc > 2 ? argv[2] : "-", &d);
    if (rc == COVE_EXIT_OK) {
        cove_error err = {0};
        cove_status st = cove_schema_validate_text(s.data ? s.data : "", s.len,
                                                   d.data ? d.data : "", d.len, &err);
        if (st == COVE_OK)
            printf("valid\n");
        else if (st == COVE_ERR_FORMAT)
            rc = cli_fail(cmd, "invalid: %s", cove_error_msg(&err));
        else
            rc = cli_fail(cmd, "%s", cove_error_msg(&err));
    }
    cove_buf_release(&s);
    cove_buf_release(&d);
    return rc;
}

static void gbnf_usage(FILE *f)
{
    fprintf(f, "usage: cove schema2gbnf [--ws N] [--extra-props] [--strict] SCHEMA.json\n"
               "       cove schema2gbnf --any [--ws N]\n\n"
               "Prints the GBNF grammar (start rule 'root') that generates the JSON documents of\n"
               "a JSON Schema ('-' reads it from stdin); --any prints the grammar of any JSON.\n\n"
               "  --ws N         optional whitespace bytes between tokens, 0..%d (default 1)\n"
               "  --extra-props  allow additional properties where the schema does not say\n"
               "  --strict       refuse the documented relaxations (oneOf as anyOf, ...)\n\n"
               "Exit status: 0 done, 1 the schema cannot be converted, 2 bad usage.\n",
            COVE_SCHEMA_MAX_WS);
}

int cove_cmd_schema2gbnf(int argc, char **argv)
{
    const char *cmd = "schema2gbnf", *path = NULL;
    cove_schema_opts o = cove_schema_default_opts();
    int any = 0;
    for (int i = 1; i < argc; i++) {
        long v;
        if (cli_is_help(argv[i])) {
            gbnf_usage(stdout);
            return COVE_EXIT_OK;
        } else if (strcmp(argv[i], "--ws") == 0 && i + 1 < argc) {
            if (cli_parse_long(argv[++i], 0, COVE_SCHEMA_MAX_WS, &v) != 0)
                return cli_usage_error(cmd, "--ws wants 0..%d", COVE_SCHEMA_MAX_WS);
            o.max_ws = (int)v;
        } else if (strcmp(argv[i], "--extra-props") == 0) {
            o.allow_extra_props = 1;
        } else if (strcmp(argv[i], "--strict") == 0) {
            o.strict = 1;
        } else if (strcmp(argv[i], "--any") == 0) {
            any = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(cmd, "unknown option %s", argv[i]);
        } else if (path) {
            return cli_usage_error(cmd, "expected one schema file");
        } else {
            path = argv[i];
        }
    }
    if (!path && !any)
        return cli_usage_error(cmd, "expected SCHEMA.json or --any");
    struct cove_buf s;
    cove_buf_init(&s, COVE_SCHEMA_MAX_BYTES);
    int rc = any ? COVE_EXIT_OK : read_all(cmd, path, &s);
    char *g = NULL;
    cove_error err = {0};
    if (rc == COVE_EXIT_OK) {
        cove_status st = any ? cove_schema_any_json_gbnf(&o, &g, &err)
                             : cove_schema_to_gbnf(s.data ? s.data : "", s.len, &o, &g, &err);
        if (st)
            rc = cli_fail(cmd, "%s", cove_error_msg(&err));
        else
            fputs(g, stdout);
    }
    cove_free(g);
    cove_buf_release(&s);
    return rc;
}
