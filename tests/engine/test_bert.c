/*
 * tests/engine/test_bert.c - the BERT encoder and the embedding API.
 *
 * The reference below is a separately written, plain BERT forward pass: it reads the
 * tensors with the GGUF reader, converts them to double with its own half-precision
 * decoding, and computes one text at a time with naive loops in double. It shares no code
 * with bert.c, embed.c or the kernels. The models it checks are written here (a WordPiece
 * vocabulary of a few dozen tokens, random weights, F32 and F16, every pooling type).
 *
 * The real model (all-MiniLM-L6-v2 converted by `cove convert`) is looked for in
 * $COVE_MODELS or ~/.cache/cove/models; its cases fail when it is missing. Its reference
 * vectors (bert_minilm_ref.txt) were computed by sentence-transformers (PyTorch) with
 * tests/tools/gen_minilm_ref.py.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "test.h"

/* ======================= the reference forward pass ======================= */

/* The 16 tensors of a block, in the order of rb_parts. */
enum { WQ, BQ, WK, BK, WV, BV, WO, BO, N1W, N1B, UP, BUP, DOWN, BDOWN, N2W, N2B, RB_PARTS };

typedef struct rb_layer {
    double *t[RB_PARTS];
} rb_layer;

typedef struct rb_model {
    int vocab, dim, layers, heads, ff, ctx, pooling, normalize;
    double eps;
    double *tok, *pos, *type, *nw, *nb;
    rb_layer *l;
} rb_model;

static double rb_half(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, f = h & 1023;
    double v = e == 0 ? ldexp((double)f, -24) : e == 31 ? (f ? NAN : INFINITY)
                                                       : ldexp(1024.0 + f, e - 25);
    return sign ? -v : v;
}

/* Tensor `name` as doubles (NULL when absent or of another size). */
static double *rb_tensor(const cove_gguf *g, const char *name, size_t n)
{
    const cove_gguf_tensor *t = cove_gguf_tensor_find(g, name);
    if (!t || t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] != n ||
        (t->type != COVE_TYPE_F32 && t->type != COVE_TYPE_F16 && t->type != COVE_TYPE_BF16))
        return NULL;
    double *d = malloc(n * sizeof *d);
    const uint8_t *p = t->data;
    for (size_t i = 0; i < n && d; i++) {
        float f;
        uint16_t h;
        if (t->type == COVE_TYPE_F32) {
            memcpy(&f, p + 4 * i, 4);
            d[i] = f;
        } else if (t->type == COVE_TYPE_F16) {
            memcpy(&h, p + 2 * i, 2);
            d[i] = rb_half(h);
        } else { /* bfloat16: the top half of a binary32 */
            uint32_t u;
            memcpy(&h, p + 2 * i, 2);
            u = (uint32_t)h << 16;
            memcpy(&f, &u, 4);
            d[i] = f;
        }
    }
    return d;
}

static int rb_int(const cove_gguf *g, const char *key, int def)
{
    uint64_t v;
    return cove_gguf_get_u64(g, key, &v) == COVE_OK ? (int)v : def;
}

static int rb_load_layer(const cove_gguf *g, rb_model *r, int i)
{
    static const char *const names[RB_PARTS] = {
        "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight",
        "attn_v.bias", "attn_output.weight", "attn_output.bias", "attn_output_norm.weight",
        "attn_output_norm.bias", "ffn_up.weight", "ffn_up.bias", "ffn_down.weight",
        "ffn_down.bias", "layer_output_norm.weight", "layer_output_norm.bias"};
    size_t D = (size_t)r->dim, F = (size_t)r->ff;
    const size_t sizes[RB_PARTS] = {D * D, D, D * D, D, D * D, D, D * D, D,
                                     D, D, F * D, F, D * F, D, D, D};
    for (int j = 0; j < RB_PARTS; j++) {
        char n[96];
        snprintf(n, sizeof n, "blk.%d.%s", i, names[j]);
        if (!(r->l[i].t[j] = rb_tensor(g, n, sizes[j])))
            return 0;
    }
    return 1;
}

static void rb_free(rb_model *r)
{
    for (int i = 0; r->l && i < r->layers; i++) {
        for (int j = 0; j < RB_PARTS; j++)
            free(r->l[i].t[j]);
    }
    free(r->l);
    free(r->tok);
    free(r->pos);
    free(r->type);
    free(r->nw);
    free(r->nb);
}

