/*
 * tests/convert/test_fixture.c - building the model directories of fixture.h.
 * (No test cases here: the file name only puts it in the test binary.)
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "convert/convert.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/quants.h"
#include "fixture.h"
#include "test.h"

/* ---- a growable string ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)need + 1 > b->cap) {
        b->cap = (b->n + (size_t)need + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    vsnprintf(b->p + b->n, (size_t)need + 1, fmt, ap2);
    va_end(ap2);
    b->n += (size_t)need;
}

/* ---- tensors ---- */

float fx_half(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, f = h & 1023;
    double v = e == 0 ? ldexp((double)f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexp(1024.0 + f, e - 25);
    return (float)(sign ? -v : v);
}

float fx_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double fx_rand(fx_st *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (double)(s->rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

void fx_init(fx_st *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

void fx_free(fx_st *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->t[i].vals);
        free(s->t[i].bytes);
    }
    s->n = 0;
}

static size_t dtype_size(const char *d)
{
    return strcmp(d, "F32") == 0 ? 4 : strcmp(d, "I64") == 0 ? 8 : 2;
}

/* Round v to the dtype, store its bytes at p, return the rounded value. */
static float store(const char *dtype, float v, uint8_t *p)
{
    if (strcmp(dtype, "F32") == 0) {
        memcpy(p, &v, 4);
        return v;
    }
    if (strcmp(dtype, "I64") == 0) {
        int64_t i = (int64_t)v;
        memcpy(p, &i, 8);
        return (float)i;
    }
    uint16_t h = strcmp(dtype, "F16") == 0 ? cove_f32_to_f16(v) : cove_f32_to_bf16(v);
    memcpy(p, &h, 2);
    return strcmp(dtype, "F16") == 0 ? fx_half(h) : fx_bf16(h);
}

fx_tensor *fx_add(fx_st *s, const char *name, const char *dtype, int n_dims, const uint64_t *shape,
                  float scale, float offset)
{
    fx_tensor *t = &s->t[s->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->n_dims = n_dims;
    t->n = 1;
    for (int d = 0; d < n_dims; d++) {
        t->shape[d] = shape[d];
        t->n *= shape[d];
    }
    size_t es = dtype_size(dtype);
    t->n_bytes = (size_t)t->n * es;
    t->vals = malloc((size_t)t->n * sizeof(float) + 1);
    t->bytes = malloc(t->n_bytes + 1);
    for (uint64_t i = 0; i < t->n; i++) {
        float v = strcmp(dtype, "I64") == 0 ? (float)i : (float)(fx_rand(s) * scale) + offset;
        t->vals[i] = store(dtype, v, t->bytes + i * es);
    }
    return t;
}

fx_tensor *fx_find(const fx_st *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0)
            return (fx_tensor *)&s->t[i];
    return NULL;
}

uint8_t *fx_serialize(const fx_st *s, int from, int to, size_t *size)
{
    sbuf h = {0};
    size_t off = 0;
    sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = from; i < to; i++) {
        const fx_tensor *t = &s->t[i];
        sb_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (int d = 0; d < t->n_dims; d++)
            sb_printf(&h, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + t->n_bytes);
        off += t->n_bytes;
    }
    sb_printf(&h, "}");
    while (h.n % 8)
        sb_printf(&h, " ");
    *size = 8 + h.n + off;
    uint8_t *out = malloc(*size);
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)((uint64_t)h.n >> (8 * b));
    memcpy(out + 8, h.p, h.n);
    off = 8 + h.n;
    for (int i = from; i < to; i++) {
        memcpy(out + off, s->t[i].bytes, s->t[i].n_bytes);
        off += s->t[i].n_bytes;
    }
    free(h.p);
    return out;
}

static int write_bytes(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(p, 1, n, f) != n;
    return fclose(f) != 0 || bad ? -1 : 0;
}

int fx_write(const fx_st *s, int from, int to, const char *dir, const char *name)
{
    size_t n;
    uint8_t *b = fx_serialize(s, from, to, &n);
    int rc = write_bytes(dir, name, b, n);
    free(b);
    return rc;
}

int fx_write_text(const char *dir, const char *name, const char *text)
{
    return write_bytes(dir, name, text, strlen(text));
}

