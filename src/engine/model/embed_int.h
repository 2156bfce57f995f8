/*
 * engine/model/embed_int.h - encoders: the architectures that embed.c drives.
 *
 * An encoder-only architecture registers twice: its cove_arch in model.c's arch_table (so
 * that cove_model_load reads its weights, with forward NULL: it has no cove_context) and
 * its cove_encoder in embed.c's encoder_table. embed.c does what every encoder shares:
 * tokenizing texts with [CLS]/[SEP], packing several texts into one pass, pooling and
 * normalising. The entry turns one pass - token sequences back to back - into the last
 * hidden state of every token; attention never crosses from one sequence into another and
 * positions restart at 0 for each.
 *
 * The entry's state holds every buffer a pass needs, sized at creation for at most n_batch
 * tokens and sequences of at most n_seq_max tokens: a pass never allocates.
 */
#ifndef COVE_ENGINE_EMBED_INT_H
#define COVE_ENGINE_EMBED_INT_H

#include "base/pool.h"
#include "engine/model/model_int.h"

/* One pass: sequence s is tokens[seq_off[s] .. seq_off[s + 1]). */
typedef struct cove_enc_batch {
    const int32_t *tokens;  /* [n_tok], ids checked by the caller */
    const int32_t *seq_off; /* [n_seq + 1], seq_off[0] == 0, seq_off[n_seq] == n_tok */
    int32_t n_tok;          /* 1 .. n_batch */
    int32_t n_seq;          /* 1 .. n_tok; each sequence 1 .. n_seq_max tokens */
} cove_enc_batch;

/* What the model file says about its embeddings, for the "as the model says" defaults. */
typedef struct cove_enc_info {
    enum cove_embed_pooling pooling; /* COVE_EMBED_POOLING_NONE when the file does not say */
    int normalize;                   /* 1: L2-normalise the pooled vector */
    int32_t max_tokens;              /* tokens per text it was trained for */
    int32_t n_ctx;                   /* tokens per text it can take at all */
} cove_enc_info;

typedef struct cove_encoder {
    const cove_arch *arch; /* the models it runs */
    void (*info)(const cove_model *m, cove_enc_info *out);
    /*
     * Allocate the state for passes of at most n_batch tokens in sequences of at most
     * n_seq_max tokens (<= info.n_ctx), run on `pool` (borrowed: it must outlive the state;
     * its size sets the per-thread buffers). COVE_ERR_NOMEM; *out is then NULL.
     */
    cove_status (*state_create)(const cove_model *m, int32_t n_batch, int32_t n_seq_max,
                                cove_pool *pool, void **out, cove_error *err);
    void (*state_free)(void *state); /* NULL: no-op */
    /* Run one pass; returns the hidden states [n_tok][n_embd], borrowed from the state
     * and valid until the next pass. Does not fail and does not allocate. */
    const float *(*encode)(void *state, const cove_enc_batch *b);
} cove_encoder;

extern const cove_encoder cove_encoder_bert; /* bert.c */

#endif
