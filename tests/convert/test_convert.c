/*
 * tests/convert/test_convert.c - converting small random llama, qwen2, qwen3, gemma3 and
 * bert directories: every tensor read back equals its source (after undoing the Q/K
 * permutation, and the +1 of Gemma norms), the metadata says what config.json says, and
 * the engine's forward pass on a converted llama gives the logits of a separately written
 * forward pass in the Hugging Face convention (rotate-half RoPE on unpermuted weights).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert.h"
#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "fixture.h"
#include "test.h"

static const fx_model llama_small = {"llama", 32, 4, 2, 2, 48, 64, 0, 0, 0, "F32", 0};

/* The GGUF name of a fixture tensor (decoders and bert), "" for skipped ones. */
static void gguf_name(const char *hf, char *out, size_t n)
{
    static const char *const map[][2] = {
        {"model.embed_tokens.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"}, {"self_attn.q_proj.", "attn_q."},
        {"self_attn.k_proj.", "attn_k."}, {"self_attn.v_proj.", "attn_v."},
        {"self_attn.o_proj.", "attn_output."}, {"mlp.gate_proj.", "ffn_gate."},
        {"mlp.up_proj.", "ffn_up."}, {"mlp.down_proj.", "ffn_down."},
        {"input_layernorm.", "attn_norm."}, {"self_attn.q_norm.", "attn_q_norm."},
        {"self_attn.k_norm.", "attn_k_norm."}, {"pre_feedforward_layernorm.", "ffn_norm."},
        {"post_feedforward_layernorm.", "post_ffw_norm."},
        {"embeddings.word_embeddings.weight", "token_embd.weight"},
        {"embeddings.position_embeddings.weight", "position_embd.weight"},
        {"embeddings.token_type_embeddings.weight", "token_types.weight"},
        {"embeddings.LayerNorm.", "token_embd_norm."},
        {"attention.self.query.", "attn_q."}, {"attention.self.key.", "attn_k."},
        {"attention.self.value.", "attn_v."}, {"attention.output.dense.", "attn_output."},
        {"attention.output.LayerNorm.", "attn_output_norm."}, {"intermediate.dense.", "ffn_up."},
        {"output.dense.", "ffn_down."}, {"output.LayerNorm.", "layer_output_norm."},
    };
    int layer = -1;
    const char *rest = hf;
    out[0] = '\0';
    if (sscanf(hf, "model.layers.%d.", &layer) == 1 || sscanf(hf, "encoder.layer.%d.", &layer) == 1)
        rest = strchr(strchr(strchr(hf, '.') + 1, '.') + 1, '.') + 1;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t l = strlen(map[i][0]);
        if (strncmp(rest, map[i][0], l) != 0)
            continue;
        if (layer >= 0)
            snprintf(out, n, "blk.%d.%s%s", layer, map[i][1], rest + l);
        else
            snprintf(out, n, "%s%s", map[i][1], rest + l);
        return;
    }
}

/* The source value that output element i of tensor `t` should hold. */
static float expected(const fx_tensor *t, uint64_t i, int permute_heads, int plus_one)
{
    uint64_t src = i;
    if (permute_heads) {
        uint64_t cols = t->n_dims == 2 ? t->shape[1] : 1, rows = t->n_dims == 2 ? t->shape[0] : t->n;
        uint64_t r = t->n_dims == 2 ? i / cols : i, c = t->n_dims == 2 ? i % cols : 0;
        uint64_t sr = fx_unpermute(r, rows / (uint64_t)permute_heads);
        src = t->n_dims == 2 ? sr * cols + c : sr;
    }
    return t->vals[src] + (plus_one ? 1.0f : 0.0f);
}

/*
 * Every fixture tensor that is written must come back equal to its source (after
 * `rounding` to the output type); returns the number of tensors checked, -1 on a mismatch.
 */
