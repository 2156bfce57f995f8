/*
 * agent/agent.c - an agent's life cycle: its registry, tools' world, prompt and audit.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_int.h"
#include "audit/audit.h"
#include "base/alloc.h"
#include "base/log.h"

static const char *const default_instructions =
    "You are a careful assistant that answers the user's request with tools. Each turn you "
    "write exactly one JSON object and nothing else.\n"
    "To use a tool: {\"action\": \"TOOL\", \"thought\": \"why\", \"arguments\": {...}}\n"
    "To answer: {\"action\": \"final_answer\", \"thought\": \"why\", \"answer\": \"...\", "
    "\"citations\": [\"ID\", ...]}\n"
    "If something you need is missing, use the action \"ask_user\" with {\"question\": "
    "\"...\"}.\n"
    "Pick the tool whose description fits the request. Cite the ids shown in the "
    "observations (kb:... or file:...) that support the answer. Answer only from what the "
    "tools returned. As soon as an observation answers the request, give the final_answer.\n\n"
    "Example of a whole run:\n"
    "Request: What is 12.5 times 4?\n"
    "{\"action\": \"calculator\", \"thought\": \"This is arithmetic.\", \"arguments\": "
    "{\"expression\": \"12.5*4\"}}\n"
    "Observation (calculator): 50\n"
    "{\"action\": \"final_answer\", \"thought\": \"The calculator gave the result.\", "
    "\"answer\": \"12.5 times 4 is 50.\", \"citations\": []}";

/* One argument of a tool as "name: type" ("name?:" when optional); an enum lists its
 * values. */
static cove_status put_arg(struct cove_buf *b, const char *name, const json_t *s, int required)
{
    const json_t *e = json_object_get(s, "enum"), *t = json_object_get(s, "type");
    cove_status st = cove_buf_appendf(b, "%s%s: ", name, required ? "" : "?");
    for (size_t i = 0; st == COVE_OK && i < json_array_size(e); i++) {
        char *v = json_dumps(json_array_get(e, i), JSON_ENCODE_ANY);
        st = v ? cove_buf_appendf(b, "%s%s", i ? "|" : "", v) : COVE_ERR_NOMEM;
        free(v);
    }
    if (st == COVE_OK && !e)
        st = cove_buf_append_str(b, json_is_string(t) ? json_string_value(t) : "any");
    return st;
}

/* "(a: string, b?: "x"|"y")": the arguments of one object schema. */
static cove_status put_object(struct cove_buf *b, const json_t *doc)
{
    const json_t *props = json_object_get(doc, "properties");
    const json_t *req = json_object_get(doc, "required");
    const char *key;
    json_t *v;
    size_t n = 0;
    cove_status st = cove_buf_append_byte(b, '(');
    json_object_foreach((json_t *)props, key, v) {
        int required = 0;
        for (size_t i = 0; i < json_array_size(req); i++)
            required |= json_is_string(json_array_get(req, i)) &&
                        strcmp(json_string_value(json_array_get(req, i)), key) == 0;
        if (st == COVE_OK && n++)
            st = cove_buf_append_str(b, ", ");
        if (st == COVE_OK)
            st = put_arg(b, key, v, required);
    }
    return st == COVE_OK ? cove_buf_append_byte(b, ')') : st;
}

/* The arguments of a tool from its parsed schema (borrowed from the registry), each
 * alternative of an anyOf in turn (the full schema is enforced by the plan grammar; the
 * model needs names and kinds). */
static cove_status put_signature(struct cove_buf *b, const json_t *doc)
{
    const json_t *any = json_object_get(doc, "anyOf");
    cove_status st = any ? COVE_OK : put_object(b, doc);
    for (size_t i = 0; st == COVE_OK && i < json_array_size(any); i++) {
        st = i ? cove_buf_append_str(b, " or ") : COVE_OK;
        if (st == COVE_OK)
            st = put_object(b, json_array_get(any, i));
    }
    return st;
}

int agent_example_split(const char *example, const char **args)
{
    const char *arrow = example ? strstr(example, " -> ") : NULL;
    if (!arrow)
        return -1;
    if (args)
        *args = arrow + 4;
    return (int)(arrow - example);
}

/* A tool's example ("REQUEST -> ARGUMENTS") as the first step the model should write for
 * that request, under the tool's line; nothing when the tool has none. */
static cove_status put_example(struct cove_buf *b, const struct cove_agent_tool_def *d)
{
    const char *args;
    int n = agent_example_split(d->example, &args);
    if (n < 0)
        return COVE_OK;
    return cove_buf_appendf(b, "  Request: %.*s\n  {\"action\": \"%s\", \"thought\": \"%.*s\", "
                            "\"arguments\": %s}\n", n, d->example, d->name, n, d->example,
                            args);
}

