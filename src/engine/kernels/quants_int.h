/*
 * engine/kernels/quants_int.h - private to the quant kernels: the block
 * layouts, exact scalar half-precision conversions, the "canonical" unpacked
 * form that the dot products of every SIMD level share, and the hooks by
 * which each level file fills its table.
 *
 * Block layouts are those of the GGUF format (ggml's block_* structs) and
 * must match them byte for byte; every struct has a static_assert on its size.
 * All multi-byte fields are little-endian (cove runs on little-endian hosts
 * only). Notation in the comments: element e of a block, nibble lo/hi of a
 * byte, "d" an f16 scale.
 */
#ifndef COVE_ENGINE_KERNELS_QUANTS_INT_H
#define COVE_ENGINE_KERNELS_QUANTS_INT_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "engine/kernels/quants.h"

#define QK32 32  /* elements in a Q4_0 .. Q8_1 block */
#define QK_K 256 /* elements in a k-quant super-block */

/* Q4_0: e = d * (q - 8); q of e < 16 is qs[e] lo, of e >= 16 is qs[e - 16] hi. */
typedef struct {
    uint16_t d;
    uint8_t qs[QK32 / 2];
} block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "q4_0 block");

/* Q4_1: e = d * q + m; q as in Q4_0. */
typedef struct {
    uint16_t d, m;
    uint8_t qs[QK32 / 2];
} block_q4_1;
static_assert(sizeof(block_q4_1) == 20, "q4_1 block");

/* Q5_0: e = d * (q - 16); low 4 bits of q as Q4_0, bit 4 is bit e of the u32 qh. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK32 / 2];
} block_q5_0;
static_assert(sizeof(block_q5_0) == 22, "q5_0 block");

/* Q5_1: e = d * q + m; q as in Q5_0. */
typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK32 / 2];
} block_q5_1;
static_assert(sizeof(block_q5_1) == 24, "q5_1 block");

/* Q8_0: e = d * qs[e]. */
typedef struct {
    uint16_t d;
    int8_t qs[QK32];
} block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "q8_0 block");

/* Q8_1: e = d * qs[e]; s = d * sum(qs) (activation format). */
typedef struct {
    uint16_t d, s;
    int8_t qs[QK32];
} block_q8_1;
static_assert(sizeof(block_q8_1) == 36, "q8_1 block");

/*
 * Q2_K: 16 groups of 16; group g = e / 16 has scale scales[g] lo and min
 * scales[g] hi (4 bits each): e = d * sc * q - dmin * m, q in 0..3 is
 * (qs[32 * (e / 128) + e % 32] >> (2 * (e / 32 % 4))) & 3.
 */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
} block_q2_K;
static_assert(sizeof(block_q2_K) == 84, "q2_k block");

/*
 * Q3_K: 16 groups of 16 with 6-bit scales (stored biased by 32, packed in 12
 * bytes, see quant_scales_q3_K): e = d * (sc - 32) * (q - 4), q in 0..7 whose
 * low 2 bits are placed as in Q2_K and bit 2 is bit (e / 32) of hmask[e % 32].
 */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3_K;
static_assert(sizeof(block_q3_K) == 110, "q3_k block");

/*
 * Q4_K: 8 groups of 32 with 6-bit scale and min (packed in 12 bytes, see
 * quant_scales_q4_K): e = d * sc * q - dmin * m; q in 0..15 is
 * qs[32 * (e / 64) + e % 32] lo for e % 64 < 32, hi otherwise.
 */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4_K;
static_assert(sizeof(block_q4_K) == 144, "q4_k block");

/* Q5_K: as Q4_K with q in 0..31; bit 4 of q is bit (e / 32) of qh[e % 32]. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
static_assert(sizeof(block_q5_K) == 176, "q5_k block");

/*
 * Q6_K: 16 groups of 16 with int8 scales: e = d * scales[e / 16] * (q - 32),
 * q in 0..63. With n = e / 128, t = e % 128 / 32, l = e % 32: the low 4 bits
 * are ql[64 * n + 32 * (t & 1) + l] lo (t < 2) or hi (t >= 2), the high 2 bits
 * are (qh[32 * n + l] >> (2 * t)) & 3.
 */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;
static_assert(sizeof(block_q6_K) == 210, "q6_k block");

/* Q8_K: e = d * qs[e]; bsums[g] = sum of qs over group g of 16 (activation format). */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
static_assert(sizeof(block_q8_K) == 292, "q8_k block");

/* ---- exact scalar conversions (inline: they sit in hot scalar loops) ---- */

