/*
 * grammar_nfa.c - syntax tree to one byte-level automaton, and per-state closures.
 *
 * Construction is Thompson's: build(node, from, to) adds paths from `from` to `to` whose
 * byte strings are exactly the node's language, adding edges only out of `from`, into
 * `to` and between fresh states; loops only ever turn on fresh states. Character classes
 * over code points become alternatives of UTF-8 byte-range sequences.
 *
 * A rule reference becomes a call state (push the return state, enter the rule) unless
 * the rule is small, has no unbounded repetition and is not recursive: then its body is
 * built in place. Inlining keeps the tables of grammar_mask.c context-independent for
 * the common small rules (a character, optional white space) so that fewer tokens must
 * be checked against the whole stack.
 *
 * Closure of state q (precomputed for all states): the byte-reading states reachable
 * from q without reading, each with the return states pushed on the way, and whether
 * q's rule can end without reading. A rule whose start reaches a call of itself without
 * reading is left-recursive: an error, as in llama.cpp.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/sample/grammar_int.h"

#define INLINE_MAX_SIZE 160 /* syntax size of a rule built in place */
#define INLINE_MAX_DEPTH 32
#define CLOSURE_MAX_DEPTH 2000

typedef struct ebuild {
    uint32_t from, to;
    uint8_t lo, hi, eps;
} ebuild;

typedef struct builder {
    const gram_ast *ast;
    gram_nfa *nfa;
    ebuild *eb;
    size_t n_eb, cap_eb;
    int8_t *inl;     /* per rule: 1 inline, 0 call, -1 unknown, -2 in progress */
    int32_t *size;   /* per rule: syntax size when inlined */
    uint8_t *need;   /* per rule: needs its own automaton */
    cove_error *err;
    cove_status st;
} builder;

static int fail(builder *b, cove_status st, const char *msg)
{
    if (b->st == COVE_OK) {
        b->st = st;
        cove_error_set(b->err, st, "%s", msg);
    }
    return 0;
}

static int32_t new_state(builder *b, int32_t rule)
{
    gram_nfa *n = b->nfa;
    if (n->n_states >= COVE_GRAMMAR_MAX_STATES)
        return fail(b, COVE_ERR_LIMIT, "grammar automaton above COVE_GRAMMAR_MAX_STATES states"), -1;
    if (n->n_states == n->cap_states) {
        uint32_t nc = n->cap_states ? n->cap_states * 2 : 256;
        gram_state *ns = cove_realloc(n->states, nc * sizeof *ns);
        if (!ns)
            return fail(b, COVE_ERR_NOMEM, "out of memory"), -1;
        n->states = ns;
        n->cap_states = nc;
    }
    gram_state *s = &n->states[n->n_states];
    memset(s, 0, sizeof *s);
    s->call_rule = -1;
    s->rule = rule;
    return (int32_t)n->n_states++;
}

static int add_eb(builder *b, uint32_t from, uint32_t to, int lo, int hi, int eps)
{
    if (b->n_eb == b->cap_eb) {
        size_t nc = b->cap_eb ? b->cap_eb * 2 : 1024;
        if (nc > (size_t)COVE_GRAMMAR_MAX_STATES * 4)
            return fail(b, COVE_ERR_LIMIT, "grammar automaton has too many edges");
        ebuild *ne = cove_realloc(b->eb, nc * sizeof *ne);
        if (!ne)
            return fail(b, COVE_ERR_NOMEM, "out of memory");
        b->eb = ne;
        b->cap_eb = nc;
    }
    b->eb[b->n_eb++] = (ebuild){from, to, (uint8_t)lo, (uint8_t)hi, (uint8_t)eps};
    return 1;
}

/* ------------------------------------------------------------- UTF-8 ranges */

