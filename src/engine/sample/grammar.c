/*
 * grammar.c - the public calls of cove/grammar.h: compile, matchers, accept, masks,
 * jump-forward. The automaton and caches are in grammar_{parse,nfa,set,mask}.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/sample/grammar_int.h"

#define JUMP_MAX_BYTES 4096 /* forced bytes followed by one jump-forward call */

/* Flush the set caches when they grew past the bound; called with the lock held, at
 * the start of an operation (no set id is held by a caller in the middle of one). */
static void maybe_flush(cove_grammar *g)
{
    if (g->sets.bytes + g->ptab_bytes <= COVE_GRAMMAR_MAX_CACHE_BYTES)
        return;
    gram_sets_flush(&g->sets);
    g->epoch++;
    uint32_t id;
    if (gram_set_initial(g, &id) == COVE_OK)
        g->start_set = id;
}

cove_status cove_grammar_compile(const cove_grammar_vocab *vocab, const char *text, size_t len,
                                 cove_grammar **out, cove_error *err)
{
    if (!vocab || !out || (!text && len))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_compile: NULL argument");
    *out = NULL;
    cove_grammar *g = cove_calloc(1, sizeof *g);
    if (!g)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    g->vocab = vocab;
    gram_ast ast;
    cove_status st = gram_parse(text ? text : "", len, &ast, err);
    if (st == COVE_OK) {
        g->n_rules = ast.n_rules;
        st = gram_nfa_build(&ast, &g->nfa, err);
        gram_ast_release(&ast);
    }
    if (st != COVE_OK) {
        cove_free(g);
        return st;
    }
    g->ptab = cove_calloc(g->nfa.n_states, sizeof *g->ptab);
    if (!g->ptab || gram_sets_init(&g->sets) != COVE_OK) {
        cove_free(g->ptab);
        gram_sets_release(&g->sets);
        gram_nfa_release(&g->nfa);
        cove_free(g);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    st = gram_set_initial(g, &g->start_set);
    if (st != COVE_OK) {
        g->ptab_bytes = 0;
        pthread_mutex_init(&g->lock, NULL);
        cove_grammar_free(g);
        return cove_error_set(err, st, "grammar: the start state passes a bound of limits.h");
    }
    pthread_mutex_init(&g->lock, NULL);
    *out = g;
    return COVE_OK;
}

void cove_grammar_free(cove_grammar *g)
{
    if (!g)
        return;
    gram_ptables_free(g);
    cove_free(g->ptab);
    gram_sets_release(&g->sets);
    gram_nfa_release(&g->nfa);
    pthread_mutex_destroy(&g->lock);
    cove_free(g);
}

const cove_grammar_vocab *cove_grammar_get_vocab(const cove_grammar *g)
{
    return g ? g->vocab : NULL;
}

void cove_grammar_get_stats(const cove_grammar *g, cove_grammar_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!g)
        return;
    cove_grammar *mg = (cove_grammar *)g;
    pthread_mutex_lock(&mg->lock);
    stats->n_rules = g->n_rules;
    stats->n_states = (int32_t)g->nfa.n_states;
    stats->cache_bytes = (int64_t)(g->sets.bytes + g->ptab_bytes);
    stats->masks_computed = g->masks_computed;
    stats->masks_cached = g->masks_cached;
    pthread_mutex_unlock(&mg->lock);
}

/* ------------------------------------------------------------------ matcher */

/* Copy set `id` into the matcher as its state. */
static cove_status matcher_set(cove_grammar_matcher *m, uint32_t id)
{
    const gram_sets *s = &m->g->sets;
    const gram_set *set = &s->sets[id];
    if (set->len > m->cap_words) {
        size_t nc = set->len * 2 + 16;
        uint32_t *nw = cove_realloc(m->words, nc * sizeof *nw);
        if (!nw)
            return COVE_ERR_NOMEM;
        m->words = nw;
        m->cap_words = nc;
    }
    if (set->len)
        memcpy(m->words, s->words + set->off, set->len * sizeof *m->words);
    m->n_words = set->len;
    m->n_stacks = set->n_stacks;
    m->end = set->end;
    m->set = id;
    m->epoch = m->g->epoch;
    return COVE_OK;
}

/* Lock, flush if needed, and make m->set valid. On failure the lock is released. */
static cove_status matcher_enter(cove_grammar_matcher *m)
{
    cove_grammar *g = m->g;
    pthread_mutex_lock(&g->lock);
    maybe_flush(g);
    if (m->epoch == g->epoch)
        return COVE_OK;
    uint32_t id;
    cove_status st = gram_set_intern(&g->sets, m->words, m->n_words, m->n_stacks, m->end, &id);
    if (st != COVE_OK) {
        pthread_mutex_unlock(&g->lock);
        return st;
    }
    m->set = id;
    m->epoch = g->epoch;
    return COVE_OK;
}

