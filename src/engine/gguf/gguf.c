/*
 * engine/gguf/gguf.c - the GGUF reader: parse and validate a whole file image
 * once at open, then answer look-ups from small indexes.
 *
 * Layout of a GGUF v2/v3 file (all little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv
 *   n_kv x     (string key, u32 value type, value)
 *   n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset)
 *   padding to general.alignment, then the tensor data section.
 * A string is u64 length + bytes; an array is u32 element type, u64 count,
 * elements.
 *
 * Invariants after a successful open: every string, array and tensor lies
 * inside the image; every array of strings or arrays has an index (arr_rec)
 * so element i is found in O(1); keys and tensor names are unique and
 * hashed; tensors are aligned and do not overlap.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "engine/gguf/gguf_int.h"

/* Smallest encodings, used to reject counts the rest of the file cannot hold. */
#define MIN_KV_BYTES 13     /* u64 key length, 1 key byte, u32 type (a value adds more) */
#define MIN_TENSOR_BYTES 33 /* u64 name length, 1 name byte, u32 n_dims, 1 dim, u32 type, u64 offset */
#define MIN_ARRAY_BYTES 12  /* u32 element type, u64 count */

/*
 * An array value. For an array of strings, pool[first + i] is the file offset
 * of element i's length field; for an array of arrays, arrs[first + i] is
 * element i. Record 0 is unused so that index 0 means "none".
 */
struct arr_rec {
    uint64_t pos; /* file offset of element 0 */
    uint64_t count;
    uint64_t first;
    uint32_t elem_type;
};

struct kv {
    cove_gguf_str key;
    cove_gguf_value val;
};

/* Open-addressing hash of names; a slot holds entry index + 1, 0 when empty. */
struct name_index {
    uint32_t *slots;
    uint64_t mask;
};

struct cove_gguf {
    const uint8_t *base;
    uint64_t size;
    int mapped;
    int fd; /* the file of a mapping (tensor reads), -1 for a memory image */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    uint64_t n_kv;
    struct kv *kv;
    struct name_index kv_index;
    uint64_t n_tensors;
    cove_gguf_tensor *tensors;
    struct name_index tensor_index;
    struct arr_rec *arrs;
    uint64_t n_arrs, cap_arrs;
    uint64_t *pool;
    uint64_t n_pool, cap_pool;
};

/* Parsing state. g is NULL when only checking a value (no indexes built). */
typedef struct parser {
    cove_gguf *g;
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
    char ctx[160]; /* what is being read, for messages: "key 'general.name'" */
    cove_error *err;
} parser;

/* ---- messages ---- */

