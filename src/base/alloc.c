#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGES_ALIGN ((size_t)2 << 20) /* a huge page of x86-64 and of arm64 with 4 KiB pages */

/* Per-thread failure injection state (see alloc.h). */
static _Thread_local long fail_at;
static _Thread_local int fail_sticky;
static _Thread_local long alloc_calls;

static int should_fail(void)
{
    alloc_calls++;
    if (fail_at <= 0)
        return 0;
    if (alloc_calls == fail_at)
        return 1;
    return fail_sticky && alloc_calls > fail_at;
}

void cove_alloc_fail_at(long n, int sticky)
{
    fail_at = n;
    fail_sticky = sticky;
    alloc_calls = 0;
}

long cove_alloc_count(void)
{
    return alloc_calls;
}

size_t cove_mul_size(size_t a, size_t b, int *overflow)
{
    if (a != 0 && b > SIZE_MAX / a) {
        *overflow = 1;
        return 0;
    }
    *overflow = 0;
    return a * b;
}

void *cove_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *cove_calloc(size_t count, size_t size)
{
    int ovf;
    cove_mul_size(count, size, &ovf);
    if (ovf || should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *cove_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

char *cove_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = cove_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *cove_strdup(const char *s)
{
    return cove_strndup(s, strlen(s));
}

void cove_free(void *ptr)
{
    free(ptr);
}

/* The mapping is PAGES_ALIGN larger than asked, so an aligned start fits; the head before it
 * and the tail after the rounded size are unmapped again. */
void *cove_pages_alloc(size_t size)
{
    if (size == 0 || size > SIZE_MAX - 2 * PAGES_ALIGN || should_fail())
        return NULL;
    const size_t len = (size + PAGES_ALIGN - 1) & ~(PAGES_ALIGN - 1);
    uint8_t *m = mmap(NULL, len + PAGES_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)m + PAGES_ALIGN - 1) & ~(uintptr_t)(PAGES_ALIGN - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    munmap(p + len, (size_t)(m + PAGES_ALIGN - p)); /* p < m + PAGES_ALIGN: never empty */
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE); /* a hint: without it the buffer still works */
#endif
    return p;
}

void cove_pages_free(void *p, size_t size)
{
    if (p && size)
        munmap(p, (size + PAGES_ALIGN - 1) & ~(PAGES_ALIGN - 1));
}
