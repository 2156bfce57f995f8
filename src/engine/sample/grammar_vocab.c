/*
 * grammar_vocab.c - token bytes and the token trie.
 *
 * Tokens with bytes are sorted by their bytes; the trie is laid out in preorder over that
 * order, so the tokens of a subtree are one range of `order` and the nodes of a subtree
 * one range of node indices. Tokens without bytes (control tokens) are not in the trie.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/sample/grammar_int.h"

static int cmp_tok(const void *a, const void *b, void *ctx)
{
    const cove_grammar_vocab *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->off[x + 1] - v->off[x], ly = v->off[y + 1] - v->off[y];
    int c = memcmp(v->bytes + v->off[x], v->bytes + v->off[y], lx < ly ? lx : ly);
    if (c)
        return c;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Build order[] and the trie from bytes/off. */
static cove_status build_trie(cove_grammar_vocab *v, cove_error *err)
{
    int32_t n = v->n_tokens, n_order = 0;
    size_t total = v->off[n];
    v->order = cove_malloc(((size_t)n + 1) * sizeof *v->order);
    size_t max_nodes = total + 1;
    v->node_end = cove_malloc(max_nodes * sizeof *v->node_end);
    v->byte = cove_malloc(max_nodes);
    v->tok0 = cove_malloc(max_nodes * sizeof *v->tok0);
    v->n_tok = cove_calloc(max_nodes, sizeof *v->n_tok);
    v->sub_end = cove_malloc(max_nodes * sizeof *v->sub_end);
    uint32_t *path = cove_malloc((COVE_MAX_TOKEN_BYTES + 1) * sizeof *path);
    if (!v->order || !v->node_end || !v->byte || !v->tok0 || !v->n_tok || !v->sub_end || !path) {
        cove_free(path);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory building the token trie");
    }
    for (int32_t t = 0; t < n; t++)
        if (v->off[t + 1] > v->off[t])
            v->order[n_order++] = t;
    qsort_r(v->order, (size_t)n_order, sizeof *v->order, cmp_tok, v);
    /* path[d] = node at depth d of the current path; depth 0 = root */
    uint32_t depth = 0, n_nodes = 1;
    path[0] = 0;
    v->byte[0] = 0;
    v->tok0[0] = 0;
    const char *prev = NULL;
    uint32_t prev_len = 0;
    for (int32_t i = 0; i < n_order; i++) {
        int32_t t = v->order[i];
        const char *bt = v->bytes + v->off[t];
        uint32_t len = v->off[t + 1] - v->off[t], common = 0;
        while (common < len && common < prev_len && common < depth && bt[common] == prev[common])
            common++;
        while (depth > common) { /* close nodes off the shared prefix */
            uint32_t nd = path[depth--];
            v->node_end[nd] = n_nodes;
            v->sub_end[nd] = (uint32_t)i;
        }
        while (depth < len) {
            uint32_t nd = n_nodes++;
            v->byte[nd] = (uint8_t)bt[depth];
            v->tok0[nd] = (uint32_t)i;
            path[++depth] = nd;
        }
        v->n_tok[path[depth]]++;
        if (len > v->max_depth)
            v->max_depth = (uint16_t)len;
        prev = bt;
        prev_len = len;
    }
    while (depth > 0) {
        uint32_t nd = path[depth--];
        v->node_end[nd] = n_nodes;
        v->sub_end[nd] = (uint32_t)n_order;
    }
    v->node_end[0] = n_nodes;
    v->sub_end[0] = (uint32_t)n_order;
    v->n_nodes = n_nodes;
    cove_free(path);
    return COVE_OK;
}

static cove_status vocab_alloc(int32_t n, size_t total, const int32_t *eog, int32_t n_eog,
                               cove_grammar_vocab **out, cove_error *err)
{
    cove_grammar_vocab *v = cove_calloc(1, sizeof *v);
    if (!v)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    v->n_tokens = n;
    v->n_words = ((size_t)n + 31) / 32;
    v->bytes = cove_malloc(total + 1);
    v->off = cove_calloc((size_t)n + 1, sizeof *v->off);
    v->is_eog = cove_calloc((size_t)n, 1);
    v->eog_list = cove_malloc(((size_t)n_eog + 1) * sizeof *v->eog_list);
    if (!v->bytes || !v->off || !v->is_eog || !v->eog_list) {
        cove_grammar_vocab_free(v);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n_eog; i++) {
        if (eog[i] < 0 || eog[i] >= n) {
            cove_grammar_vocab_free(v);
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "end-of-generation token %d outside the vocabulary",
                                  (int)eog[i]);
        }
        if (!v->is_eog[eog[i]])
            v->eog_list[v->n_eog++] = (uint32_t)eog[i];
        v->is_eog[eog[i]] = 1;
    }
    *out = v;
    return COVE_OK;
}

