/*
 * kb/hnsw.c - a hierarchical navigable small world graph over a cove_kb_vindex.
 *
 * Layout: node i has a level drawn as floor(-ln U / ln m) from a hash of (seed, i), so a
 * node's level does not depend on the order of insertion. Layer 0 links of node i are
 * l0[i * (m0 + 1)]: a count then up to m0 = 2m neighbour positions; upper layer l (1 ..
 * level) links are up[(uoff[i] + l - 1) * (m + 1)], same shape. Similarities are int8 dot
 * products scaled by both vectors' scales (the same numbers the exact scan ranks by);
 * a search re-ranks its ef candidates with the set's exact dot products at the end.
 * Neighbours are chosen with the diversity heuristic of the HNSW paper (a candidate is
 * kept when it is closer to the new node than to every neighbour kept before it), which
 * keeps clustered data connected.
 *
 * Building and extending insert nodes concurrently on a pool: the first SERIAL_FIRST
 * nodes one by one, the rest handed out in small batches. Every node has a spin lock
 * that guards all of its link lists: a reader copies a list under the lock, a writer
 * (the node's own insertion, or a new node linking back to it and pruning) holds it while
 * it rewrites the list. The entry point and the top level are guarded by one mutex, held
 * for the whole insertion of a node that raises the top level (a few nodes per graph).
 * No thread holds two node locks at once, so there is no lock order to keep. Results
 * depend on thread timing; recall does not, measurably.
 *
 * Removal marks nodes removed and repairs the graph: every live node that linked to a
 * removed one chooses its list again among its live links and the removed node's live
 * links, so removed nodes become unreachable and need no vector any more.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "kb/vindex_int.h"

#define HNSW_MAGIC 0x484b4243u /* "CBKH" */
#define HNSW_VERSION 2         /* 1: no ids, hashes or removed nodes (read as foreign) */
#define HNSW_MAX_LEVEL 24
#define SERIAL_FIRST 1024      /* nodes inserted one by one before the parallel phase */
#define BATCH 16               /* nodes a thread takes at once in the parallel phase */

struct cove_kb_hnsw {
    int32_t m, m0, ef, efc;
    int32_t max_level;
    uint32_t entry;
    uint64_t seed;
    int32_t dim;
    size_t n, n_removed, cap;
    uint8_t *level;   /* n */
    uint8_t *removed; /* n: 1 for a removed node (no links, never returned) */
    int64_t *ids;     /* n: the vindex id of each node when it was inserted */
    uint32_t *vhash;  /* n: cove_kb_vindex_hash of each node's vector */
    uint32_t *l0;     /* n * (m0 + 1) */
    size_t *uoff;     /* n: first upper slot of the node */
    uint32_t *up;     /* n_up * (m + 1) */
    size_t n_up;
};

cove_kb_hnsw_params cove_kb_hnsw_default_params(void)
{
    return (cove_kb_hnsw_params){16, 100, 256, 42};
}

void cove_kb_hnsw_free(cove_kb_hnsw *h)
{
    if (!h)
        return;
    cove_free(h->level);
    cove_free(h->removed);
    cove_free(h->ids);
    cove_free(h->vhash);
    cove_free(h->l0);
    cove_free(h->uoff);
    cove_free(h->up);
    cove_free(h);
}

void cove_kb_hnsw_set_ef(cove_kb_hnsw *h, int32_t ef_search)
{
    if (h && ef_search > 0)
        h->ef = ef_search;
}

size_t cove_kb_hnsw_size(const cove_kb_hnsw *h) { return h ? h->n : 0; }
size_t cove_kb_hnsw_n_removed(const cove_kb_hnsw *h) { return h ? h->n_removed : 0; }
int cove_kb_hnsw_is_removed(const cove_kb_hnsw *h, size_t i) { return h->removed[i]; }
int64_t cove_kb_hnsw_node_id(const cove_kb_hnsw *h, size_t i) { return h->ids[i]; }
uint32_t cove_kb_hnsw_node_hash(const cove_kb_hnsw *h, size_t i) { return h->vhash[i]; }

static uint32_t *links(const cove_kb_hnsw *h, uint32_t i, int lvl)
{
    if (lvl == 0)
        return h->l0 + (size_t)i * (size_t)(h->m0 + 1);
    return h->up + (h->uoff[i] + (size_t)lvl - 1) * (size_t)(h->m + 1);
}

/* ---- the query being searched: an int8 vector and its scale ---- */

typedef struct query {
    const cove_kb_vindex *v;
    const int8_t *q8;
    float scale;
    cove_kb_dots_fn dots;
} query;

static float sim(const query *q, uint32_t i)
{
    int32_t d;
    q->dots(q->q8, q->v->q8 + (size_t)i * (size_t)q->v->stride, (size_t)q->v->stride, 1, &d);
    return (float)d * q->scale * q->v->scale[i];
}