static int rb_load(const char *path, rb_model *r)
{
    cove_gguf *g = NULL;
    double eps = 0;
    int norm = 1;
    memset(r, 0, sizeof *r);
    if (cove_gguf_open(path, &g, NULL) != COVE_OK)
        return 0;
    r->dim = rb_int(g, "bert.embedding_length", 0);
    r->layers = rb_int(g, "bert.block_count", 0);
    r->heads = rb_int(g, "bert.attention.head_count", 1);
    r->ff = rb_int(g, "bert.feed_forward_length", 0);
    r->ctx = rb_int(g, "bert.context_length", 0);
    r->pooling = rb_int(g, "bert.pooling_type", 0);
    cove_gguf_get_f64(g, "bert.attention.layer_norm_epsilon", &eps);
    cove_gguf_get_bool(g, "cove.embedding.normalize", &norm);
    r->eps = eps;
    r->normalize = norm;
    const cove_gguf_tensor *te = cove_gguf_tensor_find(g, "token_embd.weight");
    r->vocab = te ? (int)te->ne[1] : 0;
    size_t D = (size_t)r->dim;
    r->tok = rb_tensor(g, "token_embd.weight", (size_t)r->vocab * D);
    r->pos = rb_tensor(g, "position_embd.weight", (size_t)r->ctx * D);
    r->type = rb_tensor(g, "token_types.weight", 2 * D);
    r->nw = rb_tensor(g, "token_embd_norm.weight", D);
    r->nb = rb_tensor(g, "token_embd_norm.bias", D);
    r->l = calloc((size_t)r->layers, sizeof *r->l);
    int ok = r->tok && r->pos && r->type && r->nw && r->nb && r->l;
    for (int i = 0; ok && i < r->layers; i++)
        ok = rb_load_layer(g, r, i);
    cove_gguf_free(g);
    if (!ok)
        rb_free(r);
    return ok;
}

static void rb_layernorm(double *x, const double *w, const double *b, int n, double eps)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    for (int i = 0; i < n; i++)
        x[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i];
}

/* out[rows] = W[rows][cols] . x + b */
static void rb_linear(double *out, const double *w, const double *b, const double *x, int rows,
                      int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = b[r];
        for (int c = 0; c < cols; c++)
            s += w[(size_t)r * cols + c] * x[c];
        out[r] = s;
    }
}

/* Attention of all n tokens (q, k, v: [n][dim]) into att [n][dim]. */
static void rb_attention(const rb_model *r, const double *q, const double *k, const double *v,
                         int n, double *att)
{
    int hd = r->dim / r->heads;
    double *w = malloc((size_t)n * sizeof *w);
    for (int i = 0; i < n; i++)
        for (int h = 0; h < r->heads; h++) {
            double max = -INFINITY, sum = 0;
            for (int j = 0; j < n; j++) {
                double d = 0;
                for (int c = 0; c < hd; c++)
                    d += q[i * r->dim + h * hd + c] * k[j * r->dim + h * hd + c];
                w[j] = d / sqrt((double)hd);
                max = fmax(max, w[j]);
            }
            for (int j = 0; j < n; j++)
                sum += (w[j] = exp(w[j] - max));
            for (int c = 0; c < hd; c++) {
                double o = 0;
                for (int j = 0; j < n; j++)
                    o += w[j] / sum * v[j * r->dim + h * hd + c];
                att[i * r->dim + h * hd + c] = o;
            }
        }
    free(w);
}

/* One block over all n tokens of x [n][dim]. */
static void rb_block(const rb_model *r, const rb_layer *L, double *x, int n)
{
    double *const *l = L->t;
    int D = r->dim, F = r->ff;
    double *q = malloc(sizeof(double) * (size_t)n * (4 * D + F)), *k = q + n * D, *v = k + n * D;
    double *att = v + n * D, *h = att + n * D, o[256];
    for (int i = 0; i < n; i++) {
        rb_linear(q + i * D, l[WQ], l[BQ], x + i * D, D, D);
        rb_linear(k + i * D, l[WK], l[BK], x + i * D, D, D);
        rb_linear(v + i * D, l[WV], l[BV], x + i * D, D, D);
    }
    rb_attention(r, q, k, v, n, att);
    for (int i = 0; i < n; i++) {
        double *xi = x + i * D;
        rb_linear(o, l[WO], l[BO], att + i * D, D, D);
        for (int c = 0; c < D; c++)
            xi[c] += o[c];
        rb_layernorm(xi, l[N1W], l[N1B], D, r->eps);
        rb_linear(h, l[UP], l[BUP], xi, F, D);
        for (int c = 0; c < F; c++)
            h[c] = 0.5 * h[c] * (1.0 + erf(h[c] / sqrt(2.0)));
        rb_linear(o, l[DOWN], l[BDOWN], h, D, F);
        for (int c = 0; c < D; c++)
            xi[c] += o[c];
        rb_layernorm(xi, l[N2W], l[N2B], D, r->eps);
    }
    free(q);
}

