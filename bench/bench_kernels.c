/*
 * bench/bench_kernels.c - speed of the quant kernels, per type and SIMD level.
 *
 *   bench_kernels [--quick] [--type NAME] [--level NAME] [--threads N] [--k N]
 *       Prints a markdown table, a line per type and level, and one more for the
 *       packed rows of the best level where the type has them (one thread unless --threads: the rows are
 *       then split between N threads of a cove_pool, as the model code does):
 *         decode GB/s  - weight bytes per second of a 2048 x k gemv (n_x = 1;
 *                        k = 2048 unless --k, e.g. 960 for the rows of a
 *                        360M model),
 *                        "ram": cycling through copies that together exceed the
 *                        L3 cache; "hot": one matrix, cache-resident;
 *         read GB/s    - a plain read of the "ram" copies (every cache line
 *                        loaded once, no arithmetic) by the same threads just
 *                        before: the ceiling of "ram", and "of read" the share
 *                        of it that decoding reaches (a shared host's memory
 *                        speed drifts; the share does much less);
 *         prefill GFLOP/s - 2 * rows * k * tokens per second of a 2048 x 2048 x
 *                        512-token gemm (activation quantization included;
 *                        32 tokens for the scalar level);
 *         batch 4 / 8 GFLOP/s - the same for 4 and 8 activation rows (several
 *                        sequences decoded together), cache-resident matrix.
 *       Each rate is the best 0.1 s window of a 1 s run (0.2 s with --quick).
 *   bench_kernels --dequant FILE TENSOR OUT [--level NAME]
 *       Dequantizes tensor TENSOR of the GGUF file FILE with cove's kernels
 *       and writes it to OUT as raw little-endian float32 (for
 *       tests/tools/crosscheck_quants.py).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/pool.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/quants.h"
#include "engine/kernels/quants_int.h"

static const enum cove_ggml_type bench_types[] = {
    COVE_TYPE_F32,  COVE_TYPE_F16,  COVE_TYPE_BF16, COVE_TYPE_Q8_0, COVE_TYPE_Q4_0,
    COVE_TYPE_Q4_1, COVE_TYPE_Q5_0, COVE_TYPE_Q5_1, COVE_TYPE_Q2_K, COVE_TYPE_Q3_K,
    COVE_TYPE_Q4_K, COVE_TYPE_Q5_K, COVE_TYPE_Q6_K,
};

#define ROWS 2048
static int bench_k = 2048; /* row length (--k); a program's option, set once in main */
#define RAM_BYTES (96u << 20) /* decode "ram": copies adding up to this, past any L3 */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill_random(float *x, size_t n, unsigned seed)
{
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
    }
}

typedef struct {
    double read_gbs, ram_gbs, hot_gbs, prefill_gflops, batch4_gflops, batch8_gflops;
} bench_result;

/* Rows [0, ROWS) of fn over the threads of a pool (or inline without one). */
static void run_rows(cove_pool *pool, cove_pool_range_fn fn, void *ctx)
{
    if (pool)
        cove_pool_parallel_for(pool, ROWS, fn, ctx);
    else
        fn(ctx, 0, ROWS, 0);
}

/*
 * Rates are the best over windows of WINDOW_S seconds within the run, so a
 * burst of work from other processes on the machine does not count.
 */
#define WINDOW_S 0.1

/* The best rate of step(ctx, i) for i = 0, 1, ..., `per_step` units a call, in units per
 * second, over windows of WINDOW_S until min_s has passed. */
static double best_rate(void (*step)(void *ctx, long i), void *ctx, double per_step, double min_s)
{
    double start = now_s(), best = 0;
    do {
        double t0 = now_s(), t;
        long n = 0;
        do {
            step(ctx, n++);
            t = now_s() - t0;
        } while (t < WINDOW_S);
        double rate = per_step * (double)n / t;
        best = rate > best ? rate : best;
    } while (now_s() - start < min_s);
    return best;
}

/* Matrix products of n_x activation rows over the `copies` matrices at w in turn (the
 * activations quantized each time, as a model does). */
typedef struct {
    const cove_quant_ops *ops;
    cove_pool *pool;
    const uint8_t *w, *cur; /* the copies; the one of this step */
    int copies, n_x;
    size_t wbytes;
    const float *x;
    void *xq;
    float *y;
} gemm_job;

static void gemm_rows(void *ctx, size_t begin, size_t end, int ith)
{
    const gemm_job *j = ctx;
    (void)ith;
    cove_quant_gemm_run(j->ops, j->cur, j->wbytes / ROWS, ROWS, j->xq, j->n_x, bench_k, j->y, ROWS, (int)begin,
                        (int)end);
}

static void gemm_step(void *ctx, long i)
{
    gemm_job *j = ctx;
    cove_quant_gemm_prepare(j->ops, j->x, j->n_x, bench_k, j->xq);
    j->cur = j->w + (size_t)(i % j->copies) * j->wbytes;
    run_rows(j->pool, gemm_rows, j);
}

