/*
 * convert/arch_map.c - per architecture: Hugging Face tensor names to GGUF names, the
 * transformation each tensor's data needs, and the <arch>.* hyper-parameter keys.
 *
 * Transformations:
 *   llama q_proj / k_proj (weights and biases): Hugging Face stores each head's rows as
 *     two halves that RoPE rotates against each other (rotate_half); GGUF llama files,
 *     and cove's engine (adjacent-pair RoPE, docs/engine.md), want the pairs interleaved.
 *     Output row h*D + 2i + j (head h of size D, i < D/2, j in {0, 1}) is input row
 *     h*D + j*D/2 + i, over n_head heads for q and n_head_kv heads for k.
 *     qwen2, qwen3 and gemma3 use NeoX-style RoPE in GGUF and keep the Hugging Face order.
 *   gemma3 RMSNorm weights (every *norm.weight): Gemma computes x * (1 + w); GGUF gemma
 *     files store 1 + w so that the forward pass multiplies as for every other model.
 *
 * Names follow the GGUF conventions: token_embd, output_norm, output, and per block
 * blk.N.attn_q / attn_k / attn_v / attn_output / ffn_gate / ffn_up / ffn_down /
 * attn_norm / ffn_norm, with attn_q_norm / attn_k_norm (qwen3, gemma3),
 * post_attention_norm / post_ffw_norm (gemma3) and, for bert, token_types,
 * position_embd, token_embd_norm, attn_output_norm, layer_output_norm.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_int.h"

#define A_LLAMA (1u << COVE_ARCH_LLAMA)
#define A_QWEN2 (1u << COVE_ARCH_QWEN2)
#define A_QWEN3 (1u << COVE_ARCH_QWEN3)
#define A_GEMMA3 (1u << COVE_ARCH_GEMMA3)
#define A_DECODER (A_LLAMA | A_QWEN2 | A_QWEN3 | A_GEMMA3)

enum { F_Q = 1, F_K = 2, F_NORM = 4, F_TABLE = 8, F_SKIP = 16, F_LM_HEAD = 32 };

typedef struct map_entry {
    const char *hf;   /* full name, or the part after the block prefix */
    const char *gguf; /* GGUF name, or the part after "blk.N." */
    unsigned archs;
    unsigned flags;
} map_entry;

static const map_entry decoder_globals[] = {
    {"model.embed_tokens.weight", "token_embd.weight", A_DECODER, 0},
    {"model.norm.weight", "output_norm.weight", A_DECODER, F_NORM},
    {"lm_head.weight", "output.weight", A_DECODER, F_LM_HEAD},
};

static const map_entry decoder_blocks[] = {
    {"self_attn.q_proj.weight", "attn_q.weight", A_DECODER, F_Q},
    {"self_attn.q_proj.bias", "attn_q.bias", A_DECODER, F_Q},
    {"self_attn.k_proj.weight", "attn_k.weight", A_DECODER, F_K},
    {"self_attn.k_proj.bias", "attn_k.bias", A_DECODER, F_K},
    {"self_attn.v_proj.weight", "attn_v.weight", A_DECODER, 0},
    {"self_attn.v_proj.bias", "attn_v.bias", A_DECODER, 0},
    {"self_attn.o_proj.weight", "attn_output.weight", A_DECODER, 0},
    {"self_attn.o_proj.bias", "attn_output.bias", A_DECODER, 0},
    {"mlp.gate_proj.weight", "ffn_gate.weight", A_DECODER, 0},
    {"mlp.up_proj.weight", "ffn_up.weight", A_DECODER, 0},
    {"mlp.down_proj.weight", "ffn_down.weight", A_DECODER, 0},
    {"input_layernorm.weight", "attn_norm.weight", A_DECODER, F_NORM},
    {"post_attention_layernorm.weight", "ffn_norm.weight", A_LLAMA | A_QWEN2 | A_QWEN3, F_NORM},
    {"post_attention_layernorm.weight", "post_attention_norm.weight", A_GEMMA3, F_NORM},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight", A_GEMMA3, F_NORM},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight", A_GEMMA3, F_NORM},
    {"self_attn.q_norm.weight", "attn_q_norm.weight", A_QWEN3 | A_GEMMA3, F_NORM},
    {"self_attn.k_norm.weight", "attn_k_norm.weight", A_QWEN3 | A_GEMMA3, F_NORM},
    {"self_attn.rotary_emb.inv_freq", NULL, A_DECODER, F_SKIP},
};

