/*
 * engine/model/bert.c - the BERT encoder ("bert" GGUFs: all-MiniLM, bge, e5 ...), for
 * embeddings.
 *
 * A text of n tokens t_0 .. t_{n-1} ([CLS] ... [SEP]) starts as
 *     x_i = LN_embd(token_embd[t_i] + position_embd[i] + token_types[0])
 * and every block is post-norm:
 *     a = Wo . attention(Wq x + bq, Wk x + bk, Wv x + bv) + bo    bidirectional, in the text
 *     x = LN_attn(x + a)                                          attn_output_norm
 *     f = Wdown . gelu(Wup x + bup) + bdown                       gelu(v) = v/2 (1 + erf(v/sqrt 2))
 *     x = LN_out(x + f)                                           layer_output_norm
 * with LN(v) = (v - mean(v)) / sqrt(var(v) + eps) * w + b, eps = bert.attention.layer_norm_epsilon.
 * The last x of every token goes back to embed.c, which pools and normalises.
 *
 * A pass holds several texts back to back: a token attends only to the tokens of its own
 * text, and positions restart at 0 for each text. The pass is split over the pool's
 * threads: matrix products quantize their input by ranges of tokens and then split their
 * output rows (as decoder.c does), norms and embeddings go by ranges of tokens, attention
 * by (token, head). Each thread has its own score buffer.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/model/embed_int.h"
#include "engine/model/ops.h"

#define NAME_MAX_LEN 64
#define KEY_MAX_LEN 96

/* The weights of one block: matrices borrow the mapping, vectors are f32 copies. */
typedef struct bert_layer {
    cove_matrix wq, wk, wv, wo;   /* n_embd rows x n_embd */
    cove_matrix up;               /* n_ff rows x n_embd */
    cove_matrix down;             /* n_embd rows x n_ff */
    const float *bq, *bk, *bv, *bo, *bdown; /* [n_embd] */
    const float *bup;                       /* [n_ff] */
    const float *attn_norm_w, *attn_norm_b; /* attn_output_norm, [n_embd] */
    const float *out_norm_w, *out_norm_b;   /* layer_output_norm, [n_embd] */
} bert_layer;

/* What bert keeps beside the common model fields (m->tok_embd); in the model's arena. */
typedef struct bert_weights {
    float eps;                 /* bert.attention.layer_norm_epsilon */
    cove_matrix pos;           /* position_embd: n_ctx_train rows x n_embd */
    cove_matrix types;         /* token_types: n_types rows x n_embd; n_rows 0 when absent */
    const float *embd_norm_w, *embd_norm_b; /* token_embd_norm, [n_embd] */
    bert_layer *layers;        /* [n_layer] */
    int32_t n_layer;
    cove_enc_info info;        /* pooling, normalisation, lengths the file gives */
} bert_weights;

/* ================================ loading ================================ */

/* Unsigned `key` in [lo, max] into *out; `def` when absent and not required. */
static cove_status key_int(const cove_model *m, const char *key, int required, int32_t def,
                           int32_t lo, uint64_t max, int32_t *out, cove_error *err)
{
    uint64_t v;
    cove_status st = cove_gguf_get_u64(m->g, key, &v);
    if (st == COVE_ERR_NOT_FOUND && !required) {
        *out = def;
        return COVE_OK;
    }
    if (st == COVE_ERR_NOT_FOUND)
        return cove_error_set(err, COVE_ERR_FORMAT, "the model has no %s", key);
    if (st != COVE_OK || v < (uint64_t)lo)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is not an integer >= %d", key, (int)lo);
    if (v > max)
        return cove_error_set(err, COVE_ERR_LIMIT, "%s = %llu exceeds the limit of %llu", key,
                              (unsigned long long)v, (unsigned long long)max);
    *out = (int32_t)v;
    return COVE_OK;
}

