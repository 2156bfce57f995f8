/*
 * engine/model/model_int.h - the insides of models and contexts, and the architecture table.
 *
 * An architecture is one cove_arch entry in its own file (llama.c, qwen2.c, qwen3.c,
 * gemma3.c, bert.c), registered in model.c. The decoders share decoder.c: their files
 * set the hyper-parameter flags (RoPE style, activation, norms, sliding windows) and name
 * the optional tensors they have. model.c does what all decoder-only transformers share:
 * open the file, load the vocabulary, read the common hyper-parameters, find tensors and
 * check their shapes. The entry reads what is particular to it and runs the forward pass.
 * context.c owns the KV cache and scratch buffers and turns a cove_batch into calls of the
 * entry's forward over micro-batches of at most n_ubatch tokens.
 *
 * Shapes follow GGUF: a matrix tensor has ne[0] = columns (the input size, contiguous)
 * and ne[1] = rows (the output size), so y = W x takes row r . x for every r.
 */
#ifndef COVE_ENGINE_MODEL_INT_H
#define COVE_ENGINE_MODEL_INT_H

#include <stdatomic.h>

#include "base/arena.h"
#include "base/pool.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "engine/model/model.h"

/* How RoPE pairs the dimensions it rotates. */
enum cove_rope_type {
    COVE_ROPE_NORM = 0, /* adjacent pairs (2i, 2i+1): llama GGUFs (Q/K rows permuted) */
    COVE_ROPE_NEOX = 1  /* halves (i, i + n_rot/2): qwen2, qwen3, gemma3 */
};

/* Position scaling of RoPE (<arch>.rope.scaling.type; llama3 factors come as a tensor). */
enum cove_rope_scaling {
    COVE_ROPE_SCALING_NONE = 0,
    COVE_ROPE_SCALING_LINEAR = 1, /* angles divided by the factor */
    COVE_ROPE_SCALING_YARN = 2    /* YaRN: interpolation ramp over the pairs, magnitude scale */
};

/* The activation of the gated feed-forward: act(gate) * up. */
enum cove_ffn_act {
    COVE_ACT_SILU = 0,     /* x / (1 + e^-x): llama, qwen */
    COVE_ACT_GELU_TANH = 1 /* x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): gemma */
};

typedef struct cove_hparams {
    int32_t n_vocab;     /* rows of token_embd */
    int32_t n_ctx_train; /* <arch>.context_length */
    int32_t n_embd;      /* <arch>.embedding_length */
    int32_t n_layer;     /* <arch>.block_count */
    int32_t n_ff;        /* <arch>.feed_forward_length */
    int32_t n_head;      /* <arch>.attention.head_count */
    int32_t n_head_kv;   /* <arch>.attention.head_count_kv (default n_head) */
    int32_t head_dim;    /* <arch>.attention.key_length (default n_embd / n_head) */
    int32_t n_rot;       /* <arch>.rope.dimension_count (default head_dim): dims rotated */
    float rope_base;     /* <arch>.rope.freq_base (default 10000) */
    float rms_eps;       /* <arch>.attention.layer_norm_rms_epsilon */
    /* RoPE scaling: <arch>.rope.scaling.{type, factor, original_context_length} */
    enum cove_rope_scaling rope_scaling;
    float rope_factor;        /* 1 when none */
    int32_t rope_orig_ctx;    /* yarn: context the model was trained with before scaling */
    /* what the architecture file sets (llama's values are the defaults) */
    enum cove_rope_type rope_type;
    enum cove_ffn_act act;
    float embd_scale;     /* token embeddings multiplied by it (gemma: sqrt(n_embd)); 1: none */
    float attn_scale;     /* q.k multiplied by it: <arch>.attention.scale, else 1/sqrt(head_dim) */
    float attn_softcap;   /* <arch>.attn_logit_softcapping: s = c tanh(s / c); 0: none */
    float final_softcap;  /* <arch>.final_logit_softcapping, on the logits; 0: none */
    int32_t swa_window;   /* <arch>.attention.sliding_window: keys within the last
                             swa_window positions, on sliding layers; 0: none */
    int32_t swa_pattern;  /* layer il is global when (il + 1) % swa_pattern == 0, sliding
                             otherwise (gemma3: 6); 0: every layer global */
    float rope_base_swa;  /* RoPE base of sliding layers (gemma3: 10000); no scaling there */
} cove_hparams;