static int utf8_len(uint32_t c)
{
    return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

static void utf8_enc(uint32_t c, uint8_t *o)
{
    int n = utf8_len(c);
    if (n == 1) { o[0] = (uint8_t)c; return; }
    for (int i = n - 1; i > 0; i--) {
        o[i] = (uint8_t)(0x80 | (c & 0x3F));
        c >>= 6;
    }
    o[0] = (uint8_t)((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | c);
}

/* A chain of byte ranges lo[i]..hi[i] from `from` to `to`. */
static int emit_chain(builder *b, int32_t rule, uint32_t from, uint32_t to, const uint8_t *lo,
                      const uint8_t *hi, int n)
{
    uint32_t cur = from;
    for (int i = 0; i < n; i++) {
        uint32_t nxt = to;
        if (i < n - 1) {
            int32_t s = new_state(b, rule);
            if (s < 0)
                return 0;
            nxt = (uint32_t)s;
        }
        if (!add_eb(b, cur, nxt, lo[i], hi[i], 0))
            return 0;
        cur = nxt;
    }
    return 1;
}

/* Code points lo..hi, all of one encoded length, split so that each piece is a product
 * of byte ranges. */
static int emit_cp_range(builder *b, int32_t rule, uint32_t from, uint32_t to, uint32_t lo,
                         uint32_t hi)
{
    int n = utf8_len(lo);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0)
                return emit_cp_range(b, rule, from, to, lo, lo | m) &&
                       emit_cp_range(b, rule, from, to, (lo | m) + 1, hi);
            if ((hi & m) != m)
                return emit_cp_range(b, rule, from, to, lo, (hi & ~m) - 1) &&
                       emit_cp_range(b, rule, from, to, hi & ~m, hi);
        }
    }
    uint8_t l[4], h[4];
    utf8_enc(lo, l);
    utf8_enc(hi, h);
    return emit_chain(b, rule, from, to, l, h, n);
}

static int emit_cp(builder *b, int32_t rule, uint32_t from, uint32_t to, uint32_t lo, uint32_t hi)
{
    static const uint32_t bounds[] = {0x7F, 0x7FF, 0xD7FF, 0xDFFF, 0xFFFF, 0x10FFFF};
    uint32_t start = lo;
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0] && start <= hi; i++) {
        if (start > bounds[i])
            continue;
        uint32_t end = hi < bounds[i] ? hi : bounds[i];
        if (bounds[i] != 0xDFFF && !emit_cp_range(b, rule, from, to, start, end))
            return 0;
        start = end + 1;
    }
    return 1;
}

