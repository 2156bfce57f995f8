/*
 * engine/model/llama.c - the llama architecture (Llama 1/2/3, SmolLM, TinyLlama, tinyllamas).
 *
 * Per block, for every token x (n_embd):
 *     h  = x + Wo . attention(rope(Wq . rmsnorm(x)), rope(Wk . rmsnorm(x)), Wv . rmsnorm(x))
 *     x' = h + Wdown . (silu(Wgate . rmsnorm(h)) * (Wup . rmsnorm(h)))
 * then logits = Woutput . rmsnorm(x). Each rmsnorm has its own weight vector
 * (attn_norm, ffn_norm, output_norm). RoPE rotates adjacent pairs: the converters that
 * write llama GGUFs permute the rows of Wq and Wk so that this form applies. Llama 3's
 * rope scaling comes as rope_freqs.weight (one divisor per pair); linear and YaRN scaling
 * as llama.rope.scaling.* keys. The computation is decoder.c's with these defaults.
 */
#include "engine/model/ops.h"

static cove_status llama_load(cove_model *m, cove_error *err)
{
    cove_status st = cove_model_read_hparams(m, err);
    if (st != COVE_OK)
        return st;
    return cove_decoder_load(m, 0, err);
}

const cove_arch cove_arch_llama = {
    .name = "llama",
    .load = llama_load,
    .forward = cove_decoder_forward,
};