/* The tool list: name, arguments, description and example of each tool. */
static cove_status put_tools(cove_agent *a, struct cove_buf *b)
{
    cove_status st = cove_buf_append_str(b, "\n\nTools:\n");
    for (size_t i = 0; st == COVE_OK && i < cove_agent_registry_count(a->reg); i++) {
        const struct cove_agent_tool_def *d = cove_agent_registry_get(a->reg, i);
        st = cove_buf_appendf(b, "- %s", d->name);
        if (st == COVE_OK)
            st = put_signature(b, cove_agent_registry_schema(a->reg, i));
        if (st == COVE_OK)
            st = cove_buf_appendf(b, ": %s\n", d->description);
        if (st == COVE_OK)
            st = put_example(b, d);
    }
    return st;
}

cove_status agent_build_system(cove_agent *a, cove_error *err)
{
    struct cove_buf b;
    cove_buf_init(&b, COVE_AGENT_MAX_PROMPT);
    cove_status st = cove_buf_append_str(&b, a->cfg.system_prompt ? a->cfg.system_prompt
                                                                  : default_instructions);
    if (st == COVE_OK)
        st = put_tools(a, &b);
    if (st == COVE_OK && a->env.n_roots > 0) {
        st = cove_buf_append_str(&b, "Folders you may read:");
        for (int i = 0; st == COVE_OK && i < a->env.n_roots; i++)
            st = cove_buf_appendf(&b, " %s/", a->env.roots[i].name);
        if (st == COVE_OK)
            st = cove_buf_append_byte(&b, '\n');
    }
    if (st != COVE_OK) {
        cove_buf_release(&b);
        return cove_error_set(err, st, "agent: the system prompt is too long");
    }
    cove_free(a->system);
    a->system = cove_buf_detach(&b, NULL);
    return COVE_OK;
}

void agent_audit(cove_agent *a, int kind, const char *session, const char *tool,
                 const char *args, const char *text)
{
    if (!a->audit)
        return;
    char digest[COVE_AUDIT_HEX_LEN + 1];
    struct cove_audit_event ev = {.kind = (enum cove_audit_kind)kind, .session = session,
                                  .tool = tool, .args = args, .text = text};
    if (kind == COVE_AUDIT_TOOL_RESULT && text) {
        cove_audit_sha256_hex(text, strlen(text), digest);
        ev.result_digest = digest;
    }
    if (kind == COVE_AUDIT_PROMPT || kind == COVE_AUDIT_MODEL_OUTPUT)
        ev.model = a->cfg.remote_url ? a->cfg.remote_url : a->cfg.model;
    cove_error e = {0};
    if (cove_audit_append(a->audit, &ev, NULL, &e) != COVE_OK)
        cove_log_warn("agent: audit: %s", cove_error_msg(&e));
}

void cove_agent_set_audit(cove_agent *a, struct cove_audit_log *log)
{
    if (a)
        a->audit = log;
}

struct cove_agent_registry *cove_agent_get_registry(cove_agent *a)
{
    return a ? a->reg : NULL;
}

/* Is `name` in the config's allowed tools (all are when none are listed)? */
static int allowed(const struct cove_agent_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_tools; i++)
        if (strcmp(c->tools[i], name) == 0)
            return 1;
    return c->n_tools == 0;
}

/* Signed plugins (tools/plugin.c); "tools" may name them beside the built-ins. */
static cove_status add_plugins(cove_agent *a, const char **builtin, size_t *n_builtin,
                               cove_error *err)
{
    const struct cove_agent_config *c = &a->cfg;
    cove_status st = COVE_OK;
    if (c->n_plugins > 0)
        st = cove_agent_plugins_load((const char *const *)c->plugins, c->n_plugins,
                                     c->trusted_keys, c->plugin_host, &a->plugins, err);
    for (size_t i = 0; st == COVE_OK && i < c->n_tools; i++) {
        int is_plugin = 0;
        for (size_t k = 0; k < cove_agent_plugins_count(a->plugins); k++)
            is_plugin |= strcmp(cove_agent_plugins_name(a->plugins, k), c->tools[i]) == 0;
        if (!is_plugin)
            builtin[(*n_builtin)++] = c->tools[i];
    }
    for (size_t k = 0; st == COVE_OK && k < cove_agent_plugins_count(a->plugins); k++)
        if (allowed(c, cove_agent_plugins_name(a->plugins, k)))
            st = cove_agent_plugins_register_one(a->plugins, k, a->reg, err);
    return st;
}

