/*
 * engine/kernels/quants_packk_avx512.c - decode (one activation row) over packed rows of
 * Q4_K and Q6_K (layouts: quants_packk.c) at the avx512 levels (F, BW, VL, VNNI).
 *
 * Each 64-byte load of packed weights gives every int32 lane of a vpdpbusd 4 elements of one
 * pair (the elements that share a scale), so the lanes of the accumulators end a group as the
 * integer dot products of whole pairs and the scales are applied once per pair:
 *     Q4_K, 4 blocks (32 pairs of 32): 8 loads, low nibbles -> pairs 0-15, high -> 16-31;
 *          the 64 6-bit scales and mins come out of 48 bytes in one register (an and of the
 *          low nibbles, two shifts of the broadcast high bits, one ternary logic); the lanes
 *          are multiplied by their scale (vpmulld) and by d * dy of their block in float;
 *          the mins meet the pairs' activation sums in one vpmaddwd.
 *     Q6_K, 1 block (16 pairs of 16): 3 loads hold 6 bits of 3 of every 4 elements and 2 bits
 *          of the 4th (two ternary logics put them together); the lanes start at
 *          -32 * sum(y) of their pair (the format's offset), end times their int8 scale, and
 *          d * dy is one broadcast.
 * The activations (Q8_K) are laid out once per call, PKK_KMAX elements at a time, in the
 * order of the weights' lanes, with the pairs' sums; they serve every row of the call. The
 * blocks of a Q4_K row after its last whole group are in the file's layout and go through
 * kdot. A row's arithmetic does not depend on its neighbours or on the row range, so any split
 * of the rows between threads gives the same Y.
 */
#if defined(__x86_64__)

#include <stddef.h>

#include "engine/kernels/quants_x86.h"

#define PKK_KMAX 8192 /* elements of activation laid out at a time (L1-sized) */
#define PKK_BLOCKS (PKK_KMAX / QK_K)
#define Q4K_G QUANT_PACKK_Q4_K_BLOCKS
#define Q4K_GROUPS (PKK_BLOCKS / Q4K_G)

static_assert(PKK_BLOCKS % Q4K_G == 0, "whole Q4_K groups per chunk");

/* ---- Q4_K ---- */

typedef struct {
    alignas(64) int8_t y[Q4K_GROUPS][16][64]; /* vector v < 8: pairs 0-15, v >= 8: 16-31 (as the weights) */
    alignas(64) int16_t ysum[Q4K_GROUPS][32]; /* sum of each pair's 32 activations */
    alignas(32) float dy[Q4K_GROUPS][8];      /* dy of the 4 blocks, twice */
} q4k_act;

static void q4k_prepare(const block_q8_K *yb, int nb, q4k_act *a)
{
    for (int G = 0; G < nb / Q4K_G; G++) {
        for (int i = 0; i < 16; i++) {
            const block_q8_K *lo = &yb[Q4K_G * G + i / 8], *hi = &yb[Q4K_G * G + 2 + i / 8];
            for (int v = 0; v < 8; v++) {
                const int e = 32 * (i % 8) + 4 * v;
                memcpy(&a->y[G][v][4 * i], lo->qs + e, 4);
                memcpy(&a->y[G][8 + v][4 * i], hi->qs + e, 4);
            }
        }
        for (int p = 0; p < 32; p++) {
            const block_q8_K *b = &yb[Q4K_G * G + p / 8];
            a->ysum[G][p] = (int16_t)(b->bsums[2 * (p % 8)] + b->bsums[2 * (p % 8) + 1]);
        }
        for (int b = 0; b < 4; b++)
            a->dy[G][b] = a->dy[G][4 + b] = yb[Q4K_G * G + b].d;
    }
}

/* Constant vectors of the Q4_K kernel, loaded once per call. */
typedef struct {
    __m512i cl, cr;        /* word shifts that bring bits 2j, 2j + 1 of lane j to bits 4, 5 */
    __m512i ilo, ihi, imn; /* the lanes' block among [d*dy x 4, dmin*dy x 4] */
} q4k_iv;

