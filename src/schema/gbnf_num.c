/*
 * schema/gbnf_num.c - integers and numbers with minimum/maximum/exclusive bounds.
 *
 * Integers: the exact set of decimal texts in [lo, hi], built from digit ranges
 * (for 137..4821: 13[7-9] | 1[4-9][0-9] | [2-9][0-9]{2} | [1-3][0-9]{3} | 4[0-7][0-9]{2}
 * | 48[01][0-9] | 482[01]). Numbers with integral bounds: the integer part as above,
 * then a fraction whose digits decide the values at the ends; no exponent. Bounds that
 * are not integers are widened to the enclosing integers (a documented relaxation;
 * an error with opts.strict). Magnitudes are limited to 10^18.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

#define MAG_MAX 1000000000000000000ULL /* 10^18 */

typedef struct bound {
    int has;
    long long v; /* integral value */
    int excl;
} bound;

/* [x, y], decimal strings of equal length n > 0. */
static cove_status same_len(struct cove_buf *e, const char *x, const char *y, size_t n)
{
    size_t p = 0;
    while (p < n && x[p] == y[p])
        p++;
    cove_status st = COVE_OK;
    if (p > 0)
        st = cove_buf_appendf(e, "\"%.*s\" ", (int)p, x);
    if (st || p == n)
        return st;
    x += p, y += p, n -= p;
    int xz = strspn(x + 1, "0") == n - 1, y9 = strspn(y + 1, "9") == n - 1;
    char lo = xz ? x[0] : (char)(x[0] + 1), hi = y9 ? y[0] : (char)(y[0] - 1);
    int alts = 0;
    st = cove_buf_append_str(e, "(");
    if (!xz && !st) {
        char nines[24];
        memset(nines, '9', n - 1);
        nines[n - 1] = '\0';
        st = cove_buf_appendf(e, "\"%c\" ", x[0]);
        if (!st)
            st = same_len(e, x + 1, nines, n - 1);
        alts++;
    }
    if (lo <= hi && !st) {
        st = cove_buf_appendf(e, "%s[%c-%c] ", alts ? "| " : "", lo, hi);
        if (!st && n > 1)
            st = cove_buf_appendf(e, "[0-9]{%zu} ", n - 1);
        alts++;
    }
    if (!y9 && !st) {
        char zeros[24];
        memset(zeros, '0', n - 1);
        zeros[n - 1] = '\0';
        st = cove_buf_appendf(e, "%s\"%c\" ", alts ? "| " : "", y[0]);
        if (!st)
            st = same_len(e, zeros, y + 1, n - 1);
    }
    return st ? st : cove_buf_append_str(e, ") ");
}

static unsigned long long pow10u(int n)
{
    unsigned long long p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

static int ndigits(unsigned long long v)
{
    int n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

/* Decimal texts (no sign, no leading zero) of [a, b]; b = ~0ULL means no upper end. */
static cove_status uint_range(struct cove_buf *e, unsigned long long a, unsigned long long b)
{
    int unbounded = b == ~0ULL;
    int la = ndigits(a), lb = unbounded ? la : ndigits(b);
    cove_status st = cove_buf_append_str(e, "(");
    for (int l = la; l <= lb && !st; l++) {
        unsigned long long lo = l == la ? a : pow10u(l - 1);
        unsigned long long hi = (l == lb && !unbounded) ? b : pow10u(l) - 1;
        char xs[24], ys[24];
        snprintf(xs, sizeof xs, "%llu", lo);
        snprintf(ys, sizeof ys, "%llu", hi);
        if (l > la)
            st = cove_buf_append_str(e, "| ");
        if (!st)
            st = same_len(e, xs, ys, (size_t)l);
    }
    if (unbounded && !st)
        st = cove_buf_appendf(e, "| [1-9] [0-9]{%d,} ", la);
    return st ? st : cove_buf_append_str(e, ") ");
}

/* Read the bounds into integral lo/hi. integer: round inward; number: outward (relaxed). */
static cove_status read_bound(sg *g, const json_t *s, const char *ptr, int is_int, int lower,
                              bound *b)
{
    const char *kw = lower ? "minimum" : "maximum", *xkw = lower ? "exclusiveMinimum" : "exclusiveMaximum";
    const json_t *v = json_object_get(s, kw), *x = json_object_get(s, xkw);
    int excl = 0;
    if (json_is_boolean(x)) { /* draft 4 spelling */
        excl = json_is_true(x);
        x = NULL;
    }
    if (x && !json_is_number(x))
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'%s' must be a number", xkw);
    if (v && !json_is_number(v))
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'%s' must be a number", kw);
    double d = 0;
    b->has = 0;
    if (v) {
        d = json_number_value(v), b->has = 1, b->excl = excl;
    }
    if (x) {
        double xd = json_number_value(x);
        if (!b->has || (lower ? xd >= d : xd <= d))
            d = xd, b->has = 1, b->excl = 1;
    }
    if (!b->has)
        return COVE_OK;
    if (!(fabs(d) <= (double)MAG_MAX))
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "keyword '%s': bounds beyond 1e18", kw);
    double r = lower ? (is_int ? ceil(d) : floor(d)) : (is_int ? floor(d) : ceil(d));
    if (r != d) {
        if (!is_int && g->opts.strict)
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr,
                           "keyword '%s': a bound that is not an integer (strict)", kw);
        b->excl = 0; /* integer: the rounded bound is inclusive; number: widened */
    }
    b->v = (long long)r;
    if (is_int && b->excl) {
        b->v += lower ? 1 : -1;
        b->excl = 0;
    }
    return COVE_OK;
}

