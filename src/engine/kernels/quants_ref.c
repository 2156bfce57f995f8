/*
 * engine/kernels/quants_ref.c - scalar reference kernels for every quantized
 * type: the definition that the SIMD levels are tested against.
 *
 * Layouts are documented on the block structs in quants_int.h. Each type is
 * read through an "unpack" that turns a block into its integer values q[] and
 * scales, so dequantize, dot and quantize (the inverse, "pack") share one
 * description of where each element lives.
 */
#include <math.h>

#include "engine/kernels/quants_int.h"

/* ---- F32, F16, BF16 weights (activations in F32) ---- */

static void f32_dequant(const void *x, float *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void f32_quant(const float *x, void *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

static float f32_dot(int n, const void *x, const void *y)
{
    const float *a = x, *b = y;
    double s = 0; /* the reference sums in double: SIMD results are compared to it */
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

static void f16_dequant(const void *x, float *y, int64_t n)
{
    const uint8_t *p = x;
    for (int64_t i = 0; i < n; i++)
        y[i] = quant_f16_to_f32(quant_load_u16(p + 2 * i));
}

static void f16_quant(const float *x, void *y, int64_t n)
{
    uint8_t *p = y;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = quant_f32_to_f16(x[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static float f16_dot(int n, const void *x, const void *y)
{
    const uint8_t *p = x;
    const float *b = y;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)quant_f16_to_f32(quant_load_u16(p + 2 * i)) * b[i];
    return (float)s;
}

static void bf16_dequant(const void *x, float *y, int64_t n)
{
    const uint8_t *p = x;
    for (int64_t i = 0; i < n; i++)
        y[i] = quant_bf16_to_f32(quant_load_u16(p + 2 * i));
}

static void bf16_quant(const float *x, void *y, int64_t n)
{
    uint8_t *p = y;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = quant_f32_to_bf16(x[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static float bf16_dot(int n, const void *x, const void *y)
{
    const uint8_t *p = x;
    const float *b = y;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)quant_bf16_to_f32(quant_load_u16(p + 2 * i)) * b[i];
    return (float)s;
}

/* ---- 32-element blocks: unpack to q[32] ---- */

static void unpack_nibbles(const uint8_t qs[16], uint8_t q[32])
{
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 0xf;
        q[j + 16] = qs[j] >> 4;
    }
}

static void unpack_q5(const uint8_t qh4[4], const uint8_t qs[16], uint8_t q[32])
{
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    unpack_nibbles(qs, q);
    for (int j = 0; j < 32; j++)
        q[j] |= (uint8_t)(((qh >> j) & 1u) << 4);
}

static void pack_nibbles(const uint8_t q[32], uint8_t qs[16])
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
}

static void pack_q5(const uint8_t q[32], uint8_t qh4[4], uint8_t qs[16])
{
    uint32_t qh = 0;
    uint8_t lo[32];
    for (int j = 0; j < 32; j++) {
        lo[j] = q[j] & 0xf;
        qh |= (uint32_t)(q[j] >> 4) << j;
    }
    pack_nibbles(lo, qs);
    memcpy(qh4, &qh, 4);
}

/* Symmetric block: the signed extreme maps to -half (q = 0), as ggml does. */
static float sym_scale(const float *x, int n, float half)
{
    float amax = 0, ext = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            ext = x[j];
        }
    return ext / -half;
}

/* Quantize x[32] to q = clamp(rne(x / d) + off, 0, qmax) for the stored d. */
static void quant_block_sym(const float *x, float d, int off, int qmax, uint8_t q[32])
{
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (uint8_t)quant_clamp(quant_rne(x[j] * id) + off, 0, qmax);
}

/* Affine block: q = clamp(rne((x - m) / d), 0, qmax); returns d, stores m (both f16). */
static void quant_block_affine(const float *x, int qmax, uint16_t *d16, uint16_t *m16, uint8_t q[32])
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < 32; j++) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
    }
    *d16 = quant_f32_to_f16((hi - lo) / (float)qmax);
    *m16 = quant_f32_to_f16(lo);
    float d = quant_f16_to_f32(*d16), m = quant_f16_to_f32(*m16);
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (uint8_t)quant_clamp(quant_rne((x[j] - m) * id), 0, qmax);
}

static void q4_0_dequant(const void *x, float *y, int64_t n)
{
    const block_q4_0 *b = x;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = quant_f16_to_f32(b[i].d);
        unpack_nibbles(b[i].qs, q);
        for (int j = 0; j < 32; j++)
            y[i * QK32 + j] = (float)(q[j] - 8) * d;
    }
}

