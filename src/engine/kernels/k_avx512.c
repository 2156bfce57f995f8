/*
 * engine/kernels/k_avx512.c - vector operations with AVX-512F (16 floats a step).
 *
 * Compiled with the AVX-512 flags (CMakeLists.txt) and used only when cpu.h reports
 * AVX-512F (with AVX2, FMA and F16C, whose level it extends). Masked loads take the tails,
 * so rows of any length stay in vector registers.
 */
#include "engine/kernels/kernels_int.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>

static inline __mmask16 tail_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

static inline __m512 load_f16x16(const uint8_t *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 load_bf16x16(const uint8_t *p, __mmask16 m)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

static float dot_f32(const float *a, const float *b, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float dot_f16(const void *h, const float *x, int64_t n)
{
    const uint8_t *p = h;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(load_f16x16(p + 2 * i, 0xffff), _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(load_f16x16(p + 2 * i + 32, 0xffff), _mm512_loadu_ps(x + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        s0 = _mm512_fmadd_ps(load_f16x16(p + 2 * i, m), _mm512_maskz_loadu_ps(m, x + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float dot_bf16(const void *h, const float *x, int64_t n)
{
    const uint8_t *p = h;
    __m512 s0 = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        s0 = _mm512_fmadd_ps(load_bf16x16(p + 2 * i, m), _mm512_maskz_loadu_ps(m, x + i), s0);
    }
    return _mm512_reduce_add_ps(s0);
}

static void axpy_f32(float *y, float a, const float *x, int64_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

static void axpy_f16(float *y, float a, const void *h, int64_t n)
{
    const uint8_t *p = h;
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 r = _mm512_fmadd_ps(va, load_f16x16(p + 2 * i, m), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

static void f16_to_f32(const void *h, float *y, int64_t n)
{
    const uint8_t *p = h;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, load_f16x16(p + 2 * i, m));
    }
}

static void f32_to_f16(const float *x, void *h, int64_t n)
{
    uint8_t *p = h;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m256i v = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(p + 2 * i, m, v);
    }
}

/* Sums of 16 vectors, one per lane, in order: three rounds of pairwise shuffles and adds. */
static __m512 hsum16(__m512 v[16])
{
    __m512 x[8], w[4];
    for (int i = 0; i < 8; i++) /* lane: [a0+a2, b0+b2, a1+a3, b1+b3] of v[2i], v[2i+1] */
        x[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                             _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) { /* lane: [a, b, c, d] sums of that lane of v[4i..4i+3] */
        __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(x[2 * i]), _mm512_castps_pd(x[2 * i + 1]));
        __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(x[2 * i]), _mm512_castps_pd(x[2 * i + 1]));
        w[i] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
    }
    __m512 a01 = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xdd));
    __m512 a23 = _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x88), _mm512_shuffle_f32x4(w[2], w[3], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(a01, a23, 0x88), _mm512_shuffle_f32x4(a01, a23, 0xdd));
}

/* 16 keys at a time: a vector of partial products per key, then one 16-way reduction. */
static void dot_many(const float *q, const float *k, int64_t ldk, int64_t nk, int64_t n, float *out)
{
    for (int64_t j0 = 0; j0 < nk; j0 += 16) {
        const int64_t m = nk - j0 < 16 ? nk - j0 : 16;
        __m512 acc[16];
        for (int j = 0; j < 16; j++)
            acc[j] = _mm512_setzero_ps();
        for (int64_t i = 0; i < n; i += 16) {
            const __mmask16 mk = tail_mask(n - i);
            const __m512 qv = _mm512_maskz_loadu_ps(mk, q + i);
            for (int j = 0; j < m; j++)
                acc[j] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(mk, k + (j0 + j) * ldk + i), acc[j]);
        }
        _mm512_mask_storeu_ps(out + j0, tail_mask(m), hsum16(acc));
    }
}

/*
 * The output in registers (up to 128 floats a pass), one broadcast weight per value row;
 * rows in pairs into two sets of accumulators, so that a short output (64 floats: four
 * registers) still has eight independent FMA chains.
 */
static void axpy_many(float *out, const float *p, const float *v, int64_t ldv, int64_t nv, int64_t n)
{
    for (int64_t c0 = 0; c0 < n; c0 += 128) {
        const int64_t w = n - c0 < 128 ? n - c0 : 128, nc = (w + 15) / 16;
        __mmask16 mk[8];
        __m512 a[8], b[8];
        for (int c = 0; c < nc; c++) {
            mk[c] = tail_mask(w - 16 * c);
            a[c] = _mm512_maskz_loadu_ps(mk[c], out + c0 + 16 * c);
            b[c] = _mm512_setzero_ps();
        }
        int64_t j = 0;
        for (; j + 2 <= nv; j += 2) {
            const __m512 p0 = _mm512_set1_ps(p[j]), p1 = _mm512_set1_ps(p[j + 1]);
            const float *v0 = v + j * ldv + c0, *v1 = v0 + ldv;
            for (int c = 0; c < nc; c++) {
                a[c] = _mm512_fmadd_ps(p0, _mm512_maskz_loadu_ps(mk[c], v0 + 16 * c), a[c]);
                b[c] = _mm512_fmadd_ps(p1, _mm512_maskz_loadu_ps(mk[c], v1 + 16 * c), b[c]);
            }
        }
        if (j < nv) {
            const __m512 p0 = _mm512_set1_ps(p[j]);
            for (int c = 0; c < nc; c++)
                a[c] = _mm512_fmadd_ps(p0, _mm512_maskz_loadu_ps(mk[c], v + j * ldv + c0 + 16 * c), a[c]);
        }
        for (int c = 0; c < nc; c++)
            _mm512_mask_storeu_ps(out + c0 + 16 * c, mk[c], _mm512_add_ps(a[c], b[c]));
    }
}

#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

/* n_out (a constant where it is inlined) outputs of 64 floats in 4 x n_out registers. */
static inline ALWAYS_INLINE void multi64(float *const *out, const float *const *p, const int n_out,
                           const float *v, int64_t ldv, int64_t nv, int64_t c0, int64_t w)
{
    __mmask16 mk[4];
    __m512 a[4][4];
    for (int c = 0; c < 4; c++)
        mk[c] = tail_mask(w - 16 * c > 0 ? w - 16 * c : 0);
    for (int o = 0; o < n_out; o++)
        for (int c = 0; c < 4; c++)
            a[o][c] = _mm512_maskz_loadu_ps(mk[c], out[o] + c0 + 16 * c);
    for (int64_t j = 0; j < nv; j++) {
        const float *vj = v + j * ldv + c0;
        __m512 vv[4];
        for (int c = 0; c < 4; c++)
            vv[c] = _mm512_maskz_loadu_ps(mk[c], vj + 16 * c);
        for (int o = 0; o < n_out; o++) {
            const __m512 po = _mm512_set1_ps(p[o][j]);
            for (int c = 0; c < 4; c++)
                a[o][c] = _mm512_fmadd_ps(po, vv[c], a[o][c]);
        }
    }
    for (int o = 0; o < n_out; o++)
        for (int c = 0; c < 4; c++)
            _mm512_mask_storeu_ps(out[o] + c0 + 16 * c, mk[c], a[o][c]);
}

/* Up to four outputs at once, 64 floats a pass: every value row is loaded once for all. */
static void axpy_multi(float *const *out, const float *const *p, int n_out, const float *v,
                       int64_t ldv, int64_t nv, int64_t n)
{
    for (int64_t c0 = 0; c0 < n; c0 += 64) {
        const int64_t w = n - c0 < 64 ? n - c0 : 64;
        switch (n_out) {
        case 1: multi64(out, p, 1, v, ldv, nv, c0, w); break;
        case 2: multi64(out, p, 2, v, ldv, nv, c0, w); break;
        case 3: multi64(out, p, 3, v, ldv, nv, c0, w); break;
        default: multi64(out, p, 4, v, ldv, nv, c0, w); break;
        }
    }
}

/* exp by 2^n e^r, |r| <= ln2 / 2, r's series to degree 7 (relative error below 1e-7). */
static inline __m512 exp16(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 y = _mm512_set1_ps(1.0f / 5040);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 720));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 120));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 24));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f / 6));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.5f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

