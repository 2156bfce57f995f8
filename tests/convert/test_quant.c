/*
 * tests/convert/test_quant.c - quantized output types: `cove convert --type` and
 * `cove quantize`. A quantized matrix must hold exactly what the kernels' quantizer makes
 * of its (permuted) source rows, and read back within the type's error bound; rows that are
 * not whole blocks fall back to F16; requantizing copies all metadata.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/quants.h"
#include "fixture.h"
#include "test.h"

/* Relative RMS error a type may have on uniform random weights (loose upper bounds). */
static double type_bound(enum cove_ggml_type t)
{
    switch (t) {
    case COVE_TYPE_Q8_0: return 0.01;
    case COVE_TYPE_Q6_K: return 0.03;
    case COVE_TYPE_Q5_0: case COVE_TYPE_Q5_1: case COVE_TYPE_Q5_K: return 0.06;
    case COVE_TYPE_Q4_0: case COVE_TYPE_Q4_1: case COVE_TYPE_Q4_K: return 0.12;
    case COVE_TYPE_Q3_K: return 0.25;
    case COVE_TYPE_Q2_K: return 0.5;
    default: return 1e-3;
    }
}

/* Tensor `gname` of g against source rows `src` (rows x cols, permuted with head size hd
 * when hd > 0): bytes equal to the quantizer's, error within the bound. */
static int check_matrix(const cove_gguf *g, const char *gname, const float *src, uint64_t rows,
                        uint64_t cols, uint64_t hd, enum cove_ggml_type want)
{
    const cove_gguf_tensor *t = cove_gguf_tensor_find(g, gname);
    const cove_quant_ops *ops = cove_quant_ops_get(want);
    size_t rb = cove_quant_row_bytes(want, (int64_t)cols);
    if (!t || t->type != want || t->ne[0] != cols || t->ne[1] != rows || !ops)
        return 0;
    uint8_t *q = malloc(rb);
    float *back = malloc(cols * sizeof *back);
    double err2 = 0, ref2 = 0;
    int ok = 1;
    for (uint64_t r = 0; r < rows && ok; r++) {
        const float *row = src + (hd ? fx_unpermute(r, hd) : r) * cols;
        ops->quantize_row(row, q, (int64_t)cols);
        ok = memcmp(q, (const uint8_t *)t->data + r * rb, rb) == 0;
        cove_quant_ops_ref(want)->dequantize_row(q, back, (int64_t)cols);
        for (uint64_t c = 0; c < cols; c++) {
            err2 += (back[c] - row[c]) * (double)(back[c] - row[c]);
            ref2 += (double)row[c] * row[c];
        }
    }
    free(q);
    free(back);
    if (!ok)
        fprintf(stderr, "    %s: bytes differ from the quantizer's\n", gname);
    if (ok && sqrt(err2 / ref2) > type_bound(want)) {
        fprintf(stderr, "    %s: relative error %.4f\n", gname, sqrt(err2 / ref2));
        ok = 0;
    }
    return ok;
}

TEST(quant_convert_every_type)
{
    static const enum cove_ggml_type types[] = {
        COVE_TYPE_Q8_0, COVE_TYPE_Q4_0, COVE_TYPE_Q4_1, COVE_TYPE_Q5_0, COVE_TYPE_Q5_1,
        COVE_TYPE_Q2_K, COVE_TYPE_Q3_K, COVE_TYPE_Q4_K, COVE_TYPE_Q5_K, COVE_TYPE_Q6_K};
    fx_st s;
    fx_model m = {"llama", 256, 4, 2, 1, 256, 64, 0, 0, 0, "F32", 0};
    fx_init(&s, 101);
    const char *dir = fx_dir("quant_src");
    rmdir(dir);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        char name[64];
        cove_convert_report rep;
        const cove_type_info *ti = cove_type_info_get(types[k]);
        snprintf(name, sizeof name, "quant_%s", ti->name);
        cove_gguf *g = fx_convert(dir, name, types[k], 0, &rep, NULL);
        CHECK(g);
        const fx_tensor *q = fx_find(&s, "model.layers.0.self_attn.q_proj.weight");
        const fx_tensor *k_ = fx_find(&s, "model.layers.0.self_attn.k_proj.weight");
        const fx_tensor *d = fx_find(&s, "model.layers.0.mlp.down_proj.weight");
        const fx_tensor *e = fx_find(&s, "model.embed_tokens.weight");
        CHECK_MSG(check_matrix(g, "blk.0.attn_q.weight", q->vals, q->shape[0], 256, 64, types[k]),
                  "%s attn_q", ti->name);
        CHECK_MSG(check_matrix(g, "blk.0.attn_k.weight", k_->vals, k_->shape[0], 256, 64, types[k]),
                  "%s attn_k", ti->name);
        CHECK_MSG(check_matrix(g, "blk.0.ffn_down.weight", d->vals, 256, 256, 0, types[k]),
                  "%s ffn_down", ti->name);
        CHECK_MSG(check_matrix(g, "token_embd.weight", e->vals, e->shape[0], 256, 0, types[k]),
                  "%s token_embd", ti->name);
        CHECK(cove_gguf_tensor_find(g, "blk.0.attn_norm.weight")->type == COVE_TYPE_F32);
        CHECK_EQ_INT(fx_u(g, "general.file_type"), cove_convert_file_type(types[k]));
        CHECK_EQ_INT(fx_u(g, "general.quantization_version"), 2);
        CHECK_EQ_INT(rep.n_fallback, 0);
        CHECK_EQ_INT(rep.n_quantized, 2 + 7);
        cove_gguf_free(g);
    }
    fx_free(&s);
}

