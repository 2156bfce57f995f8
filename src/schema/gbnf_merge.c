/*
 * schema/gbnf_merge.c - one schema equal to the conjunction of two, for allOf (and for
 * the keywords beside an anyOf/oneOf or a $ref, merged into each branch/target).
 *
 * Merging is keyword by keyword: types intersect, required lists join, properties
 * merge recursively (a side with additionalProperties false drops the other side's
 * extra properties), lower bounds take the larger and upper bounds the smaller value,
 * enums intersect, allOf lists join. Two different values of any other keyword cannot
 * be merged exactly: COVE_ERR_UNSUPPORTED naming the keyword.
 */
#include <string.h>

#include "base/limits.h"
#include "schema_int.h"

static const char *const lower_kw[] = {"minimum", "exclusiveMinimum", "minLength", "minItems", NULL};
static const char *const upper_kw[] = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", NULL};

static int in(const char *const *list, const char *k)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], k) == 0)
            return 1;
    return 0;
}

static cove_status nomem(sg *g)
{
    return cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
}

static json_t *type_list(const json_t *t)
{
    json_t *l = json_is_array(t) ? json_copy((json_t *)t) : json_array();
    if (l && json_is_string(t))
        json_array_append(l, (json_t *)t);
    return l;
}

static int has_type(const json_t *l, const char *name)
{
    size_t i;
    const json_t *v;
    json_array_foreach(l, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return 1;
    return 0;
}

static cove_status merge_type(sg *g, json_t *m, const json_t *a, const json_t *b, const char *ptr)
{
    json_t *la = type_list(a), *lb = type_list(b), *r = json_array();
    cove_status st = (!la || !lb || !r) ? nomem(g) : COVE_OK;
    size_t i;
    const json_t *v;
    json_array_foreach(la, i, v) {
        if (st || !json_is_string(v))
            continue;
        const char *t = json_string_value(v);
        if (has_type(lb, t) || (strcmp(t, "integer") == 0 && has_type(lb, "number")))
            json_array_append(r, (json_t *)v);
        else if (strcmp(t, "number") == 0 && has_type(lb, "integer"))
            json_array_append_new(r, json_string("integer"));
    }
    if (!st && json_array_size(r) == 0)
        st = sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "allOf: the 'type' values do not intersect");
    if (!st)
        json_object_set(m, "type", r);
    json_decref(la), json_decref(lb), json_decref(r);
    return st;
}

static cove_status merge_required(sg *g, json_t *m, const json_t *a, const json_t *b)
{
    json_t *r = json_copy((json_t *)a);
    if (!r)
        return nomem(g);
    size_t i, j;
    const json_t *v, *w;
    json_array_foreach(b, i, v) {
        int found = 0;
        json_array_foreach(r, j, w)
            found |= json_equal((json_t *)v, (json_t *)w);
        if (!found)
            json_array_append(r, (json_t *)v);
    }
    json_object_set_new(m, "required", r);
    return COVE_OK;
}

/* Drop from props those not declared in `owner` when owner forbids additional ones. */
static cove_status drop_undeclared(sg *g, json_t *props, const json_t *owner, const json_t *req,
                                   const char *ptr)
{
    if (!json_is_false(json_object_get(owner, "additionalProperties")))
        return COVE_OK;
    const json_t *decl = json_object_get(owner, "properties");
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(props, tmp, k, v) {
        if (json_object_get(decl, k))
            continue;
        size_t i;
        const json_t *r;
        json_array_foreach(req, i, r)
            if (json_is_string(r) && strcmp(json_string_value(r), k) == 0)
                return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr,
                               "allOf: required property '%.40s' is forbidden by the other side", k);
        json_object_del(props, k);
    }
    return COVE_OK;
}

static cove_status merge_props(sg *g, json_t *m, const json_t *a, const json_t *b, const char *ptr)
{
    const json_t *pa = json_object_get(a, "properties"), *pb = json_object_get(b, "properties");
    json_t *r = pa ? json_copy((json_t *)pa) : json_object();
    if (!r)
        return nomem(g);
    const char *k;
    json_t *v;
    cove_status st = COVE_OK;
    json_object_foreach((json_t *)pb, k, v) {
        const json_t *old = json_object_get(r, k);
        if (!old) {
            json_object_set(r, k, v);
            continue;
        }
        json_t *mm = NULL;
        if ((st = sg_merge(g, old, v, ptr, &mm)) != COVE_OK)
            break;
        json_object_set_new(r, k, mm);
    }
    const json_t *req = json_object_get(m, "required");
    if (!st)
        st = drop_undeclared(g, r, a, req, ptr);
    if (!st)
        st = drop_undeclared(g, r, b, req, ptr);
    if (!st)
        json_object_set(m, "properties", r);
    json_decref(r);
    return st;
}

