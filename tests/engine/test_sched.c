/*
 * tests/engine/test_sched.c - the scheduler (cove/sched.h) on stories260K: batched greedy
 * output equals plain sequential decoding, cancellation, queue and prompt bounds, the
 * prefix cache (reuse, identical output, eviction), stop strings, log-probabilities,
 * shutdown modes, and cove_context_seq_copy.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cove/engine.h"
#include "cove/sched.h"
#include "test.h"

#define STORIES "stories260K.gguf"
#define MAX_OUT 512

static const char *const texts[8] = {
    "Once upon a time, there was a little girl named Lily.",
    "The cat sat on the mat and looked at the big red ball.",
    "Tom and Sue went to the park. They played",
    "One day, a bird flew",
    "The dog was very happy because",
    "Mom said: \"You must be careful with the sharp knife, Ben.\" Ben nodded and",
    "There was a big tree in the garden. Every morning, the little boy",
    "Sam",
};

static cove_model *load_stories(void)
{
    cove_model *m = NULL;
    cove_error err = {0};
    if (cove_model_load(test_model_path(STORIES), cove_model_default_params(), &m, &err) != COVE_OK)
        fprintf(stderr, "  cannot load %s: %s\n", STORIES, cove_error_msg(&err));
    return m;
}

static int32_t tokenize(const cove_model *m, const char *text, int32_t *out, int32_t max)
{
    int32_t n = 0;
    if (cove_tokenize(m, text, strlen(text), 1, 0, out, max, &n, NULL) != COVE_OK)
        return -1;
    return n;
}

/* Greedy generation the plain way: one context, whole prompt, then a token at a time. */
static int32_t reference(const cove_model *m, const int32_t *prompt, int32_t n_prompt,
                         int32_t n_predict, int32_t n_ctx, int32_t *out)
{
    cove_context_params cp = cove_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = 2;
    cove_context *c = NULL;
    cove_sampler_params sp = cove_sampler_default_params();
    sp.temp = 0;
    cove_sampler *smp = NULL;
    if (cove_context_create(m, cp, &c, NULL) != COVE_OK ||
        cove_sampler_create(sp, cove_model_n_vocab(m), &smp, NULL) != COVE_OK) {
        cove_context_free(c);
        return -1;
    }
    cove_batch b = {prompt, NULL, NULL, n_prompt, NULL};
    int32_t n = 0;
    cove_status st = cove_decode(c, &b, NULL);
    while (st == COVE_OK && (n_predict < 0 || n < n_predict)) {
        int32_t tok;
        cove_sampler_sample(smp, cove_context_logits(c, -1), &tok);
        if (cove_token_is_eog(m, tok))
            break;
        out[n++] = tok;
        if (n_prompt + n >= n_ctx)
            break;
        cove_batch one = {&tok, NULL, NULL, 1, NULL};
        st = cove_decode(c, &one, NULL);
    }
    cove_sampler_free(smp);
    cove_context_free(c);
    return st == COVE_OK ? n : -1;
}

/* ---- collecting results ---- */

typedef struct collect {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, n_events, n_done_calls;
    int cancel_after;   /* > 0: on_token asks to stop after this many events */
    int notify_after;   /* > 0: set `notified` after this many events */
    int notified;
    int32_t toks[MAX_OUT];
    int32_t n_toks;
    char text[8192];
    size_t text_len, streamed_len;
    char streamed[8192];
    float logprob0, top0;
    int32_t top_tok0, n_top0;
    enum cove_sched_finish finish;
    cove_status status;
    int32_t n_prompt, n_cached, n_generated;
    char stop[64];
} collect;

