/*
 * engine/kernels/quants_avx512.c - AVX-512 kernels (F, BW, VL, DQ and VNNI;
 * x86-64 only; this file alone is compiled with those flags and is entered
 * only when the CPU has them). Entries not set here keep their AVX2 version
 * (the dequantizers and the activation quantizers); the shared helpers of
 * quants_x86.h pick up vpdpbusd / vpdpwssd here through HAVE_VNNI.
 *
 * 32-element types: weights as unsigned bytes against signed activations
 * with vpdpbusd; the format's offset is removed by starting the accumulator
 * at -off * sum(y) (Q8_0 weights are made unsigned by adding 128, so its
 * offset is 128). The prefill tile takes two blocks per step in 256-bit
 * registers (32 of them with AVX-512); decode, small batches (2 ..
 * QUANT_SMALL_MAX rows) and dot use the kernels of quants_x86.h. The f16
 * scales of 8 blocks are converted at once and spread to the blocks with
 * vpermps.
 * K-quants: the prefill tile works on the canonical q[256] in four 512-bit
 * chunks with vpmaddubsw and applies the per-16 scales with vpdpwssd.
 * Floats: 512-bit FMAs, the tail of a row with masked loads.
 *
 * Each tile is one always_inline template over (type, rows, columns).
 */
#if defined(__x86_64__)

#include <stddef.h>

#include "engine/kernels/quants_x86.h"

#define TR 4 /* prefill tile rows (weights) */
#define TC 4 /* prefill tile columns (activations) */

/* ---- float weights ---- */

INLINE __m512 fload16(enum cove_ggml_type t, const void *row, int i, __mmask16 m)
{
    const uint8_t *p = row;
    if (t == COVE_TYPE_F32)
        return m == 0xffff ? _mm512_loadu_ps((const float *)row + i)
                           : _mm512_maskz_loadu_ps(m, (const float *)row + i);
    __m256i h = m == 0xffff ? _mm256_loadu_si256((const __m256i *)(p + 2 * (size_t)i))
                            : _mm256_maskz_loadu_epi16(m, p + 2 * (size_t)i);
    if (t == COVE_TYPE_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* One step of 16 elements of a rows x cols float tile (m: the lanes in range). */
INLINE void fstep(enum cove_ggml_type t, int rows, int cols, const void *const *w, const void *const *x,
                  int i, __mmask16 m, __m512 acc[TR][TC])
{
    __m512 yv[TC];
    UNROLL
    for (int c = 0; c < cols; c++)
        yv[c] = m == 0xffff ? _mm512_loadu_ps((const float *)x[c] + i)
                            : _mm512_maskz_loadu_ps(m, (const float *)x[c] + i);
    UNROLL
    for (int r = 0; r < rows; r++) {
        __m512 wv = fload16(t, w[r], i, m);
        UNROLL
        for (int c = 0; c < cols; c++)
            acc[r][c] = _mm512_fmadd_ps(wv, yv[c], acc[r][c]);
    }
}

/* rows x cols float dots; full steps unmasked, the tail of k with a mask. */
INLINE void ftile(enum cove_ggml_type t, int rows, int cols, int k, const void *const *w,
                  const void *const *x, float *out, size_t ldy, int nr, int nc)
{
    __m512 acc[TR][TC];
    UNROLL
    for (int r = 0; r < rows; r++)
        UNROLL
        for (int c = 0; c < cols; c++)
            acc[r][c] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= k; i += 16)
        fstep(t, rows, cols, w, x, i, 0xffff, acc);
    if (i < k)
        fstep(t, rows, cols, w, x, i, (__mmask16)((1u << (k - i)) - 1), acc);
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++)
            out[(size_t)c * ldy + (size_t)r] = _mm512_reduce_add_ps(acc[r][c]);
}

/* ---- 32-element block types ---- */

