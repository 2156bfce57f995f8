/*
 * tests/convert/test_hostile.c - model directories that are wrong in one way each: the
 * conversion fails with a message naming the file and the problem, never crashes, and
 * leaves no output (nor a temporary file) behind. Allocation failures, one at a time.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "convert/convert.h"
#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "fixture.h"
#include "test.h"

static const fx_model tiny = {"llama", 32, 4, 2, 1, 32, 32, 0, 0, 0, "F32", 0};

/* A fresh copy of the tiny llama in <tmp>/<name>; its path in buf. */
static int make_tiny(const char *name, char *buf, size_t n, fx_st *s)
{
    snprintf(buf, n, "%s", fx_dir(name));
    rmdir(buf);
    fx_init(s, 131);
    return fx_make_model(buf, &tiny, s) > 0;
}

/* Files in the output directory whose names start with `prefix`. */
static int count_outputs(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

/* Convert `dir`: must fail with `want` and a message holding every needle (NULL-ended). */
static int fails(const char *dir, cove_status want, ...)
{
    char out[4096];
    cove_error err = {0};
    cove_convert_params p = cove_convert_default_params();
    snprintf(out, sizeof out, "%s/hostile_out.gguf", test_tmpdir());
    cove_status got = cove_convert_hf(dir, out, &p, NULL, &err);
    int ok = got == want && err.msg[0] && count_outputs(test_tmpdir(), "hostile_out") == 0;
    va_list ap;
    va_start(ap, want);
    for (const char *needle; ok && (needle = va_arg(ap, const char *));)
        ok = strstr(err.msg, needle) != NULL;
    va_end(ap);
    if (!ok)
        fprintf(stderr, "    %s: got %s \"%s\"\n", dir, cove_status_name(got), err.msg);
    return ok;
}

TEST(hostile_config)
{
    char dir[4096], path[4200];
    fx_st s;
    CHECK(make_tiny("h_config", dir, sizeof dir, &s));
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    CHECK(fails(dir, COVE_ERR_NOT_FOUND, "config.json", NULL));
    CHECK(fx_write_text(dir, "config.json", "{\"model_type\": \"llama\", ") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "config.json", "not valid JSON", NULL));
    CHECK(fx_write_text(dir, "config.json", "{\"model_type\": \"gpt_neox\"}") == 0);
    CHECK(fails(dir, COVE_ERR_UNSUPPORTED, "gpt_neox", NULL));
    CHECK(fx_write_text(dir, "config.json", "{\"model_type\":\"llama\",\"vocab_size\":312,"
                        "\"hidden_size\":32,\"intermediate_size\":32,\"num_hidden_layers\":1,"
                        "\"num_attention_heads\":4,\"max_position_embeddings\":32}") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "rms_norm_eps", NULL));
    CHECK(fx_write_text(dir, "config.json", "{\"model_type\":\"llama\",\"vocab_size\":312,"
                        "\"hidden_size\":33,\"intermediate_size\":32,\"num_hidden_layers\":1,"
                        "\"num_attention_heads\":4,\"max_position_embeddings\":32,"
                        "\"rms_norm_eps\":1e-5}") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "multiple", NULL));
    CHECK(fx_write_text(dir, "config.json", "{\"model_type\":\"llama\",\"vocab_size\":312,"
                        "\"hidden_size\":32,\"intermediate_size\":32,\"num_hidden_layers\":100000,"
                        "\"num_attention_heads\":4,\"max_position_embeddings\":32,"
                        "\"rms_norm_eps\":1e-5}") == 0);
    CHECK(fails(dir, COVE_ERR_LIMIT, "num_hidden_layers", NULL));
    CHECK(fx_write_text(dir, "config.json", "{\"model_type\":\"llama\",\"vocab_size\":312,"
                        "\"hidden_size\":32,\"intermediate_size\":32,\"num_hidden_layers\":1,"
                        "\"num_attention_heads\":4,\"max_position_embeddings\":32,"
                        "\"rms_norm_eps\":1e-5,\"rope_scaling\":{\"rope_type\":\"dynamic\","
                        "\"factor\":2.0}}") == 0);
    CHECK(fails(dir, COVE_ERR_UNSUPPORTED, "rope_scaling", NULL));
    fx_free(&s);
}

