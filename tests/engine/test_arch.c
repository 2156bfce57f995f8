/*
 * tests/engine/test_arch.c - the decoder architectures (llama, qwen2, qwen3, gemma3), RoPE
 * scaling, several sequences in one context, and the KV cache types.
 *
 * Each architecture gets a tiny random model written here with the GGUF writer (F32, F16
 * and Q8_0 matrices) and the engine's logits over a 12-token prompt are compared with a
 * separately written reference forward pass below: it reads the tensors with the GGUF
 * reader, decodes f16 and Q8_0 with its own code, and computes every position with naive
 * loops in double. It shares no code with the engine's forward pass, kernels or cache.
 * Tolerances (largest |difference| over the largest |logit| of each row, f32 cache):
 *   F32, F16 weights   1e-4 (measured 2-6e-7: float accumulation only)
 *   Q8_0 weights       5e-2 (the engine quantizes activations to Q8_0 for its products;
 *                      measured 0.9-1.7%, 3.9% with logits soft-capped at 2)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "test.h"

/* ============================ writing models ============================ */

enum { A_VOCAB = 48, A_DIM = 64, A_FF = 96, A_CTX = 64 };

/* What varies between the models written here. */
typedef struct arch_spec {
    const char *arch;     /* general.architecture */
    int layers, heads, kv_heads, head_dim; /* head_dim 0: A_DIM / heads */
    int bias, qk_norm, post_norms;
    int swa_window, swa_pattern;           /* gemma3; pattern 0: the default (6) */
    float attn_softcap, final_softcap;     /* written when non-zero */
    const char *rope_scaling;              /* "linear", "yarn" or NULL */
    float rope_factor;
    int rope_freqs;                        /* write rope_freqs.weight (llama3 style) */
    int rot;                               /* rope.dimension_count; 0: the head size */
} arch_spec;

static uint32_t rng;

static float uniform(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffffff) / 16777216.0f - 0.5f;
}

/* f32 values as `type` (F32, F16 or Q8_0 of this file's own quantizer). */
static void *encode(const float *f, size_t n, enum cove_ggml_type type)
{
    if (type == COVE_TYPE_F32) {
        float *o = malloc(n * sizeof *o);
        memcpy(o, f, n * sizeof *o);
        return o;
    }
    if (type == COVE_TYPE_F16) {
        uint16_t *h = malloc(n * sizeof *h);
        for (size_t i = 0; i < n; i++)
            h[i] = cove_f32_to_f16(f[i]);
        return h;
    }
    uint8_t *q = malloc(n / 32 * 34); /* Q8_0: f16 scale, 32 int8 */
    for (size_t b = 0; b < n / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(f[b * 32 + j]));
        uint16_t d = cove_f32_to_f16(amax / 127.0f);
        memcpy(q + b * 34, &d, 2);
        for (int j = 0; j < 32; j++)
            q[b * 34 + 2 + j] = (uint8_t)(int8_t)lrintf(amax > 0 ? f[b * 32 + j] * 127.0f / amax : 0);
    }
    return q;
}

/* A tensor of rows x cols: values base + scale * uniform (vectors always F32). */
static int add(cove_gguf_writer *w, const char *name, enum cove_ggml_type type, int cols,
               int rows, float base, float scale)
{
    size_t n = (size_t)cols * (size_t)rows;
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = base + scale * uniform();
    enum cove_ggml_type t = rows == 1 || cols % 32 ? (rows == 1 ? COVE_TYPE_F32 : COVE_TYPE_F16) : type;
    void *data = encode(f, n, t);
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    cove_status st = cove_gguf_writer_add_tensor(w, name, t, rows == 1 ? 1 : 2, ne, data);
    free(f);
    free(data);
    return st == COVE_OK;
}

static void write_vocab(cove_gguf_writer *w)
{
    const char *toks[A_VOCAB];
    static char store[A_VOCAB][8];
    float scores[A_VOCAB];
    int32_t types[A_VOCAB];
    for (int i = 0; i < A_VOCAB; i++) {
        snprintf(store[i], sizeof store[i], i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t%d", i);
        toks[i] = store[i];
        scores[i] = (float)-i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
    }
    cove_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, A_VOCAB);
    cove_gguf_writer_set_arr(w, "tokenizer.ggml.scores", COVE_GGUF_FLOAT32, scores, A_VOCAB);
    cove_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", COVE_GGUF_INT32, types, A_VOCAB);
}

static void set_key(cove_gguf_writer *w, const arch_spec *s, const char *suffix, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", s->arch, suffix);
    cove_gguf_writer_set_u32(w, key, v);
}

static void set_keyf(cove_gguf_writer *w, const arch_spec *s, const char *suffix, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", s->arch, suffix);
    cove_gguf_writer_set_f32(w, key, v);
}

