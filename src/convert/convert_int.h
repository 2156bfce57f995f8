/*
 * convert/convert_int.h - the converter's insides: the safetensors reader, the typed
 * configuration, the vocabulary, the architecture table and the streaming GGUF output.
 *
 * The flow of cove_convert_hf (convert.c):
 *   1. hfconfig.c reads config.json (and the sentence-transformers files) into a
 *      cove_convert_cfg: JSON stays at this edge.
 *   2. hftokenizer.c (+ hfvocab.c, pretok.c) turns tokenizer.json / vocab.txt and the
 *      special-token files into a cove_convert_vocab.
 *   3. safetensors.c maps the weights; arch_map.c names every tensor in GGUF terms and
 *      says how its data is transformed (Q/K permutation, +1 on Gemma norms).
 *   4. gguf_out.c writes the header, then tensor.c streams each tensor's data through
 *      f32 into its output type, a chunk of rows at a time.
 */
#ifndef COVE_CONVERT_INT_H
#define COVE_CONVERT_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/limits.h"
#include "convert/convert.h"
#include "engine/gguf/gguf.h"

/* ============================== safetensors ============================== */

/* Element types of the safetensors format. */
enum cove_convert_dtype {
    COVE_ST_BOOL, COVE_ST_U8, COVE_ST_I8, COVE_ST_F8_E4M3, COVE_ST_F8_E5M2,
    COVE_ST_I16, COVE_ST_U16, COVE_ST_F16, COVE_ST_BF16,
    COVE_ST_I32, COVE_ST_U32, COVE_ST_F32,
    COVE_ST_I64, COVE_ST_U64, COVE_ST_F64,
    COVE_ST_DTYPE_COUNT
};

/* Name as the format spells it ("F32"). */
const char *cove_convert_dtype_name(enum cove_convert_dtype d);

typedef struct cove_convert_st_tensor {
    const char *name;               /* NUL-terminated, owned by the set */
    enum cove_convert_dtype dtype;
    uint32_t n_dims;                /* 0..COVE_GGUF_MAX_DIMS */
    uint64_t shape[COVE_GGUF_MAX_DIMS]; /* as in the file: shape[0] outermost */
    uint64_t n_elems;
    const void *data;               /* into the mapping; n_bytes long */
    uint64_t n_bytes;
    uint32_t file;                  /* index of the file it came from */
} cove_convert_st_tensor;

/* A set of safetensors files (one checkpoint, maybe sharded), mapped read-only. */
typedef struct cove_convert_st cove_convert_st;

cove_status cove_convert_st_create(cove_convert_st **out);
void cove_convert_st_free(cove_convert_st *st); /* NULL is a no-op */

/*
 * Map the file at `path` and add its tensors. Every header field is checked: the header
 * length against the file, the JSON, each dtype, shape and data_offsets against the data
 * section, no two tensors overlapping, no name twice in the set. Errors name the file.
 */
cove_status cove_convert_st_add_file(cove_convert_st *st, const char *path, cove_error *err);

/* As add_file over `size` bytes at `data` (borrowed; must outlive the set). `label`
 * names it in messages. For tests and fuzzing. */
cove_status cove_convert_st_add_memory(cove_convert_st *st, const void *data, size_t size,
                                       const char *label, cove_error *err);

/*
 * Open the checkpoint of a model directory: model.safetensors.index.json and the shards
 * its weight_map names (each shard checked to hold exactly the tensors the map gives it),
 * else model.safetensors. COVE_ERR_NOT_FOUND when neither exists.
 */
cove_status cove_convert_st_open_dir(const char *dir, cove_convert_st **out, cove_error *err);

size_t cove_convert_st_count(const cove_convert_st *st);
/* Tensor i in name order; NULL when out of range. */
const cove_convert_st_tensor *cove_convert_st_at(const cove_convert_st *st, size_t i);
/* Tensor by name; NULL when absent. */
const cove_convert_st_tensor *cove_convert_st_find(const cove_convert_st *st, const char *name);
/* Path (or label) of file i of the set, for messages. */
const char *cove_convert_st_file(const cove_convert_st *st, uint32_t i);

/* ============================== JSON at the edge ============================== */

/*
 * Read the JSON file `path` (at most COVE_HF_MAX_JSON bytes, duplicate keys rejected).
 * *out is a new reference (json_decref it). COVE_ERR_NOT_FOUND when the file is absent
 * (and `optional`: *out NULL and COVE_OK).
 */
