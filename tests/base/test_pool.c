#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/pool.h"
#include "test.h"

static const int thread_counts[] = {1, 2, 3, 4, 5, 8};
#define N_COUNTS (int)(sizeof thread_counts / sizeof thread_counts[0])

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

TEST(pool_create_args)
{
    cove_pool *p = (cove_pool *)1;
    CHECK_EQ_INT(cove_pool_create(0, &p), COVE_ERR_INVALID_ARG);
    CHECK(p == NULL);
    CHECK_EQ_INT(cove_pool_create(-3, &p), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_pool_create(COVE_MAX_THREADS + 1, &p), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_pool_create(2, NULL), COVE_ERR_INVALID_ARG);
    CHECK_OK(cove_pool_create(1, &p));
    CHECK_EQ_INT(cove_pool_size(p), 1);
    CHECK_EQ_INT(cove_pool_run(p, NULL, NULL), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_pool_parallel_for(p, 10, NULL, NULL), COVE_ERR_INVALID_ARG);
    cove_pool_free(p);
    cove_pool_free(NULL);
    CHECK_EQ_INT(cove_pool_size(NULL), 0);
}

struct mark_ctx {
    atomic_int hits[64];
    atomic_int bad_nth;
    int want_nth;
};

static void mark_fn(void *ctx, int ith, int nth)
{
    struct mark_ctx *m = ctx;
    if (nth != m->want_nth || ith < 0 || ith >= nth)
        atomic_fetch_add(&m->bad_nth, 1);
    else
        atomic_fetch_add(&m->hits[ith], 1);
}

TEST(pool_run_every_thread_once)
{
    for (int c = 0; c < N_COUNTS; c++) {
        int nth = thread_counts[c];
        cove_pool *p;
        CHECK_OK(cove_pool_create(nth, &p));
        CHECK_EQ_INT(cove_pool_size(p), nth);
        struct mark_ctx m;
        memset(&m, 0, sizeof m);
        m.want_nth = nth;
        const int rounds = 500;
        for (int r = 0; r < rounds; r++)
            CHECK_OK(cove_pool_run(p, mark_fn, &m));
        cove_pool_free(p);
        CHECK_EQ_INT(atomic_load(&m.bad_nth), 0);
        for (int i = 0; i < nth; i++)
            CHECK_EQ_INT(atomic_load(&m.hits[i]), rounds);
    }
}

static void caller_is_thread0(void *ctx, int ith, int nth)
{
    if (ith == 0)
        *(pthread_t *)ctx = pthread_self();
}

TEST(pool_caller_is_thread_zero)
{
    cove_pool *p;
    CHECK_OK(cove_pool_create(3, &p));
    pthread_t who;
    CHECK_OK(cove_pool_run(p, caller_is_thread0, &who));
    CHECK(pthread_equal(who, pthread_self()));
    cove_pool_free(p);
}

TEST(pool_split_ranges)
{
    for (size_t n = 0; n < 300; n++) {
        for (int nth = 1; nth <= 17; nth++) {
            size_t expect = 0, lo = SIZE_MAX, hi = 0;
            for (int i = 0; i < nth; i++) {
                size_t b, e;
                cove_pool_split(n, i, nth, &b, &e);
                CHECK_EQ_INT(b, expect);
                CHECK(e >= b);
                expect = e;
                lo = e - b < lo ? e - b : lo;
                hi = e - b > hi ? e - b : hi;
            }
            CHECK_EQ_INT(expect, n);
            CHECK(hi - lo <= 1);
        }
    }
}

struct sum_ctx {
    atomic_uchar *visits;
    uint64_t partial[64];
    atomic_int bad;
    int nth;
};

