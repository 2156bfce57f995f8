/*
 * engine/kernels/quants_neon.c - NEON kernels (aarch64 only; baseline ASIMD,
 * no dot-product extension needed). Entries not set here keep the reference
 * (dequantize, weight quantizers, F16/BF16 conversion).
 *
 * Integer dots: weights unpacked to int8 (the format's offset subtracted),
 * multiplied with the int8 activations by vmull_s8 / vmlal_high_s8 into int16
 * (|w| <= 128 and |y| <= 127 keep a pair sum below 2^15) and widened with
 * vpadalq_s16. K-quants use the canonical q[256] and per-16 scales.
 * Activation quantizers round with vcvtnq (to nearest, ties to even), so they
 * match the reference bit for bit.
 */
#if defined(__aarch64__)

#include <arm_neon.h>

#include "engine/kernels/quants_int.h"

/* ---- float weights ---- */

static float f32_dot(int n, const void *x, const void *y)
{
    const float *a = x, *b = y;
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Eight 16-bit floats (F16 or BF16) at p as two float32x4. */
static inline void load8_h(const uint8_t *p, int bf16, float32x4_t *lo, float32x4_t *hi)
{
    uint16x8_t h = vld1q_u16((const uint16_t *)(const void *)p);
    if (bf16) {
        *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
        *hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
    } else {
        float16x8_t f = vreinterpretq_f16_u16(h);
        *lo = vcvt_f32_f16(vget_low_f16(f));
        *hi = vcvt_high_f32_f16(f);
    }
}

static inline float half_dot(int bf16, int n, const void *x, const void *y)
{
    const uint8_t *a = x;
    const float *b = y;
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t lo, hi;
        load8_h(a + 2 * i, bf16, &lo, &hi);
        s0 = vfmaq_f32(s0, lo, vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, hi, vld1q_f32(b + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) {
        uint16_t h = quant_load_u16(a + 2 * i);
        s += (bf16 ? quant_bf16_to_f32(h) : quant_f16_to_f32(h)) * b[i];
    }
    return s;
}

static float f16_dot(int n, const void *x, const void *y) { return half_dot(0, n, x, y); }
static float bf16_dot(int n, const void *x, const void *y) { return half_dot(1, n, x, y); }

/* ---- activation quantizers ---- */

static inline float amax_f32(const float *x, int n)
{
    float32x4_t m = vdupq_n_f32(0);
    for (int j = 0; j < n; j += 4)
        m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    return vmaxvq_f32(m);
}

/* q[0..16) = rne(x * id) clamped to -127..127; returns their sum. */
static inline int q8_16(const float *x, float id, int8_t *q)
{
    int32x4_t v[4];
    for (int j = 0; j < 4; j++)
        v[j] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4 * j), id));
    int16x8_t a = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
    int16x8_t b = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
    int8x16_t r = vmaxq_s8(vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)), vdupq_n_s8(-127));
    vst1q_s8(q, r);
    return vaddlvq_s8(r);
}

static void q8_0_quant(const float *x, void *y, int64_t n)
{
    block_q8_0 *b = y;
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = amax_f32(x + i * QK32, QK32) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        q8_16(x + i * QK32, id, b[i].qs);
        q8_16(x + i * QK32 + 16, id, b[i].qs + 16);
        b[i].d = quant_f32_to_f16(d);
    }
}

static void q8_1_quant(const float *x, void *y, int64_t n)
{
    block_q8_1 *b = y;
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = amax_f32(x + i * QK32, QK32) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        int s = q8_16(x + i * QK32, id, b[i].qs) + q8_16(x + i * QK32 + 16, id, b[i].qs + 16);
        b[i].d = quant_f32_to_f16(d);
        b[i].s = quant_f32_to_f16(d * (float)s);
    }
}

static void q8_K_quant(const float *x, void *y, int64_t n)
{
    block_q8_K *b = y;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *xb = x + i * QK_K;
        float d = amax_f32(xb, QK_K) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        for (int g = 0; g < 16; g++)
            b[i].bsums[g] = (int16_t)q8_16(xb + 16 * g, id, b[i].qs + 16 * g);
        b[i].d = d;
    }
}

