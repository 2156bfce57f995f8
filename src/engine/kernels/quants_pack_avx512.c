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
 */
#if defined(__x86_64__)

#include <stddef.h>

#include "engine/kernels/quants_x86.h"

#define PK_KMAX 4096 /* elements of activation laid out at a time (L1-sized) */
#define PK_QUADS (PK_KMAX / 128)

typedef struct {
    alignas(64) int8_t ylo[PK_QUADS][64];    /* elements 0-15 of blocks 4q .. 4q + 3 */
    alignas(64) int8_t yhi[PK_QUADS][64];    /* elements 16-31 */
    alignas(64) int32_t noff[PK_QUADS][16];  /* -off * sum of each lane's 8 activations */
    alignas(16) float dy[PK_QUADS][4];       /* d of the blocks */
    alignas(16) float sy[PK_QUADS][4];       /* Q8_1 s of the blocks */
} pk_act;

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
static void pk_prepare(enum cove_ggml_type t, const uint8_t *yr, int nb, pk_act *a)
{
    const bool q81 = uses_q8_1(t);
    const size_t ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0), qs = q81 ? 4 : 2;
    const __m512i voff = _mm512_set1_epi8((char)woff(t)), z = _mm512_setzero_si512();
    for (int q = 0; 4 * q < nb; q++) {
        for (int b = 0; b < 4; b++) {
            const uint8_t *y = yr + (size_t)(4 * q + b) * ybs;
            uint16_t h;
            if (4 * q + b >= nb) {
                memset(a->ylo[q] + 16 * b, 0, 16);
                memset(a->yhi[q] + 16 * b, 0, 16);
                a->dy[q][b] = a->sy[q][b] = 0.0f;
                continue;
            }
            memcpy(a->ylo[q] + 16 * b, y + qs, 16);
            memcpy(a->yhi[q] + 16 * b, y + qs + 16, 16);
            memcpy(&h, y, 2);
            a->dy[q][b] = f16(h);
            if (q81) {
                memcpy(&h, y + 2, 2);
                a->sy[q][b] = f16(h);
            }
        }
        if (woff(t)) {
            __m512i s = _mm512_dpbusd_epi32(z, voff, _mm512_load_si512(a->ylo[q]));
            s = _mm512_dpbusd_epi32(s, voff, _mm512_load_si512(a->yhi[q]));
            _mm512_store_si512(a->noff[q], _mm512_sub_epi32(z, s));
        }
    }
}

/* One packed group of n blocks at p (n == 4: unmasked loads) against quad q of the
 * activations: acc += its 16 lanes (accm: m * s of its blocks). */
