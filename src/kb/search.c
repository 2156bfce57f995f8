/*
 * kb/search.c - vector, keyword and hybrid search.
 *
 * Hybrid search takes the best CANDIDATES(k) chunks of each list and ranks the union by
 * reciprocal rank fusion: score = sum over lists of 1 / (RRF_K + rank), rank 1-based.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "kb/kb_int.h"

#define RRF_K 60.0
#define CANDIDATES(k) ((k) * 4 > 50 ? (k) * 4 : 50)

cove_kb_search_params cove_kb_default_search_params(void)
{
    return (cove_kb_search_params){5, COVE_KB_MODE_HYBRID, NULL, NULL, 0};
}

static const char *const MODE_NAMES[] = {"vector", "keyword", "hybrid"};

int cove_kb_mode_parse(const char *name, enum cove_kb_mode *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, MODE_NAMES[i]) == 0) {
            *out = (enum cove_kb_mode)i;
            return 0;
        }
    return -1;
}

const char *cove_kb_mode_name(enum cove_kb_mode mode)
{
    return (unsigned)mode < 3 ? MODE_NAMES[mode] : "unknown";
}

/* A ranked list of chunk ids with scores (best first). */
typedef struct ranked {
    int64_t *id;
    float *score;
    int32_t n;
} ranked;

static void ranked_release(ranked *r)
{
    cove_free(r->id);
    cove_free(r->score);
    memset(r, 0, sizeof *r);
}

static cove_status ranked_alloc(ranked *r, int32_t n)
{
    r->id = cove_calloc((size_t)n + 1, sizeof *r->id);
    r->score = cove_calloc((size_t)n + 1, sizeof *r->score);
    r->n = 0;
    return r->id && r->score ? COVE_OK : COVE_ERR_NOMEM;
}

/* ---- keyword ---- */

static int word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80 ||
           c == '_';
}

/* Joiners inside a term: "SKU-9696", "v1.2", "a/b" stay one phrase. */
static int joiner(char c) { return c == '-' || c == '.' || c == '/' || c == ':' || c == '\''; }

/*
 * The query as an FTS5 OR of its terms, each quoted (so FTS5 syntax in the query is plain
 * text). A term is a run of letters and digits, joined by - . / : ' into one phrase, so an
 * identifier such as "ERR-4127" must match as a whole.
 */