static int check_tensors(const cove_gguf *g, const fx_st *s, const fx_model *m, int llama,
                         int gemma, float (*rounding)(float))
{
    int checked = 0;
    for (int i = 0; i < s->n; i++) {
        const fx_tensor *t = &s->t[i];
        char name[200];
        uint64_t n;
        gguf_name(t->name, name, sizeof name);
        if (strstr(t->name, "post_attention_layernorm"))
            snprintf(name, sizeof name, "blk.%d.%s", atoi(t->name + 13),
                     gemma ? "post_attention_norm.weight" : "ffn_norm.weight");
        if (!name[0] || strstr(t->name, "pooler")) {
            if (cove_gguf_tensor_find(g, t->name))
                return -1;
            continue;
        }
        float *got = fx_tensor_f32(g, name, &n);
        if (!got || n != t->n) {
            fprintf(stderr, "    %s (%s): missing or wrong size\n", name, t->name);
            free(got);
            return -1;
        }
        int heads = 0;
        if (llama && strstr(t->name, "q_proj"))
            heads = m->n_head;
        if (llama && strstr(t->name, "k_proj"))
            heads = m->n_head_kv;
        int plus = gemma && strstr(t->name, "norm.weight");
        for (uint64_t k = 0; k < n; k++) {
            float want = expected(t, k, heads, plus);
            if (t->n_dims == 2 && rounding)
                want = rounding(want);
            if (got[k] != want) {
                fprintf(stderr, "    %s[%llu] = %.9g, want %.9g\n", name, (unsigned long long)k,
                        got[k], want);
                free(got);
                return -1;
            }
        }
        free(got);
        checked++;
    }
    return checked;
}

TEST(convert_llama_f32)
{
    fx_st s;
    cove_convert_report rep;
    fx_init(&s, 11);
    const char *dir = fx_dir("llama_f32_src");
    rmdir(dir);
    int n_vocab = fx_make_model(dir, &llama_small, &s);
    CHECK(n_vocab > 0);
    cove_gguf *g = fx_convert(dir, "llama_f32", COVE_TYPE_F32, 0, &rep, NULL);
    CHECK(g);
    CHECK_STR_EQ(fx_s(g, "general.architecture"), "llama");
    CHECK_STR_EQ(fx_s(g, "general.name"), "llama_f32_src");
    CHECK_EQ_INT(fx_u(g, "general.file_type"), 0);
    CHECK_EQ_INT(fx_u(g, "llama.block_count"), 2);
    CHECK_EQ_INT(fx_u(g, "llama.embedding_length"), 32);
    CHECK_EQ_INT(fx_u(g, "llama.feed_forward_length"), 48);
    CHECK_EQ_INT(fx_u(g, "llama.attention.head_count"), 4);
    CHECK_EQ_INT(fx_u(g, "llama.attention.head_count_kv"), 2);
    CHECK_EQ_INT(fx_u(g, "llama.context_length"), 64);
    CHECK_EQ_INT(fx_u(g, "llama.rope.dimension_count"), 8);
    CHECK_EQ_INT(fx_u(g, "llama.vocab_size"), n_vocab);
    CHECK(fx_f(g, "llama.rope.freq_base") == 10000.0);
    CHECK(fabs(fx_f(g, "llama.attention.layer_norm_rms_epsilon") - 1e-5) < 1e-12);
    CHECK_STR_EQ(fx_s(g, "tokenizer.ggml.model"), "llama");
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.bos_token_id"), 1);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.eos_token_id"), 2);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.unknown_token_id"), 0);
    int b;
    CHECK(cove_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b) == COVE_OK && b == 1);
    CHECK(cove_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b) == COVE_OK && b == 1);
    CHECK_EQ_INT(cove_gguf_tensor_count(g), s.n - 1); /* rotary_emb.inv_freq is dropped */
    CHECK_EQ_INT(rep.n_tensors, s.n - 1);
    CHECK(cove_gguf_tensor_find(g, "blk.0.attn_norm.weight")->type == COVE_TYPE_F32);
    CHECK_EQ_INT(check_tensors(g, &s, &llama_small, 1, 0, NULL), s.n - 1);
    cove_gguf_free(g);
    fx_free(&s);
}

static float round_f16(float v)
{
    return fx_half(cove_f32_to_f16(v));
}

