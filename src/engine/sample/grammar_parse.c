/*
 * grammar_parse.c - GBNF text to syntax tree.
 *
 * The syntax is the one llama.cpp reads (docs/grammar.md):
 *
 *   grammar  ::= (rule | comment | blank line)*
 *   rule     ::= name "::=" alts            a rule ends at the end of its line, unless the
 *                                           next line starts with "|" (it continues)
 *   alts     ::= seq ("|" seq)*
 *   seq      ::= (item postfix?)*
 *   item     ::= "literal" | [class] | [^class] | name | "(" alts ")" | "."
 *   postfix  ::= "*" | "+" | "?" | "{" m "}" | "{" m ",}" | "{" m "," n "}"
 *
 * Inside parentheses newlines are white space. Names are [A-Za-z0-9_-]+. Characters are
 * code points; escapes \n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH. Every error message
 * starts with "line:col: ".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/sample/grammar_int.h"

typedef struct parser {
    const char *s;
    size_t len, pos;
    int depth;
    gram_ast *ast;
    cove_error *err;
    cove_status st; /* the first error reported */
} parser;

static cove_status perr(parser *p, size_t at, cove_status st, const char *fmt, ...)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)p->s[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    char msg[COVE_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->st == COVE_OK)
        p->st = st;
    return cove_error_set(p->err, st, "%d:%d: %s", line, col, msg);
}

static void line_col(const parser *p, size_t at, int32_t *line, int32_t *col)
{
    int32_t l = 1, c = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->s[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)p->s[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int grow(void **ptr, int32_t *cap, int32_t need, size_t elem, int32_t max)
{
    if (need <= *cap)
        return 1;
    if (need > max)
        return 0;
    int32_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc = nc > max / 2 ? max : nc * 2;
    void *np = cove_realloc(*ptr, (size_t)nc * elem);
    if (!np)
        return 0;
    *ptr = np;
    *cap = nc;
    return 1;
}

static int32_t new_node(parser *p, int type, size_t at)
{
    gram_ast *a = p->ast;
    if (!grow((void **)&a->nodes, &a->cap_nodes, a->n_nodes + 1, sizeof(gram_node),
              (int32_t)COVE_GRAMMAR_MAX_NODES)) {
        perr(p, at, a->n_nodes + 1 > (int32_t)COVE_GRAMMAR_MAX_NODES ? COVE_ERR_LIMIT : COVE_ERR_NOMEM,
             "grammar too large (more than %u nodes) or out of memory", COVE_GRAMMAR_MAX_NODES);
        return -1;
    }
    gram_node *n = &a->nodes[a->n_nodes];
    memset(n, 0, sizeof *n);
    n->type = (uint8_t)type;
    n->first = n->next = -1;
    line_col(p, at, &n->line, &n->col);
    return a->n_nodes++;
}

/* ---------------------------------------------------------------- lexing helpers */

static int is_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Skip blanks and comments; newlines too when `nl`. */
static void skip_space(parser *p, int nl)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\r' || (nl && c == '\n')) {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->len && p->s[p->pos] != '\n')
                p->pos++;
        } else {
            break;
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode one UTF-8 sequence at p->pos; -1 when invalid. */
static int32_t utf8_next(parser *p)
{
    const unsigned char *u = (const unsigned char *)p->s + p->pos;
    size_t left = p->len - p->pos;
    uint32_t c = u[0], n, min;
    if (c < 0x80) {
        p->pos++;
        return (int32_t)c;
    }
    if ((c & 0xE0) == 0xC0) { n = 1; c &= 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 2; c &= 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 3; c &= 0x07; min = 0x10000; }
    else return -1;
    if (left < n + 1)
        return -1;
    for (uint32_t i = 1; i <= n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return -1;
        c = (c << 6) | (u[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return -1;
    p->pos += n + 1;
    return (int32_t)c;
}

/* One character of a literal or class, escapes decoded; -1 after reporting an error. */
static int32_t parse_char(parser *p)
{
    size_t at = p->pos;
    if (p->s[p->pos] != '\\') {
        int32_t c = utf8_next(p);
        if (c < 0)
            perr(p, at, COVE_ERR_FORMAT, "invalid UTF-8 in grammar text");
        return c;
    }
    if (p->pos + 1 >= p->len) {
        perr(p, at, COVE_ERR_FORMAT, "unfinished escape");
        return -1;
    }
    char e = p->s[p->pos + 1];
    p->pos += 2;
    int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (digits) {
        uint32_t v = 0;
        for (int i = 0; i < digits; i++) {
            int h = p->pos < p->len ? hexval(p->s[p->pos]) : -1;
            if (h < 0) {
                perr(p, p->pos, COVE_ERR_FORMAT, "expected %d hex digits after \\%c", digits, e);
                return -1;
            }
            v = v * 16 + (uint32_t)h;
            p->pos++;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
            perr(p, at, COVE_ERR_FORMAT, "escape is not a Unicode scalar value");
            return -1;
        }
        return (int32_t)v;
    }
    switch (e) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case '\\': case '"': case '[': case ']': case '-': case '/': case '\'':
        return e;
    default:
        perr(p, at, COVE_ERR_FORMAT, "unknown escape '\\%c'", e);
        return -1;
    }
}

static int put_utf8(parser *p, uint32_t c, size_t at)
{
    gram_ast *a = p->ast;
    if (!grow((void **)&a->bytes, &a->cap_bytes, a->n_bytes + 4, 1, (int32_t)COVE_GRAMMAR_MAX_TEXT * 2)) {
        perr(p, at, COVE_ERR_NOMEM, "out of memory");
        return 0;
    }
    unsigned char *o = (unsigned char *)a->bytes + a->n_bytes;
    int n;
    if (c < 0x80) { o[0] = (unsigned char)c; n = 1; }
    else if (c < 0x800) { o[0] = (unsigned char)(0xC0 | (c >> 6)); o[1] = (unsigned char)(0x80 | (c & 0x3F)); n = 2; }
    else if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12)); o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F)); n = 3;
    } else {
        o[0] = (unsigned char)(0xF0 | (c >> 18)); o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (c & 0x3F)); n = 4;
    }
    a->n_bytes += n;
    return 1;
}