static cove_status merge_key(sg *g, json_t *m, const json_t *a, const json_t *b, const char *k,
                             const json_t *va, const json_t *vb, const char *ptr)
{
    if (in(lower_kw, k) || in(upper_kw, k)) {
        if (!json_is_number(va) || !json_is_number(vb))
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "allOf: keyword '%s' differs", k);
        double x = json_number_value(va), y = json_number_value(vb);
        int pick_b = in(lower_kw, k) ? y > x : y < x;
        json_object_set(m, k, (json_t *)(pick_b ? vb : va));
        return COVE_OK;
    }
    if (strcmp(k, "type") == 0)
        return merge_type(g, m, va, vb, ptr);
    if (strcmp(k, "required") == 0 && json_is_array(va) && json_is_array(vb))
        return merge_required(g, m, va, vb);
    if (strcmp(k, "properties") == 0)
        return COVE_OK; /* merge_props, after required */
    if (strcmp(k, "allOf") == 0 && json_is_array(va) && json_is_array(vb)) {
        json_t *r = json_copy((json_t *)va);
        if (!r || json_array_extend(r, (json_t *)vb) != 0)
            return json_decref(r), nomem(g);
        return json_object_set_new(m, k, r) ? nomem(g) : COVE_OK;
    }
    if (strcmp(k, "enum") == 0 && json_is_array(va) && json_is_array(vb)) {
        json_t *r = json_array();
        size_t i, j;
        const json_t *x, *y;
        json_array_foreach(va, i, x)
            json_array_foreach(vb, j, y)
                if (json_equal((json_t *)x, (json_t *)y)) {
                    json_array_append(r, (json_t *)x);
                    break;
                }
        return json_object_set_new(m, k, r) ? nomem(g) : COVE_OK;
    }
    if (strcmp(k, "additionalProperties") == 0 || strcmp(k, "items") == 0) {
        json_t *r = NULL;
        cove_status st = (json_is_false(va) || json_is_false(vb))
                             ? (r = json_false(), COVE_OK)
                             : sg_merge(g, va, vb, ptr, &r);
        if (!st)
            json_object_set_new(m, k, r);
        return st;
    }
    (void)a, (void)b;
    return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr,
                   "allOf: keyword '%s' has different values on two sides", k);
}

cove_status sg_merge(sg *g, const json_t *a, const json_t *b, const char *ptr, json_t **out)
{
    *out = NULL;
    if (!a || !b)
        return nomem(g);
    if (json_is_false(a) || json_is_false(b))
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "allOf with schema 'false' allows no document");
    if (json_is_true(b) || json_is_true(a)) {
        *out = json_copy((json_t *)(json_is_true(b) ? a : b));
        return *out ? COVE_OK : nomem(g);
    }
    if (!json_is_object(a) || !json_is_object(b))
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "a schema must be an object or a boolean");
    if (g->depth >= COVE_SCHEMA_MAX_DEPTH)
        return sg_fail(g, COVE_ERR_LIMIT, ptr, "schema nested deeper than %d", COVE_SCHEMA_MAX_DEPTH);
    json_t *m = json_copy((json_t *)a);
    if (!m)
        return nomem(g);
    g->depth++;
    cove_status st = COVE_OK;
    const char *k;
    json_t *vb;
    json_object_foreach((json_t *)b, k, vb) {
        const json_t *va = json_object_get(a, k);
        if (!va)
            st = json_object_set(m, k, vb) ? nomem(g) : COVE_OK;
        else if (!json_equal((json_t *)va, vb))
            st = merge_key(g, m, a, b, k, va, vb, ptr);
        if (st)
            break;
    }
    if (!st && (json_object_get(a, "properties") || json_object_get(b, "properties")))
        st = merge_props(g, m, a, b, ptr);
    g->depth--;
    if (st) {
        json_decref(m);
        return st;
    }
    *out = m;
    return COVE_OK;
}
