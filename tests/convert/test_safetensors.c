/*
 * tests/convert/test_safetensors.c - the safetensors reader: well-formed files, sharded
 * checkpoints, hostile headers, mutations and allocation failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "convert/convert_int.h"
#include "fixture.h"
#include "test.h"

/* A file image: 8-byte length, the header text, `data_len` bytes of data. */
static uint8_t *image(const char *header, size_t data_len, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + data_len;
    uint8_t *b = calloc(1, *size + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    return b;
}

/* Parse an image; returns the status and leaves the message in err. */
static cove_status parse(const uint8_t *b, size_t n, cove_error *err)
{
    cove_convert_st *st;
    if (cove_convert_st_create(&st) != COVE_OK)
        return COVE_ERR_NOMEM;
    cove_status rc = cove_convert_st_add_memory(st, b, n, "hostile.safetensors", err);
    cove_convert_st_free(st);
    return rc;
}

static int expect_header(const char *header, size_t data_len, cove_status want, const char *needle)
{
    size_t n;
    uint8_t *b = image(header, data_len, &n);
    cove_error err = {0};
    cove_status got = parse(b, n, &err);
    free(b);
    int msg_ok = want == COVE_OK || (strstr(err.msg, "hostile.safetensors") &&
                                     (!needle || strstr(err.msg, needle)));
    if (got != want || !msg_ok) {
        fprintf(stderr, "    header %s: got %s \"%s\"\n", header, cove_status_name(got), err.msg);
        return 0;
    }
    return 1;
}

TEST(st_well_formed)
{
    fx_st s;
    uint64_t sh2[2] = {3, 4}, sh1[1] = {5};
    fx_init(&s, 1);
    fx_add(&s, "a.weight", "F32", 2, sh2, 1, 0);
    fx_add(&s, "b.weight", "F16", 2, sh2, 1, 0);
    fx_add(&s, "c.bias", "BF16", 1, sh1, 1, 0);
    size_t n;
    uint8_t *b = fx_serialize(&s, 0, s.n, &n);
    cove_convert_st *st;
    cove_error err = {0};
    CHECK_OK(cove_convert_st_create(&st));
    cove_status rc = cove_convert_st_add_memory(st, b, n, "mem", &err);
    CHECK_MSG(rc == COVE_OK, "%s", err.msg);
    CHECK_EQ_INT(cove_convert_st_count(st), 3);
    const cove_convert_st_tensor *t = cove_convert_st_find(st, "b.weight");
    CHECK(t && t->dtype == COVE_ST_F16 && t->n_dims == 2 && t->shape[0] == 3 && t->shape[1] == 4);
    CHECK(t->n_bytes == 24 && memcmp(t->data, s.t[1].bytes, 24) == 0);
    CHECK(cove_convert_st_find(st, "c.bias")->dtype == COVE_ST_BF16);
    CHECK(cove_convert_st_find(st, "nope") == NULL);
    CHECK_STR_EQ(cove_convert_st_at(st, 0)->name, "a.weight");
    /* the same file again: every name is now there twice */
    rc = cove_convert_st_add_memory(st, b, n, "again", &err);
    CHECK(rc == COVE_ERR_FORMAT && strstr(err.msg, "in both"));
    CHECK_EQ_INT(cove_convert_st_count(st), 3);
    cove_convert_st_free(st);
    free(b);
    fx_free(&s);
}

TEST(st_hostile_headers)
{
    static const char t1[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    CHECK(expect_header(t1, 8, COVE_OK, NULL));
    CHECK(expect_header(t1, 4, COVE_ERR_FORMAT, "past the end of the data"));
    CHECK(expect_header("not json at all", 0, COVE_ERR_FORMAT, "not valid JSON"));
    CHECK(expect_header("[1,2,3]", 0, COVE_ERR_FORMAT, "not a JSON object"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                        COVE_ERR_FORMAT, "need 12"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                        COVE_ERR_FORMAT, "unknown dtype"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                        COVE_ERR_FORMAT, "shape[0]"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}",
                        8, COVE_ERR_UNSUPPORTED, "dimensions"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                        "\"data_offsets\":[0,8]}}", 8, COVE_ERR_FORMAT, "overflows"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                        COVE_ERR_FORMAT, "end before"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
                        COVE_ERR_FORMAT, "data_offsets"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"y\":1}}",
                        8, COVE_ERR_FORMAT, "unknown field"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                        COVE_ERR_FORMAT, "JSON"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                        COVE_ERR_FORMAT, "overlap"));
    CHECK(expect_header("{\"__metadata__\":{\"a\":1}}", 0, COVE_ERR_FORMAT, "__metadata__"));
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8,
                        COVE_ERR_FORMAT, "shape"));
    CHECK(expect_header("{\"x\":3}", 0, COVE_ERR_FORMAT, "not an object"));
    CHECK(expect_header("{\"\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
                        COVE_ERR_FORMAT, "empty"));
    /* zero-size tensors are fine and may share an offset */
    CHECK(expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                        "\"y\":{\"dtype\":\"F32\",\"shape\":[1,0],\"data_offsets\":[0,0]}}", 0,
                        COVE_OK, NULL));
}

