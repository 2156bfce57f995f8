/*
 * engine/kernels/quants_avx512vbmi.c - decode kernels (one activation row) of
 * the 32-element types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 for CPUs with AVX-512 VBMI and
 * BITALG besides the avx512 level's F/BW/VL/DQ/VNNI (Ice Lake, Zen 4 and
 * later). This file alone is compiled with those flags and is entered only
 * when the CPU has them; the level avx512vbmi is the avx512 level with these
 * kernels for decode.
 *
 * The unit is a quad: 4 blocks, 128 weights. Two 512-bit loads hold its
 * bytes (at most 96); byte permutes (vpermt2b, vpermt2w) gather what the
 * arithmetic needs, so no block field goes through a general register:
 *     lo = the low nibbles of the 4 blocks' qs (elements 0-15 of each block)
 *     hi = the high nibbles (elements 16-31), both as unsigned bytes
 *          (Q8_0: its bytes 0-15 and 16-31, made unsigned by adding 128; a
 *          quad spans 136 bytes, so hi comes from a second pair of loads 16
 *          bytes further on, through the same index)
 *     the 5th bits (Q5_x): the blocks' qh words spread to qwords, turned into
 *          two 64-bit masks by vpshufbitqmb, added as 0x10 under the masks
 *     the scales d (and m) as 16 f16 words, 4 per block, converted at once.
 * Two vpdpbusd (lo against the activations' first halves, hi against their
 * second halves) leave 16 int32 lanes, 4 per block; one convert and one FMA
 * with d * dy per lane put them into float. The format's offset (Q4_0: 8,
 * Q5_0: 16, Q8_0: 128) starts the int32 lanes at -off * sum(y) per lane; Q4_1 / Q5_1 add
 * m * s per block (s of the Q8_1 activation block).
 *
 * The index vectors of the permutes are constant tables per type. The
 * activation side (the halves of 4 blocks side by side, the offset sums,
 * dy and s per lane) is laid out once per call, GVQ_KMAX elements at a time,
 * and serves every row of the call. A row's arithmetic does not depend on its
 * neighbours or on the call's row range, so any split of the rows between
 * threads gives the same Y.
 */
#if defined(__x86_64__)

#include <stddef.h>

#include "engine/kernels/quants_x86.h"

#define GVQ_KMAX 4096 /* elements of activation laid out at a time (L1-sized) */
#define GVQ_QUADS (GVQ_KMAX / 128)

typedef struct {
    alignas(64) int8_t ylo[GVQ_QUADS][64]; /* elements 0-15 of blocks 4q .. 4q + 3 */
    alignas(64) int8_t yhi[GVQ_QUADS][64]; /* elements 16-31 */
    alignas(64) int32_t noff[GVQ_QUADS][16]; /* -off * sum of each lane's 8 activations */
    alignas(64) float dy[GVQ_QUADS][16];     /* d of the lane's block */
    alignas(64) float sy[GVQ_QUADS][16];     /* Q8_1 s / 4 of the lane's block */
} gvq_act;

/* Byte and word indices of one type's quad in its two loaded registers (bytes 0-127). */
typedef struct {
    alignas(64) uint8_t qs[64]; /* qs of block i at bytes 16i .. 16i + 15 (8-bit: its bytes 0-15) */
    alignas(64) uint16_t h[32]; /* qword i: qh low and high word of block i / 2 */
    alignas(64) uint16_t d[32]; /* words 4i .. 4i + 3: d of block i (16 words used) */
    alignas(64) uint16_t m[32]; /* the same for m */
} gvq_index;

/* The tables, as constant expressions of a block's size bs and its fields' offsets o. */
#define GVQ_R16(o)                                                                              \
    (o), (o) + 1, (o) + 2, (o) + 3, (o) + 4, (o) + 5, (o) + 6, (o) + 7, (o) + 8, (o) + 9,      \
        (o) + 10, (o) + 11, (o) + 12, (o) + 13, (o) + 14, (o) + 15
