/*
 * engine/model/decoder.c - the decoder core shared by llama, qwen2, qwen3 and gemma3.
 *
 * Per block, for every token x (n_embd), with the optional parts in brackets:
 *     a  = rmsnorm(x) . attn_norm
 *     q  = Wq a [+ bq],  k = Wk a [+ bk],  v = Wv a [+ bv]
 *     [q, k = rmsnorm of each head . q_norm, k_norm]                   qwen3, gemma3
 *     q, k = rope(q), rope(k)                      normal or NeoX pairs, the layer's base
 *     o  = Wo attention(q, k, v)                   causal, GQA, [sliding window], [softcap]
 *     [o = rmsnorm(o) . post_attn_norm]                                 gemma3
 *     h  = x + o
 *     f  = Wdown (act(Wgate f') * Wup f'),  f' = rmsnorm(h) . ffn_norm  silu or gelu-tanh
 *     [f = rmsnorm(f) . post_ffw_norm]                                  gemma3
 *     x' = h + f
 * and logits = Woutput (rmsnorm(x) . output_norm) [softcapped]. The embeddings are
 * multiplied by hp.embd_scale first (gemma3: sqrt(n_embd)).
 *
 * Threads. A micro-batch is one cove_pool_run: every thread walks the same steps and
 * takes its share of each (tokens of the elementwise steps, chunks of rows of the matrix
 * products, blocks of (token, head) rows of attention), with a barrier between steps. A
 * matrix product quantizes its input once (split by tokens; for one token each thread
 * quantizes it for itself, saving a barrier), then the threads take chunks of output
 * rows from an atomic counter until none are left; q, k and v (and gate and up) share one
 * quantized input. The chunks of q, k and v are whole heads: the thread that computes a
 * head also adds its bias, norms it, rotates it and writes k and v into the cache.
 *
 * One token (decode) has five barriers a block: after q/k/v, attention, the output
 * projection, gate/up and down. The residual stream and the normed input of the next
 * product are then kept by every thread for itself (the same arithmetic on the same
 * data, so the copies agree to the bit): adding a product's output to the residual and
 * norming it needs no barrier of its own. Nothing here allocates: the buffers are the
 * context's, per thread where a thread needs its own. The up product's output (hb2) lies
 * over q, k, v and att: it is written after the barrier that ends the output projection
 * and read before the one that ends gate/up.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "engine/model/ops.h"

#define NAME_MAX_LEN 80
#define ROW_UNIT 16 /* rows of a product's share: whole register tiles of the quant kernels */

/* ================================ loading ================================ */

/* One tensor of a block: name, field, shape ('E' n_embd, 'Q' q_dim, 'K' kv_dim, 'F' n_ff,
 * 'H' head_dim; rows 0: a vector of `cols`) and the part bit it belongs to (0: always). */
typedef struct block_part {
    const char *name;
    size_t off;
    char rows, cols;
    unsigned part;
} block_part;

static const block_part block_parts[] = {
    {"attn_norm.weight", offsetof(cove_layer, attn_norm), 0, 'E', 0},
    {"attn_q.weight", offsetof(cove_layer, wq), 'Q', 'E', 0},
    {"attn_k.weight", offsetof(cove_layer, wk), 'K', 'E', 0},
    {"attn_v.weight", offsetof(cove_layer, wv), 'K', 'E', 0},
    {"attn_output.weight", offsetof(cove_layer, wo), 'E', 'Q', 0},
    {"attn_q.bias", offsetof(cove_layer, bq), 0, 'Q', COVE_PART_QKV_BIAS},
    {"attn_k.bias", offsetof(cove_layer, bk), 0, 'K', COVE_PART_QKV_BIAS},
    {"attn_v.bias", offsetof(cove_layer, bv), 0, 'K', COVE_PART_QKV_BIAS},
    {"attn_q_norm.weight", offsetof(cove_layer, q_norm), 0, 'H', COVE_PART_QK_NORM},
    {"attn_k_norm.weight", offsetof(cove_layer, k_norm), 0, 'H', COVE_PART_QK_NORM},
    {"post_attention_norm.weight", offsetof(cove_layer, post_attn_norm), 0, 'E',
     COVE_PART_POST_NORMS},
    {"ffn_norm.weight", offsetof(cove_layer, ffn_norm), 0, 'E', 0},
    {"ffn_gate.weight", offsetof(cove_layer, ffn_gate), 'F', 'E', 0},
    {"ffn_up.weight", offsetof(cove_layer, ffn_up), 'F', 'E', 0},
    {"ffn_down.weight", offsetof(cove_layer, ffn_down), 'E', 'F', 0},
    {"post_ffw_norm.weight", offsetof(cove_layer, post_ffw_norm), 0, 'E', COVE_PART_POST_NORMS},
};

