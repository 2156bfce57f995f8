/*
 * engine/sched/step.c - the worker thread: admission, one batched decode per step,
 * sampling, and retiring requests that ended.
 *
 * One step (see cove/sched.h):
 *   admit     under mu: drop cancelled queued requests, move queued ones into free slots
 *   batch     one token for each generating slot, then prompt chunks in admission order
 *             until n_batch tokens; a chunk that ends its prompt asks for logits
 *   decode    one cove_decode over every sequence
 *   sample    each slot whose logits were computed samples, streams, maybe ends
 *   retire    under mu: unlink ended requests from their slots (their KV stays as prefix
 *             cache), count; then, unlocked, on_done and free
 */
#include <string.h>

#include "base/limits.h"
#include "engine/sched/sched_int.h"

/* Step counters gathered unlocked by the worker, added to s->m at retire. */
typedef struct step_counts {
    uint64_t generated, batch_tokens, batch_seqs, steps;
    double busy_ms;
} step_counts;

static void push_done(sched_req **done, sched_req *r)
{
    r->next = *done;
    *done = r;
}

/* Under mu. Cancelled queued requests go to *done; queued ones fill free slots. */
static void admit(cove_sched *s, sched_req **done)
{
    sched_req **pp = &s->q_head, *last = NULL;
    while (*pp) {
        sched_req *r = *pp;
        if (s->stopping && s->mode == COVE_SCHED_SHUTDOWN_CANCEL)
            atomic_store(&r->cancelled, 1);
        int cancelled = atomic_load(&r->cancelled);
        if (!cancelled && s->n_active >= s->p.n_slots) {
            last = r;
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        s->q_len--;
        r->next = NULL;
        if (cancelled) {
            r->t_admit = cove_sched_now_ms();
            cove_sched_finish(r, COVE_SCHED_FINISH_CANCELLED, COVE_ERR_CANCELLED, NULL);
            push_done(done, r);
        } else {
            cove_sched_admit(s, r);
        }
    }
    s->q_tail = last;
    for (int32_t i = 0; s->stopping && s->mode == COVE_SCHED_SHUTDOWN_CANCEL && i < s->p.n_slots;
         i++)
        if (s->slots[i].req)
            atomic_store(&s->slots[i].req->cancelled, 1);
}

/* Slots whose request still reads its prompt, in admission (id) order. */
static int32_t prefill_order(const cove_sched *s, int32_t *order)
{
    int32_t n = 0;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        const sched_req *r = s->slots[i].req;
        if (!r || r->finished || r->n_prompt_done >= r->n_prompt)
            continue;
        int32_t j = n++;
        while (j > 0 && s->slots[order[j - 1]].req->id > r->id) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return n;
}

static void add_token(cove_sched *s, int32_t *n, int32_t tok, int32_t pos, int32_t seq, int want)
{
    s->b_tok[*n] = tok;
    s->b_pos[*n] = pos;
    s->b_seq[*n] = seq;
    s->b_want[*n] = (int8_t)want;
    (*n)++;
}

/* Fill the batch; *chunk[i] is the number of prompt tokens slot i gets. Returns its size. */
static int32_t build_batch(cove_sched *s, int32_t *chunk, int32_t *n_seqs)
{
    int32_t n = 0, order[COVE_MAX_SEQ];
    *n_seqs = 0;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        sched_req *r = s->slots[i].req;
        chunk[i] = 0;
        if (r)
            r->batch_index = -1;
        if (r && !r->finished && r->pending >= 0) {
            r->batch_index = n;
            add_token(s, &n, r->pending, s->slots[i].n_tokens, i, 1);
            (*n_seqs)++;
        }
    }
    const int32_t n_pre = prefill_order(s, order);
    for (int32_t k = 0; k < n_pre && n < s->p.n_batch; k++) {
        const int32_t i = order[k];
        sched_req *r = s->slots[i].req;
        int32_t left = r->n_prompt - r->n_prompt_done, room = s->p.n_batch - n;
        chunk[i] = left < room ? left : room;
        for (int32_t t = 0; t < chunk[i]; t++)
            add_token(s, &n, r->prompt[r->n_prompt_done + t], r->n_prompt_done + t, i,
                      t == left - 1);
        if (chunk[i] == left)
            r->batch_index = n - 1;
        (*n_seqs)++;
    }
    return n;
}

/* The cache now holds the batch: bring the slots' mirrors along. */
static void commit_batch(cove_sched *s, const int32_t *chunk)
{
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        sched_req *r = sl->req;
        if (!r || r->finished)
            continue;
        if (r->pending >= 0) { /* its decode token was in the batch */
            sl->tokens[sl->n_tokens++] = r->pending;
            r->pending = -1;
        }
        if (chunk[i] > 0) {
            memcpy(sl->tokens + sl->n_tokens, r->prompt + r->n_prompt_done,
                   (size_t)chunk[i] * sizeof(int32_t));
            sl->n_tokens += chunk[i];
            r->n_prompt_done += chunk[i];
        }
    }
}