static cove_status read_sizes(cove_model *m, cove_error *err)
{
    cove_hparams *hp = &m->hp;
    cove_status st;
    if ((st = key_int(m, "bert.block_count", 1, 0, 1, COVE_MAX_LAYERS, &hp->n_layer, err)) ||
        (st = key_int(m, "bert.embedding_length", 1, 0, 1, COVE_MAX_EMBD, &hp->n_embd, err)) ||
        (st = key_int(m, "bert.feed_forward_length", 1, 0, 1, COVE_MAX_FF, &hp->n_ff, err)) ||
        (st = key_int(m, "bert.attention.head_count", 1, 0, 1, COVE_MAX_HEADS, &hp->n_head, err)) ||
        (st = key_int(m, "bert.context_length", 1, 0, 1, COVE_MAX_CTX, &hp->n_ctx_train, err)))
        return st;
    if (hp->n_embd % hp->n_head != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "bert.embedding_length %d is not a multiple "
                              "of bert.attention.head_count %d", hp->n_embd, hp->n_head);
    hp->n_head_kv = hp->n_head;
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_rot = 0;
    hp->n_vocab = cove_vocab_n_tokens(m->vocab);
    return COVE_OK;
}

static cove_status read_eps(const cove_model *m, float *eps, cove_error *err)
{
    static const char key[] = "bert.attention.layer_norm_epsilon";
    double v;
    cove_status st = cove_gguf_get_f64(m->g, key, &v);
    if (st == COVE_ERR_NOT_FOUND)
        return cove_error_set(err, COVE_ERR_FORMAT, "the model has no %s", key);
    if (st != COVE_OK || !isfinite(v) || v <= 0.0 || v > 1.0)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is not a number in (0, 1]", key);
    *eps = (float)v;
    return COVE_OK;
}

/* Flag `key` into *out; `def` when absent. */
static cove_status key_bool(const cove_model *m, const char *key, int def, int *out,
                            cove_error *err)
{
    cove_status st = cove_gguf_get_bool(m->g, key, out);
    if (st == COVE_ERR_NOT_FOUND) {
        *out = def;
        return COVE_OK;
    }
    return st == COVE_OK ? COVE_OK : cove_error_set(err, COVE_ERR_FORMAT, "%s is not a bool", key);
}

/* bert.attention.causal, bert.pooling_type and cove's embedding keys. */
static cove_status read_embedding_keys(const cove_model *m, bert_weights *w, cove_error *err)
{
    cove_enc_info *in = &w->info;
    int causal;
    int32_t pooling;
    cove_status st;
    if ((st = key_bool(m, "bert.attention.causal", 0, &causal, err)) ||
        (st = key_int(m, "bert.pooling_type", 0, 0, 0, 3, &pooling, err)) ||
        (st = key_bool(m, "cove.embedding.normalize", 1, &in->normalize, err)) ||
        (st = key_int(m, "cove.embedding.max_seq_length", 0, m->hp.n_ctx_train, 1,
                      (uint64_t)m->hp.n_ctx_train, &in->max_tokens, err)))
        return st;
    if (causal)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "bert.attention.causal is true: cove's "
                              "bert is bidirectional only");
    in->pooling = (enum cove_embed_pooling)pooling;
    in->n_ctx = m->hp.n_ctx_train;
    return COVE_OK;
}

/* One weight of a block: its name, where it goes, its shape in units of n_embd / n_ff. */
typedef struct bert_part {
    const char *name;
    size_t off;     /* offsetof(bert_layer, ...) */
    char rows, cols; /* 'E' n_embd, 'F' n_ff; rows 0: a vector of `cols` */
} bert_part;

