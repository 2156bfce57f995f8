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
 * kdot, right after the row's groups. A row's arithmetic does not depend on its neighbours
 * or on the row range, so any split of the rows between threads gives the same Y.
 *
 * quants_packk_gfni.c builds this file again with -mgfni (for CPUs with GFNI, the
 * avx512vbmi level): the high nibbles of a Q4_K vector come out of one gf2p8affineqb (a bit
 * matrix that moves bits 4-7 of each byte to 0-3) instead of a shift and an and (one thread,
 * in cache, rows of 2048: 1.83 -> 1.60-1.71 ns per 128 elements). The results are the same.
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

/* The activations of one Q4_K group (4 blocks), laid out as the packed weights are. */
typedef struct {
    alignas(64) int8_t y[16][64]; /* vector v < 8: pairs 0-15, v >= 8: 16-31 (as the weights) */
    alignas(64) int16_t ysum[32]; /* sum of each pair's 32 activations */
    alignas(32) float dy[8];      /* dy of the 4 blocks, twice */
} q4k_grp;

static void q4k_prepare(const block_q8_K *yb, int nb, q4k_grp *a)
{
    for (int G = 0; G < nb / Q4K_G; G++) {
        for (int i = 0; i < 16; i++) {
            const block_q8_K *lo = &yb[Q4K_G * G + i / 8], *hi = &yb[Q4K_G * G + 2 + i / 8];
            for (int v = 0; v < 8; v++) {
                const int e = 32 * (i % 8) + 4 * v;
                memcpy(&a[G].y[v][4 * i], lo->qs + e, 4);
                memcpy(&a[G].y[8 + v][4 * i], hi->qs + e, 4);
            }
        }
        for (int p = 0; p < 32; p++) {
            const block_q8_K *b = &yb[Q4K_G * G + p / 8];
            a[G].ysum[p] = (int16_t)(b->bsums[2 * (p % 8)] + b->bsums[2 * (p % 8) + 1]);
        }
        for (int b = 0; b < 4; b++)
            a[G].dy[b] = a[G].dy[4 + b] = yb[Q4K_G * G + b].d;
    }
}

/* Constant vectors of the Q4_K kernel, loaded once per call. */
typedef struct {
    __m512i cl, cr;        /* word shifts that bring bits 2j, 2j + 1 of lane j to bits 4, 5 */
    __m512i ilo, ihi, imn; /* the lanes' block among [d*dy x 4, dmin*dy x 4] */
} q4k_iv;

/* The scales of a packed group: per pair (lanes of the lo and hi accumulators) and the mins
 * as words; d and dmin of the 4 blocks as floats. */
typedef struct {
    __m512i sclo, schi, mn;
    __m256 d;
} q4k_sc;

INLINE q4k_sc q4k_scales(const uint8_t *p, const q4k_iv *iv)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m256i L = _mm256_loadu_si256((const __m256i *)(p + 512));
    LOAD_ONCE(L);
    const __m512i Lz = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(L), _mm256_srli_epi16(L, 4), 1), m4);
    __m512i H = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + 544)));
    H = _mm512_srlv_epi16(_mm512_sllv_epi16(H, iv->cl), iv->cr);
    const __m512i S = _mm512_ternarylogic_epi32(H, _mm512_set1_epi8(0x30), Lz, 0xEA); /* (H & 0x30) | Lz */
    q4k_sc r;
    r.sclo = _mm512_cvtepu8_epi32(_mm512_castsi512_si128(S)); /* bytes 0-31: scales, 32-63: mins */
    r.schi = _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(S, 1));
    r.mn = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(S, 1));
    r.d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 560)));
    return r;
}

/* The pairs' integer sums alo, ahi of a group against activations a, scaled: acc += the dot product. */
INLINE __m512 q4k_finish(const q4k_sc *sc, __m512i alo, __m512i ahi, const q4k_grp *a, const q4k_iv *iv,
                         __m512 acc)
{
    const __m512i mn = _mm512_madd_epi16(sc->mn, _mm512_load_si512(a->ysum));
    const __m512 ddz = _mm512_castps256_ps512(_mm256_mul_ps(sc->d, _mm256_load_ps(a->dy)));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(alo, sc->sclo)), _mm512_permutexvar_ps(iv->ilo, ddz), acc);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(ahi, sc->schi)), _mm512_permutexvar_ps(iv->ihi, ddz), acc);
    return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mn), _mm512_permutexvar_ps(iv->imn, ddz), acc);
}

