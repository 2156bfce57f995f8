/*
 * agent/backend/engine.c - plans from the in-process engine, under the plan grammar.
 *
 * Each generate call formats the messages with the model's chat template, decodes only
 * the tokens after the longest prefix the KV cache already holds (the agent's prompts
 * only grow, so normally just the newest turns), then samples with every disallowed token
 * masked out by the grammar matcher; tokens the grammar forces (JSON keys, punctuation)
 * are accepted by jump-forward and decoded in the same batch as the sampled token.
 *
 * Invariant: cached[0, n_cached) are the tokens whose keys and values the context holds.
 */
#include <math.h>
#include <string.h>

#include "agent/backend.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "cove/engine.h"
#include "cove/grammar.h"
#include "engine/gguf/gguf.h"

#define FORCED_MAX 64
#define SCORE_MAX_TOKENS 24 /* tokens of one option scored by score */
/* A mild penalty on the plan's own recent sampled tokens: small models otherwise loop
 * inside a string ("2023-01-01 2023-01-02 ..."). Forced tokens are not counted. */
#define ENGINE_REPEAT_PENALTY 1.15f

struct engine {
    cove_model *model;
    cove_context *ctx;
    cove_detok *detok;
    cove_grammar_vocab *gvocab;
    cove_grammar *grammar; /* compiled from grammar_text */
    char *grammar_text;
    struct cove_chat_template_info info;
    struct cove_chat_options fmt;
    int add_special;
    int32_t n_ctx, n_vocab, n_cached;
    int32_t *toks, *cached;
    uint32_t *mask;
    float *logits;
};

static void engine_free(void *state)
{
    struct engine *e = state;
    if (!e)
        return;
    cove_grammar_free(e->grammar);
    cove_grammar_vocab_free(e->gvocab);
    cove_free(e->grammar_text);
    cove_detok_free(e->detok);
    cove_context_free(e->ctx);
    cove_model_free(e->model);
    cove_free(e->toks);
    cove_free(e->cached);
    cove_free(e->mask);
    cove_free(e->logits);
    cove_free(e);
}

/* Chat family and BOS rule from the file's template. */
static cove_status load_template(struct engine *e, const char *path, cove_error *err)
{
    cove_gguf *g = NULL;
    cove_status st = cove_gguf_open(path, &g, err);
    if (st != COVE_OK)
        return st;
    cove_gguf_str t = {0};
    if (cove_gguf_get_str(g, "tokenizer.chat_template", &t) != COVE_OK ||
        cove_chat_inspect(t.ptr, (size_t)t.len, &e->info) != COVE_OK)
        e->info = (struct cove_chat_template_info){.family = COVE_CHAT_GENERIC};
    cove_gguf_free(g);
    e->fmt = cove_chat_default_options();
    int32_t bos = cove_model_token_bos(e->model), eos = cove_model_token_eos(e->model);
    e->fmt.bos_text = bos >= 0 ? cove_token_text(e->model, bos) : NULL;
    e->fmt.eos_text = eos >= 0 ? cove_token_text(e->model, eos) : NULL;
    e->add_special = !cove_chat_emits_bos(e->info.family, &e->fmt);
    return COVE_OK;
}

