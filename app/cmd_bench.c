/*
 * app/cmd_bench.c - `cove bench`: prefill and decode speed of a model, its peak memory and
 * how close decoding comes to the memory-bandwidth bound.
 *
 * For each thread count: a context of n_ctx = p + n + 16 with n_ubatch = p; one warm-up
 * (a short prompt and a few tokens, which also faults the weights in); then r repetitions
 * of prefill (p random tokens in one batch into an empty cache; p / seconds) and of decode
 * (n tokens one at a time from an empty cache, as llama-bench's tg does; n / seconds). The
 * median of the repetitions is reported.
 *
 * Bandwidth: a streaming read, split over the same number of threads, of the model file's
 * own pages (mapped a second time: the page-cache pages decoding reads for the tensors it
 * does not lay out anew) and of a buffer of huge pages of the same size (the kind of memory
 * the packed weights live in; for a file under four times the last-level cache only that
 * buffer, of that size, at least 256 MiB), after all timed runs (so that a buffer does not
 * count in the peak RSS). A shared host's read rate moves from one 3 ms pass to the next
 * (17 to 73 GB/s seen on one machine, mostly 33 to 44), so a reading taken before a run of
 * decoding says little about that run: r further decode runs read the next BW_SLICE bytes
 * of one buffer, the two in turn, after every BW_EVERY-th token, and each run's bandwidth
 * is that of the faster buffer over its slices (bytes / seconds), its decode rate n / the
 * seconds of its tokens alone. The decode bound of a run is bandwidth / (weight bytes one
 * token reads, cove_model_weight_bytes); bw_fraction = the median over the runs of decode
 * tok/s / that bound, bw_gbs the median bandwidth.
 *
 * Peak RSS: VmHWM of /proc/self/status (getrusage's ru_maxrss where that is missing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/pool.h"
#include "cli.h"
#include "cove/engine.h"
#include "engine/kernels/kernels.h"

#define CMD "bench"
#define MAX_THREAD_COUNTS 16
#define MAX_REPS 101
#define BW_MIN_BYTES (256u << 20)
/* Bytes of a read slice: slices of 32 MiB read 5-15% slower than whole passes at the same
 * time (each slice's start), slices of 128 MiB as fast. */
#define BW_SLICE (128u << 20)
/* Tokens between two slices: a token right after a slice takes ~2% longer (what the read
 * evicted), so the reads come after every BW_EVERY-th token only. */
#define BW_EVERY 4

typedef struct bench_opts {
    const char *model;
    long p, n, r;
    int threads[MAX_THREAD_COUNTS];
    int n_threads;
    int json;
} bench_opts;

typedef struct bench_result {
    int threads;
    double pp_tps, tg_tps, peak_rss_mb, bw_gbs, bw_fraction;
} bench_result;

static void usage(FILE *f)
{
    fprintf(f, "usage: cove bench -m MODEL [-p N] [-n N] [-t T1,T2,...] [-r R] [--json]\n\n"
               "Measures a model's prefill speed (N prompt tokens in one batch, default 512)\n"
               "and decode speed (N tokens one at a time, default 128), both from an empty\n"
               "cache, as the median of R repetitions (default 5), for each thread count\n"
               "(default: all cores); its peak memory; and the fraction of the memory-bandwidth\n"
               "bound that decoding reaches (weight bytes per token over the read bandwidth\n"
               "measured here).\n\n"
               "  --json  one JSON array, an object per thread count:\n"
               "          {\"threads\",\"pp_tps\",\"tg_tps\",\"peak_rss_mb\",\"bw_gbs\",\"bw_fraction\"}\n\n"
               "Exit status: 0 done, 1 error, 2 bad usage.\n");
}

static int parse_threads(bench_opts *o, const char *v)
{
    const char *s = v;
    o->n_threads = 0;
    while (*s && o->n_threads < MAX_THREAD_COUNTS) {
        char *end;
        long t = strtol(s, &end, 10);
        if (end == s || t < 1 || t > 256 || (*end && *end != ','))
            return -1;
        o->threads[o->n_threads++] = (int)t;
        s = *end ? end + 1 : end;
    }
    return *s || o->n_threads == 0 ? -1 : 0;
}

