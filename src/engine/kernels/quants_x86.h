/*
 * engine/kernels/quants_x86.h - kernels in 256-bit registers shared by the
 * x86 files (quants_avx2.c, quants_avx512.c): block decoders, the decode
 * (gemv) kernels, the batch kernels (2+ activation rows, prefill included), the k-quant dot.
 * Include it only from files built with at least -mavx2 -mfma -mf16c, and call into them only when the CPU has those.
 * Where the including file is built with AVX-512 VNNI/BW/VL, a few helpers
 * (dot_u8s8, madd_acc, bit4_fast; HAVE_VNNI) use those instructions, so the
 * same source gives the AVX-512 level its faster forms.
 *
 * Everything here is static inline: each file gets its own copies.
 */
#ifndef COVE_ENGINE_KERNELS_QUANTS_X86_H
#define COVE_ENGINE_KERNELS_QUANTS_X86_H

#include <immintrin.h>
#include <stdalign.h>
#include <stdbool.h>

#include "engine/kernels/quants_int.h"

#define INLINE static inline __attribute__((always_inline))

/*
 * Fully unroll a loop over tile rows / columns / chunks, so that the
 * accumulator arrays of a tile live in registers (GCC at -O2 would not).
 */
#define UNROLL _Pragma("GCC unroll 16")

/*
 * Keeps a loaded vector in its register: without this GCC folds the load into each
 * instruction that reads it (a nibble split reads the weights twice), and on weights
 * that cross cache lines the second load costs as much as the arithmetic (Q5_0 decode
 * 2.51 -> 2.28 ns per 128 elements, one thread in cache).
 */
#define LOAD_ONCE(v) __asm__("" : "+v"(v))

/*
 * The high nibble of every byte of P (m4: 0x0f in every byte), zero-extended. In a file built
 * with -mgfni (quants_pack_gfni.c, quants_packk_gfni.c) one gf2p8affineqb: the bit matrix's
 * byte 7 - i selects the input bit that becomes output bit i, here bit i + 4 for i < 4 and
 * none above; else a shift and an and. GFNI_NAME(name): a function's name in such a build
 * (name_gfni), so that both builds link into one library.
 */
#if defined(__GFNI__)
#define HI_NIBBLE(P, m4) _mm512_gf2p8affine_epi64_epi8((P), _mm512_set1_epi64(0x1020408000000000LL), 0)
#define GFNI_NAME(name) name##_gfni
#else
#define HI_NIBBLE(P, m4) _mm512_and_si512(_mm512_srli_epi16((P), 4), (m4))
#define GFNI_NAME(name) name
#endif

/*
 * CALL(n) with the constant n equal to nc (1 .. 8 or 1 .. 4; more: the largest), so that a
 * kernel's register arrays over its activation rows are sized at compile time.
 */
#define NC_SWITCH8(nc, CALL)                                                                        \
    switch (nc) {                                                                                   \
    case 1: CALL(1); break;                                                                         \
    case 2: CALL(2); break;                                                                         \
    case 3: CALL(3); break;                                                                         \
    case 4: CALL(4); break;                                                                         \
    case 5: CALL(5); break;                                                                         \
    case 6: CALL(6); break;                                                                         \
    case 7: CALL(7); break;                                                                         \
    default: CALL(8); break;                                                                        \
    }
#define NC_SWITCH4(nc, CALL)                                                                        \
    switch (nc) {                                                                                   \
    case 1: CALL(1); break;                                                                         \
    case 2: CALL(2); break;                                                                         \
    case 3: CALL(3); break;                                                                         \
    default: CALL(4); break;                                                                        \
    }

/* ---- helpers ---- */

INLINE float f16(uint16_t h)
{
    return _cvtsh_ss(h);
}

INLINE float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE int hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

INLINE float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* 32 nibbles: element j < 16 from qs[j] lo, j >= 16 from qs[j - 16] hi. */
INLINE __m256i nib32(const uint8_t *qs)
{
    const __m128i m4 = _mm_set1_epi8(0x0f);
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
}

/* Byte j = 0x10 where bit j of the little-endian u32 at qh is set, else 0. */
INLINE __m256i bit4_u32(uint32_t h)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bm = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), shuf);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bm), bm);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* As bit4_u32, with a mask register where the file is built with AVX-512BW/VL. */
INLINE __m256i bit4_fast(uint32_t h)
{
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    return _mm256_maskz_mov_epi8(_cvtu32_mask32(h), _mm256_set1_epi8(0x10));
#else
    return bit4_u32(h);
#endif
}

INLINE __m256i bit4_32(const uint8_t *qh)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    return bit4_fast(h);
}

/* ---- float weights ---- */

INLINE __m256 fload8(enum cove_ggml_type t, const void *row, int i)
{
    const uint8_t *p = row;
    if (t == COVE_TYPE_F32)
        return _mm256_loadu_ps((const float *)row + i);
    __m128i h = _mm_loadu_si128((const __m128i *)(p + 2 * (size_t)i));
    if (t == COVE_TYPE_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE float fload1(enum cove_ggml_type t, const void *row, int i)
{
    const uint8_t *p = row;
    if (t == COVE_TYPE_F32)
        return ((const float *)row)[i];
    uint16_t h = quant_load_u16(p + 2 * (size_t)i);
    return t == COVE_TYPE_F16 ? f16(h) : quant_bf16_to_f32(h);
}

/* ---- 32-element block types ---- */

INLINE int off32(enum cove_ggml_type t)
{
    return t == COVE_TYPE_Q4_0 ? 8 : t == COVE_TYPE_Q5_0 ? 16 : 0;
}

INLINE bool uses_q8_1(enum cove_ggml_type t)
{
    return t == COVE_TYPE_Q4_1 || t == COVE_TYPE_Q5_1;
}

/* The 32 values of one block as unsigned bytes (Q8_0: its signed bytes). */
INLINE __m256i wq32(enum cove_ggml_type t, const uint8_t *blk)
{
    switch (t) {
    case COVE_TYPE_Q4_0: return nib32(((const block_q4_0 *)blk)->qs);
    case COVE_TYPE_Q4_1: return nib32(((const block_q4_1 *)blk)->qs);
    case COVE_TYPE_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)blk;
        return _mm256_or_si256(nib32(b->qs), bit4_32(b->qh));
    }
    case COVE_TYPE_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)blk;
        return _mm256_or_si256(nib32(b->qs), bit4_32(b->qh));
    }
    default: return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)blk)->qs);
    }
}

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define HAVE_VNNI 1
#else
#define HAVE_VNNI 0
#endif

/* acc + sum of u8 w * s8 y over each 4 bytes, per int32 lane (vpdpbusd where available). */
INLINE __m256i dot_u8s8(__m256i acc, __m256i w, __m256i y)
{
#if HAVE_VNNI
    return _mm256_dpbusd_epi32(acc, w, y);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, y), _mm256_set1_epi16(1)));
#endif
}

INLINE size_t wbytes32(enum cove_ggml_type t)
{
    switch (t) {
    case COVE_TYPE_Q4_0: return sizeof(block_q4_0);
    case COVE_TYPE_Q4_1: return sizeof(block_q4_1);
    case COVE_TYPE_Q5_0: return sizeof(block_q5_0);
    case COVE_TYPE_Q5_1: return sizeof(block_q5_1);
    default: return sizeof(block_q8_0);
    }
}

