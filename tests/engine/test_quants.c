/*
 * tests/engine/test_quants.c - the quant kernels of every SIMD level this CPU
 * has, against the scalar reference.
 *
 * Bounds used (stated once here):
 *   - dequantize and the activation quantizers: bit-exact with the reference;
 *   - vec_dot and gemm: |simd - ref| <= 1e-5 * sum_i |w_i * y_i| (+1e-30),
 *     i.e. relative to the magnitude of the terms, since the float summation
 *     order differs;
 *   - quantize round trip on Gaussian data: RMSE / RMS(x) below the per-type
 *     bound in `rt_bound` (about 1.5x what the simple quantizers reach).
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/pool.h"
#include "engine/kernels/quants.h"
#include "engine/kernels/quants_int.h"
#include "test.h"

static const enum cove_ggml_type weight_types[] = {
    COVE_TYPE_F32,  COVE_TYPE_F16,  COVE_TYPE_BF16, COVE_TYPE_Q4_0, COVE_TYPE_Q4_1,
    COVE_TYPE_Q5_0, COVE_TYPE_Q5_1, COVE_TYPE_Q8_0, COVE_TYPE_Q2_K, COVE_TYPE_Q3_K,
    COVE_TYPE_Q4_K, COVE_TYPE_Q5_K, COVE_TYPE_Q6_K,
};
#define N_WEIGHT_TYPES (int)(sizeof weight_types / sizeof weight_types[0])

static const enum cove_ggml_type act_types[] = {COVE_TYPE_Q8_0, COVE_TYPE_Q8_1, COVE_TYPE_Q8_K};

/* Round-trip bound: RMSE relative to the signal's RMS, Gaussian input. */
static double rt_bound(enum cove_ggml_type t)
{
    switch (t) {
    case COVE_TYPE_F32: return 0;
    case COVE_TYPE_F16: return 3e-4;
    case COVE_TYPE_BF16: return 3e-3;
    case COVE_TYPE_Q8_0: case COVE_TYPE_Q8_1: return 0.008;
    case COVE_TYPE_Q8_K: return 0.012; /* 256-element blocks: larger amax */
    case COVE_TYPE_Q6_K: return 0.03;
    case COVE_TYPE_Q5_0: case COVE_TYPE_Q5_1: case COVE_TYPE_Q5_K: return 0.06;
    case COVE_TYPE_Q4_0: case COVE_TYPE_Q4_1: case COVE_TYPE_Q4_K: return 0.12;
    case COVE_TYPE_Q3_K: return 0.22;
    default: return 0.4; /* Q2_K */
    }
}

/* ---- deterministic random numbers ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd64(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rnd_unit(void)
{
    return (double)(rnd64() >> 11) * 0x1p-53;
}

static float rnd_gauss(void)
{
    double u = rnd_unit() + 1e-300, v = rnd_unit();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static void fill_gauss(float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * rnd_gauss();
}

static uint16_t rnd_scale16(void)
{
    float v = (float)(0.001 + 0.05 * rnd_unit());
    return quant_f32_to_f16(rnd64() & 1 ? v : -v);
}

/*
 * Random weight rows: every quant bit random (all layouts exercised), the f16
 * scales random but finite; float types from Gaussian values.
 */
static void fill_weights(enum cove_ggml_type t, void *row, int64_t n)
{
    const cove_quant_ops *ref = cove_quant_ops_ref(t);
    if (ref->block_size == 1) {
        float *x = cove_malloc((size_t)n * sizeof *x);
        fill_gauss(x, n, 1.0f);
        ref->quantize_row(x, row, n);
        cove_free(x);
        return;
    }
    uint8_t *p = row;
    size_t bytes = (size_t)(n / ref->block_size) * ref->block_bytes;
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)rnd64();
    for (int64_t b = 0; b < n / ref->block_size; b++) {
        uint8_t *blk = p + (size_t)b * ref->block_bytes;
        uint16_t d = rnd_scale16(), m = rnd_scale16();
        switch (t) {
        case COVE_TYPE_Q4_0: case COVE_TYPE_Q5_0: case COVE_TYPE_Q8_0:
            memcpy(blk, &d, 2);
            break;
        case COVE_TYPE_Q4_1: case COVE_TYPE_Q5_1: case COVE_TYPE_Q4_K: case COVE_TYPE_Q5_K:
            memcpy(blk, &d, 2);
            memcpy(blk + 2, &m, 2);
            break;
        case COVE_TYPE_Q2_K:
            memcpy(blk + 80, &d, 2);
            memcpy(blk + 82, &m, 2);
            break;
        case COVE_TYPE_Q3_K: memcpy(blk + 108, &d, 2); break;
        case COVE_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
        default: break;
        }
    }
}

/* The levels to test: every SIMD level this CPU has (the reference is the yardstick). */
static int simd_levels(enum cove_klevel out[COVE_KLEVEL_COUNT])
{
    int n = 0;
    for (int l = COVE_KLEVEL_SCALAR + 1; l < COVE_KLEVEL_COUNT; l++)
        if (cove_quant_ops_for_level(COVE_TYPE_Q4_0, (enum cove_klevel)l))
            out[n++] = (enum cove_klevel)l;
    return n;
}