static int cmp_u32pair(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static int build_class(builder *b, const gram_node *nd, int32_t rule, uint32_t from, uint32_t to)
{
    size_t n = (size_t)nd->b;
    uint32_t *r = cove_malloc((n + 1) * 2 * sizeof *r);
    if (!r)
        return fail(b, COVE_ERR_NOMEM, "out of memory");
    if (n)
        memcpy(r, b->ast->ranges + nd->a, n * 2 * sizeof *r);
    qsort(r, n, 2 * sizeof *r, cmp_u32pair);
    size_t m = 0; /* merge */
    for (size_t i = 0; i < n; i++) {
        if (m && r[2 * i] <= r[2 * (m - 1) + 1] + 1) {
            if (r[2 * i + 1] > r[2 * (m - 1) + 1])
                r[2 * (m - 1) + 1] = r[2 * i + 1];
        } else {
            r[2 * m] = r[2 * i];
            r[2 * m + 1] = r[2 * i + 1];
            m++;
        }
    }
    int ok = 1;
    if (nd->negated) {
        uint32_t next = 0;
        for (size_t i = 0; i < m && ok; i++) {
            if (r[2 * i] > next)
                ok = emit_cp(b, rule, from, to, next, r[2 * i] - 1);
            next = r[2 * i + 1] + 1;
        }
        if (ok && next <= 0x10FFFF)
            ok = emit_cp(b, rule, from, to, next, 0x10FFFF);
    } else {
        for (size_t i = 0; i < m && ok; i++)
            ok = emit_cp(b, rule, from, to, r[2 * i], r[2 * i + 1]);
    }
    cove_free(r);
    return ok;
}

/* ------------------------------------------------------------- inlining */

static int32_t node_size(builder *b, int32_t id, int depth);

static int rule_inline(builder *b, int32_t r, int depth)
{
    if (b->inl[r] >= 0)
        return b->inl[r];
    if (b->inl[r] == -2 || depth > INLINE_MAX_DEPTH)
        return 0; /* recursive, or too deep to judge */
    b->inl[r] = -2;
    int32_t s = node_size(b, b->ast->rules[r].body, depth + 1);
    b->size[r] = s;
    b->inl[r] = (int8_t)(s >= 0 && s <= INLINE_MAX_SIZE);
    return b->inl[r];
}

/* Size of a node built in place; -1 when it loops or is too large to inline. */
static int32_t node_size(builder *b, int32_t id, int depth)
{
    const gram_node *n = &b->ast->nodes[id];
    int64_t s = 0;
    switch (n->type) {
    case GN_LIT: return n->b + 1;
    case GN_CLASS: return 4 + n->b;
    case GN_REF: return rule_inline(b, n->a, depth) ? b->size[n->a] : 1;
    case GN_REP: {
        if (n->b < 0)
            return -1;
        int32_t c = node_size(b, n->first, depth);
        if (c < 0)
            return -1;
        s = (int64_t)c * (n->b ? n->b : 1);
        break;
    }
    default:
        for (int32_t c = n->first; c >= 0; c = b->ast->nodes[c].next) {
            int32_t cs = node_size(b, c, depth);
            if (cs < 0)
                return -1;
            s += cs;
            if (s > INLINE_MAX_SIZE)
                return -1;
        }
        s++;
    }
    return s > INLINE_MAX_SIZE ? -1 : (int32_t)s;
}

/* ------------------------------------------------------------- construction */

static int build(builder *b, int32_t id, int32_t rule, uint32_t from, uint32_t to, int depth);

static int build_seq(builder *b, const gram_node *n, int32_t rule, uint32_t from, uint32_t to,
                     int depth)
{
    if (n->first < 0)
        return add_eb(b, from, to, 0, 0, 1);
    uint32_t cur = from;
    for (int32_t c = n->first; c >= 0; c = b->ast->nodes[c].next) {
        uint32_t nxt = to;
        if (b->ast->nodes[c].next >= 0) {
            int32_t s = new_state(b, rule);
            if (s < 0)
                return 0;
            nxt = (uint32_t)s;
        }
        if (!build(b, c, rule, cur, nxt, depth))
            return 0;
        cur = nxt;
    }
    return 1;
}

static int build_rep(builder *b, const gram_node *n, int32_t rule, uint32_t from, uint32_t to,
                     int depth)
{
    int32_t min = n->a, max = n->b;
    if (min == 0 && max == 0)
        return add_eb(b, from, to, 0, 0, 1);
    uint32_t cur = from;
    for (int32_t i = 0; i < min; i++) {
        uint32_t nxt = to;
        if (!(i == min - 1 && max == min)) {
            int32_t s = new_state(b, rule);
            if (s < 0)
                return 0;
            nxt = (uint32_t)s;
        }
        if (!build(b, n->first, rule, cur, nxt, depth))
            return 0;
        cur = nxt;
    }
    if (max == min)
        return 1;
    if (max < 0) {
        int32_t k = new_state(b, rule);
        return k >= 0 && add_eb(b, cur, (uint32_t)k, 0, 0, 1) &&
               build(b, n->first, rule, (uint32_t)k, (uint32_t)k, depth) &&
               add_eb(b, (uint32_t)k, to, 0, 0, 1);
    }
    for (int32_t i = min; i < max; i++) {
        if (!add_eb(b, cur, to, 0, 0, 1))
            return 0;
        uint32_t nxt = to;
        if (i < max - 1) {
            int32_t s = new_state(b, rule);
            if (s < 0)
                return 0;
            nxt = (uint32_t)s;
        }
        if (!build(b, n->first, rule, cur, nxt, depth))
            return 0;
        cur = nxt;
    }
    return 1;
}

static int build_ref(builder *b, const gram_node *n, int32_t rule, uint32_t from, uint32_t to,
                     int depth)
{
    int32_t r = n->a;
    if (depth < INLINE_MAX_DEPTH && rule_inline(b, r, 0))
        return build(b, b->ast->rules[r].body, rule, from, to, depth + 1);
    int32_t c = new_state(b, rule);
    if (c < 0)
        return 0;
    b->nfa->states[c].call_rule = r;
    b->nfa->states[c].call_ret = to;
    b->need[r] = 1;
    return add_eb(b, from, (uint32_t)c, 0, 0, 1);
}

static int build(builder *b, int32_t id, int32_t rule, uint32_t from, uint32_t to, int depth)
{
    const gram_node *n = &b->ast->nodes[id];
    switch (n->type) {
    case GN_LIT:
        if (n->b == 0)
            return add_eb(b, from, to, 0, 0, 1);
        return emit_chain(b, rule, from, to, (const uint8_t *)b->ast->bytes + n->a,
                          (const uint8_t *)b->ast->bytes + n->a, n->b);
    case GN_CLASS: return build_class(b, n, rule, from, to);
    case GN_REF: return build_ref(b, n, rule, from, to, depth);
    case GN_REP: return build_rep(b, n, rule, from, to, depth);
    case GN_SEQ: return build_seq(b, n, rule, from, to, depth);
    default:
        if (n->first >= 0 && b->ast->nodes[n->first].next < 0)
            return build(b, n->first, rule, from, to, depth);
        for (int32_t c = n->first; c >= 0; c = b->ast->nodes[c].next)
            if (!build(b, c, rule, from, to, depth))
                return 0;
        return 1;
    }
}

static int cmp_eb(const void *a, const void *b)
{
    const ebuild *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    if (x->eps != y->eps)
        return x->eps < y->eps ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort the collected edges into per-state byte edges and epsilon lists. */
static int finish_edges(builder *b)
{
    gram_nfa *n = b->nfa;
    qsort(b->eb, b->n_eb, sizeof *b->eb, cmp_eb);
    n->edges = cove_malloc((b->n_eb + 1) * sizeof *n->edges);
    n->eps = cove_malloc((b->n_eb + 1) * sizeof *n->eps);
    if (!n->edges || !n->eps)
        return fail(b, COVE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < b->n_eb; i++) {
        const ebuild *e = &b->eb[i];
        gram_state *s = &n->states[e->from];
        if (e->eps) {
            if (!s->n_eps)
                s->eps0 = n->n_eps;
            s->n_eps++;
            n->eps[n->n_eps++] = e->to;
        } else {
            if (!s->n_edges)
                s->edge0 = n->n_edges;
            s->n_edges++;
            n->edges[n->n_edges++] = (gram_edge){e->lo, e->hi, e->to};
        }
    }
    return 1;
}

/* ------------------------------------------------------------- closures */

/* Room for n more words in the closure pool. */
static int pool_reserve(builder *b, uint32_t n)
{
    gram_nfa *f = b->nfa;
    if (f->n_pool + n <= f->cap_pool)
        return 1;
    uint32_t nc = f->cap_pool ? f->cap_pool : 1024;
    while (nc < f->n_pool + n)
        nc *= 2;
    if (nc > COVE_GRAMMAR_MAX_CLOSURE * 4)
        return fail(b, COVE_ERR_LIMIT, "grammar too ambiguous: its closures pass COVE_GRAMMAR_MAX_CLOSURE items");
    uint32_t *np = cove_realloc(f->pool, (size_t)nc * sizeof *np);
    if (!np)
        return fail(b, COVE_ERR_NOMEM, "out of memory");
    f->pool = np;
    f->cap_pool = nc;
    return 1;
}

typedef struct citems {
    gram_citem *v;
    size_t n, cap;
} citems;

/* Add item (k, [ret] ++ inner's pushes) unless present; ret UINT32_MAX: none. */
static int citem_add(builder *b, citems *c, uint32_t k, uint32_t ret, const gram_citem *inner)
{
    gram_nfa *f = b->nfa;
    uint32_t n_in = inner ? inner->n_push : 0;
    uint32_t n_push = n_in + (ret != UINT32_MAX);
    if (!pool_reserve(b, n_push))
        return 0;
    uint32_t off = f->n_pool;
    if (ret != UINT32_MAX)
        f->pool[f->n_pool++] = ret;
    if (n_in) {
        memmove(f->pool + f->n_pool, f->pool + inner->push0, n_in * sizeof *f->pool);
        f->n_pool += n_in;
    }
    for (size_t i = 0; i < c->n; i++) {
        const gram_citem *o = &c->v[i];
        if (o->k == k && o->n_push == n_push &&
            (n_push == 0 || memcmp(f->pool + o->push0, f->pool + off, n_push * 4) == 0)) {
            f->n_pool = off;
            return 1;
        }
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        gram_citem *nv = cove_realloc(c->v, nc * sizeof *nv);
        if (!nv)
            return fail(b, COVE_ERR_NOMEM, "out of memory");
        c->v = nv;
        c->cap = nc;
    }
    c->v[c->n++] = (gram_citem){k, off, n_push};
    return 1;
}

static int closure_of(builder *b, uint32_t q, int depth);

static int todo_push(builder *b, uint32_t **todo, size_t *n, size_t *cap, uint32_t x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        uint32_t *nt = cove_realloc(*todo, nc * sizeof *nt);
        if (!nt)
            return fail(b, COVE_ERR_NOMEM, "out of memory");
        *todo = nt;
        *cap = nc;
    }
    (*todo)[(*n)++] = x;
    return 1;
}

/* One state x of the epsilon walk: its items, finality, call. */
static int closure_visit(builder *b, uint32_t x, citems *c, uint8_t *nullable, uint32_t **todo,
                         size_t *n_todo, size_t *cap_todo, int depth)
{
    gram_nfa *f = b->nfa;
    const gram_state s = f->states[x];
    if (s.n_edges && !citem_add(b, c, x, UINT32_MAX, NULL))
        return 0;
    if (s.final)
        *nullable = 1;
    if (s.call_rule >= 0) {
        uint32_t st = f->rule_start[s.call_rule];
        if (!closure_of(b, st, depth + 1))
            return 0;
        for (uint32_t i = 0; i < f->n_clos[st]; i++) {
            gram_citem it = f->citems[f->clos0[st] + i];
            if (!citem_add(b, c, it.k, s.call_ret, &it))
                return 0;
        }
        if (f->nullable[st] && !todo_push(b, todo, n_todo, cap_todo, s.call_ret))
            return 0;
    }
    for (uint32_t i = 0; i < s.n_eps; i++)
        if (!todo_push(b, todo, n_todo, cap_todo, f->eps[s.eps0 + i]))
            return 0;
    return 1;
}

static int left_recursion(builder *b, uint32_t q)
{
    const gram_rule *r = &b->ast->rules[b->nfa->states[q].rule];
    if (b->st == COVE_OK) {
        b->st = COVE_ERR_FORMAT;
        cove_error_set(b->err, COVE_ERR_FORMAT, "%d:%d: rule '%s' is left-recursive", r->line,
                       r->col, r->name);
    }
    return 0;
}

static int store_closure(builder *b, uint32_t q, const citems *c, uint8_t nullable)
{
    gram_nfa *f = b->nfa;
    if (f->n_citems + c->n > COVE_GRAMMAR_MAX_CLOSURE)
        return fail(b, COVE_ERR_LIMIT, "grammar too ambiguous: its closures pass COVE_GRAMMAR_MAX_CLOSURE items");
    if (f->n_citems + c->n > f->cap_citems) {
        uint32_t nc = f->cap_citems ? f->cap_citems : 256;
        while (nc < f->n_citems + c->n)
            nc *= 2;
        gram_citem *ni = cove_realloc(f->citems, nc * sizeof *ni);
        if (!ni)
            return fail(b, COVE_ERR_NOMEM, "out of memory");
        f->citems = ni;
        f->cap_citems = nc;
    }
    f->clos0[q] = f->n_citems;
    f->n_clos[q] = (uint32_t)c->n;
    if (c->n)
        memcpy(f->citems + f->n_citems, c->v, c->n * sizeof *c->v);
    f->n_citems += (uint32_t)c->n;
    f->nullable[q] = nullable;
    return 1;
}

/* Compute the closure of q, memoised (nullable: 0xFF unknown, 0xFE in progress). */
static int closure_of(builder *b, uint32_t q, int depth)
{
    gram_nfa *f = b->nfa;
    if (f->nullable[q] == 0xFE)
        return left_recursion(b, q);
    if (f->nullable[q] != 0xFF)
        return 1;
    if (depth > CLOSURE_MAX_DEPTH)
        return fail(b, COVE_ERR_LIMIT, "rules nested too deeply without reading a byte");
    f->nullable[q] = 0xFE;
    citems c = {0};
    uint32_t *seen = NULL, *todo = NULL;
    size_t n_seen = 0, cap_seen = 0, n_todo = 0, cap_todo = 0;
    uint8_t nullable = 0;
    int ok = todo_push(b, &todo, &n_todo, &cap_todo, q);
    while (ok && n_todo) {
        uint32_t x = todo[--n_todo];
        size_t i = 0;
        while (i < n_seen && seen[i] != x)
            i++;
        if (i < n_seen)
            continue;
        ok = todo_push(b, &seen, &n_seen, &cap_seen, x) &&
             closure_visit(b, x, &c, &nullable, &todo, &n_todo, &cap_todo, depth);
    }
    ok = ok && store_closure(b, q, &c, nullable);
    cove_free(c.v);
    cove_free(seen);
    cove_free(todo);
    return ok;
}

static int build_closures(builder *b)
{
    gram_nfa *f = b->nfa;
    f->clos0 = cove_calloc(f->n_states, sizeof *f->clos0);
    f->n_clos = cove_calloc(f->n_states, sizeof *f->n_clos);
    f->nullable = cove_malloc(f->n_states);
    if (!f->clos0 || !f->n_clos || !f->nullable)
        return fail(b, COVE_ERR_NOMEM, "out of memory");
    memset(f->nullable, 0xFF, f->n_states);
    for (uint32_t q = 0; q < f->n_states; q++)
        if (!closure_of(b, q, 0))
            return 0;
    return 1;
}

/* ------------------------------------------------------------- entry points */

static int build_rules(builder *b)
{
    gram_nfa *f = b->nfa;
    const gram_ast *a = b->ast;
    b->need[a->root] = 1;
    for (int progress = 1; progress;) {
        progress = 0;
        for (int32_t r = 0; r < a->n_rules; r++) {
            if (!b->need[r] || f->rule_start[r] != UINT32_MAX)
                continue;
            int32_t s = new_state(b, r), e = new_state(b, r);
            if (s < 0 || e < 0)
                return 0;
            f->states[e].final = 1;
            f->rule_start[r] = (uint32_t)s;
            if (!build(b, a->rules[r].body, r, (uint32_t)s, (uint32_t)e, 0))
                return 0;
            progress = 1;
        }
    }
    f->start = f->rule_start[a->root];
    return 1;
}

cove_status gram_nfa_build(const gram_ast *ast, gram_nfa *nfa, cove_error *err)
{
    memset(nfa, 0, sizeof *nfa);
    builder b = {.ast = ast, .nfa = nfa, .err = err, .st = COVE_OK};
    int32_t nr = ast->n_rules;
    nfa->n_rules = nr;
    b.inl = cove_malloc((size_t)nr);
    b.size = cove_calloc((size_t)nr, sizeof *b.size);
    b.need = cove_calloc((size_t)nr, 1);
    nfa->rule_start = cove_malloc((size_t)nr * sizeof *nfa->rule_start);
    int ok = b.inl && b.size && b.need && nfa->rule_start;
    if (!ok) {
        fail(&b, COVE_ERR_NOMEM, "out of memory");
    } else {
        memset(b.inl, 0xFF, (size_t)nr);
        memset(nfa->rule_start, 0xFF, (size_t)nr * sizeof *nfa->rule_start);
        ok = build_rules(&b) && finish_edges(&b) && build_closures(&b);
    }
    cove_free(b.inl);
    cove_free(b.size);
    cove_free(b.need);
    cove_free(b.eb);
    if (!ok) {
        gram_nfa_release(nfa);
        return b.st != COVE_OK ? b.st : COVE_ERR_INTERNAL;
    }
    return COVE_OK;
}

void gram_nfa_release(gram_nfa *nfa)
{
    if (!nfa)
        return;
    cove_free(nfa->states);
    cove_free(nfa->edges);
    cove_free(nfa->eps);
    cove_free(nfa->rule_start);
    cove_free(nfa->clos0);
    cove_free(nfa->n_clos);
    cove_free(nfa->nullable);
    cove_free(nfa->citems);
    cove_free(nfa->pool);
    memset(nfa, 0, sizeof *nfa);
}