static void prefetch_vec(const cove_kb_vindex *v, uint32_t i)
{
    const char *p = (const char *)(v->q8 + (size_t)i * (size_t)v->stride);
    for (int32_t off = 0; off < v->stride; off += 64)
        __builtin_prefetch(p + off);
}

/*
 * ---- visited sets ----
 * While building: one tag a node per thread, the set cleared by bumping the epoch (O(1)).
 * While searching: open addressing on node positions (a query touches a few thousand nodes,
 * so it allocates little however large the graph).
 */
typedef struct visited {
    uint32_t *tag, epoch; /* build: tag[i] == epoch when visited */
    uint32_t *slot;       /* search: value + 1; 0 is empty */
    size_t cap, n;
} visited;

static void visited_clear(visited *vs, size_t n_tags)
{
    if (vs->tag) {
        if (++vs->epoch == 0) { /* wrapped: start over */
            memset(vs->tag, 0, n_tags * sizeof *vs->tag);
            vs->epoch = 1;
        }
        return;
    }
    vs->n = 0;
    if (vs->slot)
        memset(vs->slot, 0, vs->cap * sizeof *vs->slot);
}

static int visited_grow(visited *vs)
{
    size_t cap = vs->cap ? vs->cap * 2 : 4096;
    uint32_t *s = cove_calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < vs->cap; i++)
        if (vs->slot[i]) {
            size_t j = (vs->slot[i] * 2654435761u) & (cap - 1);
            while (s[j])
                j = (j + 1) & (cap - 1);
            s[j] = vs->slot[i];
        }
    cove_free(vs->slot);
    vs->slot = s;
    vs->cap = cap;
    return 0;
}

static int visit(visited *vs, uint32_t id) /* 1 when newly added; -1 out of memory */
{
    if (vs->tag) {
        if (vs->tag[id] == vs->epoch)
            return 0;
        vs->tag[id] = vs->epoch;
        return 1;
    }
    if (vs->n * 2 >= vs->cap && visited_grow(vs) < 0)
        return -1;
    size_t j = ((id + 1) * 2654435761u) & (vs->cap - 1);
    while (vs->slot[j]) {
        if (vs->slot[j] == id + 1)
            return 0;
        j = (j + 1) & (vs->cap - 1);
    }
    vs->slot[j] = id + 1;
    vs->n++;
    return 1;
}

/* ---- heaps of (sim, id): max-heap (max = 1) or min-heap (max = 0) ---- */

typedef struct cand { float s; uint32_t id; } cand;
typedef struct heap { cand *a; int32_t n, cap; int max; } heap;

static int before(const heap *h, cand x, cand y) { return h->max ? x.s > y.s : x.s < y.s; }

