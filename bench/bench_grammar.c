/*
 * bench/bench_grammar.c - grammar engine speed: token-mask time, compile time, and the
 * forward passes jump-forward saves.
 *
 *     bench_grammar [--vocab GGUF] [--schemas DIR] [-n N] [--docs D] [--max-tokens T]
 *
 * Vocabulary: the GGUF given (default: SmolLM2-135M-Instruct.Q4_1.gguf in $COVE_MODELS
 * or ~/.cache/cove/models), loaded vocab-only. Schemas: every *.json in DIR (default
 * tests/schema/schemas of the source tree) plus N generated ones (default 240: objects
 * with 1-8 properties of every type, nesting, enums, consts, bounds, arrays, anyOf,
 * $defs/$ref, string formats, tool calls). Each schema becomes GBNF with
 * cove_schema_to_gbnf, is compiled against the vocabulary (timed: cove_grammar_compile
 * alone), and D documents (default 2) are walked token by token: at each step the mask
 * is filled (timed) and a uniformly random allowed token is taken, until the grammar may
 * end (then it stops) or T tokens (default 256). Every mask is timed, cache hits included;
 * the first document of a schema meets every state for the first time. Times are the
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID), in microseconds.
 *
 * Jump-forward: over generated tool-call schemas (several tools, arguments objects), the
 * same random walks count forward passes: one per token without jump-forward; with it,
 * one per sampled token, the forced tokens riding in the same batch.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cove/engine.h"
#include "cove/grammar.h"
#include "schema/schema.h"

#include <jansson.h>

#ifndef COVE_SOURCE_DIR
#define COVE_SOURCE_DIR "."
#endif

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* CPU time of this thread: the machine may be shared, and wall time would count the
 * time other processes hold the core. */
static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* ------------------------------------------------------------ schema generator */

static const char *const names[] = {"id", "name", "city", "count", "tags", "active", "score",
                                    "email", "date", "items", "user", "kind", "price", "note",
                                    "limit", "query", "unit", "level", "owner", "path"};

static void gen_value(struct cove_buf *b, uint64_t *s, int depth);

static void gen_object(struct cove_buf *b, uint64_t *s, int depth)
{
    int n = 1 + (int)(rng_next(s) % 6), which[8];
    cove_buf_append_str(b, "{\"type\":\"object\",\"properties\":{");
    for (int i = 0; i < n; i++) {
        which[i] = (int)(rng_next(s) % 20);
        cove_buf_appendf(b, "%s\"%s%d\":", i ? "," : "", names[which[i]], i);
        gen_value(b, s, depth + 1);
    }
    cove_buf_append_str(b, "},\"required\":[");
    for (int i = 0, first = 1; i < n; i++) {
        if (rng_next(s) % 3 == 0)
            continue;
        cove_buf_appendf(b, "%s\"%s%d\"", first ? "" : ",", names[which[i]], i);
        first = 0;
    }
    cove_buf_append_str(b, "]}");
}

static void gen_value(struct cove_buf *b, uint64_t *s, int depth)
{
    int k = (int)(rng_next(s) % (depth < 2 ? 14 : 10));
    switch (k) {
    case 0: cove_buf_append_str(b, "{\"type\":\"string\"}"); break;
    case 1: cove_buf_appendf(b, "{\"type\":\"string\",\"maxLength\":%d}", 3 + (int)(rng_next(s) % 20)); break;
    case 2: cove_buf_appendf(b, "{\"type\":\"integer\",\"minimum\":%d,\"maximum\":%d}", -(int)(rng_next(s) % 50),
                             10 + (int)(rng_next(s) % 1000)); break;
    case 3: cove_buf_append_str(b, "{\"type\":\"number\"}"); break;
    case 4: cove_buf_append_str(b, "{\"type\":\"boolean\"}"); break;
    case 5: cove_buf_append_str(b, "{\"enum\":[\"red\",\"green\",\"blue\",\"light blue\"]}"); break;
    case 6: cove_buf_append_str(b, "{\"type\":[\"string\",\"null\"]}"); break;
    case 7: cove_buf_append_str(b, "{\"type\":\"string\",\"format\":\"date\"}"); break;
    case 8: cove_buf_append_str(b, "{\"const\":\"v1\"}"); break;
    case 9: cove_buf_append_str(b, "{\"type\":\"integer\"}"); break;
    case 10:
        cove_buf_appendf(b, "{\"type\":\"array\",\"maxItems\":%d,\"items\":", 1 + (int)(rng_next(s) % 4));
        gen_value(b, s, depth + 1);
        cove_buf_append_str(b, "}");
        break;
    case 11: gen_object(b, s, depth); break;
    case 12:
        cove_buf_append_str(b, "{\"anyOf\":[{\"type\":\"integer\"},");
        gen_object(b, s, depth);
        cove_buf_append_str(b, "]}");
        break;
    default: cove_buf_append_str(b, "{\"type\":\"string\",\"format\":\"uuid\"}"); break;
    }
}

