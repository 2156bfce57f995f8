/*
 * tests/engine/test_gguf.c - the GGUF reader and writer: real model files,
 * round trips through the writer, hand-made hostile files, mutations and
 * allocation failures.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/gguf/gguf.h"
#include "test.h"

/* ---- helpers ---- */

/* Touch every value, array element and tensor byte range of g; returns a checksum. */
static uint64_t walk_value(const cove_gguf *g, const cove_gguf_value *v, int depth)
{
    uint64_t sum = (uint64_t)v->type;
    if (v->type == COVE_GGUF_STRING) {
        for (uint64_t i = 0; i < v->v.str.len; i++)
            sum += (uint8_t)v->v.str.ptr[i];
        return sum;
    }
    if (v->type != COVE_GGUF_ARRAY)
        return sum + v->v.u64;
    for (uint64_t i = 0; i < v->v.arr.count; i++) {
        cove_gguf_value e;
        if (cove_gguf_arr_get(g, v, i, &e) != COVE_OK)
            return 0;
        sum += walk_value(g, &e, depth + 1);
    }
    return sum;
}

static uint64_t walk(const cove_gguf *g)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < cove_gguf_kv_count(g); i++) {
        cove_gguf_str k = cove_gguf_kv_key(g, i);
        sum += k.len + walk_value(g, cove_gguf_kv_value(g, i), 0);
    }
    for (uint64_t i = 0; i < cove_gguf_tensor_count(g); i++) {
        const cove_gguf_tensor *t = cove_gguf_tensor_at(g, i);
        const uint8_t *d = t->data;
        sum += d[0] + d[t->n_bytes - 1] + t->name.len;
    }
    return sum;
}

/* A file image built by hand, little-endian. */
struct img {
    uint8_t b[8192];
    size_t n;
};

