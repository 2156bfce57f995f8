/*
 * agent/tools/calculator.c - exact arithmetic for the model, by a parser (no eval).
 *
 * Grammar (recursive descent, white space ignored):
 *     expr    := term (("+" | "-") term)*
 *     term    := unary (("*" | "/") unary)*
 *     unary   := ("+" | "-") unary | power
 *     power   := primary ("^" unary)?          right-associative
 *     primary := number | "(" expr ")"
 *     number  := digits ["." digits]            e.g. 12, 0.5, 3.14159
 * Values are rationals p/q with p and q signed 128-bit integers, kept reduced, so
 * 0.1 + 0.2 is exactly 0.3 and 1/3 * 3 is exactly 1. A result or intermediate value that
 * does not fit 128 bits is an error (COVE_ERR_LIMIT), never a rounded answer. Exponents
 * must be integers with |e| <= 4096.
 */
#include <stdio.h>
#include <string.h>

#include "agent/tools/tools.h"
#include "base/limits.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#define CALC_MAX_DEPTH 64
#define CALC_DIGITS 30 /* decimal places printed for a fraction that does not end */

typedef struct rat {
    i128 p, q; /* q > 0, gcd(|p|, q) == 1 */
} rat;

typedef struct calc {
    const char *s, *start;
    int depth;
    cove_status st;
    cove_error *err;
} calc;

static int fail(calc *c, cove_status st, const char *what)
{
    if (c->st == COVE_OK) {
        c->st = st;
        cove_error_set(c->err, st, "%s at offset %d", what, (int)(c->s - c->start));
    }
    return -1;
}

