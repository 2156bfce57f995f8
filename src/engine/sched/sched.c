/*
 * engine/sched/sched.c - the scheduler's life cycle, submit, cancel, shutdown and metrics.
 * The worker thread and its steps are in step.c.
 */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/sched/sched_int.h"

#define SLOTS_DEFAULT 4
#define BATCH_DEFAULT 512
#define QUEUE_DEFAULT 64

cove_sched_params cove_sched_default_params(void)
{
    cove_sched_params p = {
        .n_slots = SLOTS_DEFAULT,
        .n_ctx = 0,
        .n_batch = BATCH_DEFAULT,
        .n_queue_max = QUEUE_DEFAULT,
        .n_threads = 0,
        .kv_type = COVE_KV_F16,
        .prefix_cache = 1,
    };
    return p;
}

cove_sched_request cove_sched_default_request(void)
{
    cove_sched_request r;
    memset(&r, 0, sizeof r);
    r.sampler = cove_sampler_default_params();
    r.n_predict = -1;
    r.cache_prompt = 1;
    return r;
}

const char *cove_sched_finish_str(enum cove_sched_finish finish)
{
    switch (finish) {
    case COVE_SCHED_FINISH_STOP: return "stop";
    case COVE_SCHED_FINISH_LENGTH: return "length";
    case COVE_SCHED_FINISH_EOS: return "eos";
    case COVE_SCHED_FINISH_CANCELLED: return "cancelled";
    case COVE_SCHED_FINISH_ERROR: return "error";
    }
    return "unknown";
}

double cove_sched_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- create / free ---- */

static cove_status check_params(const cove_sched_params *p, cove_error *err)
{
    if (p->n_slots <= 0 || p->n_batch < 0 || p->n_queue_max < 0 || p->n_ctx < 0 ||
        p->n_threads < 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad scheduler parameters");
    if (p->n_slots > COVE_MAX_SEQ || p->n_queue_max > COVE_SCHED_MAX_QUEUE)
        return cove_error_set(err, COVE_ERR_LIMIT, "n_slots (max %d) or n_queue_max (max %d) "
                              "too large", COVE_MAX_SEQ, COVE_SCHED_MAX_QUEUE);
    if (p->n_batch && p->n_batch < p->n_slots)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "n_batch (%d) must be at least n_slots "
                              "(%d)", p->n_batch, p->n_slots);
    return COVE_OK;
}

static cove_status make_context(cove_sched *s, cove_error *err)
{
    cove_context_params cp = cove_context_default_params();
    cp.n_ctx = s->p.n_ctx;
    cp.n_ubatch = s->p.n_batch;
    cp.n_outputs_max = s->p.n_slots;
    cp.n_threads = s->p.n_threads;
    cp.kv_type = s->p.kv_type;
    cp.n_seq_max = s->p.n_slots;
    cove_status st = cove_context_create(s->model, cp, &s->ctx, err);
    if (st != COVE_OK)
        return st;
    s->n_ctx = cove_context_n_ctx(s->ctx);
    s->n_vocab = cove_model_n_vocab(s->model);
    return COVE_OK;
}

static cove_status alloc_state(cove_sched *s, cove_error *err)
{
    const size_t B = (size_t)s->p.n_batch, S = (size_t)s->p.n_slots;
    int failed = 0;
    s->slots = cove_calloc(S, sizeof *s->slots);
    failed |= !s->slots;
    for (size_t i = 0; s->slots && i < S; i++) {
        s->slots[i].tokens = cove_calloc((size_t)s->n_ctx, sizeof(int32_t));
        failed |= !s->slots[i].tokens;
    }
    s->b_tok = cove_calloc(B, sizeof(int32_t));
    s->b_pos = cove_calloc(B, sizeof(int32_t));
    s->b_seq = cove_calloc(B, sizeof(int32_t));
    s->b_want = cove_calloc(B, sizeof(int8_t));
    s->logits_tmp = cove_calloc((size_t)s->n_vocab, sizeof(float));
    s->top = cove_calloc(COVE_SCHED_MAX_LOGPROBS, sizeof *s->top);
    s->eog = cove_calloc((size_t)s->n_vocab, sizeof(int32_t));
    failed |= !s->b_tok || !s->b_pos || !s->b_seq || !s->b_want || !s->logits_tmp || !s->top ||
              !s->eog;
    for (int32_t t = 0; s->eog && t < s->n_vocab; t++)
        if (cove_token_is_eog(s->model, t))
            s->eog[s->n_eog++] = t;
    return failed ? cove_error_set(err, COVE_ERR_NOMEM, "out of memory creating a scheduler")
                  : COVE_OK;
}

