/*
 * engine/model/gemma3.c - the gemma3 architecture (Gemma 3 text models: 270m, 1b, ...).
 *
 * decoder.c's block with:
 *   - embeddings multiplied by sqrt(n_embd);
 *   - RMSNorm of each head of q and k (attn_q_norm, attn_k_norm) before NeoX RoPE;
 *   - norms after attention and after the feed-forward too (post_attention_norm,
 *     post_ffw_norm), besides the ones before (attn_norm, ffn_norm);
 *   - a GELU (tanh approximation) gated feed-forward;
 *   - sliding-window and global layers: layer il is global when (il + 1) % 6 == 0
 *     (gemma3.attention.sliding_window_pattern when the file has it), sliding otherwise;
 *     a sliding layer's token at p sees keys p - window + 1 .. p (window =
 *     gemma3.attention.sliding_window) and rotates with base 10000
 *     (gemma3.rope.freq_base_swa), global layers with gemma3.rope.freq_base and the file's
 *     rope scaling;
 *   - scores q.k scaled by gemma3.attention.scale when present, else 1/sqrt(head_dim)
 *     (query_pre_attn_scalar = head_dim for the released sizes but 27b, whose GGUFs
 *     carry the scale);
 *   - attention and final logit soft-capping when the file gives them
 *     (gemma3.attn_logit_softcapping, final_logit_softcapping; Gemma 3 has none).
 * Norm weights are used as stored: GGUF gemma files hold 1 + w (docs/convert.md).
 */
#include <math.h>

#include "base/limits.h"
#include "engine/model/ops.h"

#define GEMMA3_SWA_PATTERN 6
#define GEMMA3_ROPE_BASE_SWA 10000.0f

static cove_status gemma3_load(cove_model *m, cove_error *err)
{
    cove_hparams *hp = &m->hp;
    cove_status st = cove_model_read_hparams(m, err);
    if (st != COVE_OK)
        return st;
    hp->rope_type = COVE_ROPE_NEOX;
    hp->act = COVE_ACT_GELU_TANH;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->swa_pattern = GEMMA3_SWA_PATTERN;
    hp->rope_base_swa = GEMMA3_ROPE_BASE_SWA;
    if ((st = cove_model_opt_int(m, "attention.sliding_window", COVE_MAX_CTX, &hp->swa_window,
                                 err)) ||
        (st = cove_model_opt_int(m, "attention.sliding_window_pattern", COVE_MAX_LAYERS,
                                 &hp->swa_pattern, err)) ||
        (st = cove_model_opt_float(m, "rope.freq_base_swa", &hp->rope_base_swa, err)))
        return st;
    if (!(hp->rope_base_swa > 0.0f))
        return cove_error_set(err, COVE_ERR_FORMAT, "gemma3.rope.freq_base_swa must be positive");
    return cove_decoder_load(m, COVE_PART_QK_NORM | COVE_PART_POST_NORMS, err);
}

const cove_arch cove_arch_gemma3 = {
    .name = "gemma3",
    .load = gemma3_load,
    .forward = cove_decoder_forward,
};
