/*
 * cove/sched.h - continuous batching of many generation requests on one model.
 *
 * A cove_sched owns one cove_context with n_slots sequences ("slots") of n_ctx positions
 * each: that KV cache is the whole memory the scheduler uses for keys and values, fixed
 * when it is created. A worker thread runs steps. Each step
 *
 *   1. admits queued requests into free slots (oldest first), cancels what was cancelled;
 *   2. builds one batch: one token for every slot that is generating, then prompt chunks of
 *      slots that are still reading their prompt, up to n_batch tokens in all;
 *   3. runs one cove_decode over that batch (every sequence at once);
 *   4. samples the next token of each generating slot with that request's own sampler,
 *      streams it (on_token), and finishes requests that are done (on_done).
 *
 * New requests join between steps; finished ones leave between steps. Requests wait in a
 * queue of at most n_queue_max when every slot is busy; submitting beyond that bound fails
 * with COVE_ERR_LIMIT (an HTTP server answers 503 with Retry-After).
 *
 * Prefix cache (params.prefix_cache, on by default): a slot keeps the KV of its last request
 * after that request finished. A new request goes to the slot whose cached tokens share the
 * longest prefix with its prompt; that slot's cache is cut back to the common prefix and
 * only the rest of the prompt is computed. When the longest shared prefix sits in a slot
 * that is busy, the prefix is copied into a free slot (cove_context_seq_copy). When no
 * free slot shares anything, the least recently used free slot is taken and its cache is
 * dropped (eviction). Reuse is exact: the output is the same as without the cache.
 *
 * Threads: cove_sched_submit, cove_sched_cancel, cove_sched_metrics and the getters may be
 * called from any thread at any time. Callbacks (on_token, on_done) run on the worker
 * thread, with no lock of the scheduler held: they may call submit, cancel and metrics, but
 * must not call cove_sched_shutdown or cove_sched_free, and should return quickly (a slow
 * callback stalls every request).
 *
 * Every request that cove_sched_submit accepted gets exactly one on_done call, whatever
 * happens (finished, cancelled, failed, scheduler shut down); after on_done returns, the
 * scheduler never touches that request's user pointer again.
 *
 * Ownership: the scheduler borrows its model (which must outlive it). Everything a request
 * struct points to is copied by cove_sched_submit; the caller may free it on return.
 * Pointers passed to callbacks are borrowed for the duration of the call.
 */
#ifndef COVE_SCHED_H
#define COVE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "cove/engine.h"
#include "cove/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cove_sched cove_sched;

/* Identifies one submitted request; never 0 for an accepted one, never reused. */
typedef uint64_t cove_sched_id;

typedef struct cove_sched_params {
    int32_t n_slots;     /* sequences decoded at once (parallel requests). Default 4; at
                            most COVE_MAX_SEQ */
    int32_t n_ctx;       /* positions of each slot: the longest prompt + generation of one
                            request; 0: the model's training context, capped at
                            COVE_CTX_DEFAULT_MAX. Default 0 */
    int32_t n_batch;     /* most tokens of one step (prompt chunks and decode tokens
                            together); also the context's n_ubatch. Default 512; at least
                            n_slots */
    int32_t n_queue_max; /* requests that may wait for a slot; 0: none may wait. Default 64;
                            at most COVE_SCHED_MAX_QUEUE */
    int32_t n_threads;   /* threads of a forward step (the worker included); 0: one per
                            usable core. Default 0 */
    enum cove_kv_type kv_type; /* KV cache element type. Default COVE_KV_F16 */
    int prefix_cache;    /* 1: keep finished requests' KV and reuse shared prefixes;
                            0: every request computes its whole prompt. Default 1 */
} cove_sched_params;

cove_sched_params cove_sched_default_params(void);

/* ---- requests ---- */

/* Most stop strings of one request, bytes of one stop string, top log-probabilities. */
#define COVE_SCHED_MAX_STOP 16
#define COVE_SCHED_MAX_STOP_LEN 256
#define COVE_SCHED_MAX_LOGPROBS 20

/* Why a request ended. */
enum cove_sched_finish {
    COVE_SCHED_FINISH_STOP = 0,      /* a stop string was generated (it is not in the text) */
    COVE_SCHED_FINISH_LENGTH = 1,    /* n_predict tokens, or the slot's n_ctx is full */
    COVE_SCHED_FINISH_EOS = 2,       /* the model generated an end-of-generation token, or
                                        the request's grammar is complete */
    COVE_SCHED_FINISH_CANCELLED = 3, /* cove_sched_cancel, on_token asked to stop, or shutdown
                                        in COVE_SCHED_SHUTDOWN_CANCEL mode */
    COVE_SCHED_FINISH_ERROR = 4      /* decoding or sampling failed: see result.status */
};

/* Stable lower-case name of a finish reason ("stop", "length", "eos", "cancelled", "error"). */
const char *cove_sched_finish_str(enum cove_sched_finish finish);

/* One candidate token and its log-probability under the model (log-softmax of the raw
 * logits, before any sampler stage). */