/* One packed group at p against the activations of group a: acc += its dot product. */
INLINE __m512 q4k_group(const uint8_t *p, const q4k_grp *a, const q4k_iv *iv, __m512 acc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
    UNROLL
    for (int v = 0; v < 8; v++) {
        __m512i P = _mm512_loadu_si512((const void *)(p + 64 * v));
        LOAD_ONCE(P);
        const __m512i lo = _mm512_and_si512(P, m4), hi = HI_NIBBLE(P, m4);
        s[v & 1] = _mm512_dpbusd_epi32(s[v & 1], lo, _mm512_load_si512(a->y[v]));
        s[2 + (v & 1)] = _mm512_dpbusd_epi32(s[2 + (v & 1)], hi, _mm512_load_si512(a->y[8 + v]));
    }
    const q4k_sc sc = q4k_scales(p, iv);
    return q4k_finish(&sc, _mm512_add_epi32(s[0], s[1]), _mm512_add_epi32(s[2], s[3]), a, iv, acc);
}

INLINE float q4k_row(const uint8_t *wr, int nb, const q4k_grp *a, const q4k_iv *iv)
{
    const size_t gb = Q4K_G * sizeof(block_q4_K);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int G = 0;
    for (; G + 2 <= nb / Q4K_G; G += 2) {
        acc0 = q4k_group(wr + (size_t)G * gb, &a[G], iv, acc0);
        acc1 = q4k_group(wr + (size_t)(G + 1) * gb, &a[G + 1], iv, acc1);
    }
    if (G < nb / Q4K_G)
        acc0 = q4k_group(wr + (size_t)G * gb, &a[G], iv, acc0);
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* The constant vectors of the Q4_K kernels. */
INLINE q4k_iv q4k_consts(void)
{
    const q4k_iv iv = {
        _mm512_setr_epi64(0x0004000400040004, 0x0004000400040004, 0x0002000200020002, 0x0002000200020002, 0, 0, 0, 0),
        _mm512_setr_epi64(0, 0, 0, 0, 0, 0, 0x0002000200020002, 0x0002000200020002),
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
        _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
        _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7),
    };
    return iv;
}

/* kdot of the blocks of row wr after its last whole group (file layout); whole < nb_all. */
INLINE float q4k_tail_dot(int nb_all, int whole, const uint8_t *wr, const block_q8_K *yb)
{
    return kdot(COVE_TYPE_Q4_K, (nb_all - whole) * QK_K, wr + (size_t)whole * sizeof(block_q4_K), yb + whole);
}

/* Y[i] = kdot of rows [rb, re) that are shorter than one group (all their blocks). */
static void q4k_short(int nb_all, const uint8_t *W, size_t wrb, int rb, int re, const block_q8_K *yb, float *Y)
{
    for (int i = rb; i < re; i++)
        Y[i] = q4k_tail_dot(nb_all, 0, W + (size_t)i * wrb, yb);
}

/*
 * The tail blocks of a row go right after its last groups, in the same pass: a second pass
 * over the rows for them read each row's end long after its start, out of the hardware
 * prefetcher's stream (rows of 2560, two threads, bench_kernels: decode from RAM 22 -> 35
 * GB/s, 57% -> 86% of the read rate). Rows with tail blocks, whose kdot is slower per byte
 * than the groups (in cache 60 GB/s at 2560 against 87 at 2048, two threads), take the L2
 * prefetch of quants_x86.h (from RAM, medians of 5 runs: 34.4 -> 40.2 GB/s, 80% -> 93% of the
 * read rate); rows of whole groups do without it (rows of 2048: 39.5 -> 34.1, 8192: 41.4 ->
 * 30.7; their prefetches cost load slots the faster arithmetic needs: in cache 87 -> 81 and
 * 99 -> 71). Neither takes the prefetch of the row two ahead into L1 tried before (two
 * threads, from RAM: rows of 8192 22-32 -> 36-40 GB/s without it).
 */
