/*
 * engine/kernels/quants_dispatch.c - per-level tables of quant kernels, the
 * choice of level from the CPU features, and the matrix product driver.
 *
 * The tables are built once (pthread_once) on first use: each level starts
 * from a copy of the reference table and its file overrides what it speeds
 * up. They are read-only afterwards, so any thread may use them.
 * The driver picks the kernel by the number of activation rows: the decode
 * gemv for one, a level's batch kernel for more where the type has one
 * (prefill included), register tiles or a loop of dots otherwise.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>

#include "base/cpu.h"
#include "base/limits.h"
#include "engine/kernels/quants_int.h"

#define TILE_MAX 8                /* largest tile_rows / tile_cols / gemv_rows a level may declare */
#define GEMM_X_CHUNK (192u << 10) /* bytes of quantized activations kept hot in L2 (tiles) */

static cove_quant_ops tables[COVE_KLEVEL_COUNT][COVE_TYPE_COUNT];
static cove_quant_batch_fn batch_tables[COVE_KLEVEL_COUNT][COVE_TYPE_COUNT];
static cove_quant_batch_fn gemv_tables[COVE_KLEVEL_COUNT][COVE_TYPE_COUNT]; /* decode over a row range */
static cove_quant_ops packed_tables[COVE_KLEVEL_COUNT][COVE_TYPE_COUNT]; /* block_size 0: none */
static cove_quant_batch_fn packed_gemv[COVE_KLEVEL_COUNT][COVE_TYPE_COUNT];
static cove_quant_batch_fn packed_batch[COVE_KLEVEL_COUNT][COVE_TYPE_COUNT]; /* set where packed_gemv is */
static bool level_ok[COVE_KLEVEL_COUNT];
static enum cove_klevel best_level = COVE_KLEVEL_SCALAR;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void fill_level(enum cove_klevel level, void (*const *fills)(cove_quant_ops *), int n)
{
    cove_quant_ops *t = tables[level];
    cove_quants_ref_fill(t);
    for (int i = 0; i < n; i++)
        fills[i](t);
    for (int i = 0; i < COVE_TYPE_COUNT; i++)
        t[i].level = level;
    level_ok[level] = true;
    best_level = level;
}

#if defined(__x86_64__)
/* The packed kernels of an avx512 level and its packed tables: its tables with `packed` set,
 * for the types it has kernels for; gfni: the kernels built with GFNI. */
static void fill_packed(enum cove_klevel level, bool gfni)
{
    typedef void (*fill_fn)(cove_quant_batch_fn *);
    static const fill_fn gemv[2][2] = {
        {cove_quants_avx512_packed_fill, cove_quants_avx512_packedk_fill},
        {cove_quants_avx512_packed_fill_gfni, cove_quants_avx512_packedk_fill_gfni}};
    static const fill_fn batch[2][2] = {
        {cove_quants_avx512_packed_batch_fill, cove_quants_avx512_packedk_batch_fill},
        {cove_quants_avx512_packed_batch_fill_gfni, cove_quants_avx512_packedk_batch_fill_gfni}};
    for (int i = 0; i < 2; i++) {
        gemv[gfni][i](packed_gemv[level]);
        batch[gfni][i](packed_batch[level]);
    }
    for (int t = 0; t < COVE_TYPE_COUNT; t++)
        if (packed_gemv[level][t] && packed_batch[level][t]) {
            packed_tables[level][t] = tables[level][t];
            packed_tables[level][t].packed = 1;
        }
}
#endif