cove_status cove_convert_json_load(const char *path, int optional, json_t **out,
                                   cove_error *err);

/* Read a whole file of at most `max` bytes into *out (NUL-terminated, cove_free it). */
cove_status cove_convert_read_file(const char *path, size_t max, char **out, size_t *len,
                                   cove_error *err);

/* dir + "/" + name into buf (COVE_MAX_PATH); COVE_ERR_LIMIT when it does not fit. */
cove_status cove_convert_path(char *buf, const char *dir, const char *name, cove_error *err);

/* 1 when `path` names an existing regular file. */
int cove_convert_file_exists(const char *path);

/* ============================== configuration ============================== */

enum cove_convert_arch {
    COVE_ARCH_LLAMA,
    COVE_ARCH_QWEN2,
    COVE_ARCH_QWEN3,
    COVE_ARCH_GEMMA3,
    COVE_ARCH_BERT,
    COVE_ARCH_COUNT
};

enum cove_convert_rope_scaling {
    COVE_ROPE_SCALING_NONE,
    COVE_ROPE_SCALING_LINEAR,
    COVE_ROPE_SCALING_YARN,
    COVE_ROPE_SCALING_LLAMA3 /* written as the rope_freqs.weight tensor */
};

/* llama.cpp's pooling numbering, as <arch>.pooling_type holds it. */
enum cove_convert_pooling {
    COVE_POOLING_NONE = 0,
    COVE_POOLING_MEAN = 1,
    COVE_POOLING_CLS = 2,
    COVE_POOLING_LAST = 3
};

/* What config.json (and the sentence-transformers files) say, typed and checked. */
typedef struct cove_convert_cfg {
    enum cove_convert_arch arch;
    int64_t n_vocab;      /* vocab_size */
    int64_t n_ctx;        /* max_position_embeddings */
    int64_t n_embd;       /* hidden_size */
    int64_t n_layer;      /* num_hidden_layers */
    int64_t n_ff;         /* intermediate_size */
    int64_t n_head;       /* num_attention_heads */
    int64_t n_head_kv;    /* num_key_value_heads (n_head when absent) */
    int64_t head_dim;     /* head_dim, else n_embd / n_head */
    int head_dim_given;   /* 1 when config.json has head_dim */
    double norm_eps;      /* rms_norm_eps, or layer_norm_eps for bert */
    double rope_theta;    /* rope_theta (10000 when absent) */
    int64_t sliding_window; /* gemma3: sliding_window; 0 when absent */
    int tie_embeddings;   /* tie_word_embeddings */
    int64_t n_token_types;  /* bert: type_vocab_size */
    enum cove_convert_rope_scaling rope_scaling;
    double rope_factor;     /* rope_scaling.factor */
    double rope_low_freq, rope_high_freq; /* llama3: low_freq_factor, high_freq_factor */
    int64_t rope_orig_ctx;  /* original_max_position_embeddings; 0 when absent */
    int64_t bos_id, eos_id, pad_id; /* config.json's ids; -1 when absent */
    /* sentence-transformers (bert) */
    enum cove_convert_pooling pooling; /* from 1_Pooling/config.json; MEAN... */
    int has_pooling;
    int normalize;          /* modules.json has a Normalize module */
    int64_t max_seq_len;    /* sentence_bert_config.json max_seq_length; 0 when absent */
} cove_convert_cfg;

/* GGUF name of an architecture ("llama"). */
const char *cove_convert_arch_name(enum cove_convert_arch a);

/* Read DIR/config.json and the sentence-transformers files of DIR into *cfg. */
cove_status cove_convert_cfg_load(const char *dir, cove_convert_cfg *cfg, cove_error *err);

/* ============================== vocabulary ============================== */

/* A vocabulary ready for the tokenizer.* keys. Strings live in `arena`. */
typedef struct cove_convert_vocab {
    cove_arena *arena;      /* owned */
    char model[16];         /* "gpt2", "llama", "bert" */
    char pre[64];           /* tokenizer.ggml.pre */
    uint32_t n;             /* tokens */
    const char **tokens;    /* [n] */
    int32_t *types;         /* [n] enum cove_token_type numbering */
    float *scores;          /* [n] or NULL */
    uint32_t n_merges;
    const char **merges;    /* [n_merges] "a b" */
    int64_t bos, eos, unk, sep, pad, cls, mask, eot; /* -1: none */
    int add_bos, add_eos, add_space_prefix; /* -1: not written */
    const char *chat_template; /* NULL: none */
} cove_convert_vocab;

