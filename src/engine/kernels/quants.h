/*
 * engine/kernels/quants.h - quantized compute kernels: block formats, row
 * conversions, dot products and the matrix product used by the forward pass.
 *
 * Every weight type has one table of operations (cove_quant_ops) per SIMD
 * level: a scalar reference, AVX2 (+FMA, F16C), AVX-512 (F, BW, VL, DQ and
 * VNNI; a CPU with AVX-512 but no VNNI uses the AVX2 path) and NEON on
 * aarch64. cove_quant_ops_get picks the best level the CPU has on first use
 * (from cove_cpu_get(), so COVE_CPU_DISABLE=avx512 selects AVX2). A SIMD level
 * computes the same values as the reference: dequantize and the activation
 * quantizers bit for bit, dot products up to float summation order.
 *
 * Types and their activation ("vec_dot") types:
 *     F32, F16, BF16           with F32 activations
 *     Q4_0, Q5_0, Q8_0         with Q8_0
 *     Q4_1, Q5_1               with Q8_1
 *     Q2_K .. Q6_K             with Q8_K
 * Q8_1 and Q8_K have tables too (quantize and dequantize only: they are
 * activation formats, vec_dot and gemm_tile are NULL).
 *
 * Rows: a row of n elements (n a multiple of the block size) is n / block_size
 * blocks laid out back to back, exactly as in a GGUF file. Rows must be
 * aligned to 2 bytes (4 for F32 and Q8_K), as GGUF tensor data is; nothing
 * more is assumed. Nothing here allocates; every pointer argument is borrowed
 * for the length of the call.
 *
 * Quantizers: quantize_row of the weight types is the reference quantizer of
 * each format (k-quants: per-group least-squares scales, then 6- or 4-bit
 * scale codes; simpler than llama.cpp's search, close in error). Values far
 * outside what the format's f16 scales can express (|x| above ~1e6) give
 * infinities or NaNs, never a crash.
 */
#ifndef COVE_ENGINE_KERNELS_QUANTS_H
#define COVE_ENGINE_KERNELS_QUANTS_H

#include <stddef.h>
#include <stdint.h>

#include "cove/status.h"
#include "engine/gguf/gguf.h"

/* SIMD levels, lowest first. */
enum cove_klevel {
    COVE_KLEVEL_SCALAR = 0, /* portable C: the reference */
    COVE_KLEVEL_AVX2 = 1,   /* x86-64: AVX2, FMA, F16C */
    COVE_KLEVEL_AVX512 = 2, /* x86-64: AVX-512 F/BW/VL/DQ + VNNI, FMA, F16C */
    COVE_KLEVEL_NEON = 3,   /* aarch64: baseline ASIMD */
    COVE_KLEVEL_AVX512VBMI = 4, /* x86-64: avx512 + VBMI and BITALG (decode of the nibble types) */
    COVE_KLEVEL_COUNT
};

/* Name of a level ("scalar", "avx2", "avx512", "neon", "avx512vbmi"); "?" when out of range. */
const char *cove_klevel_name(enum cove_klevel level);

/* y[i] = value of element i, i < n (n a multiple of the block size). */
typedef void (*cove_quant_dequant_fn)(const void *x, float *y, int64_t n);

/* Encode n floats (a multiple of the block size) as n / block_size blocks. */
typedef void (*cove_quant_quant_fn)(const float *x, void *y, int64_t n);

/*
 * Dot product of a weight row x (the table's type) and an activation row y
 * (the table's vec_dot_type), both of n elements.
 */
typedef float (*cove_quant_dot_fn)(int n, const void *x, const void *y);

/*
 * A register tile of the matrix product: out[c * ldy + r] = dot(w[r], x[c])
 * for r < nr, c < nc, with nr <= tile_rows and nc <= tile_cols. w[] and x[]
 * hold tile_rows and tile_cols row pointers (rows past nr / nc repeat a valid
 * row: they are computed and not stored). Rows have k elements.
 */
typedef void (*cove_quant_tile_fn)(int k, const void *const *w, const void *const *x, float *out,
                                   size_t ldy, int nr, int nc);

typedef struct cove_quant_ops {
    enum cove_ggml_type type;
    enum cove_ggml_type vec_dot_type; /* type the activations must be in */
    enum cove_klevel level;           /* level these functions belong to */
    int block_size;                   /* elements per block */
    size_t block_bytes;               /* bytes per block (as cove_type_info_get) */
    cove_quant_dequant_fn dequantize_row;
    cove_quant_quant_fn quantize_row;
    cove_quant_dot_fn vec_dot;        /* NULL for activation-only types */
    cove_quant_tile_fn gemm_tile;     /* NULL: the gemm loops over vec_dot */
    int tile_rows, tile_cols;         /* size of the gemm_tile register tile */
    cove_quant_tile_fn gemv_tile;     /* decode (n_x == 1): gemv_rows rows x 1 column per
                                         call (as gemm_tile, with ldy unused); NULL: vec_dot */
    int gemv_rows;                    /* rows per gemv_tile call */
    int packed;                       /* 1: the weights are packed rows (below) */
} cove_quant_ops;

/*
 * The table for type t at the best level this CPU has (chosen once, thread-
 * safely, on the first call). NULL when t has no quantized kernels here.
 * The table is static: do not free or modify it.
 */
const cove_quant_ops *cove_quant_ops_get(enum cove_ggml_type t);

/* The scalar reference table for t, or NULL. */
const cove_quant_ops *cove_quant_ops_ref(enum cove_ggml_type t);