static void tables_init(void)
{
    const cove_cpu_features *f = cove_cpu_get();
    fill_level(COVE_KLEVEL_SCALAR, NULL, 0);
#if defined(__x86_64__)
    static void (*const avx2[])(cove_quant_ops *) = {cove_quants_avx2_fill};
    static void (*const avx512[])(cove_quant_ops *) = {cove_quants_avx2_fill,
                                                        cove_quants_avx512_fill};
    if (!(f->avx2 && f->fma && f->f16c))
        return;
    fill_level(COVE_KLEVEL_AVX2, avx2, 1);
    cove_quants_avx2_batch_fill(batch_tables[COVE_KLEVEL_AVX2]);
    if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->avx512_vnni) {
        fill_level(COVE_KLEVEL_AVX512, avx512, 2);
        cove_quants_avx512_batch_fill(batch_tables[COVE_KLEVEL_AVX512]);
        fill_packed(COVE_KLEVEL_AVX512, false);
        if (f->avx512_vbmi && f->avx512_bitalg) {
            fill_level(COVE_KLEVEL_AVX512VBMI, avx512, 2);
            cove_quants_avx512_batch_fill(batch_tables[COVE_KLEVEL_AVX512VBMI]);
            cove_quants_avx512vbmi_gemv_fill(gemv_tables[COVE_KLEVEL_AVX512VBMI]);
            fill_packed(COVE_KLEVEL_AVX512VBMI, f->gfni);
        }
    }
#elif defined(__aarch64__)
    static void (*const neon[])(cove_quant_ops *) = {cove_quants_neon_fill};
    if (f->neon)
        fill_level(COVE_KLEVEL_NEON, neon, 1);
#else
    (void)f;
#endif
}

const char *cove_klevel_name(enum cove_klevel level)
{
    static const char *const names[COVE_KLEVEL_COUNT] = {"scalar", "avx2", "avx512", "neon", "avx512vbmi"};
    return (unsigned)level < COVE_KLEVEL_COUNT ? names[level] : "?";
}

const cove_quant_ops *cove_quant_ops_for_level(enum cove_ggml_type t, enum cove_klevel level)
{
    pthread_once(&tables_once, tables_init);
    if ((unsigned)t >= COVE_TYPE_COUNT || (unsigned)level >= COVE_KLEVEL_COUNT || !level_ok[level])
        return NULL;
    const cove_quant_ops *ops = &tables[level][t];
    return ops->block_size ? ops : NULL;
}

const cove_quant_ops *cove_quant_ops_get(enum cove_ggml_type t)
{
    pthread_once(&tables_once, tables_init);
    return cove_quant_ops_for_level(t, best_level);
}

const cove_quant_ops *cove_quant_ops_packed_for_level(enum cove_ggml_type t, enum cove_klevel level)
{
    pthread_once(&tables_once, tables_init);
    if ((unsigned)t >= COVE_TYPE_COUNT || (unsigned)level >= COVE_KLEVEL_COUNT ||
        !packed_tables[level][t].block_size)
        return NULL;
    return &packed_tables[level][t];
}

const cove_quant_ops *cove_quant_ops_packed(enum cove_ggml_type t)
{
    pthread_once(&tables_once, tables_init);
    return cove_quant_ops_packed_for_level(t, best_level);
}

const cove_quant_ops *cove_quant_ops_ref(enum cove_ggml_type t)
{
    return cove_quant_ops_for_level(t, COVE_KLEVEL_SCALAR);
}

cove_quant_batch_fn cove_quant_batch_for_level(enum cove_ggml_type t, enum cove_klevel level)
{
    pthread_once(&tables_once, tables_init);
    if ((unsigned)t >= COVE_TYPE_COUNT || (unsigned)level >= COVE_KLEVEL_COUNT || !level_ok[level])
        return NULL;
    return batch_tables[level][t];
}

enum cove_klevel cove_quant_best_level(void)
{
    pthread_once(&tables_once, tables_init);
    return best_level;
}

size_t cove_quant_row_bytes(enum cove_ggml_type t, int64_t k)
{
    const cove_quant_ops *ops = cove_quant_ops_ref(t);
    if (!ops || k < 0 || k % ops->block_size)
        return 0;
    return (size_t)(k / ops->block_size) * ops->block_bytes;
}

size_t cove_quant_scratch_bytes(enum cove_ggml_type type, int k, int n_x)
{
    const cove_quant_ops *ops = cove_quant_ops_ref(type);
    if (!ops || n_x < 0 || k % ops->block_size)
        return 0;
    return cove_quant_row_bytes(ops->vec_dot_type, k) * (size_t)n_x;
}