static const map_entry bert_globals[] = {
    {"embeddings.word_embeddings.weight", "token_embd.weight", ~0u, 0},
    {"embeddings.token_type_embeddings.weight", "token_types.weight", ~0u, F_TABLE},
    {"embeddings.position_embeddings.weight", "position_embd.weight", ~0u, F_TABLE},
    {"embeddings.LayerNorm.weight", "token_embd_norm.weight", ~0u, 0},
    {"embeddings.LayerNorm.bias", "token_embd_norm.bias", ~0u, 0},
    {"embeddings.position_ids", NULL, ~0u, F_SKIP},
};

static const map_entry bert_blocks[] = {
    {"attention.self.query.weight", "attn_q.weight", ~0u, 0},
    {"attention.self.query.bias", "attn_q.bias", ~0u, 0},
    {"attention.self.key.weight", "attn_k.weight", ~0u, 0},
    {"attention.self.key.bias", "attn_k.bias", ~0u, 0},
    {"attention.self.value.weight", "attn_v.weight", ~0u, 0},
    {"attention.self.value.bias", "attn_v.bias", ~0u, 0},
    {"attention.output.dense.weight", "attn_output.weight", ~0u, 0},
    {"attention.output.dense.bias", "attn_output.bias", ~0u, 0},
    {"attention.output.LayerNorm.weight", "attn_output_norm.weight", ~0u, 0},
    {"attention.output.LayerNorm.bias", "attn_output_norm.bias", ~0u, 0},
    {"intermediate.dense.weight", "ffn_up.weight", ~0u, 0},
    {"intermediate.dense.bias", "ffn_up.bias", ~0u, 0},
    {"output.dense.weight", "ffn_down.weight", ~0u, 0},
    {"output.dense.bias", "ffn_down.bias", ~0u, 0},
    {"output.LayerNorm.weight", "layer_output_norm.weight", ~0u, 0},
    {"output.LayerNorm.bias", "layer_output_norm.bias", ~0u, 0},
};

/* Prefixes rewritten before the look-up ("to" may be ""), or skipped ("to" NULL). */
static const struct {
    const char *from, *to;
    unsigned archs;
} prefixes[] = {
    {"language_model.model.", "model.", A_GEMMA3},  /* Gemma3ForConditionalGeneration */
    {"model.language_model.", "model.", A_GEMMA3},  /* ... as newer transformers save it */
    {"language_model.lm_head.", "lm_head.", A_GEMMA3},
    {"vision_tower.", NULL, A_GEMMA3},
    {"multi_modal_projector.", NULL, A_GEMMA3},
    {"model.vision_tower.", NULL, A_GEMMA3},
    {"model.multi_modal_projector.", NULL, A_GEMMA3},
    {"bert.", "", 1u << COVE_ARCH_BERT},            /* BertForMaskedLM and kin */
    {"cls.", NULL, 1u << COVE_ARCH_BERT},           /* masked-LM head */
    {"pooler.", NULL, 1u << COVE_ARCH_BERT},        /* cove pools itself */
};

/* LayerNorm.gamma / .beta of older BERT checkpoints read as .weight / .bias. */
static void bert_legacy(char *name)
{
    size_t n = strlen(name);
    if (n > 6 && strcmp(name + n - 6, ".gamma") == 0)
        strcpy(name + n - 6, ".weight");
    else if (n > 5 && strcmp(name + n - 5, ".beta") == 0)
        strcpy(name + n - 5, ".bias");
}

/* Rewrite prefixes; 1 when the tensor is to be skipped. */
static int normalise_name(const cove_convert_cfg *cfg, const char *in, char *out, size_t n)
{
    snprintf(out, n, "%s", in);
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t l = strlen(prefixes[i].from);
        if (!(prefixes[i].archs & (1u << cfg->arch)) || strncmp(out, prefixes[i].from, l) != 0)
            continue;
        if (!prefixes[i].to)
            return 1;
        char rest[COVE_ST_MAX_NAME + 1];
        snprintf(rest, sizeof rest, "%s", out + l);
        snprintf(out, n, "%s%s", prefixes[i].to, rest);
    }
    if (cfg->arch == COVE_ARCH_BERT)
        bert_legacy(out);
    return 0;
}

static const map_entry *lookup(const map_entry *t, size_t n, const char *name, unsigned arch)
{
    for (size_t i = 0; i < n; i++)
        if ((t[i].archs & (1u << arch)) && strcmp(t[i].hf, name) == 0)
            return &t[i];
    return NULL;
}

/* "PREFIX<N>.rest": the block number into *il and a pointer to rest; NULL otherwise. */
static const char *block_suffix(const char *name, const char *prefix, long *il)
{
    size_t l = strlen(prefix);
    char *end;
    if (strncmp(name, prefix, l) != 0 || name[l] < '0' || name[l] > '9')
        return NULL;
    long v = strtol(name + l, &end, 10);
    if (*end != '.' || end - (name + l) > 6)
        return NULL;
    *il = v;
    return end + 1;
}

