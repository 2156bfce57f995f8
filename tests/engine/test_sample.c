/*
 * tests/engine/test_sample.c - the sampler: greedy, top-k/p, min-p, temperature, penalty, seeds.
 */
#include <math.h>
#include <string.h>

#include "cove/engine.h"
#include "test.h"

/* Sampler parameters with every stage off and temperature 1. */
static cove_sampler_params plain(uint64_t seed)
{
    cove_sampler_params p = cove_sampler_default_params();
    p.temp = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.seed = seed;
    return p;
}

static cove_sampler *make(cove_sampler_params p, int32_t n_vocab)
{
    cove_sampler *s = NULL;
    cove_error err = {0};
    if (cove_sampler_create(p, n_vocab, &s, &err) != COVE_OK)
        fprintf(stderr, "  sampler: %s\n", cove_error_msg(&err));
    return s;
}

static int32_t sample1(cove_sampler *s, const float *logits)
{
    int32_t t = -1;
    return cove_sampler_sample(s, logits, &t) == COVE_OK ? t : -1;
}

/* Counts of n draws over n_vocab tokens. */
static void histogram(cove_sampler *s, const float *logits, int n_vocab, int n, int *count)
{
    memset(count, 0, sizeof(int) * (size_t)n_vocab);
    for (int i = 0; i < n; i++) {
        int32_t t = sample1(s, logits);
        if (t >= 0 && t < n_vocab)
            count[t]++;
    }
}

TEST(sample_greedy_is_argmax)
{
    float lg[6] = {0.5f, 2.0f, -1.0f, 3.0f, 3.0f, 1.0f};
    cove_sampler_params p = cove_sampler_default_params();
    p.temp = 0.0f;
    cove_sampler *s = make(p, 6);
    CHECK(s);
    int32_t t = sample1(s, lg);
    lg[4] = 3.5f;
    int32_t t2 = sample1(s, lg);
    cove_sampler_free(s);
    CHECK_EQ_INT(t, 3); /* tie between 3 and 4: the lower id */
    CHECK_EQ_INT(t2, 4);
}

TEST(sample_top_k_one_is_greedy)
{
    float lg[64];
    for (int i = 0; i < 64; i++)
        lg[i] = sinf((float)i * 1.7f) * 3.0f;
    int32_t best = 0;
    for (int i = 1; i < 64; i++)
        if (lg[i] > lg[best])
            best = i;
    cove_sampler_params p = plain(7);
    p.top_k = 1;
    p.temp = 5.0f;
    cove_sampler *s = make(p, 64);
    CHECK(s);
    int all_best = 1;
    for (int i = 0; i < 200; i++)
        all_best &= sample1(s, lg) == best;
    cove_sampler_free(s);
    CHECK(all_best);
}

TEST(sample_seed_reproduces)
{
    float lg[32];
    for (int i = 0; i < 32; i++)
        lg[i] = (float)(i % 7) * 0.3f;
    cove_sampler *a = make(plain(42), 32), *b = make(plain(42), 32), *c = make(plain(43), 32);
    CHECK(a && b && c);
    int same = 1, differ = 0;
    int32_t first[100];
    for (int i = 0; i < 100; i++) {
        first[i] = sample1(a, lg);
        same &= first[i] == sample1(b, lg);
        differ |= first[i] != sample1(c, lg);
    }
    cove_sampler_reset(a); /* back to the seed */
    for (int i = 0; i < 100; i++)
        same &= first[i] == sample1(a, lg);
    cove_sampler_free(a);
    cove_sampler_free(b);
    cove_sampler_free(c);
    CHECK(same);
    CHECK(differ);
}

TEST(sample_matches_softmax)
{
    enum { V = 5, N = 200000 };
    float lg[V] = {1.0f, 0.0f, 2.0f, -1.0f, 0.5f};
    double p[V], sum = 0;
    int count[V];
    for (int i = 0; i < V; i++)
        sum += (p[i] = exp(lg[i]));
    cove_sampler *s = make(plain(1234), V);
    CHECK(s);
    histogram(s, lg, V, N, count);
    cove_sampler_free(s);
    for (int i = 0; i < V; i++) {
        double f = (double)count[i] / N, want = p[i] / sum;
        CHECK_MSG(fabs(f - want) < 0.005, "token %d: frequency %.4f, softmax %.4f", i, f, want);
    }
}

TEST(sample_temperature)
{
    enum { V = 3, N = 100000 };
    float lg[V] = {1.0f, 0.0f, -1.0f};
    int count[V];
    cove_sampler_params p = plain(9);
    p.temp = 2.0f; /* softmax of logits / 2 */
    cove_sampler *s = make(p, V);
    CHECK(s);
    histogram(s, lg, V, N, count);
    cove_sampler_free(s);
    double z = exp(0.5) + 1 + exp(-0.5);
    CHECK(fabs((double)count[0] / N - exp(0.5) / z) < 0.006);
    CHECK(fabs((double)count[2] / N - exp(-0.5) / z) < 0.006);
}

