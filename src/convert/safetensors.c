/*
 * convert/safetensors.c - the safetensors reader: files mapped read-only, every header
 * field checked before a byte of data is touched.
 *
 * The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the
 * data section. The JSON is an object whose keys are tensor names (plus an optional
 * "__metadata__" object of strings); each tensor is {"dtype": "F32", "shape": [..],
 * "data_offsets": [begin, end]} with offsets relative to the data section.
 *
 * Checks: N within the file and under COVE_ST_MAX_HEADER; valid JSON, an object, no
 * duplicate keys, no unknown fields in a tensor entry; a known dtype; at most
 * COVE_GGUF_MAX_DIMS dimensions; the element count times the dtype size neither
 * overflowing nor differing from end - begin; begin <= end <= data size; no two tensors
 * overlapping; at most COVE_ST_MAX_TENSORS per file; names unique across the set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "convert/convert_int.h"

typedef struct st_file {
    char *label;      /* path or label, owned */
    const uint8_t *map;
    size_t size;
    int mapped;       /* 1: munmap at free */
} st_file;

struct cove_convert_st {
    st_file *files;
    uint32_t n_files, cap_files;
    cove_convert_st_tensor *t; /* sorted by name after every file added */
    size_t n_t, cap_t;
};

static const struct {
    const char *name;
    uint32_t size;
} dtypes[COVE_ST_DTYPE_COUNT] = {
    [COVE_ST_BOOL] = {"BOOL", 1},     [COVE_ST_U8] = {"U8", 1},
    [COVE_ST_I8] = {"I8", 1},         [COVE_ST_F8_E4M3] = {"F8_E4M3", 1},
    [COVE_ST_F8_E5M2] = {"F8_E5M2", 1}, [COVE_ST_I16] = {"I16", 2},
    [COVE_ST_U16] = {"U16", 2},       [COVE_ST_F16] = {"F16", 2},
    [COVE_ST_BF16] = {"BF16", 2},     [COVE_ST_I32] = {"I32", 4},
    [COVE_ST_U32] = {"U32", 4},       [COVE_ST_F32] = {"F32", 4},
    [COVE_ST_I64] = {"I64", 8},       [COVE_ST_U64] = {"U64", 8},
    [COVE_ST_F64] = {"F64", 8},
};

const char *cove_convert_dtype_name(enum cove_convert_dtype d)
{
    return (unsigned)d < COVE_ST_DTYPE_COUNT ? dtypes[d].name : "?";
}

cove_status cove_convert_st_create(cove_convert_st **out)
{
    *out = cove_calloc(1, sizeof **out);
    return *out ? COVE_OK : COVE_ERR_NOMEM;
}

void cove_convert_st_free(cove_convert_st *st)
{
    if (!st)
        return;
    for (uint32_t i = 0; i < st->n_files; i++) {
        if (st->files[i].mapped)
            munmap((void *)st->files[i].map, st->files[i].size);
        cove_free(st->files[i].label);
    }
    for (size_t i = 0; i < st->n_t; i++)
        cove_free((void *)st->t[i].name);
    cove_free(st->files);
    cove_free(st->t);
    cove_free(st);
}

/* ---- one header ---- */

/* A JSON integer in [0, INT64_MAX] into *out; 0 when it is not one. */
static int json_u64(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(j);
    return 1;
}

static int find_dtype(const char *s)
{
    for (int i = 0; i < COVE_ST_DTYPE_COUNT; i++)
        if (strcmp(dtypes[i].name, s) == 0)
            return i;
    return -1;
}

/* Shape of entry `e` into t (n_dims, shape, n_elems). */
static cove_status parse_shape(const json_t *shape, const char *label, const char *name,
                               cove_convert_st_tensor *t, cove_error *err)
{
    if (!json_is_array(shape))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s': shape is not an array",
                              label, name);
    size_t nd = json_array_size(shape);
    if (nd > COVE_GGUF_MAX_DIMS)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions "
                              "(at most %d)", label, name, nd, COVE_GGUF_MAX_DIMS);
    t->n_dims = (uint32_t)nd;
    t->n_elems = 1;
    for (size_t d = 0; d < nd; d++) {
        uint64_t v;
        if (!json_u64(json_array_get(shape, d), &v))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a "
                                  "non-negative integer", label, name, d);
        if (v != 0 && t->n_elems > UINT64_MAX / v)
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s': element count "
                                  "overflows", label, name);
        t->shape[d] = v;
        t->n_elems *= v;
    }
    return COVE_OK;
}