static cove_status fail(parser *ps, cove_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static cove_status fail(parser *ps, cove_status st, const char *fmt, ...)
{
    char msg[COVE_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ps->ctx[0])
        return cove_error_set(ps->err, st, "%s: %s", ps->ctx, msg);
    return cove_error_set(ps->err, st, "%s", msg);
}

static cove_status no_memory(parser *ps, const char *what)
{
    return fail(ps, COVE_ERR_NOMEM, "out of memory for %s", what);
}

/* Copy a name for a message: at most ~48 bytes; escaped when not valid UTF-8. */
static void show_name(char *out, size_t cap, const uint8_t *s, uint64_t n)
{
    size_t o = 0, limit = n > 48 ? 48 : (size_t)n;
    int valid = cove_utf8_valid(s, n);
    if (valid)
        while (limit < n && limit > 0 && (s[limit] & 0xC0) == 0x80)
            limit--; /* do not cut a character */
    for (size_t i = 0; i < limit && o + 5 < cap; i++) {
        if (s[i] >= 0x20 && s[i] != 0x7F && (valid || s[i] < 0x80) && s[i] != '\'')
            out[o++] = (char)s[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", s[i]);
    }
    if (limit < n && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static void set_ctx(parser *ps, const char *kind, cove_gguf_str name)
{
    char shown[120];
    show_name(shown, sizeof shown, (const uint8_t *)name.ptr, name.len);
    snprintf(ps->ctx, sizeof ps->ctx, "%s '%s'", kind, shown);
}

/* ---- little-endian reads ---- */

static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

static cove_status need(parser *ps, uint64_t n, const char *what)
{
    if (n > ps->size - ps->pos)
        return fail(ps, COVE_ERR_FORMAT, "%s at byte %" PRIu64 " is truncated (file size %" PRIu64 ")",
                    what, ps->pos, ps->size);
    return COVE_OK;
}

static cove_status rd_u32(parser *ps, uint32_t *out, const char *what)
{
    cove_status st = need(ps, 4, what);
    if (st != COVE_OK)
        return st;
    *out = (uint32_t)load_le(ps->p + ps->pos, 4);
    ps->pos += 4;
    return COVE_OK;
}

static cove_status rd_u64(parser *ps, uint64_t *out, const char *what)
{
    cove_status st = need(ps, 8, what);
    if (st != COVE_OK)
        return st;
    *out = load_le(ps->p + ps->pos, 8);
    ps->pos += 8;
    return COVE_OK;
}

/* A string: u64 length (checked against the file and `max`), then valid UTF-8. */
static cove_status rd_str(parser *ps, uint64_t max, const char *what, cove_gguf_str *out)
{
    uint64_t at = ps->pos, len;
    cove_status st = rd_u64(ps, &len, what);
    if (st != COVE_OK)
        return st;
    if (len > ps->size - ps->pos)
        return fail(ps, COVE_ERR_FORMAT,
                    "%s at byte %" PRIu64 ": length %" PRIu64 " runs past the end of the file (size %" PRIu64 ")",
                    what, at, len, ps->size);
    if (len > max)
        return fail(ps, COVE_ERR_LIMIT, "%s at byte %" PRIu64 ": length %" PRIu64 " exceeds the limit of %" PRIu64,
                    what, at, len, max);
    const uint8_t *s = ps->p + ps->pos;
    if (!cove_utf8_valid(s, len)) {
        char shown[120];
        show_name(shown, sizeof shown, s, len);
        return fail(ps, COVE_ERR_FORMAT, "%s at byte %" PRIu64 " is not valid UTF-8 ('%s')", what, at, shown);
    }
    out->ptr = (const char *)s;
    out->len = len;
    ps->pos += len;
    return COVE_OK;
}

/* ---- value types ---- */

static const struct {
    const char *name;
    uint8_t size;
} vtypes[COVE_GGUF_VTYPE_COUNT] = {
    [COVE_GGUF_UINT8] = {"uint8", 1},     [COVE_GGUF_INT8] = {"int8", 1},
    [COVE_GGUF_UINT16] = {"uint16", 2},   [COVE_GGUF_INT16] = {"int16", 2},
    [COVE_GGUF_UINT32] = {"uint32", 4},   [COVE_GGUF_INT32] = {"int32", 4},
    [COVE_GGUF_FLOAT32] = {"float32", 4}, [COVE_GGUF_BOOL] = {"bool", 1},
    [COVE_GGUF_STRING] = {"string", 0},   [COVE_GGUF_ARRAY] = {"array", 0},
    [COVE_GGUF_UINT64] = {"uint64", 8},   [COVE_GGUF_INT64] = {"int64", 8},
    [COVE_GGUF_FLOAT64] = {"float64", 8},
};

size_t cove_gguf_vtype_size(uint32_t type)
{
    return type < COVE_GGUF_VTYPE_COUNT ? vtypes[type].size : 0;
}

const char *cove_gguf_vtype_name(uint32_t type)
{
    return type < COVE_GGUF_VTYPE_COUNT ? vtypes[type].name : "?";
}

static int is_signed(uint32_t t)
{
    return t == COVE_GGUF_INT8 || t == COVE_GGUF_INT16 || t == COVE_GGUF_INT32 || t == COVE_GGUF_INT64;
}

/* Decode one fixed-size element at p (already bounds-checked) into v. */
static void decode_scalar(uint32_t t, const uint8_t *p, cove_gguf_value *v)
{
    size_t n = cove_gguf_vtype_size(t);
    uint64_t raw = load_le(p, n);
    v->type = (enum cove_gguf_vtype)t;
    if (t == COVE_GGUF_FLOAT32) {
        uint32_t bits = (uint32_t)raw;
        float f;
        memcpy(&f, &bits, sizeof f);
        v->v.f64 = f;
    } else if (t == COVE_GGUF_FLOAT64) {
        memcpy(&v->v.f64, &raw, sizeof v->v.f64);
    } else if (is_signed(t)) {
        unsigned shift = (unsigned)(64 - 8 * n);
        v->v.i64 = (int64_t)(raw << shift) >> shift; /* sign-extend */
    } else {
        v->v.u64 = raw;
    }
}

/* 1 when the n bytes at p are valid bools (0 or 1); *bad receives the first bad index. */
static int bools_valid(const uint8_t *p, uint64_t n, uint64_t *bad)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] > 1) {
            *bad = i;
            return 0;
        }
    return 1;
}

/* ---- array indexes ---- */

static cove_status reserve_recs(parser *ps, uint64_t n, uint64_t *first)
{
    cove_gguf *g = ps->g;
    *first = 0;
    if (!g)
        return COVE_OK;
    if (n > COVE_GGUF_MAX_ARRAYS - g->n_arrs)
        return fail(ps, COVE_ERR_LIMIT, "more than %u arrays in the file", (unsigned)COVE_GGUF_MAX_ARRAYS);
    if (g->n_arrs + n > g->cap_arrs) {
        uint64_t cap = g->cap_arrs ? g->cap_arrs * 2 : 16;
        if (cap < g->n_arrs + n)
            cap = g->n_arrs + n;
        struct arr_rec *a = cove_realloc(g->arrs, (size_t)cap * sizeof *a);
        if (!a)
            return no_memory(ps, "the array index");
        g->arrs = a;
        g->cap_arrs = cap;
    }
    *first = g->n_arrs;
    g->n_arrs += n;
    return COVE_OK;
}

static cove_status reserve_pool(parser *ps, uint64_t n, uint64_t *first)
{
    cove_gguf *g = ps->g;
    *first = 0;
    if (!g)
        return COVE_OK;
    if (n > COVE_GGUF_MAX_STRINGS - g->n_pool)
        return fail(ps, COVE_ERR_LIMIT, "more than %u strings in arrays", (unsigned)COVE_GGUF_MAX_STRINGS);
    if (g->n_pool + n > g->cap_pool) {
        uint64_t cap = g->cap_pool ? g->cap_pool * 2 : 64;
        if (cap < g->n_pool + n)
            cap = g->n_pool + n;
        uint64_t *p = cove_realloc(g->pool, (size_t)cap * sizeof *p);
        if (!p)
            return no_memory(ps, "the string index");
        g->pool = p;
        g->cap_pool = cap;
    }
    *first = g->n_pool;
    g->n_pool += n;
    return COVE_OK;
}

/* ---- values ---- */

static cove_status parse_array(parser *ps, int depth, uint64_t id, struct arr_rec *out);

static cove_status parse_fixed_elems(parser *ps, struct arr_rec *r)
{
    uint64_t bad, n = r->count * cove_gguf_vtype_size(r->elem_type); /* fits: checked by the caller */
    if (r->elem_type == COVE_GGUF_BOOL && !bools_valid(ps->p + ps->pos, r->count, &bad))
        return fail(ps, COVE_ERR_FORMAT, "bool array element %" PRIu64 " at byte %" PRIu64 " is %u, not 0 or 1",
                    bad, ps->pos + bad, ps->p[ps->pos + bad]);
    ps->pos += n;
    return COVE_OK;
}

static cove_status parse_string_elems(parser *ps, struct arr_rec *r)
{
    cove_status st = reserve_pool(ps, r->count, &r->first);
    for (uint64_t i = 0; st == COVE_OK && i < r->count; i++) {
        cove_gguf_str s;
        if (ps->g)
            ps->g->pool[r->first + i] = ps->pos;
        st = rd_str(ps, COVE_GGUF_MAX_STRING, "array string", &s);
    }
    return st;
}

static cove_status parse_array_elems(parser *ps, int depth, struct arr_rec *r)
{
    cove_status st = reserve_recs(ps, r->count, &r->first);
    for (uint64_t i = 0; st == COVE_OK && i < r->count; i++) {
        struct arr_rec child;
        st = parse_array(ps, depth + 1, ps->g ? r->first + i : 0, &child);
    }
    return st;
}

/* An array at nesting `depth` (0 for a metadata value); stored as arrs[id] unless id is 0. */
static cove_status parse_array(parser *ps, int depth, uint64_t id, struct arr_rec *out)
{
    uint64_t at = ps->pos, n;
    uint32_t et;
    cove_status st = rd_u32(ps, &et, "array element type");
    if (st == COVE_OK)
        st = rd_u64(ps, &n, "array count");
    if (st != COVE_OK)
        return st;
    if (et >= COVE_GGUF_VTYPE_COUNT)
        return fail(ps, COVE_ERR_FORMAT, "array at byte %" PRIu64 ": unknown element type %" PRIu32, at, et);
    if (et == COVE_GGUF_ARRAY && depth >= COVE_GGUF_MAX_ARRAY_DEPTH)
        return fail(ps, COVE_ERR_LIMIT, "array at byte %" PRIu64 ": arrays nested more than %d deep", at,
                    COVE_GGUF_MAX_ARRAY_DEPTH);
    uint64_t min = cove_gguf_vtype_size(et);
    if (!min)
        min = et == COVE_GGUF_STRING ? 8 : MIN_ARRAY_BYTES;
    if (n > (ps->size - ps->pos) / min)
        return fail(ps, COVE_ERR_FORMAT,
                    "array at byte %" PRIu64 ": %" PRIu64 " elements of %s cannot fit in the %" PRIu64
                    " bytes left in the file",
                    at, n, cove_gguf_vtype_name(et), ps->size - ps->pos);
    if (n > COVE_GGUF_MAX_ARRAY)
        return fail(ps, COVE_ERR_LIMIT, "array at byte %" PRIu64 ": %" PRIu64 " elements exceed the limit of %u",
                    at, n, (unsigned)COVE_GGUF_MAX_ARRAY);
    struct arr_rec r = {.pos = ps->pos, .count = n, .first = 0, .elem_type = et};
    if (et == COVE_GGUF_STRING)
        st = parse_string_elems(ps, &r);
    else if (et == COVE_GGUF_ARRAY)
        st = parse_array_elems(ps, depth, &r);
    else
        st = parse_fixed_elems(ps, &r);
    if (st == COVE_OK && ps->g && id)
        ps->g->arrs[id] = r;
    *out = r;
    return st;
}

static cove_status parse_scalar(parser *ps, uint32_t t, cove_gguf_value *v)
{
    cove_status st = need(ps, cove_gguf_vtype_size(t), cove_gguf_vtype_name(t));
    if (st != COVE_OK)
        return st;
    if (t == COVE_GGUF_BOOL && ps->p[ps->pos] > 1)
        return fail(ps, COVE_ERR_FORMAT, "bool at byte %" PRIu64 " is %u, not 0 or 1", ps->pos, ps->p[ps->pos]);
    decode_scalar(t, ps->p + ps->pos, v);
    ps->pos += cove_gguf_vtype_size(t);
    return COVE_OK;
}

static cove_status parse_value(parser *ps, uint32_t t, cove_gguf_value *v)
{
    memset(v, 0, sizeof *v);
    if (t >= COVE_GGUF_VTYPE_COUNT)
        return fail(ps, COVE_ERR_FORMAT, "unknown value type %" PRIu32 " at byte %" PRIu64, t, ps->pos - 4);
    v->type = (enum cove_gguf_vtype)t;
    if (t == COVE_GGUF_STRING)
        return rd_str(ps, COVE_GGUF_MAX_STRING, "string", &v->v.str);
    if (t != COVE_GGUF_ARRAY)
        return parse_scalar(ps, t, v);
    uint64_t id;
    struct arr_rec r;
    cove_status st = reserve_recs(ps, 1, &id);
    if (st == COVE_OK)
        st = parse_array(ps, 0, id, &r);
    if (st != COVE_OK)
        return st;
    v->v.arr.elem_type = (enum cove_gguf_vtype)r.elem_type;
    v->v.arr.count = r.count;
    v->v.arr.data = ps->p + r.pos;
    v->v.arr.index = (uint32_t)id;
    return COVE_OK;
}

cove_status cove_gguf_value_check(const void *data, size_t size, enum cove_gguf_vtype type, size_t *used,
                                  cove_error *err)
{
    parser ps = {.g = NULL, .p = data, .size = size, .pos = 0, .ctx = "value", .err = err};
    cove_gguf_value v;
    if (!data && size)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "value: no data");
    cove_status st = parse_value(&ps, (uint32_t)type, &v);
    if (st == COVE_OK && used)
        *used = (size_t)ps.pos;
    return st;
}