/* ---- 32-element block types ---- */

/* sum of w[j] * y[j] over 16 int8 pairs, as int32x4 partial sums. */
static inline int32x4_t dot16(int8x16_t w, int8x16_t y)
{
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(y));
    p = vmlal_high_s8(p, w, y);
    return vpaddlq_s16(p);
}

/* Block i of a 32-element row as two int8x16 (elements 0-15, 16-31), offset removed. */
static inline void dec32(enum cove_ggml_type t, const void *row, int i, int8x16_t w[2], float *d, float *m)
{
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    const uint8_t *qs, *qh = NULL;
    int off = 0;
    switch (t) {
    case COVE_TYPE_Q4_0: {
        const block_q4_0 *b = (const block_q4_0 *)row + i;
        *d = quant_f16_to_f32(b->d), qs = b->qs, off = 8;
        break;
    }
    case COVE_TYPE_Q4_1: {
        const block_q4_1 *b = (const block_q4_1 *)row + i;
        *d = quant_f16_to_f32(b->d), *m = quant_f16_to_f32(b->m), qs = b->qs;
        break;
    }
    case COVE_TYPE_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)row + i;
        *d = quant_f16_to_f32(b->d), qs = b->qs, qh = b->qh, off = 16;
        break;
    }
    case COVE_TYPE_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)row + i;
        *d = quant_f16_to_f32(b->d), *m = quant_f16_to_f32(b->m), qs = b->qs, qh = b->qh;
        break;
    }
    default: {
        const block_q8_0 *b = (const block_q8_0 *)row + i;
        *d = quant_f16_to_f32(b->d);
        w[0] = vld1q_s8(b->qs);
        w[1] = vld1q_s8(b->qs + 16);
        return;
    }
    }
    uint8x16_t v = vld1q_u8(qs), lo = vandq_u8(v, m4), hi = vshrq_n_u8(v, 4);
    if (qh) {
        /* byte j gets 0x10 when bit j of the u32 qh is set */
        static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
        const uint8x16_t bm = vld1q_u8(bits), x10 = vdupq_n_u8(0x10);
        uint8x16_t h01 = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
        uint8x16_t h23 = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
        lo = vorrq_u8(lo, vandq_u8(vtstq_u8(h01, bm), x10));
        hi = vorrq_u8(hi, vandq_u8(vtstq_u8(h23, bm), x10));
    }
    w[0] = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8((int8_t)off));
    w[1] = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8((int8_t)off));
}

static inline float dot32(enum cove_ggml_type t, int n, const void *x, const void *y)
{
    const int q81 = t == COVE_TYPE_Q4_1 || t == COVE_TYPE_Q5_1;
    float s = 0;
    for (int i = 0; i < n / QK32; i++) {
        int8x16_t w[2];
        float dw, mw = 0, dy, sy = 0;
        const int8_t *yq;
        dec32(t, x, i, w, &dw, &mw);
        if (q81) {
            const block_q8_1 *b = (const block_q8_1 *)y + i;
            dy = quant_f16_to_f32(b->d), sy = quant_f16_to_f32(b->s), yq = b->qs;
        } else {
            const block_q8_0 *b = (const block_q8_0 *)y + i;
            dy = quant_f16_to_f32(b->d), yq = b->qs;
        }
        int32x4_t acc = vaddq_s32(dot16(w[0], vld1q_s8(yq)), dot16(w[1], vld1q_s8(yq + 16)));
        s += (float)vaddvq_s32(acc) * (dw * dy) + mw * sy;
    }
    return s;
}

static float q4_0_dot(int n, const void *x, const void *y) { return dot32(COVE_TYPE_Q4_0, n, x, y); }
static float q4_1_dot(int n, const void *x, const void *y) { return dot32(COVE_TYPE_Q4_1, n, x, y); }
static float q5_0_dot(int n, const void *x, const void *y) { return dot32(COVE_TYPE_Q5_0, n, x, y); }
static float q5_1_dot(int n, const void *x, const void *y) { return dot32(COVE_TYPE_Q5_1, n, x, y); }
static float q8_0_dot(int n, const void *x, const void *y) { return dot32(COVE_TYPE_Q8_0, n, x, y); }

