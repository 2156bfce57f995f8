/*
 * kb/ann.c - the store's vectors in memory, and the HNSW index kept in ann_pages.
 *
 * The index is written in one transaction together with meta.ann_generation, the store
 * generation it was built for; any later document change bumps the generation, so a
 * stale index is never used (searches scan exactly until the next ingestion rebuilds it).
 */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "kb/kb_int.h"

#define ANN_PAGE (8u << 20) /* bytes of one ann_pages row */

static cove_status load_rows(cove_kb *kb, cove_kb_vindex *vi, cove_error *err)
{
    sqlite3_stmt *st = NULL;
    cove_status s = kb_prepare(kb, "SELECT id, vec, scale FROM chunks WHERE vec IS NOT NULL "
                                   "ORDER BY id", &st, err);
    int rc;
    while (s == COVE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int bytes = sqlite3_column_bytes(st, 1);
        const void *blob = sqlite3_column_blob(st, 1);
        if (kb->fmt == COVE_KB_VEC_INT8 && bytes == kb->n_embd)
            s = cove_kb_vindex_add_q8(vi, sqlite3_column_int64(st, 0), blob,
                                      (float)sqlite3_column_double(st, 2));
        else if (kb->fmt == COVE_KB_VEC_F32 && bytes == kb->n_embd * 4) {
            float tmp[1024], *v = kb->n_embd <= 1024 ? tmp : cove_malloc((size_t)bytes);
            if (!v)
                return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
            memcpy(v, blob, (size_t)bytes); /* the blob need not be aligned */
            s = cove_kb_vindex_add(vi, sqlite3_column_int64(st, 0), v);
            if (v != tmp)
                cove_free(v);
        } else
            s = cove_error_set(err, COVE_ERR_FORMAT, "knowledge base: chunk %lld has a vector "
                               "of %d bytes", (long long)sqlite3_column_int64(st, 0), bytes);
        if (s != COVE_OK && err && err->status == COVE_OK)
            cove_error_set(err, s, "knowledge base: loading vectors: %s", cove_status_str(s));
    }
    if (s == COVE_OK && rc != SQLITE_DONE)
        s = kb_sql_error(kb, err, "load vectors");
    sqlite3_finalize(st);
    return s;
}

/* Read the stored index when it was built for generation gen. */
static cove_status load_ann(cove_kb *kb, int64_t gen, cove_error *err)
{
    int64_t ann_gen = 0;
    cove_status s = kb_meta_get_int(kb, "ann_generation", &ann_gen, err);
    if (s != COVE_OK || ann_gen != gen || cove_kb_vindex_size(kb->vi) == 0)
        return s;
    sqlite3_stmt *st = NULL;
    struct { uint8_t *p; size_t n; } b = {NULL, 0};
    s = kb_prepare(kb, "SELECT data FROM ann_pages ORDER BY page", &st, err);
    while (s == COVE_OK && sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        uint8_t *p = cove_realloc(b.p, b.n + n + 1);
        if (!p) {
            s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
            break;
        }
        b.p = p;
        memcpy(b.p + b.n, sqlite3_column_blob(st, 0), n);
        b.n += n;
    }
    sqlite3_finalize(st);
    if (s == COVE_OK && b.n) {
        cove_error e = {0};
        if (cove_kb_hnsw_load(b.p, b.n, cove_kb_vindex_size(kb->vi), &kb->hnsw, &e) != COVE_OK)
            cove_log_warn("kb: ignoring the stored ann index: %s", cove_error_msg(&e));
    }
    cove_free(b.p);
    return s;
}

