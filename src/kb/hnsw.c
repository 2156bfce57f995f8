/*
 * kb/hnsw.c - a hierarchical navigable small world graph over a cove_kb_vindex.
 *
 * Layout: node i has a level drawn as floor(-ln U / ln m). Layer 0 links of node i are
 * l0[i * (m0 + 1)]: a count then up to m0 = 2m neighbour positions; upper layer l (1 ..
 * level) links are up[(uoff[i] + l - 1) * (m + 1)], same shape. Similarities are int8 dot
 * products scaled by both vectors' scales (the same numbers the exact scan ranks by);
 * a search re-ranks its ef candidates with the set's exact dot products at the end.
 * Neighbours are chosen with the diversity heuristic of the HNSW paper (a candidate is
 * kept when it is closer to the new node than to every neighbour kept before it), which
 * keeps clustered data connected. Building runs on one thread.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "kb/vindex_int.h"

#define HNSW_MAGIC 0x484b4243u /* "CBKH" */
#define HNSW_MAX_LEVEL 24

struct cove_kb_hnsw {
    int32_t m, m0, ef;
    int32_t max_level;
    uint32_t entry;
    size_t n;
    uint8_t *level;   /* n */
    uint32_t *l0;     /* n * (m0 + 1) */
    size_t *uoff;     /* n: first upper slot of the node */
    uint32_t *up;     /* n_up * (m + 1) */
    size_t n_up;
};

cove_kb_hnsw_params cove_kb_hnsw_default_params(void)
{
    return (cove_kb_hnsw_params){16, 100, 64, 42};
}