#define GVQ_QS(o, bs) {GVQ_R16(o), GVQ_R16((o) + (bs)), GVQ_R16((o) + 2 * (bs)), GVQ_R16((o) + 3 * (bs))}
#define GVQ_X4(w) (w), (w), (w), (w)
/* the word of field o of each of the 4 blocks, 4 times (words 16-31: 0) */
#define GVQ_W4(o, bs)                                                                           \
    {GVQ_X4((o) / 2), GVQ_X4(((o) + (bs)) / 2), GVQ_X4(((o) + 2 * (bs)) / 2),                   \
     GVQ_X4(((o) + 3 * (bs)) / 2)}
#define GVQ_HQ(o) (o) / 2, (o) / 2 + 1, (o) / 2, (o) / 2 + 1
#define GVQ_H(o, bs)                                                                            \
    {GVQ_HQ(o), GVQ_HQ(o), GVQ_HQ((o) + (bs)), GVQ_HQ((o) + (bs)), GVQ_HQ((o) + 2 * (bs)),     \
     GVQ_HQ((o) + 2 * (bs)), GVQ_HQ((o) + 3 * (bs)), GVQ_HQ((o) + 3 * (bs))}
#define GVQ_INDEX(T, qh, m)                                                                     \
    {GVQ_QS(offsetof(T, qs), sizeof(T)), qh, GVQ_W4(offsetof(T, d), sizeof(T)), m}
/* 8-bit blocks (Q8_0 weights, the Q8_0 and Q8_1 activations): the second pair of loads starts
 * 16 bytes on, so bytes 16-31 of each block's qs come through the index of bytes 0-15 */
#define GVQ_HI 16

static const gvq_index gvq_q4_0 = GVQ_INDEX(block_q4_0, {0}, {0});
static const gvq_index gvq_q4_1 =
    GVQ_INDEX(block_q4_1, {0}, GVQ_W4(offsetof(block_q4_1, m), sizeof(block_q4_1)));
static const gvq_index gvq_q5_0 =
    GVQ_INDEX(block_q5_0, GVQ_H(offsetof(block_q5_0, qh), sizeof(block_q5_0)), {0});
static const gvq_index gvq_q5_1 = GVQ_INDEX(block_q5_1, GVQ_H(offsetof(block_q5_1, qh), sizeof(block_q5_1)),
                                            GVQ_W4(offsetof(block_q5_1, m), sizeof(block_q5_1)));
static const gvq_index gvq_q8_0 = GVQ_INDEX(block_q8_0, {0}, {0}); /* also the Q8_0 activations */
/* the Q8_1 activations, s in the place of m */
static const gvq_index gvq_y8_1 = GVQ_INDEX(block_q8_1, {0}, GVQ_W4(offsetof(block_q8_1, s), sizeof(block_q8_1)));

/* vpshufbitqmb selectors: element j of qword i takes bit 8 (i % 2) + j of the low (high) qh word. */
#define GVQ_S8(o) (o), (o) + 1, (o) + 2, (o) + 3, (o) + 4, (o) + 5, (o) + 6, (o) + 7
#define GVQ_SEL(o)                                                                              \
    {GVQ_S8(o), GVQ_S8((o) + 8), GVQ_S8(o), GVQ_S8((o) + 8),                                    \
     GVQ_S8(o), GVQ_S8((o) + 8), GVQ_S8(o), GVQ_S8((o) + 8)}
alignas(64) static const uint8_t gvq_sel_lo[64] = GVQ_SEL(0), gvq_sel_hi[64] = GVQ_SEL(16);

INLINE const gvq_index *gvq_index_of(enum cove_ggml_type t)
{
    return t == COVE_TYPE_Q4_0   ? &gvq_q4_0
           : t == COVE_TYPE_Q4_1 ? &gvq_q4_1
           : t == COVE_TYPE_Q5_0 ? &gvq_q5_0
           : t == COVE_TYPE_Q5_1 ? &gvq_q5_1
                                 : &gvq_q8_0;
}