/* The embedding of tokens[0..n): pooled as `pooling`, L2-normalised when `normalize`. */
static void rb_embed(const rb_model *r, const int32_t *tokens, int n, int pooling, int normalize,
                     double *out)
{
    int D = r->dim;
    double *x = malloc(sizeof(double) * (size_t)n * D), ss = 0;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < D; c++)
            x[i * D + c] = r->tok[(size_t)tokens[i] * D + c] + r->pos[(size_t)i * D + c] +
                           r->type[c];
        rb_layernorm(x + i * D, r->nw, r->nb, D, r->eps);
    }
    for (int li = 0; li < r->layers; li++)
        rb_block(r, &r->l[li], x, n);
    for (int c = 0; c < D; c++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += x[i * D + c];
        out[c] = pooling == 1 ? s / n : pooling == 2 ? x[c] : x[(n - 1) * D + c];
        ss += out[c] * out[c];
    }
    for (int c = 0; normalize && c < D; c++)
        out[c] /= sqrt(ss);
    free(x);
}

/* ========================== a model written here ========================== */

enum { B_DIM = 32, B_HEADS = 4, B_FF = 48, B_LAYERS = 2, B_CTX = 16 };

static const char *const b_vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog",
    "is", "sitting", "rug", "revenue", "rose", "by", "percent", "quarter", "##ly", "##s",
    "##ing", ",", ".", "!", "8", "hello", "world", "run", "small", "model", "local", "agent"};
#define B_VOCAB ((int)(sizeof b_vocab / sizeof b_vocab[0]))

typedef struct bert_opts {
    enum cove_ggml_type type; /* of the matrices and embedding tables */
    int pooling;              /* bert.pooling_type; -1: leave it out */
    int normalize;            /* cove.embedding.normalize; -1: leave it out */
    int max_seq;              /* cove.embedding.max_seq_length; 0: leave it out */
    int causal;               /* write bert.attention.causal = true */
    int drop_ffn_down;        /* leave blk.1.ffn_down.bias out */
} bert_opts;

static uint32_t lcg_state;

static float lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)((lcg_state >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* A tensor of random values around `base` (spread `spread`), cols x rows. */
static cove_status b_tensor(cove_gguf_writer *w, const char *name, enum cove_ggml_type type,
                            uint64_t cols, uint64_t rows, float base, float spread)
{
    uint64_t ne[2] = {cols, rows}, n = cols * rows;
    float *f = malloc(n * sizeof *f);
    uint16_t *h = malloc(n * sizeof *h);
    for (uint64_t i = 0; i < n; i++) {
        f[i] = base + lcg() * spread;
        h[i] = type == COVE_TYPE_BF16 ? cove_f32_to_bf16(f[i]) : cove_f32_to_f16(f[i]);
    }
    const void *data = type == COVE_TYPE_F32 ? (const void *)f : (const void *)h;
    cove_status st = cove_gguf_writer_add_tensor(w, name, type, rows == 1 ? 1 : 2, ne, data);
    free(f);
    free(h);
    return st;
}

static void b_write_vocab(cove_gguf_writer *w)
{
    float scores[B_VOCAB];
    int32_t types[B_VOCAB];
    for (int i = 0; i < B_VOCAB; i++) {
        scores[i] = 0;
        types[i] = i == 1 ? COVE_TOKEN_UNKNOWN : i < 5 ? COVE_TOKEN_CONTROL : COVE_TOKEN_NORMAL;
    }
    cove_gguf_writer_set_str(w, "tokenizer.ggml.model", "bert");
    cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", b_vocab, B_VOCAB);
    cove_gguf_writer_set_arr(w, "tokenizer.ggml.scores", COVE_GGUF_FLOAT32, scores, B_VOCAB);
    cove_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", COVE_GGUF_INT32, types, B_VOCAB);
    cove_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 2);
    cove_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 3);
    cove_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 1);
    cove_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
}

static void b_write_keys(cove_gguf_writer *w, const bert_opts *o)
{
    cove_gguf_writer_set_str(w, "general.architecture", "bert");
    cove_gguf_writer_set_u32(w, "bert.block_count", B_LAYERS);
    cove_gguf_writer_set_u32(w, "bert.embedding_length", B_DIM);
    cove_gguf_writer_set_u32(w, "bert.feed_forward_length", B_FF);
    cove_gguf_writer_set_u32(w, "bert.attention.head_count", B_HEADS);
    cove_gguf_writer_set_u32(w, "bert.context_length", B_CTX);
    cove_gguf_writer_set_f32(w, "bert.attention.layer_norm_epsilon", 1e-12f);
    cove_gguf_writer_set_bool(w, "bert.attention.causal", o->causal);
    if (o->pooling >= 0)
        cove_gguf_writer_set_u32(w, "bert.pooling_type", (uint32_t)o->pooling);
    if (o->normalize >= 0)
        cove_gguf_writer_set_bool(w, "cove.embedding.normalize", o->normalize);
    if (o->max_seq > 0)
        cove_gguf_writer_set_u32(w, "cove.embedding.max_seq_length", (uint32_t)o->max_seq);
}

