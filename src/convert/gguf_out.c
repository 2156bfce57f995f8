/*
 * convert/gguf_out.c - writing a GGUF file whose tensors are streamed in, and copying
 * metadata between GGUF files.
 *
 * The engine's writer (engine/gguf/gguf.h) validates metadata and lays out a file, but it
 * holds every tensor in memory. Here the metadata still goes through it: the writer,
 * holding no tensors, serialises header and key/value pairs to memory; that image is
 * read back with the GGUF reader, the end of its key/value section found by re-encoding
 * each value, and the bytes up to there written with the tensor count patched in. The
 * tensor table and the data follow, the data one piece at a time, each tensor at an
 * offset aligned to general.alignment. The file is written under a temporary name in the
 * same directory and renamed into place once complete and fsynced.
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
#include "base/buf.h"
#include "base/limits.h"
#include "convert/convert_int.h"

#define OUT_BUF_BYTES (4u << 20) /* stdio buffer of the output file */

struct cove_convert_out {
    FILE *f;
    char *iobuf;
    char tmp[COVE_MAX_PATH];
    char path[COVE_MAX_PATH];
    uint64_t align;
    uint64_t pos;          /* bytes written */
    uint64_t data_start;   /* file offset of the data section */
    size_t n, cur;         /* tensors; the one being written */
    uint64_t *offset;      /* [n] relative to data_start */
    uint64_t *size;        /* [n] bytes */
    uint64_t cur_written;
    int failed;
};

/* ---- metadata values ---- */

static void le_bytes(uint8_t *b, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static cove_status put_le(struct cove_buf *b, uint64_t v, size_t n)
{
    uint8_t tmp[8];
    le_bytes(tmp, v, n);
    return cove_buf_append(b, tmp, n);
}

/* A fixed-size scalar back into its bytes (floats were widened to double). */
static cove_status put_scalar(struct cove_buf *b, const cove_gguf_value *v)
{
    size_t n = cove_gguf_vtype_size(v->type);
    if (v->type == COVE_GGUF_FLOAT32) {
        float f = (float)v->v.f64;
        uint32_t u;
        memcpy(&u, &f, 4);
        return put_le(b, u, 4);
    }
    if (v->type == COVE_GGUF_FLOAT64) {
        uint64_t u;
        memcpy(&u, &v->v.f64, 8);
        return put_le(b, u, 8);
    }
    return put_le(b, v->v.u64, n);
}

static cove_status encode(const cove_gguf *g, const cove_gguf_value *v, struct cove_buf *b,
                          int depth)
{
    cove_status st;
    if (depth > COVE_GGUF_MAX_ARRAY_DEPTH)
        return COVE_ERR_LIMIT;
    if (v->type == COVE_GGUF_STRING)
        return (st = put_le(b, v->v.str.len, 8)) ? st
                                                 : cove_buf_append(b, v->v.str.ptr, v->v.str.len);
    if (v->type != COVE_GGUF_ARRAY)
        return put_scalar(b, v);
    if ((st = put_le(b, v->v.arr.elem_type, 4)) || (st = put_le(b, v->v.arr.count, 8)))
        return st;
    size_t es = cove_gguf_vtype_size(v->v.arr.elem_type);
    if (es)
        return cove_buf_append(b, v->v.arr.data, (size_t)v->v.arr.count * es);
    for (uint64_t i = 0; i < v->v.arr.count; i++) {
        cove_gguf_value e;
        if ((st = cove_gguf_arr_get(g, v, i, &e)) || (st = encode(g, &e, b, depth + 1)))
            return st;
    }
    return COVE_OK;
}

/* Key i of g as a NUL-terminated string in buf (COVE_GGUF_MAX_KEY_LEN + 1 bytes). */
static void key_copy(const cove_gguf *g, uint64_t i, char *buf)
{
    cove_gguf_str k = cove_gguf_kv_key(g, i);
    memcpy(buf, k.ptr, (size_t)k.len);
    buf[k.len] = '\0';
}

static int in_list(const char *key, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0)
            return 1;
    return 0;
}

cove_status cove_convert_copy_meta(const cove_gguf *g, cove_gguf_writer *w,
                                   const char *const *skip, cove_error *err)
{
    char *key = cove_malloc(COVE_GGUF_MAX_KEY_LEN + 1);
    struct cove_buf b;
    cove_status st = COVE_OK;
    if (!key)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_buf_init(&b, (size_t)cove_gguf_size(g) + 64);
    for (uint64_t i = 0; i < cove_gguf_kv_count(g) && st == COVE_OK; i++) {
        const cove_gguf_value *v = cove_gguf_kv_value(g, i);
        key_copy(g, i, key);
        if (in_list(key, skip))
            continue;
        cove_buf_reset(&b);
        if ((st = encode(g, v, &b, 0)) != COVE_OK)
            st = cove_error_set(err, st, "cannot copy the value of %.200s", key);
        else if ((st = cove_gguf_writer_set_raw(w, key, v->type, b.data, b.len, err)) != COVE_OK)
            st = cove_error_set(err, st, "cannot copy %.200s: %s", key, cove_error_msg(err));
    }
    cove_buf_release(&b);
    cove_free(key);
    return st;
}

