/*
 * agent/backend.h - where an agent's plans come from: one interface, three backends.
 *
 *   engine    the in-process engine: a cove_model + cove_context + sampler, the prompt
 *             written with the model's chat template, every token masked by the plan
 *             grammar, and the KV cache kept across steps (prefix reuse).
 *   remote    an OpenAI-compatible server (a second cove, llama.cpp's server, vLLM) given
 *             by URL and key: POST {url}/v1/chat/completions with the plan's JSON Schema
 *             as response_format and the GBNF text as "grammar" (llama.cpp reads it).
 *   scripted  a list of outputs given by a test, returned in order; it records the prompts
 *             it was shown.
 *
 * A backend is a vtable and a state pointer; cove_agent_backend_free releases both.
 */
#ifndef COVE_AGENT_BACKEND_H
#define COVE_AGENT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "cove/status.h"
#include "engine/tokenizer/chat.h"

/* What one generation is asked for. Strings are borrowed for the call. */
struct cove_agent_gen {
    const struct cove_chat_message *msgs; /* the conversation (system, user, assistant...) */
    size_t n_msgs;
    const char *grammar;     /* GBNF text the output must match; NULL: free text */
    const char *json_schema; /* the same constraint as JSON Schema (remote backend), or NULL */
    const char *prefix;      /* text the output must start with (decided already; it must fit
                                the grammar), copied to the output first; NULL: none */
    int32_t max_tokens;
    float temperature;
    uint64_t seed;
};

struct cove_agent_backend_ops {
    const char *name; /* "engine", "remote", "scripted" */
    /* Write the model's output for g into out (reset first). */
    cove_status (*generate)(void *state, const struct cove_agent_gen *g, struct cove_buf *out,
                            cove_error *err);
    void (*free)(void *state);
    /* Optional (NULL when the backend cannot score text): given the conversation and
     * g->prefix as the start of the reply, write to scores[i] the mean log-probability of
     * the tokens of options[i] as the continuation. */
    cove_status (*score)(void *state, const struct cove_agent_gen *g,
                         const char *const *options, size_t n, double *scores, cove_error *err);
};

typedef struct cove_agent_backend {
    const struct cove_agent_backend_ops *ops;
    void *state;
} cove_agent_backend;

/* Free the backend and its state. NULL is a no-op. */
void cove_agent_backend_free(cove_agent_backend *b);

/* Run one generation. Errors of the backend (COVE_ERR_NETWORK, COVE_ERR_LIMIT, ...). */
cove_status cove_agent_backend_generate(cove_agent_backend *b, const struct cove_agent_gen *g,
                                        struct cove_buf *out, cove_error *err);

/*
 * Score options[0, n) as continuations of g->prefix (see the op) into scores[0, n).
 * Returns COVE_ERR_UNSUPPORTED when the backend cannot (remote, scripted).
 */
cove_status cove_agent_backend_score(cove_agent_backend *b, const struct cove_agent_gen *g,
                                     const char *const *options, size_t n, double *scores,
                                     cove_error *err);

/*
 * The in-process engine on the GGUF file at model_path: loads the model, creates a context
 * of n_ctx tokens (0: 4096) with n_threads threads (0: all cores). The chat layout comes
 * from the file's chat template. *out owned by the caller.
 */
cove_status cove_agent_backend_engine(const char *model_path, int32_t n_ctx, int32_t n_threads,
                                      cove_agent_backend **out, cove_error *err);

/*
 * A remote OpenAI-compatible server. base_url like "http://127.0.0.1:8080" (the path
 * /v1/chat/completions is appended); key (may be NULL) is sent as a bearer token; model
 * (may be NULL) is sent as "model". Strings are copied. Nothing is sent until generate.
 */
cove_status cove_agent_backend_remote(const char *base_url, const char *key, const char *model,
                                      cove_agent_backend **out, cove_error *err);

/*
 * A scripted backend: outputs[0, n) (copied) are returned one per generate call, in
 * order; a call past the last fails with COVE_ERR_STATE. Every prompt it is shown is kept
 * (the messages joined as "role: content\n"), readable with cove_agent_scripted_prompt.
 */
cove_status cove_agent_backend_scripted(const char *const *outputs, size_t n,
                                        cove_agent_backend **out, cove_error *err);
/* Number of generate calls made so far on a scripted backend. */
size_t cove_agent_scripted_calls(const cove_agent_backend *b);
/* The prompt of call i (0-based), borrowed; NULL when out of range. */
const char *cove_agent_scripted_prompt(const cove_agent_backend *b, size_t i);
/* The grammar of call i (borrowed; NULL when none or out of range). */
const char *cove_agent_scripted_grammar(const cove_agent_backend *b, size_t i);

#endif
