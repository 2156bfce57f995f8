/*
 * engine/kernels/quants_avx2.c - AVX2 + FMA + F16C kernels (x86-64 only; this
 * file alone is compiled with -mavx2 -mfma -mf16c and is entered only when
 * the CPU has them).
 *
 * Integer dot products use vpmaddubsw (unsigned x signed bytes -> pairs of
 * int16) and vpmaddwd. Weights are unpacked to unsigned bytes; the format's
 * offset (Q4_0: 8, Q5_0: 16) is taken off as off * sum(y), computed with the
 * same instruction. Q8_0 weights are signed and use the abs/sign trick.
 * K-quants go through the canonical form of quants_int.h: q[256] < 64 and
 * int16 scales and mins per 16, so one dot serves all five.
 * Decode (one activation row) uses the gemv kernels of quants_x86.h, batches
 * of 2+ rows (prefill included) its batch kernels; floats a register tile.
 *
 * The type-generic kernels are `static inline` with always_inline and are
 * called with a constant type, so the compiler emits one specialised copy
 * per type (C's stand-in for templates).
 */
#if defined(__x86_64__)

#include "engine/kernels/quants_x86.h"

#define TR 4 /* float tile rows (weights) */
#define TC 3 /* float tile columns (activations) */

/* ---- F32 / F16 / BF16 weights, F32 activations ---- */

INLINE float fdot(enum cove_ggml_type t, int n, const void *x, const void *y)
{
    const float *b = y;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(fload8(t, x, i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(fload8(t, x, i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(fload8(t, x, i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(fload8(t, x, i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(fload8(t, x, i), _mm256_loadu_ps(b + i), s0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        s += fload1(t, x, i) * b[i];
    return s;
}

/* TR x TC tile of float dots: each converted weight vector meets TC activation vectors. */
INLINE void ftile(enum cove_ggml_type t, int k, const void *const *w, const void *const *x,
                  float *out, size_t ldy, int nr, int nc)
{
    __m256 acc[TR][TC];
    UNROLL
    for (int r = 0; r < TR; r++)
        UNROLL
        for (int c = 0; c < TC; c++)
            acc[r][c] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 yv[TC];
        UNROLL
        for (int c = 0; c < TC; c++)
            yv[c] = _mm256_loadu_ps((const float *)x[c] + i);
        UNROLL
        for (int r = 0; r < TR; r++) {
            __m256 wv = fload8(t, w[r], i);
            UNROLL
            for (int c = 0; c < TC; c++)
                acc[r][c] = _mm256_fmadd_ps(wv, yv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++) {
            float s = hsum_ps(acc[r][c]);
            for (int j = i; j < k; j++)
                s += fload1(t, w[r], j) * ((const float *)x[c])[j];
            out[(size_t)c * ldy + (size_t)r] = s;
        }
}

static float f32_dot(int n, const void *x, const void *y) { return fdot(COVE_TYPE_F32, n, x, y); }
static float f16_dot(int n, const void *x, const void *y) { return fdot(COVE_TYPE_F16, n, x, y); }
static float bf16_dot(int n, const void *x, const void *y) { return fdot(COVE_TYPE_BF16, n, x, y); }

static void f32_tile(int k, const void *const *w, const void *const *x, float *o, size_t ldy, int nr, int nc)
{
    ftile(COVE_TYPE_F32, k, w, x, o, ldy, nr, nc);
}
static void f16_tile(int k, const void *const *w, const void *const *x, float *o, size_t ldy, int nr, int nc)
{
    ftile(COVE_TYPE_F16, k, w, x, o, ldy, nr, nc);
}
static void bf16_tile(int k, const void *const *w, const void *const *x, float *o, size_t ldy, int nr, int nc)
{
    ftile(COVE_TYPE_BF16, k, w, x, o, ldy, nr, nc);
}

static void f16_dequant(const void *x, float *y, int64_t n)
{
    const uint8_t *p = x;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
    for (; i < n; i++)
        y[i] = f16(quant_load_u16(p + 2 * i));
}

static void f16_quant(const float *x, void *y, int64_t n)
{
    uint8_t *p = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(p + 2 * i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) {
        uint16_t h = quant_f32_to_f16(x[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static void bf16_dequant(const void *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, fload8(COVE_TYPE_BF16, x, (int)i));
    for (; i < n; i++)
        y[i] = quant_bf16_to_f32(quant_load_u16((const uint8_t *)x + 2 * i));
}

/* Round to nearest even as quant_f32_to_bf16 does: NaN -> quiet NaN. */
static void bf16_quant(const float *x, void *y, int64_t n)
{
    uint8_t *p = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256i u = _mm256_castps_si256(v);
        __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff)));
        r = _mm256_srli_epi32(r, 16);
        __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        __m256i qn = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
        r = _mm256_blendv_epi8(r, qn, nan);
        r = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
        _mm_storeu_si128((__m128i *)(p + 2 * i), _mm256_castsi256_si128(r));
    }
    for (; i < n; i++) {
        uint16_t h = quant_f32_to_bf16(x[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

/* ---- activation quantizers (bit-exact with the reference) ---- */

INLINE float amax_ps(const float *x, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    return hmax_ps(m);
}

/* q[0..32) = rne(x * id) in -127..127; sums of the two halves of 16 in s[0], s[1]. */
INLINE void q8_32(const float *x, float id, int8_t *q, int s[2])
{
    const __m256 vid = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), vid));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), vid));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), vid));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), vid));
    s[0] = hsum_i32(_mm256_add_epi32(i0, i1));
    s[1] = hsum_i32(_mm256_add_epi32(i2, i3));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, _mm256_max_epi8(p, _mm256_set1_epi8(-127)));
}