static void put_le(struct img *m, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

static void put_u32(struct img *m, uint32_t v)
{
    put_le(m, v, 4);
}

static void put_u64(struct img *m, uint64_t v)
{
    put_le(m, v, 8);
}

static void put_bytes(struct img *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put_str(struct img *m, const char *s)
{
    put_u64(m, strlen(s));
    put_bytes(m, s, strlen(s));
}

static void header(struct img *m, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    m->n = 0;
    put_bytes(m, "GGUF", 4);
    put_u32(m, version);
    put_u64(m, n_tensors);
    put_u64(m, n_kv);
}

static void kv_u32(struct img *m, const char *key, uint32_t v)
{
    put_str(m, key);
    put_u32(m, COVE_GGUF_UINT32);
    put_u32(m, v);
}

/* A 1-D or 2-D tensor info. */
static void tensor_info(struct img *m, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1, uint64_t off)
{
    put_str(m, name);
    put_u32(m, ne1 ? 2 : 1);
    put_u64(m, ne0);
    if (ne1)
        put_u64(m, ne1);
    put_u32(m, type);
    put_u64(m, off);
}

/* Zero padding to `align`, then n data bytes. */
static void data_section(struct img *m, size_t align, size_t n)
{
    while (m->n % align)
        m->b[m->n++] = 0;
    for (size_t i = 0; i < n; i++)
        m->b[m->n++] = (uint8_t)i;
}

/* Open must fail with `want` and a message containing `word`. 1 when it does. */
static int fails_with(const void *data, size_t n, cove_status want, const char *word)
{
    cove_gguf *g = (cove_gguf *)1;
    cove_error err = {0};
    cove_status st = cove_gguf_open_memory(data, n, &g, &err);
    if (st == COVE_OK) {
        cove_gguf_free(g);
        fprintf(stderr, "  expected %s (\"%s\"), but the file opened\n", cove_status_name(want), word);
        return 0;
    }
    if (st != want || !strstr(err.msg, word) || g != NULL) {
        fprintf(stderr, "  expected %s (\"%s\"), got %s: %s\n", cove_status_name(want), word,
                cove_status_name(st), err.msg);
        return 0;
    }
    return 1;
}

static int opens(const void *data, size_t n)
{
    cove_gguf *g = NULL;
    cove_error err = {0};
    if (cove_gguf_open_memory(data, n, &g, &err) != COVE_OK) {
        fprintf(stderr, "  open failed: %s\n", err.msg);
        return 0;
    }
    walk(g);
    cove_gguf_free(g);
    return 1;
}

/* A small valid file from the writer: every value kind and three tensors. */
static int small_image(void **out, size_t *size)
{
    cove_gguf_writer *w = NULL;
    static const float f[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const int16_t a16[3] = {-1, 0, 1};
    static const char *strs[] = {"a", "bc", "\xc3\xa9t\xc3\xa9"};
    static const uint8_t nested[] = {9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,      /* 2 arrays: */
                                     4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, /* [7] */
                                     8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,            /* ["x"] */
                                     1, 0, 0, 0, 0, 0, 0, 0, 'x'};
    uint64_t ne[2] = {4, 2}, ne8[1] = {32};
    int ok = cove_gguf_writer_create(&w) == COVE_OK;
    ok = ok && cove_gguf_writer_set_str(w, "general.architecture", "llama") == COVE_OK;
    ok = ok && cove_gguf_writer_set_u32(w, "llama.block_count", 1) == COVE_OK;
    ok = ok && cove_gguf_writer_set_f32(w, "llama.eps", 1e-5f) == COVE_OK;
    ok = ok && cove_gguf_writer_set_bool(w, "flag", 1) == COVE_OK;
    ok = ok && cove_gguf_writer_set_arr(w, "a16", COVE_GGUF_INT16, a16, 3) == COVE_OK;
    ok = ok && cove_gguf_writer_set_arr_str(w, "strs", strs, 3) == COVE_OK;
    ok = ok && cove_gguf_writer_set_raw(w, "nested", COVE_GGUF_ARRAY, nested, sizeof nested, NULL) == COVE_OK;
    ok = ok && cove_gguf_writer_add_tensor(w, "t.f32", COVE_TYPE_F32, 2, ne, f) == COVE_OK;
    ok = ok && cove_gguf_writer_add_tensor(w, "t.f16", COVE_TYPE_F16, 2, ne, f) == COVE_OK;
    ok = ok && cove_gguf_writer_add_tensor(w, "t.q8", COVE_TYPE_Q8_0, 1, ne8, NULL) == COVE_OK;
    ok = ok && cove_gguf_writer_to_memory(w, out, size, NULL) == COVE_OK;
    cove_gguf_writer_free(w);
    return ok;
}

/* ---- real files ---- */

static int open_model(const char *name, cove_gguf **g)
{
    cove_error err = {0};
    cove_status st = cove_gguf_open(test_model_path(name), g, &err);
    if (st != COVE_OK)
        fprintf(stderr, "  %s: %s\n", test_model_path(name), cove_error_msg(&err));
    return st == COVE_OK;
}

TEST(gguf_stories260k)
{
    cove_gguf *g = NULL;
    CHECK(open_model("stories260K.gguf", &g));
    cove_gguf_str s;
    uint64_t u = 0, n = 0;
    enum cove_gguf_vtype et;
    int ok = cove_gguf_get_str(g, "general.architecture", &s) == COVE_OK && cove_gguf_str_eq(s, "llama");
    ok = ok && cove_gguf_get_u64(g, "llama.block_count", &u) == COVE_OK && u == 5;
    ok = ok && cove_gguf_get_u64(g, "llama.embedding_length", &u) == COVE_OK && u == 64;
    ok = ok && cove_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) == COVE_OK && n == 512;
    ok = ok && et == COVE_GGUF_STRING && cove_gguf_version(g) >= 2 && cove_gguf_alignment(g) == 32;
    ok = ok && cove_gguf_arr_str(g, "tokenizer.ggml.tokens", 1, &s) == COVE_OK && cove_gguf_str_eq(s, "<s>");
    ok = ok && cove_gguf_arr_str(g, "tokenizer.ggml.tokens", 512, &s) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_get_u64(g, "no.such.key", &u) == COVE_ERR_NOT_FOUND;
    ok = ok && cove_gguf_get_u64(g, "general.architecture", &u) == COVE_ERR_FORMAT;
    const cove_gguf_tensor *te = cove_gguf_tensor_find(g, "token_embd.weight");
    ok = ok && te && te->n_dims == 2 && te->ne[0] == 64 && te->ne[1] == 512 && te->n_bytes == 64 * 512 * 4;
    ok = ok && cove_gguf_tensor_find(g, "token_embd") == NULL && cove_gguf_tensor_count(g) > 0;
    for (uint64_t i = 0; ok && i < cove_gguf_tensor_count(g); i++)
        ok = cove_gguf_tensor_at(g, i)->type == COVE_TYPE_F32;
    walk(g);
    cove_gguf_free(g);
    CHECK(ok);
}

TEST(gguf_llama2_tiny_random)
{
    cove_gguf *g = NULL;
    CHECK(open_model("llama-2-tiny-random.gguf", &g));
    uint64_t n = 0, f16 = 0;
    cove_gguf_str s;
    int ok = cove_gguf_get_arr(g, "tokenizer.ggml.tokens", NULL, &n) == COVE_OK && n == 32000;
    ok = ok && cove_gguf_arr_str(g, "tokenizer.ggml.tokens", 31999, &s) == COVE_OK && s.len > 0;
    for (uint64_t i = 0; i < cove_gguf_tensor_count(g); i++)
        f16 += cove_gguf_tensor_at(g, i)->type == COVE_TYPE_F16;
    const void *scores = NULL;
    ok = ok && f16 > 0 && cove_gguf_arr_data(g, "tokenizer.ggml.scores", &scores) == COVE_OK && scores;
    cove_gguf_free(g);
    CHECK(ok);
}

TEST(gguf_vocab_files)
{
    char dir[4096], path[8192];
    snprintf(dir, sizeof dir, "%s/vocab", test_models_dir());
    DIR *d = opendir(dir);
    CHECK_MSG(d, "cannot open %s", dir);
    int n_files = 0, bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        cove_gguf *g = NULL;
        cove_error err = {0};
        uint64_t n = 0;
        cove_gguf_str s;
        n_files++;
        if (cove_gguf_open(path, &g, &err) != COVE_OK ||
            cove_gguf_get_arr(g, "tokenizer.ggml.tokens", NULL, &n) != COVE_OK || n == 0 ||
            cove_gguf_arr_str(g, "tokenizer.ggml.tokens", n - 1, &s) != COVE_OK) {
            fprintf(stderr, "  %s: %s\n", path, err.msg);
            bad++;
        }
        walk(g);
        cove_gguf_free(g);
    }
    closedir(d);
    CHECK_EQ_INT(bad, 0);
    CHECK(n_files >= 13);
}

TEST(gguf_missing_file)
{
    cove_gguf *g = NULL;
    cove_error err = {0};
    CHECK_EQ_INT(cove_gguf_open(test_model_path("no-such-model.gguf"), &g, &err), COVE_ERR_NOT_FOUND);
    CHECK(g == NULL && strstr(err.msg, "No such file"));
    CHECK_EQ_INT(cove_gguf_open(test_models_dir(), &g, &err), COVE_ERR_IO);
    CHECK(g == NULL && strstr(err.msg, "regular file"));
}

/* Entries of the test directory whose names start with prefix. */
static int count_files(const char *prefix)
{
    DIR *d = opendir(test_tmpdir());
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

TEST(gguf_writer_save_atomic)
{
    char path[512];
    cove_gguf_writer *w = NULL;
    cove_gguf *g = NULL;
    cove_error err = {0};
    snprintf(path, sizeof path, "%s/atomic.gguf", test_tmpdir());
    CHECK(cove_gguf_writer_create(&w) == COVE_OK);
    int ok = cove_gguf_writer_set_str(w, "v", "first") == COVE_OK && cove_gguf_writer_save(w, path, &err) == COVE_OK;
    cove_gguf_writer_free(w);
    CHECK(ok && cove_gguf_writer_create(&w) == COVE_OK);
    ok = cove_gguf_writer_set_str(w, "v", "second") == COVE_OK && cove_gguf_writer_save(w, path, &err) == COVE_OK;
    cove_gguf_writer_set_u32(w, "general.alignment", 3); /* makes the next save fail */
    ok = ok && cove_gguf_writer_save(w, path, &err) == COVE_ERR_INVALID_ARG;
    cove_gguf_writer_free(w);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_EQ_INT(count_files("atomic.gguf"), 1); /* no temporary file left behind */
    cove_gguf_str s;
    CHECK(cove_gguf_open(path, &g, &err) == COVE_OK);
    ok = cove_gguf_get_str(g, "v", &s) == COVE_OK && cove_gguf_str_eq(s, "second");
    cove_gguf_free(g);
    CHECK(ok);
}

/* Tensor bytes read out: from a memory image and with pread from a file (also after the
 * file has become shorter: an error, not a crash), checked against the mapped bytes. */
static int read_matches(const cove_gguf *g, const char *name)
{
    const cove_gguf_tensor *t = cove_gguf_tensor_find(g, name);
    uint8_t buf[64];
    cove_error err = {0};
    if (!t || t->n_bytes > sizeof buf || t->n_bytes < 12)
        return 0;
    int ok = cove_gguf_tensor_read(g, t, 0, buf, (size_t)t->n_bytes, &err) == COVE_OK &&
             memcmp(buf, t->data, (size_t)t->n_bytes) == 0;
    ok = ok && cove_gguf_tensor_read(g, t, 5, buf, 7, &err) == COVE_OK &&
         memcmp(buf, (const uint8_t *)t->data + 5, 7) == 0;
    ok = ok && cove_gguf_tensor_read(g, t, t->n_bytes, buf, 0, &err) == COVE_OK;
    ok = ok && cove_gguf_tensor_read(g, t, 1, buf, (size_t)t->n_bytes, &err) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_tensor_read(g, t, t->n_bytes + 1, buf, 0, &err) == COVE_ERR_INVALID_ARG;
    return ok;
}

TEST(gguf_tensor_read)
{
    void *img = NULL;
    size_t size = 0;
    cove_gguf *g = NULL;
    cove_error err = {0};
    char path[512];
    CHECK(small_image(&img, &size));
    CHECK(cove_gguf_open_memory(img, size, &g, &err) == COVE_OK);
    CHECK(read_matches(g, "t.f32") && read_matches(g, "t.q8"));
    cove_gguf_free(g);
    snprintf(path, sizeof path, "%s/read.gguf", test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(img, 1, size, f) == size);
    if (f)
        fclose(f);
    CHECK(cove_gguf_open(path, &g, &err) == COVE_OK);
    CHECK(read_matches(g, "t.f32") && read_matches(g, "t.f16") && read_matches(g, "t.q8"));
    const cove_gguf_tensor *t = cove_gguf_tensor_find(g, "t.q8");
    uint8_t buf[64];
    CHECK(t && truncate(path, (off_t)cove_gguf_data_offset(g)) == 0);
    CHECK(t && cove_gguf_tensor_read(g, t, 0, buf, (size_t)t->n_bytes, &err) == COVE_ERR_IO);
    CHECK(strstr(cove_error_msg(&err), "shorter") != NULL);
    cove_gguf_free(g);
    cove_free(img);
}

TEST(gguf_type_table)
{
    CHECK(cove_type_info_get(COVE_TYPE_Q4_K) && cove_type_info_get(COVE_TYPE_Q4_K)->block_bytes == 144);
    CHECK(cove_type_info_get(COVE_TYPE_Q8_0)->block_bytes == 34 && cove_type_info_get(COVE_TYPE_Q6_K)->block_bytes == 210);
    CHECK(cove_type_info_get(4) == NULL && cove_type_info_get(31) == NULL && cove_type_info_get(COVE_TYPE_COUNT) == NULL);
    CHECK_EQ_INT(cove_type_from_name("Q8_0"), COVE_TYPE_Q8_0);
    CHECK_EQ_INT(cove_type_from_name("mxfp4"), COVE_TYPE_MXFP4);
    CHECK_EQ_INT(cove_type_from_name("q4_2"), -1);
    int known = 0;
    for (uint32_t t = 0; t < COVE_TYPE_COUNT; t++)
        known += cove_type_info_get(t) != NULL;
    CHECK_EQ_INT(known, 32);
}

/* ---- writer round trip ---- */

static cove_status add_scalars(cove_gguf_writer *w)
{
    uint8_t u8 = 200, b = 1;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int64_t i64 = -5000000000ll;
    double f64 = 3.25;
    cove_status st = cove_gguf_writer_set_scalar(w, "u8", COVE_GGUF_UINT8, &u8);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_scalar(w, "i8", COVE_GGUF_INT8, &i8);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_scalar(w, "u16", COVE_GGUF_UINT16, &u16);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_scalar(w, "i16", COVE_GGUF_INT16, &i16);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_scalar(w, "i64", COVE_GGUF_INT64, &i64);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_scalar(w, "f64", COVE_GGUF_FLOAT64, &f64);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_scalar(w, "b", COVE_GGUF_BOOL, &b);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_u32(w, "u32", 4000000000u);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_i32(w, "i32", -2000000000);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_u64(w, "u64", UINT64_MAX);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_f32(w, "f32", 0.5f);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_bool(w, "b0", 0);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_str(w, "s", "h\xc3\xa9llo");
    return st;
}

static int check_scalars(const cove_gguf *g)
{
    uint64_t u;
    int64_t i;
    double f;
    int b;
    int ok = cove_gguf_get_u64(g, "u8", &u) == COVE_OK && u == 200;
    ok = ok && cove_gguf_get_i64(g, "i8", &i) == COVE_OK && i == -100;
    ok = ok && cove_gguf_get_u64(g, "i8", &u) == COVE_ERR_FORMAT;
    ok = ok && cove_gguf_get_u64(g, "u16", &u) == COVE_OK && u == 60000;
    ok = ok && cove_gguf_get_i64(g, "i16", &i) == COVE_OK && i == -30000;
    ok = ok && cove_gguf_get_i64(g, "i64", &i) == COVE_OK && i == -5000000000ll;
    ok = ok && cove_gguf_get_f64(g, "f64", &f) == COVE_OK && f == 3.25;
    ok = ok && cove_gguf_get_bool(g, "b", &b) == COVE_OK && b == 1;
    ok = ok && cove_gguf_get_bool(g, "b0", &b) == COVE_OK && b == 0;
    ok = ok && cove_gguf_get_u64(g, "u32", &u) == COVE_OK && u == 4000000000u;
    ok = ok && cove_gguf_get_i64(g, "i32", &i) == COVE_OK && i == -2000000000;
    ok = ok && cove_gguf_get_u64(g, "u64", &u) == COVE_OK && u == UINT64_MAX;
    ok = ok && cove_gguf_get_i64(g, "u64", &i) == COVE_ERR_FORMAT;
    ok = ok && cove_gguf_get_f64(g, "f32", &f) == COVE_OK && f == 0.5;
    ok = ok && cove_gguf_get_f64(g, "u16", &f) == COVE_OK && f == 60000.0;
    cove_gguf_str s;
    ok = ok && cove_gguf_get_str(g, "s", &s) == COVE_OK && cove_gguf_str_eq(s, "h\xc3\xa9llo");
    ok = ok && cove_gguf_get_bool(g, "u8", &b) == COVE_ERR_FORMAT;
    return ok;
}

/* [[1,2],[],[["deep"]]] as an array of arrays. */
static const uint8_t nested_value[] = {
    9, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,                         /* array of 3 arrays */
    5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, /* int32 [1, 2] */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                         /* uint8 [] */
    9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,                         /* one array: */
    8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,                         /* of one string */
    4, 0, 0, 0, 0, 0, 0, 0, 'd', 'e', 'e', 'p'};

static cove_status add_arrays(cove_gguf_writer *w)
{
    static const uint32_t u32s[4] = {1, 2, 3, 0xFFFFFFFFu};
    static const double f64s[2] = {-1.5, 2.5};
    static const uint8_t bools[3] = {1, 0, 1};
    static const char *strs[4] = {"", "one", "\xe4\xb8\x80", "<0x0A>"};
    cove_status st = cove_gguf_writer_set_arr(w, "arr.u32", COVE_GGUF_UINT32, u32s, 4);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_arr(w, "arr.f64", COVE_GGUF_FLOAT64, f64s, 2);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_arr(w, "arr.bool", COVE_GGUF_BOOL, bools, 3);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_arr(w, "arr.empty", COVE_GGUF_INT8, NULL, 0);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_arr_str(w, "arr.str", strs, 4);
    if (st == COVE_OK)
        st = cove_gguf_writer_set_raw(w, "arr.nested", COVE_GGUF_ARRAY, nested_value, sizeof nested_value, NULL);
    return st;
}

static int check_nested(const cove_gguf *g)
{
    const cove_gguf_value *v = cove_gguf_kv_value(g, (uint64_t)cove_gguf_find_key(g, "arr.nested"));
    cove_gguf_value a, b, c, d;
    int ok = v && v->type == COVE_GGUF_ARRAY && v->v.arr.elem_type == COVE_GGUF_ARRAY && v->v.arr.count == 3;
    ok = ok && cove_gguf_arr_get(g, v, 0, &a) == COVE_OK && a.v.arr.elem_type == COVE_GGUF_INT32;
    ok = ok && a.v.arr.count == 2 && cove_gguf_arr_get(g, &a, 1, &b) == COVE_OK && b.v.i64 == 2;
    ok = ok && cove_gguf_arr_get(g, &a, 2, &b) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_arr_get(g, v, 1, &b) == COVE_OK && b.type == COVE_GGUF_ARRAY && b.v.arr.count == 0;
    ok = ok && cove_gguf_arr_get(g, v, 2, &c) == COVE_OK && c.v.arr.count == 1;
    ok = ok && cove_gguf_arr_get(g, &c, 0, &d) == COVE_OK && d.v.arr.elem_type == COVE_GGUF_STRING;
    ok = ok && cove_gguf_arr_get(g, &d, 0, &a) == COVE_OK && cove_gguf_str_eq(a.v.str, "deep");
    return ok;
}

static int check_arrays(const cove_gguf *g)
{
    enum cove_gguf_vtype et;
    uint64_t n;
    const void *data;
    cove_gguf_str s;
    int ok = cove_gguf_get_arr(g, "arr.u32", &et, &n) == COVE_OK && et == COVE_GGUF_UINT32 && n == 4;
    ok = ok && cove_gguf_arr_data(g, "arr.u32", &data) == COVE_OK && ((const uint8_t *)data)[12] == 0xFF;
    ok = ok && cove_gguf_get_arr(g, "arr.f64", &et, &n) == COVE_OK && et == COVE_GGUF_FLOAT64 && n == 2;
    const cove_gguf_value *v = cove_gguf_kv_value(g, (uint64_t)cove_gguf_find_key(g, "arr.f64"));
    cove_gguf_value e;
    ok = ok && v && cove_gguf_arr_get(g, v, 0, &e) == COVE_OK && e.v.f64 == -1.5;
    ok = ok && cove_gguf_get_arr(g, "arr.bool", &et, &n) == COVE_OK && et == COVE_GGUF_BOOL && n == 3;
    ok = ok && cove_gguf_get_arr(g, "arr.empty", &et, &n) == COVE_OK && et == COVE_GGUF_INT8 && n == 0;
    ok = ok && cove_gguf_get_arr(g, "arr.str", &et, &n) == COVE_OK && et == COVE_GGUF_STRING && n == 4;
    ok = ok && cove_gguf_arr_str(g, "arr.str", 0, &s) == COVE_OK && s.len == 0;
    ok = ok && cove_gguf_arr_str(g, "arr.str", 2, &s) == COVE_OK && cove_gguf_str_eq(s, "\xe4\xb8\x80");
    ok = ok && cove_gguf_arr_str(g, "arr.str", 3, &s) == COVE_OK && cove_gguf_str_eq(s, "<0x0A>");
    ok = ok && cove_gguf_arr_str(g, "arr.u32", 0, &s) == COVE_ERR_FORMAT;
    ok = ok && cove_gguf_arr_data(g, "arr.str", &data) == COVE_ERR_FORMAT;
    return ok && check_nested(g);
}

#define N_RT_TENSORS 5

static const struct {
    const char *name;
    enum cove_ggml_type type;
    uint32_t n_dims;
    uint64_t ne[4];
} rt_tensors[N_RT_TENSORS] = {
    {"w.f32", COVE_TYPE_F32, 1, {5, 1, 1, 1}},
    {"w.f16", COVE_TYPE_F16, 3, {3, 2, 2, 1}},
    {"w.q8_0", COVE_TYPE_Q8_0, 2, {64, 3, 1, 1}},
    {"w.q4_k", COVE_TYPE_Q4_K, 2, {256, 2, 1, 1}},
    {"w.bf16", COVE_TYPE_BF16, 4, {2, 1, 3, 2}},
};

static cove_status add_tensors(cove_gguf_writer *w, uint8_t *buf)
{
    for (size_t i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < N_RT_TENSORS; i++) {
        cove_status st = cove_gguf_writer_add_tensor(w, rt_tensors[i].name, rt_tensors[i].type,
                                                     rt_tensors[i].n_dims, rt_tensors[i].ne, buf + i);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

static int check_tensors(const cove_gguf *g, const uint8_t *buf)
{
    if (cove_gguf_tensor_count(g) != N_RT_TENSORS)
        return 0;
    for (int i = 0; i < N_RT_TENSORS; i++) {
        const cove_gguf_tensor *t = cove_gguf_tensor_at(g, (uint64_t)i);
        const cove_type_info *ti = cove_type_info_get(rt_tensors[i].type);
        uint64_t n = rt_tensors[i].ne[0] * rt_tensors[i].ne[1] * rt_tensors[i].ne[2] * rt_tensors[i].ne[3];
        if (!t || cove_gguf_tensor_find(g, rt_tensors[i].name) != t || t->type != rt_tensors[i].type ||
            t->n_dims != rt_tensors[i].n_dims || memcmp(t->ne, rt_tensors[i].ne, sizeof t->ne) != 0 ||
            t->n_bytes != n / ti->block_size * ti->block_bytes || memcmp(t->data, buf + i, t->n_bytes) != 0 ||
            t->offset % cove_gguf_alignment(g) != 0)
            return 0;
    }
    return 1;
}

static int build_full(cove_gguf_writer **w, uint8_t *buf)
{
    return cove_gguf_writer_create(w) == COVE_OK && add_scalars(*w) == COVE_OK && add_arrays(*w) == COVE_OK &&
           add_tensors(*w, buf) == COVE_OK;
}

TEST(gguf_writer_round_trip)
{
    static uint8_t buf[4096];
    char path[512];
    cove_gguf_writer *w = NULL;
    cove_gguf *g = NULL;
    cove_error err = {0};
    snprintf(path, sizeof path, "%s/rt.gguf", test_tmpdir());
    int ok = build_full(&w, buf) && cove_gguf_writer_save(w, path, &err) == COVE_OK;
    void *mem = NULL;
    size_t size = 0;
    ok = ok && cove_gguf_writer_to_memory(w, &mem, &size, &err) == COVE_OK;
    cove_gguf_writer_free(w);
    CHECK_MSG(ok, "writer failed: %s", err.msg);
    ok = cove_gguf_open(path, &g, &err) == COVE_OK;
    CHECK_MSG(ok, "reopen failed: %s", err.msg);
    ok = cove_gguf_version(g) == 3 && cove_gguf_alignment(g) == 32 && cove_gguf_data_offset(g) % 32 == 0;
    ok = ok && cove_gguf_size(g) == size && memcmp(mem, (const uint8_t *)cove_gguf_tensor_at(g, 0)->data -
                                                          cove_gguf_data_offset(g), size) == 0;
    uint64_t a = 0;
    ok = ok && cove_gguf_get_u64(g, "general.alignment", &a) == COVE_OK && a == 32;
    ok = ok && check_scalars(g) && check_arrays(g) && check_tensors(g, buf);
    ok = ok && cove_gguf_kv_count(g) == 20 && cove_gguf_kv_key(g, 20).ptr == NULL && !cove_gguf_kv_value(g, 20);
    cove_gguf_free(g);
    cove_free(mem);
    CHECK(ok);
}

TEST(gguf_writer_alignment)
{
    static uint8_t buf[4096];
    cove_gguf_writer *w = NULL;
    cove_gguf *g = NULL;
    void *mem = NULL;
    size_t size = 0;
    int ok = build_full(&w, buf) && cove_gguf_writer_set_u32(w, "general.alignment", 256) == COVE_OK;
    ok = ok && cove_gguf_writer_to_memory(w, &mem, &size, NULL) == COVE_OK;
    ok = ok && cove_gguf_open_memory(mem, size, &g, NULL) == COVE_OK;
    ok = ok && cove_gguf_alignment(g) == 256 && cove_gguf_data_offset(g) % 256 == 0 && check_tensors(g, buf);
    cove_gguf_free(g);
    cove_free(mem);
    cove_error err = {0};
    ok = ok && cove_gguf_writer_set_u32(w, "general.alignment", 64) == COVE_ERR_INVALID_ARG; /* duplicate */
    cove_gguf_writer_free(w);
    CHECK(ok);
    CHECK(cove_gguf_writer_create(&w) == COVE_OK);
    ok = cove_gguf_writer_set_u32(w, "general.alignment", 48) == COVE_OK;
    ok = ok && cove_gguf_writer_to_memory(w, &mem, &size, &err) == COVE_ERR_INVALID_ARG;
    cove_gguf_writer_free(w);
    CHECK(ok && strstr(err.msg, "power of two"));
}

TEST(gguf_writer_rejects)
{
    cove_gguf_writer *w = NULL;
    uint64_t ne[2] = {33, 1}, zero[1] = {0};
    static const uint8_t trailing[] = {7, 0, 0, 0, 1, 2}; /* a uint32 and two stray bytes */
    static const uint8_t bad_str[] = {1, 0, 0, 0, 0, 0, 0, 0, 0xFF};
    cove_error err = {0};
    CHECK(cove_gguf_writer_create(&w) == COVE_OK);
    int ok = cove_gguf_writer_set_u32(w, "k", 1) == COVE_OK;
    ok = ok && cove_gguf_writer_set_u32(w, "k", 2) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_set_u32(w, "", 2) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_set_u32(w, "bad\xff", 2) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_set_str(w, "s", "\xc0\xaf") == COVE_ERR_INVALID_ARG; /* overlong '/' */
    ok = ok && cove_gguf_writer_set_arr(w, "a", COVE_GGUF_STRING, "x", 1) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_set_arr(w, "a", COVE_GGUF_UINT8, "x", (uint64_t)COVE_GGUF_MAX_ARRAY + 1) == COVE_ERR_LIMIT;
    ok = ok && cove_gguf_writer_set_raw(w, "r", COVE_GGUF_UINT32, trailing, sizeof trailing, &err) == COVE_ERR_FORMAT;
    ok = ok && cove_gguf_writer_set_raw(w, "r", COVE_GGUF_STRING, bad_str, sizeof bad_str, &err) == COVE_ERR_FORMAT;
    ok = ok && strstr(err.msg, "UTF-8") != NULL;
    ok = ok && cove_gguf_writer_add_tensor(w, "t", COVE_TYPE_Q8_0, 2, ne, NULL) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_add_tensor(w, "t", COVE_TYPE_F32, 1, zero, NULL) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_add_tensor(w, "t", (enum cove_ggml_type)4, 1, ne, NULL) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_add_tensor(w, "t", COVE_TYPE_F32, 5, ne, NULL) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_add_tensor(w, "t", COVE_TYPE_F32, 2, ne, NULL) == COVE_OK;
    ok = ok && cove_gguf_writer_add_tensor(w, "t", COVE_TYPE_F32, 2, ne, NULL) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_gguf_writer_save(w, "/nonexistent-dir/x.gguf", &err) == COVE_ERR_IO;
    cove_gguf_writer_free(w);
    cove_gguf_writer_free(NULL);
    cove_gguf_free(NULL);
    CHECK(ok);
}

TEST(gguf_writer_alloc_failure)
{
    static uint8_t buf[4096];
    long n;
    for (n = 1; n < 10000; n++) {
        cove_gguf_writer *w = NULL;
        void *mem = NULL;
        size_t size;
        cove_alloc_fail_at(n, 1);
        int ok = build_full(&w, buf) && cove_gguf_writer_to_memory(w, &mem, &size, NULL) == COVE_OK;
        cove_alloc_fail_at(0, 0);
        cove_gguf_writer_free(w);
        cove_free(mem);
        if (ok)
            break;
    }
    CHECK(n > 10 && n < 10000);
}

/* ---- hostile files ---- */

TEST(gguf_truncated_everywhere)
{
    void *mem = NULL;
    size_t size = 0;
    CHECK(small_image(&mem, &size));
    CHECK(opens(mem, size));
    int bad = 0;
    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees over-reads */
        memcpy(copy, mem, cut);
        if (!fails_with(copy, cut, COVE_ERR_FORMAT, cut < 4 ? "magic" : "")) {
            fprintf(stderr, "  cut at %zu of %zu\n", cut, size);
            bad++;
        }
        free(copy);
    }
    cove_free(mem);
    CHECK_EQ_INT(bad, 0);
}

TEST(gguf_bad_header)
{
    struct img m;
    header(&m, 3, 0, 0);
    CHECK(opens(m.b, m.n));
    CHECK(fails_with(m.b, 0, COVE_ERR_FORMAT, "magic"));
    m.b[0] = 'X';
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "magic"));
    header(&m, 1, 0, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_UNSUPPORTED, "version 1"));
    header(&m, 4, 0, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_UNSUPPORTED, "version 4"));
    header(&m, 0x03000000u, 0, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_UNSUPPORTED, "big-endian"));
    header(&m, 2, 0, 0);
    CHECK(opens(m.b, m.n));
    header(&m, 3, 0, 1ull << 60);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "cannot fit"));
    header(&m, 3, 1ull << 40, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "cannot fit"));
}

