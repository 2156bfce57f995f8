/*
 * agent/agent_int.h - private pieces of the agent module: plans, grounding, the agent.
 */
#ifndef COVE_AGENT_AGENT_INT_H
#define COVE_AGENT_AGENT_INT_H

#include <jansson.h>
#include <stddef.h>

#include "agent/agent.h"
#include "agent/backend.h"
#include "agent/memory.h"
#include "agent/registry.h"
#include "agent/tools/tools.h"
#include "base/buf.h"

#define COVE_AGENT_FINAL "final_answer"
#define COVE_AGENT_ASK "ask_user"

/* ------------------------------------------------------------------ plans */

/* One parsed plan. Strings owned (cove_free) by the plan; release with agent_plan_release. */
struct agent_plan {
    char *thought;
    char *action;
    char *arguments; /* compact JSON text of the arguments object; "{}" for final/ask */
    char *answer;    /* final_answer */
    char *citations[COVE_AGENT_MAX_CITATIONS];
    size_t n_citations;
};

void agent_plan_release(struct agent_plan *p);

/* What the plan grammar of one step allows. */
struct agent_plan_spec {
    const cove_agent_registry *reg;
    const unsigned char *tool_ok;   /* per registry entry: 1 may be called now */
    int allow_final;                /* 0: tool-first policy before the first tool call */
    int allow_ask;                  /* offer ask_user */
    const char *const *source_ids;  /* ids a citation may name (grammar); may be NULL */
    size_t n_sources;
};

/*
 * The JSON Schema of a plan under spec (*out: new reference). strict 1: citations are
 * limited to the source ids (for the grammar); 0: any strings (for checking the output
 * of backends that may not honour the grammar, so the grounding check sees them).
 */
cove_status agent_plan_schema(const struct agent_plan_spec *spec, int strict, json_t **out,
                              cove_error *err);

/* GBNF of the strict plan schema; *gbnf owned (cove_free). */
cove_status agent_plan_grammar(const json_t *schema, char **gbnf, cove_error *err);

/*
 * Parse a model's output as a plan and check it against `schema` (the lax one). On
 * failure returns COVE_ERR_FORMAT with the reason in err (the model is told).
 */
cove_status agent_plan_parse(const char *text, const json_t *schema, struct agent_plan *out,
                             cove_error *err);

/* The sub-goal grammar/schema: {"subgoals": [1..max strings]}. *out new reference. */
cove_status agent_subgoal_schema(json_t **out, cove_error *err);

/* --------------------------------------------------------------- grounding */

/* The texts retrieved in one run: the sources of every observation. */
struct agent_sources {
    struct cove_agent_source *items; /* owned */
    size_t n;
};

void agent_sources_release(struct agent_sources *s);
/* Take copies of obs's sources (duplicates by id are skipped). */
cove_status agent_sources_add(struct agent_sources *s, const struct cove_agent_obs *obs);

/*
 * Check the citations of an answer: each must name a retrieved source (exactly, or by a
 * unique suffix such as the file name) whose text shares enough words with the answer.
 * Matched citations are rewritten to the full source id. Returns 1 when grounded; else 0
 * with the reason in why. An answer with no citation is grounded only when nothing was
 * retrieved.
 */
int agent_ground_check(const struct agent_sources *s, const char *answer, char **citations,
                       size_t n_citations, char *why, size_t why_cap);

/* ------------------------------------------------------------------- agent */

struct cove_agent {
    struct cove_agent_config cfg; /* own copy of the strings */
    cove_agent_backend *backend;  /* owned */
    cove_agent_registry *reg;     /* owned */
    cove_agent_plugins *plugins;  /* owned; entries of reg borrow from it */
    struct cove_agent_env env;    /* roots owned; the handles below borrowed from here */
    cove_kb *kb;                  /* owned */
    cove_model *embed_model;      /* owned */
    cove_embedder *embedder;      /* owned */
    cove_agent_memory *memory;    /* owned */
    struct cove_audit_log *audit; /* borrowed */
    char *system;                 /* owned: the system prompt with the tool list */
    /* score calibration: each action name's score after a request that asks nothing */
    char base_name[COVE_AGENT_MAX_TOOLS + 2][80];
    double base_score[COVE_AGENT_MAX_TOOLS + 2];
    size_t n_base;
};

/*
 * Split a tool's example "REQUEST -> ARGUMENTS" (cove_agent_tool_def.example): returns the
 * length of REQUEST and points *args (when args is not NULL) at ARGUMENTS, inside example;
 * -1 when example is NULL or has no " -> ".
 */
int agent_example_split(const char *example, const char **args);

/* Build the system prompt (instructions and tools) into a->system. */
cove_status agent_build_system(cove_agent *a, cove_error *err);

/* Copy a config (all strings duplicated). dst is initialised by the call. */
cove_status agent_config_copy(struct cove_agent_config *dst, const struct cove_agent_config *src,
                              cove_error *err);

/* Audit one event when the agent has a log (errors are logged, not returned). */
void agent_audit(cove_agent *a, int kind, const char *session, const char *tool,
                 const char *args, const char *text);

#endif