static cove_status fts_query(const char *q, struct cove_buf *b)
{
    int terms = 0;
    cove_status s = COVE_OK;
    for (const char *p = q; *p && s == COVE_OK && terms < COVE_KB_MAX_QUERY_TERMS;) {
        if (!word_byte((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *w = p;
        while (word_byte((unsigned char)*p) || (joiner(*p) && word_byte((unsigned char)p[1])))
            p++;
        s = cove_buf_appendf(b, "%s\"%.*s\"", terms ? " OR " : "", (int)(p - w), w);
        terms++;
    }
    return s;
}

static cove_status keyword_search(cove_kb *kb, const char *query, const char *prefix, int32_t n,
                                  ranked *out, cove_error *err)
{
    struct cove_buf q;
    cove_buf_init(&q, COVE_KB_MAX_QUERY * 2 + 1024);
    cove_status s = fts_query(query, &q);
    if (s != COVE_OK || q.len == 0) {
        cove_buf_release(&q);
        return s == COVE_OK ? ranked_alloc(out, 0) : cove_error_set(err, s, "keyword query");
    }
    sqlite3_stmt *st = NULL;
    s = ranked_alloc(out, n);
    if (s == COVE_OK)
        s = kb_prepare(kb, "SELECT f.rowid, bm25(chunks_fts) AS r FROM chunks_fts f "
                           "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
                           "WHERE chunks_fts MATCH ?1 AND (?2 IS NULL OR "
                           "substr(d.path, 1, length(?2)) = ?2) ORDER BY r LIMIT ?3", &st, err);
    if (s == COVE_OK) {
        sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_STATIC);
        if (prefix)
            sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, n);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n < n) {
            out->id[out->n] = sqlite3_column_int64(st, 0);
            out->score[out->n++] = (float)-sqlite3_column_double(st, 1);
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            s = kb_sql_error(kb, err, "keyword search");
    }
    sqlite3_finalize(st);
    cove_buf_release(&q);
    return s;
}

/* ---- vector ---- */

typedef struct prefix_filter {
    const cove_kb_vindex *vi;
    int64_t *ids; /* sorted chunk ids under the prefix */
    size_t n;
} prefix_filter;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int keep_prefix(void *ctx, size_t i)
{
    prefix_filter *f = ctx;
    int64_t id = cove_kb_vindex_id(f->vi, i);
    return bsearch(&id, f->ids, f->n, sizeof id, cmp_i64) != NULL;
}

static cove_status prefix_ids(cove_kb *kb, const char *prefix, prefix_filter *f, cove_error *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    cove_status s = kb_prepare(kb, "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id"
                                   " WHERE substr(d.path, 1, length(?1)) = ?1 ORDER BY c.id",
                               &st, err);
    if (s == COVE_OK)
        sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    while (s == COVE_OK && sqlite3_step(st) == SQLITE_ROW) {
        if (f->n == cap) {
            cap = cap ? cap * 2 : 1024;
            int64_t *p = cove_realloc(f->ids, cap * sizeof *p);
            if (!p) {
                s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
                break;
            }
            f->ids = p;
        }
        f->ids[f->n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return s;
}

static cove_status vector_search(cove_kb *kb, const char *query, const cove_kb_search_params *p,
                                 int32_t n, ranked *out, cove_error *err)
{
    cove_status s = kb_vectors_load(kb, err);
    if (s == COVE_OK)
        s = ranked_alloc(out, n);
    if (s != COVE_OK || !kb->vi || cove_kb_vindex_size(kb->vi) == 0)
        return s;
    if (cove_embedder_n_embd(p->embedder) != kb->n_embd)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "the store holds %d-dimensional "
                              "vectors; the embedding model gives %d", kb->n_embd,
                              cove_embedder_n_embd(p->embedder));
    float *q = cove_malloc((size_t)kb->n_embd * sizeof *q);
    size_t *idx = cove_malloc((size_t)n * sizeof *idx);
    prefix_filter f = {kb->vi, NULL, 0};
    s = q && idx ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (s == COVE_OK)
        s = cove_embed(p->embedder, &query, 1, q, err);
    if (s == COVE_OK && p->path_prefix)
        s = prefix_ids(kb, p->path_prefix, &f, err);
    if (s == COVE_OK) {
        if (kb->hnsw && !p->path_prefix && !p->exact)
            s = cove_kb_hnsw_search(kb->hnsw, kb->vi, q, n, idx, out->score, &out->n);
        else
            s = cove_kb_vindex_search(kb->vi, kb->pool, q, n, p->path_prefix ? keep_prefix : NULL,
                                      &f, idx, out->score, &out->n);
        if (s != COVE_OK)
            cove_error_set(err, s, "vector search: %s", cove_status_str(s));
    }
    for (int32_t i = 0; s == COVE_OK && i < out->n; i++)
        out->id[i] = cove_kb_vindex_id(kb->vi, idx[i]);
    cove_free(f.ids);
    cove_free(q);
    cove_free(idx);
    return s;
}

/* ---- results ---- */

void cove_kb_results_release(cove_kb_results *r)
{
    if (!r)
        return;
    for (int32_t i = 0; i < r->n; i++) {
        cove_free(r->hits[i].path);
        cove_free(r->hits[i].text);
        cove_free(r->hits[i].heading);
    }
    cove_free(r->hits);
    r->hits = NULL;
    r->n = 0;
}

static int32_t rank_of(const ranked *r, int64_t id, float *score)
{
    for (int32_t i = 0; i < r->n; i++)
        if (r->id[i] == id) {
            *score = r->score[i];
            return i + 1;
        }
    return 0;
}

/*
 * The part of a ranked list that competes in hybrid fusion: the hits whose score is close to
 * the list's best (keyword: at least KW_BAND times the best -bm25; vector: within VEC_BAND
 * of the best cosine). A list whose best hit stands out is so cut to a few hits, and a
 * flat list (no strong match) keeps many; each hit's rank counts only within its band.
 */
#define KW_BAND 0.5f
#define VEC_BAND 0.1f

static int32_t band(const ranked *r, int keyword)
{
    int32_t n = 0;
    while (n < r->n && (keyword ? r->score[n] >= KW_BAND * r->score[0]
                                : r->score[n] >= r->score[0] - VEC_BAND))
        n++;
    return n;
}

/* Score of a hit in the mode; for hybrid, *tie gets the tie-breaker (narrower bands win). */
static double hit_score(cove_kb_hit *h, enum cove_kb_mode mode, int32_t bv, int32_t bk, double *tie)
{
    *tie = 0;
    if (mode == COVE_KB_MODE_VECTOR)
        return h->vector_score;
    if (mode == COVE_KB_MODE_KEYWORD)
        return h->keyword_score;
    double s = 0;
    if (h->vector_rank && h->vector_rank <= bv) {
        s += 1.0 / (RRF_K + h->vector_rank);
        *tie += 1.0 / bv;
    }
    if (h->keyword_rank && h->keyword_rank <= bk) {
        s += 1.0 / (RRF_K + h->keyword_rank);
        *tie += 1.0 / bk;
    }
    return s;
}

typedef struct scored { cove_kb_hit hit; double tie; } scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->hit.score != y->hit.score)
        return x->hit.score < y->hit.score ? 1 : -1;
    if (x->tie != y->tie)
        return x->tie < y->tie ? 1 : -1;
    return x->hit.chunk_id < y->hit.chunk_id ? -1 : x->hit.chunk_id > y->hit.chunk_id;
}