/*
 * Blocks b and b + 1 (only b when !two) of a weight row as unsigned bytes in
 * two registers: lo = elements 0-15 of b | of b + 1, hi = elements 16-31 of
 * b | of b + 1. (vpdpbusd sums within 4-byte groups, so any order works that
 * pairs each weight with its activation: ypair2 arranges those the same way.)
 */
INLINE void wpair2(enum cove_ggml_type t, const uint8_t *row, int b, bool two, __m256i *lo, __m256i *hi)
{
    const size_t bs = wbytes32(t);
    const uint8_t *q0 = row + (size_t)b * bs + qs_off32(t), *q1 = q0 + bs;
    if (t == COVE_TYPE_Q8_0) {
        const __m256i x80 = _mm256_set1_epi8((char)0x80);
        __m256i a = _mm256_loadu_si256((const __m256i *)q0), c = _mm256_maskz_loadu_epi8(two ? ~0u : 0u, q1);
        *lo = _mm256_xor_si256(_mm256_permute2x128_si256(a, c, 0x20), x80);
        *hi = _mm256_xor_si256(_mm256_permute2x128_si256(a, c, 0x31), x80);
        return;
    }
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q0)),
                                        _mm_maskz_loadu_epi8(two ? 0xffff : 0, q1), 1);
    *lo = _mm256_and_si256(v, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if (t == COVE_TYPE_Q5_0 || t == COVE_TYPE_Q5_1) {
        const size_t qh_off = t == COVE_TYPE_Q5_0 ? offsetof(block_q5_0, qh) : offsetof(block_q5_1, qh);
        const __m256i x10 = _mm256_set1_epi8(0x10);
        uint32_t h0, h1 = 0;
        memcpy(&h0, row + (size_t)b * bs + qh_off, 4);
        if (two)
            memcpy(&h1, row + (size_t)(b + 1) * bs + qh_off, 4);
        __mmask32 mlo = _cvtu32_mask32((h0 & 0xffff) | (h1 << 16));
        __mmask32 mhi = _cvtu32_mask32((h0 >> 16) | (h1 & 0xffff0000u));
        *lo = _mm256_or_si256(*lo, _mm256_maskz_mov_epi8(mlo, x10));
        *hi = _mm256_or_si256(*hi, _mm256_maskz_mov_epi8(mhi, x10));
    }
}

/* Activation blocks b and b + 1 (only b when !two), arranged as wpair2 arranges weights. */
INLINE void ypair2(enum cove_ggml_type t, const uint8_t *row, int b, bool two, __m256i *lo, __m256i *hi)
{
    const size_t bs = uses_q8_1(t) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t off = uses_q8_1(t) ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const uint8_t *q0 = row + (size_t)b * bs + off;
    __m256i a = _mm256_loadu_si256((const __m256i *)q0), c = _mm256_maskz_loadu_epi8(two ? ~0u : 0u, q0 + bs);
    *lo = _mm256_permute2x128_si256(a, c, 0x20);
    *hi = _mm256_permute2x128_si256(a, c, 0x31);
}

/*
 * rows x cols dots of 32-element types, two blocks per step in 256-bit
 * registers (the 32 of AVX-512). Per group of 8 blocks the f16 scales are
 * converted at once; per pair of blocks each (row, column) costs two
 * vpdpbusd, a convert, a scale permute and an FMA (plus a multiply when
 * the products of row and column scales were not made per group). One
 * function on purpose: the accumulators of the tile stay in registers only
 * while the whole loop nest is inlined together.
 */