static void sum_fn(void *ctx, size_t begin, size_t end, int ith)
{
    struct sum_ctx *s = ctx;
    if (begin >= end || ith < 0 || ith >= s->nth)
        atomic_fetch_add(&s->bad, 1);
    uint64_t acc = 0;
    for (size_t i = begin; i < end; i++) {
        atomic_fetch_add_explicit(&s->visits[i], 1, memory_order_relaxed);
        acc += i;
    }
    s->partial[ith] += acc;
}

TEST(pool_parallel_for_sums)
{
    static const size_t sizes[] = {0, 1, 2, 3, 4, 7, 8, 9, 63, 64, 65, 1000, 4097, 100003};
    atomic_uchar *visits = cove_calloc(100003, sizeof *visits);
    CHECK(visits != NULL);
    for (int c = 0; c < N_COUNTS; c++) {
        cove_pool *p;
        if (cove_pool_create(thread_counts[c], &p) != COVE_OK)
            break;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            struct sum_ctx s;
            memset(&s, 0, sizeof s);
            s.visits = visits;
            s.nth = thread_counts[c];
            for (size_t i = 0; i < n; i++)
                atomic_store(&visits[i], 0);
            cove_status st = cove_pool_parallel_for(p, n, sum_fn, &s);
            uint64_t total = 0;
            for (int i = 0; i < 64; i++)
                total += s.partial[i];
            int once = 1;
            for (size_t i = 0; i < n; i++)
                once &= atomic_load(&visits[i]) == 1;
            if (st != COVE_OK || total != (uint64_t)n * (n ? n - 1 : 0) / 2 || !once ||
                atomic_load(&s.bad)) {
                test_fail(__FILE__, __LINE__, "nth %d n %zu: st %d total %llu once %d bad %d",
                          thread_counts[c], n, st, (unsigned long long)total, once,
                          atomic_load(&s.bad));
                break;
            }
        }
        cove_pool_free(p);
    }
    cove_free(visits);
}

/* Phases separated by barriers: every thread sees every other thread's write of the phase. */
struct phase_ctx {
    cove_pool *pool;
    int slots[64];
    atomic_int errors;
    int phases;
};

static void phase_fn(void *ctx, int ith, int nth)
{
    struct phase_ctx *pc = ctx;
    for (int k = 1; k <= pc->phases; k++) {
        pc->slots[ith] = k; /* plain write: the barrier must publish it */
        cove_pool_barrier(pc->pool, ith);
        for (int j = 0; j < nth; j++)
            if (pc->slots[j] != k)
                atomic_fetch_add(&pc->errors, 1);
        cove_pool_barrier(pc->pool, ith);
    }
}

TEST(pool_barrier_phases)
{
    for (int c = 0; c < N_COUNTS; c++) {
        cove_pool *p;
        CHECK_OK(cove_pool_create(thread_counts[c], &p));
        struct phase_ctx pc;
        memset(&pc, 0, sizeof pc);
        pc.pool = p;
        pc.phases = thread_counts[c] > 2 ? 100 : 1000;
        for (int r = 0; r < 5; r++)
            CHECK_OK(cove_pool_run(p, phase_fn, &pc));
        cove_pool_free(p);
        CHECK_EQ_INT(atomic_load(&pc.errors), 0);
    }
}

struct nest_ctx {
    cove_pool *pool;
    atomic_int inner[64];
};

static void nested_fn(void *ctx, int ith, int nth)
{
    struct nest_ctx *nc = ctx;
    atomic_store(&nc->inner[ith], (int)cove_pool_run(nc->pool, mark_fn, NULL));
}

TEST(pool_nested_run_refused)
{
    cove_pool *p;
    CHECK_OK(cove_pool_create(3, &p));
    struct nest_ctx nc;
    memset(&nc, 0, sizeof nc);
    nc.pool = p;
    CHECK_OK(cove_pool_run(p, nested_fn, &nc));
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(atomic_load(&nc.inner[i]), COVE_ERR_STATE);
    struct mark_ctx m; /* and the pool still works afterwards */
    memset(&m, 0, sizeof m);
    m.want_nth = 3;
    CHECK_OK(cove_pool_run(p, mark_fn, &m));
    cove_pool_free(p);
    CHECK_EQ_INT(atomic_load(&m.hits[2]), 1);
}