TEST(st_hostile_lengths)
{
    cove_error err = {0};
    uint8_t b[16] = {0};
    CHECK(parse(b, 5, &err) == COVE_ERR_FORMAT && strstr(err.msg, "truncated"));
    CHECK(parse(b, 16, &err) == COVE_ERR_FORMAT && strstr(err.msg, "zero")); /* length 0 */
    b[0] = 200;                                                               /* past EOF */
    CHECK(parse(b, 16, &err) == COVE_ERR_FORMAT && strstr(err.msg, "runs past the end"));
    memset(b, 0, 8);
    b[4] = 1; /* 4 GiB header */
    CHECK(parse(b, 16, &err) == COVE_ERR_LIMIT && strstr(err.msg, "limit"));
    memset(b, 0xff, 8); /* 2^64 - 1 */
    CHECK(parse(b, 16, &err) == COVE_ERR_LIMIT);
    CHECK(parse(NULL, 0, &err) == COVE_ERR_FORMAT);
}

/* Every truncation and many byte flips of a valid file: a clean status, never a crash,
 * and every tensor that parses lies inside the image. */
TEST(st_mutations)
{
    fx_st s;
    uint64_t sh[2] = {4, 8};
    fx_init(&s, 7);
    fx_add(&s, "model.embed_tokens.weight", "F32", 2, sh, 1, 0);
    fx_add(&s, "model.norm.weight", "BF16", 1, sh + 1, 1, 0);
    size_t n;
    uint8_t *orig = fx_serialize(&s, 0, s.n, &n), *b = malloc(n);
    uint64_t rng = 12345;
    for (size_t cut = 0; cut <= n; cut++) {
        cove_error err = {0};
        cove_status rc = parse(orig, cut, &err);
        CHECK_MSG(cut == n ? rc == COVE_OK : rc != COVE_OK && err.msg[0] != 0, "cut %zu: %s",
                  cut, err.msg);
    }
    for (int round = 0; round < 4000; round++) {
        memcpy(b, orig, n);
        for (int k = 0; k < 1 + round % 4; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % (round % 2 ? 8 + 160 : n);
            b[at] = (uint8_t)(rng >> 20);
        }
        cove_convert_st *st;
        cove_error err = {0};
        CHECK_OK(cove_convert_st_create(&st));
        if (cove_convert_st_add_memory(st, b, n, "m", &err) == COVE_OK) {
            for (size_t i = 0; i < cove_convert_st_count(st); i++) {
                const cove_convert_st_tensor *t = cove_convert_st_at(st, i);
                const uint8_t *p = t->data;
                CHECK(p >= b && p + t->n_bytes <= b + n);
            }
        } else {
            CHECK(err.msg[0] != 0);
        }
        cove_convert_st_free(st);
    }
    free(b);
    free(orig);
    fx_free(&s);
}

/* Each allocation of the reader fails in turn: NOMEM (or another clean error), no leak. */
TEST(st_alloc_failures)
{
    fx_st s;
    uint64_t sh[2] = {2, 3};
    fx_init(&s, 3);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d.weight", i);
        fx_add(&s, name, "F16", 2, sh, 1, 0);
    }
    size_t n;
    uint8_t *b = fx_serialize(&s, 0, s.n, &n);
    int ok = 0;
    for (long k = 1; k < 200 && !ok; k++) {
        cove_convert_st *st = NULL;
        cove_error err = {0};
        cove_alloc_fail_at(k, 0);
        cove_status rc = cove_convert_st_create(&st);
        if (rc == COVE_OK)
            rc = cove_convert_st_add_memory(st, b, n, "m", &err);
        cove_alloc_fail_at(0, 0);
        CHECK(rc == COVE_OK || rc == COVE_ERR_NOMEM);
        ok = rc == COVE_OK;
        if (ok)
            CHECK_EQ_INT(cove_convert_st_count(st), 5);
        cove_convert_st_free(st);
    }
    CHECK(ok);
    free(b);
    fx_free(&s);
}

