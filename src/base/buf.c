#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

#define BUF_MIN_CAP 32

void cove_buf_init(struct cove_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void cove_buf_release(struct cove_buf *b)
{
    if (!b)
        return;
    cove_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cove_buf_reset(struct cove_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* The capacity to grow to for `need` bytes: doubling, but never past max + 1. */
static size_t grown_cap(const struct cove_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return need;
        cap *= 2;
    }
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1; /* >= need, since need <= max + 1 */
    return cap;
}

cove_status cove_buf_reserve(struct cove_buf *b, size_t extra)
{
    if (extra > b->max - b->len || extra > SIZE_MAX - 1 - b->len)
        return COVE_ERR_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return COVE_OK;
    size_t cap = grown_cap(b, need);
    char *p = cove_realloc(b->data, cap);
    if (!p)
        return COVE_ERR_NOMEM;
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return COVE_OK;
}

cove_status cove_buf_append(struct cove_buf *b, const void *ptr, size_t n)
{
    if (n == 0)
        return COVE_OK;
    cove_status st = cove_buf_reserve(b, n);
    if (st != COVE_OK)
        return st;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return COVE_OK;
}

cove_status cove_buf_append_str(struct cove_buf *b, const char *s)
{
    return cove_buf_append(b, s, strlen(s));
}

cove_status cove_buf_append_byte(struct cove_buf *b, unsigned char c)
{
    return cove_buf_append(b, &c, 1);
}

cove_status cove_buf_vappendf(struct cove_buf *b, const char *fmt, va_list ap)
{
    size_t room = b->data ? b->cap - b->len : 0;
    va_list first;
    va_copy(first, ap);
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, first);
    va_end(first);
    if (n >= 0 && (size_t)n < room) {
        b->len += (size_t)n;
        return COVE_OK;
    }
    if (b->data)
        b->data[b->len] = '\0'; /* undo what a truncated first try wrote */
    if (n < 0)
        return COVE_ERR_INVALID_ARG;
    cove_status st = cove_buf_reserve(b, (size_t)n);
    if (st != COVE_OK)
        return st;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return COVE_OK;
}

cove_status cove_buf_appendf(struct cove_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cove_status st = cove_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return st;
}

void cove_buf_truncate(struct cove_buf *b, size_t new_len)
{
    if (new_len >= b->len)
        return;
    b->len = new_len;
    b->data[new_len] = '\0';
}

char *cove_buf_detach(struct cove_buf *b, size_t *len_out)
{
    char *d = b->data;
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}
