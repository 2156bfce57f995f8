/*
 * engine/model/context.c - contexts: KV cache, scratch buffers, threads, sequences, batches.
 *
 * The cache holds n_seq_max sequences of n_ctx positions each ([layer][seq][pos] rows of
 * kv_dim values); every sequence has its own next position. cove_decode checks the whole
 * batch first, then cuts it into micro-batches of n_ubatch tokens, giving every token its
 * sequence and position, and runs the architecture's forward on each.
 */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/limits.h"
#include "engine/model/ops.h"

#define UBATCH_DEFAULT 512
#define UBATCH_MAX 4096
#define OUTPUTS_DEFAULT 8
#define OUTPUTS_MAX 65536

cove_context_params cove_context_default_params(void)
{
    cove_context_params p = {
        .n_ctx = 0,
        .n_ubatch = UBATCH_DEFAULT,
        .n_outputs_max = OUTPUTS_DEFAULT,
        .n_threads = 0,
        .kv_type = COVE_KV_F16,
        .n_seq_max = 1,
    };
    return p;
}

static cove_status check_sizes(const cove_model *m, const cove_context_params *p,
                               cove_error *err)
{
    if ((uint32_t)p->n_ctx > COVE_MAX_CTX)
        return cove_error_set(err, COVE_ERR_LIMIT, "a context of %d tokens exceeds the limit of %u",
                              p->n_ctx, (unsigned)COVE_MAX_CTX);
    if (p->n_ubatch > UBATCH_MAX || p->n_outputs_max > OUTPUTS_MAX || p->n_threads > COVE_MAX_THREADS ||
        p->n_seq_max > COVE_MAX_SEQ)
        return cove_error_set(err, COVE_ERR_LIMIT, "n_ubatch (max %d), n_outputs_max (max %d), "
                              "n_threads (max %d) or n_seq_max (max %d) too large", UBATCH_MAX,
                              OUTPUTS_MAX, COVE_MAX_THREADS, COVE_MAX_SEQ);
    const cove_hparams *hp = &m->hp;
    double kv = 2.0 * hp->n_layer * p->n_seq_max * (double)p->n_ctx * hp->n_head_kv * hp->head_dim *
                (p->kv_type == COVE_KV_F32 ? 4.0 : p->kv_type == COVE_KV_F16 ? 2.0 : 34.0 / 32.0);
    if (kv > (double)COVE_MAX_KV_BYTES)
        return cove_error_set(err, COVE_ERR_LIMIT, "a KV cache of %.1f GiB (%d sequences of %d "
                              "tokens) exceeds the limit of %.0f GiB", kv / 1073741824.0,
                              p->n_seq_max, p->n_ctx, (double)COVE_MAX_KV_BYTES / 1073741824.0);
    if (p->kv_type == COVE_KV_Q8_0 && hp->head_dim % 32 != 0)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "a Q8_0 KV cache needs a head size that "
                              "is a multiple of 32, this model's is %d", hp->head_dim);
    return COVE_OK;
}

static cove_status check_params(const cove_model *m, cove_context_params *p, cove_error *err)
{
    if (!m->arch)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "the model was loaded without weights");
    if (!m->arch->forward) /* encoder-only (bert): cove_embedder_create instead */
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "'%s' models compute embeddings, not "
                              "tokens: use cove_embedder_create", m->arch_name);
    if (p->n_ctx < 0 || p->n_ubatch < 0 || p->n_outputs_max < 0 || p->n_threads < 0 ||
        p->n_seq_max < 0 || (p->kv_type != COVE_KV_F16 && p->kv_type != COVE_KV_F32 &&
                             p->kv_type != COVE_KV_Q8_0))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad context parameters");
    if (p->n_ctx == 0)
        p->n_ctx = m->hp.n_ctx_train < COVE_CTX_DEFAULT_MAX ? m->hp.n_ctx_train : COVE_CTX_DEFAULT_MAX;
    if (p->n_ubatch == 0)
        p->n_ubatch = UBATCH_DEFAULT;
    if (p->n_outputs_max == 0)
        p->n_outputs_max = OUTPUTS_DEFAULT;
    if (p->n_seq_max == 0)
        p->n_seq_max = 1;
    if (p->n_threads == 0)
        p->n_threads = cove_cpu_get()->n_cpus_usable < COVE_MAX_THREADS
                           ? cove_cpu_get()->n_cpus_usable : COVE_MAX_THREADS;
    return check_sizes(m, p, err);
}

