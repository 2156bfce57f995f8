/*
 * tests/kb/test_ann.c - the HNSW index: parallel build, insertion into and removal from a
 * built graph, and the store keeping its persisted index current (incremental updates,
 * stale, old-format and damaged indexes). No model needed: vectors are synthetic and
 * chunks are written into the store with SQL.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/pool.h"
#include "kb/kb.h"
#include "kb/kb_int.h"
#include "kb/vindex.h"
#include "test.h"

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float frand(uint64_t *s) /* uniform in [-0.5, 0.5) */
{
    return (float)((double)(rng_next(s) >> 11) / 9007199254740992.0) - 0.5f;
}

/* n unit vectors: around nc random centres with noise, or uniform when nc == 0. */
static float *make_vecs(size_t n, int dim, int nc, uint64_t seed)
{
    uint64_t s = seed * 2654435761u + 1;
    float *v = cove_malloc(n * (size_t)dim * sizeof *v);
    float *c = cove_malloc(((size_t)nc + 1) * (size_t)dim * sizeof *c);
    for (size_t i = 0; i < (size_t)nc * (size_t)dim; i++)
        c[i] = frand(&s);
    for (size_t i = 0; i < n; i++) {
        float norm = 0, *x = v + i * (size_t)dim;
        const float *cc = nc ? c + (size_t)(rng_next(&s) % (uint64_t)nc) * (size_t)dim : NULL;
        for (int j = 0; j < dim; j++) {
            x[j] = (cc ? cc[j] : 0) + (nc ? 0.35f : 1.0f) * frand(&s);
            norm += x[j] * x[j];
        }
        for (int j = 0; j < dim; j++)
            x[j] /= sqrtf(norm);
    }
    cove_free(c);
    return v;
}

/*
 * Recall@10 of the graph against the exact scan of vi over nq queries qs; fails the
 * running case (returns -1) when the graph returns a removed vector.
 */
static double recall_at_10(const cove_kb_hnsw *h, const cove_kb_vindex *vi, const float *qs,
                           int nq, int dim)
{
    int found = 0, total = 0;
    for (int t = 0; t < nq; t++) {
        const float *q = qs + (size_t)t * (size_t)dim;
        size_t a[10], b[10];
        float sa[10], sb[10];
        int32_t na = 0, nb = 0;
        if (cove_kb_vindex_search(vi, NULL, q, 10, NULL, NULL, a, sa, &na) != COVE_OK ||
            cove_kb_hnsw_search(h, vi, q, 10, b, sb, &nb) != COVE_OK)
            return -1;
        for (int j = 0; j < nb; j++)
            if (cove_kb_hnsw_is_removed(h, b[j]) || cove_kb_vindex_id(vi, b[j]) < 0)
                return -1;
        for (int i = 0; i < na; i++) {
            total++;
            for (int j = 0; j < nb; j++)
                found += a[i] == b[j];
        }
    }
    return total ? (double)found / total : 1.0;
}

TEST(ann_parallel_build_recall)
{
    const int dim = 48, n = 20000, nq = 100;
    float *v = make_vecs(n, dim, 0, 1), *qs = make_vecs(nq, dim, 0, 2);
    cove_kb_vindex *vi = NULL;
    cove_kb_hnsw *h = NULL;
    cove_pool *pool = NULL;
    CHECK_OK(cove_pool_create(2, &pool));
    CHECK_OK(cove_kb_vindex_create(dim, 0, 1, &vi));
    for (int i = 0; i < n; i++)
        CHECK_OK(cove_kb_vindex_add(vi, i, v + (size_t)i * dim));
    CHECK_OK(cove_kb_hnsw_build(vi, cove_kb_hnsw_default_params(), pool, &h));
    CHECK_EQ_INT(cove_kb_hnsw_size(h), n);
    cove_kb_hnsw_set_ef(h, 128);
    double r = recall_at_10(h, vi, qs, nq, dim);
    CHECK_MSG(r >= 0.95, "recall@10 of a 2-thread build of %d random vectors: %.3f", n, r);
    cove_kb_hnsw_free(h);
    cove_kb_vindex_free(vi);
    cove_pool_free(pool);
    cove_free(v);
    cove_free(qs);
}

/* Remove `count` random live positions from graph and set. */
static cove_status remove_random(cove_kb_hnsw *h, cove_kb_vindex *vi, size_t count,
                                 uint64_t seed, cove_pool *pool)
{
    size_t *pos = cove_malloc(count * sizeof *pos), n = 0, size = cove_kb_vindex_size(vi);
    uint64_t s = seed;
    while (n < count) {
        size_t p = (size_t)(rng_next(&s) % size);
        if (cove_kb_vindex_id(vi, p) >= 0) {
            cove_kb_vindex_remove(vi, p);
            pos[n++] = p;
        }
    }
    cove_status st = cove_kb_hnsw_remove(h, vi, pos, n, pool);
    cove_free(pos);
    return st;
}