static void q4k_run(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, float *Y)
{
    const block_q8_K *yb = (const block_q8_K *)(const void *)Xq;
    const q4k_iv iv = q4k_consts();
    const int nb_all = k / QK_K, whole = nb_all / Q4K_G * Q4K_G;
    const bool tails = whole < nb_all;
    q4k_grp a[Q4K_GROUPS];
    for (int b0 = 0; b0 < whole; b0 += PKK_BLOCKS) {
        const int nb = whole - b0 < PKK_BLOCKS ? whole - b0 : PKK_BLOCKS, last = b0 + nb == whole;
        q4k_prepare(yb + b0, nb, a);
        /* a row's bytes of this chunk, its tail blocks with the last chunk */
        const size_t off = (size_t)b0 * sizeof(block_q4_K);
        const size_t span = (size_t)((last ? nb_all : b0 + nb) - b0) * sizeof(block_q4_K);
        const int ahead = pf_l2_rows(span);
        if (tails)
            pf_l2_first(W, wrb, rb, re, off, span, ahead);
        for (int i = rb; i < re; i++) {
            const uint8_t *wr = W + (size_t)i * wrb;
            if (tails)
                pf_l2_row(W, wrb, i + ahead, re, off, span);
            float s = q4k_row(wr + (size_t)b0 * sizeof(block_q4_K), nb, a, &iv);
            s = b0 ? Y[i] + s : s;
            Y[i] = last && tails ? s + q4k_tail_dot(nb_all, whole, wr, yb) : s;
        }
    }
    if (whole == 0)
        q4k_short(nb_all, W, wrb, rb, re, yb, Y);
}

/* ---- Q6_K ---- */

/* The activations of one Q6_K block, laid out as the packed weights are. */
typedef struct {
    alignas(64) int8_t y[4][64]; /* vector s: byte 4g + j = activation 16g + 4s + j */
    alignas(64) int32_t noff[16]; /* -32 * the sum of pair g's activations */
    float dy;
} q6k_blk;

static void q6k_prepare(const block_q8_K *yb, int nb, q6k_blk *a)
{
    for (int b = 0; b < nb; b++) {
        for (int g = 0; g < 16; g++) {
            for (int s = 0; s < 4; s++)
                memcpy(&a[b].y[s][4 * g], yb[b].qs + 16 * g + 4 * s, 4);
            a[b].noff[g] = -32 * (int32_t)yb[b].bsums[g];
        }
        a[b].dy = yb[b].d;
    }
}

/* A packed block decoded: the 4 sets of 64 elements (0..63), the pairs' scales, d. */
typedef struct {
    __m512i x[4], sc;
    float d;
} q6k_w;

INLINE q6k_w q6k_decode(const uint8_t *p)
{
    const __m512i m63 = _mm512_set1_epi8(0x3f);
    __m512i V0 = _mm512_loadu_si512((const void *)p), V1 = _mm512_loadu_si512((const void *)(p + 64)),
            V2 = _mm512_loadu_si512((const void *)(p + 128));
    LOAD_ONCE(V0);
    LOAD_ONCE(V1);
    LOAD_ONCE(V2);
    q6k_w w;
    w.x[0] = _mm512_and_si512(V0, m63), w.x[1] = _mm512_and_si512(V1, m63), w.x[2] = _mm512_and_si512(V2, m63);
    /* the 4th element of each 4: bits 6-7 of V0, V1, V2 to bits 0-1, 2-3, 4-5 (select: C ? A : B) */
    __m512i x3 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(V2, 2), _mm512_srli_epi16(V1, 4),
                                           _mm512_set1_epi8(0x30), 0xE4);
    x3 = _mm512_ternarylogic_epi32(x3, _mm512_srli_epi16(V0, 6), _mm512_set1_epi8(0x3c), 0xE4);
    w.x[3] = _mm512_and_si512(x3, m63);
    w.sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 192)));
    uint16_t dh;
    memcpy(&dh, p + 208, 2);
    w.d = f16(dh);
    return w;
}

/* A decoded block against the activations of block a: acc += its dot product. */
INLINE __m512 q6k_apply(const q6k_w *w, const q6k_blk *a, __m512 acc)
{
    __m512i a0 = _mm512_dpbusd_epi32(_mm512_load_si512(a->noff), w->x[0], _mm512_load_si512(a->y[0]));
    __m512i a1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w->x[1], _mm512_load_si512(a->y[1]));
    a0 = _mm512_dpbusd_epi32(a0, w->x[2], _mm512_load_si512(a->y[2]));
    a1 = _mm512_dpbusd_epi32(a1, w->x[3], _mm512_load_si512(a->y[3]));
    const __m512i is = _mm512_mullo_epi32(_mm512_add_epi32(a0, a1), w->sc);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(w->d * a->dy), acc);
}

INLINE __m512 q6k_block(const uint8_t *p, const q6k_blk *a, __m512 acc)
{
    const q6k_w w = q6k_decode(p);
    return q6k_apply(&w, a, acc);
}

