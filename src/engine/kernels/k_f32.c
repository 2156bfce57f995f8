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

void cove_k_dot_many_ref(const float *q, const float *k, int64_t ldk, int64_t nk, int64_t n,
                         float *out)
{
    for (int64_t j = 0; j < nk; j++)
        out[j] = cove_k_dot_f32_ref(q, k + j * ldk, n);
}

void cove_k_axpy_many_ref(float *out, const float *p, const float *v, int64_t ldv, int64_t nv,
                          int64_t n)
{
    for (int64_t j = 0; j < nv; j++)
        cove_k_axpy_f32_ref(out, p[j], v + j * ldv, n);
}

void cove_k_axpy_multi_ref(float *const *out, const float *const *p, int n_out, const float *v,
                           int64_t ldv, int64_t nv, int64_t n)
{
    for (int o = 0; o < n_out; o++)
        cove_k_axpy_many_ref(out[o], p[o], v, ldv, nv, n);
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
