/*
 * grammar_set.c - interned sets of parse stacks and their memoised byte transitions.
 *
 * A set is the canonical form of the stacks alive after some bytes: stacks serialised as
 * [n, w_0 .. w_{n-1}] (return states, then the byte-reading state on top), sorted and
 * without duplicates, plus the END flag (the empty stack). Equal sets get equal ids, so
 * an id names a state of the grammar's lazily built DFA; set 0 is the dead set.
 *
 * Transitions (set, byte) -> set are memoised in a hash table; a set that is stepped
 * often gets a dense 256-entry row. Everything here runs under the grammar's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/sample/grammar_int.h"

#define DENSE_AFTER 8u        /* lookups of a set before it gets a dense row */
#define T_UNKNOWN UINT32_MAX

static uint32_t hash_words(const uint32_t *w, size_t n, int end)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)end;
    for (size_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return (uint32_t)(h ^ (h >> 29));
}

static int grow_words(uint32_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    size_t nc = *cap ? *cap : 256;
    while (nc < need)
        nc *= 2;
    uint32_t *np = cove_realloc(*p, nc * sizeof *np);
    if (!np)
        return 0;
    *p = np;
    *cap = nc;
    return 1;
}

static cove_status index_rebuild(gram_sets *s, uint32_t cap)
{
    uint32_t *ix = cove_calloc(cap, sizeof *ix);
    if (!ix)
        return COVE_ERR_NOMEM;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t h = s->sets[i].hash & (cap - 1);
        while (ix[h])
            h = (h + 1) & (cap - 1);
        ix[h] = i + 1;
    }
    cove_free(s->index);
    s->index = ix;
    s->index_cap = cap;
    return COVE_OK;
}

cove_status gram_sets_init(gram_sets *s)
{
    memset(s, 0, sizeof *s);
    uint32_t id;
    return gram_set_intern(s, NULL, 0, 0, 0, &id);
}

static void free_dense(gram_sets *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        cove_free(s->sets[i].dense);
}

void gram_sets_release(gram_sets *s)
{
    free_dense(s);
    cove_free(s->sets);
    cove_free(s->words);
    cove_free(s->index);
    cove_free(s->tkeys);
    cove_free(s->tvals);
    cove_free(s->masks);
    cove_free(s->scr);
    cove_free(s->scr2);
    cove_free(s->offs);
    memset(s, 0, sizeof *s);
}

void gram_sets_flush(gram_sets *s)
{
    free_dense(s);
    s->n = 1; /* keep the dead set */
    s->sets[0].dense = NULL;
    s->sets[0].n_lookups = 0;
    s->sets[0].mask = -1;
    s->n_words = 0;
    if (s->index)
        index_rebuild(s, s->index_cap);
    if (s->tkeys)
        memset(s->tkeys, 0, (size_t)s->tcap * sizeof *s->tkeys);
    s->tn = 0;
    s->n_masks = 0;
    s->bytes = 0;
}

cove_status gram_set_intern(gram_sets *s, const uint32_t *words, size_t n, uint32_t n_stacks,
                            int end, uint32_t *id)
{
    uint32_t h = hash_words(words, n, end);
    if (s->index) {
        uint32_t i = h & (s->index_cap - 1);
        while (s->index[i]) {
            const gram_set *e = &s->sets[s->index[i] - 1];
            if (e->hash == h && e->len == n && e->end == end &&
                (n == 0 || memcmp(s->words + e->off, words, n * sizeof *words) == 0)) {
                *id = s->index[i] - 1;
                return COVE_OK;
            }
            i = (i + 1) & (s->index_cap - 1);
        }
    }
    if (s->n == s->cap) {
        uint32_t nc = s->cap ? s->cap * 2 : 256;
        gram_set *ns = cove_realloc(s->sets, nc * sizeof *ns);
        if (!ns)
            return COVE_ERR_NOMEM;
        s->sets = ns;
        s->cap = nc;
    }
    if (!grow_words(&s->words, &s->cap_words, s->n_words + n + 1))
        return COVE_ERR_NOMEM;
    if ((s->n + 1) * 2 > s->index_cap &&
        index_rebuild(s, s->index_cap ? s->index_cap * 2 : 1024) != COVE_OK)
        return COVE_ERR_NOMEM;
    gram_set *e = &s->sets[s->n];
    memset(e, 0, sizeof *e);
    e->off = (uint32_t)s->n_words;
    e->len = (uint32_t)n;
    e->hash = h;
    e->n_stacks = n_stacks;
    e->end = (uint8_t)end;
    e->mask = -1;
    if (n)
        memcpy(s->words + s->n_words, words, n * sizeof *words);
    s->n_words += n;
    s->bytes += sizeof *e + n * 4 + 8;
    uint32_t i = h & (s->index_cap - 1);
    while (s->index[i])
        i = (i + 1) & (s->index_cap - 1);
    s->index[i] = s->n + 1;
    *id = s->n++;
    return COVE_OK;
}

