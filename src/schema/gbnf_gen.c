/*
 * schema/gbnf_gen.c - JSON Schema to GBNF: the walk over subschemas, $ref, the
 * combinators (allOf, anyOf, oneOf), enum/const, and the public entry points.
 *
 * Every subschema becomes one rule r<N> whose body is an alternation of the
 * per-type expressions (gbnf_string.c, gbnf_num.c, gbnf_object.c). A $ref target
 * gets its rule name before its body is built, so recursion refers to the rule.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "schema_int.h"

/* Keywords that say nothing about validity: skipped. */
static const char *const annotations[] = {
    "title", "description", "default", "examples", "$comment", "$schema", "$id", "$anchor",
    "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "contentMediaType",
    "contentEncoding", "$vocabulary", NULL};

/* Keywords the converter enforces (or relaxes as documented). */
static const char *const handled[] = {
    "type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf", "properties", "required",
    "additionalProperties", "items", "prefixItems", "additionalItems", "minItems", "maxItems",
    "uniqueItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", NULL};

static int in_list(const char *const *list, const char *k)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], k) == 0)
            return 1;
    return 0;
}

cove_schema_opts cove_schema_default_opts(void)
{
    cove_schema_opts o = {.max_ws = 1, .allow_extra_props = 0, .strict = 0};
    return o;
}