INLINE size_t qs_off32(enum cove_ggml_type t)
{
    switch (t) {
    case COVE_TYPE_Q4_0: return offsetof(block_q4_0, qs);
    case COVE_TYPE_Q4_1: return offsetof(block_q4_1, qs);
    case COVE_TYPE_Q5_0: return offsetof(block_q5_0, qs);
    case COVE_TYPE_Q5_1: return offsetof(block_q5_1, qs);
    default: return offsetof(block_q8_0, qs);
    }
}

/* The f16 at byte `off` of n <= 8 consecutive blocks of `bs` bytes, as floats (missing: 0). */
INLINE __m256 scales8(const uint8_t *p, size_t bs, int n)
{
    if (n == 8)
        return _mm256_cvtph_ps(_mm_setr_epi16(
            (short)quant_load_u16(p), (short)quant_load_u16(p + bs), (short)quant_load_u16(p + 2 * bs),
            (short)quant_load_u16(p + 3 * bs), (short)quant_load_u16(p + 4 * bs),
            (short)quant_load_u16(p + 5 * bs), (short)quant_load_u16(p + 6 * bs),
            (short)quant_load_u16(p + 7 * bs)));
    /* the missing blocks read the last one and are masked off (a vector load of an array
       written just before would stall on store forwarding, in every row's tail group) */
    const size_t last = (size_t)(n - 1) * bs;
    __m128i h = _mm_setr_epi16(
        (short)quant_load_u16(p), (short)quant_load_u16(p + (n > 1 ? bs : last)),
        (short)quant_load_u16(p + (n > 2 ? 2 * bs : last)), (short)quant_load_u16(p + (n > 3 ? 3 * bs : last)),
        (short)quant_load_u16(p + (n > 4 ? 4 * bs : last)), (short)quant_load_u16(p + (n > 5 ? 5 * bs : last)),
        (short)quant_load_u16(p + (n > 6 ? 6 * bs : last)), (short)quant_load_u16(p + last));
    h = _mm_and_si128(h, _mm_cmpgt_epi16(_mm_set1_epi16((short)n), _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7)));
    return _mm256_cvtph_ps(h);
}

/* The offset removed as off * sum(y): Q8_0 weights are made unsigned by adding 128 (VNNI only). */
INLINE int woff(enum cove_ggml_type t)
{
    return t == COVE_TYPE_Q8_0 ? (HAVE_VNNI ? 128 : 0) : off32(t);
}

/*
 * Decode (one activation row) for 32-element types: GV_ROWS weight rows per
 * call, each streamed on its own (several interleaved row streams read DRAM
 * worse), while the activation side - its scales as floats and the offset
 * term -off * sum(y) per block - is computed once per call into L1-sized
 * arrays, GV_KMAX elements at a time.
 */
#define GV_ROWS 8
#define GV_KMAX 4096

typedef struct {
    alignas(32) int32_t noff[GV_KMAX / QK32][8]; /* initial int32 sums per block */
    alignas(32) float dy[GV_KMAX / QK32 + 8]; /* + 8: a tail group loads 8 (the rest zero) */
    alignas(32) float sy[GV_KMAX / QK32 + 8];
} gv_act;

INLINE void gv_prepare(enum cove_ggml_type t, const uint8_t *yr, int nb, gv_act *a)
{
    const bool q81 = uses_q8_1(t);
    const size_t ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = q81 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i voff = _mm256_set1_epi8((char)woff(t)), z = _mm256_setzero_si256();
    for (int b = nb; b < nb + 8; b++)
        a->dy[b] = a->sy[b] = 0.0f;
    for (int b = 0; b < nb; b++) {
        const uint8_t *yb = yr + (size_t)b * ybs;
        a->dy[b] = f16(quant_load_u16(yb));
        a->sy[b] = q81 ? f16(quant_load_u16(yb + 2)) : 0.0f;
        __m256i s = woff(t) ? dot_u8s8(z, voff, _mm256_loadu_si256((const __m256i *)(yb + yq))) : z;
        _mm256_store_si256((__m256i *)a->noff[b], _mm256_sub_epi32(z, s));
    }
}

/* Block b of a group against the prepared activation side, accumulated into acc. */
INLINE __m256 gv_block(enum cove_ggml_type t, const uint8_t *wb, const uint8_t *yq, const int32_t *noff,
                       __m256 d8, int b, __m256 acc)
{
    __m256i w = wq32(t, wb), y = _mm256_loadu_si256((const __m256i *)yq), is;
    if (t == COVE_TYPE_Q8_0 && !HAVE_VNNI) /* u8 255 * s8 would saturate vpmaddubsw: sign trick */
        is = dot_u8s8(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(y, w));
    else
        is = dot_u8s8(_mm256_load_si256((const __m256i *)noff),
                      t == COVE_TYPE_Q8_0 ? _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)) : w, y);
    __m256 sc = _mm256_permutevar8x32_ps(d8, _mm256_set1_epi32(b));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), sc, acc);
}

/* One weight row against the prepared activation side: nb blocks. */
INLINE float gv_row(enum cove_ggml_type t, const uint8_t *wr, const uint8_t *yr, int nb, const gv_act *a)
{
    const bool q81 = uses_q8_1(t);
    const size_t wbs = wbytes32(t), ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = q81 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const size_t m_off = t == COVE_TYPE_Q4_1 ? offsetof(block_q4_1, m) : offsetof(block_q5_1, m);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, accm = _mm256_setzero_ps();
    int g = 0;
    for (; g + 8 <= nb; g += 8) { /* full groups: unrolled, constant lane indices */
        const uint8_t *wg = wr + (size_t)g * wbs, *yg = yr + (size_t)g * ybs + yq;
        __m256 d8 = _mm256_mul_ps(scales8(wg, wbs, 8), _mm256_load_ps(a->dy + g));
        if (q81)
            accm = _mm256_fmadd_ps(scales8(wg + m_off, wbs, 8), _mm256_load_ps(a->sy + g), accm);
        UNROLL
        for (int b = 0; b < 8; b++)
            acc[b & 1] = gv_block(t, wg + (size_t)b * wbs, yg + (size_t)b * ybs, a->noff[g + b], d8, b,
                                  acc[b & 1]);
    }
    if (g < nb) {
        const int n8 = nb - g;
        const uint8_t *wg = wr + (size_t)g * wbs, *yg = yr + (size_t)g * ybs + yq;
        __m256 d8 = _mm256_mul_ps(scales8(wg, wbs, n8), _mm256_load_ps(a->dy + g));
        if (q81)
            accm = _mm256_fmadd_ps(scales8(wg + m_off, wbs, n8), _mm256_load_ps(a->sy + g), accm);
        for (int b = 0; b < n8; b++)
            acc[0] = gv_block(t, wg + (size_t)b * wbs, yg + (size_t)b * ybs, a->noff[g + b], d8, b, acc[0]);
    }
    return hsum_ps(_mm256_add_ps(acc[0], acc[1])) + (q81 ? hsum_ps(accm) : 0.0f);
}