/* ---- name indexes ---- */

static uint64_t hash_name(const char *p, uint64_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

typedef cove_gguf_str (*name_fn)(const cove_gguf *g, uint64_t i);

static cove_gguf_str kv_name(const cove_gguf *g, uint64_t i)
{
    return g->kv[i].key;
}

static cove_gguf_str tensor_name(const cove_gguf *g, uint64_t i)
{
    return g->tensors[i].name;
}

static cove_status index_init(parser *ps, struct name_index *ix, uint64_t n)
{
    uint64_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    ix->slots = cove_calloc((size_t)cap, sizeof *ix->slots);
    if (!ix->slots)
        return no_memory(ps, "a name index");
    ix->mask = cap - 1;
    return COVE_OK;
}

/* Slot of `name` in ix: the one holding it, or the empty one where it would go. */
static uint64_t index_slot(const struct name_index *ix, const cove_gguf *g, name_fn name, const char *p, uint64_t n)
{
    uint64_t s = hash_name(p, n) & ix->mask;
    while (ix->slots[s]) {
        cove_gguf_str e = name(g, ix->slots[s] - 1);
        if (e.len == n && memcmp(e.ptr, p, n) == 0)
            break;
        s = (s + 1) & ix->mask;
    }
    return s;
}

static int64_t index_find(const struct name_index *ix, const cove_gguf *g, name_fn name, const char *p, uint64_t n)
{
    if (!ix->slots)
        return -1;
    uint64_t s = index_slot(ix, g, name, p, n);
    return ix->slots[s] ? (int64_t)ix->slots[s] - 1 : -1;
}

/* Add entry i; 0 when added, -1 when its name is already there. */
static int index_add(struct name_index *ix, const cove_gguf *g, name_fn name, uint64_t i)
{
    cove_gguf_str e = name(g, i);
    uint64_t s = index_slot(ix, g, name, e.ptr, e.len);
    if (ix->slots[s])
        return -1;
    ix->slots[s] = (uint32_t)(i + 1);
    return 0;
}

/* ---- header and metadata ---- */

static cove_status check_version(parser *ps, uint32_t v)
{
    uint32_t swapped = ((v & 0xFFu) << 24) | ((v & 0xFF00u) << 8) | ((v >> 8) & 0xFF00u) | (v >> 24);
    if (v == 2 || v == 3)
        return COVE_OK;
    if (swapped >= 1 && swapped <= 3)
        return fail(ps, COVE_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
    if (v == 1)
        return fail(ps, COVE_ERR_UNSUPPORTED, "GGUF version 1 is not supported (only versions 2 and 3)");
    return fail(ps, COVE_ERR_UNSUPPORTED, "GGUF version %" PRIu32 " is not supported (only versions 2 and 3)", v);
}

static cove_status parse_header(parser *ps)
{
    cove_gguf *g = ps->g;
    snprintf(ps->ctx, sizeof ps->ctx, "header");
    if (ps->size < 4 || memcmp(ps->p, COVE_GGUF_MAGIC, 4) != 0)
        return fail(ps, COVE_ERR_FORMAT, "bad magic: not a GGUF file");
    ps->pos = 4;
    cove_status st = rd_u32(ps, &g->version, "version");
    if (st == COVE_OK)
        st = check_version(ps, g->version);
    if (st == COVE_OK)
        st = rd_u64(ps, &g->n_tensors, "tensor count");
    if (st == COVE_OK)
        st = rd_u64(ps, &g->n_kv, "metadata count");
    if (st != COVE_OK)
        return st;
    uint64_t left = ps->size - ps->pos;
    if (g->n_kv > left / MIN_KV_BYTES || g->n_tensors > left / MIN_TENSOR_BYTES ||
        g->n_kv * MIN_KV_BYTES + g->n_tensors * MIN_TENSOR_BYTES > left)
        return fail(ps, COVE_ERR_FORMAT,
                    "%" PRIu64 " metadata entries and %" PRIu64 " tensors cannot fit in the %" PRIu64
                    " bytes left in the file",
                    g->n_kv, g->n_tensors, left);
    if (g->n_kv > COVE_GGUF_MAX_KV)
        return fail(ps, COVE_ERR_LIMIT, "%" PRIu64 " metadata entries exceed the limit of %u", g->n_kv,
                    (unsigned)COVE_GGUF_MAX_KV);
    if (g->n_tensors > COVE_GGUF_MAX_TENSORS)
        return fail(ps, COVE_ERR_LIMIT, "%" PRIu64 " tensors exceed the limit of %u", g->n_tensors,
                    (unsigned)COVE_GGUF_MAX_TENSORS);
    return COVE_OK;
}

static cove_status parse_kv(parser *ps, uint64_t i)
{
    cove_gguf *g = ps->g;
    struct kv *e = &g->kv[i];
    uint32_t type;
    snprintf(ps->ctx, sizeof ps->ctx, "metadata entry %" PRIu64, i);
    cove_status st = rd_str(ps, COVE_GGUF_MAX_KEY_LEN, "key", &e->key);
    if (st != COVE_OK)
        return st;
    if (e->key.len == 0)
        return fail(ps, COVE_ERR_FORMAT, "empty key at byte %" PRIu64, ps->pos - 8);
    set_ctx(ps, "key", e->key);
    if (index_add(&g->kv_index, g, kv_name, i) != 0)
        return fail(ps, COVE_ERR_FORMAT, "duplicate key");
    st = rd_u32(ps, &type, "value type");
    if (st == COVE_OK)
        st = parse_value(ps, type, &e->val);
    return st;
}

static cove_status parse_kvs(parser *ps)
{
    cove_gguf *g = ps->g;
    g->kv = cove_calloc((size_t)g->n_kv, sizeof *g->kv);
    if (!g->kv)
        return no_memory(ps, "metadata");
    cove_status st = index_init(ps, &g->kv_index, g->n_kv);
    for (uint64_t i = 0; st == COVE_OK && i < g->n_kv; i++)
        st = parse_kv(ps, i);
    return st;
}

static cove_status read_alignment(parser *ps)
{
    cove_gguf *g = ps->g;
    int64_t k = cove_gguf_find_key(g, "general.alignment");
    g->alignment = COVE_GGUF_DEFAULT_ALIGNMENT;
    if (k < 0)
        return COVE_OK;
    const cove_gguf_value *v = &g->kv[k].val;
    snprintf(ps->ctx, sizeof ps->ctx, "key 'general.alignment'");
    uint32_t t = v->type;
    if (cove_gguf_vtype_size(t) == 0 || t == COVE_GGUF_BOOL || t == COVE_GGUF_FLOAT32 || t == COVE_GGUF_FLOAT64)
        return fail(ps, COVE_ERR_FORMAT, "alignment must be an integer, not %s", cove_gguf_vtype_name(t));
    if (is_signed(t) && v->v.i64 <= 0)
        return fail(ps, COVE_ERR_FORMAT, "alignment %" PRId64 " is not a power of two", v->v.i64);
    uint64_t a = v->v.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(ps, COVE_ERR_FORMAT, "alignment %" PRIu64 " is not a power of two", a);
    if (a > COVE_GGUF_MAX_ALIGNMENT)
        return fail(ps, COVE_ERR_LIMIT, "alignment %" PRIu64 " exceeds the limit of %u", a,
                    (unsigned)COVE_GGUF_MAX_ALIGNMENT);
    g->alignment = a;
    return COVE_OK;
}

/* ---- tensors ---- */

/* Shape: 1..4 dimensions, each > 0, element count within int64. */
static cove_status parse_shape(parser *ps, cove_gguf_tensor *t)
{
    cove_status st = rd_u32(ps, &t->n_dims, "dimension count");
    if (st != COVE_OK)
        return st;
    if (t->n_dims < 1 || t->n_dims > COVE_GGUF_MAX_DIMS)
        return fail(ps, COVE_ERR_FORMAT, "%" PRIu32 " dimensions (must be 1 to %d)", t->n_dims, COVE_GGUF_MAX_DIMS);
    uint64_t total = 1;
    for (uint32_t d = 0; d < COVE_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        st = rd_u64(ps, &t->ne[d], "dimension");
        if (st != COVE_OK)
            return st;
        if (t->ne[d] == 0)
            return fail(ps, COVE_ERR_FORMAT, "dimension %" PRIu32 " is zero", d);
        if (t->ne[d] > (uint64_t)INT64_MAX / total)
            return fail(ps, COVE_ERR_FORMAT, "shape overflows: dimension %" PRIu32 " of %" PRIu64 " makes too many elements",
                        d, t->ne[d]);
        total *= t->ne[d];
    }
    return COVE_OK;
}

/* Type and byte size: a known type, rows made of whole blocks, size within uint64. */
static cove_status parse_type(parser *ps, cove_gguf_tensor *t)
{
    uint32_t type;
    cove_status st = rd_u32(ps, &type, "tensor type");
    if (st != COVE_OK)
        return st;
    const cove_type_info *ti = cove_type_info_get(type);
    if (!ti)
        return fail(ps, COVE_ERR_UNSUPPORTED, "unknown tensor type %" PRIu32, type);
    t->type = (enum cove_ggml_type)type;
    if (t->ne[0] % ti->block_size != 0)
        return fail(ps, COVE_ERR_FORMAT, "row of %" PRIu64 " elements is not a whole number of %s blocks of %" PRIu32,
                    t->ne[0], ti->name, ti->block_size);
    uint64_t bytes = t->ne[0] / ti->block_size;
    if (bytes > UINT64_MAX / ti->block_bytes)
        return fail(ps, COVE_ERR_FORMAT, "shape overflows: size in bytes does not fit 64 bits");
    bytes *= ti->block_bytes;
    for (uint32_t d = 1; d < t->n_dims; d++) {
        if (bytes > UINT64_MAX / t->ne[d])
            return fail(ps, COVE_ERR_FORMAT, "shape overflows: size in bytes does not fit 64 bits");
        bytes *= t->ne[d];
    }
    t->n_bytes = bytes;
    return COVE_OK;
}

static cove_status parse_tensor(parser *ps, uint64_t i)
{
    cove_gguf *g = ps->g;
    cove_gguf_tensor *t = &g->tensors[i];
    snprintf(ps->ctx, sizeof ps->ctx, "tensor %" PRIu64, i);
    cove_status st = rd_str(ps, COVE_GGUF_MAX_NAME, "name", &t->name);
    if (st != COVE_OK)
        return st;
    if (t->name.len == 0)
        return fail(ps, COVE_ERR_FORMAT, "empty name at byte %" PRIu64, ps->pos - 8);
    set_ctx(ps, "tensor", t->name);
    if (index_add(&g->tensor_index, g, tensor_name, i) != 0)
        return fail(ps, COVE_ERR_FORMAT, "duplicate tensor name");
    st = parse_shape(ps, t);
    if (st == COVE_OK)
        st = parse_type(ps, t);
    if (st == COVE_OK)
        st = rd_u64(ps, &t->offset, "offset");
    return st;
}

static cove_status parse_tensors(parser *ps)
{
    cove_gguf *g = ps->g;
    g->tensors = cove_calloc((size_t)g->n_tensors, sizeof *g->tensors);
    if (!g->tensors)
        return no_memory(ps, "the tensor table");
    cove_status st = index_init(ps, &g->tensor_index, g->n_tensors);
    for (uint64_t i = 0; st == COVE_OK && i < g->n_tensors; i++)
        st = parse_tensor(ps, i);
    return st;
}

/* Each tensor aligned and inside the file. */
static cove_status place_tensors(parser *ps)
{
    cove_gguf *g = ps->g;
    uint64_t a = g->alignment, pad = (a - ps->pos % a) % a;
    g->data_offset = ps->pos + pad; /* cannot overflow: pos <= size < 2^63 */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        cove_gguf_tensor *t = &g->tensors[i];
        set_ctx(ps, "tensor", t->name);
        if (t->offset % a != 0)
            return fail(ps, COVE_ERR_FORMAT, "offset %" PRIu64 " is not aligned to %" PRIu64, t->offset, a);
        if (g->data_offset > g->size || t->offset > g->size - g->data_offset ||
            t->n_bytes > g->size - g->data_offset - t->offset)
            return fail(ps, COVE_ERR_FORMAT,
                        "data (%" PRIu64 " bytes at offset %" PRIu64 ") ends past the end of the file (size %" PRIu64
                        ", data section at %" PRIu64 ")",
                        t->n_bytes, t->offset, g->size, g->data_offset);
        t->data = g->base + g->data_offset + t->offset;
    }
    return COVE_OK;
}

struct span {
    uint64_t start, end, id;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static cove_status check_overlap(parser *ps)
{
    cove_gguf *g = ps->g;
    if (g->n_tensors < 2)
        return COVE_OK;
    struct span *s = cove_calloc((size_t)g->n_tensors, sizeof *s);
    if (!s)
        return no_memory(ps, "the overlap check");
    for (uint64_t i = 0; i < g->n_tensors; i++)
        s[i] = (struct span){g->tensors[i].offset, g->tensors[i].offset + g->tensors[i].n_bytes, i};
    qsort(s, (size_t)g->n_tensors, sizeof *s, span_cmp);
    cove_status st = COVE_OK;
    for (uint64_t i = 1; i < g->n_tensors && st == COVE_OK; i++) {
        if (s[i].start >= s[i - 1].end)
            continue;
        char other[120];
        cove_gguf_str on = g->tensors[s[i - 1].id].name;
        show_name(other, sizeof other, (const uint8_t *)on.ptr, on.len);
        set_ctx(ps, "tensor", g->tensors[s[i].id].name);
        st = fail(ps, COVE_ERR_FORMAT, "data at offset %" PRIu64 " overlaps tensor '%s' (offset %" PRIu64 ", %" PRIu64 " bytes)",
                  s[i].start, other, s[i - 1].start, s[i - 1].end - s[i - 1].start);
    }
    cove_free(s);
    return st;
}

static cove_status parse_all(parser *ps)
{
    cove_status st = parse_header(ps);
    if (st == COVE_OK)
        st = reserve_recs(ps, 1, &(uint64_t){0}); /* record 0 means "none" */
    if (st == COVE_OK)
        st = parse_kvs(ps);
    if (st == COVE_OK)
        st = read_alignment(ps);
    if (st == COVE_OK)
        st = parse_tensors(ps);
    if (st == COVE_OK)
        st = place_tensors(ps);
    if (st == COVE_OK)
        st = check_overlap(ps);
    return st;
}

/* ---- open and free ---- */

static cove_status open_image(const uint8_t *data, uint64_t size, int mapped, cove_gguf **out, cove_error *err)
{
    cove_gguf *g = cove_calloc(1, sizeof *g);
    if (!g)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory opening a GGUF file");
    g->base = data;
    g->size = size;
    g->fd = -1;
    parser ps = {.g = g, .p = data, .size = size, .pos = 0, .ctx = "", .err = err};
    cove_status st = parse_all(&ps);
    if (st != COVE_OK) {
        g->mapped = 0; /* the caller unmaps on failure */
        cove_gguf_free(g);
        return st;
    }
    g->mapped = mapped;
    *out = g;
    return COVE_OK;
}

cove_status cove_gguf_open_memory(const void *data, size_t size, cove_gguf **out, cove_error *err)
{
    if (!out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no output handle");
    *out = NULL;
    if (!data && size)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no data");
    return open_image(data, size, 0, out, err);
}

cove_status cove_gguf_open(const char *path, cove_gguf **out, cove_error *err)
{
    if (!path || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no path or output handle");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_IO, "cannot open: %s",
                              strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "not a regular file");
    }
    if (sb.st_size == 0) {
        close(fd);
        return cove_error_set(err, COVE_ERR_FORMAT, "header: bad magic: not a GGUF file (the file is empty)");
    }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int mmap_errno = errno;
    if (m == MAP_FAILED) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "cannot map: %s", strerror(mmap_errno));
    }
    cove_status st = open_image(m, (uint64_t)sb.st_size, 1, out, err);
    if (st != COVE_OK) {
        munmap(m, (size_t)sb.st_size);
        close(fd);
    } else
        (*out)->fd = fd;
    return st;
}