cove_status sg_fail(sg *g, cove_status st, const char *ptr, const char *fmt, ...)
{
    char msg[COVE_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cove_error_set(g->err, st, "%s at %s", msg, ptr);
}

static void ptr_escape_append(char *out, size_t cap, const char *token)
{
    size_t n = strlen(out);
    for (const char *p = token; *p && n + 3 < cap; p++) {
        if (*p == '~' || *p == '/') {
            out[n++] = '~';
            out[n++] = *p == '~' ? '0' : '1';
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

void sg_ptr_join(char *out, const char *ptr, const char *token)
{
    snprintf(out, SG_PTR_MAX, "%s/", ptr);
    ptr_escape_append(out, SG_PTR_MAX, token);
}

void sg_ptr_join_idx(char *out, const char *ptr, const char *token, size_t idx)
{
    snprintf(out, SG_PTR_MAX, "%s/%s/%zu", ptr, token, idx);
}

cove_status sg_ws(sg *g, struct cove_buf *e)
{
    if (g->opts.max_ws <= 0)
        return cove_buf_append_str(e, " ");
    g->helpers |= SG_H_WS;
    return cove_buf_append_str(e, " ws ");
}

static const char *const helper_names[] = {"ws", "char", "string", "number", "integer",
                                           "boolean", "null", "value", "object", "array",
                                           "kchar"};

cove_status sg_helper(sg *g, struct cove_buf *e, unsigned helper)
{
    g->helpers |= helper;
    for (unsigned i = 0; i < sizeof helper_names / sizeof helper_names[0]; i++)
        if (helper == 1u << i) {
            cove_status st = cove_buf_append_str(e, helper_names[i]);
            return st ? st : cove_buf_append_byte(e, ' ');
        }
    return COVE_ERR_INTERNAL;
}

cove_status sg_literal(struct cove_buf *e, const char *s, size_t n)
{
    cove_status st = cove_buf_append_byte(e, '"');
    for (size_t i = 0; i < n && st == COVE_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            st = cove_buf_appendf(e, "\\%c", c);
        else if (c == '\n')
            st = cove_buf_append_str(e, "\\n");
        else if (c == '\t')
            st = cove_buf_append_str(e, "\\t");
        else if (c == '\r')
            st = cove_buf_append_str(e, "\\r");
        else if (c < 0x20 || c == 0x7f)
            st = cove_buf_appendf(e, "\\x%02X", c);
        else
            st = cove_buf_append_byte(e, c);
    }
    return st ? st : cove_buf_append_str(e, "\" ");
}

cove_status sg_rule_new(sg *g, const char *body, char *name)
{
    if (g->n_rules >= COVE_SCHEMA_MAX_RULES)
        return cove_error_set(g->err, COVE_ERR_LIMIT, "grammar needs more than %d rules",
                              COVE_SCHEMA_MAX_RULES);
    snprintf(name, SG_NAME_MAX, "r%d", g->n_rules++);
    cove_status st = cove_buf_appendf(&g->out, "%s ::= %s\n", name, body);
    if (st == COVE_ERR_LIMIT)
        return cove_error_set(g->err, st, "grammar longer than %u bytes", COVE_SCHEMA_MAX_GBNF);
    return st ? cove_error_set(g->err, st, "out of memory") : COVE_OK;
}

int sg_count_kw(sg *g, const json_t *s, const char *kw, const char *ptr, long max, long *out)
{
    const json_t *v = json_object_get(s, kw);
    if (!v)
        return 0;
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : -1;
    if (d < 0 || d != (double)(long long)d) {
        sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'%s' must be a non-negative integer", kw);
        return -1;
    }
    if (d > (double)max) {
        sg_fail(g, COVE_ERR_LIMIT, ptr, "'%s' %.0f is over the limit %ld", kw, d, max);
        return -1;
    }
    *out = (long)d;
    return 1;
}

/* ---- $ref ----------------------------------------------------------------------- */

/* Decode one JSON pointer token (~0 ~1, %XX) into out; 0 on success. */
static int ptr_token(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
            c = p[++i] == '0' ? '~' : '/';
        } else if (c == '%' && i + 2 < n) {
            unsigned v;
            if (sscanf(p + i + 1, "%2x", &v) != 1)
                return -1;
            c = (char)v;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

const json_t *sg_resolve_ref(const json_t *root, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    const json_t *cur = root;
    const char *p = ref + 1;
    char tok[512];
    while (*p == '/') {
        const char *end = strchr(p + 1, '/');
        size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
        if (ptr_token(p + 1, n, tok, sizeof tok) != 0)
            return NULL;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *e;
            unsigned long idx = strtoul(tok, &e, 10);
            cur = (*tok && !*e) ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        if (!cur)
            return NULL;
        p += n + 1;
    }
    return *p ? NULL : cur;
}

static cove_status ref_rule(sg *g, const json_t *target, const char *ref, char *name)
{
    for (size_t i = 0; i < g->n_refs; i++)
        if (g->refs[i].target == target) {
            memcpy(name, g->refs[i].name, SG_NAME_MAX);
            return COVE_OK;
        }
    if (g->n_refs >= COVE_SCHEMA_MAX_REFS)
        return cove_error_set(g->err, COVE_ERR_LIMIT, "more than %d $ref targets",
                              COVE_SCHEMA_MAX_REFS);
    if (g->n_refs == g->cap_refs) {
        size_t cap = g->cap_refs ? g->cap_refs * 2 : 16;
        sg_ref *r = cove_realloc(g->refs, cap * sizeof *r);
        if (!r)
            return cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
        g->refs = r;
        g->cap_refs = cap;
    }
    sg_ref *r = &g->refs[g->n_refs++];
    r->target = target;
    snprintf(r->name, SG_NAME_MAX, "ref%zu", g->n_refs - 1);
    memcpy(name, r->name, SG_NAME_MAX);
    char inner[SG_NAME_MAX];
    char rptr[SG_PTR_MAX];
    snprintf(rptr, sizeof rptr, "%s", ref);
    cove_status st = sg_schema(g, target, rptr, inner);
    if (st)
        return st;
    st = cove_buf_appendf(&g->out, "%s ::= %s\n", name, inner);
    return st ? cove_error_set(g->err, st, "grammar too long") : COVE_OK;
}

/* ---- keyword checks ----------------------------------------------------------------- */

static cove_status check_keywords(sg *g, const json_t *s, const char *ptr)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        if (in_list(annotations, k))
            continue;
        if (!in_list(handled, k))
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "unsupported keyword '%s'", k);
        if (strcmp(k, "uniqueItems") == 0 && json_is_true(v) && g->opts.strict)
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr,
                           "keyword 'uniqueItems' cannot be enforced (strict)");
        if (strcmp(k, "oneOf") == 0 && g->opts.strict)
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr,
                           "keyword 'oneOf' is read as anyOf, not allowed in strict mode");
    }
    return COVE_OK;
}

/* 1 when s holds a keyword other than annotations and those named in skip. */
static int has_other_keywords(const json_t *s, const char *const *skip)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        (void)v;
        if (!in_list(annotations, k) && !in_list(skip, k))
            return 1;
    }
    return 0;
}

/* A copy of s without the keywords in drop (new reference kept in g->keep). */
static json_t *without(sg *g, const json_t *s, const char *const *drop)
{
    json_t *c = json_object();
    if (!c || json_array_append_new(g->keep, c) != 0)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v)
        if (!in_list(drop, k) && json_object_set(c, k, v) != 0)
            return NULL;
    return c;
}