cove_status cove_grammar_vocab_create_from_pieces(const char *const *pieces, const size_t *lens,
                                                  int32_t n_tokens, const int32_t *eog,
                                                  int32_t n_eog, cove_grammar_vocab **out,
                                                  cove_error *err)
{
    if (!out || !lens || (n_tokens > 0 && !pieces) || n_tokens <= 0 || n_eog < 0 ||
        (n_eog > 0 && !eog))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad arguments to cove_grammar_vocab_create_from_pieces");
    *out = NULL;
    if ((uint32_t)n_tokens > COVE_MAX_VOCAB)
        return cove_error_set(err, COVE_ERR_LIMIT, "vocabulary of %d tokens above the limit", (int)n_tokens);
    size_t total = 0;
    for (int32_t i = 0; i < n_tokens; i++) {
        if (lens[i] > COVE_MAX_TOKEN_BYTES)
            return cove_error_set(err, COVE_ERR_LIMIT, "token %d has %zu bytes", (int)i, lens[i]);
        if (lens[i] && !pieces[i])
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "token %d has no bytes", (int)i);
        total += lens[i];
    }
    cove_grammar_vocab *v = NULL;
    cove_status st = vocab_alloc(n_tokens, total, eog, n_eog, &v, err);
    if (st != COVE_OK)
        return st;
    size_t pos = 0;
    for (int32_t i = 0; i < n_tokens; i++) {
        v->off[i] = (uint32_t)pos;
        if (lens[i])
            memcpy(v->bytes + pos, pieces[i], lens[i]);
        pos += lens[i];
    }
    v->off[n_tokens] = (uint32_t)pos;
    st = build_trie(v, err);
    if (st != COVE_OK) {
        cove_grammar_vocab_free(v);
        return st;
    }
    *out = v;
    return COVE_OK;
}

cove_status cove_grammar_vocab_create(const cove_model *model, cove_grammar_vocab **out,
                                      cove_error *err)
{
    if (!model || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_vocab_create: NULL argument");
    *out = NULL;
    int32_t n = cove_model_n_vocab(model);
    if (n <= 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "the model has no vocabulary");
    char **pieces = cove_calloc((size_t)n, sizeof *pieces);
    size_t *lens = cove_calloc((size_t)n, sizeof *lens);
    int32_t *eog = cove_malloc((size_t)n * sizeof *eog);
    char *buf = cove_malloc((size_t)n * 8 + COVE_TOKEN_PIECE_MAX);
    cove_status st = COVE_OK;
    if (!pieces || !lens || !eog || !buf)
        st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    int32_t n_eog = 0;
    size_t cap = (size_t)n * 8 + COVE_TOKEN_PIECE_MAX, pos = 0;
    for (int32_t t = 0; st == COVE_OK && t < n; t++) {
        if (cap - pos < COVE_TOKEN_PIECE_MAX) {
            char *nb = cove_realloc(buf, cap * 2);
            if (!nb) {
                st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t len = 0;
        st = cove_token_to_piece(model, t, buf + pos, COVE_TOKEN_PIECE_MAX, &len);
        if (st != COVE_OK) {
            cove_error_set(err, st, "token %d: no text for the grammar vocabulary", (int)t);
            break;
        }
        lens[t] = len;
        pieces[t] = (char *)(uintptr_t)pos; /* offsets until buf stops moving */
        pos += len;
        if (cove_token_is_eog(model, t))
            eog[n_eog++] = t;
    }
    for (int32_t t = 0; st == COVE_OK && t < n; t++)
        pieces[t] = buf + (uintptr_t)pieces[t];
    if (st == COVE_OK)
        st = cove_grammar_vocab_create_from_pieces((const char *const *)pieces, lens, n, eog, n_eog,
                                                   out, err);
    cove_free(pieces);
    cove_free(lens);
    cove_free(eog);
    cove_free(buf);
    return st;
}

void cove_grammar_vocab_free(cove_grammar_vocab *v)
{
    if (!v)
        return;
    cove_free(v->bytes);
    cove_free(v->off);
    cove_free(v->is_eog);
    cove_free(v->eog_list);
    cove_free(v->node_end);
    cove_free(v->byte);
    cove_free(v->tok0);
    cove_free(v->n_tok);
    cove_free(v->sub_end);
    cove_free(v->order);
    cove_free(v);
}

int32_t cove_grammar_vocab_n_tokens(const cove_grammar_vocab *v)
{
    return v ? v->n_tokens : 0;
}

size_t cove_grammar_vocab_mask_words(const cove_grammar_vocab *v)
{
    return v ? v->n_words : 0;
}
