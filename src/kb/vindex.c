/*
 * kb/vindex.c - in-memory vector sets and their exact scan.
 *
 * The scan computes int8 dot products block by block (one kernel call per block, the
 * kernel chosen once from the CPU probe), keeps the best candidates of each thread in a
 * small min-heap, merges the threads' heaps, and re-ranks with the f32 vectors when the
 * set keeps them. Candidates kept: k without f32 vectors, else 4k + 16 (the int8 error
 * is small next to the gaps between the top scores, so the true top k survives the cut).
 */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/limits.h"
#include "kb/vindex_int.h"

#define SCAN_BLOCK 512

cove_status cove_kb_vindex_create(int32_t dim, size_t capacity, int keep_f32,
                                  cove_kb_vindex **out)
{
    if (!out || dim < 1)
        return COVE_ERR_INVALID_ARG;
    *out = NULL;
    if (dim > (int32_t)COVE_MAX_EMBD)
        return COVE_ERR_LIMIT;
    cove_kb_vindex *v = cove_calloc(1, sizeof *v);
    if (!v)
        return COVE_ERR_NOMEM;
    v->dim = dim;
    v->stride = (dim + 31) / 32 * 32;
    v->keep_f32 = keep_f32 ? 1 : 0;
    *out = v;
    (void)capacity;
    return COVE_OK;
}

void cove_kb_vindex_free(cove_kb_vindex *v)
{
    if (!v)
        return;
    cove_free(v->q8);
    cove_free(v->scale);
    cove_free(v->ids);
    cove_free(v->f32);
    cove_free(v);
}

static cove_status grow(cove_kb_vindex *v)
{
    if (v->n < v->cap)
        return COVE_OK;
    if (v->n >= (size_t)COVE_KB_MAX_VECTORS)
        return COVE_ERR_LIMIT;
    size_t cap = v->cap ? v->cap * 2 : 1024;
    int8_t *q8 = cove_realloc(v->q8, cap * (size_t)v->stride);
    if (!q8)
        return COVE_ERR_NOMEM;
    v->q8 = q8;
    float *scale = cove_realloc(v->scale, cap * sizeof *scale);
    if (!scale)
        return COVE_ERR_NOMEM;
    v->scale = scale;
    int64_t *ids = cove_realloc(v->ids, cap * sizeof *ids);
    if (!ids)
        return COVE_ERR_NOMEM;
    v->ids = ids;
    if (v->keep_f32) {
        float *f = cove_realloc(v->f32, cap * (size_t)v->dim * sizeof *f);
        if (!f)
            return COVE_ERR_NOMEM;
        v->f32 = f;
    }
    v->cap = cap;
    return COVE_OK;
}

float cove_kb_quantize_q8(const float *x, int32_t dim, int8_t *q)
{
    float amax = 0.0f;
    for (int32_t i = 0; i < dim; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int32_t i = 0; i < dim; i++) {
        float r = nearbyintf(x[i] * inv);
        q[i] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : (int)r);
    }
    return scale;
}

cove_status cove_kb_vindex_add(cove_kb_vindex *v, int64_t id, const float *vec)
{
    if (!v || !vec)
        return COVE_ERR_INVALID_ARG;
    cove_status st = grow(v);
    if (st != COVE_OK)
        return st;
    int8_t *q = v->q8 + v->n * (size_t)v->stride;
    memset(q, 0, (size_t)v->stride);
    v->scale[v->n] = cove_kb_quantize_q8(vec, v->dim, q);
    v->ids[v->n] = id;
    if (v->keep_f32)
        memcpy(v->f32 + v->n * (size_t)v->dim, vec, (size_t)v->dim * sizeof *vec);
    v->n++;
    return COVE_OK;
}

cove_status cove_kb_vindex_add_q8(cove_kb_vindex *v, int64_t id, const int8_t *q, float scale)
{
    if (!v || !q)
        return COVE_ERR_INVALID_ARG;
    cove_status st = grow(v);
    if (st != COVE_OK)
        return st;
    int8_t *dst = v->q8 + v->n * (size_t)v->stride;
    memset(dst, 0, (size_t)v->stride);
    for (int32_t i = 0; i < v->dim; i++)
        dst[i] = q[i] < -127 ? -127 : q[i];
    v->scale[v->n] = scale;
    v->ids[v->n] = id;
    if (v->keep_f32)
        for (int32_t i = 0; i < v->dim; i++)
            v->f32[v->n * (size_t)v->dim + (size_t)i] = (float)dst[i] * scale;
    v->n++;
    return COVE_OK;
}

