/*
 * chat_text.c - text helpers shared by the chat template renderers: a sticky
 * output buffer, the string operations Jinja templates apply (Python's
 * strip(), json.dumps of a string, json.dumps(indent=4) of a value), and the
 * qwen way of writing tools.
 */
#include <stdint.h>
#include <string.h>

#include "base/str.h"
#include "engine/tokenizer/chat_int.h"

void cove_chat_out_init(struct chat_out *o, size_t max)
{
    cove_buf_init(&o->b, max);
    o->st = COVE_OK;
}

void cove_chat_put(struct chat_out *o, const char *s, size_t n)
{
    if (o->st == COVE_OK && n > 0)
        o->st = cove_buf_append(&o->b, s, n);
}

void cove_chat_puts(struct chat_out *o, const char *s)
{
    if (s)
        cove_chat_put(o, s, strlen(s));
}

/* Python's str.isspace() for one code point (what str.strip() removes). */
static int py_space(uint32_t cp)
{
    if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20))
        return 1;
    if (cp < 0x85)
        return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Bytes of white space at the start of s (whole code points only). */
static size_t space_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t used = cove_utf8_decode(s + i, n - i, &cp);
        if (used == 0 || !py_space(cp))
            break;
        i += used;
    }
    return i;
}

/* Bytes of white space at the end of s (whole code points only). */
static size_t space_suffix(const char *s, size_t n)
{
    size_t end = n;
    while (end > 0) {
        size_t start = end - 1, back = 0;
        while (start > 0 && back < 3 && ((unsigned char)s[start] & 0xC0) == 0x80) {
            start--;
            back++;
        }
        uint32_t cp;
        size_t used = cove_utf8_decode(s + start, end - start, &cp);
        if (used != end - start || !py_space(cp))
            break;
        end = start;
    }
    return n - end;
}

void cove_chat_span_strip(const char **s, size_t *n)
{
    size_t lead = space_prefix(*s, *n);
    *s += lead;
    *n -= lead;
    *n -= space_suffix(*s, *n);
}

void cove_chat_span_strip_nl(const char **s, size_t *n, int which)
{
    if (which & 1) {
        while (*n > 0 && **s == '\n') {
            (*s)++;
            (*n)--;
        }
    }
    if (which & 2) {
        while (*n > 0 && (*s)[*n - 1] == '\n')
            (*n)--;
    }
}

void cove_chat_put_trim(struct chat_out *o, const char *s, size_t n)
{
    cove_chat_span_strip(&s, &n);
    cove_chat_put(o, s, n);
}

const char *cove_chat_find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k == 0 || k > n)
        return NULL;
    return memmem(s, n, needle, k);
}

const char *cove_chat_find_last(const char *s, size_t n, const char *needle)
{
    const char *last = NULL, *p = s;
    size_t k = strlen(needle);
    while ((p = cove_chat_find(p, n - (size_t)(p - s), needle)) != NULL) {
        last = p;
        p += k;
    }
    return last;
}

/* Python's json.dumps(ensure_ascii=False) escapes only these, and control characters. */
static const char *json_short_escape(unsigned char c)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: return NULL;
    }
}

void cove_chat_put_json_string(struct chat_out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    cove_chat_put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = json_short_escape(c);
        if (!esc && c >= 0x20)
            continue;
        cove_chat_put(o, s + run, i - run);
        if (esc) {
            cove_chat_puts(o, esc);
        } else {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cove_chat_put(o, u, sizeof u);
        }
        run = i + 1;
    }
    cove_chat_put(o, s + run, n - run);
    cove_chat_put(o, "\"", 1);
}