static void q4_0_quant(const float *x, void *y, int64_t n)
{
    block_q4_0 *b = y;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        b[i].d = quant_f32_to_f16(sym_scale(x + i * QK32, 32, 8));
        quant_block_sym(x + i * QK32, quant_f16_to_f32(b[i].d), 8, 15, q);
        pack_nibbles(q, b[i].qs);
    }
}

static void q5_0_dequant(const void *x, float *y, int64_t n)
{
    const block_q5_0 *b = x;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = quant_f16_to_f32(b[i].d);
        unpack_q5(b[i].qh, b[i].qs, q);
        for (int j = 0; j < 32; j++)
            y[i * QK32 + j] = (float)(q[j] - 16) * d;
    }
}

static void q5_0_quant(const float *x, void *y, int64_t n)
{
    block_q5_0 *b = y;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        b[i].d = quant_f32_to_f16(sym_scale(x + i * QK32, 32, 16));
        quant_block_sym(x + i * QK32, quant_f16_to_f32(b[i].d), 16, 31, q);
        pack_q5(q, b[i].qh, b[i].qs);
    }
}

static void q4_1_dequant(const void *x, float *y, int64_t n)
{
    const block_q4_1 *b = x;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = quant_f16_to_f32(b[i].d), m = quant_f16_to_f32(b[i].m);
        unpack_nibbles(b[i].qs, q);
        for (int j = 0; j < 32; j++)
            y[i * QK32 + j] = (float)q[j] * d + m;
    }
}

static void q4_1_quant(const float *x, void *y, int64_t n)
{
    block_q4_1 *b = y;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        quant_block_affine(x + i * QK32, 15, &b[i].d, &b[i].m, q);
        pack_nibbles(q, b[i].qs);
    }
}

static void q5_1_dequant(const void *x, float *y, int64_t n)
{
    const block_q5_1 *b = x;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = quant_f16_to_f32(b[i].d), m = quant_f16_to_f32(b[i].m);
        unpack_q5(b[i].qh, b[i].qs, q);
        for (int j = 0; j < 32; j++)
            y[i * QK32 + j] = (float)q[j] * d + m;
    }
}

static void q5_1_quant(const float *x, void *y, int64_t n)
{
    block_q5_1 *b = y;
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK32; i++) {
        quant_block_affine(x + i * QK32, 31, &b[i].d, &b[i].m, q);
        pack_q5(q, b[i].qh, b[i].qs);
    }
}

/* ---- Q8_0 and Q8_1 ---- */

static void q8_0_dequant(const void *x, float *y, int64_t n)
{
    const block_q8_0 *b = x;
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = quant_f16_to_f32(b[i].d);
        for (int j = 0; j < 32; j++)
            y[i * QK32 + j] = (float)b[i].qs[j] * d;
    }
}

/* q = rne(x * (127 / amax)) in -127..127; returns sum(q). Shared by Q8_0, Q8_1, Q8_K. */
static int quant_q8(const float *x, int n, float *d_out, int8_t *q)
{
    float amax = 0;
    for (int j = 0; j < n; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < n; j++) {
        q[j] = (int8_t)quant_clamp(quant_rne(x[j] * id), -127, 127);
        sum += q[j];
    }
    *d_out = d;
    return sum;
}

static void q8_0_quant(const float *x, void *y, int64_t n)
{
    block_q8_0 *b = y;
    for (int64_t i = 0; i < n / QK32; i++) {
        float d;
        quant_q8(x + i * QK32, QK32, &d, b[i].qs);
        b[i].d = quant_f32_to_f16(d);
    }
}

