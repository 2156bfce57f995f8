/*
 * engine/kernels/k_avx512.c - vector operations with AVX-512F (16 floats a step).
 *
 * Compiled with the AVX-512 flags (CMakeLists.txt) and used only when cpu.h reports
 * AVX-512F (with AVX2, FMA and F16C, whose level it extends). Masked loads take the tails,
 * so rows of any length stay in vector registers.
 */
#include "engine/kernels/kernels_int.h"
#include "engine/kernels/hsum512.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>
#include <math.h>

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

static void dot_f16_rows(const void *h, int64_t ldh, int64_t rows, const float *x, int64_t n,
                         float scale, float *s)
{
    for (int64_t r = 0; r < rows; r++)
        s[r] = scale * dot_f16((const uint8_t *)h + r * ldh, x, n);
}

/* Strips of 64 columns, four vectors held across the rows (masked past n). */
static void sum_f16_rows(const void *h, int64_t ldh, int64_t rows, const float *a, int64_t n, float *y)
{
    for (int64_t i0 = 0; i0 < n; i0 += 64) {
        __mmask16 m[4];
        __m512 acc[4];
        for (int j = 0; j < 4; j++) {
            m[j] = i0 + 16 * j < n ? tail_mask(n - i0 - 16 * j) : 0;
            acc[j] = _mm512_setzero_ps();
        }
        for (int64_t r = 0; r < rows; r++) {
            const uint8_t *p = (const uint8_t *)h + r * ldh + 2 * i0;
            const __m512 va = _mm512_set1_ps(a[r]);
            for (int j = 0; j < 4; j++)
                acc[j] = _mm512_fmadd_ps(va, load_f16x16(p + 32 * j, m[j]), acc[j]);
        }
        for (int j = 0; j < 4; j++)
            _mm512_mask_storeu_ps(y + i0 + 16 * j, m[j], acc[j]);
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

static void f16_rows_to_f32(const void *h, int64_t ldh, int64_t rows, int64_t n, float *y)
{
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *p = (const uint8_t *)h + r * ldh;
        float *yr = y + r * n;
        int64_t i = 0;
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(yr + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p + 2 * i))));
        if (i < n)
            _mm512_mask_storeu_ps(yr + i, tail_mask(n - i), load_f16x16(p + 2 * i, tail_mask(n - i)));
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

#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

/*
 * c rows 0 .. R - 1, columns 0 .. 16 NV - 1 (R, NV constants where inlined; mk: the lanes in
 * range) of the product of a and b: a's element (row i, step l) at a[i * sa + l * sl] (sa =
 * lda, sl = 1 for a; sa = 1, sl = lda for a^T); per step one row of b in NV registers, the R
 * elements of a broadcast, R NV FMAs into registers; c overwritten or (add) accumulated.
 */