/* BF16 and F16 sources into F16: exact where the value fits, rounded to nearest otherwise. */
TEST(convert_llama_f16_from_bf16_and_f16)
{
    const char *dtypes[2] = {"BF16", "F16"};
    for (int k = 0; k < 2; k++) {
        fx_st s;
        fx_model m = llama_small;
        char name[64];
        m.dtype = dtypes[k];
        fx_init(&s, 21 + (uint64_t)k);
        snprintf(name, sizeof name, "llama_%s_src", dtypes[k]);
        const char *dir = fx_dir(name);
        rmdir(dir);
        CHECK(fx_make_model(dir, &m, &s) > 0);
        snprintf(name, sizeof name, "llama_%s", dtypes[k]);
        cove_gguf *g = fx_convert(dir, name, COVE_TYPE_F16, 0, NULL, NULL);
        CHECK(g);
        CHECK(cove_gguf_tensor_find(g, "blk.1.ffn_up.weight")->type == COVE_TYPE_F16);
        CHECK(cove_gguf_tensor_find(g, "output_norm.weight")->type == COVE_TYPE_F32);
        CHECK_EQ_INT(fx_u(g, "general.file_type"), 1);
        CHECK_EQ_INT(check_tensors(g, &s, &m, 1, 0, round_f16), s.n - 1);
        cove_gguf_free(g);
        fx_free(&s);
    }
}

TEST(convert_qwen2_gpt2_vocab)
{
    fx_st s;
    fx_model m = {"qwen2", 32, 4, 2, 2, 48, 64, 0, 1, 1, "BF16", 0};
    cove_convert_report rep;
    fx_init(&s, 31);
    const char *dir = fx_dir("qwen2_src");
    rmdir(dir);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    cove_gguf *g = fx_convert(dir, "qwen2", COVE_TYPE_F32, 0, &rep, NULL);
    CHECK(g);
    CHECK_STR_EQ(fx_s(g, "general.architecture"), "qwen2");
    CHECK_EQ_INT(fx_u(g, "qwen2.attention.head_count_kv"), 2);
    CHECK_STR_EQ(fx_s(g, "tokenizer.ggml.model"), "gpt2");
    CHECK_STR_EQ(fx_s(g, "tokenizer.ggml.pre"), "gpt-2");
    CHECK_STR_EQ(rep.pre, "gpt-2");
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.eos_token_id"), 2); /* tokenizer_config: <|im_end|> */
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.bos_token_id"), 1); /* config.json */
    CHECK_STR_EQ(fx_s(g, "tokenizer.chat_template"), "{% for m in messages %}{{m.content}}{% endfor %}");
    enum cove_gguf_vtype et;
    uint64_t n;
    cove_gguf_str merge;
    CHECK(cove_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &n) == COVE_OK && n == 26);
    CHECK(cove_gguf_arr_str(g, "tokenizer.ggml.merges", 1, &merge) == COVE_OK);
    CHECK(cove_gguf_str_eq(merge, "\xc4\xa0 b"));
    CHECK(cove_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &n) == COVE_ERR_NOT_FOUND);
    CHECK(cove_gguf_tensor_find(g, "blk.0.attn_q.bias") && cove_gguf_tensor_find(g, "output.weight") == NULL);
    CHECK_EQ_INT(check_tensors(g, &s, &m, 0, 0, NULL), s.n);
    cove_gguf_free(g);
    fx_free(&s);
}

TEST(convert_qwen3_head_dim)
{
    fx_st s;
    fx_model m = {"qwen3", 32, 4, 2, 1, 48, 64, 16, 0, 0, "F32", 0};
    fx_init(&s, 41);
    const char *dir = fx_dir("qwen3_src");
    rmdir(dir);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    cove_gguf *g = fx_convert(dir, "qwen3", COVE_TYPE_F32, 0, NULL, NULL);
    CHECK(g);
    CHECK_EQ_INT(fx_u(g, "qwen3.attention.key_length"), 16);
    CHECK_EQ_INT(fx_u(g, "qwen3.attention.value_length"), 16);
    CHECK(cove_gguf_tensor_find(g, "blk.0.attn_q.weight")->ne[1] == 64);
    CHECK(cove_gguf_tensor_find(g, "blk.0.attn_k_norm.weight")->ne[0] == 16);
    CHECK_EQ_INT(check_tensors(g, &s, &m, 0, 0, NULL), s.n);
    cove_gguf_free(g);
    fx_free(&s);
}