/* Bytes of the key/value section of a metadata-only image (header included). */
static cove_status kv_end(const void *img, size_t size, uint64_t *end, cove_error *err)
{
    cove_gguf *g;
    struct cove_buf b;
    cove_status st = cove_gguf_open_memory(img, size, &g, err);
    if (st != COVE_OK)
        return st;
    uint64_t at = 24;
    cove_buf_init(&b, size);
    for (uint64_t i = 0; i < cove_gguf_kv_count(g) && st == COVE_OK; i++) {
        cove_buf_reset(&b);
        st = encode(g, cove_gguf_kv_value(g, i), &b, 0);
        at += 8 + cove_gguf_kv_key(g, i).len + 4 + b.len;
    }
    cove_buf_release(&b);
    cove_gguf_free(g);
    if (st != COVE_OK || at > size)
        return cove_error_set(err, COVE_ERR_INTERNAL, "cannot measure the metadata section");
    *end = at;
    return COVE_OK;
}

/* ---- the file ---- */

static void put(cove_convert_out *o, const void *p, size_t n)
{
    if (o->failed || n == 0)
        return;
    if (fwrite(p, 1, n, o->f) != n)
        o->failed = 1;
    o->pos += n;
}

static void put_num(cove_convert_out *o, uint64_t v, size_t n)
{
    uint8_t b[8];
    le_bytes(b, v, n);
    put(o, b, n);
}

static void pad_to(cove_convert_out *o, uint64_t to)
{
    static const uint8_t zeros[256];
    while (o->pos < to && !o->failed) {
        uint64_t n = to - o->pos;
        put(o, zeros, n > sizeof zeros ? sizeof zeros : (size_t)n);
    }
}

static cove_status io_error(cove_convert_out *o, cove_error *err)
{
    return cove_error_set(err, COVE_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const cove_convert_job *const *)a)->name,
                  (*(const cove_convert_job *const *)b)->name);
}

/* Names non-empty, short enough and unique. */
static cove_status check_names(const cove_convert_job *jobs, size_t n, cove_error *err)
{
    const cove_convert_job **v = cove_malloc((n + 1) * sizeof *v);
    cove_status st = COVE_OK;
    if (!v)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = &jobs[i];
    qsort(v, n, sizeof *v, cmp_name);
    for (size_t i = 0; i < n && st == COVE_OK; i++) {
        size_t l = strlen(v[i]->name);
        if (l == 0 || l > COVE_GGUF_MAX_NAME || (i && strcmp(v[i - 1]->name, v[i]->name) == 0))
            st = cove_error_set(err, COVE_ERR_INVALID_ARG, "tensor name '%s' is empty, too long "
                                "or given twice", v[i]->name);
    }
    cove_free(v);
    return st;
}

/* Offsets and sizes of every tensor. */
static cove_status plan(cove_convert_out *o, const cove_convert_job *jobs, size_t n,
                        cove_error *err)
{
    o->offset = cove_calloc(n + 1, sizeof *o->offset);
    o->size = cove_calloc(n + 1, sizeof *o->size);
    if (!o->offset || !o->size)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        off = (off + o->align - 1) / o->align * o->align;
        o->offset[i] = off;
        o->size[i] = jobs[i].n_bytes;
        off += jobs[i].n_bytes;
    }
    o->n = n;
    return COVE_OK;
}

static cove_status open_temp(cove_convert_out *o, const char *path, cove_error *err)
{
    if (strlen(path) + 16 >= sizeof o->tmp)
        return cove_error_set(err, COVE_ERR_LIMIT, "path longer than %d bytes", COVE_MAX_PATH - 16);
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        o->tmp[0] = '\0';
        return cove_error_set(err, COVE_ERR_IO, "cannot create a temporary file beside %s: %s",
                              path, strerror(errno));
    }
    (void)fchmod(fd, 0644); /* mkstemp makes it 0600; a model file is not secret */
    o->f = fdopen(fd, "wb");
    o->iobuf = cove_malloc(OUT_BUF_BYTES);
    if (!o->f) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "%s: cannot write: %s", o->tmp, strerror(errno));
    }
    if (o->iobuf)
        setvbuf(o->f, o->iobuf, _IOFBF, OUT_BUF_BYTES);
    return COVE_OK;
}