cove_status cove_kb_vindex_append(cove_kb_vindex *v, const cove_kb_vindex *src, size_t i)
{
    if (!v || !src || i >= src->n || src->dim != v->dim)
        return COVE_ERR_INVALID_ARG;
    const int8_t *q = src->q8 + i * (size_t)src->stride;
    if (!src->keep_f32) /* its values are in [-127, 127] already: they stay as they are */
        return cove_kb_vindex_add_q8(v, src->ids[i], q, src->scale[i]);
    cove_status st = grow(v);
    if (st != COVE_OK)
        return st;
    memcpy(v->q8 + v->n * (size_t)v->stride, q, (size_t)v->stride);
    v->scale[v->n] = src->scale[i];
    v->ids[v->n] = src->ids[i];
    if (v->keep_f32)
        memcpy(v->f32 + v->n * (size_t)v->dim, src->f32 + i * (size_t)v->dim,
               (size_t)v->dim * sizeof *v->f32);
    v->n++;
    return COVE_OK;
}

cove_status cove_kb_vindex_add_removed(cove_kb_vindex *v)
{
    if (!v)
        return COVE_ERR_INVALID_ARG;
    cove_status st = grow(v);
    if (st != COVE_OK)
        return st;
    memset(v->q8 + v->n * (size_t)v->stride, 0, (size_t)v->stride);
    v->scale[v->n] = 0.0f;
    v->ids[v->n] = -1;
    if (v->keep_f32)
        memset(v->f32 + v->n * (size_t)v->dim, 0, (size_t)v->dim * sizeof *v->f32);
    v->n++;
    return COVE_OK;
}

void cove_kb_vindex_remove(cove_kb_vindex *v, size_t i)
{
    if (v && i < v->n)
        v->ids[i] = -1;
}

uint32_t cove_kb_vindex_hash(const cove_kb_vindex *v, size_t i)
{
    uint32_t h = 2166136261u, bits; /* FNV-1a over the int8 values and the scale's bits */
    const uint8_t *p = (const uint8_t *)(v->q8 + i * (size_t)v->stride);
    for (int32_t j = 0; j < v->dim; j++)
        h = (h ^ p[j]) * 16777619u;
    memcpy(&bits, &v->scale[i], sizeof bits);
    for (int b = 0; b < 32; b += 8)
        h = (h ^ ((bits >> b) & 0xffu)) * 16777619u;
    return h;
}

size_t cove_kb_vindex_size(const cove_kb_vindex *v) { return v ? v->n : 0; }
int32_t cove_kb_vindex_dim(const cove_kb_vindex *v) { return v ? v->dim : 0; }
int64_t cove_kb_vindex_id(const cove_kb_vindex *v, size_t i) { return v->ids[i]; }

float cove_kb_dot_f32(const float *a, const float *b, int32_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

float cove_kb_vindex_dot(const cove_kb_vindex *v, const float *q, size_t i)
{
    if (v->keep_f32)
        return cove_kb_dot_f32(q, v->f32 + i * (size_t)v->dim, v->dim);
    const int8_t *r = v->q8 + i * (size_t)v->stride;
    float s = 0.0f;
    for (int32_t j = 0; j < v->dim; j++)
        s += q[j] * (float)r[j];
    return s * v->scale[i];
}

void cove_kb_dots_ref(const int8_t *q, const int8_t *base, size_t stride, size_t count,
                      int32_t *out)
{
    for (size_t i = 0; i < count; i++) {
        const int8_t *r = base + i * stride;
        int32_t s = 0;
        for (size_t j = 0; j < stride; j++)
            s += (int32_t)q[j] * (int32_t)r[j];
        out[i] = s;
    }
}

cove_kb_dots_fn cove_kb_dots_pick(void)
{
#if defined(__x86_64__)
    if (cove_cpu_get()->avx2)
        return cove_kb_dots_avx2;
#endif
    return cove_kb_dots_ref;
}

/* ---- top-k heaps: a min-heap on score, so the root is the weakest kept ---- */

typedef struct topk {
    size_t *idx;
    float *score;
    int32_t n, cap;
} topk;

static void heap_down(topk *h, int32_t i)
{
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->score[l] < h->score[m])
            m = l;
        if (r < h->n && h->score[r] < h->score[m])
            m = r;
        if (m == i)
            return;
        float ts = h->score[i];
        size_t ti = h->idx[i];
        h->score[i] = h->score[m];
        h->idx[i] = h->idx[m];
        h->score[m] = ts;
        h->idx[m] = ti;
        i = m;
    }
}

static void heap_push(topk *h, size_t idx, float score)
{
    if (h->n == h->cap) {
        if (score <= h->score[0])
            return;
        h->score[0] = score;
        h->idx[0] = idx;
        heap_down(h, 0);
        return;
    }
    int32_t i = h->n++;
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (h->score[p] <= score)
            break;
        h->score[i] = h->score[p];
        h->idx[i] = h->idx[p];
        i = p;
    }
    h->score[i] = score;
    h->idx[i] = idx;
}

