/*
 * schema/gbnf_object.c - object schemas (properties, required, additionalProperties)
 * and array schemas (items, prefixItems, additionalItems, minItems, maxItems).
 *
 * Objects: the declared properties in schema order, each required one present, each
 * optional one present or not, with commas only between present ones. With n declared
 * properties this is 2n rules: after_i (what may follow once something was written,
 * from property i on) and first_i (the first written property is i or a later one):
 *   after_i ::= ("," kv_i)? after_{i+1}          (kv_i required: without the ?)
 *   first_i ::= kv_i after_{i+1} | first_{i+1}   (kv_i required: the first part only)
 * Additional properties, where allowed, come after the declared ones; their keys are
 * strings that differ from every declared name (a trie complement), written without
 * escapes.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "schema_int.h"

typedef struct oprop {
    const char *key;
    const json_t *schema; /* NULL: any value (a required name without a property schema) */
    int required;
    char vname[SG_NAME_MAX];
} oprop;

/* ---- keys of additional properties: any string but the declared names ---------------- */

static int utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
}

static int plain_key(const char *k)
{
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\')
            return 0;
    return strlen(k) <= 256;
}

/* Rule for the key texts (no quotes) that are not among keys[0..n) (sorted, sharing the
   first d bytes). */
static cove_status key_trie(sg *g, const char **keys, size_t n, size_t d, char *name)
{
    struct cove_buf b;
    cove_buf_init(&b, COVE_SCHEMA_MAX_GBNF);
    cove_status st = COVE_OK;
    int word = 0;
    size_t i = 0;
    while (i < n && strlen(keys[i]) == d)
        word = 1, i++;
    struct cove_buf excl;
    cove_buf_init(&excl, COVE_SCHEMA_MAX_GBNF);
    int alts = 0;
    while (i < n && !st) { /* one child per distinct next character */
        int cl = utf8_len((unsigned char)keys[i][d]);
        size_t j = i;
        while (j < n && strncmp(keys[j] + d, keys[i] + d, (size_t)cl) == 0)
            j++;
        char child[SG_NAME_MAX];
        st = key_trie(g, keys + i, j - i, d + (size_t)cl, child);
        if (!st)
            st = cove_buf_appendf(&excl, "%.*s", cl, keys[i] + d);
        if (!st)
            st = cove_buf_append_str(&b, alts++ ? "| " : "");
        if (!st)
            st = sg_literal(&b, keys[i] + d, (size_t)cl);
        if (!st)
            st = cove_buf_appendf(&b, "%s ", child);
        i = j;
    }
    if (!st) {
        g->helpers |= SG_H_KCHAR;
        st = cove_buf_appendf(&b, "%s[^\"\\\\\\x00-\\x1F", alts++ ? "| " : "");
        for (size_t k = 0; !st && k < excl.len; k++) { /* escape class specials */
            char c = excl.data[k];
            st = (c == ']' || c == '-' || c == '^' || c == '[')
                     ? cove_buf_appendf(&b, "\\x%02X", (unsigned char)c)
                     : cove_buf_append_byte(&b, (unsigned char)c);
        }
        if (!st)
            st = cove_buf_append_str(&b, "] kchar* ");
    }
    if (!st && !word) { /* the prefix itself is not a declared name: it may end here */
        struct cove_buf w;
        cove_buf_init(&w, COVE_SCHEMA_MAX_GBNF);
        st = cove_buf_appendf(&w, "(%s)?", b.data);
        if (!st)
            st = sg_rule_new(g, w.data, name);
        cove_buf_release(&w);
    } else if (!st) {
        st = sg_rule_new(g, b.data, name);
    }
    cove_buf_release(&b);
    cove_buf_release(&excl);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* `"key" ws ":" ws VALUE` of an additional property into e. */
static cove_status extra_kv(sg *g, const oprop *p, size_t n, const char *vname, struct cove_buf *e)
{
    const char *keys[COVE_SCHEMA_MAX_PROPS];
    size_t nk = 0;
    for (size_t i = 0; i < n; i++)
        if (plain_key(p[i].key))
            keys[nk++] = p[i].key;
    cove_status st;
    if (n == 0) {
        st = sg_helper(g, e, SG_H_STRING);
    } else {
        char kname[SG_NAME_MAX];
        qsort(keys, nk, sizeof keys[0], cmp_str);
        st = key_trie(g, keys, nk, 0, kname);
        if (!st)
            st = cove_buf_appendf(e, "\"\\\"\" %s \"\\\"\" ", kname);
    }
    if (!st)
        st = sg_ws(g, e);
    if (!st)
        st = cove_buf_append_str(e, "\":\"");
    if (!st)
        st = sg_ws(g, e);
    return st ? st : cove_buf_appendf(e, "%s ", vname);
}

/* ---- objects ---------------------------------------------------------------------- */

static cove_status key_value(sg *g, const oprop *p, struct cove_buf *e)
{
    json_t *k = json_string(p->key);
    char *txt = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
    json_decref(k);
    if (!txt)
        return COVE_ERR_NOMEM;
    cove_status st = sg_literal(e, txt, strlen(txt));
    free(txt);
    if (!st)
        st = sg_ws(g, e);
    if (!st)
        st = cove_buf_append_str(e, "\":\"");
    if (!st)
        st = sg_ws(g, e);
    return st ? st : cove_buf_appendf(e, "%s ", p->vname);
}

static cove_status sep(sg *g, struct cove_buf *e)
{
    cove_status st = sg_ws(g, e);
    st = st ? st : cove_buf_append_str(e, "\",\"");
    return st ? st : sg_ws(g, e);
}

/* Collect declared properties (schema order), then required names without a schema. */
static cove_status collect(sg *g, const json_t *s, const char *ptr, oprop *p, size_t *n)
{
    const json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
    if (props && !json_is_object(props))
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'properties' must be an object");
    if (req && !json_is_array(req))
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'required' must be an array");
    if (json_object_size(props) + json_array_size(req) > COVE_SCHEMA_MAX_PROPS)
        return sg_fail(g, COVE_ERR_LIMIT, ptr, "more than %d properties", COVE_SCHEMA_MAX_PROPS);
    *n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)props, k, v)
        p[(*n)++] = (oprop){.key = k, .schema = v};
    size_t i;
    json_array_foreach(req, i, v) {
        if (!json_is_string(v))
            return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'required' must hold strings");
        size_t j = 0;
        while (j < *n && strcmp(p[j].key, json_string_value(v)) != 0)
            j++;
        if (j == *n)
            p[(*n)++] = (oprop){.key = json_string_value(v), .schema = NULL};
        p[j].required = 1;
    }
    for (i = 0; i < *n; i++) {
        char pp[SG_PTR_MAX], pp2[SG_PTR_MAX];
        sg_ptr_join(pp, ptr, "properties");
        sg_ptr_join(pp2, pp, p[i].key);
        const json_t *sub = p[i].schema ? p[i].schema : json_object_get(s, "additionalProperties");
        if (json_is_false(sub))
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "keyword 'additionalProperties' false "
                           "forbids the required property '%.40s'", p[i].key);
        cove_status st = sg_schema(g, sub ? sub : json_true(), pp2, p[i].vname);
        if (st)
            return st;
    }
    return COVE_OK;
}

