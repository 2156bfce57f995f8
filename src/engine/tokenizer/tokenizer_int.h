/*
 * engine/tokenizer/tokenizer_int.h - the vocabulary's insides and the tokenizer-type table.
 *
 * A tokenizer type is one cove_tok_type entry in its own file (spm.c, bpe.c, wpm.c),
 * registered in vocab.c. The vocabulary code does what every type shares: loading the
 * token arrays, the text -> id hash, splitting the text around special tokens and adding
 * BOS/EOS. The entry encodes one fragment of plain text and renders one token's text.
 */
#ifndef COVE_ENGINE_TOKENIZER_INT_H
#define COVE_ENGINE_TOKENIZER_INT_H

#include "engine/tokenizer/tokenizer.h"

/* A growable list of token ids, bounded by `max` (set by the caller). */
typedef struct cove_tokbuf {
    int32_t *ids;
    size_t n;
    size_t cap;
    size_t max;
} cove_tokbuf;

/* Append `id`; COVE_ERR_NOMEM, or COVE_ERR_LIMIT past `max`. */
cove_status cove_tokbuf_push(cove_tokbuf *b, int32_t id);

typedef struct cove_tok_type {
    const char *name; /* tokenizer.ggml.model value: "llama" */
    /* Used when the file does not say: special ids (-1 none) and flags. */
    int32_t def_bos, def_eos, def_unk;
    int def_add_bos, def_add_eos, def_add_space_prefix;
    /* Type-specific checks and tables after the common fields are loaded (may be NULL);
     * what it allocates goes in v->tt_data and is released by `release`. */
    cove_status (*init)(cove_vocab *v, const cove_gguf *g, cove_error *err);
    void (*release)(cove_vocab *v); /* may be NULL */
    /* Encode text[0..len), a fragment with no special token in it. `after_special` is 1 at
     * the start of the text and right after a special token. */
    cove_status (*encode)(const cove_vocab *v, const char *text, size_t len, int after_special,
                          cove_tokbuf *out, cove_error *err);
    /* Bytes `token` decodes to into buf (up to n; returns the full length). */
    size_t (*piece)(const cove_vocab *v, int32_t token, int special, char *buf, size_t n);
} cove_tok_type;

extern const cove_tok_type cove_tok_spm; /* spm.c: SentencePiece, "llama" */
extern const cove_tok_type cove_tok_bpe; /* bpe.c: byte-level BPE, "gpt2" */
extern const cove_tok_type cove_tok_wpm; /* wpm.c: WordPiece, "bert" */

/* ---- pre-tokenizers of byte-level BPE (bpe_pretok.c) ---- */

/* A registered pre-tokenizer: the word splitting of one model family. */
typedef struct cove_pretok cove_pretok;

/* Receives each word of a split in order; a status other than COVE_OK stops the split. */
typedef cove_status (*cove_pretok_fn)(void *ctx, const char *word, size_t len);

/* The pre-tokenizer for a tokenizer.ggml.pre value (name[0..len)), or NULL when unknown. */
const cove_pretok *cove_pretok_find(const char *name, size_t len);
/* The one used when a vocabulary names none: GPT-2's. */
const cove_pretok *cove_pretok_default(void);
/* Family name ("gpt2", "llama3", "deepseek-llm", ...); static. */
const char *cove_pretok_family(const cove_pretok *p);
/* 1 when a word that is a token as a whole is not merged (llama 3's ignore_merges). */
int cove_pretok_ignore_merges(const cove_pretok *p);
/* Split text[0..len) into words (never empty; together exactly the text) and call fn on
 * each. Returns the first status fn returns other than COVE_OK, else COVE_OK. */
cove_status cove_pretok_split(const cove_pretok *p, const char *text, size_t len,
                              cove_pretok_fn fn, void *ctx);

struct cove_vocab {
    const cove_tok_type *tt;
    void *tt_data;       /* owned by the tokenizer type (BPE merges, ...) */
    char model_name[32];
    int32_t n;           /* tokens */
    char *blob;          /* every token text, NUL-terminated, back to back */
    uint32_t *off;       /* [n] offset of the token's text in blob */
    uint32_t *len;       /* [n] its length in bytes */
    float *score;        /* [n] */
    uint8_t *type;       /* [n] enum cove_token_type */
    int32_t *hash;       /* open addressing, hash_mask + 1 slots of token ids, -1 empty */
    uint64_t hash_mask;
    int32_t *special;    /* ids matched in the text, grouped by first byte, longest first */
    int32_t n_special;
    int32_t special_at[257]; /* special[special_at[b] .. special_at[b+1]) start with byte b */
    int32_t byte_tok[256];   /* id of <0xNN>, -1 when absent */
    int32_t bos, eos, unk, pad, eot;
    int add_bos, add_eos, add_space_prefix;
};

/* Id of the token whose text is s[0..len), or -1. */
int32_t cove_vocab_find(const cove_vocab *v, const char *s, size_t len);

/* 1 for token types whose text is matched in the input before tokenizing. */
int cove_vocab_is_special_type(uint8_t type, int parse_special);

#endif