static int32_t parse_literal(parser *p)
{
    size_t at = p->pos;
    int32_t id = new_node(p, GN_LIT, at);
    if (id < 0)
        return -1;
    p->pos++; /* the opening quote */
    int32_t off = p->ast->n_bytes;
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] == '\n') {
            perr(p, at, COVE_ERR_FORMAT, "unterminated literal");
            return -1;
        }
        if (p->s[p->pos] == '"')
            break;
        int32_t c = parse_char(p);
        if (c < 0 || !put_utf8(p, (uint32_t)c, at))
            return -1;
    }
    p->pos++;
    p->ast->nodes[id].a = off;
    p->ast->nodes[id].b = p->ast->n_bytes - off;
    return id;
}

static int add_range(parser *p, uint32_t lo, uint32_t hi, size_t at)
{
    gram_ast *a = p->ast;
    if (!grow((void **)&a->ranges, &a->cap_ranges, a->n_ranges + 2, sizeof(uint32_t),
              (int32_t)COVE_GRAMMAR_MAX_NODES * 2)) {
        perr(p, at, COVE_ERR_LIMIT, "too many character ranges");
        return 0;
    }
    a->ranges[a->n_ranges++] = lo;
    a->ranges[a->n_ranges++] = hi;
    return 1;
}

static int32_t parse_class(parser *p)
{
    size_t at = p->pos;
    int32_t id = new_node(p, GN_CLASS, at);
    if (id < 0)
        return -1;
    p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '^') {
        p->ast->nodes[id].negated = 1;
        p->pos++;
    }
    int32_t off = p->ast->n_ranges;
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] == '\n') {
            perr(p, at, COVE_ERR_FORMAT, "unterminated character class");
            return -1;
        }
        if (p->s[p->pos] == ']')
            break;
        size_t cat = p->pos;
        int32_t lo = parse_char(p), hi = lo;
        if (lo < 0)
            return -1;
        if (p->pos + 1 < p->len && p->s[p->pos] == '-' && p->s[p->pos + 1] != ']') {
            p->pos++;
            hi = parse_char(p);
            if (hi < 0)
                return -1;
            if (hi < lo) {
                perr(p, cat, COVE_ERR_FORMAT, "character range out of order");
                return -1;
            }
        }
        if (!add_range(p, (uint32_t)lo, (uint32_t)hi, cat))
            return -1;
    }
    p->pos++;
    p->ast->nodes[id].a = off;
    p->ast->nodes[id].b = (p->ast->n_ranges - off) / 2;
    return id;
}

/* The index of rule `name` (len bytes), added when new. */
static int32_t rule_index(parser *p, const char *name, size_t len, size_t at)
{
    gram_ast *a = p->ast;
    for (int32_t i = 0; i < a->n_rules; i++)
        if (strlen(a->rules[i].name) == len && memcmp(a->rules[i].name, name, len) == 0)
            return i;
    if (!grow((void **)&a->rules, &a->cap_rules, a->n_rules + 1, sizeof(gram_rule),
              COVE_GRAMMAR_MAX_RULES)) {
        perr(p, at, COVE_ERR_LIMIT, "more than %d rules", COVE_GRAMMAR_MAX_RULES);
        return -1;
    }
    gram_rule *r = &a->rules[a->n_rules];
    r->name = cove_strndup(name, len);
    if (!r->name) {
        perr(p, at, COVE_ERR_NOMEM, "out of memory");
        return -1;
    }
    r->body = -1;
    line_col(p, at, &r->line, &r->col);
    return a->n_rules++;
}

