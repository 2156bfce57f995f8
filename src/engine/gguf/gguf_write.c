/*
 * engine/gguf/gguf_write.c - the GGUF writer: collect metadata and tensors
 * (copied), then serialise them as a version 3 file.
 *
 * Each metadata value is kept already encoded, exactly as it will appear in
 * the file after its type field, so saving is a straight copy. Everything the
 * writer accepts is something the reader accepts: the same bounds from
 * limits.h apply.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "engine/gguf/gguf_int.h"

struct wkv {
    char *key;
    uint32_t type;
    uint8_t *payload; /* the encoded value */
    size_t n;
};

struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[COVE_GGUF_MAX_DIMS];
    uint64_t n_bytes;
    uint64_t offset; /* assigned when serialising */
    uint8_t *data;
};

struct cove_gguf_writer {
    struct wkv *kv;
    size_t n_kv, cap_kv;
    struct wtensor *t;
    size_t n_t, cap_t;
};

cove_status cove_gguf_writer_create(cove_gguf_writer **out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    *out = cove_calloc(1, sizeof **out);
    return *out ? COVE_OK : COVE_ERR_NOMEM;
}

void cove_gguf_writer_free(cove_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        cove_free(w->kv[i].key);
        cove_free(w->kv[i].payload);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        cove_free(w->t[i].name);
        cove_free(w->t[i].data);
    }
    cove_free(w->kv);
    cove_free(w->t);
    cove_free(w);
}

/* ---- metadata ---- */

static void store_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n > 0 && n <= max && cove_utf8_valid((const uint8_t *)s, n);
}

static int has_key(const cove_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return 1;
    return 0;
}

/* Check a key for a new entry and make room for it. */
static cove_status kv_prepare(cove_gguf_writer *w, const char *key)
{
    if (!w || !key || !name_ok(key, COVE_GGUF_MAX_KEY_LEN) || has_key(w, key))
        return COVE_ERR_INVALID_ARG;
    if (w->n_kv >= COVE_GGUF_MAX_KV)
        return COVE_ERR_LIMIT;
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        struct wkv *kv = cove_realloc(w->kv, cap * sizeof *kv);
        if (!kv)
            return COVE_ERR_NOMEM;
        w->kv = kv;
        w->cap_kv = cap;
    }
    return COVE_OK;
}

/* Add key with an encoded payload; takes ownership of payload in every case. */
static cove_status kv_add(cove_gguf_writer *w, const char *key, uint32_t type, uint8_t *payload, size_t n)
{
    cove_status st = payload ? kv_prepare(w, key) : COVE_ERR_NOMEM;
    char *k = st == COVE_OK ? cove_strdup(key) : NULL;
    if (st == COVE_OK && !k)
        st = COVE_ERR_NOMEM;
    if (st != COVE_OK) {
        cove_free(payload);
        return st;
    }
    w->kv[w->n_kv++] = (struct wkv){k, type, payload, n};
    return COVE_OK;
}

/* Encode the native C value at `value` (uint8_t ... double; bool as uint8_t 0/1). */
static cove_status encode_scalar(enum cove_gguf_vtype type, const void *value, uint8_t *out)
{
    uint64_t bits;
    switch (type) {
    case COVE_GGUF_UINT8: bits = *(const uint8_t *)value; break;
    case COVE_GGUF_INT8: bits = (uint8_t) * (const int8_t *)value; break;
    case COVE_GGUF_UINT16: bits = *(const uint16_t *)value; break;
    case COVE_GGUF_INT16: bits = (uint16_t) * (const int16_t *)value; break;
    case COVE_GGUF_UINT32: bits = *(const uint32_t *)value; break;
    case COVE_GGUF_INT32: bits = (uint32_t) * (const int32_t *)value; break;
    case COVE_GGUF_UINT64: bits = *(const uint64_t *)value; break;
    case COVE_GGUF_INT64: bits = (uint64_t) * (const int64_t *)value; break;
    case COVE_GGUF_BOOL:
        bits = *(const uint8_t *)value;
        if (bits > 1)
            return COVE_ERR_INVALID_ARG;
        break;
    case COVE_GGUF_FLOAT32: {
        uint32_t b;
        memcpy(&b, value, sizeof b);
        bits = b;
        break;
    }
    case COVE_GGUF_FLOAT64: memcpy(&bits, value, sizeof bits); break;
    default: return COVE_ERR_INVALID_ARG;
    }
    store_le(out, bits, cove_gguf_vtype_size(type));
    return COVE_OK;
}

