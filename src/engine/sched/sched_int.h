/*
 * engine/sched/sched_int.h - the scheduler's insides.
 *
 * Files: sched.c (life cycle, submit, cancel, metrics), step.c (the worker thread and one
 * step: admission, batch, decode, finishing), slots.c (which slot a request gets: the
 * prefix cache), output.c (sampling a slot's token, text, stop strings, log-probabilities),
 * grammar.c (the grammar hook).
 *
 * Locking: `mu` guards the queue, the slots' `req` pointers, the counters and the shutdown
 * state. The context, the slots' token mirrors and every request's progress fields belong
 * to the worker thread alone. Callbacks run with `mu` released. A request is freed only by
 * the worker, after it was unlinked under `mu` (so cancel never sees a freed request) and
 * its on_done returned.
 *
 * Invariant of a slot: tokens[0 .. n_tokens) are exactly the tokens whose keys and values
 * the context holds for that sequence (n_tokens == cove_context_n_past of its sequence).
 */
#ifndef COVE_ENGINE_SCHED_INT_H
#define COVE_ENGINE_SCHED_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "cove/grammar.h"
#include "cove/sched.h"

typedef struct sched_req {
    cove_sched_id id;
    struct sched_req *next; /* queue link */
    /* the request, copied at submit */
    int32_t *prompt;
    int32_t n_prompt;
    int32_t n_predict;
    int ignore_eos;
    int32_t n_logprobs;
    int cache_prompt;
    char **stop;
    int32_t n_stop;
    char *grammar;
    size_t grammar_len;
    cove_grammar *gram;  /* compiled grammar and its matcher; NULL without a grammar */
    cove_grammar_matcher *matcher;
    cove_sched_token_fn on_token;
    cove_sched_done_fn on_done;
    void *user;
    cove_sampler *smp;
    cove_detok *detok;
    atomic_int cancelled;
    /* progress: worker only */
    int32_t slot;        /* -1 while queued */
    int32_t n_prompt_done; /* prompt tokens in the slot's cache */
    int32_t n_cached;    /* of those, from the prefix cache */
    int32_t *gen;        /* generated tokens [n_ctx] */
    int32_t n_gen;
    int32_t pending;     /* sampled, not yet decoded; -1: none */
    int32_t batch_index; /* index of this slot's logits in the current batch; -1: none */
    struct cove_buf text; /* generated text, stop string cut at the end */
    size_t sent;          /* bytes of text already streamed */
    int finished;
    enum cove_sched_finish finish;
    cove_status status;
    char error_msg[COVE_ERROR_MSG_MAX];
    const char *stop_hit;
    double t_submit, t_admit, t_first, t_end;
} sched_req;

typedef struct sched_slot {
    sched_req *req;   /* NULL: free (its tokens stay as prefix cache) */
    int32_t *tokens;  /* [n_ctx] mirror of the cache */
    int32_t n_tokens;
    uint64_t last_used; /* LRU tick of the last admission or release */
} sched_slot;

struct cove_sched {
    const cove_model *model;
    cove_context *ctx;
    cove_sched_params p;
    int32_t n_ctx, n_vocab;
    int32_t *eog;     /* end-of-generation token ids */
    int32_t n_eog;
    sched_slot *slots;

    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* something to do for the worker */
    pthread_mutex_t gmu;    /* guards the lazy creation of gvocab and gmask */
    cove_grammar_vocab *gvocab; /* the model's grammar vocabulary, on first use */
    uint32_t *gmask;        /* worker-only token mask of gvocab's size */
    pthread_t thread;
    int thread_started;
    sched_req *q_head, *q_tail;
    int32_t q_len;
    int32_t n_active;
    int stopping; /* 1: shutdown asked for */
    enum cove_sched_shutdown_mode mode;
    int joined;   /* 1: a shutdown call joins (or joined) the worker */
    int exited;   /* 1: the worker has ended (every on_done has run) */
    cove_sched_id next_id;
    cove_sched_metrics m;
    uint64_t tick;

    /* worker-only scratch for one step */
    int32_t *b_tok, *b_pos, *b_seq;
    int8_t *b_want;
    float *logits_tmp;        /* [n_vocab] masked copy of a row of logits */
    cove_sched_logprob *top;  /* [COVE_SCHED_MAX_LOGPROBS] */
};

/* Monotonic clock in milliseconds. */
double cove_sched_now_ms(void);

/* step.c: the worker thread's function (arg: the cove_sched). */
void *cove_sched_worker(void *arg);

/* slots.c: put `r` into a free slot (there must be one), reusing cached KV as the prefix
 * cache allows; updates the prefix counters. Under mu, on the worker. */
void cove_sched_admit(cove_sched *s, sched_req *r);

/* output.c: sample the next token of r from `logits`, stream it and decide whether r ends;
 * returns 1 when r has finished. */
int cove_sched_emit(cove_sched *s, sched_req *r, const float *logits);
/* output.c: end r with `finish` (and status/message for errors). */
void cove_sched_finish(sched_req *r, enum cove_sched_finish finish, cove_status st,
                       const char *msg);

/* sched.c: free a request and everything it owns. */
void cove_sched_req_free(sched_req *r);

/* grammar.c: the grammar hook. init (at submit, any thread) compiles r->grammar; mask sets
 * the logits of tokens the grammar does not allow now to -INFINITY; accept advances over
 * the chosen token and says whether the grammar is complete; free releases r's grammar,
 * release the scheduler's grammar vocabulary. Without a grammar, each does nothing. */
cove_status cove_sched_grammar_init(cove_sched *s, sched_req *r, cove_error *err);
cove_status cove_sched_grammar_mask(cove_sched *s, sched_req *r, float *logits, cove_error *err);
cove_status cove_sched_grammar_accept(sched_req *r, int32_t token, int *complete,
                                      cove_error *err);
void cove_sched_grammar_free(sched_req *r);
void cove_sched_grammar_release(cove_sched *s);

#endif
