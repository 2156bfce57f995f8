/*
 * engine/kernels/quants_pack_avx512.c - decode (one activation row) over packed rows of
 * Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 (layout: quants_pack.c) at the avx512 level (F, BW, VNNI).
 *
 * A packed quad needs no byte permutes: one or two 64-byte loads give the weights as
 * unsigned bytes (nibbles: an and, a shift and an and; Q5_x: the 5th bits added as 0x10
 * under two masks loaded as they are stored), two vpdpbusd leave 16 int32 lanes, 4 per
 * block, and the 4 scales d come in one 8-byte load, converted and multiplied by the
 * activation scales as 4 floats, then spread to the 16 lanes by one permute. The format's
 * offset (Q4_0: 8, Q5_0: 16, Q8_0: 128) starts the lanes at -off * sum(y); Q4_1 / Q5_1 add
 * m * s per block (s of the Q8_1 activation block) in a 4-float sum.
 * A row's last group of 1 to 3 blocks is read with masked loads against an activation quad
 * filled up with zeros. The activation side is laid out once per call, PK_KMAX elements at a
 * time, and serves every row of the call. A row's arithmetic does not depend on its neighbours or
 * on the row range, so any split of the rows between threads gives the same Y.
 * quants_pack_gfni.c builds this file again with -mgfni: the high nibbles by one
 * gf2p8affineqb (one thread, in cache, rows of 960: Q5_0 2.77 -> 2.71, Q4_0 2.18 -> 2.12 ns
 * per 128 elements); the same results.
 */
#if defined(__x86_64__)

#include <stddef.h>

#include "engine/kernels/hsum512.h"
#include "engine/kernels/quants_x86.h"

#define PK_KMAX 4096 /* elements of activation laid out at a time (L1-sized) */
#define PK_QUADS (PK_KMAX / 128)

/* The activations of one quad (4 blocks), laid out as the packed weights are. */
typedef struct {
    alignas(64) int8_t ylo[64];   /* elements 0-15 of its blocks */
    alignas(64) int8_t yhi[64];   /* elements 16-31 */
    alignas(64) int32_t noff[16]; /* -off * sum of each lane's 8 activations */
    alignas(16) float dy[4];      /* d of the blocks */
    alignas(16) float sy[4];      /* Q8_1 s of the blocks */
} pk_quad;

/* Offsets in a packed group of n blocks (quants_pack.c): of the Q8_0 high halves, the 5th-bit
 * masks and d; m follows d. */
INLINE size_t pk_hi(int n)
{
    return 16 * (size_t)n;
}

INLINE size_t pk_d(enum cove_ggml_type t, int n)
{
    return t == COVE_TYPE_Q8_0 ? 32 * (size_t)n : t == COVE_TYPE_Q5_0 || t == COVE_TYPE_Q5_1 ? 20 * (size_t)n
                                                                                               : 16 * (size_t)n;
}

/* Lays out blocks [0, nb) of the activation row yr (Q8_0 or Q8_1) as quads, the last one
 * filled up with zeros. */
static void pk_prepare(enum cove_ggml_type t, const uint8_t *yr, int nb, pk_quad *a)
{
    const bool q81 = uses_q8_1(t);
    const size_t ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0), qs = q81 ? 4 : 2;
    const __m512i voff = _mm512_set1_epi8((char)woff(t)), z = _mm512_setzero_si512();
    for (int q = 0; 4 * q < nb; q++) {
        for (int b = 0; b < 4; b++) {
            const uint8_t *y = yr + (size_t)(4 * q + b) * ybs;
            uint16_t h;
            if (4 * q + b >= nb) {
                memset(a[q].ylo + 16 * b, 0, 16);
                memset(a[q].yhi + 16 * b, 0, 16);
                a[q].dy[b] = a[q].sy[b] = 0.0f;
                continue;
            }
            memcpy(a[q].ylo + 16 * b, y + qs, 16);
            memcpy(a[q].yhi + 16 * b, y + qs + 16, 16);
            memcpy(&h, y, 2);
            a[q].dy[b] = f16(h);
            if (q81) {
                memcpy(&h, y + 2, 2);
                a[q].sy[b] = f16(h);
            }
        }
        if (woff(t)) {
            __m512i s = _mm512_dpbusd_epi32(z, voff, _mm512_load_si512(a[q].ylo));
            s = _mm512_dpbusd_epi32(s, voff, _mm512_load_si512(a[q].yhi));
            _mm512_store_si512(a[q].noff, _mm512_sub_epi32(z, s));
        }
    }
}

