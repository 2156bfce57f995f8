/*
 * tests/engine/test_kernels.c - the kernel table against plain references.
 *
 * Half-precision conversions are checked exhaustively (every f16 value) and against a
 * nearest-value search for f32 inputs; every table entry's dot product and row
 * conversion is checked against double arithmetic, each SIMD level of the vector
 * operations against the scalar references, and the split matrix product (as threads
 * run it) against one call and against the dequantized weights (1e-4; 1e-2 for Q8_1
 * activations, whose block sums are rounded to f16 apart from their elements).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/quants.h"
#include "test.h"

/* f16 value from the format's definition. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 31, f = h & 1023;
    double v = e == 0 ? ldexp((double)f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexp(1024.0 + f, e - 25);
    return (h & 0x8000) ? -v : v;
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Nearest f16 to x by search over the ordered positive halves; ties to even. */
static uint16_t ref_to_half(float x)
{
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs((double)x);
    if (isnan(x))
        return 0x7e00;
    if (a >= 65520.0)
        return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7bff; /* largest h with value <= a */
    while (lo < hi) {
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (half_value(mid) <= a)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff)
        return sign | 0x7bff;
    double dl = a - half_value(lo), du = half_value((uint16_t)(lo + 1)) - a;
    uint16_t h = dl < du ? lo : du < dl ? (uint16_t)(lo + 1) : (lo & 1) ? (uint16_t)(lo + 1) : lo;
    return sign | h;
}

TEST(kernels_f16_to_f32_exhaustive)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cove_f16_to_f32((uint16_t)h);
        double want = half_value((uint16_t)h);
        if (isnan(want)) {
            CHECK_MSG(isnan(f), "0x%04x should be NaN", h);
            CHECK_MSG(isnan(cove_f16_to_f32(cove_f32_to_f16(f))), "NaN 0x%04x lost", h);
            continue;
        }
        CHECK_MSG((double)f == want && !signbit(f) == !signbit(want), "0x%04x -> %g, want %g", h, f, want);
        CHECK_MSG(cove_f32_to_f16(f) == h, "0x%04x does not round-trip", h);
    }
}

TEST(kernels_f32_to_f16_rounding)
{
    /* every 4099th f32 bit pattern, both signs, covers subnormals, normals and overflow */
    for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
        float x = bits_to_float((uint32_t)u);
        if (isnan(x))
            continue;
        uint16_t got = cove_f32_to_f16(x), want = ref_to_half(x);
        CHECK_MSG(got == want, "%a -> 0x%04x, want 0x%04x", x, got, want);
    }
    /* the exact midpoints between neighbouring halves go to the even one */
    for (uint16_t h = 0; h < 0x7bff; h++) {
        float mid = (float)((half_value(h) + half_value((uint16_t)(h + 1))) / 2);
        uint16_t want = (h & 1) ? (uint16_t)(h + 1) : h;
        CHECK_MSG(cove_f32_to_f16(mid) == want, "midpoint above 0x%04x", h);
        CHECK_MSG(cove_f32_to_f16(-mid) == (want | 0x8000), "negative midpoint above 0x%04x", h);
    }
    CHECK_EQ_INT(cove_f32_to_f16(65519.99f), 0x7bff);
    CHECK_EQ_INT(cove_f32_to_f16(65520.0f), 0x7c00);
    CHECK_EQ_INT(cove_f32_to_f16(INFINITY), 0x7c00);
    CHECK_EQ_INT(cove_f32_to_f16(-INFINITY), 0xfc00);
    CHECK_EQ_INT(cove_f32_to_f16(ldexpf(1.0f, -25)), 0);        /* half of the smallest: even */
    CHECK_EQ_INT(cove_f32_to_f16(ldexpf(1.5f, -25)), 1);
    CHECK_EQ_INT(cove_f32_to_f16(-0.0f), 0x8000);
}

TEST(kernels_bf16)
{
    for (uint64_t u = 0; u < 0x100000000ull; u += 65537) {
        float x = bits_to_float((uint32_t)u);
        uint16_t b = cove_f32_to_bf16(x);
        if (isnan(x)) {
            CHECK(isnan(cove_bf16_to_f32(b)));
            continue;
        }
        uint16_t t = (uint16_t)(u >> 16);
        double lo = cove_bf16_to_f32(t), hi = cove_bf16_to_f32((uint16_t)(t + 1));
        if (isinf(hi)) /* overflow rounds as if the next value were 2^128 */
            hi = copysign(ldexp(1.0, 128), hi);
        double dl = fabs((double)x - lo), du = fabs(hi - (double)x);
        uint16_t want = dl < du ? t : du < dl ? (uint16_t)(t + 1) : (t & 1) ? (uint16_t)(t + 1) : t;
        CHECK_MSG(b == want, "%a -> 0x%04x, want 0x%04x", x, b, want);
    }
}