static void collect_init(collect *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void collect_free(collect *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static int on_token(void *user, const cove_sched_token *ev)
{
    collect *c = user;
    pthread_mutex_lock(&c->mu);
    if (c->streamed_len + ev->text_len < sizeof c->streamed) {
        memcpy(c->streamed + c->streamed_len, ev->text, ev->text_len);
        c->streamed_len += ev->text_len;
    }
    if (ev->token >= 0 && ev->index == 0) {
        c->logprob0 = ev->logprob;
        c->n_top0 = ev->n_top;
        c->top_tok0 = ev->n_top ? ev->top[0].token : -1;
        c->top0 = ev->n_top ? ev->top[0].logprob : 0;
    }
    if (ev->token >= 0)
        c->n_events++;
    if (c->notify_after && c->n_events >= c->notify_after) {
        c->notified = 1;
        pthread_cond_broadcast(&c->cv);
    }
    int stop = c->cancel_after && c->n_events >= c->cancel_after;
    pthread_mutex_unlock(&c->mu);
    return stop;
}

static void on_done(void *user, const cove_sched_result *r)
{
    collect *c = user;
    pthread_mutex_lock(&c->mu);
    c->n_toks = r->n_generated < MAX_OUT ? r->n_generated : MAX_OUT;
    memcpy(c->toks, r->tokens, (size_t)c->n_toks * sizeof(int32_t));
    c->text_len = r->text_len < sizeof c->text - 1 ? r->text_len : sizeof c->text - 1;
    memcpy(c->text, r->text, c->text_len);
    c->finish = r->finish;
    c->status = r->status;
    c->n_prompt = r->n_prompt;
    c->n_cached = r->n_cached;
    c->n_generated = r->n_generated;
    snprintf(c->stop, sizeof c->stop, "%s", r->stop ? r->stop : "");
    c->done = 1;
    c->n_done_calls++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void wait_done(collect *c)
{
    pthread_mutex_lock(&c->mu);
    while (!c->done)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static void wait_notified(collect *c)
{
    pthread_mutex_lock(&c->mu);
    while (!c->notified && !c->done)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static cove_sched_request greedy_request(const int32_t *p, int32_t n, int32_t n_predict,
                                         collect *c)
{
    cove_sched_request q = cove_sched_default_request();
    q.prompt = p;
    q.n_prompt = n;
    q.sampler.temp = 0;
    q.n_predict = n_predict;
    q.on_token = on_token;
    q.on_done = on_done;
    q.user = c;
    return q;
}

static cove_sched *make_sched(const cove_model *m, int32_t slots, int32_t n_ctx, int32_t batch,
                              int32_t queue, int prefix)
{
    cove_sched_params p = cove_sched_default_params();
    p.n_slots = slots;
    p.n_ctx = n_ctx;
    p.n_batch = batch;
    p.n_queue_max = queue;
    p.n_threads = 2;
    p.prefix_cache = prefix;
    cove_sched *s = NULL;
    cove_error err = {0};
    if (cove_sched_create(m, p, &s, &err) != COVE_OK)
        fprintf(stderr, "  cove_sched_create: %s\n", cove_error_msg(&err));
    return s;
}

/* Run one greedy request to its end. */
static cove_status run_one(cove_sched *s, const int32_t *p, int32_t n, int32_t n_predict,
                           collect *c)
{
    cove_sched_request q = greedy_request(p, n, n_predict, c);
    cove_sched_id id;
    cove_status st = cove_sched_submit(s, &q, &id, NULL);
    if (st == COVE_OK)
        wait_done(c);
    return st;
}

static int same_tokens(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    if (na != nb) {
        fprintf(stderr, "  %d tokens vs %d\n", na, nb);
        return 0;
    }
    for (int32_t i = 0; i < na; i++)
        if (a[i] != b[i]) {
            fprintf(stderr, "  token %d differs: %d vs %d\n", i, a[i], b[i]);
            return 0;
        }
    return 1;
}

/* ---- tests ---- */

TEST(sched_greedy_matches_sequential)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128], ref[MAX_OUT];
    int32_t n = tokenize(m, texts[0], p, 128);
    int32_t n_ref = reference(m, p, n, 60, 256, ref);
    cove_sched *s = make_sched(m, 2, 256, 64, 4, 1);
    collect c;
    collect_init(&c);
    cove_status st = s ? run_one(s, p, n, 60, &c) : COVE_ERR_INTERNAL;
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st);
    CHECK(n_ref > 10);
    CHECK(same_tokens(c.toks, c.n_toks, ref, n_ref));
    CHECK(c.finish == COVE_SCHED_FINISH_LENGTH || c.finish == COVE_SCHED_FINISH_EOS);
    CHECK_EQ_INT(c.n_prompt, n);
    CHECK_EQ_INT(c.n_generated, n_ref);
    CHECK(c.streamed_len == c.text_len && memcmp(c.streamed, c.text, c.text_len) == 0);
    collect_free(&c);
}

/* Eight requests at once, different prompts and lengths, small steps (chunked prompts):
 * each gives what it gives alone. */
static void concurrent(int32_t slots, int32_t batch, int *ok)
{
    cove_model *m = load_stories();
    *ok = 0;
    if (!m)
        return;
    static int32_t p[8][128], ref[8][MAX_OUT];
    int32_t n[8], n_ref[8], n_predict[8] = {40, 25, 60, 10, 33, 50, 5, 70};
    collect c[8];
    for (int i = 0; i < 8; i++) {
        n[i] = tokenize(m, texts[i], p[i], 128);
        n_ref[i] = reference(m, p[i], n[i], n_predict[i], 256, ref[i]);
        collect_init(&c[i]);
    }
    cove_sched *s = make_sched(m, slots, 256, batch, 16, 1);
    int good = s != NULL;
    for (int i = 0; good && i < 8; i++) {
        cove_sched_request q = greedy_request(p[i], n[i], n_predict[i], &c[i]);
        cove_sched_id id;
        good = cove_sched_submit(s, &q, &id, NULL) == COVE_OK;
    }
    for (int i = 0; good && i < 8; i++) {
        wait_done(&c[i]);
        if (!same_tokens(c[i].toks, c[i].n_toks, ref[i], n_ref[i])) {
            fprintf(stderr, "  request %d differs\n", i);
            good = 0;
        }
    }
    cove_sched_metrics mt = {0};
    if (s)
        cove_sched_metrics_get(s, &mt);
    cove_sched_free(s);
    for (int i = 0; i < 8; i++)
        collect_free(&c[i]);
    cove_model_free(m);
    if (good)
        fprintf(stderr, "  %d slots, n_batch %d: %llu steps, mean batch %.1f tokens, %.1f seqs\n",
                slots, batch, (unsigned long long)mt.steps,
                (double)mt.batch_tokens / (double)mt.steps,
                (double)mt.batch_seqs / (double)mt.steps);
    *ok = good && mt.requests_finished == 8 && mt.active == 0 && mt.queue_len == 0 &&
          mt.batch_seqs > mt.steps; /* several sequences per step */
}

TEST(sched_concurrent_8_match_sequential)
{
    int ok;
    concurrent(8, 16, &ok);
    CHECK(ok);
}

TEST(sched_concurrent_queued_match_sequential)
{
    int ok;
    concurrent(3, 8, &ok); /* five wait in the queue; prompts in chunks of a few tokens */
    CHECK(ok);
}

TEST(sched_cancel_frees_slot)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[2], p, 128);
    cove_sched *s = make_sched(m, 1, 256, 64, 4, 1);
    collect c, c2;
    collect_init(&c);
    collect_init(&c2);
    cove_sched_request q = greedy_request(p, n, -1, &c);
    q.ignore_eos = 1; /* runs until the context is full unless cancelled */
    c.notify_after = 5;
    cove_sched_id id = 0;
    cove_status st = s ? cove_sched_submit(s, &q, &id, NULL) : COVE_ERR_INTERNAL;
    if (st == COVE_OK) {
        wait_notified(&c);
        st = cove_sched_cancel(s, id);
        wait_done(&c);
    }
    cove_sched_metrics mt = {0};
    cove_status again = COVE_ERR_INTERNAL, st2 = COVE_ERR_INTERNAL;
    if (s) {
        cove_sched_metrics_get(s, &mt);
        again = cove_sched_cancel(s, id);
        st2 = run_one(s, p, n, 8, &c2); /* the one slot is free again */
    }
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st);
    CHECK(c.finish == COVE_SCHED_FINISH_CANCELLED);
    CHECK(c.status == COVE_ERR_CANCELLED);
    CHECK(c.n_generated >= 5 && c.n_generated < 256 - n);
    CHECK_EQ_INT(mt.active, 0);
    CHECK_EQ_INT(mt.requests_cancelled, 1);
    CHECK(again == COVE_ERR_NOT_FOUND);
    CHECK_OK(st2);
    CHECK(c2.finish == COVE_SCHED_FINISH_LENGTH && c2.n_generated == 8);
    CHECK_EQ_INT(c.n_done_calls, 1);
    collect_free(&c);
    collect_free(&c2);
}