/* n elements of `elem` bytes (at least one element); sets *failed when it cannot. */
static void *alloc_n(size_t n, size_t elem, int *failed)
{
    int overflow = 0;
    size_t size = cove_mul_size(n ? n : 1, elem, &overflow);
    void *p = overflow ? NULL : cove_malloc(size);
    if (!p)
        *failed = 1;
    return p;
}

/* The buffers of one micro-batch of U tokens, and the per-thread ones. */
static void alloc_scratch(cove_context *c, int *failed)
{
    const cove_hparams *hp = &c->m->hp;
    const size_t U = (size_t)c->p.n_ubatch, E = (size_t)hp->n_embd, T = (size_t)c->n_threads;
    const size_t Q = (size_t)hp->n_head * (size_t)hp->head_dim;
    const size_t KV = (size_t)hp->n_head_kv * (size_t)hp->head_dim, F = (size_t)hp->n_ff;
    c->x = alloc_n(U * E, sizeof(float), failed);
    c->own_floats = (2 * E + 15) / 16 * 16; /* whole cache lines per thread */
    c->x_own = alloc_n(T * c->own_floats, sizeof(float), failed);
    c->xb = alloc_n(U * (E > Q ? E : Q), sizeof(float), failed);
    /* q, k, v and att are dead while gate/up runs: hb2 lies over them (decoder.c) */
    const size_t qkva = U * (2 * Q + 2 * KV);
    c->q = alloc_n(qkva > U * F ? qkva : U * F, sizeof(float), failed);
    if (c->q) {
        c->k = c->q + U * Q, c->v = c->k + U * KV, c->att = c->v + U * KV;
        c->hb2 = c->q;
    }
    c->hb = alloc_n(U * F, sizeof(float), failed);
    c->act_bytes = cove_decoder_act_bytes(c->m, (int64_t)U);
    for (int i = 0; i < COVE_MM_SLOTS; i++)
        c->act[i] = alloc_n(c->act_bytes, 1, failed);
    c->act1_bytes = cove_decoder_act_bytes(c->m, 1);
    c->act_local = alloc_n(T * COVE_MM_SLOTS, c->act1_bytes, failed);
    c->n_work = hp->n_layer * COVE_WORK_PER_LAYER + 1;
    c->work = alloc_n((size_t)c->n_work, sizeof(atomic_int), failed);
    for (int32_t i = 0; c->work && i < c->n_work; i++)
        atomic_init(&c->work[i], 0);
    c->att_scratch_floats = cove_attn_scratch_floats(c);
    c->att_scratch = alloc_n(T * c->att_scratch_floats, sizeof(float), failed);
    c->blk = alloc_n(U + 1, sizeof(int32_t), failed);
    c->rope_cs = alloc_n(2 * U * (size_t)hp->n_rot, sizeof(float), failed);
    c->rope[0].inv_freq = alloc_n((size_t)hp->n_rot / 2, sizeof(double), failed);
    c->rope[1].inv_freq = alloc_n((size_t)hp->n_rot / 2, sizeof(double), failed);
    c->pos_buf = alloc_n(U, sizeof(int32_t), failed);
    c->seq_buf = alloc_n(U, sizeof(int32_t), failed);
    c->out_buf = alloc_n(U, sizeof(int32_t), failed);
}

static cove_status alloc_buffers(cove_context *c, cove_error *err)
{
    const cove_hparams *hp = &c->m->hp;
    const size_t cache = (size_t)hp->n_layer * (size_t)c->n_seq * (size_t)c->n_ctx;
    int failed = 0;
    c->kv_head_bytes = cove_kernel_row_bytes(c->kv, hp->head_dim);
    c->k_cache = alloc_n(cache * (size_t)hp->n_head_kv, c->kv_head_bytes, &failed);
    c->v_cache = alloc_n(cache * (size_t)hp->n_head_kv, c->kv_head_bytes, &failed);
    c->seq_pos = cove_calloc((size_t)c->n_seq, sizeof(int32_t));
    c->seq_tmp = alloc_n((size_t)c->n_seq, sizeof(int32_t), &failed);
    failed |= c->seq_pos == NULL;
    alloc_scratch(c, &failed);
    c->logits = alloc_n((size_t)c->p.n_outputs_max * (size_t)hp->n_vocab, sizeof(float), &failed);
    c->out_ids = alloc_n((size_t)c->p.n_outputs_max, sizeof(int32_t), &failed);
    if (failed)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for a context of %d tokens",
                              c->n_ctx);
    if (cove_pool_create(c->n_threads, &c->pool) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "cannot start %d threads", c->n_threads);
    return COVE_OK;
}

