/*
 * h_agent.c - POST /agent: one agent run (agent/agent.h) per request, and the audit log
 * helper of the whole server.
 *
 * An agent keeps its own model and context (the agent API has no way to plan on the
 * scheduler's slots), so each named agent is made on first use and runs one request at a
 * time under its mutex; other /agent requests for it wait, and every /agent request counts
 * against its tenant's concurrent requests like any other. Requests to the other endpoints
 * are not held up: they run on the scheduler. With "stream": true the steps go out as
 * server-sent events while the run goes on (see "streamed" below, docs/http/agent.md).
 */
#include <stdlib.h>
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
    if (s->p.agent_accept_weak_sandbox)
        a->cfg.accept_weak_sandbox = 1;
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

/* ------------------------------------------------------------ the reply */

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

/* One step as the trace and the stream show it; NULL when it is not UTF-8. */
static json_t *step_json(const struct cove_agent_step *st)
{
    json_t *o = json_pack("{s:i, s:i, s:s?, s:s?, s:o, s:s?, s:b}", "step", (int)st->step,
                          "subgoal", (int)st->subgoal, "thought", st->thought, "action",
                          st->action, "arguments", json_or_string(st->arguments),
                          "observation", st->observation, "is_error", st->is_error);
    if (o && st->answer) {
        json_object_set_new(o, "answer", json_string(st->answer));
        json_object_set_new(o, "citations", citations_json(st->citations, st->n_citations));
        json_object_set_new(o, "grounded", json_boolean(st->grounded));
    }
    return o;
}

/* Append step o to the trace (takes o; dropped once the trace is full). */
static void trace_add(json_t *trace, json_t *o)
{
    if (o && json_array_size(trace) < COVE_AGENT_MAX_STEPS * 4)
        json_array_append_new(trace, o);
    else
        json_decref(o);
}