/* Generated schema number i into b (NUL-terminated). */
static void gen_schema(struct cove_buf *b, int i)
{
    uint64_t s = 0x5eed + (uint64_t)i * 7919;
    cove_buf_reset(b);
    switch (i % 4) {
    case 0:
    case 1: gen_object(b, &s, 0); break;
    case 2:
        cove_buf_append_str(b, "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
                               "\"next\":{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/$defs/node\"}]}},"
                               "\"required\":[\"v\",\"next\"]}},\"type\":\"object\",\"properties\":{\"head\":"
                               "{\"$ref\":\"#/$defs/node\"},\"extra\":");
        gen_value(b, &s, 1);
        cove_buf_append_str(b, "}}");
        break;
    default:
        cove_buf_append_str(b, "{\"type\":\"array\",\"maxItems\":5,\"items\":");
        gen_object(b, &s, 1);
        cove_buf_append_str(b, "}");
        break;
    }
    cove_buf_append_byte(b, 0);
}

/* A tool-call schema: {"name": one of k tools, "arguments": its object}. */
static void gen_tool_schema(struct cove_buf *b, int i)
{
    uint64_t s = 0x7001 + (uint64_t)i * 104729;
    static const char *const tools[] = {"get_weather", "get_time", "search_web", "send_email",
                                        "create_event", "read_file", "list_files", "run_query"};
    int k = 2 + (int)(rng_next(&s) % 5);
    cove_buf_reset(b);
    cove_buf_append_str(b, "{\"anyOf\":[");
    for (int t = 0; t < k; t++) {
        cove_buf_appendf(b, "%s{\"type\":\"object\",\"properties\":{\"name\":{\"const\":\"%s\"},"
                            "\"arguments\":{\"type\":\"object\",\"properties\":{",
                         t ? "," : "", tools[(i + t) % 8]);
        int np = 1 + (int)(rng_next(&s) % 4);
        for (int p = 0; p < np; p++) {
            cove_buf_appendf(b, "%s\"%s\":", p ? "," : "", names[(i + t * 3 + p * 7) % 20]);
            gen_value(b, &s, 2);
        }
        cove_buf_append_str(b, "},\"required\":[");
        for (int p = 0; p < np; p++)
            cove_buf_appendf(b, "%s\"%s\"", p ? "," : "", names[(i + t * 3 + p * 7) % 20]);
        cove_buf_append_str(b, "],\"additionalProperties\":false}},\"required\":[\"name\",\"arguments\"],"
                               "\"additionalProperties\":false}");
    }
    cove_buf_append_str(b, "]}");
    cove_buf_append_byte(b, 0);
}

/* ------------------------------------------------------------ statistics */

typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

static void add(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            fprintf(stderr, "bench_grammar: out of memory\n");
            exit(1);
        }
    }
    s->v[s->n++] = x;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summary(samples *s, double *mean, double *p50, double *p99, double *max)
{
    *mean = *p50 = *p99 = *max = 0;
    if (!s->n)
        return;
    qsort(s->v, s->n, sizeof *s->v, cmp_d);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    *mean = sum / (double)s->n;
    *p50 = s->v[s->n / 2];
    *p99 = s->v[(size_t)((double)(s->n - 1) * 0.99)];
    *max = s->v[s->n - 1];
}

/* ------------------------------------------------------------ walking */

typedef struct walk_stats {
    samples mask_cold, mask_warm;
    long tokens, passes_plain, passes_jump, forced, docs, done, refused;
} walk_stats;

typedef struct bench {
    cove_model *model;
    cove_grammar_vocab *v;
    uint8_t *closing; /* per token: its text holds one of " , } ] */
    int32_t *allowed;
    uint32_t *mask;
} bench;

/* A random allowed token; half of the time one that holds a closing or separating byte
 * when there is one, so that values stay short as in real outputs. */
static int32_t pick(const bench *bc, const int32_t *allowed, int32_t na, uint64_t *seed)
{
    if (rng_next(seed) & 1) {
        int32_t start = (int32_t)(rng_next(seed) % (uint64_t)na);
        for (int32_t k = 0; k < na && k < 4096; k++) {
            int32_t t = allowed[(start + k) % na];
            if (bc->closing[t])
                return t;
        }
    }
    return allowed[rng_next(seed) % (uint64_t)na];
}

