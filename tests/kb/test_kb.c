/*
 * tests/kb/test_kb.c - unit cases of the knowledge base: extraction, chunking, the vector
 * scan, HNSW, the store's schema checks and the child-process runner. No model needed.
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
#include "kb/vindex_int.h"
#include "test.h"

static cove_status extract_str(enum kb_format fmt, const char *s, kb_doc *d)
{
    cove_error err = {0};
    return kb_extract("x", fmt, s, strlen(s), 1000, d, &err);
}

TEST(extract_markdown_headings_and_paragraphs)
{
    const char *md = "# Guide\n\nIntro  text\nsecond line.\n\n## Install\n\nRun it.\n```\n# not a heading\n\ncode\n```\n";
    kb_doc d;
    CHECK_OK(extract_str(KB_FMT_MD, md, &d));
    CHECK_EQ_INT(d.n, 4);
    CHECK_STR_EQ(d.blocks[0].text, "Guide");
    CHECK_EQ_INT(d.blocks[0].heading, 1);
    CHECK_STR_EQ(d.blocks[1].text, "Intro text second line.");
    CHECK_EQ_INT(d.blocks[1].start, 9);
    CHECK_EQ_INT(d.blocks[2].heading, 2);
    CHECK(strstr(d.blocks[3].text, "# not a heading code") != NULL);
    kb_doc_release(&d);
}

TEST(extract_csv_rows)
{
    const char *csv = "name,use\nsaw,\"cutting, sawing\"\r\nrope,\"say \"\"hi\"\"\"\n";
    kb_doc d;
    CHECK_OK(extract_str(KB_FMT_CSV, csv, &d));
    CHECK_EQ_INT(d.n, 2);
    CHECK_STR_EQ(d.blocks[0].text, "name: saw; use: cutting, sawing");
    CHECK_STR_EQ(d.blocks[1].text, "name: rope; use: say \"hi\"");
    CHECK_EQ_INT(d.blocks[0].start, 9);
    kb_doc_release(&d);
    CHECK(extract_str(KB_FMT_CSV, "a,b\n\"open,1\n", &d) == COVE_ERR_FORMAT);
}

TEST(extract_html_visible_text)
{
    const char *html = "<html><head><title>T</title><style>p{}</style></head><body>"
                       "<script>var hidden=1;</script><h1>Title &amp; more</h1><!-- gone -->"
                       "<p>One <b>bold</b> word.</p><div>Two</div></body></html>";
    kb_doc d;
    CHECK_OK(extract_str(KB_FMT_HTML, html, &d));
    CHECK_EQ_INT(d.n, 3);
    CHECK_STR_EQ(d.blocks[0].text, "Title & more");
    CHECK_EQ_INT(d.blocks[0].heading, 1);
    CHECK_STR_EQ(d.blocks[1].text, "One bold word.");
    CHECK_STR_EQ(d.blocks[2].text, "Two");
    kb_doc_release(&d);
}

TEST(extract_refuses_binary)
{
    kb_doc d;
    const char bin[] = {'a', 0, 'b'};
    cove_error err = {0};
    CHECK(kb_extract("x", KB_FMT_TXT, bin, 3, 1000, &d, &err) == COVE_ERR_FORMAT);
    CHECK(extract_str(KB_FMT_TXT, "bad \xff utf8", &d) == COVE_ERR_FORMAT);
    CHECK(extract_str(KB_FMT_PDF, "not a pdf", &d) == COVE_ERR_FORMAT);
}

TEST(chunk_limits_and_headings)
{
    kb_doc d = {0};
    CHECK_OK(kb_doc_add(&d, "Top", 3, 0, 3, 1));
    CHECK_OK(kb_doc_add(&d, "Sub", 3, 4, 7, 2));
    char big[4000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = i % 6 == 5 ? ' ' : 'a' + (char)(i % 5);
    big[sizeof big - 1] = '\0';
    CHECK_OK(kb_doc_add(&d, "short para", 10, 8, 18, 0));
    CHECK_OK(kb_doc_add(&d, big, strlen(big), 20, 4020, 0));
    kb_chunks c;
    cove_error err = {0};
    CHECK_OK(kb_chunk_doc(&d, NULL, 100, 20, &c, &err)); /* estimate: 4 bytes a token */
    CHECK(c.n >= 10);
    CHECK_STR_EQ(c.items[0].text, "short para");
    CHECK_STR_EQ(c.items[0].heading, "Top > Sub");
    for (size_t i = 1; i < c.n; i++) {
        CHECK(strlen(c.items[i].text) <= 100 * 4);
        CHECK_EQ_INT(c.items[i].start, 20);
    }
    /* windows overlap: the start of window 2 appears at the end of window 1 */
    CHECK(strstr(c.items[1].text, c.items[2].text) == NULL);
    char head[32];
    snprintf(head, sizeof head, "%.20s", c.items[2].text);
    CHECK(strstr(c.items[1].text, head) != NULL);
    kb_chunks_release(&c);
    kb_doc_release(&d);
}

