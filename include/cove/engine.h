/*
 * cove/engine.h - local inference on GGUF models: models, contexts, tokenizer, samplers.
 *
 * The objects and their life cycles:
 *
 *   cove_model    weights (mmapped read-only), hyper-parameters and vocabulary of one GGUF
 *                 file. Immutable after cove_model_load, so one model may serve many
 *                 contexts on many threads at once.
 *   cove_context  the mutable state of inference on one model: KV cache, scratch buffers,
 *                 the logits of the last decode. Use from one thread at a time. Every
 *                 buffer is sized when the context is created: decoding never allocates.
 *   cove_detok    a streaming detokenizer: turns tokens into text, holding back UTF-8
 *                 sequences that are split across tokens until they are complete.
 *   cove_sampler  picks the next token from logits; owns its RNG state and the history its
 *                 repetition penalty needs.
 *
 * A minimal generation loop (error handling left out):
 *
 *     cove_model_load(path, cove_model_default_params(), &model, &err);
 *     cove_context_create(model, cove_context_default_params(), &ctx, &err);
 *     cove_tokenize(model, text, len, 1, 0, toks, max, &n, &err);
 *     cove_batch b = {toks, NULL, NULL, n, NULL};   // positions follow the cache
 *     cove_decode(ctx, &b, &err);
 *     cove_sampler_sample(smp, cove_context_logits(ctx, -1), &tok);
 *     ... feed tok back as a batch of one ...
 *
 * Errors: every fallible call returns a cove_status (COVE_OK == 0, errors negative) and,
 * where it takes one, fills `err` (may be NULL) with a message that names the problem.
 * Nothing here exits or aborts on bad input or a bad file.
 *
 * Ownership: handles are created by *_load / *_create and released by the matching *_free
 * (NULL is a no-op). Pointers returned by getters are borrowed from the handle they came
 * from and stay valid as the getter's comment says. A context borrows its model, and a
 * detokenizer borrows its model: free them before the model.
 */
#ifndef COVE_ENGINE_H
#define COVE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "cove/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================ model ================================ */

typedef struct cove_model cove_model;

typedef struct cove_model_params {
    int vocab_only; /* 1: load only the vocabulary (no architecture, no tensors); default 0 */
} cove_model_params;

cove_model_params cove_model_default_params(void);

/*
 * Open the GGUF file at `path`, check its hyper-parameters and tensor shapes against its
 * architecture, and load its vocabulary. On success *out owns the file mapping; release it
 * with cove_model_free. Fails with COVE_ERR_IO (cannot open), COVE_ERR_FORMAT (malformed
 * file, missing key or tensor, wrong shape), COVE_ERR_UNSUPPORTED (unknown architecture,
 * tokenizer or tensor type), COVE_ERR_LIMIT (a size beyond limits.h), COVE_ERR_NOMEM.
 * *out is NULL on failure.
 */
cove_status cove_model_load(const char *path, cove_model_params params, cove_model **out,
                            cove_error *err);

/* Release the model. Free every context and detokenizer that uses it first. NULL: no-op. */
void cove_model_free(cove_model *model);

/* Architecture name as in the file ("llama"); borrowed, valid until cove_model_free. */
const char *cove_model_arch(const cove_model *model);
/* general.name of the file, or "" when absent; borrowed, valid until cove_model_free. */
const char *cove_model_name(const cove_model *model);

int32_t cove_model_n_vocab(const cove_model *model);
int32_t cove_model_n_ctx_train(const cove_model *model); /* 0 for a vocab-only model */
int32_t cove_model_n_embd(const cove_model *model);      /* 0 for a vocab-only model */
int32_t cove_model_n_layer(const cove_model *model);     /* 0 for a vocab-only model */
int32_t cove_model_n_head(const cove_model *model);      /* 0 for a vocab-only model */
int32_t cove_model_n_head_kv(const cove_model *model);   /* 0 for a vocab-only model */
/* Number of weight elements in all tensors (0 for a vocab-only model). */
uint64_t cove_model_n_params(const cove_model *model);
/* Bytes of weights one decoded token reads: every matrix once (the token embedding table
 * only when it is also the output projection, as tied models have it). 0: vocab-only. */