/* sum |w_i * y_i| of the dequantized rows, for the dot tolerance. */
static double dot_magnitude(enum cove_ggml_type t, const void *w, const void *y, int n)
{
    const cove_quant_ops *ref = cove_quant_ops_ref(t);
    const cove_quant_ops *act = cove_quant_ops_ref(ref->vec_dot_type);
    float *a = cove_malloc((size_t)n * sizeof *a), *b = cove_malloc((size_t)n * sizeof *b);
    ref->dequantize_row(w, a, n);
    act->dequantize_row(y, b, n);
    double m = 0;
    for (int i = 0; i < n; i++)
        m += fabs((double)a[i] * b[i]);
    cove_free(a);
    cove_free(b);
    return m;
}

static int close_enough(double got, double want, double mag)
{
    return fabs(got - want) <= 1e-5 * mag + 1e-30;
}

/* ---- conversions ---- */

TEST(quants_f16_all_values)
{
    /* every binary16 value: to f32 and back is the identity (NaNs stay NaN) */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = quant_f16_to_f32((uint16_t)h);
        uint16_t back = quant_f32_to_f16(f);
        int nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan)
            CHECK_MSG(isnan(f) && (back & 0x7fff) > 0x7c00, "nan %04x", h);
        else
            CHECK_MSG(back == h, "%04x -> %a -> %04x", h, (double)f, back);
    }
    /* subnormals and rounding edges */
    CHECK(quant_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(quant_f16_to_f32(0x03ff) == 0x3ffp-24f);
    CHECK(quant_f32_to_f16(0x1p-25f) == 0);         /* tie to even: 0 */
    CHECK(quant_f32_to_f16(0x1.8p-24f) == 2);       /* 1.5 ulp: tie to even: 2 */
    CHECK(quant_f32_to_f16(0x1.000002p-25f) == 1);  /* just above half */
    CHECK(quant_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(quant_f32_to_f16(65519.996f) == 0x7bff);
    CHECK(quant_f32_to_f16(65520.0f) == 0x7c00);    /* tie rounds to even: inf */
    CHECK(quant_f32_to_f16(-INFINITY) == 0xfc00);
    CHECK(quant_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00); /* tie to even */
    CHECK(quant_f32_to_f16(1.0f + 0x3p-11f) == 0x3c02);
    CHECK(quant_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);
    CHECK(quant_f32_to_bf16(1.0f + 0x3p-8f) == 0x3f82);
}

/* SIMD conversion of F16 / BF16 rows, both ways, bit for bit. */
TEST(quants_f16_bf16_simd_exact)
{
    enum cove_klevel lv[COVE_KLEVEL_COUNT];
    int nl = simd_levels(lv);
    const int n = 65536 + 5;
    uint16_t *h = cove_malloc(n * 2), *h1 = cove_malloc(n * 2), *h2 = cove_malloc(n * 2);
    uint32_t *u = cove_malloc(n * 4);
    float *f1 = cove_malloc(n * 4), *f2 = cove_malloc(n * 4);
    for (int i = 0; i < n; i++) {
        h[i] = (uint16_t)i;
        u[i] = i < 64 ? (uint32_t)(0x477fe000u + 0x400u * (uint32_t)i) : (uint32_t)rnd64();
    }
    for (int li = 0; li < nl; li++)
        for (int t = 0; t < 2; t++) {
            enum cove_ggml_type ty = t ? COVE_TYPE_BF16 : COVE_TYPE_F16;
            const cove_quant_ops *ref = cove_quant_ops_ref(ty), *s = cove_quant_ops_for_level(ty, lv[li]);
            ref->dequantize_row(h, f1, n);
            s->dequantize_row(h, f2, n);
            CHECK_MSG(memcmp(f1, f2, (size_t)n * 4) == 0, "%s dequant %s", cove_klevel_name(lv[li]),
                      t ? "bf16" : "f16");
            ref->quantize_row((const float *)u, h1, n);
            s->quantize_row((const float *)u, h2, n);
            for (int i = 0; i < n; i++)
                CHECK_MSG(h1[i] == h2[i], "%s quant %s %08x: %04x vs %04x", cove_klevel_name(lv[li]),
                          t ? "bf16" : "f16", u[i], h1[i], h2[i]);
        }
    cove_free(h);
    cove_free(h1);
    cove_free(h2);
    cove_free(u);
    cove_free(f1);
    cove_free(f2);
}

/* ---- quantize / dequantize ---- */

static double roundtrip_err(enum cove_ggml_type t, const float *x, int64_t n)
{
    const cove_quant_ops *ref = cove_quant_ops_ref(t);
    void *q = cove_malloc(cove_quant_row_bytes(t, n));
    float *y = cove_malloc((size_t)n * sizeof *y);
    ref->quantize_row(x, q, n);
    ref->dequantize_row(q, y, n);
    double se = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) {
        se += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        ss += (double)x[i] * x[i];
    }
    cove_free(q);
    cove_free(y);
    return ss > 0 ? sqrt(se / ss) : sqrt(se);
}