/* A row of n values of kernel k's type, with its exact f32 values in vals. */
static void make_row(const cove_kernel *k, int n, uint8_t *row, float *vals)
{
    for (int i = 0; i < n; i++) {
        float x = (float)sin(i * 0.37 + k->type) * 2.0f;
        if (k->type == COVE_TYPE_F32) {
            memcpy(row + 4 * i, &x, 4);
        } else {
            uint16_t h = k->type == COVE_TYPE_F16 ? cove_f32_to_f16(x) : cove_f32_to_bf16(x);
            memcpy(row + 2 * i, &h, 2);
        }
    }
    k->to_f32(row, vals, n);
}

TEST(kernels_table_against_reference)
{
    static const uint32_t types[] = {COVE_TYPE_F32, COVE_TYPE_F16, COVE_TYPE_BF16};
    enum { N = 259 };
    static uint8_t row[N * 4];
    float vals[N], x[N], back[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)cos(i * 0.11);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const cove_kernel *kernels[2] = {cove_kernel_for(types[t]), cove_kernel_ref_for(types[t])};
        for (int v = 0; v < 2; v++) {
            const cove_kernel *k = kernels[v];
            CHECK(k && k->type == types[t] && k->ops);
            make_row(k, N, row, vals);
            double want = 0, mag = 0;
            for (int i = 0; i < N; i++) {
                want += (double)vals[i] * x[i];
                mag += fabs((double)vals[i] * x[i]);
            }
            float got = k->dot(row, x, N);
            CHECK_MSG(fabs(got - want) <= 1e-6 * mag, "%s dot: %g, want %g", k->name, got, want);
            k->from_f32(vals, row, N); /* the values are exact in the type: a round trip */
            k->to_f32(row, back, N);
            CHECK_MSG(memcmp(back, vals, sizeof vals) == 0, "%s round trip", k->name);
            CHECK_EQ_INT(cove_kernel_row_bytes(k, N), (size_t)N * k->block_bytes);
        }
    }
    CHECK(cove_kernel_for(COVE_TYPE_Q4_0 + 1000) == NULL);
    CHECK(cove_kernel_for(COVE_TYPE_Q8_K) == NULL); /* activation-only */
    CHECK(cove_kernel_for(COVE_TYPE_IQ2_XXS) == NULL);
}

/* Every weight type: the best-level table converts rows exactly as the reference does. */
TEST(kernels_quant_types_convert_like_reference)
{
    static const uint32_t types[] = {COVE_TYPE_Q4_0, COVE_TYPE_Q4_1, COVE_TYPE_Q5_0,
                                     COVE_TYPE_Q5_1, COVE_TYPE_Q8_0, COVE_TYPE_Q2_K,
                                     COVE_TYPE_Q3_K, COVE_TYPE_Q4_K, COVE_TYPE_Q5_K,
                                     COVE_TYPE_Q6_K};
    enum { N = 512 };
    float x[N], a[N], b[N];
    static uint8_t qa[N * 2], qb[N * 2];
    for (int i = 0; i < N; i++)
        x[i] = (float)sin(i * 0.71) * (1.0f + (float)(i % 37) * 0.1f);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const cove_kernel *k = cove_kernel_for(types[t]), *r = cove_kernel_ref_for(types[t]);
        CHECK(k && r && k->ops && !k->dot && k->block_size > 1);
        size_t rb = cove_kernel_row_bytes(k, N);
        r->from_f32(x, qa, N);
        k->from_f32(x, qb, N);
        CHECK_MSG(memcmp(qa, qb, rb) == 0, "%s: quantizers differ", k->name);
        r->to_f32(qa, a, N);
        k->to_f32(qa, b, N);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "%s: dequantizers differ", k->name);
    }
}

/* The vector operations of every SIMD level this CPU has against the scalar references,
 * on lengths around the vector widths. */