cove_status cove_grammar_matcher_create(const cove_grammar *g, cove_grammar_matcher **out,
                                        cove_error *err)
{
    if (!g || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_matcher_create: NULL argument");
    *out = NULL;
    cove_grammar_matcher *m = cove_calloc(1, sizeof *m);
    if (!m)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    m->g = (cove_grammar *)g;
    pthread_mutex_lock(&m->g->lock);
    cove_status st = matcher_set(m, g->start_set);
    pthread_mutex_unlock(&m->g->lock);
    if (st != COVE_OK) {
        cove_grammar_matcher_free(m);
        return cove_error_set(err, st, "out of memory");
    }
    *out = m;
    return COVE_OK;
}

void cove_grammar_matcher_free(cove_grammar_matcher *m)
{
    if (!m)
        return;
    cove_free(m->words);
    cove_free(m);
}

void cove_grammar_matcher_reset(cove_grammar_matcher *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->g->lock);
    maybe_flush(m->g);
    /* cannot fail: the buffer held the start set at create and never shrinks, and a
       flush re-interns the same start set */
    (void)matcher_set(m, m->g->start_set);
    pthread_mutex_unlock(&m->g->lock);
}

cove_status cove_grammar_matcher_clone(const cove_grammar_matcher *m, cove_grammar_matcher **out,
                                       cove_error *err)
{
    if (!m || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_matcher_clone: NULL argument");
    *out = NULL;
    cove_grammar_matcher *c = cove_calloc(1, sizeof *c);
    if (!c)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    *c = *m;
    c->words = cove_malloc((m->n_words + 1) * sizeof *c->words);
    if (!c->words) {
        cove_free(c);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    if (m->n_words)
        memcpy(c->words, m->words, m->n_words * sizeof *c->words);
    c->cap_words = m->n_words + 1;
    *out = c;
    return COVE_OK;
}

cove_status cove_grammar_matcher_fill_mask(cove_grammar_matcher *m, uint32_t *mask,
                                           cove_error *err)
{
    if (!m || !mask)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_matcher_fill_mask: NULL argument");
    cove_status st = matcher_enter(m);
    if (st != COVE_OK) {
        memset(mask, 0, m->g->vocab->n_words * sizeof *mask);
        return cove_error_set(err, st, "out of memory");
    }
    st = gram_mask_fill(m->g, m->set, mask, err);
    pthread_mutex_unlock(&m->g->lock);
    return st;
}

void cove_grammar_mask_apply(const uint32_t *mask, float *logits, int32_t n_vocab)
{
    for (int32_t w = 0; w * 32 < n_vocab; w++) {
        uint32_t bits = mask[w];
        if (bits == UINT32_MAX)
            continue;
        int32_t end = (w + 1) * 32 < n_vocab ? (w + 1) * 32 : n_vocab;
        for (int32_t t = w * 32; t < end; t++)
            if (!((bits >> (t & 31)) & 1u))
                logits[t] = -INFINITY;
    }
}

/* Step over bytes from m->set; *bad = offset of the first refused byte, or len. */
static cove_status step_bytes(cove_grammar *g, uint32_t from, const uint8_t *b, size_t len,
                              uint32_t *out, size_t *bad)
{
    uint32_t cur = from;
    for (size_t i = 0; i < len; i++) {
        uint32_t nxt;
        cove_status st = gram_set_step(g, cur, b[i], &nxt);
        if (st != COVE_OK)
            return st;
        if (nxt == GRAM_DEAD) {
            *bad = i;
            return COVE_OK;
        }
        cur = nxt;
    }
    *bad = len;
    *out = cur;
    return COVE_OK;
}

static void quote_piece(const char *b, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
    }
    out[o] = 0;
}

cove_status cove_grammar_matcher_accept_token(cove_grammar_matcher *m, int32_t token,
                                              cove_error *err)
{
    if (!m)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_matcher_accept_token: NULL matcher");
    const cove_grammar_vocab *v = m->g->vocab;
    if (token < 0 || token >= v->n_tokens)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "token %d outside the vocabulary", (int)token);
    if (v->is_eog[token]) {
        if (m->end)
            return COVE_OK;
        return cove_error_set(err, COVE_ERR_FORMAT, "end of generation (token %d) before the grammar is complete",
                              (int)token);
    }
    const char *b = v->bytes + v->off[token];
    size_t n = v->off[token + 1] - v->off[token];
    if (n == 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "token %d has no text and is not allowed by a grammar",
                              (int)token);
    cove_status st = matcher_enter(m);
    if (st != COVE_OK)
        return cove_error_set(err, st, "out of memory");
    uint32_t to = GRAM_DEAD;
    size_t bad = 0;
    st = step_bytes(m->g, m->set, (const uint8_t *)b, n, &to, &bad);
    if (st == COVE_OK && bad == n)
        st = matcher_set(m, to);
    pthread_mutex_unlock(&m->g->lock);
    if (st != COVE_OK)
        return cove_error_set(err, st, "grammar: %s while accepting token %d",
                              st == COVE_ERR_LIMIT ? "a bound on parse stacks was passed" : "out of memory",
                              (int)token);
    if (bad < n) {
        char q[64];
        quote_piece(b, n, q, sizeof q);
        return cove_error_set(err, COVE_ERR_FORMAT, "token %d (\"%s\") is not allowed by the grammar here",
                              (int)token, q);
    }
    return COVE_OK;
}