static cove_status b_write_layer(cove_gguf_writer *w, int i, const bert_opts *o)
{
    static const struct { const char *part; int cols, rows; float base, spread; } t[] = {
        {"attn_q.weight", B_DIM, B_DIM, 0, 0.6f},   {"attn_q.bias", B_DIM, 1, 0, 0.2f},
        {"attn_k.weight", B_DIM, B_DIM, 0, 0.6f},   {"attn_k.bias", B_DIM, 1, 0, 0.2f},
        {"attn_v.weight", B_DIM, B_DIM, 0, 0.6f},   {"attn_v.bias", B_DIM, 1, 0, 0.2f},
        {"attn_output.weight", B_DIM, B_DIM, 0, 0.6f}, {"attn_output.bias", B_DIM, 1, 0, 0.2f},
        {"attn_output_norm.weight", B_DIM, 1, 1, 0.4f},
        {"attn_output_norm.bias", B_DIM, 1, 0, 0.2f},
        {"ffn_up.weight", B_DIM, B_FF, 0, 0.6f},    {"ffn_up.bias", B_FF, 1, 0, 0.2f},
        {"ffn_down.weight", B_FF, B_DIM, 0, 0.6f},  {"ffn_down.bias", B_DIM, 1, 0, 0.2f},
        {"layer_output_norm.weight", B_DIM, 1, 1, 0.4f},
        {"layer_output_norm.bias", B_DIM, 1, 0, 0.2f}};
    cove_status st = COVE_OK;
    for (size_t j = 0; j < sizeof t / sizeof t[0] && st == COVE_OK; j++) {
        char name[64];
        if (o->drop_ffn_down && i == 1 && strcmp(t[j].part, "ffn_down.bias") == 0)
            continue;
        snprintf(name, sizeof name, "blk.%d.%s", i, t[j].part);
        st = b_tensor(w, name, t[j].rows == 1 ? COVE_TYPE_F32 : o->type, (uint64_t)t[j].cols,
                      (uint64_t)t[j].rows, t[j].base, t[j].spread);
    }
    return st;
}

/* Write a small random BERT to the temp dir as `file`; returns its path (static buffer). */
static const char *b_model(const char *file, bert_opts o)
{
    static char path[512];
    cove_gguf_writer *w = NULL;
    cove_error err = {0};
    lcg_state = 4242;
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), file);
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return NULL;
    b_write_keys(w, &o);
    b_write_vocab(w);
    cove_status st = b_tensor(w, "token_embd.weight", o.type, B_DIM, B_VOCAB, 0, 2.0f);
    if (st == COVE_OK)
        st = b_tensor(w, "position_embd.weight", o.type, B_DIM, B_CTX, 0, 1.0f);
    if (st == COVE_OK)
        st = b_tensor(w, "token_types.weight", o.type, B_DIM, 2, 0, 1.0f);
    if (st == COVE_OK)
        st = b_tensor(w, "token_embd_norm.weight", COVE_TYPE_F32, B_DIM, 1, 1, 0.4f);
    if (st == COVE_OK)
        st = b_tensor(w, "token_embd_norm.bias", COVE_TYPE_F32, B_DIM, 1, 0, 0.2f);
    for (int i = 0; i < B_LAYERS && st == COVE_OK; i++)
        st = b_write_layer(w, i, &o);
    if (st == COVE_OK)
        st = cove_gguf_writer_save(w, path, &err);
    cove_gguf_writer_free(w);
    if (st != COVE_OK)
        fprintf(stderr, "  writing %s: %s\n", path, cove_error_msg(&err));
    return st == COVE_OK ? path : NULL;
}

static const bert_opts b_default = {COVE_TYPE_F32, 1, -1, 0, 0, 0};

/* ============================== helpers ============================== */

static cove_model *load(const char *path)
{
    cove_model *m = NULL;
    cove_error err = {0};
    if (!path || cove_model_load(path, cove_model_default_params(), &m, &err) != COVE_OK)
        fprintf(stderr, "  load %s: %s\n", path ? path : "(null)", cove_error_msg(&err));
    return m;
}

static cove_embedder *make_emb(const cove_model *m, cove_embed_params p)
{
    cove_embedder *e = NULL;
    cove_error err = {0};
    if (m && cove_embedder_create(m, p, &e, &err) != COVE_OK)
        fprintf(stderr, "  embedder: %s\n", cove_error_msg(&err));
    return e;
}

static cove_status embed(cove_embedder *e, const char *const *texts, int n, float *out)
{
    cove_error err = {0};
    cove_status st = cove_embed(e, texts, n, out, &err);
    if (st != COVE_OK)
        fprintf(stderr, "  embed: %s\n", cove_error_msg(&err));
    return st;
}