TEST(convert_gemma3_norms_plus_one)
{
    fx_st s;
    fx_model m = {"gemma3_text", 32, 2, 1, 2, 64, 128, 16, 1, 0, "BF16", 0};
    fx_init(&s, 51);
    const char *dir = fx_dir("gemma3_src");
    rmdir(dir);
    CHECK(fx_make_model(dir, &m, &s) > 0);
    cove_gguf *g = fx_convert(dir, "gemma3", COVE_TYPE_F32, 0, NULL, NULL);
    CHECK(g);
    CHECK_STR_EQ(fx_s(g, "general.architecture"), "gemma3");
    CHECK_EQ_INT(fx_u(g, "gemma3.attention.key_length"), 16);
    CHECK_EQ_INT(fx_u(g, "gemma3.attention.sliding_window"), 32);
    CHECK(cove_gguf_tensor_find(g, "blk.1.post_attention_norm.weight"));
    CHECK(cove_gguf_tensor_find(g, "blk.1.post_ffw_norm.weight"));
    CHECK(cove_gguf_tensor_find(g, "output.weight") == NULL);
    CHECK_EQ_INT(check_tensors(g, &s, &m, 0, 1, NULL), s.n);
    cove_gguf_free(g);
    fx_free(&s);
}

TEST(convert_bert_sentence_transformers)
{
    fx_st s;
    fx_model m = {"bert", 32, 4, 4, 2, 64, 48, 0, 0, 0, "F32", 0};
    cove_convert_report rep;
    fx_init(&s, 61);
    const char *dir = fx_dir("bert_src");
    rmdir(dir);
    int n_vocab = fx_make_model(dir, &m, &s);
    CHECK(n_vocab > 0);
    cove_gguf *g = fx_convert(dir, "bert", COVE_TYPE_Q8_0, 0, &rep, NULL);
    CHECK(g);
    CHECK_STR_EQ(fx_s(g, "general.architecture"), "bert");
    CHECK_EQ_INT(fx_u(g, "bert.pooling_type"), 1);
    CHECK_EQ_INT(fx_u(g, "cove.embedding.max_seq_length"), 48);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.token_type_count"), 2);
    CHECK(fabs(fx_f(g, "bert.attention.layer_norm_epsilon") - 1e-12) < 1e-18);
    int b;
    CHECK(cove_gguf_get_bool(g, "cove.embedding.normalize", &b) == COVE_OK && b == 1);
    CHECK(cove_gguf_get_bool(g, "bert.attention.causal", &b) == COVE_OK && b == 0);
    CHECK_STR_EQ(fx_s(g, "tokenizer.ggml.model"), "bert");
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.unknown_token_id"), 2);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.cls_token_id"), 3);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.seperator_token_id"), 4);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.bos_token_id"), 3);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.eos_token_id"), 4);
    cove_gguf_str t;
    CHECK(cove_gguf_arr_str(g, "tokenizer.ggml.tokens", 7, &t) == COVE_OK && cove_gguf_str_eq(t, "s"));
    CHECK(cove_gguf_arr_str(g, "tokenizer.ggml.tokens", 8, &t) == COVE_OK &&
          cove_gguf_str_eq(t, "\xe2\x96\x81" "a"));
    CHECK(cove_gguf_arr_str(g, "tokenizer.ggml.tokens", 1, &t) == COVE_OK && cove_gguf_str_eq(t, "[unused0]"));
    CHECK(cove_gguf_tensor_find(g, "position_embd.weight")->type == COVE_TYPE_F16);
    CHECK(cove_gguf_tensor_find(g, "token_types.weight")->type == COVE_TYPE_F16);
    CHECK(cove_gguf_tensor_find(g, "blk.1.ffn_down.weight")->type == COVE_TYPE_Q8_0);
    CHECK(cove_gguf_tensor_find(g, "blk.1.ffn_down.bias")->type == COVE_TYPE_F32);
    CHECK(cove_gguf_tensor_find(g, "embeddings.position_ids") == NULL);
    CHECK_EQ_INT(rep.n_tensors, s.n - 3); /* position_ids and the pooler are dropped */
    CHECK_EQ_INT(rep.n_quantized, 1 + 2 * 6);
    cove_gguf_free(g);
    /* F32: every tensor equal */
    g = fx_convert(dir, "bert_f32", COVE_TYPE_F32, 0, NULL, NULL);
    CHECK(g);
    CHECK_EQ_INT(check_tensors(g, &s, &m, 0, 0, NULL), s.n - 3);
    cove_gguf_free(g);
    fx_free(&s);
}