INLINE void tile32(enum cove_ggml_type t, int rows, int cols, int k, const void *const *w,
                   const void *const *x, float *out, size_t ldy, int nr, int nc)
{
    const bool q81 = uses_q8_1(t), dd = rows * cols <= 4; /* dd: scale products made per group */
    const size_t wbs = wbytes32(t), ybs = q81 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t m_off = t == COVE_TYPE_Q4_1 ? offsetof(block_q4_1, m) : offsetof(block_q5_1, m);
    const __m256i voff = _mm256_set1_epi8((char)woff(t));
    const int nb = k / QK32;
    __m256 acc[TR][TC], accm[TR][TC];
    UNROLL
    for (int r = 0; r < rows; r++)
        UNROLL
        for (int c = 0; c < cols; c++)
            acc[r][c] = accm[r][c] = _mm256_setzero_ps();
    for (int g = 0; g < nb; g += 8) {
        const int n8 = nb - g < 8 ? nb - g : 8;
        __m256 dw8[TR], dy8[TC], d8[TR][TC];
        UNROLL
        for (int r = 0; r < rows; r++)
            dw8[r] = scales8((const uint8_t *)w[r] + (size_t)g * wbs, wbs, n8);
        UNROLL
        for (int c = 0; c < cols; c++)
            dy8[c] = scales8((const uint8_t *)x[c] + (size_t)g * ybs, ybs, n8);
        UNROLL
        for (int r = 0; r < rows; r++)
            UNROLL
            for (int c = 0; c < cols; c++)
                d8[r][c] = dd ? _mm256_mul_ps(dw8[r], dy8[c]) : dw8[r];
        if (q81)
            UNROLL
            for (int r = 0; r < rows; r++) {
                __m256 mw = scales8((const uint8_t *)w[r] + (size_t)g * wbs + m_off, wbs, n8);
                UNROLL
                for (int c = 0; c < cols; c++)
                    accm[r][c] = _mm256_fmadd_ps(
                        mw, scales8((const uint8_t *)x[c] + (size_t)g * ybs + 2, ybs, n8), accm[r][c]);
            }
        for (int p = 0; p < n8; p += 2) {
            const bool two = p + 1 < n8;
            const __m256i idx = _mm256_setr_epi32(p, p, p, p, p + 1, p + 1, p + 1, p + 1);
            __m256i ylo[TC], yhi[TC], noff[TC];
            __m256 sy[TC];
            UNROLL
            for (int c = 0; c < cols; c++) {
                ypair2(t, x[c], g + p, two, &ylo[c], &yhi[c]);
                noff[c] = _mm256_setzero_si256();
                if (woff(t)) {
                    __m256i s = _mm256_dpbusd_epi32(noff[c], voff, ylo[c]);
                    noff[c] = _mm256_sub_epi32(noff[c], _mm256_dpbusd_epi32(s, voff, yhi[c]));
                }
                sy[c] = _mm256_permutevar8x32_ps(dy8[c], idx);
            }
            UNROLL
            for (int r = 0; r < rows; r++) {
                __m256i wlo, whi;
                wpair2(t, w[r], g + p, two, &wlo, &whi);
                UNROLL
                for (int c = 0; c < cols; c++) {
                    __m256i is = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(noff[c], wlo, ylo[c]), whi, yhi[c]);
                    __m256 sc = _mm256_permutevar8x32_ps(d8[r][c], idx);
                    sc = dd ? sc : _mm256_mul_ps(sc, sy[c]);
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), sc, acc[r][c]);
                }
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++)
            out[(size_t)c * ldy + (size_t)r] = hsum_ps(acc[r][c]) + (q81 ? hsum_ps(accm[r][c]) : 0.0f);
}

/* ---- k-quants ---- */