static void q8_0_quant(const float *x, void *y, int64_t n)
{
    block_q8_0 *b = y;
    int s[2];
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = amax_ps(x + i * QK32, QK32) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        q8_32(x + i * QK32, id, b[i].qs, s);
        b[i].d = quant_f32_to_f16(d);
    }
}

static void q8_1_quant(const float *x, void *y, int64_t n)
{
    block_q8_1 *b = y;
    int s[2];
    for (int64_t i = 0; i < n / QK32; i++) {
        float d = amax_ps(x + i * QK32, QK32) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        q8_32(x + i * QK32, id, b[i].qs, s);
        b[i].d = quant_f32_to_f16(d);
        b[i].s = quant_f32_to_f16(d * (float)(s[0] + s[1]));
    }
}

static void q8_K_quant(const float *x, void *y, int64_t n)
{
    block_q8_K *b = y;
    int s[2];
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *xb = x + i * QK_K;
        float d = amax_ps(xb, QK_K) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        UNROLL
        for (int c = 0; c < 8; c++) {
            q8_32(xb + 32 * c, id, b[i].qs + 32 * c, s);
            b[i].bsums[2 * c] = (int16_t)s[0];
            b[i].bsums[2 * c + 1] = (int16_t)s[1];
        }
        b[i].d = d;
    }
}

/* ---- 32-element block types ---- */

/* Block i of a row as 32 unsigned bytes (Q8_0: signed), its d and (Q4_1/Q5_1) m. */
INLINE __m256i dec32(enum cove_ggml_type t, const void *row, int i, float *d, float *m)
{
    switch (t) {
    case COVE_TYPE_Q4_0: {
        const block_q4_0 *b = (const block_q4_0 *)row + i;
        *d = f16(b->d);
        return nib32(b->qs);
    }
    case COVE_TYPE_Q4_1: {
        const block_q4_1 *b = (const block_q4_1 *)row + i;
        *d = f16(b->d);
        *m = f16(b->m);
        return nib32(b->qs);
    }
    case COVE_TYPE_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)row + i;
        *d = f16(b->d);
        return _mm256_or_si256(nib32(b->qs), bit4_32(b->qh));
    }
    case COVE_TYPE_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)row + i;
        *d = f16(b->d);
        *m = f16(b->m);
        return _mm256_or_si256(nib32(b->qs), bit4_32(b->qh));
    }
    default: {
        const block_q8_0 *b = (const block_q8_0 *)row + i;
        *d = f16(b->d);
        return _mm256_loadu_si256((const __m256i *)b->qs);
    }
    }
}

INLINE void dequant32(enum cove_ggml_type t, const void *x, float *y, int64_t n)
{
    const __m256i voff = _mm256_set1_epi8((char)off32(t));
    for (int i = 0; i < n / QK32; i++) {
        float d, m = 0;
        __m256i w = _mm256_sub_epi8(dec32(t, x, i, &d, &m), voff);
        __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
        __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
        __m256i part[4] = {_mm256_cvtepi8_epi32(lo), _mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)),
                           _mm256_cvtepi8_epi32(hi), _mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))};
        UNROLL
        for (int j = 0; j < 4; j++) {
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(part[j]), vd);
            if (uses_q8_1(t))
                v = _mm256_add_ps(v, vm);
            _mm256_storeu_ps(y + (int64_t)i * QK32 + 8 * j, v);
        }
    }
}

#define TYPE32(name, T)                                                                      \
    static float name##_dot(int n, const void *x, const void *y) { return dot32(T, n, x, y); } \
    static void name##_dequant(const void *x, float *y, int64_t n) { dequant32(T, x, y, n); } \
    static void name##_gemv(int k, const void *const *w, const void *const *x, float *o,      \
                            size_t ldy, int nr, int nc)                                       \
    {                                                                                        \
        gemv32(T, k, w, x, o, nr);                                                           \
    }
TYPE32(q4_0, COVE_TYPE_Q4_0)
TYPE32(q4_1, COVE_TYPE_Q4_1)
TYPE32(q5_0, COVE_TYPE_Q5_0)
TYPE32(q5_1, COVE_TYPE_Q5_1)
TYPE32(q8_0, COVE_TYPE_Q8_0)

/* ---- k-quants ---- */

