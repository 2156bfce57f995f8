/*
 * bench/bench_model.c - where the time of a decoder's forward pass goes.
 *
 *   bench_model MODEL [-t THREADS] [-p PROMPT_TOKENS]
 *
 * Prints a markdown table for one decoded token (after a prompt of PROMPT_TOKENS, default
 * 128) and for a prefill of PROMPT_TOKENS: the time of the whole step through cove_decode,
 * and the time of the matrix products alone (every weight matrix of the model, with the
 * same kernels, the same two-step split over a pool of THREADS threads and the same
 * activation types as the forward pass), with their weight bytes per second. The rest of
 * the step is attention, the elementwise operations and synchronisation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/pool.h"
#include "engine/model/model_int.h"

#define REPS 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One product split over the pool: activations by tokens, then rows in 16-row units. */
typedef struct mm_job {
    const cove_matrix *w;
    const float *x;
    const void *xq;
    float *y;
    int64_t n_tok;
    void *scratch;
} mm_job;

static void quant_range(void *ctx, size_t b, size_t e, int ith)
{
    mm_job *j = ctx;
    cove_matmul_quantize(j->w, j->x, (int64_t)b, (int64_t)e, j->scratch);
    (void)ith;
}

static void rows_range(void *ctx, size_t b, size_t e, int ith)
{
    mm_job *j = ctx;
    int64_t r1 = (int64_t)e * 16 < j->w->n_rows ? (int64_t)e * 16 : j->w->n_rows;
    cove_matmul_rows(j->w, j->xq, j->n_tok, j->y, (size_t)j->w->n_rows, (int64_t)b * 16, r1);
    (void)ith;
}

static void product(cove_pool *pool, mm_job *j)
{
    j->xq = cove_matmul_quantize(j->w, j->x, 0, 0, j->scratch);
    cove_pool_parallel_for(pool, (size_t)j->n_tok, quant_range, j);
    cove_pool_parallel_for(pool, (size_t)((j->w->n_rows + 15) / 16), rows_range, j);
}

/* Seconds of every matrix product of one forward step over n_tok tokens. */
static double products_time(const cove_model *m, cove_pool *pool, int64_t n_tok, float *x,
                            float *y, void *scratch)
{
    double t0 = now_s();
    for (int32_t il = 0; il < m->hp.n_layer; il++) {
        const cove_layer *l = &m->layers[il];
        const cove_matrix *all[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up,
                                    &l->ffn_down};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            mm_job j = {all[i], x, NULL, y, n_tok, scratch};
            product(pool, &j);
        }
    }
    mm_job out = {&m->output, x, NULL, y, 1, scratch}; /* logits of the last token only */
    product(pool, &out);
    return now_s() - t0;
}

/* Seconds of one cove_decode of n tokens (a fresh sequence when `fresh`). */
static double decode_time(cove_context *c, const int32_t *toks, int n, int fresh)
{
    if (fresh)
        cove_context_seq_clear(c, 0);
    cove_batch b = {toks, NULL, NULL, n, NULL};
    double t0 = now_s();
    if (cove_decode(c, &b, NULL) != COVE_OK)
        return NAN;
    return now_s() - t0;
}

static double best_of(double *v, int n)
{
    double b = v[0];
    for (int i = 1; i < n; i++)
        b = v[i] < b ? v[i] : b;
    return b;
}

static void report(const char *what, int n_tok, double step, double mm, const cove_model *m)
{
    printf("| %-8s | %6d | %9.2f | %9.2f | %5.0f%% | %9.2f | %6.1f |\n", what, n_tok, step * 1e3,
           mm * 1e3, 100 * mm / step, (step - mm) * 1e3, (double)m->weight_bytes / mm / 1e9);
}

static int run(const cove_model *m, int threads, int p)
{
    cove_context_params cp = cove_context_default_params();
    cove_context *c = NULL;
    cove_pool *pool = NULL;
    cp.n_ctx = p + 16;
    cp.n_ubatch = p;
    cp.n_threads = threads;
    int64_t widest = m->hp.n_vocab > m->hp.n_ff ? m->hp.n_vocab : m->hp.n_ff;
    float *x = cove_calloc((size_t)p * (size_t)widest, sizeof *x);
    float *y = cove_calloc((size_t)p * (size_t)widest, sizeof *y);
    void *scratch = cove_malloc(cove_decoder_act_bytes(m, p) + 64);
    int32_t *toks = cove_malloc((size_t)p * sizeof *toks);
    if (!x || !y || !scratch || !toks || cove_context_create(m, cp, &c, NULL) != COVE_OK ||
        cove_pool_create(threads, &pool) != COVE_OK)
        return 1;
    for (int i = 0; i < p * (int)m->hp.n_embd; i++)
        x[i] = (float)sin(i * 0.1);
    for (int i = 0; i < p; i++)
        toks[i] = (int32_t)((i * 7919u + 13u) % (unsigned)m->hp.n_vocab);
    double dec[REPS], pre[REPS], mm1[REPS], mmp[REPS];
    for (int r = 0; r < REPS; r++) {
        pre[r] = decode_time(c, toks, p, 1);
        dec[r] = decode_time(c, toks, 1, 0); /* one token after the prompt */
        mm1[r] = products_time(m, pool, 1, x, y, scratch);
        mmp[r] = products_time(m, pool, p, x, y, scratch);
    }
    printf("| step     | tokens | step ms   | matmul ms | share | other ms  | GB/s   |\n");
    printf("|----------|-------:|----------:|----------:|------:|----------:|-------:|\n");
    report("decode", 1, best_of(dec, REPS), best_of(mm1, REPS), m);
    report("prefill", p, best_of(pre, REPS), best_of(mmp, REPS), m);
    cove_pool_free(pool);
    cove_context_free(c);
    cove_free(x);
    cove_free(y);
    cove_free(scratch);
    cove_free(toks);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = cove_cpu_get()->n_cpus_usable, p = 128;
    cove_model *m = NULL;
    cove_error err = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: bench_model MODEL [-t THREADS] [-p PROMPT_TOKENS]\n");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-t") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-p") == 0)
            p = atoi(argv[i + 1]);
    }
    if (threads < 1 || threads > 256 || p < 1 || p > 4096) {
        fprintf(stderr, "bench_model: bad -t or -p\n");
        return 2;
    }
    if (cove_model_load(argv[1], cove_model_default_params(), &m, &err) != COVE_OK) {
        fprintf(stderr, "bench_model: %s\n", cove_error_msg(&err));
        return 1;
    }
    if (!m->arch->forward) {
        fprintf(stderr, "bench_model: %s is not a decoder\n", argv[1]);
        cove_model_free(m);
        return 1;
    }
    printf("%s: %s, %d threads, %.1f MB of weights per token\n\n", argv[1], m->arch_name, threads,
           (double)m->weight_bytes / 1e6);
    int rc = run(m, threads, p);
    cove_model_free(m);
    return rc;
}