/* Scales of groups 4c .. 4c + 3, one group per 128-bit lane, in 8 int16 each. */
INLINE __m512i kscale4(const int16_t *sc, int c)
{
    const __m512i shuf = _mm512_set_epi8(
        7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4,
        3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
    int64_t v;
    memcpy(&v, sc + 4 * c, 8);
    return _mm512_shuffle_epi8(_mm512_set1_epi64(v), shuf);
}

/* rows x cols k-quant dots: blocks unpacked to L1 (AVX2 code), 64 bytes per step. */
INLINE void ktile(enum cove_ggml_type t, int rows, int cols, int k, const void *const *w,
                  const void *const *x, float *out, size_t ldy, int nr, int nc)
{
    alignas(64) uint8_t q[TR][QK_K];
    kscv ks[TR];
    __m256 accf[TR][TC];
    UNROLL
    for (int r = 0; r < rows; r++)
        UNROLL
        for (int c = 0; c < cols; c++)
            accf[r][c] = _mm256_setzero_ps();
    for (int i = 0; i < k / QK_K; i++) {
        const block_q8_K *yb[TC];
        __m512i acc[TR][TC];
        UNROLL
        for (int c = 0; c < cols; c++)
            yb[c] = (const block_q8_K *)x[c] + i;
        UNROLL
        for (int r = 0; r < rows; r++) {
            kdec(t, w[r], i, q[r], &ks[r]);
            UNROLL
            for (int c = 0; c < cols; c++)
                acc[r][c] = _mm512_setzero_si512();
        }
        UNROLL
        for (int ch = 0; ch < 4; ch++) {
            __m512i yv[TC];
            UNROLL
            for (int c = 0; c < cols; c++)
                yv[c] = _mm512_loadu_si512((const void *)(yb[c]->qs + 64 * ch));
            UNROLL
            for (int r = 0; r < rows; r++) {
                __m512i wv = _mm512_load_si512((const void *)(q[r] + 64 * ch));
                __m512i sv = kscale4(ks[r].sc, ch);
                UNROLL
                for (int c = 0; c < cols; c++)
                    acc[r][c] = _mm512_dpwssd_epi32(acc[r][c], _mm512_maddubs_epi16(wv, yv[c]), sv);
            }
        }
        UNROLL
        for (int r = 0; r < rows; r++)
            UNROLL
            for (int c = 0; c < cols; c++) {
                __m256i s = _mm256_add_epi32(_mm512_castsi512_si256(acc[r][c]),
                                             _mm512_extracti64x4_epi64(acc[r][c], 1));
                accf[r][c] = kfinish(t, s, _mm256_load_si256((const __m256i *)ks[r].mn), ks[r].d, ks[r].dmin,
                                     yb[c], accf[r][c]);
            }
    }
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++)
            out[(size_t)c * ldy + (size_t)r] = hsum_ps(accf[r][c]);
}

/* ---- instances ---- */

/* The prefill tile (TR x TC), the decode kernel (GV_ROWS rows) and the dot of each type. */
#define TILE(name, T, kernel)                                                               \
    static void name##_tile(int k, const void *const *w, const void *const *x, float *o,    \
                            size_t ldy, int nr, int nc)                                     \
    {                                                                                       \
        kernel(T, TR, TC, k, w, x, o, ldy, nr, nc);                                         \
    }
#define GEMV(name, T)                                                                       \
    static void name##_gemv(int k, const void *const *w, const void *const *x, float *o,    \
                            size_t ldy, int nr, int nc)                                     \
    {                                                                                       \
        gemv32(T, k, w, x, o, nr);                                                          \
    }
#define DOTF(name, T, fn)                                                                   \
    static float name##_dot(int n, const void *x, const void *y) { return fn(T, n, x, y); }

/* Float rows: four accumulators, so the FMA latency is hidden. */
INLINE float fdot(enum cove_ggml_type t, int n, const void *x, const void *y)
{
    const float *b = y;
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int i = 0;
    for (; i + 64 <= n; i += 64)
        UNROLL
        for (int j = 0; j < 4; j++)
            s[j] = _mm512_fmadd_ps(fload16(t, x, i + 16 * j, 0xffff), _mm512_loadu_ps(b + i + 16 * j), s[j]);
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        s[0] = _mm512_fmadd_ps(fload16(t, x, i, m), _mm512_maskz_loadu_ps(m, b + i), s[0]);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3])));
}