/*
 * The table for t at exactly `level`, or NULL when t has no kernels or this
 * CPU (as masked by COVE_CPU_DISABLE) lacks the level. For tests and benches.
 */
const cove_quant_ops *cove_quant_ops_for_level(enum cove_ggml_type t, enum cove_klevel level);

/* The level cove_quant_ops_get uses on this CPU. */
enum cove_klevel cove_quant_best_level(void);

/*
 * Bytes of one row of k elements of type t (any type with a table, including
 * the activation types); 0 when t has none or k is not a multiple of its
 * block size.
 */
size_t cove_quant_row_bytes(enum cove_ggml_type t, int64_t k);

/* ---- packed rows ----
 *
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K and Q6_K rows can be packed for the AVX-512 decode
 * kernels: the bytes of every group of blocks (32-element types: 4, the last group of a row
 * may be shorter; Q4_K: 4, the blocks after the last whole group stay as they are; Q6_K: 1)
 * put in the order their arithmetic takes them (layouts in quants_pack.c, quants_packk.c). A
 * packed row has the size of the original, so rows can be packed in place (a model packs its
 * copy of a matrix once, at load). The product reads packed rows through the table of
 * cove_quant_ops_packed: decode (n_x == 1) with the packed decode kernel, more activation rows
 * with the packed batch kernel. */

/* 1 when type t has a packed layout. */
int cove_quant_packable(enum cove_ggml_type t);

/*
 * The table for packed rows of type t at the best level, or NULL when this CPU has no packed
 * kernel for t (the rows must then stay as they are). Same as cove_quant_ops_get(t) but for
 * `packed`; static, read-only.
 */
const cove_quant_ops *cove_quant_ops_packed(enum cove_ggml_type t);

/* The table for packed rows of type t at `level` (tests run every level's), or NULL. */
const cove_quant_ops *cove_quant_ops_packed_for_level(enum cove_ggml_type t, enum cove_klevel level);

/*
 * Pack `rows` rows of k elements of type t at W (wrb bytes apart) in place. Returns 0 (and
 * writes nothing) when t has no packed layout or k is not a whole number of blocks.
 */
int cove_quant_pack_rows(enum cove_ggml_type t, void *W, size_t wrb, int64_t rows, int64_t k);

/* The inverse: packed rows at src to GGUF rows at dst (no overlap). Returns 0 as above. */
int cove_quant_unpack_rows(enum cove_ggml_type t, const void *src, void *dst, size_t wrb, int64_t rows,
                           int64_t k);

/* Dequantize the first n elements of the packed row `row` (exactly as the GGUF row). */
void cove_quant_packed_to_f32(enum cove_ggml_type t, const void *row, float *y, int64_t n);

/* ---- matrix product ---- */

/*
 * Scratch bytes cove_quant_gemm needs for weights of type `type`: n_x rows of
 * k activations in the type's vec_dot_type. 0 when the type is unsupported or
 * k is not a multiple of its block size.
 */
size_t cove_quant_scratch_bytes(enum cove_ggml_type type, int k, int n_x);

/*
 * Quantize the activations: X (n_x rows of k floats, row stride k) into
 * `scratch` (cove_quant_scratch_bytes(ops->type, k, n_x) bytes, caller-owned)
 * in ops->vec_dot_type. Do this once and share the result between the threads
 * that then call cove_quant_gemm_run on disjoint row ranges.
 * Returns COVE_ERR_INVALID_ARG (NULL pointer, k not a multiple of the block
 * size, n_x < 1) or COVE_ERR_UNSUPPORTED (an activation-only table).
 */
cove_status cove_quant_gemm_prepare(const cove_quant_ops *ops, const float *X, int n_x, int k,
                                    void *scratch);

/*
 * Y[j * ldy + i] = dot(W row i, X row j) for row_begin <= i < row_end and
 * j < n_x, where W has n_rows_w rows of k elements of ops->type, row i at
 * W + i * w_row_bytes, and Xq is the scratch filled by cove_quant_gemm_prepare.
 * n_x == 1 streams each weight row once (decode: ops->gemv_tile or vec_dot);
 * n_x > 1 (prefill, several sequences) unpacks each weight block once for
 * several activation rows (the level's batch kernel, or register tiles of
 * ops->tile_rows x ops->tile_cols), so it stays compute-bound.
 * Does not allocate; several threads may run disjoint row ranges of one
 * product at once (they share Xq and write disjoint parts of Y).
 * Returns COVE_ERR_INVALID_ARG (NULL pointer, bad k, row range outside
 * [0, n_rows_w], w_row_bytes or ldy too small) or COVE_ERR_UNSUPPORTED.
 */
cove_status cove_quant_gemm_run(const cove_quant_ops *ops, const void *W, size_t w_row_bytes,
                                int n_rows_w, const void *Xq, int n_x, int k, float *Y, size_t ldy,
                                int row_begin, int row_end);

/*
 * Prepare and run in one call with the best-level table for `type` and
 * ldy = n_rows_w: Y[j][i] = dot(W row i, X row j) for i in [row_begin,
 * row_end). `scratch` holds cove_quant_scratch_bytes(type, k, n_x) bytes; each
 * caller needs its own (or use prepare/run to share one). Errors as above.
 */
cove_status cove_quant_gemm(enum cove_ggml_type type, const void *W, size_t w_row_bytes,
                            int n_rows_w, const float *X, int n_x, int k, float *Y, int row_begin,
                            int row_end, void *scratch);

#endif