typedef struct cove_sched_logprob {
    int32_t token;
    float logprob;
} cove_sched_logprob;

/*
 * One streamed event. Borrowed for the on_token call only.
 *   token     the generated token; -1 for a last event that carries only text that was held
 *             back (see text) when the request ends. End-of-generation tokens are not
 *             streamed.
 *   index     0, 1, 2 ... over the events with token >= 0
 *   text      bytes of generated text that are now final (not NUL-terminated; may be empty):
 *             text is held back while it ends in an unfinished UTF-8 sequence or could be the
 *             start of a stop string, and released by a later event. The concatenation of
 *             every event's text is result.text.
 *   logprob   log-probability of `token` (0 when the request did not ask for logprobs)
 *   top       the request's n_logprobs most likely tokens, best first; n_top of them (0 when
 *             not asked for or token == -1)
 */
typedef struct cove_sched_token {
    int32_t token;
    int32_t index;
    const char *text;
    size_t text_len;
    float logprob;
    const cove_sched_logprob *top;
    int32_t n_top;
} cove_sched_token;

/*
 * The end of a request, given to on_done. Borrowed for the call only.
 *   finish / status   why it ended; status is COVE_OK unless finish is ERROR (then the
 *                     error, with its message in error_msg) or CANCELLED (COVE_ERR_CANCELLED)
 *   text              the whole generated text, stop string excluded, NUL-terminated
 *   tokens            the generated tokens (end-of-generation token excluded), n_generated
 *   stop              the stop string that ended it (finish == STOP), else NULL
 *   n_prompt          prompt tokens of the request
 *   n_cached          of those, tokens whose KV came from the prefix cache (not computed)
 *   n_generated       generated tokens (the events with token >= 0)
 *   t_queue_ms        from submit to the step that admitted it into a slot
 *   t_prompt_ms       from admission to the first generated token (prompt processing)
 *   t_gen_ms          from the first generated token to the end
 */
typedef struct cove_sched_result {
    cove_sched_id id;
    enum cove_sched_finish finish;
    cove_status status;
    const char *error_msg;
    const char *text;
    size_t text_len;
    const int32_t *tokens;
    const char *stop;
    int32_t n_prompt;
    int32_t n_cached;
    int32_t n_generated;
    double t_queue_ms;
    double t_prompt_ms;
    double t_gen_ms;
} cove_sched_result;

/* Called on the worker thread for every event of a request. Return 0 to go on, non-zero to
 * cancel the request (it then ends with COVE_SCHED_FINISH_CANCELLED). */
typedef int (*cove_sched_token_fn)(void *user, const cove_sched_token *event);

/* Called on the worker thread exactly once per accepted request, as its last callback. */
typedef void (*cove_sched_done_fn)(void *user, const cove_sched_result *result);

/*
 * A generation request. Everything is copied by cove_sched_submit.
 *   prompt, n_prompt   prompt tokens (BOS included when wanted), 1 .. n_ctx of them; a longer
 *                      prompt is refused (COVE_ERR_LIMIT), never truncated
 *   sampler            sampler parameters, seed included; greedy when temp <= 0
 *   n_predict          most tokens to generate; -1: until end of generation or the slot's
 *                      context is full. 0 is refused (COVE_ERR_INVALID_ARG)
 *   stop, n_stop       stop strings (at most COVE_SCHED_MAX_STOP, each 1 ..
 *                      COVE_SCHED_MAX_STOP_LEN bytes); generation ends at the first one
 *                      generated, which is cut from the text
 *   ignore_eos         1: end-of-generation tokens are not sampled (their logits are masked)
 *   n_logprobs         0: no log-probabilities; 1 .. COVE_SCHED_MAX_LOGPROBS: the chosen
 *                      token's and that many top candidates' in every event
 *   cache_prompt       1: may reuse a cached prefix (when the scheduler's prefix_cache is
 *                      on); 0: computes the whole prompt. Default 1
 *   grammar            GBNF text constraining the output (cove/grammar.h), or NULL;
 *                      grammar_len bytes (0: NUL-terminated). Compiled at submit; before
 *                      each token the tokens it does not allow are masked. When the grammar
 *                      is complete (nothing more may follow) the request ends with
 *                      COVE_SCHED_FINISH_EOS
 *   on_token           optional streaming callback; NULL: no events
 *   on_done            required: the result
 *   user               passed to both callbacks
 */
typedef struct cove_sched_request {
    const int32_t *prompt;
    int32_t n_prompt;
    cove_sampler_params sampler;
    int32_t n_predict;
    const char *const *stop;
    int32_t n_stop;
    int ignore_eos;
    int32_t n_logprobs;
    int cache_prompt;
    const char *grammar;
    size_t grammar_len;
    cove_sched_token_fn on_token;
    cove_sched_done_fn on_done;
    void *user;
} cove_sched_request;

/* A request with the defaults: default sampler, n_predict -1, cache_prompt 1, the rest 0. */
cove_sched_request cove_sched_default_request(void);

/* ---- life cycle ---- */