/* gemv over `copies` matrices in turn until min_s has passed; returns weight GB/s. */
static double bench_decode(const cove_quant_ops *ops, cove_pool *pool, const uint8_t *w, int copies,
                           size_t wbytes, const float *x, void *scratch, float *y, double min_s)
{
    gemm_job j = {ops, pool, w, w, copies, 1, wbytes, x, scratch, y};
    return best_rate(gemm_step, &j, (double)wbytes / 1e9, min_s);
}

/* A plain read of the `copies` matrices at w in turn, split as the gemv rows are. */
typedef struct {
    cove_pool *pool;
    const uint8_t *w, *cur;
    int copies;
    size_t bytes;
    uint64_t sink[64];
} read_job;

static void read_rows(void *ctx, size_t begin, size_t end, int ith)
{
    read_job *j = ctx;
    const size_t step = j->bytes / ROWS;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, v[4];
    for (const uint8_t *p = j->cur + begin * step, *e = j->cur + end * step; p + 64 <= e; p += 64) {
        memcpy(v, p, 8), memcpy(v + 1, p + 16, 8), memcpy(v + 2, p + 32, 8), memcpy(v + 3, p + 48, 8);
        a0 ^= v[0], a1 ^= v[1], a2 ^= v[2], a3 ^= v[3];
    }
    j->sink[ith & 63] = a0 ^ a1 ^ a2 ^ a3;
}

static void read_step(void *ctx, long i)
{
    read_job *j = ctx;
    j->cur = j->w + (size_t)(i % j->copies) * j->bytes;
    run_rows(j->pool, read_rows, j);
}

/* Reads the `copies` matrices in turn until min_s has passed; returns GB/s. */
static double bench_read(cove_pool *pool, const uint8_t *w, int copies, size_t wbytes, double min_s)
{
    read_job j = {.pool = pool, .w = w, .copies = copies, .bytes = wbytes};
    return best_rate(read_step, &j, (double)wbytes / 1e9, min_s);
}

/* gemm of n_tok activation rows until min_s has passed; returns GFLOP/s. */
static double bench_prefill(const cove_quant_ops *ops, cove_pool *pool, const uint8_t *w,
                            size_t wbytes, const float *x, int n_tok, void *scratch, float *y,
                            double min_s)
{
    gemm_job j = {ops, pool, w, w, 1, n_tok, wbytes, x, scratch, y};
    return best_rate(gemm_step, &j, 2.0 * ROWS * bench_k * (double)n_tok / 1e9, min_s);
}

static int bench_one(enum cove_ggml_type t, enum cove_klevel level, int packed, int quick, cove_pool *pool,
                     bench_result *r)
{
    const cove_quant_ops *ops = packed ? cove_quant_ops_packed(t) : cove_quant_ops_for_level(t, level);
    if (packed && ops && ops->level != level)
        return 0;
    if (!ops || bench_k % (int)cove_type_info_get(t)->block_size != 0) /* k-quants: k a multiple of 256 */
        return 0;
    size_t wbytes = cove_quant_row_bytes(t, bench_k) * ROWS;
    int copies = (int)((RAM_BYTES + wbytes - 1) / wbytes);
    int n_tok = level == COVE_KLEVEL_SCALAR ? 32 : quick ? 128 : 512;
    double min_s = quick ? 0.2 : 1.0;
    uint8_t *w = cove_malloc(wbytes * (size_t)copies);
    float *x = cove_malloc((size_t)bench_k * 512 * sizeof(float));
    float *y = cove_malloc((size_t)ROWS * 512 * sizeof(float));
    void *scratch = cove_malloc(cove_quant_scratch_bytes(t, bench_k, 512));
    if (!w || !x || !y || !scratch) {
        cove_free(w), cove_free(x), cove_free(y), cove_free(scratch);
        return -1;
    }
    fill_random(x, (size_t)bench_k * 512, 1);
    const cove_quant_ops *ref = cove_quant_ops_ref(t);
    for (int i = 0; i < ROWS; i++) /* valid blocks: quantize random rows */
        ref->quantize_row(x + (size_t)(i % 512) * bench_k, w + (size_t)i * (wbytes / ROWS), bench_k);
    if (packed)
        (void)cove_quant_pack_rows(t, w, wbytes / ROWS, ROWS, bench_k);
    for (int c = 1; c < copies; c++)
        memcpy(w + (size_t)c * wbytes, w, wbytes);
    fill_random(x, (size_t)bench_k * 512, 2);
    r->read_gbs = bench_read(pool, w, copies, wbytes, min_s);
    r->ram_gbs = bench_decode(ops, pool, w, copies, wbytes, x, scratch, y, min_s);
    r->hot_gbs = bench_decode(ops, pool, w, 1, wbytes, x, scratch, y, min_s);
    r->prefill_gflops = bench_prefill(ops, pool, w, wbytes, x, n_tok, scratch, y, min_s);
    r->batch4_gflops = bench_prefill(ops, pool, w, wbytes, x, 4, scratch, y, min_s);
    r->batch8_gflops = bench_prefill(ops, pool, w, wbytes, x, 8, scratch, y, min_s);
    cove_free(w), cove_free(x), cove_free(y), cove_free(scratch);
    return 1;
}

