/*
 * app/cmd_search.c - `cove search`: ranked chunks of a knowledge base for a query.
 *
 * Plain output: one block per hit (rank, score, path, heading, range, then the text).
 * --json: an array of objects {"path", "text", "score", "heading", "chunk_id", "range"}.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "catalogue.h"
#include "cli.h"
#include "cove/engine.h"
#include "kb/kb.h"

#define CMD "search"
#define DEFAULT_MODEL "all-minilm-l6-v2"

typedef struct search_opts {
    const char *kb;
    const char *model;
    const char *query;
    cove_kb_search_params sp;
    int json;
} search_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: cove search --kb FILE.db [-k N] [--mode vector|keyword|hybrid] [--json]\n"
               "                   [--prefix PATH] [--exact] [-m MODEL] QUERY\n\n"
               "Prints the chunks of the knowledge base that best match QUERY, best first.\n\n"
               "  --kb FILE.db   the store made by cove ingest\n"
               "  -k N           results (default 5, at most 1000)\n"
               "  --mode M       vector (meaning), keyword (BM25) or hybrid (both, fused by\n"
               "                 reciprocal rank; default)\n"
               "  --json         an array of objects with path, text, score, heading, chunk_id\n"
               "                 and range\n"
               "  --prefix PATH  only documents whose stored (absolute) path starts with PATH\n"
               "  --exact        scan every vector even when an approximate index exists\n"
               "  -m MODEL       embedding model (the one the store was made with); default %s\n\n"
               "Exit status: 0 done (also with no match), 1 error, 2 bad usage.\n",
            DEFAULT_MODEL);
}

static int parse_args(int argc, char **argv, search_opts *o)
{
    long l;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a))
            return -1;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--kb") == 0 && val) {
            o->kb = argv[++i];
        } else if (strcmp(a, "-m") == 0 && val) {
            o->model = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--exact") == 0) {
            o->sp.exact = 1;
        } else if (strcmp(a, "--prefix") == 0 && val) {
            o->sp.path_prefix = argv[++i];
        } else if (strcmp(a, "-k") == 0 && val) {
            if (cli_parse_long(argv[++i], 1, 1000, &l) != 0)
                return cli_usage_error(CMD, "-k takes a number from 1 to 1000");
            o->sp.k = (int32_t)l;
        } else if (strcmp(a, "--mode") == 0 && val) {
            if (cove_kb_mode_parse(argv[++i], &o->sp.mode) != 0)
                return cli_usage_error(CMD, "--mode takes vector, keyword or hybrid, not '%s'",
                                       val);
        } else {
            return cli_usage_error(CMD, "unknown option or missing value: '%s'", a);
        }
    }
    if (!o->kb)
        return cli_usage_error(CMD, "--kb FILE.db is required");
    if (argc - i != 1)
        return cli_usage_error(CMD, "give exactly one QUERY (quote it)");
    o->query = argv[i];
    return 0;
}

static void print_range(FILE *f, const cove_kb_hit *h)
{
    if (h->range_kind == COVE_KB_RANGE_PAGES)
        fprintf(f, "pages %lld-%lld", (long long)h->range_start, (long long)h->range_end);
    else
        fprintf(f, "bytes %lld-%lld", (long long)h->range_start, (long long)h->range_end);
}

static int print_plain(const cove_kb_results *r)
{
    for (int32_t i = 0; i < r->n; i++) {
        const cove_kb_hit *h = &r->hits[i];
        printf("%d. %.4f %s (", i + 1, h->score, h->path);
        print_range(stdout, h);
        printf(")%s%s\n   %s\n", *h->heading ? " # " : "", h->heading, h->text);
    }
    return fflush(stdout) == 0 ? COVE_EXIT_OK : cli_fail(CMD, "cannot write the output");
}

static int print_json(const cove_kb_results *r)
{
    struct cove_buf b;
    cove_buf_init(&b, (size_t)1 << 30);
    cove_status s = cove_buf_append_str(&b, "[");
    for (int32_t i = 0; s == COVE_OK && i < r->n; i++) {
        const cove_kb_hit *h = &r->hits[i];
        s = cove_buf_appendf(&b, "%s{\"path\":", i ? ",\n " : "");
        if (s == COVE_OK)
            s = cove_json_append_string(&b, h->path, strlen(h->path));
        if (s == COVE_OK)
            s = cove_buf_append_str(&b, ",\"text\":");
        if (s == COVE_OK)
            s = cove_json_append_string(&b, h->text, strlen(h->text));
        if (s == COVE_OK)
            s = cove_buf_appendf(&b, ",\"score\":%.6g,\"heading\":", h->score);
        if (s == COVE_OK)
            s = cove_json_append_string(&b, h->heading, strlen(h->heading));
        if (s == COVE_OK)
            s = cove_buf_appendf(&b, ",\"chunk_id\":%lld,\"range\":{\"kind\":\"%s\",\"start\":"
                                 "%lld,\"end\":%lld}}", (long long)h->chunk_id,
                                 h->range_kind == COVE_KB_RANGE_PAGES ? "pages" : "bytes",
                                 (long long)h->range_start, (long long)h->range_end);
    }
    if (s == COVE_OK)
        s = cove_buf_append_str(&b, "]\n");
    if (s == COVE_OK)
        fwrite(b.data, 1, b.len, stdout);
    cove_buf_release(&b);
    if (s != COVE_OK)
        return cli_fail(CMD, "cannot format the results: %s", cove_status_str(s));
    return fflush(stdout) == 0 ? COVE_EXIT_OK : cli_fail(CMD, "cannot write the output");
}

static int run(search_opts *o, cove_model *m)
{
    cove_error err = {0};
    cove_embedder *e = NULL;
    cove_kb *kb = NULL;
    cove_embed_params ep = cove_embed_default_params();
    ep.truncate = 1;
    if (m && cove_embedder_create(m, ep, &e, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    cove_kb_params kp = cove_kb_default_params();
    kp.read_only = 1;
    int rc = COVE_EXIT_OK;
    cove_kb_results res = {0};
    if (cove_kb_open(o->kb, kp, &kb, &err) != COVE_OK) {
        rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    } else {
        o->sp.embedder = e;
        if (cove_kb_search(kb, o->query, &o->sp, &res, &err) != COVE_OK)
            rc = cli_fail(CMD, "%s", cove_error_msg(&err));
        else
            rc = o->json ? print_json(&res) : print_plain(&res);
    }
    cove_kb_results_release(&res);
    cove_kb_free(kb);
    cove_embedder_free(e);
    return rc;
}

int cove_cmd_search(int argc, char **argv)
{
    search_opts o = {.sp = cove_kb_default_search_params()};
    int rc = parse_args(argc, argv, &o);
    if (rc == -1) {
        usage(stdout);
        return COVE_EXIT_OK;
    }
    if (rc != 0)
        return rc;
    cove_model *m = NULL;
    if (o.sp.mode != COVE_KB_MODE_KEYWORD) {
        if ((rc = cove_cli_load_model(CMD, o.model, DEFAULT_MODEL, &m)) != COVE_EXIT_OK)
            return rc;
    }
    rc = run(&o, m);
    cove_model_free(m);
    return rc;
}
