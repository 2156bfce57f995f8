/*
 * base/buf.h - a growable byte buffer with a hard maximum (curl dynbuf style).
 *
 * struct cove_buf is a caller-owned value: set it up with cove_buf_init, give
 * its memory back with cove_buf_release. Every buffer has a maximum length
 * chosen at init (usually a bound from limits.h); an append that would pass it
 * fails with COVE_ERR_LIMIT. A failed call (LIMIT or NOMEM) leaves the buffer
 * exactly as it was.
 *
 * Invariants: len <= max; when data != NULL, len < cap and data[len] == '\0',
 * so data can be read as a C string (it may also hold embedded NULs).
 * data is NULL until the first byte is stored or memory is reserved.
 * The fields may be read directly; change them only through these calls.
 */
#ifndef COVE_BASE_BUF_H
#define COVE_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "cove/status.h"

struct cove_buf {
    char *data; /* owned; NULL or NUL-terminated at data[len] */
    size_t len; /* bytes of content, terminator not counted */
    size_t cap; /* bytes allocated at data */
    size_t max; /* largest len allowed */
};

/* Set up an empty buffer whose content may grow to `max` bytes. Allocates nothing. */
void cove_buf_init(struct cove_buf *b, size_t max);

/* Free the memory and leave the buffer empty (still usable, same max). */
void cove_buf_release(struct cove_buf *b);

/* Forget the content (len 0) but keep the memory for reuse. */
void cove_buf_reset(struct cove_buf *b);

/*
 * Make room for `extra` more bytes of content (plus the terminator) without
 * changing the content. Returns COVE_ERR_LIMIT when len + extra > max,
 * COVE_ERR_NOMEM when growing fails.
 */
cove_status cove_buf_reserve(struct cove_buf *b, size_t extra);

/*
 * Append n bytes from ptr (ptr may be NULL when n is 0; appending 0 bytes
 * changes nothing). Returns COVE_ERR_LIMIT or COVE_ERR_NOMEM, buffer unchanged.
 */
cove_status cove_buf_append(struct cove_buf *b, const void *ptr, size_t n);

/* Append the C string s. Errors as cove_buf_append. */
cove_status cove_buf_append_str(struct cove_buf *b, const char *s);

/* Append one byte. Errors as cove_buf_append. */
cove_status cove_buf_append_byte(struct cove_buf *b, unsigned char c);

/*
 * Append printf-style formatted text. Errors as cove_buf_append, and
 * COVE_ERR_INVALID_ARG when the format cannot be formatted (vsnprintf < 0).
 */
cove_status cove_buf_appendf(struct cove_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* va_list form of cove_buf_appendf; ap is consumed as by vsnprintf. */
cove_status cove_buf_vappendf(struct cove_buf *b, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;

/* Shorten the content to new_len bytes; a new_len >= len changes nothing. */
void cove_buf_truncate(struct cove_buf *b, size_t new_len);

/*
 * Take the memory: returns data (NUL-terminated, caller frees it with
 * cove_free) and leaves the buffer empty with data NULL. Returns NULL when
 * the buffer never allocated (nothing was stored), so callers that need a
 * string must check. *len_out (may be NULL) receives the content length.
 */
char *cove_buf_detach(struct cove_buf *b, size_t *len_out);

#endif