static int on_step(void *user, const struct cove_agent_step *st)
{
    trace_add(user, step_json(st));
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

/* The response object of a finished run (takes trace); NULL: out of memory. */
static json_t *agent_json(const char *rid, const srv_agent *a,
                          const struct cove_agent_response *res, json_t *trace)
{
    return json_pack("{s:s, s:s, s:o, s:i, s:o, s:s, s:b, s:s, s:s}", "id", rid, "response",
                     res->answer ? res->answer : "", "citations",
                     citations_json((const char *const *)res->citations, res->n_citations),
                     "steps", (int)res->n_steps, "trace", trace, "session_id",
                     res->session_id, "grounded", res->grounded, "stop", stop_name(res->stop),
                     "agent", a->name);
}

/* A failed run is the client's fault (400, param "request") or the server's (500). */
static int client_error(cove_status st)
{
    return st == COVE_ERR_INVALID_ARG || st == COVE_ERR_LIMIT;
}

/* Make agent a on first use (its mutex held). */
static cove_status agent_ready(srv_agent *a, cove_error *err)
{
    return a->agent ? COVE_OK : cove_agent_create(&a->cfg, NULL, &a->agent, err);
}

/* The reply when agent_ready failed with err. */
static struct MHD_Response *reply_cannot_start(srv_conn *c, const srv_agent *a,
                                               const cove_error *err)
{
    return srv_reply_error(c, 500, "agent", NULL, "agent '%s' cannot start: %s", a->name,
                           cove_error_msg(err));
}

/*
 * Run `request` on agent a (made, its mutex held) into *res, stepping through step(user),
 * and write the final answer or the error into the audit log under tenant and rid. *res
 * needs cove_agent_response_release when COVE_OK is returned.
 */
static cove_status run_audited(cove_server *s, srv_agent *a, const char *tenant,
                               const char *rid, const char *request, const char *session_id,
                               cove_agent_step_fn step, void *user,
                               struct cove_agent_response *res, cove_error *err)
{
    cove_agent_set_audit(a->agent, s->audit);
    memset(res, 0, sizeof *res);
    cove_status st = cove_agent_run(a->agent, request, session_id, step, user, res, err);
    if (st == COVE_OK)
        srv_audit(s, COVE_AUDIT_FINAL_ANSWER, tenant, rid, NULL, res->answer ? res->answer : "");
    else
        srv_audit(s, COVE_AUDIT_ERROR, tenant, rid, NULL, cove_error_msg(err));
    return st;
}

/* ------------------------------------------------------------ not streamed */

/* Run the request on agent a (its mutex held). */
static struct MHD_Response *run_locked(srv_conn *c, srv_agent *a,
                                       const struct cove_server_agent_req *r)
{
    cove_error err = {0};
    if (agent_ready(a, &err) != COVE_OK)
        return reply_cannot_start(c, a, &err);
    json_t *steps = json_array();
    struct cove_agent_response res;
    cove_status st = run_audited(c->s, a, srv_auth_tenant(c->s->auth, c->tenant), c->rid,
                                 r->request, r->session_id, on_step, steps, &res, &err);
    if (st != COVE_OK) {
        json_decref(steps);
        if (client_error(st))
            return srv_reply_status(c, &err, "request");
        return srv_reply_error(c, 500, NULL, NULL, "%s", cove_error_msg(&err));
    }
    json_t *v = agent_json(c->rid, a, &res, steps);
    cove_agent_response_release(&res);
    struct MHD_Response *resp = v ? srv_reply_json(c, 200, v) : NULL;
    return resp ? resp : srv_reply_error(c, 500, NULL, NULL, "out of memory");
}

/* --------------------------------------------------------------- streamed */
/*
 * "stream": true. The run goes to a thread of its own, which takes the agent's mutex, makes
 * the agent on first use and then tells the handler that it runs (or why it cannot: the
 * handler then answers a JSON error, as without streaming). From then on the step callback
 * formats each step as an SSE event into `out` and the connection thread's reader hands
 * the text to libmicrohttpd, watching the client's socket while it waits. `out` is bounded:
 * a client that leaves COVE_SERVER_MAX_STREAM_PENDING bytes unread counts as gone. A client
 * that is gone stops the run at its next step (the callback returns non-zero, the run ends
 * with COVE_ERR_CANCELLED). The response's free callback joins the thread and frees the
 * stream, so no run outlives its response, and the agent's mutex keeps the server from
 * freeing the agent under a run.
 */

enum stream_state {
    STREAM_STARTING = 0, /* waiting for the agent */
    STREAM_RUNNING,      /* the run has the agent; events flow */
    STREAM_FAILED,       /* the agent could not be made: err */
    STREAM_DONE          /* the thread has written its last event */
};

typedef struct agent_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* news: state, events, gone */
    cove_server *s;
    srv_agent *a;
    pthread_t thread;
    char *request, *session_id;  /* owned copies: the connection's arena may go first */
    char rid[32];
    const char *tenant;          /* owned by the server's key table */
    int fd;                      /* the client's socket; -1 unknown */
    enum stream_state state;
    int gone;                    /* the client went away or stopped reading */
    cove_error err;              /* STREAM_FAILED: why */
    json_t *trace;               /* the steps so far (the run's thread only) */
    struct cove_buf out;         /* SSE text not yet handed to libmicrohttpd */
    size_t out_off;
} agent_stream;

static void stream_destroy(agent_stream *as)
{
    if (!as)
        return;
    pthread_mutex_destroy(&as->mu);
    pthread_cond_destroy(&as->cv);
    cove_buf_release(&as->out);
    json_decref(as->trace);
    cove_free(as->request);
    cove_free(as->session_id);
    cove_free(as);
}

static agent_stream *stream_new(srv_conn *c, srv_agent *a,
                                const struct cove_server_agent_req *r)
{
    agent_stream *as = cove_calloc(1, sizeof *as);
    if (!as)
        return NULL;
    pthread_mutex_init(&as->mu, NULL);
    srv_cond_init_monotonic(&as->cv);
    cove_buf_init(&as->out, COVE_SERVER_MAX_STREAM_PENDING + COVE_SERVER_MAX_OUTPUT);
    as->s = c->s;
    as->a = a;
    snprintf(as->rid, sizeof as->rid, "%s", c->rid);
    as->tenant = srv_auth_tenant(c->s->auth, c->tenant);
    as->request = cove_strdup(r->request);
    as->session_id = r->session_id ? cove_strdup(r->session_id) : NULL;
    as->trace = json_array();
    as->fd = srv_conn_fd(c);
    if (!as->request || (r->session_id && !as->session_id) || !as->trace) {
        stream_destroy(as);
        return NULL;
    }
    return as;
}