TEST(kernels_vec_ops_levels)
{
    enum { N = 131 };
    float a[N], b[N], y0[N], y1[N];
    uint16_t h[N], bf[N];
    const cove_vec_ops *ref = cove_vec_ops_for_level(COVE_KLEVEL_SCALAR);
    CHECK(ref && cove_vec_ops_get());
    for (int i = 0; i < N; i++) {
        a[i] = (float)sin(i * 0.3);
        b[i] = (float)cos(i * 0.17) * 3.0f;
        h[i] = cove_f32_to_f16(b[i]);
        bf[i] = cove_f32_to_bf16(b[i]);
    }
    int levels = 0;
    for (int lv = 0; lv < COVE_KLEVEL_COUNT; lv++) {
        const cove_vec_ops *v = cove_vec_ops_for_level((enum cove_klevel)lv);
        if (!v)
            continue;
        levels++;
        CHECK_EQ_INT(v->level, lv);
        for (int n = 0; n <= N; n += (n < 40 ? 1 : 13)) {
            double tol = 1e-5 * (n + 1);
            CHECK_MSG(fabs(v->dot_f32(a, b, n) - ref->dot_f32(a, b, n)) <= tol, "dot_f32 %d", n);
            CHECK_MSG(fabs(v->dot_f16(h, a, n) - ref->dot_f16(h, a, n)) <= tol, "dot_f16 %d", n);
            CHECK_MSG(fabs(v->dot_bf16(bf, a, n) - ref->dot_bf16(bf, a, n)) <= tol, "dot_bf16 %d", n);
            memcpy(y0, a, sizeof a);
            memcpy(y1, a, sizeof a);
            ref->axpy_f32(y0, 0.7f, b, n);
            v->axpy_f32(y1, 0.7f, b, n);
            for (int i = 0; i < N; i++) /* fma rounds once: within an ulp or so */
                CHECK_MSG(fabsf(y0[i] - y1[i]) <= 1e-6f * (1 + fabsf(y0[i])), "axpy_f32 %d", n);
        }
    }
    fprintf(stderr, "  %d vector levels checked (best: %s)\n", levels,
            cove_klevel_name(cove_vec_ops_get()->level));
    CHECK(levels >= 1);
}

