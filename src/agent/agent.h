/*
 * agent/agent.h - agents: a model that plans, calls tools, checks itself and answers
 * with sources.
 *
 *     struct cove_agent_config cfg;
 *     cove_agent_config_init(&cfg);
 *     cove_agent_config_load(&cfg, "clinic.json", &err);      // optional
 *     cove_agent *a = NULL;
 *     cove_agent_create(&cfg, NULL, &a, &err);                // backend from cfg
 *     struct cove_agent_response res;
 *     cove_agent_run(a, "Summarise patient 12", NULL, on_step, user, &res, &err);
 *     puts(res.answer); ... res.citations[i] ...
 *     cove_agent_response_release(&res);
 *     cove_agent_free(a);
 *     cove_agent_config_release(&cfg);
 *
 * One run: the request (with the session's earlier turns, summarised when they no longer
 * fit the prompt budget) goes to the model, which writes one plan per step:
 *
 *     {"thought": "...", "action": "read_file", "arguments": {"path": "a.txt"}}
 *     {"thought": "...", "action": "final_answer", "answer": "...", "citations": ["file:a.txt"]}
 *
 * Generation is constrained by a grammar built from the tool registry (agent/plan.h), so a
 * plan always parses and names a registered tool with arguments of that tool's schema.
 * Each tool result goes back into the prompt as an observation; the prompt only grows at
 * its end, so the prefix the model already processed stays cached. See docs/agents.md for
 * the policies, reflection, sub-goals, grounding and memory.
 *
 * Threads: one cove_agent runs one request at a time; use one agent per thread.
 */
#ifndef COVE_AGENT_AGENT_H
#define COVE_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/backend.h"
#include "base/limits.h"
#include "cove/status.h"

/* ------------------------------------------------------------- config */

struct cove_agent_budget {
    char tool[65];
    int32_t max_calls;
};

/*
 * An agent definition: a caller-owned value. cove_agent_config_init sets the defaults;
 * cove_agent_config_load reads a JSON file over them (docs/agents.md lists the keys;
 * unknown keys are refused); the string fields are owned by the config (cove_strdup'ed)
 * and released by cove_agent_config_release.
 */
struct cove_agent_config {
    char *name;           /* "agent" */
    char *model;          /* GGUF path of the in-process model; NULL: the caller picks */
    char *remote_url;     /* OpenAI-compatible server base URL; set: remote backend */
    char *remote_key;     /* bearer key of the remote server, or NULL */
    char *remote_model;   /* model name sent to the remote server, or NULL */
    char *kb;             /* knowledge base file, or NULL */
    char *embed_model;    /* embedding model for kb_search (hybrid); NULL: keyword search */
    char *devices;        /* SQLite file of device_control, or NULL */
    char *sessions;       /* SQLite file of session memory; NULL: no memory kept */
    char *system_prompt;  /* replaces the built-in instructions when set */
    char *tools[COVE_AGENT_MAX_TOOLS]; /* allowed tools; n_tools 0: every built-in tool */
    size_t n_tools;
    char *roots[COVE_AGENT_MAX_ROOTS]; /* directories read_file / list_files may read */
    size_t n_roots;
    struct cove_agent_budget budgets[COVE_AGENT_MAX_TOOLS]; /* per-tool call limits */
    size_t n_budgets;
    int32_t max_steps;    /* model steps of one run; default 8 */
    int tool_first;       /* 1: no final answer before a tool call; default 0 */
    int decompose;        /* 1: split the request into sub-goals first; default 0 */
    int grounding;        /* 1: check citations before a final answer; default 1 */
    int32_t max_tokens;   /* tokens of one plan; default 384 (a longer plan is cut and
                             refused as unparsable) */
    float temperature;    /* sampling temperature of plans; default 0 (greedy) */
    uint64_t seed;        /* sampler seed; default 1 */
    int32_t n_ctx;        /* in-process context size; default 4096 */
    size_t prompt_budget; /* bytes of earlier session turns kept verbatim; default 6000 */
    int accept_weak_sandbox; /* 1: file tools and plugins run even where the kernel has no
                                Landlock (file access then unconfined); default 0: refused */
    char *plugins[COVE_AGENT_MAX_PLUGINS]; /* plugin manifest files (docs/plugins.md) */
    size_t n_plugins;
    char *trusted_keys;   /* key file or directory whose keys may sign plugins; required
                             when plugins are given */
    char *plugin_host;    /* program that runs shared-library plugins (`cove plugin-host`);
                             NULL: this process's own executable */
};

void cove_agent_config_init(struct cove_agent_config *cfg);
void cove_agent_config_release(struct cove_agent_config *cfg);

/*
 * Read an agent definition (JSON object, at most COVE_AGENT_MAX_CONFIG bytes) from `path`
 * over cfg. Relative paths inside it (model, kb, roots, devices, sessions) are taken
 * relative to the config file's directory. Errors: COVE_ERR_IO, COVE_ERR_FORMAT (not
 * JSON, unknown key, wrong type: the message names the key), COVE_ERR_LIMIT, COVE_ERR_NOMEM.
 */
