/*
 * tests/kb/test_retrieval.c - the labelled retrieval set: recall@5 of vector, keyword and
 * hybrid search over tests/kb/data (written by gen_data.py), with the default embedding
 * model from $COVE_MODELS or ~/.cache/cove/models (the cases fail when it is missing).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/str.h"
#include "kb/kb.h"
#include "test.h"

#define MAX_QUERIES 512

typedef struct query { char text[1024], file[1024], marker[1024]; } query;

static const char *embed_model_path(void)
{
    static char path[4096];
    const char *dir = getenv("COVE_MODELS"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/all-minilm-l6-v2.gguf", dir);
    else
        snprintf(path, sizeof path, "%s/.cache/cove/models/all-minilm-l6-v2.gguf",
                 home ? home : "");
    return path;
}

static int load_queries(query *q, int max)
{
    FILE *f = fopen(COVE_SOURCE_DIR "/tests/kb/data/queries.tsv", "r");
    char line[1024];
    int n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        *t1 = *t2 = '\0';
        snprintf(q[n].text, sizeof q[n].text, "%s", line);
        q[n].file[0] = '/';
        snprintf(q[n].file + 1, sizeof q[n].file - 1, "%s", t1 + 1);
        snprintf(q[n].marker, sizeof q[n].marker, "%s", t2 + 1);
        n++;
    }
    if (f)
        fclose(f);
    return n;
}

/* 1 when one of the hits is the labelled chunk: its file, with the marker in text or heading. */
static int relevant(const cove_kb_results *r, const query *q)
{
    for (int32_t i = 0; i < r->n; i++)
        if (cove_str_ends_with(r->hits[i].path, q->file) &&
            (strstr(r->hits[i].text, q->marker) || strstr(r->hits[i].heading, q->marker)))
            return 1;
    return 0;
}

typedef struct fixture {
    cove_model *model;
    cove_embedder *emb;
    cove_kb *kb;
} fixture;

static void fixture_free(fixture *f)
{
    cove_kb_free(f->kb);
    cove_embedder_free(f->emb);
    cove_model_free(f->model);
}

/* Ingest the data set into a fresh store at path. Returns 0 on success. */
static int fixture_open(fixture *f, const char *path, enum cove_kb_vec_format fmt,
                        int64_t ann_threshold, cove_kb_ingest_stats *st)
{
    cove_error err = {0};
    memset(f, 0, sizeof *f);
    cove_embed_params ep = cove_embed_default_params();
    ep.truncate = 1;
    ep.n_threads = 2;
    cove_kb_params kp = cove_kb_default_params();
    kp.vec_format = fmt;
    kp.ann_threshold = ann_threshold;
    remove(path);
    if (cove_model_load(embed_model_path(), cove_model_default_params(), &f->model, &err) ||
        cove_embedder_create(f->model, ep, &f->emb, &err) || cove_kb_open(path, kp, &f->kb, &err)) {
        fprintf(stderr, "fixture: %s\n", cove_error_msg(&err));
        return -1;
    }
    cove_kb_ingest_params ip = cove_kb_default_ingest_params();
    ip.chunk_tokens = 64;
    ip.overlap_tokens = 16;
    ip.tokenizer = f->model;
    const char *paths[] = {COVE_SOURCE_DIR "/tests/kb/data/docs"};
    if (cove_kb_ingest(f->kb, f->emb, paths, 1, &ip, st, &err) != COVE_OK) {
        fprintf(stderr, "ingest: %s\n", cove_error_msg(&err));
        return -1;
    }
    return 0;
}

/* recall@5 of each mode over the queries; prints a markdown table. */
static int eval(fixture *f, const query *q, int nq, double recall[3], const char *label)
{
    for (int m = 0; m < 3; m++) {
        int hits = 0;
        for (int i = 0; i < nq; i++) {
            cove_kb_search_params sp = cove_kb_default_search_params();
            sp.k = 5;
            sp.mode = (enum cove_kb_mode)m;
            sp.embedder = f->emb;
            cove_kb_results r;
            cove_error err = {0};
            if (cove_kb_search(f->kb, q[i].text, &sp, &r, &err) != COVE_OK) {
                fprintf(stderr, "search: %s\n", cove_error_msg(&err));
                return -1;
            }
            int ok = relevant(&r, &q[i]);
            hits += ok;
            if (!ok && getenv("COVE_KB_EVAL_VERBOSE"))
                fprintf(stderr, "miss %-7s %s\n", cove_kb_mode_name(sp.mode), q[i].text);
            cove_kb_results_release(&r);
        }
        recall[m] = (double)hits / nq;
    }
    printf("| vectors | queries | recall@5 vector | recall@5 keyword | recall@5 hybrid |\n"
           "|---|---|---|---|---|\n| %s | %d | %.3f | %.3f | %.3f |\n", label, nq, recall[0],
           recall[1], recall[2]);
    return 0;
}