cove_status kb_vectors_load(cove_kb *kb, cove_error *err)
{
    int64_t gen = 0;
    cove_status s = kb_generation(kb, &gen, err);
    if (s != COVE_OK || (kb->vi && kb->vi_gen == gen))
        return s;
    cove_kb_hnsw_free(kb->hnsw);
    cove_kb_vindex_free(kb->vi);
    kb->hnsw = NULL;
    kb->vi = NULL;
    int64_t dim = 0;
    s = kb_meta_get_int(kb, "n_embd", &dim, err);
    if (s != COVE_OK)
        return s;
    kb->n_embd = (int32_t)dim;
    if (dim < 1)
        return COVE_OK; /* nothing stored yet */
    if (cove_kb_vindex_create((int32_t)dim, 0, kb->fmt == COVE_KB_VEC_F32, &kb->vi) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    s = kb_exec(kb, "BEGIN", err); /* one snapshot for vectors and index */
    if (s == COVE_OK)
        s = load_rows(kb, kb->vi, err);
    if (s == COVE_OK)
        s = load_ann(kb, gen, err);
    kb_exec(kb, "COMMIT", NULL);
    if (s != COVE_OK) {
        cove_kb_vindex_free(kb->vi);
        kb->vi = NULL;
        return s;
    }
    kb->vi_gen = gen;
    return COVE_OK;
}

static cove_status store_pages(cove_kb *kb, const uint8_t *data, size_t len, cove_error *err)
{
    sqlite3_stmt *st = NULL;
    cove_status s = kb_exec(kb, "DELETE FROM ann_pages", err);
    if (s == COVE_OK)
        s = kb_prepare(kb, "INSERT INTO ann_pages(page, data) VALUES(?, ?)", &st, err);
    for (size_t off = 0, page = 0; s == COVE_OK && off < len; off += ANN_PAGE, page++) {
        size_t n = len - off < ANN_PAGE ? len - off : ANN_PAGE;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (int64_t)page);
        sqlite3_bind_blob(st, 2, data + off, (int)n, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            s = kb_sql_error(kb, err, "store ann index");
    }
    sqlite3_finalize(st);
    return s;
}

/* Save kb->hnsw for generation gen, unless the store moved on meanwhile. */
static cove_status save_ann(cove_kb *kb, int64_t gen, cove_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (cove_kb_hnsw_save(kb->hnsw, &data, &len) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    int64_t now = 0;
    cove_status s = kb_exec(kb, "BEGIN IMMEDIATE", err);
    if (s == COVE_OK)
        s = kb_generation(kb, &now, err);
    if (s == COVE_OK && now == gen) {
        s = store_pages(kb, data, len, err);
        if (s == COVE_OK)
            s = kb_meta_set_int(kb, "ann_generation", gen, err);
    }
    s = s == COVE_OK ? kb_exec(kb, "COMMIT", err) : (kb_exec(kb, "ROLLBACK", NULL), s);
    cove_free(data);
    return s;
}

static int64_t count_vectors(cove_kb *kb)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(kb->db, "SELECT count(*) FROM chunks WHERE vec IS NOT NULL", -1, &st,
                           NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

cove_status kb_ann_refresh(cove_kb *kb, cove_error *err)
{
    int64_t n = count_vectors(kb);
    if (n < 0)
        return kb_sql_error(kb, err, "count vectors");
    if (n < kb->params.ann_threshold) {
        int64_t ann_gen = 0;
        cove_status s = kb_meta_get_int(kb, "ann_generation", &ann_gen, err);
        if (s == COVE_OK && ann_gen)
            s = kb_exec(kb, "BEGIN IMMEDIATE; DELETE FROM ann_pages;"
                            "DELETE FROM meta WHERE key = 'ann_generation'; COMMIT;", err);
        return s;
    }
    cove_status s = kb_vectors_load(kb, err);
    if (s != COVE_OK || !kb->vi || kb->hnsw)
        return s; /* error, or the stored index is current */
    cove_log_info("kb: building the ann index over %lld vectors", (long long)n);
    if (cove_kb_hnsw_build(kb->vi, cove_kb_hnsw_default_params(), kb->pool, &kb->hnsw) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "building the ann index: out of memory");
    return save_ann(kb, kb->vi_gen, err);
}
