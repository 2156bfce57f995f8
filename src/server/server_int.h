/*
 * server/server_int.h - the server's insides (private to src/server).
 *
 * Files: server.c (life cycle, drain), http.c (libmicrohttpd glue: routing, body, auth and
 * limits, completion notices), reply.c (JSON and error responses), auth.c (API keys,
 * tenants, per-tenant concurrency), metrics.c (counters, histograms, /metrics text),
 * job.c (one generation request on the scheduler: events, waiting, SSE streaming),
 * h_completion.c (/completion, /v1/completions), h_chat.c (/v1/chat/completions),
 * tools.c (tool-call grammars and parsing tool calls out of the output), h_misc.c
 * (/v1/embeddings, /v1/models, /health, /metrics), h_agent.c (/agent and its SSE stream
 * of steps, the audit log helper), request_agent.c (the /agent body).
 *
 * Threads: libmicrohttpd runs one thread per connection; the access handler of a
 * connection runs on its thread and may block (waiting for a generation). The scheduler's
 * callbacks run on its worker thread and only touch a job under the job's lock.
 */
#ifndef COVE_SERVER_SERVER_INT_H
#define COVE_SERVER_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "agent/agent.h"
#include "audit/audit.h"
#include "base/arena.h"
#include "base/buf.h"
#include "cove/engine.h"
#include "cove/sched.h"
#include "engine/tokenizer/chat.h"
#include "server/request.h"
#include "server/server.h"

/* ------------------------------------------------------------------ auth */

typedef struct srv_auth srv_auth;

/* Load "KEY TENANT" lines (# comments, blank lines skipped). *out owned by the caller. */
cove_status srv_auth_load(const char *path, srv_auth **out, cove_error *err);
void srv_auth_free(srv_auth *a);
/* The tenant index of a presented key (constant-time over all keys), or -1. */
int srv_auth_check(const srv_auth *a, const char *key);
const char *srv_auth_tenant(const srv_auth *a, int tenant);

/* Per-tenant concurrency (tenant -1: the one tenant of a server without keys). */
typedef struct srv_tenants srv_tenants;
cove_status srv_tenants_create(int n_tenants, int max_each, srv_tenants **out);
void srv_tenants_free(srv_tenants *t);
int srv_tenants_acquire(srv_tenants *t, int tenant); /* 1: got a place; 0: at the limit */
void srv_tenants_release(srv_tenants *t, int tenant);

/* --------------------------------------------------------------- metrics */

enum srv_route {
    SRV_ROUTE_COMPLETION = 0,
    SRV_ROUTE_V1_COMPLETIONS,
    SRV_ROUTE_CHAT,
    SRV_ROUTE_EMBEDDINGS,
    SRV_ROUTE_MODELS,
    SRV_ROUTE_HEALTH,
    SRV_ROUTE_METRICS,
    SRV_ROUTE_AGENT,
    SRV_ROUTE_OTHER,
    SRV_ROUTE_COUNT
};

#define SRV_N_BUCKETS 12
#define SRV_N_CODES 10 /* 200 400 401 404 405 413 429 500 503 other */

typedef struct srv_hist {
    uint64_t counts[SRV_N_BUCKETS + 1]; /* the last: +Inf */
    double sum;
    uint64_t n;
} srv_hist;

typedef struct srv_metrics {
    pthread_mutex_t mu;
    uint64_t requests[SRV_ROUTE_COUNT][SRV_N_CODES];
    srv_hist duration[SRV_ROUTE_COUNT]; /* seconds from first byte to response sent */
    srv_hist ttft;                      /* seconds to the first generated token */
    uint64_t prompt_tokens, completion_tokens, client_cancels;
} srv_metrics;

void srv_metrics_init(srv_metrics *m);
void srv_metrics_destroy(srv_metrics *m);
void srv_metrics_request(srv_metrics *m, enum srv_route r, unsigned code, double seconds);
void srv_metrics_tokens(srv_metrics *m, int32_t prompt, int32_t completion, double ttft_s);
void srv_metrics_cancel(srv_metrics *m);
/* Append the Prometheus text (this server's counters and the scheduler's) to b. */
cove_status srv_metrics_render(srv_metrics *m, cove_sched *sched, struct cove_buf *b);

/* ---------------------------------------------------------------- agents */
/* One named agent of POST /agent. The cove_agent (its own model and context) is made on
 * first use and runs one request at a time under mu. */
typedef struct srv_agent {
    char *name;
    struct cove_agent_config cfg;
    cove_agent *agent;
    pthread_mutex_t mu;
} srv_agent;
/* Load the configs of s->p into s->agents (h_agent.c). Errors of cove_agent_config_load. */
cove_status srv_agents_setup(cove_server *s, cove_error *err);
void srv_agents_free(cove_server *s);
/* Append one audit record for a request (no-op without a log; failures are logged). */
void srv_audit(cove_server *s, enum cove_audit_kind kind, const char *tenant, const char *rid,
               const char *tool, const char *text);