/* The weights of one block; matrices borrow the mapping, vectors are f32 copies. */
typedef struct cove_layer {
    const float *attn_norm; /* [n_embd] */
    cove_matrix wq;         /* n_head * head_dim rows x n_embd */
    cove_matrix wk;         /* n_head_kv * head_dim rows x n_embd */
    cove_matrix wv;         /* n_head_kv * head_dim rows x n_embd */
    cove_matrix wo;         /* n_embd rows x n_head * head_dim */
    const float *bq, *bk, *bv;    /* biases of q, k, v (qwen2); NULL when none */
    const float *q_norm, *k_norm; /* [head_dim] RMSNorm of each head of q, k (qwen3, gemma3) */
    const float *post_attn_norm;  /* [n_embd] norm of the attention output (gemma3) */
    const float *ffn_norm;  /* [n_embd] */
    cove_matrix ffn_gate;   /* n_ff rows x n_embd */
    cove_matrix ffn_up;     /* n_ff rows x n_embd */
    cove_matrix ffn_down;   /* n_embd rows x n_ff */
    const float *post_ffw_norm;   /* [n_embd] norm of the feed-forward output (gemma3) */
    int swa;                      /* 1: a sliding-window layer */
} cove_layer;

typedef struct cove_arch cove_arch;

struct cove_model {
    cove_gguf *g;          /* owned: the mapping every matrix points into */
    cove_vocab *vocab;     /* owned */
    cove_arena *arena;     /* owned: norms, layers, names */
    const cove_arch *arch; /* NULL for a vocab-only model */
    const char *arch_name; /* in arena */
    const char *name;      /* general.name, in arena ("" when absent) */
    cove_hparams hp;
    cove_matrix tok_embd;     /* n_vocab rows x n_embd */
    const float *output_norm; /* [n_embd] */
    cove_matrix output;       /* n_vocab rows x n_embd; token_embd when the file ties them */
    const float *rope_freqs;  /* [n_rot / 2] llama3 rope_freqs.weight: each pair's angle is
                                 divided by its factor; NULL when absent */
    cove_layer *layers;       /* [n_layer], in arena */
    uint64_t n_params;
    uint64_t weight_bytes;    /* bytes of every matrix (each tensor counted once) */
    const void *arch_data;    /* weights of an architecture that keeps its own (bert.c), in arena */
    uint8_t *wbuf;            /* owned (cove_pages_alloc, wbuf_cap bytes): the packed copies of
                                 matrices (cove_quant_pack_rows), wbuf_used bytes of it taken;
                                 NULL until the first packing */
    size_t wbuf_cap, wbuf_used; /* wbuf_cap set and wbuf NULL: refused, nothing is packed */
    uint8_t **packed;         /* [tensor count] the packed copy of each tensor in wbuf, NULL: none;
                                 in arena, allocated by the first packing */
    cove_pool *load_pool;     /* owned, only while the model loads: the threads that read and
                                 pack matrices (started by the first packing; NULL: none yet) */
    cove_error *load_errs;    /* owned, with load_pool: one record per thread of it */
};

/* One micro-batch, as context.c hands it to a forward pass. */
typedef struct cove_ubatch {
    const int32_t *tokens; /* [n] */
    const int32_t *pos;    /* [n] */
    const int32_t *seq;    /* [n] sequence of each token */
    const int32_t *out;    /* [n] logits row of each token, -1: none */
    int32_t n;
} cove_ubatch;

