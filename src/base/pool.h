/*
 * base/pool.h - a fork-join thread pool for the compute kernels.
 *
 * The pool keeps n-1 worker threads alive; the thread that calls
 * cove_pool_run takes part as thread 0, so a pool of size 1 has no workers
 * and runs everything inline. A run publishes the job by bumping an atomic
 * generation counter: idle workers spin on it for about a hundred
 * microseconds (yielding the CPU now and then, which keeps an oversubscribed
 * machine moving) and then sleep on a condition variable. Back-to-back runs
 * (one per matrix multiply in the token loop) so cost well under a
 * microsecond when each thread has a core of its own, while an idle pool
 * costs no CPU. Neither cove_pool_run nor cove_pool_parallel_for allocates.
 *
 * One thread at a time drives a pool: a run may not be started from inside a
 * run (that returns COVE_ERR_STATE). Callbacks must not fail by exiting;
 * they report through their ctx.
 */
#ifndef COVE_BASE_POOL_H
#define COVE_BASE_POOL_H

#include <stddef.h>

#include "cove/status.h"

typedef struct cove_pool cove_pool;

/* A job run on every thread: ith in [0, nth), nth == cove_pool_size(). */
typedef void (*cove_pool_fn)(void *ctx, int ith, int nth);

/* A range job: handles indices [begin, end); ith is the thread running it. */
typedef void (*cove_pool_range_fn)(void *ctx, size_t begin, size_t end, int ith);

/*
 * Create a pool of n_threads threads in all, the caller included
 * (1 <= n_threads <= COVE_MAX_THREADS), starting n_threads - 1 workers.
 * On success *out owns the pool (release with cove_pool_free).
 * Returns COVE_ERR_INVALID_ARG (out NULL, n_threads out of range),
 * COVE_ERR_NOMEM (memory or threads could not be had); *out is then NULL.
 */
cove_status cove_pool_create(int n_threads, cove_pool **out);

/* Stop and join the workers and release the pool. NULL is a no-op. Not during a run. */
void cove_pool_free(cove_pool *p);

/* Total number of threads (the caller included) that run a job. */
int cove_pool_size(const cove_pool *p);

/*
 * Run fn(ctx, ith, nth) once on each of the nth threads (ith 0 on the
 * calling thread) and return when all calls have returned. Everything the
 * calls wrote is visible to the caller afterwards.
 * Returns COVE_ERR_INVALID_ARG (p or fn NULL) or COVE_ERR_STATE (the pool is
 * already running a job, e.g. a nested call); fn has then not run.
 */
cove_status cove_pool_run(cove_pool *p, cove_pool_fn fn, void *ctx);

/*
 * Split [0, n) into nth contiguous ranges of nearly equal size (sizes differ
 * by at most 1, lower ith first) and run fn on each non-empty range, range i
 * on thread i. n == 0 runs nothing. Errors as cove_pool_run.
 */
cove_status cove_pool_parallel_for(cove_pool *p, size_t n, cove_pool_range_fn fn, void *ctx);

/*
 * The range of [0, n) that parallel_for gives thread ith of nth, for jobs
 * that split work themselves inside cove_pool_run.
 */
void cove_pool_split(size_t n, int ith, int nth, size_t *begin, size_t *end);

/*
 * Barrier for use inside a cove_pool_run callback: returns once all nth
 * threads of the run have called it, and makes every write made before the
 * barrier visible to every thread after it. All threads must call it the same
 * number of times. Waiters spin, then yield the CPU. ith is the caller's
 * thread index (checked in debug builds).
 */
void cove_pool_barrier(cove_pool *p, int ith);

#endif