TEST(gguf_too_many_entries)
{
    size_t n = 24 + (size_t)(COVE_GGUF_MAX_KV + 1) * 13;
    uint8_t *big = calloc(1, n);
    CHECK(big);
    struct img m;
    header(&m, 3, 0, COVE_GGUF_MAX_KV + 1);
    memcpy(big, m.b, m.n);
    int ok = fails_with(big, n, COVE_ERR_LIMIT, "limit");
    free(big);
    CHECK(ok);
}

TEST(gguf_bad_strings)
{
    struct img m;
    header(&m, 3, 0, 1);
    put_u64(&m, 1ull << 62); /* key length */
    put_bytes(&m, "0123456789abcdef", 16);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "past the end"));
    header(&m, 3, 0, 1);
    put_str(&m, "bad\xc3\x28key");
    put_u32(&m, COVE_GGUF_UINT8);
    put_u32(&m, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "UTF-8"));
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "bad\\xc3"));
    header(&m, 3, 0, 1);
    put_str(&m, "general.name");
    put_u32(&m, COVE_GGUF_STRING);
    put_str(&m, "surrogate \xed\xa0\x80");
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "general.name"));
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "UTF-8"));
    header(&m, 3, 0, 1);
    put_str(&m, "");
    put_u32(&m, COVE_GGUF_UINT8);
    put_u32(&m, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "empty key"));
}