static float exp_sum(float *x, int64_t n, float max)
{
    const __m512 mx = _mm512_set1_ps(max);
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mx));
        _mm512_mask_storeu_ps(x + i, m, e);
        s = _mm512_add_ps(s, _mm512_maskz_mov_ps(m, e));
    }
    return _mm512_reduce_add_ps(s);
}

/* act(x) u with act(x) = x sigmoid(z): z = x (silu) or 2 sqrt(2/pi) (x + 0.044715 x^3)
 * (gelu, tanh form: (1 + tanh(y)) / 2 = sigmoid(2y)). */
static void glu(float *g, const float *u, int64_t n, int gelu)
{
    const __m512 one = _mm512_set1_ps(1.0f), k = _mm512_set1_ps(2.0f * 0.7978845608028654f);
    const __m512 k3 = _mm512_set1_ps(0.044715f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        __m512 z = x;
        if (gelu)
            z = _mm512_mul_ps(k, _mm512_fmadd_ps(_mm512_mul_ps(k3, x), _mm512_mul_ps(x, x), x));
        __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), z));
        __m512 a = _mm512_div_ps(x, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, u + i)));
    }
}

void cove_k_avx512_fill(cove_vec_ops *ops)
{
    ops->glu = glu;
    ops->axpy_multi = axpy_multi;
    ops->dot_many = dot_many;
    ops->axpy_many = axpy_many;
    ops->exp_sum = exp_sum;
    ops->level = COVE_KLEVEL_AVX512;
    ops->f16_to_f32 = f16_to_f32;
    ops->f32_to_f16 = f32_to_f16;
    ops->dot_f32 = dot_f32;
    ops->dot_f16 = dot_f16;
    ops->dot_bf16 = dot_bf16;
    ops->axpy_f32 = axpy_f32;
    ops->axpy_f16 = axpy_f16;
}

#else

void cove_k_avx512_fill(cove_vec_ops *ops)
{
    (void)ops;
}

#endif