cove_status cove_agent_config_load(struct cove_agent_config *cfg, const char *path,
                                   cove_error *err);

/* Set a string field (copies value; NULL clears). For command-line overrides. */
cove_status cove_agent_config_set(char **field, const char *value, cove_error *err);
/* Append to tools / roots (value copied). COVE_ERR_LIMIT when full. */
cove_status cove_agent_config_add_tool(struct cove_agent_config *cfg, const char *name,
                                       cove_error *err);
cove_status cove_agent_config_add_root(struct cove_agent_config *cfg, const char *dir,
                                       cove_error *err);
cove_status cove_agent_config_add_plugin(struct cove_agent_config *cfg, const char *manifest,
                                         cove_error *err);

/* ------------------------------------------------------------- running */

typedef struct cove_agent cove_agent;

/*
 * Create an agent from cfg (read during the call; nothing in it is kept borrowed).
 * backend: NULL makes one from cfg (remote_url set: the remote backend; else the
 * in-process engine on cfg->model); otherwise the agent takes ownership of it (also on
 * failure). Opens the knowledge base, the roots, the device table and the session store.
 * Errors: those of the pieces, with the file named.
 */
cove_status cove_agent_create(const struct cove_agent_config *cfg, cove_agent_backend *backend,
                              cove_agent **out, cove_error *err);
void cove_agent_free(cove_agent *a);

struct cove_audit_log; /* audit/audit.h */

/*
 * Log prompts, plans, tool calls, tool results, policy decisions and final answers to an
 * audit log (borrowed: it must outlive the agent or be replaced first). NULL stops logging.
 */
void cove_agent_set_audit(cove_agent *a, struct cove_audit_log *log);

/* One step, as the step callback and --trace see it. Everything is borrowed for the call. */
struct cove_agent_step {
    int32_t step;            /* 1-based */
    int32_t subgoal;         /* 0-based index of the sub-goal being worked on */
    const char *thought;
    const char *action;      /* a tool name, "final_answer", or "ask_user" */
    const char *arguments;   /* JSON text of the arguments ("{}" for final_answer) */
    const char *observation; /* the tool's result; NULL for the final answer */
    int is_error;            /* the observation reports a failed call */
    const char *answer;      /* final_answer only */
    const char *const *citations;
    size_t n_citations;
    int grounded;            /* final_answer only: every citation passed the check */
};

/* Called after each step; return non-zero to stop the run (COVE_ERR_CANCELLED). */
typedef int (*cove_agent_step_fn)(void *user, const struct cove_agent_step *step);

enum cove_agent_stop {
    COVE_AGENT_STOP_ANSWER = 0,  /* the model gave a final answer */
    COVE_AGENT_STOP_ASK_USER,    /* the model asked the user for something missing */
    COVE_AGENT_STOP_MAX_STEPS    /* the step budget ran out; answer says so */
};

/* The outcome of a run. Caller-owned; release with cove_agent_response_release. */
struct cove_agent_response {
    char *answer;                /* owned; the final answer (or the question to the user) */
    char **citations;            /* owned array of n_citations owned strings */
    size_t n_citations;
    int32_t n_steps;
    int grounded;                /* 1: every citation named retrieved text that overlaps the
                                    answer; 0: not grounded (the answer says so) */
    enum cove_agent_stop stop;
    char session_id[COVE_AGENT_MAX_SESSION_ID + 1];
};

/*
 * Answer `request` (UTF-8, at most COVE_AGENT_MAX_REQUEST bytes). session_id: NULL or ""
 * starts a new session (its id is returned in out->session_id); an existing id resumes
 * it with its earlier turns and notes (when the agent has a session store). on_step (may
 * be NULL) sees every step. Fills *out on COVE_OK. Errors: COVE_ERR_INVALID_ARG,
 * COVE_ERR_LIMIT, COVE_ERR_CANCELLED (the callback stopped it), and errors of the backend
 * and the session store. Tool failures are not errors: the model sees them.
 */
cove_status cove_agent_run(cove_agent *a, const char *request, const char *session_id,
                           cove_agent_step_fn on_step, void *user,
                           struct cove_agent_response *out, cove_error *err);

void cove_agent_response_release(struct cove_agent_response *r);

/*
 * One call for the server: create an agent from cfg, run the request, free the agent.
 * Loads the model each time; a server that answers often keeps a cove_agent instead.
 */
cove_status cove_agent_ask(const struct cove_agent_config *cfg, const char *request,
                           const char *session_id, cove_agent_step_fn on_step, void *user,
                           struct cove_agent_response *out, cove_error *err);

/* The agent's registry (borrowed), e.g. to list or add tools before a run. */
struct cove_agent_registry *cove_agent_get_registry(cove_agent *a);

#endif
