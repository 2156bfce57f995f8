/*
 * grammar_mask.c - token masks.
 *
 * Per byte-reading state k, a table computed once (on first use) by walking the token
 * trie from the set {[k]}: a token is
 *   accepted   when its bytes can be read without leaving k's rule (true in any
 *              context, since the stack below k is not touched),
 *   uncertain  when every way to read it leaves k's rule before its last byte (whether
 *              it fits depends on the stack below: checked at run time),
 *   refused    otherwise (in any context).
 * The mask of a matcher state (a set of stacks) is the union of the accepted tokens of
 * the stacks' top states, plus those of their uncertain tokens that the whole set can
 * read, plus the end-of-generation tokens when the set holds END. Masks are cached per
 * set id. Everything here runs under the grammar's lock.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/sample/grammar_int.h"

typedef struct ulist {
    int32_t *v;
    uint32_t n, cap;
} ulist;

static int ulist_add_range(ulist *u, const int32_t *src, uint32_t n)
{
    if (u->n + n > u->cap) {
        uint32_t nc = u->cap ? u->cap : 64;
        while (nc < u->n + n)
            nc *= 2;
        int32_t *nv = cove_realloc(u->v, nc * sizeof *nv);
        if (!nv)
            return 0;
        u->v = nv;
        u->cap = nc;
    }
    memcpy(u->v + u->n, src, n * sizeof *src);
    u->n += n;
    return 1;
}

typedef struct wframe {
    uint32_t node, child, set;
    uint8_t esc; /* some path left the rule at or above this node */
} wframe;

/* Walk the trie from {[k]}, filling acc (bitset) and unc. */
static cove_status walk(cove_grammar *g, uint32_t k, uint32_t *acc, uint32_t *n_acc, ulist *unc)
{
    const cove_grammar_vocab *v = g->vocab;
    wframe *fr = cove_malloc(((size_t)v->max_depth + 2) * sizeof *fr);
    if (!fr)
        return COVE_ERR_NOMEM;
    uint32_t s0;
    cove_status st = gram_set_from_state(g, k, &s0);
    int d = 0;
    fr[0] = (wframe){0, 1, s0, 0};
    while (st == COVE_OK && d >= 0) {
        wframe *f = &fr[d];
        if (f->child >= v->node_end[f->node]) {
            d--;
            continue;
        }
        uint32_t c = f->child;
        f->child = v->node_end[c];
        uint32_t s2;
        st = gram_set_step(g, f->set, v->byte[c], &s2);
        if (st != COVE_OK)
            break;
        const gram_set *set = &g->sets.sets[s2];
        if (s2 == GRAM_DEAD) {
            if (f->esc && !ulist_add_range(unc, v->order + v->tok0[c], v->sub_end[c] - v->tok0[c]))
                st = COVE_ERR_NOMEM;
            continue;
        }
        for (uint32_t i = 0; i < v->n_tok[c]; i++) {
            int32_t t = v->order[v->tok0[c] + i];
            acc[t >> 5] |= 1u << (t & 31);
        }
        *n_acc += v->n_tok[c];
        uint8_t esc = f->esc || set->end;
        uint32_t below = v->tok0[c] + v->n_tok[c];
        if (set->n_stacks == 0) { /* only END: everything below leaves the rule */
            if (below < v->sub_end[c] &&
                !ulist_add_range(unc, v->order + below, v->sub_end[c] - below))
                st = COVE_ERR_NOMEM;
            continue;
        }
        if (v->node_end[c] > c + 1)
            fr[++d] = (wframe){c, c + 1, s2, esc};
    }
    cove_free(fr);
    return st;
}

static cove_status ptable_build(cove_grammar *g, uint32_t k, gram_ptable **out)
{
    const cove_grammar_vocab *v = g->vocab;
    gram_ptable *pt = cove_calloc(1, sizeof *pt);
    uint32_t *acc = cove_calloc(v->n_words, sizeof *acc);
    ulist unc = {0};
    uint32_t n_acc = 0;
    cove_status st = (!pt || !acc) ? COVE_ERR_NOMEM : walk(g, k, acc, &n_acc, &unc);
    if (st == COVE_OK && n_acc > (uint32_t)v->n_tokens / 64) {
        pt->acc_bits = acc;
        acc = NULL;
        g->ptab_bytes += v->n_words * 4;
    } else if (st == COVE_OK && n_acc) {
        pt->acc_list = cove_malloc(n_acc * sizeof *pt->acc_list);
        if (!pt->acc_list) {
            st = COVE_ERR_NOMEM;
        } else {
            uint32_t j = 0;
            for (size_t w = 0; w < v->n_words; w++)
                for (uint32_t bits = acc[w]; bits; bits &= bits - 1)
                    pt->acc_list[j++] = (int32_t)(w * 32 + (uint32_t)__builtin_ctz(bits));
            g->ptab_bytes += n_acc * 4;
        }
    }
    pt = pt ? pt : NULL;
    if (st != COVE_OK) {
        if (pt) {
            cove_free(pt->acc_bits);
            cove_free(pt->acc_list);
        }
        cove_free(pt);
        cove_free(acc);
        cove_free(unc.v);
        return st;
    }
    pt->n_acc = n_acc;
    pt->unc = unc.v;
    pt->n_unc = unc.n;
    g->ptab_bytes += unc.n * 4 + sizeof *pt;
    cove_free(acc);
    *out = pt;
    return COVE_OK;
}