/* on_token returning non-zero cancels as well. */
TEST(sched_cancel_from_callback)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[1], p, 128);
    cove_sched *s = make_sched(m, 2, 256, 64, 4, 1);
    collect c;
    collect_init(&c);
    c.cancel_after = 3;
    cove_sched_request q = greedy_request(p, n, -1, &c);
    q.ignore_eos = 1;
    cove_sched_id id;
    cove_status st = s ? cove_sched_submit(s, &q, &id, NULL) : COVE_ERR_INTERNAL;
    if (st == COVE_OK)
        wait_done(&c);
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st);
    CHECK(c.finish == COVE_SCHED_FINISH_CANCELLED);
    CHECK_EQ_INT(c.n_generated, 3);
    collect_free(&c);
}

TEST(sched_queue_bound)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[0], p, 128);
    cove_sched *s = make_sched(m, 1, 256, 64, 1, 1);
    collect c[3];
    cove_sched_id id[3] = {0};
    cove_status st[3] = {COVE_ERR_INTERNAL, COVE_ERR_INTERNAL, COVE_ERR_INTERNAL};
    cove_error err = {0};
    for (int i = 0; i < 3; i++)
        collect_init(&c[i]);
    for (int i = 0; s && i < 3; i++) {
        cove_sched_request q = greedy_request(p, n, -1, &c[i]);
        q.ignore_eos = 1;
        st[i] = cove_sched_submit(s, &q, &id[i], &err);
    }
    cove_sched_metrics mt = {0};
    if (s) {
        cove_sched_metrics_get(s, &mt);
        cove_sched_cancel(s, id[0]);
        cove_sched_cancel(s, id[1]);
    }
    for (int i = 0; i < 2; i++)
        if (st[i] == COVE_OK)
            wait_done(&c[i]);
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st[0]);
    CHECK_OK(st[1]);
    CHECK(st[2] == COVE_ERR_LIMIT);
    CHECK(strstr(err.msg, "queue is full") != NULL);
    CHECK(id[2] == 0);
    CHECK_EQ_INT(mt.requests_rejected, 1);
    CHECK_EQ_INT(mt.requests_submitted, 2);
    CHECK(c[0].finish == COVE_SCHED_FINISH_CANCELLED && c[1].finish == COVE_SCHED_FINISH_CANCELLED);
    CHECK(c[2].n_done_calls == 0);
    for (int i = 0; i < 3; i++)
        collect_free(&c[i]);
}