static void fill_map(const cove_convert_cfg *cfg, const map_entry *e, long il,
                     cove_convert_map *out)
{
    if (il >= 0)
        snprintf(out->name, sizeof out->name, "blk.%ld.%s", il, e->gguf);
    else
        snprintf(out->name, sizeof out->name, "%s", e->gguf);
    out->role = e->flags & F_TABLE ? COVE_ROLE_TABLE : COVE_ROLE_WEIGHT;
    out->xform = COVE_XFORM_NONE;
    if (cfg->arch == COVE_ARCH_LLAMA)
        out->xform |= (e->flags & F_Q ? COVE_XFORM_PERMUTE_Q : 0) |
                      (e->flags & F_K ? COVE_XFORM_PERMUTE_K : 0);
    if (cfg->arch == COVE_ARCH_GEMMA3 && (e->flags & F_NORM))
        out->xform |= COVE_XFORM_PLUS_ONE;
    out->skip = (e->flags & F_LM_HEAD) && cfg->tie_embeddings;
}

#define N_OF(t) (sizeof t / sizeof t[0])

/* The table entry of a normalised name; *il is its block (-1 for a global tensor). */
static const map_entry *find_entry(const cove_convert_cfg *cfg, const char *name, long *il)
{
    unsigned a = cfg->arch;
    if (cfg->arch == COVE_ARCH_BERT) {
        const char *rest = block_suffix(name, "encoder.layer.", il);
        return rest ? lookup(bert_blocks, N_OF(bert_blocks), rest, a)
                    : lookup(bert_globals, N_OF(bert_globals), name, a);
    }
    const char *rest = block_suffix(name, "model.layers.", il);
    return rest ? lookup(decoder_blocks, N_OF(decoder_blocks), rest, a)
                : lookup(decoder_globals, N_OF(decoder_globals), name, a);
}

cove_status cove_convert_map_tensor(const cove_convert_cfg *cfg, const char *hf_name,
                                    cove_convert_map *out, cove_error *err)
{
    char name[COVE_ST_MAX_NAME + 16];
    long il = -1;
    memset(out, 0, sizeof *out);
    if (normalise_name(cfg, hf_name, name, sizeof name)) {
        out->skip = 1;
        return COVE_OK;
    }
    const map_entry *e = find_entry(cfg, name, &il);
    if (!e)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "tensor '%.200s' is not one a %s model "
                              "has (cove does not know where it goes)", hf_name,
                              cove_convert_arch_name(cfg->arch));
    if (il >= cfg->n_layer)
        return cove_error_set(err, COVE_ERR_FORMAT, "tensor '%.200s' is in block %ld, but the "
                              "model has %lld blocks", hf_name, il, (long long)cfg->n_layer);
    if (e->flags & F_SKIP) {
        out->skip = 1;
        return COVE_OK;
    }
    fill_map(cfg, e, il, out);
    return COVE_OK;
}

/* ---- hyper-parameters ---- */

/* Set "<arch>.<suffix>" as a u32 / f32 / bool. */
static cove_status set_u32(cove_gguf_writer *w, const char *arch, const char *suffix, int64_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return cove_gguf_writer_set_u32(w, key, (uint32_t)v);
}

static cove_status set_f32(cove_gguf_writer *w, const char *arch, const char *suffix, double v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return cove_gguf_writer_set_f32(w, key, (float)v);
}

static cove_status set_str(cove_gguf_writer *w, const char *arch, const char *suffix,
                           const char *v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return cove_gguf_writer_set_str(w, key, v);
}

static cove_status write_common(const cove_convert_cfg *c, const char *a, uint32_t n_vocab,
                                cove_gguf_writer *w)
{
    cove_status st;
    if ((st = set_u32(w, a, "vocab_size", n_vocab)) ||
        (st = set_u32(w, a, "context_length", c->n_ctx)) ||
        (st = set_u32(w, a, "embedding_length", c->n_embd)) ||
        (st = set_u32(w, a, "block_count", c->n_layer)) ||
        (st = set_u32(w, a, "feed_forward_length", c->n_ff)) ||
        (st = set_u32(w, a, "attention.head_count", c->n_head)))
        return st;
    return COVE_OK;
}

