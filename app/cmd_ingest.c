/*
 * app/cmd_ingest.c - `cove ingest`: add files to a knowledge base.
 *
 * Prints a progress bar on stderr when stderr is a terminal, the reason for every skipped
 * file on stderr (log level warn), and ends with one line on stdout:
 *     ingested: N new, N changed, N removed, N unchanged, N skipped
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "catalogue.h"
#include "cli.h"
#include "cove/engine.h"
#include "kb/kb.h"

#define CMD "ingest"
#define DEFAULT_MODEL "all-minilm-l6-v2"

typedef struct ingest_opts {
    const char *kb;
    const char *model;
    cove_kb_params kp;
    cove_kb_ingest_params ip;
    int32_t threads;
    int quiet;
    char **paths;
    int n_paths;
} ingest_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: cove ingest --kb FILE.db [-m MODEL] [--chunk-tokens N] [--overlap N]\n"
               "                   [--int8] [--max-file-bytes N] [--accept-weak-sandbox] [-t THREADS]\n"
               "                   [-q] PATH...\n\n"
               "Adds the .txt, .md, .csv, .html and .pdf files under each PATH to the knowledge\n"
               "base FILE.db (created when missing). Files already stored with the same content\n"
               "are left alone; changed files are replaced; stored files under PATH that are gone\n"
               "are removed. Unreadable, binary, huge or malformed files are skipped (the reason\n"
               "goes to stderr). Safe to interrupt: the next run completes the work.\n\n"
               "  --kb FILE.db        the store (SQLite)\n"
               "  -m MODEL            GGUF embedding model; default %s from the model cache\n"
               "  --chunk-tokens N    most tokens of a chunk (default 512, capped by the model)\n"
               "  --overlap N         tokens repeated when a long passage is cut (default 64)\n"
               "  --int8              a new store keeps int8 vectors (default f32)\n"
               "  --max-file-bytes N  skip larger files (default 64 MiB)\n"
               "  --accept-weak-sandbox\n"
               "                      run pdftotext even on a kernel without Landlock (its file\n"
               "                      access is then not confined); by default PDFs are skipped\n"
               "                      there. pdftotext always runs in a child with seccomp,\n"
               "                      rlimits, no network and the document on stdin\n"
               "  -t THREADS          embedding threads (default: all cores)\n"
               "  -q                  no progress bar\n\n"
               "Prints 'ingested: N new, N changed, N removed, N unchanged, N skipped'.\n"
               "Exit status: 0 done, 1 error, 2 bad usage.\n", DEFAULT_MODEL);
}

static int parse_args(int argc, char **argv, ingest_opts *o)
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
        } else if (strcmp(a, "--int8") == 0) {
            o->kp.vec_format = COVE_KB_VEC_INT8;
        } else if (strcmp(a, "--accept-weak-sandbox") == 0) {
            o->ip.sandbox_accept_weak = 1;
        } else if (strcmp(a, "-q") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--chunk-tokens") == 0 && val) {
            if (cli_parse_long(argv[++i], 16, 8192, &l) != 0)
                return cli_usage_error(CMD, "--chunk-tokens takes 16 to 8192");
            o->ip.chunk_tokens = (int32_t)l;
        } else if (strcmp(a, "--overlap") == 0 && val) {
            if (cli_parse_long(argv[++i], 0, 4096, &l) != 0)
                return cli_usage_error(CMD, "--overlap takes 0 to 4096");
            o->ip.overlap_tokens = (int32_t)l;
        } else if (strcmp(a, "--max-file-bytes") == 0 && val) {
            if (cli_parse_long(argv[++i], 1, 1L << 40, &l) != 0)
                return cli_usage_error(CMD, "--max-file-bytes takes a positive number");
            o->ip.max_file_bytes = l;
        } else if (strcmp(a, "-t") == 0 && val) {
            if (cli_parse_long(argv[++i], 1, 256, &l) != 0)
                return cli_usage_error(CMD, "-t takes a number of threads from 1 to 256");
            o->threads = (int32_t)l;
        } else {
            return cli_usage_error(CMD, "unknown option or missing value: '%s'", a);
        }
    }
    o->paths = argv + i;
    o->n_paths = argc - i;
    if (!o->kb)
        return cli_usage_error(CMD, "--kb FILE.db is required");
    if (o->n_paths == 0)
        return cli_usage_error(CMD, "give at least one PATH");
    if (o->ip.overlap_tokens * 2 >= o->ip.chunk_tokens)
        return cli_usage_error(CMD, "--overlap must be less than half of --chunk-tokens");
    return 0;
}

static void progress(void *user, int64_t done, int64_t total, const char *path)
{
    (void)user;
    int width = 30, fill = total ? (int)(done * width / total) : width;
    const char *base = strrchr(path, '/');
    fprintf(stderr, "\r[%.*s%*s] %lld/%lld %-40.40s", fill,
            "##############################", width - fill, "", (long long)done,
            (long long)total, base ? base + 1 : path);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static int run(const ingest_opts *o, cove_model *m)
{
    cove_error err = {0};
    cove_embed_params ep = cove_embed_default_params();
    ep.truncate = 1;
    ep.n_threads = o->threads;
    cove_embedder *e = NULL;
    cove_kb *kb = NULL;
    if (cove_embedder_create(m, ep, &e, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    int rc = COVE_EXIT_OK;
    if (cove_kb_open(o->kb, o->kp, &kb, &err) != COVE_OK) {
        rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    } else {
        cove_kb_ingest_params ip = o->ip;
        cove_cli_log_sandbox(ip.sandbox_accept_weak);
        ip.tokenizer = m;
        if (!o->quiet && isatty(STDERR_FILENO))
            ip.progress = progress;
        cove_kb_ingest_stats st = {0};
        cove_status s = cove_kb_ingest(kb, e, (const char *const *)o->paths, o->n_paths, &ip,
                                       &st, &err);
        if (s != COVE_OK)
            rc = cli_fail(CMD, "%s", cove_error_msg(&err));
        else
            printf("ingested: %lld new, %lld changed, %lld removed, %lld unchanged, "
                   "%lld skipped\n", (long long)st.n_new, (long long)st.n_changed,
                   (long long)st.n_removed, (long long)st.n_unchanged, (long long)st.n_skipped);
    }
    cove_kb_free(kb);
    cove_embedder_free(e);
    return rc;
}

int cove_cmd_ingest(int argc, char **argv)
{
    ingest_opts o = {.kp = cove_kb_default_params(), .ip = cove_kb_default_ingest_params()};
    int rc = parse_args(argc, argv, &o);
    if (rc == -1) {
        usage(stdout);
        return COVE_EXIT_OK;
    }
    if (rc != 0)
        return rc;
    cove_model *m = NULL;
    if ((rc = cove_cli_load_model(CMD, o.model, DEFAULT_MODEL, &m)) != COVE_EXIT_OK)
        return rc;
    rc = run(&o, m);
    cove_model_free(m);
    return rc;
}