void cove_gguf_free(cove_gguf *g)
{
    if (!g)
        return;
    if (g->mapped)
        munmap((void *)(uintptr_t)g->base, (size_t)g->size);
    if (g->fd >= 0)
        close(g->fd);
    cove_free(g->kv);
    cove_free(g->kv_index.slots);
    cove_free(g->tensors);
    cove_free(g->tensor_index.slots);
    cove_free(g->arrs);
    cove_free(g->pool);
    cove_free(g);
}

cove_status cove_gguf_tensor_read(const cove_gguf *g, const cove_gguf_tensor *t, uint64_t off, void *dst,
                                  size_t n, cove_error *err)
{
    if (!g || !t || (!dst && n))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no file, tensor or buffer");
    if (off > t->n_bytes || n > t->n_bytes - off)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bytes past the end of the tensor");
    const uint64_t at = (uint64_t)((const uint8_t *)t->data - g->base) + off;
    if (g->fd < 0) {
        memcpy(dst, g->base + at, n);
        return COVE_OK;
    }
    for (size_t done = 0; done < n;) {
        ssize_t r = pread(g->fd, (uint8_t *)dst + done, n - done, (off_t)(at + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return cove_error_set(err, COVE_ERR_IO, "cannot read tensor data: %s",
                                  r < 0 ? strerror(errno) : "the file is shorter than when it was opened");
        done += (size_t)r;
    }
    return COVE_OK;
}

/* ---- accessors ---- */

uint32_t cove_gguf_version(const cove_gguf *g)
{
    return g->version;
}

uint64_t cove_gguf_alignment(const cove_gguf *g)
{
    return g->alignment;
}

uint64_t cove_gguf_data_offset(const cove_gguf *g)
{
    return g->data_offset;
}

uint64_t cove_gguf_size(const cove_gguf *g)
{
    return g->size;
}

uint64_t cove_gguf_kv_count(const cove_gguf *g)
{
    return g->n_kv;
}

cove_gguf_str cove_gguf_kv_key(const cove_gguf *g, uint64_t i)
{
    if (i >= g->n_kv)
        return (cove_gguf_str){NULL, 0};
    return g->kv[i].key;
}

const cove_gguf_value *cove_gguf_kv_value(const cove_gguf *g, uint64_t i)
{
    return i < g->n_kv ? &g->kv[i].val : NULL;
}

int64_t cove_gguf_find_key(const cove_gguf *g, const char *key)
{
    if (!g || !key)
        return -1;
    return index_find(&g->kv_index, g, kv_name, key, strlen(key));
}

static const cove_gguf_value *find_value(const cove_gguf *g, const char *key)
{
    int64_t i = cove_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kv[i].val;
}

static int is_integer(uint32_t t)
{
    return cove_gguf_vtype_size(t) != 0 && t != COVE_GGUF_FLOAT32 && t != COVE_GGUF_FLOAT64;
}

cove_status cove_gguf_get_u64(const cove_gguf *g, const char *key, uint64_t *out)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (!is_integer(v->type) || (is_signed(v->type) && v->v.i64 < 0))
        return COVE_ERR_FORMAT;
    *out = v->v.u64;
    return COVE_OK;
}

cove_status cove_gguf_get_i64(const cove_gguf *g, const char *key, int64_t *out)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (!is_integer(v->type) || (!is_signed(v->type) && v->v.u64 > (uint64_t)INT64_MAX))
        return COVE_ERR_FORMAT;
    *out = v->v.i64;
    return COVE_OK;
}