/* The client is gone (mu held): the run stops at its next step. */
static void stream_gone(agent_stream *as)
{
    if (as->gone)
        return;
    as->gone = 1;
    if (as->state != STREAM_DONE)
        srv_metrics_cancel(&as->s->metrics);
    pthread_cond_broadcast(&as->cv);
}

static cove_status sse_text(agent_stream *as, const char *text)
{
    size_t mark = as->out.len;
    cove_status st = cove_buf_append_str(&as->out, "data: ");
    if (st == COVE_OK)
        st = cove_buf_append_str(&as->out, text);
    if (st == COVE_OK)
        st = cove_buf_append_str(&as->out, "\n\n");
    if (st != COVE_OK)
        cove_buf_truncate(&as->out, mark);
    return st;
}

/* Append the event {"type": type, ...the members of v} (v borrowed; mu held). */
static cove_status sse_event(agent_stream *as, const char *type, json_t *v)
{
    json_t *e = json_pack("{s:s}", "type", type);
    char *text = e && json_object_update(e, v) == 0 ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!text)
        return COVE_ERR_NOMEM;
    cove_status st = sse_text(as, text);
    free(text); /* jansson's malloc */
    pthread_cond_broadcast(&as->cv);
    return st;
}

/* An OpenAI-style error object for a failed run, as the unstreamed reply has it. */
static json_t *error_json(cove_status st, const char *msg)
{
    int client = client_error(st);
    return srv_error_json(client ? 400 : 500, client ? "request" : NULL,
                          client ? srv_status_code(st) : NULL, msg);
}

/* The step callback of a streamed run (the run's thread). */
static int stream_step(void *user, const struct cove_agent_step *st)
{
    agent_stream *as = user;
    json_t *o = step_json(st);
    pthread_mutex_lock(&as->mu);
    if (o && !as->gone && sse_event(as, "step", o) != COVE_OK)
        stream_gone(as); /* the client has left the bound unread */
    if (as->out.len - as->out_off > COVE_SERVER_MAX_STREAM_PENDING)
        stream_gone(as);
    int stop = as->gone;
    pthread_mutex_unlock(&as->mu);
    trace_add(as->trace, o);
    return stop;
}

/* The last events of a run: "done" with the response (or "error"), then [DONE]. */
static void stream_finish(agent_stream *as, cove_status st, const struct cove_agent_response *res,
                          const cove_error *err)
{
    json_t *v = NULL;
    if (st == COVE_OK) {
        v = agent_json(as->rid, as->a, res, as->trace);
        as->trace = NULL;
    }
    pthread_mutex_lock(&as->mu);
    if (!as->gone) {
        cove_status put = v ? sse_event(as, "done", v) : COVE_ERR_NOMEM;
        if (put != COVE_OK) {
            json_t *e = error_json(st != COVE_OK ? st : COVE_ERR_NOMEM,
                                   st != COVE_OK ? cove_error_msg(err)
                                                 : "the response could not be written");
            sse_event(as, "error", e);
            json_decref(e);
        }
        sse_text(as, "[DONE]");
    }
    as->state = STREAM_DONE;
    pthread_cond_broadcast(&as->cv);
    pthread_mutex_unlock(&as->mu);
    json_decref(v);
}

/* The run (the agent's mutex held, the agent made). */
static void stream_run(agent_stream *as)
{
    struct cove_agent_response res;
    cove_error err = {0};
    cove_status st = run_audited(as->s, as->a, as->tenant, as->rid, as->request,
                                 as->session_id, stream_step, as, &res, &err);
    stream_finish(as, st, &res, &err);
    if (st == COVE_OK)
        cove_agent_response_release(&res);
}

