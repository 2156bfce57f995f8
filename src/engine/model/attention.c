/*
 * engine/model/attention.c - causal attention over the KV cache, in blocks.
 *
 * A work item is a block of query rows: up to ATT_ROWS (token, head) pairs made of
 * consecutive tokens of one sequence in the micro-batch and query heads that share one KV
 * head. Each cached key and value row the block needs is converted to f32 once (from f16,
 * f32 or Q8_0) and used by every row of the block, so prefill reads and converts the cache
 * once per block instead of once per (token, head); keys are transposed per block of 64,
 * so that scores, like the weighted sum of values, are broadcast-FMAs into registers
 * (axpy_multi), up to four rows of the same range (the heads of one token) at a time. Per row r (token t at position p,
 * window start lo):
 *     s_j = scale * q_r . k_j            for lo <= j <= p   (then c tanh(s_j / c) if capped)
 *     out_r = sum_j softmax(s)_j v_j
 * Rows keep their own range: a block may hold tokens at different positions.
 */
#include <math.h>
#include <string.h>

#include "engine/model/ops.h"

#define KEY_BLOCK 64 /* cache rows converted to f32 at a time */

size_t cove_attn_scratch_floats(const cove_context *c)
{
    return (size_t)COVE_ATT_ROWS * (size_t)c->n_ctx +
           2 * (size_t)KEY_BLOCK * (size_t)c->m->hp.head_dim;
}

