/*
 * h_agent.c - POST /agent: one agent run (agent/agent.h) per request, and the audit log
 * helper of the whole server.
 *
 * An agent keeps its own model and context (the agent API has no way to plan on the
 * scheduler's slots), so each named agent is made on first use and runs one request at a
 * time under its mutex; other /agent requests for it wait, and every /agent request counts
 * against its tenant's concurrent requests like any other. Requests to the other endpoints
 * are not held up: they run on the scheduler.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "server/server_int.h"

/* ------------------------------------------------------------------ audit */

void srv_audit(cove_server *s, enum cove_audit_kind kind, const char *tenant, const char *rid,
               const char *tool, const char *text)
{
    if (!s->audit)
        return;
    struct cove_audit_event ev = {.kind = kind, .tenant = tenant, .session = rid, .tool = tool,
                                  .model = s->model_id};
    if (kind == COVE_AUDIT_TOOL_CALL)
        ev.args = text;
    else
        ev.text = text;
    cove_error err = {0};
    if (cove_audit_append(s->audit, &ev, NULL, &err) != COVE_OK)
        cove_log_error("audit log: %s", cove_error_msg(&err));
}

/* ----------------------------------------------------------------- set-up */

static cove_status agent_add(cove_server *s, const char *name, const char *config,
                             cove_error *err)
{
    srv_agent *a = &s->agents[s->n_agents];
    cove_agent_config_init(&a->cfg);
    pthread_mutex_init(&a->mu, NULL);
    s->n_agents++;
    a->name = cove_strdup(name);
    if (!a->name)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (config && cove_agent_config_load(&a->cfg, config, err) != COVE_OK)
        return err ? err->status : COVE_ERR_FORMAT;
    if (!a->cfg.model && !a->cfg.remote_url &&
        cove_agent_config_set(&a->cfg.model, s->model_path, err) != COVE_OK)
        return err->status;
    return COVE_OK;
}

/* The default agent (no --agent): kb and roots of the server's params. */
static cove_status default_agent(cove_server *s, cove_error *err)
{
    cove_status st = agent_add(s, "default", NULL, err);
    srv_agent *a = &s->agents[0];
    if (st == COVE_OK && s->p.agent_kb)
        st = cove_agent_config_set(&a->cfg.kb, s->p.agent_kb, err);
    for (size_t i = 0; st == COVE_OK && i < s->p.n_agent_roots; i++)
        st = cove_agent_config_add_root(&a->cfg, s->p.agent_roots[i], err);
    return st;
}