TEST(st_sharded)
{
    fx_st s;
    uint64_t sh[2] = {2, 3};
    fx_init(&s, 5);
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "w%d", i);
        fx_add(&s, name, "F32", 2, sh, 1, 0);
    }
    const char *dir = fx_dir("st_sharded");
    CHECK(fx_write(&s, 0, 3, dir, "model-00001-of-00002.safetensors") == 0);
    CHECK(fx_write(&s, 3, 6, dir, "model-00002-of-00002.safetensors") == 0);
    char idx[1024];
    snprintf(idx, sizeof idx, "{\"weight_map\":{\"w0\":\"model-00001-of-00002.safetensors\","
             "\"w1\":\"model-00001-of-00002.safetensors\",\"w2\":\"model-00001-of-00002.safetensors\","
             "\"w3\":\"model-00002-of-00002.safetensors\",\"w4\":\"model-00002-of-00002.safetensors\","
             "\"w5\":\"model-00002-of-00002.safetensors\"}}");
    CHECK(fx_write_text(dir, "model.safetensors.index.json", idx) == 0);
    cove_convert_st *st;
    cove_error err = {0};
    cove_status rc = cove_convert_st_open_dir(dir, &st, &err);
    CHECK_MSG(rc == COVE_OK, "%s", err.msg);
    CHECK_EQ_INT(cove_convert_st_count(st), 6);
    CHECK(memcmp(cove_convert_st_find(st, "w4")->data, s.t[4].bytes, 24) == 0);
    CHECK(strstr(cove_convert_st_file(st, cove_convert_st_find(st, "w4")->file), "00002"));
    cove_convert_st_free(st);
    /* a tensor mapped to the wrong shard */
    idx[strlen("{\"weight_map\":{\"w0\":\"model-0000")] = '2';
    CHECK(fx_write_text(dir, "model.safetensors.index.json", idx) == 0);
    CHECK(cove_convert_st_open_dir(dir, &st, &err) == COVE_ERR_FORMAT && strstr(err.msg, "mapped"));
    CHECK(st == NULL);
    /* a shard outside the directory */
    CHECK(fx_write_text(dir, "model.safetensors.index.json",
                        "{\"weight_map\":{\"w0\":\"../x.safetensors\"}}") == 0);
    CHECK(cove_convert_st_open_dir(dir, &st, &err) == COVE_ERR_FORMAT && strstr(err.msg, "bad file"));
    /* a missing shard */
    CHECK(fx_write_text(dir, "model.safetensors.index.json",
                        "{\"weight_map\":{\"w0\":\"model-00009-of-00009.safetensors\"}}") == 0);
    CHECK(cove_convert_st_open_dir(dir, &st, &err) == COVE_ERR_NOT_FOUND &&
          strstr(err.msg, "model-00009-of-00009.safetensors"));
    /* a map that leaves tensors out */
    CHECK(fx_write_text(dir, "model.safetensors.index.json",
                        "{\"weight_map\":{\"w0\":\"model-00001-of-00002.safetensors\"}}") == 0);
    CHECK(cove_convert_st_open_dir(dir, &st, &err) == COVE_ERR_FORMAT && strstr(err.msg, "lists 1"));
    /* no weights at all */
    CHECK(cove_convert_st_open_dir(fx_dir("st_empty"), &st, &err) == COVE_ERR_NOT_FOUND);
    fx_free(&s);
}

TEST(st_real_minilm_header_shape)
{
    /* The header layout of a real checkpoint: a lone I64 tensor among F32 ones. */
    fx_st s;
    uint64_t pos[2] = {1, 16}, sh[2] = {16, 4};
    fx_init(&s, 9);
    fx_add(&s, "embeddings.position_ids", "I64", 2, pos, 0, 0);
    fx_add(&s, "embeddings.position_embeddings.weight", "F32", 2, sh, 1, 0);
    size_t n;
    uint8_t *b = fx_serialize(&s, 0, s.n, &n);
    cove_convert_st *st;
    cove_error err = {0};
    CHECK_OK(cove_convert_st_create(&st));
    CHECK_OK(cove_convert_st_add_memory(st, b, n, "m", &err));
    CHECK(cove_convert_st_find(st, "embeddings.position_ids")->dtype == COVE_ST_I64);
    CHECK_STR_EQ(cove_convert_dtype_name(COVE_ST_I64), "I64");
    cove_convert_st_free(st);
    free(b);
    fx_free(&s);
}