static double max_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static const char *const b_texts[] = {
    "the cat sat on the mat", "A dog is sitting on a rug.", "hello",
    "Quarterly revenue rose by 8 percent!", "", "cats, dogs", "small local model agent run"};
#define N_B_TEXTS ((int)(sizeof b_texts / sizeof b_texts[0]))

/* Worst |engine - reference| over b_texts, embedded in one call; INFINITY on failure. */
static double compare_with_ref(const char *path, int pooling, int normalize, int n_threads)
{
    rb_model r;
    cove_model *m = load(path);
    cove_embed_params p = cove_embed_default_params();
    p.n_threads = n_threads;
    p.normalize = normalize ? COVE_EMBED_NORM_L2 : COVE_EMBED_NORM_NONE;
    p.pooling = (enum cove_embed_pooling)pooling;
    cove_embedder *e = make_emb(m, p);
    float out[N_B_TEXTS * B_DIM];
    double worst = INFINITY, want[B_DIM];
    if (e && rb_load(path, &r)) {
        if (embed(e, b_texts, N_B_TEXTS, out) == COVE_OK) {
            worst = 0;
            for (int i = 0; i < N_B_TEXTS; i++) {
                int32_t ids[B_CTX], n = 0;
                cove_tokenize(m, b_texts[i], strlen(b_texts[i]), 1, 0, ids, B_CTX, &n, NULL);
                rb_embed(&r, ids, n, pooling, normalize, want);
                for (int c = 0; c < B_DIM; c++)
                    worst = fmax(worst, fabs(out[i * B_DIM + c] - want[c]) /
                                            (normalize ? 1.0 : fmax(1.0, fabs(want[c]))));
            }
        }
        rb_free(&r);
    }
    cove_embedder_free(e);
    cove_model_free(m);
    return worst;
}

/* ================================ tests ================================ */

TEST(bert_written_model_info)
{
    cove_model *m = load(b_model("info.gguf", b_default));
    CHECK(m);
    int32_t ids[16], n = 0;
    cove_status st = cove_tokenize(m, "cats, dogs", 10, 1, 0, ids, 16, &n, NULL);
    int info = cove_model_n_embd(m) == B_DIM && cove_model_n_layer(m) == B_LAYERS &&
               cove_model_n_head(m) == B_HEADS && cove_model_n_ctx_train(m) == B_CTX &&
               cove_model_n_vocab(m) == B_VOCAB;
    cove_model_free(m);
    CHECK(info);
    CHECK_OK(st);
    static const int32_t want[7] = {2, 6, 21, 23, 11, 21, 3}; /* [CLS] cat ##s , dog ##s [SEP] */
    CHECK_EQ_INT(n, 7);
    CHECK(memcmp(ids, want, sizeof want) == 0);
}

/* Every pooling type, normalised or not, F32, F16 and BF16 weights, against the reference. */
TEST(bert_written_models_match_reference)
{
    static const enum cove_ggml_type types[3] = {COVE_TYPE_F32, COVE_TYPE_F16, COVE_TYPE_BF16};
    static const char *const names[3] = {"f32", "f16", "bf16"};
    for (int ti = 0; ti < 3; ti++)
        for (int pooling = 1; pooling <= 3; pooling++) {
            bert_opts o = b_default;
            char file[32];
            o.type = types[ti];
            o.pooling = pooling;
            snprintf(file, sizeof file, "%s.gguf", names[ti]);
            const char *path = b_model(file, o);
            CHECK(path);
            for (int norm = 0; norm <= 1; norm++) {
                double e = compare_with_ref(path, pooling, norm, 1 + norm);
                fprintf(stderr, "  %s pooling %d normalize %d: max difference %.2g\n",
                        names[ti], pooling, norm, e);
                CHECK_MSG(e <= 1e-5, "%s pooling %d normalize %d: max difference %g", names[ti],
                          pooling, norm, e);
            }
        }
}

/* The file's pooling and normalisation are the defaults. */
TEST(bert_model_defaults)
{
    bert_opts o = b_default;
    o.pooling = 2;
    o.normalize = 0;
    o.max_seq = 12;
    cove_model *m = load(b_model("defaults.gguf", o));
    cove_embedder *e = make_emb(m, cove_embed_default_params());
    CHECK(e);
    int ok = cove_embedder_pooling(e) == COVE_EMBED_POOLING_CLS && !cove_embedder_normalizes(e) &&
             cove_embedder_max_tokens(e) == 12 && cove_embedder_n_embd(e) == B_DIM;
    cove_embedder_free(e);
    cove_model_free(m);
    CHECK(ok);
    /* without cove.embedding.normalize: L2, as sentence-transformers' Normalize */
    m = load(b_model("defaults2.gguf", b_default));
    e = make_emb(m, cove_embed_default_params());
    CHECK(e);
    ok = cove_embedder_normalizes(e) && cove_embedder_pooling(e) == COVE_EMBED_POOLING_MEAN &&
         cove_embedder_max_tokens(e) == B_CTX;
    cove_embedder_free(e);
    cove_model_free(m);
    CHECK(ok);
}