cove_status srv_agents_setup(cove_server *s, cove_error *err)
{
    size_t n = s->p.n_agents ? s->p.n_agents : 1;
    if (n > COVE_SERVER_MAX_AGENTS)
        return cove_error_set(err, COVE_ERR_LIMIT, "at most %d agents", COVE_SERVER_MAX_AGENTS);
    s->agents = cove_calloc(n, sizeof *s->agents);
    if (!s->agents)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (!s->p.n_agents)
        return default_agent(s, err);
    for (size_t i = 0; i < s->p.n_agents; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->p.agent_names[k], s->p.agent_names[i]) == 0)
                return cove_error_set(err, COVE_ERR_INVALID_ARG, "agent '%s' is given twice",
                                      s->p.agent_names[i]);
        cove_status st = agent_add(s, s->p.agent_names[i], s->p.agent_configs[i], err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

void srv_agents_free(cove_server *s)
{
    for (size_t i = 0; i < s->n_agents; i++) {
        srv_agent *a = &s->agents[i];
        pthread_mutex_lock(&a->mu);
        cove_agent_free(a->agent);
        pthread_mutex_unlock(&a->mu);
        pthread_mutex_destroy(&a->mu);
        cove_agent_config_release(&a->cfg);
        cove_free(a->name);
    }
    cove_free(s->agents);
    s->agents = NULL;
    s->n_agents = 0;
}

/* ---------------------------------------------------------------- handler */

/* JSON text as a value when it parses, else as a string. */
static json_t *json_or_string(const char *text)
{
    if (!text)
        return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static json_t *citations_json(const char *const *c, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(c[i]));
    return a;
}

static int on_step(void *user, const struct cove_agent_step *st)
{
    json_t *steps = user;
    json_t *o = json_pack("{s:i, s:i, s:s?, s:s?, s:o, s:s?, s:b}", "step", (int)st->step,
                          "subgoal", (int)st->subgoal, "thought", st->thought, "action",
                          st->action, "arguments", json_or_string(st->arguments),
                          "observation", st->observation, "is_error", st->is_error);
    if (o && st->answer) {
        json_object_set_new(o, "answer", json_string(st->answer));
        json_object_set_new(o, "citations", citations_json(st->citations, st->n_citations));
        json_object_set_new(o, "grounded", json_boolean(st->grounded));
    }
    if (o && json_array_size(steps) < COVE_AGENT_MAX_STEPS * 4)
        json_array_append_new(steps, o);
    else
        json_decref(o);
    return 0;
}

static srv_agent *find_agent(cove_server *s, const char *name)
{
    if (!name)
        return &s->agents[0];
    for (size_t i = 0; i < s->n_agents; i++)
        if (strcmp(s->agents[i].name, name) == 0)
            return &s->agents[i];
    return NULL;
}

static const char *stop_name(enum cove_agent_stop st)
{
    return st == COVE_AGENT_STOP_ASK_USER ? "ask_user"
           : st == COVE_AGENT_STOP_MAX_STEPS ? "max_steps" : "answer";
}

static struct MHD_Response *agent_reply(srv_conn *c, srv_agent *a,
                                        const struct cove_agent_response *res, json_t *steps)
{
    json_t *v = json_pack("{s:s, s:s, s:o, s:i, s:o, s:s, s:b, s:s, s:s}", "id", c->rid,
                          "response", res->answer ? res->answer : "", "citations",
                          citations_json((const char *const *)res->citations,
                                         res->n_citations),
                          "steps", (int)res->n_steps, "trace", steps, "session_id",
                          res->session_id, "grounded", res->grounded, "stop",
                          stop_name(res->stop), "agent", a->name);
    return v ? srv_reply_json(c, 200, v) : srv_reply_error(c, 500, NULL, NULL, "out of memory");
}

/* Run the request on agent a (its mutex held). */
static struct MHD_Response *run_locked(srv_conn *c, srv_agent *a,
                                       const struct cove_server_agent_req *r)
{
    cove_error err = {0};
    if (!a->agent) {
        if (cove_agent_create(&a->cfg, NULL, &a->agent, &err) != COVE_OK)
            return srv_reply_error(c, 500, "agent", NULL, "agent '%s' cannot start: %s",
                                   a->name, cove_error_msg(&err));
    }
    cove_agent_set_audit(a->agent, c->s->audit);
    json_t *steps = json_array();
    struct cove_agent_response res;
    memset(&res, 0, sizeof res);
    cove_status st = cove_agent_run(a->agent, r->request, r->session_id, on_step, steps, &res,
                                    &err);
    if (st != COVE_OK) {
        json_decref(steps);
        srv_audit(c->s, COVE_AUDIT_ERROR, srv_auth_tenant(c->s->auth, c->tenant), c->rid, NULL,
                  cove_error_msg(&err));
        if (st == COVE_ERR_INVALID_ARG || st == COVE_ERR_LIMIT)
            return srv_reply_status(c, &err, "request");
        return srv_reply_error(c, 500, NULL, NULL, "%s", cove_error_msg(&err));
    }
    srv_audit(c->s, COVE_AUDIT_FINAL_ANSWER, srv_auth_tenant(c->s->auth, c->tenant), c->rid,
              NULL, res.answer ? res.answer : "");
    struct MHD_Response *resp = agent_reply(c, a, &res, steps);
    cove_agent_response_release(&res);
    return resp;
}

struct MHD_Response *srv_h_agent(srv_conn *c)
{
    cove_server *s = c->s;
    struct cove_server_agent_req r;
    char param[COVE_SERVER_PARAM_MAX];
    cove_error err = {0};
    if (cove_server_parse_agent(c->body.data, c->body.len, c->arena, &r, param, &err))
        return srv_reply_status(c, &err, param);
    if (r.stream)
        return srv_reply_error(c, 400, "stream", "unsupported_parameter",
                               "POST /agent does not stream; leave out \"stream\" or send false");
    srv_agent *a = find_agent(s, r.agent);
    if (!a)
        return srv_reply_error(c, 404, "agent", "agent_not_found", "no agent named '%.100s'",
                               r.agent);
    const char *tenant = srv_auth_tenant(s->auth, c->tenant);
    if (s->audit) {
        char note[200];
        snprintf(note, sizeof note, "agent %.64s, session %.64s", a->name,
                 r.session_id ? r.session_id : "(new)");
        srv_audit(s, COVE_AUDIT_NOTE, tenant, c->rid, NULL, note);
        srv_audit(s, COVE_AUDIT_PROMPT, tenant, c->rid, NULL, r.request);
    }
    pthread_mutex_lock(&a->mu);
    struct MHD_Response *resp = run_locked(c, a, &r);
    pthread_mutex_unlock(&a->mu);
    return resp;
}