TEST(gguf_huge_string_limit)
{
    size_t n = 64 + COVE_GGUF_MAX_STRING + 1;
    uint8_t *big = calloc(1, n);
    CHECK(big);
    struct img m;
    header(&m, 3, 0, 1);
    put_str(&m, "k");
    put_u32(&m, COVE_GGUF_STRING);
    put_u64(&m, (uint64_t)COVE_GGUF_MAX_STRING + 1);
    memcpy(big, m.b, m.n);
    int ok = fails_with(big, n, COVE_ERR_LIMIT, "exceeds the limit");
    free(big);
    CHECK(ok);
}

TEST(gguf_bad_values)
{
    struct img m;
    header(&m, 3, 0, 2);
    kv_u32(&m, "a", 1);
    kv_u32(&m, "a", 2);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "duplicate key"));
    header(&m, 3, 0, 1);
    put_str(&m, "t");
    put_u32(&m, 13);
    put_u32(&m, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "unknown value type 13"));
    header(&m, 3, 0, 1);
    put_str(&m, "flag");
    put_u32(&m, COVE_GGUF_BOOL);
    put_u32(&m, 2);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "bool"));
    header(&m, 3, 0, 1);
    put_str(&m, "arr");
    put_u32(&m, COVE_GGUF_ARRAY);
    put_u32(&m, COVE_GGUF_STRING);
    put_u64(&m, 1ull << 60);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "cannot fit"));
    header(&m, 3, 0, 1);
    put_str(&m, "arr");
    put_u32(&m, COVE_GGUF_ARRAY);
    put_u32(&m, 77);
    put_u64(&m, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "element type 77"));
}

