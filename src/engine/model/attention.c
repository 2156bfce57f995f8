/*
 * engine/model/attention.c - causal attention over the KV cache, in blocks.
 *
 * A work item is a block of query rows: up to COVE_ATT_ROWS (token, head) pairs made of
 * consecutive tokens of one sequence in the micro-batch and query heads that share one KV
 * head. The block's queries are transposed once (qt[i][r] = scale * q_r[i], the rows padded
 * to PAD with zeros), so that the scores of a block of cached keys are one small matrix
 * product into columns, S^T = K qt (gemm_nn: a key's row of K broadcast against the rows in
 * vector lanes); each cached key and value row is converted to f32 once (from f16, f32 or
 * Q8_0) and used by every row of the block. Per row r (token t at position p, window start
 * lo) over the union range of the block:
 *     s_j = scale * q_r . k_j            for lo <= j <= p   (then c tanh(s_j / c) if capped)
 *     w_j = exp(s_j - max), 0 outside the row's range   (softmax_cols: rows in lanes)
 *     out_r = (sum_j w_j v_j) / sum_j w_j                (gemm_tn over blocks of values)
 * Rows keep their own range: a block may hold tokens at different positions; a row's keys
 * outside its range get weight 0. One row over an f16 cache (decode) takes the direct path.
 */
#include <math.h>
#include <string.h>

#include "engine/model/ops.h"

#define KEY_BLOCK 64 /* cache rows converted to f32 at a time */

#define PAD(n) (((n) + 15) & ~15) /* row stride of the block's columns: whole vectors */

size_t cove_attn_scratch_floats(const cove_context *c)
{
    const size_t hd = (size_t)c->m->hp.head_dim, rp = PAD(COVE_ATT_ROWS);
    return rp * (size_t)c->n_ctx + rp * hd /* qt */ + rp * hd /* out */ + rp /* inv */ +
           (size_t)KEY_BLOCK * hd /* converted rows */;
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

/* One row over an f16 cache (decode): the f16 rows read in place, no conversion. */
static void row_f16(const cove_context *c, const cove_att_block *b, const uint8_t *kc,
                    const uint8_t *vc, float *sc)
{
    const cove_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, lo = b->lo[0], n = b->hi[0] - lo + 1;
    const size_t rb = c->kv_head_bytes;
    c->vo->dot_f16_rows(kc + (size_t)lo * rb, (int64_t)rb, n, b->q[0], hd, hp->attn_scale, sc);
    if (hp->attn_softcap > 0.0f)
        cove_op_softcap(sc, n, hp->attn_softcap);
    softmax(c, sc, n);
    c->vo->sum_f16_rows(vc + (size_t)lo * rb, (int64_t)rb, n, sc, hd, b->out[0]);
}

/* Keys in the block of keys of b that starts at j0. */
static int32_t key_block(const cove_att_block *b, int32_t j0)
{
    return b->s_hi - j0 + 1 < KEY_BLOCK ? b->s_hi - j0 + 1 : KEY_BLOCK;
}

/* Cache rows [j0, j0 + n) of one head as f32 rows of *ld floats: in the cache itself (f32)
 * or converted into buf. */
static const float *cache_rows(const cove_context *c, const uint8_t *base, int32_t j0, int32_t n,
                               float *buf, int64_t *ld)
{
    const int32_t hd = c->m->hp.head_dim;
    const uint8_t *row = base + (size_t)j0 * c->kv_head_bytes;
    if (c->kv->type == COVE_TYPE_F32) {
        *ld = (int64_t)(c->kv_head_bytes / sizeof(float));
        return (const float *)(const void *)row;
    }
    if (c->kv->type == COVE_TYPE_F16)
        c->vo->f16_rows_to_f32(row, (int64_t)c->kv_head_bytes, n, hd, buf);
    else
        for (int32_t j = 0; j < n; j++)
            c->kv->to_f32(row + (size_t)j * c->kv_head_bytes, buf + (size_t)j * (size_t)hd, hd);
    *ld = hd;
    return buf;
}

/*
 * Weights of every row of b as columns of st (rp floats a key, key j at row j - s_lo):
 * scores of blocks of keys, then the column softmax. inv[r]: 1 / the sum of row r's weights.
 */
static void block_weights(const cove_context *c, const cove_att_block *b, const uint8_t *kc,
                          float *st, int64_t rp, const float *qt, float *buf, float *inv)
{
    const cove_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, m = b->s_hi - b->s_lo + 1;
    int32_t lo[COVE_ATT_ROWS], hi[COVE_ATT_ROWS];
    for (int32_t j0 = b->s_lo; j0 <= b->s_hi; j0 += KEY_BLOCK) {
        const int32_t n = key_block(b, j0);
        int64_t ld;
        const float *k = cache_rows(c, kc, j0, n, buf, &ld);
        c->vo->gemm_nn(n, b->n_rows, hd, k, ld, qt, rp, st + (int64_t)(j0 - b->s_lo) * rp, rp);
    }
    for (int32_t j = 0; hp->attn_softcap > 0.0f && j < m; j++)
        cove_op_softcap(st + (int64_t)j * rp, b->n_rows, hp->attn_softcap);
    for (int r = 0; r < b->n_rows; r++) {
        lo[r] = b->lo[r] - b->s_lo;
        hi[r] = b->hi[r] - b->s_lo;
    }
    c->vo->softmax_cols(st, m, b->n_rows, rp, lo, hi, inv);
}

void cove_attend_block(const cove_context *c, const cove_att_block *b, const uint8_t *kc,
                       const uint8_t *vc, float *scratch)
{
    const cove_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim;
    if (b->n_rows == 1 && c->kv->type == COVE_TYPE_F16) {
        row_f16(c, b, kc, vc, scratch);
        return;
    }
    const int64_t rp = PAD(b->n_rows), maxp = PAD(COVE_ATT_ROWS);
    float *st = scratch, *qt = st + maxp * (int64_t)c->n_ctx, *out = qt + maxp * hd;
    float *inv = out + maxp * hd, *buf = inv + maxp;
    for (int32_t i = 0; i < hd; i++) /* the padding columns are never read */
        for (int r = 0; r < b->n_rows; r++)
            qt[i * rp + r] = b->q[r][i] * hp->attn_scale;
    block_weights(c, b, kc, st, rp, qt, buf, inv);
    memset(out, 0, (size_t)(b->n_rows * hd) * sizeof(float));
    for (int32_t j0 = b->s_lo; j0 <= b->s_hi; j0 += KEY_BLOCK) {
        const int32_t n = key_block(b, j0);
        int64_t ld;
        const float *v = cache_rows(c, vc, j0, n, buf, &ld);
        c->vo->gemm_tn(b->n_rows, hd, n, st + (int64_t)(j0 - b->s_lo) * rp, rp, v, ld, out, hd);
    }
    for (int r = 0; r < b->n_rows; r++)
        for (int32_t i = 0; i < hd; i++)
            b->out[r][i] = out[r * hd + i] * inv[r];
}
