/*
 * server/server.h - cove's HTTP server: llama.cpp- and OpenAI-compatible endpoints over one
 * model shared by many clients.
 *
 * A cove_server loads a generation model (and optionally an embedding model), starts a
 * scheduler (cove/sched.h: continuous batching, prefix cache) on it and serves HTTP with
 * libmicrohttpd, one thread per connection:
 *
 *   POST /completion            llama.cpp's completion endpoint (docs/http/completion.md)
 *   POST /v1/completions        OpenAI completions
 *   POST /v1/chat/completions   OpenAI chat completions: tools, response_format, streaming
 *   POST /v1/embeddings         OpenAI embeddings (needs embed_model_path)
 *   GET  /v1/models             the models served
 *   GET  /health                {"status":"ok"} (503 while draining)
 *   GET  /metrics               Prometheus text
 *   POST /agent                 an agent run: plan, tool calls, answer (docs/http/agent.md)
 *
 * Errors are answered as {"error":{"message","type","param","code"}} with a 4xx/5xx status.
 * Auth: with an API key file every request but GET /health needs "Authorization: Bearer
 * KEY"; without one the server only binds a loopback address.
 *
 * Threads: create, drain and free from one controlling thread; everything else happens on
 * the server's own threads.
 */
#ifndef COVE_SERVER_SERVER_H
#define COVE_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "cove/status.h"

typedef struct cove_server cove_server;
struct cove_audit_log; /* audit/audit.h */

typedef struct cove_server_params {
    const char *model_path;       /* GGUF generation model; required */
    const char *embed_model_path; /* GGUF encoder model for /v1/embeddings; NULL: none */
    const char *host;             /* address to bind; default "127.0.0.1" */
    int port;                     /* 0: any free port (read it with cove_server_port) */
    const char *api_key_file;     /* "KEY TENANT" lines; NULL: no auth, loopback only */
    int32_t n_parallel;           /* requests decoded at once (scheduler slots); default 4 */
    int32_t n_ctx;                /* context of each slot; 0: the model's, capped */
    int32_t n_threads;            /* threads of a forward step; 0: all cores */
    int32_t n_queue_max;          /* requests that may wait for a slot; default 64 */
    int32_t tenant_max_concurrent;/* requests one tenant runs at once (429 beyond); default
                                     COVE_SERVER_TENANT_CONCURRENT */
    size_t max_body;              /* bytes of a request body (413 beyond); default
                                     COVE_SERVER_MAX_BODY */
    int32_t max_tokens;           /* most tokens one request may generate; default
                                     COVE_SERVER_MAX_TOKENS */
    int prefix_cache;             /* 1 (default): reuse KV of shared prompt prefixes */
    /* POST /agent: n_agents named agent configs (JSON files, docs/agents.md); the first is
     * the default. Read during cove_server_create. None: one agent "default" on model_path
     * with the built-in tools. A config without "model" runs on model_path. */
    const char *const *agent_names;
    const char *const *agent_configs;
    size_t n_agents;
    const char *agent_kb;               /* knowledge base of the default agent, or NULL */
    const char *const *agent_roots;     /* read_file roots of the default agent */
    size_t n_agent_roots;
    int agent_accept_weak_sandbox;      /* 1: every agent's file tools and plugins run even
                                           where the kernel has no Landlock */
    struct cove_audit_log *audit;       /* borrowed (must outlive the server); NULL: none */
} cove_server_params;

cove_server_params cove_server_default_params(void);

/*
 * Load the models, start the scheduler and listen. All strings of *p are copied. On
 * success *out owns everything (release with cove_server_free) and the server answers
 * requests on its own threads. Fails with COVE_ERR_PERMISSION (a non-loopback host without
 * an API key file), COVE_ERR_IO (cannot read the key file; cannot bind), COVE_ERR_FORMAT
 * (a bad key file line), the errors of cove_model_load and cove_sched_create, or
 * COVE_ERR_NOMEM. *out is NULL on failure.
 */
cove_status cove_server_create(const cove_server_params *p, cove_server **out,
                               cove_error *err);

/* The TCP port the server listens on (the chosen one when params.port was 0). */
int cove_server_port(const cove_server *s);

/* The model id served (the generation model's file name without ".gguf"). Borrowed. */
const char *cove_server_model_id(const cove_server *s);

/*
 * Graceful stop: stop accepting connections, answer new requests on open connections with
 * 503, let running requests finish (streams included), for at most timeout_ms (< 0: no
 * limit); then cancel what is left. Returns COVE_OK when everything finished in time,
 * COVE_ERR_TIMEOUT when requests had to be cancelled. The server answers nothing after.
 */
cove_status cove_server_drain(cove_server *s, int timeout_ms);

/* Stop (cancelling running requests) and release everything. NULL is a no-op. */
void cove_server_free(cove_server *s);

#endif