/* The conversation and then `tail` (may be NULL) as tokens in e->toks[0, *n). */
static cove_status tokens_of(struct engine *e, const struct cove_agent_gen *g, const char *tail,
                             int32_t *n, cove_error *err)
{
    char *text = NULL;
    size_t len = 0;
    cove_status st = cove_chat_format(e->info.family, g->msgs, g->n_msgs, &e->fmt, &text, &len,
                                      err);
    if (st != COVE_OK)
        return st;
    size_t tl = tail ? strlen(tail) : 0;
    char *full = cove_realloc(text, len + tl + 1);
    if (!full) {
        cove_free(text);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    memcpy(full + len, tail ? tail : "", tl + 1);
    st = cove_tokenize(e->model, full, len + tl, e->add_special, 1, e->toks, e->n_ctx, n, err);
    cove_free(full);
    if (st == COVE_ERR_LIMIT || (st == COVE_OK && *n + g->max_tokens > e->n_ctx))
        return cove_error_set(err, COVE_ERR_LIMIT, "the agent's prompt takes %d tokens and "
                              "the plan up to %d more; the context holds %d", (int)*n,
                              (int)g->max_tokens, (int)e->n_ctx);
    return st;
}

/* Decode toks[0, n), reusing the cached prefix. */
static cove_status feed(struct engine *e, int32_t n, cove_error *err)
{
    int32_t p = 0;
    while (p < e->n_cached && p < n && e->cached[p] == e->toks[p])
        p++;
    if (p == n)
        p = n - 1;
    cove_status st = cove_context_seq_truncate(e->ctx, 0, p);
    if (st != COVE_OK)
        return cove_error_set(err, st, "cannot rewind the context");
    e->n_cached = p;
    cove_batch b = {e->toks + p, NULL, NULL, n - p, NULL};
    st = cove_decode(e->ctx, &b, err);
    if (st != COVE_OK)
        return st;
    memcpy(e->cached + p, e->toks + p, (size_t)(n - p) * sizeof *e->toks);
    e->n_cached = n;
    return COVE_OK;
}

static cove_status set_grammar(struct engine *e, const char *text, cove_error *err)
{
    if (e->grammar_text && strcmp(e->grammar_text, text) == 0)
        return COVE_OK;
    cove_grammar_free(e->grammar);
    cove_free(e->grammar_text);
    e->grammar = NULL;
    e->grammar_text = NULL;
    cove_status st = cove_grammar_compile(e->gvocab, text, strlen(text), &e->grammar, err);
    if (st == COVE_OK && !(e->grammar_text = cove_strdup(text)))
        st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    return st;
}

static cove_status put_token(struct engine *e, int32_t tok, struct cove_buf *out)
{
    char buf[COVE_DETOK_BUF_MIN];
    size_t len = 0;
    cove_status st = cove_detok_push(e->detok, tok, buf, sizeof buf, &len);
    return st == COVE_OK ? cove_buf_append(out, buf, len) : st;
}

/* Sample one token under the mask (NULL: no grammar). */
static cove_status pick(struct engine *e, cove_sampler *smp, cove_grammar_matcher *m,
                        int32_t *tok, cove_error *err)
{
    const float *logits = cove_context_logits(e->ctx, -1);
    if (!logits)
        return cove_error_set(err, COVE_ERR_INTERNAL, "no logits after decode");
    if (!m)
        return cove_sampler_sample(smp, logits, tok);
    cove_status st = cove_grammar_matcher_fill_mask(m, e->mask, err);
    if (st != COVE_OK)
        return st;
    memcpy(e->logits, logits, (size_t)e->n_vocab * sizeof *e->logits);
    cove_grammar_mask_apply(e->mask, e->logits, e->n_vocab);
    return cove_sampler_sample(smp, e->logits, tok);
}

/* Sampled token plus the tokens the grammar forces after it, decoded as one batch. */
static cove_status advance(struct engine *e, cove_grammar_matcher *m, int32_t tok,
                           struct cove_buf *out, int *complete, cove_error *err)
{
    int32_t batch[FORCED_MAX + 1];
    int32_t n = 1, n_forced = 0;
    batch[0] = tok;
    cove_status st = m ? cove_grammar_matcher_accept_token(m, tok, err) : COVE_OK;
    if (st == COVE_OK && m && !cove_grammar_matcher_is_complete(m))
        st = cove_grammar_matcher_jump_forward(m, batch + 1, FORCED_MAX, &n_forced, NULL, 0,
                                               NULL, err);
    for (int32_t i = 0; st == COVE_OK && i < n_forced; i++) {
        st = cove_grammar_matcher_accept_token(m, batch[1 + i], err);
        n++;
    }
    for (int32_t i = 0; st == COVE_OK && i < n; i++)
        st = put_token(e, batch[i], out);
    if (st != COVE_OK)
        return st;
    *complete = m && cove_grammar_matcher_is_complete(m);
    if (*complete || e->n_cached + n > e->n_ctx)
        return COVE_OK;
    cove_batch b = {batch, NULL, NULL, n, NULL};
    st = cove_decode(e->ctx, &b, err);
    if (st == COVE_OK) {
        memcpy(e->cached + e->n_cached, batch, (size_t)n * sizeof *batch);
        e->n_cached += n;
    }
    return st;
}

static cove_status generate_loop(struct engine *e, const struct cove_agent_gen *g,
                                 cove_sampler *smp, cove_grammar_matcher *m,
                                 struct cove_buf *out, cove_error *err)
{
    cove_status st = COVE_OK;
    int complete = 0;
    for (int32_t i = 0; st == COVE_OK && !complete && i < g->max_tokens; i++) {
        int32_t tok = 0;
        st = pick(e, smp, m, &tok, err);
        if (st != COVE_OK || cove_token_is_eog(e->model, tok))
            break;
        cove_sampler_accept(smp, tok);
        st = advance(e, m, tok, out, &complete, err);
        if (st == COVE_OK && !complete && e->n_cached >= e->n_ctx)
            st = cove_error_set(err, COVE_ERR_LIMIT, "the context is full");
    }
    char buf[COVE_DETOK_BUF_MIN];
    size_t len = 0;
    if (st == COVE_OK && cove_detok_flush(e->detok, buf, sizeof buf, &len) == COVE_OK)
        st = cove_buf_append(out, buf, len);
    /* A plan cut at max_tokens is returned as it is: it does not parse, and the loop
     * tells the model so. */
    return st;
}

static cove_status engine_generate(void *state, const struct cove_agent_gen *g,
                                   struct cove_buf *out, cove_error *err)
{
    struct engine *e = state;
    int32_t n = 0;
    cove_status st = tokens_of(e, g, g->prefix, &n, err);
    if (st == COVE_OK)
        st = feed(e, n, err);
    if (st == COVE_OK && g->grammar)
        st = set_grammar(e, g->grammar, err);
    cove_sampler_params sp = cove_sampler_default_params();
    sp.temp = g->temperature;
    sp.seed = g->seed;
    sp.repeat_penalty = ENGINE_REPEAT_PENALTY;
    cove_sampler *smp = NULL;
    cove_grammar_matcher *m = NULL;
    if (st == COVE_OK)
        st = cove_sampler_create(sp, e->n_vocab, &smp, err);
    if (st == COVE_OK && g->grammar)
        st = cove_grammar_matcher_create(e->grammar, &m, err);
    if (st == COVE_OK && g->prefix && m)
        st = cove_grammar_matcher_accept_bytes(m, g->prefix, strlen(g->prefix), err);
    if (st == COVE_OK && g->prefix)
        st = cove_buf_append_str(out, g->prefix);
    cove_detok_reset(e->detok);
    if (st == COVE_OK)
        st = generate_loop(e, g, smp, m, out, err);
    cove_grammar_matcher_free(m);
    cove_sampler_free(smp);
    return st;
}

/* Make the cache hold toks[0, n): decode what it lacks (nothing when it holds them). */
static cove_status ensure_cached(struct engine *e, int32_t n, cove_error *err)
{
    int32_t p = 0;
    while (p < e->n_cached && p < n && e->cached[p] == e->toks[p])
        p++;
    return p >= n ? COVE_OK : feed(e, n, err);
}

/* Mean log-probability of toks[c, n1) given toks[0, c), decoding from position c - 1
 * (the cache must hold toks[0, c - 1): see ensure_cached). */
static cove_status score_tail(struct engine *e, int32_t c, int32_t n1, double *mean,
                              cove_error *err)
{
    int8_t want[SCORE_MAX_TOKENS + 1];
    int32_t nb = n1 - c + 1;
    if (c < 1 || nb > SCORE_MAX_TOKENS + 1 || nb < 2)
        return cove_error_set(err, COVE_ERR_LIMIT, "score: an option of %d tokens", (int)nb - 1);
    cove_status st = cove_context_seq_truncate(e->ctx, 0, c - 1);
    memset(want, 1, (size_t)nb);
    cove_batch b = {e->toks + c - 1, NULL, NULL, nb, want};
    if (st == COVE_OK)
        st = cove_decode(e->ctx, &b, err);
    if (st != COVE_OK)
        return st;
    memcpy(e->cached + c - 1, e->toks + c - 1, (size_t)nb * sizeof *e->toks);
    e->n_cached = n1;
    double sum = 0;
    for (int32_t i = 0; i + 1 < nb; i++) {
        const float *l = cove_context_logits(e->ctx, i);
        float mx = l[0];
        for (int32_t v = 1; v < e->n_vocab; v++)
            mx = l[v] > mx ? l[v] : mx;
        double z = 0;
        for (int32_t v = 0; v < e->n_vocab; v++)
            z += exp((double)(l[v] - mx));
        sum += (double)(l[e->toks[c + i]] - mx) - log(z);
    }
    *mean = sum / (nb - 1);
    return COVE_OK;
}

static cove_status engine_score(void *state, const struct cove_agent_gen *g,
                                const char *const *options, size_t n, double *scores,
                                cove_error *err)
{
    struct engine *e = state;
    int32_t n0 = 0, n1 = 0;
    cove_status st = tokens_of(e, g, g->prefix, &n0, err);
    int32_t *base = st == COVE_OK ? cove_malloc((size_t)n0 * sizeof *base) : NULL;
    if (st == COVE_OK && !base)
        st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (st == COVE_OK)
        memcpy(base, e->toks, (size_t)n0 * sizeof *base);
    for (size_t k = 0; st == COVE_OK && k < n; k++) {
        size_t pl = g->prefix ? strlen(g->prefix) : 0, ol = strlen(options[k]);
        char *tail = cove_malloc(pl + ol + 1);
        if (!tail) {
            st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(tail, g->prefix ? g->prefix : "", pl);
        memcpy(tail + pl, options[k], ol + 1);
        st = tokens_of(e, g, tail, &n1, err);
        cove_free(tail);
        int32_t c = 0;
        while (st == COVE_OK && c < n0 && c < n1 && base[c] == e->toks[c])
            c++;
        if (st == COVE_OK && c > 1) /* the conversation, whatever the last call left */
            st = ensure_cached(e, c - 1, err);
        if (st == COVE_OK)
            st = score_tail(e, c, n1, &scores[k], err);
    }
    cove_free(base);
    return st;
}

static const struct cove_agent_backend_ops engine_ops = {"engine", engine_generate, engine_free,
                                                         engine_score};

static cove_status engine_open(struct engine *e, const char *path, int32_t n_ctx,
                               int32_t n_threads, cove_error *err)
{
    cove_status st = cove_model_load(path, cove_model_default_params(), &e->model, err);
    cove_context_params cp = cove_context_default_params();
    cp.n_ctx = n_ctx > 0 ? n_ctx : 4096;
    cp.n_threads = n_threads;
    cp.n_outputs_max = SCORE_MAX_TOKENS + 1;
    if (st == COVE_OK)
        st = cove_context_create(e->model, cp, &e->ctx, err);
    if (st == COVE_OK)
        st = cove_detok_create(e->model, COVE_DETOK_STRIP_SPACE, &e->detok);
    if (st == COVE_OK)
        st = cove_grammar_vocab_create(e->model, &e->gvocab, err);
    if (st == COVE_OK)
        st = load_template(e, path, err);
    if (st != COVE_OK)
        return st;
    e->n_ctx = cove_context_n_ctx(e->ctx);
    e->n_vocab = cove_model_n_vocab(e->model);
    e->toks = cove_malloc((size_t)e->n_ctx * sizeof *e->toks);
    e->cached = cove_malloc((size_t)e->n_ctx * sizeof *e->cached);
    e->mask = cove_calloc(cove_grammar_vocab_mask_words(e->gvocab), sizeof *e->mask);
    e->logits = cove_malloc((size_t)e->n_vocab * sizeof *e->logits);
    if (!e->toks || !e->cached || !e->mask || !e->logits)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    return COVE_OK;
}

cove_status cove_agent_backend_engine(const char *model_path, int32_t n_ctx, int32_t n_threads,
                                      cove_agent_backend **out, cove_error *err)
{
    if (!model_path || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "engine backend: NULL argument");
    *out = NULL;
    struct engine *e = cove_calloc(1, sizeof *e);
    cove_agent_backend *b = cove_calloc(1, sizeof *b);
    if (!e || !b) {
        cove_free(e);
        cove_free(b);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    cove_status st = engine_open(e, model_path, n_ctx, n_threads, err);
    if (st != COVE_OK) {
        engine_free(e);
        cove_free(b);
        return st;
    }
    b->ops = &engine_ops;
    b->state = e;
    *out = b;
    return COVE_OK;
}