static void q8_1_dequant(const void *x, float *y, int64_t n)
{
    const block_q8_1 *b = x;
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = quant_f16_to_f32(b[i].d);
        for (int j = 0; j < 32; j++)
            y[i * QK32 + j] = (float)b[i].qs[j] * d;
    }
}

static void q8_1_quant(const float *x, void *y, int64_t n)
{
    block_q8_1 *b = y;
    for (int64_t i = 0; i < n / QK32; i++) {
        float d;
        int sum = quant_q8(x + i * QK32, QK32, &d, b[i].qs);
        b[i].d = quant_f32_to_f16(d);
        b[i].s = quant_f32_to_f16(d * (float)sum);
    }
}

/* ---- dot products of the 32-element types ---- */

static int isum32(const uint8_t q[32], int off, const int8_t *y)
{
    int s = 0;
    for (int j = 0; j < 32; j++)
        s += (q[j] - off) * y[j];
    return s;
}

static float q4_0_dot(int n, const void *x, const void *y)
{
    const block_q4_0 *a = x;
    const block_q8_0 *b = y;
    uint8_t q[32];
    float s = 0;
    for (int i = 0; i < n / QK32; i++) {
        unpack_nibbles(a[i].qs, q);
        s += (float)isum32(q, 8, b[i].qs) * (quant_f16_to_f32(a[i].d) * quant_f16_to_f32(b[i].d));
    }
    return s;
}

static float q5_0_dot(int n, const void *x, const void *y)
{
    const block_q5_0 *a = x;
    const block_q8_0 *b = y;
    uint8_t q[32];
    float s = 0;
    for (int i = 0; i < n / QK32; i++) {
        unpack_q5(a[i].qh, a[i].qs, q);
        s += (float)isum32(q, 16, b[i].qs) * (quant_f16_to_f32(a[i].d) * quant_f16_to_f32(b[i].d));
    }
    return s;
}

static float q8_0_dot(int n, const void *x, const void *y)
{
    const block_q8_0 *a = x;
    const block_q8_0 *b = y;
    float s = 0;
    for (int i = 0; i < n / QK32; i++) {
        int is = 0;
        for (int j = 0; j < 32; j++)
            is += a[i].qs[j] * b[i].qs[j];
        s += (float)is * (quant_f16_to_f32(a[i].d) * quant_f16_to_f32(b[i].d));
    }
    return s;
}

static float q4_1_dot(int n, const void *x, const void *y)
{
    const block_q4_1 *a = x;
    const block_q8_1 *b = y;
    uint8_t q[32];
    float s = 0;
    for (int i = 0; i < n / QK32; i++) {
        unpack_nibbles(a[i].qs, q);
        float dd = quant_f16_to_f32(a[i].d) * quant_f16_to_f32(b[i].d);
        s += (float)isum32(q, 0, b[i].qs) * dd + quant_f16_to_f32(a[i].m) * quant_f16_to_f32(b[i].s);
    }
    return s;
}

static float q5_1_dot(int n, const void *x, const void *y)
{
    const block_q5_1 *a = x;
    const block_q8_1 *b = y;
    uint8_t q[32];
    float s = 0;
    for (int i = 0; i < n / QK32; i++) {
        unpack_q5(a[i].qh, a[i].qs, q);
        float dd = quant_f16_to_f32(a[i].d) * quant_f16_to_f32(b[i].d);
        s += (float)isum32(q, 0, b[i].qs) * dd + quant_f16_to_f32(a[i].m) * quant_f16_to_f32(b[i].s);
    }
    return s;
}

/* ---- k-quants: unpack, dequantize, dot ---- */

/* Element e of a k-quant block as an unsigned q (see the block comments). */
static void unpack_q2_K(const block_q2_K *b, uint8_t q[QK_K])
{
    for (int e = 0; e < QK_K; e++)
        q[e] = (b->qs[32 * (e / 128) + e % 32] >> (2 * (e / 32 % 4))) & 3;
}

