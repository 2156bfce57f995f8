/*
 * engine/kernels/quants_pack.c - the packed row layout of the 32-element types (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0) that the AVX-512 decode kernel reads, and the way back.
 *
 * A packed row is the GGUF row with the bytes of every group of 4 blocks (128 elements; the
 * last group of a row may have 1 to 3) put in the order the arithmetic takes them. A group
 * has exactly the bytes of its blocks, so a packed row has the size and stride of the
 * original and a matrix is packed in place. Layout of a group of n blocks (b: its block
 * 0..n-1, j: 0..15), the parts back to back:
 *     16 n bytes       nibble types: byte 16b + j = qs[j] of block b (element j lo, j + 16 hi)
 *                      Q8_0: byte 16b + j = qs[j] of block b + 128 (unsigned)
 *     16 n bytes       Q8_0 only: byte 16b + j = qs[16 + j] of block b + 128
 *     2 x 2n bytes     Q5_0, Q5_1 only: two masks (little-endian), bit 16b + j of the first =
 *                      bit 4 of element j of block b, of the second = bit 4 of element j + 16
 *     2n bytes         d of the blocks (f16)
 *     2n bytes         Q4_1, Q5_1 only: m of the blocks (f16)
 */
#include <string.h>

#include "engine/kernels/quants_int.h"

/* A type's packed group of nb blocks (1..4): where its parts start. */
typedef struct {
    size_t bs, hi, k, d, m; /* block bytes; offsets of the Q8_0 high halves, the masks, d and m */
    int has_m, has_h;
} pack_geom;

static int pack_geom_of(enum cove_ggml_type t, int nb, pack_geom *g)
{
    const int q8 = t == COVE_TYPE_Q8_0, h = t == COVE_TYPE_Q5_0 || t == COVE_TYPE_Q5_1;
    const int m = t == COVE_TYPE_Q4_1 || t == COVE_TYPE_Q5_1;
    if (!q8 && !h && !m && t != COVE_TYPE_Q4_0)
        return 0;
    const size_t n = (size_t)nb;
    g->bs = q8 ? 34 : 18 + (h ? 4 : 0) + (m ? 2 : 0);
    g->hi = 16 * n;
    g->k = 16 * n;
    g->d = 16 * n + (q8 ? 16 * n : 0) + (h ? 4 * n : 0);
    g->m = g->d + 2 * n;
    g->has_m = m, g->has_h = h;
    return 1;
}

int cove_quant_packable(enum cove_ggml_type t)
{
    pack_geom g;
    return pack_geom_of(t, 4, &g) || quant_packk_group(t);
}

/* The fields of block b of a quad in GGUF layout at `src` (bs bytes a block). */
typedef struct {
    uint16_t d, m;
    uint32_t qh;
    const uint8_t *qs;
} block_view;

static block_view view_of(enum cove_ggml_type t, const uint8_t *blk)
{
    block_view v = {0, 0, 0, NULL};
    memcpy(&v.d, blk, 2);
    switch (t) {
    case COVE_TYPE_Q4_0: v.qs = blk + offsetof(block_q4_0, qs); break;
    case COVE_TYPE_Q4_1: memcpy(&v.m, blk + 2, 2), v.qs = blk + offsetof(block_q4_1, qs); break;
    case COVE_TYPE_Q5_0:
        memcpy(&v.qh, blk + offsetof(block_q5_0, qh), 4), v.qs = blk + offsetof(block_q5_0, qs);
        break;
    case COVE_TYPE_Q5_1:
        memcpy(&v.m, blk + 2, 2), memcpy(&v.qh, blk + offsetof(block_q5_1, qh), 4);
        v.qs = blk + offsetof(block_q5_1, qs);
        break;
    default: v.qs = blk + offsetof(block_q8_0, qs); break;
    }
    return v;
}

/* A group of nb blocks: GGUF blocks at src to the packed layout at dst (nb * bs bytes; no overlap). */
static void pack_group(enum cove_ggml_type t, int nb, const uint8_t *src, uint8_t *dst)
{
    pack_geom gg, *g = &gg;
    (void)pack_geom_of(t, nb, g);
    uint64_t klo = 0, khi = 0;
    for (int b = 0; b < nb; b++) {
        block_view v = view_of(t, src + (size_t)b * g->bs);
        if (t == COVE_TYPE_Q8_0) {
            for (int j = 0; j < 16; j++) {
                dst[16 * b + j] = (uint8_t)(v.qs[j] ^ 0x80u);
                dst[g->hi + 16 * b + j] = (uint8_t)(v.qs[16 + j] ^ 0x80u);
            }
        } else {
            memcpy(dst + 16 * b, v.qs, 16);
        }
        klo |= (uint64_t)(v.qh & 0xffffu) << (16 * b);
        khi |= (uint64_t)(v.qh >> 16) << (16 * b);
        memcpy(dst + g->d + 2 * b, &v.d, 2);
        if (g->has_m)
            memcpy(dst + g->m + 2 * b, &v.m, 2);
    }
    if (g->has_h) { /* little-endian: the low 2 * nb bytes of each mask */
        memcpy(dst + g->k, &klo, 2 * (size_t)nb);
        memcpy(dst + g->k + 2 * (size_t)nb, &khi, 2 * (size_t)nb);
    }
}

