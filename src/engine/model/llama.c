/*
 * engine/model/llama.c - the llama architecture (Llama 1/2/3, TinyLlama, tinyllamas stories).
 *
 * Per block, for every token x (n_embd):
 *     h  = x + Wo . attention(rope(Wq . rmsnorm(x)), rope(Wk . rmsnorm(x)), Wv . rmsnorm(x))
 *     x' = h + Wdown . (silu(Wgate . rmsnorm(h)) * (Wup . rmsnorm(h)))
 * then logits = Woutput . rmsnorm(x). Each rmsnorm has its own weight vector
 * (attn_norm, ffn_norm, output_norm). RoPE rotates adjacent pairs: the converters that
 * write llama GGUFs permute the rows of Wq and Wk so that this form applies.
 */
#include <stdio.h>

#include "engine/model/ops.h"

#define NAME_MAX_LEN 64

static cove_status load_layer(cove_model *m, int32_t il, cove_error *err)
{
    const cove_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim;
    const int64_t KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    cove_layer *l = &m->layers[il];
    char n[9][NAME_MAX_LEN];
    static const char *const part[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    for (int i = 0; i < 9; i++)
        snprintf(n[i], NAME_MAX_LEN, "blk.%d.%s.weight", (int)il, part[i]);
    cove_status st;
    if ((st = cove_model_vector(m, n[0], E, &l->attn_norm, err)) ||
        (st = cove_model_matrix(m, n[1], Q, E, &l->wq, err)) ||
        (st = cove_model_matrix(m, n[2], KV, E, &l->wk, err)) ||
        (st = cove_model_matrix(m, n[3], KV, E, &l->wv, err)) ||
        (st = cove_model_matrix(m, n[4], E, Q, &l->wo, err)) ||
        (st = cove_model_vector(m, n[5], E, &l->ffn_norm, err)) ||
        (st = cove_model_matrix(m, n[6], F, E, &l->ffn_gate, err)) ||
        (st = cove_model_matrix(m, n[7], F, E, &l->ffn_up, err)) ||
        (st = cove_model_matrix(m, n[8], E, F, &l->ffn_down, err)))
        return st;
    return COVE_OK;
}

static cove_status llama_load(cove_model *m, cove_error *err)
{
    cove_status st = cove_model_read_hparams(m, err);
    if (st == COVE_OK)
        st = cove_model_load_io(m, err);
    if (st != COVE_OK)
        return st;
    if (cove_arena_calloc(m->arena, (size_t)m->hp.n_layer, sizeof *m->layers,
                          (void **)&m->layers) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the model");
    for (int32_t il = 0; il < m->hp.n_layer; il++)
        if ((st = load_layer(m, il, err)) != COVE_OK)
            return st;
    return COVE_OK;
}

/* Self-attention half of block il for the micro-batch; adds into ctx->x. */
static void attention_block(cove_context *ctx, int32_t il, const cove_ubatch *ub)
{
    const cove_model *m = ctx->m;
    const cove_hparams *hp = &m->hp;
    const cove_layer *l = &m->layers[il];
    const int64_t E = hp->n_embd, Q = l->wq.n_rows, KV = l->wk.n_rows;
    const int32_t n = ub->n;
    for (int32_t t = 0; t < n; t++)
        cove_op_rmsnorm(ctx->xb + t * E, ctx->x + t * E, l->attn_norm, E, hp->rms_eps);
    cove_matmul(&l->wq, ctx->xb, n, ctx->q, ctx->row_buf);
    cove_matmul(&l->wk, ctx->xb, n, ctx->k, ctx->row_buf);
    cove_matmul(&l->wv, ctx->xb, n, ctx->v, ctx->row_buf);
    for (int32_t t = 0; t < n; t++) {
        const float *cs = ctx->rope_cs + (int64_t)t * hp->n_rot;
        cove_op_rope(ctx->q + t * Q, hp->n_head, hp->head_dim, hp->n_rot, cs);
        cove_op_rope(ctx->k + t * KV, hp->n_head_kv, hp->head_dim, hp->n_rot, cs);
        cove_op_kv_store(ctx, il, ub->pos[t], ctx->k + t * KV, ctx->v + t * KV);
    }
    for (int32_t t = 0; t < n; t++)
        cove_op_attention(ctx, il, ctx->q + t * Q, ub->pos[t], ctx->att + t * Q);
    cove_matmul(&l->wo, ctx->att, n, ctx->xb, ctx->row_buf);
    cove_op_add(ctx->x, ctx->xb, n * E);
}

/* Feed-forward half of block il; adds into ctx->x. */
static void ffn_block(cove_context *ctx, int32_t il, int32_t n)
{
    const cove_hparams *hp = &ctx->m->hp;
    const cove_layer *l = &ctx->m->layers[il];
    const int64_t E = hp->n_embd;
    for (int32_t t = 0; t < n; t++)
        cove_op_rmsnorm(ctx->xb + t * E, ctx->x + t * E, l->ffn_norm, E, hp->rms_eps);
    cove_matmul(&l->ffn_gate, ctx->xb, n, ctx->hb, ctx->row_buf);
    cove_matmul(&l->ffn_up, ctx->xb, n, ctx->hb2, ctx->row_buf);
    cove_op_swiglu(ctx->hb, ctx->hb2, (int64_t)n * hp->n_ff);
    cove_matmul(&l->ffn_down, ctx->hb, n, ctx->xb, ctx->row_buf);
    cove_op_add(ctx->x, ctx->xb, n * E);
}

/* Final norm and output projection of the tokens that asked for logits. */
static void output_logits(cove_context *ctx, const cove_ubatch *ub)
{
    const cove_model *m = ctx->m;
    const int64_t E = m->hp.n_embd;
    int32_t n_out = 0, first = -1;
    for (int32_t t = 0; t < ub->n; t++) {
        if (ub->out[t] < 0)
            continue;
        if (first < 0)
            first = ub->out[t];
        cove_op_rmsnorm(ctx->xb + n_out * E, ctx->x + t * E, m->output_norm, E, m->hp.rms_eps);
        n_out++;
    }
    if (n_out > 0) /* rows of one micro-batch are consecutive in the logits buffer */
        cove_matmul(&m->output, ctx->xb, n_out, ctx->logits + (int64_t)first * m->hp.n_vocab,
                    ctx->row_buf);
}

static void llama_forward(cove_context *ctx, const cove_ubatch *ub)
{
    const cove_model *m = ctx->m;
    const cove_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;
    for (int32_t t = 0; t < ub->n; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd.data +
                             (size_t)ub->tokens[t] * m->tok_embd.row_bytes;
        m->tok_embd.k->to_f32(row, ctx->x + t * E, E);
        cove_op_rope_table(ctx->rope_inv_freq, hp->n_rot, ub->pos[t],
                           ctx->rope_cs + (int64_t)t * hp->n_rot);
    }
    for (int32_t il = 0; il < hp->n_layer; il++) {
        attention_block(ctx, il, ub);
        ffn_block(ctx, il, ub->n);
    }
    output_logits(ctx, ub);
}

const cove_arch cove_arch_llama = {
    .name = "llama",
    .load = llama_load,
    .forward = llama_forward,
};