/* Sharded weights give the same file, byte for byte, as one file; so does a second run. */
TEST(convert_sharded_and_deterministic)
{
    fx_st s1, s2;
    fx_model m = llama_small;
    const char *p;
    size_t n1, n2, n3;
    fx_init(&s1, 71);
    fx_init(&s2, 71);
    char d1[4096];
    snprintf(d1, sizeof d1, "%s", fx_dir("det_single"));
    rmdir(d1);
    CHECK(fx_make_model(d1, &m, &s1) > 0);
    m.n_shards = 3;
    char d2[4096];
    snprintf(d2, sizeof d2, "%s", fx_dir("det_sharded"));
    rmdir(d2);
    CHECK(fx_make_model(d2, &m, &s2) > 0);
    cove_gguf *g = fx_convert(d1, "det_a", COVE_TYPE_F16, 0, NULL, &p);
    CHECK(g);
    cove_gguf_free(g);
    uint8_t *a = fx_read_file(p, &n1);
    CHECK((g = fx_convert(d1, "det_b", COVE_TYPE_F16, 0, NULL, &p)) != NULL);
    cove_gguf_free(g);
    uint8_t *b = fx_read_file(p, &n2);
    /* general.name differs with the directory: give the sharded one the same name */
    cove_convert_params prm = cove_convert_default_params();
    cove_error err = {0};
    char out[4096];
    prm.name = "det_single";
    snprintf(out, sizeof out, "%s/det_c.gguf", test_tmpdir());
    CHECK_OK(cove_convert_hf(d2, out, &prm, NULL, &err));
    uint8_t *c = fx_read_file(out, &n3);
    CHECK(a && b && c && n1 == n2 && n1 == n3);
    CHECK(memcmp(a, b, n1) == 0);
    size_t at = 0;
    while (at < n1 && a[at] == c[at])
        at++;
    CHECK_MSG(at == n1, "the sharded conversion differs at byte %zu of %zu", at, n1);
    free(a);
    free(b);
    free(c);
    fx_free(&s1);
    fx_free(&s2);
}

TEST(convert_vocab_only_without_weights)
{
    fx_st s;
    char path[4096];
    fx_init(&s, 81);
    const char *dir = fx_dir("vocab_only_src");
    rmdir(dir);
    CHECK(fx_make_model(dir, &llama_small, &s) > 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(unlink(path) == 0);
    cove_gguf *g = fx_convert(dir, "vocab_only", COVE_TYPE_F16, 1, NULL, NULL);
    CHECK(g);
    CHECK_EQ_INT(cove_gguf_tensor_count(g), 0);
    CHECK_EQ_INT(fx_u(g, "llama.block_count"), 2);
    CHECK_STR_EQ(fx_s(g, "tokenizer.ggml.model"), "llama");
    cove_gguf_free(g);
    /* without --vocab-only the missing weights are an error naming the directory */
    cove_convert_params p = cove_convert_default_params();
    cove_error err = {0};
    snprintf(path, sizeof path, "%s/nope.gguf", test_tmpdir());
    CHECK(cove_convert_hf(dir, path, &p, NULL, &err) == COVE_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "model.safetensors") && strstr(err.msg, "vocab_only_src"));
    CHECK(access(path, F_OK) != 0);
    fx_free(&s);
}

