/*
 * engine/model/qwen3.c - the qwen3 architecture (Qwen3 dense models).
 *
 * llama's block (decoder.c) with NeoX RoPE, no biases, and an RMSNorm over each head of q
 * and of k before RoPE (blk.N.attn_q_norm.weight, attn_k_norm.weight, [head_dim]). The
 * head size is qwen3.attention.key_length, which may differ from n_embd / n_head.
 */
#include "engine/model/ops.h"

static cove_status qwen3_load(cove_model *m, cove_error *err)
{
    cove_status st = cove_model_read_hparams(m, err);
    if (st != COVE_OK)
        return st;
    m->hp.rope_type = COVE_ROPE_NEOX;
    return cove_decoder_load(m, COVE_PART_QK_NORM, err);
}

const cove_arch cove_arch_qwen3 = {
    .name = "qwen3",
    .load = qwen3_load,
    .forward = cove_decoder_forward,
};