/*
 * The nibble types (Q4_0, Q4_1, Q5_0, Q5_1) decode two blocks per step:
 * blocks b, b + 1 as lo = elements 0-15 of b | of b + 1 and hi = elements
 * 16-31 of b | of b + 1 (the order does not matter to the sums, as long as
 * the activations are arranged alike: gv2_prepare does that once per call).
 */
typedef struct {
    alignas(32) uint8_t yp[GV_KMAX / 64][2][32]; /* activation pairs: lo, hi */
    alignas(32) int32_t noff[GV_KMAX / 64][8];   /* initial sums: -off * sum(y) */
    alignas(32) float dy[GV_KMAX / QK32 + 8];    /* + 8: a tail group loads 8 (the rest zero) */
    alignas(32) float sy[GV_KMAX / QK32 + 8];
} gv2_act;

INLINE void gv2_prepare(enum cove_ggml_type t, const uint8_t *yr, int nb, gv2_act *a)
{
    const bool q81 = uses_q8_1(t);
    const size_t ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = q81 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i voff = _mm256_set1_epi8((char)off32(t)), z = _mm256_setzero_si256();
    for (int b = nb; b < nb + 8; b++)
        a->dy[b] = a->sy[b] = 0.0f;
    for (int b = 0; b < nb; b++) {
        a->dy[b] = f16(quant_load_u16(yr + (size_t)b * ybs));
        a->sy[b] = q81 ? f16(quant_load_u16(yr + (size_t)b * ybs + 2)) : 0.0f;
    }
    for (int b = 0; b < nb; b += 2) {
        __m256i y0 = _mm256_loadu_si256((const __m256i *)(yr + (size_t)b * ybs + yq));
        __m256i y1 = b + 1 < nb ? _mm256_loadu_si256((const __m256i *)(yr + (size_t)(b + 1) * ybs + yq)) : z;
        __m256i lo = _mm256_permute2x128_si256(y0, y1, 0x20), hi = _mm256_permute2x128_si256(y0, y1, 0x31);
        _mm256_store_si256((__m256i *)a->yp[b / 2][0], lo);
        _mm256_store_si256((__m256i *)a->yp[b / 2][1], hi);
        __m256i s = off32(t) ? dot_u8s8(dot_u8s8(z, voff, lo), voff, hi) : z;
        _mm256_store_si256((__m256i *)a->noff[b / 2], _mm256_sub_epi32(z, s));
    }
}

/* Blocks b and b + 1 (only b when !two) of a nibble-type row, arranged as above. */
INLINE void wpair_nib(enum cove_ggml_type t, const uint8_t *b0, size_t bs, bool two, __m256i *lo, __m256i *hi)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const size_t qs = t == COVE_TYPE_Q4_0   ? offsetof(block_q4_0, qs)
                      : t == COVE_TYPE_Q4_1 ? offsetof(block_q4_1, qs)
                      : t == COVE_TYPE_Q5_0 ? offsetof(block_q5_0, qs)
                                            : offsetof(block_q5_1, qs);
    __m128i q1 = two ? _mm_loadu_si128((const __m128i *)(b0 + bs + qs)) : _mm_setzero_si128();
    __m128i q0 = _mm_loadu_si128((const __m128i *)(b0 + qs));
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
    *lo = _mm256_and_si256(v, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if (t == COVE_TYPE_Q5_0 || t == COVE_TYPE_Q5_1) {
        const size_t qh = t == COVE_TYPE_Q5_0 ? offsetof(block_q5_0, qh) : offsetof(block_q5_1, qh);
        uint32_t h0, h1 = 0;
        memcpy(&h0, b0 + qh, 4);
        if (two)
            memcpy(&h1, b0 + bs + qh, 4);
        *lo = _mm256_or_si256(*lo, bit4_fast((h0 & 0xffffu) | (h1 << 16)));
        *hi = _mm256_or_si256(*hi, bit4_fast((h0 >> 16) | (h1 & 0xffff0000u)));
    }
}

/* Blocks b, b + 1 (pair index b / 2) accumulated into acc; d8 holds the group's scales. */
INLINE __m256 gv2_pair(enum cove_ggml_type t, const uint8_t *wb, size_t wbs, bool two, const gv2_act *a,
                       int b, __m256 d8, int lane, __m256 acc)
{
    __m256i lo, hi;
    wpair_nib(t, wb, wbs, two, &lo, &hi);
    __m256i is = dot_u8s8(_mm256_load_si256((const __m256i *)a->noff[b / 2]), lo,
                          _mm256_load_si256((const __m256i *)a->yp[b / 2][0]));
    is = dot_u8s8(is, hi, _mm256_load_si256((const __m256i *)a->yp[b / 2][1]));
    __m256i idx = _mm256_setr_epi32(lane, lane, lane, lane, lane + 1, lane + 1, lane + 1, lane + 1);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_permutevar8x32_ps(d8, idx), acc);
}

INLINE float gv2_row(enum cove_ggml_type t, const uint8_t *wr, int nb, const gv2_act *a)
{
    const bool q81 = uses_q8_1(t);
    const size_t wbs = wbytes32(t);
    const size_t m_off = t == COVE_TYPE_Q4_1 ? offsetof(block_q4_1, m) : offsetof(block_q5_1, m);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, accm = _mm256_setzero_ps();
    for (int g = 0; g < nb; g += 8) {
        const int n8 = nb - g < 8 ? nb - g : 8;
        const uint8_t *wg = wr + (size_t)g * wbs;
        __m256 d8 = _mm256_mul_ps(scales8(wg, wbs, n8), _mm256_loadu_ps(a->dy + g));
        if (q81)
            accm = _mm256_fmadd_ps(scales8(wg + m_off, wbs, n8), _mm256_loadu_ps(a->sy + g), accm);
        if (n8 == 8) {
            UNROLL
            for (int p = 0; p < 4; p++)
                acc[p & 1] = gv2_pair(t, wg + (size_t)(2 * p) * wbs, wbs, true, a, g + 2 * p, d8, 2 * p,
                                      acc[p & 1]);
        } else {
            for (int p = 0; 2 * p < n8; p++)
                acc[0] = gv2_pair(t, wg + (size_t)(2 * p) * wbs, wbs, 2 * p + 1 < n8, a, g + 2 * p, d8,
                                  2 * p, acc[0]);
        }
    }
    return hsum_ps(_mm256_add_ps(acc[0], acc[1])) + (q81 ? hsum_ps(accm) : 0.0f);
}

/* Decode kernel of the 32-element types: nr (<= GV_ROWS) rows against one activation row. */
INLINE void gemv32(enum cove_ggml_type t, int k, const void *const *w, const void *const *x,
                   float *out, int nr)
{
    const size_t wbs = wbytes32(t), ybs = uses_q8_1(t) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    float sum[GV_ROWS] = {0};
    for (int b0 = 0; b0 < k / QK32; b0 += GV_KMAX / QK32) {
        int nb = k / QK32 - b0 < GV_KMAX / QK32 ? k / QK32 - b0 : GV_KMAX / QK32;
        const uint8_t *yr = (const uint8_t *)x[0] + (size_t)b0 * ybs;
        if (t == COVE_TYPE_Q8_0) {
            gv_act a;
            gv_prepare(t, yr, nb, &a);
            for (int r = 0; r < nr; r++)
                sum[r] += gv_row(t, (const uint8_t *)w[r] + (size_t)b0 * wbs, yr, nb, &a);
        } else {
            gv2_act a;
            gv2_prepare(t, yr, nb, &a);
            for (int r = 0; r < nr; r++)
                sum[r] += gv2_row(t, (const uint8_t *)w[r] + (size_t)b0 * wbs, nb, &a);
        }
    }
    for (int r = 0; r < nr; r++)
        out[r] = sum[r];
}