static inline uint32_t quant_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float quant_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* binary16 -> binary32, exact. A NaN keeps its payload and comes back quiet (as F16C does). */
static inline float quant_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f)
        return quant_bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
    if (exp != 0)
        return quant_bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
    /* zero or subnormal: mant * 2^-24 is exact in binary32 */
    float f = (float)mant * 0x1p-24f;
    return quant_bits_f32(quant_f32_bits(f) | sign);
}

/*
 * binary32 -> binary16, round to nearest even, overflow to infinity,
 * subnormal results rounded correctly; a NaN stays NaN, quiet, with the top
 * of its payload (as F16C's vcvtps2ph does).
 */
static inline uint16_t quant_f32_to_f16(float f)
{
    uint32_t u = quant_f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* at or past the midpoint above 65504 */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* normal result */
        uint32_t h = a - (112u << 23);
        return (uint16_t)(sign | ((h + 0xfffu + ((h >> 13) & 1u)) >> 13));
    }
    if (a <= 0x33000000u) /* at most half of the smallest subnormal: ties to 0 */
        return (uint16_t)sign;
    uint32_t m = (a & 0x7fffffu) | 0x800000u, s = 126u - (a >> 23); /* 14 <= s <= 24 */
    uint32_t q = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

static inline float quant_bf16_to_f32(uint16_t h)
{
    return quant_bits_f32((uint32_t)h << 16);
}