/* One call over mixed lengths, in one pass or several, equals one text at a time. */
TEST(bert_batch_equals_one_at_a_time)
{
    cove_model *m = load(b_model("batch.gguf", b_default));
    CHECK(m);
    float all[N_B_TEXTS * B_DIM], small[N_B_TEXTS * B_DIM], one[N_B_TEXTS * B_DIM];
    cove_embed_params p = cove_embed_default_params();
    p.n_threads = 2;
    cove_embedder *big = make_emb(m, p);
    p.n_batch = B_CTX; /* several passes */
    p.n_threads = 1;
    cove_embedder *e = make_emb(m, p);
    int ok = big && e && embed(big, b_texts, N_B_TEXTS, all) == COVE_OK &&
             embed(e, b_texts, N_B_TEXTS, small) == COVE_OK;
    for (int i = 0; ok && i < N_B_TEXTS; i++)
        ok = embed(e, b_texts + i, 1, one + i * B_DIM) == COVE_OK;
    cove_embedder_free(big);
    cove_embedder_free(e);
    cove_model_free(m);
    CHECK(ok);
    double d1 = max_diff(all, one, N_B_TEXTS * B_DIM), d2 = max_diff(small, one, N_B_TEXTS * B_DIM);
    CHECK_MSG(d1 < 1e-5 && d2 < 1e-5, "batch differs from one at a time by %g / %g", d1, d2);
}

