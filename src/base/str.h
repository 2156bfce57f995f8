/*
 * base/str.h - small string, UTF-8 and JSON-escaping helpers.
 *
 * All functions are locale-independent (ASCII rules only) and allocate
 * nothing, except cove_json_escape, which appends to a caller's cove_buf.
 * UTF-8 is checked strictly (RFC 3629): overlong forms, UTF-16 surrogates
 * (U+D800..U+DFFF), code points past U+10FFFF and truncated sequences are
 * invalid.
 */
#ifndef COVE_BASE_STR_H
#define COVE_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "cove/status.h"

/* true when s begins with prefix (every string begins with ""). */
bool cove_str_starts_with(const char *s, const char *prefix);

/* true when s ends with suffix (every string ends with ""). */
bool cove_str_ends_with(const char *s, const char *suffix);

/* strcmp ignoring ASCII case: <0, 0 or >0. Bytes >= 0x80 compare as themselves. */
int cove_str_casecmp(const char *a, const char *b);

/* As cove_str_casecmp over at most n bytes. */
int cove_str_ncasecmp(const char *a, const char *b, size_t n);

/*
 * Trim ASCII white space (space, \t, \n, \v, \f, \r) from both ends of s in
 * place: the end is cut by writing a NUL, and the return value points at the
 * first kept character inside s.
 */
char *cove_str_trim(char *s);

/*
 * Copy src into dst (dst_size bytes), truncating if needed; dst is always
 * NUL-terminated when dst_size > 0. Truncation never splits a UTF-8 sequence
 * that was whole in src. Returns true when src did not fit (always true when
 * dst_size is 0).
 */
bool cove_str_copy(char *dst, size_t dst_size, const char *src);

/*
 * Field iterator for sep-separated text, without copying or modifying it:
 *
 *     const char *cur = "a,b,,c", *f; size_t n;
 *     while (cove_str_next_field(&cur, ',', &f, &n)) ... // "a" "b" "" "c"
 *
 * Each call yields the next field (f, n: a view into the text, not
 * terminated) and returns true; after the last field it sets *cursor to NULL,
 * and a call with *cursor NULL returns false. "" yields one empty field.
 */
bool cove_str_next_field(const char **cursor, char sep, const char **field, size_t *field_len);

/* true when `len` bytes at ptr are well-formed UTF-8 (NUL bytes allowed). len 0 is valid. */
bool cove_utf8_valid(const void *ptr, size_t len);

/*
 * Decode one code point from the start of ptr (len bytes available) into *cp.
 * Returns the bytes it used (1..4), or 0 when the bytes do not start a valid
 * sequence (or len is 0); *cp is then 0xFFFD.
 */
size_t cove_utf8_decode(const void *ptr, size_t len, uint32_t *cp);

/*
 * Encode code point cp as UTF-8 into out. Returns the bytes written (1..4), or
 * 0 for a surrogate or a value past U+10FFFF (nothing written).
 */
size_t cove_utf8_encode(uint32_t cp, char out[4]);

/*
 * Length of the sequence a lead byte announces: 1 for ASCII, 2..4 for a valid
 * lead byte, 0 for a continuation byte or a byte never valid in UTF-8
 * (0xC0, 0xC1, 0xF5..0xFF).
 */
size_t cove_utf8_len_from_lead(unsigned char byte);

/*
 * Append the JSON string-escaped form of `len` bytes at ptr to out, without
 * surrounding quotes: " and \ are escaped, control characters become \b \f \n
 * \r \t or \u00XX, U+2028 and U+2029 become \u2028 and \u2029 (safe inside
 * JavaScript), and each maximal invalid UTF-8 subpart becomes U+FFFD.
 * Returns COVE_ERR_LIMIT or COVE_ERR_NOMEM from the buffer; out's content
 * (len and bytes) is then as before the call.
 */
cove_status cove_json_escape(struct cove_buf *out, const void *ptr, size_t len);

/* As cove_json_escape, with the surrounding double quotes. */
cove_status cove_json_append_string(struct cove_buf *out, const void *ptr, size_t len);

#endif
