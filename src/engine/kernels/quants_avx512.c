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
 * offset is 128). Decode, batches (prefill included) and dot use the
 * kernels of quants_x86.h in 256-bit registers (32 of them here), as do the
 * k-quants.
 * Floats: 512-bit FMAs in a TR x TC register tile (one always_inline
 * template over type, rows and columns), the tail of a row with masked
 * loads.
 */
#if defined(__x86_64__)

#include <stddef.h>

#include "engine/kernels/quants_x86.h"

#define TR 4 /* float tile rows (weights) */
#define TC 4 /* float tile columns (activations) */

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

/* ---- instances ---- */

/* The float tile (TR x TC), the decode kernel (GV_ROWS rows) and the dot of each type. */
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
    o->tile_rows = tile ? TR : 0;
    o->tile_cols = tile ? TC : 0;
}

/* Floats: dot and tile; 32-element types: dot and decode kernel; k-quants: dot (batches of
 * 2+ rows of both go to the batch kernels). */
#define SETF(T, name) set(&ops[T], name##_dot, NULL, name##_tile)
#define SETV(T, name) set(&ops[T], name##_dot, name##_gemv, NULL)
#define SETK(T, name) set(&ops[T], name##_dot, NULL, NULL)

void cove_quants_avx512_fill(cove_quant_ops ops[COVE_TYPE_COUNT])
{
    SETF(COVE_TYPE_F32, f32);
    SETF(COVE_TYPE_F16, f16);
    SETF(COVE_TYPE_BF16, bf16);
    SETV(COVE_TYPE_Q4_0, q4_0);
    SETV(COVE_TYPE_Q4_1, q4_1);
    SETV(COVE_TYPE_Q5_0, q5_0);
    SETV(COVE_TYPE_Q5_1, q5_1);
    SETV(COVE_TYPE_Q8_0, q8_0);
    SETK(COVE_TYPE_Q2_K, q2_K);
    SETK(COVE_TYPE_Q3_K, q3_K);
    SETK(COVE_TYPE_Q4_K, q4_K);
    SETK(COVE_TYPE_Q5_K, q5_K);
    SETK(COVE_TYPE_Q6_K, q6_K);
}

/* Batches of 2+ activation rows (prefill included): the kernels of quants_x86.h. */
BATCH_FILL(cove_quants_avx512_batch_fill)

#else
typedef int cove_quants_avx512_unused; /* ISO C wants a declaration */
#endif