static void unpack_q3_K(const block_q3_K *b, uint8_t q[QK_K])
{
    for (int e = 0; e < QK_K; e++) {
        int lo = (b->qs[32 * (e / 128) + e % 32] >> (2 * (e / 32 % 4))) & 3;
        int hi = (b->hmask[e % 32] >> (e / 32)) & 1;
        q[e] = (uint8_t)(lo | (hi << 2));
    }
}

static void unpack_q4_K(const uint8_t qs[QK_K / 2], uint8_t q[QK_K])
{
    for (int e = 0; e < QK_K; e++) {
        uint8_t byte = qs[32 * (e / 64) + e % 32];
        q[e] = e % 64 < 32 ? byte & 0xf : byte >> 4;
    }
}

static void unpack_q5_K(const block_q5_K *b, uint8_t q[QK_K])
{
    unpack_q4_K(b->qs, q);
    for (int e = 0; e < QK_K; e++)
        q[e] |= (uint8_t)(((b->qh[e % 32] >> (e / 32)) & 1) << 4);
}

static void unpack_q6_K(const block_q6_K *b, uint8_t q[QK_K])
{
    for (int e = 0; e < QK_K; e++) {
        int n = e / 128, t = e % 128 / 32, l = e % 32;
        uint8_t byte = b->ql[64 * n + 32 * (t & 1) + l];
        int lo = t < 2 ? byte & 0xf : byte >> 4;
        int hi = (b->qh[32 * n + l] >> (2 * t)) & 3;
        q[e] = (uint8_t)(lo | (hi << 4));
    }
}

static size_t kblock_bytes(enum cove_ggml_type t)
{
    switch (t) {
    case COVE_TYPE_Q2_K: return sizeof(block_q2_K);
    case COVE_TYPE_Q3_K: return sizeof(block_q3_K);
    case COVE_TYPE_Q4_K: return sizeof(block_q4_K);
    case COVE_TYPE_Q5_K: return sizeof(block_q5_K);
    default: return sizeof(block_q6_K);
    }
}

void cove_quant_unpack_k_ref(enum cove_ggml_type t, const void *blk, uint8_t q[QK_K])
{
    switch (t) {
    case COVE_TYPE_Q2_K: unpack_q2_K(blk, q); break;
    case COVE_TYPE_Q3_K: unpack_q3_K(blk, q); break;
    case COVE_TYPE_Q4_K: unpack_q4_K(((const block_q4_K *)blk)->qs, q); break;
    case COVE_TYPE_Q5_K: unpack_q5_K(blk, q); break;
    default: unpack_q6_K(blk, q); break;
    }
}

void cove_quant_kscales(enum cove_ggml_type t, const void *row, int i, quant_kscales *k)
{
    const uint8_t *blk = (const uint8_t *)row + (size_t)i * kblock_bytes(t);
    switch (t) {
    case COVE_TYPE_Q2_K: quant_kscales_q2_K((const block_q2_K *)blk, k); break;
    case COVE_TYPE_Q3_K: quant_kscales_q3_K((const block_q3_K *)blk, k); break;
    case COVE_TYPE_Q4_K: {
        const block_q4_K *b = (const block_q4_K *)blk;
        quant_kscales_q45_K(b->d, b->dmin, b->scales, k);
        break;
    }
    case COVE_TYPE_Q5_K: {
        const block_q5_K *b = (const block_q5_K *)blk;
        quant_kscales_q45_K(b->d, b->dmin, b->scales, k);
        break;
    }
    default: quant_kscales_q6_K((const block_q6_K *)blk, k); break;
    }
}

/* Dequantize n elements of a k-quant row from the canonical form. */
static void kquant_dequant(enum cove_ggml_type t, const void *x, float *y, int64_t n)
{
    uint8_t q[QK_K];
    quant_kscales k;
    const uint8_t *blk = x;
    for (int64_t i = 0; i < n / QK_K; i++, blk += kblock_bytes(t)) {
        cove_quant_kscales(t, blk, 0, &k);
        cove_quant_unpack_k_ref(t, blk, q);
        for (int g = 0; g < 16; g++) {
            float dl = k.d * (float)k.sc[g], ml = k.dmin * (float)k.mn[g];
            float *yg = y + i * QK_K + 16 * g;
            for (int l = 0; l < 16; l++)
                yg[l] = k.off ? dl * (float)(q[16 * g + l] - k.off) : dl * (float)q[16 * g + l] - ml;
        }
    }
}