/* One packed group of n blocks at p (n == 4: unmasked loads), decoded: the weights as
 * unsigned bytes (lo: elements 0-15 of each block, hi: 16-31), d and (Q4_1, Q5_1) m. */
typedef struct {
    __m512i lo, hi;
    __m128 d, m;
} pk_w;

INLINE pk_w pk_decode(enum cove_ggml_type t, const uint8_t *p, int n)
{
    const __mmask64 kb = n == 4 ? ~0ull : (1ull << (16 * n)) - 1;
    const __mmask8 kw = (__mmask8)((1u << n) - 1);
    pk_w w;
    if (t == COVE_TYPE_Q8_0) {
        w.lo = n == 4 ? _mm512_loadu_si512((const void *)p) : _mm512_maskz_loadu_epi8(kb, p);
        w.hi = n == 4 ? _mm512_loadu_si512((const void *)(p + pk_hi(n))) : _mm512_maskz_loadu_epi8(kb, p + pk_hi(n));
    } else {
        const __m512i m4 = _mm512_set1_epi8(0x0f);
        __m512i P = n == 4 ? _mm512_loadu_si512((const void *)p) : _mm512_maskz_loadu_epi8(kb, p);
        LOAD_ONCE(P);
        w.lo = _mm512_and_si512(P, m4);
        w.hi = HI_NIBBLE(P, m4);
    }
    if (t == COVE_TYPE_Q5_0 || t == COVE_TYPE_Q5_1) { /* the masks: 2n bytes each, from byte 16n */
        const __m512i x10 = _mm512_set1_epi8(0x10);
        /* 8-byte loads ending at each mask's last byte (a short group's masks are the high 2n
         * bytes; a narrower copy would stall store-to-load forwarding on every row's tail) */
        uint64_t klo, khi;
        memcpy(&klo, p + 18 * n - 8, 8);
        memcpy(&khi, p + 20 * n - 8, 8);
        klo >>= 8 * (8 - 2 * n), khi >>= 8 * (8 - 2 * n);
        w.lo = _mm512_mask_add_epi8(w.lo, _cvtu64_mask64(klo), w.lo, x10);
        w.hi = _mm512_mask_add_epi8(w.hi, _cvtu64_mask64(khi), w.hi, x10);
    }
    const __m128i dh = n == 4 ? _mm_loadl_epi64((const __m128i *)(p + pk_d(t, n)))
                              : _mm_maskz_loadu_epi16(kw, p + pk_d(t, n));
    w.d = _mm_cvtph_ps(dh);
    w.m = _mm_setzero_ps();
    if (uses_q8_1(t))
        w.m = _mm_cvtph_ps(n == 4 ? _mm_loadl_epi64((const __m128i *)(p + pk_d(t, n) + 8))
                                  : _mm_maskz_loadu_epi16(kw, p + pk_d(t, n) + 2 * (size_t)n));
    return w;
}

/* A decoded group against the activation quad a: acc += its 16 lanes (accm: m * s of its blocks). */
INLINE void pk_apply(enum cove_ggml_type t, const pk_w *w, const pk_quad *a, __m512i rep4, __m512 *acc,
                     __m128 *accm)
{
    __m512i is = woff(t) ? _mm512_load_si512(a->noff) : _mm512_setzero_si512();
    is = _mm512_dpbusd_epi32(is, w->lo, _mm512_load_si512(a->ylo));
    is = _mm512_dpbusd_epi32(is, w->hi, _mm512_load_si512(a->yhi));
    const __m128 s4 = _mm_mul_ps(w->d, _mm_load_ps(a->dy));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_permutexvar_ps(rep4, _mm512_castps128_ps512(s4)),
                           *acc);
    if (uses_q8_1(t))
        *accm = _mm_fmadd_ps(w->m, _mm_load_ps(a->sy), *accm);
}

INLINE void pk_group(enum cove_ggml_type t, const uint8_t *p, int n, const pk_quad *a, __m512i rep4,
                     __m512 *acc, __m128 *accm)
{
    const pk_w w = pk_decode(t, p, n);
    pk_apply(t, &w, a, rep4, acc, accm);
}

/* One row's blocks [0, nb) (at most PK_KMAX / 32) against the laid-out activations, as a
 * vector whose lanes sum to the dot product. */