TEST(gguf_nested_array_bomb)
{
    struct img m;
    for (int depth = 1; depth <= COVE_GGUF_MAX_ARRAY_DEPTH + 1; depth++) {
        header(&m, 3, 0, 1);
        put_str(&m, "bomb");
        put_u32(&m, COVE_GGUF_ARRAY);
        for (int d = 0; d < depth; d++) {
            put_u32(&m, COVE_GGUF_ARRAY);
            put_u64(&m, 1);
        }
        put_u32(&m, COVE_GGUF_UINT8);
        put_u64(&m, 0);
        if (depth <= COVE_GGUF_MAX_ARRAY_DEPTH)
            CHECK_MSG(opens(m.b, m.n), "depth %d", depth);
        else
            CHECK(fails_with(m.b, m.n, COVE_ERR_LIMIT, "nested"));
    }
    /* wide: an array of 400k empty arrays opens, and quickly */
    size_t n = 64 + 400000 * 12;
    uint8_t *big = calloc(1, n);
    CHECK(big);
    header(&m, 3, 0, 1);
    put_str(&m, "wide");
    put_u32(&m, COVE_GGUF_ARRAY);
    put_u32(&m, COVE_GGUF_ARRAY);
    put_u64(&m, 400000);
    memcpy(big, m.b, m.n);
    int ok = opens(big, m.n + 400000 * 12);
    free(big);
    CHECK(ok);
}