static float kquant_dot(enum cove_ggml_type t, int n, const void *x, const void *y)
{
    const uint8_t *blk = x;
    const block_q8_K *b = y;
    uint8_t q[QK_K];
    quant_kscales k;
    float s = 0;
    for (int i = 0; i < n / QK_K; i++, blk += kblock_bytes(t)) {
        cove_quant_kscales(t, blk, 0, &k);
        cove_quant_unpack_k_ref(t, blk, q);
        int isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            int gs = 0;
            for (int l = 0; l < 16; l++)
                gs += q[16 * g + l] * b[i].qs[16 * g + l];
            isum += k.sc[g] * gs;
            msum += k.mn[g] * b[i].bsums[g];
        }
        s += b[i].d * (k.d * (float)isum - k.dmin * (float)msum);
    }
    return s;
}

#define KQUANT_WRAPPERS(name, T)                                                    \
    static void name##_dequant(const void *x, float *y, int64_t n)                  \
    {                                                                               \
        kquant_dequant(T, x, y, n);                                                 \
    }                                                                               \
    static float name##_dot(int n, const void *x, const void *y)                    \
    {                                                                               \
        return kquant_dot(T, n, x, y);                                              \
    }
KQUANT_WRAPPERS(q2_K, COVE_TYPE_Q2_K)
KQUANT_WRAPPERS(q3_K, COVE_TYPE_Q3_K)
KQUANT_WRAPPERS(q4_K, COVE_TYPE_Q4_K)
KQUANT_WRAPPERS(q5_K, COVE_TYPE_Q5_K)
KQUANT_WRAPPERS(q6_K, COVE_TYPE_Q6_K)

/* ---- Q8_K ---- */

static void q8_K_dequant(const void *x, float *y, int64_t n)
{
    const block_q8_K *b = x;
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j++)
            y[i * QK_K + j] = (float)b[i].qs[j] * b[i].d;
}

static void q8_K_quant(const float *x, void *y, int64_t n)
{
    block_q8_K *b = y;
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_q8(x + i * QK_K, QK_K, &b[i].d, b[i].qs);
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += b[i].qs[16 * g + l];
            b[i].bsums[g] = (int16_t)s;
        }
    }
}

/* ---- k-quant quantizers: simple per-group scales, then 6/4-bit scale codes ---- */

/* Integer codes of v[0..ng) relative to one f16 factor (returned): |code| <= smax, code >= smin. */
static uint16_t kq_code(const float *v, int ng, int smin, int smax, int *code)
{
    float amax = 0;
    for (int g = 0; g < ng; g++)
        amax = fabsf(v[g]) > amax ? fabsf(v[g]) : amax;
    uint16_t d16 = quant_f32_to_f16(amax / (float)smax);
    float d = quant_f16_to_f32(d16), id = d > 0 ? 1.0f / d : 0.0f;
    for (int g = 0; g < ng; g++)
        code[g] = quant_clamp(quant_rne(v[g] * id), smin, smax);
    return d16;
}

/* Squared error of x[0..n) quantized as scale * q - minv, q in 0..qmax. */
static double affine_err(const float *x, int n, int qmax, float scale, float minv)
{
    float id = scale > 0 ? 1.0f / scale : 0.0f;
    double e = 0;
    for (int l = 0; l < n; l++) {
        int q = quant_clamp(quant_rne((x[l] + minv) * id), 0, qmax);
        double r = (double)x[l] - ((double)scale * q - minv);
        e += r * r;
    }
    return e;
}

/*
 * Fit scale and min (as -lo, lo <= 0) of one affine group: start from the
 * range, then alternate rounding and the least-squares line through the
 * rounded points a few times, keeping the best.
 */