/*
 * Build the vocabulary of DIR: tokenizer.json (BPE: "gpt2" byte-level or "llama"
 * SentencePiece-style; WordPiece: "bert"), else vocab.txt ("bert"); then the special
 * tokens (tokenizer_config.json, special_tokens_map.json, config.json ids from cfg) and
 * the chat template. The token list is padded with "[PADn]" (type unused) up to
 * cfg->n_vocab. `pre` (may be NULL) overrides the detected pre-tokenizer name.
 * Release with cove_convert_vocab_release.
 */
cove_status cove_convert_vocab_load(const char *dir, const cove_convert_cfg *cfg,
                                    const char *pre, cove_convert_vocab *v, cove_error *err);
void cove_convert_vocab_release(cove_convert_vocab *v);

/* Add the tokenizer.* keys of v to w. */
cove_status cove_convert_vocab_write(const cove_convert_vocab *v, cove_gguf_writer *w,
                                     cove_error *err);

/* --- pieces of the vocabulary code shared between its files --- */

/* Allocate from v->arena; NULL on failure (LIMIT or NOMEM). */
void *cove_convert_vocab_alloc(cove_convert_vocab *v, size_t size);
/* Copy s[0..len) into v->arena, NUL-terminated; NULL on failure. */
const char *cove_convert_vocab_strdup(cove_convert_vocab *v, const char *s, size_t len);
/* Make room for n tokens (tokens, types NORMAL, scores when `with_scores`). */
cove_status cove_convert_vocab_alloc_tokens(cove_convert_vocab *v, uint32_t n, int with_scores,
                                            cove_error *err);

/* A text -> id index over the tokens of a vocabulary (the first id wins a duplicate). */
struct cove_convert_tokmap {
    int32_t *slot; /* -1: empty */
    uint64_t mask;
};
cove_status cove_convert_tokmap_build(struct cove_convert_tokmap *m, const cove_convert_vocab *v,
                                      cove_error *err);
/* Id of the token whose text is s, or -1. */
int64_t cove_convert_tokmap_find(const struct cove_convert_tokmap *m, const cove_convert_vocab *v,
                                 const char *s);
void cove_convert_tokmap_release(struct cove_convert_tokmap *m);

/* tokenizer.json into v (model, tokens, types, scores, merges, pre-tokenizer shape). */
cove_status cove_convert_tokjson_load(const json_t *root, const char *path,
                                      cove_convert_vocab *v, cove_error *err);
/* vocab.txt (WordPiece) into v. */
cove_status cove_convert_vocabtxt_load(const char *path, cove_convert_vocab *v,
                                       cove_error *err);

/* 64-bit FNV-1a over every token text followed by a NUL byte, in id order. */
uint64_t cove_convert_vocab_fingerprint(const char *const *tokens, uint32_t n);
/* tokenizer.ggml.pre of a known vocabulary by fingerprint and size, or NULL. */
const char *cove_convert_known_pre(uint64_t fingerprint, uint32_t n);
/*
 * tokenizer.ggml.pre for a byte-level BPE tokenizer.json from the shape of its
 * pre_tokenizer (and normalizer), or NULL when the shape is not one cove knows.
 */
const char *cove_convert_pre_from_shape(const json_t *pre_tokenizer, const json_t *normalizer);

/* ============================== tensors ============================== */

/* How a tensor's data is transformed on the way out. */
enum cove_convert_xform {
    COVE_XFORM_NONE = 0,
    COVE_XFORM_PERMUTE_Q = 1, /* llama: rows of each of n_head heads from halves to pairs */
    COVE_XFORM_PERMUTE_K = 2, /* the same over n_head_kv heads */
    COVE_XFORM_PLUS_ONE = 4   /* gemma: w + 1 (RMSNorm weights) */
};

/* How an output tensor's type is chosen. */
enum cove_convert_role {
    COVE_ROLE_WEIGHT,   /* a 2-D matrix: the requested type */
    COVE_ROLE_TABLE,    /* position / token-type tables: a float type, never quantized */
    COVE_ROLE_VECTOR    /* norms, biases, rope factors: F32 */
};

/* Where the tensor's data comes from: a mapped source, or generated floats. */
typedef struct cove_convert_src {
    const void *data;            /* source elements, row-major (ne[0] contiguous) */
    enum cove_ggml_type type;    /* F32, F16, BF16 or any type with a dequantizer */
} cove_convert_src;

