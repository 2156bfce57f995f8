/*
 * kb/scan_avx2.c - int8 dot products with AVX2 (built with -mavx2; picked at run time).
 */
#include "kb/vindex_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* One dot product of two int8 rows of `stride` bytes (a multiple of 32, values in
 * [-127, 127]): |a| * (b * sign a) by maddubs into int16 pairs, then madd into int32. */
static inline int32_t dot_row(const int8_t *a, const int8_t *b, size_t stride)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    for (size_t j = 0; j < stride; j += 32) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + j));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + j));
        __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p16, ones));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

void cove_kb_dots_avx2(const int8_t *q, const int8_t *base, size_t stride, size_t count,
                       int32_t *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = dot_row(q, base + i * stride, stride);
}
#endif