cove_status cove_quant_gemm_prepare(const cove_quant_ops *ops, const float *X, int n_x, int k,
                                    void *scratch)
{
    if (!ops || !X || !scratch || n_x < 1 || k < 1 || k % ops->block_size)
        return COVE_ERR_INVALID_ARG;
    if (!ops->vec_dot)
        return COVE_ERR_UNSUPPORTED;
    const cove_quant_ops *act = cove_quant_ops_for_level(ops->vec_dot_type, ops->level);
    size_t xrb = cove_quant_row_bytes(ops->vec_dot_type, k);
    if (!act || !xrb || k % act->block_size)
        return COVE_ERR_INVALID_ARG;
    for (int j = 0; j < n_x; j++)
        act->quantize_row(X + (size_t)j * (size_t)k, (uint8_t *)scratch + (size_t)j * xrb, k);
    return COVE_OK;
}

/* Decode with a multi-row kernel: gemv_rows weight rows share each activation load. */
static void gemv_tiled(const cove_quant_ops *ops, const uint8_t *W, size_t wrb, const uint8_t *Xq,
                       int k, float *Y, int rb, int re)
{
    const int tr = ops->gemv_rows;
    const void *wp[TILE_MAX], *xp[1] = {Xq};
    for (int i = rb; i < re; i += tr) {
        int nr = re - i < tr ? re - i : tr;
        for (int r = 0; r < tr; r++)
            wp[r] = W + (size_t)(i + (r < nr ? r : nr - 1)) * wrb;
        ops->gemv_tile(k, wp, xp, Y + i, 1, nr, 1);
    }
}

/* Decode and the untiled path: one vec_dot per (row, activation row). */
static void gemm_dots(const cove_quant_ops *ops, const uint8_t *W, size_t wrb, const uint8_t *Xq,
                      size_t xrb, int n_x, int k, float *Y, size_t ldy, int rb, int re)
{
    for (int i = rb; i < re; i++)
        for (int j = 0; j < n_x; j++)
            Y[(size_t)j * ldy + (size_t)i] = ops->vec_dot(k, W + (size_t)i * wrb, Xq + (size_t)j * xrb);
}


/*
 * Prefill: the activation rows are taken in chunks that stay in L2; each
 * chunk is swept by register tiles, the tile's weight rows staying in L1
 * while it walks across the chunk's columns.
 */
static void gemm_tiled(const cove_quant_ops *ops, const uint8_t *W, size_t wrb, const uint8_t *Xq,
                       size_t xrb, int n_x, int k, float *Y, size_t ldy, int rb, int re)
{
    const int tr = ops->tile_rows, tc = ops->tile_cols;
    int chunk = (int)(GEMM_X_CHUNK / xrb) / tc * tc;
    chunk = chunk < tc ? tc : chunk;
    const void *wp[TILE_MAX], *xp[TILE_MAX];
    for (int j0 = 0; j0 < n_x; j0 += chunk) {
        int j1 = n_x - j0 < chunk ? n_x : j0 + chunk;
        for (int i = rb; i < re; i += tr) {
            int nr = re - i < tr ? re - i : tr;
            for (int r = 0; r < tr; r++)
                wp[r] = W + (size_t)(i + (r < nr ? r : nr - 1)) * wrb;
            for (int j = j0; j < j1; j += tc) {
                int nc = j1 - j < tc ? j1 - j : tc;
                for (int c = 0; c < tc; c++)
                    xp[c] = Xq + (size_t)(j + (c < nc ? c : nc - 1)) * xrb;
                ops->gemm_tile(k, wp, xp, Y + (size_t)j * ldy + (size_t)i, ldy, nr, nc);
            }
        }
    }
}

/*
 * Batches (prefill included) through a level's batch kernel: it takes the
 * activation rows a few at a time (8 on x86) and streams the weight rows
 * once per pass, so the rows go to it QUANT_BATCH_W_BLOCK bytes at a time, a block
 * that stays in L2 while every pass meets it.
 */
static void batch_blocked(cove_quant_batch_fn fn, int k, const uint8_t *W, size_t wrb, int rb, int re,
                          const uint8_t *Xq, size_t xrb, int n_x, float *Y, size_t ldy)
{
    const int step = wrb < QUANT_BATCH_W_BLOCK ? (int)(QUANT_BATCH_W_BLOCK / wrb) : 1;
    for (int r0 = rb; r0 < re; r0 += step)
        fn(k, W, wrb, r0, re - r0 < step ? re : r0 + step, Xq, xrb, n_x, Y, ldy);
}