static void fit_affine(const float *x, int n, int qmax, float *scale, float *minv)
{
    float lo = 0, hi = 0;
    for (int l = 0; l < n; l++) {
        lo = x[l] < lo ? x[l] : lo;
        hi = x[l] > hi ? x[l] : hi;
    }
    float s = (hi - lo) / (float)qmax, m = -lo;
    double best = affine_err(x, n, qmax, s, m);
    *scale = s, *minv = m;
    for (int it = 0; it < 6 && s > 0; it++) {
        double sq = 0, sqq = 0, sx = 0, sqx = 0;
        for (int l = 0; l < n; l++) {
            int q = quant_clamp(quant_rne((x[l] + m) / s), 0, qmax);
            sq += q, sqq += (double)q * q, sx += x[l], sqx += (double)q * x[l];
        }
        double det = n * sqq - sq * sq;
        if (det <= 0)
            break;
        double ns = (n * sqx - sq * sx) / det, nlo = (sx - ns * sq) / n;
        if (nlo > 0) /* the format needs lo <= 0 */
            nlo = 0, ns = sqq > 0 ? sqx / sqq : 0;
        if (!(ns > 0))
            break;
        s = (float)ns, m = (float)-nlo;
        double e = affine_err(x, n, qmax, s, m);
        if (!(e < best))
            break;
        best = e, *scale = s, *minv = m;
    }
}

/*
 * Affine groups of gs elements: e = d * sc * q - dmin * mn with q in 0..qmax
 * and sc, mn in 0..smax. Fills q[256], sc[], mn[] (one per group) and d, dmin.
 */
static void kq_affine(const float *x, int gs, int qmax, int smax, uint8_t *q, int *sc, int *mn,
                      uint16_t *d16, uint16_t *dmin16)
{
    float scale[16], minv[16];
    int ng = QK_K / gs;
    for (int g = 0; g < ng; g++)
        fit_affine(x + g * gs, gs, qmax, &scale[g], &minv[g]);
    *d16 = kq_code(scale, ng, 0, smax, sc);
    *dmin16 = kq_code(minv, ng, 0, smax, mn);
    float d = quant_f16_to_f32(*d16), dmin = quant_f16_to_f32(*dmin16);
    for (int g = 0; g < ng; g++) {
        float ds = d * (float)sc[g], dm = dmin * (float)mn[g], id = ds > 0 ? 1.0f / ds : 0.0f;
        for (int l = 0; l < gs; l++)
            q[g * gs + l] = (uint8_t)quant_clamp(quant_rne((x[g * gs + l] + dm) * id), 0, qmax);
    }
}

/* Squared error of x[0..n) quantized as scale * v, v in -half..half-1. */
static double sym_err(const float *x, int n, int half, float scale)
{
    float id = scale != 0 ? 1.0f / scale : 0.0f;
    double e = 0;
    for (int l = 0; l < n; l++) {
        int v = quant_clamp(quant_rne(x[l] * id), -half, half - 1);
        double r = (double)x[l] - (double)scale * v;
        e += r * r;
    }
    return e;
}

/* Scale of one symmetric group: the extreme mapped to -half +- a little, the best of a few. */
static float fit_sym(const float *x, int n, int half)
{
    float base = sym_scale(x, n, (float)half), best_s = base;
    double best = sym_err(x, n, half, base);
    for (int i = -4; i <= 6 && base != 0; i++) {
        float s = base * (float)half / ((float)half + 0.25f * (float)i);
        double e = sym_err(x, n, half, s);
        if (e < best)
            best = e, best_s = s;
    }
    return best_s;
}

/*
 * Symmetric groups of 16: e = d * sc * (q - half) with q in 0..2*half-1 and
 * sc in smin..smax (the group's signed extreme maps to q = 0).
 */