static void write_table(cove_convert_out *o, const cove_convert_job *jobs)
{
    for (size_t i = 0; i < o->n; i++) {
        const cove_convert_job *j = &jobs[i];
        size_t l = strlen(j->name);
        put_num(o, l, 8);
        put(o, j->name, l);
        put_num(o, j->n_dims, 4);
        for (uint32_t d = 0; d < j->n_dims; d++)
            put_num(o, j->ne[d], 8);
        put_num(o, (uint64_t)j->type, 4);
        put_num(o, o->offset[i], 8);
    }
}

/* Header, key/value pairs and tensor table, up to the aligned start of the data. */
static cove_status write_header(cove_convert_out *o, cove_gguf_writer *meta,
                                const cove_convert_job *jobs, cove_error *err)
{
    void *img;
    size_t size;
    uint64_t end = 0;
    cove_status st = cove_gguf_writer_to_memory(meta, &img, &size, err);
    if (st != COVE_OK)
        return st;
    if ((st = kv_end(img, size, &end, err)) == COVE_OK) {
        le_bytes((uint8_t *)img + 8, o->n, 8);
        put(o, img, (size_t)end);
        write_table(o, jobs);
        o->data_start = (o->pos + o->align - 1) / o->align * o->align;
        pad_to(o, o->data_start);
        if (o->failed)
            st = io_error(o, err);
    }
    cove_free(img);
    return st;
}

cove_status cove_convert_out_open(const char *path, cove_gguf_writer *meta,
                                  const cove_convert_job *jobs, size_t n,
                                  cove_convert_out **out, cove_error *err)
{
    *out = NULL;
    if (n > COVE_GGUF_MAX_TENSORS)
        return cove_error_set(err, COVE_ERR_LIMIT, "more than %d tensors", COVE_GGUF_MAX_TENSORS);
    cove_status st = check_names(jobs, n, err);
    if (st != COVE_OK)
        return st;
    cove_convert_out *o = cove_calloc(1, sizeof *o);
    if (!o)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    o->align = COVE_CONVERT_ALIGNMENT;
    if ((st = plan(o, jobs, n, err)) || (st = open_temp(o, path, err)) ||
        (st = write_header(o, meta, jobs, err))) {
        cove_convert_out_abort(o);
        return st;
    }
    *out = o;
    return COVE_OK;
}

cove_status cove_convert_out_data(cove_convert_out *o, const void *data, size_t n,
                                  cove_error *err)
{
    if (o->cur >= o->n || o->cur_written + n > o->size[o->cur])
        return cove_error_set(err, COVE_ERR_INTERNAL, "tensor data longer than planned");
    if (o->cur_written == 0)
        pad_to(o, o->data_start + o->offset[o->cur]);
    put(o, data, n);
    o->cur_written += n;
    return o->failed ? io_error(o, err) : COVE_OK;
}

cove_status cove_convert_out_end_tensor(cove_convert_out *o, cove_error *err)
{
    if (o->cur >= o->n || o->cur_written != o->size[o->cur])
        return cove_error_set(err, COVE_ERR_INTERNAL, "tensor data shorter than planned");
    if (o->size[o->cur] == 0)
        pad_to(o, o->data_start + o->offset[o->cur]);
    o->cur++;
    o->cur_written = 0;
    return o->failed ? io_error(o, err) : COVE_OK;
}

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

cove_status cove_convert_out_finish(cove_convert_out *o, uint64_t *bytes, cove_error *err)
{
    cove_status st = COVE_OK;
    if (o->cur != o->n)
        st = cove_error_set(err, COVE_ERR_INTERNAL, "%zu of %zu tensors written", o->cur, o->n);
    if (st == COVE_OK && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0 || o->failed))
        st = io_error(o, err);
    if (st == COVE_OK) {
        int rc = fclose(o->f);
        o->f = NULL;
        if (rc != 0)
            st = io_error(o, err);
    }
    if (st == COVE_OK && rename(o->tmp, o->path) != 0)
        st = cove_error_set(err, COVE_ERR_IO, "cannot rename the temporary file to %s: %s",
                            o->path, strerror(errno));
    if (st != COVE_OK) {
        cove_convert_out_abort(o);
        return st;
    }
    sync_dir(o->path);
    if (bytes)
        *bytes = o->pos;
    o->tmp[0] = '\0';
    cove_convert_out_abort(o); /* frees what is left; the file is in place */
    return COVE_OK;
}

void cove_convert_out_abort(cove_convert_out *o)
{
    if (!o)
        return;
    if (o->f)
        fclose(o->f);
    if (o->tmp[0])
        unlink(o->tmp);
    cove_free(o->iobuf);
    cove_free(o->offset);
    cove_free(o->size);
    cove_free(o);
}