TEST(sched_prompt_too_long)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[65];
    for (int i = 0; i < 65; i++)
        p[i] = 300 + i;
    cove_sched *s = make_sched(m, 2, 64, 32, 4, 1);
    collect c;
    collect_init(&c);
    cove_sched_request q = greedy_request(p, 65, 4, &c);
    cove_sched_id id = 7;
    cove_error err = {0};
    cove_status st = s ? cove_sched_submit(s, &q, &id, &err) : COVE_ERR_INTERNAL;
    q.n_prompt = 64; /* exactly the context: one token comes out, then it is full */
    cove_status st64 = s ? run_one(s, p, 64, 4, &c) : COVE_ERR_INTERNAL;
    cove_sched_free(s);
    cove_model_free(m);
    CHECK(st == COVE_ERR_LIMIT);
    CHECK(id == 0);
    CHECK(strstr(err.msg, "prompt is too long: 65 tokens") != NULL);
    CHECK_OK(st64);
    CHECK(c.finish == COVE_SCHED_FINISH_LENGTH || c.finish == COVE_SCHED_FINISH_EOS);
    CHECK(c.n_generated <= 1);
    collect_free(&c);
}

TEST(sched_bad_requests)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[4] = {1, 300, 301, 302}, bad[2] = {1, 100000};
    cove_sched *s = make_sched(m, 1, 64, 32, 4, 1);
    CHECK(s);
    collect c;
    collect_init(&c);
    cove_sched_id id;
    cove_sched_request q = greedy_request(p, 4, 0, &c);
    int ok = cove_sched_submit(s, &q, &id, NULL) == COVE_ERR_INVALID_ARG;
    q = greedy_request(bad, 2, 4, &c);
    ok = ok && cove_sched_submit(s, &q, &id, NULL) == COVE_ERR_INVALID_ARG;
    q = greedy_request(p, 4, 4, &c);
    q.on_done = NULL;
    ok = ok && cove_sched_submit(s, &q, &id, NULL) == COVE_ERR_INVALID_ARG;
    q = greedy_request(p, 4, 4, &c);
    q.n_logprobs = COVE_SCHED_MAX_LOGPROBS + 1;
    ok = ok && cove_sched_submit(s, &q, &id, NULL) == COVE_ERR_INVALID_ARG;
    const char *empty[1] = {""};
    q = greedy_request(p, 4, 4, &c);
    q.stop = empty;
    q.n_stop = 1;
    ok = ok && cove_sched_submit(s, &q, &id, NULL) == COVE_ERR_INVALID_ARG;
    q = greedy_request(p, 4, 4, &c);
    q.grammar = "root ::= \"a\" missing";
    cove_error err = {0};
    ok = ok && cove_sched_submit(s, &q, &id, &err) == COVE_ERR_FORMAT;
    fprintf(stderr, "  bad grammar: %s\n", err.msg);
    q = greedy_request(p, 4, 4, &c);
    q.sampler.top_k = -1;
    ok = ok && cove_sched_submit(s, &q, &id, NULL) == COVE_ERR_INVALID_ARG;
    ok = ok && cove_sched_cancel(s, 12345) == COVE_ERR_NOT_FOUND;
    cove_sched_free(s);
    cove_model_free(m);
    CHECK(ok);
    CHECK_EQ_INT(c.n_done_calls, 0);
    collect_free(&c);
}

