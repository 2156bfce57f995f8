/*
 * engine/model/embed.c - embedders: one vector per text, through an encoder (embed_int.h).
 *
 * cove_embed tokenizes the texts one by one into a buffer of max_tokens, packs them back to
 * back into a pass of at most n_batch tokens, and when the next text does not fit runs the
 * pass, pools each text's token vectors into its row of the output and normalises it. All
 * buffers are allocated by cove_embedder_create; a pass allocates nothing (tokenizing a text
 * does, inside the tokenizer, and so does cutting a text with truncate).
 */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/limits.h"
#include "engine/model/embed_int.h"

#define N_BATCH_DEFAULT 512

/* Registered encoders, looked up by the model's architecture. */
static const cove_encoder *const encoder_table[] = {
    &cove_encoder_bert,
};

#define N_ENCODERS (sizeof encoder_table / sizeof encoder_table[0])

struct cove_embedder {
    const cove_model *m;
    const cove_encoder *enc;
    void *state;         /* the encoder's buffers */
    cove_pool *pool;     /* owned */
    enum cove_embed_pooling pooling; /* resolved: MEAN, CLS or LAST */
    int normalize;       /* resolved: 1 for L2 */
    int truncate;
    int32_t max_tokens, n_batch, n_embd;
    int32_t *toks;       /* [n_batch] tokens of the pass being packed */
    int32_t *seq_off;    /* [n_batch + 1] where each of its sequences starts */
    int32_t *text_toks;  /* [max_tokens] one text's tokens */
};

cove_embed_params cove_embed_default_params(void)
{
    cove_embed_params p = {
        .pooling = COVE_EMBED_POOLING_MODEL,
        .normalize = COVE_EMBED_NORM_MODEL,
        .max_tokens = 0,
        .truncate = 0,
        .n_batch = 0,
        .n_threads = 0,
    };
    return p;
}

/* ---- creation ---- */

static cove_status pick_encoder(const cove_model *m, const cove_encoder **out, cove_error *err)
{
    if (!m->arch)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "the model was loaded without weights");
    for (size_t i = 0; i < N_ENCODERS; i++) {
        if (encoder_table[i]->arch == m->arch) {
            *out = encoder_table[i];
            return COVE_OK;
        }
    }
    return cove_error_set(err, COVE_ERR_UNSUPPORTED, "'%s' models do not compute embeddings "
                          "(an encoder such as bert does)", m->arch_name);
}

/* Pooling and normalisation: the caller's, else the file's. */
static cove_status resolve_output(cove_embedder *e, const cove_embed_params *p,
                                  const cove_enc_info *in, cove_error *err)
{
    if (p->pooling < COVE_EMBED_POOLING_MODEL || p->pooling > COVE_EMBED_POOLING_LAST ||
        p->normalize < COVE_EMBED_NORM_MODEL || p->normalize > COVE_EMBED_NORM_L2)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad pooling or normalize parameter");
    if (p->pooling == COVE_EMBED_POOLING_NONE)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "pooling none gives no vector per text: "
                              "choose mean, cls or last (or the model's)");
    e->pooling = p->pooling == COVE_EMBED_POOLING_MODEL ? in->pooling : p->pooling;
    if (e->pooling == COVE_EMBED_POOLING_NONE)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "the model does not say how to pool its "
                              "token vectors (%s.pooling_type): choose mean, cls or last",
                              e->m->arch_name);
    e->normalize = p->normalize == COVE_EMBED_NORM_MODEL ? in->normalize
                                                         : p->normalize == COVE_EMBED_NORM_L2;
    e->truncate = p->truncate != 0;
    return COVE_OK;
}

/* Lengths and threads: the caller's, else the defaults; checked against the model and limits.h. */
static cove_status resolve_sizes(cove_embedder *e, const cove_embed_params *p,
                                 const cove_enc_info *in, int32_t *n_threads, cove_error *err)
{
    if (p->max_tokens < 0 || p->n_batch < 0 || p->n_threads < 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "max_tokens, n_batch and n_threads "
                              "must not be negative");
    e->max_tokens = p->max_tokens ? p->max_tokens : in->max_tokens;
    if (e->max_tokens > in->n_ctx)
        return cove_error_set(err, COVE_ERR_LIMIT, "max_tokens %d exceeds the model's context "
                              "of %d tokens", e->max_tokens, in->n_ctx);
    e->n_batch = p->n_batch ? p->n_batch
                            : (e->max_tokens > N_BATCH_DEFAULT ? e->max_tokens : N_BATCH_DEFAULT);
    if (e->n_batch < e->max_tokens)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "n_batch %d is smaller than max_tokens "
                              "%d: one text must fit in a pass", e->n_batch, e->max_tokens);
    if (e->n_batch > COVE_MAX_EMBED_BATCH || p->n_threads > COVE_MAX_THREADS)
        return cove_error_set(err, COVE_ERR_LIMIT, "n_batch (max %d) or n_threads (max %d) too "
                              "large", COVE_MAX_EMBED_BATCH, COVE_MAX_THREADS);
    *n_threads = p->n_threads ? p->n_threads : cove_cpu_get()->n_cpus_usable;
    if (*n_threads > COVE_MAX_THREADS)
        *n_threads = COVE_MAX_THREADS;
    return COVE_OK;
}

