/*
 * engine/kernels/k_avx2.c - vector operations with AVX2, FMA and F16C (8 floats a step).
 *
 * Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt) and used only when cpu.h reports
 * them. f16 -> f32 by vcvtph2ps is exact, so results differ from the scalar references
 * only in the order of summation.
 */
#include "engine/kernels/kernels_int.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <math.h>

static float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_f16x8(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline __m256 load_bf16x8(const uint8_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static float dot_f32(const float *a, const float *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static float dot_f16(const void *h, const float *x, int64_t n)
{
    const uint8_t *p = h;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(load_f16x8(p + 2 * i), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(load_f16x8(p + 2 * i + 16), _mm256_loadu_ps(x + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(load_f16x8(p + 2 * i), _mm256_loadu_ps(x + i), s0);
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        s += cove_f16_to_f32_inline(v) * x[i];
    }
    return s;
}

static float dot_bf16(const void *h, const float *x, int64_t n)
{
    const uint8_t *p = h;
    __m256 s0 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(load_bf16x8(p + 2 * i), _mm256_loadu_ps(x + i), s0);
    float s = hsum8(s0);
    for (; i < n; i++) {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        s += cove_bf16_to_f32(v) * x[i];
    }
    return s;
}

static void axpy_f32(float *y, float a, const float *x, int64_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static void dot_f16_rows(const void *h, int64_t ldh, int64_t rows, const float *x, int64_t n,
                         float scale, float *s)
{
    for (int64_t r = 0; r < rows; r++)
        s[r] = scale * dot_f16((const uint8_t *)h + r * ldh, x, n);
}

/* y[0 .. 8 * w) = sum_r a[r] h[r][0 .. 8 * w): w (1 .. 4) vectors held across the rows. */
static inline void sum_rows_strip(const uint8_t *h, int64_t ldh, int64_t rows, const float *a, int w,
                                  float *y)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t r = 0; r < rows; r++) {
        const __m256 va = _mm256_set1_ps(a[r]);
        for (int j = 0; j < w; j++)
            acc[j] = _mm256_fmadd_ps(va, load_f16x8(h + r * ldh + 16 * j), acc[j]);
    }
    for (int j = 0; j < w; j++)
        _mm256_storeu_ps(y + 8 * j, acc[j]);
}

static void sum_f16_rows(const void *h, int64_t ldh, int64_t rows, const float *a, int64_t n, float *y)
{
    const uint8_t *p = h;
    int64_t i0 = 0;
    for (; i0 + 32 <= n; i0 += 32)
        sum_rows_strip(p + 2 * i0, ldh, rows, a, 4, y + i0);
    for (; i0 + 8 <= n; i0 += 8)
        sum_rows_strip(p + 2 * i0, ldh, rows, a, 1, y + i0);
    if (i0 < n) /* the last n % 8 columns */
        cove_k_sum_f16_rows_ref(p + 2 * i0, ldh, rows, a, n - i0, y + i0);
}

static void f16_to_f32(const void *h, float *y, int64_t n)
{
    const uint8_t *p = h;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, load_f16x8(p + 2 * i));
    if (i < n)
        cove_k_f16_to_f32_ref(p + 2 * i, y + i, n - i);
}

static void f16_rows_to_f32(const void *h, int64_t ldh, int64_t rows, int64_t n, float *y)
{
    for (int64_t r = 0; r < rows; r++)
        f16_to_f32((const uint8_t *)h + r * ldh, y + r * n, n);
}

static void f32_to_f16(const float *x, void *h, int64_t n)
{
    uint8_t *p = h;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(p + 2 * i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n)
        cove_k_f32_to_f16_ref(x + i, p + 2 * i, n - i);
}

#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

/* Lanes 0 .. left - 1 of a maskload/maskstore mask (all for left >= 8, none for left <= 0). */
static inline __m256i lanes(int64_t left)
{
    const int32_t l = left > 8 ? 8 : left < 0 ? 0 : (int32_t)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(l), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/*
 * c rows 0 .. R - 1 (a constant where inlined), 16 columns (m0, m1: lanes in range) of the
 * product of a and b: a's element (row i, step l) at a[i * sa + l * sl] (sa = lda, sl = 1 for
 * a; sa = 1, sl = lda for a^T), one row of b per step, c overwritten or (add) accumulated.
 */
static inline ALWAYS_INLINE void tile(const int R, int64_t k, const float *a, int64_t sa,
                                      int64_t sl, const float *b, int64_t ldb, float *c,
                                      int64_t ldc, __m256i m0, __m256i m1, int add)
{
    __m256 acc[6][2];
    for (int i = 0; i < R; i++) {
        acc[i][0] = add ? _mm256_maskload_ps(c + i * ldc, m0) : _mm256_setzero_ps();
        acc[i][1] = add ? _mm256_maskload_ps(c + i * ldc + 8, m1) : _mm256_setzero_ps();
    }
    for (int64_t l = 0; l < k; l++) {
        const __m256 b0 = _mm256_maskload_ps(b + l * ldb, m0);
        const __m256 b1 = _mm256_maskload_ps(b + l * ldb + 8, m1);
        for (int i = 0; i < R; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i * sa + l * sl);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < R; i++) {
        _mm256_maskstore_ps(c + i * ldc, m0, acc[i][0]);
        _mm256_maskstore_ps(c + i * ldc + 8, m1, acc[i][1]);
    }
}

/* c (m x n) = or += the product, in tiles of 6 rows x 16 columns (a as in tile). */
static void gemm_tiles(int64_t m, int64_t n, int64_t k, const float *a, int64_t sa, int64_t sl,
                       const float *b, int64_t ldb, float *c, int64_t ldc, int add)
{
    for (int64_t c0 = 0; c0 < n; c0 += 16) {
        const __m256i m0 = lanes(n - c0), m1 = lanes(n - c0 - 8);
        for (int64_t i0 = 0; i0 < m; i0 += 6) {
            const float *ai = a + i0 * sa, *bc = b + c0;
            float *ci = c + i0 * ldc + c0;
            switch (m - i0 < 6 ? m - i0 : 6) {
            case 1: tile(1, k, ai, sa, sl, bc, ldb, ci, ldc, m0, m1, add); break;
            case 2: tile(2, k, ai, sa, sl, bc, ldb, ci, ldc, m0, m1, add); break;
            case 3: tile(3, k, ai, sa, sl, bc, ldb, ci, ldc, m0, m1, add); break;
            case 4: tile(4, k, ai, sa, sl, bc, ldb, ci, ldc, m0, m1, add); break;
            case 5: tile(5, k, ai, sa, sl, bc, ldb, ci, ldc, m0, m1, add); break;
            default: tile(6, k, ai, sa, sl, bc, ldb, ci, ldc, m0, m1, add); break;
            }
        }
    }
}

#define NN_FEW 4    /* at most this many columns: dot products instead of lanes of columns */
#define NN_KMAX 512 /* and k up to this */

/* Few columns (the heads of one token): column c of b gathered once into a row, then dots. */
static void nn_few(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc)
{
    float col[NN_KMAX];
    for (int64_t q = 0; q < n; q++) {
        for (int64_t l = 0; l < k; l++)
            col[l] = b[l * ldb + q];
        for (int64_t i0 = 0; i0 < m; i0 += 4) {
            const int64_t rows = m - i0 < 4 ? m - i0 : 4;
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                             _mm256_setzero_ps()};
            for (int64_t l = 0; l < k; l += 8) {
                const __m256i mk = lanes(k - l);
                const __m256 bv = _mm256_maskload_ps(col + l, mk);
                for (int i = 0; i < rows; i++)
                    acc[i] = _mm256_fmadd_ps(bv, _mm256_maskload_ps(a + (i0 + i) * lda + l, mk), acc[i]);
            }
            for (int i = 0; i < rows; i++)
                c[(i0 + i) * ldc + q] = hsum8(acc[i]);
        }
    }
}

static void gemm_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    if (n <= NN_FEW && k <= NN_KMAX)
        nn_few(m, n, k, a, lda, b, ldb, c, ldc);
    else
        gemm_tiles(m, n, k, a, lda, 1, b, ldb, c, ldc, 0);
}

static void gemm_tn(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    gemm_tiles(m, n, k, a, 1, lda, b, ldb, c, ldc, 1);
}

/* exp(x) for x <= 88 by 2^n e^r, r's series to degree 7 (as the AVX-512 level). */
static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 y = _mm256_set1_ps(1.0f / 5040);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f / 720));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f / 120));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f / 24));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f / 6));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(0.5f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* 8 columns at a time: lanes are columns, the row range a per-lane mask. */
static void softmax_cols(float *s, int64_t m, int64_t n, int64_t lds, const int32_t *lo,
                         const int32_t *hi, float *inv)
{
    for (int64_t r0 = 0; r0 < n; r0 += 8) {
        const __m256i cm = lanes(n - r0);
        const __m256i vlo = _mm256_blendv_epi8(_mm256_set1_epi32(1), _mm256_maskload_epi32(lo + r0, cm), cm);
        const __m256i vhi = _mm256_blendv_epi8(_mm256_set1_epi32(0), _mm256_maskload_epi32(hi + r0, cm), cm);
        int64_t jlo = m, jhi = -1;
        for (int64_t r = r0; r < n && r < r0 + 8; r++) {
            jlo = lo[r] < jlo ? lo[r] : jlo;
            jhi = hi[r] > jhi ? hi[r] : jhi;
        }
        jlo = jlo < 0 ? 0 : jlo;
        jhi = jhi >= m ? m - 1 : jhi;
        __m256 mx = _mm256_set1_ps(-INFINITY), sum = _mm256_setzero_ps();
        for (int64_t j = jlo; j <= jhi; j++) {
            const __m256i vj = _mm256_set1_epi32((int32_t)j);
            const __m256 in = _mm256_castsi256_ps(_mm256_andnot_si256(
                _mm256_or_si256(_mm256_cmpgt_epi32(vlo, vj), _mm256_cmpgt_epi32(vj, vhi)), cm));
            mx = _mm256_blendv_ps(mx, _mm256_max_ps(mx, _mm256_maskload_ps(s + j * lds + r0, cm)), in);
        }
        for (int64_t j = 0; j < m; j++) {
            const __m256i vj = _mm256_set1_epi32((int32_t)j);
            const __m256 in = _mm256_castsi256_ps(_mm256_andnot_si256(
                _mm256_or_si256(_mm256_cmpgt_epi32(vlo, vj), _mm256_cmpgt_epi32(vj, vhi)), cm));
            __m256 e = _mm256_setzero_ps();
            if (_mm256_movemask_ps(in))
                e = _mm256_and_ps(in, exp8(_mm256_sub_ps(_mm256_maskload_ps(s + j * lds + r0, cm), mx)));
            sum = _mm256_add_ps(sum, e);
            _mm256_maskstore_ps(s + j * lds + r0, cm, e);
        }
        const __m256 nz = _mm256_cmp_ps(sum, _mm256_setzero_ps(), _CMP_GT_OQ);
        _mm256_maskstore_ps(inv + r0, cm, _mm256_and_ps(nz, _mm256_div_ps(_mm256_set1_ps(1.0f), sum)));
    }
}

void cove_k_avx2_fill(cove_vec_ops *ops)
{
    ops->level = COVE_KLEVEL_AVX2;
    ops->f16_to_f32 = f16_to_f32;
    ops->f32_to_f16 = f32_to_f16;
    ops->f16_rows_to_f32 = f16_rows_to_f32;
    ops->dot_f32 = dot_f32;
    ops->dot_f16 = dot_f16;
    ops->dot_bf16 = dot_bf16;
    ops->axpy_f32 = axpy_f32;
    ops->dot_f16_rows = dot_f16_rows;
    ops->sum_f16_rows = sum_f16_rows;
    ops->gemm_nn = gemm_nn;
    ops->gemm_tn = gemm_tn;
    ops->softmax_cols = softmax_cols;
}

#else

void cove_k_avx2_fill(cove_vec_ops *ops)
{
    (void)ops;
}

#endif