/* ======================= the engine on a converted llama ======================= */

typedef struct ref {
    const fx_st *s;
    const fx_model *m;
    int hd, T;
} ref;

static const float *W(const ref *r, const char *fmt, int l)
{
    char n[160];
    snprintf(n, sizeof n, fmt, l);
    const fx_tensor *t = fx_find(r->s, n);
    return t ? t->vals : NULL;
}

static void matvec(const float *w, const double *x, int rows, int cols, double *y)
{
    for (int i = 0; i < rows; i++) {
        double acc = 0;
        for (int j = 0; j < cols; j++)
            acc += (double)w[(size_t)i * cols + j] * x[j];
        y[i] = acc;
    }
}

static void rmsnorm(const double *x, const float *w, int n, double *y)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++)
        y[i] = x[i] * inv * w[i];
}

/* Hugging Face RoPE: rotate the first half of each head against the second half. */
static void rope_half(double *v, int heads, int hd, int pos)
{
    for (int h = 0; h < heads; h++) {
        double *x = v + h * hd;
        for (int i = 0; i < hd / 2; i++) {
            double a = pos * pow(10000.0, -2.0 * i / hd), c = cos(a), s = sin(a);
            double x0 = x[i], x1 = x[i + hd / 2];
            x[i] = x0 * c - x1 * s;
            x[i + hd / 2] = x1 * c + x0 * s;
        }
    }
}

/* Attention of position p over positions 0..p of the cached keys and values. */
static void attend(const ref *r, const double *q, const double *K, const double *V, int p,
                   double *out)
{
    int H = r->m->n_head, KV = r->m->n_head_kv, hd = r->hd;
    double sc[64];
    for (int h = 0; h < H; h++) {
        int kh = h / (H / KV);
        double mx = -1e300, sum = 0;
        for (int t = 0; t <= p; t++) {
            double d = 0;
            for (int i = 0; i < hd; i++)
                d += q[h * hd + i] * K[(size_t)t * KV * hd + kh * hd + i];
            sc[t] = d / sqrt((double)hd);
            mx = sc[t] > mx ? sc[t] : mx;
        }
        for (int t = 0; t <= p; t++)
            sum += (sc[t] = exp(sc[t] - mx));
        for (int i = 0; i < hd; i++) {
            double acc = 0;
            for (int t = 0; t <= p; t++)
                acc += sc[t] / sum * V[(size_t)t * KV * hd + kh * hd + i];
            out[h * hd + i] = acc;
        }
    }
}

static void ffn(const ref *r, int l, double *x)
{
    int E = r->m->n_embd, F = r->m->n_ff;
    double h[64], g[128], u[128], d[64];
    rmsnorm(x, W(r, "model.layers.%d.post_attention_layernorm.weight", l), E, h);
    matvec(W(r, "model.layers.%d.mlp.gate_proj.weight", l), h, F, E, g);
    matvec(W(r, "model.layers.%d.mlp.up_proj.weight", l), h, F, E, u);
    for (int i = 0; i < F; i++)
        g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
    matvec(W(r, "model.layers.%d.mlp.down_proj.weight", l), g, E, F, d);
    for (int i = 0; i < E; i++)
        x[i] += d[i];
}