/* Decode the batch and sample every slot that got logits. */
static void run_batch(cove_sched *s, step_counts *c)
{
    int32_t chunk[COVE_MAX_SEQ], n_seqs = 0;
    const int32_t n = build_batch(s, chunk, &n_seqs);
    if (n == 0)
        return;
    const double t0 = cove_sched_now_ms();
    cove_batch b = {s->b_tok, s->b_pos, s->b_seq, n, s->b_want};
    cove_error err;
    cove_error_clear(&err);
    cove_status st = cove_decode(s->ctx, &b, &err);
    c->steps++;
    c->batch_tokens += (uint64_t)n;
    c->batch_seqs += (uint64_t)n_seqs;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        sched_req *r = s->slots[i].req;
        if (!r || r->finished || (st == COVE_OK && r->batch_index < 0))
            continue;
        if (st != COVE_OK && (chunk[i] > 0 || r->batch_index >= 0))
            cove_sched_finish(r, COVE_SCHED_FINISH_ERROR, st, cove_error_msg(&err));
    }
    if (st == COVE_OK) {
        commit_batch(s, chunk);
        for (int32_t i = 0; i < s->p.n_slots; i++) {
            sched_req *r = s->slots[i].req;
            if (!r || r->finished || r->batch_index < 0)
                continue;
            const int32_t before = r->n_gen;
            cove_sched_emit(s, r, cove_context_logits(s->ctx, r->batch_index));
            c->generated += (uint64_t)(r->n_gen - before);
        }
    }
    c->busy_ms += cove_sched_now_ms() - t0;
}

/* Cancelled or failed requests in slots end now. */
static void end_cancelled(cove_sched *s)
{
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        sched_req *r = s->slots[i].req;
        if (r && !r->finished && atomic_load(&r->cancelled)) {
            /* a sampled token that was never decoded is not in the cache */
            r->pending = -1;
            cove_sched_finish(r, COVE_SCHED_FINISH_CANCELLED, COVE_ERR_CANCELLED, NULL);
        }
    }
}

static void count_end(cove_sched_metrics *m, const sched_req *r)
{
    switch (r->finish) {
    case COVE_SCHED_FINISH_CANCELLED: m->requests_cancelled++; break;
    case COVE_SCHED_FINISH_ERROR: m->requests_failed++; break;
    default: m->requests_finished++; break;
    }
}

/* Under mu: unlink ended requests from their slots onto *done; add the step's counts. */
static void unlink_ended(cove_sched *s, sched_req **done, const step_counts *c)
{
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        if (!sl->req || !sl->req->finished)
            continue;
        push_done(done, sl->req);
        sl->req = NULL;
        sl->last_used = ++s->tick;
        s->n_active--;
        if (!s->p.prefix_cache) {
            cove_context_seq_clear(s->ctx, i);
            sl->n_tokens = 0;
        }
    }
    for (sched_req *r = *done; r; r = r->next)
        count_end(&s->m, r);
    int32_t cached = 0;
    for (int32_t i = 0; i < s->p.n_slots; i++)
        cached += s->slots[i].n_tokens;
    s->m.cached_tokens = cached;
    s->m.tokens_generated += c->generated;
    s->m.steps += c->steps;
    s->m.batch_tokens += c->batch_tokens;
    s->m.batch_seqs += c->batch_seqs;
    s->m.busy_seconds += c->busy_ms / 1e3;
}

/* Unlocked: on_done for each ended request, then free it. */
static void report_done(sched_req *done)
{
    while (done) {
        sched_req *r = done;
        done = r->next;
        cove_sched_result res = {
            .id = r->id, .finish = r->finish, .status = r->status,
            .error_msg = r->error_msg, .text = r->text.data ? r->text.data : "",
            .text_len = r->text.len, .tokens = r->gen, .stop = r->stop_hit,
            .n_prompt = r->n_prompt, .n_cached = r->n_cached, .n_generated = r->n_gen,
            .t_queue_ms = (r->t_admit ? r->t_admit : r->t_end) - r->t_submit,
            .t_prompt_ms = r->t_admit ? r->t_first - r->t_admit : 0,
            .t_gen_ms = r->t_end - r->t_first,
        };
        r->on_done(r->user, &res);
        cove_sched_req_free(r);
    }
}

void *cove_sched_worker(void *arg)
{
    cove_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        sched_req *done = NULL;
        step_counts c = {0};
        admit(s, &done);
        if (s->n_active == 0 && !done) {
            if (s->stopping && !s->q_head)
                break;
            pthread_cond_wait(&s->cv_work, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        end_cancelled(s);
        run_batch(s, &c);
        pthread_mutex_lock(&s->mu);
        unlink_ended(s, &done, &c);
        pthread_mutex_unlock(&s->mu);
        report_done(done);
        pthread_mutex_lock(&s->mu);
    }
    s->exited = 1;
    pthread_cond_broadcast(&s->cv_work); /* wakes shutdown calls that did not join */
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