/* ---- enum / const ------------------------------------------------------------------- */

/* Shortest text of a double that reads back as the same value. */
static void real_text(double d, char *out, size_t cap)
{
    int fixed = fabs(d) >= 1e-4 && fabs(d) < 1e16; /* as most JSON writers do */
    for (int prec = fixed ? 0 : 1; prec <= 17; prec++) {
        snprintf(out, cap, fixed ? "%.*f" : "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".eEn"))
        strncat(out, ".0", cap - strlen(out) - 1);
}

static cove_status value_literal(sg *g, const json_t *v, struct cove_buf *e);

/* An array or object constant, with the optional whitespace of the other rules. */
static cove_status container_literal(sg *g, const json_t *v, struct cove_buf *e)
{
    int obj = json_is_object(v);
    cove_status st = cove_buf_append_str(e, obj ? "\"{\"" : "\"[\"");
    size_t n = obj ? json_object_size(v) : json_array_size(v), i = 0;
    void *it = obj ? json_object_iter((json_t *)v) : NULL;
    st = st ? st : sg_ws(g, e);
    for (; i < n && !st; i++) {
        if (i) {
            st = cove_buf_append_str(e, "\",\"");
            st = st ? st : sg_ws(g, e);
        }
        if (obj && !st) {
            json_t *k = json_string(json_object_iter_key(it));
            st = k ? value_literal(g, k, e) : COVE_ERR_NOMEM;
            json_decref(k);
            st = st ? st : sg_ws(g, e);
            st = st ? st : cove_buf_append_str(e, "\":\"");
            st = st ? st : sg_ws(g, e);
        }
        if (!st)
            st = value_literal(g, obj ? json_object_iter_value(it) : json_array_get(v, i), e);
        if (!st && i + 1 < n)
            st = sg_ws(g, e);
        if (obj)
            it = json_object_iter_next((json_t *)v, it);
    }
    if (!st && n)
        st = sg_ws(g, e);
    return st ? st : cove_buf_append_str(e, obj ? "\"}\" " : "\"]\" ");
}

static cove_status value_literal(sg *g, const json_t *v, struct cove_buf *e)
{
    if (json_is_object(v) || json_is_array(v)) {
        if (g->depth + 1 >= COVE_SCHEMA_MAX_DEPTH)
            return cove_error_set(g->err, COVE_ERR_LIMIT, "constant nested deeper than %d",
                                  COVE_SCHEMA_MAX_DEPTH);
        g->depth++;
        cove_status st = container_literal(g, v, e);
        g->depth--;
        return st;
    }
    if (json_is_real(v)) {
        char t[64];
        real_text(json_real_value(v), t, sizeof t);
        return sg_literal(e, t, strlen(t));
    }
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (!txt)
        return cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
    cove_status st = sg_literal(e, txt, strlen(txt));
    free(txt);
    return st;
}

/* enum/const: the values that also satisfy the rest of s, as literals. */
static cove_status enum_expr(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    const json_t *cst = json_object_get(s, "const"), *en = json_object_get(s, "enum");
    if (en && (!json_is_array(en) || json_array_size(en) > COVE_SCHEMA_MAX_ENUM))
        return sg_fail(g, json_is_array(en) ? COVE_ERR_LIMIT : COVE_ERR_INVALID_ARG, ptr,
                       "'enum' must be an array of at most %d values", COVE_SCHEMA_MAX_ENUM);
    size_t n = cst ? 1 : json_array_size(en), kept = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = cst ? cst : json_array_get(en, i);
        cove_error verr = {0};
        cove_status vs = cove_schema_validate_in(g->root, s, v, &verr);
        if (vs == COVE_ERR_FORMAT)
            continue;
        if (vs)
            return sg_fail(g, vs, ptr, "%s", verr.msg);
        cove_status st = kept++ ? cove_buf_append_str(e, "| ") : COVE_OK;
        if (!st)
            st = value_literal(g, v, e);
        if (st)
            return st == COVE_ERR_LIMIT || st == COVE_ERR_NOMEM ? sg_fail(g, st, ptr, "enum too large") : st;
    }
    if (!kept)
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "'%s' leaves no value that fits the schema",
                       cst ? "const" : "enum");
    return COVE_OK;
}

/* ---- types -------------------------------------------------------------------------- */