/* Tokens in equal texts in: cove_embed_tokens gives what cove_embed gives. */
TEST(bert_embed_tokens)
{
    cove_model *m = load(b_model("tokens.gguf", b_default));
    cove_embedder *e = make_emb(m, cove_embed_default_params());
    CHECK(e);
    int32_t ids[3][B_CTX], n[3], bad[2] = {2, B_VOCAB};
    const int32_t *seqs[3] = {ids[0], ids[1], ids[2]}, *bad_seq[1] = {bad};
    float a[3 * B_DIM], b[3 * B_DIM];
    int ok = 1;
    for (int i = 0; i < 3; i++)
        ok = ok && cove_tokenize(m, b_texts[i], strlen(b_texts[i]), 1, 0, ids[i], B_CTX, &n[i],
                                 NULL) == COVE_OK;
    ok = ok && embed(e, b_texts, 3, a) == COVE_OK &&
         cove_embed_tokens(e, seqs, n, 3, b, NULL) == COVE_OK;
    int32_t two = 2, zero = 0, long_n = B_CTX + 1;
    cove_status s_bad = cove_embed_tokens(e, bad_seq, &two, 1, b, NULL);
    cove_status s_empty = cove_embed_tokens(e, bad_seq, &zero, 1, b, NULL);
    cove_status s_long = cove_embed_tokens(e, bad_seq, &long_n, 1, b, NULL);
    cove_embedder_free(e);
    cove_model_free(m);
    CHECK(ok);
    CHECK(max_diff(a, b, 3 * B_DIM) == 0);
    CHECK_EQ_INT(s_bad, COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(s_empty, COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(s_long, COVE_ERR_LIMIT);
}

/* A text over max_tokens is an error that says so; with truncate it is cut, [SEP] kept. */
TEST(bert_too_long)
{
    static const char *long_text[1] = {"the cat sat on the mat the cat sat on the mat the cat sat"};
    cove_model *m = load(b_model("long.gguf", b_default));
    cove_embedder *e = make_emb(m, cove_embed_default_params());
    cove_embed_params p = cove_embed_default_params();
    p.truncate = 1;
    cove_embedder *t = make_emb(m, p);
    CHECK(e && t);
    cove_error err = {0};
    float a[B_DIM], b[B_DIM];
    cove_status st = cove_embed(e, long_text, 1, a, &err);
    cove_status st2 = cove_embed(t, long_text, 1, a, NULL);
    int32_t ids[32], n = 0;
    cove_tokenize(m, long_text[0], strlen(long_text[0]), 1, 0, ids, 32, &n, NULL);
    ids[B_CTX - 1] = 3; /* [SEP] */
    int32_t cut = B_CTX;
    const int32_t *seq[1] = {ids};
    cove_status st3 = cove_embed_tokens(e, seq, &cut, 1, b, NULL);
    cove_embedder_free(e);
    cove_embedder_free(t);
    cove_model_free(m);
    CHECK_EQ_INT(n, 17);
    CHECK_EQ_INT(st, COVE_ERR_LIMIT);
    CHECK_MSG(strstr(err.msg, "text 0 is too long: 17 tokens") != NULL, "message: %s", err.msg);
    CHECK_OK(st2);
    CHECK_OK(st3);
    CHECK(max_diff(a, b, B_DIM) == 0);
}

TEST(bert_params_checked)
{
    bert_opts o = b_default;
    o.pooling = -1;
    cove_model *m = load(b_model("nopool.gguf", o));
    CHECK(m);
    cove_embedder *e = (cove_embedder *)(uintptr_t)1;
    cove_error err = {0};
    cove_embed_params p = cove_embed_default_params();
    cove_status no_pool = cove_embedder_create(m, p, &e, &err);
    int null_out = e == NULL;
    p.pooling = COVE_EMBED_POOLING_MEAN;
    p.max_tokens = B_CTX + 1;
    cove_status over = cove_embedder_create(m, p, &e, NULL);
    p.max_tokens = 8;
    p.n_batch = 4;
    cove_status small = cove_embedder_create(m, p, &e, NULL);
    p.n_batch = -1;
    cove_status neg = cove_embedder_create(m, p, &e, NULL);
    p.n_batch = 0;
    p.pooling = (enum cove_embed_pooling)7;
    cove_status bad = cove_embedder_create(m, p, &e, NULL);
    p.pooling = COVE_EMBED_POOLING_NONE;
    cove_status none = cove_embedder_create(m, p, &e, NULL);
    cove_context *c = NULL;
    cove_status ctx = cove_context_create(m, cove_context_default_params(), &c, NULL);
    cove_model_free(m);
    CHECK_EQ_INT(no_pool, COVE_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "pooling_type") != NULL, "message: %s", err.msg);
    CHECK(null_out);
    CHECK_EQ_INT(over, COVE_ERR_LIMIT);
    CHECK_EQ_INT(small, COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(neg, COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(bad, COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(none, COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(ctx, COVE_ERR_UNSUPPORTED); /* an encoder has no decoding context */
    CHECK(c == NULL);
}

TEST(bert_load_errors)
{
    cove_model *m = NULL;
    cove_error err = {0};
    bert_opts causal = b_default, missing = b_default;
    causal.causal = 1;
    missing.drop_ffn_down = 1;
    cove_status s1 = cove_model_load(b_model("causal.gguf", causal), cove_model_default_params(),
                                     &m, &err);
    CHECK_EQ_INT(s1, COVE_ERR_UNSUPPORTED);
    CHECK(m == NULL);
    cove_status s2 = cove_model_load(b_model("missing.gguf", missing), cove_model_default_params(),
                                     &m, &err);
    CHECK_EQ_INT(s2, COVE_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "blk.1.ffn_down.bias") != NULL, "%s", err.msg);
    /* a decoder model is not an encoder */
    m = load(test_model_path("stories260K.gguf"));
    CHECK(m);
    cove_embedder *e = NULL;
    cove_status s3 = cove_embedder_create(m, cove_embed_default_params(), &e, &err);
    cove_model_free(m);
    CHECK_EQ_INT(s3, COVE_ERR_UNSUPPORTED);
    CHECK(e == NULL);
}

/* Load, embedder, embed with the nth allocation failing: a clean error, no leak. */
static cove_status alloc_sequence(const char *path)
{
    cove_model *m = NULL;
    cove_embedder *e = NULL;
    cove_embed_params p = cove_embed_default_params();
    float out[3 * B_DIM];
    p.n_threads = 2;
    p.truncate = 1;
    static const char *texts[3] = {"the cat", "hello world",
                                   "the cat sat on the mat the cat sat on the mat the cat sat"};
    cove_status st = cove_model_load(path, cove_model_default_params(), &m, NULL);
    if (st == COVE_OK)
        st = cove_embedder_create(m, p, &e, NULL);
    if (st == COVE_OK)
        st = cove_embed(e, texts, 3, out, NULL);
    cove_embedder_free(e);
    cove_model_free(m);
    return st;
}

TEST(bert_allocation_failures)
{
    char path[512];
    snprintf(path, sizeof path, "%s", b_model("alloc.gguf", b_default));
    long n;
    for (n = 1; n < 10000; n++) {
        cove_alloc_fail_at(n, 0);
        cove_status st = alloc_sequence(path);
        long made = cove_alloc_count();
        cove_alloc_fail_at(0, 0);
        if (made < n) {
            CHECK_OK(st);
            break;
        }
        CHECK_MSG(st == COVE_ERR_NOMEM, "allocation %ld failed: status %d", n, (int)st);
    }
    fprintf(stderr, "  %ld allocations, each failed in turn\n", n - 1);
    CHECK(n > 10 && n < 10000);
}

/* ======================= the real model: all-MiniLM-L6-v2 ======================= */

#define MINILM_DIM 384
#define MINILM_N 5

/* The texts of bert_minilm_ref.txt, in its order (tests/tools/gen_minilm_ref.py). */
static const char *const minilm_texts[MINILM_N] = {
    "The cat sits on the mat",
    "A cat is sitting on a rug",
    "Quarterly revenue rose by 8 percent",
    "H\xc3\xa9llo, W\xc3\xb6rld! Don't panic: 42 apples cost $3.50 (roughly).",
    "Private agents run on small local language models. The knowledge base splits documents "
    "into chunks, embeds every chunk with a sentence encoder and finds the chunks closest to a "
    "question by cosine similarity, so that the model can answer from them.",
};

static const char *minilm_path(void)
{
    static char path[4096];
    const char *dir = getenv("COVE_MODELS"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/all-minilm-l6-v2.gguf", dir);
    else
        snprintf(path, sizeof path, "%s/.cache/cove/models/all-minilm-l6-v2.gguf",
                 home ? home : "");
    return path;
}

static cove_model *minilm_load(void)
{
    FILE *f = fopen(minilm_path(), "rb");
    if (!f) {
        fprintf(stderr, "  %s is missing: make it with `cove convert` (scripts/models.sh "
                        "all-minilm-l6-v2 fetches its source)\n", minilm_path());
        return NULL;
    }
    fclose(f);
    return load(minilm_path());
}

/* Reference vectors: MINILM_N lines of MINILM_DIM numbers. */
static int read_ref(float *ref)
{
    FILE *f = fopen(COVE_SOURCE_DIR "/tests/engine/bert_minilm_ref.txt", "r");
    int n = 0;
    while (f && n < MINILM_N * MINILM_DIM && fscanf(f, "%f", &ref[n]) == 1)
        n++;
    if (f)
        fclose(f);
    return n == MINILM_N * MINILM_DIM;
}

TEST(bert_minilm_matches_sentence_transformers)
{
    static float ref[MINILM_N * MINILM_DIM], out[MINILM_N * MINILM_DIM];
    CHECK(read_ref(ref));
    cove_model *m = minilm_load();
    CHECK(m);
    cove_embedder *e = make_emb(m, cove_embed_default_params());
    int ok = e && cove_embedder_n_embd(e) == MINILM_DIM && cove_embedder_max_tokens(e) == 256 &&
             cove_embedder_pooling(e) == COVE_EMBED_POOLING_MEAN && cove_embedder_normalizes(e) &&
             embed(e, minilm_texts, MINILM_N, out) == COVE_OK;
    cove_embedder_free(e);
    cove_model_free(m);
    CHECK(ok);
    for (int i = 0; i < MINILM_N; i++) {
        double c = cosine(out + i * MINILM_DIM, ref + i * MINILM_DIM, MINILM_DIM);
        double d = max_diff(out + i * MINILM_DIM, ref + i * MINILM_DIM, MINILM_DIM);
        fprintf(stderr, "  text %d: cosine %.7f, max difference %.2g\n", i, c, d);
        CHECK_MSG(c >= 0.999, "text %d: cosine %f with sentence-transformers", i, c);
    }
}

/* The token ids Hugging Face's tokenizer gives (tests/tools/gen_minilm_ref.py). */
TEST(bert_minilm_tokens)
{
    static const int32_t want[22] = {101,  7592, 1010, 2088, 999,  2123, 1005, 1056,
                                     6634, 1024, 4413, 18108, 3465, 1002, 1017, 1012,
                                     2753, 1006, 5560, 1007, 1012, 102};
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *m = NULL;
    CHECK_OK(cove_model_load(minilm_path(), mp, &m, NULL));
    int32_t ids[64], n = 0;
    const char *t = minilm_texts[3];
    cove_status st = cove_tokenize(m, t, strlen(t), 1, 0, ids, 64, &n, NULL);
    cove_model_free(m);
    CHECK_OK(st);
    CHECK_EQ_INT(n, 22);
    CHECK(memcmp(ids, want, sizeof want) == 0);
}

TEST(bert_minilm_paraphrase_closer)
{
    static const char *const t[3] = {"The cat sits on the mat", "A cat is sitting on a rug",
                                     "Quarterly revenue rose by 8 percent"};
    static float v[3 * MINILM_DIM];
    cove_model *m = minilm_load();
    CHECK(m);
    cove_status st = cove_model_embed(m, cove_embed_default_params(), t, 3, v, NULL);
    cove_model_free(m);
    CHECK_OK(st);
    double near = cosine(v, v + MINILM_DIM, MINILM_DIM);
    double far1 = cosine(v, v + 2 * MINILM_DIM, MINILM_DIM);
    double far2 = cosine(v + MINILM_DIM, v + 2 * MINILM_DIM, MINILM_DIM);
    fprintf(stderr, "  paraphrase %.3f, unrelated %.3f / %.3f\n", near, far1, far2);
    CHECK(near > far1 + 0.3 && near > far2 + 0.3);
}