static cove_status start(cove_sched *s, cove_error *err)
{
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return cove_error_set(err, COVE_ERR_NOMEM, "cannot create a mutex");
    if (pthread_cond_init(&s->cv_work, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        return cove_error_set(err, COVE_ERR_NOMEM, "cannot create a condition variable");
    }
    if (pthread_create(&s->thread, NULL, cove_sched_worker, s) != 0) {
        pthread_cond_destroy(&s->cv_work);
        pthread_mutex_destroy(&s->mu);
        return cove_error_set(err, COVE_ERR_NOMEM, "cannot start the scheduler thread");
    }
    s->thread_started = 1;
    return COVE_OK;
}

static void release(cove_sched *s)
{
    for (int32_t i = 0; s->slots && i < s->p.n_slots; i++)
        cove_free(s->slots[i].tokens);
    void *bufs[] = {s->slots, s->b_tok, s->b_pos, s->b_seq, s->b_want, s->logits_tmp, s->top,
                    s->eog};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cove_free(bufs[i]);
    cove_sched_grammar_release(s);
    pthread_mutex_destroy(&s->gmu);
    cove_context_free(s->ctx);
    cove_free(s);
}

cove_status cove_sched_create(const cove_model *model, cove_sched_params params,
                              cove_sched **out, cove_error *err)
{
    if (!out || !model)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_sched_create: NULL argument");
    *out = NULL;
    if (params.n_batch == 0)
        params.n_batch = BATCH_DEFAULT > params.n_slots ? BATCH_DEFAULT : params.n_slots;
    cove_status st = check_params(&params, err);
    if (st != COVE_OK)
        return st;
    cove_sched *s = cove_calloc(1, sizeof *s);
    if (!s)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory creating a scheduler");
    if (pthread_mutex_init(&s->gmu, NULL) != 0) {
        cove_free(s);
        return cove_error_set(err, COVE_ERR_NOMEM, "cannot create a mutex");
    }
    s->model = model;
    s->p = params;
    s->next_id = 1;
    s->m.n_slots = params.n_slots;
    s->m.n_queue_max = params.n_queue_max;
    if ((st = make_context(s, err)) != COVE_OK || (st = alloc_state(s, err)) != COVE_OK ||
        (st = start(s, err)) != COVE_OK) {
        release(s);
        return st;
    }
    *out = s;
    return COVE_OK;
}

cove_status cove_sched_shutdown(cove_sched *s, enum cove_sched_shutdown_mode mode)
{
    if (!s)
        return COVE_ERR_INVALID_ARG;
    if (pthread_equal(pthread_self(), s->thread))
        return COVE_ERR_STATE;
    pthread_mutex_lock(&s->mu);
    if (s->joined) { /* another call joins the worker: wait for its end */
        while (!s->exited)
            pthread_cond_wait(&s->cv_work, &s->mu);
        pthread_mutex_unlock(&s->mu);
        return COVE_OK;
    }
    if (!s->stopping || mode == COVE_SCHED_SHUTDOWN_CANCEL)
        s->mode = mode;
    s->stopping = 1;
    s->joined = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    return COVE_OK;
}

void cove_sched_free(cove_sched *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        cove_sched_shutdown(s, COVE_SCHED_SHUTDOWN_CANCEL);
        pthread_cond_destroy(&s->cv_work);
        pthread_mutex_destroy(&s->mu);
    }
    release(s);
}

/* ---- submit ---- */

void cove_sched_req_free(sched_req *r)
{
    if (!r)
        return;
    for (int32_t i = 0; r->stop && i < r->n_stop; i++)
        cove_free(r->stop[i]);
    cove_sched_grammar_free(r);
    cove_free(r->stop);
    cove_free(r->prompt);
    cove_free(r->grammar);
    cove_free(r->gen);
    cove_sampler_free(r->smp);
    cove_detok_free(r->detok);
    cove_buf_release(&r->text);
    cove_free(r);
}

static cove_status check_request(const cove_sched *s, const cove_sched_request *q,
                                 cove_error *err)
{
    if (!q->prompt || q->n_prompt <= 0 || !q->on_done)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "a request needs a prompt of at least "
                              "one token and an on_done callback");
    if (q->n_prompt > s->n_ctx)
        return cove_error_set(err, COVE_ERR_LIMIT, "prompt is too long: %d tokens, the context "
                              "holds %d", q->n_prompt, s->n_ctx);
    for (int32_t i = 0; i < q->n_prompt; i++)
        if (q->prompt[i] < 0 || q->prompt[i] >= s->n_vocab)
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "prompt token %d (%d) is not in the "
                                  "vocabulary of %d", i, q->prompt[i], s->n_vocab);
    if (q->n_predict == 0 || q->n_predict < -1)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "n_predict must be -1 or positive, "
                              "not %d", q->n_predict);
    if (q->n_logprobs < 0 || q->n_logprobs > COVE_SCHED_MAX_LOGPROBS)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "n_logprobs must be 0 .. %d",
                              COVE_SCHED_MAX_LOGPROBS);
    if (q->n_stop < 0 || q->n_stop > COVE_SCHED_MAX_STOP || (q->n_stop && !q->stop))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "at most %d stop strings",
                              COVE_SCHED_MAX_STOP);
    for (int32_t i = 0; i < q->n_stop; i++) {
        size_t n = q->stop[i] ? strlen(q->stop[i]) : 0;
        if (n == 0 || n > COVE_SCHED_MAX_STOP_LEN)
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "stop string %d must have 1 .. %d "
                                  "bytes", i, COVE_SCHED_MAX_STOP_LEN);
    }
    return COVE_OK;
}