TEST(quants_roundtrip_error)
{
    const int64_t n = 256 * 64;
    float *x = cove_malloc((size_t)n * sizeof *x);
    fill_gauss(x, n, 0.02f);
    x[7] = 0.3f; /* an outlier, as real weights have */
    for (int i = 0; i < N_WEIGHT_TYPES + 3; i++) {
        enum cove_ggml_type t = i < N_WEIGHT_TYPES ? weight_types[i] : act_types[i - N_WEIGHT_TYPES];
        double e = roundtrip_err(t, x, n);
        if (getenv("COVE_TEST_VERBOSE"))
            fprintf(stderr, "  %-5s rel rmse %.5f (bound %.4f)\n", cove_type_info_get(t)->name, e,
                    rt_bound(t));
        CHECK_MSG(e <= rt_bound(t), "%s: relative rmse %g > %g", cove_type_info_get(t)->name, e, rt_bound(t));
    }
    cove_free(x);
}

TEST(quants_edge_values)
{
    const int64_t n = 512;
    float *x = cove_malloc(n * sizeof *x), *y = cove_malloc(n * sizeof *y);
    void *q = cove_malloc(cove_quant_row_bytes(COVE_TYPE_F32, n));
    for (int i = 0; i < N_WEIGHT_TYPES + 3; i++) {
        enum cove_ggml_type t = i < N_WEIGHT_TYPES ? weight_types[i] : act_types[i - N_WEIGHT_TYPES];
        const cove_quant_ops *ref = cove_quant_ops_ref(t);
        const char *name = cove_type_info_get(t)->name;
        /* zeros: exact zeros back */
        memset(x, 0, n * sizeof *x);
        ref->quantize_row(x, q, n);
        ref->dequantize_row(q, y, n);
        for (int j = 0; j < n; j++)
            CHECK_MSG(y[j] == 0, "%s zeros: %g", name, (double)y[j]);
        /* large magnitudes near the f16 limit of the scales: finite and within bound */
        fill_gauss(x, n, 1.0f);
        for (int j = 0; j < n; j++)
            x[j] = x[j] > 0 ? 60000.0f : -60000.0f * (float)(0.5 + 0.5 * rnd_unit());
        double e = roundtrip_err(t, x, n);
        CHECK_MSG(isfinite(e) && e <= 2 * rt_bound(t) + 1e-6, "%s large: %g", name, e);
        /* tiny values (f16 subnormal scales): finite, no NaN */
        fill_gauss(x, n, 1e-6f);
        ref->quantize_row(x, q, n);
        ref->dequantize_row(q, y, n);
        for (int j = 0; j < n; j++)
            CHECK_MSG(isfinite(y[j]) && fabsf(y[j]) < 1e-4f, "%s tiny: %g", name, (double)y[j]);
    }
    /* f16 subnormal weights are exact in F16 */
    for (int j = 0; j < n; j++)
        x[j] = (float)(j % 1024) * 0x1p-24f;
    cove_quant_ops_ref(COVE_TYPE_F16)->quantize_row(x, q, n);
    cove_quant_ops_ref(COVE_TYPE_F16)->dequantize_row(q, y, n);
    CHECK(memcmp(x, y, n * sizeof *x) == 0);
    cove_free(x);
    cove_free(y);
    cove_free(q);
}

/* SIMD dequantize of random blocks (every bit pattern) equals the reference bit for bit. */
TEST(quants_dequant_simd_exact)
{
    enum cove_klevel lv[COVE_KLEVEL_COUNT];
    int nl = simd_levels(lv);
    const int64_t n = 256 * 12;
    void *w = cove_malloc(cove_quant_row_bytes(COVE_TYPE_F32, n));
    float *a = cove_malloc(n * sizeof *a), *b = cove_malloc(n * sizeof *b);
    for (int i = 0; i < N_WEIGHT_TYPES; i++) {
        enum cove_ggml_type t = weight_types[i];
        fill_weights(t, w, n);
        cove_quant_ops_ref(t)->dequantize_row(w, a, n);
        for (int l = 0; l < nl; l++) {
            cove_quant_ops_for_level(t, lv[l])->dequantize_row(w, b, n);
            for (int64_t j = 0; j < n; j++)
                CHECK_MSG(memcmp(&a[j], &b[j], 4) == 0, "%s %s elem %lld: %a vs %a",
                          cove_type_info_get(t)->name, cove_klevel_name(lv[l]), (long long)j,
                          (double)a[j], (double)b[j]);
        }
    }
    cove_free(w);
    cove_free(a);
    cove_free(b);
}

TEST(quants_act_quant_simd_exact)
{
    enum cove_klevel lv[COVE_KLEVEL_COUNT];
    int nl = simd_levels(lv);
    const int64_t n = 256 * 8;
    float *x = cove_malloc(n * sizeof *x);
    size_t bytes = cove_quant_row_bytes(COVE_TYPE_Q8_K, n);
    uint8_t *a = cove_malloc(bytes), *b = cove_malloc(bytes);
    fill_gauss(x, n, 3.0f);
    memset(x + 256, 0, 256 * sizeof *x); /* an all-zero block */
    x[600] = 1e30f;                      /* a block with a huge value */
    for (int i = 0; i < 3; i++)
        for (int l = 0; l < nl; l++) {
            enum cove_ggml_type t = act_types[i];
            size_t nb = cove_quant_row_bytes(t, n);
            memset(a, 0, bytes);
            memset(b, 0, bytes);
            cove_quant_ops_ref(t)->quantize_row(x, a, n);
            cove_quant_ops_for_level(t, lv[l])->quantize_row(x, b, n);
            CHECK_MSG(memcmp(a, b, nb) == 0, "%s %s", cove_type_info_get(t)->name, cove_klevel_name(lv[l]));
        }
    cove_free(x);
    cove_free(a);
    cove_free(b);
}