static void kq_sym(const float *x, int half, int smin, int smax, uint8_t *q, int *sc, uint16_t *d16)
{
    float scale[16];
    for (int g = 0; g < 16; g++)
        scale[g] = fit_sym(x + 16 * g, 16, half);
    *d16 = kq_code(scale, 16, smin, smax, sc);
    float d = quant_f16_to_f32(*d16);
    for (int g = 0; g < 16; g++) {
        float ds = d * (float)sc[g], id = ds != 0 ? 1.0f / ds : 0.0f;
        for (int l = 0; l < 16; l++)
            q[16 * g + l] = (uint8_t)(quant_clamp(quant_rne(x[16 * g + l] * id), -half, half - 1) + half);
    }
}

/* Pack 8 scales and 8 mins of 6 bits (the inverse of quant_scales_q4_K). */
static void pack_scales_q4_K(const int *sc, const int *mn, uint8_t s[12])
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4));
    }
}

/* Low 2 bits of q[e] into qs as Q2_K and Q3_K place them. */
static void pack_2bit(const uint8_t *q, uint8_t qs[QK_K / 4])
{
    memset(qs, 0, QK_K / 4);
    for (int e = 0; e < QK_K; e++)
        qs[32 * (e / 128) + e % 32] |= (uint8_t)((q[e] & 3) << (2 * (e / 32 % 4)));
}

static void pack_4bit(const uint8_t *q, uint8_t qs[QK_K / 2])
{
    for (int e = 0; e < QK_K; e++) {
        uint8_t *b = &qs[32 * (e / 64) + e % 32];
        *b = e % 64 < 32 ? (uint8_t)(q[e] & 0xf) : (uint8_t)(*b | ((q[e] & 0xf) << 4));
    }
}

static void q2_K_quant(const float *x, void *y, int64_t n)
{
    block_q2_K *b = y;
    uint8_t q[QK_K];
    int sc[16], mn[16];
    for (int64_t i = 0; i < n / QK_K; i++) {
        kq_affine(x + i * QK_K, 16, 3, 15, q, sc, mn, &b[i].d, &b[i].dmin);
        for (int g = 0; g < 16; g++)
            b[i].scales[g] = (uint8_t)(sc[g] | (mn[g] << 4));
        pack_2bit(q, b[i].qs);
    }
}

static void q3_K_quant(const float *x, void *y, int64_t n)
{
    block_q3_K *b = y;
    uint8_t q[QK_K];
    int sc[16];
    for (int64_t i = 0; i < n / QK_K; i++) {
        kq_sym(x + i * QK_K, 4, -32, 31, q, sc, &b[i].d);
        memset(b[i].scales, 0, 12);
        for (int g = 0; g < 16; g++) {
            int u = sc[g] + 32;
            b[i].scales[g % 8] |= (uint8_t)((u & 0xf) << (g < 8 ? 0 : 4));
            b[i].scales[8 + g % 4] |= (uint8_t)((u >> 4) << (2 * (g / 4)));
        }
        pack_2bit(q, b[i].qs);
        memset(b[i].hmask, 0, sizeof b[i].hmask);
        for (int e = 0; e < QK_K; e++)
            b[i].hmask[e % 32] |= (uint8_t)((q[e] >> 2) << (e / 32));
    }
}

static void q4_K_quant(const float *x, void *y, int64_t n)
{
    block_q4_K *b = y;
    uint8_t q[QK_K];
    int sc[8], mn[8];
    for (int64_t i = 0; i < n / QK_K; i++) {
        kq_affine(x + i * QK_K, 32, 15, 63, q, sc, mn, &b[i].d, &b[i].dmin);
        pack_scales_q4_K(sc, mn, b[i].scales);
        pack_4bit(q, b[i].qs);
    }
}

static void q5_K_quant(const float *x, void *y, int64_t n)
{
    block_q5_K *b = y;
    uint8_t q[QK_K];
    int sc[8], mn[8];
    for (int64_t i = 0; i < n / QK_K; i++) {
        kq_affine(x + i * QK_K, 32, 31, 63, q, sc, mn, &b[i].d, &b[i].dmin);
        pack_scales_q4_K(sc, mn, b[i].scales);
        pack_4bit(q, b[i].qs);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int e = 0; e < QK_K; e++)
            b[i].qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
    }
}

