/*
 * engine/kernels/kernels.h - per-type compute kernels behind the forward passes.
 *
 * Two tables, both chosen once at run time from the CPU (base/cpu.h, masked by
 * COVE_CPU_DISABLE) and read-only afterwards:
 *
 *   cove_kernel    one entry per tensor type weights may have (F32, F16, BF16, Q4_0 .. Q8_0,
 *                  Q2_K .. Q6_K): row conversions to and from f32, and the quantized
 *                  matrix-product table (quants.h) that cove_matmul_* run. F32/F16/BF16
 *                  also have a dot product of a row with an f32 vector.
 *   cove_vec_ops   the small vector operations of attention and activations (f32 and f16
 *                  dot products and axpy), at the best SIMD level.
 *
 * Scalar references stay beside the SIMD variants (cove_kernel_ref_for,
 * cove_vec_ops_for_level(COVE_KLEVEL_SCALAR)); tests/engine/test_kernels.c runs every
 * variant against them.
 *
 * Rows: a weight matrix of n_rows x n_cols is stored row after row, each row
 * cove_kernel_row_bytes(k, n_cols) bytes; n_cols is a multiple of the type's block size.
 * All pointers passed in are borrowed; nothing here allocates.
 *
 * Matrix products (y = W x for n_tok activation vectors x) take two steps, so that the
 * threads of a pool can share the first and split the second:
 *   1. cove_matmul_quantize: the activations in the form W's kernel reads (Q8_0, Q8_1 or
 *      Q8_K rows in caller scratch for quantized W; the f32 rows themselves for F32, F16
 *      and BF16 W, which need no scratch). Rows [t0, t1) at a time, so threads can split it.
 *   2. cove_matmul_rows: output rows [r0, r1) for every token; threads take disjoint ranges.
 * cove_matmul does both on the calling thread.
 */
#ifndef COVE_ENGINE_KERNELS_H
#define COVE_ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/kernels/quants.h"

/* ---- exact half-precision conversions ---- */

/* IEEE binary16 -> binary32; exact for every input (NaN payloads kept). */
float cove_f16_to_f32(uint16_t h);

/* The same conversion, inlined into inner loops (attention over an f16 cache, f16 dots). */
static inline float cove_f16_to_f32_inline(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu, u;
    float f;
    if (em >= 0x0400u && em < 0x7c00u) {          /* normal: rebias the exponent */
        u = sign | ((em << 13) + 0x38000000u);
    } else if (em >= 0x7c00u) {                   /* inf, NaN */
        u = sign | 0x7f800000u | ((em & 0x3ffu) << 13);
    } else {                                      /* zero, subnormal: em * 2^-24, exact */
        f = (float)em * 0x1p-24f;
        memcpy(&u, &f, sizeof u);
        u |= sign;
    }
    memcpy(&f, &u, sizeof f);
    return f;
}
/* binary32 -> binary16, round to nearest, ties to even; overflow gives infinity. */
uint16_t cove_f32_to_f16(float f);
/* bfloat16 -> binary32 (exact). */
float cove_bf16_to_f32(uint16_t h);
/* binary32 -> bfloat16, round to nearest, ties to even; NaN stays NaN. */
uint16_t cove_f32_to_bf16(float f);

/* ---- the per-type table ---- */

/* Sum over i < n of row[i] * x[i], row in the kernel's type. */
typedef float (*cove_vec_dot_fn)(const void *row, const float *x, int64_t n);
/* dst[i] = row[i] as f32, i < n. */
typedef void (*cove_to_f32_fn)(const void *row, float *dst, int64_t n);
/* dst = src converted to the kernel's type (n elements). */
typedef void (*cove_from_f32_fn)(const float *src, void *dst, int64_t n);

typedef struct cove_kernel {
    uint32_t type;        /* enum cove_ggml_type */
    const char *name;     /* "f32", "f16", "q4_k", ... */
    uint32_t block_size;  /* elements per block */
    uint32_t block_bytes; /* bytes per block */
    cove_vec_dot_fn dot;  /* F32, F16, BF16 only; NULL for quantized types */
    cove_to_f32_fn to_f32;
    cove_from_f32_fn from_f32;
    const cove_quant_ops *ops; /* matrix products (quants.h), at this table's level */
} cove_kernel;

/* The kernel for ggml type `type` at the best SIMD level, or NULL when cove cannot
 * compute with it (activation-only types Q8_1 and Q8_K are not weight types). */
const cove_kernel *cove_kernel_for(uint32_t type);

/*
 * The kernel for rows of `type` packed in place by cove_quant_pack_rows (quants.h), or NULL
 * when this CPU has no packed kernel for it. Its ops read packed rows and its to_f32 converts
 * a packed row; from_f32 is NULL (nothing writes packed rows but the packer).
 */
const cove_kernel *cove_kernel_packed_for(uint32_t type);

/* The scalar reference kernel for `type` (for tests), or NULL. */
const cove_kernel *cove_kernel_ref_for(uint32_t type);

/* Bytes of one row of n elements (n a multiple of the block size). */
size_t cove_kernel_row_bytes(const cove_kernel *k, int64_t n);

/* ---- matrix products ---- */