/* Hits of both lists (ids only) with ranks and the score of the mode, sorted, cut to k. */
static cove_status fuse(const ranked *vec, const ranked *kw, enum cove_kb_mode mode, int32_t k,
                        cove_kb_results *out)
{
    int32_t n = vec->n + kw->n, m = 0, bv = band(vec, 0), bk = band(kw, 1);
    scored *all = cove_calloc((size_t)n + 1, sizeof *all);
    out->hits = cove_calloc((size_t)(n < k ? n : k) + 1, sizeof *out->hits);
    if (!all || !out->hits) {
        cove_free(all);
        return COVE_ERR_NOMEM;
    }
    for (int l = 0; l < 2; l++) {
        const ranked *r = l ? kw : vec;
        for (int32_t i = 0; i < r->n; i++) {
            int dup = 0;
            for (int32_t j = 0; j < m && !dup; j++)
                dup = all[j].hit.chunk_id == r->id[i];
            if (dup)
                continue;
            cove_kb_hit *h = &all[m++].hit;
            float sv = 0, sk = 0;
            h->chunk_id = r->id[i];
            h->vector_rank = rank_of(vec, h->chunk_id, &sv);
            h->keyword_rank = rank_of(kw, h->chunk_id, &sk);
            h->vector_score = sv;
            h->keyword_score = sk;
            h->score = hit_score(h, mode, bv, bk, &all[m - 1].tie);
        }
    }
    qsort(all, (size_t)m, sizeof *all, cmp_scored);
    out->n = m < k ? m : k;
    for (int32_t i = 0; i < out->n; i++)
        out->hits[i] = all[i].hit;
    if (out->n == 0) { /* an empty result owns nothing */
        cove_free(out->hits);
        out->hits = NULL;
    }
    cove_free(all);
    return COVE_OK;
}

static char *dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return cove_strdup(t ? (const char *)t : "");
}

static cove_status fill_hits(cove_kb *kb, cove_kb_results *r, cove_error *err)
{
    sqlite3_stmt *st = NULL;
    cove_status s = kb_prepare(kb, "SELECT d.path, c.text, c.heading, c.range_kind, "
                                   "c.range_start, c.range_end FROM chunks c JOIN documents d "
                                   "ON d.id = c.doc_id WHERE c.id = ?", &st, err);
    for (int32_t i = 0; s == COVE_OK && i < r->n; i++) {
        cove_kb_hit *h = &r->hits[i];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, h->chunk_id);
        if (sqlite3_step(st) != SQLITE_ROW) {
            s = kb_sql_error(kb, err, "read chunk");
            break;
        }
        h->path = dup_col(st, 0);
        h->text = dup_col(st, 1);
        h->heading = dup_col(st, 2);
        h->range_kind = (enum cove_kb_range_kind)sqlite3_column_int(st, 3);
        h->range_start = sqlite3_column_int64(st, 4);
        h->range_end = sqlite3_column_int64(st, 5);
        if (!h->path || !h->text || !h->heading)
            s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    return s;
}

cove_status cove_kb_search(cove_kb *kb, const char *query, const cove_kb_search_params *p,
                           cove_kb_results *out, cove_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!kb || !query || !p || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "search: NULL argument");
    if (p->k < 1 || p->k > COVE_KB_MAX_K || (unsigned)p->mode > COVE_KB_MODE_HYBRID)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "search: k must be 1..%d",
                              COVE_KB_MAX_K);
    if (p->mode != COVE_KB_MODE_KEYWORD && !p->embedder)
        return cove_error_set(err, COVE_ERR_INVALID_ARG,
                              "search: %s search needs an embedding model",
                              cove_kb_mode_name(p->mode));
    if (strlen(query) > COVE_KB_MAX_QUERY)
        return cove_error_set(err, COVE_ERR_LIMIT, "search: query longer than %d bytes",
                              COVE_KB_MAX_QUERY);
    int32_t n = p->mode == COVE_KB_MODE_HYBRID ? CANDIDATES(p->k) : p->k;
    if (n > COVE_KB_MAX_K)
        n = COVE_KB_MAX_K;
    ranked vec = {0}, kw = {0};
    cove_status s = COVE_OK;
    if (p->mode != COVE_KB_MODE_KEYWORD)
        s = vector_search(kb, query, p, n, &vec, err);
    if (s == COVE_OK && p->mode != COVE_KB_MODE_VECTOR)
        s = keyword_search(kb, query, p->path_prefix, n, &kw, err);
    if (s == COVE_OK && fuse(&vec, &kw, p->mode, p->k, out) != COVE_OK)
        s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (s == COVE_OK)
        s = fill_hits(kb, out, err);
    ranked_release(&vec);
    ranked_release(&kw);
    if (s != COVE_OK)
        cove_kb_results_release(out);
    return s;
}