const char *fx_dir(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    mkdir(path, 0755);
    return path;
}

/* ---- tokenizers ---- */

/* SentencePiece-style BPE: <unk> <s> </s>, 256 byte tokens, "▁", letters, "▁" + letter. */
static int spm_tokenizer(const char *dir)
{
    sbuf b = {0};
    int id = 3;
    sb_printf(&b, "{\"version\":\"1.0\",\"added_tokens\":["
                  "{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
                  "{\"id\":1,\"content\":\"<s>\",\"special\":true},"
                  "{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
                  "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":["
                  "{\"type\":\"Prepend\",\"prepend\":\"\xe2\x96\x81\"},"
                  "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"}]},"
                  "\"pre_tokenizer\":null,"
                  "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
                  "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\","
                  "\"type_id\":0}}],\"pair\":[],\"special_tokens\":{}},"
                  "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,"
                  "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
    for (int i = 0; i < 256; i++)
        sb_printf(&b, ",\"<0x%02X>\":%d", i, id++);
    sb_printf(&b, ",\"\xe2\x96\x81\":%d", id++);
    for (char c = 'a'; c <= 'z'; c++)
        sb_printf(&b, ",\"%c\":%d", c, id++);
    for (char c = 'a'; c <= 'z'; c++)
        sb_printf(&b, ",\"\xe2\x96\x81%c\":%d", c, id++);
    sb_printf(&b, "},\"merges\":[");
    for (char c = 'a'; c <= 'z'; c++)
        sb_printf(&b, "%s\"\xe2\x96\x81 %c\"", c == 'a' ? "" : ",", c);
    sb_printf(&b, "]}}");
    int rc = fx_write_text(dir, "tokenizer.json", b.p);
    free(b.p);
    return rc ? -1 : id;
}

/* Byte-level BPE (gpt-2 shape): three ChatML specials, letters, "Ġ" + letter. */
static int bpe_tokenizer(const char *dir)
{
    sbuf b = {0};
    int id = 3;
    sb_printf(&b, "{\"version\":\"1.0\",\"added_tokens\":["
                  "{\"id\":0,\"content\":\"<|endoftext|>\",\"special\":true},"
                  "{\"id\":1,\"content\":\"<|im_start|>\",\"special\":true},"
                  "{\"id\":2,\"content\":\"<|im_end|>\",\"special\":true}],"
                  "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\","
                  "\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
                  "\"post_processor\":null,"
                  "\"model\":{\"type\":\"BPE\",\"vocab\":{\"<|endoftext|>\":0,\"<|im_start|>\":1,"
                  "\"<|im_end|>\":2,\"\xc4\xa0\":3");
    id = 4;
    for (char c = 'a'; c <= 'z'; c++)
        sb_printf(&b, ",\"%c\":%d", c, id++);
    for (char c = 'a'; c <= 'z'; c++)
        sb_printf(&b, ",\"\xc4\xa0%c\":%d", c, id++);
    sb_printf(&b, "},\"merges\":[");
    for (char c = 'a'; c <= 'z'; c++)
        sb_printf(&b, "%s[\"\xc4\xa0\",\"%c\"]", c == 'a' ? "" : ",", c);
    sb_printf(&b, "]}}");
    int rc = fx_write_text(dir, "tokenizer.json", b.p) ||
             fx_write_text(dir, "tokenizer_config.json",
                           "{\"eos_token\":\"<|im_end|>\",\"bos_token\":null,"
                           "\"chat_template\":\"{% for m in messages %}{{m.content}}{% endfor %}\"}");
    free(b.p);
    return rc ? -1 : id;
}