static int parse_count(parser *p, int32_t *v)
{
    size_t at = p->pos;
    int64_t x = 0;
    if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
        perr(p, at, COVE_ERR_FORMAT, "expected a number");
        return 0;
    }
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        x = x * 10 + (p->s[p->pos++] - '0');
        if (x > COVE_GRAMMAR_MAX_REPEAT) {
            perr(p, at, COVE_ERR_LIMIT, "repetition count above %d", COVE_GRAMMAR_MAX_REPEAT);
            return 0;
        }
    }
    *v = (int32_t)x;
    return 1;
}

/* {m}, {m,}, {m,n} at p->pos: min and max (-1 unbounded). */
static int parse_braces(parser *p, int32_t *min, int32_t *max)
{
    size_t at = p->pos;
    p->pos++;
    skip_space(p, 0);
    if (!parse_count(p, min))
        return 0;
    skip_space(p, 0);
    *max = *min;
    if (p->pos < p->len && p->s[p->pos] == ',') {
        p->pos++;
        skip_space(p, 0);
        *max = -1;
        if (p->pos < p->len && p->s[p->pos] != '}') {
            if (!parse_count(p, max))
                return 0;
            skip_space(p, 0);
        }
    }
    if (p->pos >= p->len || p->s[p->pos] != '}') {
        perr(p, p->pos, COVE_ERR_FORMAT, "expected '}'");
        return 0;
    }
    p->pos++;
    if (*max >= 0 && *max < *min) {
        perr(p, at, COVE_ERR_FORMAT, "repetition {%d,%d}: maximum below minimum", *min, *max);
        return 0;
    }
    return 1;
}

static int32_t parse_alts(parser *p, int nested);

static int32_t parse_item(parser *p, int nested)
{
    size_t at = p->pos;
    char c = p->s[p->pos];
    if (c == '"')
        return parse_literal(p);
    if (c == '[')
        return parse_class(p);
    if (c == '.') {
        int32_t id = new_node(p, GN_CLASS, at);
        if (id >= 0) {
            p->ast->nodes[id].negated = 1;
            p->ast->nodes[id].a = p->ast->n_ranges;
            p->ast->nodes[id].b = 0;
        }
        p->pos++;
        return id;
    }
    if (c == '(') {
        if (++p->depth > COVE_GRAMMAR_MAX_DEPTH) {
            perr(p, at, COVE_ERR_LIMIT, "parentheses nested deeper than %d", COVE_GRAMMAR_MAX_DEPTH);
            return -1;
        }
        p->pos++;
        skip_space(p, 1);
        int32_t id = parse_alts(p, 1);
        if (id < 0)
            return -1;
        skip_space(p, 1);
        if (p->pos >= p->len || p->s[p->pos] != ')') {
            perr(p, p->pos, COVE_ERR_FORMAT, "expected ')'");
            return -1;
        }
        p->pos++;
        p->depth--;
        return id;
    }
    if (is_name_char((unsigned char)c)) {
        size_t s0 = p->pos;
        while (p->pos < p->len && is_name_char((unsigned char)p->s[p->pos]))
            p->pos++;
        int32_t r = rule_index(p, p->s + s0, p->pos - s0, at);
        int32_t id = r < 0 ? -1 : new_node(p, GN_REF, at);
        if (id >= 0)
            p->ast->nodes[id].a = r;
        return id;
    }
    perr(p, at, COVE_ERR_FORMAT, "unexpected character '%c'", c);
    return -1;
}

static int32_t parse_postfix(parser *p, int32_t item)
{
    for (;;) {
        if (p->pos >= p->len)
            return item;
        char c = p->s[p->pos];
        size_t at = p->pos;
        int32_t min, max;
        if (c == '*') { min = 0; max = -1; p->pos++; }
        else if (c == '+') { min = 1; max = -1; p->pos++; }
        else if (c == '?') { min = 0; max = 1; p->pos++; }
        else if (c == '{') { if (!parse_braces(p, &min, &max)) return -1; }
        else return item;
        int32_t id = new_node(p, GN_REP, at);
        if (id < 0)
            return -1;
        p->ast->nodes[id].first = item;
        p->ast->nodes[id].a = min;
        p->ast->nodes[id].b = max;
        item = id;
    }
}

/* Is the text at p->pos the start of a new rule ("name ::=")? */
static int at_rule_start(const parser *p)
{
    size_t i = p->pos;
    while (i < p->len && is_name_char((unsigned char)p->s[i]))
        i++;
    if (i == p->pos)
        return 0;
    while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t'))
        i++;
    return p->len - i >= 3 && memcmp(p->s + i, "::=", 3) == 0;
}