/* The same prompt twice: the second reuses all but its last token and gives the same
 * output; a longer prompt with that prefix reuses the prefix. */
TEST(sched_prefix_cache_reuse)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[256], ref[MAX_OUT];
    int32_t n = tokenize(m, texts[5], p, 200);
    int32_t n2 = n + tokenize(m, texts[6], p + n, 100) - 1; /* drop its BOS */
    memmove(p + n, p + n + 1, (size_t)(n2 - n) * sizeof(int32_t));
    int32_t n_ref = reference(m, p, n2, 30, 256, ref);
    cove_sched *s = make_sched(m, 2, 256, 512, 4, 1);
    collect c[3];
    for (int i = 0; i < 3; i++)
        collect_init(&c[i]);
    cove_status st0 = s ? run_one(s, p, n, 30, &c[0]) : COVE_ERR_INTERNAL;
    cove_status st1 = s ? run_one(s, p, n, 30, &c[1]) : COVE_ERR_INTERNAL;
    cove_status st2 = s ? run_one(s, p, n2, 30, &c[2]) : COVE_ERR_INTERNAL;
    cove_sched_metrics mt = {0};
    if (s)
        cove_sched_metrics_get(s, &mt);
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st0);
    CHECK_OK(st1);
    CHECK_OK(st2);
    CHECK_EQ_INT(c[0].n_cached, 0);
    CHECK_EQ_INT(c[1].n_cached, n - 1);
    CHECK(same_tokens(c[1].toks, c[1].n_toks, c[0].toks, c[0].n_toks));
    CHECK(c[2].n_cached >= n);  /* the prompt and generated tokens cached by the second */
    CHECK(same_tokens(c[2].toks, c[2].n_toks, ref, n_ref));
    CHECK_EQ_INT(mt.prefix_lookups, 3);
    CHECK_EQ_INT(mt.prefix_hits, 2);
    CHECK_EQ_INT(mt.tokens_reused, (uint64_t)(c[1].n_cached + c[2].n_cached));
    CHECK_EQ_INT(mt.tokens_prompt, (uint64_t)(2 * n + n2));
    for (int i = 0; i < 3; i++)
        collect_free(&c[i]);
}

/* With the cache off, nothing is reused and the output is the same. */
TEST(sched_prefix_cache_off)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[5], p, 128);
    cove_sched *s = make_sched(m, 2, 256, 512, 4, 0);
    collect c[2];
    collect_init(&c[0]);
    collect_init(&c[1]);
    cove_status st0 = s ? run_one(s, p, n, 20, &c[0]) : COVE_ERR_INTERNAL;
    cove_status st1 = s ? run_one(s, p, n, 20, &c[1]) : COVE_ERR_INTERNAL;
    cove_sched_metrics mt = {0};
    if (s)
        cove_sched_metrics_get(s, &mt);
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st0);
    CHECK_OK(st1);
    CHECK_EQ_INT(c[1].n_cached, 0);
    CHECK_EQ_INT(mt.tokens_reused, 0);
    CHECK_EQ_INT(mt.cached_tokens, 0);
    CHECK(same_tokens(c[1].toks, c[1].n_toks, c[0].toks, c[0].n_toks));
    collect_free(&c[0]);
    collect_free(&c[1]);
}