static void write_hparams(cove_gguf_writer *w, const arch_spec *s)
{
    int hd = s->head_dim ? s->head_dim : A_DIM / s->heads;
    char key[128];
    cove_gguf_writer_set_str(w, "general.architecture", s->arch);
    set_key(w, s, "block_count", (uint32_t)s->layers);
    set_key(w, s, "embedding_length", A_DIM);
    set_key(w, s, "feed_forward_length", A_FF);
    set_key(w, s, "attention.head_count", (uint32_t)s->heads);
    set_key(w, s, "attention.head_count_kv", (uint32_t)s->kv_heads);
    set_key(w, s, "context_length", A_CTX);
    set_keyf(w, s, "rope.freq_base", 300.0f);
    set_keyf(w, s, "attention.layer_norm_rms_epsilon", 1e-6f);
    if (s->head_dim) {
        set_key(w, s, "attention.key_length", (uint32_t)hd);
        set_key(w, s, "attention.value_length", (uint32_t)hd);
    }
    if (s->rot)
        set_key(w, s, "rope.dimension_count", (uint32_t)s->rot);
    if (s->swa_window)
        set_key(w, s, "attention.sliding_window", (uint32_t)s->swa_window);
    if (s->swa_pattern)
        set_key(w, s, "attention.sliding_window_pattern", (uint32_t)s->swa_pattern);
    if (s->attn_softcap > 0)
        set_keyf(w, s, "attn_logit_softcapping", s->attn_softcap);
    if (s->final_softcap > 0)
        set_keyf(w, s, "final_logit_softcapping", s->final_softcap);
    if (s->rope_scaling) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", s->arch);
        cove_gguf_writer_set_str(w, key, s->rope_scaling);
        set_keyf(w, s, "rope.scaling.factor", s->rope_factor);
        set_key(w, s, "rope.scaling.original_context_length", 16);
    }
    write_vocab(w);
}

static int write_layer(cove_gguf_writer *w, const arch_spec *s, int i, enum cove_ggml_type t)
{
    const int hd = s->head_dim ? s->head_dim : A_DIM / s->heads;
    const int Q = s->heads * hd, KV = s->kv_heads * hd;
    const float sc = 1.0f / sqrtf((float)A_DIM), norm = 0.2f;
    char n[96];
    int ok = 1;
#define T(part, cols, rows, base, scale) \
    (snprintf(n, sizeof n, "blk.%d.%s", i, part), ok = ok && add(w, n, t, cols, rows, base, scale))
    T("attn_norm.weight", A_DIM, 1, 1.0f, norm);
    T("attn_q.weight", A_DIM, Q, 0, 2 * sc);
    T("attn_k.weight", A_DIM, KV, 0, 2 * sc);
    T("attn_v.weight", A_DIM, KV, 0, 2 * sc);
    T("attn_output.weight", Q, A_DIM, 0, 2 * sc);
    if (s->bias) {
        T("attn_q.bias", Q, 1, 0, 0.5f);
        T("attn_k.bias", KV, 1, 0, 0.5f);
        T("attn_v.bias", KV, 1, 0, 0.5f);
    }
    if (s->qk_norm) {
        T("attn_q_norm.weight", hd, 1, 1.0f, norm);
        T("attn_k_norm.weight", hd, 1, 1.0f, norm);
    }
    if (s->post_norms) {
        T("post_attention_norm.weight", A_DIM, 1, 1.0f, norm);
        T("post_ffw_norm.weight", A_DIM, 1, 1.0f, norm);
    }
    T("ffn_norm.weight", A_DIM, 1, 1.0f, norm);
    T("ffn_gate.weight", A_DIM, A_FF, 0, 2 * sc);
    T("ffn_up.weight", A_DIM, A_FF, 0, 2 * sc);
    T("ffn_down.weight", A_FF, A_DIM, 0, 2 * sc);
#undef T
    return ok;
}

/* Write the model of spec s with matrices of type t; returns its path (static buffer). */
static const char *write_model(const arch_spec *s, enum cove_ggml_type t, const char *tag)
{
    static char path[512];
    cove_gguf_writer *w = NULL;
    cove_error err = {0};
    rng = 777;
    snprintf(path, sizeof path, "%s/%s_%s.gguf", test_tmpdir(), s->arch, tag);
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return NULL;
    write_hparams(w, s);
    int ok = add(w, "token_embd.weight", t, A_DIM, A_VOCAB, 0, 1.0f) &&
             add(w, "output_norm.weight", t, A_DIM, 1, 1.0f, 0.2f) &&
             (strcmp(s->arch, "gemma3") == 0 || add(w, "output.weight", t, A_DIM, A_VOCAB, 0, 0.25f));
    if (ok && s->rope_freqs) {
        int hd = s->head_dim ? s->head_dim : A_DIM / s->heads, rot = s->rot ? s->rot : hd;
        ok = add(w, "rope_freqs.weight", t, rot / 2, 1, 2.0f, 2.0f); /* factors in [1, 3] */
    }
    for (int i = 0; ok && i < s->layers; i++)
        ok = write_layer(w, s, i, t);
    cove_status st = ok ? cove_gguf_writer_save(w, path, &err) : COVE_ERR_INTERNAL;
    cove_gguf_writer_free(w);
    if (st != COVE_OK)
        fprintf(stderr, "  writing %s: %s\n", path, cove_error_msg(&err));
    return st == COVE_OK ? path : NULL;
}

/* ======================= the reference forward pass ======================= */

typedef struct rlayer {
    double *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *q_norm, *k_norm, *post_attn;
    double *ffn_norm, *gate, *up, *down, *post_ffw;
    int swa;
} rlayer;

typedef struct rmodel {
    int gemma, neox, vocab, dim, layers, heads, kv_heads, hd, rot, ff, window;
    double eps, base, base_swa, scale, attn_cap, final_cap, rope_factor;
    int yarn, orig_ctx;
    double *embd, *out_norm, *out, *freqs;
    rlayer *l;
} rmodel;