/* One packed group at p against group G of the activations: acc += its dot product. */
INLINE __m512 q4k_group(const uint8_t *p, const q4k_act *a, int G, const q4k_iv *iv, __m512 acc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
    UNROLL
    for (int v = 0; v < 8; v++) {
        const __m512i P = _mm512_loadu_si512((const void *)(p + 64 * v));
        const __m512i lo = _mm512_and_si512(P, m4), hi = _mm512_and_si512(_mm512_srli_epi16(P, 4), m4);
        s[v & 1] = _mm512_dpbusd_epi32(s[v & 1], lo, _mm512_load_si512(a->y[G][v]));
        s[2 + (v & 1)] = _mm512_dpbusd_epi32(s[2 + (v & 1)], hi, _mm512_load_si512(a->y[G][8 + v]));
    }
    /* the scales (bytes 0-31) and mins (32-63) of the 32 pairs */
    const __m256i L = _mm256_loadu_si256((const __m256i *)(p + 512));
    const __m512i Lz = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(L), _mm256_srli_epi16(L, 4), 1), m4);
    __m512i H = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + 544)));
    H = _mm512_srlv_epi16(_mm512_sllv_epi16(H, iv->cl), iv->cr);
    const __m512i S = _mm512_ternarylogic_epi32(H, _mm512_set1_epi8(0x30), Lz, 0xEA); /* (H & 0x30) | Lz */
    const __m512i sclo = _mm512_cvtepu8_epi32(_mm512_castsi512_si128(S));
    const __m512i schi = _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(S, 1));
    const __m512i mn = _mm512_madd_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(S, 1)),
                                         _mm512_load_si512(a->ysum[G]));
    const __m256 dd = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 560))),
                                    _mm256_load_ps(a->dy[G]));
    const __m512 ddz = _mm512_castps256_ps512(dd);
    const __m512i alo = _mm512_add_epi32(s[0], s[1]), ahi = _mm512_add_epi32(s[2], s[3]);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(alo, sclo)), _mm512_permutexvar_ps(iv->ilo, ddz), acc);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(ahi, schi)), _mm512_permutexvar_ps(iv->ihi, ddz), acc);
    return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mn), _mm512_permutexvar_ps(iv->imn, ddz), acc);
}

INLINE float q4k_row(const uint8_t *wr, int nb, const q4k_act *a, const q4k_iv *iv)
{
    const size_t gb = Q4K_G * sizeof(block_q4_K);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int G = 0;
    for (; G + 2 <= nb / Q4K_G; G += 2) {
        acc0 = q4k_group(wr + (size_t)G * gb, a, G, iv, acc0);
        acc1 = q4k_group(wr + (size_t)(G + 1) * gb, a, G + 1, iv, acc1);
    }
    if (G < nb / Q4K_G)
        acc0 = q4k_group(wr + (size_t)G * gb, a, G, iv, acc0);
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void q4k_run(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, float *Y)
{
    const block_q8_K *yb = (const block_q8_K *)(const void *)Xq;
    const q4k_iv iv = {
        _mm512_setr_epi64(0x0004000400040004, 0x0004000400040004, 0x0002000200020002, 0x0002000200020002, 0, 0, 0, 0),
        _mm512_setr_epi64(0, 0, 0, 0, 0, 0, 0x0002000200020002, 0x0002000200020002),
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
        _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
        _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7),
    };
    const int nb_all = k / QK_K, whole = nb_all / Q4K_G * Q4K_G;
    q4k_act a;
    for (int b0 = 0; b0 < whole; b0 += PKK_BLOCKS) {
        const int nb = whole - b0 < PKK_BLOCKS ? whole - b0 : PKK_BLOCKS;
        q4k_prepare(yb + b0, nb, &a);
        for (int i = rb; i < re; i++) {
            const float s = q4k_row(W + (size_t)i * wrb + (size_t)b0 * sizeof(block_q4_K), nb, &a, &iv);
            Y[i] = b0 ? Y[i] + s : s;
        }
    }
    if (whole < nb_all) /* the blocks after the last group, as in the file */
        for (int i = rb; i < re; i++) {
            const float s = kdot(COVE_TYPE_Q4_K, (nb_all - whole) * QK_K,
                                 W + (size_t)i * wrb + (size_t)whole * sizeof(block_q4_K), yb + whole);
            Y[i] = whole ? Y[i] + s : s;
        }
}

/* ---- Q6_K ---- */

typedef struct {
    alignas(64) int8_t y[PKK_BLOCKS][4][64]; /* vector s: byte 4g + j = activation 16g + 4s + j */
    alignas(64) int32_t noff[PKK_BLOCKS][16]; /* -32 * the sum of pair g's activations */
    float dy[PKK_BLOCKS];
} q6k_act;