TEST(ann_insert_and_remove_keep_recall)
{
    const int dim = 32, n = 12000, nq = 200;
    float *v = make_vecs(n, dim, 60, 3);
    cove_kb_vindex *vi = NULL;
    cove_kb_hnsw *h = NULL, *h2 = NULL;
    cove_pool *pool = NULL;
    CHECK_OK(cove_pool_create(2, &pool));
    CHECK_OK(cove_kb_vindex_create(dim, 0, 1, &vi));
    for (int i = 0; i < 8000; i++)
        CHECK_OK(cove_kb_vindex_add(vi, i, v + (size_t)i * dim));
    CHECK_OK(cove_kb_hnsw_build(vi, cove_kb_hnsw_default_params(), pool, &h));
    for (int i = 8000; i < n; i++) /* grow the set, then the graph */
        CHECK_OK(cove_kb_vindex_add(vi, i, v + (size_t)i * dim));
    CHECK_OK(cove_kb_hnsw_extend(h, vi, pool));
    CHECK_EQ_INT(cove_kb_hnsw_size(h), n);
    double r = recall_at_10(h, vi, v + (size_t)(n - nq) * dim, nq, dim); /* inserted ones */
    CHECK_MSG(r >= 0.95, "recall@10 after insertion: %.3f", r);
    CHECK_OK(remove_random(h, vi, 2000, 7, pool));
    CHECK_EQ_INT(cove_kb_hnsw_n_removed(h), 2000);
    r = recall_at_10(h, vi, v, n / 10, dim); /* queries include removed vectors */
    CHECK_MSG(r >= 0.95, "recall@10 after removal (or a removed vector returned): %.3f", r);
    uint8_t *data = NULL;
    size_t len = 0;
    cove_error err = {0};
    CHECK_OK(cove_kb_hnsw_save(h, &data, &len));
    CHECK_OK(cove_kb_hnsw_load(data, len, dim, &h2, &err));
    CHECK_EQ_INT(cove_kb_hnsw_n_removed(h2), 2000);
    CHECK(recall_at_10(h2, vi, v, n / 10, dim) == r);
    data[4] = 1; /* a version 1 index is refused, not misread */
    cove_kb_hnsw *h3 = NULL;
    CHECK(cove_kb_hnsw_load(data, len, dim, &h3, &err) == COVE_ERR_UNSUPPORTED && !h3);
    cove_free(data);
    /* every node removed: nothing is returned; new vectors then start a new graph */
    size_t *all = cove_malloc((size_t)n * sizeof *all);
    for (int i = 0; i < n; i++) {
        all[i] = (size_t)i;
        cove_kb_vindex_remove(vi, (size_t)i);
    }
    CHECK_OK(cove_kb_hnsw_remove(h2, vi, all, (size_t)n, pool));
    cove_free(all);
    size_t idx[10];
    float sc[10];
    int32_t got = -1;
    CHECK_OK(cove_kb_hnsw_search(h2, vi, v, 10, idx, sc, &got));
    CHECK_EQ_INT(got, 0);
    for (int i = 0; i < 3000; i++)
        CHECK_OK(cove_kb_vindex_add(vi, n + i, v + (size_t)i * dim));
    CHECK_OK(cove_kb_hnsw_extend(h2, vi, pool));
    r = recall_at_10(h2, vi, v, 200, dim);
    CHECK_MSG(r >= 0.95, "recall@10 of a graph grown after removing all: %.3f", r);
    cove_kb_hnsw_free(h);
    cove_kb_hnsw_free(h2);
    cove_kb_vindex_free(vi);
    cove_pool_free(pool);
    cove_free(v);
}

/* ---- the store: chunks written with SQL, the index kept by kb_ann_refresh ---- */

#define SDIM 32

static cove_status sql(cove_kb *kb, const char *q) { return kb_exec(kb, q, NULL); }