/*
 * Batches (2 or more activation rows: the decode steps of several sequences
 * run together, prefill) for the 32-element types. Up to SN_MAX
 * activation rows are taken per pass; each is prepared once per call as the
 * decode kernel prepares its one row (block pairs arranged as wpair_nib
 * arranges weights, the offset term, the scales spread to the lanes of a
 * pair), SN_KMAX elements at a time so that all of them stay in L1. Then each
 * weight row is streamed once: every pair of blocks is unpacked once into
 * registers and meets all the activation rows of the pass, which costs two
 * dot instructions, a convert, a multiply and an FMA per (pair, activation
 * row). The arithmetic of a weight row does not depend on its neighbours, so
 * any split of the rows between threads gives the same Y.
 */
#define SN_MAX 8
#define SN_KMAX 1024

/* Activation rows of the next pass when `left` remain: even passes of at most SN_MAX (9 = 5 + 4). */
INLINE int sn_pass_rows(int left)
{
    const int passes = (left + SN_MAX - 1) / SN_MAX;
    return (left + passes - 1) / passes;
}

typedef struct {
    alignas(32) uint8_t yp[SN_KMAX / 64][2][32]; /* activation pairs: lo, hi */
    alignas(32) int32_t noff[SN_KMAX / 64][8];   /* initial sums: -woff * sum(y) */
    alignas(32) float dy2[SN_KMAX / 64][8];      /* d of block 2p in lanes 0-3, of 2p + 1 in 4-7 */
    alignas(32) float sy[SN_KMAX / QK32 + 8];    /* Q8_1 s per block; + 8: tail groups read 8 */
} sn_act;

INLINE void sn_prepare(enum cove_ggml_type t, const uint8_t *yr, int nb, sn_act *a)
{
    const bool q81 = uses_q8_1(t);
    const size_t ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = q81 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i voff = _mm256_set1_epi8((char)woff(t)), z = _mm256_setzero_si256();
    for (int b = 0; b < nb + 8; b++)
        a->sy[b] = q81 && b < nb ? f16(quant_load_u16(yr + (size_t)b * ybs + 2)) : 0.0f;
    for (int b = 0; b < nb; b += 2) {
        const bool two = b + 1 < nb;
        const uint8_t *y0 = yr + (size_t)b * ybs;
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(y0 + yq));
        __m256i v1 = two ? _mm256_loadu_si256((const __m256i *)(y0 + ybs + yq)) : z;
        __m256i lo = _mm256_permute2x128_si256(v0, v1, 0x20), hi = _mm256_permute2x128_si256(v0, v1, 0x31);
        _mm256_store_si256((__m256i *)a->yp[b / 2][0], lo);
        _mm256_store_si256((__m256i *)a->yp[b / 2][1], hi);
        __m256i s = woff(t) ? dot_u8s8(dot_u8s8(z, voff, lo), voff, hi) : z;
        _mm256_store_si256((__m256i *)a->noff[b / 2], _mm256_sub_epi32(z, s));
        __m128 d0 = _mm_set1_ps(f16(quant_load_u16(y0)));
        __m128 d1 = _mm_set1_ps(two ? f16(quant_load_u16(y0 + ybs)) : 0.0f);
        _mm256_store_ps(a->dy2[b / 2], _mm256_set_m128(d1, d0));
    }
}

/* Weight blocks b and b + 1 (only b when !two) in the pair layout, as the dots below want them. */
INLINE void sn_wpair(enum cove_ggml_type t, const uint8_t *b0, size_t bs, bool two, __m256i *lo, __m256i *hi)
{
    if (t != COVE_TYPE_Q8_0) {
        wpair_nib(t, b0, bs, two, lo, hi);
        return;
    }
    const size_t qs = offsetof(block_q8_0, qs);
    __m256i v0 = _mm256_loadu_si256((const __m256i *)(b0 + qs));
    __m256i v1 = two ? _mm256_loadu_si256((const __m256i *)(b0 + bs + qs)) : _mm256_setzero_si256();
    *lo = _mm256_permute2x128_si256(v0, v1, 0x20);
    *hi = _mm256_permute2x128_si256(v0, v1, 0x31);
    if (HAVE_VNNI) { /* unsigned by adding 128; the prepared offset term takes it off */
        *lo = _mm256_xor_si256(*lo, _mm256_set1_epi8((char)0x80));
        *hi = _mm256_xor_si256(*hi, _mm256_set1_epi8((char)0x80));
    }
}

/* int32 lane sums of a weight pair against a prepared activation pair, the offset removed. */
INLINE __m256i sn_dot(enum cove_ggml_type t, __m256i wlo, __m256i whi, const sn_act *a, int pi)
{
    const __m256i ylo = _mm256_load_si256((const __m256i *)a->yp[pi][0]);
    const __m256i yhi = _mm256_load_si256((const __m256i *)a->yp[pi][1]);
    const bool off = woff(t) != 0;
    __m256i init = off ? _mm256_load_si256((const __m256i *)a->noff[pi]) : _mm256_setzero_si256();
#if HAVE_VNNI
    return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(init, wlo, ylo), whi, yhi);
#else
    const __m256i ones = _mm256_set1_epi16(1);
    if (t == COVE_TYPE_Q8_0) { /* signed weights: the abs/sign trick, each half widened on its own */
        __m256i p0 = _mm256_maddubs_epi16(_mm256_abs_epi8(wlo), _mm256_sign_epi8(ylo, wlo));
        __m256i p1 = _mm256_maddubs_epi16(_mm256_abs_epi8(whi), _mm256_sign_epi8(yhi, whi));
        return _mm256_add_epi32(_mm256_madd_epi16(p0, ones), _mm256_madd_epi16(p1, ones));
    }
    /* nibble types: each int16 pair sum is at most 2 * 31 * 128, so the two halves add in int16 */
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(wlo, ylo), _mm256_maddubs_epi16(whi, yhi));
    __m256i s = _mm256_madd_epi16(p, ones);
    return off ? _mm256_add_epi32(s, init) : s;
#endif
}

/*
 * Prefetch `bytes` of weight row r (when r < re): the rows of a small batch
 * are each computed for long enough that the hardware prefetcher alone
 * leaves DRAM idle part of the time on matrices larger than the caches.
 */
#define SN_PF_ROWS 2
INLINE void sn_prefetch(const uint8_t *W, size_t wrb, int r, int re, size_t bytes)
{
    if (r >= re)
        return;
    const char *p = (const char *)(W + (size_t)r * wrb);
    for (size_t o = 0; o < bytes; o += 64)
        _mm_prefetch(p + o, _MM_HINT_T0);
}