cove_status sg_integer(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    bound lo, hi;
    cove_status st = read_bound(g, s, ptr, 1, 1, &lo);
    if (!st)
        st = read_bound(g, s, ptr, 1, 0, &hi);
    if (st)
        return st;
    if (!lo.has && !hi.has)
        return sg_helper(g, e, SG_H_INTEGER);
    if (lo.has && hi.has && lo.v > hi.v)
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "integer bounds allow no value");
    int alts = 0;
    st = cove_buf_append_str(e, "(");
    if (!st && (!hi.has || hi.v >= 0)) {
        unsigned long long a = lo.has && lo.v > 0 ? (unsigned long long)lo.v : 0;
        st = uint_range(e, a, hi.has ? (unsigned long long)hi.v : ~0ULL);
        alts++;
    }
    if (!st && (!lo.has || lo.v < 0)) {
        unsigned long long a = hi.has && hi.v < 0 ? (unsigned long long)-hi.v : 1;
        st = cove_buf_appendf(e, "%s\"-\" ", alts ? "| " : "");
        if (!st)
            st = uint_range(e, a, lo.has ? (unsigned long long)-lo.v : ~0ULL);
    }
    return st ? st : cove_buf_append_str(e, ") ");
}

#define F_ANY "(\".\" [0-9]+)? "
#define F_ZERO "(\".\" \"0\"+)? "
#define F_NONZERO "\".\" [0-9]* [1-9] [0-9]* "

/* Magnitudes m (no sign) with a < m or a <= m, and m < b or m <= b (b < 0: none). */
static cove_status magnitude(struct cove_buf *e, long long a, int aex, long long b, int bex)
{
    int alts = 0;
    cove_status st = cove_buf_append_str(e, "(");
    if (b >= 0 && a == b) {
        if (!aex && !bex)
            st = cove_buf_appendf(e, "\"%lld\" " F_ZERO, a);
        return st ? st : cove_buf_append_str(e, ") ");
    }
    if (!st) { /* integer part a */
        st = cove_buf_appendf(e, "\"%lld\" %s", a, aex ? F_NONZERO : F_ANY);
        alts++;
    }
    if (!st && (b < 0 || a + 1 <= b - 1)) {
        st = cove_buf_append_str(e, "| ");
        if (!st)
            st = uint_range(e, (unsigned long long)a + 1, b < 0 ? ~0ULL : (unsigned long long)b - 1);
        if (!st)
            st = cove_buf_append_str(e, F_ANY);
    }
    if (!st && b >= 0 && !bex)
        st = cove_buf_appendf(e, "| \"%lld\" " F_ZERO, b);
    return st ? st : cove_buf_append_str(e, ") ");
}

cove_status sg_number(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    bound lo, hi;
    cove_status st = read_bound(g, s, ptr, 0, 1, &lo);
    if (!st)
        st = read_bound(g, s, ptr, 0, 0, &hi);
    if (st)
        return st;
    if (!lo.has && !hi.has)
        return sg_helper(g, e, SG_H_NUMBER);
    if (lo.has && hi.has && (lo.v > hi.v || (lo.v == hi.v && (lo.excl || hi.excl))))
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "number bounds allow no value");
    int alts = 0;
    st = cove_buf_append_str(e, "(");
    if (!st && (!hi.has || hi.v > 0 || (hi.v == 0 && !hi.excl))) {
        long long a = lo.has && lo.v >= 0 ? lo.v : 0;
        int aex = lo.has && lo.v >= 0 ? lo.excl : 0;
        st = magnitude(e, a, aex, hi.has ? hi.v : -1, hi.excl);
        alts++;
    }
    if (!st && (!lo.has || lo.v < 0)) {
        long long a = hi.has && hi.v < 0 ? -hi.v : 0;
        int aex = hi.has && hi.v < 0 ? hi.excl : 1;
        st = cove_buf_appendf(e, "%s\"-\" ", alts ? "| " : "");
        if (!st)
            st = magnitude(e, a, aex, lo.has ? -lo.v : -1, lo.excl);
    }
    return st ? st : cove_buf_append_str(e, ") ");
}