static double ref_half(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, f = h & 1023;
    double v = e == 0 ? ldexp((double)f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexp(1024.0 + f, e - 25);
    return sign ? -v : v;
}

/* Tensor `name` of n elements as doubles (F32, F16, Q8_0); NULL when absent. */
static double *ref_tensor(const cove_gguf *g, const char *name, size_t n)
{
    const cove_gguf_tensor *t = cove_gguf_tensor_find(g, name);
    if (!t || t->ne[0] * t->ne[1] != n)
        return NULL;
    double *d = malloc(n * sizeof *d);
    const uint8_t *p = t->data;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        float f;
        if (t->type == COVE_TYPE_F32) {
            memcpy(&f, p + 4 * i, 4);
            d[i] = f;
        } else if (t->type == COVE_TYPE_F16) {
            memcpy(&h, p + 2 * i, 2);
            d[i] = ref_half(h);
        } else { /* Q8_0 */
            memcpy(&h, p + i / 32 * 34, 2);
            d[i] = ref_half(h) * (int8_t)p[i / 32 * 34 + 2 + i % 32];
        }
    }
    return d;
}

static double ref_num(const cove_gguf *g, const char *arch, const char *suffix, double def)
{
    char key[128];
    double v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return cove_gguf_get_f64(g, key, &v) == COVE_OK ? v : def;
}

static void ref_layer_load(const cove_gguf *g, rmodel *r, int i)
{
    rlayer *l = &r->l[i];
    size_t E = (size_t)r->dim, Q = (size_t)r->heads * r->hd, KV = (size_t)r->kv_heads * r->hd;
    size_t F = (size_t)r->ff, H = (size_t)r->hd;
    char n[96];
#define R(field, part, size) (snprintf(n, sizeof n, "blk.%d.%s", i, part), l->field = ref_tensor(g, n, size))
    R(attn_norm, "attn_norm.weight", E);
    R(wq, "attn_q.weight", Q * E);
    R(wk, "attn_k.weight", KV * E);
    R(wv, "attn_v.weight", KV * E);
    R(wo, "attn_output.weight", E * Q);
    R(bq, "attn_q.bias", Q);
    R(bk, "attn_k.bias", KV);
    R(bv, "attn_v.bias", KV);
    R(q_norm, "attn_q_norm.weight", H);
    R(k_norm, "attn_k_norm.weight", H);
    R(post_attn, "post_attention_norm.weight", E);
    R(ffn_norm, "ffn_norm.weight", E);
    R(gate, "ffn_gate.weight", F * E);
    R(up, "ffn_up.weight", F * E);
    R(down, "ffn_down.weight", E * F);
    R(post_ffw, "post_ffw_norm.weight", E);
#undef R
    int pattern = (int)ref_num(g, "gemma3", "attention.sliding_window_pattern", 6);
    l->swa = r->gemma && r->window > 0 && (i + 1) % pattern != 0;
}

static void ref_hparams(const cove_gguf *g, const char *a, rmodel *r)
{
    cove_gguf_str rs;
    char key[128];
    r->gemma = strcmp(a, "gemma3") == 0;
    r->neox = strcmp(a, "llama") != 0;
    r->vocab = A_VOCAB;
    r->dim = (int)ref_num(g, a, "embedding_length", 0);
    r->layers = (int)ref_num(g, a, "block_count", 0);
    r->heads = (int)ref_num(g, a, "attention.head_count", 1);
    r->kv_heads = (int)ref_num(g, a, "attention.head_count_kv", r->heads);
    r->hd = (int)ref_num(g, a, "attention.key_length", r->dim / r->heads);
    r->rot = (int)ref_num(g, a, "rope.dimension_count", r->hd);
    r->ff = (int)ref_num(g, a, "feed_forward_length", 0);
    r->eps = ref_num(g, a, "attention.layer_norm_rms_epsilon", 0);
    r->base = ref_num(g, a, "rope.freq_base", 10000);
    r->base_swa = r->gemma ? 10000.0 : r->base;
    r->window = (int)ref_num(g, a, "attention.sliding_window", 0);
    r->scale = 1.0 / sqrt((double)r->hd);
    r->attn_cap = ref_num(g, a, "attn_logit_softcapping", 0);
    r->final_cap = ref_num(g, a, "final_logit_softcapping", 0);
    r->rope_factor = ref_num(g, a, "rope.scaling.factor", 1);
    r->orig_ctx = (int)ref_num(g, a, "rope.scaling.original_context_length", A_CTX);
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    r->yarn = cove_gguf_get_str(g, key, &rs) == COVE_OK && cove_gguf_str_eq(rs, "yarn");
    if (cove_gguf_get_str(g, key, &rs) != COVE_OK)
        r->rope_factor = 1;
}

static void ref_free(rmodel *r)
{
    for (int i = 0; r->l && i < r->layers; i++) {
        rlayer *l = &r->l[i];
        double *all[] = {l->attn_norm, l->wq, l->wk, l->wv, l->wo, l->bq, l->bk, l->bv, l->q_norm,
                         l->k_norm, l->post_attn, l->ffn_norm, l->gate, l->up, l->down, l->post_ffw};
        for (size_t j = 0; j < sizeof all / sizeof all[0]; j++)
            free(all[j]);
    }
    free(r->l);
    if (r->out != r->embd)
        free(r->out);
    free(r->embd);
    free(r->out_norm);
    free(r->freqs);
}

static int ref_load(const char *path, rmodel *r)
{
    cove_gguf *g = NULL;
    cove_gguf_str a;
    char arch[32];
    memset(r, 0, sizeof *r);
    if (cove_gguf_open(path, &g, NULL) != COVE_OK || cove_gguf_get_str(g, "general.architecture", &a))
        return 0;
    snprintf(arch, sizeof arch, "%.*s", (int)a.len, a.ptr);
    ref_hparams(g, arch, r);
    size_t E = (size_t)r->dim, V = (size_t)r->vocab;
    r->embd = ref_tensor(g, "token_embd.weight", V * E);
    r->out_norm = ref_tensor(g, "output_norm.weight", E);
    r->out = ref_tensor(g, "output.weight", V * E);
    r->freqs = ref_tensor(g, "rope_freqs.weight", (size_t)r->rot / 2);
    if (!r->out)
        r->out = r->embd;
    r->l = calloc((size_t)r->layers, sizeof *r->l);
    for (int i = 0; i < r->layers; i++)
        ref_layer_load(g, r, i);
    cove_gguf_free(g);
    return r->embd != NULL;
}