INLINE void pk_group(enum cove_ggml_type t, const uint8_t *p, int n, const pk_act *a, int q, __m512i rep4,
                     __m512 *acc, __m128 *accm)
{
    const __mmask64 kb = n == 4 ? ~0ull : (1ull << (16 * n)) - 1;
    const __mmask8 kw = (__mmask8)((1u << n) - 1);
    __m512i lo, hi;
    if (t == COVE_TYPE_Q8_0) {
        lo = n == 4 ? _mm512_loadu_si512((const void *)p) : _mm512_maskz_loadu_epi8(kb, p);
        hi = n == 4 ? _mm512_loadu_si512((const void *)(p + pk_hi(n))) : _mm512_maskz_loadu_epi8(kb, p + pk_hi(n));
    } else {
        const __m512i m4 = _mm512_set1_epi8(0x0f);
        const __m512i P = n == 4 ? _mm512_loadu_si512((const void *)p) : _mm512_maskz_loadu_epi8(kb, p);
        lo = _mm512_and_si512(P, m4);
        hi = _mm512_and_si512(_mm512_srli_epi16(P, 4), m4);
    }
    if (t == COVE_TYPE_Q5_0 || t == COVE_TYPE_Q5_1) { /* the masks: 2n bytes each, from byte 16n */
        const __m512i x10 = _mm512_set1_epi8(0x10);
        /* 8-byte loads ending at each mask's last byte (a short group's masks are the high 2n
         * bytes; a narrower copy would stall store-to-load forwarding on every row's tail) */
        uint64_t klo, khi;
        memcpy(&klo, p + 18 * n - 8, 8);
        memcpy(&khi, p + 20 * n - 8, 8);
        klo >>= 8 * (8 - 2 * n), khi >>= 8 * (8 - 2 * n);
        lo = _mm512_mask_add_epi8(lo, _cvtu64_mask64(klo), lo, x10);
        hi = _mm512_mask_add_epi8(hi, _cvtu64_mask64(khi), hi, x10);
    }
    __m512i is = woff(t) ? _mm512_load_si512(a->noff[q]) : _mm512_setzero_si512();
    is = _mm512_dpbusd_epi32(is, lo, _mm512_load_si512(a->ylo[q]));
    is = _mm512_dpbusd_epi32(is, hi, _mm512_load_si512(a->yhi[q]));
    const __m128i dh = n == 4 ? _mm_loadl_epi64((const __m128i *)(p + pk_d(t, n)))
                              : _mm_maskz_loadu_epi16(kw, p + pk_d(t, n));
    const __m128 s4 = _mm_mul_ps(_mm_cvtph_ps(dh), _mm_load_ps(a->dy[q]));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_permutexvar_ps(rep4, _mm512_castps128_ps512(s4)),
                           *acc);
    if (uses_q8_1(t)) {
        const __m128i mh = n == 4 ? _mm_loadl_epi64((const __m128i *)(p + pk_d(t, n) + 8))
                                  : _mm_maskz_loadu_epi16(kw, p + pk_d(t, n) + 2 * (size_t)n);
        *accm = _mm_fmadd_ps(_mm_cvtph_ps(mh), _mm_load_ps(a->sy[q]), *accm);
    }
}

/* One row's blocks [0, nb) (at most PK_KMAX / 32) against the laid-out activations. */
INLINE float pk_row(enum cove_ggml_type t, const uint8_t *wr, int nb, const pk_act *a)
{
    const size_t qb = 4 * wbytes32(t);
    const __m512i rep4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const int nq = nb / 4;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int q = 0;
    for (; q + 2 <= nq; q += 2) { /* two chains of FMAs */
        pk_group(t, wr + (size_t)q * qb, 4, a, q, rep4, &acc0, &accm);
        pk_group(t, wr + (size_t)(q + 1) * qb, 4, a, q + 1, rep4, &acc1, &accm);
    }
    if (q < nq)
        pk_group(t, wr + (size_t)q * qb, 4, a, q, rep4, &acc0, &accm), q++;
    if (nb % 4)
        pk_group(t, wr + (size_t)q * qb, nb % 4, a, q, rep4, &acc1, &accm);
    accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + _mm_cvtss_f32(accm);
}

/* Decode over packed rows: Y[i] = W row i . Xq for rb <= i < re (the template of DECODE32_FILL). */
INLINE void pk_run(enum cove_ggml_type t, int k, const uint8_t *W, size_t wrb, int rb, int re,
                   const uint8_t *Xq, float *Y)
{
    const size_t ybs = uses_q8_1(t) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int nb_all = k / QK32;
    pk_act a;
    for (int b0 = 0; b0 < nb_all; b0 += PK_KMAX / QK32) {
        const int nb = nb_all - b0 < PK_KMAX / QK32 ? nb_all - b0 : PK_KMAX / QK32;
        pk_prepare(t, Xq + (size_t)b0 * ybs, nb, &a);
        for (int i = rb; i < re; i++) {
            float s = pk_row(t, W + (size_t)i * wrb + (size_t)b0 * wbytes32(t), nb, &a);
            Y[i] = b0 ? Y[i] + s : s;
        }
    }
}

DECODE32_FILL(cove_quants_avx512_packed_fill, pk_run)

#else
typedef int cove_quants_pack_avx512_unused; /* ISO C wants a declaration */
#endif