uint64_t cove_model_weight_bytes(const cove_model *model);

/* Special token ids; -1 when the vocabulary has none. */
int32_t cove_model_token_bos(const cove_model *model);
int32_t cove_model_token_eos(const cove_model *model);
int32_t cove_model_token_unk(const cove_model *model);
int32_t cove_model_token_pad(const cove_model *model);
/* 1 when generation should stop after `token` (end of generation: EOS and kin). */
int cove_token_is_eog(const cove_model *model, int32_t token);

/* =============================== context =============================== */

typedef struct cove_context cove_context;

enum cove_kv_type {
    COVE_KV_F16 = 0, /* half the memory; the default */
    COVE_KV_F32 = 1, /* exact; for tests and references */
    COVE_KV_Q8_0 = 2 /* about a quarter of F32 (34 bytes per 32 values); needs a head size
                        that is a multiple of 32. Logits stay within about 1e-2 of F16's */
};

typedef struct cove_context_params {
    int32_t n_ctx;         /* tokens the KV cache holds for each sequence; 0: the model's
                              training context, capped at COVE_CTX_DEFAULT_MAX. Default 0 */
    int32_t n_ubatch;      /* tokens one forward step processes at once (sizes the
                              scratch buffers; decode splits larger batches). Default 512 */
    int32_t n_outputs_max; /* most tokens of one decode call that may ask for logits
                              (sizes the logits buffer). Default 8 */
    int32_t n_threads;     /* threads of a forward step, the caller included; 0: one per
                              usable core. Default 0 */
    enum cove_kv_type kv_type; /* element type of the KV cache. Default COVE_KV_F16 */
    int32_t n_seq_max;     /* sequences the context holds at once, ids 0 .. n_seq_max - 1,
                              each with its own n_ctx positions of cache. Default 1 */
} cove_context_params;

#define COVE_CTX_DEFAULT_MAX 4096

cove_context_params cove_context_default_params(void);

/*
 * Create an inference context on `model` (borrowed: it must outlive the context). Allocates
 * the KV cache for n_seq_max sequences of params.n_ctx tokens and every scratch buffer
 * decoding needs, and starts n_threads - 1 worker threads. Fails with COVE_ERR_INVALID_ARG
 * (bad params, vocab-only model), COVE_ERR_UNSUPPORTED (an encoder model; a Q8_0 cache with
 * a head size not a multiple of 32), COVE_ERR_LIMIT (n_ctx, n_seq_max, n_threads or the
 * KV cache's bytes beyond limits.h), COVE_ERR_NOMEM. *out is NULL on failure.
 */
cove_status cove_context_create(const cove_model *model, cove_context_params params,
                                cove_context **out, cove_error *err);

/* Release the context and its buffers. NULL is a no-op. */
void cove_context_free(cove_context *ctx);

const cove_model *cove_context_model(const cove_context *ctx); /* borrowed */
/* Positions the cache holds for each sequence. */
int32_t cove_context_n_ctx(const cove_context *ctx);
int32_t cove_context_n_seq_max(const cove_context *ctx);
int32_t cove_context_n_threads(const cove_context *ctx);
/* Number of positions of sequence `seq_id` held in the KV cache (the next position); 0 for
 * an id outside [0, n_seq_max). */
int32_t cove_context_n_past(const cove_context *ctx, int32_t seq_id);

/*
 * Forget the cached positions >= p0 of sequence `seq_id` (p0 <= 0 clears it), so that
 * decoding can go back and take another path. Other sequences are untouched. The logits of
 * the last decode are dropped. Returns COVE_ERR_INVALID_ARG for a seq_id outside
 * [0, n_seq_max).
 */
cove_status cove_context_seq_truncate(cove_context *ctx, int32_t seq_id, int32_t p0);

/* Forget every position of sequence `seq_id` (cove_context_seq_truncate with p0 = 0). */
cove_status cove_context_seq_clear(cove_context *ctx, int32_t seq_id);