/* Two slots, three prompts in turn: the third evicts the least recently used (the first);
 * the first then computes everything again, the second still hits. */
TEST(sched_prefix_cache_eviction)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[3][128], n[3];
    for (int i = 0; i < 3; i++)
        n[i] = tokenize(m, texts[i == 2 ? 6 : i == 1 ? 5 : 0], p[i], 128);
    cove_sched *s = make_sched(m, 2, 256, 512, 4, 1);
    collect c[5];
    for (int i = 0; i < 5; i++)
        collect_init(&c[i]);
    int order[5] = {0, 1, 2, 0, 2};
    cove_status st = s ? COVE_OK : COVE_ERR_INTERNAL;
    for (int i = 0; st == COVE_OK && i < 5; i++)
        st = run_one(s, p[order[i]], n[order[i]], 10, &c[i]);
    cove_sched_metrics mt = {0};
    if (s)
        cove_sched_metrics_get(s, &mt);
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st);
    CHECK_EQ_INT(c[2].n_cached, 0);
    CHECK_EQ_INT(c[3].n_cached, 0);          /* evicted by the third */
    CHECK_EQ_INT(c[4].n_cached, n[2] - 1);   /* the third's cache survived */
    CHECK(mt.prefix_evictions >= 2);
    CHECK(same_tokens(c[3].toks, c[3].n_toks, c[0].toks, c[0].n_toks));
    CHECK(same_tokens(c[4].toks, c[4].n_toks, c[2].toks, c[2].n_toks));
    for (int i = 0; i < 5; i++)
        collect_free(&c[i]);
}

/* A long shared prefix held by a busy slot is copied into a free one. */
TEST(sched_prefix_copy_from_busy_slot)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128], ref[MAX_OUT];
    int32_t n = tokenize(m, texts[5], p, 128);
    int32_t n_ref = reference(m, p, n, 20, 256, ref);
    cove_sched *s = make_sched(m, 2, 256, 512, 4, 1);
    collect c[2];
    collect_init(&c[0]);
    collect_init(&c[1]);
    cove_sched_request q = greedy_request(p, n, -1, &c[0]);
    q.ignore_eos = 1;
    c[0].notify_after = 2;
    cove_sched_id id0 = 0;
    cove_status st = s ? cove_sched_submit(s, &q, &id0, NULL) : COVE_ERR_INTERNAL;
    cove_status st1 = COVE_ERR_INTERNAL;
    if (st == COVE_OK) {
        wait_notified(&c[0]); /* the first is generating: its slot holds the prompt */
        st1 = run_one(s, p, n, 20, &c[1]);
        cove_sched_cancel(s, id0);
        wait_done(&c[0]);
    }
    cove_sched_metrics mt = {0};
    if (s)
        cove_sched_metrics_get(s, &mt);
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st);
    CHECK_OK(st1);
    CHECK_EQ_INT(c[1].n_cached, n - 1);
    CHECK_EQ_INT(mt.prefix_copies, 1);
    CHECK(same_tokens(c[1].toks, c[1].n_toks, ref, n_ref));
    collect_free(&c[0]);
    collect_free(&c[1]);
}

/* A stop string from the middle of the greedy text ends it there; streamed text and the
 * result agree; log-probabilities of a greedy token are the top one's. */
TEST(sched_stop_and_logprobs)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[0], p, 128);
    cove_sched *s = make_sched(m, 2, 256, 64, 4, 1);
    collect c0, c1;
    collect_init(&c0);
    collect_init(&c1);
    cove_status st0 = s ? run_one(s, p, n, 40, &c0) : COVE_ERR_INTERNAL;
    char stop[16] = {0};
    const char *stops[2] = {"zzzz-not-there", stop};
    cove_status st1 = COVE_ERR_INTERNAL;
    if (st0 == COVE_OK && c0.text_len > 40) {
        memcpy(stop, c0.text + 20, 6);
        cove_sched_request q = greedy_request(p, n, 40, &c1);
        q.stop = stops;
        q.n_stop = 2;
        q.n_logprobs = 3;
        cove_sched_id id;
        st1 = cove_sched_submit(s, &q, &id, NULL);
        if (st1 == COVE_OK)
            wait_done(&c1);
    }
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_OK(st0);
    CHECK_OK(st1);
    const char *at = strstr(c0.text, stop);
    CHECK(at);
    CHECK(c1.finish == COVE_SCHED_FINISH_STOP);
    CHECK_STR_EQ(c1.stop, stop);
    CHECK_EQ_INT(c1.text_len, (size_t)(at - c0.text));
    CHECK(memcmp(c1.text, c0.text, c1.text_len) == 0);
    CHECK(c1.streamed_len == c1.text_len && memcmp(c1.streamed, c1.text, c1.text_len) == 0);
    CHECK_EQ_INT(c1.n_top0, 3);
    CHECK_EQ_INT(c1.top_tok0, c0.toks[0]);
    CHECK(c1.logprob0 <= 0 && fabsf(c1.logprob0 - c1.top0) < 1e-6f);
    collect_free(&c0);
    collect_free(&c1);
}

