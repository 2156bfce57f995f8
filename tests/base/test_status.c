#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "cove/status.h"
#include "test.h"

TEST(status_strings)
{
    CHECK_STR_EQ(cove_status_str(COVE_OK), "success");
    CHECK_STR_EQ(cove_status_str(COVE_ERR_NOMEM), "out of memory");
    CHECK_STR_EQ(cove_status_name(COVE_ERR_FORMAT), "COVE_ERR_FORMAT");
    CHECK_STR_EQ(cove_status_str((cove_status)-999), "unknown status");
    for (int s = 0; s >= COVE_ERR_INTERNAL; s--)
        CHECK(strcmp(cove_status_str((cove_status)s), "unknown status") != 0);
}

TEST(error_record)
{
    cove_error err;
    cove_error_clear(&err);
    CHECK_EQ_INT(err.status, COVE_OK);
    CHECK_EQ_INT(cove_error_set(&err, COVE_ERR_FORMAT, "bad magic at %d", 4), COVE_ERR_FORMAT);
    CHECK_STR_EQ(cove_error_msg(&err), "bad magic at 4");
    CHECK_EQ_INT(cove_error_set(NULL, COVE_ERR_IO, "ignored"), COVE_ERR_IO);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cove_error_set(&err, COVE_ERR_LIMIT, "%s", big);
    CHECK_EQ_INT(strlen(err.msg), COVE_ERROR_MSG_MAX - 1);
    cove_error_clear(&err);
    CHECK_STR_EQ(cove_error_msg(&err), "success");
}

TEST(alloc_fail_injection)
{
    cove_alloc_fail_at(2, 0);
    void *a = cove_malloc(10);
    void *b = cove_malloc(10);
    void *c = cove_malloc(10);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c != NULL);
    cove_free(a);
    cove_free(c);
    cove_alloc_fail_at(1, 1);
    CHECK(cove_malloc(1) == NULL);
    CHECK(cove_strdup("x") == NULL);
    cove_alloc_fail_at(0, 0);
    char *d = cove_strdup("hello");
    CHECK_STR_EQ(d, "hello");
    cove_free(d);
    cove_free(NULL);
    int ovf;
    cove_mul_size((size_t)-1, 2, &ovf);
    CHECK(ovf);
    CHECK(cove_calloc((size_t)-1, 16) == NULL);
}

/* Page buffers: aligned to 2 MiB, zeroed, writable to the end; failure injection counts them. */
TEST(pages_alloc)
{
    const size_t n = (3u << 20) + 123;
    uint8_t *p = cove_pages_alloc(n);
    CHECK(p != NULL);
    if (p) {
        CHECK(((uintptr_t)p & ((2u << 20) - 1)) == 0);
        size_t nonzero = 0;
        for (size_t i = 0; i < n; i += 4096)
            nonzero += p[i] != 0;
        CHECK(nonzero == 0 && p[n - 1] == 0);
        memset(p, 0xab, n);
        CHECK(p[n - 1] == 0xab);
    }
    cove_pages_free(p, n);
    cove_pages_free(NULL, n);
    CHECK(cove_pages_alloc(0) == NULL);
    CHECK(cove_pages_alloc((size_t)-1) == NULL);
    cove_alloc_fail_at(1, 0);
    CHECK(cove_pages_alloc(4096) == NULL);
    cove_alloc_fail_at(0, 0);
}