static void slow_worker_fn(void *ctx, int ith, int nth)
{
    if (ith == nth - 1)
        usleep(3000); /* long enough for the caller to stop spinning and sleep */
    atomic_fetch_add((atomic_int *)ctx, 1);
}

TEST(pool_sleep_and_wake)
{
    cove_pool *p;
    CHECK_OK(cove_pool_create(4, &p));
    atomic_int count;
    atomic_init(&count, 0);
    for (int r = 0; r < 5; r++) {
        usleep(5000); /* workers go from spinning to sleeping */
        CHECK_OK(cove_pool_run(p, slow_worker_fn, &count));
        CHECK_EQ_INT(atomic_load(&count), 4 * (r + 1));
    }
    cove_pool_free(p);
}

TEST(pool_create_free_repeatedly)
{
    for (int r = 0; r < 200; r++) {
        cove_pool *p;
        int nth = 1 + r % 8;
        CHECK_OK(cove_pool_create(nth, &p));
        if (r % 2) {
            struct mark_ctx m;
            memset(&m, 0, sizeof m);
            m.want_nth = nth;
            CHECK_OK(cove_pool_run(p, mark_fn, &m));
            CHECK_EQ_INT(atomic_load(&m.hits[nth - 1]), 1);
        }
        cove_pool_free(p); /* sometimes before the workers have even started */
    }
}

TEST(pool_alloc_failures)
{
    cove_pool *p = NULL;
    long n;
    for (n = 1; n < 10; n++) {
        cove_alloc_fail_at(n, 1);
        cove_status st = cove_pool_create(4, &p);
        cove_alloc_fail_at(0, 0);
        if (st == COVE_OK)
            break;
        CHECK_EQ_INT(st, COVE_ERR_NOMEM);
        CHECK(p == NULL);
    }
    CHECK(p != NULL);
    CHECK(n >= 2);
    /* run and parallel_for never allocate: they work with allocation failing. */
    struct mark_ctx m;
    memset(&m, 0, sizeof m);
    m.want_nth = 4;
    cove_alloc_fail_at(1, 1);
    cove_status st = cove_pool_run(p, mark_fn, &m);
    long calls = cove_alloc_count();
    cove_alloc_fail_at(0, 0);
    CHECK_OK(st);
    CHECK_EQ_INT(calls, 0);
    cove_pool_free(p);
}

static void empty_fn(void *ctx, int ith, int nth)
{
}

/* Informational: fork-join round trip of an empty job. */
TEST(pool_latency_report)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int counts[] = {2, 4, (int)(ncpu > 1 ? ncpu : 2)};
    for (int c = 0; c < 3; c++) {
        if (c == 2 && (counts[2] == 2 || counts[2] == 4 || counts[2] > COVE_MAX_THREADS))
            continue;
        cove_pool *p;
        CHECK_OK(cove_pool_create(counts[c], &p));
        for (int r = 0; r < 2000; r++) /* warm up: lets the scheduler spread the threads */
            CHECK_OK(cove_pool_run(p, empty_fn, NULL));
        /* 20 batches of 1000 runs: the best batch shows the mechanism, the mean the noise. */
        double best = 1e9, sum = 0;
        for (int batch = 0; batch < 20; batch++) {
            double t0 = now_sec();
            for (int r = 0; r < 1000; r++)
                CHECK_OK(cove_pool_run(p, empty_fn, NULL));
            double dt = (now_sec() - t0) / 1000;
            best = dt < best ? dt : best;
            sum += dt;
        }
        printf("  pool: %d threads (%ld cpus): fork-join round trip best %.2f us, mean %.2f us\n",
               counts[c], ncpu, best * 1e6, sum / 20 * 1e6);
        cove_pool_free(p);
    }
}