/*
 * The decode kernels' software prefetch into L2, PF_L2_AHEAD bytes ahead of the rows they read.
 * Alone, the hardware prefetchers keep too few lines in flight for a kernel that computes
 * between its loads: rows of 960 Q5_0 decoded from RAM on two threads reached 30-32 GB/s
 * where a plain read of the same bytes ran at 40-44; with each row's lines requested 8 KiB
 * ahead, 40-42 (4 KiB ahead: 39; every other line only: 21-25, worse than none). Into L2,
 * not L1: the same prefetch into L1 brought nothing (29-30 GB/s). A kernel calls pf_l2_row for
 * row r + pf_l2_rows(span) when it starts row r, after pf_l2_first for the first rows of its
 * range. Only the kernels slow enough per byte take it (packed Q4_0/Q4_1/Q5_0/Q5_1, Q4_K rows
 * with tail blocks): in the faster ones (packed Q8_0, Q6_K, Q4_K rows of whole groups) the
 * hardware keeps up alone and the prefetches cost load slots the arithmetic needs (in cache:
 * Q6_K 103 -> 88 GB/s; from RAM Q4_K rows of 8192 41 -> 31).
 */
#define PF_L2_AHEAD 8192

/* How many rows of `span` bytes (> 0) make PF_L2_AHEAD. */
INLINE int pf_l2_rows(size_t span)
{
    return (int)((PF_L2_AHEAD + span - 1) / span);
}

/* Into L2: the lines of bytes [off, off + span) of row r of W (row stride wrb), when r < re. */
INLINE void pf_l2_row(const uint8_t *W, size_t wrb, int r, int re, size_t off, size_t span)
{
    if (r >= re)
        return;
    const uintptr_t s = (uintptr_t)(W + (size_t)r * wrb + off); /* lines from the one s is in */
    for (uintptr_t a = s & ~(uintptr_t)63; a < s + span; a += 64)
        _mm_prefetch((const char *)a, _MM_HINT_T1);
}

/* The rows [rb, rb + ahead) of a range [rb, re) (ahead = pf_l2_rows(span)), which no row
 * before them requested. */
INLINE void pf_l2_first(const uint8_t *W, size_t wrb, int rb, int re, size_t off, size_t span, int ahead)
{
    for (int r = rb; r < rb + ahead && r < re; r++)
        pf_l2_row(W, wrb, r, re, off, span);
}

/* Lane c = the sum of the lanes of v[c] for c < n (a constant <= 8), 0 for c >= n. */
INLINE __m256 hsum8_ps(const __m256 *v, int n)
{
    const __m256 z = _mm256_setzero_ps();
    __m256 h01 = _mm256_hadd_ps(v[0], n > 1 ? v[1] : z), h23 = _mm256_hadd_ps(n > 2 ? v[2] : z, n > 3 ? v[3] : z);
    __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = z;
    if (n > 4) {
        __m256 h45 = _mm256_hadd_ps(v[4], n > 5 ? v[5] : z), h67 = _mm256_hadd_ps(n > 6 ? v[6] : z, n > 7 ? v[7] : z);
        q1 = _mm256_hadd_ps(h45, h67);
    }
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
}

/* One weight pair (pair index pi, lanes `lane`, lane + 1 of dw8) against nc activation rows. */
INLINE void sn_pair(enum cove_ggml_type t, int nc, const uint8_t *wb, size_t wbs, bool two, const sn_act *a,
                    int pi, __m256 dw8, int lane, __m256 *acc)
{
    __m256i lo, hi;
    sn_wpair(t, wb, wbs, two, &lo, &hi);
    const __m256i idx = _mm256_setr_epi32(lane, lane, lane, lane, lane + 1, lane + 1, lane + 1, lane + 1);
    const __m256 dw2 = _mm256_permutevar8x32_ps(dw8, idx);
    UNROLL
    for (int c = 0; c < nc; c++) {
        __m256i is = sn_dot(t, lo, hi, &a[c], pi);
        __m256 sc = _mm256_mul_ps(dw2, _mm256_load_ps(a[c].dy2[pi]));
        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), sc, acc[c]);
    }
}

/*
 * Weight rows [rb, re) (nb blocks from W) against nc (a constant <= SN_MAX)
 * prepared activation rows: Y[c * ldy + r] is set, or added to when `add`.
 */
INLINE void sn_rows(enum cove_ggml_type t, int nc, const uint8_t *W, size_t wrb, int rb, int re, int nb,
                    const sn_act *a, float *Y, size_t ldy, bool add)
{
    const bool q81 = uses_q8_1(t);
    const size_t wbs = wbytes32(t);
    const size_t m_off = t == COVE_TYPE_Q4_1 ? offsetof(block_q4_1, m) : offsetof(block_q5_1, m);
    for (int r = rb; r < re; r++) {
        const uint8_t *wr = W + (size_t)r * wrb;
        __m256 acc[SN_MAX];
        UNROLL
        for (int c = 0; c < nc; c++)
            acc[c] = _mm256_setzero_ps();
        sn_prefetch(W, wrb, r + SN_PF_ROWS, re, (size_t)nb * wbs);
        for (int g = 0; g < nb; g += 8) {
            const int n8 = nb - g < 8 ? nb - g : 8;
            const uint8_t *wg = wr + (size_t)g * wbs;
            if (q81) { /* the min term: m of each block times s of the activation block */
                const __m256 mw8 = scales8(wg + m_off, wbs, n8);
                UNROLL
                for (int c = 0; c < nc; c++)
                    acc[c] = _mm256_fmadd_ps(mw8, _mm256_load_ps(a[c].sy + g), acc[c]);
            }
            const __m256 dw8 = scales8(wg, wbs, n8);
            if (n8 == 8) {
                UNROLL
                for (int p = 0; p < 4; p++)
                    sn_pair(t, nc, wg + (size_t)(2 * p) * wbs, wbs, true, a, g / 2 + p, dw8, 2 * p, acc);
            } else {
                for (int p = 0; 2 * p < n8; p++)
                    sn_pair(t, nc, wg + (size_t)(2 * p) * wbs, wbs, 2 * p + 1 < n8, a, g / 2 + p, dw8, 2 * p,
                            acc);
            }
        }
        alignas(32) float sum[8];
        _mm256_store_ps(sum, hsum8_ps(acc, nc));
        UNROLL
        for (int c = 0; c < nc; c++) {
            float *o = Y + (size_t)c * ldy + (size_t)r;
            *o = add ? *o + sum[c] : sum[c];
        }
    }
}

/*
 * The batch product of a 32-element type (cove_quant_batch_fn): n_x
 * activation rows in passes of at most SN_MAX (evenly split: 9 = 5 + 4), k in
 * chunks of SN_KMAX.
 */