/* ---------------------------------------------------------------- server */

struct cove_server {
    cove_server_params p;          /* strings point into the copies below */
    char *host, *key_file, *model_path, *embed_path;
    int keyed;                     /* an API key file was given */
    cove_model *model;
    cove_sched *sched;
    char model_id[256];
    int32_t n_ctx;
    /* chat template */
    struct cove_chat_template_info chat;
    struct cove_chat_options chat_fmt;
    int chat_add_special;
    const char *bos_text, *eos_text;
    /* embeddings */
    cove_model *emb_model;
    cove_embedder *emb;
    pthread_mutex_t emb_mu;
    char embed_id[256];
    /* clients */
    srv_auth *auth;
    srv_tenants *tenants;
    srv_metrics metrics;
    struct MHD_Daemon *mhd;
    int port;
    long created;                  /* unix time */
    pthread_mutex_t mu;            /* guards inflight and draining */
    pthread_cond_t idle;
    int inflight;                  /* requests between dispatch and completion notice */
    atomic_int draining;
    srv_agent *agents;             /* POST /agent */
    size_t n_agents;
    cove_audit_log *audit;         /* borrowed; NULL: no audit log */
};

/* ------------------------------------------------------------ connection */

typedef struct srv_conn srv_conn;
typedef struct MHD_Response *(*srv_handler)(srv_conn *c);

/* State of one HTTP request, from its first byte to the completion notice. */
struct srv_conn {
    cove_server *s;
    struct MHD_Connection *mc;
    enum srv_route route;
    cove_arena *arena;     /* per-request memory: parsed request, prompt tokens */
    struct cove_buf body;
    int body_too_large;
    srv_handler handler;   /* set once admitted; cleared when it has run */
    int tenant;            /* -1: no keys in use */
    int holds_tenant;      /* 1: released at completion */
    int counted;           /* 1: counted in s->inflight */
    unsigned status;       /* the HTTP status answered */
    double t_start;
    char rid[32];          /* request id: audit session, response id suffix */
};

/* libmicrohttpd callbacks (http.c); cls is the cove_server. */
enum MHD_Result srv_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);
void srv_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                      enum MHD_RequestTerminationCode toe);

/* Seconds on a monotonic clock. */
double srv_now(void);

/* ----------------------------------------------------------------- replies */

/* A response with the JSON text of v (v is released). Sets c->status. NULL: out of memory. */
struct MHD_Response *srv_reply_json(srv_conn *c, unsigned status, json_t *v);

/*
 * An OpenAI-style error: {"error":{"message","type","param","code"}}. type is derived from
 * the status ("invalid_request_error", "authentication_error", "rate_limit_error",
 * "server_error", ...); param and code may be NULL (JSON null).
 */