TEST(gguf_too_many_arrays)
{
    size_t n = 64 + (size_t)COVE_GGUF_MAX_ARRAYS * 12;
    uint8_t *big = calloc(1, n);
    CHECK(big);
    struct img m;
    header(&m, 3, 0, 1);
    put_str(&m, "many");
    put_u32(&m, COVE_GGUF_ARRAY);
    put_u32(&m, COVE_GGUF_ARRAY);
    put_u64(&m, COVE_GGUF_MAX_ARRAYS);
    memcpy(big, m.b, m.n);
    int ok = fails_with(big, m.n + (size_t)COVE_GGUF_MAX_ARRAYS * 12, COVE_ERR_LIMIT, "arrays");
    free(big);
    CHECK(ok);
}

/* A one-tensor file with the given tensor fields; valid for (F32, 8, 0). */
static void one_tensor(struct img *m, uint32_t type, uint64_t ne0, uint64_t off)
{
    header(m, 3, 1, 1);
    kv_u32(m, "general.alignment", 32);
    tensor_info(m, "blk.0.attn_q.weight", type, ne0, 0, off);
    data_section(m, 32, 64);
}

TEST(gguf_bad_tensors)
{
    struct img m;
    one_tensor(&m, COVE_TYPE_F32, 8, 0);
    CHECK(opens(m.b, m.n));
    one_tensor(&m, COVE_TYPE_F32, 8, 4);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "not aligned"));
    one_tensor(&m, COVE_TYPE_F32, 8, 64);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "past the end"));
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "tensor 'blk.0.attn_q.weight'"));
    one_tensor(&m, COVE_TYPE_F32, 17, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "past the end"));
    one_tensor(&m, COVE_TYPE_F32, 8, 1ull << 63);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "past the end"));
    one_tensor(&m, 99, 8, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_UNSUPPORTED, "unknown tensor type 99"));
    one_tensor(&m, 4, 8, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_UNSUPPORTED, "type 4"));
    one_tensor(&m, COVE_TYPE_Q4_0, 8, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "blocks"));
    one_tensor(&m, COVE_TYPE_F32, 0, 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "zero"));
}