/* The attention and activation operations of every level against the scalar references. */
TEST(kernels_vec_ops_attention_levels)
{
    enum { NK = 37, HD = 67, NR = 35 };
    static float q[HD], k[NK * HD], qt[HD * NR], s0[NK * NR], s1[NK * NR], y0[NR * HD], y1[NR * HD];
    static float g0[HD], g1[HD], u[HD], i0[NR], i1[NR];
    int32_t lo[NR], hi[NR];
    const cove_vec_ops *ref = cove_vec_ops_for_level(COVE_KLEVEL_SCALAR);
    for (int i = 0; i < HD; i++) {
        q[i] = (float)sin(i * 0.41);
        u[i] = (float)cos(i * 0.23);
    }
    for (int i = 0; i < NK * HD; i++)
        k[i] = (float)cos(i * 0.07) * 1.5f;
    for (int i = 0; i < HD * NR; i++)
        qt[i] = (float)sin(i * 0.19) * 0.8f;
    for (int r = 0; r < NR; r++) { /* ranges of every kind: empty, one key, causal, window */
        lo[r] = r % 5 == 0 ? 3 : r % 7;
        hi[r] = r % 11 == 0 ? lo[r] - 1 : lo[r] + r;
    }
    for (int lv = 0; lv < COVE_KLEVEL_COUNT; lv++) {
        const cove_vec_ops *v = cove_vec_ops_for_level((enum cove_klevel)lv);
        if (!v)
            continue;
        const char *name = cove_klevel_name(v->level);
        for (int n = 1; n <= HD; n++) { /* f16 rows of a wider cache row, exactly */
            static uint16_t h[NK * (HD + 5)];
            static float f0[NK * HD], f1[NK * HD];
            for (int i = 0; i < NK * (HD + 5); i++)
                h[i] = cove_f32_to_f16((float)sin(i * 0.37) * 100.0f);
            ref->f16_rows_to_f32(h + 2, 2 * (HD + 5), NK, n, f0);
            v->f16_rows_to_f32(h + 2, 2 * (HD + 5), NK, n, f1);
            CHECK_MSG(memcmp(f0, f1, sizeof(float) * (size_t)(NK * n)) == 0, "%s f16_rows_to_f32 n=%d",
                      name, n);
            CHECK(f0[(NK - 1) * n + n - 1] == cove_f16_to_f32(h[2 + (NK - 1) * (HD + 5) + n - 1]));
            for (int m = 0; m <= NK; m += (m < 9 ? 1 : 7)) { /* one query's rows: keys, values */
                static float w0[NK], w1[NK];
                ref->dot_f16_rows(h + 2, 2 * (HD + 5), m, q, n, 0.125f, w0);
                v->dot_f16_rows(h + 2, 2 * (HD + 5), m, q, n, 0.125f, w1);
                for (int r = 0; r < m; r++)
                    CHECK_MSG(fabsf(w0[r] - w1[r]) <= 2e-5f * (float)n * (1 + fabsf(w0[r])),
                              "%s dot_f16_rows n=%d m=%d r=%d: %g, want %g", name, n, m, r, w1[r], w0[r]);
                for (int r = 0; r < m; r++)
                    w0[r] = (float)cos(r * 0.9) * 0.3f;
                for (int i = 0; i <= n; i++)
                    f0[i] = f1[i] = -7.0f; /* column n: must stay */
                ref->sum_f16_rows(h + 2, 2 * (HD + 5), m, w0, n, f0);
                v->sum_f16_rows(h + 2, 2 * (HD + 5), m, w0, n, f1);
                CHECK(f1[n] == -7.0f);
                for (int i = 0; i < n; i++)
                    CHECK_MSG(fabsf(f0[i] - f1[i]) <= 2e-5f * (float)(m + 1) * (1 + fabsf(f0[i])),
                              "%s sum_f16_rows n=%d m=%d i=%d: %g, want %g", name, n, m, i, f1[i], f0[i]);
            }
        }
        for (int n = 1; n <= HD; n += (n < 20 ? 1 : 11)) {
            for (int m = 1; m <= NK; m += (m < 10 ? 1 : 9)) { /* every tail of rows and columns */
                const int nc = n < NR ? n : NR;
                ref->gemm_nn(m, nc, n, k, HD, qt, NR, s0, NR);
                v->gemm_nn(m, nc, n, k, HD, qt, NR, s1, NR);
                for (int j = 0; j < m; j++)
                    for (int r = 0; r < nc; r++)
                        CHECK_MSG(fabsf(s0[j * NR + r] - s1[j * NR + r]) <= 1e-5f * n,
                                  "%s gemm_nn m=%d n=%d k=%d", name, m, nc, n);
                for (int i = 0; i < NR * HD; i++)
                    y0[i] = y1[i] = 0.25f * (float)(i % HD);
                ref->gemm_tn(nc, n, m, s0, NR, k, HD, y0, HD);
                v->gemm_tn(nc, n, m, s0, NR, k, HD, y1, HD);
                for (int i = 0; i < NR * HD; i++)
                    CHECK_MSG(fabsf(y0[i] - y1[i]) <= 1e-4f * (1 + fabsf(y0[i])),
                              "%s gemm_tn m=%d n=%d k=%d", name, nc, n, m);
            }
            memcpy(s1, s0, sizeof s0);
            ref->softmax_cols(s0, NK, NR, NR, lo, hi, i0);
            v->softmax_cols(s1, NK, NR, NR, lo, hi, i1);
            for (int r = 0; r < NR; r++) {
                CHECK_MSG(fabsf(i0[r] - i1[r]) <= 1e-5f * i0[r], "%s softmax_cols inv %d", name, r);
                CHECK_MSG((hi[r] < lo[r]) == (i0[r] == 0.0f), "softmax_cols empty range %d", r);
                for (int j = 0; j < NK; j++) {
                    const float w0 = s0[j * NR + r], w1 = s1[j * NR + r];
                    CHECK_MSG(fabsf(w0 - w1) <= 1e-6f * (1 + w0), "%s softmax_cols %d %d", name, j, r);
                    if (j < lo[r] || j > hi[r])
                        CHECK_MSG(w1 == 0.0f, "%s softmax_cols outside the range", name);
                }
            }
            memcpy(s0, q, sizeof(float) * (n < NK ? n : NK));
            memcpy(s1, q, sizeof(float) * (n < NK ? n : NK));
            int m = n < NK ? n : NK;
            float e0 = ref->exp_sum(s0, m, 0.9f), e1 = v->exp_sum(s1, m, 0.9f);
            CHECK_MSG(fabsf(e0 - e1) <= 1e-5f * (1 + e0), "%s exp_sum n=%d", name, m);
            for (int gelu = 0; gelu <= 1; gelu++) {
                for (int i = 0; i < HD; i++)
                    g0[i] = g1[i] = 4.0f * q[i] - 1.0f;
                ref->glu(g0, u, n, gelu);
                v->glu(g1, u, n, gelu);
                for (int i = 0; i < HD; i++)
                    CHECK_MSG(fabsf(g0[i] - g1[i]) <= 1e-5f * (1 + fabsf(g0[i])), "%s glu(%d) n=%d i=%d",
                              name, gelu, n, i);
            }
        }
    }
}