/* The value rule of additional properties, or "" when none are allowed. */
static cove_status extras_rule(sg *g, const json_t *s, const char *ptr, char *name)
{
    const json_t *a = json_object_get(s, "additionalProperties");
    name[0] = '\0';
    if (!a) { /* a free-form object (nothing declared) takes any properties */
        int free_form = !json_object_get(s, "properties") && !json_object_get(s, "required");
        return g->opts.allow_extra_props || free_form ? sg_schema(g, json_true(), ptr, name) : COVE_OK;
    }
    if (json_is_false(a))
        return COVE_OK;
    char ap[SG_PTR_MAX];
    sg_ptr_join(ap, ptr, "additionalProperties");
    return sg_schema(g, a, ap, name);
}

/* after_{n+1} ::= ("," extra)*  and  first_{n+1} ::= extra after_{n+1} */
static cove_status extras_rules(sg *g, const oprop *p, size_t n, const char *xname, char *after,
                                char *first)
{
    struct cove_buf kv, b;
    cove_buf_init(&kv, COVE_SCHEMA_MAX_GBNF);
    cove_buf_init(&b, COVE_SCHEMA_MAX_GBNF);
    cove_status st = extra_kv(g, p, n, xname, &kv);
    if (!st)
        st = cove_buf_append_str(&b, "(");
    if (!st)
        st = sep(g, &b);
    if (!st)
        st = cove_buf_appendf(&b, "%s)*", kv.data);
    if (!st)
        st = sg_rule_new(g, b.data, after);
    cove_buf_reset(&b);
    if (!st)
        st = cove_buf_appendf(&b, "%s %s", kv.data, after);
    if (!st)
        st = sg_rule_new(g, b.data, first);
    cove_buf_release(&kv);
    cove_buf_release(&b);
    return st;
}