/* binary32 -> bfloat16, round to nearest even; a NaN stays NaN (made quiet). */
static inline uint16_t quant_f32_to_bf16(float f)
{
    uint32_t u = quant_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/*
 * Round to the nearest integer, ties to even, for |v| < 2^22, without a float
 * to int conversion (so a NaN or infinity gives some integer, never UB). The
 * SIMD quantizers round the same way (cvtps with the default MXCSR).
 */
static inline int quant_rne(float v)
{
    float t = v + 12582912.0f; /* 1.5 * 2^23 */
    return (int)(quant_f32_bits(t) & 0x7fffffu) - 0x400000;
}

static inline int quant_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static inline uint16_t quant_load_u16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ---- canonical unpacked k-quant super-block ---- */

/*
 * Every k-quant block unpacks to unsigned q[256] (each < 64) with, per group
 * g of 16, an integer scale sc[g] and min mn[g]:
 *     e = d * sc[g] * q[e] - dmin * mn[g]            (off == 0: Q2_K, Q4_K, Q5_K)
 *     e = (d * sc[g]) * (q[e] - off)                 (off > 0: Q3_K 4, Q6_K 32)
 * For off > 0, mn[g] = off * sc[g] and dmin = d, so the first formula holds
 * for the dot products too; dequantize uses the second to round as the
 * format's own reference does. Dot products with Q8_K (qy, dy, bsums):
 *     d * dy * sum_g(sc[g] * sum(q * qy over g)) - dmin * dy * sum_g(mn[g] * bsums[g])
 */
typedef struct {
    float d, dmin;
    int off;
    int16_t sc[16];
    int16_t mn[16];
} quant_kscales;

/* Unpack the 12 bytes of Q4_K/Q5_K scales: 8 scales and 8 mins of 6 bits. */
static inline void quant_scales_q4_K(const uint8_t s[12], uint8_t sc[8], uint8_t mn[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0xf) | ((s[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* Unpack the 12 bytes of Q3_K scales: 16 scales of 6 bits, biased by 32. */
static inline void quant_scales_q3_K(const uint8_t s[12], int sc[16])
{
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? s[g] & 0xf : s[g - 8] >> 4;
        int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
        sc[g] = (lo | (hi << 4)) - 32;
    }
}

/* The scales of one block of each k-quant type in canonical form. */
static inline void quant_kscales_q2_K(const block_q2_K *b, quant_kscales *k)
{
    k->d = quant_f16_to_f32(b->d);
    k->dmin = quant_f16_to_f32(b->dmin);
    k->off = 0;
    for (int g = 0; g < 16; g++) {
        k->sc[g] = b->scales[g] & 0xf;
        k->mn[g] = b->scales[g] >> 4;
    }
}

static inline void quant_kscales_q3_K(const block_q3_K *b, quant_kscales *k)
{
    int sc[16];
    quant_scales_q3_K(b->scales, sc);
    k->d = k->dmin = quant_f16_to_f32(b->d);
    k->off = 4;
    for (int g = 0; g < 16; g++) {
        k->sc[g] = (int16_t)sc[g];
        k->mn[g] = (int16_t)(4 * sc[g]);
    }
}

static inline void quant_kscales_q45_K(uint16_t d, uint16_t dmin, const uint8_t s[12],
                                       quant_kscales *k)
{
    uint8_t sc[8], mn[8];
    quant_scales_q4_K(s, sc, mn);
    k->d = quant_f16_to_f32(d);
    k->dmin = quant_f16_to_f32(dmin);
    k->off = 0;
    for (int g = 0; g < 16; g++) {
        k->sc[g] = sc[g / 2];
        k->mn[g] = mn[g / 2];
    }
}

static inline void quant_kscales_q6_K(const block_q6_K *b, quant_kscales *k)
{
    k->d = k->dmin = quant_f16_to_f32(b->d);
    k->off = 32;
    for (int g = 0; g < 16; g++) {
        k->sc[g] = b->scales[g];
        k->mn[g] = (int16_t)(32 * b->scales[g]);
    }
}

/* The canonical scales of block i of a row of type t (a k-quant). */
void cove_quant_kscales(enum cove_ggml_type t, const void *row, int i, quant_kscales *k);

/* ---- per-level tables ---- */

/*
 * Each level file fills the entries it improves on in a copy of the
 * reference tables (indexed by type; entries with block_size 0 are unused).
 * A fill function only exists where its file is compiled for the target.
 */
void cove_quants_ref_fill(cove_quant_ops ops[COVE_TYPE_COUNT]);
void cove_quants_avx2_fill(cove_quant_ops ops[COVE_TYPE_COUNT]);
void cove_quants_avx512_fill(cove_quant_ops ops[COVE_TYPE_COUNT]);
void cove_quants_neon_fill(cove_quant_ops ops[COVE_TYPE_COUNT]);

/*
 * Batches: cove_quant_gemm_run hands 2 or more activation rows (several
 * sequences decoded together, prefill) to a level's batch kernel where the
 * type has one, a block of weight rows at a time. It computes
 * Y[j * ldy + i] = dot(W row i, Xq row j) for rb <= i < re and j < n_x, rows
 * of W w_row_bytes (wrb) apart and of Xq xrb apart, as cove_quant_gemm_run
 * does; arguments are checked by the caller.
 * The tables are filled like the ops tables (NULL: use gemm_tile).
 */
#define QUANT_BATCH_W_BLOCK (256u << 10) /* bytes of weight rows per batch kernel call (kept in L2) */

typedef void (*cove_quant_batch_fn)(int k, const uint8_t *W, size_t wrb, int rb, int re, const uint8_t *Xq,
                                    size_t xrb, int n_x, float *Y, size_t ldy);

void cove_quants_avx2_batch_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
void cove_quants_avx512_batch_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);

/*
 * Decode kernels over a row range (n_x == 1), in the shape of the batch
 * kernels: the level avx512vbmi has them for the 32-element types
 * (quants_avx512vbmi.c); where a level has none, gemv_tile or vec_dot serve.
 */
void cove_quants_avx512vbmi_gemv_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);

/* Decode over packed rows (quants_pack.c; quants_pack_avx512.c), for the avx512 levels. */
void cove_quants_avx512_packed_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
/* Batches (n_x >= 1) over packed rows of the same types. */
void cove_quants_avx512_packed_batch_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
/* Decode and batches over packed Q4_K and Q6_K rows (quants_packk.c; quants_packk_avx512.c). */
void cove_quants_avx512_packedk_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
void cove_quants_avx512_packedk_batch_fill(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
/* The same built with GFNI (quants_pack_gfni.c, quants_packk_gfni.c): for CPUs that have it. */
void cove_quants_avx512_packed_fill_gfni(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
void cove_quants_avx512_packed_batch_fill_gfni(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
void cove_quants_avx512_packedk_fill_gfni(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);
void cove_quants_avx512_packedk_batch_fill_gfni(cove_quant_batch_fn fns[COVE_TYPE_COUNT]);

/*
 * Packed k-quant rows (layouts in quants_packk.c): the blocks of a packed group (Q4_K 4,
 * Q6_K 1; 0: no packed layout), and the row functions behind cove_quant_pack_rows,
 * cove_quant_unpack_rows and cove_quant_packed_to_f32 for those types.
 */
#define QUANT_PACKK_Q4_K_BLOCKS 4
int quant_packk_group(enum cove_ggml_type t);
int quant_packk_rows(enum cove_ggml_type t, void *W, size_t wrb, int64_t rows, int64_t k);
int quant_packk_unpack_rows(enum cove_ggml_type t, const void *src, void *dst, size_t wrb, int64_t rows,
                            int64_t k);
void quant_packk_to_f32(enum cove_ggml_type t, const void *row, float *y, int64_t n);

/* The batch kernel of type t at `level`, or NULL (tests check which levels have them). */
cove_quant_batch_fn cove_quant_batch_for_level(enum cove_ggml_type t, enum cove_klevel level);

/* Reference kernels the SIMD files fall back to for their tails (quants_ref.c). */
void cove_quant_unpack_k_ref(enum cove_ggml_type t, const void *blk, uint8_t q[QK_K]);

#endif