/* One output tensor. */
typedef struct cove_convert_job {
    char name[COVE_GGUF_MAX_NAME + 1];
    enum cove_ggml_type type;    /* output type */
    uint32_t n_dims;
    uint64_t ne[COVE_GGUF_MAX_DIMS]; /* GGUF order: ne[0] is the row length */
    uint64_t n_bytes;            /* output bytes */
    cove_convert_src src;
    unsigned xform;              /* enum cove_convert_xform bits */
    int64_t n_heads;             /* heads for a permutation */
} cove_convert_job;

/* Number of rows of a job (all dimensions past the first). */
uint64_t cove_convert_job_rows(const cove_convert_job *j);

/*
 * The output type of a tensor of `role` with rows of ne0 elements when `want` is
 * requested; *fallback = 1 when a quantized `want` was replaced by F16 because ne0 is not
 * a multiple of its block size.
 */
enum cove_ggml_type cove_convert_pick_type(enum cove_convert_role role, uint64_t ne0,
                                           enum cove_ggml_type want, int *fallback);

/* ---- the architecture table (arch_map.c) ---- */

/* What to do with a source tensor. */
typedef struct cove_convert_map {
    int skip;                       /* 1: not written (rotary caches, pooler, ...) */
    char name[COVE_GGUF_MAX_NAME + 1]; /* GGUF name */
    enum cove_convert_role role;
    unsigned xform;
} cove_convert_map;

/*
 * Map the Hugging Face tensor `hf_name` of a model of `cfg` to its GGUF name, role and
 * transformation. COVE_ERR_UNSUPPORTED (with the name) for a tensor the table does not
 * know; COVE_ERR_FORMAT for a layer number outside the configuration.
 */
cove_status cove_convert_map_tensor(const cove_convert_cfg *cfg, const char *hf_name,
                                    cove_convert_map *out, cove_error *err);

/* Add the <arch>.* hyper-parameter keys of cfg to w (n_vocab: tokens written). */
cove_status cove_convert_arch_write_meta(const cove_convert_cfg *cfg, uint32_t n_vocab,
                                         cove_gguf_writer *w, cove_error *err);

/* The llama3 rope factors (head_dim / 2 floats) into out. */
void cove_convert_llama3_rope_factors(const cove_convert_cfg *cfg, float *out);

/* ---- streaming GGUF output (gguf_out.c) ---- */

typedef struct cove_convert_out cove_convert_out;

/*
 * Create the temporary file beside `path` and write the header: the metadata of `meta`
 * (which must hold no tensors and no general.alignment: the writer adds general.alignment
 * = COVE_CONVERT_ALIGNMENT, the alignment used here) and the tensor table of
 * jobs[0..n) (offsets assigned here). Then write each tensor's data, in order, with
 * cove_convert_out_data, and finish. On failure nothing is left behind.
 */
cove_status cove_convert_out_open(const char *path, cove_gguf_writer *meta,
                                  const cove_convert_job *jobs, size_t n,
                                  cove_convert_out **out, cove_error *err);

/* Append bytes of the current tensor (a tensor may come in several pieces). */
cove_status cove_convert_out_data(cove_convert_out *o, const void *data, size_t n,
                                  cove_error *err);

/* Close the current tensor: checks its byte count and pads to the alignment. */
cove_status cove_convert_out_end_tensor(cove_convert_out *o, cove_error *err);

/* Flush, fsync and rename into place; frees o. *bytes (may be NULL): the file size. */
cove_status cove_convert_out_finish(cove_convert_out *o, uint64_t *bytes, cove_error *err);

/* Remove the temporary file and free o. NULL is a no-op. */
void cove_convert_out_abort(cove_convert_out *o);

/*
 * Copy every metadata key of g into w, except the keys in `skip` (a NULL-terminated list;
 * may be NULL). Values are copied exactly, nested arrays included.
 */
cove_status cove_convert_copy_meta(const cove_gguf *g, cove_gguf_writer *w,
                                   const char *const *skip, cove_error *err);

/* ---- writing tensor data (tensor.c) ---- */

/*
 * Write the data of `job` to o: source rows through f32 (permuted, +1 as asked) into the
 * output type, a few megabytes at a time. A tensor whose source type equals its output
 * type and needs no transformation is copied byte for byte. `progress` may be NULL.
 */
cove_status cove_convert_write_job(cove_convert_out *o, const cove_convert_job *job,
                                   cove_convert_progress_fn progress, void *progress_ctx,
                                   uint64_t *done, uint64_t total, cove_error *err);

#define COVE_CONVERT_ALIGNMENT 32u /* general.alignment of files written here */

#endif
