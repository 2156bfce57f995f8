/*
 * engine/kernels/kernels_int.h - the pieces of the kernel tables, one file per type and one
 * per SIMD level (private to engine/kernels).
 */
#ifndef COVE_ENGINE_KERNELS_INT_H
#define COVE_ENGINE_KERNELS_INT_H

#include "engine/kernels/kernels.h"

/* Scalar references of the plain types; kernels.c completes them with the quant tables. */
extern const cove_kernel cove_kernel_f32;  /* k_f32.c */
extern const cove_kernel cove_kernel_f16;  /* k_f16.c */
extern const cove_kernel cove_kernel_bf16; /* k_bf16.c */

/* Scalar vector operations (the references). */
float cove_k_dot_f32_ref(const float *a, const float *b, int64_t n);            /* k_f32.c */
void cove_k_axpy_f32_ref(float *y, float a, const float *x, int64_t n);         /* k_f32.c */
void cove_k_gemm_nn_ref(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float *c, int64_t ldc); /* k_f32.c */
void cove_k_gemm_tn_ref(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float *c, int64_t ldc); /* k_f32.c */
void cove_k_softmax_cols_ref(float *s, int64_t m, int64_t n, int64_t lds, const int32_t *lo,
                             const int32_t *hi, float *inv);                /* k_f32.c */
float cove_k_exp_sum_ref(float *x, int64_t n, float max);                       /* k_f32.c */
void cove_k_glu_ref(float *g, const float *u, int64_t n, int gelu);             /* k_f32.c */
float cove_k_dot_f16_ref(const void *h, const float *x, int64_t n);             /* k_f16.c */
void cove_k_dot_f16_rows_ref(const void *h, int64_t ldh, int64_t rows, const float *x, int64_t n,
                             float scale, float *s);                          /* k_f16.c */
void cove_k_sum_f16_rows_ref(const void *h, int64_t ldh, int64_t rows, const float *a, int64_t n,
                             float *y);                                       /* k_f16.c */
void cove_k_f16_to_f32_ref(const void *h, float *y, int64_t n);                 /* k_f16.c */
void cove_k_f32_to_f16_ref(const float *x, void *h, int64_t n);                 /* k_f16.c */
void cove_k_f16_rows_to_f32_ref(const void *h, int64_t ldh, int64_t rows, int64_t n,
                                float *y);                                      /* k_f16.c */
float cove_k_dot_bf16_ref(const void *h, const float *x, int64_t n);            /* k_bf16.c */

/* SIMD levels override the entries they speed up (x86-64 only; no-ops elsewhere). */
void cove_k_avx2_fill(cove_vec_ops *ops);   /* k_avx2.c: AVX2, FMA, F16C */
void cove_k_avx512_fill(cove_vec_ops *ops); /* k_avx512.c: AVX-512F */

#endif