TEST(hostile_weights)
{
    char dir[4096], path[4200];
    fx_st s;
    CHECK(make_tiny("h_weights", dir, sizeof dir, &s));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    /* truncated */
    size_t n;
    uint8_t *b = fx_serialize(&s, 0, s.n, &n);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n - 100, f);
    fclose(f);
    CHECK(fails(dir, COVE_ERR_FORMAT, "model.safetensors", "past the end", NULL));
    /* header length past the end of the file */
    b[3] = 1;
    f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    CHECK(fails(dir, COVE_ERR_FORMAT, "model.safetensors", "runs past the end", NULL));
    /* a huge header */
    b[5] = 1;
    f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    CHECK(fails(dir, COVE_ERR_LIMIT, "model.safetensors", "limit", NULL));
    free(b);
    fx_free(&s);
}

TEST(hostile_tensors)
{
    char dir[4096];
    fx_st s;
    uint64_t sh[2] = {3, 32};
    CHECK(make_tiny("h_tensors", dir, sizeof dir, &s));
    /* a tensor no llama has */
    fx_add(&s, "model.layers.0.mystery.weight", "F32", 2, sh, 1, 0);
    CHECK(fx_write(&s, 0, s.n, dir, "model.safetensors") == 0);
    CHECK(fails(dir, COVE_ERR_UNSUPPORTED, "model.safetensors", "model.layers.0.mystery.weight", NULL));
    /* a block the configuration does not have */
    snprintf(s.t[s.n - 1].name, sizeof s.t[0].name, "model.layers.7.mlp.up_proj.weight");
    CHECK(fx_write(&s, 0, s.n, dir, "model.safetensors") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "block 7", NULL));
    /* an integer weight */
    fx_free(&s);
    CHECK(make_tiny("h_tensors2", dir, sizeof dir, &s));
    s.t[1].dtype = "I64";
    s.t[1].n_bytes = (size_t)s.t[1].n * 8;
    s.t[1].bytes = realloc(s.t[1].bytes, s.t[1].n_bytes);
    memset(s.t[1].bytes, 0, s.t[1].n_bytes);
    CHECK(fx_write(&s, 0, s.n, dir, "model.safetensors") == 0);
    CHECK(fails(dir, COVE_ERR_UNSUPPORTED, "dtype I64", NULL));
    fx_free(&s);
    /* embeddings with a row per token of another vocabulary */
    CHECK(make_tiny("h_tensors3", dir, sizeof dir, &s));
    s.t[0].shape[0] -= 1;
    s.t[0].n -= 32;
    s.t[0].n_bytes -= 32 * 4;
    CHECK(fx_write(&s, 0, s.n, dir, "model.safetensors") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "token_embd", NULL));
    fx_free(&s);
    /* q_proj rows that are not whole heads */
    CHECK(make_tiny("h_tensors4", dir, sizeof dir, &s));
    for (int i = 0; i < s.n; i++)
        if (strstr(s.t[i].name, "q_proj")) {
            s.t[i].shape[0] -= 1;
            s.t[i].n -= 32;
            s.t[i].n_bytes -= 32 * 4;
        }
    CHECK(fx_write(&s, 0, s.n, dir, "model.safetensors") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "q_proj", "heads", NULL));
    fx_free(&s);
}

TEST(hostile_tokenizer)
{
    char dir[4096], path[4200];
    fx_st s;
    CHECK(make_tiny("h_tok", dir, sizeof dir, &s));
    CHECK(fx_write_text(dir, "tokenizer.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}") == 0);
    CHECK(fails(dir, COVE_ERR_UNSUPPORTED, "tokenizer.json", "Unigram", NULL));
    CHECK(fx_write_text(dir, "tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,"
                        "\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "two tokens", NULL));
    CHECK(fx_write_text(dir, "tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,"
                        "\"vocab\":{\"a\":-4},\"merges\":[]}}") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "bad id", NULL));
    CHECK(fx_write_text(dir, "tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,"
                        "\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"ab\"]}}") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "merge 0", NULL));
    CHECK(fx_write_text(dir, "tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,"
                        "\"vocab\":{\"a\":5000000},\"merges\":[]}}") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "bad id", NULL));
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unlink(path);
    CHECK(fails(dir, COVE_ERR_NOT_FOUND, "tokenizer.json", "vocab.txt", NULL));
    CHECK(fx_write_text(dir, "vocab.txt", "a\n\nb\n") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "vocab.txt", "line 2", NULL));
    CHECK(fx_write_text(dir, "vocab.txt", "a\n\xff\xfe\n") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "vocab.txt", "UTF-8", NULL));
    fx_free(&s);
}