static void hpush(heap *h, cand c)
{
    int32_t i = h->n++;
    while (i > 0 && before(h, c, h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = c;
}

static cand hpop(heap *h)
{
    cand top = h->a[0], last = h->a[--h->n];
    int32_t i = 0;
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        cand best = last;
        if (l < h->n && before(h, h->a[l], best)) { m = l; best = h->a[l]; }
        if (r < h->n && before(h, h->a[r], best)) m = r;
        if (m == i)
            break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

/* ---- per-node spin locks (NULL while searching: the graph is then read-only) ---- */

typedef _Atomic unsigned char node_lock;

static void lock_node(node_lock *lk, uint32_t i)
{
    if (!lk)
        return;
    for (int spins = 0; atomic_exchange_explicit(&lk[i], 1, memory_order_acquire);)
        if (++spins == 64) { /* the holder may have lost its core: let it run */
            sched_yield();
            spins = 0;
        }
}

static void unlock_node(node_lock *lk, uint32_t i)
{
    if (lk)
        atomic_store_explicit(&lk[i], 0, memory_order_release);
}

/* Copy the level-lvl links of node i into out (m0 + 1 words: count, then positions). */
static void read_links(const cove_kb_hnsw *h, node_lock *lk, uint32_t i, int lvl, uint32_t *out)
{
    lock_node(lk, i);
    const uint32_t *ln = links(h, i, lvl);
    memcpy(out, ln, (size_t)(ln[0] + 1) * sizeof *out);
    unlock_node(lk, i);
}

/* Walk greedily towards q on layers top .. stop+1, from ep, never onto node self. */
static cand greedy(const cove_kb_hnsw *h, node_lock *lk, const query *q, cand ep, int top,
                   int stop, uint32_t self, uint32_t *buf)
{
    for (int l = top; l > stop; l--)
        for (int moved = 1; moved;) {
            moved = 0;
            read_links(h, lk, ep.id, l, buf);
            for (uint32_t j = 1; j <= buf[0]; j++) {
                float s = buf[j] == self ? ep.s : sim(q, buf[j]);
                if (s > ep.s) {
                    ep = (cand){s, buf[j]};
                    moved = 1;
                }
            }
        }
    return ep;
}

/*
 * Search one layer from the entries in res (a min-heap of at most ef, already filled)
 * following links of level lvl. cands must have room for every visited node
 * (scratch); res keeps the ef best. buf: m0 + 1 words of scratch.
 * Returns COVE_ERR_NOMEM from the visited set.
 */
static cove_status search_layer(const cove_kb_hnsw *h, node_lock *lk, const query *q, int lvl,
                                int32_t ef, heap *res, heap *cands, visited *vs, uint32_t *buf)
{
    cands->n = 0;
    for (int32_t i = 0; i < res->n; i++)
        hpush(cands, res->a[i]);
    while (cands->n) {
        cand c = hpop(cands);
        if (res->n >= ef && c.s < res->a[0].s)
            break;
        read_links(h, lk, c.id, lvl, buf);
        uint32_t fresh = 0;
        for (uint32_t j = 1; j <= buf[0]; j++) { /* keep the unvisited, fetch their vectors */
            int nv = visit(vs, buf[j]);
            if (nv < 0)
                return COVE_ERR_NOMEM;
            if (nv) {
                buf[++fresh] = buf[j];
                prefetch_vec(q->v, buf[j]);
            }
        }
        for (uint32_t j = 1; j <= fresh; j++) {
            cand e = {sim(q, buf[j]), buf[j]};
            if (res->n < ef || e.s > res->a[0].s) {
                if (cands->n < cands->cap)
                    hpush(cands, e);
                hpush(res, e);
                if (res->n > ef)
                    hpop(res);
            }
        }
    }
    return COVE_OK;
}

/* Similarity of two stored vectors. */
static float sim_nodes(const cove_kb_vindex *v, cove_kb_dots_fn dots, uint32_t a, uint32_t b)
{
    int32_t d;
    dots(v->q8 + (size_t)a * (size_t)v->stride, v->q8 + (size_t)b * (size_t)v->stride,
         (size_t)v->stride, 1, &d);
    return (float)d * v->scale[a] * v->scale[b];
}

/*
 * Keep at most max of the candidates c[0..n) (sorted best first by similarity to the
 * node): the diversity heuristic, then the best of the rest to fill up. Returns the count
 * written to out.
 */
static int32_t select_neighbours(const cove_kb_vindex *v, cove_kb_dots_fn dots, const cand *c,
                                 int32_t n, int32_t max, uint32_t *out, uint8_t *taken,
                                 int fill)
{
    int32_t k = 0;
    for (int32_t i = 0; i < n && k < max; i++) {
        int good = 1;
        for (int32_t j = 0; j < k && good; j++)
            if (sim_nodes(v, dots, c[i].id, out[j]) > c[i].s)
                good = 0;
        taken[i] = (uint8_t)good;
        if (good)
            out[k++] = c[i].id;
    }
    for (int32_t i = 0; fill && i < n && k < max; i++) /* fill up with the nearest left out */
        if (!taken[i])
            out[k++] = c[i].id;
    return k;
}

static int cmp_cand_desc(const void *a, const void *b)
{
    float x = ((const cand *)a)->s, y = ((const cand *)b)->s;
    return x < y ? 1 : x > y ? -1 : (((const cand *)a)->id > ((const cand *)b)->id) -
                                    (((const cand *)a)->id < ((const cand *)b)->id);
}

/* ---- insertion ---- */

typedef struct worker {
    heap res, cands;
    cand *tmp;       /* sort scratch: efc + m0 + 2 */
    uint8_t *taken;  /* efc + m0 + 2 */
    uint32_t *buf;   /* one copied link list: m0 + 1 */
    uint32_t *sel;   /* the neighbours chosen for the new node: m0 */
    visited vs;      /* tags for every node */
} worker;

typedef struct builder {
    cove_kb_hnsw *h;
    const cove_kb_vindex *v;
    cove_kb_dots_fn dots;
    node_lock *lock;      /* n */
    pthread_mutex_t top;  /* entry and max_level */
    atomic_size_t next;   /* the next node to hand out */
    size_t end;
    worker *w;            /* one per thread */
} builder;

static void worker_release(worker *w)
{
    cove_free(w->res.a);
    cove_free(w->cands.a);
    cove_free(w->tmp);
    cove_free(w->taken);
    cove_free(w->buf);
    cove_free(w->sel);
    cove_free(w->vs.tag);
}

static cove_status worker_init(worker *w, const cove_kb_hnsw *h)
{
    int32_t cap = h->efc + h->m0 + 2;
    w->res = (heap){cove_malloc((size_t)cap * sizeof(cand)), 0, cap, 0};
    w->cands = (heap){cove_malloc((size_t)cap * 64 * sizeof(cand)), 0, cap * 64, 1};
    w->tmp = cove_malloc((size_t)cap * sizeof(cand));
    w->taken = cove_malloc((size_t)cap);
    w->buf = cove_malloc((size_t)(h->m0 + 1) * sizeof(uint32_t));
    w->sel = cove_malloc((size_t)h->m0 * sizeof(uint32_t));
    w->vs = (visited){cove_calloc(h->n, sizeof(uint32_t)), 0, NULL, 0, 0};
    return w->res.a && w->cands.a && w->tmp && w->taken && w->buf && w->sel && w->vs.tag
               ? COVE_OK : COVE_ERR_NOMEM;
}

/* Add link a -> to at level lvl, pruning a's list when it is full. */
static void add_link(builder *b, worker *w, uint32_t a, uint32_t to, int lvl)
{
    cove_kb_hnsw *h = b->h;
    uint32_t max = (uint32_t)(lvl ? h->m : h->m0);
    lock_node(b->lock, a);
    uint32_t *ln = links(h, a, lvl), k = 1;
    while (k <= ln[0] && ln[k] != to) /* a may have found the new node already */
        k++;
    if (k <= ln[0]) {
        /* already linked */
    } else if (ln[0] < max) {
        ln[++ln[0]] = to;
    } else {
        int32_t n = 0;
        for (uint32_t j = 1; j <= ln[0]; j++)
            w->tmp[n++] = (cand){sim_nodes(b->v, b->dots, a, ln[j]), ln[j]};
        w->tmp[n++] = (cand){sim_nodes(b->v, b->dots, a, to), to};
        qsort(w->tmp, (size_t)n, sizeof *w->tmp, cmp_cand_desc);
        ln[0] = (uint32_t)select_neighbours(b->v, b->dots, w->tmp, n, (int32_t)max, ln + 1,
                                            w->taken, 0);
    }
    unlock_node(b->lock, a);
}

static void insert_node(builder *b, worker *w, uint32_t i)
{
    cove_kb_hnsw *h = b->h;
    const cove_kb_vindex *v = b->v;
    query q = {v, v->q8 + (size_t)i * (size_t)v->stride, v->scale[i], b->dots};
    int lvl = h->level[i];
    pthread_mutex_lock(&b->top);
    uint32_t entry = h->entry;
    int top = h->max_level, hold = lvl > top; /* a new top level: keep others off the top */
    if (!hold)
        pthread_mutex_unlock(&b->top);
    cand ep = greedy(h, b->lock, &q, (cand){sim(&q, entry), entry}, top, lvl, i, w->buf);
    visited_clear(&w->vs, h->n);
    visit(&w->vs, i); /* another thread may link to i already: never link i to itself */
    w->res.n = 0;
    hpush(&w->res, ep);
    visit(&w->vs, ep.id);
    for (int l = lvl < top ? lvl : top; l >= 0; l--) {
        search_layer(h, b->lock, &q, l, h->efc, &w->res, &w->cands, &w->vs, w->buf);
        int32_t n = w->res.n, max = l ? h->m : h->m0;
        memcpy(w->tmp, w->res.a, (size_t)n * sizeof *w->tmp);
        qsort(w->tmp, (size_t)n, sizeof *w->tmp, cmp_cand_desc);
        int32_t k = select_neighbours(v, b->dots, w->tmp, n, max, w->sel, w->taken, 1);
        lock_node(b->lock, i);
        uint32_t *ln = links(h, i, l);
        memcpy(ln + 1, w->sel, (size_t)k * sizeof *ln);
        ln[0] = (uint32_t)k;
        unlock_node(b->lock, i);
        for (int32_t j = 0; j < k; j++)
            add_link(b, w, w->sel[j], i, l);
    }
    if (hold) {
        h->max_level = lvl;
        h->entry = i;
        pthread_mutex_unlock(&b->top);
    }
}

static void insert_job(void *ctx, int ith, int nth)
{
    (void)nth;
    builder *b = ctx;
    for (;;) {
        size_t s = atomic_fetch_add(&b->next, BATCH);
        if (s >= b->end)
            return;
        size_t e = s + BATCH < b->end ? s + BATCH : b->end;
        for (size_t i = s; i < e; i++)
            insert_node(b, &b->w[ith], (uint32_t)i);
    }
}

/* Insert nodes [begin, h->n) of v: the first ones serially, the rest on the pool. */
static cove_status insert_range(cove_kb_hnsw *h, const cove_kb_vindex *v, cove_pool *pool,
                                size_t begin)
{
    int nth = pool ? cove_pool_size(pool) : 1;
    builder b = {.h = h, .v = v, .dots = cove_kb_dots_pick(), .end = h->n};
    b.lock = cove_calloc(h->n, sizeof *b.lock);
    b.w = cove_calloc((size_t)nth, sizeof *b.w);
    cove_status s = b.lock && b.w ? COVE_OK : COVE_ERR_NOMEM;
    for (int t = 0; t < nth && s == COVE_OK; t++)
        s = worker_init(&b.w[t], h);
    if (s == COVE_OK && pthread_mutex_init(&b.top, NULL) != 0)
        s = COVE_ERR_NOMEM;
    if (s == COVE_OK) {
        size_t serial = begin < SERIAL_FIRST ? SERIAL_FIRST : begin;
        for (size_t i = begin; i < serial && i < h->n; i++)
            insert_node(&b, &b.w[0], (uint32_t)i);
        atomic_init(&b.next, serial);
        if (serial < h->n)
            s = pool && nth > 1 ? cove_pool_run(pool, insert_job, &b)
                                : (insert_job(&b, 0, 1), COVE_OK);
        pthread_mutex_destroy(&b.top);
    }
    for (int t = 0; b.w && t < nth; t++)
        worker_release(&b.w[t]);
    cove_free(b.w);
    cove_free(b.lock);
    return s;
}

/* The level of node i: a geometric draw from a hash of (seed, i). */
static int draw_level(uint64_t seed, size_t i, int32_t m)
{
    uint64_t x = seed + 0x9e3779b97f4a7c15ull * ((uint64_t)i + 1);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    double u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
    int l = (int)floor(-log(u) / log((double)m));
    return l > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : l;
}

static cove_status grow_array(void **p, size_t n, size_t size)
{
    void *q = cove_realloc(*p, n * size);
    if (!q)
        return COVE_ERR_NOMEM;
    *p = q;
    return COVE_OK;
}

/* Make room for nodes [h->n, n): draw levels, take ids and hashes from v, empty links. */
static cove_status add_nodes(cove_kb_hnsw *h, const cove_kb_vindex *v, size_t n)
{
    if (n > h->cap) {
        size_t cap = h->cap * 2 > n ? h->cap * 2 : n;
        cove_status s = grow_array((void **)&h->level, cap, 1);
        if (s == COVE_OK)
            s = grow_array((void **)&h->removed, cap, 1);
        if (s == COVE_OK)
            s = grow_array((void **)&h->ids, cap, sizeof *h->ids);
        if (s == COVE_OK)
            s = grow_array((void **)&h->vhash, cap, sizeof *h->vhash);
        if (s == COVE_OK)
            s = grow_array((void **)&h->uoff, cap, sizeof *h->uoff);
        if (s == COVE_OK)
            s = grow_array((void **)&h->l0, cap, (size_t)(h->m0 + 1) * sizeof *h->l0);
        if (s != COVE_OK)
            return s;
        h->cap = cap;
    }
    size_t n_up = h->n_up;
    for (size_t i = h->n; i < n; i++) {
        h->level[i] = (uint8_t)draw_level(h->seed, i, h->m);
        h->removed[i] = 0;
        h->ids[i] = v->ids[i];
        h->vhash[i] = cove_kb_vindex_hash(v, i);
        h->uoff[i] = n_up;
        n_up += h->level[i];
    }
    memset(h->l0 + h->n * (size_t)(h->m0 + 1), 0, (n - h->n) * (size_t)(h->m0 + 1) * 4);
    size_t row = (size_t)(h->m + 1);
    if (grow_array((void **)&h->up, n_up ? n_up * row : 1, sizeof *h->up) != COVE_OK)
        return COVE_ERR_NOMEM;
    memset(h->up + h->n_up * row, 0, (n_up - h->n_up) * row * sizeof *h->up);
    h->n_up = n_up;
    h->n = n;
    return COVE_OK;
}

cove_status cove_kb_hnsw_extend(cove_kb_hnsw *h, const cove_kb_vindex *v, cove_pool *pool)
{
    if (!h || !v || v->n < h->n || v->n > UINT32_MAX - 1 || v->dim != h->dim)
        return COVE_ERR_INVALID_ARG;
    size_t first = h->n;
    if (first == v->n)
        return COVE_OK;
    cove_status s = add_nodes(h, v, v->n);
    if (s != COVE_OK)
        return s;
    if (h->n_removed == first) { /* no live node yet: the first new one is the entry */
        h->entry = (uint32_t)first;
        h->max_level = h->level[first];
        first++;
    }
    return insert_range(h, v, pool, first);
}

cove_status cove_kb_hnsw_build(const cove_kb_vindex *v, cove_kb_hnsw_params p, cove_pool *pool,
                               cove_kb_hnsw **out)
{
    if (!v || !out || p.m < 2 || p.m > 128 || p.ef_construction < 1 ||
        p.ef_construction > COVE_KB_MAX_K || v->n == 0 || v->n > UINT32_MAX - 1)
        return COVE_ERR_INVALID_ARG;
    *out = NULL;
    cove_kb_hnsw *h = cove_calloc(1, sizeof *h);
    if (!h)
        return COVE_ERR_NOMEM;
    h->m = p.m;
    h->m0 = 2 * p.m;
    h->efc = p.ef_construction;
    h->ef = p.ef_search > 0 ? p.ef_search : 64;
    h->seed = p.seed;
    h->dim = v->dim;
    cove_status s = cove_kb_hnsw_extend(h, v, pool);
    if (s != COVE_OK) {
        cove_kb_hnsw_free(h);
        return s;
    }
    *out = h;
    return COVE_OK;
}

/* ---- removal ---- */

typedef struct repair_job {
    cove_kb_hnsw *h;
    const cove_kb_vindex *v;
    cove_kb_dots_fn dots;
    uint32_t *ids;   /* per thread: (m0 + 1)^2 candidate positions */
    cand *c;         /* per thread: as many candidates */
    uint8_t *taken;  /* per thread: as many flags */
    size_t per;      /* candidates a thread has room for */
} repair_job;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Choose node a's level-l list again among its live links and its removed links' links. */
static void repair_list(repair_job *j, int ith, uint32_t a, int l)
{
    const cove_kb_hnsw *h = j->h;
    uint32_t *ids = j->ids + (size_t)ith * j->per, *ln = links(h, a, l);
    cand *c = j->c + (size_t)ith * j->per;
    size_t n = 0;
    for (uint32_t k = 1; k <= ln[0]; k++) {
        if (!h->removed[ln[k]]) {
            ids[n++] = ln[k];
            continue;
        }
        const uint32_t *d = links(h, ln[k], l);
        for (uint32_t x = 1; x <= d[0]; x++)
            if (d[x] != a && !h->removed[d[x]])
                ids[n++] = d[x];
    }
    qsort(ids, n, sizeof *ids, cmp_u32);
    size_t u = 0;
    for (size_t k = 0; k < n; k++)
        if (u == 0 || ids[k] != ids[u - 1]) {
            ids[u] = ids[k];
            c[u] = (cand){sim_nodes(j->v, j->dots, a, ids[k]), ids[k]};
            u++;
        }
    qsort(c, u, sizeof *c, cmp_cand_desc);
    int32_t keep = u < (size_t)h->efc ? (int32_t)u : h->efc;
    ln[0] = (uint32_t)select_neighbours(j->v, j->dots, c, keep, l ? h->m : h->m0, ln + 1,
                                        j->taken + (size_t)ith * j->per, 1);
}

static void repair_range(void *ctx, size_t begin, size_t end, int ith)
{
    repair_job *j = ctx;
    const cove_kb_hnsw *h = j->h;
    for (size_t a = begin; a < end; a++) {
        if (h->removed[a])
            continue;
        for (int l = 0; l <= h->level[a]; l++) {
            const uint32_t *ln = links(h, (uint32_t)a, l);
            uint32_t k = 1;
            while (k <= ln[0] && !h->removed[ln[k]])
                k++;
            if (k <= ln[0])
                repair_list(j, ith, (uint32_t)a, l);
        }
    }
}

/* After removal: drop the removed nodes' lists and move the entry to a live top node. */
static void finish_removal(cove_kb_hnsw *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->removed[i])
            for (int l = 0; l <= h->level[i]; l++)
                links(h, (uint32_t)i, l)[0] = 0;
    if (!h->removed[h->entry])
        return;
    h->entry = 0;
    h->max_level = 0;
    int best = -1;
    for (size_t i = 0; i < h->n; i++)
        if (!h->removed[i] && h->level[i] > best) {
            best = h->level[i];
            h->entry = (uint32_t)i;
        }
    h->max_level = best < 0 ? 0 : best;
}

cove_status cove_kb_hnsw_remove(cove_kb_hnsw *h, const cove_kb_vindex *v, const size_t *nodes,
                                size_t count, cove_pool *pool)
{
    if (!h || !v || (count && !nodes) || v->n < h->n || v->dim != h->dim)
        return COVE_ERR_INVALID_ARG;
    size_t fresh = 0;
    for (size_t i = 0; i < count; i++)
        if (nodes[i] >= h->n)
            return COVE_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (!h->removed[nodes[i]]) {
            h->removed[nodes[i]] = 1;
            fresh++;
        }
    if (fresh == 0)
        return COVE_OK;
    h->n_removed += fresh;
    int nth = pool ? cove_pool_size(pool) : 1;
    size_t per = (size_t)(h->m0 + 1) * (size_t)(h->m0 + 1);
    repair_job j = {h, v, cove_kb_dots_pick(), cove_malloc((size_t)nth * per * sizeof(uint32_t)),
                    cove_malloc((size_t)nth * per * sizeof(cand)), cove_malloc((size_t)nth * per),
                    per};
    cove_status s = j.ids && j.c && j.taken ? COVE_OK : COVE_ERR_NOMEM;
    if (s == COVE_OK && h->n_removed < h->n)
        s = pool ? cove_pool_parallel_for(pool, h->n, repair_range, &j)
                 : (repair_range(&j, 0, h->n, 0), COVE_OK);
    if (s == COVE_OK)
        finish_removal(h);
    cove_free(j.ids);
    cove_free(j.c);
    cove_free(j.taken);
    return s;
}

/* ---- search ---- */

cove_status cove_kb_hnsw_search(const cove_kb_hnsw *h, const cove_kb_vindex *v, const float *qv,
                                int32_t k, size_t *idx, float *score, int32_t *n_out)
{
    if (!h || !v || !qv || !idx || !score || !n_out || k < 1 || k > COVE_KB_MAX_K ||
        v->n != h->n || v->dim != h->dim)
        return COVE_ERR_INVALID_ARG;
    *n_out = 0;
    if (h->n_removed == h->n)
        return COVE_OK;
    int32_t ef = h->ef > k ? h->ef : k;
    int8_t *q8 = cove_calloc(1, (size_t)v->stride);
    cand *mem = cove_malloc((size_t)(ef + 1) * 65 * sizeof(cand));
    uint32_t *buf = cove_malloc((size_t)(h->m0 + 1) * sizeof *buf);
    visited vs = {0};
    cove_status s = q8 && mem && buf ? COVE_OK : COVE_ERR_NOMEM;
    if (s == COVE_OK) {
        query q = {v, q8, cove_kb_quantize_q8(qv, v->dim, q8), cove_kb_dots_pick()};
        cand ep = greedy(h, NULL, &q, (cand){sim(&q, h->entry), h->entry}, h->max_level, 0,
                         UINT32_MAX, buf);
        heap res = {mem, 0, ef + 1, 0}, cands = {mem + ef + 1, 0, (ef + 1) * 64, 1};
        hpush(&res, ep);
        s = visit(&vs, ep.id) < 0 ? COVE_ERR_NOMEM
                                  : search_layer(h, NULL, &q, 0, ef, &res, &cands, &vs, buf);
        int32_t live = 0;
        for (int32_t i = 0; s == COVE_OK && i < res.n; i++) /* exact re-rank */
            if (!h->removed[res.a[i].id])
                res.a[live++] = (cand){cove_kb_vindex_dot(v, qv, res.a[i].id), res.a[i].id};
        if (s == COVE_OK) {
            qsort(res.a, (size_t)live, sizeof(cand), cmp_cand_desc);
            *n_out = live < k ? live : k;
            for (int32_t i = 0; i < *n_out; i++) {
                idx[i] = res.a[i].id;
                score[i] = res.a[i].s;
            }
        }
    }
    cove_free(q8);
    cove_free(mem);
    cove_free(buf);
    cove_free(vs.slot);
    return s;
}

/*
 * ---- serialization: little-endian as the host (x86-64, aarch64) ----
 * Version 2: HDR_WORDS u32 header, then ids (i64 x n), hashes (u32 x n), removed flags
 * (u8 x n), levels (u8 x n), layer 0 links, upper links.
 */

#define HDR_WORDS 16
enum { H_MAGIC, H_VERSION, H_N_LO, H_N_HI, H_M, H_MAX_LEVEL, H_ENTRY, H_NUP_LO, H_NUP_HI,
       H_DIM, H_EFC, H_SEED_LO, H_SEED_HI, H_REMOVED_LO, H_REMOVED_HI, H_RESERVED };

static uint64_t u64_of(const uint32_t *hdr, int lo)
{
    return (uint64_t)hdr[lo] | (uint64_t)hdr[lo + 1] << 32;
}

static size_t body_size(size_t n, size_t n_up, int32_t m)
{
    return n * (8 + 4 + 1 + 1) + n * (size_t)(2 * m + 1) * 4 + n_up * (size_t)(m + 1) * 4;
}

cove_status cove_kb_hnsw_save(const cove_kb_hnsw *h, uint8_t **data, size_t *len)
{
    if (!h || !data || !len)
        return COVE_ERR_INVALID_ARG;
    size_t total = HDR_WORDS * 4 + body_size(h->n, h->n_up, h->m);
    uint8_t *b = cove_malloc(total), *p = b;
    if (!b)
        return COVE_ERR_NOMEM;
    uint32_t hdr[HDR_WORDS] = {HNSW_MAGIC, HNSW_VERSION, (uint32_t)h->n,
                               (uint32_t)((uint64_t)h->n >> 32), (uint32_t)h->m,
                               (uint32_t)h->max_level, h->entry, (uint32_t)h->n_up,
                               (uint32_t)((uint64_t)h->n_up >> 32), (uint32_t)h->dim,
                               (uint32_t)h->efc, (uint32_t)h->seed, (uint32_t)(h->seed >> 32),
                               (uint32_t)h->n_removed, (uint32_t)((uint64_t)h->n_removed >> 32),
                               0};
    const struct { const void *src; size_t n; } part[] = {
        {hdr, sizeof hdr}, {h->ids, h->n * 8}, {h->vhash, h->n * 4}, {h->removed, h->n},
        {h->level, h->n}, {h->l0, h->n * (size_t)(h->m0 + 1) * 4},
        {h->up, h->n_up * (size_t)(h->m + 1) * 4}};
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) {
        if (part[i].n)
            memcpy(p, part[i].src, part[i].n);
        p += part[i].n;
    }
    *data = b;
    *len = total;
    return COVE_OK;
}

/* Every list within its cap, every link to a live node on that layer, removed ones empty. */
static int graph_ok(const cove_kb_hnsw *h)
{
    size_t removed = 0, off = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->level[i] > h->max_level || h->removed[i] > 1)
            return 0;
        off += h->level[i];
        removed += h->removed[i];
        for (int l = 0; l <= h->level[i]; l++) {
            const uint32_t *ln = links(h, (uint32_t)i, l);
            if (ln[0] > (uint32_t)(l ? h->m : h->m0) || (h->removed[i] && ln[0]))
                return 0;
            for (uint32_t j = 1; j <= ln[0]; j++)
                if (ln[j] >= h->n || h->level[ln[j]] < l || h->removed[ln[j]])
                    return 0;
        }
    }
    if (removed != h->n_removed || off != h->n_up)
        return 0;
    return removed == h->n || (!h->removed[h->entry] && h->level[h->entry] == h->max_level);
}

