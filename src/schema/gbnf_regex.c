/*
 * schema/gbnf_regex.c - "pattern" (a regular expression subset) to GBNF.
 *
 * The subset: literal characters, escaped punctuation, \d \w \s \D \W \S, \n \t \r \f
 * \v \xHH \uHHHH, classes [a-z_] and [^...], the dot, groups ( ) and (?: ), alternation
 * |, quantifiers * + ? {m} {m,} {m,n} (a lazy ? after one is accepted and ignored:
 * it does not change the language), ^ at the start and $ at the end of a top-level
 * alternative. Anything else (backreferences, lookaround, \b, named groups, flags) is
 * COVE_ERR_UNSUPPORTED naming the construct.
 *
 * JSON Schema patterns are not anchored: an alternative without ^ gets any string
 * content before it, one without $ any content after it. The pattern matches the
 * decoded string, while the grammar describes its JSON text, so each character of
 * the regex becomes its JSON form: '"' is \", '\' is \\, newline is \n, tab \t, CR \r;
 * other control characters are left out (never generated). The dot is any character
 * but newline, CR, U+2028 and U+2029.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "schema_int.h"

#define RX_MAX_RANGES 512
#define CP_MAX 0x10FFFFu

typedef struct rset {
    uint32_t lo[RX_MAX_RANGES], hi[RX_MAX_RANGES];
    int n;
    int neg;
} rset;

typedef struct rx {
    sg *g;
    const char *ptr;
    const char *start, *p, *end;
    int depth;
} rx;

static cove_status rx_fail(rx *r, cove_status st, const char *what)
{
    return sg_fail(r->g, st, r->ptr, "keyword 'pattern': %s (at offset %d)", what,
                   (int)(r->p - r->start));
}

static int set_add(rset *s, uint32_t lo, uint32_t hi)
{
    if (s->n >= RX_MAX_RANGES)
        return -1;
    s->lo[s->n] = lo;
    s->hi[s->n++] = hi;
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Sort and merge; apply negation. */
static void set_normalize(rset *s)
{
    uint32_t tmp[RX_MAX_RANGES][2];
    for (int i = 0; i < s->n; i++)
        tmp[i][0] = s->lo[i], tmp[i][1] = s->hi[i];
    qsort(tmp, (size_t)s->n, sizeof tmp[0], cmp_range);
    int m = 0;
    for (int i = 0; i < s->n; i++) {
        if (m && tmp[i][0] <= s->hi[m - 1] + 1) {
            if (tmp[i][1] > s->hi[m - 1])
                s->hi[m - 1] = tmp[i][1];
        } else {
            s->lo[m] = tmp[i][0], s->hi[m++] = tmp[i][1];
        }
    }
    s->n = m;
    if (!s->neg)
        return;
    rset c = {.n = 0};
    uint32_t next = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->lo[i] > next)
            set_add(&c, next, s->lo[i] - 1);
        next = s->hi[i] + 1;
    }
    if (next <= CP_MAX)
        set_add(&c, next, CP_MAX);
    *s = c;
}

static int set_has(const rset *s, uint32_t c)
{
    for (int i = 0; i < s->n; i++)
        if (c >= s->lo[i] && c <= s->hi[i])
            return 1;
    return 0;
}

static cove_status cp_escape(struct cove_buf *e, uint32_t c)
{
    if (c < 0x80)
        return cove_buf_appendf(e, "\\x%02X", c);
    if (c < 0x10000)
        return cove_buf_appendf(e, "\\u%04X", c);
    return cove_buf_appendf(e, "\\U%08X", c);
}