/*
 * Packed rows: decode with the packed kernel, more activation rows with the packed batch
 * kernel, QUANT_BATCH_W_BLOCK bytes of weight rows at a time (as batch_blocked).
 */
static cove_status packed_run(const cove_quant_ops *ops, const uint8_t *W, size_t wrb, const void *Xq,
                              int n_x, int k, float *Y, size_t ldy, int rb, int re)
{
    const size_t xrb = cove_quant_row_bytes(ops->vec_dot_type, k);
    if (n_x == 1)
        packed_gemv[ops->level][ops->type](k, W, wrb, rb, re, Xq, xrb, 1, Y, ldy);
    else
        batch_blocked(packed_batch[ops->level][ops->type], k, W, wrb, rb, re, Xq, xrb, n_x, Y, ldy);
    return COVE_OK;
}

cove_status cove_quant_gemm_run(const cove_quant_ops *ops, const void *W, size_t w_row_bytes, int n_rows_w,
                                const void *Xq, int n_x, int k, float *Y, size_t ldy, int row_begin, int row_end)
{
    if (!ops || !W || !Xq || !Y || n_x < 1 || k < 1 || k % ops->block_size)
        return COVE_ERR_INVALID_ARG;
    if (!ops->vec_dot)
        return COVE_ERR_UNSUPPORTED;
    if (row_begin < 0 || row_end < row_begin || row_end > n_rows_w)
        return COVE_ERR_INVALID_ARG;
    if (w_row_bytes < cove_quant_row_bytes(ops->type, k) || (n_x > 1 && ldy < (size_t)row_end))
        return COVE_ERR_INVALID_ARG;
    if (ops->packed && (unsigned)ops->level < COVE_KLEVEL_COUNT && packed_gemv[ops->level][ops->type])
        return packed_run(ops, W, w_row_bytes, Xq, n_x, k, Y, ldy, row_begin, row_end);
    size_t xrb = cove_quant_row_bytes(ops->vec_dot_type, k);
    cove_quant_batch_fn batch = n_x >= 2 && (unsigned)ops->level < COVE_KLEVEL_COUNT
                                    ? batch_tables[ops->level][ops->type]
                                    : NULL;
    cove_quant_batch_fn gemv = n_x == 1 && (unsigned)ops->level < COVE_KLEVEL_COUNT
                                   ? gemv_tables[ops->level][ops->type]
                                   : NULL;
    if (batch)
        batch_blocked(batch, k, W, w_row_bytes, row_begin, row_end, Xq, xrb, n_x, Y, ldy);
    else if (gemv)
        gemv(k, W, w_row_bytes, row_begin, row_end, Xq, xrb, 1, Y, ldy);
    else if (n_x == 1 && ops->gemv_tile && ops->gemv_rows <= TILE_MAX)
        gemv_tiled(ops, W, w_row_bytes, Xq, k, Y, row_begin, row_end);
    else if (n_x == 1 || !ops->gemm_tile || ops->tile_rows > TILE_MAX || ops->tile_cols > TILE_MAX)
        gemm_dots(ops, W, w_row_bytes, Xq, xrb, n_x, k, Y, ldy, row_begin, row_end);
    else
        gemm_tiled(ops, W, w_row_bytes, Xq, xrb, n_x, k, Y, ldy, row_begin, row_end);
    return COVE_OK;
}

cove_status cove_quant_gemm(enum cove_ggml_type type, const void *W, size_t w_row_bytes,
                            int n_rows_w, const float *X, int n_x, int k, float *Y, int row_begin,
                            int row_end, void *scratch)
{
    const cove_quant_ops *ops = cove_quant_ops_get(type);
    if (!ops)
        return COVE_ERR_UNSUPPORTED;
    cove_status st = cove_quant_gemm_prepare(ops, X, n_x, k, scratch);
    if (st != COVE_OK)
        return st;
    return cove_quant_gemm_run(ops, W, w_row_bytes, n_rows_w, scratch, n_x, k, Y,
                               (size_t)n_rows_w, row_begin, row_end);
}