static void rms(double *o, const double *x, const double *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        o[i] = x[i] * s * w[i];
}

static void matvec(double *o, const double *w, const double *b, const double *x, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = b ? b[r] : 0;
        for (int c = 0; c < cols; c++)
            s += w[(size_t)r * cols + c] * x[c];
        o[r] = s;
    }
}

/* The angle of pair i at pos: linear scaling divides it, YaRN blends (Peng et al. 2023,
 * beta_fast 32, beta_slow 1) and returns its magnitude factor in *mag. */
static double rope_angle(const rmodel *r, int swa, int i, int pos, double *mag)
{
    double base = swa ? r->base_swa : r->base, theta = pos * pow(base, -2.0 * i / r->rot);
    *mag = 1;
    if (!swa && r->freqs)
        theta /= r->freqs[i];
    if (swa || r->rope_factor == 1)
        return theta;
    if (!r->yarn)
        return theta / r->rope_factor;
    double lo = floor(r->rot * log(r->orig_ctx / (32 * 2 * M_PI)) / (2 * log(base)));
    double hi = ceil(r->rot * log(r->orig_ctx / (1 * 2 * M_PI)) / (2 * log(base)));
    lo = fmax(0, lo);
    hi = fmin(r->rot - 1, hi);
    double t = (i - lo) / fmax(0.001, hi - lo), keep = 1 - fmin(1, fmax(0, t));
    *mag = 1 + 0.1 * log(r->rope_factor);
    return theta / r->rope_factor * (1 - keep) + theta * keep;
}

static void rope(const rmodel *r, double *v, int heads, int pos, int swa)
{
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < r->rot / 2; i++) {
            double mag, a = rope_angle(r, swa, i, pos, &mag);
            double *p0 = v + h * r->hd + (r->neox ? i : 2 * i);
            double *p1 = r->neox ? p0 + r->rot / 2 : p0 + 1, x0 = *p0, x1 = *p1;
            *p0 = (x0 * cos(a) - x1 * sin(a)) * mag;
            *p1 = (x0 * sin(a) + x1 * cos(a)) * mag;
        }
}

/* Attention of query head h at pos over this layer's cache (positions [lo, pos]). */
static void attend(const rmodel *r, const rlayer *l, const double *q, const double *kc,
                   const double *vc, int pos, int h, double *out)
{
    int kvd = r->kv_heads * r->hd, kvh = h / (r->heads / r->kv_heads);
    int lo = l->swa && pos >= r->window ? pos - r->window + 1 : 0;
    double w[A_CTX], max = -INFINITY, sum = 0;
    for (int s = lo; s <= pos; s++) {
        double d = 0;
        for (int i = 0; i < r->hd; i++)
            d += q[i] * kc[(size_t)s * kvd + kvh * r->hd + i];
        d *= r->scale;
        if (r->attn_cap > 0)
            d = r->attn_cap * tanh(d / r->attn_cap);
        w[s] = d;
        max = fmax(max, d);
    }
    for (int s = lo; s <= pos; s++)
        sum += (w[s] = exp(w[s] - max));
    for (int i = 0; i < r->hd; i++) {
        double o = 0;
        for (int s = lo; s <= pos; s++)
            o += w[s] / sum * vc[(size_t)s * kvd + kvh * r->hd + i];
        out[i] = o;
    }
}

static double act(const rmodel *r, double g)
{
    if (r->gemma)
        return 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g)));
    return g / (1 + exp(-g));
}

static void ref_attention(const rmodel *r, const rlayer *l, double *x, double *kc, double *vc, int pos)
{
    int D = r->dim, Q = r->heads * r->hd, KV = r->kv_heads * r->hd;
    double xn[A_DIM], q[256], att[256], o[A_DIM];
    double *k = kc + (size_t)pos * KV, *v = vc + (size_t)pos * KV;
    rms(xn, x, l->attn_norm, D, r->eps);
    matvec(q, l->wq, l->bq, xn, Q, D);
    matvec(k, l->wk, l->bk, xn, KV, D);
    matvec(v, l->wv, l->bv, xn, KV, D);
    for (int h = 0; l->q_norm && h < r->heads; h++)
        rms(q + h * r->hd, q + h * r->hd, l->q_norm, r->hd, r->eps);
    for (int h = 0; l->k_norm && h < r->kv_heads; h++)
        rms(k + h * r->hd, k + h * r->hd, l->k_norm, r->hd, r->eps);
    rope(r, q, r->heads, pos, l->swa);
    rope(r, k, r->kv_heads, pos, l->swa);
    for (int h = 0; h < r->heads; h++)
        attend(r, l, q + h * r->hd, kc, vc, pos, h, att + h * r->hd);
    matvec(o, l->wo, NULL, att, D, Q);
    if (l->post_attn)
        rms(o, o, l->post_attn, D, r->eps);
    for (int i = 0; i < D; i++)
        x[i] += o[i];
}

static void ref_ffn(const rmodel *r, const rlayer *l, double *x)
{
    int D = r->dim, F = r->ff;
    double xn[A_DIM], a[A_FF], b[A_FF], o[A_DIM];
    rms(xn, x, l->ffn_norm, D, r->eps);
    matvec(a, l->gate, NULL, xn, F, D);
    matvec(b, l->up, NULL, xn, F, D);
    for (int i = 0; i < F; i++)
        a[i] = act(r, a[i]) * b[i];
    matvec(o, l->down, NULL, a, D, F);
    if (l->post_ffw)
        rms(o, o, l->post_ffw, D, r->eps);
    for (int i = 0; i < D; i++)
        x[i] += o[i];
}

