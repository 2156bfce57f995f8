/*
 * app/cmd_embed.c - `cove embed`: sentence embeddings of texts, as JSON on stdout.
 *
 * stdout gets one JSON array holding one array of numbers per text, in the order of the
 * texts; timings go to stderr with -v.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "catalogue.h"
#include "cli.h"
#include "cove/engine.h"

#define CMD "embed"
#define DEFAULT_MODEL "all-minilm-l6-v2"

typedef struct embed_opts {
    const char *model;
    cove_embed_params p;
    int verbose;
    char **texts;
    int n_texts;
} embed_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: cove embed [-m MODEL] [--no-normalize] [--pooling P] [--truncate]\n"
               "                  [-t THREADS] [-v] [--] TEXT...\n\n"
               "Prints the sentence embedding of each TEXT as JSON: an array holding one array\n"
               "of numbers per text, in the order of the texts. Each text gets [CLS] and [SEP].\n\n"
               "  -m MODEL        GGUF file of an embedding model (architecture bert); default:\n"
               "                  %s from the model cache ($COVE_MODELS)\n"
               "  --no-normalize  print the pooled vectors as they are (default: as the model\n"
               "                  says; unit length for sentence-transformers models that\n"
               "                  normalise, such as %s)\n"
               "  --pooling P     mean, cls or last (default: as the model says)\n"
               "  --truncate      cut a text longer than the model takes to its first tokens\n"
               "                  (default: such a text is an error)\n"
               "  -t THREADS      threads (default: all cores)\n"
               "  -v              timings on stderr\n"
               "  --              the arguments after it are texts, even if they start with -\n\n"
               "Exit status: 0 done, 1 error (model, text too long), 2 bad usage.\n",
            DEFAULT_MODEL, DEFAULT_MODEL);
}

static int parse_pooling(const char *s, enum cove_embed_pooling *out)
{
    static const struct { const char *name; enum cove_embed_pooling v; } t[] = {
        {"mean", COVE_EMBED_POOLING_MEAN},
        {"cls", COVE_EMBED_POOLING_CLS},
        {"last", COVE_EMBED_POOLING_LAST}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].name) == 0) {
            *out = t[i].v;
            return 0;
        }
    return -1;
}

/* Parse the options; the texts stay in argv. Returns 0, -1 for --help, or an exit code. */
static int parse_args(int argc, char **argv, embed_opts *o)
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
        } else if (strcmp(a, "--no-normalize") == 0) {
            o->p.normalize = COVE_EMBED_NORM_NONE;
        } else if (strcmp(a, "--truncate") == 0) {
            o->p.truncate = 1;
        } else if (strcmp(a, "-v") == 0) {
            o->verbose = 1;
        } else if (strcmp(a, "-m") == 0 && val) {
            o->model = argv[++i];
        } else if (strcmp(a, "--pooling") == 0 && val) {
            if (parse_pooling(argv[++i], &o->p.pooling) != 0)
                return cli_usage_error(CMD, "--pooling takes mean, cls or last, not '%s'", val);
        } else if (strcmp(a, "-t") == 0 && val) {
            if (cli_parse_long(argv[++i], 1, 256, &l) != 0)
                return cli_usage_error(CMD, "-t takes a number of threads from 1 to 256");
            o->p.n_threads = (int32_t)l;
        } else {
            return cli_usage_error(CMD, "unknown option or missing value: '%s'", a);
        }
    }
    o->texts = argv + i;
    o->n_texts = argc - i;
    if (o->n_texts == 0)
        return cli_usage_error(CMD, "give at least one TEXT");
    return 0;
}

/* JSON of n vectors of dim numbers on stdout; every number must be finite. */
static int print_json(const float *v, int n, int dim)
{
    for (long i = 0; i < (long)n * dim; i++)
        if (!isfinite(v[i]))
            return cli_fail(CMD, "the model gave a value that is not a finite number (text %ld)",
                            i / dim);
    fputc('[', stdout);
    for (int t = 0; t < n; t++) {
        fputs(t ? ",\n [" : "[", stdout);
        for (int d = 0; d < dim; d++)
            printf(d ? ",%.6g" : "%.6g", (double)v[(size_t)t * dim + d]);
        fputc(']', stdout);
    }
    fputs("]\n", stdout);
    return fflush(stdout) == 0 ? COVE_EXIT_OK : cli_fail(CMD, "cannot write the output");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* -v: texts, tokens and speed on stderr. */
static void report(const cove_model *m, const embed_opts *o, double secs)
{
    long tokens = 0;
    for (int i = 0; i < o->n_texts; i++) {
        int32_t n = 0;
        cove_tokenize(m, o->texts[i], strlen(o->texts[i]), 1, 0, NULL, 0, &n, NULL);
        tokens += n;
    }
    fprintf(stderr, "cove embed: %d texts, %ld tokens in %.3f s: %.1f texts/s, %.0f tokens/s\n",
            o->n_texts, tokens, secs, o->n_texts / secs, (double)tokens / secs);
}

static int embed_texts(const cove_model *m, const embed_opts *o)
{
    cove_embedder *e = NULL;
    cove_error err = {0};
    if (cove_embedder_create(m, o->p, &e, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    const int dim = cove_embedder_n_embd(e);
    float *v = cove_malloc((size_t)o->n_texts * (size_t)dim * sizeof *v);
    int rc = v ? COVE_EXIT_OK : cli_fail(CMD, "out of memory");
    double t0 = now_s();
    if (rc == COVE_EXIT_OK &&
        cove_embed(e, (const char *const *)o->texts, o->n_texts, v, &err) != COVE_OK)
        rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    double secs = now_s() - t0;
    if (rc == COVE_EXIT_OK)
        rc = print_json(v, o->n_texts, dim);
    if (rc == COVE_EXIT_OK && o->verbose)
        report(m, o, secs);
    cove_free(v);
    cove_embedder_free(e);
    return rc;
}

int cove_cmd_embed(int argc, char **argv)
{
    embed_opts o = {.p = cove_embed_default_params()};
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
    rc = embed_texts(m, &o);
    cove_model_free(m);
    return rc;
}