/* The registry: the allowed built-in tools and plugins with the configured budgets. */
static cove_status make_registry(cove_agent *a, cove_error *err)
{
    const char *builtin[COVE_AGENT_MAX_TOOLS];
    size_t n_builtin = 0;
    cove_status st = cove_agent_registry_create(&a->reg, err);
    if (st == COVE_OK)
        st = add_plugins(a, builtin, &n_builtin, err);
    if (st == COVE_OK && (a->cfg.n_tools == 0 || n_builtin > 0))
        st = cove_agent_registry_add_builtins(a->reg, builtin, n_builtin, err);
    for (size_t i = 0; st == COVE_OK && i < a->cfg.n_budgets; i++)
        st = cove_agent_registry_set_budget(a->reg, a->cfg.budgets[i].tool,
                                            a->cfg.budgets[i].max_calls, err);
    return st;
}

/* Knowledge base, embedder, roots, devices, sessions. */
static cove_status open_world(cove_agent *a, cove_error *err)
{
    const struct cove_agent_config *c = &a->cfg;
    cove_status st = COVE_OK;
    cove_agent_env_init(&a->env);
    for (size_t i = 0; st == COVE_OK && i < c->n_roots; i++)
        st = cove_agent_env_add_root(&a->env, c->roots[i], err);
    if (st == COVE_OK && c->kb) {
        cove_kb_params kp = cove_kb_default_params();
        kp.read_only = 1;
        st = cove_kb_open(c->kb, kp, &a->kb, err);
    }
    if (st == COVE_OK && c->kb && c->embed_model) {
        st = cove_model_load(c->embed_model, cove_model_default_params(), &a->embed_model, err);
        if (st == COVE_OK) {
            cove_embed_params ep = cove_embed_default_params();
            ep.truncate = 1;
            st = cove_embedder_create(a->embed_model, ep, &a->embedder, err);
        }
    }
    if (st == COVE_OK && c->sessions)
        st = cove_agent_memory_open(c->sessions, &a->memory, err);
    a->env.kb = a->kb;
    a->env.embedder = a->embedder;
    a->env.memory = a->memory;
    a->env.devices_path = c->devices;
    a->env.sandbox_accept_weak = c->accept_weak_sandbox;
    return st;
}

static cove_status make_backend(cove_agent *a, cove_error *err)
{
    const struct cove_agent_config *c = &a->cfg;
    if (c->remote_url)
        return cove_agent_backend_remote(c->remote_url, c->remote_key, c->remote_model,
                                         &a->backend, err);
    if (!c->model)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "agent: no model configured");
    return cove_agent_backend_engine(c->model, c->n_ctx, 0, &a->backend, err);
}

cove_status cove_agent_create(const struct cove_agent_config *cfg, cove_agent_backend *backend,
                              cove_agent **out, cove_error *err)
{
    if (!cfg || !out) {
        cove_agent_backend_free(backend);
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "agent: NULL argument");
    }
    *out = NULL;
    cove_agent *a = cove_calloc(1, sizeof *a);
    if (!a) {
        cove_agent_backend_free(backend);
        return cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
    }
    a->backend = backend;
    cove_agent_env_init(&a->env);
    cove_status st = agent_config_copy(&a->cfg, cfg, err);
    if (st == COVE_OK && (a->cfg.max_steps < 1 || a->cfg.max_steps > COVE_AGENT_MAX_STEPS))
        st = cove_error_set(err, COVE_ERR_INVALID_ARG, "agent: max_steps must be 1 to %d",
                            COVE_AGENT_MAX_STEPS);
    if (st == COVE_OK)
        st = make_registry(a, err);
    if (st == COVE_OK)
        st = open_world(a, err);
    if (st == COVE_OK)
        st = agent_build_system(a, err);
    if (st == COVE_OK && !a->backend)
        st = make_backend(a, err);
    if (st != COVE_OK) {
        cove_agent_free(a);
        return st;
    }
    *out = a;
    return COVE_OK;
}

void cove_agent_free(cove_agent *a)
{
    if (!a)
        return;
    cove_agent_backend_free(a->backend);
    cove_agent_registry_free(a->reg);
    cove_agent_plugins_free(a->plugins);
    cove_agent_env_release(&a->env);
    cove_kb_free(a->kb);
    cove_embedder_free(a->embedder);
    cove_model_free(a->embed_model);
    cove_agent_memory_free(a->memory);
    cove_free(a->system);
    cove_agent_config_release(&a->cfg);
    cove_free(a);
}

cove_status cove_agent_ask(const struct cove_agent_config *cfg, const char *request,
                           const char *session_id, cove_agent_step_fn on_step, void *user,
                           struct cove_agent_response *out, cove_error *err)
{
    cove_agent *a = NULL;
    cove_status st = cove_agent_create(cfg, NULL, &a, err);
    if (st == COVE_OK)
        st = cove_agent_run(a, request, session_id, on_step, user, out, err);
    cove_agent_free(a);
    return st;
}