static i128 gcd128(i128 a, i128 b)
{
    if (a < 0)
        a = -a;
    if (b < 0)
        b = -b;
    while (b) {
        i128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Reduce r; q must be non-zero. Fails only for a value that cannot be negated. */
static int norm(calc *c, rat *r)
{
    if (r->q < 0) {
        if (__builtin_sub_overflow((i128)0, r->p, &r->p) ||
            __builtin_sub_overflow((i128)0, r->q, &r->q))
            return fail(c, COVE_ERR_LIMIT, "number too large for exact arithmetic");
    }
    i128 g = gcd128(r->p, r->q);
    if (g > 1) {
        r->p /= g;
        r->q /= g;
    }
    if (r->p == 0)
        r->q = 1;
    return 0;
}

static int add(calc *c, rat a, rat b, int neg, rat *out)
{
    i128 x, y, d, g = gcd128(a.q, b.q);
    i128 bq = b.q / g, aq = a.q / g;
    if (neg && __builtin_sub_overflow((i128)0, b.p, &b.p))
        return fail(c, COVE_ERR_LIMIT, "number too large for exact arithmetic");
    if (__builtin_mul_overflow(a.p, bq, &x) || __builtin_mul_overflow(b.p, aq, &y) ||
        __builtin_add_overflow(x, y, &out->p) || __builtin_mul_overflow(a.q, bq, &d))
        return fail(c, COVE_ERR_LIMIT, "number too large for exact arithmetic");
    out->q = d;
    return norm(c, out);
}

static int mul(calc *c, rat a, rat b, rat *out)
{
    i128 g1 = gcd128(a.p, b.q), g2 = gcd128(b.p, a.q);
    if (g1 == 0)
        g1 = 1;
    if (g2 == 0)
        g2 = 1;
    if (__builtin_mul_overflow(a.p / g1, b.p / g2, &out->p) ||
        __builtin_mul_overflow(a.q / g2, b.q / g1, &out->q))
        return fail(c, COVE_ERR_LIMIT, "number too large for exact arithmetic");
    return norm(c, out);
}

static int divide(calc *c, rat a, rat b, rat *out)
{
    if (b.p == 0)
        return fail(c, COVE_ERR_INVALID_ARG, "division by zero");
    rat inv = {b.q, b.p};
    if (norm(c, &inv))
        return -1;
    return mul(c, a, inv, out);
}

static int power(calc *c, rat base, rat e, rat *out)
{
    if (e.q != 1)
        return fail(c, COVE_ERR_INVALID_ARG, "exponent must be an integer");
    if (e.p > 4096 || e.p < -4096)
        return fail(c, COVE_ERR_LIMIT, "exponent beyond 4096");
    int n = (int)(e.p < 0 ? -e.p : e.p);
    rat r = {1, 1};
    for (int i = 0; i < n; i++)
        if (mul(c, r, base, &r))
            return -1;
    if (e.p < 0)
        return divide(c, (rat){1, 1}, r, out);
    *out = r;
    return 0;
}

static void skip_ws(calc *c)
{
    while (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')
        c->s++;
}

static int parse_expr(calc *c, rat *out);
static int parse_unary(calc *c, rat *out);

static int parse_number(calc *c, rat *out)
{
    rat r = {0, 1};
    int digits = 0, frac = 0;
    for (; (*c->s >= '0' && *c->s <= '9') || (*c->s == '.' && !frac); c->s++) {
        if (*c->s == '.') {
            frac = 1;
            continue;
        }
        if (__builtin_mul_overflow(r.p, (i128)10, &r.p) ||
            __builtin_add_overflow(r.p, (i128)(*c->s - '0'), &r.p) ||
            (frac && __builtin_mul_overflow(r.q, (i128)10, &r.q)))
            return fail(c, COVE_ERR_LIMIT, "number has too many digits");
        digits++;
    }
    if (!digits)
        return fail(c, COVE_ERR_FORMAT, "expected a number");
    *out = r;
    return norm(c, out);
}

static int parse_primary(calc *c, rat *out)
{
    skip_ws(c);
    if (*c->s == '(') {
        if (++c->depth > CALC_MAX_DEPTH)
            return fail(c, COVE_ERR_LIMIT, "expression nested too deeply");
        c->s++;
        if (parse_expr(c, out))
            return -1;
        skip_ws(c);
        if (*c->s != ')')
            return fail(c, COVE_ERR_FORMAT, "expected ')'");
        c->s++;
        c->depth--;
        return 0;
    }
    return parse_number(c, out);
}

static int parse_power(calc *c, rat *out)
{
    if (parse_primary(c, out))
        return -1;
    skip_ws(c);
    if (*c->s != '^' && !(c->s[0] == '*' && c->s[1] == '*'))
        return 0;
    c->s += *c->s == '^' ? 1 : 2;
    rat e;
    if (parse_unary(c, &e))
        return -1;
    return power(c, *out, e, out);
}

static int parse_unary(calc *c, rat *out)
{
    skip_ws(c);
    if (*c->s == '-' || *c->s == '+') {
        int neg = *c->s == '-';
        if (++c->depth > CALC_MAX_DEPTH)
            return fail(c, COVE_ERR_LIMIT, "expression nested too deeply");
        c->s++;
        if (parse_unary(c, out))
            return -1;
        c->depth--;
        if (neg && __builtin_sub_overflow((i128)0, out->p, &out->p))
            return fail(c, COVE_ERR_LIMIT, "number too large for exact arithmetic");
        return 0;
    }
    return parse_power(c, out);
}

static int parse_term(calc *c, rat *out)
{
    if (parse_unary(c, out))
        return -1;
    for (;;) {
        skip_ws(c);
        char op = *c->s;
        if ((op != '*' && op != '/') || (op == '*' && c->s[1] == '*'))
            return 0;
        c->s++;
        rat b;
        if (parse_unary(c, &b) || (op == '*' ? mul(c, *out, b, out) : divide(c, *out, b, out)))
            return -1;
    }
}

static int parse_expr(calc *c, rat *out)
{
    if (parse_term(c, out))
        return -1;
    for (;;) {
        skip_ws(c);
        char op = *c->s;
        if (op != '+' && op != '-')
            return 0;
        c->s++;
        rat b;
        if (parse_term(c, &b) || add(c, *out, b, op == '-', out))
            return -1;
    }
}

/* ------------------------------------------------------------------ output */

static cove_status put_u128(struct cove_buf *out, u128 v)
{
    char tmp[48];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    char rev[48];
    for (int i = 0; i < n; i++)
        rev[i] = tmp[n - 1 - i];
    return cove_buf_append(out, rev, (size_t)n);
}

/* 1 when q has no prime factors but 2 and 5 (p/q is a finite decimal). */
static int finite_decimal(i128 q)
{
    while (q % 2 == 0)
        q /= 2;
    while (q % 5 == 0)
        q /= 5;
    return q == 1;
}

/* Integer part, then up to `places` decimals of |p|/q by long division. */
static cove_status put_decimal(struct cove_buf *out, rat r, int places, int *exact)
{
    u128 p = r.p < 0 ? (u128)0 - (u128)r.p : (u128)r.p, q = (u128)r.q;
    cove_status st = r.p < 0 ? cove_buf_append_byte(out, '-') : COVE_OK;
    if (st == COVE_OK)
        st = put_u128(out, p / q);
    u128 rem = p % q;
    *exact = rem == 0;
    if (rem && st == COVE_OK)
        st = cove_buf_append_byte(out, '.');
    for (int i = 0; rem && i < places && st == COVE_OK; i++) {
        /* the caller checked q <= 2^124, so rem * 10 < 2^128 */
        u128 d = (rem * 10) / q;
        rem = (rem * 10) % q;
        st = cove_buf_append_byte(out, (unsigned char)('0' + (int)d));
        *exact = rem == 0;
    }
    return st;
}

cove_status cove_agent_calc(const char *expr, struct cove_buf *out, cove_error *err)
{
    if (!expr || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "calculator: NULL argument");
    if (strlen(expr) > COVE_AGENT_MAX_EXPR)
        return cove_error_set(err, COVE_ERR_LIMIT, "expression longer than %d bytes",
                              COVE_AGENT_MAX_EXPR);
    calc c = {.s = expr, .start = expr, .st = COVE_OK, .err = err};
    rat r;
    if (parse_expr(&c, &r))
        return c.st;
    skip_ws(&c);
    if (*c.s) {
        fail(&c, COVE_ERR_FORMAT, "unexpected character");
        return c.st;
    }
    if (r.q > ((i128)1 << 124))
        return cove_error_set(err, COVE_ERR_LIMIT, "denominator too large to print exactly");
    int exact = 0;
    cove_status st;
    if (r.q == 1 || finite_decimal(r.q))
        return put_decimal(out, r, 40, &exact);
    st = r.p < 0 ? cove_buf_append_byte(out, '-') : COVE_OK;
    if (st == COVE_OK)
        st = put_u128(out, r.p < 0 ? (u128)0 - (u128)r.p : (u128)r.p);
    if (st == COVE_OK)
        st = cove_buf_append_byte(out, '/');
    if (st == COVE_OK)
        st = put_u128(out, (u128)r.q);
    if (st == COVE_OK)
        st = cove_buf_append_str(out, " = ");
    if (st == COVE_OK)
        st = put_decimal(out, r, CALC_DIGITS, &exact);
    if (st == COVE_OK && !exact)
        st = cove_buf_append_str(out, "...");
    return st;
}

/* ------------------------------------------------------------------- tool */

static cove_status calc_run(struct cove_agent_env *env, const json_t *args,
                            struct cove_agent_obs *obs, cove_error *err)
{
    const char *expr = json_string_value(json_object_get(args, "expression"));
    return cove_agent_calc(expr, &obs->text, err);
}

const struct cove_agent_tool_def cove_agent_tool_calculator = {
    .name = "calculator",
    .description = "Exact arithmetic on numbers: + - * / ^ and parentheses. Use it to add, "
                   "subtract, multiply or divide numbers, or for a percentage or a power.",
    .example = "How much is 3 times 4.5? -> {\"expression\": \"3*4.5\"}",
    .schema = "{\"type\":\"object\",\"properties\":{\"expression\":{\"type\":\"string\","
              "\"minLength\":1,\"maxLength\":200}},"
              "\"required\":[\"expression\"]}",
    .handler = calc_run,
    .limits = {.timeout_ms = 1000, .max_output = 4096, .max_calls = 0},
    .effect = COVE_AGENT_READ_ONLY,
};
