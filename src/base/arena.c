#include "base/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

/*
 * A chunk is this header followed by `cap` usable bytes; the usable area
 * starts HDR_SIZE bytes in, so it has the malloc alignment (max_align_t).
 * Invariant: used <= cap.
 */
struct chunk {
    struct chunk *next;
    size_t cap;
    size_t used;
};

#define BASE_ALIGN alignof(max_align_t)
#define HDR_SIZE ((sizeof(struct chunk) + BASE_ALIGN - 1) & ~(BASE_ALIGN - 1))

struct cleanup {
    struct cleanup *next;
    cove_cleanup_fn fn;
    void *ctx;
};

/*
 * Normal chunks form the list first -> ... -> cur; small allocations come
 * from cur only. Large chunks hold one allocation each. held is the sum of
 * the capacities of all chunks and never passes max_bytes.
 */
struct cove_arena {
    struct chunk *first;
    struct chunk *cur;
    struct chunk *large;
    struct cleanup *cleanups; /* newest first */
    size_t chunk_size;
    size_t max_bytes;
    size_t held;
    size_t used;
};

static unsigned char *chunk_data(struct chunk *c)
{
    return (unsigned char *)c + HDR_SIZE;
}

static struct chunk *chunk_new(size_t cap)
{
    if (cap > SIZE_MAX - HDR_SIZE)
        return NULL;
    struct chunk *c = cove_malloc(HDR_SIZE + cap);
    if (c) {
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
    }
    return c;
}

static void chunk_list_free(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        cove_free(c);
        c = next;
    }
}

/* 1 when size bytes aligned to align fit at c's end; *pad gets the padding. */
static int chunk_fits(struct chunk *c, size_t size, size_t align, size_t *pad)
{
    uintptr_t at = (uintptr_t)(chunk_data(c) + c->used);
    size_t p = (size_t)(-at & (uintptr_t)(align - 1));
    size_t room = c->cap - c->used;
    *pad = p;
    return room >= p && room - p >= size;
}

/* Add a chunk with room for `need` bytes: a large one, or the next normal one. */
static cove_status arena_grow(cove_arena *a, size_t need, struct chunk **out)
{
    size_t room = a->max_bytes - a->held;
    int large = need > a->chunk_size / 4;
    size_t cap = large ? need : (a->chunk_size < room ? a->chunk_size : room);
    if (need > room || cap < need)
        return COVE_ERR_LIMIT;
    struct chunk *c = chunk_new(cap);
    if (!c)
        return COVE_ERR_NOMEM;
    if (large) {
        c->next = a->large;
        a->large = c;
    } else {
        a->cur->next = c;
        a->cur = c;
    }
    a->held += cap;
    *out = c;
    return COVE_OK;
}

cove_status cove_arena_create(size_t chunk_size, size_t max_bytes, cove_arena **out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    *out = NULL;
    if (chunk_size == 0)
        chunk_size = COVE_ARENA_DEFAULT_CHUNK;
    if (max_bytes < chunk_size)
        return COVE_ERR_INVALID_ARG;
    cove_arena *a = cove_malloc(sizeof *a);
    if (!a)
        return COVE_ERR_NOMEM;
    a->first = chunk_new(chunk_size);
    if (!a->first) {
        cove_free(a);
        return COVE_ERR_NOMEM;
    }
    a->cur = a->first;
    a->large = NULL;
    a->cleanups = NULL;
    a->chunk_size = chunk_size;
    a->max_bytes = max_bytes;
    a->held = chunk_size;
    a->used = 0;
    *out = a;
    return COVE_OK;
}

static void run_cleanups(cove_arena *a)
{
    struct cleanup *h = a->cleanups;
    a->cleanups = NULL;
    while (h) {
        struct cleanup *next = h->next; /* h lives in the arena; read before the call */
        h->fn(h->ctx);
        h = next;
    }
}

void cove_arena_free(cove_arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    chunk_list_free(a->large);
    chunk_list_free(a->first);
    cove_free(a);
}

void cove_arena_reset(cove_arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    chunk_list_free(a->large);
    a->large = NULL;
    chunk_list_free(a->first->next);
    a->first->next = NULL;
    a->first->used = 0;
    a->cur = a->first;
    a->held = a->first->cap;
    a->used = 0;
}

cove_status cove_arena_alloc(cove_arena *a, size_t size, size_t align, void **out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    *out = NULL;
    if (align == 0)
        align = BASE_ALIGN;
    if (!a || align > COVE_ARENA_MAX_ALIGN || (align & (align - 1)) != 0)
        return COVE_ERR_INVALID_ARG;
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - align)
        return COVE_ERR_LIMIT;

    struct chunk *c = a->cur;
    size_t pad;
    if (!chunk_fits(c, size, align, &pad)) {
        /* A fresh chunk starts BASE_ALIGN-aligned: reserve worst-case padding beyond that. */
        size_t need = size + (align > BASE_ALIGN ? align - 1 : 0);
        cove_status st = arena_grow(a, need, &c);
        if (st != COVE_OK)
            return st;
        chunk_fits(c, size, align, &pad);
    }
    *out = chunk_data(c) + c->used + pad;
    c->used += pad + size;
    a->used += pad + size;
    return COVE_OK;
}

cove_status cove_arena_calloc(cove_arena *a, size_t count, size_t size, void **out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    int overflow;
    size_t total = cove_mul_size(count, size, &overflow);
    if (overflow) {
        *out = NULL;
        return COVE_ERR_LIMIT;
    }
    cove_status st = cove_arena_alloc(a, total, 0, out);
    if (st == COVE_OK)
        memset(*out, 0, total ? total : 1);
    return st;
}

cove_status cove_arena_strndup(cove_arena *a, const char *s, size_t n, char **out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    *out = NULL;
    if (!s)
        return COVE_ERR_INVALID_ARG;
    size_t len = strnlen(s, n);
    void *p;
    cove_status st = cove_arena_alloc(a, len + 1, 1, &p);
    if (st != COVE_OK)
        return st;
    memcpy(p, s, len);
    ((char *)p)[len] = '\0';
    *out = p;
    return COVE_OK;
}

cove_status cove_arena_strdup(cove_arena *a, const char *s, char **out)
{
    return cove_arena_strndup(a, s, SIZE_MAX, out);
}

cove_status cove_arena_add_cleanup(cove_arena *a, cove_cleanup_fn fn, void *ctx)
{
    if (!a || !fn)
        return COVE_ERR_INVALID_ARG;
    void *p;
    cove_status st = cove_arena_alloc(a, sizeof(struct cleanup), alignof(struct cleanup), &p);
    if (st != COVE_OK)
        return st;
    struct cleanup *h = p;
    h->fn = fn;
    h->ctx = ctx;
    h->next = a->cleanups;
    a->cleanups = h;
    return COVE_OK;
}

size_t cove_arena_used(const cove_arena *a)
{
    return a ? a->used : 0;
}

size_t cove_arena_held(const cove_arena *a)
{
    return a ? a->held : 0;
}