INLINE void batch32(enum cove_ggml_type t, int k, const uint8_t *W, size_t wrb, int rb, int re,
                    const uint8_t *Xq, size_t xrb, int n_x, float *Y, size_t ldy)
{
    const size_t ybs = uses_q8_1(t) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int nb_all = k / QK32;
    sn_act a[SN_MAX];
    for (int j0 = 0; j0 < n_x;) {
        const int nc = sn_pass_rows(n_x - j0);
        float *Yp = Y + (size_t)j0 * ldy;
        for (int b0 = 0; b0 < nb_all; b0 += SN_KMAX / QK32) {
            const int nb = nb_all - b0 < SN_KMAX / QK32 ? nb_all - b0 : SN_KMAX / QK32;
            const uint8_t *Wc = W + (size_t)b0 * wbytes32(t);
            const bool add = b0 > 0;
            for (int c = 0; c < nc; c++)
                sn_prepare(t, Xq + (size_t)(j0 + c) * xrb + (size_t)b0 * ybs, nb, &a[c]);
#define CALL(n) sn_rows(t, n, Wc, wrb, rb, re, nb, a, Yp, ldy, add)
            NC_SWITCH8(nc, CALL)
#undef CALL
        }
        j0 += nc;
    }
}

#define BATCH32(name, T)                                                                            \
    static void name##_batch(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, \
                             size_t xrb, int n_x, float *Y, size_t ldy)                             \
    {                                                                                               \
        batch32(T, k, W, wrb, rb, re, Xq, xrb, n_x, Y, ldy);                                        \
    }

/* One block of a 32-element dot: int32 partial sums of w . y, the offset removed. */
INLINE __m256i bdot32(enum cove_ggml_type t, const uint8_t *wb, const uint8_t *yq)
{
    const __m256i z = _mm256_setzero_si256();
    __m256i w = wq32(t, wb), y = _mm256_loadu_si256((const __m256i *)yq);
    if (t == COVE_TYPE_Q8_0)
        return dot_u8s8(z, _mm256_abs_epi8(w), _mm256_sign_epi8(y, w));
    __m256i is = dot_u8s8(z, w, y);
    if (off32(t))
        is = _mm256_sub_epi32(is, dot_u8s8(z, _mm256_set1_epi8((char)off32(t)), y));
    return is;
}

/*
 * The decode dot of 32-element types: one block per step, the f16 scales of
 * 8 blocks converted and multiplied at once, two accumulators.
 */
INLINE float dot32(enum cove_ggml_type t, int n, const void *x, const void *y)
{
    const bool q81 = uses_q8_1(t);
    const size_t wbs = wbytes32(t), ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = q81 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const size_t m_off = t == COVE_TYPE_Q4_1 ? offsetof(block_q4_1, m) : offsetof(block_q5_1, m);
    const uint8_t *wr = x, *yr = y;
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, accm = _mm256_setzero_ps();
    const int nb = n / QK32;
    for (int g = 0; g < nb; g += 8) {
        const int n8 = nb - g < 8 ? nb - g : 8;
        const uint8_t *wg = wr + (size_t)g * wbs, *yg = yr + (size_t)g * ybs;
        __m256 d8 = _mm256_mul_ps(scales8(wg, wbs, n8), scales8(yg, ybs, n8));
        if (q81)
            accm = _mm256_fmadd_ps(scales8(wg + m_off, wbs, n8), scales8(yg + 2, ybs, n8), accm);
        if (n8 == 8) {
            UNROLL
            for (int b = 0; b < 8; b++) {
                __m256i is = bdot32(t, wg + (size_t)b * wbs, yg + (size_t)b * ybs + yq);
                __m256 sc = _mm256_permutevar8x32_ps(d8, _mm256_set1_epi32(b));
                acc[b & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), sc, acc[b & 1]);
            }
        } else {
            for (int b = 0; b < n8; b++) {
                __m256i is = bdot32(t, wg + (size_t)b * wbs, yg + (size_t)b * ybs + yq);
                __m256 sc = _mm256_permutevar8x32_ps(d8, _mm256_set1_epi32(b));
                acc[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), sc, acc[0]);
            }
        }
    }
    return hsum_ps(_mm256_add_ps(acc[0], acc[1])) + (q81 ? hsum_ps(accm) : 0.0f);
}

/* ---- k-quants ---- */

/* Byte offset of a k-quant block's parts, and its size. */
INLINE size_t kbytes(enum cove_ggml_type t)
{
    switch (t) {
    case COVE_TYPE_Q2_K: return sizeof(block_q2_K);
    case COVE_TYPE_Q3_K: return sizeof(block_q3_K);
    case COVE_TYPE_Q4_K: return sizeof(block_q4_K);
    case COVE_TYPE_Q5_K: return sizeof(block_q5_K);
    default: return sizeof(block_q6_K);
    }
}

/* v shifted left by s bits (s < 0: right) in each 16-bit lane; s is a constant after unrolling. */
INLINE __m256i shl16(__m256i v, int s)
{
    return s >= 0 ? _mm256_sll_epi16(v, _mm_cvtsi32_si128(s)) : _mm256_srl_epi16(v, _mm_cvtsi32_si128(-s));
}

/*
 * Elements 32c .. 32c + 31 of a k-quant block as unsigned bytes (the
 * canonical q of quants_int.h). Called with a constant c in unrolled loops,
 * so loads shared by several chunks are made once.
 */
INLINE __m256i kchunk(enum cove_ggml_type t, const uint8_t *blk, int c)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    switch (t) {
    case COVE_TYPE_Q2_K: case COVE_TYPE_Q3_K: {
        const uint8_t *qs = t == COVE_TYPE_Q2_K ? ((const block_q2_K *)blk)->qs
                                                : ((const block_q3_K *)blk)->qs;
        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * (c / 4)));
        v = _mm256_and_si256(shl16(v, -2 * (c % 4)), m3);
        if (t == COVE_TYPE_Q2_K)
            return v;
        __m256i h = _mm256_loadu_si256((const __m256i *)((const block_q3_K *)blk)->hmask);
        return _mm256_or_si256(v, _mm256_and_si256(shl16(h, 2 - c), _mm256_set1_epi8(4)));
    }
    case COVE_TYPE_Q4_K: case COVE_TYPE_Q5_K: {
        const uint8_t *qs = t == COVE_TYPE_Q4_K ? ((const block_q4_K *)blk)->qs
                                                : ((const block_q5_K *)blk)->qs;
        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * (c / 2)));
        v = _mm256_and_si256(c & 1 ? _mm256_srli_epi16(v, 4) : v, m4);
        if (t == COVE_TYPE_Q4_K)
            return v;
        __m256i h = _mm256_loadu_si256((const __m256i *)((const block_q5_K *)blk)->qh);
        return _mm256_or_si256(v, _mm256_and_si256(shl16(h, 4 - c), _mm256_set1_epi8(0x10)));
    }
    default: {
        const block_q6_K *b = (const block_q6_K *)blk;
        const int n = c / 4, tt = c % 4;
        __m256i l = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * n + 32 * (tt & 1)));
        __m256i h = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * n));
        l = _mm256_and_si256(tt < 2 ? l : _mm256_srli_epi16(l, 4), m4);
        return _mm256_or_si256(l, _mm256_and_si256(shl16(h, 4 - 2 * tt), _mm256_set1_epi8(0x30)));
    }
    }
}

/* Canonical scales of one block in registers: 16 int16 scales and mins, d and dmin. */
typedef struct {
    __m256i sc, mn;
    float d, dmin;
} kscr;

