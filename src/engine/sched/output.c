/*
 * engine/sched/output.c - from a slot's logits to a streamed token: masking, sampling,
 * log-probabilities, text, stop strings, and the reasons a request ends.
 *
 * Text streams as it becomes final: the detokenizer holds back an unfinished UTF-8
 * sequence, and this file holds back the end of the text while it could still be the
 * start of a stop string. When a stop string appears, the text is cut where it begins.
 */
#include <math.h>
#include <string.h>

#include "engine/sched/sched_int.h"

void cove_sched_finish(sched_req *r, enum cove_sched_finish finish, cove_status st,
                       const char *msg)
{
    if (r->finished)
        return;
    r->finished = 1;
    r->finish = finish;
    r->status = finish == COVE_SCHED_FINISH_CANCELLED ? COVE_ERR_CANCELLED : st;
    if (msg) {
        size_t n = strlen(msg) < sizeof r->error_msg - 1 ? strlen(msg) : sizeof r->error_msg - 1;
        memcpy(r->error_msg, msg, n);
        r->error_msg[n] = '\0';
    }
    r->t_end = cove_sched_now_ms();
    if (r->t_first == 0)
        r->t_first = r->t_end;
}

/* log(sum(exp(logits))), stable. */
static double log_sum_exp(const float *lg, int32_t n)
{
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        mx = lg[i] > mx ? lg[i] : mx;
    double sum = 0;
    for (int32_t i = 0; i < n; i++)
        sum += exp((double)lg[i] - mx);
    return mx + log(sum);
}

/* The k most likely tokens into top[0 .. k), best first (ties: lower id first). */
static void top_k(const float *lg, int32_t n, int32_t k, double lse, cove_sched_logprob *top)
{
    int32_t have = 0;
    for (int32_t i = 0; i < n; i++) {
        if (have == k && lg[i] <= top[k - 1].logprob)
            continue;
        int32_t j = have < k ? have++ : k - 1;
        while (j > 0 && top[j - 1].logprob < lg[i]) {
            top[j] = top[j - 1];
            j--;
        }
        top[j].token = i;
        top[j].logprob = lg[i];
    }
    for (int32_t j = 0; j < have; j++)
        top[j].logprob = (float)(top[j].logprob - lse);
}

/* Earliest stop string in text[from ..), or NULL; *at is where it starts. */
static const char *find_stop(const sched_req *r, size_t from, size_t *at)
{
    const char *hit = NULL;
    const char *t = r->text.data;
    for (int32_t i = 0; t && i < r->n_stop; i++) {
        const char *p = memmem(t + from, r->text.len - from, r->stop[i], strlen(r->stop[i]));
        if (p && (!hit || (size_t)(p - t) < *at)) {
            hit = r->stop[i];
            *at = (size_t)(p - t);
        }
    }
    return hit;
}