void gram_ptables_free(cove_grammar *g)
{
    if (!g->ptab)
        return;
    for (uint32_t i = 0; i < g->nfa.n_states; i++) {
        gram_ptable *pt = g->ptab[i];
        if (!pt)
            continue;
        cove_free(pt->acc_bits);
        cove_free(pt->acc_list);
        cove_free(pt->unc);
        cove_free(pt);
    }
}

/* Can the set `id` read all of token t's bytes? */
static cove_status viable(cove_grammar *g, uint32_t id, int32_t t, int *ok)
{
    const cove_grammar_vocab *v = g->vocab;
    const uint8_t *b = (const uint8_t *)v->bytes + v->off[t];
    uint32_t n = v->off[t + 1] - v->off[t], cur = id;
    for (uint32_t i = 0; i < n && cur != GRAM_DEAD; i++) {
        cove_status st = gram_set_step(g, cur, b[i], &cur);
        if (st != COVE_OK)
            return st;
    }
    *ok = cur != GRAM_DEAD;
    return COVE_OK;
}

static cove_status apply_table(cove_grammar *g, uint32_t k, uint32_t *mask)
{
    if (!g->ptab[k]) {
        cove_status st = ptable_build(g, k, &g->ptab[k]);
        if (st != COVE_OK)
            return st;
    }
    const gram_ptable *pt = g->ptab[k];
    if (pt->acc_bits) {
        for (size_t w = 0; w < g->vocab->n_words; w++)
            mask[w] |= pt->acc_bits[w];
    } else {
        for (uint32_t i = 0; i < pt->n_acc; i++)
            mask[pt->acc_list[i] >> 5] |= 1u << (pt->acc_list[i] & 31);
    }
    return COVE_OK;
}

static cove_status check_uncertain(cove_grammar *g, uint32_t set, uint32_t k, uint32_t *mask)
{
    const gram_ptable *pt = g->ptab[k];
    for (uint32_t i = 0; i < pt->n_unc; i++) {
        int32_t t = pt->unc[i];
        if ((mask[t >> 5] >> (t & 31)) & 1)
            continue;
        int ok = 0;
        cove_status st = viable(g, set, t, &ok);
        if (st != COVE_OK)
            return st;
        if (ok)
            mask[t >> 5] |= 1u << (t & 31);
    }
    return COVE_OK;
}

/* The distinct top states of set `id` into tops (at most cap), count in *n. */
static void set_tops(const gram_sets *s, uint32_t id, uint32_t *tops, uint32_t cap, uint32_t *n)
{
    const gram_set *set = &s->sets[id];
    uint32_t cnt = 0;
    for (size_t off = set->off; off < (size_t)set->off + set->len;) {
        uint32_t len = s->words[off], top = s->words[off + len], i = 0;
        while (i < cnt && tops[i] != top)
            i++;
        if (i == cnt && cnt < cap)
            tops[cnt++] = top;
        off += len + 1;
    }
    *n = cnt;
}

static cove_status compute_mask(cove_grammar *g, uint32_t id, uint32_t *mask)
{
    const cove_grammar_vocab *v = g->vocab;
    memset(mask, 0, v->n_words * sizeof *mask);
    if (g->sets.sets[id].end)
        for (int32_t i = 0; i < v->n_eog; i++)
            mask[v->eog_list[i] >> 5] |= 1u << (v->eog_list[i] & 31);
    uint32_t n_st = g->sets.sets[id].n_stacks;
    uint32_t *tops = cove_malloc((n_st + 1) * sizeof *tops), n_tops;
    if (!tops)
        return COVE_ERR_NOMEM;
    set_tops(&g->sets, id, tops, n_st + 1, &n_tops);
    cove_status st = COVE_OK;
    for (uint32_t i = 0; i < n_tops && st == COVE_OK; i++)
        st = apply_table(g, tops[i], mask);
    for (uint32_t i = 0; i < n_tops && st == COVE_OK; i++)
        st = check_uncertain(g, id, tops[i], mask);
    cove_free(tops);
    return st;
}

static cove_status cache_mask(cove_grammar *g, uint32_t id, const uint32_t *mask)
{
    gram_sets *s = &g->sets;
    size_t nw = g->vocab->n_words;
    if (s->n_masks == s->cap_masks) {
        uint32_t nc = s->cap_masks ? s->cap_masks * 2 : 16;
        uint32_t *nm = cove_realloc(s->masks, (size_t)nc * nw * sizeof *nm);
        if (!nm)
            return COVE_ERR_NOMEM;
        s->bytes += (size_t)(nc - s->cap_masks) * nw * 4;
        s->masks = nm;
        s->cap_masks = nc;
    }
    memcpy(s->masks + (size_t)s->n_masks * nw, mask, nw * sizeof *mask);
    s->sets[id].mask = (int32_t)s->n_masks++;
    return COVE_OK;
}

cove_status gram_mask_fill(cove_grammar *g, uint32_t id, uint32_t *mask, cove_error *err)
{
    const gram_set *set = &g->sets.sets[id];
    size_t nw = g->vocab->n_words;
    if (set->mask >= 0) {
        memcpy(mask, g->sets.masks + (size_t)set->mask * nw, nw * sizeof *mask);
        g->masks_cached++;
        return COVE_OK;
    }
    cove_status st = compute_mask(g, id, mask);
    if (st == COVE_OK)
        st = cache_mask(g, id, mask);
    if (st != COVE_OK) {
        memset(mask, 0, nw * sizeof *mask);
        return cove_error_set(err, st, st == COVE_ERR_LIMIT
                                           ? "grammar: a bound on parse stacks was passed (COVE_GRAMMAR_MAX_STACKS or _STACK_DEPTH)"
                                           : "grammar: out of memory computing a token mask");
    }
    g->masks_computed++;
    return COVE_OK;
}