TEST(sample_top_p)
{
    enum { V = 4, N = 20000 };
    /* probabilities 0.5, 0.3, 0.15, 0.05 */
    float lg[V] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    int count[V];
    cove_sampler_params p = plain(5);
    p.top_p = 0.7f; /* 0.5 + 0.3 reach it */
    cove_sampler *s = make(p, V);
    CHECK(s);
    histogram(s, lg, V, N, count);
    cove_sampler_free(s);
    CHECK(count[2] == 0 && count[3] == 0);
    CHECK(fabs((double)count[0] / N - 0.625) < 0.02); /* renormalised 0.5 / 0.8 */
}

TEST(sample_min_p)
{
    enum { V = 4, N = 20000 };
    float lg[V] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    int count[V];
    cove_sampler_params p = plain(6);
    p.min_p = 0.25f; /* keeps p >= 0.125 */
    cove_sampler *s = make(p, V);
    CHECK(s);
    histogram(s, lg, V, N, count);
    cove_sampler_free(s);
    CHECK(count[0] > 0 && count[1] > 0 && count[2] > 0);
    CHECK_EQ_INT(count[3], 0);
}

TEST(sample_top_k)
{
    enum { V = 10, N = 5000 };
    float lg[V] = {0.1f, 0.9f, 0.3f, 0.8f, 0.2f, 0.7f, 0.0f, 0.4f, 0.6f, 0.5f};
    int count[V];
    cove_sampler_params p = plain(11);
    p.top_k = 3; /* ids 1, 3, 5 */
    cove_sampler *s = make(p, V);
    CHECK(s);
    histogram(s, lg, V, N, count);
    cove_sampler_free(s);
    CHECK(count[1] > 0 && count[3] > 0 && count[5] > 0);
    CHECK_EQ_INT(count[1] + count[3] + count[5], N);
}

TEST(sample_repeat_penalty)
{
    float lg[4] = {1.0f, 3.0f, 2.5f, -1.0f};
    cove_sampler_params p = cove_sampler_default_params();
    p.temp = 0.0f;
    p.repeat_penalty = 1.5f; /* 3.0 / 1.5 = 2.0 < 2.5 */
    p.repeat_last_n = 2;
    cove_sampler *s = make(p, 4);
    CHECK(s);
    int32_t before = sample1(s, lg);
    cove_sampler_accept(s, 1);
    cove_sampler_accept(s, 1); /* counted once */
    int32_t after = sample1(s, lg);
    cove_sampler_accept(s, 0);
    cove_sampler_accept(s, 3); /* token 1 falls out of the window of 2 */
    int32_t later = sample1(s, lg);
    cove_sampler_free(s);
    CHECK_EQ_INT(before, 1);
    CHECK_EQ_INT(after, 2);
    CHECK_EQ_INT(later, 1);
}

TEST(sample_bad_params)
{
    cove_sampler *s = (cove_sampler *)(uintptr_t)1;
    cove_sampler_params p = cove_sampler_default_params();
    CHECK_EQ_INT(cove_sampler_create(p, 0, &s, NULL), COVE_ERR_INVALID_ARG);
    CHECK(s == NULL);
    p.top_k = -1;
    CHECK_EQ_INT(cove_sampler_create(p, 10, &s, NULL), COVE_ERR_INVALID_ARG);
    p = cove_sampler_default_params();
    p.temp = NAN;
    CHECK_EQ_INT(cove_sampler_create(p, 10, &s, NULL), COVE_ERR_INVALID_ARG);
    p = cove_sampler_default_params();
    p.repeat_penalty = 0.0f;
    CHECK_EQ_INT(cove_sampler_create(p, 10, &s, NULL), COVE_ERR_INVALID_ARG);
    p = cove_sampler_default_params();
    CHECK_OK(cove_sampler_create(p, 10, &s, NULL));
    int32_t t;
    CHECK_EQ_INT(cove_sampler_sample(s, NULL, &t), COVE_ERR_INVALID_ARG);
    cove_sampler_free(s);
    cove_sampler_free(NULL);
}

/* The default chain (top-k 40, top-p, min-p, temperature) draws only likely tokens. */
TEST(sample_default_chain)
{
    enum { V = 1000 };
    static float lg[V];
    for (int i = 0; i < V; i++)
        lg[i] = -10.0f;
    lg[17] = 5.0f;
    lg[500] = 4.5f;
    cove_sampler *s = make(cove_sampler_default_params(), V);
    CHECK(s);
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        int32_t t = sample1(s, lg);
        ok &= t == 17 || t == 500;
    }
    cove_sampler_free(s);
    CHECK(ok);
}