static cove_status alloc_parts(cove_embedder *e, int32_t n_threads, cove_error *err)
{
    int overflow = 0;
    size_t nb = cove_mul_size((size_t)e->n_batch + 1, sizeof(int32_t), &overflow);
    if (overflow)
        return cove_error_set(err, COVE_ERR_LIMIT, "n_batch too large");
    e->toks = cove_malloc(nb);
    e->seq_off = cove_malloc(nb);
    e->text_toks = cove_malloc((size_t)e->max_tokens * sizeof(int32_t));
    if (!e->toks || !e->seq_off || !e->text_toks ||
        cove_pool_create(n_threads, &e->pool) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory (or threads) creating an "
                              "embedder");
    return e->enc->state_create(e->m, e->n_batch, e->max_tokens, e->pool, &e->state, err);
}

cove_status cove_embedder_create(const cove_model *model, cove_embed_params params,
                                 cove_embedder **out, cove_error *err)
{
    const cove_encoder *enc;
    cove_enc_info info;
    int32_t n_threads = 1;
    if (!out || !model)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_embedder_create: NULL argument");
    *out = NULL;
    cove_status st = pick_encoder(model, &enc, err);
    if (st != COVE_OK)
        return st;
    cove_embedder *e = cove_calloc(1, sizeof *e);
    if (!e)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory creating an embedder");
    e->m = model;
    e->enc = enc;
    e->n_embd = model->hp.n_embd;
    enc->info(model, &info);
    if ((st = resolve_output(e, &params, &info, err)) ||
        (st = resolve_sizes(e, &params, &info, &n_threads, err)) ||
        (st = alloc_parts(e, n_threads, err))) {
        cove_embedder_free(e);
        return st;
    }
    *out = e;
    return COVE_OK;
}

void cove_embedder_free(cove_embedder *e)
{
    if (!e)
        return;
    if (e->enc)
        e->enc->state_free(e->state);
    cove_pool_free(e->pool);
    cove_free(e->toks);
    cove_free(e->seq_off);
    cove_free(e->text_toks);
    cove_free(e);
}

int32_t cove_embedder_n_embd(const cove_embedder *e) { return e->n_embd; }
int32_t cove_embedder_max_tokens(const cove_embedder *e) { return e->max_tokens; }
enum cove_embed_pooling cove_embedder_pooling(const cove_embedder *e) { return e->pooling; }
int cove_embedder_normalizes(const cove_embedder *e) { return e->normalize; }

/* ---- one sequence in ---- */

/* Where the sequences come from: texts, or token arrays. */
typedef struct seq_src {
    const char *const *texts;
    const int32_t *const *tokens;
    const int32_t *n_tokens;
} seq_src;

/* The first max_tokens - 1 tokens of a too-long text and its [SEP] (or its first max_tokens
 * when it does not end in one) into e->text_toks. */
static cove_status truncate_text(cove_embedder *e, const char *text, size_t len, int32_t total,
                                 int32_t *n, cove_error *err)
{
    int32_t got = 0, sep = cove_model_token_eos(e->m);
    int32_t *all = cove_malloc((size_t)total * sizeof *all);
    if (!all)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory truncating a text");
    cove_status st = cove_tokenize(e->m, text, len, 1, 0, all, total, &got, err);
    if (st == COVE_OK && got > e->max_tokens) {
        memcpy(e->text_toks, all, (size_t)e->max_tokens * sizeof *all);
        if (sep >= 0 && all[got - 1] == sep)
            e->text_toks[e->max_tokens - 1] = sep;
        *n = e->max_tokens;
    } else if (st == COVE_OK) { /* cannot happen: the same text gave `total` before */
        st = cove_error_set(err, COVE_ERR_INTERNAL, "the tokenizer gave %d tokens, then %d",
                            total, got);
    }
    cove_free(all);
    return st;
}

static cove_status text_seq(cove_embedder *e, const char *text, int32_t i, int32_t *n,
                            cove_error *err)
{
    if (!text)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "text %d is NULL", i);
    size_t len = strlen(text);
    cove_status st = cove_tokenize(e->m, text, len, 1, 0, e->text_toks, e->max_tokens, n, err);
    if (st == COVE_ERR_LIMIT && *n > e->max_tokens) {
        if (e->truncate)
            return truncate_text(e, text, len, *n, n, err);
        return cove_error_set(err, COVE_ERR_LIMIT, "text %d is too long: %d tokens, more than "
                              "the %d of max_tokens (shorten it, or truncate)", i, *n,
                              e->max_tokens);
    }
    if (st == COVE_OK && *n == 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "text %d gives no tokens", i);
    return st;
}