TEST(gguf_bad_shapes)
{
    struct img m;
    header(&m, 3, 1, 0);
    tensor_info(&m, "t", COVE_TYPE_F32, 1ull << 40, 1ull << 40, 0);
    data_section(&m, 32, 64);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "overflow"));
    header(&m, 3, 1, 0);
    tensor_info(&m, "t", COVE_TYPE_F32, 1ull << 62, 1, 0); /* elements fit, bytes do not */
    data_section(&m, 32, 64);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "overflow"));
    header(&m, 3, 1, 0);
    put_str(&m, "t");
    put_u32(&m, 5);
    data_section(&m, 64, 64);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "5 dimensions"));
    header(&m, 3, 1, 0);
    put_str(&m, "t");
    put_u32(&m, 0);
    data_section(&m, 64, 64);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "0 dimensions"));
    header(&m, 3, 1, 0);
    tensor_info(&m, "a-name-that-is-much-longer-than-sixty-four-bytes-which-ggml-refuses", COVE_TYPE_F32, 8, 0, 0);
    data_section(&m, 32, 64);
    CHECK(fails_with(m.b, m.n, COVE_ERR_LIMIT, "name"));
}

TEST(gguf_overlap_and_duplicates)
{
    struct img m;
    header(&m, 3, 2, 0);
    tensor_info(&m, "a", COVE_TYPE_F32, 16, 0, 0);
    tensor_info(&m, "b", COVE_TYPE_F32, 8, 0, 32);
    data_section(&m, 32, 128);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "overlaps tensor 'a'"));
    header(&m, 3, 2, 0);
    tensor_info(&m, "a", COVE_TYPE_F32, 8, 0, 0);
    tensor_info(&m, "b", COVE_TYPE_F32, 8, 0, 32);
    data_section(&m, 32, 128);
    CHECK(opens(m.b, m.n));
    header(&m, 3, 2, 0);
    tensor_info(&m, "a", COVE_TYPE_F32, 8, 0, 0);
    tensor_info(&m, "a", COVE_TYPE_F32, 8, 0, 32);
    data_section(&m, 32, 128);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "duplicate tensor"));
}