/* logits[n][vocab] of tokens[0..n) at positions 0..n-1. */
static void ref_forward(const rmodel *r, const int32_t *tokens, int n, double *logits)
{
    size_t KV = (size_t)r->kv_heads * r->hd;
    double *kc = calloc((size_t)r->layers * n * KV, sizeof *kc);
    double *vc = calloc((size_t)r->layers * n * KV, sizeof *vc);
    double x[A_DIM], xn[A_DIM];
    for (int pos = 0; pos < n; pos++) {
        for (int i = 0; i < r->dim; i++)
            x[i] = r->embd[(size_t)tokens[pos] * r->dim + i] * (r->gemma ? sqrt((double)r->dim) : 1);
        for (int li = 0; li < r->layers; li++) {
            ref_attention(r, &r->l[li], x, kc + (size_t)li * n * KV, vc + (size_t)li * n * KV, pos);
            ref_ffn(r, &r->l[li], x);
        }
        rms(xn, x, r->out_norm, r->dim, r->eps);
        double *lg = logits + (size_t)pos * r->vocab;
        matvec(lg, r->out, NULL, xn, r->vocab, r->dim);
        for (int v = 0; r->final_cap > 0 && v < r->vocab; v++)
            lg[v] = r->final_cap * tanh(lg[v] / r->final_cap);
    }
    free(kc);
    free(vc);
}

/* ============================== helpers ============================== */

static const int32_t prompt[12] = {1, 5, 9, 3, 30, 39, 7, 7, 12, 4, 20, 2};

static cove_context *make_ctx(const cove_model *m, int n_seq, enum cove_kv_type kv, int ubatch,
                              int threads)
{
    cove_context_params p = cove_context_default_params();
    cove_context *c = NULL;
    cove_error err = {0};
    p.n_ctx = A_CTX;
    p.n_outputs_max = 24;
    p.n_seq_max = n_seq;
    p.kv_type = kv;
    p.n_ubatch = ubatch;
    p.n_threads = threads;
    if (cove_context_create(m, p, &c, &err) != COVE_OK)
        fprintf(stderr, "  context: %s\n", cove_error_msg(&err));
    return c;
}

static cove_model *load(const char *path)
{
    cove_model *m = NULL;
    cove_error err = {0};
    if (path && cove_model_load(path, cove_model_default_params(), &m, &err) != COVE_OK)
        fprintf(stderr, "  load %s: %s\n", path, cove_error_msg(&err));
    return m;
}

/* The engine's logits for every prompt token (malloc'd n * A_VOCAB), NULL on failure. */
static float *engine_logits(const char *path, enum cove_kv_type kv, int ubatch, int threads)
{
    cove_model *m = load(path);
    cove_context *c = m ? make_ctx(m, 1, kv, ubatch, threads) : NULL;
    int8_t want[12];
    float *out = NULL;
    memset(want, 1, sizeof want);
    cove_batch b = {prompt, NULL, NULL, 12, want};
    if (c && cove_decode(c, &b, NULL) == COVE_OK) {
        out = malloc(12 * A_VOCAB * sizeof *out);
        for (int i = 0; i < 12; i++)
            memcpy(out + i * A_VOCAB, cove_context_logits(c, i), A_VOCAB * sizeof *out);
    }
    cove_context_free(c);
    cove_model_free(m);
    return out;
}

/* Largest |a - b| of a row over its largest |b|, worst row. */
static double worst_rel(const float *a, const double *b, int rows)
{
    double worst = 0;
    for (int t = 0; t < rows; t++) {
        double mb = 0, md = 0;
        for (int v = 0; v < A_VOCAB; v++) {
            mb = fmax(mb, fabs(b[t * A_VOCAB + v]));
            md = fmax(md, fabs((double)a[t * A_VOCAB + v] - b[t * A_VOCAB + v]));
        }
        worst = fmax(worst, md / (mb > 0 ? mb : 1));
    }
    return worst;
}

/* Engine against reference for spec s in F32, F16 and Q8_0; returns 1 when all pass. */
static int check_arch(const arch_spec *s, const char *tag)
{
    static const struct { enum cove_ggml_type t; const char *name; double tol; } types[] = {
        {COVE_TYPE_F32, "f32", 1e-4}, {COVE_TYPE_F16, "f16", 1e-4}, {COVE_TYPE_Q8_0, "q8_0", 5e-2}};
    int ok = 1;
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%s", tag, types[i].name);
        const char *path = write_model(s, types[i].t, name);
        rmodel r;
        double want[12 * A_VOCAB];
        if (!path || !ref_load(path, &r))
            return 0;
        ref_forward(&r, prompt, 12, want);
        ref_free(&r);
        float *got = engine_logits(path, COVE_KV_F32, 5, 2);
        double e = got ? worst_rel(got, want, 12) : INFINITY;
        free(got);
        fprintf(stderr, "  %-14s %-5s max relative error %.3g (bound %g)\n", tag, types[i].name, e,
                types[i].tol);
        ok &= e <= types[i].tol;
    }
    return ok;
}

/* ================================ tests ================================ */

TEST(arch_llama_matches_reference)
{
    arch_spec s = {.arch = "llama", .layers = 2, .heads = 4, .kv_heads = 2};
    CHECK(check_arch(&s, "llama"));
}