/* Shutdown: DRAIN finishes everything queued and running; CANCEL cancels it. Either way
 * every request gets exactly one on_done, and submit is refused afterwards. */
static void shutdown_mode(enum cove_sched_shutdown_mode mode, int *ok)
{
    *ok = 0;
    cove_model *m = load_stories();
    if (!m)
        return;
    int32_t p[128];
    int32_t n = tokenize(m, texts[3], p, 128);
    cove_sched *s = make_sched(m, 2, 256, 64, 8, 1);
    collect c[6];
    int good = s != NULL;
    for (int i = 0; i < 6; i++)
        collect_init(&c[i]);
    for (int i = 0; good && i < 6; i++) {
        cove_sched_request q = greedy_request(p, n, 50, &c[i]);
        q.ignore_eos = 1;
        cove_sched_id id;
        good = cove_sched_submit(s, &q, &id, NULL) == COVE_OK;
    }
    good = good && cove_sched_shutdown(s, mode) == COVE_OK;
    cove_sched_id id;
    cove_sched_request q = greedy_request(p, n, 5, &c[0]);
    good = good && cove_sched_submit(s, &q, &id, NULL) == COVE_ERR_STATE;
    good = good && cove_sched_shutdown(s, mode) == COVE_OK; /* a second call */
    for (int i = 0; good && i < 6; i++) {
        good = c[i].n_done_calls == 1;
        if (mode == COVE_SCHED_SHUTDOWN_DRAIN)
            good = good && c[i].finish == COVE_SCHED_FINISH_LENGTH && c[i].n_generated == 50;
        else
            good = good && c[i].finish == COVE_SCHED_FINISH_CANCELLED;
    }
    cove_sched_free(s);
    for (int i = 0; i < 6; i++)
        collect_free(&c[i]);
    cove_model_free(m);
    *ok = good;
}

TEST(sched_shutdown_drain)
{
    int ok;
    shutdown_mode(COVE_SCHED_SHUTDOWN_DRAIN, &ok);
    CHECK(ok);
}

TEST(sched_shutdown_cancel)
{
    int ok;
    shutdown_mode(COVE_SCHED_SHUTDOWN_CANCEL, &ok);
    CHECK(ok);
}

/* cove_context_seq_copy: a prefix copied into another sequence continues exactly as the
 * original would. */
TEST(sched_context_seq_copy)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[0], p, 128);
    cove_context_params cp = cove_context_default_params();
    cp.n_ctx = 64;
    cp.n_seq_max = 3;
    cp.n_threads = 2;
    cove_context *c = NULL;
    float full[512];
    int ok = cove_context_create(m, cp, &c, NULL) == COVE_OK;
    cove_batch all = {p, NULL, NULL, n, NULL};
    ok = ok && cove_decode(c, &all, NULL) == COVE_OK;
    if (ok)
        memcpy(full, cove_context_logits(c, -1), sizeof full);
    ok = ok && cove_context_seq_copy(c, 0, 2, 6) == COVE_OK && cove_context_n_past(c, 2) == 6;
    int32_t seq[128];
    for (int i = 0; i < n; i++)
        seq[i] = 2;
    cove_batch tail = {p + 6, NULL, seq, n - 6, NULL};
    ok = ok && cove_decode(c, &tail, NULL) == COVE_OK;
    double worst = 0;
    const float *lg = ok ? cove_context_logits(c, -1) : NULL;
    for (int v = 0; lg && v < 512; v++)
        worst = fmax(worst, fabs(lg[v] - full[v]));
    int bad = ok && (cove_context_seq_copy(c, 0, 3, 1) != COVE_ERR_INVALID_ARG ||
                     cove_context_seq_copy(c, -1, 1, 1) != COVE_ERR_INVALID_ARG ||
                     cove_context_seq_copy(c, 0, 1, -1) != COVE_ERR_INVALID_ARG);
    ok = ok && cove_context_seq_copy(c, 0, 1, 1000) == COVE_OK && cove_context_n_past(c, 1) == n;
    cove_context_free(c);
    cove_model_free(m);
    CHECK(ok && lg);
    CHECK(!bad);
    CHECK_MSG(worst < 1e-4, "copied prefix differs by %g", worst);
}