enum { T_NULL = 1, T_BOOL = 2, T_OBJECT = 4, T_ARRAY = 8, T_NUMBER = 16, T_STRING = 32,
       T_INTEGER = 64, T_ALL = 127 };

static int type_bit(const char *t)
{
    static const char *const names[] = {"null", "boolean", "object", "array", "number",
                                        "string", "integer"};
    for (int i = 0; i < 7; i++)
        if (strcmp(t, names[i]) == 0)
            return 1 << i;
    return 0;
}

/* Types a schema without "type" is read as: those its keywords apply to, else all. */
static int implied_types(const json_t *s)
{
    static const char *const kw_str[] = {"minLength", "maxLength", "pattern", "format", NULL};
    static const char *const kw_num[] = {"minimum", "maximum", "exclusiveMinimum",
                                         "exclusiveMaximum", NULL};
    static const char *const kw_obj[] = {"properties", "required", "additionalProperties", NULL};
    static const char *const kw_arr[] = {"items", "prefixItems", "additionalItems", "minItems",
                                         "maxItems", NULL};
    int t = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        (void)v;
        t |= in_list(kw_str, k) ? T_STRING : 0;
        t |= in_list(kw_num, k) ? T_NUMBER : 0;
        t |= in_list(kw_obj, k) ? T_OBJECT : 0;
        t |= in_list(kw_arr, k) ? T_ARRAY : 0;
    }
    return t ? t : T_ALL;
}

static cove_status schema_types(sg *g, const json_t *s, const char *ptr, int *types)
{
    const json_t *t = json_object_get(s, "type");
    if (!t) {
        *types = implied_types(s);
        return COVE_OK;
    }
    *types = 0;
    if (json_is_string(t)) {
        *types = type_bit(json_string_value(t));
    } else if (json_is_array(t)) {
        size_t i;
        const json_t *x;
        json_array_foreach(t, i, x) {
            int b = json_is_string(x) ? type_bit(json_string_value(x)) : 0;
            if (!b)
                return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'type' holds an unknown type");
            *types |= b;
        }
    }
    if (!*types)
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'type' must name JSON types");
    return COVE_OK;
}

static cove_status type_expr(sg *g, const json_t *s, const char *ptr, int bit, struct cove_buf *e)
{
    switch (bit) {
    case T_NULL: return sg_helper(g, e, SG_H_NULL);
    case T_BOOL: return sg_helper(g, e, SG_H_BOOLEAN);
    case T_STRING: return sg_string(g, s, ptr, e);
    case T_NUMBER: return sg_number(g, s, ptr, e);
    case T_INTEGER: return sg_integer(g, s, ptr, e);
    case T_OBJECT: return sg_object(g, s, ptr, e);
    default: return sg_array(g, s, ptr, e);
    }
}

static cove_status types_expr(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    int types;
    cove_status st = schema_types(g, s, ptr, &types);
    if (st)
        return st;
    if (types == T_ALL && !has_other_keywords(s, (const char *const[]){"type", NULL}))
        return sg_helper(g, e, SG_H_VALUE);
    if ((types & T_NUMBER) && (types & T_INTEGER))
        types &= ~T_INTEGER;
    int first = 1;
    for (int bit = 1; bit <= T_INTEGER; bit <<= 1) {
        if (!(types & bit))
            continue;
        if (!first && (st = cove_buf_append_str(e, "| ")) != COVE_OK)
            return st;
        first = 0;
        if ((st = type_expr(g, s, ptr, bit, e)) != COVE_OK)
            return st;
    }
    return COVE_OK;
}

/* ---- combinators -------------------------------------------------------------------- */

static const json_t *shallow_ref(sg *g, const json_t *b)
{
    for (int hops = 0; hops < 32 && json_is_object(b); hops++) {
        const json_t *r = json_object_get(b, "$ref");
        if (!json_is_string(r) || has_other_keywords(b, (const char *const[]){"$ref", NULL}))
            return b;
        const json_t *t = sg_resolve_ref(g->root, json_string_value(r));
        if (!t)
            return b;
        b = t;
    }
    return b;
}

