#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "test.h"

TEST(buf_append_basic)
{
    struct cove_buf b;
    cove_buf_init(&b, 1000);
    CHECK(b.data == NULL);
    CHECK_EQ_INT(b.len, 0);
    CHECK_OK(cove_buf_append(&b, NULL, 0)); /* no-op */
    CHECK(b.data == NULL);
    CHECK_OK(cove_buf_append(&b, "abc", 3));
    CHECK_OK(cove_buf_append_str(&b, "def"));
    CHECK_OK(cove_buf_append_byte(&b, 'g'));
    CHECK_OK(cove_buf_append_byte(&b, 0));
    CHECK_OK(cove_buf_append_byte(&b, 0xFF));
    CHECK_EQ_INT(b.len, 9);
    CHECK(memcmp(b.data, "abcdefg\0\xFF", 10) == 0); /* terminated after the content */
    CHECK(b.cap > b.len);
    cove_buf_release(&b);
    CHECK(b.data == NULL);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(b.max, 1000);
    cove_buf_release(&b); /* twice is fine */
}

TEST(buf_growth)
{
    struct cove_buf b;
    cove_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        CHECK_OK(cove_buf_append(&b, &c, 1));
        CHECK(b.len < b.cap);
        CHECK_EQ_INT(b.data[b.len], 0);
    }
    CHECK_EQ_INT(b.len, 10000);
    for (int i = 0; i < 10000; i++)
        CHECK_EQ_INT(b.data[i], 'a' + i % 26);
    cove_buf_release(&b);
}

TEST(buf_limit)
{
    struct cove_buf b;
    cove_buf_init(&b, 10);
    CHECK_OK(cove_buf_append_str(&b, "0123456"));
    size_t cap = b.cap;
    char *data = b.data;
    CHECK_EQ_INT(cove_buf_append_str(&b, "7890"), COVE_ERR_LIMIT);
    CHECK_EQ_INT(b.len, 7);
    CHECK_STR_EQ(b.data, "0123456");
    CHECK(b.data == data && b.cap == cap);
    CHECK_OK(cove_buf_append_str(&b, "789"));
    CHECK_STR_EQ(b.data, "0123456789");
    CHECK(b.cap <= 11); /* never grows past max + 1 */
    CHECK_EQ_INT(cove_buf_append_byte(&b, 'x'), COVE_ERR_LIMIT);
    CHECK_EQ_INT(cove_buf_appendf(&b, "%d", 1), COVE_ERR_LIMIT);
    CHECK_STR_EQ(b.data, "0123456789");
    CHECK_EQ_INT(cove_buf_reserve(&b, 1), COVE_ERR_LIMIT);
    CHECK_OK(cove_buf_reserve(&b, 0));
    CHECK_EQ_INT(cove_buf_append(&b, "x", SIZE_MAX), COVE_ERR_LIMIT);
    cove_buf_release(&b);

    struct cove_buf z;
    cove_buf_init(&z, 0);
    CHECK_EQ_INT(cove_buf_append_byte(&z, 'a'), COVE_ERR_LIMIT);
    CHECK(z.data == NULL);
    cove_buf_release(&z);

    struct cove_buf huge;
    cove_buf_init(&huge, SIZE_MAX);
    CHECK_OK(cove_buf_append_str(&huge, "ok"));
    CHECK_EQ_INT(cove_buf_reserve(&huge, SIZE_MAX - 2), COVE_ERR_LIMIT);
    cove_alloc_fail_at(1, 0); /* growth that the allocator refuses */
    CHECK_EQ_INT(cove_buf_reserve(&huge, 100), COVE_ERR_NOMEM);
    cove_alloc_fail_at(0, 0);
    CHECK_STR_EQ(huge.data, "ok");
    cove_buf_release(&huge);
}

TEST(buf_appendf)
{
    struct cove_buf b;
    cove_buf_init(&b, 100000);
    CHECK_OK(cove_buf_appendf(&b, "%s=%d", "x", 42));
    CHECK_STR_EQ(b.data, "x=42");
    CHECK_OK(cove_buf_appendf(&b, "%s", ""));
    CHECK_EQ_INT(b.len, 4);
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_OK(cove_buf_appendf(&b, "[%s]", big)); /* needs a second formatting pass */
    CHECK_EQ_INT(b.len, 4 + 2 + 4999);
    CHECK_EQ_INT(b.data[5], 'z');
    CHECK_EQ_INT(b.data[b.len - 1], ']');
    CHECK_EQ_INT(strlen(b.data), b.len);
    cove_buf_release(&b);

    struct cove_buf empty;
    cove_buf_init(&empty, 16);
    CHECK_OK(cove_buf_appendf(&empty, "%s", ""));
    CHECK_STR_EQ(empty.data, "");
    /* A failed format leaves earlier content intact even after a partial first try. */
    CHECK_OK(cove_buf_append_str(&empty, "abc"));
    CHECK_EQ_INT(cove_buf_appendf(&empty, "%s", "0123456789abcdefghij"), COVE_ERR_LIMIT);
    CHECK_STR_EQ(empty.data, "abc");
    CHECK_EQ_INT(empty.len, 3);
    cove_buf_release(&empty);
}

TEST(buf_reset_truncate_detach)
{
    struct cove_buf b;
    cove_buf_init(&b, 64);
    CHECK_OK(cove_buf_append_str(&b, "hello world"));
    char *mem = b.data;
    cove_buf_truncate(&b, 5);
    CHECK_STR_EQ(b.data, "hello");
    cove_buf_truncate(&b, 50);
    CHECK_EQ_INT(b.len, 5);
    cove_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK(b.data == mem);
    CHECK_STR_EQ(b.data, "");
    CHECK_OK(cove_buf_append_str(&b, "again"));
    size_t len = 0;
    char *s = cove_buf_detach(&b, &len);
    CHECK_STR_EQ(s, "again");
    CHECK_EQ_INT(len, 5);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    cove_free(s);
    CHECK(cove_buf_detach(&b, NULL) == NULL); /* nothing stored */
    cove_buf_reset(&b);                        /* on an unallocated buffer */
    CHECK_OK(cove_buf_reserve(&b, 0));         /* allocates an empty string */
    s = cove_buf_detach(&b, NULL);
    CHECK_STR_EQ(s, "");
    cove_free(s);
}

/* Growth under every allocation failure: NOMEM, content intact, no leak. */
TEST(buf_alloc_failures)
{
    long n;
    for (n = 1; n < 100; n++) {
        struct cove_buf b;
        cove_buf_init(&b, 1 << 20);
        cove_alloc_fail_at(n, 1);
        cove_status st = COVE_OK;
        int i;
        for (i = 0; i < 2000 && st == COVE_OK; i++)
            st = (i % 3) ? cove_buf_append_str(&b, "0123456789") : cove_buf_appendf(&b, "<%d>", i);
        cove_alloc_fail_at(0, 0);
        if (st != COVE_OK) {
            CHECK_EQ_INT(st, COVE_ERR_NOMEM);
            CHECK(b.data == NULL || strlen(b.data) == b.len);
        }
        cove_buf_release(&b);
        if (st == COVE_OK)
            break;
    }
    CHECK(n > 3 && n < 100);
}