/* Rows of 48 are not whole blocks of 32 or 256: such matrices are written as F16. */
TEST(quant_fallback_to_f16)
{
    fx_st s;
    fx_model m = {"llama", 48, 4, 2, 1, 64, 64, 0, 0, 0, "F32", 0};
    cove_convert_report rep;
    fx_init(&s, 111);
    const char *dir = fx_dir("fallback_src");
    rmdir(dir);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    cove_gguf *g = fx_convert(dir, "fallback", COVE_TYPE_Q4_K, 0, &rep, NULL);
    CHECK(g);
    CHECK(cove_gguf_tensor_find(g, "blk.0.attn_q.weight")->type == COVE_TYPE_F16);
    CHECK(cove_gguf_tensor_find(g, "blk.0.ffn_down.weight")->type == COVE_TYPE_F16);
    CHECK_EQ_INT(rep.n_fallback, 2 + 7);
    CHECK_EQ_INT(rep.n_quantized, 0);
    cove_gguf_free(g);
    /* q8_0: blocks of 32; ffn_down has rows of 64 and is quantized, the rest fall back */
    g = fx_convert(dir, "fallback_q8", COVE_TYPE_Q8_0, 0, &rep, NULL);
    CHECK(g);
    CHECK(cove_gguf_tensor_find(g, "blk.0.ffn_down.weight")->type == COVE_TYPE_Q8_0);
    CHECK(cove_gguf_tensor_find(g, "blk.0.ffn_up.weight")->type == COVE_TYPE_F16);
    CHECK_EQ_INT(rep.n_quantized, 1);
    cove_gguf_free(g);
    fx_free(&s);
}

/* Every key of a against b, except those listed; values compared by their bytes. */
static int same_meta(const cove_gguf *a, const cove_gguf *b, const char *const *except)
{
    for (uint64_t i = 0; i < cove_gguf_kv_count(a); i++) {
        cove_gguf_str k = cove_gguf_kv_key(a, i);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
        int skip = 0;
        for (const char *const *e = except; *e; e++)
            skip |= strcmp(*e, key) == 0;
        int64_t j = cove_gguf_find_key(b, key);
        if (skip)
            continue;
        const cove_gguf_value *va = cove_gguf_kv_value(a, i), *vb = j >= 0 ? cove_gguf_kv_value(b, (uint64_t)j) : NULL;
        if (!vb || va->type != vb->type) {
            fprintf(stderr, "    %s: missing or retyped\n", key);
            return 0;
        }
        if (va->type == COVE_GGUF_STRING && (va->v.str.len != vb->v.str.len ||
                                            memcmp(va->v.str.ptr, vb->v.str.ptr, (size_t)va->v.str.len)))
            return 0;
        if (va->type == COVE_GGUF_ARRAY && va->v.arr.count != vb->v.arr.count)
            return 0;
        if (va->type != COVE_GGUF_STRING && va->type != COVE_GGUF_ARRAY && va->v.u64 != vb->v.u64)
            return 0;
    }
    return cove_gguf_kv_count(a) == cove_gguf_kv_count(b);
}