INLINE float q6k_row(const uint8_t *wr, int nb, const q6k_blk *a)
{
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int b = 0;
    for (; b + 2 <= nb; b += 2) {
        acc0 = q6k_block(wr + (size_t)b * sizeof(block_q6_K), &a[b], acc0);
        acc1 = q6k_block(wr + (size_t)(b + 1) * sizeof(block_q6_K), &a[b + 1], acc1);
    }
    if (b < nb)
        acc0 = q6k_block(wr + (size_t)b * sizeof(block_q6_K), &a[b], acc0);
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void q6k_run(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, float *Y)
{
    const block_q8_K *yb = (const block_q8_K *)(const void *)Xq;
    const int nb_all = k / QK_K;
    q6k_blk a[PKK_BLOCKS];
    for (int b0 = 0; b0 < nb_all; b0 += PKK_BLOCKS) {
        const int nb = nb_all - b0 < PKK_BLOCKS ? nb_all - b0 : PKK_BLOCKS;
        q6k_prepare(yb + b0, nb, a);
        for (int i = rb; i < re; i++) {
            const float s = q6k_row(W + (size_t)i * wrb + (size_t)b0 * sizeof(block_q6_K), nb, a);
            Y[i] = b0 ? Y[i] + s : s;
        }
    }
}

/* ---- batches ----
 *
 * Several activation rows (prefill, several sequences): each packed group (Q4_K) or block
 * (Q6_K) of a weight row is decoded once and meets a pass of activation rows, laid out a
 * chunk at a time so that the pass stays in L1 (Q4_K: 4 rows of 2 groups, whose integer sums
 * take 8 registers; Q6_K: 8 rows of 4 blocks).
 */
#define Q4KB_NX 4
#define Q4KB_GROUPS 2
#define Q6KB_NX 8
#define Q6KB_BLOCKS 4

/* Y[c * ldy + i] = the sum of acc[c]'s lanes (b0 == 0) or Y[c * ldy + i] plus it, for c < nc. */
INLINE void pkk_store(const __m512 *acc, int nc, float *Y, size_t ldy, int i, int b0)
{
    UNROLL
    for (int c = 0; c < nc; c++) {
        const float s = _mm512_reduce_add_ps(acc[c]);
        float *y = Y + (size_t)c * ldy + (size_t)i;
        *y = b0 ? *y + s : s;
    }
}

/* Rows [rb, re) over groups [0, ng) of the chunk at block b0: Y[c * ldy + i] (+)= the dot
 * products with the nc laid-out activation rows a[c]; yt (the chunk is a row's last groups
 * and tail blocks of nb_all follow; else NULL): the activation rows, whose tails are added
 * row by row, in the same pass (see q4k_run). */
INLINE void q4kb_rows(int nc, const uint8_t *W, size_t wrb, int rb, int re, int ng,
                      const q4k_grp (*a)[Q4KB_GROUPS], int b0, float *Y, size_t ldy, const q4k_iv *iv,
                      const block_q8_K *const *yt, int nb_all)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int i = rb; i < re; i++) {
        const uint8_t *wr = W + (size_t)i * wrb + (size_t)b0 * sizeof(block_q4_K);
        __m512 acc[Q4KB_NX];
        UNROLL
        for (int c = 0; c < nc; c++)
            acc[c] = _mm512_setzero_ps();
        for (int G = 0; G < ng; G++) {
            const uint8_t *p = wr + (size_t)G * Q4K_G * sizeof(block_q4_K);
            __m512i slo[Q4KB_NX], shi[Q4KB_NX];
            UNROLL
            for (int c = 0; c < nc; c++)
                slo[c] = shi[c] = _mm512_setzero_si512();
            UNROLL
            for (int v = 0; v < 8; v++) {
                __m512i P = _mm512_loadu_si512((const void *)(p + 64 * v));
                LOAD_ONCE(P);
                const __m512i lo = _mm512_and_si512(P, m4), hi = HI_NIBBLE(P, m4);
                UNROLL
                for (int c = 0; c < nc; c++) {
                    slo[c] = _mm512_dpbusd_epi32(slo[c], lo, _mm512_load_si512(a[c][G].y[v]));
                    shi[c] = _mm512_dpbusd_epi32(shi[c], hi, _mm512_load_si512(a[c][G].y[8 + v]));
                }
            }
            const q4k_sc sc = q4k_scales(p, iv);
            UNROLL
            for (int c = 0; c < nc; c++)
                acc[c] = q4k_finish(&sc, slo[c], shi[c], &a[c][G], iv, acc[c]);
        }
        pkk_store(acc, nc, Y, ldy, i, b0);
        if (yt)
            for (int c = 0; c < nc; c++)
                Y[(size_t)c * ldy + (size_t)i] += q4k_tail_dot(nb_all, b0 + ng * Q4K_G, W + (size_t)i * wrb, yt[c]);
    }
}