/*
 * Make sequence `dst` hold the first n cached positions of sequence `src` (their keys and
 * values, in every layer); whatever dst held is forgotten. n is capped at src's n_past.
 * src == dst cuts the sequence to n. The logits of the last decode are dropped. Returns
 * COVE_ERR_INVALID_ARG for a sequence id outside [0, n_seq_max) or n < 0.
 */
cove_status cove_context_seq_copy(cove_context *ctx, int32_t src, int32_t dst, int32_t n);

/* The older name of cove_context_seq_truncate. */
cove_status cove_context_kv_truncate(cove_context *ctx, int32_t seq_id, int32_t p0);

/*
 * A batch of tokens to decode. All arrays are borrowed for the call and have n entries.
 *   tokens       token ids, each in [0, n_vocab)
 *   pos          position of each token; NULL: each sequence's tokens consecutive from its
 *                n_past. Positions of one sequence must be consecutive and start at its
 *                n_past (use cove_context_seq_truncate to go back).
 *   seq_id       sequence of each token, in [0, n_seq_max); NULL: sequence 0. The tokens of
 *                several sequences may be mixed in any order; each token attends only to
 *                the cached positions of its own sequence.
 *   want_logits  non-zero where the logits of that token are wanted; NULL: only the last
 *                token's. At most n_outputs_max tokens may ask.
 */
typedef struct cove_batch {
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq_id;
    int32_t n;
    const int8_t *want_logits;
} cove_batch;

/*
 * Run the model on `batch`: appends its keys and values to the KV cache and computes the
 * logits that were asked for, readable with cove_context_logits until the next decode.
 * Fails, leaving the cache as it was, with COVE_ERR_LIMIT when the tokens of a sequence do
 * not fit in its n_ctx positions ("prompt is too long ..."; nothing is silently dropped) or
 * more than n_outputs_max logits are asked for, COVE_ERR_INVALID_ARG for a bad token id,
 * position, sequence id or an empty batch.
 */
cove_status cove_decode(cove_context *ctx, const cove_batch *batch, cove_error *err);

/*
 * Logits (n_vocab floats) of token `i` of the last decoded batch; i = -1: of the last token
 * that asked for logits. Borrowed from the context, valid until the next decode or free.
 * NULL when that token did not ask for logits or i is out of range.
 */
const float *cove_context_logits(const cove_context *ctx, int32_t i);

/* ============================== tokenizer ============================== */

/* Longest text of one token, in bytes (larger vocabularies are refused at load). */
#define COVE_TOKEN_PIECE_MAX 1024

/*
 * Split `len` bytes of UTF-8 `text` into tokens of the model's vocabulary.
 *   add_special    add the BOS/EOS tokens the vocabulary asks for (tokenizer.ggml.add_bos_token,
 *                  add_eos_token; BOS by default for SentencePiece vocabularies)
 *   parse_special  1: the text of control tokens ("<s>", "<|im_start|>") becomes those
 *                  tokens; 0: such text is tokenized as plain text. User-defined tokens of
 *                  the vocabulary are matched either way.
 * SentencePiece vocabularies (llama): a space is put before the text and after every
 * special token matched in it, and spaces become U+2581, as the SentencePiece models of
 * llama do; cove_token_to_piece maps U+2581 back to spaces, so decoding yields the text with
 * one extra leading space (see COVE_DETOK_STRIP_SPACE). Empty text yields no tokens (or only
 * BOS/EOS).
 * Writes at most n_max ids to tokens_out and the count to *n_out. When n_max is too small,
 * returns COVE_ERR_LIMIT with *n_out set to the count needed. Other failures:
 * COVE_ERR_LIMIT (text longer than COVE_MAX_TOKENIZE_BYTES), COVE_ERR_NOMEM.
 */
cove_status cove_tokenize(const cove_model *model, const char *text, size_t len, int add_special,
                          int parse_special, int32_t *tokens_out, int32_t n_max, int32_t *n_out,
                          cove_error *err);