/* softmax of x[0..n) with the vector table's exp. */
static void softmax(const cove_context *c, float *x, int64_t n)
{
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    const float inv = 1.0f / c->vo->exp_sum(x, n, max);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

/* One row over an f16 cache (decode): the SIMD f16 dot and axpy, no conversion. */
static void row_f16(const cove_context *c, const cove_att_block *b, const uint8_t *kc,
                    const uint8_t *vc, float *sc)
{
    const cove_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, lo = b->lo[0], n = b->hi[0] - lo + 1;
    const size_t rb = c->kv_row_bytes;
    for (int32_t j = 0; j < n; j++)
        sc[j] = c->vo->dot_f16(kc + (size_t)(lo + j) * rb, b->q[0], hd) * hp->attn_scale;
    if (hp->attn_softcap > 0.0f)
        cove_op_softcap(sc, n, hp->attn_softcap);
    softmax(c, sc, n);
    memset(b->out[0], 0, (size_t)hd * sizeof(float));
    for (int32_t j = 0; j < n; j++)
        c->vo->axpy_f16(b->out[0], sc[j], vc + (size_t)(lo + j) * rb, hd);
}

/* Cache rows [j0, j0 + n) of one head as f32 rows of *ld floats: in the cache itself (f32)
 * or converted into buf. */
static const float *cache_rows(const cove_context *c, const uint8_t *base, int32_t j0, int32_t n,
                               float *buf, int64_t *ld)
{
    const int32_t hd = c->m->hp.head_dim;
    const uint8_t *row = base + (size_t)j0 * c->kv_row_bytes;
    if (c->kv->type == COVE_TYPE_F32) {
        *ld = (int64_t)(c->kv_row_bytes / sizeof(float));
        return (const float *)(const void *)row;
    }
    for (int32_t j = 0; j < n; j++)
        c->kv->to_f32(row + (size_t)j * c->kv_row_bytes, buf + (size_t)j * (size_t)hd, hd);
    *ld = hd;
    return buf;
}

/* Rows r .. r + result - 1 (at most 4) have the range of row r (the heads of one token). */
static int same_range(const cove_att_block *b, int r)
{
    int k = 1;
    while (k < 4 && r + k < b->n_rows && b->lo[r + k] == b->lo[r] && b->hi[r + k] == b->hi[r])
        k++;
    return k;
}

/* The range of row r inside [j0, j0 + n): [*a, *e); empty when *a >= *e. */
static void row_span(const cove_att_block *b, int r, int32_t j0, int32_t n, int32_t *a, int32_t *e)
{
    *a = b->lo[r] > j0 ? b->lo[r] : j0;
    *e = b->hi[r] + 1 < j0 + n ? b->hi[r] + 1 : j0 + n;
}

/*
 * Scores of every row: sc[r * stride + (j - s_lo)] over the row's range, then softmax. A
 * block of keys is transposed (kt[i][j] = k_j[i]) so that a row's scores are one axpy_many
 * (out += q[i] kt[i], the scores in registers) instead of a reduction per key.
 */
static void block_scores(const cove_context *c, const cove_att_block *b, const uint8_t *kc,
                         float *sc, size_t stride, float *buf)
{
    const cove_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim;
    float *kt = buf + (size_t)KEY_BLOCK * (size_t)hd;
    for (int r = 0; r < b->n_rows; r++) /* q is scratch of this micro-batch: scale it once */
        for (int32_t i = 0; i < hd; i++)
            ((float *)b->q[r])[i] *= hp->attn_scale;
    for (int32_t j0 = b->s_lo; j0 <= b->s_hi; j0 += KEY_BLOCK) {
        const int32_t n = b->s_hi - j0 + 1 < KEY_BLOCK ? b->s_hi - j0 + 1 : KEY_BLOCK;
        int64_t ld;
        const float *k = cache_rows(c, kc, j0, n, buf, &ld);
        for (int32_t j = 0; j < n; j++)
            for (int32_t i = 0; i < hd; i++)
                kt[(size_t)i * KEY_BLOCK + (size_t)j] = k[j * ld + i];
        for (int r = 0, g; r < b->n_rows; r += g) {
            int32_t a, e;
            float *out[4];
            g = same_range(b, r);
            row_span(b, r, j0, n, &a, &e);
            if (a >= e)
                continue;
            for (int o = 0; o < g; o++) {
                out[o] = sc + (size_t)(r + o) * stride + (size_t)(a - b->s_lo);
                memset(out[o], 0, (size_t)(e - a) * sizeof(float));
            }
            c->vo->axpy_multi(out, b->q + r, g, kt + (a - j0), KEY_BLOCK, hd, e - a);
        }
    }
    for (int r = 0; r < b->n_rows; r++) {
        float *s = sc + (size_t)r * stride + (size_t)(b->lo[r] - b->s_lo);
        const int64_t n = (int64_t)b->hi[r] - b->lo[r] + 1;
        if (hp->attn_softcap > 0.0f)
            cove_op_softcap(s, n, hp->attn_softcap);
        softmax(c, s, n);
    }
}

void cove_attend_block(const cove_context *c, const cove_att_block *b, const uint8_t *kc,
                       const uint8_t *vc, float *scratch)
{
    const int32_t hd = c->m->hp.head_dim;
    const size_t stride = (size_t)c->n_ctx;
    float *sc = scratch, *buf = scratch + (size_t)COVE_ATT_ROWS * stride;
    if (b->n_rows == 1 && c->kv->type == COVE_TYPE_F16) {
        row_f16(c, b, kc, vc, sc);
        return;
    }
    block_scores(c, b, kc, sc, stride, buf);
    for (int r = 0; r < b->n_rows; r++)
        memset(b->out[r], 0, (size_t)hd * sizeof(float));
    for (int32_t j0 = b->s_lo; j0 <= b->s_hi; j0 += KEY_BLOCK) {
        const int32_t n = b->s_hi - j0 + 1 < KEY_BLOCK ? b->s_hi - j0 + 1 : KEY_BLOCK;
        int64_t ld;
        const float *v = cache_rows(c, vc, j0, n, buf, &ld);
        for (int r = 0, g; r < b->n_rows; r += g) {
            int32_t a, e;
            const float *p[4];
            g = same_range(b, r);
            row_span(b, r, j0, n, &a, &e);
            if (a >= e)
                continue;
            for (int o = 0; o < g; o++)
                p[o] = sc + (size_t)(r + o) * stride + (size_t)(a - b->s_lo);
            c->vo->axpy_multi(b->out + r, p, g, v + (a - j0) * ld, ld, e - a, hd);
        }
    }
}
