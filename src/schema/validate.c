/*
 * schema/validate.c - a JSON Schema validator (draft 2020-12, with the draft-7
 * spellings), walking schema and instance with jansson.
 *
 * v_schema() returns COVE_OK (valid), COVE_ERR_FORMAT (invalid, err->msg says where
 * and why) or another status for a broken schema or a bound passed. Branches of
 * anyOf/oneOf/not/if are tried with a scratch error record, so only the failure that
 * decides is reported. The walk is bounded in depth and in total subschema visits.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "schema_int.h"
#include "validate_int.h"

#define V_DEPTH_MAX 256 /* nested subschema applications (instance depth and $ref chains) */
#define V_PTR_MAX 256

typedef struct vc {
    const json_t *root;
    unsigned long steps;
    int depth;
} vc;

static cove_status v_schema(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err);

static cove_status invalid(cove_error *err, const char *ip, const char *kw, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static cove_status invalid(cove_error *err, const char *ip, const char *kw, const char *fmt, ...)
{
    char why[COVE_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return cove_error_set(err, COVE_ERR_FORMAT, "%s: '%s': %s", *ip ? ip : "(root)", kw, why);
}

static cove_status bad_schema(cove_error *err, const char *kw)
{
    return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema: keyword '%s' has a value of the wrong type", kw);
}

static void ip_key(char *out, const char *ip, const char *key)
{
    size_t n = (size_t)snprintf(out, V_PTR_MAX, "%s/", ip);
    for (const char *p = key; *p && n + 3 < V_PTR_MAX; p++) {
        if (*p == '~' || *p == '/') {
            out[n++] = '~';
            out[n++] = *p == '~' ? '0' : '1';
        } else {
            out[n++] = *p;
        }
    }
    out[n < V_PTR_MAX ? n : V_PTR_MAX - 1] = '\0';
}

static void ip_idx(char *out, const char *ip, size_t i)
{
    snprintf(out, V_PTR_MAX, "%s/%zu", ip, i);
}

/* ---- equality and types --------------------------------------------------------- */

static int v_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!v_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            const json_t *w = json_object_get(b, k);
            if (!w || !v_equal(v, w))
                return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static int is_type(const json_t *x, const char *t)
{
    if (strcmp(t, "integer") == 0)
        return json_is_integer(x) || (json_is_real(x) && json_real_value(x) == floor(json_real_value(x)) &&
                                      isfinite(json_real_value(x)));
    if (strcmp(t, "number") == 0)
        return json_is_number(x);
    if (strcmp(t, "string") == 0)
        return json_is_string(x);
    if (strcmp(t, "object") == 0)
        return json_is_object(x);
    if (strcmp(t, "array") == 0)
        return json_is_array(x);
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(x);
    if (strcmp(t, "null") == 0)
        return json_is_null(x);
    return -1;
}

static const char *type_name(const json_t *x)
{
    static const char *const names[] = {"object", "array", "string", "integer", "number",
                                        "boolean", "boolean", "null"};
    return names[json_typeof(x)];
}

static cove_status k_type(const json_t *t, const json_t *x, const char *ip, cove_error *err)
{
    if (json_is_string(t)) {
        int r = is_type(x, json_string_value(t));
        if (r < 0)
            return bad_schema(err, "type");
        return r ? COVE_OK : invalid(err, ip, "type", "expected %s, got %s", json_string_value(t), type_name(x));
    }
    if (!json_is_array(t))
        return bad_schema(err, "type");
    size_t i;
    const json_t *v;
    json_array_foreach(t, i, v) {
        int r = json_is_string(v) ? is_type(x, json_string_value(v)) : -1;
        if (r < 0)
            return bad_schema(err, "type");
        if (r)
            return COVE_OK;
    }
    return invalid(err, ip, "type", "%s is not one of the allowed types", type_name(x));
}

/* ---- numbers -------------------------------------------------------------------------- */

static cove_status k_numbers(const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    if (!json_is_number(x))
        return COVE_OK;
    double d = json_number_value(x);
    static const char *const kws[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
    for (int i = 0; i < 4; i++) {
        const json_t *b = json_object_get(s, kws[i]);
        if (!b || (i >= 2 && json_is_boolean(b)))
            continue;
        if (!json_is_number(b))
            return bad_schema(err, kws[i]);
        double v = json_number_value(b);
        int lower = i % 2 == 0;
        int excl = i >= 2 || json_is_true(json_object_get(s, lower ? "exclusiveMinimum" : "exclusiveMaximum"));
        int ok = lower ? (excl ? d > v : d >= v) : (excl ? d < v : d <= v);
        if (!ok)
            return invalid(err, ip, kws[i], "%.17g is %s %.17g", d,
                           lower ? (excl ? "not greater than" : "less than")
                                 : (excl ? "not less than" : "greater than"), v);
    }
    const json_t *m = json_object_get(s, "multipleOf");
    if (m) {
        if (!json_is_number(m) || json_number_value(m) <= 0)
            return bad_schema(err, "multipleOf");
        int ok;
        if (json_is_integer(x) && json_is_integer(m)) {
            ok = json_integer_value(x) % json_integer_value(m) == 0;
        } else {
            double q = d / json_number_value(m);
            ok = isfinite(q) && q == floor(q);
        }
        if (!ok)
            return invalid(err, ip, "multipleOf", "%.17g is not a multiple of %.17g", d, json_number_value(m));
    }
    return COVE_OK;
}

/* ---- strings -------------------------------------------------------------------------- */

static size_t cp_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static cove_status k_strings(const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    if (!json_is_string(x))
        return COVE_OK;
    const char *str = json_string_value(x);
    size_t n = json_string_length(x), len = cp_count(str, n);
    const json_t *lo = json_object_get(s, "minLength"), *hi = json_object_get(s, "maxLength");
    if (lo && !json_is_number(lo))
        return bad_schema(err, "minLength");
    if (hi && !json_is_number(hi))
        return bad_schema(err, "maxLength");
    if (lo && (double)len < json_number_value(lo))
        return invalid(err, ip, "minLength", "%zu characters, fewer than %.0f", len, json_number_value(lo));
    if (hi && (double)len > json_number_value(hi))
        return invalid(err, ip, "maxLength", "%zu characters, more than %.0f", len, json_number_value(hi));
    const json_t *pat = json_object_get(s, "pattern");
    if (pat) {
        if (!json_is_string(pat))
            return bad_schema(err, "pattern");
        int match = 0;
        cove_status st = memchr(str, '\0', n) ? COVE_OK : vs_pattern_search(json_string_value(pat), str, &match, err);
        if (st)
            return st;
        if (!match)
            return invalid(err, ip, "pattern", "does not match '%.80s'", json_string_value(pat));
    }
    const json_t *f = json_object_get(s, "format");
    if (json_is_string(f) && vs_format_check(json_string_value(f), str, n) == 0)
        return invalid(err, ip, "format", "not a valid %s", json_string_value(f));
    return COVE_OK;
}

/* ---- arrays --------------------------------------------------------------------------- */

static cove_status k_items(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    const json_t *pi = json_object_get(s, "prefixItems"), *it = json_object_get(s, "items");
    const json_t *prefix = json_is_array(pi) ? pi : json_is_array(it) ? it : NULL;
    const json_t *rest = json_is_array(pi) ? it : json_is_array(it) ? json_object_get(s, "additionalItems") : it;
    size_t n = json_array_size(x), k = json_array_size(prefix);
    char cp[V_PTR_MAX];
    for (size_t i = 0; i < n; i++) {
        const json_t *sub = i < k ? json_array_get(prefix, i) : rest;
        if (!sub)
            continue;
        ip_idx(cp, ip, i);
        if (json_is_false(sub))
            return invalid(err, cp, i < k ? "prefixItems" : "items", "no item allowed at this index");
        cove_status st = v_schema(c, sub, json_array_get(x, i), cp, err);
        if (st)
            return st;
    }
    return COVE_OK;
}

static cove_status k_arrays(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    if (!json_is_array(x))
        return COVE_OK;
    size_t n = json_array_size(x);
    const json_t *lo = json_object_get(s, "minItems"), *hi = json_object_get(s, "maxItems");
    if (lo && (double)n < json_number_value(lo))
        return invalid(err, ip, "minItems", "%zu items, fewer than %.0f", n, json_number_value(lo));
    if (hi && (double)n > json_number_value(hi))
        return invalid(err, ip, "maxItems", "%zu items, more than %.0f", n, json_number_value(hi));
    if (json_is_true(json_object_get(s, "uniqueItems")))
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (v_equal(json_array_get(x, i), json_array_get(x, j)))
                    return invalid(err, ip, "uniqueItems", "items %zu and %zu are equal", i, j);
    cove_status st = k_items(c, s, x, ip, err);
    const json_t *con = json_object_get(s, "contains");
    if (st || !con)
        return st;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        cove_error scratch = {0};
        st = v_schema(c, con, json_array_get(x, i), ip, &scratch);
        if (st && st != COVE_ERR_FORMAT)
            return cove_error_set(err, st, "%s", scratch.msg);
        hits += st == COVE_OK;
    }
    const json_t *mi = json_object_get(s, "minContains"), *ma = json_object_get(s, "maxContains");
    double need = mi ? json_number_value(mi) : 1;
    if ((double)hits < need)
        return invalid(err, ip, "contains", "%zu matching items, fewer than %.0f", hits, need);
    if (ma && (double)hits > json_number_value(ma))
        return invalid(err, ip, "maxContains", "%zu matching items, more than %.0f", hits, json_number_value(ma));
    return COVE_OK;
}

/* ---- objects -------------------------------------------------------------------------- */

/* 1 when key is declared in properties or matches a patternProperties pattern. */
static cove_status key_known(const json_t *s, const char *key, int *known, cove_error *err)
{
    *known = json_object_get(json_object_get(s, "properties"), key) != NULL;
    const char *pk;
    const json_t *ps;
    json_object_foreach(json_object_get(s, "patternProperties"), pk, ps) {
        int m = 0;
        cove_status st = *known ? COVE_OK : vs_pattern_search(pk, key, &m, err);
        if (st)
            return st;
        *known |= m;
    }
    return COVE_OK;
}

static cove_status k_prop_values(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    const json_t *props = json_object_get(s, "properties"), *ap = json_object_get(s, "additionalProperties");
    const json_t *pp = json_object_get(s, "patternProperties"), *pn = json_object_get(s, "propertyNames");
    const char *k;
    const json_t *v;
    char cp[V_PTR_MAX];
    json_object_foreach((json_t *)x, k, v) {
        ip_key(cp, ip, k);
        const json_t *ps = json_object_get(props, k);
        cove_status st = ps ? v_schema(c, ps, v, cp, err) : COVE_OK;
        const char *pk;
        const json_t *pv;
        json_object_foreach((json_t *)pp, pk, pv) {
            int m = 0;
            if (!st)
                st = vs_pattern_search(pk, k, &m, err);
            if (!st && m)
                st = v_schema(c, pv, v, cp, err);
        }
        if (!st && pn) {
            json_t *name = json_string(k);
            st = name ? v_schema(c, pn, name, cp, err) : COVE_ERR_NOMEM;
            json_decref(name);
        }
        int known = 1;
        if (!st && ap)
            st = key_known(s, k, &known, err);
        if (!st && !known)
            st = json_is_false(ap) ? invalid(err, cp, "additionalProperties", "property '%.60s' is not allowed", k)
                                   : v_schema(c, ap, v, cp, err);
        if (st)
            return st;
    }
    return COVE_OK;
}

static cove_status k_objects(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    if (!json_is_object(x))
        return COVE_OK;
    const json_t *req = json_object_get(s, "required");
    size_t i;
    const json_t *r;
    if (req && !json_is_array(req))
        return bad_schema(err, "required");
    json_array_foreach(req, i, r)
        if (json_is_string(r) && !json_object_get(x, json_string_value(r)))
            return invalid(err, ip, "required", "property '%.60s' is missing", json_string_value(r));
    size_t n = json_object_size(x);
    const json_t *lo = json_object_get(s, "minProperties"), *hi = json_object_get(s, "maxProperties");
    if (lo && (double)n < json_number_value(lo))
        return invalid(err, ip, "minProperties", "%zu properties, fewer than %.0f", n, json_number_value(lo));
    if (hi && (double)n > json_number_value(hi))
        return invalid(err, ip, "maxProperties", "%zu properties, more than %.0f", n, json_number_value(hi));
    const char *k;
    const json_t *dep;
    json_object_foreach(json_object_get(s, "dependentRequired"), k, dep) {
        if (!json_object_get(x, k))
            continue;
        json_array_foreach(dep, i, r)
            if (json_is_string(r) && !json_object_get(x, json_string_value(r)))
                return invalid(err, ip, "dependentRequired", "'%.40s' needs '%.40s'", k, json_string_value(r));
    }
    json_object_foreach(json_object_get(s, "dependentSchemas"), k, dep) {
        cove_status st = json_object_get(x, k) ? v_schema(c, dep, x, ip, err) : COVE_OK;
        if (st)
            return st;
    }
    return k_prop_values(c, s, x, ip, err);
}

/* ---- combinators ------------------------------------------------------------------------ */

static cove_status try_branch(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err,
                              cove_error *scratch)
{
    cove_error_clear(scratch);
    cove_status st = v_schema(c, s, x, ip, scratch);
    if (st && st != COVE_ERR_FORMAT)
        cove_error_set(err, st, "%s", scratch->msg);
    return st;
}

static cove_status k_combinators(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    const json_t *all = json_object_get(s, "allOf"), *any = json_object_get(s, "anyOf");
    const json_t *one = json_object_get(s, "oneOf"), *no = json_object_get(s, "not");
    size_t i;
    const json_t *b;
    cove_error scratch;
    json_array_foreach(all, i, b) {
        cove_status st = v_schema(c, b, x, ip, err);
        if (st)
            return st;
    }
    if (any) {
        if (!json_is_array(any))
            return bad_schema(err, "anyOf");
        cove_error first = {0};
        json_array_foreach(any, i, b) {
            cove_status st = try_branch(c, b, x, ip, err, &scratch);
            if (st == COVE_OK)
                break;
            if (st != COVE_ERR_FORMAT)
                return st;
            if (i == 0)
                first = scratch;
        }
        if (i == json_array_size(any))
            return invalid(err, ip, "anyOf", "no branch matches (first: %.150s)", first.msg);
    }
    if (one) {
        if (!json_is_array(one))
            return bad_schema(err, "oneOf");
        size_t hits = 0;
        json_array_foreach(one, i, b) {
            cove_status st = try_branch(c, b, x, ip, err, &scratch);
            if (st && st != COVE_ERR_FORMAT)
                return st;
            hits += st == COVE_OK;
        }
        if (hits != 1)
            return invalid(err, ip, "oneOf", "%zu branches match, not exactly one", hits);
    }
    if (no) {
        cove_status st = try_branch(c, no, x, ip, err, &scratch);
        if (st == COVE_OK)
            return invalid(err, ip, "not", "the instance matches the 'not' schema");
        if (st != COVE_ERR_FORMAT)
            return st;
    }
    const json_t *cond = json_object_get(s, "if");
    if (cond) {
        cove_status st = try_branch(c, cond, x, ip, err, &scratch);
        if (st && st != COVE_ERR_FORMAT)
            return st;
        const json_t *then = json_object_get(s, st == COVE_OK ? "then" : "else");
        if (then)
            return v_schema(c, then, x, ip, err);
    }
    return COVE_OK;
}

/* ---- $ref and the walk ------------------------------------------------------------------- */

static const json_t *v_resolve(const json_t *root, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    const json_t *cur = root;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        char tok[512];
        size_t o = 0;
        for (p++; *p && *p != '/' && o + 1 < sizeof tok; p++) {
            if (*p == '~' && (p[1] == '0' || p[1] == '1'))
                tok[o++] = *++p == '0' ? '~' : '/';
            else
                tok[o++] = *p;
        }
        tok[o] = '\0';
        if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            cur = (*tok && !*end) ? json_array_get(cur, idx) : NULL;
        } else {
            cur = json_object_get(cur, tok);
        }
    }
    return *p ? NULL : cur;
}