static int parse_value(bench_opts *o, const char *a, const char *v)
{
    int ok = 1;
    if (strcmp(a, "-m") == 0)
        o->model = v;
    else if (strcmp(a, "-p") == 0)
        ok = cli_parse_long(v, 1, 4096, &o->p) == 0;
    else if (strcmp(a, "-n") == 0)
        ok = cli_parse_long(v, 1, 1L << 16, &o->n) == 0;
    else if (strcmp(a, "-r") == 0)
        ok = cli_parse_long(v, 1, MAX_REPS, &o->r) == 0;
    else if (strcmp(a, "-t") == 0)
        ok = parse_threads(o, v) == 0;
    else
        return cli_usage_error(CMD, "unknown option '%s'", a);
    return ok ? 0 : cli_usage_error(CMD, "bad value '%s' for %s", v, a);
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(bench_opts *o, int argc, char **argv)
{
    *o = (bench_opts){.p = 512, .n = 128, .r = 5};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return COVE_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "%s needs a value", argv[i]);
        int rc = parse_value(o, argv[i], argv[i + 1]);
        if (rc)
            return rc;
        i++;
    }
    if (!o->model)
        return cli_usage_error(CMD, "-m MODEL is required");
    if (o->n_threads == 0) {
        o->threads[0] = cove_cpu_get()->n_cpus_usable;
        o->n_threads = 1;
    }
    return -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- memory ---- */

static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return (double)kb / 1024.0;
}

#define BW_BLOCK 16384 /* bytes a thread reads at a time */

typedef struct bw_job {
    const uint8_t *file;  /* owned: the model file mapped again, or NULL */
    uint8_t *pages;       /* owned: a buffer of huge pages where the system has them */
    size_t n_file, n_pages; /* bytes of each: multiples of BW_BLOCK */
    const uint8_t *buf;   /* the one a pass reads */
    uint64_t sink[256];
} bw_job;

/* Blocks [begin, end) of the buffer, every cache line of it loaded once (four words a line:
 * the memory, not the loads, sets the pace; any bytes are fine). */
static void bw_range(void *ctx, size_t begin, size_t end, int ith)
{
    bw_job *j = ctx;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, w[4];
    for (size_t b = begin; b < end; b++) {
        const uint8_t *p = j->buf + b * BW_BLOCK;
        for (size_t i = 0; i < BW_BLOCK; i += 64) { /* one word of each 16 bytes: every line */
            memcpy(w, p + i, 8);
            memcpy(w + 1, p + i + 16, 8);
            memcpy(w + 2, p + i + 32, 8);
            memcpy(w + 3, p + i + 48, 8);
            a0 ^= w[0], a1 ^= w[1], a2 ^= w[2], a3 ^= w[3];
        }
    }
    j->sink[ith & 255] = a0 ^ a1 ^ a2 ^ a3;
}

/*
 * What to read: the model file itself, mapped a second time (the page-cache pages that
 * decoding reads for the tensors it does not lay out anew; on a virtual machine two buffers
 * can differ by half in read rate with where their pages lie), when it is at least four
 * times the last-level cache; and always a buffer from cove_pages_alloc (huge pages, as the
 * packed weights have) of the file's size or of four times that cache (at least
 * BW_MIN_BYTES), every page written. NULL when out of memory.
 */
static bw_job *bw_create(const char *model)
{
    size_t l3 = cove_cpu_get()->l3_bytes, bytes = 4 * l3 > BW_MIN_BYTES ? 4 * l3 : BW_MIN_BYTES;
    bw_job *j = cove_calloc(1, sizeof *j);
    if (!j)
        return NULL;
    int fd = open(model, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size >= 4 * (uint64_t)l3 &&
        (uint64_t)st.st_size >= BW_BLOCK) {
        j->n_file = (size_t)st.st_size / BW_BLOCK * BW_BLOCK;
        void *p = mmap(NULL, j->n_file, PROT_READ, MAP_SHARED, fd, 0);
        j->file = p == MAP_FAILED ? NULL : p;
        bytes = j->n_file;
    }
    if (fd >= 0)
        close(fd);
    j->n_pages = bytes / BW_BLOCK * BW_BLOCK;
    j->pages = cove_pages_alloc(j->n_pages);
    if (!j->pages) {
        if (j->file)
            munmap((void *)j->file, j->n_file);
        cove_free(j);
        return NULL;
    }
    for (size_t i = 0; i < j->n_pages; i++)
        j->pages[i] = (uint8_t)(i * 2654435761u >> 13);
    return j;
}

static void bw_free(bw_job *j)
{
    if (j && j->file)
        munmap((void *)j->file, j->n_file);
    if (j)
        cove_pages_free(j->pages, j->n_pages);
    cove_free(j);
}

/* Bytes and seconds read from each buffer (0: the pages, 1: the file) in one decode run. */
typedef struct bw_tally {
    double bytes[2], sec[2];
    size_t next[2]; /* where the next slice starts */
} bw_tally;

/* Buffer i (0: the pages, 1: the file; NULL when there is no file) and its bytes in *n. */
static const uint8_t *bw_buffer(const bw_job *j, int i, size_t *n)
{
    *n = i ? j->n_file : j->n_pages;
    return i ? j->file : j->pages;
}