static int64_t dim_of(const cove_hparams *hp, char d)
{
    switch (d) {
    case 'E': return hp->n_embd;
    case 'Q': return (int64_t)hp->n_head * hp->head_dim;
    case 'K': return (int64_t)hp->n_head_kv * hp->head_dim;
    case 'F': return hp->n_ff;
    default: return hp->head_dim;
    }
}

static cove_status load_layer(cove_model *m, int32_t il, unsigned parts, cove_error *err)
{
    cove_layer *l = &m->layers[il];
    for (size_t i = 0; i < sizeof block_parts / sizeof block_parts[0]; i++) {
        const block_part *p = &block_parts[i];
        char name[NAME_MAX_LEN];
        void *dst = (char *)l + p->off;
        cove_status st;
        if (p->part && !(parts & p->part))
            continue;
        snprintf(name, sizeof name, "blk.%d.%s", (int)il, p->name);
        if (p->rows)
            st = cove_model_matrix(m, name, dim_of(&m->hp, p->rows), dim_of(&m->hp, p->cols),
                                   (cove_matrix *)dst, err);
        else
            st = cove_model_vector(m, name, dim_of(&m->hp, p->cols), (const float **)dst, err);
        if (st != COVE_OK)
            return st;
    }
    l->swa = m->hp.swa_window > 0 && m->hp.swa_pattern > 0 && (il + 1) % m->hp.swa_pattern != 0;
    return COVE_OK;
}

