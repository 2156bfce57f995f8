/*
 * base/alloc.h - the one allocation wrapper every cove module uses.
 *
 * All heap memory goes through these calls so that a test can make the Nth
 * allocation fail and check that every caller reports COVE_ERR_NOMEM cleanly
 * (curl's "torture" idea). Failure injection is per thread: it affects only the
 * thread that armed it, so it is not shared mutable state between threads.
 *
 * Ownership: memory from cove_malloc/calloc/realloc/strdup is owned by the
 * caller and released with cove_free. cove_free(NULL) is a no-op.
 */
#ifndef COVE_BASE_ALLOC_H
#define COVE_BASE_ALLOC_H

#include <stddef.h>

void *cove_malloc(size_t size);
void *cove_calloc(size_t count, size_t size); /* zeroed; NULL on overflow */
void *cove_realloc(void *ptr, size_t size);   /* on failure ptr is untouched */
char *cove_strdup(const char *s);
char *cove_strndup(const char *s, size_t n);
void cove_free(void *ptr);

/*
 * Big long-lived buffers that are streamed (model weights the engine lays out for its
 * kernels): an anonymous mapping of at least `size` bytes, zeroed, aligned to 2 MiB and
 * marked for transparent huge pages where the system offers them (where it does, streaming
 * such a buffer costs fewer TLB misses: on the virtual machines cove was measured on, a
 * plain read went from 38-50 GB/s over 4 KiB pages to 55-60). Pages are committed only as
 * they are first written. The caller owns the buffer and releases it with
 * cove_pages_free(p, size) (the same size); cove_pages_free(NULL, n) is a no-op. NULL on
 * failure (counted by the failure-injection hook like every allocation).
 */
void *cove_pages_alloc(size_t size);
void cove_pages_free(void *p, size_t size);

/* Returns a*b or 0 with *overflow set when the product does not fit. */
size_t cove_mul_size(size_t a, size_t b, int *overflow);

/*
 * Test hook: make the allocation `n` calls from now fail (n = 1: the next one)
 * on this thread, and every one after it if `sticky`. n = 0 disarms.
 */
void cove_alloc_fail_at(long n, int sticky);

/* Number of allocation calls made on this thread since the last arm/disarm. */
long cove_alloc_count(void);

#endif