static cove_status v_keywords(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    const json_t *ref = json_object_get(s, "$ref");
    cove_status st = COVE_OK;
    if (ref) {
        const json_t *t = json_is_string(ref) ? v_resolve(c->root, json_string_value(ref)) : NULL;
        if (!t)
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema: $ref '%.80s' does not resolve",
                                  json_is_string(ref) ? json_string_value(ref) : "?");
        if ((st = v_schema(c, t, x, ip, err)) != COVE_OK)
            return st;
    }
    const json_t *t = json_object_get(s, "type");
    if (t && (st = k_type(t, x, ip, err)) != COVE_OK)
        return st;
    const json_t *cst = json_object_get(s, "const"), *en = json_object_get(s, "enum");
    if (cst && !v_equal(cst, x))
        return invalid(err, ip, "const", "the value differs from the constant");
    if (en) {
        size_t i;
        const json_t *v;
        int found = 0;
        if (!json_is_array(en))
            return bad_schema(err, "enum");
        json_array_foreach(en, i, v)
            found |= v_equal(v, x);
        if (!found)
            return invalid(err, ip, "enum", "the value is not one of the %zu allowed", json_array_size(en));
    }
    if ((st = k_numbers(s, x, ip, err)) || (st = k_strings(s, x, ip, err)) ||
        (st = k_arrays(c, s, x, ip, err)) || (st = k_objects(c, s, x, ip, err)))
        return st;
    return k_combinators(c, s, x, ip, err);
}