void cove_kb_hnsw_free(cove_kb_hnsw *h)
{
    if (!h)
        return;
    cove_free(h->level);
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

/* ---- a visited set: open addressing on node positions, cleared per search ---- */

typedef struct visited {
    uint32_t *slot; /* value + 1; 0 is empty */
    size_t cap, n;
} visited;

static int visit(visited *vs, uint32_t id) /* 1 when newly added; -1 out of memory */
{
    if (vs->n * 2 >= vs->cap) {
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
    }
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

/*
 * Search one layer from the entries in res (a min-heap of at most ef, already filled)
 * following links of level lvl. cands must have room for every visited node
 * (scratch); res keeps the ef best. Returns COVE_ERR_NOMEM from the visited set.
 */
static cove_status search_layer(const cove_kb_hnsw *h, const query *q, int lvl, int32_t ef,
                                heap *res, heap *cands, visited *vs)
{
    cands->n = 0;
    for (int32_t i = 0; i < res->n; i++)
        hpush(cands, res->a[i]);
    while (cands->n) {
        cand c = hpop(cands);
        if (res->n >= ef && c.s < res->a[0].s)
            break;
        const uint32_t *ln = links(h, c.id, lvl);
        for (uint32_t j = 1; j <= ln[0]; j++) {
            int nv = visit(vs, ln[j]);
            if (nv < 0)
                return COVE_ERR_NOMEM;
            if (!nv)
                continue;
            cand e = {sim(q, ln[j]), ln[j]};
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
                                 int32_t n, int32_t max, uint32_t *out, uint8_t *taken)
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
    for (int32_t i = 0; i < n && k < max; i++) /* fill up with the nearest left out */
        if (!taken[i])
            out[k++] = c[i].id;
    return k;
}

static int cmp_cand_desc(const void *a, const void *b)
{
    float x = ((const cand *)a)->s, y = ((const cand *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

typedef struct builder {
    cove_kb_hnsw *h;
    const cove_kb_vindex *v;
    cove_kb_dots_fn dots;
    int32_t efc;
    heap res, cands;
    visited vs;
    cand *tmp;      /* sort scratch: efc + m0 + 1 */
    uint8_t *taken;
} builder;

/* Add link a -> b at level lvl, pruning a's list when it is full. */
static void add_link(builder *b, uint32_t a, uint32_t to, int lvl)
{
    cove_kb_hnsw *h = b->h;
    uint32_t *ln = links(h, a, lvl);
    uint32_t max = (uint32_t)(lvl ? h->m : h->m0);
    if (ln[0] < max) {
        ln[++ln[0]] = to;
        return;
    }
    int32_t n = 0;
    for (uint32_t j = 1; j <= ln[0]; j++)
        b->tmp[n++] = (cand){sim_nodes(b->v, b->dots, a, ln[j]), ln[j]};
    b->tmp[n++] = (cand){sim_nodes(b->v, b->dots, a, to), to};
    qsort(b->tmp, (size_t)n, sizeof *b->tmp, cmp_cand_desc);
    ln[0] = (uint32_t)select_neighbours(b->v, b->dots, b->tmp, n, (int32_t)max, ln + 1, b->taken);
}

static cove_status insert_node(builder *b, uint32_t i)
{
    cove_kb_hnsw *h = b->h;
    query q = {b->v, b->v->q8 + (size_t)i * (size_t)b->v->stride, b->v->scale[i], b->dots};
    int lvl = h->level[i];
    cand ep = {sim(&q, h->entry), h->entry};
    for (int l = h->max_level; l > lvl; l--) { /* greedy descent */
        for (int moved = 1; moved;) {
            moved = 0;
            const uint32_t *ln = links(h, ep.id, l);
            for (uint32_t j = 1; j <= ln[0]; j++) {
                float s = sim(&q, ln[j]);
                if (s > ep.s) {
                    ep = (cand){s, ln[j]};
                    moved = 1;
                }
            }
        }
    }
    b->vs.n = 0;
    memset(b->vs.slot, 0, b->vs.cap * sizeof *b->vs.slot);
    b->res.n = 0;
    hpush(&b->res, ep);
    visit(&b->vs, ep.id);
    for (int l = lvl < h->max_level ? lvl : h->max_level; l >= 0; l--) {
        if (search_layer(h, &q, l, b->efc, &b->res, &b->cands, &b->vs) != COVE_OK)
            return COVE_ERR_NOMEM;
        int32_t n = b->res.n;
        memcpy(b->tmp, b->res.a, (size_t)n * sizeof *b->tmp);
        qsort(b->tmp, (size_t)n, sizeof *b->tmp, cmp_cand_desc);
        uint32_t *ln = links(h, i, l);
        ln[0] = (uint32_t)select_neighbours(b->v, b->dots, b->tmp, n, l ? h->m : h->m0, ln + 1,
                                            b->taken);
        for (uint32_t j = 1; j <= ln[0]; j++)
            add_link(b, ln[j], i, l);
    }
    if (lvl > h->max_level) {
        h->max_level = lvl;
        h->entry = i;
    }
    return COVE_OK;
}

/* Draw levels and lay out the link arrays. */
static cove_status hnsw_alloc(cove_kb_hnsw *h, size_t n, uint64_t seed)
{
    h->n = n;
    h->level = cove_calloc(n, 1);
    h->uoff = cove_calloc(n, sizeof *h->uoff);
    h->l0 = cove_calloc(n * (size_t)(h->m0 + 1), sizeof *h->l0);
    if (!h->level || !h->uoff || !h->l0)
        return COVE_ERR_NOMEM;
    double ml = 1.0 / log((double)h->m);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
        int l = (int)floor(-log(u) * ml);
        h->level[i] = (uint8_t)(l > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : l);
        h->uoff[i] = h->n_up;
        h->n_up += h->level[i];
    }
    h->up = cove_calloc(h->n_up ? h->n_up * (size_t)(h->m + 1) : 1, sizeof *h->up);
    return h->up ? COVE_OK : COVE_ERR_NOMEM;
}

cove_status cove_kb_hnsw_build(const cove_kb_vindex *v, cove_kb_hnsw_params p, cove_pool *pool,
                               cove_kb_hnsw **out)
{
    (void)pool;
    if (!v || !out || p.m < 2 || p.m > 128 || p.ef_construction < 1 || v->n == 0 ||
        v->n > UINT32_MAX - 1)
        return COVE_ERR_INVALID_ARG;
    *out = NULL;
    cove_kb_hnsw *h = cove_calloc(1, sizeof *h);
    if (!h)
        return COVE_ERR_NOMEM;
    h->m = p.m;
    h->m0 = 2 * p.m;
    h->ef = p.ef_search > 0 ? p.ef_search : 64;
    builder b = {h, v, cove_kb_dots_pick(), p.ef_construction, {0}, {0}, {0}, NULL, NULL};
    int32_t cap = p.ef_construction + h->m0 + 2;
    b.res = (heap){cove_malloc((size_t)cap * sizeof(cand)), 0, cap, 0};
    b.cands = (heap){cove_malloc((size_t)cap * 64 * sizeof(cand)), 0, cap * 64, 1};
    b.tmp = cove_malloc((size_t)cap * sizeof(cand));
    b.taken = cove_malloc((size_t)cap);
    cove_status s = (b.res.a && b.cands.a && b.tmp && b.taken) ? hnsw_alloc(h, v->n, p.seed)
                                                                : COVE_ERR_NOMEM;
    if (s == COVE_OK && visit(&b.vs, 0) < 0)
        s = COVE_ERR_NOMEM;
    if (s == COVE_OK) {
        h->entry = 0;
        h->max_level = h->level[0];
    }
    for (size_t i = 1; s == COVE_OK && i < v->n; i++)
        s = insert_node(&b, (uint32_t)i);
    cove_free(b.res.a);
    cove_free(b.cands.a);
    cove_free(b.tmp);
    cove_free(b.taken);
    cove_free(b.vs.slot);
    if (s != COVE_OK) {
        cove_kb_hnsw_free(h);
        return s;
    }
    *out = h;
    return COVE_OK;
}

cove_status cove_kb_hnsw_search(const cove_kb_hnsw *h, const cove_kb_vindex *v, const float *qv,
                                int32_t k, size_t *idx, float *score, int32_t *n_out)
{
    if (!h || !v || !qv || !idx || !score || !n_out || k < 1 || k > COVE_KB_MAX_K || v->n != h->n)
        return COVE_ERR_INVALID_ARG;
    *n_out = 0;
    int32_t ef = h->ef > k ? h->ef : k;
    int8_t *q8 = cove_calloc(1, (size_t)v->stride);
    cand *mem = cove_malloc((size_t)(ef + 1) * 65 * sizeof(cand));
    visited vs = {0};
    cove_status s = q8 && mem ? COVE_OK : COVE_ERR_NOMEM;
    if (s == COVE_OK) {
        query q = {v, q8, cove_kb_quantize_q8(qv, v->dim, q8), cove_kb_dots_pick()};
        cand ep = {sim(&q, h->entry), h->entry};
        for (int l = h->max_level; l > 0; l--)
            for (int moved = 1; moved;) {
                moved = 0;
                const uint32_t *ln = links(h, ep.id, l);
                for (uint32_t j = 1; j <= ln[0]; j++) {
                    float sv = sim(&q, ln[j]);
                    if (sv > ep.s) {
                        ep = (cand){sv, ln[j]};
                        moved = 1;
                    }
                }
            }
        heap res = {mem, 0, ef + 1, 0}, cands = {mem + ef + 1, 0, (ef + 1) * 64, 1};
        hpush(&res, ep);
        s = visit(&vs, ep.id) < 0 ? COVE_ERR_NOMEM : search_layer(h, &q, 0, ef, &res, &cands, &vs);
        for (int32_t i = 0; s == COVE_OK && i < res.n; i++) /* exact re-rank */
            res.a[i].s = cove_kb_vindex_dot(v, qv, res.a[i].id);
        if (s == COVE_OK) {
            qsort(res.a, (size_t)res.n, sizeof(cand), cmp_cand_desc);
            *n_out = res.n < k ? res.n : k;
            for (int32_t i = 0; i < *n_out; i++) {
                idx[i] = res.a[i].id;
                score[i] = res.a[i].s;
            }
        }
    }
    cove_free(q8);
    cove_free(mem);
    cove_free(vs.slot);
    return s;
}

/* ---- serialization: u32 fields, little-endian as the host (x86-64, aarch64) ---- */

#define HDR_WORDS 8 /* magic, version, n lo, n hi, m, max_level, entry, n_up */

cove_status cove_kb_hnsw_save(const cove_kb_hnsw *h, uint8_t **data, size_t *len)
{
    if (!h || !data || !len)
        return COVE_ERR_INVALID_ARG;
    size_t l0 = h->n * (size_t)(h->m0 + 1) * 4, up = h->n_up * (size_t)(h->m + 1) * 4;
    size_t total = HDR_WORDS * 4 + h->n + l0 + up;
    uint8_t *b = cove_malloc(total);
    if (!b)
        return COVE_ERR_NOMEM;
    uint32_t hdr[HDR_WORDS] = {HNSW_MAGIC, 1, (uint32_t)h->n, (uint32_t)((uint64_t)h->n >> 32),
                               (uint32_t)h->m, (uint32_t)h->max_level, h->entry,
                               (uint32_t)h->n_up};
    memcpy(b, hdr, sizeof hdr);
    memcpy(b + sizeof hdr, h->level, h->n);
    memcpy(b + sizeof hdr + h->n, h->l0, l0);
    memcpy(b + sizeof hdr + h->n + l0, h->up, up);
    *data = b;
    *len = total;
    return COVE_OK;
}

/* Every count within its cap and every link inside the graph. */
static int links_ok(const uint32_t *a, size_t rows, uint32_t cap, size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        const uint32_t *ln = a + r * (cap + 1);
        if (ln[0] > cap)
            return 0;
        for (uint32_t j = 1; j <= ln[0]; j++)
            if (ln[j] >= n)
                return 0;
    }
    return 1;
}

/* Upper links: counts within m, and every target lives on that layer too. */
static int upper_ok(const cove_kb_hnsw *h)
{
    for (size_t i = 0; i < h->n; i++)
        for (int l = 1; l <= h->level[i]; l++) {
            const uint32_t *ln = links(h, (uint32_t)i, l);
            if (ln[0] > (uint32_t)h->m)
                return 0;
            for (uint32_t j = 1; j <= ln[0]; j++)
                if (ln[j] >= h->n || h->level[ln[j]] < l)
                    return 0;
        }
    return 1;
}

cove_status cove_kb_hnsw_load(const uint8_t *data, size_t len, size_t n, cove_kb_hnsw **out,
                              cove_error *err)
{
    uint32_t hdr[HDR_WORDS];
    if (!data || !out || len < sizeof hdr)
        return cove_error_set(err, COVE_ERR_FORMAT, "ann index: truncated");
    *out = NULL;
    memcpy(hdr, data, sizeof hdr);
    size_t hn = (size_t)hdr[2] | (size_t)((uint64_t)hdr[3] << 32);
    if (hdr[0] != HNSW_MAGIC || hdr[1] != 1 || hn != n || n == 0 || hdr[4] < 2 ||
        hdr[4] > 128 || hdr[5] > HNSW_MAX_LEVEL || hdr[6] >= n)
        return cove_error_set(err, COVE_ERR_FORMAT, "ann index: bad header");
    cove_kb_hnsw *h = cove_calloc(1, sizeof *h);
    if (!h)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    h->m = (int32_t)hdr[4];
    h->m0 = 2 * h->m;
    h->ef = 64;
    h->max_level = (int32_t)hdr[5];
    h->entry = hdr[6];
    h->n = n;
    h->n_up = hdr[7];
    size_t l0 = n * (size_t)(h->m0 + 1) * 4, up = h->n_up * (size_t)(h->m + 1) * 4;
    cove_status s = len == sizeof hdr + n + l0 + up ? COVE_OK : COVE_ERR_FORMAT;
    if (s == COVE_OK) {
        h->level = cove_malloc(n);
        h->uoff = cove_malloc(n * sizeof *h->uoff);
        h->l0 = cove_malloc(l0);
        h->up = cove_malloc(up ? up : 1);
        s = h->level && h->uoff && h->l0 && h->up ? COVE_OK : COVE_ERR_NOMEM;
    }
    if (s == COVE_OK) {
        memcpy(h->level, data + sizeof hdr, n);
        memcpy(h->l0, data + sizeof hdr + n, l0);
        memcpy(h->up, data + sizeof hdr + n + l0, up);
        size_t off = 0;
        for (size_t i = 0; i < n && s == COVE_OK; i++) {
            if (h->level[i] > h->max_level)
                s = COVE_ERR_FORMAT;
            h->uoff[i] = off;
            off += h->level[i];
        }
        if (s == COVE_OK && (off != h->n_up || h->level[h->entry] != h->max_level ||
                             !links_ok(h->l0, n, (uint32_t)h->m0, n) ||
                             !upper_ok(h)))
            s = COVE_ERR_FORMAT;
    }
    if (s != COVE_OK) {
        cove_kb_hnsw_free(h);
        return cove_error_set(err, s, "ann index: %s",
                              s == COVE_ERR_FORMAT ? "damaged or foreign data" : "out of memory");
    }
    *out = h;
    return COVE_OK;
}
