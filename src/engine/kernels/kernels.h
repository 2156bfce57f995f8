/*
 * engine/kernels/kernels.h - per-type compute kernels behind the forward passes.
 *
 * Each tensor type that weights may have gets one entry in a registered table
 * (kernels.c): a dot product of one weight row with an f32 vector and a
 * conversion of a row to f32. The entries here are plain scalar references;
 * quantized types and SIMD variants join the same table, and a test runs each
 * entry against its reference.
 *
 * Rows: a weight matrix of n_rows x n_cols is stored row after row, each row
 * cove_kernel_row_bytes(k, n_cols) bytes; n_cols is a multiple of the type's
 * block size. All pointers passed in are borrowed; nothing here allocates.
 */
#ifndef COVE_ENGINE_KERNELS_H
#define COVE_ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
/* dst = src converted to the kernel's type (n elements); NULL for read-only types. */
typedef void (*cove_from_f32_fn)(const float *src, void *dst, int64_t n);

typedef struct cove_kernel {
    uint32_t type;        /* enum cove_ggml_type */
    const char *name;     /* "f32", "f16", ... */
    uint32_t block_size;  /* elements per block */
    uint32_t block_bytes; /* bytes per block */
    cove_vec_dot_fn dot;
    cove_to_f32_fn to_f32;
    cove_from_f32_fn from_f32;
} cove_kernel;

/* The kernel for ggml type `type`, or NULL when cove cannot compute with it. */
const cove_kernel *cove_kernel_for(uint32_t type);

/* Bytes of one row of n elements (n a multiple of the block size). */
size_t cove_kernel_row_bytes(const cove_kernel *k, int64_t n);

/* A weight matrix in the mapping (borrowed): n_rows rows of n_cols elements. */
typedef struct cove_matrix {
    const cove_kernel *k;
    const void *data;
    int64_t n_rows;
    int64_t n_cols;
    size_t row_bytes;
} cove_matrix;

/*
 * y[t][r] = W[r] . x[t] for t < n_tok, r < n_rows, where x is n_tok vectors of n_cols and y
 * is n_tok vectors of n_rows (row-major). With n_tok > 1 each row is converted once into
 * `row_buf` (n_cols floats, caller-owned scratch) and dotted in f32 with every vector.
 */
void cove_matmul(const cove_matrix *w, const float *x, int64_t n_tok, float *y, float *row_buf);

/* Plain f32 dot product (the f32 kernel's), for activations. */
float cove_dot_f32(const float *a, const float *b, int64_t n);

#endif