/* The bytes [skip, bytes) from p in two registers (at most 128); bytes past them read as zero. */
INLINE void gvq_load(const uint8_t *p, int bytes, int skip, __m512i *l0, __m512i *l1)
{
    bytes -= skip;
    p += skip;
    *l0 = bytes >= 64 ? _mm512_loadu_si512((const void *)p)
                      : _mm512_maskz_loadu_epi8(_cvtu64_mask64((1ull << bytes) - 1), p);
    *l1 = bytes >= 128 ? _mm512_loadu_si512((const void *)(p + 64))
          : bytes > 64 ? _mm512_maskz_loadu_epi8(_cvtu64_mask64((1ull << (bytes - 64)) - 1), p + 64)
                       : _mm512_setzero_si512();
}

/* Lays out blocks [0, nb) of the activation row yr (Q8_0 or Q8_1) as quads, gathered as the
 * 8-bit weights are; the rest zero. */
static void gvq_prepare(enum cove_ggml_type t, const uint8_t *yr, int nb, gvq_act *a)
{
    const bool q81 = uses_q8_1(t);
    const int ybs = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0);
    const gvq_index *ix = q81 ? &gvq_y8_1 : &gvq_q8_0;
    const __m512i iqs = _mm512_load_si512(ix->qs), id = _mm512_load_si512(ix->d),
                  is = _mm512_load_si512(ix->m);
    const __m512i voff = _mm512_set1_epi8((char)woff(t)), z = _mm512_setzero_si512();
    for (int q = 0; 4 * q < nb; q++) {
        const int bytes = (nb - 4 * q < 4 ? nb - 4 * q : 4) * ybs;
        const uint8_t *p = yr + (size_t)q * 4 * (size_t)ybs;
        __m512i l0, l1, m0, m1;
        gvq_load(p, bytes, 0, &l0, &l1);
        gvq_load(p, bytes, GVQ_HI, &m0, &m1);
        const __m512i L = _mm512_permutex2var_epi8(l0, iqs, l1), H = _mm512_permutex2var_epi8(m0, iqs, m1);
        _mm512_store_si512(a->ylo[q], L);
        _mm512_store_si512(a->yhi[q], H);
        if (woff(t)) { /* read only by the types with an offset */
            __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, voff, L), voff, H);
            _mm512_store_si512(a->noff[q], _mm512_sub_epi32(z, sum));
        }
        _mm512_store_ps(a->dy[q], _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(l0, id, l1))));
        if (q81)
            _mm512_store_ps(a->sy[q], _mm512_mul_ps(_mm512_set1_ps(0.25f),
                                                    _mm512_cvtph_ps(_mm512_castsi512_si256(
                                                        _mm512_permutex2var_epi16(l0, is, l1)))));
    }
}

/* Weight index vectors, loaded once per row set. */
typedef struct {
    __m512i qs, h, d, m, sel_lo, sel_hi;
} gvq_iv;

