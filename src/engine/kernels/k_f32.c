/*
 * engine/kernels/k_f32.c - the f32 kernel and f32 vector operations (scalar references).
 */
#include <math.h>
#include <string.h>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels_int.h"

/* Eight running sums, added pairwise: the order the SIMD variants come close to. */
float cove_k_dot_f32_ref(const float *a, const float *b, int64_t n)
{
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

void cove_k_axpy_f32_ref(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void cove_k_gemm_nn_ref(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (int64_t l = 0; l < k; l++)
                s += a[i * lda + l] * b[l * ldb + j];
            c[i * ldc + j] = s;
        }
}

void cove_k_gemm_tn_ref(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = c[i * ldc + j];
            for (int64_t l = 0; l < k; l++)
                s += a[l * lda + i] * b[l * ldb + j];
            c[i * ldc + j] = s;
        }
}

void cove_k_softmax_cols_ref(float *s, int64_t m, int64_t n, int64_t lds, const int32_t *lo,
                             const int32_t *hi, float *inv)
{
    for (int64_t r = 0; r < n; r++) {
        float max = -INFINITY, sum = 0.0f;
        for (int64_t j = 0; j < m; j++)
            if (j >= lo[r] && j <= hi[r] && s[j * lds + r] > max)
                max = s[j * lds + r];
        for (int64_t j = 0; j < m; j++) {
            float *x = &s[j * lds + r];
            *x = j >= lo[r] && j <= hi[r] ? expf(*x - max) : 0.0f;
            sum += *x;
        }
        inv[r] = sum > 0.0f ? 1.0f / sum : 0.0f;
    }
}

float cove_k_exp_sum_ref(float *x, int64_t n, float max)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    return sum;
}

void cove_k_glu_ref(float *g, const float *u, int64_t n, int gelu)
{
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        float a = gelu ? 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)))
                       : x / (1.0f + expf(-x));
        g[i] = a * u[i];
    }
}

static float f32_dot(const void *row, const float *x, int64_t n)
{
    return cove_k_dot_f32_ref(row, x, n);
}

static void f32_to_f32(const void *row, float *dst, int64_t n)
{
    memcpy(dst, row, (size_t)n * sizeof(float));
}

static void f32_from_f32(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

const cove_kernel cove_kernel_f32 = {
    .type = COVE_TYPE_F32,
    .name = "f32",
    .block_size = 1,
    .block_bytes = 4,
    .dot = f32_dot,
    .to_f32 = f32_to_f32,
    .from_f32 = f32_from_f32,
};