cove_status cove_gguf_writer_set_scalar(cove_gguf_writer *w, const char *key, enum cove_gguf_vtype type,
                                        const void *value)
{
    size_t n = cove_gguf_vtype_size(type);
    if (!n || !value)
        return COVE_ERR_INVALID_ARG;
    uint8_t *p = cove_malloc(n);
    if (!p)
        return COVE_ERR_NOMEM;
    cove_status st = encode_scalar(type, value, p);
    if (st != COVE_OK) {
        cove_free(p);
        return st;
    }
    return kv_add(w, key, type, p, n);
}

cove_status cove_gguf_writer_set_u32(cove_gguf_writer *w, const char *key, uint32_t v)
{
    return cove_gguf_writer_set_scalar(w, key, COVE_GGUF_UINT32, &v);
}

cove_status cove_gguf_writer_set_i32(cove_gguf_writer *w, const char *key, int32_t v)
{
    return cove_gguf_writer_set_scalar(w, key, COVE_GGUF_INT32, &v);
}

cove_status cove_gguf_writer_set_u64(cove_gguf_writer *w, const char *key, uint64_t v)
{
    return cove_gguf_writer_set_scalar(w, key, COVE_GGUF_UINT64, &v);
}

cove_status cove_gguf_writer_set_f32(cove_gguf_writer *w, const char *key, float v)
{
    return cove_gguf_writer_set_scalar(w, key, COVE_GGUF_FLOAT32, &v);
}

cove_status cove_gguf_writer_set_bool(cove_gguf_writer *w, const char *key, int v)
{
    uint8_t b = v != 0;
    return cove_gguf_writer_set_scalar(w, key, COVE_GGUF_BOOL, &b);
}

/* u64 length + bytes at p; returns the bytes written. */
static size_t put_str(uint8_t *p, const char *s, size_t len)
{
    store_le(p, len, 8);
    memcpy(p + 8, s, len);
    return 8 + len;
}

static int string_ok(const char *s, size_t *len)
{
    *len = strnlen(s, (size_t)COVE_GGUF_MAX_STRING + 1);
    return *len <= COVE_GGUF_MAX_STRING && cove_utf8_valid((const uint8_t *)s, *len);
}

cove_status cove_gguf_writer_set_str(cove_gguf_writer *w, const char *key, const char *v)
{
    size_t len;
    if (!v || !string_ok(v, &len))
        return COVE_ERR_INVALID_ARG;
    uint8_t *p = cove_malloc(8 + len);
    if (!p)
        return COVE_ERR_NOMEM;
    put_str(p, v, len);
    return kv_add(w, key, COVE_GGUF_STRING, p, 8 + len);
}

cove_status cove_gguf_writer_set_arr(cove_gguf_writer *w, const char *key, enum cove_gguf_vtype elem_type,
                                     const void *data, uint64_t count)
{
    size_t es = cove_gguf_vtype_size(elem_type);
    if (!es || (!data && count) || count > COVE_GGUF_MAX_ARRAY)
        return count > COVE_GGUF_MAX_ARRAY ? COVE_ERR_LIMIT : COVE_ERR_INVALID_ARG;
    size_t n = 12 + (size_t)count * es;
    if (elem_type == COVE_GGUF_BOOL)
        for (uint64_t i = 0; i < count; i++)
            if (((const uint8_t *)data)[i] > 1)
                return COVE_ERR_INVALID_ARG;
    uint8_t *p = cove_malloc(n);
    if (!p)
        return COVE_ERR_NOMEM;
    store_le(p, elem_type, 4);
    store_le(p + 4, count, 8);
    if (count)
        memcpy(p + 12, data, n - 12);
    return kv_add(w, key, COVE_GGUF_ARRAY, p, n);
}