INLINE __m512 pk_row(enum cove_ggml_type t, const uint8_t *wr, int nb, const pk_quad *a)
{
    const size_t qb = 4 * wbytes32(t);
    const __m512i rep4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const int nq = nb / 4;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int q = 0;
    for (; q + 2 <= nq; q += 2) { /* two chains of FMAs */
        pk_group(t, wr + (size_t)q * qb, 4, &a[q], rep4, &acc0, &accm);
        pk_group(t, wr + (size_t)(q + 1) * qb, 4, &a[q + 1], rep4, &acc1, &accm);
    }
    if (q < nq)
        pk_group(t, wr + (size_t)q * qb, 4, &a[q], rep4, &acc0, &accm), q++;
    if (nb % 4)
        pk_group(t, wr + (size_t)q * qb, nb % 4, &a[q], rep4, &acc1, &accm);
    return _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_zextps128_ps512(accm));
}

/* Y[i] (+)= rows [rb, re) 16 at a time: their vectors summed by one hsum16_ps, not one
 * horizontal sum a row (one thread, in cache, rows of 960, ns per 128 elements: Q5_0 2.71 ->
 * 2.54, Q4_1 2.35 -> 2.04, Q5_1 3.04 -> 2.69, Q4_0 the same; Q8_0 2.43 -> 2.55, so not Q8_0).
 * Each row starts with the L2 prefetch of the row PF_L2_AHEAD bytes on (quants_x86.h; two
 * threads, from RAM, medians of 4-5 runs: rows of 960 Q5_0 28.1 -> 41.7 GB/s, Q5_1 32.9 ->
 * 40.7; rows of 2048 Q4_0 35.4 -> 51.3). */
INLINE void pk_rows16(enum cove_ggml_type t, const uint8_t *W, size_t wrb, int rb, int re, int b0, int nb,
                      const pk_quad *a, float *Y)
{
    const size_t off = (size_t)b0 * wbytes32(t), span = (size_t)nb * wbytes32(t);
    const int ahead = pf_l2_rows(span);
    __m512 v[16];
    pf_l2_first(W, wrb, rb, re, off, span, ahead);
    for (int i0 = rb; i0 < re; i0 += 16) {
        const int n = re - i0 < 16 ? re - i0 : 16;
        for (int j = 0; j < n; j++) {
            pf_l2_row(W, wrb, i0 + j + ahead, re, off, span);
            v[j] = pk_row(t, W + (size_t)(i0 + j) * wrb + off, nb, a);
        }
        for (int j = n; j < 16; j++)
            v[j] = _mm512_setzero_ps();
        const __mmask16 m = (__mmask16)((1u << n) - 1);
        __m512 s = hsum16_ps(v);
        if (b0)
            s = _mm512_add_ps(_mm512_maskz_loadu_ps(m, Y + i0), s);
        _mm512_mask_storeu_ps(Y + i0, m, s);
    }
}

/* Decode over packed rows: Y[i] = W row i . Xq for rb <= i < re (the template of DECODE32_FILL). */
INLINE void pk_run(enum cove_ggml_type t, int k, const uint8_t *W, size_t wrb, int rb, int re,
                   const uint8_t *Xq, float *Y)
{
    const size_t ybs = uses_q8_1(t) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int nb_all = k / QK32;
    pk_quad a[PK_QUADS];
    for (int b0 = 0; b0 < nb_all; b0 += PK_KMAX / QK32) {
        const int nb = nb_all - b0 < PK_KMAX / QK32 ? nb_all - b0 : PK_KMAX / QK32;
        pk_prepare(t, Xq + (size_t)b0 * ybs, nb, a);
        if (t != COVE_TYPE_Q8_0) {
            pk_rows16(t, W, wrb, rb, re, b0, nb, a, Y);
            continue;
        }
        for (int i = rb; i < re; i++) {
            const float s = _mm512_reduce_add_ps(pk_row(t, W + (size_t)i * wrb + (size_t)b0 * wbytes32(t), nb, a));
            Y[i] = b0 ? Y[i] + s : s;
        }
    }
}

DECODE32_FILL(GFNI_NAME(cove_quants_avx512_packed_fill), pk_run)

/*
 * Batches over packed rows (several activation rows: prefill, several sequences): each group
 * of a weight row is decoded once into registers and meets up to PKB_NX activation rows, laid
 * out PKB_KMAX elements at a time (PKB_NX of them stay in L1 together).
 */
#define PKB_NX 8
#define PKB_KMAX 1024
#define PKB_QUADS (PKB_KMAX / 128)

