/*
 * cove/grammar.h - constrained generation: GBNF grammars compiled against a vocabulary,
 * token masks, and jump-forward.
 *
 * The objects and their life cycles:
 *
 *   cove_grammar_vocab    the byte string of every token of one vocabulary, arranged in a
 *                         token trie. Built once per model (tens of milliseconds for a 50k
 *                         vocabulary) and shared by every grammar compiled against it.
 *                         Immutable; safe to use from many threads.
 *   cove_grammar          one GBNF text compiled against a vocabulary: a byte-level
 *                         pushdown automaton plus caches that fill as masks are asked
 *                         for (per-position token tables, masks per matcher state). The
 *                         caches are guarded by a lock inside, so one grammar may serve
 *                         many matchers on many threads at once. Borrows its vocabulary.
 *   cove_grammar_matcher  the state of one sequence being generated under a grammar:
 *                         which bytes may come next. Use from one thread at a time.
 *                         Borrows its grammar.
 *
 * Free matchers before their grammar and grammars before their vocabulary.
 *
 * A generation step (error handling left out):
 *
 *     cove_grammar_matcher_fill_mask(m, mask);              // mask: n_words uint32_t
 *     cove_grammar_mask_apply(mask, logits, n_vocab);       // disallowed -> -INFINITY
 *     cove_sampler_sample(smp, logits, &tok);
 *     if (cove_token_is_eog(model, tok)) break;             // allowed only when can_end
 *     cove_grammar_matcher_accept_token(m, tok, &err);
 *     if (cove_grammar_matcher_is_complete(m)) break;       // nothing more may follow
 *     cove_grammar_matcher_jump_forward(m, forced, max, &n_forced, NULL, 0, NULL, &err);
 *     ... accept the forced tokens and decode them with tok in one batch ...
 *
 * Token masks: a mask is a bitset over the vocabulary, n_words = (n_vocab + 31) / 32
 * words; token t is allowed when (mask[t >> 5] >> (t & 31)) & 1. A token is allowed when
 * its bytes are a prefix of some string the grammar accepts, given what was accepted so
 * far. Tokens with no bytes (control tokens such as BOS) are never allowed, except the
 * end-of-generation tokens, which are allowed exactly when the grammar accepts the text
 * so far (can_end). Tokens may span several grammar elements and may end or start in
 * the middle of a UTF-8 sequence: the automaton works on bytes.
 *
 * GBNF: the syntax llama.cpp accepts; see docs/grammar.md. Rules `name ::= body`,
 * alternation `|`, grouping `( )`, repetition `* + ? {m} {m,} {m,n}`, literals "..."
 * and character classes [...] / [^...] with escapes \n \r \t \\ \" \] \- \xHH \uHHHH
 * \UHHHHHHHH, `.` (any character), comments from `#` to the end of the line. The start
 * rule is `root`. Parse errors name the line and column ("3:14: expected '::='").
 *
 * Bounds: COVE_GRAMMAR_* in base/limits.h (grammar text bytes, rules, automaton states,
 * repetition counts, stacks per matcher state, stack depth, cache bytes). Passing one is
 * COVE_ERR_LIMIT.
 */
#ifndef COVE_GRAMMAR_H
#define COVE_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "cove/engine.h"
#include "cove/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================== vocabulary ============================== */

typedef struct cove_grammar_vocab cove_grammar_vocab;

/*
 * Build the grammar vocabulary of `model` (borrowed for the call only; a vocab_only
 * model is enough): each token's bytes as cove_token_to_piece gives them, and its
 * end-of-generation flag (cove_token_is_eog). On success *out is owned by the caller
 * (cove_grammar_vocab_free). Fails with COVE_ERR_INVALID_ARG (NULL model or out),
 * COVE_ERR_NOMEM.
 */
cove_status cove_grammar_vocab_create(const cove_model *model, cove_grammar_vocab **out,
                                      cove_error *err);

