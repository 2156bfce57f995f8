/*
 * kb/ann.c - the store's vectors in memory, and the HNSW index kept in ann_pages.
 *
 * The index is written in one transaction together with meta.ann_generation, the store
 * generation it was saved for. It is kept up to date incrementally: the graph records the
 * chunk id and a hash of the vector of every node, so whenever the store's generation
 * moves (in this process, or another process ingested) the graph is matched against the
 * chunks: a node whose chunk is gone or whose vector changed is removed (the graph is
 * repaired around it, see hnsw.c), and chunks the graph lacks are inserted. An index that
 * cannot be read (damaged, an older format, another dimension) is ignored and rebuilt, as
 * is one whose removed nodes pass COVE_KB_ANN_MAX_REMOVED_PCT percent. So a stale index
 * is never used as it is: it is brought up to date or dropped, never trusted by its
 * generation alone. A search inserts at most COVE_KB_ANN_LAZY_INSERT new vectors (else it
 * scans exactly until the next ingestion updates the stored index).
 *
 * kb->vi holds the vectors in the graph's node order when there is a graph (removed nodes
 * as removed slots), else in chunk id order.
 */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "kb/kb_int.h"

#define ANN_PAGE (8u << 20) /* bytes of one ann_pages row */
#define NO_ROW SIZE_MAX

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

/* Read the stored index into *out (NULL when none is stored or it cannot be used). */
static cove_status load_stored(cove_kb *kb, cove_kb_hnsw **out, cove_error *err)
{
    sqlite3_stmt *st = NULL;
    struct { uint8_t *p; size_t n; } b = {NULL, 0};
    *out = NULL;
    cove_status s = kb_prepare(kb, "SELECT data FROM ann_pages ORDER BY page", &st, err);
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
        if (cove_kb_hnsw_load(b.p, b.n, kb->n_embd, out, &e) != COVE_OK)
            cove_log_warn("kb: ignoring the stored ann index (it will be rebuilt): %s",
                          cove_error_msg(&e));
    }
    cove_free(b.p);
    return s;
}

