/*
 * engine/kernels/quants_packk.c - the packed row layouts of Q4_K and Q6_K that the AVX-512
 * decode kernel reads (quants_packk_avx512.c), and the way back.
 *
 * A packed row keeps the size of the GGUF row. Its blocks are taken in packed groups (Q4_K:
 * 4 blocks, Q6_K: 1 block); the blocks after the last whole group (Q4_K: 1 to 3) stay as
 * they are in the file. A "pair" is a group of elements that shares one scale: Q4_K has 8 of
 * 32 elements per block, Q6_K 16 of 16. The layouts put the 4 bytes that one int32 lane of a
 * vpdpbusd takes from each 64-byte load into one pair, so a lane sums one pair and its scale
 * is applied once per pair, not per element.
 *
 * Q4_K group of 4 blocks (576 bytes); pair p = 8 * block + group (0..31), q(p, e) its
 * elements (e 0..31) as in the canonical unpacking (quants_int.h):
 *     512 bytes   8 vectors of 64: byte 4i + j of vector v (i 0..15, j 0..3) holds
 *                 q(i, 4v + j) in its low nibble and q(16 + i, 4v + j) in its high one
 *     32 bytes    byte p: low 4 bits of the scale of pair p, high nibble: of its min
 *     16 bytes    byte k: bits 2j, 2j + 1 = bits 4, 5 of field 16j + k, where fields
 *                 0..31 are the scales of the pairs and 32..63 their mins
 *     8 bytes     d of the 4 blocks (f16); then 8 bytes: their dmin
 * Q6_K block (210 bytes); pair g = e / 16 of the block's elements, q(g, r) = q[16g + r]:
 *     3 x 64 bytes   byte 4g + j of vector s (0..2): bits 0-5 = q(g, 4s + j),
 *                    bits 6-7 = bits 2s, 2s + 1 of q(g, 12 + j)
 *     16 bytes       the int8 scales of the pairs (as in the file)
 *     2 bytes        d (f16)
 */
#include <string.h>

#include "engine/kernels/quants_int.h"

int quant_packk_group(enum cove_ggml_type t)
{
    return t == COVE_TYPE_Q4_K ? QUANT_PACKK_Q4_K_BLOCKS : t == COVE_TYPE_Q6_K ? 1 : 0;
}

/* ---- Q4_K ---- */

/* Little-endian 32-bit words: 4 bytes, 8 nibbles or 4 q values at once. */
static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#define NIB4 0x0f0f0f0fu

/* Works on words of 4 elements, so a model's matrices pack at load in a fraction of a second. */
static void pack_q4_K(const uint8_t *src, uint8_t *dst)
{
    const block_q4_K *blk[4];
    uint8_t f[64];
    for (int b = 0; b < 4; b++) {
        blk[b] = (const block_q4_K *)(const void *)(src + (size_t)b * sizeof(block_q4_K));
        quant_scales_q4_K(blk[b]->scales, f + 8 * b, f + 32 + 8 * b);
        memcpy(dst + 560 + 2 * b, &blk[b]->d, 2);
        memcpy(dst + 568 + 2 * b, &blk[b]->dmin, 2);
    }
    /* group g of a block: word v of its qs chunk g / 2, the nibbles g % 2 */
    for (int v = 0; v < 8; v++)
        for (int i = 0; i < 16; i++) {
            const int g = i % 8, off = 32 * (g / 2) + 4 * v, sh = 4 * (g % 2);
            const uint32_t lo = (rd32(blk[i / 8]->qs + off) >> sh) & NIB4;
            const uint32_t hi = (rd32(blk[2 + i / 8]->qs + off) >> sh) & NIB4;
            wr32(dst + 64 * v + 4 * i, lo | hi << 4);
        }
    for (int p = 0; p < 32; p++)
        dst[512 + p] = (uint8_t)((f[p] & 0xf) | (f[32 + p] & 0xf) << 4);
    for (int k = 0; k < 16; k++)
        dst[544 + k] = (uint8_t)((f[k] >> 4) | (f[16 + k] >> 4) << 2 | (f[32 + k] >> 4) << 4 | (f[48 + k] >> 4) << 6);
}