/* Add document `doc` with n chunks whose vectors are v[0..n). */
static cove_status add_doc(cove_kb *kb, int doc, const float *v, int n)
{
    char q[256];
    snprintf(q, sizeof q, "INSERT INTO documents(id, path, hash, size, mtime, format, n_chunks)"
                          " VALUES(%d, '/d%d', zeroblob(32), 1, 1, 'txt', %d)", doc, doc, n);
    cove_status s = sql(kb, "BEGIN");
    if (s == COVE_OK)
        s = sql(kb, q);
    sqlite3_stmt *st = NULL;
    if (s == COVE_OK)
        s = kb_prepare(kb, "INSERT INTO chunks(doc_id, seq, heading, text, range_kind, "
                           "range_start, range_end, vec) VALUES(?, ?, '', 'x', 0, 0, 1, ?)",
                       &st, NULL);
    for (int i = 0; s == COVE_OK && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int(st, 1, doc);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_blob(st, 3, v + (size_t)i * SDIM, SDIM * 4, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            s = COVE_ERR_IO;
    }
    sqlite3_finalize(st);
    if (s == COVE_OK)
        s = sql(kb, "UPDATE meta SET value = value + 1 WHERE key = 'generation'; COMMIT");
    return s;
}

static cove_status change(cove_kb *kb, const char *what)
{
    char q[512];
    snprintf(q, sizeof q, "BEGIN; %s; UPDATE meta SET value = value + 1 WHERE key = "
                          "'generation'; COMMIT", what);
    return sql(kb, q);
}

static cove_status open_store(const char *path, cove_kb **kb)
{
    cove_kb_params p = cove_kb_default_params();
    p.ann_threshold = 2000;
    cove_error err = {0};
    cove_status s = cove_kb_open(path, p, kb, &err);
    if (s == COVE_OK)
        s = kb_meta_set_int(*kb, "n_embd", SDIM, &err);
    return s;
}

/* 1 when no vector search result of the graph is a chunk id in [lo, hi). */
static int never_returns(cove_kb *kb, const float *qs, int nq, int64_t lo, int64_t hi)
{
    for (int t = 0; t < nq; t++) {
        size_t idx[10];
        float sc[10];
        int32_t n = 0;
        if (cove_kb_hnsw_search(kb->hnsw, kb->vi, qs + (size_t)t * SDIM, 10, idx, sc, &n) !=
            COVE_OK || n != 10)
            return 0;
        for (int i = 0; i < n; i++) {
            int64_t id = cove_kb_vindex_id(kb->vi, idx[i]);
            if (id < 0 || (id >= lo && id < hi))
                return 0;
        }
    }
    return 1;
}

static int64_t meta(cove_kb *kb, const char *key)
{
    int64_t v = -1;
    kb_meta_get_int(kb, key, &v, NULL);
    return v;
}

TEST(ann_store_updates_index_incrementally)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ann_incr.db", test_tmpdir());
    float *v = make_vecs(4000, SDIM, 40, 11);
    cove_kb *kb = NULL;
    cove_error err = {0};
    CHECK_OK(open_store(path, &kb));
    CHECK_OK(add_doc(kb, 1, v, 3000)); /* chunk ids 1..3000 */
    CHECK_OK(kb_ann_refresh(kb, &err));
    CHECK(kb->hnsw && cove_kb_hnsw_size(kb->hnsw) == 3000);
    CHECK_EQ_INT(meta(kb, "ann_generation"), meta(kb, "generation"));
    /* add a document, remove 300 chunks: inserted and removed, not rebuilt */
    CHECK_OK(add_doc(kb, 2, v + 3000 * SDIM, 500)); /* ids 3001..3500 */
    CHECK_OK(change(kb, "DELETE FROM chunks WHERE doc_id = 1 AND seq < 300"));
    CHECK_OK(kb_ann_refresh(kb, &err));
    CHECK(kb->hnsw && cove_kb_hnsw_size(kb->hnsw) == 3500);
    CHECK_EQ_INT(cove_kb_hnsw_n_removed(kb->hnsw), 300);
    CHECK_EQ_INT(meta(kb, "ann_generation"), meta(kb, "generation"));
    CHECK(never_returns(kb, v, 300, 1, 301)); /* queries: the removed vectors themselves */
    double r = recall_at_10(kb->hnsw, kb->vi, v + 3000 * SDIM, 200, SDIM);
    CHECK_MSG(r >= 0.95, "recall@10 after an incremental update: %.3f", r);
    cove_kb_free(kb);
    /* a new process reads the stored, current index */
    CHECK_OK(open_store(path, &kb));
    CHECK_OK(kb_vectors_load(kb, &err));
    CHECK(kb->hnsw && cove_kb_hnsw_n_removed(kb->hnsw) == 300);
    /* the store changes behind the index (no refresh): the stale index is brought up to
     * date when loaded, never used as it is; a changed vector is re-inserted */
    CHECK_OK(change(kb, "DELETE FROM chunks WHERE doc_id = 2 AND seq < 100"));
    char q[256];
    snprintf(q, sizeof q, "UPDATE chunks SET vec = (SELECT vec FROM chunks WHERE id = 3400) "
                          "WHERE id = 3300");
    CHECK_OK(change(kb, q));
    cove_kb_free(kb);
    CHECK_OK(open_store(path, &kb));
    CHECK(meta(kb, "ann_generation") != meta(kb, "generation"));
    CHECK_OK(kb_vectors_load(kb, &err));
    CHECK(kb->hnsw && cove_kb_hnsw_size(kb->hnsw) == 3501);
    CHECK_EQ_INT(cove_kb_hnsw_n_removed(kb->hnsw), 401);
    CHECK(never_returns(kb, v + 3000 * SDIM, 100, 3001, 3101));
    size_t idx[10];
    float sc[10];
    int32_t n = 0;
    CHECK_OK(cove_kb_hnsw_search(kb->hnsw, kb->vi, v + 3399 * SDIM, 10, idx, sc, &n));
    int both = 0;
    for (int i = 0; i < 2 && i < n; i++) { /* both chunks now hold the same vector */
        int64_t id = cove_kb_vindex_id(kb->vi, idx[i]);
        both += id == 3300 || id == 3400;
    }
    CHECK_EQ_INT(both, 2);
    CHECK_OK(kb_ann_refresh(kb, &err)); /* and stored */
    CHECK_EQ_INT(meta(kb, "ann_generation"), meta(kb, "generation"));
    /* more than COVE_KB_ANN_MAX_REMOVED_PCT % removed: rebuilt */
    CHECK_OK(change(kb, "DELETE FROM chunks WHERE doc_id = 1 AND seq < 1200"));
    CHECK_OK(kb_ann_refresh(kb, &err));
    CHECK(kb->hnsw && cove_kb_hnsw_n_removed(kb->hnsw) == 0);
    CHECK_EQ_INT(cove_kb_hnsw_size(kb->hnsw), 3500 - 1200 - 100);
    cove_kb_free(kb);
    cove_free(v);
}