/* RoPE of one kind of layer: angle of pair i at position p is theta(p * inv_freq[i]). */
typedef struct cove_rope {
    double *inv_freq;   /* [n_rot / 2] base^(-2i / n_rot) / rope_freqs[i] */
    double freq_scale;  /* 1 / factor (linear, yarn); 1: none */
    int yarn;           /* 1: YaRN ramp between interpolation and extrapolation */
    double yarn_lo, yarn_hi; /* pairs below lo extrapolate, above hi interpolate */
    float mscale;       /* cos and sin multiplied by it (YaRN), else 1 */
} cove_rope;

#define COVE_MM_SLOTS 3 /* matrices of one grouped product (q, k, v) */
#define COVE_WORK_PER_LAYER 4 /* products of a block: qkv, output, gate/up, down */

/*
 * The context: KV cache [n_layer][n_seq_max][n_ctx][kv_dim] for keys and for values, of
 * the kv kernel's type, and scratch buffers for n_ubatch tokens, all allocated at creation;
 * per-thread buffers for every thread of the pool.
 */
struct cove_context {
    const cove_model *m;
    cove_context_params p;
    int32_t n_ctx;           /* positions per sequence */
    int32_t n_seq;           /* sequences (n_seq_max) */
    int32_t *seq_pos;        /* [n_seq] positions of each sequence held in the cache */
    int32_t *seq_tmp;        /* [n_seq] batch checking */
    cove_pool *pool;         /* owned: n_threads threads, the caller included */
    int n_threads;
    const cove_kernel *kv;   /* element type of the cache */
    const cove_vec_ops *vo;  /* vector operations at the best SIMD level */
    size_t kv_head_bytes;    /* one head of one position */
    uint8_t *k_cache, *v_cache; /* [layer][seq][kv head][pos], kv_head_bytes a row */
    /* scratch, sizes in floats for U = n_ubatch tokens */
    float *x;       /* U * n_embd: the residual stream */
    float *x_own;   /* n_threads * own_floats: one token's residual stream and normed input
                       (n_embd each), kept by every thread for itself (decode) */
    size_t own_floats;
    float *xb;      /* U * max(n_embd, q_dim): normed input, projection output */
    float *q;       /* U * q_dim; owns the one allocation of q, k, v, att and hb2 */
    float *k;       /* U * kv_dim, after q */
    float *v;       /* U * kv_dim, after k */
    float *att;     /* U * q_dim: attention output, after v */
    float *hb;      /* U * n_ff */
    float *hb2;     /* U * n_ff, over q, k, v and att: the feed-forward step uses it only
                       between the barriers that end the output projection and gate/up */
    uint8_t *act[COVE_MM_SLOTS]; /* quantized activations of a product, act_bytes each */
    size_t act_bytes;
    uint8_t *act_local;  /* n_threads * COVE_MM_SLOTS * act1_bytes: one token's activations,
                            quantized by every thread for itself (decode: no barrier) */
    size_t act1_bytes;
    atomic_int *work;    /* n_work counters: the next chunk of rows of each product of a step */
    int32_t n_work;
    float *att_scratch; /* n_threads * cove_attn_scratch_floats: scores and rows of a block */
    size_t att_scratch_floats;
    int32_t *blk;   /* U + 1: token ranges of the attention blocks of the micro-batch */
    int32_t n_blk, blk_heads; /* blocks, query heads per work item */
    float *rope_cs; /* 2 * U * n_rot: cos, sin per pair per token, global then sliding */
    cove_rope rope[2];   /* global layers, sliding layers */
    int32_t *pos_buf;     /* U */
    int32_t *seq_buf;     /* U */
    int32_t *out_buf;     /* U */
    /* outputs of the last decode */
    float *logits;        /* n_outputs_max * n_vocab */
    int32_t *out_ids;     /* [n_outputs_max] batch index of each logits row */
    int32_t n_out;
    int32_t last_n;       /* tokens in the last batch */
};