/* ------------------------------------------------------------ canonical form */

static int cmp_stack(const void *a, const void *b, void *ctx)
{
    const uint32_t *w = ctx;
    const uint32_t *x = w + *(const size_t *)a, *y = w + *(const size_t *)b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    for (uint32_t i = 1; i <= x[0]; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* Sort and dedupe the n_st stacks in s->scr (offsets in s->offs), intern them. */
static cove_status canon_intern(gram_sets *s, size_t n_st, int end, uint32_t *id)
{
    qsort_r(s->offs, n_st, sizeof *s->offs, cmp_stack, s->scr);
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < n_st; i++) {
        if (i && cmp_stack(&s->offs[i], &s->offs[i - 1], s->scr) == 0)
            continue;
        const uint32_t *st = s->scr + s->offs[i];
        if (!grow_words(&s->scr2, &s->cap_scr2, n + st[0] + 1))
            return COVE_ERR_NOMEM;
        memcpy(s->scr2 + n, st, (st[0] + 1) * sizeof *st);
        n += st[0] + 1;
        kept++;
    }
    if (kept == 0 && !end) {
        *id = GRAM_DEAD;
        return COVE_OK;
    }
    return gram_set_intern(s, s->scr2, n, (uint32_t)kept, end, id);
}

static cove_status ensure_offs(gram_sets *s, size_t n)
{
    if (n <= s->cap_offs)
        return COVE_OK;
    size_t nc = s->cap_offs ? s->cap_offs : 64;
    while (nc < n)
        nc *= 2;
    size_t *no = cove_realloc(s->offs, nc * sizeof *no);
    if (!no)
        return COVE_ERR_NOMEM;
    s->offs = no;
    s->cap_offs = nc;
    return COVE_OK;
}

typedef struct emitter {
    gram_sets *s;
    size_t n_words, n_st;
    int end;
    cove_status st;
} emitter;

/* Emit prefix[0..np) ++ pushes ++ [k] as a new stack in s->scr. */
static void emit(emitter *e, const uint32_t *prefix, uint32_t np, const uint32_t *push,
                 uint32_t n_push, uint32_t k)
{
    gram_sets *s = e->s;
    uint32_t len = np + n_push + 1;
    if (len > COVE_GRAMMAR_MAX_STACK_DEPTH || e->n_st >= COVE_GRAMMAR_MAX_STACKS) {
        e->st = COVE_ERR_LIMIT;
        return;
    }
    if (!grow_words(&s->scr, &s->cap_scr, e->n_words + len + 1) ||
        ensure_offs(s, e->n_st + 1) != COVE_OK) {
        e->st = COVE_ERR_NOMEM;
        return;
    }
    uint32_t *o = s->scr + e->n_words;
    o[0] = len;
    if (np)
        memcpy(o + 1, prefix, np * sizeof *prefix);
    if (n_push)
        memcpy(o + 1 + np, push, n_push * sizeof *push);
    o[len] = k;
    s->offs[e->n_st++] = e->n_words;
    e->n_words += len + 1;
}

/* The stacks closure(q) on top of prefix[0..np), popping while the rule may end. The
 * prefix lives in `base` at `poff` (base may move while emitting, so indices are used). */
static void expand(cove_grammar *g, emitter *e, const uint32_t *base_words, size_t poff,
                   uint32_t np, uint32_t q)
{
    const gram_nfa *f = &g->nfa;
    for (;;) {
        for (uint32_t i = 0; i < f->n_clos[q] && e->st == COVE_OK; i++) {
            const gram_citem *it = &f->citems[f->clos0[q] + i];
            emit(e, base_words + poff, np, f->pool + it->push0, it->n_push, it->k);
        }
        if (!f->nullable[q] || e->st != COVE_OK)
            return;
        if (np == 0) {
            e->end = 1;
            return;
        }
        q = base_words[poff + np - 1];
        np--;
    }
}

/* Compute the transition of set `id` on byte b (not memoised). */
static cove_status compute_step(cove_grammar *g, uint32_t id, uint8_t b, uint32_t *out)
{
    gram_sets *s = &g->sets;
    const gram_nfa *f = &g->nfa;
    emitter e = {s, 0, 0, 0, COVE_OK};
    /* the set's words stay put: s->words only grows at intern, after the loop */
    const gram_set *set = &s->sets[id];
    size_t off = set->off, end = set->off + set->len;
    while (off < end && e.st == COVE_OK) {
        uint32_t n = s->words[off];
        uint32_t top = s->words[off + n];
        const gram_state *st = &f->states[top];
        for (uint32_t j = 0; j < st->n_edges && e.st == COVE_OK; j++) {
            const gram_edge *ed = &f->edges[st->edge0 + j];
            if (b < ed->lo || b > ed->hi)
                continue;
            expand(g, &e, s->words, off + 1, n - 1, ed->to);
        }
        off += n + 1;
    }
    if (e.st != COVE_OK)
        return e.st;
    return canon_intern(s, e.n_st, e.end, out);
}

static cove_status tmemo_put(gram_sets *s, uint64_t key, uint32_t val)
{
    if ((s->tn + 1) * 2 > s->tcap) {
        uint32_t nc = s->tcap ? s->tcap * 2 : 4096;
        uint64_t *nk = cove_calloc(nc, sizeof *nk);
        uint32_t *nv = cove_malloc(nc * sizeof *nv);
        if (!nk || !nv) {
            cove_free(nk);
            cove_free(nv);
            return COVE_ERR_NOMEM;
        }
        for (uint32_t i = 0; i < s->tcap; i++) {
            if (!s->tkeys[i])
                continue;
            uint32_t h = (uint32_t)((s->tkeys[i] * 0x9E3779B97F4A7C15ull) >> 32) & (nc - 1);
            while (nk[h])
                h = (h + 1) & (nc - 1);
            nk[h] = s->tkeys[i];
            nv[h] = s->tvals[i];
        }
        cove_free(s->tkeys);
        cove_free(s->tvals);
        s->bytes += (size_t)(nc - s->tcap) * 12;
        s->tkeys = nk;
        s->tvals = nv;
        s->tcap = nc;
    }
    uint32_t h = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (s->tcap - 1);
    while (s->tkeys[h] && s->tkeys[h] != key)
        h = (h + 1) & (s->tcap - 1);
    if (!s->tkeys[h])
        s->tn++;
    s->tkeys[h] = key;
    s->tvals[h] = val;
    return COVE_OK;
}

static uint32_t tmemo_get(const gram_sets *s, uint64_t key)
{
    if (!s->tcap)
        return T_UNKNOWN;
    uint32_t h = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (s->tcap - 1);
    while (s->tkeys[h]) {
        if (s->tkeys[h] == key)
            return s->tvals[h];
        h = (h + 1) & (s->tcap - 1);
    }
    return T_UNKNOWN;
}

cove_status gram_set_step(cove_grammar *g, uint32_t id, uint8_t b, uint32_t *out)
{
    gram_sets *s = &g->sets;
    gram_set *set = &s->sets[id];
    if (set->dense && set->dense[b] != T_UNKNOWN) {
        *out = set->dense[b];
        return COVE_OK;
    }
    if (set->len == 0) { /* dead, or only END: no byte can follow */
        *out = GRAM_DEAD;
        return COVE_OK;
    }
    uint64_t key = (((uint64_t)id << 8) | b) + 1;
    uint32_t v = set->dense ? T_UNKNOWN : tmemo_get(s, key);
    if (v == T_UNKNOWN) {
        cove_status st = compute_step(g, id, b, &v);
        if (st != COVE_OK)
            return st;
        set = &s->sets[id];
        if (!set->dense && tmemo_put(s, key, v) != COVE_OK)
            return COVE_ERR_NOMEM;
    }
    if (!set->dense && ++set->n_lookups >= DENSE_AFTER) {
        set->dense = cove_malloc(256 * sizeof *set->dense);
        if (set->dense) {
            for (int c = 0; c < 256; c++)
                set->dense[c] = tmemo_get(s, (((uint64_t)id << 8) | (uint64_t)c) + 1);
            s->bytes += 256 * sizeof *set->dense;
        }
    }
    if (set->dense)
        set->dense[b] = v;
    *out = v;
    return COVE_OK;
}

cove_status gram_set_from_state(cove_grammar *g, uint32_t state, uint32_t *id)
{
    gram_sets *s = &g->sets;
    uint32_t w[2] = {1, state};
    return gram_set_intern(s, w, 2, 1, 0, id);
}

cove_status gram_set_initial(cove_grammar *g, uint32_t *id)
{
    static const uint32_t none[1] = {0};
    emitter e = {&g->sets, 0, 0, 0, COVE_OK};
    expand(g, &e, none, 0, 0, g->nfa.start);
    if (e.st != COVE_OK)
        return e.st;
    return canon_intern(&g->sets, e.n_st, e.end, id);
}