static cove_status all_of(sg *g, const json_t *s, const char *ptr, char *name)
{
    const json_t *all = json_object_get(s, "allOf");
    if (!json_is_array(all) || json_array_size(all) == 0)
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'allOf' must be a non-empty array");
    const json_t *cur = without(g, s, (const char *const[]){"allOf", NULL});
    if (!cur)
        return cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
    size_t i;
    const json_t *b;
    json_array_foreach(all, i, b) {
        char bptr[SG_PTR_MAX];
        sg_ptr_join_idx(bptr, ptr, "allOf", i);
        json_t *m = NULL;
        cove_status st = sg_merge(g, cur, shallow_ref(g, b), bptr, &m);
        if (st)
            return st;
        if (json_array_append_new(g->keep, m) != 0)
            return cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
        cur = m;
    }
    return sg_schema(g, cur, ptr, name);
}

static cove_status any_of(sg *g, const json_t *s, const char *ptr, const char *kw, char *name)
{
    const json_t *any = json_object_get(s, kw);
    if (!json_is_array(any) || json_array_size(any) == 0)
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'%s' must be a non-empty array", kw);
    static const char *const skip[] = {"anyOf", "oneOf", NULL};
    const json_t *rest = has_other_keywords(s, skip) ? without(g, s, skip) : NULL;
    if (json_object_get(s, "anyOf") && json_object_get(s, "oneOf"))
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "'anyOf' beside 'oneOf' is not supported");
    struct cove_buf body;
    cove_buf_init(&body, COVE_SCHEMA_MAX_GBNF);
    cove_status st = COVE_OK;
    size_t i;
    const json_t *b;
    json_array_foreach(any, i, b) {
        char bptr[SG_PTR_MAX], bn[SG_NAME_MAX];
        sg_ptr_join_idx(bptr, ptr, kw, i);
        const json_t *branch = b;
        if (rest) {
            json_t *m = NULL;
            if ((st = sg_merge(g, rest, shallow_ref(g, b), bptr, &m)) != COVE_OK)
                break;
            if (json_array_append_new(g->keep, m) != 0) {
                st = cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
                break;
            }
            branch = m;
        }
        if ((st = sg_schema(g, branch, bptr, bn)) != COVE_OK)
            break;
        if ((st = cove_buf_appendf(&body, "%s%s ", i ? "| " : "", bn)) != COVE_OK)
            break;
    }
    if (!st)
        st = sg_rule_new(g, body.data, name);
    cove_buf_release(&body);
    return st;
}

/* ---- the walk ----------------------------------------------------------------------- */

static cove_status schema_body(sg *g, const json_t *s, const char *ptr, char *name)
{
    const json_t *ref = json_object_get(s, "$ref");
    if (ref) {
        if (!json_is_string(ref))
            return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'$ref' must be a string");
        const json_t *t = sg_resolve_ref(g->root, json_string_value(ref));
        if (!t)
            return sg_fail(g, json_string_value(ref)[0] == '#' ? COVE_ERR_INVALID_ARG
                                                               : COVE_ERR_UNSUPPORTED,
                           ptr, "'$ref' %.80s does not resolve in this document",
                           json_string_value(ref));
        if (!has_other_keywords(s, (const char *const[]){"$ref", NULL}))
            return ref_rule(g, t, json_string_value(ref), name);
        json_t *m = NULL;
        cove_status st = sg_merge(g, without(g, s, (const char *const[]){"$ref", NULL}), t, ptr, &m);
        if (st)
            return st;
        if (json_array_append_new(g->keep, m) != 0)
            return cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
        return sg_schema(g, m, ptr, name);
    }
    if (json_object_get(s, "allOf"))
        return all_of(g, s, ptr, name);
    if (json_object_get(s, "anyOf"))
        return any_of(g, s, ptr, "anyOf", name);
    if (json_object_get(s, "oneOf"))
        return any_of(g, s, ptr, "oneOf", name);
    struct cove_buf e;
    cove_buf_init(&e, COVE_SCHEMA_MAX_GBNF);
    cove_status st;
    if (json_object_get(s, "enum") || json_object_get(s, "const"))
        st = enum_expr(g, s, ptr, &e);
    else
        st = types_expr(g, s, ptr, &e);
    if (st == COVE_ERR_LIMIT && g->err && g->err->status != COVE_ERR_LIMIT)
        st = cove_error_set(g->err, st, "grammar longer than %u bytes", COVE_SCHEMA_MAX_GBNF);
    if (!st) {
        size_t n = e.len;
        while (n && e.data[n - 1] == ' ')
            n--;
        e.data[n] = '\0';
        if (strspn(e.data, "abcdefghijklmnopqrstuvwxyz") == n && n < SG_NAME_MAX)
            memcpy(name, e.data, n + 1); /* just a helper rule: use it directly */
        else
            st = sg_rule_new(g, e.data, name);
    }
    cove_buf_release(&e);
    return st;
}