cove_status cove_gguf_writer_set_arr_str(cove_gguf_writer *w, const char *key, const char *const *strs,
                                         uint64_t count)
{
    if ((!strs && count) || count > COVE_GGUF_MAX_ARRAY)
        return count > COVE_GGUF_MAX_ARRAY ? COVE_ERR_LIMIT : COVE_ERR_INVALID_ARG;
    size_t n = 12, len;
    for (uint64_t i = 0; i < count; i++) {
        if (!strs[i] || !string_ok(strs[i], &len))
            return COVE_ERR_INVALID_ARG;
        if (len + 8 > SIZE_MAX - n)
            return COVE_ERR_LIMIT;
        n += 8 + len;
    }
    uint8_t *p = cove_malloc(n), *q;
    if (!p)
        return COVE_ERR_NOMEM;
    store_le(p, COVE_GGUF_STRING, 4);
    store_le(p + 4, count, 8);
    q = p + 12;
    for (uint64_t i = 0; i < count; i++)
        q += put_str(q, strs[i], strlen(strs[i]));
    return kv_add(w, key, COVE_GGUF_ARRAY, p, n);
}

cove_status cove_gguf_writer_set_raw(cove_gguf_writer *w, const char *key, enum cove_gguf_vtype type,
                                     const void *bytes, size_t n, cove_error *err)
{
    size_t used = 0;
    if (!bytes || !n)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no value bytes");
    cove_status st = cove_gguf_value_check(bytes, n, type, &used, err);
    if (st != COVE_OK)
        return st;
    if (used != n)
        return cove_error_set(err, COVE_ERR_FORMAT, "value: %zu bytes left after the value", n - used);
    uint8_t *p = cove_malloc(n);
    if (!p)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    memcpy(p, bytes, n);
    st = kv_add(w, key, type, p, n);
    if (st != COVE_OK)
        cove_error_set(err, st, "cannot add key: %s", cove_status_str(st));
    return st;
}

/* ---- tensors ---- */

static int has_tensor(const cove_gguf_writer *w, const char *name)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return 1;
    return 0;
}

/* Shape and type checks as the reader makes them; *bytes receives the size. */
static cove_status tensor_size(enum cove_ggml_type type, uint32_t n_dims, const uint64_t *ne, uint64_t *bytes)
{
    const cove_type_info *ti = cove_type_info_get((uint32_t)type);
    if (!ti || n_dims < 1 || n_dims > COVE_GGUF_MAX_DIMS || !ne || ne[0] % ti->block_size)
        return COVE_ERR_INVALID_ARG;
    uint64_t elems = 1, b = ne[0] / ti->block_size;
    if (b > UINT64_MAX / ti->block_bytes)
        return COVE_ERR_INVALID_ARG;
    b *= ti->block_bytes;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0 || ne[d] > (uint64_t)INT64_MAX / elems)
            return COVE_ERR_INVALID_ARG;
        elems *= ne[d];
        if (d > 0) {
            if (b > UINT64_MAX / ne[d])
                return COVE_ERR_INVALID_ARG;
            b *= ne[d];
        }
    }
    if (b > SIZE_MAX)
        return COVE_ERR_LIMIT;
    *bytes = b;
    return COVE_OK;
}

static cove_status tensor_room(cove_gguf_writer *w)
{
    if (w->n_t >= COVE_GGUF_MAX_TENSORS)
        return COVE_ERR_LIMIT;
    if (w->n_t < w->cap_t)
        return COVE_OK;
    size_t cap = w->cap_t ? w->cap_t * 2 : 16;
    struct wtensor *t = cove_realloc(w->t, cap * sizeof *t);
    if (!t)
        return COVE_ERR_NOMEM;
    w->t = t;
    w->cap_t = cap;
    return COVE_OK;
}