/*
 * The text `token` stands for, as bytes (not NUL-terminated) in buf[0..*len). Byte tokens
 * (<0x0A>) give their byte, U+2581 gives a space, control tokens (BOS, EOS) give nothing.
 * A piece may be part of a UTF-8 sequence: use a cove_detok to stream text. Returns
 * COVE_ERR_INVALID_ARG for a token outside the vocabulary, COVE_ERR_LIMIT when n is too
 * small (*len is then the size needed). COVE_TOKEN_PIECE_MAX bytes always suffice.
 */
cove_status cove_token_to_piece(const cove_model *model, int32_t token, char *buf, size_t n,
                                size_t *len);

/* The token's text as stored in the vocabulary ("▁the", "<0x0A>", "<s>"), NUL-terminated;
 * borrowed, valid until cove_model_free. NULL for a token outside the vocabulary. */
const char *cove_token_text(const cove_model *model, int32_t token);

/* Score of the token in the vocabulary (SentencePiece log-probability), 0 when none. */
float cove_token_score(const cove_model *model, int32_t token);

/* Token attributes, as the GGUF tokenizer.ggml.token_type numbers them. */
enum cove_token_type {
    COVE_TOKEN_UNDEFINED = 0,
    COVE_TOKEN_NORMAL = 1,
    COVE_TOKEN_UNKNOWN = 2,
    COVE_TOKEN_CONTROL = 3,
    COVE_TOKEN_USER_DEFINED = 4,
    COVE_TOKEN_UNUSED = 5,
    COVE_TOKEN_BYTE = 6
};

/* Type of the token; COVE_TOKEN_UNDEFINED for a token outside the vocabulary. */
enum cove_token_type cove_token_type_of(const cove_model *model, int32_t token);

/* ---- streaming detokenizer ---- */

typedef struct cove_detok cove_detok;

enum cove_detok_flags {
    COVE_DETOK_STRIP_SPACE = 1, /* drop the space the tokenizer put before the text (from the
                                   first piece, SentencePiece vocabularies only) */
    COVE_DETOK_SPECIAL = 2      /* render control tokens as their text ("</s>") */
};

/* Bytes of output buffer that always suffice for cove_detok_push and cove_detok_flush. */
#define COVE_DETOK_BUF_MIN (COVE_TOKEN_PIECE_MAX + 8)

/* Create a detokenizer for `model` (borrowed). flags: cove_detok_flags or-ed. */
cove_status cove_detok_create(const cove_model *model, unsigned flags, cove_detok **out);
void cove_detok_free(cove_detok *d);

/*
 * Add `token`; write to buf[0..*len) the text that is now complete: everything but a UTF-8
 * sequence still open at the end, which is held until the tokens that finish it arrive.
 * Bytes that can never form valid UTF-8 are passed through as they are. Returns
 * COVE_ERR_INVALID_ARG for a bad token, COVE_ERR_LIMIT when n < COVE_DETOK_BUF_MIN (the
 * state is then unchanged).
 */
cove_status cove_detok_push(cove_detok *d, int32_t token, char *buf, size_t n, size_t *len);

/* Write out whatever is held back (an unfinished sequence at the end of the text). */
cove_status cove_detok_flush(cove_detok *d, char *buf, size_t n, size_t *len);

/* Forget held bytes and start again as for a new text. */
void cove_detok_reset(cove_detok *d);

/* =============================== sampler =============================== */

typedef struct cove_sampler cove_sampler;

/*
 * The stages run in this order on the logits: repetition penalty, top-k, top-p, min-p,
 * temperature, then a draw from the softmax. temp <= 0 is greedy: the highest logit after
 * the penalty, ties broken by the lowest id. A stage with its neutral value is skipped.
 */
typedef struct cove_sampler_params {
    float temp;           /* temperature; <= 0: greedy. Default 0.8 */
    int32_t top_k;        /* keep the k most likely; <= 0: off. Default 40 */
    float top_p;          /* keep the smallest set with probability >= p; >= 1: off. Default 0.95 */
    float min_p;          /* drop tokens below min_p * p(best); <= 0: off. Default 0.05 */
    float repeat_penalty; /* divide positive (multiply negative) logits of recent tokens;
                             1: off. Default 1.0 */
    int32_t repeat_last_n; /* how many recent tokens the penalty looks at. Default 64 */
    uint64_t seed;        /* RNG seed; the same seed gives the same draws. Default 0x5eed */
} cove_sampler_params;