/* A group back: packed at src to GGUF blocks at dst (no overlap). */
static void unpack_group(enum cove_ggml_type t, int nb, const uint8_t *src, uint8_t *dst)
{
    pack_geom gg, *g = &gg;
    (void)pack_geom_of(t, nb, g);
    uint64_t klo = 0, khi = 0;
    if (g->has_h) {
        memcpy(&klo, src + g->k, 2 * (size_t)nb);
        memcpy(&khi, src + g->k + 2 * (size_t)nb, 2 * (size_t)nb);
    }
    for (int b = 0; b < nb; b++) {
        uint8_t *blk = dst + (size_t)b * g->bs;
        uint32_t qh = (uint32_t)(klo >> (16 * b) & 0xffffu) | (uint32_t)(khi >> (16 * b) & 0xffffu) << 16;
        memcpy(blk, src + g->d + 2 * b, 2);
        switch (t) {
        case COVE_TYPE_Q4_0: memcpy(blk + offsetof(block_q4_0, qs), src + 16 * b, 16); break;
        case COVE_TYPE_Q4_1:
            memcpy(blk + 2, src + g->m + 2 * b, 2);
            memcpy(blk + offsetof(block_q4_1, qs), src + 16 * b, 16);
            break;
        case COVE_TYPE_Q5_0:
            memcpy(blk + offsetof(block_q5_0, qh), &qh, 4);
            memcpy(blk + offsetof(block_q5_0, qs), src + 16 * b, 16);
            break;
        case COVE_TYPE_Q5_1:
            memcpy(blk + 2, src + g->m + 2 * b, 2);
            memcpy(blk + offsetof(block_q5_1, qh), &qh, 4);
            memcpy(blk + offsetof(block_q5_1, qs), src + 16 * b, 16);
            break;
        default:
            for (int j = 0; j < 16; j++) {
                blk[offsetof(block_q8_0, qs) + j] = (uint8_t)(src[16 * b + j] ^ 0x80u);
                blk[offsetof(block_q8_0, qs) + 16 + j] = (uint8_t)(src[g->hi + 16 * b + j] ^ 0x80u);
            }
            break;
        }
    }
}

int cove_quant_pack_rows(enum cove_ggml_type t, void *W, size_t wrb, int64_t rows, int64_t k)
{
    pack_geom g;
    if (quant_packk_group(t))
        return quant_packk_rows(t, W, wrb, rows, k);
    if (!pack_geom_of(t, 4, &g) || k < 0 || k % QK32 || wrb < (size_t)(k / QK32) * g.bs)
        return 0;
    const int64_t nb = k / QK32;
    uint8_t tmp[4 * 34];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nb; b += 4) {
            const int n = nb - b < 4 ? (int)(nb - b) : 4;
            uint8_t *p = (uint8_t *)W + (size_t)r * wrb + (size_t)b * g.bs;
            pack_group(t, n, p, tmp);
            memcpy(p, tmp, (size_t)n * g.bs);
        }
    return 1;
}

int cove_quant_unpack_rows(enum cove_ggml_type t, const void *src, void *dst, size_t wrb, int64_t rows,
                           int64_t k)
{
    pack_geom g;
    if (quant_packk_group(t))
        return quant_packk_unpack_rows(t, src, dst, wrb, rows, k);
    if (!pack_geom_of(t, 4, &g) || k < 0 || k % QK32 || wrb < (size_t)(k / QK32) * g.bs)
        return 0;
    const int64_t nb = k / QK32;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nb; b += 4) {
            const size_t o = (size_t)r * wrb + (size_t)b * g.bs;
            unpack_group(t, nb - b < 4 ? (int)(nb - b) : 4, (const uint8_t *)src + o, (uint8_t *)dst + o);
        }
    return 1;
}

void cove_quant_packed_to_f32(enum cove_ggml_type t, const void *row, float *y, int64_t n)
{
    pack_geom g;
    const cove_quant_ops *ref = cove_quant_ops_ref(t);
    if (quant_packk_group(t)) {
        quant_packk_to_f32(t, row, y, n);
        return;
    }
    if (!pack_geom_of(t, 4, &g) || !ref)
        return;
    uint8_t tmp[4 * 34];
    for (int64_t b = 0; b < n / QK32; b += 4) {
        const int nb = n / QK32 - b < 4 ? (int)(n / QK32 - b) : 4;
        unpack_group(t, nb, (const uint8_t *)row + (size_t)b * g.bs, tmp);
        ref->dequantize_row(tmp, y + b * QK32, (int64_t)nb * QK32);
    }
}
