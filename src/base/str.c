#include "base/str.h"

#include <string.h>

bool cove_str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool cove_str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

static int ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool ascii_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

int cove_str_ncasecmp(const char *a, const char *b, size_t n)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    for (size_t i = 0; i < n; i++) {
        int d = ascii_lower(p[i]) - ascii_lower(q[i]);
        if (d != 0 || p[i] == '\0')
            return d;
    }
    return 0;
}

int cove_str_casecmp(const char *a, const char *b)
{
    return cove_str_ncasecmp(a, b, (size_t)-1);
}

char *cove_str_trim(char *s)
{
    while (ascii_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && ascii_space((unsigned char)s[n - 1]))
        n--;
    s[n] = '\0';
    return s;
}

static bool utf8_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Where to cut src (at least n + 1 bytes long) to keep at most n bytes without splitting a sequence. */
static size_t utf8_cut(const unsigned char *src, size_t n)
{
    if (!utf8_cont(src[n]))
        return n;
    size_t k = n;
    while (k > 0 && n - k < 3 && utf8_cont(src[k]))
        k--;
    size_t seq = cove_utf8_len_from_lead(src[k]);
    return (seq > 1 && k + seq > n) ? k : n;
}

bool cove_str_copy(char *dst, size_t dst_size, const char *src)
{
    if (dst_size == 0)
        return true;
    size_t len = strnlen(src, dst_size);
    bool truncated = len == dst_size;
    if (truncated)
        len = utf8_cut((const unsigned char *)src, dst_size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
    return truncated;
}

bool cove_str_next_field(const char **cursor, char sep, const char **field, size_t *field_len)
{
    const char *s = *cursor;
    if (!s)
        return false;
    const char *e = sep ? strchr(s, sep) : NULL;
    *field = s;
    if (e) {
        *field_len = (size_t)(e - s);
        *cursor = e + 1;
    } else {
        *field_len = strlen(s);
        *cursor = NULL;
    }
    return true;
}

/* ---- UTF-8 ---- */

size_t cove_utf8_len_from_lead(unsigned char byte)
{
    if (byte < 0x80)
        return 1;
    if (byte < 0xC2)
        return 0; /* continuation byte, or overlong lead C0/C1 */
    if (byte < 0xE0)
        return 2;
    if (byte < 0xF0)
        return 3;
    if (byte < 0xF5)
        return 4;
    return 0;
}

/*
 * Scan the sequence at s (len >= 1). A valid one gives its length and *cp.
 * An invalid one gives minus the length of its maximal subpart (the longest
 * prefix that could start a valid sequence, at least 1 byte), the unit that
 * Unicode's "U+FFFD substitution of maximal subparts" replaces.
 * The second byte's range depends on the lead (Unicode table 3-7): that
 * excludes overlongs (E0, F0), surrogates (ED) and values past U+10FFFF (F4).
 */
static int utf8_scan(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n = cove_utf8_len_from_lead(c);
    if (n == 0)
        return -1;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    uint32_t v = c & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if (i >= len || s[i] < lo || s[i] > hi)
            return -(int)i;
        v = (v << 6) | (s[i] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return (int)n;
}

bool cove_utf8_valid(const void *ptr, size_t len)
{
    const unsigned char *s = ptr;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int r = utf8_scan(s + i, len - i, &cp);
        if (r < 0)
            return false;
        i += (size_t)r;
    }
    return true;
}

size_t cove_utf8_decode(const void *ptr, size_t len, uint32_t *cp)
{
    *cp = 0xFFFD;
    if (len == 0)
        return 0;
    uint32_t v;
    int r = utf8_scan(ptr, len, &v);
    if (r < 0)
        return 0;
    *cp = v;
    return (size_t)r;
}

size_t cove_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF)
        return 0;
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- JSON ---- */

/* The escape for an ASCII byte into esc; 0 when it is copied as it is. */
static size_t json_escape_ascii(unsigned char c, char esc[8])
{
    static const char hex[] = "0123456789abcdef";
    const char *two = NULL;
    switch (c) {
    case '"': two = "\\\""; break;
    case '\\': two = "\\\\"; break;
    case '\b': two = "\\b"; break;
    case '\f': two = "\\f"; break;
    case '\n': two = "\\n"; break;
    case '\r': two = "\\r"; break;
    case '\t': two = "\\t"; break;
    default:
        if (c >= 0x20)
            return 0;
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        return 6;
    }
    memcpy(esc, two, 2);
    return 2;
}

/*
 * Look at the sequence at s (len >= 1): *used gets its length in bytes; the
 * return value is the length of its replacement written to esc, or 0 when
 * the bytes are copied as they are.
 */
static size_t json_escape_one(const unsigned char *s, size_t len, size_t *used, char esc[8])
{
    *used = 1;
    if (s[0] < 0x80)
        return json_escape_ascii(s[0], esc);
    uint32_t cp;
    int r = utf8_scan(s, len, &cp);
    if (r < 0) {
        *used = (size_t)-r;
        memcpy(esc, "\xEF\xBF\xBD", 3); /* U+FFFD */
        return 3;
    }
    *used = (size_t)r;
    if (cp != 0x2028 && cp != 0x2029)
        return 0;
    memcpy(esc, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
    return 6;
}

cove_status cove_json_escape(struct cove_buf *out, const void *ptr, size_t len)
{
    if (len == 0)
        return COVE_OK;
    const unsigned char *s = ptr;
    size_t keep = out->len, run = 0, i = 0; /* s[run, i) is copied as it is */
    cove_status st = COVE_OK;
    while (i < len && st == COVE_OK) {
        char esc[8];
        size_t used;
        size_t n = json_escape_one(s + i, len - i, &used, esc);
        if (n) {
            st = cove_buf_append(out, s + run, i - run);
            if (st == COVE_OK)
                st = cove_buf_append(out, esc, n);
            run = i + used;
        }
        i += used;
    }
    if (st == COVE_OK)
        st = cove_buf_append(out, s + run, len - run);
    if (st != COVE_OK)
        cove_buf_truncate(out, keep);
    return st;
}

cove_status cove_json_append_string(struct cove_buf *out, const void *ptr, size_t len)
{
    size_t keep = out->len;
    cove_status st = cove_buf_append_byte(out, '"');
    if (st == COVE_OK)
        st = cove_json_escape(out, ptr, len);
    if (st == COVE_OK)
        st = cove_buf_append_byte(out, '"');
    if (st != COVE_OK)
        cove_buf_truncate(out, keep);
    return st;
}