static cove_status write_rope(const cove_convert_cfg *c, const char *a, cove_gguf_writer *w)
{
    cove_status st = set_f32(w, a, "rope.freq_base", c->rope_theta);
    if (st != COVE_OK)
        return st;
    if (c->rope_scaling == COVE_ROPE_SCALING_LINEAR || c->rope_scaling == COVE_ROPE_SCALING_YARN) {
        int yarn = c->rope_scaling == COVE_ROPE_SCALING_YARN;
        if ((st = set_str(w, a, "rope.scaling.type", yarn ? "yarn" : "linear")) ||
            (st = set_f32(w, a, "rope.scaling.factor", c->rope_factor)))
            return st;
        if (yarn && c->rope_orig_ctx)
            st = set_u32(w, a, "rope.scaling.original_context_length", c->rope_orig_ctx);
    }
    return st;
}

static cove_status write_decoder(const cove_convert_cfg *c, const char *a, cove_gguf_writer *w)
{
    cove_status st;
    int kv_len = c->arch == COVE_ARCH_QWEN3 || c->arch == COVE_ARCH_GEMMA3 ||
                 (c->head_dim_given && c->head_dim * c->n_head != c->n_embd);
    if ((st = set_u32(w, a, "attention.head_count_kv", c->n_head_kv)) ||
        (st = set_f32(w, a, "attention.layer_norm_rms_epsilon", c->norm_eps)) ||
        (st = write_rope(c, a, w)))
        return st;
    if ((c->arch == COVE_ARCH_LLAMA || c->arch == COVE_ARCH_QWEN2) &&
        (st = set_u32(w, a, "rope.dimension_count", c->head_dim)))
        return st;
    if (kv_len && ((st = set_u32(w, a, "attention.key_length", c->head_dim)) ||
                   (st = set_u32(w, a, "attention.value_length", c->head_dim))))
        return st;
    if (c->arch == COVE_ARCH_GEMMA3 && c->sliding_window > 0)
        st = set_u32(w, a, "attention.sliding_window", c->sliding_window);
    return st;
}

static cove_status write_bert(const cove_convert_cfg *c, const char *a, cove_gguf_writer *w)
{
    cove_status st;
    if ((st = set_f32(w, a, "attention.layer_norm_epsilon", c->norm_eps)) ||
        (st = cove_gguf_writer_set_bool(w, "bert.attention.causal", 0)) ||
        (st = cove_gguf_writer_set_u32(w, "tokenizer.ggml.token_type_count",
                                       (uint32_t)c->n_token_types)))
        return st;
    if (c->has_pooling && ((st = set_u32(w, a, "pooling_type", c->pooling)) ||
                           (st = cove_gguf_writer_set_bool(w, "cove.embedding.normalize",
                                                           c->normalize))))
        return st;
    if (c->max_seq_len > 0)
        st = cove_gguf_writer_set_u32(w, "cove.embedding.max_seq_length",
                                      (uint32_t)c->max_seq_len);
    return st;
}

cove_status cove_convert_arch_write_meta(const cove_convert_cfg *cfg, uint32_t n_vocab,
                                         cove_gguf_writer *w, cove_error *err)
{
    const char *a = cove_convert_arch_name(cfg->arch);
    cove_status st = write_common(cfg, a, n_vocab, w);
    if (st == COVE_OK)
        st = cfg->arch == COVE_ARCH_BERT ? write_bert(cfg, a, w) : write_decoder(cfg, a, w);
    if (st != COVE_OK)
        return cove_error_set(err, st, "cannot write the %s hyper-parameters: %s", a,
                              cove_status_str(st));
    return COVE_OK;
}

/*
 * Llama 3 frequency-dependent RoPE scaling, as a factor per rotated pair: frequencies
 * whose wavelength is shorter than original_ctx / high_freq_factor keep their value (1),
 * those longer than original_ctx / low_freq_factor are divided by `factor`, and the ones
 * between are blended smoothly. The engine divides each pair's frequency by its factor.
 */
void cove_convert_llama3_rope_factors(const cove_convert_cfg *c, float *out)
{
    const double two_pi = 6.283185307179586;
    double lo_wave = (double)c->rope_orig_ctx / c->rope_low_freq;
    double hi_wave = (double)c->rope_orig_ctx / c->rope_high_freq;
    for (int64_t i = 0; i < c->head_dim / 2; i++) {
        double freq = 1.0 / pow(c->rope_theta, (double)(2 * i) / (double)c->head_dim);
        double wave = two_pi / freq, f;
        if (wave < hi_wave) {
            f = 1.0;
        } else if (wave > lo_wave) {
            f = c->rope_factor;
        } else {
            double smooth = ((double)c->rope_orig_ctx / wave - c->rope_low_freq) /
                            (c->rope_high_freq - c->rope_low_freq);
            f = 1.0 / ((1.0 - smooth) / c->rope_factor + smooth);
        }
        out[i] = (float)f;
    }
}