/* ---- dot products ---- */

static void check_dots(enum cove_ggml_type t, int n, const enum cove_klevel *lv, int nl)
{
    const cove_quant_ops *ref = cove_quant_ops_ref(t);
    void *w = cove_malloc(cove_quant_row_bytes(t, n) + 1);
    void *y = cove_malloc(cove_quant_row_bytes(ref->vec_dot_type, n) + 1);
    float *x = cove_malloc((size_t)n * sizeof *x);
    fill_weights(t, w, n);
    fill_gauss(x, n, 1.0f);
    cove_quant_ops_ref(ref->vec_dot_type)->quantize_row(x, y, n);
    double want = ref->vec_dot(n, w, y), mag = dot_magnitude(t, w, y, n);
    for (int l = 0; l < nl; l++) {
        double got = cove_quant_ops_for_level(t, lv[l])->vec_dot(n, w, y);
        if (!close_enough(got, want, mag)) {
            test_fail(__FILE__, __LINE__, "%s %s n=%d: %.9g vs ref %.9g (mag %g)",
                      cove_type_info_get(t)->name, cove_klevel_name(lv[l]), n, got, want, mag);
            break;
        }
    }
    cove_free(w);
    cove_free(y);
    cove_free(x);
}

TEST(quants_vec_dot_vs_ref)
{
    enum cove_klevel lv[COVE_KLEVEL_COUNT];
    int nl = simd_levels(lv);
    static const int mult[] = {1, 2, 3, 7, 16};
    static const int odd[] = {1, 7, 8, 9, 31, 33, 100, 4099};
    for (int i = 0; i < N_WEIGHT_TYPES && !test_failed_now(); i++) {
        enum cove_ggml_type t = weight_types[i];
        int bs = cove_quant_ops_ref(t)->block_size;
        for (int m = 0; m < 5; m++)
            check_dots(t, bs == 1 ? 32 * mult[m] : bs * mult[m], lv, nl);
        for (int m = 0; bs == 1 && m < 8; m++)
            check_dots(t, odd[m], lv, nl);
    }
}

/* ---- matrix product ---- */

typedef struct {
    int nr, nx, k;
    uint8_t *w, *xq;
    float *x, *y, *want, *mag;
} gemm_case;

static void gemm_case_free(gemm_case *g)
{
    cove_free(g->w);
    cove_free(g->xq);
    cove_free(g->x);
    cove_free(g->y);
    cove_free(g->want);
    cove_free(g->mag);
}

/* Fill W and X and the expected Y from a plain loop over ops->vec_dot. */
static void gemm_case_init(gemm_case *g, const cove_quant_ops *ops, int nr, int nx, int k)
{
    size_t wrb = cove_quant_row_bytes(ops->type, k), xrb = cove_quant_row_bytes(ops->vec_dot_type, k);
    g->nr = nr, g->nx = nx, g->k = k;
    g->w = cove_malloc(wrb * (size_t)nr);
    g->xq = cove_malloc(xrb * (size_t)nx);
    g->x = cove_malloc((size_t)k * (size_t)nx * sizeof(float));
    g->y = cove_malloc((size_t)nr * (size_t)nx * sizeof(float));
    g->want = cove_malloc((size_t)nr * (size_t)nx * sizeof(float));
    g->mag = cove_malloc((size_t)nr * (size_t)nx * sizeof(float));
    fill_weights(ops->type, g->w, (int64_t)k * nr);
    fill_gauss(g->x, (int64_t)k * nx, 1.0f);
    for (int j = 0; j < nx; j++)
        cove_quant_ops_ref(ops->vec_dot_type)->quantize_row(g->x + (size_t)j * k, g->xq + (size_t)j * xrb, k);
    for (int j = 0; j < nx; j++)
        for (int i = 0; i < nr; i++) {
            const uint8_t *wr = g->w + (size_t)i * wrb, *xr = g->xq + (size_t)j * xrb;
            g->want[j * nr + i] = ops->vec_dot(k, wr, xr);
            g->mag[j * nr + i] = (float)dot_magnitude(ops->type, wr, xr, k);
        }
}