cove_status cove_decoder_load(cove_model *m, unsigned parts, cove_error *err)
{
    cove_status st = cove_model_load_io(m, err);
    if (st != COVE_OK)
        return st;
    if (cove_arena_calloc(m->arena, (size_t)m->hp.n_layer, sizeof *m->layers,
                          (void **)&m->layers) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the model");
    for (int32_t il = 0; il < m->hp.n_layer; il++)
        if ((st = load_layer(m, il, parts, err)) != COVE_OK)
            return st;
    return COVE_OK;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

size_t cove_decoder_act_bytes(const cove_model *m, int64_t n_tok)
{
    size_t most = cove_matmul_scratch_bytes(&m->output, n_tok);
    for (int32_t il = 0; il < m->hp.n_layer; il++) {
        const cove_layer *l = &m->layers[il];
        const cove_matrix *all[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up,
                                    &l->ffn_down};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            most = max_size(most, cove_matmul_scratch_bytes(all[i], n_tok));
    }
    return most;
}

/* ============================ the forward pass ============================ */

/* One micro-batch under way, shared by the threads of the run. */
typedef struct fwd {
    cove_context *c;
    const cove_ubatch *ub;
    int pooled; /* 1: inside cove_pool_run (barriers needed when nth > 1) */
    int own;    /* 1: one token; each thread keeps the residual and normed input itself */
} fwd;

/* The residual stream of the micro-batch: the shared one, or this thread's copy (own). */
static float *resid(const fwd *f, int ith)
{
    return f->own ? f->c->x_own + (size_t)ith * f->c->own_floats : f->c->x;
}

/* The normed input of the next product: in xb (shared), or this thread's (own). */
static float *normed(const fwd *f, int ith)
{
    return f->own ? f->c->x_own + (size_t)ith * f->c->own_floats + f->c->m->hp.n_embd : f->c->xb;
}

static void sync(const fwd *f, int ith, int nth)
{
    if (f->pooled && nth > 1)
        cove_pool_barrier(f->c->pool, ith);
}

/* This thread's share [*b, *e) of n items. */
static void share(int64_t n, int ith, int nth, int64_t *b, int64_t *e)
{
    size_t lo, hi;
    cove_pool_split((size_t)n, ith, nth, &lo, &hi);
    *b = (int64_t)lo;
    *e = (int64_t)hi;
}

/*
 * The activations of the n matrices w from x (n_tok rows), each activation type quantized
 * once: split by tokens into the shared buffers, then a barrier; or, for one token, by
 * every thread for itself into its own buffers (no barrier: decode has many products).
 */
static void mm_quantize(const fwd *f, const cove_matrix *const *w, int n, const float *x,
                        int64_t n_tok, const void **xq, int ith, int nth)
{
    cove_context *c = f->c;
    const int local = n_tok == 1;
    int64_t t0 = 0, t1 = n_tok;
    if (!local)
        share(n_tok, ith, nth, &t0, &t1);
    for (int i = 0; i < n; i++) {
        xq[i] = NULL;
        for (int j = 0; j < i && !xq[i]; j++)
            if (cove_matmul_act_type(w[j]) == cove_matmul_act_type(w[i]))
                xq[i] = xq[j];
        uint8_t *buf = local ? c->act_local + ((size_t)ith * COVE_MM_SLOTS + (size_t)i) * c->act1_bytes
                             : c->act[i];
        if (!xq[i])
            xq[i] = cove_matmul_quantize(w[i], x, t0, t1, buf);
    }
    if (!local)
        sync(f, ith, nth);
}

/*
 * The chunks of a group of products (guided: each takes 1 / (CHUNK_GUIDE * nth) of the rows
 * left, whole units, at least one unit and 1 / CHUNK_MIN_DIV of all), over the rows of the
 * products end to end and cut where one product ends: large chunks first, then smaller ones,
 * so that the threads of a memory-bound product, which do not run at one pace, end together
 * while few chunks (each lays out its activations again) are taken. rows[m]: rows of product
 * m (n <= COVE_MM_SLOTS). Every thread makes the same plan. Returns the number of chunks:
 * at most CHUNK_MIN_DIV + 2 n (every chunk but those cut at a product's end or the last is
 * at least 1 / CHUNK_MIN_DIV of the rows).
 */
#define CHUNK_GUIDE 2
#define CHUNK_MIN_DIV 128
#define MAX_CHUNKS (CHUNK_MIN_DIV + 2 * COVE_MM_SLOTS)

typedef struct {
    int32_t m;
    int64_t r0, r1;
} mm_chunk;

static int64_t round_up(int64_t v, int64_t unit)
{
    return (v + unit - 1) / unit * unit;
}

static int plan_chunks(const int64_t *rows, int n, int64_t unit, int nth, mm_chunk *out)
{
    int64_t total = 0, pos = 0, base = 0;
    int nc = 0, m = 0;
    for (int i = 0; i < n; i++)
        total += rows[i];
    const int64_t per = CHUNK_GUIDE * (int64_t)nth, min_sz = round_up((total + CHUNK_MIN_DIV - 1) / CHUNK_MIN_DIV, unit);
    while (pos < total) {
        const int64_t left = total - pos, guided = round_up((left + per - 1) / per, unit);
        int64_t sz = guided > min_sz ? guided : min_sz;
        if (nc >= MAX_CHUNKS - n) /* cannot happen (see above); the rest in one, never dropped */
            sz = left;
        for (int64_t end = pos + (sz < left ? sz : left); pos < end;) {
            while (pos >= base + rows[m])
                base += rows[m++];
            const int64_t stop = end < base + rows[m] ? end : base + rows[m];
            out[nc++] = (mm_chunk){m, pos - base, stop - base};
            pos = stop;
        }
    }
    return nc;
}

/* Rows per chunk of q, k and v: whole heads, whole units. */
static int64_t head_unit(int64_t hd)
{
    int64_t u = hd;
    while (u % ROW_UNIT)
        u += hd;
    return u;
}

/* Work to do on rows [r0, r1) of product m of a group once a thread has computed them. */
typedef struct mm_post {
    void (*fn)(const fwd *f, const struct mm_post *p, int m, int64_t r0, int64_t r1);
    const cove_layer *l;
    int32_t il;
} mm_post;

/* The next chunk of work counter k (of `total`), or -1 when all are taken. */
static int64_t next_chunk(const fwd *f, int32_t k, int64_t total)
{
    int64_t i = atomic_fetch_add_explicit(&f->c->work[k], 1, memory_order_relaxed);
    return i < total ? i : -1;
}

/*
 * y[i] = W[i] x for the n matrices of one input (n <= COVE_MM_SLOTS), then a barrier. The
 * rows go in chunks (whole units of rows) handed out by work counter k: a thread that is
 * ahead takes more (the threads of a memory-bound product do not finish together); post,
 * if any, runs on each chunk once it is computed. Each row is computed by the same code
 * whichever thread takes it: the result does not depend on the thread count.
 */
static void mm_group(const fwd *f, const cove_matrix *const *w, float *const *y, int n,
                     const float *x, int64_t n_tok, int32_t k, int64_t unit, const mm_post *post,
                     int ith, int nth)
{
    const void *xq[COVE_MM_SLOTS];
    int64_t rows[COVE_MM_SLOTS], i;
    mm_chunk ch[MAX_CHUNKS];
    mm_quantize(f, w, n, x, n_tok, xq, ith, nth);
    for (int m = 0; m < n; m++)
        rows[m] = w[m]->n_rows;
    const int nc = plan_chunks(rows, n, unit, nth, ch);
    while ((i = next_chunk(f, k, nc)) >= 0) {
        const mm_chunk *c = &ch[i];
        cove_matmul_rows(w[c->m], xq[c->m], n_tok, y[c->m], (size_t)rows[c->m], c->r0, c->r1);
        if (post)
            post->fn(f, post, c->m, c->r0, c->r1);
    }
    sync(f, ith, nth);
}

static void mm_one(const fwd *f, const cove_matrix *w, float *y, const float *x, int64_t n_tok,
                   int32_t k, int ith, int nth)
{
    mm_group(f, &w, &y, 1, x, n_tok, k, ROW_UNIT, NULL, ith, nth);
}

/* ---- embeddings and RoPE tables ---- */

/* The embeddings and the first normed input (own: every thread for itself); the RoPE
 * tables of the tokens, shared. */
static void embed_step(const fwd *f, int ith, int nth)
{
    cove_context *c = f->c;
    const cove_model *m = c->m;
    const cove_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, U = c->p.n_ubatch;
    int64_t t0 = 0, t1 = 1;
    if (!f->own)
        share(f->ub->n, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        float *x = resid(f, ith) + t * E;
        const uint8_t *row = (const uint8_t *)m->tok_embd.data +
                             (size_t)f->ub->tokens[t] * m->tok_embd.row_bytes;
        m->tok_embd.k->to_f32(row, x, E);
        if (hp->embd_scale != 1.0f)
            for (int64_t i = 0; i < E; i++)
                x[i] *= hp->embd_scale;
        cove_op_rmsnorm(normed(f, ith) + t * E, x, m->layers[0].attn_norm, E, hp->rms_eps);
        for (int r = 0; r < 2 && (!f->own || ith == 0); r++)
            cove_op_rope_table(&c->rope[r], hp->n_rot, f->ub->pos[t],
                               c->rope_cs + ((int64_t)r * U + t) * hp->n_rot);
    }
    sync(f, ith, nth);
}

/* ---- attention ---- */

/* The cache is [layer][seq][kv head][pos]: the rows one attention block reads are adjacent. */
static size_t cache_offset(const cove_context *c, int32_t layer, int32_t seq, int32_t head,
                           int32_t pos)
{
    const size_t s = (size_t)layer * (size_t)c->n_seq + (size_t)seq;
    return ((s * (size_t)c->m->hp.n_head_kv + (size_t)head) * (size_t)c->n_ctx + (size_t)pos) *
           c->kv_head_bytes;
}

/*
 * Rows [r0, r1) (whole heads) of q (m 0), k (1) or v (2) of every token, just computed:
 * the bias, the per-head norm and RoPE of q and k, and k and v into the cache.
 */
static void qkv_rows(const fwd *f, const mm_post *p, int m, int64_t r0, int64_t r1)
{
    cove_context *c = f->c;
    const cove_hparams *hp = &c->m->hp;
    const cove_layer *l = p->l;
    const int32_t hd = hp->head_dim;
    const int64_t rows = m == 0 ? l->wq.n_rows : l->wk.n_rows;
    float *const y[3] = {c->q, c->k, c->v};
    const float *const bias[3] = {l->bq, l->bk, l->bv}, *const norm[2] = {l->q_norm, l->k_norm};
    uint8_t *const cache[3] = {NULL, c->k_cache, c->v_cache};
    for (int64_t t = 0; t < f->ub->n; t++) {
        float *yt = y[m] + t * rows;
        const float *cs = c->rope_cs + ((int64_t)l->swa * c->p.n_ubatch + t) * hp->n_rot;
        if (bias[m])
            cove_op_add(yt + r0, bias[m] + r0, r1 - r0);
        for (int64_t h = r0 / hd; h < r1 / hd; h++) {
            float *v = yt + h * hd;
            if (m < 2 && norm[m])
                cove_op_rmsnorm(v, v, norm[m], hd, hp->rms_eps);
            if (m < 2)
                cove_op_rope(v, 1, hd, hp->n_rot, cs, hp->rope_type);
            if (m > 0)
                c->kv->from_f32(v, cache[m] + cache_offset(c, p->il, f->ub->seq[t], (int32_t)h, f->ub->pos[t]),
                                hd);
        }
    }
}

/* Work item i of the attention of layer il: block i / groups, query heads of chunk
 * i % groups (blk_heads heads that share one KV head). */
static void attend_item(const fwd *f, int32_t il, int64_t i, int ith)
{
    cove_context *c = f->c;
    const cove_hparams *hp = &c->m->hp;
    const cove_layer *l = &c->m->layers[il];
    const int32_t H = c->blk_heads, groups = hp->n_head / H, hd = hp->head_dim;
    const int32_t b = (int32_t)(i / groups), h0 = (int32_t)(i % groups) * H;
    const int64_t Q = l->wq.n_rows;
    cove_att_block blk = {.n_rows = 0, .s_lo = INT32_MAX, .s_hi = 0};
    for (int32_t t = c->blk[b]; t < c->blk[b + 1]; t++) {
        const int32_t pos = f->ub->pos[t];
        const int32_t lo = l->swa && pos >= hp->swa_window ? pos - hp->swa_window + 1 : 0;
        blk.s_lo = lo < blk.s_lo ? lo : blk.s_lo;
        blk.s_hi = pos > blk.s_hi ? pos : blk.s_hi;
        for (int32_t h = h0; h < h0 + H; h++, blk.n_rows++) {
            blk.lo[blk.n_rows] = lo;
            blk.hi[blk.n_rows] = pos;
            blk.q[blk.n_rows] = c->q + t * Q + (int64_t)h * hd;
            blk.out[blk.n_rows] = c->att + t * Q + (int64_t)h * hd;
        }
    }
    const int32_t g = h0 / (hp->n_head / hp->n_head_kv);
    const size_t off = cache_offset(c, il, f->ub->seq[c->blk[b]], g, 0);
    cove_attend_block(c, &blk, c->k_cache + off, c->v_cache + off,
                      c->att_scratch + (size_t)ith * c->att_scratch_floats);
}

static void attention_step(const fwd *f, int32_t il, int ith, int nth)
{
    cove_context *c = f->c;
    const cove_layer *l = &c->m->layers[il];
    const int64_t n = f->ub->n;
    const cove_matrix *w[3] = {&l->wq, &l->wk, &l->wv};
    float *const y[3] = {c->q, c->k, c->v};
    const mm_post post = {qkv_rows, l, il};
    mm_group(f, w, y, 3, normed(f, ith), n, il * COVE_WORK_PER_LAYER, head_unit(c->m->hp.head_dim), &post,
             ith, nth);
    const int64_t items = (int64_t)c->n_blk * (c->m->hp.n_head / c->blk_heads);
    for (int64_t i = ith; i < items; i += nth) /* cyclic: late blocks cost more (causal) */
        attend_item(f, il, i, ith);
    sync(f, ith, nth);
    mm_one(f, &l->wo, c->xb, c->att, n, il * COVE_WORK_PER_LAYER + 1, ith, nth);
}

/* ---- feed-forward ---- */

/*
 * x += [post-normed] product output o (in xb); then the normed input of the next product,
 * x . norm (none: the last block). Tokens are shared out, or (own) every thread does the
 * one token for itself and no barrier is needed.
 */
static void residual_step(const fwd *f, const float *post, const float *norm, int ith, int nth)
{
    cove_context *c = f->c;
    const cove_hparams *hp = &c->m->hp;
    const int64_t E = hp->n_embd;
    int64_t b = 0, e = 1;
    if (!f->own)
        share(f->ub->n, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++) {
        float *x = resid(f, ith) + t * E, *o = c->xb + t * E, *xn = normed(f, ith) + t * E;
        if (post) { /* o is shared when own: normed into this thread's buffer */
            cove_op_rmsnorm(xn, o, post, E, hp->rms_eps);
            o = xn;
        }
        cove_op_add(x, o, E);
        if (norm)
            cove_op_rmsnorm(xn, x, norm, E, hp->rms_eps);
    }
    if (!f->own)
        sync(f, ith, nth);
}

/* hb = act(Wgate xb) * (Wup xb): chunks of rows of both, then their columns. */
static void gate_up_step(const fwd *f, const cove_layer *l, int32_t il, int ith, int nth)
{
    cove_context *c = f->c;
    const int64_t n = f->ub->n, F = l->ffn_gate.n_rows;
    const cove_matrix *w[2] = {&l->ffn_gate, &l->ffn_up};
    const void *xq[2];
    mm_chunk ch[MAX_CHUNKS];
    int64_t i;
    mm_quantize(f, w, 2, normed(f, ith), n, xq, ith, nth);
    const int nc = plan_chunks(&F, 1, ROW_UNIT, nth, ch);
    while ((i = next_chunk(f, il * COVE_WORK_PER_LAYER + 2, nc)) >= 0) {
        const int64_t r0 = ch[i].r0, r1 = ch[i].r1;
        cove_matmul_rows(&l->ffn_gate, xq[0], n, c->hb, (size_t)F, r0, r1);
        cove_matmul_rows(&l->ffn_up, xq[1], n, c->hb2, (size_t)F, r0, r1);
        for (int64_t t = 0; t < n; t++)
            c->vo->glu(c->hb + t * F + r0, c->hb2 + t * F + r0, r1 - r0,
                       c->m->hp.act == COVE_ACT_GELU_TANH);
    }
    sync(f, ith, nth);
}

static void ffn_step(const fwd *f, int32_t il, int ith, int nth)
{
    cove_context *c = f->c;
    const cove_hparams *hp = &c->m->hp;
    const cove_layer *l = &c->m->layers[il];
    const float *next = il + 1 < hp->n_layer ? c->m->layers[il + 1].attn_norm : NULL;
    residual_step(f, l->post_attn_norm, l->ffn_norm, ith, nth);
    gate_up_step(f, l, il, ith, nth);
    mm_one(f, &l->ffn_down, c->xb, c->hb, f->ub->n, il * COVE_WORK_PER_LAYER + 3, ith, nth);
    residual_step(f, l->post_ffw_norm, next, ith, nth);
}

/* ---- logits ---- */

/* Final norm of the tokens that asked (packed into xb), the output product, softcap. */
static void output_step(const fwd *f, int ith, int nth)
{
    cove_context *c = f->c;
    const cove_model *m = c->m;
    const int64_t E = m->hp.n_embd, V = m->hp.n_vocab;
    int64_t n_out = 0, first = -1, b, e;
    for (int64_t t = 0; t < f->ub->n; t++) {
        if (f->ub->out[t] < 0)
            continue;
        if (first < 0)
            first = f->ub->out[t];
        n_out++;
    }
    if (n_out == 0)
        return;
    float *y = c->logits + first * V; /* rows of one micro-batch are consecutive */
    if (f->own) { /* every thread norms its own copy: no barrier */
        cove_op_rmsnorm(normed(f, ith), resid(f, ith), m->output_norm, E, m->hp.rms_eps);
    } else {
        share(n_out, ith, nth, &b, &e);
        for (int64_t t = 0, j = 0; t < f->ub->n; t++) {
            if (f->ub->out[t] < 0)
                continue;
            if (j >= b && j < e)
                cove_op_rmsnorm(c->xb + j * E, c->x + t * E, m->output_norm, E, m->hp.rms_eps);
            j++;
        }
        sync(f, ith, nth);
    }
    mm_one(f, &m->output, y, normed(f, ith), n_out, m->hp.n_layer * COVE_WORK_PER_LAYER, ith, nth);
    if (m->hp.final_softcap <= 0.0f)
        return;
    share(n_out * V, ith, nth, &b, &e);
    cove_op_softcap(y + b, e - b, m->hp.final_softcap);
}

static void forward_job(void *arg, int ith, int nth)
{
    const fwd *f = arg;
    embed_step(f, ith, nth);
    for (int32_t il = 0; il < f->c->m->hp.n_layer; il++) {
        attention_step(f, il, ith, nth);
        ffn_step(f, il, ith, nth);
    }
    output_step(f, ith, nth);
}

/*
 * Attention work: blocks of consecutive tokens of one sequence, with all the query heads of
 * one KV head per item when several tokens come (prefill) and one head per item otherwise
 * (decode: more items than threads).
 */
static void plan_attention(cove_context *c, const cove_ubatch *ub)
{
    const cove_hparams *hp = &c->m->hp;
    const int32_t group = hp->n_head / hp->n_head_kv;
    c->blk_heads = ub->n > 1 && group <= COVE_ATT_ROWS ? group : 1;
    const int32_t per = COVE_ATT_ROWS / c->blk_heads;
    c->n_blk = 0;
    for (int32_t t = 0; t < ub->n; t++)
        if (t == 0 || ub->seq[t] != ub->seq[t - 1] || t - c->blk[c->n_blk - 1] >= per)
            c->blk[c->n_blk++] = t;
    c->blk[c->n_blk] = ub->n;
}

void cove_decoder_forward(cove_context *c, const cove_ubatch *ub)
{
    fwd f = {c, ub, 1, ub->n == 1};
    plan_attention(c, ub);
    for (int32_t i = 0; i < c->n_work; i++) /* published to the workers by the run */
        atomic_store_explicit(&c->work[i], 0, memory_order_relaxed);
    if (cove_pool_run(c->pool, forward_job, &f) != COVE_OK) { /* never nested: cannot happen */
        f.pooled = 0;
        forward_job(&f, 0, 1);
    }
}