static enum cove_ggml_type kv_ggml_type(enum cove_kv_type t)
{
    return t == COVE_KV_F32 ? COVE_TYPE_F32 : t == COVE_KV_F16 ? COVE_TYPE_F16 : COVE_TYPE_Q8_0;
}

cove_status cove_context_create(const cove_model *model, cove_context_params params,
                                cove_context **out, cove_error *err)
{
    if (!out || !model)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_context_create: NULL argument");
    *out = NULL;
    cove_status st = check_params(model, &params, err);
    if (st != COVE_OK)
        return st;
    cove_context *c = cove_calloc(1, sizeof *c);
    if (!c)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory creating a context");
    c->m = model;
    c->p = params;
    c->n_ctx = params.n_ctx;
    c->n_seq = params.n_seq_max;
    c->n_threads = params.n_threads;
    c->kv = cove_kernel_for(kv_ggml_type(params.kv_type));
    c->vo = cove_vec_ops_get();
    if ((st = alloc_buffers(c, err)) != COVE_OK) {
        cove_context_free(c);
        return st;
    }
    const cove_hparams *hp = &model->hp;
    cove_op_rope_init(&c->rope[0], hp, hp->rope_base, model->rope_freqs, 1);
    cove_op_rope_init(&c->rope[1], hp, hp->rope_base_swa, NULL, 0);
    *out = c;
    return COVE_OK;
}

void cove_context_free(cove_context *c)
{
    if (!c)
        return;
    cove_pool_free(c->pool);
    void *bufs[] = {c->k_cache, c->v_cache, c->seq_pos, c->seq_tmp, c->x, c->x_own, c->xb, c->q,
                    c->hb, c->act[0], c->act[1], c->act[2], c->act_local, c->work, c->att_scratch,
                    c->blk, c->rope_cs, c->rope[0].inv_freq, c->rope[1].inv_freq,
                    c->pos_buf, c->seq_buf, c->out_buf, c->logits, c->out_ids};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cove_free(bufs[i]);
    cove_free(c);
}

const cove_model *cove_context_model(const cove_context *c) { return c->m; }
int32_t cove_context_n_ctx(const cove_context *c) { return c->n_ctx; }
int32_t cove_context_n_seq_max(const cove_context *c) { return c->n_seq; }
int32_t cove_context_n_threads(const cove_context *c) { return c->n_threads; }

int32_t cove_context_n_past(const cove_context *c, int32_t seq_id)
{
    return seq_id >= 0 && seq_id < c->n_seq ? c->seq_pos[seq_id] : 0;
}

cove_status cove_context_seq_truncate(cove_context *c, int32_t seq_id, int32_t p0)
{
    if (!c || seq_id < 0 || seq_id >= c->n_seq)
        return COVE_ERR_INVALID_ARG;
    if (p0 < 0)
        p0 = 0;
    if (p0 < c->seq_pos[seq_id])
        c->seq_pos[seq_id] = p0;
    c->n_out = 0;
    c->last_n = 0;
    return COVE_OK;
}

cove_status cove_context_seq_clear(cove_context *c, int32_t seq_id)
{
    return cove_context_seq_truncate(c, seq_id, 0);
}

cove_status cove_context_seq_copy(cove_context *c, int32_t src, int32_t dst, int32_t n)
{
    if (!c || src < 0 || src >= c->n_seq || dst < 0 || dst >= c->n_seq || n < 0)
        return COVE_ERR_INVALID_ARG;
    if (n > c->seq_pos[src])
        n = c->seq_pos[src];
    if (src != dst) {
        /* rows are [layer][seq][kv head][pos]: one run of n rows per layer, head and cache */
        const size_t head_bytes = (size_t)c->n_ctx * c->kv_head_bytes;
        const size_t seq_bytes = (size_t)c->m->hp.n_head_kv * head_bytes;
        for (int32_t l = 0; l < c->m->hp.n_layer; l++)
            for (int32_t h = 0; h < c->m->hp.n_head_kv; h++) {
                const size_t lo = (size_t)l * (size_t)c->n_seq * seq_bytes + (size_t)h * head_bytes;
                memcpy(c->k_cache + lo + (size_t)dst * seq_bytes,
                       c->k_cache + lo + (size_t)src * seq_bytes, (size_t)n * c->kv_head_bytes);
                memcpy(c->v_cache + lo + (size_t)dst * seq_bytes,
                       c->v_cache + lo + (size_t)src * seq_bytes, (size_t)n * c->kv_head_bytes);
            }
    }
    c->seq_pos[dst] = n;
    c->n_out = 0;
    c->last_n = 0;
    return COVE_OK;
}