/* data_offsets of entry into *begin, *end, checked against the data size. */
static cove_status parse_offsets(const json_t *offs, const char *label, const char *name,
                                 uint64_t data_size, uint64_t *begin, uint64_t *end,
                                 cove_error *err)
{
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_u64(json_array_get(offs, 0), begin) || !json_u64(json_array_get(offs, 1), end))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s': data_offsets is not "
                              "[begin, end] of non-negative integers", label, name);
    if (*begin > *end)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] "
                              "end before they begin", label, name, (unsigned long long)*begin,
                              (unsigned long long)*end);
    if (*end > data_size)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] "
                              "end past the end of the data (%llu bytes)", label, name,
                              (unsigned long long)*begin, (unsigned long long)*end,
                              (unsigned long long)data_size);
    return COVE_OK;
}

/* The fields of one tensor entry, unknown ones rejected. */
static cove_status entry_fields(const json_t *e, const char *label, const char *name,
                                const json_t **dtype, const json_t **shape,
                                const json_t **offs, cove_error *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(e))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s' is not an object", label,
                              name);
    json_object_foreach((json_t *)e, k, v) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s' has an unknown field "
                                  "'%.64s'", label, name, k);
    }
    *dtype = json_object_get(e, "dtype");
    *shape = json_object_get(e, "shape");
    *offs = json_object_get(e, "data_offsets");
    if (!json_is_string(*dtype))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s' has no dtype string",
                              label, name);
    return COVE_OK;
}

/* One tensor entry into t (data pointer included). */
static cove_status parse_entry(const json_t *e, const char *label, const char *name,
                               const uint8_t *data, uint64_t data_size,
                               cove_convert_st_tensor *t, cove_error *err)
{
    const json_t *jd = NULL, *js = NULL, *jo = NULL;
    uint64_t begin = 0, end = 0;
    cove_status st = entry_fields(e, label, name, &jd, &js, &jo, err);
    if (st != COVE_OK)
        return st;
    int d = find_dtype(json_string_value(jd));
    if (d < 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%.32s'",
                              label, name, json_string_value(jd));
    t->dtype = (enum cove_convert_dtype)d;
    if ((st = parse_shape(js, label, name, t, err)) ||
        (st = parse_offsets(jo, label, name, data_size, &begin, &end, err)))
        return st;
    if (t->n_elems > UINT64_MAX / dtypes[d].size || t->n_elems * dtypes[d].size != end - begin)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s': data_offsets span %llu "
                              "bytes but dtype %s and its shape need %llu", label, name,
                              (unsigned long long)(end - begin), dtypes[d].name,
                              (unsigned long long)(t->n_elems * dtypes[d].size));
    t->data = data + begin;
    t->n_bytes = end - begin;
    return COVE_OK;
}

static cove_status check_metadata(const json_t *m, const char *label, cove_error *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(m))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: __metadata__ is not an object", label);
    json_object_foreach((json_t *)m, k, v) {
        if (!json_is_string(v))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: __metadata__ value '%.64s' is not "
                                  "a string", label, k);
    }
    return COVE_OK;
}

static int cmp_data(const void *a, const void *b)
{
    const cove_convert_st_tensor *x = *(const cove_convert_st_tensor *const *)a;
    const cove_convert_st_tensor *y = *(const cove_convert_st_tensor *const *)b;
    const uint8_t *p = x->data, *q = y->data;
    return p < q ? -1 : p > q;
}