TEST(hostile_sentence_transformers)
{
    char dir[4096], sub[4200];
    fx_st s;
    fx_model m = {"bert", 32, 4, 4, 1, 32, 16, 0, 0, 0, "F32", 0};
    snprintf(dir, sizeof dir, "%s", fx_dir("h_st"));
    rmdir(dir);
    fx_init(&s, 141);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    CHECK(fx_write_text(sub, "config.json", "{\"pooling_mode_max_tokens\":true}") == 0);
    CHECK(fails(dir, COVE_ERR_UNSUPPORTED, "1_Pooling/config.json", NULL));
    CHECK(fx_write_text(dir, "modules.json", "[{\"type\":\"sentence_transformers.models.Dense\","
                        "\"path\":\"2_Dense\"}]") == 0);
    CHECK(fails(dir, COVE_ERR_UNSUPPORTED, "Dense", NULL));
    CHECK(fx_write_text(dir, "modules.json", "[{\"type\":\"sentence_transformers.models.Pooling\","
                        "\"path\":\"../../etc\"}]") == 0);
    CHECK(fails(dir, COVE_ERR_FORMAT, "modules.json", NULL));
    fx_free(&s);
}

/* Each allocation of a whole conversion fails in turn: a clean error, never a crash or a
 * leak (ASan), no output left; the run that fails nothing succeeds. */
TEST(hostile_alloc_failures)
{
    char dir[4096], out[4200];
    fx_st s;
    CHECK(make_tiny("h_alloc", dir, sizeof dir, &s));
    snprintf(out, sizeof out, "%s/alloc_out.gguf", test_tmpdir());
    cove_log_setup(NULL, COVE_LOG_ERROR, COVE_LOG_PLAIN);
    int done = 0;
    long k;
    for (k = 1; k < 5000 && !done; k++) {
        cove_error err = {0};
        cove_convert_params p = cove_convert_default_params();
        cove_alloc_fail_at(k, 0);
        cove_status st = cove_convert_hf(dir, out, &p, NULL, &err);
        cove_alloc_fail_at(0, 0);
        CHECK_MSG(st == COVE_OK || err.msg[0], "allocation %ld: status %d without a message", k, (int)st);
        CHECK_MSG(st == COVE_OK || count_outputs(test_tmpdir(), "alloc_out") == 0,
                  "allocation %ld left a file", k);
        done = st == COVE_OK;
    }
    cove_log_setup(NULL, COVE_LOG_WARN, COVE_LOG_PLAIN);
    CHECK_MSG(done, "still failing after %ld allocations", k);
    CHECK_MSG(k > 20, "only %ld allocations: is failure injection working?", k);
    fx_free(&s);
}

/* The engine loads a converted bert and embeds with it (unit-length vectors). */
TEST(hostile_bert_loads_in_engine)
{
    fx_st s;
    fx_model m = {"bert", 32, 4, 4, 2, 64, 48, 0, 0, 0, "F32", 0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fx_dir("bert_engine_src"));
    rmdir(dir);
    fx_init(&s, 151);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    const char *path;
    cove_gguf *g = fx_convert(dir, "bert_engine", COVE_TYPE_F16, 0, NULL, &path);
    CHECK(g);
    cove_gguf_free(g);
    cove_model *model = NULL;
    cove_error err = {0};
    CHECK_MSG(cove_model_load(path, cove_model_default_params(), &model, &err) == COVE_OK, "%s",
              err.msg);
    float v[32];
    const char *texts[1] = {"a bc"};
    cove_status st = cove_model_embed(model, cove_embed_default_params(), texts, 1, v, &err);
    cove_model_free(model);
    CHECK_MSG(st == COVE_OK, "%s", err.msg);
    double n2 = 0;
    for (int i = 0; i < 32; i++)
        n2 += (double)v[i] * v[i];
    CHECK(n2 > 0.999 && n2 < 1.001);
    fx_free(&s);
}