/* Bytes at the end of the text that could begin a stop string. */
static size_t stop_hold(const sched_req *r)
{
    size_t hold = 0;
    for (int32_t i = 0; r->text.data && i < r->n_stop; i++) {
        size_t n = strlen(r->stop[i]);
        for (size_t k = n - 1 < r->text.len ? n - 1 : r->text.len; k > hold; k--)
            if (memcmp(r->text.data + r->text.len - k, r->stop[i], k) == 0) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Add the token's text; check stop strings and lengths. */
static void add_text(cove_sched *s, sched_req *r, int32_t tok)
{
    char buf[COVE_DETOK_BUF_MIN];
    size_t n = 0, before = r->text.len;
    size_t max_stop = 0;
    for (int32_t i = 0; i < r->n_stop; i++)
        max_stop = strlen(r->stop[i]) > max_stop ? strlen(r->stop[i]) : max_stop;
    if (cove_detok_push(r->detok, tok, buf, sizeof buf, &n) != COVE_OK ||
        cove_buf_append(&r->text, buf, n) != COVE_OK) {
        cove_sched_finish(r, COVE_SCHED_FINISH_ERROR, COVE_ERR_LIMIT,
                          "the generated text exceeds its limit");
        return;
    }
    size_t at = 0, from = before >= max_stop ? before - max_stop + 1 : 0;
    const char *hit = r->n_stop ? find_stop(r, from, &at) : NULL;
    if (hit) {
        cove_buf_truncate(&r->text, at);
        r->stop_hit = hit;
        cove_sched_finish(r, COVE_SCHED_FINISH_STOP, COVE_OK, NULL);
    } else if (r->n_predict > 0 && r->n_gen >= r->n_predict) {
        cove_sched_finish(r, COVE_SCHED_FINISH_LENGTH, COVE_OK, NULL);
    } else if (s->slots[r->slot].n_tokens >= s->n_ctx) {
        cove_sched_finish(r, COVE_SCHED_FINISH_LENGTH, COVE_OK, NULL);
    }
}

/* Release what is final to on_token; at the end, everything (after the detokenizer's). */
static void stream(sched_req *r, int32_t tok, float logprob, const cove_sched_logprob *top,
                   int32_t n_top)
{
    if (r->finished && r->finish != COVE_SCHED_FINISH_STOP) {
        char buf[COVE_DETOK_BUF_MIN];
        size_t n = 0;
        if (cove_detok_flush(r->detok, buf, sizeof buf, &n) == COVE_OK)
            (void)cove_buf_append(&r->text, buf, n);
    }
    size_t safe = r->finished ? r->text.len : r->text.len - stop_hold(r);
    if (safe < r->sent)
        safe = r->sent;
    if (tok < 0 && safe == r->sent)
        return;
    cove_sched_token ev = {tok, tok >= 0 ? r->n_gen - 1 : r->n_gen,
                           r->text.data ? r->text.data + r->sent : "", safe - r->sent,
                           logprob, top, n_top};
    r->sent = safe;
    if (r->on_token && r->on_token(r->user, &ev) != 0)
        cove_sched_finish(r, COVE_SCHED_FINISH_CANCELLED, COVE_ERR_CANCELLED, NULL);
}

/* The logits to sample from: a masked copy when the request needs one; NULL when the
 * grammar failed (r has then ended with an error). */
static const float *masked(cove_sched *s, sched_req *r, const float *logits)
{
    if (!r->ignore_eos && !r->matcher)
        return logits;
    memcpy(s->logits_tmp, logits, (size_t)s->n_vocab * sizeof(float));
    if (r->ignore_eos)
        for (int32_t i = 0; i < s->n_eog; i++)
            s->logits_tmp[s->eog[i]] = -INFINITY;
    cove_error err = {0};
    if (r->matcher && cove_sched_grammar_mask(s, r, s->logits_tmp, &err) != COVE_OK) {
        cove_sched_finish(r, COVE_SCHED_FINISH_ERROR, err.status, cove_error_msg(&err));
        return NULL;
    }
    return s->logits_tmp;
}

int cove_sched_emit(cove_sched *s, sched_req *r, const float *logits)
{
    int32_t tok = -1;
    const float *lg = logits ? masked(s, r, logits) : NULL;
    if (r->finished)
        return 1;
    if (!lg || cove_sampler_sample(r->smp, lg, &tok) != COVE_OK) {
        cove_sched_finish(r, COVE_SCHED_FINISH_ERROR, COVE_ERR_INTERNAL, "no logits to sample");
        return 1;
    }
    cove_sampler_accept(r->smp, tok);
    int complete = 0;
    cove_error err = {0};
    if (cove_sched_grammar_accept(r, tok, &complete, &err) != COVE_OK) {
        cove_sched_finish(r, COVE_SCHED_FINISH_ERROR, err.status, cove_error_msg(&err));
        return 1;
    }
    if (r->t_first == 0)
        r->t_first = cove_sched_now_ms();
    if (!r->ignore_eos && cove_token_is_eog(s->model, tok)) {
        cove_sched_finish(r, COVE_SCHED_FINISH_EOS, COVE_OK, NULL);
        stream(r, -1, 0, NULL, 0);
        return 1;
    }
    r->gen[r->n_gen++] = tok;
    float logprob = 0;
    int32_t n_top = 0;
    if (r->n_logprobs > 0) {
        double lse = log_sum_exp(logits, s->n_vocab);
        logprob = (float)(logits[tok] - lse);
        n_top = r->n_logprobs < s->n_vocab ? r->n_logprobs : s->n_vocab;
        top_k(logits, s->n_vocab, n_top, lse, s->top);
    }
    add_text(s, r, tok);
    if (complete) /* nothing may follow: as if the model ended here */
        cove_sched_finish(r, COVE_SCHED_FINISH_EOS, COVE_OK, NULL);
    stream(r, tok, logprob, n_top ? s->top : NULL, n_top);
    if (!r->finished)
        r->pending = tok;
    return r->finished;
}
