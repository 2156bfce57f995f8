/*
 * engine/model/context.c - contexts: KV cache, scratch buffers, decoding batches.
 */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/model/model_int.h"

#define UBATCH_DEFAULT 64
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
    };
    return p;
}

static cove_status check_params(const cove_model *m, cove_context_params *p, cove_error *err)
{
    if (!m->arch)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "the model was loaded without weights");
    if (!m->arch->forward) /* encoder-only (bert): cove_embedder_create instead */
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "'%s' models compute embeddings, not "
                              "tokens: use cove_embedder_create", m->arch_name);
    if (p->n_ctx < 0 || p->n_ubatch < 0 || p->n_outputs_max < 0 || p->n_threads < 0 ||
        (p->kv_type != COVE_KV_F16 && p->kv_type != COVE_KV_F32))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad context parameters");
    if (p->n_ctx == 0)
        p->n_ctx = m->hp.n_ctx_train < COVE_CTX_DEFAULT_MAX ? m->hp.n_ctx_train : COVE_CTX_DEFAULT_MAX;
    if (p->n_ubatch == 0)
        p->n_ubatch = UBATCH_DEFAULT;
    if (p->n_outputs_max == 0)
        p->n_outputs_max = OUTPUTS_DEFAULT;
    if ((uint32_t)p->n_ctx > COVE_MAX_CTX)
        return cove_error_set(err, COVE_ERR_LIMIT, "a context of %d tokens exceeds the limit of %u",
                              p->n_ctx, (unsigned)COVE_MAX_CTX);
    if (p->n_ubatch > UBATCH_MAX || p->n_outputs_max > OUTPUTS_MAX || p->n_threads > COVE_MAX_THREADS)
        return cove_error_set(err, COVE_ERR_LIMIT, "n_ubatch (max %d), n_outputs_max (max %d) or "
                              "n_threads (max %d) too large", UBATCH_MAX, OUTPUTS_MAX,
                              COVE_MAX_THREADS);
    return COVE_OK;
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

static cove_status alloc_buffers(cove_context *c, cove_error *err)
{
    const cove_hparams *hp = &c->m->hp;
    const size_t U = (size_t)c->p.n_ubatch, E = (size_t)hp->n_embd;
    const size_t Q = (size_t)hp->n_head * (size_t)hp->head_dim;
    const size_t KV = (size_t)hp->n_head_kv * (size_t)hp->head_dim, F = (size_t)hp->n_ff;
    const size_t cache = (size_t)hp->n_layer * (size_t)c->n_ctx;
    size_t widest = E > Q ? E : Q;
    int failed = 0;
    c->kv_row_bytes = cove_kernel_row_bytes(c->kv, (int64_t)KV);
    c->k_cache = alloc_n(cache, c->kv_row_bytes, &failed);
    c->v_cache = alloc_n(cache, c->kv_row_bytes, &failed);
    c->x = alloc_n(U * E, sizeof(float), &failed);
    c->xb = alloc_n(U * widest, sizeof(float), &failed);
    c->q = alloc_n(U * Q, sizeof(float), &failed);
    c->k = alloc_n(U * KV, sizeof(float), &failed);
    c->v = alloc_n(U * KV, sizeof(float), &failed);
    c->att = alloc_n(U * Q, sizeof(float), &failed);
    c->hb = alloc_n(U * F, sizeof(float), &failed);
    c->hb2 = alloc_n(U * F, sizeof(float), &failed);
    c->scores = alloc_n((size_t)c->n_ctx, sizeof(float), &failed);
    c->row_buf = alloc_n(widest > F ? widest : F, sizeof(float), &failed);
    c->rope_cs = alloc_n(U * (size_t)hp->n_rot, sizeof(float), &failed);
    c->rope_inv_freq = alloc_n((size_t)hp->n_rot / 2, sizeof(double), &failed);
    c->pos_buf = alloc_n(U, sizeof(int32_t), &failed);
    c->out_buf = alloc_n(U, sizeof(int32_t), &failed);
    c->logits = alloc_n((size_t)c->p.n_outputs_max * (size_t)hp->n_vocab, sizeof(float), &failed);
    c->out_ids = alloc_n((size_t)c->p.n_outputs_max, sizeof(int32_t), &failed);
    if (failed)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for a context of %d tokens",
                              c->n_ctx);
    return COVE_OK;
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
    c->kv = cove_kernel_for(params.kv_type == COVE_KV_F32 ? COVE_TYPE_F32 : COVE_TYPE_F16);
    if ((st = alloc_buffers(c, err)) != COVE_OK) {
        cove_context_free(c);
        return st;
    }
    const cove_hparams *hp = &model->hp;
    for (int32_t i = 0; i < hp->n_rot / 2; i++)
        c->rope_inv_freq[i] = pow((double)hp->rope_base, -2.0 * i / hp->n_rot);
    *out = c;
    return COVE_OK;
}