/* The next slice (BW_SLICE bytes, the whole buffer when smaller) of buffer i, timed. */
static void bw_slice(cove_pool *pool, bw_job *j, int i, bw_tally *t)
{
    size_t n;
    const uint8_t *buf = bw_buffer(j, i, &n);
    const size_t len = n < BW_SLICE ? n : BW_SLICE;
    if (buf) {
        if (t->next[i] + len > n)
            t->next[i] = 0;
        j->buf = buf + t->next[i];
        double t0 = now_s();
        cove_pool_parallel_for(pool, len / BW_BLOCK, bw_range, j);
        t->sec[i] += now_s() - t0;
        t->bytes[i] += (double)len;
        t->next[i] += len;
    }
}

/* Read bandwidth of a run in GB/s: the faster buffer. */
static double bw_gbs(const bw_tally *t)
{
    double best = 0;
    for (int i = 0; i < 2; i++)
        if (t->sec[i] > 0 && t->bytes[i] / t->sec[i] / 1e9 > best)
            best = t->bytes[i] / t->sec[i] / 1e9;
    return best;
}

/* ---- the model ---- */

static void random_tokens(int32_t *t, long n, int32_t vocab)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (int32_t)((s >> 33) % (uint64_t)vocab);
    }
}

/* Seconds of one prefill of p tokens into an empty cache. */
static int time_prefill(cove_context *c, const int32_t *toks, long p, double *sec, cove_error *err)
{
    cove_context_seq_clear(c, 0);
    cove_batch b = {toks, NULL, NULL, (int32_t)p, NULL};
    double t0 = now_s();
    cove_status st = cove_decode(c, &b, err);
    *sec = now_s() - t0;
    return st == COVE_OK ? 0 : -1;
}

/* n single-token decodes from an empty cache; with t, every BW_EVERY-th followed by a slice
 * of one read buffer (the two in turn; at least one slice of each) into t. *sec: the seconds
 * of the decodes alone. */
static int time_decode_read(cove_context *c, const int32_t *toks, long n, cove_pool *pool, bw_job *j,
                            bw_tally *t, double *sec, cove_error *err)
{
    cove_context_seq_clear(c, 0);
    *sec = 0;
    for (long i = 0, k = 0; i < n; i++) {
        cove_batch b = {toks + i, NULL, NULL, 1, NULL};
        double t0 = now_s();
        if (cove_decode(c, &b, err) != COVE_OK)
            return -1;
        *sec += now_s() - t0;
        if (t && (i + 1) % BW_EVERY == 0)
            bw_slice(pool, j, j->file ? (int)(k++ % 2) : 0, t);
    }
    for (int i = 0; t && i < 2; i++)
        if (t->sec[i] == 0)
            bw_slice(pool, j, i, t);
    return 0;
}

/* Seconds of n single-token decodes from an empty cache. */
static int time_decode(cove_context *c, const int32_t *toks, long n, double *sec, cove_error *err)
{
    return time_decode_read(c, toks, n, NULL, NULL, NULL, sec, err);
}

static int run_reps(cove_context *c, const bench_opts *o, const int32_t *toks, bench_result *r)
{
    cove_error err = {0};
    double pp[MAX_REPS], tg[MAX_REPS], sec;
    if (time_prefill(c, toks, o->p < 16 ? o->p : 16, &sec, &err) || /* warm-up */
        time_decode(c, toks, o->n < 4 ? o->n : 4, &sec, &err))
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    for (long i = 0; i < o->r; i++) {
        if (time_prefill(c, toks, o->p, &sec, &err))
            return cli_fail(CMD, "%s", cove_error_msg(&err));
        pp[i] = (double)o->p / sec;
        if (time_decode(c, toks, o->n, &sec, &err))
            return cli_fail(CMD, "%s", cove_error_msg(&err));
        tg[i] = (double)o->n / sec;
    }
    r->pp_tps = median(pp, (int)o->r);
    r->tg_tps = median(tg, (int)o->r);
    return 0;
}