/* Random unit vectors around nc centres (clustered, like real embeddings). */
static float *clustered(size_t n, int dim, int nc, unsigned seed)
{
    float *v = cove_malloc(n * (size_t)dim * sizeof *v), *c = cove_malloc((size_t)nc * dim * sizeof *c);
    srand(seed);
    for (int i = 0; i < nc * dim; i++)
        c[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
    for (size_t i = 0; i < n; i++) {
        float norm = 0, *x = v + i * dim;
        const float *cc = c + (size_t)(rand() % nc) * dim;
        for (int j = 0; j < dim; j++) {
            x[j] = cc[j] + 0.35f * ((float)((double)rand() / RAND_MAX) - 0.5f);
            norm += x[j] * x[j];
        }
        for (int j = 0; j < dim; j++)
            x[j] /= sqrtf(norm);
    }
    cove_free(c);
    return v;
}

TEST(vindex_exact_matches_brute_force)
{
    const int dim = 96, n = 3000, k = 10;
    float *v = clustered(n, dim, 20, 1);
    cove_kb_vindex *vi = NULL;
    cove_pool *pool = NULL;
    CHECK_OK(cove_kb_vindex_create(dim, 0, 1, &vi));
    CHECK_OK(cove_pool_create(2, &pool));
    for (int i = 0; i < n; i++)
        CHECK_OK(cove_kb_vindex_add(vi, 1000 + i, v + (size_t)i * dim));
    int agree = 0;
    for (int t = 0; t < 20; t++) {
        const float *q = v + (size_t)(t * 131 % n) * dim;
        size_t idx[10];
        float sc[10];
        int32_t got = 0;
        CHECK_OK(cove_kb_vindex_search(vi, t % 2 ? pool : NULL, q, k, NULL, NULL, idx, sc, &got));
        CHECK_EQ_INT(got, k);
        /* brute force */
        float best[10];
        for (int j = 0; j < k; j++)
            best[j] = -2;
        for (int i = 0; i < n; i++) {
            float s = cove_kb_dot_f32(q, v + (size_t)i * dim, dim);
            for (int j = 0; j < k; j++)
                if (s > best[j]) {
                    memmove(best + j + 1, best + j, (size_t)(k - j - 1) * sizeof *best);
                    best[j] = s;
                    break;
                }
        }
        for (int j = 0; j < k; j++) {
            CHECK(j == 0 || sc[j] <= sc[j - 1]);
            agree += fabsf(sc[j] - best[j]) < 1e-5f;
        }
        CHECK_EQ_INT(cove_kb_vindex_id(vi, idx[0]), 1000 + (int64_t)idx[0]);
    }
    CHECK_MSG(agree >= 195, "exact scan agreed on %d of 200 scores", agree);
    cove_pool_free(pool);
    cove_kb_vindex_free(vi);
    cove_free(v);
}

TEST(vindex_dots_kernel_matches_reference)
{
    int8_t q[128], rows[5 * 128];
    for (int i = 0; i < 128; i++)
        q[i] = (int8_t)((i * 37) % 255 - 127);
    for (int i = 0; i < 5 * 128; i++)
        rows[i] = (int8_t)((i * 91) % 255 - 127);
    int32_t a[5], b[5];
    cove_kb_dots_ref(q, rows, 128, 5, a);
    cove_kb_dots_pick()(q, rows, 128, 5, b);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(a[i], b[i]);
}

static double hnsw_recall(cove_kb_hnsw *h, cove_kb_vindex *vi, const float *v, int dim, int n)
{
    int found = 0, total = 0;
    for (int t = 0; t < 50; t++) {
        const float *q = v + (size_t)((t * 7919) % n) * dim;
        size_t a[10], b[10];
        float sa[10], sb[10];
        int32_t na = 0, nb = 0;
        cove_kb_vindex_search(vi, NULL, q, 10, NULL, NULL, a, sa, &na);
        cove_kb_hnsw_search(h, vi, q, 10, b, sb, &nb);
        for (int i = 0; i < na; i++) {
            total++;
            for (int j = 0; j < nb; j++)
                found += a[i] == b[j];
        }
    }
    return (double)found / total;
}

TEST(hnsw_recall_and_roundtrip)
{
    const int dim = 64, n = 5000;
    float *v = clustered(n, dim, 50, 2);
    cove_kb_vindex *vi = NULL;
    cove_kb_hnsw *h = NULL, *h2 = NULL;
    CHECK_OK(cove_kb_vindex_create(dim, 0, 1, &vi));
    for (int i = 0; i < n; i++)
        CHECK_OK(cove_kb_vindex_add(vi, i, v + (size_t)i * dim));
    CHECK_OK(cove_kb_hnsw_build(vi, cove_kb_hnsw_default_params(), NULL, &h));
    double r = hnsw_recall(h, vi, v, dim, n);
    CHECK_MSG(r >= 0.95, "recall@10 %.3f", r);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(cove_kb_hnsw_save(h, &data, &len));
    cove_error err = {0};
    CHECK_OK(cove_kb_hnsw_load(data, len, dim, &h2, &err));
    CHECK(hnsw_recall(h2, vi, v, dim, n) == r);
    cove_kb_hnsw_free(h2);
    h2 = NULL;
    CHECK(cove_kb_hnsw_load(data, len, dim + 1, &h2, &err) == COVE_ERR_FORMAT);
    CHECK(cove_kb_hnsw_load(data, len - 1, dim, &h2, &err) == COVE_ERR_FORMAT);
    /* header, then ids, hashes, removed flags and levels; the first layer-0 list */
    uint32_t *links0 = (uint32_t *)(data + 64 + (size_t)n * 14);
    links0[1] = (uint32_t)n + 7;
    CHECK(cove_kb_hnsw_load(data, len, dim, &h2, &err) == COVE_ERR_FORMAT);
    CHECK(h2 == NULL);
    cove_free(data);
    cove_kb_hnsw_free(h);
    cove_kb_vindex_free(vi);
    cove_free(v);
}

TEST(store_refuses_newer_schema)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/newer.db", test_tmpdir());
    cove_kb *kb = NULL;
    cove_error err = {0};
    CHECK_OK(cove_kb_open(path, cove_kb_default_params(), &kb, &err));
    cove_kb_info info;
    CHECK_OK(cove_kb_info_get(kb, &info, &err));
    CHECK_EQ_INT(info.n_chunks, 0);
    cove_kb_free(kb);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    kb = NULL;
    CHECK(cove_kb_open(path, cove_kb_default_params(), &kb, &err) == COVE_ERR_UNSUPPORTED);
    CHECK(kb == NULL);
    CHECK(strstr(err.msg, "schema version 99") != NULL);
}

