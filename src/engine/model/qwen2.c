/*
 * engine/model/qwen2.c - the qwen2 architecture (Qwen2, Qwen2.5).
 *
 * llama's block (decoder.c) with two differences: q, k and v have biases
 * (blk.N.attn_{q,k,v}.bias), and RoPE rotates the halves of each head (NeoX style: pairs
 * (i, i + n_rot/2)), since qwen2 GGUFs keep the Hugging Face row order.
 */
#include "engine/model/ops.h"

static cove_status qwen2_load(cove_model *m, cove_error *err)
{
    cove_status st = cove_model_read_hparams(m, err);
    if (st != COVE_OK)
        return st;
    m->hp.rope_type = COVE_ROPE_NEOX;
    return cove_decoder_load(m, COVE_PART_QKV_BIAS, err);
}

const cove_arch cove_arch_qwen2 = {
    .name = "qwen2",
    .load = qwen2_load,
    .forward = cove_decoder_forward,
};