static int timed_mask(bench *bc, cove_grammar_matcher *m, samples *times)
{
    cove_error err = {0};
    double t0 = now_us();
    cove_status st = cove_grammar_matcher_fill_mask(m, bc->mask, &err);
    double dt = now_us() - t0;
    if (st != COVE_OK) {
        fprintf(stderr, "bench_grammar: %s\n", err.msg);
        return -1;
    }
    if (times)
        add(times, dt);
    return 0;
}

/* One random document: mask at each step (timed), a random allowed token; with `jump`
 * the forced continuation after each sampled token is taken without a pass. */
static void walk(bench *bc, cove_grammar *g, uint64_t seed, int max_tokens, samples *times,
                 walk_stats *ws, int jump)
{
    size_t nw = cove_grammar_vocab_mask_words(bc->v);
    cove_grammar_matcher *m = NULL;
    if (cove_grammar_matcher_create(g, &m, NULL) != COVE_OK)
        exit(1);
    int tok_count = 0, passes = 0;
    while (tok_count < max_tokens && timed_mask(bc, m, times) == 0) {
        if (cove_grammar_matcher_can_end(m)) {
            ws->done++;
            break;
        }
        int32_t na = 0;
        for (size_t w = 0; w < nw; w++)
            for (uint32_t bits = bc->mask[w]; bits; bits &= bits - 1)
                bc->allowed[na++] = (int32_t)(w * 32 + (uint32_t)__builtin_ctz(bits));
        if (!na)
            break;
        int32_t t = pick(bc, bc->allowed, na, &seed);
        cove_error err = {0};
        if (cove_grammar_matcher_accept_token(m, t, &err) != COVE_OK) {
            fprintf(stderr, "bench_grammar: mask allowed a refused token: %s\n", err.msg);
            exit(1);
        }
        tok_count++;
        passes++;
        if (jump && !cove_grammar_matcher_is_complete(m)) {
            int32_t forced[64], nf = 0;
            cove_grammar_matcher_jump_forward(m, forced, 64, &nf, NULL, 0, NULL, NULL);
            for (int32_t k = 0; k < nf; k++)
                cove_grammar_matcher_accept_token(m, forced[k], NULL);
            tok_count += nf;
            ws->forced += nf;
        }
    }
    ws->tokens += tok_count;
    ws->docs++;
    if (jump)
        ws->passes_jump += passes;
    else
        ws->passes_plain += passes;
    cove_grammar_matcher_free(m);
}

/* Walk the tokens of a given document: mask at each step (timed), then its token. */
static void walk_text(bench *bc, cove_grammar *g, const char *text, samples *times, walk_stats *ws)
{
    int32_t toks[4096], n = 0;
    if (cove_tokenize(bc->model, text, strlen(text), 0, 0, toks, 4096, &n, NULL) != COVE_OK)
        return;
    cove_grammar_matcher *m = NULL;
    if (cove_grammar_matcher_create(g, &m, NULL) != COVE_OK)
        exit(1);
    if (cove_grammar_matcher_accept_bytes(m, text, strlen(text), NULL) != COVE_OK ||
        !cove_grammar_matcher_can_end(m)) {
        ws->refused++; /* not in the grammar's canonical form (property order, spacing) */
        cove_grammar_matcher_free(m);
        return;
    }
    cove_grammar_matcher_reset(m);
    for (int32_t i = 0; i < n; i++) {
        if (timed_mask(bc, m, times) != 0)
            break;
        if (!cove_grammar_mask_test(bc->mask, toks[i])) {
            fprintf(stderr, "bench_grammar: the mask refuses token %d of a valid document\n", i);
            exit(1);
        }
        cove_grammar_matcher_accept_token(m, toks[i], NULL);
    }
    timed_mask(bc, m, times);
    ws->tokens += n;
    ws->docs++;
    ws->done++;
    cove_grammar_matcher_free(m);
}

/* ------------------------------------------------------------ main */

typedef struct opts {
    const char *vocab, *schemas;
    int n_gen, docs, max_tokens;
} opts;