TEST(store_refuses_foreign_sqlite)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/foreign.db", test_tmpdir());
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    cove_kb *kb = NULL;
    cove_error err = {0};
    CHECK(cove_kb_open(path, cove_kb_default_params(), &kb, &err) == COVE_ERR_FORMAT);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("this is not a database at all, just some text that is long enough to be a header", f);
    fclose(f);
    CHECK(cove_kb_open(path, cove_kb_default_params(), &kb, &err) != COVE_OK);
    CHECK(kb == NULL);
}

TEST(store_keyword_search_without_vectors)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/empty.db", test_tmpdir());
    cove_kb *kb = NULL;
    cove_error err = {0};
    CHECK_OK(cove_kb_open(path, cove_kb_default_params(), &kb, &err));
    cove_kb_search_params sp = cove_kb_default_search_params();
    sp.mode = COVE_KB_MODE_KEYWORD;
    cove_kb_results r;
    CHECK_OK(cove_kb_search(kb, "anything \"quoted\" OR NEAR(", &sp, &r, &err));
    CHECK_EQ_INT(r.n, 0);
    cove_kb_results_release(&r);
    sp.mode = COVE_KB_MODE_HYBRID; /* needs an embedder */
    CHECK(cove_kb_search(kb, "x", &sp, &r, &err) == COVE_ERR_INVALID_ARG);
    sp.mode = COVE_KB_MODE_KEYWORD;
    sp.k = 0;
    CHECK(cove_kb_search(kb, "x", &sp, &r, &err) == COVE_ERR_INVALID_ARG);
    cove_kb_free(kb);
}

TEST(spawn_timeout_and_bound)
{
    char *out = NULL;
    size_t n = 0;
    cove_error err = {0};
    char *sleep_argv[] = {"sleep", "5", NULL};
    CHECK(kb_spawn_capture(sleep_argv, 200, 1024, &out, &n, &err) == COVE_ERR_TIMEOUT);
    char *yes_argv[] = {"yes", NULL};
    CHECK(kb_spawn_capture(yes_argv, 5000, 4096, &out, &n, &err) == COVE_ERR_LIMIT);
    char *false_argv[] = {"false", NULL};
    CHECK(kb_spawn_capture(false_argv, 5000, 4096, &out, &n, &err) == COVE_ERR_FORMAT);
    char *echo_argv[] = {"echo", "hello", NULL};
    CHECK_OK(kb_spawn_capture(echo_argv, 5000, 4096, &out, &n, &err));
    CHECK_STR_EQ(out, "hello\n");
    cove_free(out);
}

TEST(extract_pdf_pages)
{
    FILE *f = fopen(COVE_SOURCE_DIR "/tests/kb/data/docs/hr/handbook.pdf", "rb");
    CHECK(f != NULL);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    kb_doc d;
    cove_error err = {0};
    CHECK_OK(kb_extract(COVE_SOURCE_DIR "/tests/kb/data/docs/hr/handbook.pdf", KB_FMT_PDF, buf, n,
                        10000, &d, &err));
    CHECK(d.range_kind == COVE_KB_RANGE_PAGES);
    CHECK(d.n >= 12);
    CHECK_EQ_INT(d.blocks[d.n - 1].start, 12);
    CHECK(strstr(d.blocks[0].text, "Travel reimbursement") != NULL);
    kb_doc_release(&d);
}
