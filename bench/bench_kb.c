/*
 * bench/bench_kb.c - knowledge base speed: ingestion and vector search.
 *
 *     bench_kb [--sizes N,N,...] [--hnsw-max N] [--threads T] [--queries Q] [--no-ingest]
 *              [--m M] [--efc N] [--ef N,N,...]
 *
 * Ingestion: tests/kb/data/docs (txt, md, csv, html, pdf) into a fresh store with the
 * default embedding model ($COVE_MODELS or ~/.cache/cove/models), 64-token chunks;
 * reports chunks per second (extraction, chunking, embedding and writing together).
 *
 * Search: for each size, N synthetic unit vectors of 384 dimensions around 1000 cluster
 * centres (clustered like sentence embeddings), queries = stored vectors plus noise.
 * "exact" is the int8 scan with f32 re-ranking on T threads (default 2); "exact int8" the
 * scan alone (an int8 store). "hnsw" is the approximate index (m 16, ef_construction 100,
 * ef_search 256 unless told by --m, --efc, --ef; several --ef values are each measured on
 * the same graph, one row each) built on T threads; recall@10 is against
 * the exact top 10, as is "int8 recall", that of the int8 scan alone. The exact search's
 * own recall@10 against brute force over the f32 vectors is given for the first 50
 * queries. "+1% / -1%" times inserting 1% more vectors into the built graph and then
 * removing 1% of its nodes (the incremental path of the store).
 * Sizes above --hnsw-max (default 1000000) skip the index. Latencies are "median / best"
 * over Q queries (default 50), and the process CPU time per query (all threads together):
 * on a loaded machine the best and cpu / threads show the uncontended speed.
 * The build time is given as wall and process CPU seconds. Each row ends with the 1-minute
 * load average when it was printed (other processes share the cores). Prints markdown
 * tables.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/pool.h"
#include "cove/engine.h"
#include "kb/kb.h"
#include "kb/vindex.h"

#ifndef COVE_SOURCE_DIR
#define COVE_SOURCE_DIR "."
#endif

#define DIM 384
#define K 10
#define MAX_EF 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd_state = 88172645463325252ull;
static float frand(void) /* uniform in [-0.5, 0.5) */
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (float)((rnd_state >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
}

static void unit_near(const float *centre, float noise, float *out)
{
    float norm = 0;
    for (int j = 0; j < DIM; j++) {
        out[j] = (centre ? centre[j] : 0) + noise * frand();
        norm += out[j] * out[j];
    }
    for (int j = 0; j < DIM; j++)
        out[j] /= sqrtf(norm);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static const char *model_path(void)
{
    static char path[4096];
    const char *dir = getenv("COVE_MODELS"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/all-minilm-l6-v2.gguf", dir);
    else
        snprintf(path, sizeof path, "%s/.cache/cove/models/all-minilm-l6-v2.gguf", home ? home : "");
    return path;
}

static void bench_ingest(int threads)
{
    cove_error err = {0};
    cove_model *m = NULL;
    cove_embedder *e = NULL;
    cove_kb *kb = NULL;
    cove_embed_params ep = cove_embed_default_params();
    ep.truncate = 1;
    ep.n_threads = threads;
    const char *db = "/tmp/cove-bench-kb.db";
    remove(db);
    if (cove_model_load(model_path(), cove_model_default_params(), &m, &err) != COVE_OK ||
        cove_embedder_create(m, ep, &e, &err) != COVE_OK ||
        cove_kb_open(db, cove_kb_default_params(), &kb, &err) != COVE_OK) {
        fprintf(stderr, "bench_kb: ingestion skipped: %s\n", cove_error_msg(&err));
    } else {
        cove_kb_ingest_params ip = cove_kb_default_ingest_params();
        ip.chunk_tokens = 64;
        ip.overlap_tokens = 16;
        ip.tokenizer = m;
        const char *paths[] = {COVE_SOURCE_DIR "/tests/kb/data/docs"};
        cove_kb_ingest_stats st = {0};
        double t0 = now_s(), c0 = cpu_s();
        cove_status s = cove_kb_ingest(kb, e, paths, 1, &ip, &st, &err);
        double dt = now_s() - t0, dc = cpu_s() - c0;
        if (s != COVE_OK)
            fprintf(stderr, "bench_kb: ingest: %s\n", cove_error_msg(&err));
        printf("| ingestion | files | chunks | wall s | cpu s (all threads) | chunks/s (wall) "
               "| chunks per cpu s |\n|---|---|---|---|---|---|---|\n"
               "| tests/kb/data/docs, %d threads | %lld | %lld | %.2f | %.2f | %.1f | %.1f |\n\n",
               threads, (long long)st.n_new, (long long)st.n_chunks, dt, dc,
               (double)st.n_chunks / dt, (double)st.n_chunks / dc);
    }
    cove_kb_free(kb);
    cove_embedder_free(e);
    cove_model_free(m);
    remove(db);
}

typedef struct search_row {
    double exact_ms[3], exact8_ms[3], build_s, build_cpu_s, recall8;
    double hnsw_ms[MAX_EF][2], recall[MAX_EF]; /* for each ef_search of --ef */
    double recall_f32, insert_s, remove_s;
    const float *centres;
} search_row;


static cove_kb_hnsw_params hnsw_params; /* set once in main */
static int32_t ef_list[MAX_EF];        /* --ef values, ef_list[0] in hnsw_params */
static int n_ef = 1;

static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* Share of the truth's K ids (per query) that got[] holds. */
static double recall_of(const size_t *got, const size_t *truth, int nq)
{
    int found = 0;
    for (int i = 0; i < nq; i++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                found += got[(size_t)i * K + a] == truth[(size_t)i * K + b];
    return (double)found / (nq * K);
}

/*
 * Recall@10 of the exact search (ids: K a query) against brute force on the f32 vectors
 * for the first nq queries: one pass over the set, every query at each vector.
 */
static double recall_vs_f32(const cove_kb_vindex *vf, const float *qs, int nq, const size_t *ids)
{
    size_t n = cove_kb_vindex_size(vf), *best = cove_malloc((size_t)nq * K * sizeof *best);
    float *bs = cove_malloc((size_t)nq * K * sizeof *bs);
    for (size_t i = 0; i < (size_t)nq * K; i++)
        bs[i] = -1e30f;
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < nq; t++) {
            float d = cove_kb_vindex_dot(vf, qs + (size_t)t * DIM, i), *s = bs + (size_t)t * K;
            size_t *b = best + (size_t)t * K;
            if (d <= s[K - 1])
                continue;
            int j = K - 1;
            for (; j > 0 && s[j - 1] < d; j--) {
                s[j] = s[j - 1];
                b[j] = b[j - 1];
            }
            s[j] = d;
            b[j] = i;
        }
    double r = recall_of(ids, best, nq);
    cove_free(best);
    cove_free(bs);
    return r;
}


/* Median and best latency of exact search; fills truth (K ids a query) if given. */
static void time_exact(cove_kb_vindex *vi, cove_pool *pool, const float *qs, int nq,
                       size_t *ids, double out[3])
{
    double *t = cove_malloc((size_t)nq * sizeof *t);
    size_t idx[K];
    float sc[K];
    int32_t n = 0;
    double c0 = cpu_s();
    for (int i = 0; i < nq; i++) {
        double t0 = now_s();
        cove_kb_vindex_search(vi, pool, qs + (size_t)i * DIM, K, NULL, NULL, idx, sc, &n);
        t[i] = (now_s() - t0) * 1e3;
        for (int a = 0; a < K; a++)
            ids[(size_t)i * K + a] = a < n ? idx[a] : (size_t)-1;
    }
    out[2] = (cpu_s() - c0) * 1e3 / nq;
    out[0] = median(t, nq);
    out[1] = t[0];
    cove_free(t);
}

/* Time inserting 1% more vectors (near the same centres) into h, then removing 1%. */
static void time_update(cove_kb_hnsw *h, cove_kb_vindex *vi, cove_pool *pool,
                        const float *centres, search_row *row)
{
    size_t n = cove_kb_vindex_size(vi), extra = n / 100 ? n / 100 : 1;
    float v[DIM];
    for (size_t i = 0; i < extra; i++) {
        unit_near(centres + (size_t)((i * 104729) % 1000) * DIM, 0.12f, v);
        cove_kb_vindex_add(vi, (int64_t)(n + i), v);
    }
    double t0 = now_s();
    if (cove_kb_hnsw_extend(h, vi, pool) != COVE_OK)
        fprintf(stderr, "bench_kb: hnsw insert failed\n");
    row->insert_s = now_s() - t0;
    size_t *gone = cove_malloc(extra * sizeof *gone);
    for (size_t i = 0; i < extra; i++) {
        gone[i] = (i * 7919 + 13) % n; /* distinct: 7919 is prime to n / 100 steps */
        cove_kb_vindex_remove(vi, gone[i]);
    }
    t0 = now_s();
    if (cove_kb_hnsw_remove(h, vi, gone, extra, pool) != COVE_OK)
        fprintf(stderr, "bench_kb: hnsw remove failed\n");
    row->remove_s = now_s() - t0;
    cove_free(gone);
}

static void time_hnsw(cove_kb_vindex *vi, cove_pool *pool, const float *qs, int nq,
                      const size_t *truth, search_row *row)
{
    cove_kb_hnsw *h = NULL;
    double t0 = now_s(), c0 = cpu_s();
    if (cove_kb_hnsw_build(vi, hnsw_params, pool, &h) != COVE_OK) {
        fprintf(stderr, "bench_kb: hnsw build failed\n");
        return;
    }
    row->build_s = now_s() - t0;
    row->build_cpu_s = cpu_s() - c0;
    double *t = cove_malloc((size_t)nq * sizeof *t);
    for (int e = 0; e < n_ef; e++) {
        cove_kb_hnsw_set_ef(h, ef_list[e]);
        int found = 0;
        for (int i = 0; i < nq; i++) {
            size_t idx[K];
            float sc[K];
            int32_t n = 0;
            double t1 = now_s();
            cove_kb_hnsw_search(h, vi, qs + (size_t)i * DIM, K, idx, sc, &n);
            t[i] = (now_s() - t1) * 1e3;
            for (int a = 0; a < n; a++)
                for (int b = 0; b < K; b++)
                    found += idx[a] == truth[(size_t)i * K + b];
        }
        row->hnsw_ms[e][0] = median(t, nq);
        row->hnsw_ms[e][1] = t[0];
        row->recall[e] = (double)found / (nq * K);
    }
    cove_free(t);
    if (row->centres) /* only after the searches: it changes the set */
        time_update(h, vi, pool, row->centres, row);
    cove_kb_hnsw_free(h);
}

static void bench_size(size_t n, int threads, int nq, size_t hnsw_max)
{
    float *centres = cove_malloc(1000 * DIM * sizeof(float)), v[DIM];
    float *qs = cove_malloc((size_t)nq * DIM * sizeof(float));
    size_t *truth = cove_malloc((size_t)nq * K * sizeof(size_t));
    size_t *got = cove_malloc((size_t)nq * K * sizeof(size_t));
    cove_kb_vindex *vf = NULL, *v8 = NULL;
    cove_pool *pool = NULL;
    cove_kb_vindex_create(DIM, n, 1, &vf);
    cove_kb_vindex_create(DIM, n, 0, &v8);
    cove_pool_create(threads, &pool);
    for (int c = 0; c < 1000; c++)
        unit_near(NULL, 1.0f, centres + (size_t)c * DIM);
    for (size_t i = 0; i < n; i++) {
        unit_near(centres + (size_t)(i * 7919 % 1000) * DIM, 0.12f, v);
        cove_kb_vindex_add(vf, (int64_t)i, v);
        cove_kb_vindex_add(v8, (int64_t)i, v);
        if (i < (size_t)nq) /* queries: other points of the same clusters */
            unit_near(centres + (size_t)((i * 31 + 7) % 1000) * DIM, 0.12f, qs + i * DIM);
    }
    search_row row = {0};
    row.centres = centres;
    time_exact(vf, pool, qs, nq, truth, row.exact_ms);
    row.recall_f32 = recall_vs_f32(vf, qs, nq < 50 ? nq : 50, truth);
    time_exact(v8, pool, qs, nq, got, row.exact8_ms);
    row.recall8 = recall_of(got, truth, nq);
    if (n <= hnsw_max)
        time_hnsw(vf, pool, qs, nq, truth, &row);
    printf("| %zu | %.2f / %.2f / %.2f | %.3f | %.2f / %.2f / %.2f | %.3f |", n,
           row.exact_ms[0], row.exact_ms[1], row.exact_ms[2], row.recall_f32, row.exact8_ms[0],
           row.exact8_ms[1], row.exact8_ms[2], row.recall8);
    if (n <= hnsw_max)
        printf(" %.1f / %.1f | %d | %.3f / %.3f | %.3f | %.2f / %.2f |", row.build_s,
               row.build_cpu_s, ef_list[0], row.hnsw_ms[0][0], row.hnsw_ms[0][1],
               row.recall[0], row.insert_s, row.remove_s);
    else
        printf(" - | - | - | - | - |");
    printf(" %.2f |\n", load1());
    for (int e = 1; n <= hnsw_max && e < n_ef; e++) /* the same graph, other ef_search */
        printf("| %zu | | | | | | %d | %.3f / %.3f | %.3f | | |\n", n, ef_list[e],
               row.hnsw_ms[e][0], row.hnsw_ms[e][1], row.recall[e]);
    fflush(stdout);
    cove_pool_free(pool);
    cove_kb_vindex_free(vf);
    cove_kb_vindex_free(v8);
    cove_free(centres);
    cove_free(qs);
    cove_free(truth);
    cove_free(got);
}

int main(int argc, char **argv)
{
    size_t sizes[16] = {10000, 100000, 1000000}, hnsw_max = 1000000;
    int n_sizes = 3, threads = 2, nq = 50, ingest = 1;
    hnsw_params = cove_kb_hnsw_default_params();
    ef_list[0] = hnsw_params.ef_search;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            n_sizes = 0;
            for (char *p = argv[++i]; *p && n_sizes < 16; p += *p == ',')
                sizes[n_sizes++] = strtoull(p, &p, 10);
        } else if (strcmp(argv[i], "--hnsw-max") == 0 && i + 1 < argc) {
            hnsw_max = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc) {
            nq = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--m") == 0 && i + 1 < argc) {
            hnsw_params.m = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--efc") == 0 && i + 1 < argc) {
            hnsw_params.ef_construction = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--ef") == 0 && i + 1 < argc) {
            n_ef = 0;
            for (char *p = argv[++i]; *p && n_ef < MAX_EF; p += *p == ',')
                ef_list[n_ef++] = (int32_t)strtol(p, &p, 10);
        } else if (strcmp(argv[i], "--no-ingest") == 0) {
            ingest = 0;
        } else {
            fprintf(stderr, "usage: bench_kb [--sizes N,N,...] [--hnsw-max N] [--threads T] "
                            "[--queries Q] [--no-ingest] [--m M] [--efc N] [--ef N,N,...]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 256 || nq < 1 || nq > 100000 || n_ef < 1)
        return 2;
    hnsw_params.ef_search = ef_list[0];
    if (ingest)
        bench_ingest(threads);
    printf("| vectors (384-d) | exact ms, int8 scan + f32 re-rank, %d threads "
           "(median / best / cpu per query) | exact recall@10 vs f32 brute force "
           "| exact int8 ms (median / best / cpu) | int8 recall@10 vs exact "
           "| hnsw build s, %d threads (wall / cpu) | ef_search | hnsw ms (median / best) "
           "| hnsw recall@10 vs exact | hnsw +1%% insert / -1%% remove s (wall) "
           "| load (1 min) |\n|---|---|---|---|---|---|---|---|---|---|---|\n", threads, threads);
    for (int i = 0; i < n_sizes; i++)
        bench_size(sizes[i], threads, nq, hnsw_max);
    return 0;
}