static const char *default_vocab(void)
{
    static char path[1024];
    const char *dir = getenv("COVE_MODELS"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
    else
        snprintf(path, sizeof path, "%s/.cache/cove/models/SmolLM2-135M-Instruct.Q4_1.gguf", home ? home : "");
    return path;
}

typedef struct times {
    samples compile, convert;
    long failed;
} times;

/* Compile one parsed schema; NULL when conversion fails. */
static cove_grammar *schema_grammar(const cove_grammar_vocab *v, const json_t *schema, times *tm)
{
    char *gbnf = NULL;
    cove_error err = {0};
    double t0 = now_us();
    if (cove_schema_to_gbnf_json(schema, NULL, &gbnf, &err) != COVE_OK) {
        if (getenv("BENCH_GRAMMAR_VERBOSE"))
            fprintf(stderr, "bench_grammar: not convertible: %s\n", err.msg);
        tm->failed++;
        return NULL;
    }
    double t1 = now_us();
    cove_grammar *g = NULL;
    cove_status st = cove_grammar_compile(v, gbnf, strlen(gbnf), &g, &err);
    double t2 = now_us();
    cove_free(gbnf);
    if (st != COVE_OK) {
        fprintf(stderr, "bench_grammar: compile failed: %s\n", err.msg);
        tm->failed++;
        return NULL;
    }
    add(&tm->convert, t1 - t0);
    add(&tm->compile, t2 - t1);
    return g;
}

static int parse_opts(opts *o, int argc, char **argv)
{
    *o = (opts){default_vocab(), COVE_SOURCE_DIR "/tests/schema/schemas", 240, 2, 256};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return -1;
        if (strcmp(argv[i], "--vocab") == 0) o->vocab = argv[++i];
        else if (strcmp(argv[i], "--schemas") == 0) o->schemas = argv[++i];
        else if (strcmp(argv[i], "-n") == 0) o->n_gen = atoi(argv[++i]);
        else if (strcmp(argv[i], "--docs") == 0) o->docs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-tokens") == 0) o->max_tokens = atoi(argv[++i]);
        else return -1;
    }
    return 0;
}

static void print_row(const char *label, samples *s)
{
    double mean, p50, p99, max;
    size_t n = s->n;
    summary(s, &mean, &p50, &p99, &max);
    printf("| %s | %zu | %.1f | %.1f | %.1f | %.1f |\n", label, n, mean, p50, p99, max);
}

/* The corpus files: {"schema": ..., "valid": [...], ...}; its valid documents are walked
 * (compact form), then o->docs random documents. Returns the schemas compiled. */
static long run_corpus(bench *bc, const opts *o, times *tm, walk_stats *ws)
{
    long n = 0;
    DIR *d = opendir(o->schemas);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 || strstr(e->d_name, "unsupported"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", o->schemas, e->d_name);
        json_t *root = json_load_file(path, 0, NULL);
        const json_t *schema = root ? json_object_get(root, "schema") : NULL;
        cove_grammar *g = schema ? schema_grammar(bc->v, schema, tm) : NULL;
        const json_t *valid = g ? json_object_get(root, "valid") : NULL;
        for (size_t k = 0; valid && k < json_array_size(valid); k++) {
            char *doc = json_dumps(json_array_get(valid, k), JSON_COMPACT | JSON_ENCODE_ANY);
            if (doc)
                walk_text(bc, g, doc, k ? &ws->mask_warm : &ws->mask_cold, ws);
            free(doc);
        }
        for (int k = 0; g && k < o->docs; k++)
            walk(bc, g, 1000u + (uint64_t)k * 31 + (uint64_t)n, o->max_tokens, &ws->mask_warm, ws, 0);
        n += g != NULL;
        cove_grammar_free(g);
        json_decref(root);
    }
    if (d)
        closedir(d);
    return n;
}

static long run_generated(bench *bc, const opts *o, times *tm, walk_stats *ws)
{
    struct cove_buf b;
    cove_buf_init(&b, 1 << 20);
    long n = 0;
    for (int i = 0; i < o->n_gen; i++) {
        gen_schema(&b, i);
        json_t *schema = json_loads(b.data, 0, NULL);
        cove_grammar *g = schema ? schema_grammar(bc->v, schema, tm) : NULL;
        for (int k = 0; g && k < o->docs; k++)
            walk(bc, g, 7u + (uint64_t)i * 131 + (uint64_t)k, o->max_tokens,
                 k ? &ws->mask_warm : &ws->mask_cold, ws, 0);
        n += g != NULL;
        cove_grammar_free(g);
        json_decref(schema);
    }
    cove_buf_release(&b);
    return n;
}