/* Create, submit a request with stop strings, run it, free; allocation n fails. */
static cove_status alloc_sequence(const cove_model *m, const int32_t *p, int32_t n)
{
    cove_sched_params sp = cove_sched_default_params();
    sp.n_slots = 2;
    sp.n_ctx = 64;
    sp.n_batch = 32;
    sp.n_threads = 1;
    cove_sched *s = NULL;
    cove_status st = cove_sched_create(m, sp, &s, NULL);
    if (st != COVE_OK)
        return st;
    collect c;
    collect_init(&c);
    const char *stops[2] = {"xyz", "never"};
    cove_sched_request q = greedy_request(p, n, 4, &c);
    q.stop = stops;
    q.n_stop = 2;
    q.n_logprobs = 2;
    cove_sched_id id;
    st = cove_sched_submit(s, &q, &id, NULL);
    if (st == COVE_OK)
        wait_done(&c);
    cove_sched_free(s);
    collect_free(&c);
    return st;
}

TEST(sched_allocation_failures)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[0], p, 128);
    long i;
    int bad = 0;
    for (i = 1; i < 10000 && !bad; i++) {
        cove_alloc_fail_at(i, 0);
        cove_status st = alloc_sequence(m, p, n);
        long made = cove_alloc_count();
        cove_alloc_fail_at(0, 0);
        if (made < i) { /* the failure was never reached */
            bad = st != COVE_OK;
            break;
        }
        bad = st == COVE_OK;
    }
    cove_model_free(m);
    fprintf(stderr, "  %ld allocations, each failed in turn\n", i - 1);
    CHECK(!bad);
    CHECK(i > 10 && i < 10000);
}

/* A grammar forces the text; its completion ends the request like end of generation. Two
 * requests with different grammars run side by side. */
TEST(sched_grammar)
{
    cove_model *m = load_stories();
    CHECK(m);
    int32_t p[128];
    int32_t n = tokenize(m, texts[3], p, 128);
    cove_sched *s = make_sched(m, 2, 256, 64, 4, 1);
    collect c[2];
    collect_init(&c[0]);
    collect_init(&c[1]);
    const char *g[2] = {"root ::= \" the little cat\"",
                        "root ::= [a-z ]+ \".\"  # lower-case words, then a full stop"};
    cove_status st[2] = {COVE_ERR_INTERNAL, COVE_ERR_INTERNAL};
    cove_error err = {0};
    for (int i = 0; s && i < 2; i++) {
        cove_sched_request q = greedy_request(p, n, 40, &c[i]);
        q.grammar = g[i];
        cove_sched_id id;
        st[i] = cove_sched_submit(s, &q, &id, &err);
    }
    for (int i = 0; i < 2; i++)
        if (st[i] == COVE_OK)
            wait_done(&c[i]);
    cove_sched_free(s);
    cove_model_free(m);
    CHECK_MSG(st[0] == COVE_OK && st[1] == COVE_OK, "submit: %s", err.msg);
    c[0].text[c[0].text_len] = '\0';
    c[1].text[c[1].text_len] = '\0';
    fprintf(stderr, "  [%s] [%s]\n", c[0].text, c[1].text);
    CHECK_STR_EQ(c[0].text, " the little cat");
    CHECK(c[0].finish == COVE_SCHED_FINISH_EOS);
    CHECK(c[1].text_len > 0);
    for (size_t i = 0; i < c[1].text_len; i++)
        CHECK((c[1].text[i] >= 'a' && c[1].text[i] <= 'z') || c[1].text[i] == ' ' ||
              (c[1].text[i] == '.' && i == c[1].text_len - 1));
    collect_free(&c[0]);
    collect_free(&c[1]);
}
