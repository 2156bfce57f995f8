/*
 * tests/convert/fixture.h - small Hugging Face model directories built by the tests:
 * safetensors files with random weights, config.json, tokenizer.json, vocab.txt.
 *
 * Nothing here is copied from a model: the shapes are tiny and the values random (a
 * fixed seed, so a failing case fails the same way every time).
 */
#ifndef COVE_TEST_CONVERT_FIXTURE_H
#define COVE_TEST_CONVERT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#define FX_MAX_TENSORS 256

/* One tensor: its values as f32 (already rounded to the dtype) and its bytes. */
typedef struct fx_tensor {
    char name[160];
    const char *dtype; /* "F32", "F16", "BF16", "I64" */
    int n_dims;
    uint64_t shape[4];
    uint64_t n;        /* elements */
    float *vals;       /* [n] */
    uint8_t *bytes;    /* [n * dtype size] */
    size_t n_bytes;
} fx_tensor;

typedef struct fx_st {
    fx_tensor t[FX_MAX_TENSORS];
    int n;
    uint64_t rng;
} fx_st;

void fx_init(fx_st *s, uint64_t seed);
void fx_free(fx_st *s);

/* Add a tensor of random values in [-scale, scale] (+ `offset`), stored as `dtype`. */
fx_tensor *fx_add(fx_st *s, const char *name, const char *dtype, int n_dims, const uint64_t *shape,
                  float scale, float offset);
fx_tensor *fx_find(const fx_st *s, const char *name);

/* The safetensors bytes of the tensors with index in [from, to) (malloc'd). */
uint8_t *fx_serialize(const fx_st *s, int from, int to, size_t *size);
/* Write them to dir/name; 0 on success. */
int fx_write(const fx_st *s, int from, int to, const char *dir, const char *name);

/* Write text to dir/name; 0 on success. */
int fx_write_text(const char *dir, const char *name, const char *text);

/* A model directory of an architecture. */
typedef struct fx_model {
    const char *model_type; /* "llama", "qwen2", "qwen3", "gemma3_text", "bert" */
    int n_embd, n_head, n_head_kv, n_layer, n_ff, n_ctx;
    int head_dim;           /* 0: n_embd / n_head (not written) */
    int tie;                /* decoder: no lm_head */
    int bias;               /* q/k/v biases (qwen2) */
    const char *dtype;      /* of the matrices */
    int n_shards;           /* 0 or 1: model.safetensors; more: an index and shards */
} fx_model;

/*
 * Create directory `dir` (must not exist) holding config.json, a tokenizer (tokenizer.json
 * in SentencePiece style for decoders, vocab.txt + sentence-transformers files for bert)
 * and the weights, kept in *st for comparisons. Returns the vocabulary size, or -1.
 */
int fx_make_model(const char *dir, const fx_model *m, fx_st *st);

/* A fresh directory under the test's temporary directory: "<tmp>/<name>". Static buffer. */
const char *fx_dir(const char *name);

/* ---- converting and reading back ---- */

struct cove_gguf;
struct cove_convert_report;

/*
 * Convert `dir` to "<tmp>/<name>.gguf" with the given type (vocab_only as given) and open
 * the result. NULL on failure (the message is printed). *path_out (may be NULL) receives
 * the output path (static buffer).
 */
struct cove_gguf *fx_convert(const char *dir, const char *name, int type, int vocab_only,
                             struct cove_convert_report *rep, const char **path_out);

/* Tensor `name` of g as f32 (malloc'd, *n elements); NULL when absent or not convertible. */
float *fx_tensor_f32(const struct cove_gguf *g, const char *name, uint64_t *n);

/* An unsigned / float / string metadata value (-1 / NAN / NULL when absent). */
long long fx_u(const struct cove_gguf *g, const char *key);
double fx_f(const struct cove_gguf *g, const char *key);
const char *fx_s(const struct cove_gguf *g, const char *key); /* static buffer */

/* Output row r of a Q/K permutation with heads of size hd: the source row it comes from. */
uint64_t fx_unpermute(uint64_t r, uint64_t hd);

/* Read a whole file (malloc'd); NULL when it cannot be read. */
uint8_t *fx_read_file(const char *path, size_t *n);

/* IEEE half and bfloat16 to float, written from the formats' definitions. */
float fx_half(uint16_t h);
float fx_bf16(uint16_t h);

#endif
