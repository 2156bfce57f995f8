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

static void axpy_f16(float *y, float a, const void *h, int64_t n)
{
    const uint8_t *p = h;
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(p + 2 * i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        y[i] += a * cove_f16_to_f32_inline(v);
    }
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

void cove_k_avx2_fill(cove_vec_ops *ops)
{
    ops->level = COVE_KLEVEL_AVX2;
    ops->f16_to_f32 = f16_to_f32;
    ops->f32_to_f16 = f32_to_f16;
    ops->dot_f32 = dot_f32;
    ops->dot_f16 = dot_f16;
    ops->dot_bf16 = dot_bf16;
    ops->axpy_f32 = axpy_f32;
    ops->axpy_f16 = axpy_f16;
}

#else

void cove_k_avx2_fill(cove_vec_ops *ops)
{
    (void)ops;
}

#endif
