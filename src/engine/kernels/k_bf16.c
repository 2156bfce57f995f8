/*
 * engine/kernels/k_bf16.c - the bf16 kernel (scalar reference).
 */
#include <string.h>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels_int.h"

/* Rows in a GGUF mapping are only 2-byte aligned at best: read through memcpy. */
static uint16_t load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

float cove_k_dot_bf16_ref(const void *row, const float *x, int64_t n)
{
    const uint8_t *p = row;
    float s[4] = {0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++)
            s[j] += cove_bf16_to_f32(load_u16(p + 2 * (i + j))) * x[i + j];
    for (; i < n; i++)
        s[0] += cove_bf16_to_f32(load_u16(p + 2 * i)) * x[i];
    return (s[0] + s[2]) + (s[1] + s[3]);
}

static void bf16_to_f32(const void *row, float *dst, int64_t n)
{
    const uint8_t *p = row;
    for (int64_t i = 0; i < n; i++)
        dst[i] = cove_bf16_to_f32(load_u16(p + 2 * i));
}

static void bf16_from_f32(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = cove_f32_to_bf16(src[i]);
        memcpy(p + 2 * i, &h, sizeof h);
    }
}

const cove_kernel cove_kernel_bf16 = {
    .type = COVE_TYPE_BF16,
    .name = "bf16",
    .block_size = 1,
    .block_bytes = 2,
    .dot = cove_k_dot_bf16_ref,
    .to_f32 = bf16_to_f32,
    .from_f32 = bf16_from_f32,
};