/* No two non-empty tensors of a file share a byte. */
static cove_status check_overlap(cove_convert_st *st, size_t first, const char *label,
                                 cove_error *err)
{
    size_t n = st->n_t - first;
    const cove_convert_st_tensor **v = cove_malloc((n + 1) * sizeof *v);
    if (!v)
        return cove_error_set(err, COVE_ERR_NOMEM, "%s: out of memory", label);
    size_t m = 0;
    for (size_t i = first; i < st->n_t; i++)
        if (st->t[i].n_bytes)
            v[m++] = &st->t[i];
    qsort(v, m, sizeof *v, cmp_data);
    cove_status rc = COVE_OK;
    for (size_t i = 1; i < m && rc == COVE_OK; i++)
        if ((const uint8_t *)v[i - 1]->data + v[i - 1]->n_bytes > (const uint8_t *)v[i]->data)
            rc = cove_error_set(err, COVE_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap",
                                label, v[i - 1]->name, v[i]->name);
    cove_free(v);
    return rc;
}

static cove_status push_tensor(cove_convert_st *st, const cove_convert_st_tensor *t,
                               const char *label, cove_error *err)
{
    if (st->n_t == st->cap_t) {
        size_t cap = st->cap_t ? st->cap_t * 2 : 64;
        cove_convert_st_tensor *nt = cove_realloc(st->t, cap * sizeof *nt);
        if (!nt)
            return cove_error_set(err, COVE_ERR_NOMEM, "%s: out of memory", label);
        st->t = nt;
        st->cap_t = cap;
    }
    st->t[st->n_t++] = *t;
    return COVE_OK;
}

/* Walk the header object and add each tensor. */
static cove_status parse_tensors(cove_convert_st *st, const json_t *root, uint32_t file,
                                 const uint8_t *data, uint64_t data_size, cove_error *err)
{
    const char *label = st->files[file].label, *k;
    json_t *v;
    if (json_object_size(root) > COVE_ST_MAX_TENSORS + 1)
        return cove_error_set(err, COVE_ERR_LIMIT, "%s: more than %d tensors", label,
                              COVE_ST_MAX_TENSORS);
    json_object_foreach((json_t *)root, k, v) {
        cove_status rc;
        if (strcmp(k, "__metadata__") == 0) {
            if ((rc = check_metadata(v, label, err)) != COVE_OK)
                return rc;
            continue;
        }
        size_t klen = strlen(k);
        if (klen == 0 || klen > COVE_ST_MAX_NAME)
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: a tensor name is empty or longer "
                                  "than %d bytes", label, COVE_ST_MAX_NAME);
        cove_convert_st_tensor t = {.file = file};
        if ((rc = parse_entry(v, label, k, data, data_size, &t, err)) != COVE_OK)
            return rc;
        if (!(t.name = cove_strdup(k)))
            return cove_error_set(err, COVE_ERR_NOMEM, "%s: out of memory", label);
        if ((rc = push_tensor(st, &t, label, err)) != COVE_OK) {
            cove_free((void *)t.name);
            return rc;
        }
    }
    return COVE_OK;
}

/* Parse the header of file `file` (already recorded in st->files). */
static cove_status parse_file(cove_convert_st *st, uint32_t file, cove_error *err)
{
    const st_file *f = &st->files[file];
    if (f->size < 8)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: truncated: %zu bytes, a safetensors "
                              "file starts with an 8-byte header length", f->label, f->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | f->map[i];
    if (n == 0 || n > COVE_ST_MAX_HEADER)
        return cove_error_set(err, n ? COVE_ERR_LIMIT : COVE_ERR_FORMAT, "%s: header length "
                              "%llu is %s", f->label, (unsigned long long)n,
                              n ? "past the limit of 100 MiB" : "zero");
    if (n > f->size - 8)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: header length %llu runs past the end "
                              "of the file (%zu bytes)", f->label, (unsigned long long)n,
                              f->size);
    json_error_t je;
    json_t *root = json_loadb((const char *)f->map + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: header is not valid JSON: %s (line "
                              "%d, column %d)", f->label, je.text, je.line, je.column);
    cove_status rc = COVE_OK;
    size_t first = st->n_t;
    if (!json_is_object(root))
        rc = cove_error_set(err, COVE_ERR_FORMAT, "%s: header is not a JSON object", f->label);
    else
        rc = parse_tensors(st, root, file, f->map + 8 + n, f->size - 8 - n, err);
    json_decref(root);
    if (rc == COVE_OK)
        rc = check_overlap(st, first, f->label, err);
    return rc;
}