/* Dequantize from the canonical form with the reference's float operations. */
INLINE void kdequant(enum cove_ggml_type t, const void *x, float *y, int64_t n)
{
    alignas(32) uint8_t q[QK_K];
    kscv k;
    const int off = t == COVE_TYPE_Q3_K ? 4 : t == COVE_TYPE_Q6_K ? 32 : 0;
    for (int i = 0; i < n / QK_K; i++) {
        kdec(t, x, i, q, &k);
        UNROLL
        for (int g = 0; g < 16; g++) {
            __m256 dl = _mm256_set1_ps(k.d * (float)k.sc[g]), ml = _mm256_set1_ps(k.dmin * (float)k.mn[g]);
            __m128i qv = _mm_load_si128((const __m128i *)(q + 16 * g));
            qv = _mm_sub_epi8(qv, _mm_set1_epi8((char)off));
            __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(qv));
            __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(qv, 8)));
            v0 = _mm256_mul_ps(dl, v0);
            v1 = _mm256_mul_ps(dl, v1);
            if (!off) {
                v0 = _mm256_sub_ps(v0, ml);
                v1 = _mm256_sub_ps(v1, ml);
            }
            _mm256_storeu_ps(y + (int64_t)i * QK_K + 16 * g, v0);
            _mm256_storeu_ps(y + (int64_t)i * QK_K + 16 * g + 8, v1);
        }
    }
}

#define TYPEK(name, T)                                                                       \
    static float name##_dot(int n, const void *x, const void *y) { return kdot(T, n, x, y); } \
    static void name##_dequant(const void *x, float *y, int64_t n) { kdequant(T, x, y, n); }
TYPEK(q2_K, COVE_TYPE_Q2_K)
TYPEK(q3_K, COVE_TYPE_Q3_K)
TYPEK(q4_K, COVE_TYPE_Q4_K)
TYPEK(q5_K, COVE_TYPE_Q5_K)
TYPEK(q6_K, COVE_TYPE_Q6_K)

/* ---- the table ---- */

static void set(cove_quant_ops *o, cove_quant_dequant_fn dq, cove_quant_dot_fn dot, cove_quant_tile_fn tile)
{
    o->dequantize_row = dq;
    o->vec_dot = dot;
    o->gemm_tile = tile;
    o->tile_rows = tile ? TR : 0;
    o->tile_cols = tile ? TC : 0;
}

static void set_gemv(cove_quant_ops *o, cove_quant_tile_fn gemv)
{
    o->gemv_tile = gemv;
    o->gemv_rows = GV_ROWS;
}

void cove_quants_avx2_fill(cove_quant_ops ops[COVE_TYPE_COUNT])
{
    set(&ops[COVE_TYPE_F32], ops[COVE_TYPE_F32].dequantize_row, f32_dot, f32_tile);
    set(&ops[COVE_TYPE_F16], f16_dequant, f16_dot, f16_tile);
    set(&ops[COVE_TYPE_BF16], bf16_dequant, bf16_dot, bf16_tile);
    ops[COVE_TYPE_F16].quantize_row = f16_quant;
    ops[COVE_TYPE_BF16].quantize_row = bf16_quant;
    set(&ops[COVE_TYPE_Q4_0], q4_0_dequant, q4_0_dot, NULL);
    set(&ops[COVE_TYPE_Q4_1], q4_1_dequant, q4_1_dot, NULL);
    set(&ops[COVE_TYPE_Q5_0], q5_0_dequant, q5_0_dot, NULL);
    set(&ops[COVE_TYPE_Q5_1], q5_1_dequant, q5_1_dot, NULL);
    set(&ops[COVE_TYPE_Q8_0], q8_0_dequant, q8_0_dot, NULL);
    set_gemv(&ops[COVE_TYPE_Q4_0], q4_0_gemv);
    set_gemv(&ops[COVE_TYPE_Q4_1], q4_1_gemv);
    set_gemv(&ops[COVE_TYPE_Q5_0], q5_0_gemv);
    set_gemv(&ops[COVE_TYPE_Q5_1], q5_1_gemv);
    set_gemv(&ops[COVE_TYPE_Q8_0], q8_0_gemv);
    ops[COVE_TYPE_Q8_0].quantize_row = q8_0_quant;
    ops[COVE_TYPE_Q8_1].quantize_row = q8_1_quant;
    ops[COVE_TYPE_Q8_K].quantize_row = q8_K_quant;
    set(&ops[COVE_TYPE_Q2_K], q2_K_dequant, q2_K_dot, NULL);
    set(&ops[COVE_TYPE_Q3_K], q3_K_dequant, q3_K_dot, NULL);
    set(&ops[COVE_TYPE_Q4_K], q4_K_dequant, q4_K_dot, NULL);
    set(&ops[COVE_TYPE_Q5_K], q5_K_dequant, q5_K_dot, NULL);
    set(&ops[COVE_TYPE_Q6_K], q6_K_dequant, q6_K_dot, NULL);
}

/* Batches of 2+ activation rows (prefill included): the kernels of quants_x86.h. */
BATCH_FILL(cove_quants_avx2_batch_fill)

#else
typedef int cove_quants_avx2_unused; /* ISO C wants a declaration */
#endif /* __x86_64__ */