cove_sampler_params cove_sampler_default_params(void);

/*
 * Create a sampler for logits of n_vocab entries; allocates its candidate buffer and
 * penalty history here so that sampling never allocates. Fails with COVE_ERR_INVALID_ARG
 * (n_vocab <= 0, negative top_k, repeat_last_n out of range, NaN parameters),
 * COVE_ERR_NOMEM.
 */
cove_status cove_sampler_create(cove_sampler_params params, int32_t n_vocab, cove_sampler **out,
                                cove_error *err);
void cove_sampler_free(cove_sampler *s);

/*
 * Pick a token from `logits` (n_vocab floats, borrowed, not modified) into *token. Does not
 * record the token: call cove_sampler_accept for that. Returns COVE_ERR_INVALID_ARG when
 * logits is NULL.
 */
cove_status cove_sampler_sample(cove_sampler *s, const float *logits, int32_t *token);

/* Record `token` as generated (or as part of the prompt) for the repetition penalty. */
void cove_sampler_accept(cove_sampler *s, int32_t token);

/* Clear the penalty history and re-seed the RNG with params.seed. */
void cove_sampler_reset(cove_sampler *s);

/* ============================= embeddings ============================== */
/*
 * Sentence embeddings from encoder models (architecture "bert": all-MiniLM, bge, e5 ...).
 * Such a model is loaded with cove_model_load like any other but gets no cove_context
 * (cove_context_create refuses it); it gets a cove_embedder instead:
 *
 *     cove_model_load(path, cove_model_default_params(), &model, &err);
 *     cove_embedder_create(model, cove_embed_default_params(), &emb, &err);
 *     float vecs[3 * 384];                       // n_texts * cove_embedder_n_embd(emb)
 *     const char *texts[3] = {"a cat", "a dog", "revenue"};
 *     cove_embed(emb, texts, 3, vecs, &err);     // one vector per text, row after row
 *
 * Each text is tokenized with [CLS] before and [SEP] after it; text that looks like a
 * control token ("[SEP]") is read as plain text. The texts of one call are packed into
 * passes of up to n_batch tokens; attention stays inside each text, so a text's vector
 * does not depend on the texts beside it (beyond float rounding). The pooled vector (mean
 * over the text's tokens, [CLS] and [SEP] included; or the [CLS] token's; or the last
 * token's) is then L2-normalised, as sentence-transformers does for models whose
 * pipeline ends in Normalize.
 */

typedef struct cove_embedder cove_embedder;

/* How a text's token vectors become one vector; numbered as GGUF <arch>.pooling_type. */
enum cove_embed_pooling {
    COVE_EMBED_POOLING_MODEL = -1, /* as the model file says (bert.pooling_type) */
    COVE_EMBED_POOLING_NONE = 0,   /* no pooling: not valid for cove_embed */
    COVE_EMBED_POOLING_MEAN = 1,   /* mean of every token's vector */
    COVE_EMBED_POOLING_CLS = 2,    /* the first token's ([CLS]) */
    COVE_EMBED_POOLING_LAST = 3    /* the last token's */
};

enum cove_embed_norm {
    COVE_EMBED_NORM_MODEL = 0, /* as the model file says (cove.embedding.normalize; L2 when
                                  the file does not say) */
    COVE_EMBED_NORM_NONE = 1,  /* the pooled vector as it is */
    COVE_EMBED_NORM_L2 = 2     /* divided by its Euclidean length (unit vectors) */
};