/* Run rows [rb, re) and check them; the rest of Y must stay untouched. */
static int gemm_case_check(gemm_case *g, const cove_quant_ops *ops, int rb, int re)
{
    size_t wrb = cove_quant_row_bytes(ops->type, g->k);
    for (int i = 0; i < g->nr * g->nx; i++)
        g->y[i] = -12345.0f;
    cove_status st;
    void *scratch = cove_malloc(cove_quant_scratch_bytes(ops->type, g->k, g->nx));
    st = cove_quant_gemm_prepare(ops, g->x, g->nx, g->k, scratch);
    if (st == COVE_OK && memcmp(scratch, g->xq, cove_quant_scratch_bytes(ops->type, g->k, g->nx)) != 0)
        st = COVE_ERR_INTERNAL; /* prepare must quantize as the reference does */
    if (st == COVE_OK)
        st = cove_quant_gemm_run(ops, g->w, wrb, g->nr, scratch, g->nx, g->k, g->y, (size_t)g->nr, rb, re);
    cove_free(scratch);
    if (st != COVE_OK)
        return (int)st;
    for (int j = 0; j < g->nx; j++)
        for (int i = 0; i < g->nr; i++) {
            float got = g->y[j * g->nr + i], want = g->want[j * g->nr + i];
            int in = i >= rb && i < re;
            if (in ? !close_enough(got, want, g->mag[j * g->nr + i]) : got != -12345.0f) {
                fprintf(stderr, "  %s %s nr=%d nx=%d k=%d rows [%d,%d): Y[%d][%d] = %.9g, want %.9g\n",
                        cove_type_info_get(ops->type)->name, cove_klevel_name(ops->level), g->nr,
                        g->nx, g->k, rb, re, j, i, (double)got, in ? (double)want : -12345.0);
                return 1;
            }
        }
    return 0;
}

static int gemm_sweep(const cove_quant_ops *ops)
{
    /* k: one block, three, and (32-element types) 11 blocks: a full group of 8 and a tail */
    int bs = ops->block_size == 1 ? 8 : ops->block_size;
    const int ks[] = {bs, 3 * bs, bs == 8 ? 37 : bs == 32 ? 11 * bs : 2 * bs, bs == 8 ? 200 : 5 * bs};
    for (int ki = 0; ki < 4; ki++)
        for (int nr = 1; nr <= 17; nr++)
            for (int nx = 1; nx <= 9; nx++) {
                gemm_case g;
                gemm_case_init(&g, ops, nr, nx, ks[ki]);
                int bad = gemm_case_check(&g, ops, 0, nr);
                if (!bad && nr > 3)
                    bad = gemm_case_check(&g, ops, 1, nr - 2);
                gemm_case_free(&g);
                if (bad)
                    return bad;
            }
    return 0;
}

TEST(quants_gemm_vs_loop)
{
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++)
        for (int i = 0; i < N_WEIGHT_TYPES; i++) {
            const cove_quant_ops *ops = cove_quant_ops_for_level(weight_types[i], (enum cove_klevel)l);
            if (!ops)
                continue;
            int bad = gemm_sweep(ops);
            CHECK_MSG(!bad, "gemm %s %s: %d", cove_type_info_get(weight_types[i])->name,
                      cove_klevel_name((enum cove_klevel)l), bad);
        }
}

/* Long rows: the decode kernels work in chunks of a few thousand elements. */
TEST(quants_gemm_long_rows)
{
    static const int ks[] = {4096 + 384, 2 * 4096 + 32 * 3};
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++)
        for (int i = 0; i < N_WEIGHT_TYPES; i++)
            for (int ki = 0; ki < 2; ki++) {
                const cove_quant_ops *ops = cove_quant_ops_for_level(weight_types[i], (enum cove_klevel)l);
                int k = ops && ops->block_size == 256 ? ks[ki] / 256 * 256 : ks[ki];
                if (!ops)
                    continue;
                for (int nx = 1; nx <= 2; nx++) { /* decode kernel, then prefill tile */
                    gemm_case g;
                    gemm_case_init(&g, ops, 9, nx, k);
                    int bad = gemm_case_check(&g, ops, 0, 9);
                    gemm_case_free(&g);
                    CHECK_MSG(!bad, "long rows %s %s k=%d nx=%d", cove_type_info_get(weight_types[i])->name,
                              cove_klevel_name((enum cove_klevel)l), k, nx);
                }
            }
}

/*
 * Batches (2 or more activation rows: several sequences decoded together, prefill): n_x
 * from 2 to 17 and past two passes of the kernel (40, 67), odd and even row counts, row
 * ranges, block counts that leave a partial group of 8 and a lone block of a pair, and rows
 * long enough to be taken in several chunks.
 */
TEST(quants_gemm_batch)
{
    static const int nrs[] = {1, 2, 5, 8, 19};
    static const int nxs[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 40, 67};
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++)
        for (int i = 0; i < N_WEIGHT_TYPES && !test_failed_now(); i++) {
            const cove_quant_ops *ops = cove_quant_ops_for_level(weight_types[i], (enum cove_klevel)l);
            if (!ops || (ops->block_size != 32 && ops->block_size != 256))
                continue;
            const int bs = ops->block_size, nk = bs == 32 ? 5 : 3;
            const int ks[] = {bs, 3 * bs, bs == 32 ? 11 * 32 : 5 * 256, 36 * 32, 75 * 32};
            for (size_t xi = 0; xi < sizeof nxs / sizeof nxs[0]; xi++)
                for (int ki = 0; ki < nk; ki++)
                    for (int ni = 0; ni < 5; ni++) {
                        const int nx = nxs[xi];
                        if ((ki >= 3 && ni != 2 && ni != 4) || (nx > 17 && (ki >= 3 || ni != 4)))
                            continue; /* long rows, many columns: fewer shapes, to keep the test quick */
                        gemm_case g;
                        gemm_case_init(&g, ops, nrs[ni], nx, ks[ki]);
                        int bad = gemm_case_check(&g, ops, 0, g.nr);
                        if (!bad && g.nr > 3)
                            bad = gemm_case_check(&g, ops, 1, g.nr - 2);
                        gemm_case_free(&g);
                        CHECK_MSG(!bad, "batch %s %s nr=%d nx=%d k=%d", cove_type_info_get(ops->type)->name,
                                  cove_klevel_name(ops->level), nrs[ni], nx, ks[ki]);
                    }
        }
}