static inline ALWAYS_INLINE void tile(const int R, const int NV, int64_t k, const float *a,
                                      int64_t sa, int64_t sl, const float *b, int64_t ldb,
                                      float *c, int64_t ldc, const __mmask16 mk[4], int add)
{
    __m512 acc[8][4];
    for (int i = 0; i < R; i++)
        for (int q = 0; q < NV; q++)
            acc[i][q] = add ? _mm512_maskz_loadu_ps(mk[q], c + i * ldc + 16 * q) : _mm512_setzero_ps();
    for (int64_t l = 0; l < k; l++) {
        __m512 bv[4];
        for (int q = 0; q < NV; q++)
            bv[q] = _mm512_maskz_loadu_ps(mk[q], b + l * ldb + 16 * q);
        for (int i = 0; i < R; i++) {
            const __m512 ai = _mm512_set1_ps(a[i * sa + l * sl]);
            for (int q = 0; q < NV; q++)
                acc[i][q] = _mm512_fmadd_ps(ai, bv[q], acc[i][q]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int q = 0; q < NV; q++)
            _mm512_mask_storeu_ps(c + i * ldc + 16 * q, mk[q], acc[i][q]);
}

/* c (m x n) = or += the product, in tiles of RM rows x 16 NV columns (RM <= 8, NV <= 4,
 * RM NV <= 16 accumulators; a as in tile). */
static inline ALWAYS_INLINE void gemm_tiles(const int RM, const int NV, int64_t m, int64_t n,
                                            int64_t k, const float *a, int64_t sa, int64_t sl,
                                            const float *b, int64_t ldb, float *c, int64_t ldc,
                                            int add)
{
    for (int64_t c0 = 0; c0 < n; c0 += 16 * NV) {
        __mmask16 mk[4];
        for (int q = 0; q < 4; q++)
            mk[q] = tail_mask(n - c0 - 16 * q > 0 ? n - c0 - 16 * q : 0);
        for (int64_t i0 = 0; i0 < m; i0 += RM) {
            const float *ai = a + i0 * sa, *bc = b + c0;
            float *ci = c + i0 * ldc + c0;
            switch (m - i0 < RM ? m - i0 : RM) {
            case 1: tile(1, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            case 2: tile(2, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            case 3: tile(3, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            case 4: tile(4, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            case 5: tile(5, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            case 6: tile(6, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            case 7: tile(7, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            default: tile(RM, NV, k, ai, sa, sl, bc, ldb, ci, ldc, mk, add); break;
            }
        }
    }
}

#define NN_FEW 4    /* at most this many columns: dot products instead of lanes of columns */
#define NN_KMAX 512 /* and k up to this */

/*
 * Few columns (the heads of one token): column c of b gathered once into a row; then per 16
 * rows of a, a vector of partial products per row and one 16-way reduction.
 */
static void nn_few(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc)
{
    float col[NN_KMAX];
    for (int64_t q = 0; q < n; q++) {
        for (int64_t l = 0; l < k; l++)
            col[l] = b[l * ldb + q];
        for (int64_t i0 = 0; i0 < m; i0 += 16) {
            const int64_t rows = m - i0 < 16 ? m - i0 : 16;
            __m512 acc[16];
            for (int i = 0; i < 16; i++)
                acc[i] = _mm512_setzero_ps();
            for (int64_t l = 0; l < k; l += 16) {
                const __mmask16 mk = tail_mask(k - l);
                const __m512 bv = _mm512_maskz_loadu_ps(mk, col + l);
                for (int i = 0; i < rows; i++)
                    acc[i] = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(mk, a + (i0 + i) * lda + l), acc[i]);
            }
            float s[16];
            _mm512_storeu_ps(s, hsum16_ps(acc));
            for (int i = 0; i < rows; i++)
                c[(i0 + i) * ldc + q] = s[i];
        }
    }
}

/* Scores: 8 rows (keys) x 32 columns (query rows) a tile. */
static void gemm_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    if (n <= NN_FEW && k <= NN_KMAX)
        nn_few(m, n, k, a, lda, b, ldb, c, ldc);
    else
        gemm_tiles(8, 2, m, n, k, a, lda, 1, b, ldb, c, ldc, 0);
}

/* Weighted values: 4 rows (query rows) x 64 columns (a head of 64) a tile. */
static void gemm_tn(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    gemm_tiles(4, 4, m, n, k, a, 1, lda, b, ldb, c, ldc, 1);
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

/* 16 columns at a time: lanes are columns, the row range a per-lane mask. */
static void softmax_cols(float *s, int64_t m, int64_t n, int64_t lds, const int32_t *lo,
                         const int32_t *hi, float *inv)
{
    for (int64_t r0 = 0; r0 < n; r0 += 16) {
        const __mmask16 cm = tail_mask(n - r0);
        const __m512i vlo = _mm512_mask_loadu_epi32(_mm512_set1_epi32(1), cm, lo + r0);
        const __m512i vhi = _mm512_mask_loadu_epi32(_mm512_set1_epi32(0), cm, hi + r0);
        int64_t jlo = _mm512_reduce_min_epi32(vlo), jhi = _mm512_reduce_max_epi32(vhi);
        jlo = jlo < 0 ? 0 : jlo;
        jhi = jhi >= m ? m - 1 : jhi;
        __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
        for (int64_t j = jlo; j <= jhi; j++) {
            const __m512i vj = _mm512_set1_epi32((int32_t)j);
            const __mmask16 in = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmple_epi32_mask(vj, vhi);
            mx = _mm512_mask_max_ps(mx, in, mx, _mm512_maskz_loadu_ps(cm, s + j * lds + r0));
        }
        for (int64_t j = 0; j < m; j++) {
            const __m512i vj = _mm512_set1_epi32((int32_t)j);
            __mmask16 in = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmple_epi32_mask(vj, vhi);
            __m512 e = _mm512_setzero_ps();
            if (in)
                e = _mm512_maskz_mov_ps(in, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(cm, s + j * lds + r0), mx)));
            sum = _mm512_add_ps(sum, e);
            _mm512_mask_storeu_ps(s + j * lds + r0, cm, e);
        }
        const __mmask16 nz = _mm512_cmp_ps_mask(sum, _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_mask_storeu_ps(inv + r0, cm, _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), sum));
    }
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
    ops->gemm_nn = gemm_nn;
    ops->gemm_tn = gemm_tn;
    ops->softmax_cols = softmax_cols;
    ops->exp_sum = exp_sum;
    ops->level = COVE_KLEVEL_AVX512;
    ops->f16_to_f32 = f16_to_f32;
    ops->f32_to_f16 = f32_to_f16;
    ops->f16_rows_to_f32 = f16_rows_to_f32;
    ops->dot_f32 = dot_f32;
    ops->dot_f16 = dot_f16;
    ops->dot_bf16 = dot_bf16;
    ops->axpy_f32 = axpy_f32;
    ops->dot_f16_rows = dot_f16_rows;
    ops->sum_f16_rows = sum_f16_rows;
}

#else

void cove_k_avx512_fill(cove_vec_ops *ops)
{
    (void)ops;
}

#endif