cove_status cove_gguf_writer_add_tensor(cove_gguf_writer *w, const char *name, enum cove_ggml_type type,
                                        uint32_t n_dims, const uint64_t *ne, const void *data)
{
    uint64_t bytes;
    if (!w || !name || !name_ok(name, COVE_GGUF_MAX_NAME) || has_tensor(w, name))
        return COVE_ERR_INVALID_ARG;
    cove_status st = tensor_size(type, n_dims, ne, &bytes);
    if (st == COVE_OK)
        st = tensor_room(w);
    if (st != COVE_OK)
        return st;
    struct wtensor t = {.name = cove_strdup(name), .type = (uint32_t)type, .n_dims = n_dims, .n_bytes = bytes};
    t.data = data ? cove_malloc((size_t)bytes) : cove_calloc(1, (size_t)bytes);
    if (!t.name || !t.data) {
        cove_free(t.name);
        cove_free(t.data);
        return COVE_ERR_NOMEM;
    }
    if (data)
        memcpy(t.data, data, (size_t)bytes);
    for (uint32_t d = 0; d < COVE_GGUF_MAX_DIMS; d++)
        t.ne[d] = d < n_dims ? ne[d] : 1;
    w->t[w->n_t++] = t;
    return COVE_OK;
}

/* ---- serialising ---- */

/* Output: a FILE, a buffer, or neither (only counting). Errors are sticky. */
struct sink {
    FILE *f;
    uint8_t *buf;
    uint64_t pos;
    int failed;
};

static void put(struct sink *s, const void *p, size_t n)
{
    if (s->failed || n == 0)
        return;
    if (s->f && fwrite(p, 1, n, s->f) != n)
        s->failed = 1;
    if (s->buf)
        memcpy(s->buf + s->pos, p, n);
    s->pos += n;
}

static void put_le(struct sink *s, uint64_t v, size_t n)
{
    uint8_t b[8];
    store_le(b, v, n);
    put(s, b, n);
}

static void put_gstr(struct sink *s, const char *str)
{
    size_t n = strlen(str);
    put_le(s, n, 8);
    put(s, str, n);
}

/* Zero bytes up to position `to`. */
static void pad_until(struct sink *s, uint64_t to)
{
    static const uint8_t zeros[256];
    while (s->pos < to && !s->failed) {
        uint64_t n = to - s->pos;
        put(s, zeros, n > sizeof zeros ? sizeof zeros : (size_t)n);
    }
}

/* The alignment to write: general.alignment when set (checked), else the default. */
static cove_status writer_alignment(const cove_gguf_writer *w, uint64_t *align, int *implicit, cove_error *err)
{
    *align = COVE_GGUF_DEFAULT_ALIGNMENT;
    *implicit = 1;
    for (size_t i = 0; i < w->n_kv; i++) {
        const struct wkv *kv = &w->kv[i];
        if (strcmp(kv->key, "general.alignment") != 0)
            continue;
        *implicit = 0;
        uint64_t a = 0;
        if (kv->type == COVE_GGUF_UINT32 || kv->type == COVE_GGUF_UINT64 || kv->type == COVE_GGUF_UINT16 ||
            kv->type == COVE_GGUF_UINT8)
            for (size_t b = kv->n; b-- > 0;)
                a = (a << 8) | kv->payload[b];
        if (a == 0 || (a & (a - 1)) || a > COVE_GGUF_MAX_ALIGNMENT)
            return cove_error_set(err, COVE_ERR_INVALID_ARG,
                                  "general.alignment must be an unsigned power of two up to %u",
                                  (unsigned)COVE_GGUF_MAX_ALIGNMENT);
        *align = a;
    }
    return COVE_OK;
}