/* The 12 scale bytes of Q3_K..Q5_K as u32 words [u0, u1, u2, 0]. */
INLINE __m128i load12(const uint8_t *s)
{
    uint32_t u2;
    memcpy(&u2, s + 8, 4);
    return _mm_insert_epi32(_mm_loadl_epi64((const __m128i *)s), (int)u2, 2);
}

/* quant_scales_q4_K in a register, word-parallel: bytes 0-7 the scales, 8-15 the mins. */
INLINE __m128i q4_K_sm(const uint8_t *s)
{
    __m128i x = load12(s);
    __m128i t = _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 1, 2, 0)); /* u0 u2 u1 u2 */
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(t, _mm_setr_epi32(0, 0, 0, 4)),
                               _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i h = _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 1, 0, 0)); /* u0 u0 u1 u1 */
    h = _mm_slli_epi32(_mm_srli_epi32(h, 6), 4);
    h = _mm_and_si128(h, _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(lo, h);
}

/* quant_scales_q3_K in a register, word-parallel: byte g the biased (+32) scale of group g. */
INLINE __m128i q3_K_sc(const uint8_t *s)
{
    __m128i x = load12(s);
    __m128i t = _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 1, 0)); /* u0 u1 u0 u1 */
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(t, _mm_setr_epi32(0, 0, 4, 4)), _mm_set1_epi8(0x0f));
    __m128i h = _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 2, 2, 2));
    h = _mm_and_si128(_mm_srlv_epi32(h, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
    return _mm_or_si128(lo, _mm_slli_epi32(h, 4));
}

INLINE kscr kscales(enum cove_ggml_type t, const uint8_t *blk)
{
    kscr k;
    const __m128i m4 = _mm_set1_epi8(0x0f);
    switch (t) {
    case COVE_TYPE_Q2_K: {
        const block_q2_K *b = (const block_q2_K *)blk;
        __m128i v = _mm_loadu_si128((const __m128i *)b->scales);
        k.sc = _mm256_cvtepu8_epi16(_mm_and_si128(v, m4));
        k.mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), m4));
        k.d = f16(b->d);
        k.dmin = f16(b->dmin);
        break;
    }
    case COVE_TYPE_Q3_K: {
        const block_q3_K *b = (const block_q3_K *)blk;
        k.sc = _mm256_sub_epi16(_mm256_cvtepu8_epi16(q3_K_sc(b->scales)), _mm256_set1_epi16(32));
        k.mn = _mm256_slli_epi16(k.sc, 2);
        k.d = k.dmin = f16(b->d);
        break;
    }
    case COVE_TYPE_Q4_K: case COVE_TYPE_Q5_K: {
        const block_q4_K *b4 = (const block_q4_K *)blk;
        const block_q5_K *b5 = (const block_q5_K *)blk;
        __m128i v = q4_K_sm(t == COVE_TYPE_Q4_K ? b4->scales : b5->scales);
        k.sc = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
        k.mn = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(v, v));
        k.d = f16(t == COVE_TYPE_Q4_K ? b4->d : b5->d);
        k.dmin = f16(t == COVE_TYPE_Q4_K ? b4->dmin : b5->dmin);
        break;
    }
    default: {
        const block_q6_K *b = (const block_q6_K *)blk;
        k.sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        k.mn = _mm256_slli_epi16(k.sc, 5);
        k.d = k.dmin = f16(b->d);
        break;
    }
    }
    return k;
}

/* Canonical scales of one block (see quants_int.h), laid out for vector loads. */
typedef struct {
    alignas(32) int16_t sc[16];
    alignas(32) int16_t mn[16];
    float d, dmin;
} kscv;

/* Unpack block i of a k-quant row to memory: q[256] (32-aligned) and scales. */
INLINE void kdec(enum cove_ggml_type t, const void *row, int i, uint8_t *q, kscv *k)
{
    const uint8_t *blk = (const uint8_t *)row + (size_t)i * kbytes(t);
    kscr r = kscales(t, blk);
    _mm256_store_si256((__m256i *)k->sc, r.sc);
    _mm256_store_si256((__m256i *)k->mn, r.mn);
    k->d = r.d;
    k->dmin = r.dmin;
    UNROLL
    for (int c = 0; c < 8; c++)
        _mm256_store_si256((__m256i *)(q + 32 * c), kchunk(t, blk, c));
}

/* The scales of groups 2c (low 128 bits) and 2c + 1 (high), each in 8 int16 lanes. */
INLINE __m256i kscale2(const int16_t *sc, int c)
{
    const __m256i shuf = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2,
                                          3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    int32_t v;
    memcpy(&v, sc + 2 * c, 4);
    return _mm256_shuffle_epi8(_mm256_set1_epi32(v), shuf);
}

/*
 * The scales of groups 2c (low 128 bits) and 2c + 1 (high) from registers:
 * lo holds groups 0-7 in both 128-bit lanes, hi groups 8-15, so one vpshufb
 * picks them.
 */
INLINE __m256i kscale2r(__m256i lo, __m256i hi, int c)
{
    const char a = (char)(4 * (c % 4)), b = (char)(a + 1); /* bytes of group 2c in its lane */
    const char e = (char)(a + 2), f = (char)(a + 3);           /* and of group 2c + 1 */
    const __m256i shuf = _mm256_setr_epi8(a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b,
                                          e, f, e, f, e, f, e, f, e, f, e, f, e, f, e, f);
    return _mm256_shuffle_epi8(c < 4 ? lo : hi, shuf);
}

/* acc + (int16 pairs of p) . s, with vpdpwssd where this file is built with AVX512-VNNI. */
INLINE __m256i madd_acc(__m256i acc, __m256i p, __m256i s)
{
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpwssd_epi32(acc, p, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
#endif
}

/*
 * d*dy*isum - dmin*dy*msum added to acc, msum = mins . bsums (Q3_K/Q6_K:
 * dmin == d, so the min term is folded in as an integer).
 */
INLINE __m256 kfinish(enum cove_ggml_type t, __m256i isum, __m256i mins, float d, float dmin,
                      const block_q8_K *y, __m256 acc)
{
    __m256i m = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y->bsums));
    if (t == COVE_TYPE_Q3_K || t == COVE_TYPE_Q6_K)
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(isum, m)), _mm256_set1_ps(d * y->d), acc);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * y->d), acc);
    return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(dmin * y->d), acc);
}

/* Dot of a k-quant row with a Q8_K row, decoding each block in registers. */
INLINE float kdot(enum cove_ggml_type t, int n, const void *x, const void *y)
{
    const block_q8_K *yb = y;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        const uint8_t *blk = (const uint8_t *)x + (size_t)i * kbytes(t);
        kscr k = kscales(t, blk);
        __m256i slo = _mm256_permute4x64_epi64(k.sc, 0x44), shi = _mm256_permute4x64_epi64(k.sc, 0xee);
        __m256i is[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        UNROLL
        for (int c = 0; c < 8; c++) {
            __m256i p = _mm256_maddubs_epi16(kchunk(t, blk, c),
                                             _mm256_loadu_si256((const __m256i *)(yb[i].qs + 32 * c)));
            is[c & 1] = madd_acc(is[c & 1], p, kscale2r(slo, shi, c));
        }
        acc = kfinish(t, _mm256_add_epi32(is[0], is[1]), k.mn, k.d, k.dmin, &yb[i], acc);
    }
    return hsum_ps(acc);
}