static cove_status object_rules(sg *g, oprop *p, size_t n, const char *xname, struct cove_buf *e)
{
    char after[SG_NAME_MAX] = "", first[SG_NAME_MAX] = "";
    struct cove_buf b;
    cove_buf_init(&b, COVE_SCHEMA_MAX_GBNF);
    int any_required = 0;
    cove_status st = *xname ? extras_rules(g, p, n, xname, after, first) : COVE_OK;
    for (size_t i = n; i-- > 0 && !st;) {
        any_required |= p[i].required;
        struct cove_buf kv;
        cove_buf_init(&kv, COVE_SCHEMA_MAX_GBNF);
        st = key_value(g, &p[i], &kv);
        char na[SG_NAME_MAX], nf[SG_NAME_MAX];
        cove_buf_reset(&b); /* first_i */
        if (!st)
            st = cove_buf_appendf(&b, "%s %s", kv.data, after);
        if (!st && !p[i].required && *first)
            st = cove_buf_appendf(&b, " | %s", first);
        if (!st)
            st = sg_rule_new(g, b.data, nf);
        cove_buf_reset(&b); /* after_i; nothing refers to after_0 */
        if (!st && i == 0) {
            memcpy(first, nf, sizeof nf);
            cove_buf_release(&kv);
            break;
        }
        if (!st)
            st = cove_buf_append_str(&b, "(");
        if (!st)
            st = sep(g, &b);
        if (!st)
            st = cove_buf_appendf(&b, "%s)%s %s", kv.data, p[i].required ? "" : "?", after);
        if (!st)
            st = sg_rule_new(g, b.data, na);
        memcpy(after, na, sizeof na);
        memcpy(first, nf, sizeof nf);
        cove_buf_release(&kv);
    }
    cove_buf_release(&b);
    if (st)
        return st;
    st = cove_buf_append_str(e, "\"{\"");
    st = st ? st : sg_ws(g, e);
    if (!st && any_required)
        st = cove_buf_appendf(e, "%s", first);
    else if (!st)
        st = cove_buf_appendf(e, "(%s", first);
    st = st ? st : sg_ws(g, e);
    return st ? st : cove_buf_append_str(e, any_required ? "\"}\" " : ")? \"}\" ");
}

cove_status sg_object(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    oprop *p = cove_calloc(COVE_SCHEMA_MAX_PROPS, sizeof *p);
    if (!p)
        return cove_error_set(g->err, COVE_ERR_NOMEM, "out of memory");
    size_t n = 0;
    char xname[SG_NAME_MAX];
    cove_status st = collect(g, s, ptr, p, &n);
    if (!st)
        st = extras_rule(g, s, ptr, xname);
    int all_req = 1;
    for (size_t i = 0; i < n; i++)
        all_req &= p[i].required;
    if (!st && all_req && !*xname) { /* a plain sequence */
        st = cove_buf_append_str(e, "\"{\"");
        st = st ? st : sg_ws(g, e);
        for (size_t i = 0; i < n && !st; i++) {
            if (i)
                st = sep(g, e);
            if (!st)
                st = key_value(g, &p[i], e);
        }
        if (!st && n)
            st = sg_ws(g, e);
        st = st ? st : cove_buf_append_str(e, "\"}\" ");
    } else if (!st) {
        st = object_rules(g, p, n, xname, e);
    }
    cove_free(p);
    return st;
}

/* ---- arrays ------------------------------------------------------------------------ */

static cove_status array_counts(sg *g, const json_t *s, const char *ptr, long *lo, long *hi)
{
    *lo = 0, *hi = -1;
    int a = sg_count_kw(g, s, "minItems", ptr, COVE_SCHEMA_MAX_REPEAT, lo);
    int b = sg_count_kw(g, s, "maxItems", ptr, COVE_SCHEMA_MAX_REPEAT, hi);
    if (a < 0 || b < 0)
        return g->err && g->err->status ? g->err->status : COVE_ERR_INVALID_ARG;
    if (b && *hi < *lo)
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "'maxItems' below 'minItems' allows no array");
    return COVE_OK;
}

