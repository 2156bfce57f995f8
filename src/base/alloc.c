#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