/* ---- adding files ---- */

static cove_status push_file(cove_convert_st *st, const char *label, const void *map,
                             size_t size, int mapped, cove_error *err)
{
    if (st->n_files >= COVE_ST_MAX_SHARDS)
        return cove_error_set(err, COVE_ERR_LIMIT, "more than %d safetensors files",
                              COVE_ST_MAX_SHARDS);
    if (st->n_files == st->cap_files) {
        uint32_t cap = st->cap_files ? st->cap_files * 2 : 4;
        st_file *nf = cove_realloc(st->files, cap * sizeof *nf);
        if (!nf)
            return cove_error_set(err, COVE_ERR_NOMEM, "%s: out of memory", label);
        st->files = nf;
        st->cap_files = cap;
    }
    char *l = cove_strdup(label);
    if (!l)
        return cove_error_set(err, COVE_ERR_NOMEM, "%s: out of memory", label);
    st->files[st->n_files++] = (st_file){l, map, size, mapped};
    return COVE_OK;
}

/* Remove the tensors of the last file and the file itself (after a failed add). */
static void pop_file(cove_convert_st *st)
{
    uint32_t f = st->n_files - 1;
    size_t k = 0;
    for (size_t i = 0; i < st->n_t; i++) {
        if (st->t[i].file == f)
            cove_free((void *)st->t[i].name);
        else
            st->t[k++] = st->t[i];
    }
    st->n_t = k;
    if (st->files[f].mapped)
        munmap((void *)st->files[f].map, st->files[f].size);
    cove_free(st->files[f].label);
    st->n_files--;
}

static cove_status st_finish(cove_convert_st *st, cove_error *err);

static cove_status add_mapped(cove_convert_st *st, const void *map, size_t size, int mapped,
                              const char *label, cove_error *err)
{
    cove_status rc = push_file(st, label, map, size, mapped, err);
    if (rc != COVE_OK) {
        if (mapped)
            munmap((void *)map, size);
        return rc;
    }
    if ((rc = parse_file(st, st->n_files - 1, err)) != COVE_OK ||
        (rc = st_finish(st, err)) != COVE_OK)
        pop_file(st);
    return rc;
}

cove_status cove_convert_st_add_memory(cove_convert_st *st, const void *data, size_t size,
                                       const char *label, cove_error *err)
{
    if (!st || (!data && size))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no safetensors set or data");
    return add_mapped(st, data, size, 0, label ? label : "(memory)", err);
}

cove_status cove_convert_st_add_file(cove_convert_st *st, const char *path, cove_error *err)
{
    struct stat sb;
    if (!st || !path)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no safetensors set or path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_IO,
                              "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return cove_error_set(err, COVE_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
    }
    close(fd);
    return add_mapped(st, map, size, map != NULL, path, err);
}

/* ---- look-ups ---- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const cove_convert_st_tensor *)a)->name,
                  ((const cove_convert_st_tensor *)b)->name);
}

/* Sort by name and reject a name found twice. */
static cove_status st_finish(cove_convert_st *st, cove_error *err)
{
    qsort(st->t, st->n_t, sizeof *st->t, cmp_name);
    for (size_t i = 1; i < st->n_t; i++)
        if (strcmp(st->t[i - 1].name, st->t[i].name) == 0)
            return cove_error_set(err, COVE_ERR_FORMAT, "tensor '%s' is in both %s and %s",
                                  st->t[i].name, st->files[st->t[i - 1].file].label,
                                  st->files[st->t[i].file].label);
    return COVE_OK;
}

size_t cove_convert_st_count(const cove_convert_st *st)
{
    return st->n_t;
}

const cove_convert_st_tensor *cove_convert_st_at(const cove_convert_st *st, size_t i)
{
    return i < st->n_t ? &st->t[i] : NULL;
}