cove_status cove_context_kv_truncate(cove_context *c, int32_t seq_id, int32_t p0)
{
    return cove_context_seq_truncate(c, seq_id, p0);
}

/* One token of the batch: id, sequence, position (advancing c->seq_tmp). */
static cove_status check_token(cove_context *c, const cove_batch *b, int32_t i, cove_error *err)
{
    const int32_t n_vocab = c->m->hp.n_vocab;
    const int32_t s = b->seq_id ? b->seq_id[i] : 0;
    if (b->tokens[i] < 0 || b->tokens[i] >= n_vocab)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "token %d at batch index %d is not "
                              "in the vocabulary of %d", b->tokens[i], i, n_vocab);
    if (s < 0 || s >= c->n_seq)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "batch index %d: sequence %d is outside "
                              "the context's %d (n_seq_max)", i, s, c->n_seq);
    if (b->pos && b->pos[i] != c->seq_tmp[s])
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "batch index %d has position %d, "
                              "expected %d (positions continue sequence %d)", i, b->pos[i],
                              c->seq_tmp[s], s);
    c->seq_tmp[s]++;
    return COVE_OK;
}

/* Check the batch before anything changes; counts the logits it asks for. */
static cove_status check_batch(cove_context *c, const cove_batch *b, int32_t *n_out,
                               cove_error *err)
{
    if (!b || b->n <= 0 || !b->tokens)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_decode: empty batch");
    memcpy(c->seq_tmp, c->seq_pos, (size_t)c->n_seq * sizeof *c->seq_tmp);
    *n_out = b->want_logits ? 0 : 1;
    for (int32_t i = 0; i < b->n; i++) {
        cove_status st = check_token(c, b, i, err);
        if (st != COVE_OK)
            return st;
        if (b->want_logits && b->want_logits[i])
            (*n_out)++;
        const int32_t s = b->seq_id ? b->seq_id[i] : 0;
        if (c->seq_tmp[s] > c->n_ctx)
            return cove_error_set(err, COVE_ERR_LIMIT, "prompt is too long: %d tokens at position "
                                  "%d do not fit in the context of %d tokens%s", b->n,
                                  c->seq_pos[s], c->n_ctx, c->n_seq > 1 ? " per sequence" : "");
    }
    if (*n_out > c->p.n_outputs_max)
        return cove_error_set(err, COVE_ERR_LIMIT, "the batch asks for %d logits, the context "
                              "keeps at most %d (n_outputs_max)", *n_out, c->p.n_outputs_max);
    return COVE_OK;
}

cove_status cove_decode(cove_context *c, const cove_batch *b, cove_error *err)
{
    int32_t n_out;
    if (!c)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_decode: NULL context");
    cove_status st = check_batch(c, b, &n_out, err);
    if (st != COVE_OK)
        return st;
    c->n_out = 0;
    c->last_n = b->n;
    memcpy(c->seq_tmp, c->seq_pos, (size_t)c->n_seq * sizeof *c->seq_tmp);
    for (int32_t off = 0; off < b->n; off += c->p.n_ubatch) {
        int32_t n = b->n - off < c->p.n_ubatch ? b->n - off : c->p.n_ubatch;
        for (int32_t t = 0; t < n; t++) {
            int32_t i = off + t, s = b->seq_id ? b->seq_id[i] : 0;
            int want = b->want_logits ? b->want_logits[i] != 0 : i == b->n - 1;
            c->seq_buf[t] = s;
            c->pos_buf[t] = c->seq_tmp[s]++;
            c->out_buf[t] = want ? c->n_out : -1;
            if (want)
                c->out_ids[c->n_out++] = i;
        }
        cove_ubatch ub = {b->tokens + off, c->pos_buf, c->seq_buf, c->out_buf, n};
        c->m->arch->forward(c, &ub);
    }
    memcpy(c->seq_pos, c->seq_tmp, (size_t)c->n_seq * sizeof *c->seq_pos);
    return COVE_OK;
}

const float *cove_context_logits(const cove_context *c, int32_t i)
{
    if (!c || c->n_out == 0)
        return NULL;
    if (i == -1)
        return c->logits + (size_t)(c->n_out - 1) * (size_t)c->m->hp.n_vocab;
    for (int32_t r = 0; r < c->n_out; r++)
        if (c->out_ids[r] == i)
            return c->logits + (size_t)r * (size_t)c->m->hp.n_vocab;
    return NULL;
}