/* Position of the row with chunk id `id` in rows (sorted by id), or NO_ROW. */
static size_t find_row(const cove_kb_vindex *rows, int64_t id)
{
    size_t lo = 0, hi = cove_kb_vindex_size(rows);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t x = cove_kb_vindex_id(rows, mid);
        if (x == id)
            return mid;
        if (x < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NO_ROW;
}

/*
 * The store's rows laid out in g's node order (*out): a node keeps its row when the chunk
 * is still there with the same vector; else it goes to gone[] and gets a removed slot.
 * Rows the graph lacks follow. Errors: COVE_ERR_NOMEM.
 */
static cove_status layout(cove_kb *kb, const cove_kb_hnsw *g, const cove_kb_vindex *rows,
                          cove_kb_vindex **out, size_t *gone, size_t *n_gone)
{
    size_t n = cove_kb_hnsw_size(g), n_rows = cove_kb_vindex_size(rows);
    uint8_t *used = cove_calloc(n_rows + 1, 1);
    cove_status s = used ? cove_kb_vindex_create(kb->n_embd, n + n_rows,
                                                 kb->fmt == COVE_KB_VEC_F32, out)
                         : COVE_ERR_NOMEM;
    *n_gone = 0;
    for (size_t i = 0; s == COVE_OK && i < n; i++) {
        size_t r = cove_kb_hnsw_is_removed(g, i) ? NO_ROW
                                                 : find_row(rows, cove_kb_hnsw_node_id(g, i));
        if (r != NO_ROW && !used[r] &&
            cove_kb_vindex_hash(rows, r) == cove_kb_hnsw_node_hash(g, i)) {
            used[r] = 1;
            s = cove_kb_vindex_append(*out, rows, r);
            continue;
        }
        if (!cove_kb_hnsw_is_removed(g, i))
            gone[(*n_gone)++] = i;
        s = cove_kb_vindex_add_removed(*out);
    }
    for (size_t r = 0; s == COVE_OK && r < n_rows; r++)
        if (!used[r])
            s = cove_kb_vindex_append(*out, rows, r);
    cove_free(used);
    return s;
}

/*
 * Bring graph g up to date with rows (the store's vectors by chunk id): on success *vi is
 * the set in g's order and g is current. *vi stays NULL when g is not worth keeping (too
 * many removed nodes, more than max_insert new vectors) or could not be updated.
 */
static cove_status update_graph(cove_kb *kb, cove_kb_hnsw *g, const cove_kb_vindex *rows,
                                size_t max_insert, cove_kb_vindex **vi)
{
    size_t n = cove_kb_hnsw_size(g), n_gone = 0;
    size_t *gone = cove_malloc((n + 1) * sizeof *gone);
    cove_kb_vindex *v = NULL;
    *vi = NULL;
    cove_status s = gone ? layout(kb, g, rows, &v, gone, &n_gone) : COVE_ERR_NOMEM;
    if (s == COVE_OK) {
        size_t total = cove_kb_vindex_size(v), removed = cove_kb_hnsw_n_removed(g) + n_gone;
        if (removed * 100 > total * COVE_KB_ANN_MAX_REMOVED_PCT || total - n > max_insert) {
            cove_log_info("kb: not updating the ann index (%zu of %zu nodes removed, %zu new)",
                          removed, total, total - n);
        } else {
            s = cove_kb_hnsw_remove(g, v, gone, n_gone, kb->pool);
            if (s == COVE_OK)
                s = cove_kb_hnsw_extend(g, v, kb->pool);
            if (s == COVE_OK) {
                *vi = v;
                v = NULL;
            }
        }
    }
    cove_kb_vindex_free(v);
    cove_free(gone);
    return s;
}

/* Load the rows and, at or above the threshold, a graph (in memory or stored) for gen. */
static cove_status read_store(cove_kb *kb, int64_t gen, cove_kb_vindex *rows,
                              cove_kb_hnsw **graph, cove_error *err)
{
    cove_status s = kb_exec(kb, "BEGIN", err); /* one snapshot for vectors and index */
    int64_t ann_gen = 0;
    if (s == COVE_OK)
        s = load_rows(kb, rows, err);
    if (s == COVE_OK)
        s = kb_meta_get_int(kb, "ann_generation", &ann_gen, err);
    int wanted = (int64_t)cove_kb_vindex_size(rows) >= kb->params.ann_threshold;
    if (s == COVE_OK && wanted && ann_gen && (ann_gen == gen || !*graph)) {
        cove_kb_hnsw *stored = NULL; /* a current stored index beats the one in memory */
        s = load_stored(kb, &stored, err);
        if (stored) {
            cove_kb_hnsw_free(*graph);
            *graph = stored;
        }
    }
    kb_exec(kb, "COMMIT", NULL);
    if (!wanted) {
        cove_kb_hnsw_free(*graph);
        *graph = NULL;
    }
    return s;
}

/* kb_vectors_load, inserting at most max_insert new vectors into an existing graph. */
static cove_status vectors_load(cove_kb *kb, size_t max_insert, cove_error *err)
{
    int64_t gen = 0, dim = 0;
    cove_status s = kb_generation(kb, &gen, err);
    if (s != COVE_OK || (kb->vi && kb->vi_gen == gen))
        return s;
    cove_kb_hnsw *graph = kb->hnsw; /* kept to be brought up to date */
    cove_kb_vindex_free(kb->vi);
    kb->hnsw = NULL;
    kb->vi = NULL;
    s = kb_meta_get_int(kb, "n_embd", &dim, err);
    kb->n_embd = (int32_t)dim;
    cove_kb_vindex *rows = NULL, *vi = NULL;
    if (s == COVE_OK && dim >= 1 &&
        cove_kb_vindex_create((int32_t)dim, 0, kb->fmt == COVE_KB_VEC_F32, &rows) != COVE_OK)
        s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (s == COVE_OK && rows)
        s = read_store(kb, gen, rows, &graph, err);
    if (s == COVE_OK && graph && update_graph(kb, graph, rows, max_insert, &vi) != COVE_OK)
        cove_log_warn("kb: the ann index could not be updated; it will be rebuilt");
    if (s != COVE_OK || !vi) {
        cove_kb_hnsw_free(graph);
        graph = NULL;
    }
    if (s != COVE_OK || !rows) {
        cove_kb_vindex_free(rows);
        return s;
    }
    if (vi)
        cove_kb_vindex_free(rows);
    kb->vi = vi ? vi : rows;
    kb->hnsw = graph;
    kb->vi_gen = gen;
    return COVE_OK;
}

cove_status kb_vectors_load(cove_kb *kb, cove_error *err)
{
    return vectors_load(kb, COVE_KB_ANN_LAZY_INSERT, err);
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
    int64_t n = count_vectors(kb), ann_gen = 0;
    if (n < 0)
        return kb_sql_error(kb, err, "count vectors");
    cove_status s = kb_meta_get_int(kb, "ann_generation", &ann_gen, err);
    if (s != COVE_OK)
        return s;
    if (n < kb->params.ann_threshold) {
        if (ann_gen)
            s = kb_exec(kb, "BEGIN IMMEDIATE; DELETE FROM ann_pages;"
                            "DELETE FROM meta WHERE key = 'ann_generation'; COMMIT;", err);
        return s;
    }
    s = vectors_load(kb, SIZE_MAX, err); /* updates the graph it finds */
    if (s != COVE_OK || !kb->vi)
        return s;
    if (!kb->hnsw) {
        cove_log_info("kb: building the ann index over %lld vectors", (long long)n);
        if (cove_kb_hnsw_build(kb->vi, cove_kb_hnsw_default_params(), kb->pool, &kb->hnsw) !=
            COVE_OK)
            return cove_error_set(err, COVE_ERR_NOMEM, "building the ann index: out of memory");
    } else if (ann_gen == kb->vi_gen) {
        return COVE_OK; /* the stored index is current */
    }
    return save_ann(kb, kb->vi_gen, err);
}
