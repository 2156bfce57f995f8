/*
 * server/request.h - the HTTP API's request bodies as typed structs.
 *
 * JSON is parsed here, once, at the edge: each endpoint has one parse function that turns
 * the body into a struct or refuses it. Parsing is strict: a field of the wrong type, a
 * value out of range, a field the endpoint does not know, a missing required field or
 * malformed JSON all fail with COVE_ERR_FORMAT (or COVE_ERR_LIMIT for a bound of limits.h,
 * COVE_ERR_UNSUPPORTED for a known option cove does not implement, such as n > 1), a
 * message in `err` fit for the body of a 400 answer, and the name of the offending field
 * in `param` (a dotted path such as "messages.2.role"; "" when the body as a whole is
 * wrong).
 *
 * Memory: every string and array of a parsed request lives in the arena passed in
 * (borrowed: the request is valid until that arena is reset or freed). No JSON value
 * survives the call. Tool definitions and schemas are kept as JSON text: tools serialised
 * as Python's json.dumps does by default (what chat templates expect), schemas compact.
 */
#ifndef COVE_SERVER_REQUEST_H
#define COVE_SERVER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "cove/status.h"
#include "engine/tokenizer/chat.h"

#define COVE_SERVER_PARAM_MAX 96 /* bytes of a `param` path, terminator included */

/* Sampling and length options shared by every generating endpoint. */
struct cove_server_gen_opts {
    int32_t max_tokens;   /* tokens to generate; -1: until the context is full */
    float temperature;    /* default 0.8 (llama.cpp) or 1.0 (OpenAI endpoints) */
    int32_t top_k;        /* default 40; OpenAI endpoints: 0 (off) */
    float top_p;          /* default 0.95 (llama.cpp), 1.0 (OpenAI) */
    float min_p;          /* default 0.05 (llama.cpp), 0 (OpenAI) */
    float repeat_penalty; /* default 1.0 */
    int32_t repeat_last_n;
    int has_seed;         /* 0: a fresh seed per request */
    uint64_t seed;
    const char **stop;    /* stop strings (arena) */
    size_t n_stop;
    int stream;           /* 1: answer as server-sent events */
    int cache_prompt;     /* llama.cpp: reuse cached prefixes (default 1) */
};

/* Constrained output of a request. */
enum cove_server_format {
    COVE_SERVER_FORMAT_TEXT = 0,   /* free text */
    COVE_SERVER_FORMAT_GRAMMAR,    /* `grammar` holds GBNF text */
    COVE_SERVER_FORMAT_JSON,       /* any JSON object */
    COVE_SERVER_FORMAT_JSON_SCHEMA /* JSON valid against `schema` (JSON text) */
};

/* POST /completion (llama.cpp) and POST /v1/completions (OpenAI). */
struct cove_server_completion_req {
    const char *model;      /* /v1/completions: required; /completion: NULL */
    const char *prompt;     /* text; NULL when prompt_tokens is given */
    const int32_t *prompt_tokens; /* /completion only: token ids instead of text */
    size_t n_prompt_tokens;
    struct cove_server_gen_opts gen;
    enum cove_server_format format;
    const char *grammar;    /* GBNF (format GRAMMAR) */
    const char *schema;     /* JSON text (format JSON_SCHEMA) */
    int logprobs;           /* /v1/completions: top log-probabilities per token (0: none) */
    int echo;               /* /v1/completions: always 0 (echo is refused) */
    int n_probs;            /* /completion: top probabilities per token (0: none) */
    int include_usage;      /* stream_options.include_usage */
};

enum cove_server_tool_choice {
    COVE_SERVER_TOOLS_AUTO = 0, /* the model may answer or call tools (default with tools) */
    COVE_SERVER_TOOLS_NONE,     /* tools are shown, never called */
    COVE_SERVER_TOOLS_REQUIRED, /* at least one call */
    COVE_SERVER_TOOLS_FUNCTION  /* a call of tool_choice_name */
};

/* One tool of a chat request. */
struct cove_server_tool {
    const char *name;
    const char *definition; /* the whole {"type": "function", ...} object, json.dumps style */
    const char *parameters; /* the parameters schema, compact JSON ("{}" when absent) */
};

/* POST /v1/chat/completions. */
struct cove_server_chat_req {
    const char *model;
    struct cove_chat_message *messages; /* arena; tool_calls arrays too */
    size_t n_messages;
    struct cove_server_tool *tools;
    size_t n_tools;
    enum cove_server_tool_choice tool_choice;
    const char *tool_choice_name; /* COVE_SERVER_TOOLS_FUNCTION */
    int parallel_tool_calls;      /* default 1 */
    enum cove_server_format format; /* TEXT, JSON or JSON_SCHEMA (response_format) */
    const char *schema;
    struct cove_server_gen_opts gen;
    int logprobs;                 /* 1: log-probability of each chosen token */
    int top_logprobs;             /* 0 .. COVE_SERVER_MAX_TOP_LOGPROBS */
    int include_usage;            /* stream_options.include_usage */
};

enum cove_server_encoding { COVE_SERVER_ENC_FLOAT = 0, COVE_SERVER_ENC_BASE64 };

/* POST /v1/embeddings. */
struct cove_server_embed_req {
    const char *model;
    const char **input; /* texts (arena) */
    size_t n_input;
    int input_was_array; /* 0: input was one string */
    enum cove_server_encoding encoding;
    int dimensions;      /* 0: the model's; other values must equal it */
};

/* POST /agent. */
struct cove_server_agent_req {
    const char *request;    /* required */
    const char *session_id; /* NULL: a new session */
    const char *agent;      /* NULL: the server's default agent */
    int stream;             /* "stream": true: steps as server-sent events */
};

/*
 * Parse the body of POST /completion (llama.cpp's fields: prompt (string or array of token
 * ids), n_predict, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, stop,
 * seed, grammar, json_schema, stream, cache_prompt, n_probs). On success *out is filled
 * (strings in `a`). Errors: see the file comment; *out is then unspecified.
 */
cove_status cove_server_parse_completion(const char *body, size_t len, cove_arena *a,
                                         struct cove_server_completion_req *out, char *param,
                                         cove_error *err);

/* Parse the body of POST /v1/completions (OpenAI's legacy completions). As above. */
cove_status cove_server_parse_v1_completion(const char *body, size_t len, cove_arena *a,
                                            struct cove_server_completion_req *out,
                                            char *param, cove_error *err);

/* Parse the body of POST /v1/chat/completions. As above. */
cove_status cove_server_parse_chat(const char *body, size_t len, cove_arena *a,
                                   struct cove_server_chat_req *out, char *param,
                                   cove_error *err);

/* Parse the body of POST /v1/embeddings. As above. */
cove_status cove_server_parse_embed(const char *body, size_t len, cove_arena *a,
                                    struct cove_server_embed_req *out, char *param,
                                    cove_error *err);

/* Parse the body of POST /agent (request, session_id, agent, stream). As above. */
cove_status cove_server_parse_agent(const char *body, size_t len, cove_arena *a,
                                    struct cove_server_agent_req *out, char *param,
                                    cove_error *err);

#endif
