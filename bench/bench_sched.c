/*
 * bench/bench_sched.c - the scheduler's throughput and its prefix cache.
 *
 *   bench_sched MODEL [-t THREADS] [-n TOKENS] [-a AGENT_STEPS] [-r REPS]
 *
 * Two markdown tables:
 *   1. aggregate decode tokens/s with 1, 4, 8 and 16 concurrent streams (one slot each;
 *      short distinct prompts; TOKENS generated per stream, default 64, end of generation
 *      ignored): the tokens generated while all N streams decode (from the last stream's
 *      first token to the first stream's end; the prompts of later streams are prefilled
 *      between decode steps before that) over that time, and the speed-up over one stream;
 *      beside it every generated token from the first one to the last request's end; the
 *      best of REPS runs (default 3) each, as the machine may be shared. Last, the engine
 *      alone: one cove_decode of one token in each of N sequences, repeated, without the
 *      scheduler.
 *   2. an agent-like loop: AGENT_STEPS (default 10) requests over a growing prompt that
 *      starts at about 500 tokens; each step appends the previous answer and a ~30-token
 *      observation and generates 16 tokens. Total time with the prefix cache on and off.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cove/engine.h"
#include "cove/sched.h"

#define MAX_STREAMS 16
#define AGENT_GEN 16
#define MAX_PROMPT 4096

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- completion tracking shared by every request of a run ---- */

typedef struct run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending, streams, started, done;
    double t_first_token, t_last_done;
    double t_all, t_first_done; /* every stream decoding since; the first one ended */
    uint64_t tok, tok_all, tok_first_done; /* tokens seen so far; at those two times */
    uint64_t generated, cached;
    int32_t out[MAX_PROMPT];
    int32_t n_out;
    int failed;
} run;

static void run_init(run *r, int pending)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->pending = pending;
}