/* ---- k-quants ---- */

/* Q4_K / Q5_K values: 64 elements per 32 bytes of qs, bit 4 from qh. */
static void unpack_q45_K(const uint8_t *qs, const uint8_t *qh, uint8_t q[QK_K])
{
    const uint8x16_t m4 = vdupq_n_u8(0x0f), x10 = vdupq_n_u8(0x10);
    for (int j = 0; j < 4; j++)
        for (int h = 0; h < 2; h++) {
            uint8x16_t v = vld1q_u8(qs + 32 * j + 16 * h);
            uint8x16_t lo = vandq_u8(v, m4), hi = vshrq_n_u8(v, 4);
            if (qh) {
                uint8x16_t hb = vld1q_u8(qh + 16 * h);
                lo = vorrq_u8(lo, vandq_u8(vtstq_u8(hb, vdupq_n_u8((uint8_t)(1u << (2 * j)))), x10));
                hi = vorrq_u8(hi, vandq_u8(vtstq_u8(hb, vdupq_n_u8((uint8_t)(2u << (2 * j)))), x10));
            }
            vst1q_u8(q + 64 * j + 16 * h, lo);
            vst1q_u8(q + 64 * j + 32 + 16 * h, hi);
        }
}

static void unpack_q6_K(const block_q6_K *b, uint8_t q[QK_K])
{
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(3);
    for (int n = 0; n < 2; n++)
        for (int h = 0; h < 2; h++) {
            uint8x16_t l0 = vld1q_u8(b->ql + 64 * n + 16 * h);
            uint8x16_t l1 = vld1q_u8(b->ql + 64 * n + 32 + 16 * h);
            uint8x16_t hh = vld1q_u8(b->qh + 32 * n + 16 * h);
            uint8_t *o = q + 128 * n + 16 * h;
            vst1q_u8(o, vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hh, m3), 4)));
            vst1q_u8(o + 32, vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 2), m3), 4)));
            vst1q_u8(o + 64, vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 4), m3), 4)));
            vst1q_u8(o + 96, vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hh, 6), 4)));
        }
}

/* Q2_K / Q3_K: 2-bit planes, Q3_K's bit 2 from hmask bit (e / 32). */
static void unpack_q23_K(const uint8_t *qs, const uint8_t *hmask, uint8_t q[QK_K])
{
    const uint8x16_t m3 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    for (int n = 0; n < 2; n++)
        for (int h = 0; h < 2; h++) {
            uint8x16_t v = vld1q_u8(qs + 32 * n + 16 * h);
            uint8x16_t hm = hmask ? vld1q_u8(hmask + 16 * h) : one;
            for (int j = 0; j < 4; j++) {
                uint8x16_t lo = vandq_u8(vshlq_u8(v, vdupq_n_s8((int8_t)(-2 * j))), m3);
                if (hmask) {
                    uint8x16_t hb = vandq_u8(vshlq_u8(hm, vdupq_n_s8((int8_t)(-(4 * n + j)))), one);
                    lo = vorrq_u8(lo, vshlq_n_u8(hb, 2));
                }
                vst1q_u8(q + 128 * n + 32 * j + 16 * h, lo);
            }
        }
}

static void unpack_k(enum cove_ggml_type t, const uint8_t *blk, uint8_t q[QK_K])
{
    switch (t) {
    case COVE_TYPE_Q2_K: unpack_q23_K(((const block_q2_K *)blk)->qs, NULL, q); break;
    case COVE_TYPE_Q3_K: {
        const block_q3_K *b = (const block_q3_K *)blk;
        unpack_q23_K(b->qs, b->hmask, q);
        break;
    }
    case COVE_TYPE_Q4_K: unpack_q45_K(((const block_q4_K *)blk)->qs, NULL, q); break;
    case COVE_TYPE_Q5_K: {
        const block_q5_K *b = (const block_q5_K *)blk;
        unpack_q45_K(b->qs, b->qh, q);
        break;
    }
    default: unpack_q6_K((const block_q6_K *)blk, q); break;
    }
}