static cove_status token_seq(const cove_embedder *e, const int32_t *ids, int32_t n, int32_t i,
                             cove_error *err)
{
    const int32_t n_vocab = cove_model_n_vocab(e->m);
    if (!ids || n < 1)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sequence %d is empty", i);
    if (n > e->max_tokens)
        return cove_error_set(err, COVE_ERR_LIMIT, "sequence %d is too long: %d tokens, more "
                              "than the %d of max_tokens", i, n, e->max_tokens);
    for (int32_t t = 0; t < n; t++)
        if (ids[t] < 0 || ids[t] >= n_vocab)
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "sequence %d: token %d at %d is not "
                                  "in the vocabulary of %d", i, ids[t], t, n_vocab);
    return COVE_OK;
}

/* Sequence i of src: *ids (borrowed) and its length *n. */
static cove_status next_seq(cove_embedder *e, const seq_src *src, int32_t i, const int32_t **ids,
                            int32_t *n, cove_error *err)
{
    if (src->texts) {
        *ids = e->text_toks;
        return text_seq(e, src->texts[i], i, n, err);
    }
    *ids = src->tokens[i];
    *n = src->n_tokens[i];
    return token_seq(e, *ids, *n, i, err);
}

/* ---- passes ---- */

/* Pool the token vectors h[lo .. hi) into v and normalise it as the embedder says. */
static void pool_one(const cove_embedder *e, const float *h, int32_t lo, int32_t hi, float *v)
{
    const int64_t E = e->n_embd;
    if (e->pooling == COVE_EMBED_POOLING_MEAN) {
        for (int64_t d = 0; d < E; d++) {
            double acc = 0.0;
            for (int32_t t = lo; t < hi; t++)
                acc += h[t * E + d];
            v[d] = (float)(acc / (double)(hi - lo));
        }
    } else {
        int32_t t = e->pooling == COVE_EMBED_POOLING_CLS ? lo : hi - 1;
        memcpy(v, h + t * E, (size_t)E * sizeof *v);
    }
    if (!e->normalize)
        return;
    double ss = 0.0;
    for (int64_t d = 0; d < E; d++)
        ss += (double)v[d] * v[d];
    const double inv = 1.0 / fmax(sqrt(ss), 1e-12); /* as torch's F.normalize */
    for (int64_t d = 0; d < E; d++)
        v[d] = (float)(v[d] * inv);
}

/* Run the packed pass and write the vectors of its n_seq sequences to out. */
static void run_pass(cove_embedder *e, int32_t n_tok, int32_t n_seq, float *out)
{
    cove_enc_batch b = {e->toks, e->seq_off, n_tok, n_seq};
    const float *h = e->enc->encode(e->state, &b);
    for (int32_t s = 0; s < n_seq; s++)
        pool_one(e, h, e->seq_off[s], e->seq_off[s + 1], out + (size_t)s * (size_t)e->n_embd);
}

static cove_status embed_all(cove_embedder *e, const seq_src *src, int32_t n_seqs, float *out,
                             cove_error *err)
{
    int32_t n_tok = 0, n_seq = 0, done = 0;
    e->seq_off[0] = 0;
    for (int32_t i = 0; i < n_seqs; i++) {
        const int32_t *ids;
        int32_t n = 0;
        cove_status st = next_seq(e, src, i, &ids, &n, err);
        if (st != COVE_OK)
            return st;
        if (n_tok + n > e->n_batch) {
            run_pass(e, n_tok, n_seq, out + (size_t)done * (size_t)e->n_embd);
            done += n_seq;
            n_tok = n_seq = 0;
        }
        memcpy(e->toks + n_tok, ids, (size_t)n * sizeof *ids);
        n_tok += n;
        e->seq_off[++n_seq] = n_tok;
    }
    if (n_seq > 0)
        run_pass(e, n_tok, n_seq, out + (size_t)done * (size_t)e->n_embd);
    return COVE_OK;
}

cove_status cove_embed(cove_embedder *e, const char *const *texts, int32_t n_texts, float *out,
                       cove_error *err)
{
    if (!e || n_texts < 0 || (n_texts > 0 && (!texts || !out)))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_embed: bad arguments");
    seq_src src = {texts, NULL, NULL};
    return n_texts ? embed_all(e, &src, n_texts, out, err) : COVE_OK;
}

cove_status cove_embed_tokens(cove_embedder *e, const int32_t *const *tokens,
                              const int32_t *n_tokens, int32_t n_seqs, float *out,
                              cove_error *err)
{
    if (!e || n_seqs < 0 || (n_seqs > 0 && (!tokens || !n_tokens || !out)))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_embed_tokens: bad arguments");
    seq_src src = {NULL, tokens, n_tokens};
    return n_seqs ? embed_all(e, &src, n_seqs, out, err) : COVE_OK;
}

cove_status cove_model_embed(const cove_model *model, cove_embed_params params,
                             const char *const *texts, int32_t n_texts, float *out,
                             cove_error *err)
{
    cove_embedder *e = NULL;
    cove_status st = cove_embedder_create(model, params, &e, err);
    if (st == COVE_OK)
        st = cove_embed(e, texts, n_texts, out, err);
    cove_embedder_free(e);
    return st;
}