static cove_status copy_request(cove_sched *s, const cove_sched_request *q, sched_req *r,
                                cove_error *err)
{
    r->prompt = cove_malloc((size_t)q->n_prompt * sizeof(int32_t));
    r->gen = cove_malloc((size_t)s->n_ctx * sizeof(int32_t));
    r->stop = q->n_stop ? cove_calloc((size_t)q->n_stop, sizeof(char *)) : NULL;
    int failed = !r->prompt || !r->gen || (q->n_stop && !r->stop);
    for (int32_t i = 0; !failed && i < q->n_stop; i++, r->n_stop++)
        failed |= !(r->stop[i] = cove_strdup(q->stop[i]));
    if (q->grammar) {
        r->grammar_len = q->grammar_len ? q->grammar_len : strlen(q->grammar);
        failed |= !(r->grammar = cove_strndup(q->grammar, r->grammar_len));
    }
    if (failed)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory queueing a request");
    memcpy(r->prompt, q->prompt, (size_t)q->n_prompt * sizeof(int32_t));
    r->n_prompt = q->n_prompt;
    r->n_predict = q->n_predict;
    r->ignore_eos = q->ignore_eos;
    r->n_logprobs = q->n_logprobs;
    r->cache_prompt = q->cache_prompt;
    r->on_token = q->on_token;
    r->on_done = q->on_done;
    r->user = q->user;
    r->slot = -1;
    r->pending = -1;
    r->batch_index = -1;
    atomic_init(&r->cancelled, 0);
    cove_buf_init(&r->text, COVE_SCHED_MAX_TEXT);
    cove_status st = cove_sampler_create(q->sampler, s->n_vocab, &r->smp, err);
    if (st == COVE_OK && cove_detok_create(s->model, 0, &r->detok) != COVE_OK)
        st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory queueing a request");
    if (st == COVE_OK)
        st = cove_sched_grammar_init(s, r, err);
    return st;
}

/* Append r to the queue, or refuse it. */
static cove_status enqueue(cove_sched *s, sched_req *r, cove_sched_id *id, cove_error *err)
{
    cove_status st = COVE_OK;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        st = cove_error_set(err, COVE_ERR_STATE, "the scheduler is shutting down");
    } else if (s->q_len + s->n_active >= s->p.n_queue_max + s->p.n_slots) {
        /* queued requests that free slots will take at the next step do not wait */
        s->m.requests_rejected++;
        st = cove_error_set(err, COVE_ERR_LIMIT, "queue is full: %d requests are waiting "
                            "(n_queue_max)", s->q_len);
    } else {
        r->id = s->next_id++;
        r->t_submit = cove_sched_now_ms();
        if (s->q_tail)
            s->q_tail->next = r;
        else
            s->q_head = r;
        s->q_tail = r;
        s->q_len++;
        s->m.requests_submitted++;
        *id = r->id;
        pthread_cond_broadcast(&s->cv_work);
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

cove_status cove_sched_submit(cove_sched *s, const cove_sched_request *req, cove_sched_id *id,
                              cove_error *err)
{
    if (!s || !req || !id)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_sched_submit: NULL argument");
    *id = 0;
    cove_status st = check_request(s, req, err);
    if (st != COVE_OK)
        return st;
    sched_req *r = cove_calloc(1, sizeof *r);
    if (!r)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory queueing a request");
    if ((st = copy_request(s, req, r, err)) != COVE_OK ||
        (st = enqueue(s, r, id, err)) != COVE_OK)
        cove_sched_req_free(r);
    return st;
}

cove_status cove_sched_cancel(cove_sched *s, cove_sched_id id)
{
    if (!s || id == 0)
        return COVE_ERR_NOT_FOUND;
    cove_status st = COVE_ERR_NOT_FOUND;
    pthread_mutex_lock(&s->mu);
    for (sched_req *r = s->q_head; r && st != COVE_OK; r = r->next)
        if (r->id == id) {
            atomic_store(&r->cancelled, 1);
            st = COVE_OK;
        }
    for (int32_t i = 0; i < s->p.n_slots && st != COVE_OK; i++)
        if (s->slots[i].req && s->slots[i].req->id == id) {
            atomic_store(&s->slots[i].req->cancelled, 1);
            st = COVE_OK;
        }
    if (st == COVE_OK)
        pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- state ---- */

void cove_sched_metrics_get(cove_sched *s, cove_sched_metrics *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->m;
    out->queue_len = s->q_len;
    out->active = s->n_active;
    pthread_mutex_unlock(&s->mu);
}

const cove_model *cove_sched_model(const cove_sched *s) { return s->model; }
int32_t cove_sched_n_ctx(const cove_sched *s) { return s->n_ctx; }
int32_t cove_sched_n_slots(const cove_sched *s) { return s->p.n_slots; }