const cove_convert_st_tensor *cove_convert_st_find(const cove_convert_st *st, const char *name)
{
    cove_convert_st_tensor key = {.name = name};
    if (!st->n_t)
        return NULL;
    return bsearch(&key, st->t, st->n_t, sizeof key, cmp_name);
}

const char *cove_convert_st_file(const cove_convert_st *st, uint32_t i)
{
    return i < st->n_files ? st->files[i].label : "?";
}

/* ---- a model directory ---- */

/* A shard file name from the index: plain, no directory parts. */
static int shard_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 256 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* Every name of the weight map is in the shard it is mapped to, and nothing else is. */
static cove_status check_weight_map(cove_convert_st *st, const json_t *map, const char *ipath,
                                    cove_error *err)
{
    const char *k;
    json_t *v;
    if (json_object_size(map) != st->n_t)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: weight_map lists %zu tensors, the "
                              "shards hold %zu", ipath, json_object_size(map), st->n_t);
    json_object_foreach((json_t *)map, k, v) {
        const cove_convert_st_tensor *t = cove_convert_st_find(st, k);
        const char *want = json_string_value(v), *got, *slash;
        if (!t)
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%.200s' is in no shard",
                                  ipath, k);
        got = st->files[t->file].label;
        slash = strrchr(got, '/');
        if (strcmp(slash ? slash + 1 : got, want) != 0)
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%.200s' is mapped to %s "
                                  "but found in %s", ipath, k, want, got);
    }
    return COVE_OK;
}

/* Add each distinct shard of the weight map, in order of first mention. */
static cove_status add_shards(cove_convert_st *st, const char *dir, const json_t *map,
                              const char *ipath, cove_error *err)
{
    const char *k;
    json_t *v;
    char path[COVE_MAX_PATH];
    json_object_foreach((json_t *)map, k, v) {
        const char *s = json_string_value(v);
        if (!s || !shard_name_ok(s))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%.200s' maps to a bad "
                                  "file name", ipath, k);
        int seen = 0;
        for (uint32_t i = 0; i < st->n_files && !seen; i++) {
            const char *l = st->files[i].label, *slash = strrchr(l, '/');
            seen = strcmp(slash ? slash + 1 : l, s) == 0;
        }
        cove_status rc;
        if (!seen && ((rc = cove_convert_path(path, dir, s, err)) ||
                      (rc = cove_convert_st_add_file(st, path, err))))
            return rc;
    }
    return COVE_OK;
}

static cove_status open_index(cove_convert_st *st, const char *dir, const char *ipath,
                              cove_error *err)
{
    json_t *root;
    cove_status rc = cove_convert_json_load(ipath, 0, &root, err);
    if (rc != COVE_OK)
        return rc;
    const json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map) || json_object_size(map) == 0)
        rc = cove_error_set(err, COVE_ERR_FORMAT, "%s: no weight_map object", ipath);
    if (rc == COVE_OK)
        rc = add_shards(st, dir, map, ipath, err);
    if (rc == COVE_OK)
        rc = check_weight_map(st, map, ipath, err);
    json_decref(root);
    return rc;
}

cove_status cove_convert_st_open_dir(const char *dir, cove_convert_st **out, cove_error *err)
{
    char ipath[COVE_MAX_PATH], spath[COVE_MAX_PATH];
    cove_status rc;
    *out = NULL;
    if ((rc = cove_convert_path(ipath, dir, "model.safetensors.index.json", err)) ||
        (rc = cove_convert_path(spath, dir, "model.safetensors", err)))
        return rc;
    cove_convert_st *st;
    if (cove_convert_st_create(&st) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (cove_convert_file_exists(ipath))
        rc = open_index(st, dir, ipath, err);
    else if (cove_convert_file_exists(spath))
        rc = cove_convert_st_add_file(st, spath, err);
    else
        rc = cove_error_set(err, COVE_ERR_NOT_FOUND, "%s: no model.safetensors or "
                            "model.safetensors.index.json", dir);
    if (rc != COVE_OK) {
        cove_convert_st_free(st);
        return rc;
    }
    *out = st;
    return COVE_OK;
}
