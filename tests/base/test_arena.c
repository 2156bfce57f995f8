#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "test.h"

TEST(arena_basic_alloc)
{
    cove_arena *a;
    CHECK_OK(cove_arena_create(256, 4096, &a));
    CHECK_EQ_INT(cove_arena_used(a), 0);
    CHECK_EQ_INT(cove_arena_held(a), 256);
    void *p, *q;
    CHECK_OK(cove_arena_alloc(a, 10, 1, &p));
    CHECK_OK(cove_arena_alloc(a, 10, 1, &q));
    CHECK(p != q);
    CHECK_EQ_INT((char *)q - (char *)p, 10);
    memset(p, 0xAA, 10);
    memset(q, 0xBB, 10);
    CHECK_EQ_INT(((unsigned char *)p)[9], 0xAA);
    CHECK_EQ_INT(cove_arena_used(a), 20);
    void *z;
    CHECK_OK(cove_arena_alloc(a, 0, 1, &z)); /* size 0 still gives a distinct pointer */
    CHECK(z != p && z != q);
    cove_arena_free(a);
    cove_arena_free(NULL);
}

TEST(arena_alignment)
{
    cove_arena *a;
    CHECK_OK(cove_arena_create(1024, 1 << 20, &a));
    size_t aligns[] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 4096};
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        for (int i = 0; i < 20; i++) {
            void *p;
            CHECK_OK(cove_arena_alloc(a, (size_t)i * 7 + 1, aligns[k], &p));
            size_t al = aligns[k] ? aligns[k] : alignof(max_align_t);
            CHECK_MSG(((uintptr_t)p & (al - 1)) == 0, "align %zu: %p", al, p);
            memset(p, i, (size_t)i * 7 + 1);
        }
    }
    void *p = (void *)1;
    CHECK_EQ_INT(cove_arena_alloc(a, 8, 3, &p), COVE_ERR_INVALID_ARG);
    CHECK(p == NULL);
    CHECK_EQ_INT(cove_arena_alloc(a, 8, 8192, &p), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_arena_alloc(a, SIZE_MAX, 8, &p), COVE_ERR_LIMIT);
    CHECK_EQ_INT(cove_arena_alloc(a, SIZE_MAX - 3, 4096, &p), COVE_ERR_LIMIT);
    cove_arena_free(a);
}

TEST(arena_create_args)
{
    cove_arena *a = (cove_arena *)1;
    CHECK_EQ_INT(cove_arena_create(4096, 100, &a), COVE_ERR_INVALID_ARG);
    CHECK(a == NULL);
    CHECK_EQ_INT(cove_arena_create(64, 64, NULL), COVE_ERR_INVALID_ARG);
    CHECK_OK(cove_arena_create(0, COVE_ARENA_DEFAULT_CHUNK, &a));
    CHECK_EQ_INT(cove_arena_held(a), COVE_ARENA_DEFAULT_CHUNK);
    void *p;
    CHECK_EQ_INT(cove_arena_alloc(NULL, 1, 1, &p), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_arena_alloc(a, 1, 1, NULL), COVE_ERR_INVALID_ARG);
    cove_arena_free(a);
}

TEST(arena_growth_and_large)
{
    cove_arena *a;
    CHECK_OK(cove_arena_create(256, 1 << 20, &a));
    /* Small allocations fill chunk after chunk; none overlap. */
    unsigned char *ptrs[100];
    for (int i = 0; i < 100; i++) {
        void *p;
        CHECK_OK(cove_arena_alloc(a, 40, 1, &p));
        ptrs[i] = p;
        memset(p, i, 40);
    }
    for (int i = 0; i < 100; i++)
        for (int j = 0; j < 40; j++)
            CHECK_EQ_INT(ptrs[i][j], i);
    CHECK(cove_arena_held(a) >= 100 * 40);
    size_t held = cove_arena_held(a);
    /* A large allocation gets a chunk of its own of exactly its size. */
    void *big;
    CHECK_OK(cove_arena_alloc(a, 10000, 8, &big));
    memset(big, 7, 10000);
    CHECK_EQ_INT(cove_arena_held(a), held + 10000);
    /* ... and small ones continue in the current chunk. */
    void *p;
    CHECK_OK(cove_arena_alloc(a, 8, 8, &p));
    CHECK_EQ_INT(cove_arena_held(a), held + 10000);
    cove_arena_free(a);
}

TEST(arena_limit)
{
    cove_arena *a;
    CHECK_OK(cove_arena_create(256, 1000, &a));
    void *p;
    CHECK_EQ_INT(cove_arena_alloc(a, 1001, 1, &p), COVE_ERR_LIMIT);
    CHECK(p == NULL);
    CHECK_EQ_INT(cove_arena_held(a), 256);
    CHECK_EQ_INT(cove_arena_used(a), 0);
    /* Fill up to the bound exactly: the last normal chunk shrinks to what is left. */
    size_t got = 0;
    while (cove_arena_alloc(a, 8, 1, &p) == COVE_OK)
        got += 8;
    CHECK_EQ_INT(cove_arena_held(a), 1000);
    CHECK(got >= 992);
    CHECK_EQ_INT(cove_arena_alloc(a, 1, 1, &p), COVE_ERR_LIMIT);
    size_t used = cove_arena_used(a);
    CHECK_EQ_INT(cove_arena_alloc(a, 500, 1, &p), COVE_ERR_LIMIT);
    CHECK_EQ_INT(cove_arena_used(a), used);
    cove_arena_reset(a);
    CHECK_EQ_INT(cove_arena_held(a), 256);
    CHECK_OK(cove_arena_alloc(a, 700, 1, &p)); /* large: 256 + 700 <= 1000 */
    cove_arena_free(a);
}