static void q6k_prepare(const block_q8_K *yb, int nb, q6k_act *a)
{
    for (int b = 0; b < nb; b++) {
        for (int g = 0; g < 16; g++) {
            for (int s = 0; s < 4; s++)
                memcpy(&a->y[b][s][4 * g], yb[b].qs + 16 * g + 4 * s, 4);
            a->noff[b][g] = -32 * (int32_t)yb[b].bsums[g];
        }
        a->dy[b] = yb[b].d;
    }
}

/* One packed block at p against block b of the activations: acc += its dot product. */
INLINE __m512 q6k_block(const uint8_t *p, const q6k_act *a, int b, __m512 acc)
{
    const __m512i m63 = _mm512_set1_epi8(0x3f);
    const __m512i V0 = _mm512_loadu_si512((const void *)p), V1 = _mm512_loadu_si512((const void *)(p + 64)),
                  V2 = _mm512_loadu_si512((const void *)(p + 128));
    __m512i a0 = _mm512_dpbusd_epi32(_mm512_load_si512(a->noff[b]), _mm512_and_si512(V0, m63),
                                     _mm512_load_si512(a->y[b][0]));
    __m512i a1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(V1, m63),
                                     _mm512_load_si512(a->y[b][1]));
    a0 = _mm512_dpbusd_epi32(a0, _mm512_and_si512(V2, m63), _mm512_load_si512(a->y[b][2]));
    /* the 4th element of each 4: bits 6-7 of V0, V1, V2 to bits 0-1, 2-3, 4-5 (select: C ? A : B) */
    __m512i x3 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(V2, 2), _mm512_srli_epi16(V1, 4),
                                           _mm512_set1_epi8(0x30), 0xE4);
    x3 = _mm512_ternarylogic_epi32(x3, _mm512_srli_epi16(V0, 6), _mm512_set1_epi8(0x3c), 0xE4);
    a1 = _mm512_dpbusd_epi32(a1, _mm512_and_si512(x3, m63), _mm512_load_si512(a->y[b][3]));
    const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 192)));
    uint16_t dh;
    memcpy(&dh, p + 208, 2);
    const __m512i is = _mm512_mullo_epi32(_mm512_add_epi32(a0, a1), sc);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(f16(dh) * a->dy[b]), acc);
}

INLINE float q6k_row(const uint8_t *wr, int nb, const q6k_act *a)
{
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int b = 0;
    for (; b + 2 <= nb; b += 2) {
        acc0 = q6k_block(wr + (size_t)b * sizeof(block_q6_K), a, b, acc0);
        acc1 = q6k_block(wr + (size_t)(b + 1) * sizeof(block_q6_K), a, b + 1, acc1);
    }
    if (b < nb)
        acc0 = q6k_block(wr + (size_t)b * sizeof(block_q6_K), a, b, acc0);
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void q6k_run(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, float *Y)
{
    const block_q8_K *yb = (const block_q8_K *)(const void *)Xq;
    const int nb_all = k / QK_K;
    q6k_act a;
    for (int b0 = 0; b0 < nb_all; b0 += PKK_BLOCKS) {
        const int nb = nb_all - b0 < PKK_BLOCKS ? nb_all - b0 : PKK_BLOCKS;
        q6k_prepare(yb + b0, nb, &a);
        for (int i = rb; i < re; i++) {
            const float s = q6k_row(W + (size_t)i * wrb + (size_t)b0 * sizeof(block_q6_K), nb, &a);
            Y[i] = b0 ? Y[i] + s : s;
        }
    }
}

/* ---- the table ---- */

static void q4_K_packed(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, size_t xrb,
                        int n_x, float *Y, size_t ldy)
{
    (void)xrb, (void)n_x, (void)ldy;
    q4k_run(k, W, wrb, rb, re, Xq, Y);
}

static void q6_K_packed(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, size_t xrb,
                        int n_x, float *Y, size_t ldy)
{
    (void)xrb, (void)n_x, (void)ldy;
    q6k_run(k, W, wrb, rb, re, Xq, Y);
}

void cove_quants_avx512_packedk_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT])
{
    fns[COVE_TYPE_Q4_K] = q4_K_packed;
    fns[COVE_TYPE_Q6_K] = q6_K_packed;
}

#else
typedef int cove_quants_packk_avx512_unused; /* ISO C wants a declaration */
#endif