/*
 * Build a grammar vocabulary from explicit token bytes: token i is pieces[i][0..lens[i])
 * (borrowed for the call; copied). A token with length 0 is never allowed by a mask.
 * eog[0..n_eog) lists the end-of-generation token ids (may be NULL when n_eog is 0).
 * Fails with COVE_ERR_INVALID_ARG (n_tokens <= 0, an eog id out of range, a NULL piece
 * with a non-zero length), COVE_ERR_LIMIT (more than COVE_MAX_VOCAB tokens, a piece
 * longer than COVE_MAX_TOKEN_BYTES), COVE_ERR_NOMEM.
 */
cove_status cove_grammar_vocab_create_from_pieces(const char *const *pieces, const size_t *lens,
                                                  int32_t n_tokens, const int32_t *eog,
                                                  int32_t n_eog, cove_grammar_vocab **out,
                                                  cove_error *err);

/* Release the vocabulary. Free every grammar compiled against it first. NULL: no-op. */
void cove_grammar_vocab_free(cove_grammar_vocab *vocab);

/* Number of tokens in the vocabulary. */
int32_t cove_grammar_vocab_n_tokens(const cove_grammar_vocab *vocab);

/* Number of uint32_t words in a token mask for this vocabulary: (n_tokens + 31) / 32. */
size_t cove_grammar_vocab_mask_words(const cove_grammar_vocab *vocab);

/* ================================ grammar =============================== */

typedef struct cove_grammar cove_grammar;

/*
 * Compile the GBNF text text[0..len) (need not be NUL-terminated; borrowed for the call)
 * against `vocab` (borrowed: it must outlive the grammar). The start rule is `root`.
 * On success *out is owned by the caller (cove_grammar_free). Fails with
 * COVE_ERR_FORMAT and "line:col: reason" in err for a syntax error, an undefined rule,
 * a missing root or a left-recursive rule; COVE_ERR_LIMIT when a bound of limits.h is
 * passed; COVE_ERR_INVALID_ARG for NULL arguments; COVE_ERR_NOMEM.
 */
cove_status cove_grammar_compile(const cove_grammar_vocab *vocab, const char *text, size_t len,
                                 cove_grammar **out, cove_error *err);

/* Release the grammar. Free its matchers first. NULL: no-op. */
void cove_grammar_free(cove_grammar *g);

/* The vocabulary the grammar was compiled against (borrowed). */
const cove_grammar_vocab *cove_grammar_get_vocab(const cove_grammar *g);

/* Grammar statistics, for benchmarks and logs. */
typedef struct cove_grammar_stats {
    int32_t n_rules;        /* rules after expansion of repetitions */
    int32_t n_states;       /* byte-automaton states */
    int64_t cache_bytes;    /* bytes held by the grammar's caches now */
    int64_t masks_computed; /* masks computed (cache misses) */
    int64_t masks_cached;   /* masks answered from the cache */
} cove_grammar_stats;

/* Fill *stats (never fails). */
void cove_grammar_get_stats(const cove_grammar *g, cove_grammar_stats *stats);

/* ================================ matcher =============================== */

typedef struct cove_grammar_matcher cove_grammar_matcher;

/*
 * A matcher at the start of `g` (borrowed: it must outlive the matcher). On success *out
 * is owned by the caller (cove_grammar_matcher_free). COVE_ERR_INVALID_ARG, COVE_ERR_NOMEM.
 */
cove_status cove_grammar_matcher_create(const cove_grammar *g, cove_grammar_matcher **out,
                                        cove_error *err);

/* Release the matcher. NULL: no-op. */
void cove_grammar_matcher_free(cove_grammar_matcher *m);

/* Go back to the start of the grammar (nothing accepted). */
void cove_grammar_matcher_reset(cove_grammar_matcher *m);