/* Jump-forward: the same random tool calls with and without it. */
static long run_tools(bench *bc, walk_stats *plain, walk_stats *jump)
{
    struct cove_buf b;
    cove_buf_init(&b, 1 << 20);
    times tm = {0};
    long n = 0;
    for (int i = 0; i < 50; i++) {
        gen_tool_schema(&b, i);
        json_t *schema = json_loads(b.data, 0, NULL);
        cove_grammar *g = schema ? schema_grammar(bc->v, schema, &tm) : NULL;
        for (int k = 0; g && k < 4; k++) {
            walk(bc, g, 99u + (uint64_t)i * 17 + (uint64_t)k, 4096, NULL, plain, 0);
            walk(bc, g, 99u + (uint64_t)i * 17 + (uint64_t)k, 4096, NULL, jump, 1);
        }
        n += g != NULL;
        cove_grammar_free(g);
        json_decref(schema);
    }
    free(tm.compile.v);
    free(tm.convert.v);
    cove_buf_release(&b);
    return n;
}

static int bench_open(bench *bc, const char *path)
{
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_error err = {0};
    if (cove_model_load(path, mp, &bc->model, &err) != COVE_OK ||
        cove_grammar_vocab_create(bc->model, &bc->v, &err) != COVE_OK) {
        fprintf(stderr, "bench_grammar: %s: %s\n", path, err.msg);
        return -1;
    }
    int32_t n = cove_model_n_vocab(bc->model);
    bc->closing = calloc((size_t)n, 1);
    bc->allowed = malloc((size_t)n * sizeof *bc->allowed);
    bc->mask = malloc(cove_grammar_vocab_mask_words(bc->v) * sizeof *bc->mask);
    if (!bc->closing || !bc->allowed || !bc->mask)
        return -1;
    for (int32_t t = 0; t < n; t++) {
        char buf[COVE_TOKEN_PIECE_MAX];
        size_t len = 0;
        if (cove_token_to_piece(bc->model, t, buf, sizeof buf, &len) != COVE_OK)
            continue;
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '"' || buf[i] == ',' || buf[i] == '}' || buf[i] == ']')
                bc->closing[t] = 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_opts(&o, argc, argv) != 0) {
        fprintf(stderr, "usage: bench_grammar [--vocab GGUF] [--schemas DIR] [-n N] [--docs D] [--max-tokens T]\n");
        return 2;
    }
    bench bc = {0};
    double t0 = now_us();
    if (bench_open(&bc, o.vocab) != 0)
        return 1;
    double t_vocab = now_us() - t0;
    walk_stats ws = {0}, jp = {0}, js = {0};
    times tm = {0};
    long corpus = run_corpus(&bc, &o, &tm, &ws);
    long gen = run_generated(&bc, &o, &tm, &ws);
    long n_tools = run_tools(&bc, &jp, &js);
    samples all = {0};
    for (size_t i = 0; i < ws.mask_cold.n; i++)
        add(&all, ws.mask_cold.v[i]);
    for (size_t i = 0; i < ws.mask_warm.n; i++)
        add(&all, ws.mask_warm.v[i]);
    printf("Vocabulary: %s (%d tokens); model vocabulary load + grammar vocabulary %.1f ms.\n", o.vocab,
           cove_grammar_vocab_n_tokens(bc.v), t_vocab / 1e3);
    printf("Schemas: %ld compiled (%ld from %s, %ld generated), %ld not convertible; %ld documents "
           "walked (%ld reached the end), %ld tokens; %ld corpus documents not in canonical form skipped.\n\n",
           corpus + gen, corpus, o.schemas, gen, tm.failed, ws.docs, ws.done, ws.tokens, ws.refused);
    printf("| measure (us) | count | mean | p50 | p99 | max |\n|---|---|---|---|---|---|\n");
    print_row("mask, all steps", &all);
    print_row("mask, first document of a schema", &ws.mask_cold);
    print_row("mask, later documents", &ws.mask_warm);
    print_row("compile (GBNF -> automaton)", &tm.compile);
    print_row("schema -> GBNF (schema module)", &tm.convert);
    printf("\nJump-forward on %ld tool-call schemas (2-6 tools each), 4 random calls each:\n\n", n_tools);
    printf("| mode | tokens | forward passes | passes per token |\n|---|---|---|---|\n");
    printf("| without jump-forward | %ld | %ld | %.3f |\n", jp.tokens, jp.passes_plain,
           jp.tokens ? (double)jp.passes_plain / (double)jp.tokens : 0.0);
    printf("| with jump-forward | %ld | %ld | %.3f |\n", js.tokens, js.passes_jump,
           js.tokens ? (double)js.passes_jump / (double)js.tokens : 0.0);
    cove_grammar_vocab_free(bc.v);
    cove_model_free(bc.model);
    free(bc.closing);
    free(bc.allowed);
    free(bc.mask);
    free(all.v);
    free(ws.mask_cold.v);
    free(ws.mask_warm.v);
    free(tm.compile.v);
    free(tm.convert.v);
    return 0;
}