/*
 * Batches of k-quants (cove_quant_batch_fn): each super-block of a
 * weight row is decoded once into registers (its 8 chunks of 32 and its
 * scales, as kdot does) and meets up to SN_MAX activation rows, read in
 * place (Q8_K needs no preparing). Each (chunk, activation row) costs a
 * vpmaddubsw and a scale multiply-add; each (block, row) a kfinish.
 */
INLINE void kbatch_rows(enum cove_ggml_type t, int nc, const uint8_t *W, size_t wrb, int rb, int re, int nb,
                        const block_q8_K *const *y, float *Y, size_t ldy)
{
    for (int r = rb; r < re; r++) {
        const uint8_t *wr = W + (size_t)r * wrb;
        __m256 acc[SN_MAX];
        UNROLL
        for (int c = 0; c < nc; c++)
            acc[c] = _mm256_setzero_ps();
        sn_prefetch(W, wrb, r + SN_PF_ROWS, re, (size_t)nb * kbytes(t));
        for (int i = 0; i < nb; i++) {
            const uint8_t *blk = wr + (size_t)i * kbytes(t);
            kscr k = kscales(t, blk);
            __m256i slo = _mm256_permute4x64_epi64(k.sc, 0x44), shi = _mm256_permute4x64_epi64(k.sc, 0xee);
            __m256i is[SN_MAX];
            UNROLL
            for (int c = 0; c < nc; c++)
                is[c] = _mm256_setzero_si256();
            UNROLL
            for (int ch = 0; ch < 8; ch++) {
                __m256i wv = kchunk(t, blk, ch), sv = kscale2r(slo, shi, ch);
                UNROLL
                for (int c = 0; c < nc; c++) {
                    __m256i p = _mm256_maddubs_epi16(wv, _mm256_loadu_si256((const __m256i *)(y[c][i].qs + 32 * ch)));
                    is[c] = madd_acc(is[c], p, sv);
                }
            }
            UNROLL
            for (int c = 0; c < nc; c++)
                acc[c] = kfinish(t, is[c], k.mn, k.d, k.dmin, &y[c][i], acc[c]);
        }
        alignas(32) float sum[8];
        _mm256_store_ps(sum, hsum8_ps(acc, nc));
        UNROLL
        for (int c = 0; c < nc; c++)
            Y[(size_t)c * ldy + (size_t)r] = sum[c];
    }
}

INLINE void kbatch(enum cove_ggml_type t, int k, const uint8_t *W, size_t wrb, int rb, int re,
                   const uint8_t *Xq, size_t xrb, int n_x, float *Y, size_t ldy)
{
    const int nb = k / QK_K;
    for (int j0 = 0; j0 < n_x;) {
        const int nc = sn_pass_rows(n_x - j0);
        const block_q8_K *y[SN_MAX];
        for (int c = 0; c < nc; c++)
            y[c] = (const block_q8_K *)(const void *)(Xq + (size_t)(j0 + c) * xrb);
        float *Yp = Y + (size_t)j0 * ldy;
#define CALL(n) kbatch_rows(t, n, W, wrb, rb, re, nb, y, Yp, ldy)
        NC_SWITCH8(nc, CALL)
#undef CALL
        j0 += nc;
    }
}

#define BATCHK(name, T)                                                                             \
    static void name##_batch(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, \
                             size_t xrb, int n_x, float *Y, size_t ldy)                             \
    {                                                                                               \
        kbatch(T, k, W, wrb, rb, re, Xq, xrb, n_x, Y, ldy);                                         \
    }

/* The batch kernels of every type this level compiles, and the function that puts them
 * into a table indexed by type (one expansion per level file, with that file's flags). */
#define BATCH_FILL(fill_name)                                                                       \
    BATCH32(q4_0, COVE_TYPE_Q4_0)                                                                   \
    BATCH32(q4_1, COVE_TYPE_Q4_1)                                                                   \
    BATCH32(q5_0, COVE_TYPE_Q5_0)                                                                   \
    BATCH32(q5_1, COVE_TYPE_Q5_1)                                                                   \
    BATCH32(q8_0, COVE_TYPE_Q8_0)                                                                   \
    BATCHK(q2_K, COVE_TYPE_Q2_K)                                                                    \
    BATCHK(q3_K, COVE_TYPE_Q3_K)                                                                    \
    BATCHK(q4_K, COVE_TYPE_Q4_K)                                                                    \
    BATCHK(q5_K, COVE_TYPE_Q5_K)                                                                    \
    BATCHK(q6_K, COVE_TYPE_Q6_K)                                                                    \
    void fill_name(cove_quant_batch_fn fns[COVE_TYPE_COUNT])                                        \
    {                                                                                               \
        fns[COVE_TYPE_Q2_K] = q2_K_batch, fns[COVE_TYPE_Q3_K] = q3_K_batch;                         \
        fns[COVE_TYPE_Q4_K] = q4_K_batch, fns[COVE_TYPE_Q5_K] = q5_K_batch;                         \
        fns[COVE_TYPE_Q6_K] = q6_K_batch, fns[COVE_TYPE_Q4_0] = q4_0_batch;                         \
        fns[COVE_TYPE_Q4_1] = q4_1_batch, fns[COVE_TYPE_Q5_0] = q5_0_batch;                         \
        fns[COVE_TYPE_Q5_1] = q5_1_batch, fns[COVE_TYPE_Q8_0] = q8_0_batch;                         \
    }

/*
 * The decode kernels of the five 32-element types from a template run(t, k, W, wrb, rb, re,
 * Xq, Y) (one activation row; in the shape of cove_quant_batch_fn) and the function that puts
 * them into a table indexed by type (one expansion per file, with that file's flags).
 */
#define DECODE32_ONE(run, name, T)                                                                  \
    static void name##_##run(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, \
                             size_t xrb, int n_x, float *Y, size_t ldy)                             \
    {                                                                                               \
        (void)xrb, (void)n_x, (void)ldy;                                                            \
        run(T, k, W, wrb, rb, re, Xq, Y);                                                           \
    }
#define DECODE32_FILL(fill_name, run)                                                               \
    DECODE32_ONE(run, q4_0, COVE_TYPE_Q4_0)                                                         \
    DECODE32_ONE(run, q4_1, COVE_TYPE_Q4_1)                                                         \
    DECODE32_ONE(run, q5_0, COVE_TYPE_Q5_0)                                                         \
    DECODE32_ONE(run, q5_1, COVE_TYPE_Q5_1)                                                         \
    DECODE32_ONE(run, q8_0, COVE_TYPE_Q8_0)                                                         \
    void fill_name(cove_quant_batch_fn fns[COVE_TYPE_COUNT])                                        \
    {                                                                                               \
        fns[COVE_TYPE_Q4_0] = q4_0_##run, fns[COVE_TYPE_Q4_1] = q4_1_##run;                         \
        fns[COVE_TYPE_Q5_0] = q5_0_##run, fns[COVE_TYPE_Q5_1] = q5_1_##run;                         \
        fns[COVE_TYPE_Q8_0] = q8_0_##run;                                                           \
    }

#endif