TEST(quant_requantize_file)
{
    fx_st s;
    fx_model m = {"llama", 64, 4, 2, 1, 64, 64, 0, 0, 0, "F32", 0};
    const char *p;
    char in[4096], out[4096], out2[4096];
    cove_error err = {0};
    cove_convert_report rep;
    fx_init(&s, 121);
    const char *dir = fx_dir("requant_src");
    rmdir(dir);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    cove_gguf *g32 = fx_convert(dir, "requant_f32", COVE_TYPE_F32, 0, NULL, &p);
    CHECK(g32);
    snprintf(in, sizeof in, "%s", p);
    snprintf(out, sizeof out, "%s/requant_q8.gguf", test_tmpdir());
    snprintf(out2, sizeof out2, "%s/requant_q8_again.gguf", test_tmpdir());
    cove_quantize_params qp = {COVE_TYPE_Q8_0, NULL, NULL};
    CHECK_OK(cove_convert_quantize(in, out, &qp, &rep, &err));
    CHECK_EQ_INT(rep.n_quantized, 2 + 7);
    CHECK_STR_EQ(rep.arch, "llama");
    cove_gguf *g8 = NULL, *g8b = NULL;
    CHECK_OK(cove_gguf_open(out, &g8, &err));
    static const char *const except[] = {"general.file_type", NULL};
    CHECK(same_meta(g32, g8, except));
    CHECK_EQ_INT(fx_u(g8, "general.file_type"), 7);
    const fx_tensor *q = fx_find(&s, "model.layers.0.self_attn.q_proj.weight");
    CHECK(check_matrix(g8, "blk.0.attn_q.weight", q->vals, 64, 64, 16, COVE_TYPE_Q8_0));
    const cove_gguf_tensor *n32 = cove_gguf_tensor_find(g32, "blk.0.ffn_norm.weight");
    const cove_gguf_tensor *n8 = cove_gguf_tensor_find(g8, "blk.0.ffn_norm.weight");
    CHECK(n8->type == COVE_TYPE_F32 && memcmp(n32->data, n8->data, 256) == 0);
    /* q8_0 again: every tensor copied as it is */
    CHECK_OK(cove_convert_quantize(out, out2, &qp, &rep, &err));
    CHECK_OK(cove_gguf_open(out2, &g8b, &err));
    for (uint64_t i = 0; i < cove_gguf_tensor_count(g8); i++) {
        const cove_gguf_tensor *a = cove_gguf_tensor_at(g8, i), *b = cove_gguf_tensor_at(g8b, i);
        CHECK(a->type == b->type && a->n_bytes == b->n_bytes && memcmp(a->data, b->data, a->n_bytes) == 0);
    }
    /* the output must be another file; a missing input is named */
    CHECK(cove_convert_quantize(out, out, &qp, &rep, &err) == COVE_ERR_INVALID_ARG);
    snprintf(out2, sizeof out2, "%s/../%s/requant_q8.gguf", test_tmpdir(), strrchr(test_tmpdir(), '/') + 1);
    CHECK(cove_convert_quantize(out, out2, &qp, &rep, &err) == COVE_ERR_INVALID_ARG);
    CHECK(cove_convert_quantize("/nonexistent/x.gguf", in, &qp, &rep, &err) != COVE_OK);
    CHECK(strstr(err.msg, "/nonexistent/x.gguf"));
    qp.type = COVE_TYPE_IQ2_XXS;
    CHECK(cove_convert_quantize(in, out2, &qp, &rep, &err) == COVE_ERR_INVALID_ARG);
    cove_gguf_free(g32);
    cove_gguf_free(g8);
    cove_gguf_free(g8b);
    fx_free(&s);
}

/* A real file: stories260K (F32, rows of 64) to q8_0 and back to f16. */
TEST(quant_stories260k)
{
    char out[4096], out2[4096];
    cove_error err = {0};
    cove_convert_report rep;
    cove_gguf *src = NULL, *g = NULL;
    CHECK_MSG(cove_gguf_open(test_model_path("stories260K.gguf"), &src, &err) == COVE_OK, "%s",
              err.msg);
    snprintf(out, sizeof out, "%s/stories_q8.gguf", test_tmpdir());
    snprintf(out2, sizeof out2, "%s/stories_f16.gguf", test_tmpdir());
    cove_quantize_params qp = {COVE_TYPE_Q8_0, NULL, NULL};
    CHECK_OK(cove_convert_quantize(test_model_path("stories260K.gguf"), out, &qp, &rep, &err));
    qp.type = COVE_TYPE_F16;
    CHECK_OK(cove_convert_quantize(out, out2, &qp, &rep, &err));
    CHECK_OK(cove_gguf_open(out2, &g, &err));
    CHECK_EQ_INT(cove_gguf_tensor_count(g), cove_gguf_tensor_count(src));
    uint64_t n1, n2;
    float *a = fx_tensor_f32(src, "blk.0.attn_q.weight", &n1), *b = fx_tensor_f32(g, "blk.0.attn_q.weight", &n2);
    CHECK(a && b && n1 == n2);
    double e2 = 0, r2 = 0;
    for (uint64_t i = 0; i < n1; i++) {
        e2 += (a[i] - b[i]) * (double)(a[i] - b[i]);
        r2 += (double)a[i] * a[i];
    }
    free(a);
    free(b);
    CHECK(sqrt(e2 / r2) < 0.01);
    CHECK(cove_gguf_tensor_find(g, "blk.0.attn_q.weight")->type == COVE_TYPE_F16);
    CHECK_EQ_INT(fx_u(g, "general.file_type"), 1);
    cove_gguf_free(g);
    cove_gguf_free(src);
}