cove_status cove_grammar_matcher_accept_bytes(cove_grammar_matcher *m, const char *bytes,
                                              size_t len, cove_error *err)
{
    if (!m || (!bytes && len))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_matcher_accept_bytes: NULL argument");
    cove_status st = matcher_enter(m);
    if (st != COVE_OK)
        return cove_error_set(err, st, "out of memory");
    uint32_t to = GRAM_DEAD;
    size_t bad = 0;
    st = step_bytes(m->g, m->set, (const uint8_t *)bytes, len, &to, &bad);
    if (st == COVE_OK && bad == len)
        st = matcher_set(m, to);
    pthread_mutex_unlock(&m->g->lock);
    if (st != COVE_OK)
        return cove_error_set(err, st, "grammar: %s",
                              st == COVE_ERR_LIMIT ? "a bound on parse stacks was passed" : "out of memory");
    if (bad < len)
        return cove_error_set(err, COVE_ERR_FORMAT, "byte %zu (0x%02X) is not allowed by the grammar here", bad,
                              (unsigned char)bytes[bad]);
    return COVE_OK;
}

int cove_grammar_matcher_can_end(const cove_grammar_matcher *m)
{
    return m && m->end;
}

int cove_grammar_matcher_is_complete(const cove_grammar_matcher *m)
{
    return m && m->end && m->n_stacks == 0;
}

/* ------------------------------------------------------------------ jump-forward */

/* The only byte set `id` can read next, or -1 when none or several. */
static int only_byte(const cove_grammar *g, uint32_t id)
{
    const gram_sets *s = &g->sets;
    const gram_set *set = &s->sets[id];
    int only = -1;
    for (size_t off = set->off; off < (size_t)set->off + set->len;) {
        uint32_t len = s->words[off];
        const gram_state *st = &g->nfa.states[s->words[off + len]];
        for (uint32_t j = 0; j < st->n_edges; j++) {
            const gram_edge *e = &g->nfa.edges[st->edge0 + j];
            if (e->lo != e->hi || (only >= 0 && only != e->lo))
                return -1;
            only = e->lo;
        }
        off += len + 1;
    }
    return only;
}

/* Longest token (not end-of-generation) that is a prefix of b[0..n); its length or 0. */
static size_t longest_token(const cove_grammar_vocab *v, const uint8_t *b, size_t n, int32_t *tok)
{
    uint32_t node = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = node + 1, found = 0;
        while (c < v->node_end[node]) {
            if (v->byte[c] == b[i]) {
                found = 1;
                break;
            }
            c = v->node_end[c];
        }
        if (!found)
            break;
        node = c;
        for (uint32_t j = 0; j < v->n_tok[node]; j++) {
            int32_t t = v->order[v->tok0[node] + j];
            if (!v->is_eog[t]) {
                *tok = t;
                best = i + 1;
                break;
            }
        }
    }
    return best;
}

cove_status cove_grammar_matcher_jump_forward(cove_grammar_matcher *m, int32_t *tokens,
                                              int32_t max_tokens, int32_t *n_tokens,
                                              char *bytes, size_t cap, size_t *n_bytes,
                                              cove_error *err)
{
    if (n_tokens)
        *n_tokens = 0;
    if (n_bytes)
        *n_bytes = 0;
    if (!m || (max_tokens > 0 && !tokens) || (cap > 0 && !bytes))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_grammar_matcher_jump_forward: bad arguments");
    uint8_t buf[JUMP_MAX_BYTES];
    size_t n = 0, limit = cap > JUMP_MAX_BYTES || max_tokens > 0 ? JUMP_MAX_BYTES : cap;
    cove_status st = matcher_enter(m);
    if (st != COVE_OK)
        return cove_error_set(err, st, "out of memory");
    cove_grammar *g = m->g;
    uint32_t cur = m->set;
    while (n < limit && !g->sets.sets[cur].end) {
        int b = only_byte(g, cur);
        uint32_t nxt;
        if (b < 0)
            break;
        st = gram_set_step(g, cur, (uint8_t)b, &nxt);
        if (st != COVE_OK || nxt == GRAM_DEAD)
            break;
        buf[n++] = (uint8_t)b;
        cur = nxt;
    }
    pthread_mutex_unlock(&g->lock);
    if (st != COVE_OK)
        return cove_error_set(err, st, "grammar: a bound was passed in jump-forward");
    size_t pos = 0;
    int32_t nt = 0;
    while (pos < n && nt < max_tokens) {
        int32_t t = -1;
        size_t len = longest_token(g->vocab, buf + pos, n - pos, &t);
        if (!len)
            break;
        tokens[nt++] = t;
        pos += len;
    }
    size_t nb = n < cap ? n : cap;
    if (nb)
        memcpy(bytes, buf, nb);
    if (n_bytes)
        *n_bytes = nb;
    if (n_tokens)
        *n_tokens = nt;
    return COVE_OK;
}