cove_status sg_schema(sg *g, const json_t *s, const char *ptr, char *name)
{
    if (json_is_true(s)) {
        g->helpers |= SG_H_VALUE;
        snprintf(name, SG_NAME_MAX, "value");
        return COVE_OK;
    }
    if (json_is_false(s))
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "schema 'false' allows no document");
    if (!json_is_object(s))
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "a schema must be an object or a boolean");
    if (g->depth >= COVE_SCHEMA_MAX_DEPTH)
        return sg_fail(g, COVE_ERR_LIMIT, ptr, "schema nested deeper than %d",
                       COVE_SCHEMA_MAX_DEPTH);
    cove_status st = check_keywords(g, s, ptr);
    if (st)
        return st;
    g->depth++;
    st = schema_body(g, s, ptr, name);
    g->depth--;
    return st;
}

/* ---- entry points ------------------------------------------------------------------- */

static cove_status opts_check(const cove_schema_opts *opts, cove_schema_opts *o, cove_error *err)
{
    *o = opts ? *opts : cove_schema_default_opts();
    if (o->max_ws < 0 || o->max_ws > COVE_SCHEMA_MAX_WS)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "max_ws must be 0..%d",
                              COVE_SCHEMA_MAX_WS);
    return COVE_OK;
}

static cove_status finish(sg *g, const char *root_name, char **gbnf_out)
{
    struct cove_buf full;
    cove_buf_init(&full, COVE_SCHEMA_MAX_GBNF);
    cove_status st = cove_buf_appendf(&full, "root ::= %s\n", root_name);
    if (!st)
        st = cove_buf_append(&full, g->out.data, g->out.len);
    cove_buf_release(&g->out);
    g->out = full;
    if (!st)
        st = sg_helpers_emit(g);
    if (st) {
        if (!g->err || g->err->status == COVE_OK)
            cove_error_set(g->err, st, "grammar longer than %u bytes", COVE_SCHEMA_MAX_GBNF);
        return st;
    }
    *gbnf_out = cove_buf_detach(&g->out, NULL);
    return *gbnf_out ? COVE_OK : cove_error_set(g->err, COVE_ERR_INTERNAL, "empty grammar");
}

cove_status cove_schema_to_gbnf_json(const json_t *schema, const cove_schema_opts *opts,
                                     char **gbnf_out, cove_error *err)
{
    if (!gbnf_out || !schema)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema and gbnf_out are required");
    *gbnf_out = NULL;
    sg g = {.root = schema, .err = err};
    cove_status st = opts_check(opts, &g.opts, err);
    if (st)
        return st;
    cove_buf_init(&g.out, COVE_SCHEMA_MAX_GBNF);
    g.keep = json_array();
    if (!g.keep)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    char name[SG_NAME_MAX];
    st = sg_schema(&g, schema, "#", name);
    if (!st)
        st = finish(&g, name, gbnf_out);
    cove_buf_release(&g.out);
    cove_free(g.refs);
    json_decref(g.keep);
    return st;
}

cove_status cove_schema_to_gbnf(const char *schema_json, size_t len, const cove_schema_opts *opts,
                                char **gbnf_out, cove_error *err)
{
    if (!gbnf_out || !schema_json)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema text and gbnf_out are required");
    *gbnf_out = NULL;
    if (len > COVE_SCHEMA_MAX_BYTES)
        return cove_error_set(err, COVE_ERR_LIMIT, "schema longer than %u bytes",
                              COVE_SCHEMA_MAX_BYTES);
    json_error_t je;
    json_t *s = json_loadb(schema_json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!s)
        return cove_error_set(err, COVE_ERR_FORMAT, "schema is not JSON: %s (line %d, column %d)",
                              je.text, je.line, je.column);
    cove_status st = cove_schema_to_gbnf_json(s, opts, gbnf_out, err);
    json_decref(s);
    return st;
}

cove_status cove_schema_any_json_gbnf(const cove_schema_opts *opts, char **gbnf_out,
                                      cove_error *err)
{
    json_t *t = json_true();
    cove_status st = cove_schema_to_gbnf_json(t, opts, gbnf_out, err);
    json_decref(t);
    return st;
}