static void q6_K_quant(const float *x, void *y, int64_t n)
{
    block_q6_K *b = y;
    uint8_t q[QK_K];
    int sc[16];
    for (int64_t i = 0; i < n / QK_K; i++) {
        kq_sym(x + i * QK_K, 32, -128, 127, q, sc, &b[i].d);
        for (int g = 0; g < 16; g++)
            b[i].scales[g] = (int8_t)sc[g];
        memset(b[i].ql, 0, sizeof b[i].ql);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int e = 0; e < QK_K; e++) {
            int nn = e / 128, t = e % 128 / 32, l = e % 32;
            b[i].ql[64 * nn + 32 * (t & 1) + l] |= (uint8_t)((q[e] & 0xf) << (t < 2 ? 0 : 4));
            b[i].qh[32 * nn + l] |= (uint8_t)((q[e] >> 4) << (2 * t));
        }
    }
}

/* ---- the table ---- */

#define OPS(T, VT, BS, BB, name)                                                    \
    [T] = {.type = T, .vec_dot_type = VT, .level = COVE_KLEVEL_SCALAR, .block_size = BS, \
           .block_bytes = BB, .dequantize_row = name##_dequant, .quantize_row = name##_quant, \
           .vec_dot = name##_dot}

static const cove_quant_ops ref_table[COVE_TYPE_COUNT] = {
    OPS(COVE_TYPE_F32, COVE_TYPE_F32, 1, 4, f32),
    OPS(COVE_TYPE_F16, COVE_TYPE_F32, 1, 2, f16),
    OPS(COVE_TYPE_BF16, COVE_TYPE_F32, 1, 2, bf16),
    OPS(COVE_TYPE_Q4_0, COVE_TYPE_Q8_0, 32, sizeof(block_q4_0), q4_0),
    OPS(COVE_TYPE_Q4_1, COVE_TYPE_Q8_1, 32, sizeof(block_q4_1), q4_1),
    OPS(COVE_TYPE_Q5_0, COVE_TYPE_Q8_0, 32, sizeof(block_q5_0), q5_0),
    OPS(COVE_TYPE_Q5_1, COVE_TYPE_Q8_1, 32, sizeof(block_q5_1), q5_1),
    OPS(COVE_TYPE_Q8_0, COVE_TYPE_Q8_0, 32, sizeof(block_q8_0), q8_0),
    [COVE_TYPE_Q8_1] = {.type = COVE_TYPE_Q8_1, .vec_dot_type = COVE_TYPE_Q8_1,
                        .level = COVE_KLEVEL_SCALAR, .block_size = 32,
                        .block_bytes = sizeof(block_q8_1), .dequantize_row = q8_1_dequant,
                        .quantize_row = q8_1_quant},
    OPS(COVE_TYPE_Q2_K, COVE_TYPE_Q8_K, QK_K, sizeof(block_q2_K), q2_K),
    OPS(COVE_TYPE_Q3_K, COVE_TYPE_Q8_K, QK_K, sizeof(block_q3_K), q3_K),
    OPS(COVE_TYPE_Q4_K, COVE_TYPE_Q8_K, QK_K, sizeof(block_q4_K), q4_K),
    OPS(COVE_TYPE_Q5_K, COVE_TYPE_Q8_K, QK_K, sizeof(block_q5_K), q5_K),
    OPS(COVE_TYPE_Q6_K, COVE_TYPE_Q8_K, QK_K, sizeof(block_q6_K), q6_K),
    [COVE_TYPE_Q8_K] = {.type = COVE_TYPE_Q8_K, .vec_dot_type = COVE_TYPE_Q8_K,
                        .level = COVE_KLEVEL_SCALAR, .block_size = QK_K,
                        .block_bytes = sizeof(block_q8_K), .dequantize_row = q8_K_dequant,
                        .quantize_row = q8_K_quant},
};

void cove_quants_ref_fill(cove_quant_ops ops[COVE_TYPE_COUNT])
{
    memcpy(ops, ref_table, sizeof ref_table);
}