cove_status cove_gguf_get_f64(const cove_gguf *g, const char *key, double *out)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (v->type == COVE_GGUF_FLOAT32 || v->type == COVE_GGUF_FLOAT64)
        *out = v->v.f64;
    else if (is_integer(v->type))
        *out = is_signed(v->type) ? (double)v->v.i64 : (double)v->v.u64;
    else
        return COVE_ERR_FORMAT;
    return COVE_OK;
}

cove_status cove_gguf_get_bool(const cove_gguf *g, const char *key, int *out)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (v->type != COVE_GGUF_BOOL)
        return COVE_ERR_FORMAT;
    *out = v->v.u64 != 0;
    return COVE_OK;
}

cove_status cove_gguf_get_str(const cove_gguf *g, const char *key, cove_gguf_str *out)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (v->type != COVE_GGUF_STRING)
        return COVE_ERR_FORMAT;
    *out = v->v.str;
    return COVE_OK;
}

cove_status cove_gguf_get_arr(const cove_gguf *g, const char *key, enum cove_gguf_vtype *elem_type, uint64_t *count)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (v->type != COVE_GGUF_ARRAY)
        return COVE_ERR_FORMAT;
    if (elem_type)
        *elem_type = v->v.arr.elem_type;
    if (count)
        *count = v->v.arr.count;
    return COVE_OK;
}

