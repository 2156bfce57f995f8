/*
 * schema/validate_fmt.c - the validator's "format" checks and "pattern" search.
 *
 * Patterns are translated from the JSON Schema (ECMA-262) subset to POSIX extended
 * regular expressions and run with the C library's regexec in a UTF-8 locale set
 * for the calling thread only (uselocale), so '.' and classes see code points.
 */
#include <locale.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/limits.h"
#include "validate_int.h"

/* ---- formats ------------------------------------------------------------------------ */

static int digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

static int check_date(const char *s, size_t n)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= dim[m - 1] + (m == 2 && leap);
}

static int check_time(const char *s, size_t n)
{
    int h, m, sec, oh, om;
    if (n < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &m) ||
        !digits(s + 6, 2, &sec) || h > 23 || m > 59 || sec > 60)
        return 0;
    size_t i = 8;
    if (i < n && s[i] == '.') {
        size_t j = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return 0;
    }
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
        return 1;
    return i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
           digits(s + i + 1, 2, &oh) && digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59;
}

static int check_uuid(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return 0;
    }
    return 1;
}

static int check_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || at == s || at == s + n - 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ')
            return 0;
    return 1;
}

static int check_ipv4(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t j = i;
        int v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - j < 3)
            v = v * 10 + (s[i++] - '0');
        if (i == j || v > 255 || (i - j > 1 && s[j] == '0'))
            return 0;
        if (part < 3 && (i >= n || s[i++] != '.'))
            return 0;
    }
    return i == n;
}

int vs_format_check(const char *format, const char *s, size_t n)
{
    if (strcmp(format, "date") == 0)
        return check_date(s, n);
    if (strcmp(format, "time") == 0)
        return check_time(s, n);
    if (strcmp(format, "date-time") == 0)
        return n > 11 && (s[10] == 'T' || s[10] == 't') && check_date(s, 10) &&
               check_time(s + 11, n - 11);
    if (strcmp(format, "uuid") == 0)
        return check_uuid(s, n);
    if (strcmp(format, "email") == 0)
        return check_email(s, n);
    if (strcmp(format, "ipv4") == 0)
        return check_ipv4(s, n);
    return -1;
}

/* ---- patterns ----------------------------------------------------------------------- */