/*
 * A prefill-sized product: the weight rows go to the batch kernel QUANT_BATCH_W_BLOCK bytes
 * at a time, so a matrix of more than two such blocks and a row range that starts and ends
 * inside blocks check that every block lands in its rows of Y.
 */
TEST(quants_gemm_batch_blocks)
{
    const int k = 4096, nx = 10;
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++)
        for (int i = 0; i < N_WEIGHT_TYPES && !test_failed_now(); i++) {
            const cove_quant_ops *ops = cove_quant_ops_for_level(weight_types[i], (enum cove_klevel)l);
            if (!ops || !cove_quant_batch_for_level(ops->type, ops->level))
                continue;
            const int per_block = (int)(QUANT_BATCH_W_BLOCK / cove_quant_row_bytes(ops->type, k));
            gemm_case g;
            gemm_case_init(&g, ops, 2 * per_block + 5, nx, k);
            int bad = gemm_case_check(&g, ops, 0, g.nr);
            if (!bad)
                bad = gemm_case_check(&g, ops, 3, g.nr - 1);
            gemm_case_free(&g);
            CHECK_MSG(!bad, "blocks %s %s rows=%d", cove_type_info_get(ops->type)->name,
                      cove_klevel_name(ops->level), 2 * per_block + 5);
        }
}

/* The x86 levels have batch kernels for the 32-element types and the k-quants. */
TEST(quants_batch_kernels_present)
{
    static const enum cove_ggml_type types[] = {COVE_TYPE_Q4_0, COVE_TYPE_Q4_1, COVE_TYPE_Q5_0,
                                                COVE_TYPE_Q5_1, COVE_TYPE_Q8_0};
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++)
        for (int i = 0; i < 5; i++) {
            int simd_x86 = l == COVE_KLEVEL_AVX2 || l == COVE_KLEVEL_AVX512 || l == COVE_KLEVEL_AVX512VBMI;
            if (!cove_quant_ops_for_level(types[i], (enum cove_klevel)l))
                continue;
            cove_quant_batch_fn f = cove_quant_batch_for_level(types[i], (enum cove_klevel)l);
            CHECK_MSG(simd_x86 ? f != NULL : f == NULL, "%s %s", cove_type_info_get(types[i])->name,
                      cove_klevel_name((enum cove_klevel)l));
        }
    for (int l = COVE_KLEVEL_AVX2; l <= COVE_KLEVEL_AVX512; l++)
        for (int t = COVE_TYPE_Q2_K; t <= COVE_TYPE_Q6_K && cove_quant_ops_for_level(COVE_TYPE_Q4_K, l); t++)
            CHECK_MSG(cove_quant_batch_for_level((enum cove_ggml_type)t, (enum cove_klevel)l) != NULL, "%s %s",
                      cove_type_info_get((enum cove_ggml_type)t)->name, cove_klevel_name((enum cove_klevel)l));
    CHECK(cove_quant_batch_for_level(COVE_TYPE_Q4_0, (enum cove_klevel)99) == NULL);
    CHECK(cove_quant_batch_for_level(COVE_TYPE_COUNT, COVE_KLEVEL_SCALAR) == NULL);
}

/*
 * Packed rows: packing then unpacking gives the file's bytes back, a packed row converts to
 * the very floats of the original, and the product over packed rows (the packed decode
 * kernel for one activation row, unpacked rows through the batch kernels for more) agrees
 * with the reference loop, for row lengths with and without a short last group (32-element
 * types: 1 to 3 blocks; Q4_K: 1 to 3 blocks left in the file's layout, or only those) and
 * past one chunk of the decode kernel.
 */