static void stream_set_state(agent_stream *as, enum stream_state state)
{
    pthread_mutex_lock(&as->mu);
    as->state = state;
    pthread_cond_broadcast(&as->cv);
    pthread_mutex_unlock(&as->mu);
}

static void *stream_main(void *arg)
{
    agent_stream *as = arg;
    srv_agent *a = as->a;
    pthread_mutex_lock(&a->mu);
    pthread_mutex_lock(&as->mu);
    int gone = as->gone;
    pthread_mutex_unlock(&as->mu);
    if (gone) {
        srv_audit(as->s, COVE_AUDIT_ERROR, as->tenant, as->rid, NULL,
                  "cancelled: the client went away before the run");
        stream_set_state(as, STREAM_DONE);
    } else if (agent_ready(a, &as->err) != COVE_OK) {
        stream_set_state(as, STREAM_FAILED);
    } else {
        stream_set_state(as, STREAM_RUNNING);
        stream_run(as);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* libmicrohttpd's reader: the events written so far, waiting (and watching) when none. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    agent_stream *as = cls;
    (void)pos;
    pthread_mutex_lock(&as->mu);
    while (as->out_off == as->out.len && as->state != STREAM_DONE && !as->gone) {
        srv_poll_wait(&as->cv, &as->mu);
        if (srv_peer_gone(as->fd))
            stream_gone(as);
    }
    ssize_t n = srv_sse_take(&as->out, &as->out_off, as->gone, buf, max);
    pthread_mutex_unlock(&as->mu);
    return n;
}

/* libmicrohttpd is done with the response: stop the run if it still goes, join, free. */
static void stream_free(void *cls)
{
    agent_stream *as = cls;
    pthread_mutex_lock(&as->mu);
    if (as->state != STREAM_DONE)
        stream_gone(as);
    pthread_mutex_unlock(&as->mu);
    pthread_join(as->thread, NULL);
    stream_destroy(as);
}

/* Start the run on its thread and wait until it has the agent (watching the client). */
static struct MHD_Response *run_streamed(srv_conn *c, srv_agent *a,
                                         const struct cove_server_agent_req *r)
{
    agent_stream *as = stream_new(c, a, r);
    if (!as)
        return srv_reply_error(c, 500, NULL, NULL, "out of memory");
    if (pthread_create(&as->thread, NULL, stream_main, as) != 0) {
        stream_destroy(as);
        return srv_reply_error(c, 500, NULL, NULL, "cannot start the agent's thread");
    }
    pthread_mutex_lock(&as->mu);
    while (as->state == STREAM_STARTING) {
        srv_poll_wait(&as->cv, &as->mu);
        if (!as->gone && srv_peer_gone(as->fd))
            stream_gone(as);
    }
    enum stream_state state = as->state; /* a short run may be done already */
    int gone = as->gone;
    pthread_mutex_unlock(&as->mu);
    if (state != STREAM_FAILED && !gone)
        return srv_sse_response(c, stream_reader, stream_free, as);
    pthread_join(as->thread, NULL);
    struct MHD_Response *resp = NULL; /* gone: the client left first */
    if (state == STREAM_FAILED)
        resp = reply_cannot_start(c, a, &as->err);
    stream_destroy(as);
    return resp;
}

/* ---------------------------------------------------------------- handler */

struct MHD_Response *srv_h_agent(srv_conn *c)
{
    cove_server *s = c->s;
    struct cove_server_agent_req r;
    char param[COVE_SERVER_PARAM_MAX];
    cove_error err = {0};
    if (cove_server_parse_agent(c->body.data, c->body.len, c->arena, &r, param, &err))
        return srv_reply_status(c, &err, param);
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
    if (r.stream)
        return run_streamed(c, a, &r);
    pthread_mutex_lock(&a->mu);
    struct MHD_Response *resp = run_locked(c, a, &r);
    pthread_mutex_unlock(&a->mu);
    return resp;
}