/* Prefix schemas and the schema of the rest (NULL: no more items allowed). */
static void array_parts(const json_t *s, const json_t **prefix, const json_t **rest)
{
    const json_t *pi = json_object_get(s, "prefixItems"), *it = json_object_get(s, "items");
    *prefix = NULL;
    *rest = json_true();
    if (json_is_array(pi)) {
        *prefix = pi;
        if (it)
            *rest = it;
    } else if (json_is_array(it)) {
        *prefix = it;
        const json_t *ai = json_object_get(s, "additionalItems");
        if (ai)
            *rest = ai;
    } else if (it) {
        *rest = it;
    }
    if (json_is_false(*rest))
        *rest = NULL;
}

/* The items after `top` prefix items: rlo..rhi (-1: no upper end) more of rname. */
static cove_status array_rest(sg *g, struct cove_buf *b, const char *rname, long top, long rlo,
                              long rhi)
{
    cove_status st = COVE_OK;
    if (top == 0) { /* the first element has no comma before it */
        st = cove_buf_appendf(b, "%s ", rname);
        rlo = rlo ? rlo - 1 : 0, rhi = rhi < 0 ? -1 : rhi - 1;
    }
    if (st || rhi == 0)
        return st;
    st = cove_buf_append_str(b, "(");
    st = st ? st : sep(g, b);
    st = st ? st : cove_buf_appendf(b, "%s)", rname);
    if (!st && rhi < 0)
        st = rlo == 0 ? cove_buf_append_str(b, "* ") : cove_buf_appendf(b, "{%ld,} ", rlo);
    else if (!st)
        st = cove_buf_appendf(b, "{%ld,%ld} ", rlo, rhi);
    return st;
}

cove_status sg_array(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    long lo, hi;
    const json_t *prefix, *rest;
    cove_status st = array_counts(g, s, ptr, &lo, &hi);
    if (st)
        return st;
    array_parts(s, &prefix, &rest);
    long k = (long)json_array_size(prefix);
    if (k > COVE_SCHEMA_MAX_REPEAT)
        return sg_fail(g, COVE_ERR_LIMIT, ptr, "more than %d prefix items", COVE_SCHEMA_MAX_REPEAT);
    if (!rest && lo > k)
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "'minItems' larger than the items allowed");
    long top = hi < 0 ? k : (hi < k ? hi : k); /* prefix items that may appear */
    char rname[SG_NAME_MAX] = "";
    if (rest && (hi < 0 || hi > k)) {
        char rp[SG_PTR_MAX];
        sg_ptr_join(rp, ptr, "items");
        if ((st = sg_schema(g, rest, rp, rname)) != COVE_OK)
            return st;
    }
    struct cove_buf b;
    cove_buf_init(&b, COVE_SCHEMA_MAX_GBNF);
    for (long i = 0; i < top && !st; i++) {
        char pn[SG_NAME_MAX], pp[SG_PTR_MAX];
        sg_ptr_join_idx(pp, ptr, json_object_get(s, "prefixItems") ? "prefixItems" : "items", (size_t)i);
        st = sg_schema(g, json_array_get(prefix, (size_t)i), pp, pn);
        if (!st && i > 0)
            st = i >= lo ? cove_buf_append_str(&b, "(") : COVE_OK;
        if (!st && i > 0)
            st = sep(g, &b);
        if (!st)
            st = cove_buf_appendf(&b, "%s ", pn);
    }
    if (!st && *rname)
        st = array_rest(g, &b, rname, top, lo > top ? lo - top : 0, hi < 0 ? -1 : hi - top);
    for (long i = top - 1; i >= 1 && !st; i--) /* close the optional prefix groups */
        if (i >= lo)
            st = cove_buf_append_str(&b, ")? ");
    if (!st) {
        st = cove_buf_append_str(e, "\"[\"");
        st = st ? st : sg_ws(g, e);
        if (!st && b.len)
            st = cove_buf_appendf(e, lo > 0 ? "%s" : "(%s", b.data);
        if (!st && b.len)
            st = sg_ws(g, e);
        if (!st && b.len && lo == 0)
            st = cove_buf_append_str(e, ")? ");
        st = st ? st : cove_buf_append_str(e, "\"]\" ");
    }
    cove_buf_release(&b);
    return st;
}
