/*
 * engine/kernels/hsum512.h - the horizontal sums of 16 AVX-512 float vectors at once, for
 * the files built with AVX-512F (k_avx512.c, quants_pack_avx512.c).
 */
#ifndef COVE_ENGINE_KERNELS_HSUM512_H
#define COVE_ENGINE_KERNELS_HSUM512_H

#include <immintrin.h>

/* Lane j = the sum of the lanes of v[j], j < 16: three rounds of pairwise shuffles and adds,
 * the same tree for every lane (a lane's sum does not depend on the other vectors). */
static inline __m512 hsum16_ps(const __m512 *v)
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

#endif