/* Sort the heap in place (best first) and copy it to idx/score (which may be its own arrays). */
static int32_t heap_drain(topk *h, size_t *idx, float *score)
{
    int32_t n = h->n;
    while (h->n > 1) {
        int32_t last = --h->n;
        float ts = h->score[0];
        size_t ti = h->idx[0];
        h->score[0] = h->score[last];
        h->idx[0] = h->idx[last];
        h->score[last] = ts;
        h->idx[last] = ti;
        heap_down(h, 0);
    }
    h->n = 0;
    if (idx != h->idx)
        memcpy(idx, h->idx, (size_t)n * sizeof *idx);
    if (score != h->score)
        memcpy(score, h->score, (size_t)n * sizeof *score);
    return n;
}

typedef struct scan_job {
    const cove_kb_vindex *v;
    const int8_t *q8;
    float qscale;
    cove_kb_keep_fn keep;
    void *keep_ctx;
    cove_kb_dots_fn dots;
    topk *heaps; /* one per thread */
} scan_job;

static void scan_range(void *ctx, size_t begin, size_t end, int ith)
{
    scan_job *j = ctx;
    const cove_kb_vindex *v = j->v;
    topk *h = &j->heaps[ith];
    int32_t dots[SCAN_BLOCK];
    for (size_t b = begin; b < end; b += SCAN_BLOCK) {
        size_t cnt = end - b < SCAN_BLOCK ? end - b : SCAN_BLOCK;
        j->dots(j->q8, v->q8 + b * (size_t)v->stride, (size_t)v->stride, cnt, dots);
        for (size_t i = 0; i < cnt; i++) {
            if (v->ids[b + i] < 0 || (j->keep && !j->keep(j->keep_ctx, b + i)))
                continue; /* a removed slot, or filtered out */
            float s = (float)dots[i] * j->qscale * v->scale[b + i];
            if (h->n < h->cap || s > h->score[0])
                heap_push(h, b + i, s);
        }
    }
}

static cove_status scan_candidates(const cove_kb_vindex *v, cove_pool *pool, const float *q,
                                   cove_kb_keep_fn keep, void *keep_ctx, topk *all)
{
    int nth = pool ? cove_pool_size(pool) : 1;
    int8_t *q8 = cove_calloc(1, (size_t)v->stride);
    topk *heaps = cove_calloc((size_t)nth, sizeof *heaps);
    size_t *ibuf = cove_malloc((size_t)nth * (size_t)all->cap * sizeof *ibuf);
    float *sbuf = cove_malloc((size_t)nth * (size_t)all->cap * sizeof *sbuf);
    cove_status st = (q8 && heaps && ibuf && sbuf) ? COVE_OK : COVE_ERR_NOMEM;
    if (st == COVE_OK) {
        for (int t = 0; t < nth; t++)
            heaps[t] = (topk){ibuf + (size_t)t * (size_t)all->cap,
                              sbuf + (size_t)t * (size_t)all->cap, 0, all->cap};
        scan_job j = {v, q8, cove_kb_quantize_q8(q, v->dim, q8), keep, keep_ctx,
                      cove_kb_dots_pick(), heaps};
        if (pool)
            st = cove_pool_parallel_for(pool, v->n, scan_range, &j);
        else
            scan_range(&j, 0, v->n, 0);
        for (int t = 0; st == COVE_OK && t < nth; t++)
            for (int32_t i = 0; i < heaps[t].n; i++)
                heap_push(all, heaps[t].idx[i], heaps[t].score[i]);
    }
    cove_free(q8);
    cove_free(heaps);
    cove_free(ibuf);
    cove_free(sbuf);
    return st;
}

cove_status cove_kb_vindex_search(const cove_kb_vindex *v, cove_pool *pool, const float *q,
                                  int32_t k, cove_kb_keep_fn keep, void *keep_ctx,
                                  size_t *idx, float *score, int32_t *n_out)
{
    if (!v || !q || !idx || !score || !n_out || k < 1 || k > COVE_KB_MAX_K)
        return COVE_ERR_INVALID_ARG;
    *n_out = 0;
    int32_t cap = v->keep_f32 ? 4 * k + 16 : k;
    topk all = {cove_malloc((size_t)cap * sizeof(size_t)), cove_malloc((size_t)cap * sizeof(float)),
                0, cap};
    cove_status st = (all.idx && all.score) ? COVE_OK : COVE_ERR_NOMEM;
    if (st == COVE_OK)
        st = scan_candidates(v, pool, q, keep, keep_ctx, &all);
    if (st == COVE_OK && v->keep_f32) { /* re-rank the candidates with the f32 vectors */
        topk best = {idx, score, 0, k};
        for (int32_t i = 0; i < all.n; i++)
            heap_push(&best, all.idx[i], cove_kb_vindex_dot(v, q, all.idx[i]));
        *n_out = heap_drain(&best, idx, score);
    } else if (st == COVE_OK) {
        *n_out = heap_drain(&all, idx, score);
    }
    cove_free(all.idx);
    cove_free(all.score);
    return st;
}