typedef struct cove_embed_params {
    enum cove_embed_pooling pooling; /* default COVE_EMBED_POOLING_MODEL; a model whose file
                                        names no pooling needs one set here */
    enum cove_embed_norm normalize;  /* default COVE_EMBED_NORM_MODEL */
    int32_t max_tokens; /* most tokens of one text, [CLS] and [SEP] included; 0: the length
                           the model was trained for (cove.embedding.max_seq_length, e.g.
                           256 for all-MiniLM-L6-v2; else its context length). At most the
                           context length. Default 0 */
    int truncate;       /* 0 (default): a text of more than max_tokens tokens is an error
                           (COVE_ERR_LIMIT, "text N is too long ..."). 1: such a text is cut
                           to its first max_tokens - 1 tokens and [SEP], as Hugging Face
                           tokenizers truncate; the rest of the text is not embedded */
    int32_t n_batch;    /* most tokens of one pass, all its texts together (sizes the
                           scratch buffers); 0: max(512, max_tokens). Must be >= max_tokens.
                           Default 0 */
    int32_t n_threads;  /* threads of a pass, the caller included; 0: one per usable
                           core. Default 0 */
} cove_embed_params;

cove_embed_params cove_embed_default_params(void);

/*
 * Create an embedder on `model` (borrowed: it must outlive the embedder). Allocates every
 * buffer a pass needs and starts n_threads - 1 worker threads. Fails with
 * COVE_ERR_UNSUPPORTED (not an encoder model; vocab-only model), COVE_ERR_INVALID_ARG (bad
 * params; no pooling given for a model that names none), COVE_ERR_LIMIT (max_tokens beyond
 * the model's context, n_threads beyond limits.h), COVE_ERR_NOMEM. *out is NULL on failure.
 * Use an embedder from one thread at a time.
 */
cove_status cove_embedder_create(const cove_model *model, cove_embed_params params,
                                 cove_embedder **out, cove_error *err);

/* Stop its threads and release it. NULL is a no-op. */
void cove_embedder_free(cove_embedder *e);

int32_t cove_embedder_n_embd(const cove_embedder *e);     /* floats per vector */
int32_t cove_embedder_max_tokens(const cove_embedder *e); /* resolved max_tokens */
enum cove_embed_pooling cove_embedder_pooling(const cove_embedder *e); /* resolved */
int cove_embedder_normalizes(const cove_embedder *e);     /* 1 when vectors are L2-normalised */

/*
 * Embed n_texts NUL-terminated UTF-8 texts (borrowed for the call) into out, which holds
 * n_texts * cove_embedder_n_embd(e) floats: the vector of texts[i] is out[i * n_embd ...].
 * Returns COVE_ERR_INVALID_ARG (NULL pointers, n_texts < 0), COVE_ERR_LIMIT (a text longer
 * than max_tokens without truncate - the message names the text and its token count; a
 * text beyond COVE_MAX_TOKENIZE_BYTES), COVE_ERR_NOMEM (tokenizing). On failure the
 * contents of out are unspecified. n_texts == 0 does nothing.
 */
cove_status cove_embed(cove_embedder *e, const char *const *texts, int32_t n_texts, float *out,
                       cove_error *err);

/*
 * As cove_embed, for sequences already tokenized (with [CLS]/[SEP] as the caller wants
 * them): sequence i is tokens[i][0 .. n_tokens[i]). Each must have 1 .. max_tokens ids of
 * the vocabulary (COVE_ERR_INVALID_ARG otherwise; COVE_ERR_LIMIT for too many, whatever
 * truncate says). Never allocates.
 */
cove_status cove_embed_tokens(cove_embedder *e, const int32_t *const *tokens,
                              const int32_t *n_tokens, int32_t n_seqs, float *out,
                              cove_error *err);

/*
 * One-shot: create an embedder with `params`, embed the texts as cove_embed does, free it.
 * For a few calls; a program that embeds often keeps an embedder (its threads and buffers).
 * Errors of cove_embedder_create and cove_embed.
 */
cove_status cove_model_embed(const cove_model *model, cove_embed_params params,
                             const char *const *texts, int32_t n_texts, float *out,
                             cove_error *err);

/* ========================== end of embeddings ========================== */

#ifdef __cplusplus
}
#endif
#endif /* COVE_ENGINE_H */