static const bert_part layer_parts[] = {
    {"attn_q.weight", offsetof(bert_layer, wq), 'E', 'E'},
    {"attn_q.bias", offsetof(bert_layer, bq), 0, 'E'},
    {"attn_k.weight", offsetof(bert_layer, wk), 'E', 'E'},
    {"attn_k.bias", offsetof(bert_layer, bk), 0, 'E'},
    {"attn_v.weight", offsetof(bert_layer, wv), 'E', 'E'},
    {"attn_v.bias", offsetof(bert_layer, bv), 0, 'E'},
    {"attn_output.weight", offsetof(bert_layer, wo), 'E', 'E'},
    {"attn_output.bias", offsetof(bert_layer, bo), 0, 'E'},
    {"attn_output_norm.weight", offsetof(bert_layer, attn_norm_w), 0, 'E'},
    {"attn_output_norm.bias", offsetof(bert_layer, attn_norm_b), 0, 'E'},
    {"ffn_up.weight", offsetof(bert_layer, up), 'F', 'E'},
    {"ffn_up.bias", offsetof(bert_layer, bup), 0, 'F'},
    {"ffn_down.weight", offsetof(bert_layer, down), 'E', 'F'},
    {"ffn_down.bias", offsetof(bert_layer, bdown), 0, 'E'},
    {"layer_output_norm.weight", offsetof(bert_layer, out_norm_w), 0, 'E'},
    {"layer_output_norm.bias", offsetof(bert_layer, out_norm_b), 0, 'E'},
};