cove_status cove_gguf_arr_get(const cove_gguf *g, const cove_gguf_value *arr, uint64_t i, cove_gguf_value *out)
{
    if (!g || !arr || !out || arr->type != COVE_GGUF_ARRAY || arr->v.arr.index == 0 ||
        arr->v.arr.index >= g->n_arrs)
        return COVE_ERR_INVALID_ARG;
    const struct arr_rec *r = &g->arrs[arr->v.arr.index];
    if (i >= r->count)
        return COVE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (r->elem_type == COVE_GGUF_STRING) {
        uint64_t pos = g->pool[r->first + i];
        out->type = COVE_GGUF_STRING;
        out->v.str.len = load_le(g->base + pos, 8);
        out->v.str.ptr = (const char *)g->base + pos + 8;
    } else if (r->elem_type == COVE_GGUF_ARRAY) {
        const struct arr_rec *c = &g->arrs[r->first + i];
        out->type = COVE_GGUF_ARRAY;
        out->v.arr.elem_type = (enum cove_gguf_vtype)c->elem_type;
        out->v.arr.count = c->count;
        out->v.arr.data = g->base + c->pos;
        out->v.arr.index = (uint32_t)(r->first + i);
    } else {
        decode_scalar(r->elem_type, g->base + r->pos + i * cove_gguf_vtype_size(r->elem_type), out);
    }
    return COVE_OK;
}