TEST(arch_qwen2_matches_reference)
{
    arch_spec s = {.arch = "qwen2", .layers = 2, .heads = 4, .kv_heads = 2, .bias = 1};
    CHECK(check_arch(&s, "qwen2"));
}

TEST(arch_qwen3_matches_reference)
{
    /* head size 32 with 4 heads: q is 128 wide over an embedding of 64 */
    arch_spec s = {.arch = "qwen3", .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 32,
                   .qk_norm = 1};
    CHECK(check_arch(&s, "qwen3"));
}

/* Six layers: five sliding (window 4 over the 12-token prompt) and a global sixth. */
TEST(arch_gemma3_matches_reference)
{
    arch_spec s = {.arch = "gemma3", .layers = 6, .heads = 4, .kv_heads = 1, .head_dim = 32,
                   .qk_norm = 1, .post_norms = 1, .swa_window = 4};
    CHECK(check_arch(&s, "gemma3"));
    /* the window matters: without it the reference gives other logits */
    rmodel r;
    double a[12 * A_VOCAB], b[12 * A_VOCAB];
    CHECK(ref_load(write_model(&s, COVE_TYPE_F32, "gemma3_window"), &r));
    ref_forward(&r, prompt, 12, a);
    r.window = 0;
    for (int i = 0; i < r.layers; i++)
        r.l[i].swa = 0;
    ref_forward(&r, prompt, 12, b);
    ref_free(&r);
    double d = 0;
    for (int i = 11 * A_VOCAB; i < 12 * A_VOCAB; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    CHECK_MSG(d > 1e-3, "the sliding window changes nothing (%g)", d);
}

/* Soft-capping of scores and logits (Gemma 2 style keys), and the pattern key. */
TEST(arch_gemma3_softcap_and_pattern)
{
    arch_spec s = {.arch = "gemma3", .layers = 3, .heads = 2, .kv_heads = 2, .head_dim = 16,
                   .qk_norm = 1, .post_norms = 1, .swa_window = 3, .swa_pattern = 2,
                   .attn_softcap = 1.5f, .final_softcap = 2.0f};
    CHECK(check_arch(&s, "gemma3_cap"));
}

TEST(arch_rope_scaling_matches_reference)
{
    arch_spec lin = {.arch = "llama", .layers = 1, .heads = 4, .kv_heads = 4,
                     .rope_scaling = "linear", .rope_factor = 4.0f};
    arch_spec yarn = {.arch = "qwen2", .layers = 1, .heads = 2, .kv_heads = 1, .bias = 1,
                      .rope_scaling = "yarn", .rope_factor = 4.0f};
    arch_spec freqs = {.arch = "llama", .layers = 1, .heads = 2, .kv_heads = 2, .rope_freqs = 1,
                       .rot = 16};
    CHECK(check_arch(&lin, "rope_linear"));
    CHECK(check_arch(&yarn, "rope_yarn"));
    CHECK(check_arch(&freqs, "rope_freqs"));
}

/* The real gemma3 model: greedy text from a prompt is about Paris ($COVE_MODELS). */
TEST(arch_gemma3_real_model_greedy)
{
    const char *dir = getenv("COVE_MODELS"), *home = getenv("HOME");
    char path[1024], text[512] = "";
    snprintf(path, sizeof path, "%s/gemma-3-270m-q4_k_m.gguf",
             dir && *dir ? dir : "");
    if (!(dir && *dir))
        snprintf(path, sizeof path, "%s/.cache/cove/models/gemma-3-270m-q4_k_m.gguf", home ? home : "");
    cove_model *m = load(path);
    CHECK_MSG(m, "missing %s", path);
    cove_context_params cp = cove_context_default_params();
    cove_context *c = NULL;
    cp.n_ctx = 128;
    int32_t ids[64], n = 0;
    static const char p[] = "The capital of Germany is Berlin. The capital of France is";
    int ok = cove_context_create(m, cp, &c, NULL) == COVE_OK &&
             cove_tokenize(m, p, strlen(p), 1, 0, ids, 64, &n, NULL) == COVE_OK;
    cove_batch b = {ids, NULL, NULL, n, NULL};
    for (int i = 0; ok && i < 8; i++) {
        ok = cove_decode(c, &b, NULL) == COVE_OK;
        const float *lg = cove_context_logits(c, -1);
        int32_t best = 0;
        for (int32_t v = 1; v < cove_model_n_vocab(m); v++)
            best = lg[v] > lg[best] ? v : best;
        char piece[64];
        size_t len = 0;
        if (cove_token_to_piece(m, best, piece, sizeof piece, &len) == COVE_OK)
            strncat(text, piece, len < sizeof text - strlen(text) - 1 ? len : 0);
        ids[0] = best;
        b = (cove_batch){ids, NULL, NULL, 1, NULL};
    }
    cove_context_free(c);
    cove_model_free(m);
    fprintf(stderr, "  gemma3-270m: \"%s\"\n", text);
    CHECK(ok);
    CHECK_MSG(strstr(text, "Paris") != NULL, "greedy continuation: %s", text);
}

/* ============================ sequences, caches ============================ */

/* Decode `n` tokens of one sequence into a fresh context; logits of each into out. */
static int decode_alone(const cove_model *m, const int32_t *toks, int n, float *out)
{
    cove_context *c = make_ctx(m, 1, COVE_KV_F32, 512, 2);
    int8_t want[16];
    memset(want, 1, sizeof want);
    cove_batch b = {toks, NULL, NULL, n, want};
    int ok = c && cove_decode(c, &b, NULL) == COVE_OK;
    for (int i = 0; ok && i < n; i++)
        memcpy(out + i * A_VOCAB, cove_context_logits(c, i), A_VOCAB * sizeof *out);
    cove_context_free(c);
    return ok;
}

static double max_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/*
 * Two sequences interleaved in one batch (A0 B0 A1 B1 ...) give each the logits it gets
 * alone; so does continuing both in one batch of two; truncating and clearing one leaves
 * the other as it was.
 */
TEST(arch_sequences_interleaved_equal_alone)
{
    arch_spec s = {.arch = "gemma3", .layers = 6, .heads = 4, .kv_heads = 1, .head_dim = 32,
                   .qk_norm = 1, .post_norms = 1, .swa_window = 4};
    cove_model *m = load(write_model(&s, COVE_TYPE_F32, "seq"));
    CHECK(m);
    static const int32_t A[9] = {1, 5, 9, 3, 30, 39, 7, 7, 12}, B[7] = {1, 44, 2, 17, 17, 8, 40};
    float la[9 * A_VOCAB], lb[7 * A_VOCAB], got[14 * A_VOCAB];
    int32_t toks[14], seq[14];
    int8_t want[14];
    CHECK(decode_alone(m, A, 9, la) && decode_alone(m, B, 7, lb));
    for (int i = 0, a = 0, b = 0; i < 14; i++) { /* A0 B0 A1 B1 ... A6 B6, then A7 (8 kept back) */
        int from_a = (i % 2 == 0 || b == 7) && a < 8;
        toks[i] = from_a ? A[a++] : B[b++];
        seq[i] = from_a ? 0 : 2;
        want[i] = 1;
    }
    cove_context *c = make_ctx(m, 3, COVE_KV_F32, 5, 2);
    CHECK(c);
    cove_batch all = {toks, NULL, seq, 14, want};
    CHECK_OK(cove_decode(c, &all, NULL));
    for (int i = 0, a = 0, b = 0; i < 14; i++) {
        const float *want_row = seq[i] == 0 ? la + (a++) * A_VOCAB : lb + (b++) * A_VOCAB;
        memcpy(got, cove_context_logits(c, i), A_VOCAB * sizeof *got);
        CHECK_MSG(max_diff(got, want_row, A_VOCAB) <= 1e-5, "batch index %d differs", i);
    }
    CHECK_EQ_INT(cove_context_n_past(c, 0), 7);
    CHECK_EQ_INT(cove_context_n_past(c, 1), 0);
    CHECK_EQ_INT(cove_context_n_past(c, 2), 7);
    /* A's last token alone in a batch with B's truncated tail: B goes back to position 4 */
    CHECK_OK(cove_context_seq_truncate(c, 2, 4));
    int32_t t2[4] = {A[7], B[4], B[5], B[6]}, s2[4] = {0, 2, 2, 2}, p2[4] = {7, 4, 5, 6};
    int8_t w2[4] = {1, 0, 0, 1};
    cove_batch more = {t2, p2, s2, 4, w2};
    CHECK_OK(cove_decode(c, &more, NULL));
    CHECK(max_diff(cove_context_logits(c, 0), la + 7 * A_VOCAB, A_VOCAB) <= 1e-5);
    CHECK(max_diff(cove_context_logits(c, 3), lb + 6 * A_VOCAB, A_VOCAB) <= 1e-5);
    /* clearing A does not touch B; A starts again from position 0 */
    CHECK_OK(cove_context_seq_clear(c, 0));
    int32_t t3[2] = {A[0], A[1]}, s3[2] = {0, 0};
    cove_batch again = {t3, NULL, s3, 2, NULL};
    CHECK_OK(cove_decode(c, &again, NULL));
    CHECK(max_diff(cove_context_logits(c, 1), la + A_VOCAB, A_VOCAB) <= 1e-5);
    CHECK_EQ_INT(cove_context_n_past(c, 2), 7);
    cove_context_free(c);
    cove_model_free(m);
}

TEST(arch_sequences_checked)
{
    arch_spec s = {.arch = "llama", .layers = 1, .heads = 4, .kv_heads = 2};
    cove_model *m = load(write_model(&s, COVE_TYPE_F32, "seqcheck"));
    CHECK(m);
    cove_context *c = make_ctx(m, 2, COVE_KV_F16, 8, 1);
    CHECK(c);
    cove_error err = {0};
    int32_t toks[70], seq[70], pos[2] = {0, 1};
    for (int i = 0; i < 70; i++) {
        toks[i] = 3 + i % 40;
        seq[i] = i % 2;
    }
    int32_t bad_seq[2] = {0, 2};
    cove_batch b1 = {toks, NULL, bad_seq, 2, NULL}, b2 = {toks, pos, seq, 2, NULL};
    CHECK_EQ_INT(cove_decode(c, &b1, &err), COVE_ERR_INVALID_ARG); /* sequence 2 of 2 */
    CHECK(strstr(err.msg, "sequence 2") != NULL);
    CHECK_EQ_INT(cove_decode(c, &b2, &err), COVE_ERR_INVALID_ARG); /* seq 1 starts at 0 */
    /* 64 positions per sequence: 32 + 32 fit, 32 + 33 do not; nothing is decoded then */
    cove_batch fit = {toks, NULL, seq, 64, NULL}, over = {toks, NULL, seq, 66, NULL};
    CHECK_OK(cove_decode(c, &fit, &err));
    CHECK_EQ_INT(cove_decode(c, &over, &err), COVE_ERR_LIMIT);
    CHECK_MSG(strstr(err.msg, "too long") != NULL, "%s", err.msg);
    CHECK_EQ_INT(cove_context_n_past(c, 0), 32);
    CHECK_OK(cove_decode(c, &fit, &err));
    CHECK_EQ_INT(cove_context_n_past(c, 1), 64);
    cove_batch one = {toks, NULL, NULL, 1, NULL};
    CHECK_EQ_INT(cove_decode(c, &one, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(cove_context_seq_truncate(c, 5, 0), COVE_ERR_INVALID_ARG);
    CHECK_OK(cove_context_seq_clear(c, 0));
    CHECK_OK(cove_decode(c, &one, &err));
    CHECK_EQ_INT(cove_context_n_seq_max(c), 2);
    cove_context_free(c);
    cove_model_free(m);
}

/*
 * A Q8_0 KV cache against F16 (written qwen3, head size 32): the logits stay within 2e-2
 * of the largest (measured 9e-3), and F16 within 5e-3 of F32 (measured 3e-4).
 * A head size that is not a multiple of 32 is refused.
 */
TEST(arch_kv_q8_0_close_to_f16)
{
    arch_spec s = {.arch = "qwen3", .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 32,
                   .qk_norm = 1};
    const char *path = write_model(&s, COVE_TYPE_F32, "kvq8");
    float *f32 = engine_logits(path, COVE_KV_F32, 5, 2), *f16 = engine_logits(path, COVE_KV_F16, 5, 2);
    float *q8 = engine_logits(path, COVE_KV_Q8_0, 5, 2);
    CHECK(f32 && f16 && q8);
    double want[12 * A_VOCAB];
    for (int i = 0; i < 12 * A_VOCAB; i++)
        want[i] = f16[i];
    for (int i = 0; i < 12 * A_VOCAB; i++)
        want[i] = f32[i];
    double e16 = worst_rel(f16, want, 12), eq8;
    for (int i = 0; i < 12 * A_VOCAB; i++)
        want[i] = f16[i];
    eq8 = worst_rel(q8, want, 12);
    free(f32);
    free(f16);
    free(q8);
    fprintf(stderr, "  f16 cache vs f32: %.3g; q8_0 cache vs f16: %.3g\n", e16, eq8);
    CHECK(e16 <= 5e-3);
    CHECK(eq8 <= 2e-2);
    arch_spec odd = {.arch = "llama", .layers = 1, .heads = 4, .kv_heads = 2}; /* head 16 */
    cove_model *m = load(write_model(&odd, COVE_TYPE_F32, "kvodd"));
    cove_context_params p = cove_context_default_params();
    cove_context *c = NULL;
    p.kv_type = COVE_KV_Q8_0;
    CHECK_EQ_INT(cove_context_create(m, p, &c, NULL), COVE_ERR_UNSUPPORTED);
    cove_model_free(m);
}

/* ============================== cove gen-model ============================== */

/* Run `cove gen-model ARGS -o DIR/FILE`; returns the path (static) or NULL. */
static const char *gen_model(const char *args, const char *file)
{
    static char path[1024];
    char cmd[4096];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), file);
    snprintf(cmd, sizeof cmd, "'%s/app/cove' gen-model -q %s -o '%s' 2>&1", COVE_BINARY_DIR, args,
             path);
    return system(cmd) == 0 ? path : NULL;
}

/*
 * gen-model writes models of the real shapes that load and run: smollm2-135m in Q4_K_M
 * (q4_k/q6_k where rows are whole 256-blocks, the recipe's fall-backs elsewhere) with the
 * SmolLM2 vocabulary of the test models, and bge-small in Q8_0 with a synthetic WordPiece
 * vocabulary. The same seed gives the same file whatever the thread count.
 */
TEST(arch_gen_model_runs)
{
    char args[2048];
    snprintf(args, sizeof args, "--like smollm2-135m --type q4_k_m --vocab '%s'",
             test_model_path("vocab/ggml-vocab-smollm2.gguf"));
    cove_model *m = load(gen_model(args, "smol.gguf"));
    CHECK(m);
    CHECK_EQ_INT(cove_model_n_layer(m), 30);
    CHECK_EQ_INT(cove_model_n_embd(m), 576);
    CHECK_EQ_INT(cove_model_n_head_kv(m), 3);
    CHECK_EQ_INT(cove_model_n_vocab(m), 49152);
    int32_t ids[16], n = 0;
    cove_context *c = make_ctx(m, 1, COVE_KV_F16, 64, 2);
    int ok = c && cove_tokenize(m, "Hello world", 11, 1, 0, ids, 16, &n, NULL) == COVE_OK && n > 0;
    cove_batch b = {ids, NULL, NULL, n, NULL};
    ok = ok && cove_decode(c, &b, NULL) == COVE_OK;
    const float *lg = ok ? cove_context_logits(c, -1) : NULL;
    for (int v = 0; lg && v < 49152; v++)
        ok &= isfinite(lg[v]);
    cove_context_free(c);
    cove_model_free(m);
    CHECK(ok);
    cove_model *e = load(gen_model("--like bge-small --type q8_0 -t 1", "bge1.gguf"));
    CHECK(e);
    cove_embedder *em = NULL;
    float v[384];
    const char *texts[1] = {"a small test"};
    CHECK_OK(cove_embedder_create(e, cove_embed_default_params(), &em, NULL));
    CHECK_OK(cove_embed(em, texts, 1, v, NULL));
    cove_embedder_free(em);
    cove_model_free(e);
    double norm = 0;
    for (int i = 0; i < 384; i++)
        norm += (double)v[i] * v[i];
    CHECK(fabs(norm - 1) < 1e-4);
    const char *two = gen_model("--like bge-small --type q8_0 -t 2", "bge2.gguf");
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cmp -s '%s/bge1.gguf' '%s'", test_tmpdir(), two ? two : "/");
    CHECK_MSG(system(cmd) == 0, "gen-model output depends on the thread count");
}