static cove_status put_utf8(struct cove_buf *o, uint32_t c)
{
    char u[4];
    size_t n = 0;
    if (c < 0x80) {
        u[n++] = (char)c;
    } else if (c < 0x800) {
        u[n++] = (char)(0xC0 | (c >> 6)), u[n++] = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        u[n++] = (char)(0xE0 | (c >> 12)), u[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[n++] = (char)(0x80 | (c & 0x3F));
    } else {
        u[n++] = (char)(0xF0 | (c >> 18)), u[n++] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[n++] = (char)(0x80 | ((c >> 6) & 0x3F)), u[n++] = (char)(0x80 | (c & 0x3F));
    }
    return cove_buf_append(o, u, n);
}

/* A character escape (after '\'): its code point in *c, or -1 when it is not one. */
static int esc_char(const char **pp, uint32_t *c)
{
    const char *p = *pp;
    static const char from[] = "ntrfv", to[] = "\n\t\r\f\v";
    const char *f = strchr(from, *p);
    if (*p && f) {
        *c = (uint32_t)(unsigned char)to[f - from];
        *pp = p + 1;
        return 0;
    }
    if (*p == 'x' || *p == 'u') {
        int n = *p == 'x' ? 2 : 4;
        unsigned v;
        char tmp[5] = {0};
        memcpy(tmp, p + 1, (size_t)n);
        if (strlen(tmp) != (size_t)n || strspn(tmp, "0123456789abcdefABCDEF") != (size_t)n ||
            sscanf(tmp, "%x", &v) != 1)
            return -1;
        *c = v;
        *pp = p + 1 + n;
        return 0;
    }
    if (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
        *c = (uint32_t)(unsigned char)*p;
        *pp = p + 1;
        return 0;
    }
    return -1;
}

static const char *class_body(char k)
{
    switch (k) {
    case 'd': return "0-9";
    case 'w': return "A-Za-z0-9_";
    case 's': return "[:space:]";
    default: return NULL;
    }
}

/* Decode one UTF-8 sequence at *pp (a stray byte reads as itself). */
static uint32_t utf8_next(const char **pp)
{
    const unsigned char *p = (const unsigned char *)*pp;
    int n = p[0] < 0x80 ? 1 : (p[0] >> 5) == 6 ? 2 : (p[0] >> 4) == 14 ? 3 : (p[0] >> 3) == 30 ? 4 : 1;
    uint32_t v = n == 1 ? p[0] : p[0] & (0x3Fu >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *pp += 1;
            return p[0];
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    *pp += n;
    return v;
}

/* A bracket expression: [ ... ] with ']' first, '-' last as POSIX wants them. */
static cove_status tr_class(const char **pp, struct cove_buf *o, cove_error *err)
{
    const char *p = *pp + 1;
    struct cove_buf mid;
    cove_buf_init(&mid, COVE_SCHEMA_MAX_PATTERN * 8);
    int neg = 0, close = 0, dash = 0;
    cove_status st = COVE_OK;
    if (*p == '^')
        neg = 1, p++;
    if (*p == ']')
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "pattern: an empty class");
    while (*p && *p != ']' && !st) {
        uint32_t a;
        if (*p == '\\' && class_body(p[1])) {
            st = cove_buf_append_str(&mid, class_body(p[1]));
            p += 2;
            continue;
        }
        if (*p == '\\') {
            p++;
            if (esc_char(&p, &a) != 0)
                st = cove_error_set(err, COVE_ERR_UNSUPPORTED, "pattern: escape \\%c in a class", *p);
        } else {
            a = utf8_next(&p);
        }
        if (st)
            break;
        int is_range = p[0] == '-' && p[1] && p[1] != ']';
        if (a == ']' && !is_range)
            close = 1;
        else if (a == '-' && !is_range)
            dash = 1;
        else
            st = put_utf8(&mid, a);
        if (!st && is_range) {
            uint32_t b;
            p++;
            if (*p == '\\') {
                p++;
                if (esc_char(&p, &b) != 0)
                    st = cove_error_set(err, COVE_ERR_UNSUPPORTED, "pattern: bad range end");
            } else {
                b = utf8_next(&p);
            }
            if (!st)
                st = cove_buf_append_byte(&mid, '-');
            if (!st)
                st = put_utf8(&mid, b);
        }
    }
    if (!st && *p != ']')
        st = cove_error_set(err, COVE_ERR_INVALID_ARG, "pattern: unterminated class");
    if (!st)
        st = cove_buf_appendf(o, "[%s%s%s%s]", neg ? "^" : "", close ? "]" : "",
                              mid.data ? mid.data : "", dash ? "-" : "");
    cove_buf_release(&mid);
    *pp = p + 1;
    return st;
}

static cove_status tr_escape(const char **pp, struct cove_buf *o, cove_error *err)
{
    const char *p = *pp + 1;
    char k = *p;
    const char *body = class_body((char)(k | 0x20));
    if (body && ((k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z'))) {
        *pp = p + 1;
        return cove_buf_appendf(o, "[%s%s]", (k & 0x20) ? "" : "^", body);
    }
    uint32_t c;
    if (esc_char(&p, &c) != 0)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "pattern: escape \\%c not supported", k);
    *pp = p;
    if (c < 0x80 && strchr(".[]()*+?{}|^$\\", (int)c))
        return cove_buf_appendf(o, "\\%c", (char)c);
    return put_utf8(o, c);
}

/* A {m}, {m,}, {m,n} quantifier at p: its length, or 0 when the brace is literal. */
static size_t brace_len(const char *p)
{
    size_t i = 1;
    if (p[i] < '0' || p[i] > '9')
        return 0;
    while (p[i] >= '0' && p[i] <= '9')
        i++;
    if (p[i] == ',')
        for (i++; p[i] >= '0' && p[i] <= '9'; i++)
            ;
    return p[i] == '}' ? i + 1 : 0;
}

/*
 * The C library expands {m,n} by copying its operand, so nested counts multiply:
 * (a{1000}){1000} would need a million nodes. cost[] estimates the expanded size of
 * each open group; past RX_MAX_COST the pattern is refused with COVE_ERR_LIMIT.
 */
#define RX_MAX_COST 65536.0
#define RX_MAX_GROUPS 64

typedef struct rx_cost {
    double cost[RX_MAX_GROUPS + 1];
    double last; /* expanded size of the last atom */
    int depth;
} rx_cost;

static cove_status cost_step(rx_cost *c, const char *p, size_t qlen, cove_error *err)
{
    if (qlen) { /* a {m,n} quantifier on the last atom */
        long m = strtol(p + 1, NULL, 10), n = m;
        const char *comma = memchr(p, ',', qlen);
        if (comma && comma[1] != '}')
            n = strtol(comma + 1, NULL, 10);
        double f = (double)(n > m ? n : m);
        c->cost[c->depth] += c->last * (f > 1 ? f - 1 : 0);
    } else if (*p == '(') {
        if (c->depth >= RX_MAX_GROUPS)
            return cove_error_set(err, COVE_ERR_LIMIT, "pattern: groups nested deeper than %d",
                                  RX_MAX_GROUPS);
        c->cost[++c->depth] = 0;
    } else if (*p == ')' && c->depth == 0) {
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "pattern: unbalanced parenthesis");
    } else if (*p == ')') {
        c->last = c->cost[c->depth--] + 1;
        c->cost[c->depth] += c->last;
    } else if (*p == '+') { /* the C library copies the operand once: x+ is x x* */
        c->cost[c->depth] += c->last;
    } else if (!strchr("*?|", *p)) {
        c->last = 1;
        c->cost[c->depth] += 1;
    }
    if (c->cost[c->depth] > RX_MAX_COST)
        return cove_error_set(err, COVE_ERR_LIMIT, "pattern: repetition counts expand too far");
    return COVE_OK;
}

static cove_status translate(const char *re, struct cove_buf *o, cove_error *err)
{
    const char *p = re;
    cove_status st = COVE_OK;
    int after_quant = 0;
    rx_cost cost = {.depth = 0};
    while (*p && !st) {
        int quant = 0;
        size_t bl = *p == '{' ? brace_len(p) : 0;
        st = cost_step(&cost, p, bl, err);
        if (st)
            break;
        if (*p == '\\') {
            st = tr_escape(&p, o, err);
        } else if (*p == '[') {
            st = tr_class(&p, o, err);
        } else if (*p == '(' && p[1] == '?') {
            if (p[2] != ':')
                return cove_error_set(err, COVE_ERR_UNSUPPORTED, "pattern: lookaround or named group");
            st = cove_buf_append_byte(o, '(');
            p += 3;
        } else if (*p == '.') { /* any character but line terminators (ECMA-262) */
            st = cove_buf_append_str(o, "[^\n\r\xE2\x80\xA8\xE2\x80\xA9]");
            p++;
        } else if (after_quant && (*p == '*' || *p == '+' || *p == '?' || bl > 0)) {
            if (*p != '?' || after_quant == 2)
                return cove_error_set(err, COVE_ERR_UNSUPPORTED, "pattern: a quantifier on a quantifier");
            p++; /* lazy quantifier: same language */
            quant = 2;
        } else if (bl > 0) {
            st = cove_buf_append(o, p, bl);
            p += bl, quant = 1;
        } else if (*p == '{' || *p == '}') {
            st = cove_buf_appendf(o, "\\%c", *p++);
        } else {
            quant = *p == '*' || *p == '+' || *p == '?';
            st = cove_buf_append_byte(o, (unsigned char)*p++);
        }
        after_quant = quant;
    }
    return st;
}

cove_status vs_pattern_search(const char *re, const char *s, int *match, cove_error *err)
{
    if (strlen(re) > COVE_SCHEMA_MAX_PATTERN)
        return cove_error_set(err, COVE_ERR_LIMIT, "pattern longer than %d bytes",
                              COVE_SCHEMA_MAX_PATTERN);
    struct cove_buf ere;
    cove_buf_init(&ere, COVE_SCHEMA_MAX_PATTERN * 16);
    cove_status st = translate(re, &ere, err);
    if (st) {
        cove_buf_release(&ere);
        return err && err->status ? st : cove_error_set(err, st, "pattern too long");
    }
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    regex_t rx;
    int rc = regcomp(&rx, ere.data ? ere.data : "", REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
        *match = regexec(&rx, s, 0, NULL, 0) == 0;
        regfree(&rx);
    }
    if (utf8) {
        uselocale(old);
        freelocale(utf8);
    }
    cove_buf_release(&ere);
    if (rc != 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "pattern '%.60s' does not compile", re);
    return COVE_OK;
}
