/*
 * engine/kernels/k_f16.c - the f16 kernel and f16 vector operations (scalar references).
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

float cove_k_dot_f16_ref(const void *row, const float *x, int64_t n)
{
    const uint8_t *p = row;
    float s[4] = {0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++)
            s[j] += cove_f16_to_f32_inline(load_u16(p + 2 * (i + j))) * x[i + j];
    for (; i < n; i++)
        s[0] += cove_f16_to_f32_inline(load_u16(p + 2 * i)) * x[i];
    return (s[0] + s[2]) + (s[1] + s[3]);
}

void cove_k_dot_f16_rows_ref(const void *h, int64_t ldh, int64_t rows, const float *x, int64_t n,
                             float scale, float *s)
{
    for (int64_t r = 0; r < rows; r++)
        s[r] = scale * cove_k_dot_f16_ref((const uint8_t *)h + r * ldh, x, n);
}

void cove_k_sum_f16_rows_ref(const void *h, int64_t ldh, int64_t rows, const float *a, int64_t n,
                             float *y)
{
    memset(y, 0, (size_t)n * sizeof *y);
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *p = (const uint8_t *)h + r * ldh;
        for (int64_t i = 0; i < n; i++)
            y[i] += a[r] * cove_f16_to_f32_inline(load_u16(p + 2 * i));
    }
}

void cove_k_f16_to_f32_ref(const void *row, float *dst, int64_t n)
{
    const uint8_t *p = row;
    for (int64_t i = 0; i < n; i++)
        dst[i] = cove_f16_to_f32_inline(load_u16(p + 2 * i));
}

void cove_k_f16_rows_to_f32_ref(const void *h, int64_t ldh, int64_t rows, int64_t n, float *y)
{
    for (int64_t r = 0; r < rows; r++)
        cove_k_f16_to_f32_ref((const uint8_t *)h + r * ldh, y + r * n, n);
}

void cove_k_f32_to_f16_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = cove_f32_to_f16(src[i]);
        memcpy(p + 2 * i, &h, sizeof h);
    }
}

const cove_kernel cove_kernel_f16 = {
    .type = COVE_TYPE_F16,
    .name = "f16",
    .block_size = 1,
    .block_bytes = 2,
    .dot = cove_k_dot_f16_ref,
    .to_f32 = cove_k_f16_to_f32_ref,
    .from_f32 = cove_k_f32_to_f16_ref,
};