static int32_t parse_seq(parser *p, int nested)
{
    int32_t seq = new_node(p, GN_SEQ, p->pos), last = -1;
    if (seq < 0)
        return -1;
    for (;;) {
        skip_space(p, nested);
        if (p->pos >= p->len)
            break;
        char c = p->s[p->pos];
        if (c == '|' || c == ')' || c == '\n')
            break;
        if (!nested && at_rule_start(p))
            break;
        int32_t it = parse_item(p, nested);
        if (it >= 0)
            it = parse_postfix(p, it);
        if (it < 0)
            return -1;
        if (last < 0)
            p->ast->nodes[seq].first = it;
        else
            p->ast->nodes[last].next = it;
        last = it;
    }
    return seq;
}

static int32_t parse_alts(parser *p, int nested)
{
    int32_t alt = new_node(p, GN_ALT, p->pos), last = -1;
    if (alt < 0)
        return -1;
    for (;;) {
        int32_t s = parse_seq(p, nested);
        if (s < 0)
            return -1;
        if (last < 0)
            p->ast->nodes[alt].first = s;
        else
            p->ast->nodes[last].next = s;
        last = s;
        size_t save = p->pos;
        skip_space(p, 1); /* a following line may continue with '|' */
        if (p->pos < p->len && p->s[p->pos] == '|') {
            p->pos++;
            continue;
        }
        p->pos = save;
        return alt;
    }
}

static cove_status parse_rule(parser *p)
{
    size_t at = p->pos;
    if (!is_name_char((unsigned char)p->s[p->pos]))
        return perr(p, at, COVE_ERR_FORMAT, "expected a rule name");
    while (p->pos < p->len && is_name_char((unsigned char)p->s[p->pos]))
        p->pos++;
    size_t name_end = p->pos;
    skip_space(p, 0);
    if (p->len - p->pos < 3 || memcmp(p->s + p->pos, "::=", 3) != 0)
        return perr(p, p->pos, COVE_ERR_FORMAT, "expected '::='");
    p->pos += 3;
    int32_t r = rule_index(p, p->s + at, name_end - at, at);
    if (r < 0)
        return p->st;
    int32_t body = parse_alts(p, 0);
    if (body < 0)
        return p->st;
    skip_space(p, 0);
    if (p->pos < p->len && p->s[p->pos] != '\n' && !at_rule_start(p))
        return perr(p, p->pos, COVE_ERR_FORMAT, "expected the end of the line");
    p->ast->rules[r].body = body;
    line_col(p, at, &p->ast->rules[r].line, &p->ast->rules[r].col);
    return COVE_OK;
}

void gram_ast_release(gram_ast *ast)
{
    if (!ast)
        return;
    for (int32_t i = 0; i < ast->n_rules; i++)
        cove_free(ast->rules[i].name);
    cove_free(ast->rules);
    cove_free(ast->nodes);
    cove_free(ast->ranges);
    cove_free(ast->bytes);
    memset(ast, 0, sizeof *ast);
}

static cove_status check_refs(parser *p)
{
    gram_ast *a = p->ast;
    for (int32_t i = 0; i < a->n_nodes; i++) {
        const gram_node *n = &a->nodes[i];
        if (n->type == GN_REF && a->rules[n->a].body < 0)
            return cove_error_set(p->err, COVE_ERR_FORMAT, "%d:%d: undefined rule '%s'", n->line,
                                  n->col, a->rules[n->a].name);
    }
    a->root = -1;
    for (int32_t i = 0; i < a->n_rules; i++)
        if (strcmp(a->rules[i].name, "root") == 0)
            a->root = i;
    if (a->root < 0)
        return cove_error_set(p->err, COVE_ERR_FORMAT, "1:1: the grammar has no 'root' rule");
    return COVE_OK;
}

cove_status gram_parse(const char *text, size_t len, gram_ast *ast, cove_error *err)
{
    memset(ast, 0, sizeof *ast);
    if (len > COVE_GRAMMAR_MAX_TEXT)
        return cove_error_set(err, COVE_ERR_LIMIT, "grammar text of %zu bytes is above the limit of %u",
                              len, COVE_GRAMMAR_MAX_TEXT);
    parser p = {text, len, 0, 0, ast, err, COVE_OK};
    cove_status st = COVE_OK;
    for (;;) {
        skip_space(&p, 1);
        if (p.pos >= p.len)
            break;
        st = parse_rule(&p);
        if (st != COVE_OK)
            break;
    }
    if (st == COVE_OK)
        st = check_refs(&p);
    if (st != COVE_OK)
        gram_ast_release(ast);
    return st;
}