static void packed_rows_case(enum cove_ggml_type t, int k)
{
    const int nr = 13;
    const size_t wrb = cove_quant_row_bytes(t, k), n = wrb * nr;
    const char *name = cove_type_info_get(t)->name;
    gemm_case g;
    gemm_case_init(&g, cove_quant_ops_ref(t), nr, 1, k);
    uint8_t *pw = cove_malloc(n), *back = cove_malloc(n);
    float *a = cove_malloc((size_t)k * sizeof *a), *b = cove_malloc((size_t)k * sizeof *b);
    memcpy(pw, g.w, n);
    CHECK(cove_quant_packable(t));
    CHECK(cove_quant_pack_rows(t, pw, wrb, nr, k) == 1);
    const int moved = t != COVE_TYPE_Q4_K || k >= 4 * 256; /* Q4_K: no whole group, nothing moves */
    CHECK_MSG((memcmp(pw, g.w, n) != 0) == moved, "%s k=%d: packing moved bytes: %d", name, k, !moved);
    CHECK(cove_quant_unpack_rows(t, pw, back, wrb, nr, k) == 1);
    CHECK_MSG(memcmp(back, g.w, n) == 0, "%s k=%d: unpacked rows differ", name, k);
    for (int r = 0; r < nr; r++) {
        cove_quant_ops_ref(t)->dequantize_row(g.w + (size_t)r * wrb, a, k);
        cove_quant_packed_to_f32(t, pw + (size_t)r * wrb, b, k);
        CHECK_MSG(memcmp(a, b, (size_t)k * sizeof *a) == 0, "%s k=%d row %d: to_f32", name, k, r);
    }
    CHECK(cove_quant_ops_packed(t) == cove_quant_ops_packed_for_level(t, cove_quant_best_level()));
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++) { /* every level's kernels (avx512vbmi: GFNI) */
        const cove_quant_ops *ops = cove_quant_ops_packed_for_level(t, (enum cove_klevel)l);
        for (int nx = 1; ops && nx <= 17 && !test_failed_now(); nx += nx < 2 ? 1 : 5) {
            gemm_case h;
            gemm_case_init(&h, cove_quant_ops_get(t), nr, nx, k);
            CHECK(cove_quant_pack_rows(t, h.w, wrb, nr, k) == 1);
            CHECK(ops->packed == 1 && ops->type == t && ops->level == (enum cove_klevel)l);
            int bad = gemm_case_check(&h, ops, 0, nr);
            bad = bad || gemm_case_check(&h, ops, 1, nr - 2);
            CHECK_MSG(!bad, "packed %s k=%d nx=%d level %s", name, k, nx, cove_klevel_name(ops->level));
            gemm_case_free(&h);
        }
    }
    cove_free(pw), cove_free(back), cove_free(a), cove_free(b);
    gemm_case_free(&g);
}

TEST(quants_packed_rows)
{
    static const enum cove_ggml_type types[] = {COVE_TYPE_Q4_0, COVE_TYPE_Q4_1, COVE_TYPE_Q5_0, COVE_TYPE_Q5_1,
                                                COVE_TYPE_Q8_0, COVE_TYPE_Q4_K, COVE_TYPE_Q6_K};
    static const int ks32[] = {32, 96, 128, 160, 352, 960, 4096 + 384};
    static const int ksk[] = {256, 768, 1024, 1280, 1792, 2048, 8192 + 1536};
    CHECK(!cove_quant_packable(COVE_TYPE_Q2_K) && !cove_quant_packable(COVE_TYPE_Q5_K) &&
          !cove_quant_packable(COVE_TYPE_F16));
    CHECK(cove_quant_pack_rows(COVE_TYPE_Q5_K, NULL, 0, 0, 256) == 0);
    CHECK(cove_quant_pack_rows(COVE_TYPE_Q4_K, NULL, 0, 0, 100) == 0);
    for (int i = 0; i < 7 && !test_failed_now(); i++)
        for (int ki = 0; ki < 7 && !test_failed_now(); ki++)
            packed_rows_case(types[i], i < 5 ? ks32[ki] : ksk[ki]);
}

typedef struct {
    const cove_quant_ops *ops;
    const gemm_case *g;
    const void *xq;
    float *y;
} gemm_par;

static void gemm_par_rows(void *ctx, size_t begin, size_t end, int ith)
{
    const gemm_par *p = ctx;
    (void)ith;
    cove_quant_gemm_run(p->ops, p->g->w, cove_quant_row_bytes(p->ops->type, p->g->k), p->g->nr, p->xq,
                        p->g->nx, p->g->k, p->y, (size_t)p->g->nr, (int)begin, (int)end);
}

/* Rows split over threads (as the model code runs it) give the very same Y as one call. */
TEST(quants_gemm_threads)
{
    static const enum cove_ggml_type types[] = {COVE_TYPE_Q4_0, COVE_TYPE_Q8_0, COVE_TYPE_Q4_K,
                                                COVE_TYPE_F16};
    cove_pool *pool = NULL;
    CHECK_OK(cove_pool_create(3, &pool));
    for (int i = 0; i < 4 && !test_failed_now(); i++)
        for (int nx = 1; nx <= 5 && !test_failed_now(); nx += 4) {
            const cove_quant_ops *ops = cove_quant_ops_get(types[i]);
            gemm_case g;
            gemm_case_init(&g, ops, 67, nx, 512);
            size_t n = (size_t)g.nr * (size_t)g.nx;
            void *xq = cove_malloc(cove_quant_scratch_bytes(ops->type, g.k, g.nx));
            float *y1 = cove_malloc(n * sizeof *y1);
            int ok = cove_quant_gemm_prepare(ops, g.x, g.nx, g.k, xq) == COVE_OK;
            gemm_par p = {ops, &g, xq, y1};
            gemm_par_rows(&p, 0, (size_t)g.nr, 0);
            p.y = g.y;
            ok = ok && cove_pool_parallel_for(pool, (size_t)g.nr, gemm_par_rows, &p) == COVE_OK;
            ok = ok && memcmp(y1, g.y, n * sizeof *y1) == 0;
            cove_free(xq);
            cove_free(y1);
            gemm_case_free(&g);
            if (!ok)
                test_fail(__FILE__, __LINE__, "threads %s nx=%d", cove_type_info_get(types[i])->name, nx);
        }
    cove_pool_free(pool);
}