/* A weight matrix in the mapping (borrowed): n_rows rows of n_cols elements. */
typedef struct cove_matrix {
    const cove_kernel *k;
    const void *data;
    int64_t n_rows;
    int64_t n_cols;
    size_t row_bytes;
} cove_matrix;

/* Type the activations of w are read in (F32, Q8_0, Q8_1 or Q8_K): two matrices of the
 * same activation type and n_cols can share one cove_matmul_quantize. */
enum cove_ggml_type cove_matmul_act_type(const cove_matrix *w);

/* Scratch bytes cove_matmul_quantize needs for n_tok activation rows of w (0: none). */
size_t cove_matmul_scratch_bytes(const cove_matrix *w, int64_t n_tok);

/*
 * Put activation rows [t0, t1) of x (rows of w->n_cols floats) into the form w's kernel
 * reads, and return what cove_matmul_rows takes as xq (the same pointer for every range of
 * one product): `scratch` (cove_matmul_scratch_bytes(w, n_tok) bytes) for quantized w, x
 * itself otherwise (nothing is written then).
 */
const void *cove_matmul_quantize(const cove_matrix *w, const float *x, int64_t t0, int64_t t1,
                                 void *scratch);

/*
 * y[t * ldy + r] = W[r] . x[t] for r0 <= r < r1 and t < n_tok, with xq from
 * cove_matmul_quantize (all n_tok rows done). ldy >= w->n_rows. Threads may run disjoint
 * row ranges of one product at once.
 */
void cove_matmul_rows(const cove_matrix *w, const void *xq, int64_t n_tok, float *y, size_t ldy,
                      int64_t r0, int64_t r1);

/*
 * y[t][r] = W[r] . x[t] for t < n_tok, r < n_rows (y row-major, ldy = n_rows), on the calling
 * thread. `scratch` holds cove_matmul_scratch_bytes(w, n_tok) bytes (may be NULL when 0).
 */
void cove_matmul(const cove_matrix *w, const float *x, int64_t n_tok, float *y, void *scratch);

/* ---- vector operations (attention, activations) ---- */

typedef struct cove_vec_ops {
    enum cove_klevel level;
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    float (*dot_f16)(const void *h, const float *x, int64_t n);  /* h: n f16, 2-aligned */
    float (*dot_bf16)(const void *h, const float *x, int64_t n); /* h: n bf16, 2-aligned */
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n); /* y += a x */
    void (*f16_to_f32)(const void *h, float *y, int64_t n);  /* exact */
    void (*f32_to_f16)(const float *x, void *h, int64_t n);  /* nearest, ties to even (NaNs
                                                                  stay NaN, payload aside) */
    /* attention, scores of a block of query rows as columns: c (m x n, row stride ldc) =
     * a (m x k, lda) b (k x n, ldb), overwritten */
    void (*gemm_nn)(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float *c, int64_t ldc);
    /* attention, weighted sum of values: c (m x n, ldc) += a^T b, a: k x m (lda), b: k x n */
    void (*gemm_tn)(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float *c, int64_t ldc);
    /* softmax down each column r < n of s (m rows, row stride lds) over the rows
     * lo[r] <= j <= hi[r]: s[j][r] = exp(s[j][r] - max) there and 0 elsewhere; inv[r] = 1 / sum,
     * or 0 for an empty range (the weights are left unnormalised) */
    void (*softmax_cols)(float *s, int64_t m, int64_t n, int64_t lds, const int32_t *lo,
                         const int32_t *hi, float *inv);
    /* x[i] = exp(x[i] - max) for i < n; returns their sum (SIMD levels: within 2e-7 of expf) */
    float (*exp_sum)(float *x, int64_t n, float max);
    /* g[i] = act(g[i]) * u[i]: act silu (gelu 0) or the tanh form of gelu (gelu 1) */
    void (*glu)(float *g, const float *u, int64_t n, int gelu);
    /* rows of f16 to f32: y[r * n + i] = h[r][i] for r < rows, i < n, row r at
     * (const uint8_t *)h + r * ldh (bytes, even) - the cached keys of one head */
    void (*f16_rows_to_f32)(const void *h, int64_t ldh, int64_t rows, int64_t n, float *y);
    /* one query over f16 rows (decode: the cached keys of one head, row r at
     * (const uint8_t *)h + r * ldh, ldh even): s[r] = scale * (h[r] . x), n elements */
    void (*dot_f16_rows)(const void *h, int64_t ldh, int64_t rows, const float *x, int64_t n,
                         float scale, float *s);
    /* the weighted sum of f16 rows (decode: the cached values of one head):
     * y[i] = sum over r < rows of a[r] h[r][i] for i < n, overwritten (rows 0: zeros) */
    void (*sum_f16_rows)(const void *h, int64_t ldh, int64_t rows, const float *a, int64_t n,
                         float *y);
} cove_vec_ops;

/* The best level this CPU has (chosen once, thread-safely). Never NULL. */
const cove_vec_ops *cove_vec_ops_get(void);

/* The table at exactly `level`, or NULL when this CPU (as masked) lacks it. */
const cove_vec_ops *cove_vec_ops_for_level(enum cove_klevel level);

/* Plain f32 dot product at the best level, for activations. */
float cove_dot_f32(const float *a, const float *b, int64_t n);

#endif