static int run_table(int quick, int only_type, int only_level, cove_pool *pool)
{
    printf("| type | level | bits/weight | read GB/s | decode GB/s (ram) | of read | decode GB/s (hot) "
           "| prefill GFLOP/s | batch 4 GFLOP/s | batch 8 GFLOP/s |\n");
    printf("|------|-------|------------:|----------:|------------------:|--------:|------------------:"
           "|----------------:|----------------:|----------------:|\n");
    for (size_t i = 0; i < sizeof bench_types / sizeof bench_types[0]; i++) {
        enum cove_ggml_type t = bench_types[i];
        if (only_type >= 0 && (int)t != only_type)
            continue;
        for (int lp = 0; lp < 2 * COVE_KLEVEL_COUNT; lp++) {
            const int l = lp / 2, packed = lp % 2; /* each level, then its packed rows if it has them */
            bench_result r;
            if (only_level >= 0 && l != only_level)
                continue;
            int rc = bench_one(t, (enum cove_klevel)l, packed, quick, pool, &r);
            if (rc < 0)
                return 1;
            if (rc == 0)
                continue;
            const cove_type_info *ti = cove_type_info_get(t);
            printf("| %s | %s%s | %.2f | %.1f | %.1f | %.0f%% | %.1f | %.1f | %.1f | %.1f |\n", ti->name,
                   cove_klevel_name((enum cove_klevel)l), packed ? " packed" : "", 8.0 * ti->block_bytes / ti->block_size,
                   r.read_gbs, r.ram_gbs, 100 * r.ram_gbs / r.read_gbs, r.hot_gbs, r.prefill_gflops, r.batch4_gflops, r.batch8_gflops);
            fflush(stdout);
        }
    }
    return 0;
}

/* Dequantize one tensor of a GGUF file to raw float32. */
static int dump_tensor(const char *path, const char *name, const char *out, int level)
{
    cove_gguf *g = NULL;
    cove_error err = {0};
    if (cove_gguf_open(path, &g, &err) != COVE_OK) {
        fprintf(stderr, "bench_kernels: %s\n", cove_error_msg(&err));
        return 1;
    }
    int rc = 1;
    const cove_gguf_tensor *t = cove_gguf_tensor_find(g, name);
    const cove_quant_ops *ops = t ? cove_quant_ops_for_level(t->type, level < 0 ? cove_quant_best_level()
                                                                             : (enum cove_klevel)level)
                                  : NULL;
    uint64_t n = t ? t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] : 0;
    float *y = ops ? cove_malloc(n * sizeof *y) : NULL;
    FILE *f = y ? fopen(out, "wb") : NULL;
    if (!t || !ops)
        fprintf(stderr, "bench_kernels: %s: %s\n", name, t ? "type not supported" : "no such tensor");
    else if (!f)
        fprintf(stderr, "bench_kernels: cannot write %s\n", out);
    else {
        ops->dequantize_row(t->data, y, (int64_t)n);
        rc = fwrite(y, sizeof *y, n, f) == n ? 0 : 1;
    }
    if (f && fclose(f) != 0)
        rc = 1;
    cove_free(y);
    cove_gguf_free(g);
    return rc;
}

static int parse_level(const char *s)
{
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++)
        if (strcmp(s, cove_klevel_name((enum cove_klevel)l)) == 0)
            return l;
    return -2;
}

int main(int argc, char **argv)
{
    int quick = 0, type = -1, level = -1, threads = 1;
    const char *dq[3] = {NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            type = cove_type_from_name(argv[++i]);
            type = type < 0 ? -2 : type;
        }
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--k") == 0 && i + 1 < argc) {
            bench_k = atoi(argv[++i]);
            if (bench_k < 256 || bench_k % 32 != 0 || bench_k > 16384) {
                fprintf(stderr, "bench_kernels: --k wants a multiple of 32 in [256, 16384]\n");
                return 2;
            }
        }
        else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc)
            level = parse_level(argv[++i]);
        else if (strcmp(argv[i], "--dequant") == 0 && i + 3 < argc) {
            dq[0] = argv[i + 1], dq[1] = argv[i + 2], dq[2] = argv[i + 3];
            i += 3;
        } else {
            fprintf(stderr, "usage: bench_kernels [--quick] [--type NAME] [--level NAME] [--threads N] [--k N]\n"
                            "       bench_kernels --dequant FILE TENSOR OUT.f32 [--level NAME]\n");
            return 2;
        }
    }
    if (level == -2 || type == -2) {
        fprintf(stderr, "bench_kernels: unknown type or level\n");
        return 2;
    }
    if (dq[0])
        return dump_tensor(dq[0], dq[1], dq[2], level);
    cove_pool *pool = NULL;
    if (threads > 1 && cove_pool_create(threads, &pool) != COVE_OK) {
        fprintf(stderr, "bench_kernels: cannot start %d threads\n", threads);
        return 1;
    }
    printf("threads: %d\n\n", threads);
    int rc = run_table(quick, type, level, pool);
    cove_pool_free(pool);
    return rc;
}
