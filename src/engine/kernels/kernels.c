/*
 * engine/kernels/kernels.c - the kernel table, half-precision conversions, matmul.
 */
#include "engine/kernels/kernels.h"

#include <string.h>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels_int.h"

/* Registered kernels; a new type adds its entry here and its own k_<type>.c. */
static const cove_kernel *const kernel_table[] = {
    &cove_kernel_f32,
    &cove_kernel_f16,
    &cove_kernel_bf16,
};

#define N_KERNELS (sizeof kernel_table / sizeof kernel_table[0])

const cove_kernel *cove_kernel_for(uint32_t type)
{
    for (size_t i = 0; i < N_KERNELS; i++)
        if (kernel_table[i]->type == type)
            return kernel_table[i];
    return NULL;
}

size_t cove_kernel_row_bytes(const cove_kernel *k, int64_t n)
{
    return (size_t)(n / k->block_size) * k->block_bytes;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float cove_f16_to_f32(uint16_t h)
{
    return cove_f16_to_f32_inline(h);
}

/* Shift `m` right by `s` (1..31) rounding to nearest, ties to even. */
static uint32_t shift_rne(uint32_t m, uint32_t s)
{
    uint32_t q = m >> s;
    uint32_t rem = m & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return q;
}

uint16_t cove_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)                              /* NaN: keep it quiet and non-zero */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u)                             /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    uint32_t e = ax >> 23;
    if (ax >= 0x38800000u) {                           /* normal half */
        uint32_t h = ((e - 112u) << 10) | ((ax & 0x7fffffu) >> 13);
        uint32_t rem = ax & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++;                                       /* a carry moves into the exponent */
        return (uint16_t)(sign | h);
    }
    if (e < 101u)                                      /* below half of 2^-24 (or f32 subnormal) */
        return sign;
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;      /* value = mant * 2^(e-150) */
    return (uint16_t)(sign | shift_rne(mant, 126u - e)); /* in units of 2^-24 */
}

float cove_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t cove_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

float cove_dot_f32(const float *a, const float *b, int64_t n)
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

void cove_matmul(const cove_matrix *w, const float *x, int64_t n_tok, float *y, float *row_buf)
{
    const uint8_t *row = w->data;
    if (n_tok == 1) {
        for (int64_t r = 0; r < w->n_rows; r++, row += w->row_bytes)
            y[r] = w->k->dot(row, x, w->n_cols);
        return;
    }
    for (int64_t r = 0; r < w->n_rows; r++, row += w->row_bytes) {
        const float *wr = (const float *)(const void *)row;
        if (w->k->type != COVE_TYPE_F32) {             /* convert the row once */
            w->k->to_f32(row, row_buf, w->n_cols);
            wr = row_buf;
        }
        for (int64_t t = 0; t < n_tok; t++)
            y[t * w->n_rows + r] = cove_dot_f32(wr, x + t * w->n_cols, w->n_cols);
    }
}