struct MHD_Response *srv_reply_error(srv_conn *c, unsigned status, const char *param,
                                     const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* The JSON of such an error (for an SSE error event); NULL only when out of memory. */
json_t *srv_error_json(unsigned status, const char *param, const char *code, const char *msg);

/* The OpenAI error code of status st ("invalid_value", "limit_exceeded",
 * "unsupported_parameter"), or NULL for a status without one. Static text. */
const char *srv_status_code(cove_status st);

/* The error reply for a failed parse or check: the HTTP status of `err->status`. */
struct MHD_Response *srv_reply_status(srv_conn *c, const cove_error *err, const char *param);

/* ------------------------------------------------------------------ jobs */

typedef struct srv_job srv_job;

/* What the generating endpoints hand to job.c. */
enum srv_job_kind { SRV_JOB_LLAMA = 0, SRV_JOB_V1_COMPLETION, SRV_JOB_CHAT };

/* How a chat answer's tool calls are written by the model (tools.c). */
typedef struct srv_tool_syntax {
    const char *open;      /* text before a call's JSON ("<tool_call>\n") */
    const char *close;     /* text after it ("\n</tool_call>") */
    const char *sep;       /* between two calls */
    const char *args_key;  /* "arguments" or "parameters" */
} srv_tool_syntax;

typedef struct srv_job_spec {
    enum srv_job_kind kind;
    int stream;
    int include_usage;
    int n_logprobs;       /* 0: none; else the scheduler's n_logprobs */
    int top_logprobs;     /* top candidates reported per token (<= n_logprobs) */
    int want_logprobs;    /* chat: logprobs true */
    int tool_mode;        /* chat: the output may be tool calls */
    const srv_tool_syntax *tools;
    const char *model_id; /* echoed in responses */
    cove_sched_request req; /* prompt, sampler, grammar ...; callbacks set by job.c */
} srv_job_spec;

/*
 * Submit a generation and answer it: a streamed response (SSE) or, after waiting for the
 * end, a JSON one. Cancels the generation when the client goes away. Returns the response
 * to queue, or NULL when the client is gone (then the connection is closed).
 */
struct MHD_Response *srv_job_run(srv_conn *c, const srv_job_spec *spec);

/* Shared with the /agent stream (h_agent.c). 1 when the peer closed its end of the
 * connection on socket fd (or it broke); 0 while it is open, and for fd -1. */
int srv_peer_gone(int fd);
/* Wait on cv (made with CLOCK_MONOTONIC; mu held) for news, at most 100 ms. */
void srv_poll_wait(pthread_cond_t *cv, pthread_mutex_t *mu);
/* Initialise cv on CLOCK_MONOTONIC (as srv_poll_wait needs). */
void srv_cond_init_monotonic(pthread_cond_t *cv);
/* The socket of connection c, or -1 when libmicrohttpd does not tell. */
int srv_conn_fd(srv_conn *c);
/* The body of an SSE reader callback once it has stopped waiting (its mutex held): with
 * the client gone, MHD_CONTENT_READER_END_WITH_ERROR; with nothing left in out from *off,
 * MHD_CONTENT_READER_END_OF_STREAM; else up to max bytes of it copied into buf, *off moved
 * past them (out reset and *off 0 once all is taken), and their count returned. */
ssize_t srv_sse_take(struct cove_buf *out, size_t *off, int gone, char *buf, size_t max);
/* The 200 text/event-stream response (no-cache) read by reader and freed by free_cb, both
 * given cls. NULL when it cannot be made; free_cb(cls) has then been called. */
struct MHD_Response *srv_sse_response(srv_conn *c, MHD_ContentReaderCallback reader,
                                      MHD_ContentReaderFreeCallback free_cb, void *cls);

/* Random 24-character id suffix ("chatcmpl-" + this). buf holds at least 25 bytes. */
void srv_random_id(char *buf, size_t n);

/* ------------------------------------------------------------ tools.c */

/* The tool-call syntax of a chat family. */
const srv_tool_syntax *srv_tool_syntax_of(enum cove_chat_family f);

/*
 * The GBNF for a chat answer with tools: tool_choice REQUIRED / FUNCTION: one or more calls
 * (one when !parallel); AUTO: calls, or text that does not begin with the call opening.
 * *out is cove_malloc'ed. Errors of the schema converter (COVE_ERR_UNSUPPORTED for a
 * parameters schema it cannot enforce) with the message naming the tool.
 */
cove_status srv_tools_grammar(const struct cove_server_chat_req *r, const srv_tool_syntax *sx,
                              char **out, cove_error *err);

/*
 * Parse the tool calls out of a finished answer `text` into a new JSON array of OpenAI
 * tool_calls (owned by the caller), or NULL when the text holds no call. cut: the answer
 * was cut by its token limit; the calls completed before the cut are kept.
 */
json_t *srv_tools_parse(const char *text, size_t len, const srv_tool_syntax *sx, int cut);

/* ------------------------------------------------------------- handlers */

struct MHD_Response *srv_h_completion(srv_conn *c);
struct MHD_Response *srv_h_v1_completions(srv_conn *c);
struct MHD_Response *srv_h_chat(srv_conn *c);
struct MHD_Response *srv_h_embeddings(srv_conn *c);
struct MHD_Response *srv_h_models(srv_conn *c);
struct MHD_Response *srv_h_health(srv_conn *c);
struct MHD_Response *srv_h_metrics(srv_conn *c);
struct MHD_Response *srv_h_agent(srv_conn *c);

/* Shared by the generating handlers (h_completion.c). */
/* Tokenize `text` for generation into the arena; 400 reply on failure (*resp set). */
int srv_prompt_tokens(srv_conn *c, const char *text, size_t len, int add_special,
                      int32_t **toks, int32_t *n, struct MHD_Response **resp);
/* Fill the scheduler request's sampler, n_predict, stops from gen; check them against the
 * context (prompt of n tokens). Returns 0, or sets *resp to the error reply. */
int srv_gen_setup(srv_conn *c, const struct cove_server_gen_opts *g, int32_t n_prompt,
                  cove_sched_request *req, struct MHD_Response **resp);
/* The GBNF of a request's output format into *out (cove_malloc'ed; NULL for free text).
 * Returns 0, or -1 with *resp set to the error reply (NULL: out of memory). */
int srv_format_grammar(srv_conn *c, enum cove_server_format f, const char *grammar,
                       const char *schema, char **out, struct MHD_Response **resp);
/* The model id check of an OpenAI request: 0 ok, or *resp is the 404. */
int srv_check_model(srv_conn *c, const char *model, const char *served,
                    struct MHD_Response **resp);

#endif