static void unpack_q4_K(const uint8_t *src, uint8_t *dst)
{
    uint8_t f[64];
    for (int p = 0; p < 32; p++) {
        f[p] = src[512 + p] & 0xf;
        f[32 + p] = src[512 + p] >> 4;
    }
    for (int k = 0; k < 16; k++)
        for (int j = 0; j < 4; j++)
            f[16 * j + k] |= (uint8_t)(((src[544 + k] >> (2 * j)) & 3) << 4);
    for (int b = 0; b < 4; b++) {
        block_q4_K *blk = (block_q4_K *)(void *)(dst + (size_t)b * sizeof(block_q4_K));
        const uint8_t *sc = f + 8 * b, *mn = f + 32 + 8 * b;
        memcpy(&blk->d, src + 560 + 2 * b, 2);
        memcpy(&blk->dmin, src + 568 + 2 * b, 2);
        for (int j = 0; j < 4; j++) {
            blk->scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
            blk->scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
            blk->scales[j + 8] = (uint8_t)((sc[j + 4] & 0xf) | (mn[j + 4] & 0xf) << 4);
        }
        const int i0 = (b % 2) * 8, hs = b < 2 ? 0 : 4; /* the lanes and nibble of this block */
        memset(blk->qs, 0, sizeof blk->qs);
        for (int e = 0; e < QK_K; e++) {
            const int g = e / 32, r = e % 32, v = r / 4, j = r % 4;
            const uint8_t q = (src[64 * v + 4 * (i0 + g) + j] >> hs) & 0xf;
            blk->qs[32 * (e / 64) + e % 32] |= (uint8_t)(e % 64 < 32 ? q : q << 4);
        }
    }
}

/* ---- Q6_K ---- */

static void pack_q6_K(const uint8_t *src, uint8_t *dst)
{
    const block_q6_K *b = (const block_q6_K *)(const void *)src;
    /* pair g: elements 16g .. 16g + 15 are l = 16 (g % 2) + r of slot n = g / 8, t = g % 8 / 2 */
    for (int g = 0; g < 16; g++) {
        const int n = g / 8, t = g % 8 / 2, l = 16 * (g % 2);
        uint32_t q[4];
        for (int s = 0; s < 4; s++) {
            const uint32_t lo = (rd32(b->ql + 64 * n + 32 * (t & 1) + l + 4 * s) >> (t < 2 ? 0 : 4)) & NIB4;
            const uint32_t hi = (rd32(b->qh + 32 * n + l + 4 * s) >> (2 * t)) & 0x03030303u;
            q[s] = lo | hi << 4;
        }
        for (int s = 0; s < 3; s++)
            wr32(dst + 64 * s + 4 * g, q[s] | ((q[3] >> (2 * s)) & 0x03030303u) << 6);
    }
    memcpy(dst + 192, b->scales, 16);
    memcpy(dst + 208, &b->d, 2);
}

static void unpack_q6_K(const uint8_t *src, uint8_t *dst)
{
    block_q6_K *b = (block_q6_K *)(void *)dst;
    uint8_t q[QK_K];
    for (int g = 0; g < 16; g++)
        for (int j = 0; j < 4; j++) {
            uint8_t q3 = 0;
            for (int s = 0; s < 3; s++) {
                const uint8_t v = src[64 * s + 4 * g + j];
                q[16 * g + 4 * s + j] = v & 63;
                q3 |= (uint8_t)((v >> 6) << (2 * s));
            }
            q[16 * g + 12 + j] = q3;
        }
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < QK_K; e++) {
        const int n = e / 128, t = e % 128 / 32, l = e % 32;
        uint8_t *ql = &b->ql[64 * n + 32 * (t & 1) + l];
        *ql |= (uint8_t)(t < 2 ? (q[e] & 0xf) : (q[e] & 0xf) << 4);
        b->qh[32 * n + l] |= (uint8_t)((q[e] >> 4) << (2 * t));
    }
    memcpy(b->scales, src + 192, 16);
    memcpy(&b->d, src + 208, 2);
}