TEST(kernels_matmul_batched_equals_single)
{
    enum { R = 7, C = 33, T = 3 };
    static uint16_t w[R * C];
    float x[T * C], y1[T * R], yb[T * R];
    for (int i = 0; i < R * C; i++)
        w[i] = cove_f32_to_f16((float)sin(i * 0.5));
    for (int i = 0; i < T * C; i++)
        x[i] = (float)cos(i * 0.3);
    const cove_kernel *k = cove_kernel_for(COVE_TYPE_F16);
    cove_matrix m = {k, w, R, C, cove_kernel_row_bytes(k, C)};
    CHECK_EQ_INT(cove_matmul_scratch_bytes(&m, T), 0); /* f32 activations need none */
    for (int t = 0; t < T; t++)
        cove_matmul(&m, x + t * C, 1, y1 + t * R, NULL);
    cove_matmul(&m, x, T, yb, NULL);
    for (int i = 0; i < T * R; i++)
        CHECK_MSG(fabsf(y1[i] - yb[i]) <= 1e-5f * (1 + fabsf(y1[i])), "element %d", i);
}

/*
 * Quantized products in pieces, as threads do them: activations quantized in two token
 * ranges and output rows in three ranges give what one call gives, and that equals the
 * dot of the dequantized weights with the dequantized activations.
 */
TEST(kernels_matmul_quant_split)
{
    static const uint32_t types[] = {COVE_TYPE_Q8_0, COVE_TYPE_Q4_1, COVE_TYPE_Q4_K,
                                     COVE_TYPE_Q6_K};
    enum { R = 40, C = 256, T = 5 };
    static float w[R * C], wd[R * C], x[T * C], xd[T * C], y1[T * R], y2[T * R];
    static uint8_t wq[R * C * 2], s1[T * C * 2], s2[T * C * 2];
    for (int i = 0; i < R * C; i++)
        w[i] = (float)sin(i * 0.013) * 0.5f;
    for (int i = 0; i < T * C; i++)
        x[i] = (float)cos(i * 0.07);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const cove_kernel *k = cove_kernel_for(types[t]);
        cove_matrix m = {k, wq, R, C, cove_kernel_row_bytes(k, C)};
        const cove_quant_ops *act = cove_quant_ops_ref(cove_matmul_act_type(&m));
        /* Q8_1 keeps each block's sum in f16 (the weights' minimum multiplies it) */
        const double tol = act->type == COVE_TYPE_Q8_1 ? 1e-2 : 1e-4;
        k->from_f32(w, wq, R * C);
        k->to_f32(wq, wd, R * C);
        CHECK(cove_matmul_scratch_bytes(&m, T) <= sizeof s1);
        cove_matmul(&m, x, T, y1, s1);
        const void *xq = cove_matmul_quantize(&m, x, 0, 2, s2);
        CHECK(cove_matmul_quantize(&m, x, 2, T, s2) == xq);
        for (int r0 = 0; r0 < R; r0 += 16)
            cove_matmul_rows(&m, xq, T, y2, R, r0, r0 + 16 < R ? r0 + 16 : R);
        act->quantize_row(x, s1, T * C);
        act->dequantize_row(s1, xd, T * C);
        for (int i = 0; i < T * R; i++) {
            double want = 0;
            for (int c = 0; c < C; c++)
                want += (double)wd[(i % R) * C + c] * xd[(i / R) * C + c];
            CHECK_MSG(fabsf(y1[i] - y2[i]) <= 1e-5f * (1 + fabsf(y1[i])), "%s split %d", k->name, i);
            CHECK_MSG(fabs(y1[i] - want) <= tol * (1 + fabs(want)), "%s: %g, want %g", k->name,
                      y1[i], want);
        }
    }
}