/* WordPiece vocab.txt and the sentence-transformers files. */
static int bert_tokenizer(const char *dir)
{
    sbuf b = {0};
    int n = 0;
    const char *sp[] = {"[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", "##s"};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++, n++)
        sb_printf(&b, "%s\n", sp[i]);
    for (char c = 'a'; c <= 'z'; c++, n += 2)
        sb_printf(&b, "%c\n##%c\n", c, c);
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    mkdir(sub, 0755);
    int rc = fx_write_text(dir, "vocab.txt", b.p) ||
             fx_write_text(dir, "modules.json",
                           "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":"
                           "\"sentence_transformers.models.Transformer\"},{\"idx\":1,\"name\":\"1\","
                           "\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
                           "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":"
                           "\"sentence_transformers.models.Normalize\"}]") ||
             fx_write_text(sub, "config.json",
                           "{\"word_embedding_dimension\":16,\"pooling_mode_cls_token\":false,"
                           "\"pooling_mode_mean_tokens\":true,\"pooling_mode_max_tokens\":false,"
                           "\"pooling_mode_mean_sqrt_len_tokens\":false}") ||
             fx_write_text(dir, "sentence_bert_config.json",
                           "{\"max_seq_length\":48,\"do_lower_case\":false}");
    free(b.p);
    return rc ? -1 : n;
}

/* ---- configs and weights ---- */

static int is_model(const fx_model *m, const char *t)
{
    return strcmp(m->model_type, t) == 0;
}

static int write_config(const char *dir, const fx_model *m, int n_vocab)
{
    sbuf b = {0};
    sb_printf(&b, "{\"model_type\":\"%s\",\"vocab_size\":%d,\"hidden_size\":%d,"
                  "\"intermediate_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":%d,"
                  "\"max_position_embeddings\":%d",
              m->model_type, n_vocab, m->n_embd, m->n_ff, m->n_layer, m->n_head, m->n_ctx);
    if (is_model(m, "bert"))
        sb_printf(&b, ",\"layer_norm_eps\":1e-12,\"type_vocab_size\":2,\"pad_token_id\":0,"
                      "\"hidden_act\":\"gelu\",\"position_embedding_type\":\"absolute\"}");
    else
        sb_printf(&b, ",\"num_key_value_heads\":%d,\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,"
                      "\"tie_word_embeddings\":%s,\"bos_token_id\":1,\"eos_token_id\":2%s",
                  m->n_head_kv, m->tie ? "true" : "false",
                  is_model(m, "gemma3_text") ? ",\"sliding_window\":32" : "");
    if (!is_model(m, "bert") && m->head_dim)
        sb_printf(&b, ",\"head_dim\":%d}", m->head_dim);
    else if (!is_model(m, "bert"))
        sb_printf(&b, "}");
    int rc = fx_write_text(dir, "config.json", b.p);
    free(b.p);
    return rc;
}

static void add2(fx_st *s, const char *name, const char *dt, uint64_t a, uint64_t b, float sc)
{
    uint64_t sh[2] = {a, b};
    fx_add(s, name, dt, 2, sh, sc, 0.0f);
}

static void add1(fx_st *s, const char *name, uint64_t a, float sc, float off)
{
    fx_add(s, name, "F32", 1, &a, sc, off);
}

static void decoder_layer(fx_st *s, const fx_model *m, int l)
{
    char n[160];
    int hd = m->head_dim ? m->head_dim : m->n_embd / m->n_head, E = m->n_embd;
    const char *dt = m->dtype;
    int q = m->n_head * hd, kv = m->n_head_kv * hd;
#define P(suffix) (snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix), n)
    add1(s, P("input_layernorm.weight"), (uint64_t)E, 0.1f, 1.0f);
    add2(s, P("self_attn.q_proj.weight"), dt, (uint64_t)q, (uint64_t)E, 0.3f);
    add2(s, P("self_attn.k_proj.weight"), dt, (uint64_t)kv, (uint64_t)E, 0.3f);
    add2(s, P("self_attn.v_proj.weight"), dt, (uint64_t)kv, (uint64_t)E, 0.3f);
    add2(s, P("self_attn.o_proj.weight"), dt, (uint64_t)E, (uint64_t)q, 0.3f);
    if (m->bias) {
        add1(s, P("self_attn.q_proj.bias"), (uint64_t)q, 0.2f, 0.0f);
        add1(s, P("self_attn.k_proj.bias"), (uint64_t)kv, 0.2f, 0.0f);
        add1(s, P("self_attn.v_proj.bias"), (uint64_t)kv, 0.2f, 0.0f);
    }
    if (is_model(m, "qwen3") || is_model(m, "gemma3_text")) {
        add1(s, P("self_attn.q_norm.weight"), (uint64_t)hd, 0.1f, 1.0f);
        add1(s, P("self_attn.k_norm.weight"), (uint64_t)hd, 0.1f, 1.0f);
    }
    add1(s, P("post_attention_layernorm.weight"), (uint64_t)E, 0.1f, 1.0f);
    if (is_model(m, "gemma3_text")) {
        add1(s, P("pre_feedforward_layernorm.weight"), (uint64_t)E, 0.1f, 0.0f);
        add1(s, P("post_feedforward_layernorm.weight"), (uint64_t)E, 0.1f, 0.0f);
    }
    add2(s, P("mlp.gate_proj.weight"), dt, (uint64_t)m->n_ff, (uint64_t)E, 0.3f);
    add2(s, P("mlp.up_proj.weight"), dt, (uint64_t)m->n_ff, (uint64_t)E, 0.3f);
    add2(s, P("mlp.down_proj.weight"), dt, (uint64_t)E, (uint64_t)m->n_ff, 0.3f);
    if (is_model(m, "llama") && l == 0)
        add1(s, P("self_attn.rotary_emb.inv_freq"), (uint64_t)hd / 2, 0.1f, 0.5f);
#undef P
}