/* The JSON forms of the characters of a normalized set, as one GBNF primary. */
static cove_status set_emit(rx *r, const rset *s, struct cove_buf *e)
{
    static const struct { uint32_t c; const char *json; } specials[] = {
        {'"', "\"\\\\\\\"\""}, {'\\', "\"\\\\\\\\\""}, {'\n', "\"\\\\n\""},
        {'\t', "\"\\\\t\""}, {'\r', "\"\\\\r\""}};
    int alts = 0;
    cove_status st = cove_buf_append_str(e, "(");
    struct cove_buf cls;
    cove_buf_init(&cls, COVE_SCHEMA_MAX_GBNF);
    for (int i = 0; i < s->n && !st; i++) {
        uint32_t lo = s->lo[i] < 0x20 ? 0x20 : s->lo[i], hi = s->hi[i];
        for (uint32_t a = lo; a <= hi && !st;) { /* split around '"' and '\' */
            uint32_t b = hi;
            if (a <= '"' && b >= '"')
                b = a == '"' ? a : '"' - 1;
            else if (a <= '\\' && b >= '\\')
                b = a == '\\' ? a : '\\' - 1;
            if (a != '"' && a != '\\') {
                st = cp_escape(&cls, a);
                if (!st && b > a)
                    st = cove_buf_append_byte(&cls, '-');
                if (!st && b > a)
                    st = cp_escape(&cls, b);
            }
            a = b + 1;
            if (a == 0)
                break;
        }
    }
    if (!st && cls.len) {
        st = cove_buf_appendf(e, "[%s]", cls.data);
        alts++;
    }
    for (size_t i = 0; i < sizeof specials / sizeof specials[0] && !st; i++)
        if (set_has(s, specials[i].c)) {
            st = cove_buf_appendf(e, "%s%s", alts ? " | " : "", specials[i].json);
            alts++;
        }
    cove_buf_release(&cls);
    if (st)
        return st;
    if (!alts)
        return rx_fail(r, COVE_ERR_UNSUPPORTED, "a class that matches no JSON-encodable character");
    return cove_buf_append_str(e, ") ");
}

/* Decode one UTF-8 code point at r->p. */
static int next_cp(rx *r, uint32_t *c)
{
    const unsigned char *s = (const unsigned char *)r->p;
    size_t left = (size_t)(r->end - r->p);
    int n = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 0;
    if (!n || (size_t)n > left)
        return -1;
    uint32_t v = n == 1 ? s[0] : s[0] & (0x3Fu >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[i] & 0x3F);
    }
    r->p += n;
    *c = v;
    return 0;
}

