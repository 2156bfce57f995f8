/*
 * base/arena.h - a region allocator for one request, one agent step or one
 * model context (nginx pool style).
 *
 * Memory is carved from chunks of `chunk_size` bytes. An allocation that does
 * not fit the current chunk and needs more than a quarter of chunk_size gets a
 * chunk of its own (so big blocks do not waste the rest of a normal chunk);
 * smaller ones start a new normal chunk. Nothing is freed one by one:
 * cove_arena_reset gives everything back at once (keeping the first chunk for
 * reuse) and cove_arena_free releases the arena. Cleanup hooks registered with
 * cove_arena_add_cleanup run, newest first, at reset and at free, so resources
 * tied to a request (a file, a handle) go away with its memory even when the
 * request fails half-way.
 *
 * Bound: `max_bytes` caps the sum of the chunk capacities the arena holds at
 * once (chunk headers and the arena record itself not counted). An allocation
 * that would need more fails with COVE_ERR_LIMIT and changes nothing.
 *
 * An arena is not thread-safe: one thread uses it at a time.
 */
#ifndef COVE_BASE_ARENA_H
#define COVE_BASE_ARENA_H

#include <stddef.h>

#include "cove/status.h"

typedef struct cove_arena cove_arena;

/* A cleanup hook: called once with the ctx it was registered with. */
typedef void (*cove_cleanup_fn)(void *ctx);

#define COVE_ARENA_DEFAULT_CHUNK 4096 /* chunk size used when 0 is passed */
#define COVE_ARENA_MAX_ALIGN 4096     /* largest alignment cove_arena_alloc accepts */

/*
 * Create an arena and its first chunk. chunk_size 0 means
 * COVE_ARENA_DEFAULT_CHUNK. max_bytes must be at least the chunk size.
 * On success *out owns the arena (release with cove_arena_free).
 * Returns COVE_ERR_INVALID_ARG (out NULL, max_bytes < chunk size) or
 * COVE_ERR_NOMEM; *out is then NULL (when out is not NULL).
 */
cove_status cove_arena_create(size_t chunk_size, size_t max_bytes, cove_arena **out);

/* Run the cleanup hooks (newest first) and release all memory. NULL is a no-op. */
void cove_arena_free(cove_arena *a);

/*
 * Allocate `size` bytes aligned to `align` (a power of two up to
 * COVE_ARENA_MAX_ALIGN; 0 means alignof(max_align_t)). The memory is not
 * zeroed and lives until the next reset or free. size 0 is treated as 1, so
 * *out is always a distinct pointer.
 * Returns COVE_ERR_INVALID_ARG (bad align, NULL argument), COVE_ERR_LIMIT
 * (max_bytes would be passed) or COVE_ERR_NOMEM; on failure *out is NULL and
 * the arena is unchanged.
 */
cove_status cove_arena_alloc(cove_arena *a, size_t size, size_t align, void **out);

/* As cove_arena_alloc with default alignment, and the memory zeroed. */
cove_status cove_arena_calloc(cove_arena *a, size_t count, size_t size, void **out);

/* Copy the NUL-terminated s into the arena. Errors as cove_arena_alloc. */
cove_status cove_arena_strdup(cove_arena *a, const char *s, char **out);

/*
 * Copy at most n bytes of s (stopping at a NUL) into the arena and terminate
 * the copy. Errors as cove_arena_alloc.
 */
cove_status cove_arena_strndup(cove_arena *a, const char *s, size_t n, char **out);

/*
 * Register fn(ctx) to run at the next reset or at free. Hooks run newest
 * first; a hook must not use the arena. The hook record is allocated in the
 * arena, so this can fail with COVE_ERR_LIMIT or COVE_ERR_NOMEM, and then fn
 * is not registered (the caller still owns whatever ctx refers to).
 */
cove_status cove_arena_add_cleanup(cove_arena *a, cove_cleanup_fn fn, void *ctx);

/*
 * Run the cleanup hooks (newest first), release every chunk but the first and
 * make all of the arena's memory available again. Pointers handed out before
 * become invalid. NULL is a no-op.
 */
void cove_arena_reset(cove_arena *a);

/* Bytes handed out since create or the last reset, alignment padding and hook records included. */
size_t cove_arena_used(const cove_arena *a);

/* Bytes of chunk capacity the arena holds now (the quantity max_bytes bounds). */
size_t cove_arena_held(const cove_arena *a);

#endif