TEST(arena_strdup)
{
    cove_arena *a;
    CHECK_OK(cove_arena_create(64, 4096, &a));
    char *s, *t, *u;
    CHECK_OK(cove_arena_strdup(a, "hello, arena", &s));
    CHECK_STR_EQ(s, "hello, arena");
    CHECK_OK(cove_arena_strndup(a, "hello, arena", 5, &t));
    CHECK_STR_EQ(t, "hello");
    CHECK_OK(cove_arena_strndup(a, "ab", 100, &u));
    CHECK_STR_EQ(u, "ab");
    CHECK_OK(cove_arena_strdup(a, "", &u));
    CHECK_STR_EQ(u, "");
    char longer[300];
    memset(longer, 'q', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK_OK(cove_arena_strdup(a, longer, &u));
    CHECK_STR_EQ(u, longer);
    CHECK_STR_EQ(s, "hello, arena");
    CHECK_EQ_INT(cove_arena_strdup(a, NULL, &u), COVE_ERR_INVALID_ARG);
    int *zeros;
    CHECK_OK(cove_arena_calloc(a, 50, sizeof(int), (void **)&zeros));
    for (int i = 0; i < 50; i++)
        CHECK_EQ_INT(zeros[i], 0);
    void *p;
    CHECK_EQ_INT(cove_arena_calloc(a, SIZE_MAX / 2, 4, &p), COVE_ERR_LIMIT);
    cove_arena_free(a);
}

struct hook_log {
    int order[16];
    int n;
};

static struct hook_log *hook_target;

static void hook_record(void *ctx)
{
    hook_target->order[hook_target->n++] = (int)(intptr_t)ctx;
}

static void hook_free(void *ctx)
{
    cove_free(ctx);
}

TEST(arena_cleanup_hooks)
{
    struct hook_log log = {{0}, 0};
    hook_target = &log;
    cove_arena *a;
    CHECK_OK(cove_arena_create(128, 8192, &a));
    for (intptr_t i = 1; i <= 5; i++)
        CHECK_OK(cove_arena_add_cleanup(a, hook_record, (void *)i));
    CHECK_EQ_INT(cove_arena_add_cleanup(a, NULL, NULL), COVE_ERR_INVALID_ARG);
    cove_arena_reset(a);
    CHECK_EQ_INT(log.n, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(log.order[i], 5 - i); /* newest first */
    cove_arena_reset(a); /* hooks ran once and are gone */
    CHECK_EQ_INT(log.n, 5);
    CHECK_OK(cove_arena_add_cleanup(a, hook_record, (void *)(intptr_t)9));
    /* A heap resource tied to the arena goes away with it (ASan checks). */
    void *heap = cove_malloc(100);
    CHECK(heap != NULL);
    CHECK_OK(cove_arena_add_cleanup(a, hook_free, heap));
    cove_arena_free(a);
    CHECK_EQ_INT(log.n, 6);
    CHECK_EQ_INT(log.order[5], 9);
    hook_target = NULL;
}

TEST(arena_reset_reuses_first_chunk)
{
    cove_arena *a;
    CHECK_OK(cove_arena_create(512, 1 << 20, &a));
    void *first, *p;
    CHECK_OK(cove_arena_alloc(a, 16, 16, &first));
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++)
            CHECK_OK(cove_arena_alloc(a, 64, 16, &p));
        CHECK_OK(cove_arena_alloc(a, 5000, 64, &p));
        cove_arena_reset(a);
        CHECK_EQ_INT(cove_arena_used(a), 0);
        CHECK_EQ_INT(cove_arena_held(a), 512);
        CHECK_OK(cove_arena_alloc(a, 16, 16, &p));
        CHECK(p == first);
    }
    cove_arena_free(a);
}

/* Every allocation failure in create and growth returns NOMEM and leaks nothing. */
TEST(arena_alloc_failures)
{
    cove_arena *a = NULL;
    long n;
    for (n = 1; n < 10; n++) {
        cove_alloc_fail_at(n, 1);
        cove_status st = cove_arena_create(128, 1 << 20, &a);
        cove_alloc_fail_at(0, 0);
        if (st == COVE_OK)
            break;
        CHECK_EQ_INT(st, COVE_ERR_NOMEM);
        CHECK(a == NULL);
    }
    CHECK(a != NULL);
    CHECK_EQ_INT(n, 3);
    cove_arena_free(a);

    for (n = 1; n < 1000; n++) {
        CHECK_OK(cove_arena_create(128, 1 << 20, &a));
        cove_alloc_fail_at(n, 1);
        cove_status st = COVE_OK;
        void *p;
        for (int i = 0; i < 40 && st == COVE_OK; i++) {
            st = cove_arena_alloc(a, (size_t)(i % 5 == 0 ? 200 : 24), 8, &p);
            if (st != COVE_OK || i % 8 != 0)
                continue;
            /* A heap object owned by the arena once its hook is registered. */
            void *obj = cove_malloc(32);
            if (!obj)
                st = COVE_ERR_NOMEM;
            else if ((st = cove_arena_add_cleanup(a, hook_free, obj)) != COVE_OK)
                cove_free(obj);
        }
        cove_alloc_fail_at(0, 0);
        size_t used = cove_arena_used(a);
        cove_arena_free(a);
        if (st == COVE_OK)
            break;
        CHECK_EQ_INT(st, COVE_ERR_NOMEM);
        CHECK(used > 0 || n == 1);
    }
    CHECK(n > 5);
}