/* Logits (n_vocab doubles per position) of tokens[0..T) in the Hugging Face convention. */
static void ref_forward(const ref *r, const int32_t *tokens, int n_vocab, double *logits)
{
    int E = r->m->n_embd, H = r->m->n_head, KV = r->m->n_head_kv, hd = r->hd, L = r->m->n_layer;
    double x[16][64], K[2][16 * 64], V[2][16 * 64];
    for (int p = 0; p < r->T; p++)
        for (int i = 0; i < E; i++)
            x[p][i] = W(r, "model.embed_tokens.weight", 0)[(size_t)tokens[p] * E + i];
    for (int l = 0; l < L; l++) {
        for (int p = 0; p < r->T; p++) { /* one position at a time, as a cache fills */
            double h[64], q[64], o[64], a[64];
            rmsnorm(x[p], W(r, "model.layers.%d.input_layernorm.weight", l), E, h);
            matvec(W(r, "model.layers.%d.self_attn.q_proj.weight", l), h, H * hd, E, q);
            matvec(W(r, "model.layers.%d.self_attn.k_proj.weight", l), h, KV * hd, E, K[l] + p * KV * hd);
            matvec(W(r, "model.layers.%d.self_attn.v_proj.weight", l), h, KV * hd, E, V[l] + p * KV * hd);
            rope_half(q, H, hd, p);
            rope_half(K[l] + p * KV * hd, KV, hd, p);
            attend(r, q, K[l], V[l], p, a);
            matvec(W(r, "model.layers.%d.self_attn.o_proj.weight", l), a, E, H * hd, o);
            for (int i = 0; i < E; i++)
                x[p][i] += o[i];
            ffn(r, l, x[p]);
        }
    }
    for (int p = 0; p < r->T; p++) {
        double h[64];
        rmsnorm(x[p], W(r, "model.norm.weight", 0), E, h);
        matvec(W(r, "lm_head.weight", 0), h, n_vocab, E, logits + (size_t)p * n_vocab);
    }
}

TEST(convert_llama_engine_matches_hf_forward)
{
    fx_st s;
    fx_init(&s, 91);
    const char *dir = fx_dir("llama_engine_src");
    rmdir(dir);
    int n_vocab = fx_make_model(dir, &llama_small, &s);
    CHECK(n_vocab > 0);
    const char *path;
    cove_gguf *g = fx_convert(dir, "llama_engine", COVE_TYPE_F32, 0, NULL, &path);
    CHECK(g);
    cove_gguf_free(g);
    cove_model *model = NULL;
    cove_context *ctx = NULL;
    cove_error err = {0};
    cove_status st = cove_model_load(path, cove_model_default_params(), &model, &err);
    CHECK_MSG(st == COVE_OK, "load: %s", err.msg);
    cove_context_params cp = cove_context_default_params();
    cp.kv_type = COVE_KV_F32;
    cp.n_outputs_max = 8;
    cp.n_ctx = 32;
    st = cove_context_create(model, cp, &ctx, &err);
    CHECK_MSG(st == COVE_OK, "context: %s", err.msg);
    int32_t tokens[6] = {1, 290, 5, 300, 261, 2}, ids[8], n_ids = 0;
    /* the SentencePiece-style scores merge "▁" with a letter: "a b" -> "▁a" "▁b" */
    CHECK_OK(cove_tokenize(model, "a b", 3, 0, 0, ids, 8, &n_ids, &err));
    CHECK(n_ids == 2 && ids[0] == 286 && ids[1] == 287);
    int8_t want[6] = {1, 1, 1, 1, 1, 1};
    cove_batch batch = {tokens, NULL, NULL, 6, want};
    st = cove_decode(ctx, &batch, &err);
    CHECK_MSG(st == COVE_OK, "decode: %s", err.msg);
    ref r = {&s, &llama_small, llama_small.n_embd / llama_small.n_head, 6};
    double *lg = malloc(sizeof(double) * 6 * (size_t)n_vocab);
    ref_forward(&r, tokens, n_vocab, lg);
    double worst = 0;
    for (int p = 0; p < 6; p++) {
        const float *e = cove_context_logits(ctx, p);
        double mx = 0, diff = 0;
        for (int v = 0; v < n_vocab; v++) {
            mx = fmax(mx, fabs(lg[(size_t)p * n_vocab + v]));
            diff = fmax(diff, fabs(e[v] - lg[(size_t)p * n_vocab + v]));
        }
        worst = fmax(worst, diff / mx);
    }
    free(lg);
    cove_context_free(ctx);
    cove_model_free(model);
    fx_free(&s);
    CHECK_MSG(worst < 1e-4, "largest logit difference %.3g of the largest logit", worst);
}