/*
 * Create a scheduler on `model` (borrowed; it must outlive the scheduler): creates the
 * context (n_slots sequences of n_ctx tokens) and starts the worker thread. Fails with the
 * errors of cove_context_create, COVE_ERR_INVALID_ARG (bad params), COVE_ERR_LIMIT
 * (n_slots, n_queue_max beyond limits.h), COVE_ERR_NOMEM. *out is NULL on failure.
 */
cove_status cove_sched_create(const cove_model *model, cove_sched_params params,
                              cove_sched **out, cove_error *err);

/*
 * Queue a request. On success *id identifies it and on_done will be called exactly once.
 * Fails, with no callback, with:
 *   COVE_ERR_LIMIT        the queue holds n_queue_max requests already ("queue is full");
 *                         the prompt is longer than the slot's n_ctx ("prompt is too long:
 *                         N tokens, the context holds M")
 *   COVE_ERR_INVALID_ARG  NULL or empty prompt, a token outside the vocabulary, n_predict 0
 *                         or < -1, no on_done, bad sampler parameters, bad stop strings or
 *                         n_logprobs
 *   COVE_ERR_FORMAT       a grammar that does not compile ("line:col: reason")
 *   COVE_ERR_STATE        the scheduler is shutting down
 *   COVE_ERR_NOMEM
 */
cove_status cove_sched_submit(cove_sched *s, const cove_sched_request *req, cove_sched_id *id,
                              cove_error *err);

/*
 * Cancel request `id` (queued or running): it ends with COVE_SCHED_FINISH_CANCELLED at the
 * worker's next step, which frees its slot (its KV stays as prefix cache). Returns COVE_OK
 * when the request was still live, COVE_ERR_NOT_FOUND when it is unknown or already ended
 * (on_done may then be running or done). Never blocks on a step.
 */
cove_status cove_sched_cancel(cove_sched *s, cove_sched_id id);

enum cove_sched_shutdown_mode {
    COVE_SCHED_SHUTDOWN_DRAIN = 0, /* refuse new requests; finish queued and running ones */
    COVE_SCHED_SHUTDOWN_CANCEL = 1 /* refuse new requests; cancel queued and running ones */
};

/*
 * Stop accepting requests (submit then fails with COVE_ERR_STATE), end the others as `mode`
 * says, wait until every on_done has run, and stop the worker thread. A second call returns
 * at once. Must not be called from a callback (COVE_ERR_STATE).
 */
cove_status cove_sched_shutdown(cove_sched *s, enum cove_sched_shutdown_mode mode);

/* Shut down (COVE_SCHED_SHUTDOWN_CANCEL unless already shut down) and release everything.
 * NULL is a no-op. Not from a callback. */
void cove_sched_free(cove_sched *s);

/* ---- state ---- */

/*
 * Counters since creation; a consistent snapshot, cheap, from any thread.
 * mean batch size = batch_tokens / steps; prefix-cache hit ratio = prefix_hits /
 * prefix_lookups (a lookup is an admitted request with cache_prompt on, a hit one that
 * reused at least one token).
 */
typedef struct cove_sched_metrics {
    uint64_t requests_submitted; /* accepted by submit */
    uint64_t requests_rejected;  /* refused by submit for a full queue */
    uint64_t requests_finished;  /* ended with STOP, LENGTH or EOS */
    uint64_t requests_cancelled; /* ended with CANCELLED */
    uint64_t requests_failed;    /* ended with ERROR */
    uint64_t tokens_prompt;      /* prompt tokens of admitted requests */
    uint64_t tokens_evaluated;   /* prompt tokens computed (tokens_prompt - tokens_reused) */
    uint64_t tokens_reused;      /* prompt tokens taken from the prefix cache */
    uint64_t tokens_generated;   /* tokens streamed (token >= 0 events) */
    uint64_t steps;              /* decode calls of the worker */
    uint64_t batch_tokens;       /* tokens of all those decode calls */
    uint64_t batch_seqs;         /* sequences of all those decode calls */
    uint64_t prefix_lookups;
    uint64_t prefix_hits;
    uint64_t prefix_copies;      /* prefixes copied from a busy slot into a free one */
    uint64_t prefix_evictions;   /* free slots whose cached tokens were dropped for a
                                    request that shared none of them */
    double busy_seconds;         /* time spent in steps */
    int32_t queue_len;           /* requests waiting for a slot now */
    int32_t active;              /* requests in slots now */
    int32_t n_slots;
    int32_t n_queue_max;
    int32_t cached_tokens;       /* tokens held in the KV of slots now */
} cove_sched_metrics;

/* Fill *out with a snapshot. s and out must not be NULL. */
void cove_sched_metrics_get(cove_sched *s, cove_sched_metrics *out);

const cove_model *cove_sched_model(const cove_sched *s); /* borrowed */
int32_t cove_sched_n_ctx(const cove_sched *s);           /* positions of one slot */
int32_t cove_sched_n_slots(const cove_sched *s);

#ifdef __cplusplus
}
#endif
#endif /* COVE_SCHED_H */