/* Rewrite byte `at` of the stored index (ann_pages page 0) to `value`. */
static cove_status poke(cove_kb *kb, size_t at, unsigned value)
{
    char q[256];
    snprintf(q, sizeof q, "UPDATE ann_pages SET data = substr(data, 1, %zu) || x'%02x' || "
                          "substr(data, %zu) WHERE page = 0", at, value & 0xffu, at + 2);
    return sql(kb, q);
}

TEST(ann_store_rebuilds_old_or_damaged_index)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ann_old.db", test_tmpdir());
    float *v = make_vecs(2500, SDIM, 20, 13);
    cove_kb *kb = NULL;
    cove_error err = {0};
    CHECK_OK(open_store(path, &kb));
    CHECK_OK(add_doc(kb, 1, v, 2500));
    CHECK_OK(kb_ann_refresh(kb, &err));
    CHECK_OK(change(kb, "DELETE FROM chunks WHERE doc_id = 1 AND seq < 50"));
    CHECK_OK(kb_ann_refresh(kb, &err));
    CHECK_EQ_INT(cove_kb_hnsw_n_removed(kb->hnsw), 50);
    /* an index in the old format (version word 1), marked current: ignored, rebuilt */
    CHECK_OK(poke(kb, 4, 1));
    cove_kb_free(kb);
    CHECK_OK(open_store(path, &kb));
    CHECK_EQ_INT(meta(kb, "ann_generation"), meta(kb, "generation"));
    CHECK_OK(kb_vectors_load(kb, &err));
    CHECK(kb->hnsw == NULL); /* searches scan exactly */
    CHECK_OK(kb_ann_refresh(kb, &err));
    CHECK(kb->hnsw && cove_kb_hnsw_n_removed(kb->hnsw) == 0); /* a fresh build */
    CHECK_EQ_INT(cove_kb_hnsw_size(kb->hnsw), 2450);
    cove_kb_free(kb);
    /* a damaged link (the first layer-0 list points past the graph): rebuilt */
    CHECK_OK(open_store(path, &kb));
    CHECK_OK(poke(kb, 64 + 2450 * 14 + 4 + 3, 0x7f));
    CHECK_OK(kb_vectors_load(kb, &err));
    CHECK(kb->hnsw == NULL);
    CHECK_OK(kb_ann_refresh(kb, &err));
    CHECK(kb->hnsw && cove_kb_hnsw_size(kb->hnsw) == 2450);
    CHECK(never_returns(kb, v, 50, 1, 51));
    cove_kb_free(kb);
    cove_free(v);
}
