/*
 * engine/kernels/k_f32.c - the f32 kernel (scalar reference).
 */
#include <string.h>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels_int.h"

static float f32_dot(const void *row, const float *x, int64_t n)
{
    return cove_dot_f32(row, x, n);
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