static void run_wait(run *r)
{
    pthread_mutex_lock(&r->mu);
    while (r->pending > 0)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static int on_token(void *user, const cove_sched_token *ev)
{
    run *r = user;
    if (ev->token < 0)
        return 0;
    pthread_mutex_lock(&r->mu);
    double t = now_ms();
    if (r->t_first_token == 0)
        r->t_first_token = t;
    r->tok++;
    if (ev->index == 0 && ++r->started == r->streams) {
        r->t_all = t;
        r->tok_all = r->tok;
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void on_done(void *user, const cove_sched_result *res)
{
    run *r = user;
    pthread_mutex_lock(&r->mu);
    r->generated += (uint64_t)res->n_generated;
    r->cached += (uint64_t)res->n_cached;
    r->failed |= res->finish == COVE_SCHED_FINISH_ERROR;
    r->n_out = res->n_generated < MAX_PROMPT ? res->n_generated : MAX_PROMPT;
    memcpy(r->out, res->tokens, (size_t)r->n_out * sizeof(int32_t));
    r->t_last_done = now_ms();
    if (r->done++ == 0) {
        r->t_first_done = r->t_last_done;
        r->tok_first_done = r->tok;
    }
    r->pending--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static cove_sched *make(const cove_model *m, int32_t slots, int32_t threads, int prefix)
{
    cove_sched_params p = cove_sched_default_params();
    p.n_slots = slots;
    p.n_ctx = 2048;
    p.n_threads = threads;
    p.prefix_cache = prefix;
    cove_sched *s = NULL;
    cove_error err = {0};
    if (cove_sched_create(m, p, &s, &err) != COVE_OK)
        fprintf(stderr, "bench_sched: %s\n", cove_error_msg(&err));
    return s;
}

static int32_t tokenize(const cove_model *m, const char *text, int add_bos, int32_t *out,
                        int32_t max)
{
    int32_t n = 0;
    if (cove_tokenize(m, text, strlen(text), add_bos, 0, out, max, &n, NULL) != COVE_OK)
        return 0;
    return n;
}

/* ---- 1. concurrent streams ---- */

/*
 * n concurrent streams: tokens/s while all n decode (from the last stream's first token to
 * the first stream's end: the prompts of later streams, prefilled between decode steps, fall
 * outside), into *steady; the return value counts every generated token from the first one to
 * the last request's end.
 */
static double streams(const cove_model *m, int32_t n, int32_t threads, int32_t n_predict,
                      double *steady)
{
    static const char *const topics[] = {"the sea", "a red fox", "old trains", "rain",
                                         "a garden", "the moon", "bread", "mountains"};
    cove_sched *s = make(m, n, threads, 0);
    if (!s)
        return -1;
    static int32_t p[MAX_STREAMS][64];
    int32_t np[MAX_STREAMS];
    run r;
    run_init(&r, n);
    r.streams = n;
    *steady = -1;
    for (int32_t i = 0; i < n; i++) {
        char text[128];
        snprintf(text, sizeof text, "Write a short story number %d about %s.", i + 1,
                 topics[i % 8]);
        np[i] = tokenize(m, text, 1, p[i], 64);
        cove_sched_request q = cove_sched_default_request();
        q.prompt = p[i];
        q.n_prompt = np[i];
        q.n_predict = n_predict;
        q.ignore_eos = 1;
        q.sampler.temp = 0;
        q.on_token = on_token;
        q.on_done = on_done;
        q.user = &r;
        cove_sched_id id;
        if (cove_sched_submit(s, &q, &id, NULL) != COVE_OK)
            r.pending--;
    }
    run_wait(&r);
    cove_sched_free(s);
    double ms = r.t_last_done - r.t_first_token, win = r.t_first_done - r.t_all;
    if (!r.failed && win > 0 && r.tok_first_done > r.tok_all)
        *steady = (double)(r.tok_first_done - r.tok_all) / (win / 1e3);
    return r.failed || ms <= 0 ? -1 : (double)r.generated / (ms / 1e3);
}

/* The engine alone: R decode calls of one token in each of n sequences (no scheduler). */
static double engine_only(const cove_model *m, int32_t n, int32_t threads, int32_t reps)
{
    cove_context_params cp = cove_context_default_params();
    cp.n_ctx = 256;
    cp.n_seq_max = n;
    cp.n_outputs_max = n;
    cp.n_threads = threads;
    cove_context *c = NULL;
    if (cove_context_create(m, cp, &c, NULL) != COVE_OK)
        return -1;
    int32_t tok[MAX_STREAMS], seq[MAX_STREAMS];
    int8_t want[MAX_STREAMS];
    for (int32_t i = 0; i < n; i++) {
        tok[i] = 100 + i;
        seq[i] = i;
        want[i] = 1;
    }
    cove_batch b = {tok, NULL, seq, n, want};
    cove_status st = cove_decode(c, &b, NULL); /* warm-up */
    double t0 = now_ms();
    for (int32_t r = 0; st == COVE_OK && r < reps; r++)
        st = cove_decode(c, &b, NULL);
    double ms = now_ms() - t0;
    cove_context_free(c);
    return st == COVE_OK ? (double)n * reps / (ms / 1e3) : -1;
}

/* ---- 2. agent loop ---- */

static const char base_text[] =
    "You are a careful assistant that plans, calls tools and reports. Tools: search(query) "
    "returns documents; read_file(path) returns the text of a file; calculator(expression) "
    "returns a number; list_files(directory) returns names; write_note(text) stores a note. "
    "Rules: think step by step, call one tool per step, cite the files you used, never "
    "invent facts, answer in plain English, keep answers short, ask when the task is not "
    "clear, and stop when the task is done. ";

static const char *const observations[] = {
    "Observation: search returned three documents about quarterly revenue and costs.",
    "Observation: the file report.txt says revenue grew by twelve percent this year.",
    "Observation: calculator returned 1.12 times 450 equals 504.",
    "Observation: list_files returned notes.md, report.txt, budget.csv and plan.md.",
    "Observation: budget.csv has rows for rent, salaries, travel and equipment.",
};

/* The ~500-token starting prompt: the base text repeated with a step counter. */
static int32_t agent_base(const cove_model *m, int32_t *p)
{
    int32_t n = tokenize(m, base_text, 1, p, MAX_PROMPT);
    while (n > 0 && n < 480) {
        int32_t k = tokenize(m, base_text, 0, p + n, MAX_PROMPT - n);
        if (k == 0)
            break;
        n += k;
    }
    return n;
}

/* Total ms of `steps` requests over the growing prompt; *first, *last: prompt sizes. */
static double agent(const cove_model *m, int32_t threads, int prefix, int32_t steps,
                    int32_t *first, int32_t *last, uint64_t *reused)
{
    static int32_t p[MAX_PROMPT];
    int32_t n = agent_base(m, p);
    cove_sched *s = make(m, 2, threads, prefix);
    if (!s || n == 0)
        return -1;
    *first = n;
    *reused = 0;
    double t0 = now_ms();
    for (int32_t step = 0; step < steps; step++) {
        run r;
        run_init(&r, 1);
        cove_sched_request q = cove_sched_default_request();
        q.prompt = p;
        q.n_prompt = n;
        q.n_predict = AGENT_GEN;
        q.ignore_eos = 1;
        q.sampler.temp = 0;
        q.on_done = on_done;
        q.user = &r;
        cove_sched_id id;
        if (cove_sched_submit(s, &q, &id, NULL) != COVE_OK)
            r.pending = 0;
        run_wait(&r);
        *last = n;
        *reused += r.cached;
        if (n + r.n_out + 64 >= 2048)
            break;
        memcpy(p + n, r.out, (size_t)r.n_out * sizeof(int32_t));
        n += r.n_out;
        n += tokenize(m, observations[step % 5], 0, p + n, MAX_PROMPT - n);
    }
    double ms = now_ms() - t0;
    cove_sched_free(s);
    return ms;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_sched MODEL [-t THREADS] [-n TOKENS] [-a STEPS] "
                        "[-r REPS]\n");
        return 2;
    }
    int32_t threads = 0, n_predict = 64, steps = 10, reps = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-t") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0)
            n_predict = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-a") == 0)
            steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-r") == 0)
            reps = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 1;
    }
    cove_model *m = NULL;
    cove_error err = {0};
    if (cove_model_load(argv[1], cove_model_default_params(), &m, &err) != COVE_OK) {
        fprintf(stderr, "bench_sched: %s\n", cove_error_msg(&err));
        return 1;
    }
    printf("%s, %d threads (0: all cores), %d tokens per stream\n\n", argv[1], threads,
           n_predict);
    printf("| streams | decode tok/s, all streams decoding | per stream | vs 1 stream | "
           "first token to last end, tok/s | engine alone: one decode over N sequences, tok/s |\n");
    printf("|--------:|------:|------:|------:|------:|------:|\n");
    const int32_t counts[4] = {1, 4, 8, 16};
    double one = 0;
    for (int i = 0; i < 4; i++) {
        double tps = 0, all = 0, raw = 0;
        for (int32_t r = 0; r < reps; r++) {
            double st, t = streams(m, counts[i], threads, n_predict, &st);
            double e = engine_only(m, counts[i], threads, n_predict);
            tps = st > tps ? st : tps;
            all = t > all ? t : all;
            raw = e > raw ? e : raw;
        }
        if (i == 0)
            one = tps;
        printf("| %d | %.1f | %.1f | %.2fx | %.1f | %.1f |\n", counts[i], tps, tps / counts[i],
               one > 0 ? tps / one : 0, all, raw);
        fflush(stdout);
    }
    if (steps <= 0) {
        cove_model_free(m);
        return 0;
    }
    printf("\n| agent loop, %d steps | prompt tokens (first..last) | reused | total ms | "
           "ms per step |\n|---|---:|---:|---:|---:|\n", steps);
    double ms[2];
    for (int on = 1; on >= 0; on--) {
        int32_t first = 0, last = 0;
        uint64_t reused = 0;
        ms[on] = agent(m, threads, on, steps, &first, &last, &reused);
        printf("| prefix cache %s | %d..%d | %llu | %.0f | %.1f |\n", on ? "on" : "off", first,
               last, (unsigned long long)reused, ms[on], ms[on] / steps);
        fflush(stdout);
    }
    printf("\nprefix cache speed-up: %.2fx\n", ms[1] > 0 ? ms[0] / ms[1] : 0);
    cove_model_free(m);
    return 0;
}