TEST(quants_gemm_args)
{
    const cove_quant_ops *ops = cove_quant_ops_get(COVE_TYPE_Q4_0);
    float x[64] = {0}, y[4];
    uint8_t w[18 * 4] = {0}, s[2 * 34];
    CHECK(ops != NULL);
    CHECK_EQ_INT(cove_quant_scratch_bytes(COVE_TYPE_Q4_0, 64, 1), 2 * 34);
    CHECK_EQ_INT(cove_quant_scratch_bytes(COVE_TYPE_Q4_0, 33, 1), 0);
    CHECK_EQ_INT(cove_quant_scratch_bytes(COVE_TYPE_IQ2_XXS, 256, 1), 0);
    CHECK(cove_quant_ops_get(COVE_TYPE_IQ2_XXS) == NULL);
    CHECK(cove_quant_ops_get((enum cove_ggml_type)1000) == NULL);
    CHECK_EQ_INT(cove_quant_gemm_prepare(ops, x, 1, 33, s), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_quant_gemm_prepare(ops, x, 0, 64, s), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_quant_gemm_prepare(cove_quant_ops_get(COVE_TYPE_Q8_K), x, 1, 256, s),
                 COVE_ERR_UNSUPPORTED);
    CHECK_OK(cove_quant_gemm(COVE_TYPE_Q4_0, w, 36, 2, x, 1, 64, y, 0, 2, s));
    CHECK(y[0] == 0 && y[1] == 0);
    CHECK_EQ_INT(cove_quant_gemm(COVE_TYPE_Q4_0, w, 36, 2, x, 1, 64, y, 1, 3, s), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_quant_gemm(COVE_TYPE_Q4_0, w, 35, 2, x, 1, 64, y, 0, 2, s), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_quant_gemm(COVE_TYPE_Q4_0, NULL, 36, 2, x, 1, 64, y, 0, 2, s), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_quant_gemm(COVE_TYPE_IQ2_XXS, w, 36, 2, x, 1, 64, y, 0, 2, s), COVE_ERR_UNSUPPORTED);
}

/* ---- tables and dispatch ---- */

TEST(quants_tables)
{
    for (int l = 0; l < COVE_KLEVEL_COUNT; l++)
        for (int i = 0; i < N_WEIGHT_TYPES + 3; i++) {
            enum cove_ggml_type t = i < N_WEIGHT_TYPES ? weight_types[i] : act_types[i - N_WEIGHT_TYPES];
            const cove_quant_ops *o = cove_quant_ops_for_level(t, (enum cove_klevel)l);
            if (!o)
                continue;
            const cove_type_info *ti = cove_type_info_get(t);
            CHECK_EQ_INT(o->type, t);
            CHECK_EQ_INT(o->level, l);
            CHECK_EQ_INT(o->block_size, ti->block_size);
            CHECK_EQ_INT(o->block_bytes, ti->block_bytes);
            CHECK(o->dequantize_row && o->quantize_row);
            CHECK((t == COVE_TYPE_Q8_1 || t == COVE_TYPE_Q8_K) == (o->vec_dot == NULL));
            CHECK(!o->gemm_tile || (o->tile_rows >= 1 && o->tile_rows <= 8 && o->tile_cols >= 1 &&
                                    o->tile_cols <= 8));
        }
    CHECK(cove_quant_ops_ref(COVE_TYPE_Q4_K)->level == COVE_KLEVEL_SCALAR);
    CHECK(cove_quant_ops_get(COVE_TYPE_Q4_K)->level == cove_quant_best_level());
    CHECK_STR_EQ(cove_klevel_name(COVE_KLEVEL_AVX512), "avx512");
    CHECK_STR_EQ(cove_klevel_name((enum cove_klevel)99), "?");
}

/*
 * COVE_CPU_DISABLE=avx512 must select AVX2 (avx512_vbmi: the avx512 level): the check re-runs this binary
 * with the mask (the probe reads the environment once per process).
 */
TEST(quants_dispatch_env_child)
{
    const char *want = getenv("COVE_QUANTS_EXPECT_LEVEL");
    if (!want)
        return; /* only meaningful in the child started below */
    CHECK_STR_EQ(cove_klevel_name(cove_quant_best_level()), want);
}

#if defined(__x86_64__)
static int run_child(const char *disable, const char *expect)
{
    char exe[1024], cmd[1400];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return -1;
    exe[len] = 0;
    snprintf(cmd, sizeof cmd, "COVE_CPU_DISABLE=%s COVE_QUANTS_EXPECT_LEVEL=%s '%s' "
             "quants_dispatch_env_child > /dev/null 2>&1", disable, expect, exe);
    return system(cmd);
}
#endif

TEST(quants_dispatch_mask)
{
#if defined(__x86_64__)
    if (!cove_quant_ops_for_level(COVE_TYPE_Q4_0, COVE_KLEVEL_AVX2))
        return;
    CHECK_EQ_INT(run_child("avx512", "avx2"), 0);
    if (cove_quant_ops_for_level(COVE_TYPE_Q4_0, COVE_KLEVEL_AVX512VBMI))
        CHECK_EQ_INT(run_child("avx512_vbmi", "avx512"), 0);
    CHECK_EQ_INT(run_child("avx2", "scalar"), 0);
#endif
}