void cove_context_free(cove_context *c)
{
    if (!c)
        return;
    void *bufs[] = {c->k_cache, c->v_cache, c->x, c->xb, c->q, c->k, c->v, c->att, c->hb,
                    c->hb2, c->scores, c->row_buf, c->rope_cs, c->rope_inv_freq,
                    c->pos_buf, c->out_buf, c->logits, c->out_ids};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cove_free(bufs[i]);
    cove_free(c);
}

const cove_model *cove_context_model(const cove_context *c) { return c->m; }
int32_t cove_context_n_ctx(const cove_context *c) { return c->n_ctx; }

int32_t cove_context_n_past(const cove_context *c, int32_t seq_id)
{
    return seq_id == 0 ? c->n_past : 0;
}

cove_status cove_context_kv_truncate(cove_context *c, int32_t seq_id, int32_t p0)
{
    if (seq_id != 0)
        return COVE_ERR_INVALID_ARG;
    if (p0 < 0)
        p0 = 0;
    if (p0 < c->n_past)
        c->n_past = p0;
    c->n_out = 0;
    c->last_n = 0;
    return COVE_OK;
}

/* Check the batch before anything changes; counts the logits it asks for. */
static cove_status check_batch(const cove_context *c, const cove_batch *b, int32_t *n_out,
                               cove_error *err)
{
    const int32_t n_vocab = c->m->hp.n_vocab;
    if (!b || b->n <= 0 || !b->tokens)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_decode: empty batch");
    if (b->n > c->n_ctx - c->n_past)
        return cove_error_set(err, COVE_ERR_LIMIT, "prompt is too long: %d tokens at position %d "
                              "do not fit in the context of %d tokens", b->n, c->n_past, c->n_ctx);
    *n_out = b->want_logits ? 0 : 1;
    for (int32_t i = 0; i < b->n; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= n_vocab)
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "token %d at batch index %d is not "
                                  "in the vocabulary of %d", b->tokens[i], i, n_vocab);
        if (b->seq_id && b->seq_id[i] != 0)
            return cove_error_set(err, COVE_ERR_UNSUPPORTED, "sequence %d: only sequence 0 is "
                                  "supported for now", b->seq_id[i]);
        if (b->pos && b->pos[i] != c->n_past + i)
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "batch index %d has position %d, "
                                  "expected %d (positions continue the sequence)", i, b->pos[i],
                                  c->n_past + i);
        if (b->want_logits && b->want_logits[i])
            (*n_out)++;
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
    for (int32_t off = 0; off < b->n; off += c->p.n_ubatch) {
        int32_t n = b->n - off < c->p.n_ubatch ? b->n - off : c->p.n_ubatch;
        for (int32_t t = 0; t < n; t++) {
            int32_t i = off + t;
            int want = b->want_logits ? b->want_logits[i] != 0 : i == b->n - 1;
            c->pos_buf[t] = c->n_past + t;
            c->out_buf[t] = want ? c->n_out : -1;
            if (want)
                c->out_ids[c->n_out++] = i;
        }
        cove_ubatch ub = {b->tokens + off, c->pos_buf, c->out_buf, n};
        c->m->arch->forward(c, &ub);
        c->n_past += n;
    }
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