static cove_status load_layer(cove_model *m, bert_layer *l, int32_t il, cove_error *err)
{
    const int64_t E = m->hp.n_embd, F = m->hp.n_ff;
    for (size_t i = 0; i < sizeof layer_parts / sizeof layer_parts[0]; i++) {
        const bert_part *p = &layer_parts[i];
        char name[NAME_MAX_LEN];
        int64_t cols = p->cols == 'E' ? E : F, rows = p->rows == 'E' ? E : F;
        void *dst = (char *)l + p->off;
        cove_status st;
        snprintf(name, sizeof name, "blk.%d.%s", (int)il, p->name);
        if (p->rows)
            st = cove_model_matrix(m, name, rows, cols, (cove_matrix *)dst, err);
        else
            st = cove_model_vector(m, name, cols, (const float **)dst, err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

/* token_embd, position_embd, token_types (optional, any number of types), token_embd_norm. */
static cove_status load_embeddings(cove_model *m, bert_weights *w, cove_error *err)
{
    const cove_hparams *hp = &m->hp;
    const cove_gguf_tensor *types = cove_gguf_tensor_find(m->g, "token_types.weight");
    cove_status st;
    if ((st = cove_model_matrix(m, "token_embd.weight", hp->n_vocab, hp->n_embd, &m->tok_embd,
                                err)) ||
        (st = cove_model_matrix(m, "position_embd.weight", hp->n_ctx_train, hp->n_embd, &w->pos,
                                err)) ||
        (st = cove_model_vector(m, "token_embd_norm.weight", hp->n_embd, &w->embd_norm_w, err)) ||
        (st = cove_model_vector(m, "token_embd_norm.bias", hp->n_embd, &w->embd_norm_b, err)))
        return st;
    if (!types)
        return COVE_OK;
    if (types->ne[1] < 1 || types->ne[1] > 1024)
        return cove_error_set(err, COVE_ERR_FORMAT, "token_types.weight has %llu token types",
                              (unsigned long long)types->ne[1]);
    return cove_model_matrix(m, "token_types.weight", (int64_t)types->ne[1], hp->n_embd,
                             &w->types, err);
}

static cove_status bert_load(cove_model *m, cove_error *err)
{
    bert_weights *w;
    cove_status st;
    if (cove_arena_calloc(m->arena, 1, sizeof *w, (void **)&w) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the model");
    if ((st = read_sizes(m, err)) || (st = read_eps(m, &w->eps, err)) ||
        (st = read_embedding_keys(m, w, err)) || (st = load_embeddings(m, w, err)))
        return st;
    if (cove_arena_calloc(m->arena, (size_t)m->hp.n_layer, sizeof *w->layers,
                          (void **)&w->layers) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the model");
    for (int32_t il = 0; il < m->hp.n_layer; il++)
        if ((st = load_layer(m, &w->layers[il], il, err)) != COVE_OK)
            return st;
    w->n_layer = m->hp.n_layer;
    m->arch_data = w;
    return COVE_OK;
}

const cove_arch cove_arch_bert = {
    .name = "bert",
    .load = bert_load,
    .forward = NULL, /* an encoder: no cove_context, see cove_encoder_bert */
};

/* ================================ a pass ================================ */

/* Buffers of a pass, for n_batch tokens; per-thread buffers for every thread of the pool. */
typedef struct bert_state {
    const cove_model *m;
    const bert_weights *w;
    cove_pool *pool;
    int32_t n_batch, n_seq_max;
    float *x;        /* n_batch * n_embd: the hidden states */
    float *q, *k, *v; /* n_batch * n_embd each */
    float *att;      /* n_batch * n_embd: attention output */
    float *tmp;      /* n_batch * n_embd: projection output before the residual */
    float *ff;       /* n_batch * n_ff */
    float *type0;    /* n_embd: token type 0's row in f32 (zeros without token_types) */
    int32_t *lo, *hi; /* n_batch: the tokens [lo, hi) of each token's sequence */
    uint8_t *act;    /* act_bytes: the quantized activations of a product */
    float *scores;   /* threads * n_seq_max: one head's attention weights */
    size_t act_bytes;
    const cove_enc_batch *b; /* the pass under way */
} bert_state;

/* y = W x + bias (then gelu) for a range of tokens; the parallel_for job of matmuls. */
typedef struct mm_job {
    bert_state *s;
    const cove_matrix *w;
    const float *bias;
    const float *in;
    float *out;
    const void *xq; /* the activations as the kernel reads them (after the first run) */
    int gelu;
} mm_job;

/* Split [0, n) over the pool; runs inline should the pool refuse (it is never nested). */
static void run_range(bert_state *s, size_t n, cove_pool_range_fn fn, void *ctx)
{
    if (cove_pool_parallel_for(s->pool, n, fn, ctx) != COVE_OK)
        fn(ctx, 0, n, 0);
}

static void layer_norm(float *x, const float *w, const float *b, int64_t n, float eps)
{
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        var += ((double)x[i] - mean) * ((double)x[i] - mean);
    const double inv = 1.0 / sqrt(var / (double)n + (double)eps);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(((double)x[i] - mean) * inv) * w[i] + b[i];
}

#define ROW_UNIT 16 /* rows of a thread's share: whole register tiles of the kernels */

/* Quantize the activations of tokens [begin, end) into the shared scratch. */
static void mm_quant_range(void *ctx, size_t begin, size_t end, int ith)
{
    mm_job *j = ctx;
    cove_matmul_quantize(j->w, j->in, (int64_t)begin, (int64_t)end, j->s->act);
    (void)ith;
}

/* Output rows [begin, end) * ROW_UNIT of every token, with bias (and gelu). */
static void mm_rows_range(void *ctx, size_t begin, size_t end, int ith)
{
    const mm_job *j = ctx;
    const int64_t rows = j->w->n_rows, n = j->s->b->n_tok;
    const int64_t r0 = (int64_t)begin * ROW_UNIT;
    const int64_t r1 = (int64_t)end * ROW_UNIT < rows ? (int64_t)end * ROW_UNIT : rows;
    cove_matmul_rows(j->w, j->xq, n, j->out, (size_t)rows, r0, r1);
    for (int64_t t = 0; t < n; t++) {
        float *y = j->out + t * rows;
        for (int64_t r = r0; r < r1; r++)
            y[r] += j->bias[r];
        if (j->gelu)
            for (int64_t r = r0; r < r1; r++)
                y[r] = 0.5f * y[r] * (1.0f + erff(y[r] * 0.70710678118654752f));
    }
    (void)ith;
}

/* out = W in + bias (then gelu): activations split by tokens, then rows over the threads,
 * as the decoders do it (decoder.c). */
static void matmul(bert_state *s, const cove_matrix *w, const float *bias, const float *in,
                   float *out, int gelu)
{
    mm_job j = {s, w, bias, in, out, NULL, gelu};
    j.xq = cove_matmul_quantize(w, in, 0, 0, s->act); /* the pointer; nothing written */
    run_range(s, (size_t)s->b->n_tok, mm_quant_range, &j);
    run_range(s, (size_t)((w->n_rows + ROW_UNIT - 1) / ROW_UNIT), mm_rows_range, &j);
}

/* x_t = LN_embd(token_embd[tok] + position_embd[t - lo] + token_types[0]) */
static void embed_range(void *ctx, size_t begin, size_t end, int ith)
{
    const bert_state *s = ctx;
    const cove_model *m = s->m;
    const bert_weights *w = s->w;
    const int64_t E = m->hp.n_embd;
    for (size_t t = begin; t < end; t++) {
        float *x = s->x + t * E, *p = s->tmp + t * E;
        const uint8_t *tok = (const uint8_t *)m->tok_embd.data +
                             (size_t)s->b->tokens[t] * m->tok_embd.row_bytes;
        const uint8_t *pos = (const uint8_t *)w->pos.data +
                             (size_t)((int32_t)t - s->lo[t]) * w->pos.row_bytes;
        m->tok_embd.k->to_f32(tok, x, E);
        w->pos.k->to_f32(pos, p, E);
        for (int64_t i = 0; i < E; i++)
            x[i] += p[i] + s->type0[i];
        layer_norm(x, w->embd_norm_w, w->embd_norm_b, E, w->eps);
    }
    (void)ith;
}

/* One (token, head) per item: softmax(q . k / sqrt(hd)) . v over the token's sequence. */
static void attn_range(void *ctx, size_t begin, size_t end, int ith)
{
    const bert_state *s = ctx;
    const cove_hparams *hp = &s->m->hp;
    const int64_t E = hp->n_embd, hd = hp->head_dim;
    const float scale = 1.0f / sqrtf((float)hd);
    float *sc = s->scores + (size_t)ith * (size_t)s->n_seq_max;
    for (size_t i = begin; i < end; i++) {
        const int64_t t = (int64_t)i / hp->n_head, off = (int64_t)i % hp->n_head * hd;
        const int32_t lo = s->lo[t], n = s->hi[t] - lo;
        const float *q = s->q + t * E + off;
        float *o = s->att + t * E + off;
        for (int32_t j = 0; j < n; j++)
            sc[j] = cove_dot_f32(q, s->k + (lo + j) * E + off, hd) * scale;
        cove_op_softmax(sc, n);
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int32_t j = 0; j < n; j++) {
            const float *v = s->v + (lo + j) * E + off;
            for (int64_t d = 0; d < hd; d++)
                o[d] += sc[j] * v[d];
        }
    }
}

/* x = LN(x + tmp) for a range of tokens, with the norm's weight w and bias b. */
typedef struct norm_job {
    bert_state *s;
    const float *w, *b;
} norm_job;

static void add_norm_range(void *ctx, size_t begin, size_t end, int ith)
{
    const norm_job *j = ctx;
    const int64_t E = j->s->m->hp.n_embd;
    for (size_t t = begin; t < end; t++) {
        cove_op_add(j->s->x + t * E, j->s->tmp + t * E, E);
        layer_norm(j->s->x + t * E, j->w, j->b, E, j->s->w->eps);
    }
    (void)ith;
}

static void add_norm(bert_state *s, const float *w, const float *b)
{
    norm_job j = {s, w, b};
    run_range(s, (size_t)s->b->n_tok, add_norm_range, &j);
}

static void block(bert_state *s, const bert_layer *l)
{
    const cove_hparams *hp = &s->m->hp;
    matmul(s, &l->wq, l->bq, s->x, s->q, 0);
    matmul(s, &l->wk, l->bk, s->x, s->k, 0);
    matmul(s, &l->wv, l->bv, s->x, s->v, 0);
    run_range(s, (size_t)s->b->n_tok * (size_t)hp->n_head, attn_range, s);
    matmul(s, &l->wo, l->bo, s->att, s->tmp, 0);
    add_norm(s, l->attn_norm_w, l->attn_norm_b);
    matmul(s, &l->up, l->bup, s->x, s->ff, 1);
    matmul(s, &l->down, l->bdown, s->ff, s->tmp, 0);
    add_norm(s, l->out_norm_w, l->out_norm_b);
}

static const float *bert_encode(void *state, const cove_enc_batch *b)
{
    bert_state *s = state;
    for (int32_t q = 0; q < b->n_seq; q++)
        for (int32_t t = b->seq_off[q]; t < b->seq_off[q + 1]; t++) {
            s->lo[t] = b->seq_off[q];
            s->hi[t] = b->seq_off[q + 1];
        }
    s->b = b;
    run_range(s, (size_t)b->n_tok, embed_range, s);
    for (int32_t il = 0; il < s->m->hp.n_layer; il++)
        block(s, &s->w->layers[il]);
    s->b = NULL;
    return s->x;
}

/* ============================ state, registration ============================ */

/* n elements of `elem` bytes (at least one); sets *failed when it cannot. */
static void *alloc_n(size_t n, size_t elem, int *failed)
{
    int overflow = 0;
    size_t size = cove_mul_size(n ? n : 1, elem, &overflow);
    void *p = overflow ? NULL : cove_calloc(1, size);
    if (!p)
        *failed = 1;
    return p;
}

/* Largest activation scratch of one product over n tokens, for any matrix of the model. */
static size_t act_bytes(const bert_weights *w, int64_t n)
{
    size_t most = 0;
    for (int32_t il = 0; il < w->n_layer; il++) {
        const bert_layer *l = &w->layers[il];
        const cove_matrix *all[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->up, &l->down};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            size_t b = cove_matmul_scratch_bytes(all[i], n);
            most = b > most ? b : most;
        }
    }
    return most;
}

static void bert_state_free(void *state)
{
    bert_state *s = state;
    if (!s)
        return;
    void *bufs[] = {s->x, s->q, s->k, s->v, s->att, s->tmp, s->ff, s->type0,
                    s->lo, s->hi, s->act, s->scores};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cove_free(bufs[i]);
    cove_free(s);
}

static cove_status bert_state_create(const cove_model *m, int32_t n_batch, int32_t n_seq_max,
                                     cove_pool *pool, void **out, cove_error *err)
{
    const size_t B = (size_t)n_batch, E = (size_t)m->hp.n_embd, F = (size_t)m->hp.n_ff;
    const size_t T = (size_t)cove_pool_size(pool);
    int failed = 0;
    bert_state *s = cove_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory creating an embedder");
    *s = (bert_state){.m = m, .w = m->arch_data, .pool = pool, .n_batch = n_batch,
                      .n_seq_max = n_seq_max};
    s->act_bytes = act_bytes(s->w, (int64_t)B);
    float **big[] = {&s->x, &s->q, &s->k, &s->v, &s->att, &s->tmp};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        *big[i] = alloc_n(B * E, sizeof(float), &failed);
    s->ff = alloc_n(B * F, sizeof(float), &failed);
    s->type0 = alloc_n(E, sizeof(float), &failed);
    s->lo = alloc_n(B, sizeof(int32_t), &failed);
    s->hi = alloc_n(B, sizeof(int32_t), &failed);
    s->act = alloc_n(s->act_bytes, 1, &failed);
    s->scores = alloc_n(T * (size_t)n_seq_max, sizeof(float), &failed);
    if (failed) {
        bert_state_free(s);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for an embedder of %d tokens",
                              n_batch);
    }
    if (s->w->types.n_rows > 0)
        s->w->types.k->to_f32(s->w->types.data, s->type0, (int64_t)E);
    *out = s;
    return COVE_OK;
}

static void bert_info(const cove_model *m, cove_enc_info *out)
{
    const bert_weights *w = m->arch_data;
    *out = w->info;
}

const cove_encoder cove_encoder_bert = {
    .arch = &cove_arch_bert,
    .info = bert_info,
    .state_create = bert_state_create,
    .state_free = bert_state_free,
    .encode = bert_encode,
};