TEST(retrieval_recall_at_5)
{
    static query q[MAX_QUERIES];
    int nq = load_queries(q, MAX_QUERIES);
    CHECK_MSG(nq >= 50, "only %d labelled queries", nq);
    char path[4096];
    snprintf(path, sizeof path, "%s/retrieval.db", test_tmpdir());
    fixture f;
    cove_kb_ingest_stats st = {0};
    int rc = fixture_open(&f, path, COVE_KB_VEC_F32, 1 << 20, &st);
    cove_kb_info info;
    double r[3] = {0};
    if (rc == 0)
        rc = cove_kb_info_get(f.kb, &info, NULL) == COVE_OK ? 0 : -1;
    if (rc == 0)
        rc = eval(&f, q, nq, r, "f32");
    fixture_free(&f);
    CHECK_MSG(rc == 0, "fixture failed (is %s there?)", embed_model_path());
    CHECK_MSG(info.n_chunks >= 200, "only %lld chunks", (long long)info.n_chunks);
    CHECK_EQ_INT(st.n_skipped, 0);
    CHECK_MSG(r[2] > r[0] && r[2] > r[1], "hybrid %.3f must beat vector %.3f and keyword %.3f",
              r[2], r[0], r[1]);
    CHECK(r[2] >= 0.85);
}

TEST(retrieval_int8_store)
{
    static query q[MAX_QUERIES];
    int nq = load_queries(q, MAX_QUERIES);
    char path[4096];
    snprintf(path, sizeof path, "%s/retrieval8.db", test_tmpdir());
    fixture f;
    cove_kb_ingest_stats st = {0};
    double r[3] = {0};
    int rc = fixture_open(&f, path, COVE_KB_VEC_INT8, 1 << 20, &st);
    if (rc == 0)
        rc = eval(&f, q, nq, r, "int8");
    fixture_free(&f);
    CHECK(rc == 0);
    CHECK_MSG(r[2] > r[0] && r[2] > r[1], "hybrid %.3f must beat vector %.3f and keyword %.3f",
              r[2], r[0], r[1]);
}

/* Above the threshold the store gets an HNSW index; a new handle loads it, and its
 * results agree with the exact scan. */
TEST(retrieval_ann_index)
{
    static query q[MAX_QUERIES];
    int nq = load_queries(q, MAX_QUERIES);
    char path[4096];
    snprintf(path, sizeof path, "%s/ann.db", test_tmpdir());
    fixture f;
    cove_kb_ingest_stats st = {0};
    int rc = fixture_open(&f, path, COVE_KB_VEC_F32, 100, &st);
    cove_kb_free(f.kb);
    f.kb = NULL;
    cove_kb_params kp = cove_kb_default_params();
    kp.read_only = 1;
    kp.ann_threshold = 100;
    cove_error err = {0};
    if (rc == 0)
        rc = cove_kb_open(path, kp, &f.kb, &err) == COVE_OK ? 0 : -1;
    int same = 0;
    for (int i = 0; rc == 0 && i < nq; i++) {
        cove_kb_search_params sp = cove_kb_default_search_params();
        sp.k = 5;
        sp.mode = COVE_KB_MODE_VECTOR;
        sp.embedder = f.emb;
        cove_kb_results a, b;
        rc |= cove_kb_search(f.kb, q[i].text, &sp, &a, &err) != COVE_OK;
        sp.exact = 1;
        rc |= cove_kb_search(f.kb, q[i].text, &sp, &b, &err) != COVE_OK;
        same += rc == 0 && a.n == b.n && a.n > 0 && a.hits[0].chunk_id == b.hits[0].chunk_id;
        cove_kb_results_release(&a);
        cove_kb_results_release(&b);
    }
    sqlite3 *db = NULL;
    int pages = 0;
    if (rc == 0 && sqlite3_open(path, &db) == SQLITE_OK) {
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM ann_pages", -1, &stmt, NULL) == SQLITE_OK &&
            sqlite3_step(stmt) == SQLITE_ROW)
            pages = sqlite3_column_int(stmt, 0);
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    fixture_free(&f);
    CHECK(rc == 0);
    CHECK(pages >= 1);
    CHECK_MSG(same >= nq * 95 / 100, "top hit of the index agreed with the scan in %d of %d", same, nq);
}