static int bench_threads(const cove_model *m, const bench_opts *o, int threads,
                         const int32_t *toks, bench_result *r)
{
    cove_error err = {0};
    cove_context_params cp = cove_context_default_params();
    cove_context *c = NULL;
    cp.n_ctx = (int32_t)(o->p + o->n + 16);
    cp.n_ubatch = (int32_t)o->p;
    cp.n_outputs_max = 1;
    cp.n_threads = threads;
    if (cove_context_create(m, cp, &c, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    *r = (bench_result){.threads = threads};
    int rc = run_reps(c, o, toks, r);
    cove_context_free(c);
    if (rc)
        return rc;
    r->peak_rss_mb = peak_rss_mb();
    return 0;
}

/*
 * The bandwidth of `threads` threads and the share of its decode bound reached, after every
 * timed run (the buffers would count in the peak RSS): one pass over both buffers (their
 * pages faulted in) and a short decode to warm up, then r decode runs with the reads between
 * their tokens; the medians of the runs' bandwidths and of their fractions.
 */
static int bench_bandwidth(const cove_model *m, const bench_opts *o, const int32_t *toks,
                           bench_result *r)
{
    cove_error err = {0};
    cove_context_params cp = cove_context_default_params();
    cove_context *c = NULL;
    cove_pool *pool = NULL;
    bw_job *j = bw_create(o->model);
    double bw[MAX_REPS], frac[MAX_REPS], sec, bytes = (double)cove_model_weight_bytes(m);
    cp.n_ctx = (int32_t)(o->n + 16);
    cp.n_outputs_max = 1;
    cp.n_threads = r->threads;
    int rc = j ? 0 : cli_fail(CMD, "out of memory");
    if (rc == 0 && (cove_pool_create(r->threads, &pool) != COVE_OK ||
                    cove_context_create(m, cp, &c, &err) != COVE_OK))
        rc = cli_fail(CMD, "%s", pool ? cove_error_msg(&err) : "out of memory");
    if (rc == 0) {
        for (int i = 0; i < 2; i++) {
            size_t n;
            if ((j->buf = bw_buffer(j, i, &n)) != NULL)
                cove_pool_parallel_for(pool, n / BW_BLOCK, bw_range, j);
        }
        if (time_decode(c, toks, o->n < 4 ? o->n : 4, &sec, &err))
            rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    }
    for (long i = 0; rc == 0 && i < o->r; i++) {
        bw_tally t = {{0, 0}, {0, 0}, {0, 0}};
        if (time_decode_read(c, toks, o->n, pool, j, &t, &sec, &err))
            rc = cli_fail(CMD, "%s", cove_error_msg(&err));
        bw[i] = bw_gbs(&t);
        frac[i] = (double)o->n / sec * bytes / (bw[i] * 1e9);
    }
    if (rc == 0) {
        r->bw_gbs = median(bw, (int)o->r);
        r->bw_fraction = median(frac, (int)o->r);
    }
    cove_context_free(c);
    cove_pool_free(pool);
    bw_free(j);
    return rc;
}

static void print_results(const cove_model *m, const bench_opts *o, const bench_result *r, int n)
{
    if (o->json) {
        printf("[");
        for (int i = 0; i < n; i++)
            printf("%s{\"threads\":%d,\"pp_tps\":%.2f,\"tg_tps\":%.2f,\"peak_rss_mb\":%.1f,"
                   "\"bw_gbs\":%.2f,\"bw_fraction\":%.3f}", i ? "," : "", r[i].threads,
                   r[i].pp_tps, r[i].tg_tps, r[i].peak_rss_mb, r[i].bw_gbs, r[i].bw_fraction);
        printf("]\n");
        return;
    }
    printf("model: %s (%s, %.1f MB of weights per token)\n", o->model, cove_model_arch(m),
           (double)cove_model_weight_bytes(m) / 1e6);
    printf("| threads | pp%ld tok/s | tg%ld tok/s | peak RSS MB | read GB/s | of bw bound |\n",
           o->p, o->n);
    printf("|--------:|-----------:|-----------:|------------:|----------:|------------:|\n");
    for (int i = 0; i < n; i++)
        printf("| %7d | %10.1f | %10.1f | %11.1f | %9.1f | %10.0f%% |\n", r[i].threads,
               r[i].pp_tps, r[i].tg_tps, r[i].peak_rss_mb, r[i].bw_gbs, 100 * r[i].bw_fraction);
}

int cove_cmd_bench(int argc, char **argv)
{
    bench_opts o;
    bench_result res[MAX_THREAD_COUNTS];
    cove_model *m = NULL;
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    if (cove_cli_model_load(CMD, o.model, cove_model_default_params(), &m) != COVE_EXIT_OK)
        return COVE_EXIT_ERROR;
    long n_toks = o.p > o.n ? o.p : o.n;
    int32_t *toks = cove_malloc((size_t)n_toks * sizeof *toks);
    rc = toks ? 0 : cli_fail(CMD, "out of memory");
    if (toks)
        random_tokens(toks, n_toks, cove_model_n_vocab(m));
    for (int i = 0; rc == 0 && i < o.n_threads; i++)
        rc = bench_threads(m, &o, o.threads[i], toks, &res[i]);
    for (int i = 0; rc == 0 && i < o.n_threads; i++)
        rc = bench_bandwidth(m, &o, toks, &res[i]);
    if (rc == 0)
        print_results(m, &o, res, o.n_threads);
    cove_free(toks);
    cove_model_free(m);
    return rc;
}