static cove_status load_header(cove_kb_hnsw *h, const uint32_t *hdr, int32_t dim, size_t len)
{
    if (hdr[H_MAGIC] != HNSW_MAGIC)
        return COVE_ERR_FORMAT;
    if (hdr[H_VERSION] != HNSW_VERSION)
        return COVE_ERR_UNSUPPORTED;
    uint64_t n = u64_of(hdr, H_N_LO), n_up = u64_of(hdr, H_NUP_LO);
    h->m = (int32_t)hdr[H_M];
    h->m0 = 2 * h->m;
    h->max_level = (int32_t)hdr[H_MAX_LEVEL];
    h->entry = hdr[H_ENTRY];
    h->dim = (int32_t)hdr[H_DIM];
    h->efc = (int32_t)hdr[H_EFC];
    h->seed = u64_of(hdr, H_SEED_LO);
    h->n_removed = (size_t)u64_of(hdr, H_REMOVED_LO);
    h->ef = cove_kb_hnsw_default_params().ef_search;
    if (n == 0 || n > UINT32_MAX - 1 || n > (uint64_t)COVE_KB_MAX_VECTORS || hdr[H_M] < 2 ||
        hdr[H_M] > 128 || hdr[H_MAX_LEVEL] > HNSW_MAX_LEVEL || hdr[H_ENTRY] >= n ||
        h->dim != dim || h->efc < 1 || h->efc > COVE_KB_MAX_K || h->n_removed > n ||
        n_up > n * HNSW_MAX_LEVEL || len != HDR_WORDS * 4 + body_size(n, n_up, h->m))
        return COVE_ERR_FORMAT;
    h->n = h->cap = (size_t)n;
    h->n_up = (size_t)n_up;
    return COVE_OK;
}

