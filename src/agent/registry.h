/*
 * agent/registry.h - the tool registry: what an agent may call, and how a call runs.
 *
 * A registry is a table of tools. Each entry names a tool, describes it for the model,
 * gives the JSON Schema of its arguments, a handler, limits (a deadline, the most bytes
 * of output, the most calls in one session) and its side-effect class. The model's plan
 * grammar is built from the same entries, so a plan can only name registered tools with
 * arguments of their schema.
 *
 * cove_agent_registry_invoke runs one call exactly as the agent loop does: the arguments
 * are parsed and validated against the schema (cove_schema_validate) before anything
 * else; an invalid call, a call past the tool's budget or a failing handler becomes an
 * error observation for the model, never a crash and never a handler call with bad input.
 * `cove tool` uses the same call.
 *
 * The built-in tools live one per file in src/agent/tools/ and are listed in
 * cove_agent_builtin_tools (tools/builtin.c).
 */
#ifndef COVE_AGENT_REGISTRY_H
#define COVE_AGENT_REGISTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"
#include "cove/status.h"

/* What a tool may change: the loop and the audit log treat the classes differently. */
enum cove_agent_effect {
    COVE_AGENT_READ_ONLY = 0, /* reads files, the knowledge base, the clock */
    COVE_AGENT_WRITES = 1,    /* writes cove's own state (session notes) */
    COVE_AGENT_DEVICE = 2     /* acts on the world (home-hub devices) */
};

/* Name of an effect class ("read_only", "writes", "device"); static. */
const char *cove_agent_effect_name(enum cove_agent_effect e);

struct cove_agent_tool_limits {
    int32_t timeout_ms;  /* deadline of one call; handlers check env->deadline_ms */
    size_t max_output;   /* bytes of observation kept; longer output is cut and marked */
    int32_t max_calls;   /* calls of this tool in one session; 0: no limit */
};

/* A piece of retrieved text that a final answer may cite (a chunk, a file). */
struct cove_agent_source {
    char *id;   /* owned: "kb:<doc>#<chunk>" or "file:<path>" */
    char *text; /* owned: the text the model saw */
};

/*
 * The result of one call, given back to the model. Caller-owned value: init, release.
 * text holds the observation; is_error marks a failed call (invalid arguments, budget,
 * handler error). sources are the retrievable texts the call returned.
 */
struct cove_agent_obs {
    struct cove_buf text;
    int is_error;
    struct cove_agent_source *sources; /* owned array of n_sources */
    size_t n_sources;
};

void cove_agent_obs_init(struct cove_agent_obs *o);
void cove_agent_obs_release(struct cove_agent_obs *o);
/* Append a source (id and text are copied). COVE_ERR_LIMIT past COVE_AGENT_MAX_SOURCES. */
cove_status cove_agent_obs_add_source(struct cove_agent_obs *o, const char *id, const char *text,
                                      size_t text_len);
/* Replace the observation with an error text (printf style); sets is_error. */
void cove_agent_obs_error(struct cove_agent_obs *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

struct cove_agent_env; /* tools/tools.h: roots, knowledge base, memory, devices */

/*
 * A handler: reads `args` (borrowed, already valid against the tool's schema), writes its
 * observation into obs->text (and sources). A handler reports a failure the model should
 * see by returning an error status with err filled; the registry turns it into an error
 * observation. env is borrowed.
 */
typedef cove_status (*cove_agent_tool_fn)(struct cove_agent_env *env, const json_t *args,
                                          struct cove_agent_obs *obs, cove_error *err);

/* How a tool's handler runs. */
enum {
    /*
     * In a sandboxed child process (sandbox/sandbox.h): the handler sees the env's roots
     * read-only (Landlock) through their descriptors, no network, a seccomp allow-list,
     * rlimits and the tool's deadline; its observation comes back over a pipe with a
     * bound. Where the kernel has no Landlock the call is refused (an error observation)
     * unless env->sandbox_accept_weak is set. For tools that touch files.
     */
    COVE_AGENT_TOOL_SANDBOXED = 1u << 0
};

/* One tool's definition. Strings are static or outlive the registry (borrowed). */
struct cove_agent_tool_def {
    const char *name;        /* [a-z_][a-z0-9_]*, unique in a registry */
    const char *description; /* one or two sentences for the model */
    const char *example;     /* an example request and call for the prompt, or NULL:
                                "Turn the heating up to 22 -> {\"action\":\"set\",...}" */
    const char *schema;      /* JSON Schema (object) of the arguments, as text */
    cove_agent_tool_fn handler;
    struct cove_agent_tool_limits limits;
    enum cove_agent_effect effect;
    unsigned flags;          /* COVE_AGENT_TOOL_* */
    const void *data;        /* borrowed; given to the handler as env->tool_data (plugins) */
};

/* The built-in tools: a static table of *n pointers. */
const struct cove_agent_tool_def *const *cove_agent_builtin_tools(size_t *n);

typedef struct cove_agent_registry cove_agent_registry;

/* Create an empty registry. *out is owned by the caller (cove_agent_registry_free). */
cove_status cove_agent_registry_create(cove_agent_registry **out, cove_error *err);
void cove_agent_registry_free(cove_agent_registry *r);

/*
 * Add a tool (def is copied; its strings are borrowed). Fails with COVE_ERR_INVALID_ARG
 * (bad name, duplicate, no handler), COVE_ERR_FORMAT (schema is not a JSON object),
 * COVE_ERR_LIMIT (more than COVE_AGENT_MAX_TOOLS).
 */
cove_status cove_agent_registry_add(cove_agent_registry *r, const struct cove_agent_tool_def *def,
                                    cove_error *err);

/* Add the built-in tools whose names are in names[0, n) (n 0: all of them). Unknown
 * names fail with COVE_ERR_NOT_FOUND. */
cove_status cove_agent_registry_add_builtins(cove_agent_registry *r, const char *const *names,
                                             size_t n, cove_error *err);

/* Change the per-session call limit of a tool (a budget from the agent config). */
cove_status cove_agent_registry_set_budget(cove_agent_registry *r, const char *name,
                                           int32_t max_calls, cove_error *err);

size_t cove_agent_registry_count(const cove_agent_registry *r);
/* Entry i (borrowed), or NULL when out of range. */
const struct cove_agent_tool_def *cove_agent_registry_get(const cove_agent_registry *r, size_t i);
/* Index of the tool called name, or -1. */
int cove_agent_registry_find(const cove_agent_registry *r, const char *name);
/* The parsed schema of entry i (borrowed). */
const json_t *cove_agent_registry_schema(const cove_agent_registry *r, size_t i);

/* Calls made so far in one session, per registry entry. Caller-owned; zero it to start. */
struct cove_agent_usage {
    int32_t calls[COVE_AGENT_MAX_TOOLS];
};

/*
 * Run the tool `name` with the arguments `args_json` (JSON text) as the agent does:
 * unknown tool, unparsable or schema-invalid arguments, an exhausted budget (usage, may
 * be NULL for no counting) and handler failures all give COVE_OK with obs->is_error set
 * and a message in obs->text that tells the model what to change. Output past the tool's
 * max_output is cut and marked. Returns an error status only when the observation itself
 * cannot be made (COVE_ERR_NOMEM). obs must be initialised; its old content is replaced.
 */
cove_status cove_agent_registry_invoke(cove_agent_registry *r, struct cove_agent_env *env,
                                       const char *name, const char *args_json,
                                       struct cove_agent_usage *usage, struct cove_agent_obs *obs,
                                       cove_error *err);

#endif
