/*
 * engine/model/model_int.h - the insides of models and contexts, and the architecture table.
 *
 * An architecture is one cove_arch entry in its own file (llama.c; qwen2, qwen3, gemma3
 * later), registered in model.c. model.c does what all decoder-only transformers share:
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

#include "base/arena.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "engine/model/model.h"

typedef struct cove_hparams {
    int32_t n_vocab;     /* rows of token_embd */
    int32_t n_ctx_train; /* <arch>.context_length */
    int32_t n_embd;      /* <arch>.embedding_length */
    int32_t n_layer;     /* <arch>.block_count */
    int32_t n_ff;        /* <arch>.feed_forward_length */
    int32_t n_head;      /* <arch>.attention.head_count */
    int32_t n_head_kv;   /* <arch>.attention.head_count_kv (default n_head) */
    int32_t head_dim;    /* n_embd / n_head */
    int32_t n_rot;       /* <arch>.rope.dimension_count (default head_dim): dims rotated */
    float rope_base;     /* <arch>.rope.freq_base (default 10000) */
    float rms_eps;       /* <arch>.attention.layer_norm_rms_epsilon */
} cove_hparams;

/* The weights of one block; matrices borrow the mapping, norms are f32 copies. */
typedef struct cove_layer {
    const float *attn_norm; /* [n_embd] */
    cove_matrix wq;         /* n_head * head_dim rows x n_embd */
    cove_matrix wk;         /* n_head_kv * head_dim rows x n_embd */
    cove_matrix wv;         /* n_head_kv * head_dim rows x n_embd */
    cove_matrix wo;         /* n_embd rows x n_head * head_dim */
    const float *ffn_norm;  /* [n_embd] */
    cove_matrix ffn_gate;   /* n_ff rows x n_embd */
    cove_matrix ffn_up;     /* n_ff rows x n_embd */
    cove_matrix ffn_down;   /* n_embd rows x n_ff */
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
    cove_layer *layers;       /* [n_layer], in arena */
    uint64_t n_params;
    const void *arch_data;    /* weights of an architecture that keeps its own (bert.c), in arena */
};

/* One token's slot in a micro-batch, as context.c hands it to a forward pass. */
typedef struct cove_ubatch {
    const int32_t *tokens; /* [n] */
    const int32_t *pos;    /* [n] */
    const int32_t *out;    /* [n] logits row of each token, -1: none */
    int32_t n;
} cove_ubatch;

/*
 * The context: KV cache [n_layer][n_ctx][kv_dim] for keys and for values, of kv kernel's
 * type, and scratch buffers for n_ubatch tokens, all allocated at creation.
 */
struct cove_context {
    const cove_model *m;
    cove_context_params p;
    int32_t n_ctx;
    int32_t n_past;          /* positions of sequence 0 in the cache */
    const cove_kernel *kv;   /* element type of the cache */
    size_t kv_row_bytes;     /* one position of one layer: kv_dim elements */
    uint8_t *k_cache, *v_cache;
    /* scratch, sizes in floats for U = n_ubatch tokens */
    float *x;       /* U * n_embd: the residual stream */
    float *xb;      /* U * max(n_embd, q_dim): normed input, projection output */
    float *q;       /* U * q_dim */
    float *k;       /* U * kv_dim */
    float *v;       /* U * kv_dim */
    float *att;     /* U * q_dim: attention output */
    float *hb;      /* U * n_ff */
    float *hb2;     /* U * n_ff */
    float *scores;  /* n_ctx: one head's attention weights */
    float *row_buf; /* largest matrix row in f32 (batched matmul) */
    float *rope_cs; /* U * n_rot: cos, sin per pair per token */
    double *rope_inv_freq; /* n_rot / 2: base^(-2i / n_rot) */
    int32_t *pos_buf;     /* U */
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
     * models get no cove_context. */
    void (*forward)(cove_context *ctx, const cove_ubatch *ub);
};

extern const cove_arch cove_arch_llama; /* llama.c */
extern const cove_arch cove_arch_bert;  /* bert.c */

/* ---- helpers model.c offers to the architecture files ---- */

/* Read the hyper-parameters every llama-like architecture has into m->hp. */
cove_status cove_model_read_hparams(cove_model *m, cove_error *err);

/* Find matrix `name` and check it is rows x cols of a type with a kernel. */
cove_status cove_model_matrix(cove_model *m, const char *name, int64_t rows, int64_t cols,
                              cove_matrix *out, cove_error *err);

/* As cove_model_matrix, but *found = 0 (and OK) when the tensor is absent. */
cove_status cove_model_matrix_opt(cove_model *m, const char *name, int64_t rows, int64_t cols,
                                  cove_matrix *out, int *found, cove_error *err);

/* Find vector `name` of n elements and copy it as f32 into the model's arena. */
cove_status cove_model_vector(cove_model *m, const char *name, int64_t n, const float **out,
                              cove_error *err);

/* Token embeddings, output norm, output (tied to the embeddings when absent). */
cove_status cove_model_load_io(cove_model *m, cove_error *err);

#endif