static void put_header(struct sink *s, const cove_gguf_writer *w, uint64_t align, int implicit)
{
    put(s, COVE_GGUF_MAGIC, 4);
    put_le(s, COVE_GGUF_VERSION, 4);
    put_le(s, w->n_t, 8);
    put_le(s, w->n_kv + (implicit ? 1 : 0), 8);
    if (implicit) {
        put_gstr(s, "general.alignment");
        put_le(s, COVE_GGUF_UINT32, 4);
        put_le(s, align, 4);
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        put_gstr(s, w->kv[i].key);
        put_le(s, w->kv[i].type, 4);
        put(s, w->kv[i].payload, w->kv[i].n);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        put_gstr(s, t->name);
        put_le(s, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_le(s, t->ne[d], 8);
        put_le(s, t->type, 4);
        put_le(s, t->offset, 8);
    }
}

/* The whole file into s. */
static cove_status serialise(cove_gguf_writer *w, struct sink *s, cove_error *err)
{
    uint64_t align, off = 0;
    int implicit;
    cove_status st = writer_alignment(w, &align, &implicit, err);
    if (st != COVE_OK)
        return st;
    for (size_t i = 0; i < w->n_t; i++) {
        off = (off + align - 1) / align * align;
        w->t[i].offset = off;
        off += w->t[i].n_bytes;
    }
    put_header(s, w, align, implicit);
    pad_until(s, (s->pos + align - 1) / align * align);
    uint64_t data_start = s->pos;
    for (size_t i = 0; i < w->n_t && !s->failed; i++) {
        pad_until(s, data_start + w->t[i].offset);
        put(s, w->t[i].data, (size_t)w->t[i].n_bytes);
    }
    if (s->failed)
        return cove_error_set(err, COVE_ERR_IO, "write failed: %s", strerror(errno));
    return COVE_OK;
}

cove_status cove_gguf_writer_to_memory(cove_gguf_writer *w, void **out, size_t *size, cove_error *err)
{
    if (!w || !out || !size)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no writer or output");
    struct sink count = {0};
    cove_status st = serialise(w, &count, err);
    if (st != COVE_OK)
        return st;
    struct sink s = {.buf = cove_malloc((size_t)count.pos)};
    if (!s.buf)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for a %llu-byte GGUF image",
                              (unsigned long long)count.pos);
    st = serialise(w, &s, err);
    if (st != COVE_OK) {
        cove_free(s.buf);
        return st;
    }
    *out = s.buf;
    *size = (size_t)s.pos;
    return COVE_OK;
}

/* fsync the directory holding path so that a rename survives a crash. */
static void sync_dir(const char *path)
{
    char dir[COVE_MAX_PATH];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Write to the open temp file fd (closed here) and make it durable. */
static cove_status write_temp(cove_gguf_writer *w, int fd, cove_error *err)
{
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "cannot write: %s", strerror(errno));
    }
    struct sink s = {.f = f};
    cove_status st = serialise(w, &s, err);
    if (st == COVE_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        st = cove_error_set(err, COVE_ERR_IO, "cannot write: %s", strerror(errno));
    if (fclose(f) != 0 && st == COVE_OK)
        st = cove_error_set(err, COVE_ERR_IO, "cannot close: %s", strerror(errno));
    return st;
}

cove_status cove_gguf_writer_save(cove_gguf_writer *w, const char *path, cove_error *err)
{
    char tmp[COVE_MAX_PATH];
    if (!w || !path)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no writer or path");
    if (strlen(path) + 16 >= sizeof tmp)
        return cove_error_set(err, COVE_ERR_LIMIT, "path longer than %d bytes", COVE_MAX_PATH - 16);
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot create a temporary file beside %s: %s", path,
                              strerror(errno));
    (void)fchmod(fd, 0644); /* mkstemp makes it 0600; a model file is not secret */
    cove_status st = write_temp(w, fd, err);
    if (st == COVE_OK && rename(tmp, path) != 0)
        st = cove_error_set(err, COVE_ERR_IO, "cannot rename the temporary file to %s: %s", path, strerror(errno));
    if (st != COVE_OK) {
        unlink(tmp);
        return st;
    }
    sync_dir(path);
    return COVE_OK;
}