static void bert_layer(fx_st *s, const fx_model *m, int l)
{
    char n[160];
    uint64_t E = (uint64_t)m->n_embd, F = (uint64_t)m->n_ff;
    const char *mats[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense"};
#define P(suffix) (snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix), n)
    for (int i = 0; i < 4; i++) {
        char w[96], b[96];
        snprintf(w, sizeof w, "%s.weight", mats[i]);
        snprintf(b, sizeof b, "%s.bias", mats[i]);
        add2(s, P(w), m->dtype, E, E, 0.3f);
        add1(s, P(b), E, 0.1f, 0.0f);
    }
    add1(s, P("attention.output.LayerNorm.weight"), E, 0.1f, 1.0f);
    add1(s, P("attention.output.LayerNorm.bias"), E, 0.1f, 0.0f);
    add2(s, P("intermediate.dense.weight"), m->dtype, F, E, 0.3f);
    add1(s, P("intermediate.dense.bias"), F, 0.1f, 0.0f);
    add2(s, P("output.dense.weight"), m->dtype, E, F, 0.3f);
    add1(s, P("output.dense.bias"), E, 0.1f, 0.0f);
    add1(s, P("output.LayerNorm.weight"), E, 0.1f, 1.0f);
    add1(s, P("output.LayerNorm.bias"), E, 0.1f, 0.0f);
#undef P
}

static void make_weights(fx_st *s, const fx_model *m, int n_vocab)
{
    uint64_t V = (uint64_t)n_vocab, E = (uint64_t)m->n_embd;
    if (is_model(m, "bert")) {
        uint64_t pos[2] = {1, (uint64_t)m->n_ctx};
        add2(s, "embeddings.word_embeddings.weight", m->dtype, V, E, 0.5f);
        add2(s, "embeddings.position_embeddings.weight", m->dtype, (uint64_t)m->n_ctx, E, 0.5f);
        add2(s, "embeddings.token_type_embeddings.weight", m->dtype, 2, E, 0.5f);
        add1(s, "embeddings.LayerNorm.weight", E, 0.1f, 1.0f);
        add1(s, "embeddings.LayerNorm.bias", E, 0.1f, 0.0f);
        fx_add(s, "embeddings.position_ids", "I64", 2, pos, 0, 0);
        for (int l = 0; l < m->n_layer; l++)
            bert_layer(s, m, l);
        add2(s, "pooler.dense.weight", "F32", E, E, 0.3f);
        add1(s, "pooler.dense.bias", E, 0.1f, 0.0f);
        return;
    }
    add2(s, "model.embed_tokens.weight", m->dtype, V, E, 0.5f);
    for (int l = 0; l < m->n_layer; l++)
        decoder_layer(s, m, l);
    add1(s, "model.norm.weight", E, 0.1f, 1.0f);
    if (!m->tie)
        add2(s, "lm_head.weight", m->dtype, V, E, 0.3f);
}

/* The weights as one file or as shards with an index. */
static int write_weights(const char *dir, const fx_st *s, int n_shards)
{
    if (n_shards <= 1)
        return fx_write(s, 0, s->n, dir, "model.safetensors");
    sbuf idx = {0};
    sb_printf(&idx, "{\"metadata\":{\"total_size\":0},\"weight_map\":{");
    int per = (s->n + n_shards - 1) / n_shards, rc = 0;
    for (int k = 0; k < n_shards; k++) {
        char name[64];
        int from = k * per, to = from + per < s->n ? from + per : s->n;
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
        rc |= fx_write(s, from, to, dir, name);
        for (int i = from; i < to; i++)
            sb_printf(&idx, "%s\"%s\":\"%s\"", i ? "," : "", s->t[i].name, name);
    }
    sb_printf(&idx, "}}");
    rc |= fx_write_text(dir, "model.safetensors.index.json", idx.p);
    free(idx.p);
    return rc;
}

int fx_make_model(const char *dir, const fx_model *m, fx_st *st)
{
    int n_vocab;
    if (mkdir(dir, 0755) != 0)
        return -1;
    if (is_model(m, "bert"))
        n_vocab = bert_tokenizer(dir);
    else if (is_model(m, "qwen2") || is_model(m, "qwen3"))
        n_vocab = bpe_tokenizer(dir);
    else
        n_vocab = spm_tokenizer(dir);
    if (n_vocab < 0 || write_config(dir, m, n_vocab) != 0)
        return -1;
    make_weights(st, m, n_vocab);
    return write_weights(dir, st, m->n_shards) == 0 ? n_vocab : -1;
}

/* ---- converting and reading back ---- */

cove_gguf *fx_convert(const char *dir, const char *name, int type, int vocab_only,
                      cove_convert_report *rep, const char **path_out)
{
    static char path[4096];
    cove_convert_params p = cove_convert_default_params();
    cove_convert_report r;
    cove_error err = {0};
    cove_gguf *g = NULL;
    p.type = (enum cove_ggml_type)type;
    p.vocab_only = vocab_only;
    snprintf(path, sizeof path, "%s/%s.gguf", test_tmpdir(), name);
    if (path_out)
        *path_out = path;
    if (cove_convert_hf(dir, path, &p, rep ? rep : &r, &err) != COVE_OK) {
        fprintf(stderr, "    convert %s: %s\n", dir, err.msg);
        return NULL;
    }
    if (cove_gguf_open(path, &g, &err) != COVE_OK)
        fprintf(stderr, "    open %s: %s\n", path, err.msg);
    return g;
}

float *fx_tensor_f32(const cove_gguf *g, const char *name, uint64_t *n)
{
    const cove_gguf_tensor *t = cove_gguf_tensor_find(g, name);
    const cove_quant_ops *ops = t ? cove_quant_ops_ref(t->type) : NULL;
    if (!t || !ops)
        return NULL;
    uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    size_t rb = cove_quant_row_bytes(t->type, (int64_t)t->ne[0]);
    float *out = malloc((size_t)(t->ne[0] * rows) * sizeof(float) + 4);
    for (uint64_t r = 0; r < rows; r++)
        ops->dequantize_row((const uint8_t *)t->data + r * rb, out + r * t->ne[0], (int64_t)t->ne[0]);
    *n = t->ne[0] * rows;
    return out;
}

long long fx_u(const cove_gguf *g, const char *key)
{
    uint64_t v;
    return cove_gguf_get_u64(g, key, &v) == COVE_OK ? (long long)v : -1;
}

double fx_f(const cove_gguf *g, const char *key)
{
    double v;
    return cove_gguf_get_f64(g, key, &v) == COVE_OK ? v : NAN;
}

const char *fx_s(const cove_gguf *g, const char *key)
{
    static char buf[4096];
    cove_gguf_str s;
    if (cove_gguf_get_str(g, key, &s) != COVE_OK || s.len >= sizeof buf)
        return NULL;
    memcpy(buf, s.ptr, (size_t)s.len);
    buf[s.len] = '\0';
    return buf;
}

uint64_t fx_unpermute(uint64_t r, uint64_t hd)
{
    uint64_t h = r / hd, k = r % hd;
    return h * hd + (k % 2) * (hd / 2) + k / 2;
}

uint8_t *fx_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}