/* One quad of n blocks at p against quad q of the activations: acc += its 16 lanes. */
INLINE void gvq_quad(enum cove_ggml_type t, const uint8_t *p, int n, const gvq_act *a, int q,
                     const gvq_iv *iv, __m512 *acc, __m512 *accm)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), x10 = _mm512_set1_epi8(0x10);
    const int bytes = n * (int)wbytes32(t);
    __m512i l0, l1, lo, hi;
    gvq_load(p, bytes, 0, &l0, &l1);
    if (t == COVE_TYPE_Q8_0) {
        __m512i m0, m1;
        const __m512i x80 = _mm512_set1_epi8((char)0x80);
        gvq_load(p, bytes, GVQ_HI, &m0, &m1);
        lo = _mm512_xor_si512(_mm512_permutex2var_epi8(l0, iv->qs, l1), x80);
        hi = _mm512_xor_si512(_mm512_permutex2var_epi8(m0, iv->qs, m1), x80);
    } else {
        __m512i qs = _mm512_permutex2var_epi8(l0, iv->qs, l1);
        lo = _mm512_and_si512(qs, m4), hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4);
    }
    if (t == COVE_TYPE_Q5_0 || t == COVE_TYPE_Q5_1) { /* the 5th bits */
        __m512i h = _mm512_permutex2var_epi16(l0, iv->h, l1);
        lo = _mm512_mask_add_epi8(lo, _mm512_bitshuffle_epi64_mask(h, iv->sel_lo), lo, x10);
        hi = _mm512_mask_add_epi8(hi, _mm512_bitshuffle_epi64_mask(h, iv->sel_hi), hi, x10);
    }
    __m512i is = woff(t) ? _mm512_load_si512(a->noff[q]) : _mm512_setzero_si512();
    is = _mm512_dpbusd_epi32(is, lo, _mm512_load_si512(a->ylo[q]));
    is = _mm512_dpbusd_epi32(is, hi, _mm512_load_si512(a->yhi[q]));
    __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(l0, iv->d, l1)));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw, _mm512_load_ps(a->dy[q])), *acc);
    if (uses_q8_1(t)) {
        __m512 mw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(l0, iv->m, l1)));
        *accm = _mm512_fmadd_ps(mw, _mm512_load_ps(a->sy[q]), *accm);
    }
}

/* One row of nb blocks (at most GVQ_KMAX / 32) against the laid-out activations. */
INLINE float gvq_row(enum cove_ggml_type t, const uint8_t *wr, int nb, const gvq_act *a, const gvq_iv *iv)
{
    const size_t qb = 4 * wbytes32(t);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), accm = _mm512_setzero_ps();
    int q = 0;
    for (; 4 * q + 8 <= nb; q += 2) { /* two quads a step: two chains of FMAs */
        gvq_quad(t, wr + (size_t)q * qb, 4, a, q, iv, &acc0, &accm);
        gvq_quad(t, wr + (size_t)(q + 1) * qb, 4, a, q + 1, iv, &acc1, &accm);
    }
    for (; 4 * q < nb; q++)
        gvq_quad(t, wr + (size_t)q * qb, nb - 4 * q < 4 ? nb - 4 * q : 4, a, q, iv, &acc0, &accm);
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), accm));
}

/* Decode: Y[i] = W row i . Xq for rb <= i < re (one activation row; the template of DECODE32_FILL). */
INLINE void gvq_run(enum cove_ggml_type t, int k, const uint8_t *W, size_t wrb, int rb, int re,
                    const uint8_t *Xq, float *Y)
{
    const size_t ybs = uses_q8_1(t) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const gvq_index *ix = gvq_index_of(t);
    const gvq_iv iv = {_mm512_load_si512(ix->qs),     _mm512_load_si512(ix->h),
                       _mm512_load_si512(ix->d),      _mm512_load_si512(ix->m),
                       _mm512_load_si512(gvq_sel_lo), _mm512_load_si512(gvq_sel_hi)};
    gvq_act a;
    const int nb_all = k / QK32;
    for (int b0 = 0; b0 < nb_all; b0 += GVQ_KMAX / QK32) {
        const int nb = nb_all - b0 < GVQ_KMAX / QK32 ? nb_all - b0 : GVQ_KMAX / QK32;
        gvq_prepare(t, Xq + (size_t)b0 * ybs, nb, &a);
        for (int i = rb; i < re; i++) {
            float s = gvq_row(t, W + (size_t)i * wrb + (size_t)b0 * wbytes32(t), nb, &a, &iv);
            Y[i] = b0 ? Y[i] + s : s;
        }
    }
}

DECODE32_FILL(cove_quants_avx512vbmi_gemv_fill, gvq_run)

#else
typedef int cove_quants_avx512vbmi_unused; /* ISO C wants a declaration */
#endif