cove_status cove_gguf_arr_str(const cove_gguf *g, const char *key, uint64_t i, cove_gguf_str *out)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (v->type != COVE_GGUF_ARRAY || v->v.arr.elem_type != COVE_GGUF_STRING)
        return COVE_ERR_FORMAT;
    if (i >= v->v.arr.count)
        return COVE_ERR_INVALID_ARG;
    cove_gguf_value e;
    cove_status st = cove_gguf_arr_get(g, v, i, &e);
    if (st == COVE_OK)
        *out = e.v.str;
    return st;
}

cove_status cove_gguf_arr_data(const cove_gguf *g, const char *key, const void **data)
{
    const cove_gguf_value *v = find_value(g, key);
    if (!v)
        return COVE_ERR_NOT_FOUND;
    if (v->type != COVE_GGUF_ARRAY || cove_gguf_vtype_size(v->v.arr.elem_type) == 0)
        return COVE_ERR_FORMAT;
    *data = v->v.arr.data;
    return COVE_OK;
}

uint64_t cove_gguf_tensor_count(const cove_gguf *g)
{
    return g->n_tensors;
}

const cove_gguf_tensor *cove_gguf_tensor_at(const cove_gguf *g, uint64_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const cove_gguf_tensor *cove_gguf_tensor_find(const cove_gguf *g, const char *name)
{
    if (!g || !name)
        return NULL;
    int64_t i = index_find(&g->tensor_index, g, tensor_name, name, strlen(name));
    return i < 0 ? NULL : &g->tensors[i];
}

int cove_gguf_str_eq(cove_gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}
