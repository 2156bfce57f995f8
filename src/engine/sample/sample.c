/*
 * engine/sample/sample.c - the sampler object: chain of stages, RNG, final draw.
 *
 * RNG: xoshiro256** (Blackman and Vigna), its state seeded by splitmix64 of the seed;
 * a draw takes the top 53 bits as a double in [0, 1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "engine/sample/sample_int.h"

/* Stages in the order they run. */
static const cove_sample_stage *const stage_table[] = {
    &cove_stage_penalty, &cove_stage_top_k, &cove_stage_top_p, &cove_stage_min_p, &cove_stage_temp,
};

#define N_STAGES (sizeof stage_table / sizeof stage_table[0])
_Static_assert(N_STAGES <= COVE_SAMPLE_MAX_STAGES, "raise COVE_SAMPLE_MAX_STAGES");

cove_sampler_params cove_sampler_default_params(void)
{
    cove_sampler_params p = {
        .temp = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .seed = 0x5eed,
    };
    return p;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static double rng_uniform(uint64_t s[4])
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

void cove_sampler_reset(cove_sampler *s)
{
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
    s->n_hist = 0;
    s->hist_at = 0;
}

static cove_status check_sampler_params(const cove_sampler_params *p, int32_t n_vocab,
                                        cove_error *err)
{
    if (n_vocab <= 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sampler: n_vocab must be positive");
    if (isnan(p->temp) || isnan(p->top_p) || isnan(p->min_p) || isnan(p->repeat_penalty) ||
        p->repeat_penalty <= 0.0f || isinf(p->repeat_penalty))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sampler: temperature, top-p, min-p and "
                              "repeat penalty must be numbers (the penalty positive)");
    if (p->top_k < 0 || p->repeat_last_n < 0 || p->repeat_last_n > COVE_SAMPLE_MAX_HISTORY)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sampler: top-k must be >= 0 and "
                              "repeat_last_n in [0, %d]", COVE_SAMPLE_MAX_HISTORY);
    return COVE_OK;
}

cove_status cove_sampler_create(cove_sampler_params params, int32_t n_vocab, cove_sampler **out,
                                cove_error *err)
{
    if (!out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_sampler_create: out is NULL");
    *out = NULL;
    cove_status st = check_sampler_params(&params, n_vocab, err);
    if (st != COVE_OK)
        return st;
    cove_sampler *s = cove_calloc(1, sizeof *s);
    if (s) {
        s->cand = cove_malloc((size_t)n_vocab * sizeof *s->cand);
        s->mark = cove_calloc((size_t)n_vocab, 1);
        s->hist = cove_malloc(((size_t)params.repeat_last_n + 1) * sizeof *s->hist);
    }
    if (!s || !s->cand || !s->mark || !s->hist) {
        cove_sampler_free(s);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory creating a sampler");
    }
    s->p = params;
    s->n_vocab = n_vocab;
    for (size_t i = 0; i < N_STAGES; i++)
        if (stage_table[i]->active(&params))
            s->chain[s->n_chain++] = stage_table[i];
    cove_sampler_reset(s);
    *out = s;
    return COVE_OK;
}

void cove_sampler_free(cove_sampler *s)
{
    if (!s)
        return;
    cove_free(s->cand);
    cove_free(s->mark);
    cove_free(s->hist);
    cove_free(s);
}

void cove_sampler_accept(cove_sampler *s, int32_t token)
{
    if (!s || s->p.repeat_last_n == 0 || token < 0 || token >= s->n_vocab)
        return;
    s->hist[s->hist_at] = token;
    s->hist_at = (s->hist_at + 1) % s->p.repeat_last_n;
    if (s->n_hist < s->p.repeat_last_n)
        s->n_hist++;
}

/* Highest logit, lowest id on ties (the list is in id order or sorted). */
static int32_t argmax(const cove_cand_list *cl)
{
    int32_t best = 0;
    for (int32_t i = 1; i < cl->n; i++)
        if (cove_cand_before(&cl->c[i], &cl->c[best]))
            best = i;
    return cl->c[best].id;
}

/* Draw from the softmax of what is left. */
static int32_t draw(cove_sampler *s, cove_cand_list *cl)
{
    cove_cand_softmax(cl);
    double u = rng_uniform(s->rng), acc = 0.0;
    for (int32_t i = 0; i < cl->n; i++) {
        acc += cl->c[i].p;
        if (u < acc)
            return cl->c[i].id;
    }
    return argmax(cl); /* u beyond the rounded total: the mass is at the top */
}

cove_status cove_sampler_sample(cove_sampler *s, const float *logits, int32_t *token)
{
    if (!s || !logits || !token)
        return COVE_ERR_INVALID_ARG;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float l = logits[i];
        s->cand[i] = (cove_cand){i, isnan(l) ? -INFINITY : l, 0.0f};
    }
    cove_cand_list cl = {s->cand, s->n_vocab, 0};
    for (int i = 0; i < s->n_chain; i++) {
        if (s->p.temp <= 0.0f && s->chain[i] != &cove_stage_penalty)
            continue; /* greedy: only the penalty changes the argmax */
        s->chain[i]->apply(s, &cl);
    }
    *token = s->p.temp <= 0.0f ? argmax(&cl) : draw(s, &cl);
    return COVE_OK;
}

/* ---- helpers for the stages ---- */

static int cmp_cand(const void *a, const void *b)
{
    return cove_cand_before(a, b) ? -1 : cove_cand_before(b, a) ? 1 : 0;
}

void cove_cand_sort(cove_cand_list *cl)
{
    if (!cl->sorted)
        qsort(cl->c, (size_t)cl->n, sizeof *cl->c, cmp_cand);
    cl->sorted = 1;
}

void cove_cand_softmax(cove_cand_list *cl)
{
    float max = -INFINITY;
    for (int32_t i = 0; i < cl->n; i++)
        if (cl->c[i].logit > max)
            max = cl->c[i].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < cl->n; i++) {
        double e = max == -INFINITY ? 1.0 : exp((double)cl->c[i].logit - (double)max);
        cl->c[i].p = (float)e;
        sum += e;
    }
    for (int32_t i = 0; i < cl->n; i++)
        cl->c[i].p = (float)(cl->c[i].p / sum);
}