/* A new matcher in the same state as `m` (for beams, speculative branches). *out as in
 * cove_grammar_matcher_create. COVE_ERR_NOMEM. */
cove_status cove_grammar_matcher_clone(const cove_grammar_matcher *m, cove_grammar_matcher **out,
                                       cove_error *err);

/*
 * Write the mask of the tokens allowed next into mask[0..n_words) (caller-owned; n_words
 * from cove_grammar_vocab_mask_words). Bits past n_tokens are 0. Does not change the
 * matcher's state. Fails with COVE_ERR_LIMIT when the grammar's bounds are passed while
 * exploring, COVE_ERR_NOMEM; the mask is then all zero.
 */
cove_status cove_grammar_matcher_fill_mask(cove_grammar_matcher *m, uint32_t *mask,
                                           cove_error *err);

/*
 * Set logits[t] to -INFINITY for every token t whose bit in mask is 0 (logits: n_vocab
 * floats, modified in place; mask borrowed). Never fails.
 */
void cove_grammar_mask_apply(const uint32_t *mask, float *logits, int32_t n_vocab);

/* 1 when token t is allowed by mask. */
static inline int cove_grammar_mask_test(const uint32_t *mask, int32_t t)
{
    return (int)((mask[(uint32_t)t >> 5] >> ((uint32_t)t & 31u)) & 1u);
}

/*
 * Advance over `token`. An end-of-generation token is accepted when can_end holds and
 * leaves the state as it is. Fails, leaving the state as it was, with COVE_ERR_FORMAT
 * when the grammar does not allow the token here (err names the token id and its bytes),
 * COVE_ERR_INVALID_ARG for an id outside the vocabulary, COVE_ERR_LIMIT, COVE_ERR_NOMEM.
 */
cove_status cove_grammar_matcher_accept_token(cove_grammar_matcher *m, int32_t token,
                                              cove_error *err);

/*
 * Advance over the bytes bytes[0..len) (borrowed), as if tokens with these bytes had been
 * accepted. Fails, leaving the state as it was, with COVE_ERR_FORMAT (and the offset of
 * the first refused byte in err) when the grammar does not allow them, COVE_ERR_LIMIT,
 * COVE_ERR_NOMEM.
 */
cove_status cove_grammar_matcher_accept_bytes(cove_grammar_matcher *m, const char *bytes,
                                              size_t len, cove_error *err);

/* 1 when the text accepted so far is a complete sentence of the grammar, so an
 * end-of-generation token is allowed; else 0. */
int cove_grammar_matcher_can_end(const cove_grammar_matcher *m);

/* 1 when the text is complete and the grammar allows no further byte: generation must
 * stop here. */
int cove_grammar_matcher_is_complete(const cove_grammar_matcher *m);

/*
 * Jump-forward: the continuation the grammar forces from the current state. Follows the
 * state while exactly one byte is allowed and the text so far is not complete, so the
 * forced bytes are those every accepted continuation starts with. Writes them to
 * bytes[0..*n_bytes) (bytes may be NULL when cap is 0; n_bytes may be NULL) and splits
 * them into tokens of the vocabulary, longest token first, into tokens[0..*n_tokens)
 * (tokens may be NULL when max_tokens is 0). Bytes that no token covers end the forced
 * tokens (the bytes are still reported). Each written token is allowed in sequence:
 * accept them with cove_grammar_matcher_accept_token. Does not change the matcher.
 * Stops at `cap` bytes or `max_tokens` tokens. Fails with COVE_ERR_LIMIT or
 * COVE_ERR_NOMEM (outputs then empty).
 */
cove_status cove_grammar_matcher_jump_forward(cove_grammar_matcher *m, int32_t *tokens,
                                              int32_t max_tokens, int32_t *n_tokens,
                                              char *bytes, size_t cap, size_t *n_bytes,
                                              cove_error *err);

#ifdef __cplusplus
}
#endif
#endif /* COVE_GRAMMAR_H */