struct cove_arch {
    const char *name; /* general.architecture */
    /* Read the hyper-parameters and tensors particular to the architecture into m. */
    cove_status (*load)(cove_model *m, cove_error *err);
    /* Run one micro-batch: fill the cache at ub->pos, write logits rows that ub->out asks.
     * NULL for an encoder-only architecture (bert: embeddings, see embed_int.h), whose
     * models get no cove_context. Decoders use cove_decoder_forward. */
    void (*forward)(cove_context *ctx, const cove_ubatch *ub);
};

extern const cove_arch cove_arch_llama;  /* llama.c */
extern const cove_arch cove_arch_qwen2;  /* qwen2.c */
extern const cove_arch cove_arch_qwen3;  /* qwen3.c */
extern const cove_arch cove_arch_gemma3; /* gemma3.c */
extern const cove_arch cove_arch_bert;   /* bert.c */

/* ---- helpers model.c offers to the architecture files ---- */

/* Read the hyper-parameters every llama-like architecture has into m->hp, with llama's
 * defaults for what the architecture file sets afterwards. */
cove_status cove_model_read_hparams(cove_model *m, cove_error *err);

/* Optional float `<arch>.<suffix>` (>= 0) into *out; *out unchanged when absent. */
cove_status cove_model_opt_float(const cove_model *m, const char *suffix, float *out,
                                 cove_error *err);

/* Optional unsigned `<arch>.<suffix>` (<= max) into *out; unchanged when absent. */
cove_status cove_model_opt_int(const cove_model *m, const char *suffix, uint64_t max,
                               int32_t *out, cove_error *err);

/* Find matrix `name` and check it is rows x cols of a type with a kernel. */
cove_status cove_model_matrix(cove_model *m, const char *name, int64_t rows, int64_t cols,
                              cove_matrix *out, cove_error *err);

/* As cove_model_matrix, but *found = 0 (and OK) when the tensor is absent. */
cove_status cove_model_matrix_opt(cove_model *m, const char *name, int64_t rows, int64_t cols,
                                  cove_matrix *out, int *found, cove_error *err);

/* Find vector `name` of n elements and copy it as f32 into the model's arena. */
cove_status cove_model_vector(cove_model *m, const char *name, int64_t n, const float **out,
                              cove_error *err);

/* As cove_model_vector; *out = NULL (and OK) when the tensor is absent. */
cove_status cove_model_vector_opt(cove_model *m, const char *name, int64_t n, const float **out,
                                  cove_error *err);

/* Token embeddings, output norm, output (tied to the embeddings when absent). */
cove_status cove_model_load_io(cove_model *m, cove_error *err);

/* ---- the decoder core (decoder.c), shared by llama, qwen2, qwen3, gemma3 ---- */

/* Which optional tensors of a block an architecture has. */
enum cove_block_parts {
    COVE_PART_QKV_BIAS = 1,   /* blk.N.attn_{q,k,v}.bias (required) */
    COVE_PART_QK_NORM = 2,    /* blk.N.attn_{q,k}_norm.weight [head_dim] (required) */
    COVE_PART_POST_NORMS = 4  /* blk.N.post_attention_norm, post_ffw_norm (required) */
};

/* Load token embeddings, output, rope factors and every block with `parts` (the
 * hyper-parameters read before); marks sliding layers from hp.swa_pattern. */
cove_status cove_decoder_load(cove_model *m, unsigned parts, cove_error *err);

/* The forward pass of every decoder architecture (cove_arch.forward). */
void cove_decoder_forward(cove_context *ctx, const cove_ubatch *ub);

/* Largest cove_matmul_scratch_bytes over the model's matrices for n_tok tokens. */
size_t cove_decoder_act_bytes(const cove_model *m, int64_t n_tok);

#endif