static int hexval(const char *p, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Add the class escape letter (d w s D W S) to s; 0 when it is not one. */
static int class_escape(char k, rset *s, int *negated)
{
    rset t = {.n = 0};
    char lk = (char)(k | 0x20);
    if (lk == 'd') {
        set_add(&t, '0', '9');
    } else if (lk == 'w') {
        set_add(&t, '0', '9'), set_add(&t, 'A', 'Z'), set_add(&t, '_', '_'), set_add(&t, 'a', 'z');
    } else if (lk == 's') {
        /* ECMAScript's white space and line terminators, as JSON Schema reads \s */
        static const uint32_t ws[][2] = {{'\t', '\r'}, {' ', ' '}, {0xa0, 0xa0}, {0x1680, 0x1680},
                                         {0x2000, 0x200a}, {0x2028, 0x2029}, {0x202f, 0x202f},
                                         {0x205f, 0x205f}, {0x3000, 0x3000}, {0xfeff, 0xfeff}};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            set_add(&t, ws[i][0], ws[i][1]);
    } else {
        return 0;
    }
    *negated = k != lk;
    for (int i = 0; i < t.n; i++)
        set_add(s, t.lo[i], t.hi[i]);
    return 1;
}

/* One escaped character (after the backslash) into *c; <0 when not a character escape. */
static cove_status char_escape(rx *r, uint32_t *c)
{
    char k = *r->p++;
    static const char from[] = "ntrfv0", to[] = "\n\t\r\f\v";
    const char *f = strchr(from, k);
    if (k && f) {
        *c = k == '0' ? 0 : (uint32_t)(unsigned char)to[f - from];
        return COVE_OK;
    }
    if (k == 'x' || k == 'u') {
        int n = k == 'x' ? 2 : 4;
        if (r->end - r->p < n || hexval(r->p, n, c) != 0)
            return rx_fail(r, COVE_ERR_INVALID_ARG, "bad \\x or \\u escape");
        r->p += n;
        return COVE_OK;
    }
    if (k && !((k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') || (k >= '0' && k <= '9'))) {
        *c = (uint32_t)(unsigned char)k;
        return COVE_OK;
    }
    r->p--;
    return rx_fail(r, COVE_ERR_UNSUPPORTED, "escape not in the supported subset");
}

static cove_status parse_class(rx *r, struct cove_buf *e)
{
    rset s = {.n = 0};
    r->p++; /* [ */
    if (r->p < r->end && *r->p == '^')
        s.neg = 1, r->p++;
    if (r->p < r->end && *r->p == ']')
        return rx_fail(r, COVE_ERR_UNSUPPORTED, "an empty class or ']' first in a class");
    while (r->p < r->end && *r->p != ']') {
        uint32_t a, b;
        int neg = 0;
        if (*r->p == '\\' && r->p + 1 < r->end && class_escape(r->p[1], &s, &neg)) {
            if (neg)
                return rx_fail(r, COVE_ERR_UNSUPPORTED, "\\D \\W \\S inside a class");
            r->p += 2;
            continue;
        }
        cove_status st = COVE_OK;
        if (*r->p == '\\' && r->p + 1 < r->end)
            r->p++, st = char_escape(r, &a);
        else if (next_cp(r, &a) != 0)
            return rx_fail(r, COVE_ERR_INVALID_ARG, "bad UTF-8");
        if (st)
            return st;
        b = a;
        if (r->p + 1 < r->end && *r->p == '-' && r->p[1] != ']') {
            r->p++;
            if (*r->p == '\\' && r->p + 1 < r->end)
                r->p++, st = char_escape(r, &b);
            else if (next_cp(r, &b) != 0)
                return rx_fail(r, COVE_ERR_INVALID_ARG, "bad UTF-8");
            if (st)
                return st;
            if (b < a)
                return rx_fail(r, COVE_ERR_INVALID_ARG, "a class range out of order");
        }
        if (set_add(&s, a, b) != 0)
            return rx_fail(r, COVE_ERR_LIMIT, "too many ranges in a class");
    }
    if (r->p >= r->end)
        return rx_fail(r, COVE_ERR_INVALID_ARG, "unterminated class");
    r->p++;
    set_normalize(&s);
    return set_emit(r, &s, e);
}

static cove_status emit_cp(rx *r, uint32_t c, struct cove_buf *e)
{
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
        char u[8];
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
        return sg_literal(e, u, n);
    }
    rset s = {.n = 0};
    set_add(&s, c, c);
    return set_emit(r, &s, e);
}

static cove_status parse_alt(rx *r, struct cove_buf *e, int top);

static cove_status parse_atom(rx *r, struct cove_buf *e)
{
    char c = *r->p;
    if (c == '(') {
        r->p++;
        if (r->p < r->end && *r->p == '?') {
            if (r->p + 1 < r->end && r->p[1] == ':')
                r->p += 2;
            else
                return rx_fail(r, COVE_ERR_UNSUPPORTED, "lookaround or named group");
        }
        if (++r->depth > COVE_SCHEMA_MAX_DEPTH)
            return rx_fail(r, COVE_ERR_LIMIT, "groups nested too deep");
        cove_status st = cove_buf_append_str(e, "(");
        if (!st)
            st = parse_alt(r, e, 0);
        r->depth--;
        if (st)
            return st;
        if (r->p >= r->end || *r->p != ')')
            return rx_fail(r, COVE_ERR_INVALID_ARG, "unbalanced parenthesis");
        r->p++;
        return cove_buf_append_str(e, ") ");
    }
    if (c == '[')
        return parse_class(r, e);
    if (c == '.') {
        r->p++;
        rset s = {.n = 0, .neg = 1};
        set_add(&s, '\n', '\n'), set_add(&s, '\r', '\r'), set_add(&s, 0x2028, 0x2029);
        set_normalize(&s);
        return set_emit(r, &s, e);
    }
    if (c == ')' || c == '*' || c == '+' || c == '?')
        return rx_fail(r, COVE_ERR_INVALID_ARG, "misplaced ) or quantifier");
    if (c == '^' || c == '$')
        return rx_fail(r, COVE_ERR_UNSUPPORTED, "an anchor inside the pattern");
    uint32_t cp;
    if (c == '\\') {
        if (r->p + 1 >= r->end)
            return rx_fail(r, COVE_ERR_INVALID_ARG, "trailing backslash");
        rset s = {.n = 0};
        int neg;
        if (class_escape(r->p[1], &s, &neg)) {
            r->p += 2;
            s.neg = neg;
            set_normalize(&s);
            return set_emit(r, &s, e);
        }
        r->p++;
        cove_status st = char_escape(r, &cp);
        return st ? st : emit_cp(r, cp, e);
    }
    if (next_cp(r, &cp) != 0)
        return rx_fail(r, COVE_ERR_INVALID_ARG, "bad UTF-8");
    return emit_cp(r, cp, e);
}

/* A {m}, {m,} or {m,n} quantifier at r->p; 0 = none there (the brace is a literal). */
static int parse_braces(rx *r, long *m, long *n)
{
    const char *p = r->p + 1;
    char *q;
    if (p >= r->end || *p < '0' || *p > '9')
        return 0;
    *m = strtol(p, &q, 10);
    *n = *m;
    if (*q == ',') {
        q++;
        *n = (*q >= '0' && *q <= '9') ? strtol(q, &q, 10) : -1;
    }
    if (*q != '}')
        return 0;
    r->p = q + 1;
    return 1;
}

static cove_status parse_quant(rx *r, struct cove_buf *e)
{
    if (r->p >= r->end)
        return COVE_OK;
    char c = *r->p;
    long m, n;
    cove_status st = COVE_OK;
    const char *save = r->p;
    if (!(c == '*' || c == '+' || c == '?') && !(c == '{' && parse_braces(r, &m, &n)))
        return COVE_OK;
    r->p = save;
    while (e->len && e->data[e->len - 1] == ' ') /* the operator follows its operand */
        cove_buf_truncate(e, e->len - 1);
    if (c == '*' || c == '+' || c == '?') {
        r->p++;
        st = cove_buf_appendf(e, "%c ", c);
    } else if (c == '{' && parse_braces(r, &m, &n)) {
        if (m > COVE_SCHEMA_MAX_REPEAT || n > COVE_SCHEMA_MAX_REPEAT)
            return rx_fail(r, COVE_ERR_LIMIT, "a repetition count over the limit");
        if (n >= 0 && n < m)
            return rx_fail(r, COVE_ERR_INVALID_ARG, "a repetition {m,n} with n < m");
        st = n < 0 ? cove_buf_appendf(e, "{%ld,} ", m) : cove_buf_appendf(e, "{%ld,%ld} ", m, n);
    } else {
        return COVE_OK;
    }
    if (!st && r->p < r->end && *r->p == '?')
        r->p++; /* lazy: same language */
    if (!st && r->p < r->end && (*r->p == '*' || *r->p == '+' || *r->p == '?'))
        return rx_fail(r, COVE_ERR_UNSUPPORTED, "a possessive or repeated quantifier");
    return st;
}

/* One alternative. At top level it may start with ^ and end with $. */
static cove_status parse_seq(rx *r, struct cove_buf *e, int top)
{
    int start_anchor = 0, end_anchor = 0;
    if (top && r->p < r->end && *r->p == '^')
        start_anchor = 1, r->p++;
    cove_status st = COVE_OK;
    if (top && !start_anchor)
        r->g->helpers |= SG_H_CHAR, st = cove_buf_append_str(e, "char* ");
    while (!st && r->p < r->end && *r->p != '|' && *r->p != ')') {
        if (top && *r->p == '$' && (r->p + 1 == r->end || r->p[1] == '|')) {
            end_anchor = 1, r->p++;
            break;
        }
        st = cove_buf_append_str(e, "(");
        if (!st)
            st = parse_atom(r, e);
        if (!st)
            st = cove_buf_append_str(e, ") ");
        if (!st)
            st = parse_quant(r, e);
    }
    if (!st && top && !end_anchor)
        r->g->helpers |= SG_H_CHAR, st = cove_buf_append_str(e, "char* ");
    return st;
}

static cove_status parse_alt(rx *r, struct cove_buf *e, int top)
{
    cove_status st = parse_seq(r, e, top);
    while (!st && r->p < r->end && *r->p == '|') {
        r->p++;
        st = cove_buf_append_str(e, "| ");
        if (!st)
            st = parse_seq(r, e, top);
    }
    if (!st && top && r->p < r->end)
        return rx_fail(r, COVE_ERR_INVALID_ARG, "unbalanced parenthesis");
    return st;
}

cove_status sg_pattern(sg *g, const char *re, const char *ptr, struct cove_buf *e)
{
    size_t n = strlen(re);
    if (n > COVE_SCHEMA_MAX_PATTERN)
        return sg_fail(g, COVE_ERR_LIMIT, ptr, "pattern longer than %d bytes",
                       COVE_SCHEMA_MAX_PATTERN);
    rx r = {.g = g, .ptr = ptr, .start = re, .p = re, .end = re + n};
    cove_status st = cove_buf_append_str(e, "(");
    if (!st)
        st = parse_alt(&r, e, 1);
    if (st == COVE_ERR_LIMIT && g->err && g->err->status != COVE_ERR_LIMIT)
        return sg_fail(g, st, ptr, "grammar too long");
    if (st == COVE_ERR_NOMEM && g->err && g->err->status != COVE_ERR_NOMEM)
        return sg_fail(g, st, ptr, "out of memory");
    return st ? st : cove_buf_append_str(e, ") ");
}
