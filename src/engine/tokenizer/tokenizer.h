/*
 * engine/tokenizer/tokenizer.h - vocabularies and tokenizers (engine-internal).
 *
 * A cove_vocab is loaded from the tokenizer.ggml.* metadata of a GGUF file and
 * serves every tokenizer type through one table (tokenizer_int.h): the type is
 * picked by tokenizer.ggml.model ("llama" SentencePiece, spm.c; "gpt2" byte-level
 * BPE, bpe.c with the pre-tokenizers of bpe_pretok.c; "bert" WordPiece, wpm.c;
 * docs/tokenizer.md). The public calls in cove/engine.h
 * (cove_tokenize, cove_token_to_piece, cove_detok_*) are thin wrappers over these.
 *
 * Ownership: the vocabulary copies every token text it keeps (NUL-terminated),
 * so it does not borrow the GGUF handle after cove_vocab_load returns.
 */
#ifndef COVE_ENGINE_TOKENIZER_H
#define COVE_ENGINE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "cove/engine.h"
#include "cove/status.h"
#include "engine/gguf/gguf.h"

typedef struct cove_vocab cove_vocab;

/*
 * Load the vocabulary of `g` (borrowed for the call). Fails with COVE_ERR_FORMAT (missing or
 * mistyped keys, arrays of different lengths), COVE_ERR_UNSUPPORTED (a tokenizer type cove
 * does not have yet), COVE_ERR_LIMIT (more than COVE_MAX_VOCAB tokens or a token longer
 * than COVE_MAX_TOKEN_BYTES), COVE_ERR_NOMEM.
 */
cove_status cove_vocab_load(const cove_gguf *g, cove_vocab **out, cove_error *err);
void cove_vocab_free(cove_vocab *v);

int32_t cove_vocab_n_tokens(const cove_vocab *v);
const char *cove_vocab_model_name(const cove_vocab *v); /* "llama", borrowed */
int32_t cove_vocab_bos(const cove_vocab *v);
int32_t cove_vocab_eos(const cove_vocab *v);
int32_t cove_vocab_unk(const cove_vocab *v);
int32_t cove_vocab_pad(const cove_vocab *v);
int cove_vocab_is_eog(const cove_vocab *v, int32_t token);
/* 1 when decoded text starts with a space the text did not have: SentencePiece's
 * add_space_prefix, and WordPiece, whose word-start pieces begin with a space. */
int cove_vocab_adds_space_prefix(const cove_vocab *v);

const char *cove_vocab_text(const cove_vocab *v, int32_t token); /* NULL when out of range */
float cove_vocab_score(const cove_vocab *v, int32_t token);
enum cove_token_type cove_vocab_type(const cove_vocab *v, int32_t token);

/* As cove_tokenize (cove/engine.h). */
cove_status cove_vocab_tokenize(const cove_vocab *v, const char *text, size_t len, int add_special,
                                int parse_special, int32_t *out, int32_t n_max, int32_t *n_out,
                                cove_error *err);

/* As cove_token_to_piece; `special` renders control tokens as their text. */
cove_status cove_vocab_piece(const cove_vocab *v, int32_t token, int special, char *buf, size_t n,
                             size_t *len);

#endif