static cove_status v_schema(vc *c, const json_t *s, const json_t *x, const char *ip, cove_error *err)
{
    if (json_is_true(s))
        return COVE_OK;
    if (json_is_false(s))
        return invalid(err, ip, "false", "the schema allows nothing here");
    if (!json_is_object(s))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema: a schema must be an object or a boolean");
    if (++c->steps > COVE_SCHEMA_MAX_VALIDATE_STEPS)
        return cove_error_set(err, COVE_ERR_LIMIT, "validation took more than %u steps",
                              COVE_SCHEMA_MAX_VALIDATE_STEPS);
    if (c->depth >= V_DEPTH_MAX)
        return cove_error_set(err, COVE_ERR_LIMIT, "schema applied deeper than %d levels", V_DEPTH_MAX);
    c->depth++;
    cove_status st = v_keywords(c, s, x, ip, err);
    c->depth--;
    return st;
}

cove_status cove_schema_validate_in(const json_t *root, const json_t *s, const json_t *instance,
                                    cove_error *err)
{
    if (!root || !s || !instance)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema and instance are required");
    vc c = {.root = root};
    cove_status st = v_schema(&c, s, instance, "", err);
    if (st == COVE_OK)
        cove_error_clear(err);
    return st;
}

cove_status cove_schema_validate(const json_t *schema, const json_t *instance, cove_error *err)
{
    return cove_schema_validate_in(schema, schema, instance, err);
}

cove_status cove_schema_validate_text(const char *schema_json, size_t schema_len,
                                      const char *instance_json, size_t instance_len,
                                      cove_error *err)
{
    if (!schema_json || !instance_json)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema and instance are required");
    if (schema_len > COVE_SCHEMA_MAX_BYTES || instance_len > COVE_SCHEMA_MAX_BYTES)
        return cove_error_set(err, COVE_ERR_LIMIT, "schema or instance longer than %u bytes",
                              COVE_SCHEMA_MAX_BYTES);
    json_error_t je;
    json_t *s = json_loadb(schema_json, schema_len, JSON_DECODE_ANY, &je);
    if (!s)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "schema is not JSON: %s (line %d, column %d)",
                              je.text, je.line, je.column);
    json_t *x = json_loadb(instance_json, instance_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    cove_status st;
    if (!x)
        st = cove_error_set(err, COVE_ERR_FORMAT, "document is not JSON: %s (line %d, column %d)",
                            je.text, je.line, je.column);
    else
        st = cove_schema_validate(s, x, err);
    json_decref(x);
    json_decref(s);
    return st;
}