TEST(gguf_bad_alignment)
{
    struct img m;
    header(&m, 3, 0, 1);
    kv_u32(&m, "general.alignment", 48);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "power of two"));
    header(&m, 3, 0, 1);
    kv_u32(&m, "general.alignment", 0);
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "power of two"));
    header(&m, 3, 0, 1);
    kv_u32(&m, "general.alignment", 1u << 20);
    CHECK(fails_with(m.b, m.n, COVE_ERR_LIMIT, "alignment"));
    header(&m, 3, 0, 1);
    put_str(&m, "general.alignment");
    put_u32(&m, COVE_GGUF_STRING);
    put_str(&m, "32");
    CHECK(fails_with(m.b, m.n, COVE_ERR_FORMAT, "integer"));
    header(&m, 3, 1, 1);
    kv_u32(&m, "general.alignment", 8);
    tensor_info(&m, "t", COVE_TYPE_F32, 2, 0, 8);
    data_section(&m, 8, 16);
    CHECK(opens(m.b, m.n));
}

/* Deterministic xorshift, so a failure can be replayed. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

TEST(gguf_random_mutations)
{
    void *mem = NULL;
    size_t size = 0;
    CHECK(small_image(&mem, &size));
    uint8_t *copy = malloc(size);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int opened = 0;
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(copy, mem, size);
        uint64_t r = next_rand(&seed);
        copy[r % size] = (uint8_t)(r >> 32);
        if (iter % 3 == 0) /* sometimes a second byte, sometimes a length-like value */
            copy[(r >> 16) % size] = (r >> 40) & 1 ? 0xFF : (uint8_t)(r >> 48);
        cove_gguf *g = NULL;
        cove_error err = {0};
        if (cove_gguf_open_memory(copy, size, &g, &err) == COVE_OK) {
            opened++;
            walk(g);
            cove_gguf_free(g);
        } else if (!err.msg[0]) {
            fprintf(stderr, "  iteration %d failed without a message\n", iter);
            opened = -100000;
        }
    }
    free(copy);
    cove_free(mem);
    CHECK(opened >= 0);
}

/* Every allocation made by open fails in turn: each must give NOMEM (and nothing leaks: ASan). */
static int alloc_failures(const char *path)
{
    for (long n = 1; n < 100000; n++) {
        cove_gguf *g = NULL;
        cove_error err = {0};
        cove_alloc_fail_at(n, 1);
        cove_status st = cove_gguf_open(path, &g, &err);
        cove_alloc_fail_at(0, 0);
        if (st == COVE_OK) {
            cove_gguf_free(g);
            return n > 3;
        }
        if (st != COVE_ERR_NOMEM || g != NULL) {
            fprintf(stderr, "  allocation %ld: %s: %s\n", n, cove_status_name(st), err.msg);
            return 0;
        }
    }
    return 0;
}

TEST(gguf_alloc_failure)
{
    CHECK(alloc_failures(test_model_path("stories260K.gguf")));
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-gpt-2.gguf", test_models_dir());
    CHECK(alloc_failures(path));
}