/* ---- rows ---- */

/* One packed group of type t: GGUF blocks at src to the layout at dst, or back (no overlap). */
static void group_pack(enum cove_ggml_type t, const uint8_t *src, uint8_t *dst)
{
    if (t == COVE_TYPE_Q4_K)
        pack_q4_K(src, dst);
    else
        pack_q6_K(src, dst);
}

static void group_unpack(enum cove_ggml_type t, const uint8_t *src, uint8_t *dst)
{
    if (t == COVE_TYPE_Q4_K)
        unpack_q4_K(src, dst);
    else
        unpack_q6_K(src, dst);
}

/* Bytes of one packed group of t and of the whole groups of a row of k elements. */
static int packk_geom(enum cove_ggml_type t, int64_t k, size_t wrb, size_t *gbytes, int64_t *groups)
{
    const int gb = quant_packk_group(t);
    const size_t bs = t == COVE_TYPE_Q4_K ? sizeof(block_q4_K) : sizeof(block_q6_K);
    if (!gb || k < 0 || k % QK_K || wrb < (size_t)(k / QK_K) * bs)
        return 0;
    *gbytes = (size_t)gb * bs;
    *groups = k / QK_K / gb;
    return 1;
}

int quant_packk_rows(enum cove_ggml_type t, void *W, size_t wrb, int64_t rows, int64_t k)
{
    size_t gbytes;
    int64_t groups;
    if (!packk_geom(t, k, wrb, &gbytes, &groups))
        return 0;
    uint8_t tmp[QUANT_PACKK_Q4_K_BLOCKS * sizeof(block_q4_K)];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g = 0; g < groups; g++) {
            uint8_t *p = (uint8_t *)W + (size_t)r * wrb + (size_t)g * gbytes;
            group_pack(t, p, tmp);
            memcpy(p, tmp, gbytes);
        }
    return 1;
}

int quant_packk_unpack_rows(enum cove_ggml_type t, const void *src, void *dst, size_t wrb, int64_t rows,
                            int64_t k)
{
    size_t gbytes;
    int64_t groups;
    if (!packk_geom(t, k, wrb, &gbytes, &groups))
        return 0;
    const size_t row = cove_quant_row_bytes(t, k);
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *s = (const uint8_t *)src + (size_t)r * wrb;
        uint8_t *d = (uint8_t *)dst + (size_t)r * wrb;
        for (int64_t g = 0; g < groups; g++)
            group_unpack(t, s + (size_t)g * gbytes, d + (size_t)g * gbytes);
        memcpy(d + (size_t)groups * gbytes, s + (size_t)groups * gbytes, row - (size_t)groups * gbytes);
    }
    return 1;
}

void quant_packk_to_f32(enum cove_ggml_type t, const void *row, float *y, int64_t n)
{
    size_t gbytes;
    int64_t groups;
    const cove_quant_ops *ref = cove_quant_ops_ref(t);
    if (!ref || n < 0 || n % QK_K || !packk_geom(t, n, cove_quant_row_bytes(t, n), &gbytes, &groups))
        return;
    uint8_t tmp[QUANT_PACKK_Q4_K_BLOCKS * sizeof(block_q4_K)];
    const int64_t per = (int64_t)(gbytes / ref->block_bytes) * QK_K; /* elements per group */
    for (int64_t g = 0; g < groups; g++) {
        group_unpack(t, (const uint8_t *)row + (size_t)g * gbytes, tmp);
        ref->dequantize_row(tmp, y + g * per, per);
    }
    if (n > groups * per)
        ref->dequantize_row((const uint8_t *)row + (size_t)groups * gbytes, y + groups * per, n - groups * per);
}