cove_status cove_kb_hnsw_load(const uint8_t *data, size_t len, int32_t dim, cove_kb_hnsw **out,
                              cove_error *err)
{
    uint32_t hdr[HDR_WORDS];
    if (!data || !out || len < sizeof hdr)
        return cove_error_set(err, COVE_ERR_FORMAT, "ann index: truncated");
    *out = NULL;
    memcpy(hdr, data, sizeof hdr);
    cove_kb_hnsw *h = cove_calloc(1, sizeof *h);
    if (!h)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_status s = load_header(h, hdr, dim, len);
    if (s == COVE_OK) {
        size_t n = h->n, l0 = n * (size_t)(h->m0 + 1) * 4, up = h->n_up * (size_t)(h->m + 1) * 4;
        const uint8_t *p = data + sizeof hdr;
        h->ids = cove_malloc(n * 8);
        h->vhash = cove_malloc(n * 4);
        h->removed = cove_malloc(n);
        h->level = cove_malloc(n);
        h->uoff = cove_malloc(n * sizeof *h->uoff);
        h->l0 = cove_malloc(l0);
        h->up = cove_malloc(up ? up : 1);
        if (!h->ids || !h->vhash || !h->removed || !h->level || !h->uoff || !h->l0 || !h->up)
            s = COVE_ERR_NOMEM;
        void *dst[] = {h->ids, h->vhash, h->removed, h->level, h->l0, h->up};
        size_t sz[] = {n * 8, n * 4, n, n, l0, up};
        for (size_t i = 0; s == COVE_OK && i < 6; p += sz[i], i++)
            memcpy(dst[i], p, sz[i]);
        size_t off = 0;
        for (size_t i = 0; s == COVE_OK && i < n; off += h->level[i], i++)
            h->uoff[i] = off;
        if (s == COVE_OK && off != h->n_up) /* before any upper list is looked at */
            s = COVE_ERR_FORMAT;
        if (s == COVE_OK && !graph_ok(h))
            s = COVE_ERR_FORMAT;
    }
    if (s != COVE_OK) {
        cove_kb_hnsw_free(h);
        return cove_error_set(err, s, "ann index: %s",
                              s == COVE_ERR_UNSUPPORTED ? "written in an older format"
                              : s == COVE_ERR_FORMAT    ? "damaged or foreign data"
                                                        : "out of memory");
    }
    *out = h;
    return COVE_OK;
}