TILE(f32, COVE_TYPE_F32, ftile)
TILE(f16, COVE_TYPE_F16, ftile)
TILE(bf16, COVE_TYPE_BF16, ftile)
TILE(q4_0, COVE_TYPE_Q4_0, tile32)
TILE(q4_1, COVE_TYPE_Q4_1, tile32)
TILE(q5_0, COVE_TYPE_Q5_0, tile32)
TILE(q5_1, COVE_TYPE_Q5_1, tile32)
TILE(q8_0, COVE_TYPE_Q8_0, tile32)
TILE(q2_K, COVE_TYPE_Q2_K, ktile)
TILE(q3_K, COVE_TYPE_Q3_K, ktile)
TILE(q4_K, COVE_TYPE_Q4_K, ktile)
TILE(q5_K, COVE_TYPE_Q5_K, ktile)
TILE(q6_K, COVE_TYPE_Q6_K, ktile)
DOTF(f32, COVE_TYPE_F32, fdot)
DOTF(f16, COVE_TYPE_F16, fdot)
DOTF(bf16, COVE_TYPE_BF16, fdot)
DOTF(q4_0, COVE_TYPE_Q4_0, dot32)
DOTF(q4_1, COVE_TYPE_Q4_1, dot32)
DOTF(q5_0, COVE_TYPE_Q5_0, dot32)
DOTF(q5_1, COVE_TYPE_Q5_1, dot32)
DOTF(q8_0, COVE_TYPE_Q8_0, dot32)
/* k-quant dots: the AVX2 kernel that decodes in registers (quants_x86.h) */
DOTF(q2_K, COVE_TYPE_Q2_K, kdot)
DOTF(q3_K, COVE_TYPE_Q3_K, kdot)
DOTF(q4_K, COVE_TYPE_Q4_K, kdot)
DOTF(q5_K, COVE_TYPE_Q5_K, kdot)
DOTF(q6_K, COVE_TYPE_Q6_K, kdot)
/*
 * Decode kernels for the 32-element types (their activation side is worth
 * preparing once per GV_ROWS rows); float and k-quant rows use their dot.
 */
GEMV(q4_0, COVE_TYPE_Q4_0)
GEMV(q4_1, COVE_TYPE_Q4_1)
GEMV(q5_0, COVE_TYPE_Q5_0)
GEMV(q5_1, COVE_TYPE_Q5_1)
GEMV(q8_0, COVE_TYPE_Q8_0)

static void set(cove_quant_ops *o, cove_quant_dot_fn dot, cove_quant_tile_fn gemv, cove_quant_tile_fn tile)
{
    o->vec_dot = dot;
    o->gemv_tile = gemv;
    o->gemv_rows = gemv ? GV_ROWS : 0;
    o->gemm_tile = tile;
    o->tile_rows = TR;
    o->tile_cols = TC;
}

#define SET(T, name) set(&ops[T], name##_dot, NULL, name##_tile)
#define SETV(T, name) set(&ops[T], name##_dot, name##_gemv, name##_tile)

void cove_quants_avx512_fill(cove_quant_ops ops[COVE_TYPE_COUNT])
{
    SET(COVE_TYPE_F32, f32);
    SET(COVE_TYPE_F16, f16);
    SET(COVE_TYPE_BF16, bf16);
    SETV(COVE_TYPE_Q4_0, q4_0);
    SETV(COVE_TYPE_Q4_1, q4_1);
    SETV(COVE_TYPE_Q5_0, q5_0);
    SETV(COVE_TYPE_Q5_1, q5_1);
    SETV(COVE_TYPE_Q8_0, q8_0);
    SET(COVE_TYPE_Q2_K, q2_K);
    SET(COVE_TYPE_Q3_K, q3_K);
    SET(COVE_TYPE_Q4_K, q4_K);
    SET(COVE_TYPE_Q5_K, q5_K);
    SET(COVE_TYPE_Q6_K, q6_K);
}

/* Small batches (2 .. QUANT_SMALL_MAX activation rows): the kernels of quants_x86.h. */
SMALL_FILL(cove_quants_avx512_small_fill)

#else
typedef int cove_quants_avx512_unused; /* ISO C wants a declaration */
#endif