static inline float kdot(enum cove_ggml_type t, int n, const void *x, const void *y)
{
    const size_t bs = cove_quant_ops_ref(t)->block_bytes;
    const block_q8_K *yb = y;
    uint8_t q[QK_K];
    quant_kscales k;
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        const uint8_t *blk = (const uint8_t *)x + (size_t)i * bs;
        cove_quant_kscales(t, blk, 0, &k);
        unpack_k(t, blk, q);
        int32x4_t acc = vdupq_n_s32(0);
        for (int g = 0; g < 16; g++) {
            int32x4_t gs = dot16(vreinterpretq_s8_u8(vld1q_u8(q + 16 * g)), vld1q_s8(yb[i].qs + 16 * g));
            acc = vmlaq_n_s32(acc, gs, k.sc[g]);
        }
        int16x8_t mn0 = vld1q_s16(k.mn), mn1 = vld1q_s16(k.mn + 8);
        int16x8_t bs0 = vld1q_s16(yb[i].bsums), bs1 = vld1q_s16(yb[i].bsums + 8);
        int32x4_t m = vmull_s16(vget_low_s16(mn0), vget_low_s16(bs0));
        m = vmlal_high_s16(m, mn0, bs0);
        m = vmlal_s16(m, vget_low_s16(mn1), vget_low_s16(bs1));
        m = vmlal_high_s16(m, mn1, bs1);
        s += yb[i].d * (k.d * (float)vaddvq_s32(acc) - k.dmin * (float)vaddvq_s32(m));
    }
    return s;
}

static float q2_K_dot(int n, const void *x, const void *y) { return kdot(COVE_TYPE_Q2_K, n, x, y); }
static float q3_K_dot(int n, const void *x, const void *y) { return kdot(COVE_TYPE_Q3_K, n, x, y); }
static float q4_K_dot(int n, const void *x, const void *y) { return kdot(COVE_TYPE_Q4_K, n, x, y); }
static float q5_K_dot(int n, const void *x, const void *y) { return kdot(COVE_TYPE_Q5_K, n, x, y); }
static float q6_K_dot(int n, const void *x, const void *y) { return kdot(COVE_TYPE_Q6_K, n, x, y); }

void cove_quants_neon_fill(cove_quant_ops ops[COVE_TYPE_COUNT])
{
    ops[COVE_TYPE_F32].vec_dot = f32_dot;
    ops[COVE_TYPE_F16].vec_dot = f16_dot;
    ops[COVE_TYPE_BF16].vec_dot = bf16_dot;
    ops[COVE_TYPE_Q4_0].vec_dot = q4_0_dot;
    ops[COVE_TYPE_Q4_1].vec_dot = q4_1_dot;
    ops[COVE_TYPE_Q5_0].vec_dot = q5_0_dot;
    ops[COVE_TYPE_Q5_1].vec_dot = q5_1_dot;
    ops[COVE_TYPE_Q8_0].vec_dot = q8_0_dot;
    ops[COVE_TYPE_Q2_K].vec_dot = q2_K_dot;
    ops[COVE_TYPE_Q3_K].vec_dot = q3_K_dot;
    ops[COVE_TYPE_Q4_K].vec_dot = q4_K_dot;
    ops[COVE_TYPE_Q5_K].vec_dot = q5_K_dot;
    ops[COVE_TYPE_Q6_K].vec_dot = q6_K_dot;
    ops[COVE_TYPE_Q8_0].quantize_row = q8_0_quant;
    ops[COVE_TYPE_Q8_1].quantize_row = q8_1_quant;
    ops[COVE_TYPE_Q8_K].quantize_row = q8_K_quant;
}

#else
typedef int cove_quants_neon_unused; /* ISO C wants a declaration */
#endif