/* Weight rows [rb, re), blocks [0, nb) (at most PKB_KMAX / 32), against the nc laid-out
 * activation rows a[c]: Y[c * ldy + i] gets (b0 == 0) or adds each dot product. */
INLINE void pkb_rows(enum cove_ggml_type t, int nc, const uint8_t *W, size_t wrb, int rb, int re, int nb,
                     const pk_quad (*a)[PKB_QUADS], int b0, float *Y, size_t ldy)
{
    const size_t qb = 4 * wbytes32(t);
    const __m512i rep4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    for (int i = rb; i < re; i++) {
        const uint8_t *wr = W + (size_t)i * wrb + (size_t)b0 * wbytes32(t);
        __m512 acc[PKB_NX];
        __m128 accm[PKB_NX];
        UNROLL
        for (int c = 0; c < nc; c++)
            acc[c] = _mm512_setzero_ps(), accm[c] = _mm_setzero_ps();
        for (int q = 0; 4 * q < nb; q++) {
            const pk_w w = pk_decode(t, wr + (size_t)q * qb, nb - 4 * q < 4 ? nb - 4 * q : 4);
            UNROLL
            for (int c = 0; c < nc; c++)
                pk_apply(t, &w, &a[c][q], rep4, &acc[c], &accm[c]);
        }
        UNROLL
        for (int c = 0; c < nc; c++) {
            __m128 m = _mm_add_ps(accm[c], _mm_movehl_ps(accm[c], accm[c]));
            m = _mm_add_ss(m, _mm_movehdup_ps(m));
            const float s = _mm512_reduce_add_ps(acc[c]) + _mm_cvtss_f32(m);
            float *y = Y + (size_t)c * ldy + (size_t)i;
            *y = b0 ? *y + s : s;
        }
    }
}

INLINE void pkb_run(enum cove_ggml_type t, int k, const uint8_t *W, size_t wrb, int rb, int re,
                    const uint8_t *Xq, size_t xrb, int n_x, float *Y, size_t ldy)
{
    const size_t ybs = uses_q8_1(t) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int nb_all = k / QK32;
    pk_quad a[PKB_NX][PKB_QUADS];
    for (int j0 = 0; j0 < n_x; j0 += PKB_NX) {
        const int nc = n_x - j0 < PKB_NX ? n_x - j0 : PKB_NX;
        for (int b0 = 0; b0 < nb_all; b0 += PKB_KMAX / QK32) {
            const int nb = nb_all - b0 < PKB_KMAX / QK32 ? nb_all - b0 : PKB_KMAX / QK32;
            for (int c = 0; c < nc; c++)
                pk_prepare(t, Xq + (size_t)(j0 + c) * xrb + (size_t)b0 * ybs, nb, a[c]);
            float *Yj = Y + (size_t)j0 * ldy;
            const pk_quad(*ca)[PKB_QUADS] = (const pk_quad(*)[PKB_QUADS])a;
#define CALL(n) pkb_rows(t, n, W, wrb, rb, re, nb, ca, b0, Yj, ldy)
            NC_SWITCH8(nc, CALL)
#undef CALL
        }
    }
}

#define PKB_ONE(name, T)                                                                            \
    static void name##_pkb(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq,   \
                           size_t xrb, int n_x, float *Y, size_t ldy)                               \
    {                                                                                               \
        pkb_run(T, k, W, wrb, rb, re, Xq, xrb, n_x, Y, ldy);                                        \
    }
PKB_ONE(q4_0, COVE_TYPE_Q4_0)
PKB_ONE(q4_1, COVE_TYPE_Q4_1)
PKB_ONE(q5_0, COVE_TYPE_Q5_0)
PKB_ONE(q5_1, COVE_TYPE_Q5_1)
PKB_ONE(q8_0, COVE_TYPE_Q8_0)

void GFNI_NAME(cove_quants_avx512_packed_batch_fill)(cove_quant_batch_fn fns[COVE_TYPE_COUNT])
{
    fns[COVE_TYPE_Q4_0] = q4_0_pkb, fns[COVE_TYPE_Q4_1] = q4_1_pkb, fns[COVE_TYPE_Q5_0] = q5_0_pkb;
    fns[COVE_TYPE_Q5_1] = q5_1_pkb, fns[COVE_TYPE_Q8_0] = q8_0_pkb;
}

#else
typedef int cove_quants_pack_avx512_unused; /* ISO C wants a declaration */
#endif