static void q4_K_pkb(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, size_t xrb,
                     int n_x, float *Y, size_t ldy)
{
    const q4k_iv iv = q4k_consts();
    const int nb_all = k / QK_K, whole = nb_all / Q4K_G * Q4K_G;
    q4k_grp a[Q4KB_NX][Q4KB_GROUPS];
    const block_q8_K *yt[Q4KB_NX];
    for (int j0 = 0; j0 < n_x; j0 += Q4KB_NX) {
        const int nc = n_x - j0 < Q4KB_NX ? n_x - j0 : Q4KB_NX;
        float *Yj = Y + (size_t)j0 * ldy;
        for (int c = 0; c < nc; c++)
            yt[c] = (const block_q8_K *)(const void *)(Xq + (size_t)(j0 + c) * xrb);
        for (int b0 = 0; b0 < whole; b0 += Q4KB_GROUPS * Q4K_G) {
            const int nb = whole - b0 < Q4KB_GROUPS * Q4K_G ? whole - b0 : Q4KB_GROUPS * Q4K_G;
            const block_q8_K *const *t = b0 + nb == whole && whole < nb_all ? yt : NULL;
            for (int c = 0; c < nc; c++)
                q4k_prepare(yt[c] + b0, nb, a[c]);
            const q4k_grp(*ca)[Q4KB_GROUPS] = (const q4k_grp(*)[Q4KB_GROUPS])a;
#define CALL(n) q4kb_rows(n, W, wrb, rb, re, nb / Q4K_G, ca, b0, Yj, ldy, &iv, t, nb_all)
            NC_SWITCH4(nc, CALL)
#undef CALL
        }
        for (int c = 0; c < nc && whole == 0; c++)
            q4k_short(nb_all, W, wrb, rb, re, yt[c], Yj + (size_t)c * ldy);
    }
}

INLINE void q6kb_rows(int nc, const uint8_t *W, size_t wrb, int rb, int re, int nb,
                      const q6k_blk (*a)[Q6KB_BLOCKS], int b0, float *Y, size_t ldy)
{
    for (int i = rb; i < re; i++) {
        const uint8_t *wr = W + (size_t)i * wrb + (size_t)b0 * sizeof(block_q6_K);
        __m512 acc[Q6KB_NX];
        UNROLL
        for (int c = 0; c < nc; c++)
            acc[c] = _mm512_setzero_ps();
        for (int b = 0; b < nb; b++) {
            const q6k_w w = q6k_decode(wr + (size_t)b * sizeof(block_q6_K));
            UNROLL
            for (int c = 0; c < nc; c++)
                acc[c] = q6k_apply(&w, &a[c][b], acc[c]);
        }
        pkk_store(acc, nc, Y, ldy, i, b0);
    }
}

static void q6_K_pkb(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq, size_t xrb,
                     int n_x, float *Y, size_t ldy)
{
    const int nb_all = k / QK_K;
    q6k_blk a[Q6KB_NX][Q6KB_BLOCKS];
    for (int j0 = 0; j0 < n_x; j0 += Q6KB_NX) {
        const int nc = n_x - j0 < Q6KB_NX ? n_x - j0 : Q6KB_NX;
        float *Yj = Y + (size_t)j0 * ldy;
        for (int b0 = 0; b0 < nb_all; b0 += Q6KB_BLOCKS) {
            const int nb = nb_all - b0 < Q6KB_BLOCKS ? nb_all - b0 : Q6KB_BLOCKS;
            for (int c = 0; c < nc; c++)
                q6k_prepare((const block_q8_K *)(const void *)(Xq + (size_t)(j0 + c) * xrb) + b0, nb, a[c]);
            const q6k_blk(*ca)[Q6KB_BLOCKS] = (const q6k_blk(*)[Q6KB_BLOCKS])a;
#define CALL(n) q6kb_rows(n, W, wrb, rb, re, nb, ca, b0, Yj, ldy)
            NC_SWITCH8(nc, CALL)
#undef CALL
        }
    }
}

void GFNI_NAME(cove_quants_avx512_packedk_batch_fill)(cove_quant_batch_fn fns[COVE_TYPE_COUNT])
{
    fns[COVE_TYPE_Q4_K] = q4_K_pkb;
    fns[COVE_TYPE_Q6_K] = q6_K_pkb;
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

void GFNI_NAME(cove_quants_avx512_packedk_fill)(cove_quant_batch_fn fns[COVE_TYPE_COUNT])
{
    fns[COVE_TYPE_Q4_K] = q4_K_packed;
    fns[COVE_TYPE_Q6_K] = q6_K_packed;
}

#else
typedef int cove_quants_packk_avx512_unused; /* ISO C wants a declaration */
#endif
