/*
 * agent/loop.c - one run of an agent: plan, act, observe, reflect, answer.
 *
 * The conversation the model sees:
 *     system     instructions and the tool list (fixed for the agent)
 *     user       the session's history, the request, the sub-goals (fixed for the run)
 *     assistant  plan 1
 *     user       observation 1 and a reflection prompt
 *     ...
 * Nothing already shown is ever rewritten, so each step's prompt extends the last one
 * and the engine backend decodes only the new turns (its KV cache keeps the prefix).
 *
 * Policies enforced here, whatever the model writes: the step limit (the last step of a
 * run that has called a tool may only answer), per-tool budgets (spent tools leave the
 * grammar), tool-first (no final answer before a tool call), a call made before is not
 * run again with the same arguments (and its tool leaves the next step's grammar), and
 * the grounding check of the final answer (one revision is asked for; then the answer is
 * marked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_int.h"
#include "audit/audit.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "schema/schema.h"

#define MAX_MSGS (2 + 2 * (COVE_AGENT_MAX_STEPS + 1) + 2)
#define MAX_CALLS 64

struct run {
    cove_agent *a;
    char sid[COVE_AGENT_MAX_SESSION_ID + 1];
    const char *request;
    struct cove_chat_message msgs[MAX_MSGS];
    char *owned[MAX_MSGS]; /* contents of msgs */
    size_t n_msgs;
    struct cove_agent_usage usage;
    struct agent_sources sources;
    char *calls[MAX_CALLS]; /* "action args" of calls made; calls that failed start with '!' */
    size_t n_calls;
    char *subgoals[COVE_AGENT_MAX_SUBGOALS];
    size_t n_subgoals, subgoal;
    unsigned char blocked[COVE_AGENT_MAX_TOOLS]; /* repeated: left out of the next grammar */
    int32_t step, tool_calls;
    int revised;
    cove_agent_step_fn on_step;
    void *user;
    struct cove_buf out; /* the model's output of the current step */
};

static void run_release(struct run *r)
{
    for (size_t i = 0; i < r->n_msgs; i++)
        cove_free(r->owned[i]);
    for (size_t i = 0; i < r->n_calls; i++)
        cove_free(r->calls[i]);
    for (size_t i = 0; i < r->n_subgoals; i++)
        cove_free(r->subgoals[i]);
    agent_sources_release(&r->sources);
    cove_buf_release(&r->out);
}

/* Append a message (text copied). */
static cove_status push(struct run *r, enum cove_chat_role role, const char *text, cove_error *err)
{
    if (r->n_msgs >= MAX_MSGS)
        return cove_error_set(err, COVE_ERR_LIMIT, "agent: too many messages in one run");
    char *copy = cove_strdup(text ? text : "");
    if (!copy)
        return cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
    r->owned[r->n_msgs] = copy;
    r->msgs[r->n_msgs++] = (struct cove_chat_message){.role = role, .content = copy};
    return COVE_OK;
}

static int emit(struct run *r, const struct cove_agent_step *s)
{
    return r->on_step ? r->on_step(r->user, s) : 0;
}

/* ------------------------------------------------------------ generation */

static cove_status generate(struct run *r, const json_t *schema, int32_t max_tokens,
                            const char *prefix, cove_error *err)
{
    char *gbnf = NULL;
    cove_status st = agent_plan_grammar(schema, &gbnf, err);
    if (st != COVE_OK)
        return st;
    char *js = json_dumps(schema, JSON_COMPACT);
    struct cove_agent_gen g = {.msgs = r->msgs, .n_msgs = r->n_msgs, .grammar = gbnf,
                               .json_schema = js, .prefix = prefix, .max_tokens = max_tokens,
                               .temperature = r->a->cfg.temperature, .seed = r->a->cfg.seed};
    st = cove_agent_backend_generate(r->a->backend, &g, &r->out, err);
    free(js);
    cove_free(gbnf);
    if (st == COVE_OK) {
        cove_log_debug("agent: step %d output: %s", (int)r->step, r->out.data ? r->out.data : "");
        agent_audit(r->a, COVE_AUDIT_MODEL_OUTPUT, r->sid, NULL, NULL, r->out.data);
    }
    return st;
}

/* Split the request into sub-goals (the decompose policy). */
static cove_status decompose(struct run *r, cove_error *err)
{
    json_t *schema = NULL;
    cove_status st = agent_subgoal_schema(&schema, err);
    if (st != COVE_OK)
        return st;
    size_t keep = r->n_msgs;
    st = push(r, COVE_CHAT_USER, "Before acting, split the request into the sub-goals to work "
              "through in order, as {\"subgoals\": [...]} (one sub-goal when it is simple).",
              err);
    if (st == COVE_OK)
        st = generate(r, schema, r->a->cfg.max_tokens, NULL, err);
    while (r->n_msgs > keep)
        cove_free(r->owned[--r->n_msgs]);
    json_t *doc = st == COVE_OK ? json_loads(r->out.data ? r->out.data : "", 0, NULL) : NULL;
    cove_error verr = {0};
    json_t *list = NULL;
    if (doc && cove_schema_validate(schema, doc, &verr) == COVE_OK) {
        list = json_object_get(doc, "subgoals");
        for (size_t i = 0; i < json_array_size(list) && r->n_subgoals < COVE_AGENT_MAX_SUBGOALS;
             i++) {
            char *g = cove_strdup(json_string_value(json_array_get(list, i)));
            if (g)
                r->subgoals[r->n_subgoals++] = g;
        }
    }
    json_decref(schema);
    char *args = list ? json_dumps(list, JSON_COMPACT) : NULL;
    struct cove_agent_step s = {.step = 0, .thought = "", .action = "decompose",
                                .arguments = args ? args : "[]",
                                .observation = list ? "sub-goals set" : "no usable sub-goals",
                                .is_error = list == NULL};
    if (st == COVE_OK && emit(r, &s))
        st = cove_error_set(err, COVE_ERR_CANCELLED, "agent: stopped by the caller");
    free(args);
    json_decref(doc);
    return st;
}

/* The first user message: history, request, sub-goals. */
static cove_status first_message(struct run *r, const char *history, cove_error *err)
{
    struct cove_buf b;
    cove_buf_init(&b, COVE_AGENT_MAX_PROMPT);
    cove_status st = COVE_OK;
    if (history && *history)
        st = cove_buf_appendf(&b, "Earlier in this session:\n%s\n", history);
    if (st == COVE_OK)
        st = cove_buf_appendf(&b, "Request: %s", r->request);
    for (size_t i = 0; st == COVE_OK && i < r->n_subgoals; i++)
        st = cove_buf_appendf(&b, "%s%zu. %s", i ? "\n" : "\nSub-goals, in order:\n", i + 1,
                              r->subgoals[i]);
    if (st == COVE_OK && r->n_subgoals > 1)
        st = cove_buf_appendf(&b, "\nWork on sub-goal 1 first: %s", r->subgoals[0]);
    if (st == COVE_OK)
        st = push(r, COVE_CHAT_USER, b.data, err);
    else
        cove_error_set(err, st, "agent: the request with its history is too long");
    cove_buf_release(&b);
    return st;
}

/* --------------------------------------------------------------- steps */

/* Push the observation message for the model with the reflection prompt. */
static cove_status observe(struct run *r, const char *what, const char *text, int is_error,
                           cove_error *err)
{
    struct cove_buf b;
    cove_buf_init(&b, COVE_AGENT_MAX_OBSERVATION + 1024);
    const char *reflect =
        is_error ? "That failed. Reflect: retry with changed arguments, use another tool, or "
                   "ask_user for what is missing."
                 : "Reflect: is the request answered now? If yes, write the final_answer now "
                   "and cite the ids above; if not, call another tool.";
    cove_status st = cove_buf_appendf(&b, "Observation (%s):\n%s\n\n%s", what, text, reflect);
    if (st == COVE_OK)
        st = push(r, COVE_CHAT_USER, b.data, err);
    cove_buf_release(&b);
    return st;
}

/* A final answer that did not end the run: told to the model and to the callback. */
static cove_status final_not_done(struct run *r, const struct agent_plan *p, const char *what,
                                  const char *text, int is_error, cove_error *err)
{
    cove_status st = observe(r, what, text, is_error, err);
    struct cove_agent_step s = {.step = r->step, .subgoal = (int32_t)r->subgoal,
                                .thought = p->thought, .action = COVE_AGENT_FINAL,
                                .arguments = "{}", .observation = text, .is_error = is_error,
                                .answer = p->answer,
                                .citations = (const char *const *)p->citations,
                                .n_citations = p->n_citations};
    if (st == COVE_OK && emit(r, &s))
        st = cove_error_set(err, COVE_ERR_CANCELLED, "agent: stopped by the caller");
    return st;
}

/* 0: a new call; 1: made before and succeeded; 2: made before and failed. */
static int made_before(const struct run *r, const char *key)
{
    for (size_t i = 0; i < r->n_calls; i++)
        if (strcmp(r->calls[i] + 1, key) == 0)
            return r->calls[i][0] == '!' ? 2 : 1;
    return 0;
}

static void remember_call(struct run *r, const char *key, int failed)
{
    if (r->n_calls >= MAX_CALLS)
        return;
    size_t n = strlen(key);
    char *k = cove_malloc(n + 2);
    if (!k)
        return;
    k[0] = failed ? '!' : '+';
    memcpy(k + 1, key, n + 1);
    r->calls[r->n_calls++] = k;
}

/* Run a tool call of plan p and give the model its observation. */
static cove_status act(struct run *r, const struct agent_plan *p, cove_error *err)
{
    cove_agent *a = r->a;
    struct cove_agent_obs obs;
    cove_agent_obs_init(&obs);
    char key[512];
    snprintf(key, sizeof key, "%s %.400s", p->action, p->arguments);
    cove_status st = COVE_OK;
    agent_audit(a, COVE_AUDIT_TOOL_CALL, r->sid, p->action, p->arguments, NULL);
    int before = made_before(r, key), idx = cove_agent_registry_find(a->reg, p->action);
    memset(r->blocked, 0, sizeof r->blocked);
    if (before && idx >= 0)
        r->blocked[idx] = 1;
    if (before) {
        cove_agent_obs_error(&obs, before == 2 ? "this exact call failed before; change the "
                             "arguments or use another tool"
                             : "this exact call was made before and its result is above; "
                             "give the final_answer now, or call another tool");
        agent_audit(a, COVE_AUDIT_POLICY, r->sid, p->action, NULL, "repeated call not run");
    } else {
        st = cove_agent_registry_invoke(a->reg, &a->env, p->action, p->arguments, &r->usage,
                                        &obs, err);
        if (st == COVE_OK)
            remember_call(r, key, obs.is_error);
    }
    if (st == COVE_OK && !obs.is_error)
        r->tool_calls++;
    if (st == COVE_OK)
        st = agent_sources_add(&r->sources, &obs) == COVE_OK
                 ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
    const char *text = obs.text.data ? obs.text.data : "";
    if (st == COVE_OK) {
        agent_audit(a, COVE_AUDIT_TOOL_RESULT, r->sid, p->action, NULL, text);
        if (a->memory)
            cove_agent_memory_add_tool_result(a->memory, r->sid, r->step, p->action,
                                              p->arguments, text, obs.is_error, NULL);
        st = observe(r, p->action, text, obs.is_error, err);
    }
    struct cove_agent_step s = {.step = r->step, .subgoal = (int32_t)r->subgoal,
                                .thought = p->thought, .action = p->action,
                                .arguments = p->arguments, .observation = text,
                                .is_error = obs.is_error};
    if (st == COVE_OK && emit(r, &s))
        st = cove_error_set(err, COVE_ERR_CANCELLED, "agent: stopped by the caller");
    cove_agent_obs_release(&obs);
    return st;
}

/* Fill the response from a final plan. Takes the plan's answer and citations. */
static cove_status finish(struct run *r, struct agent_plan *p, int grounded,
                          enum cove_agent_stop stop, struct cove_agent_response *out,
                          cove_error *err)
{
    const char *mark = grounded ? "" : "[not grounded] ";
    size_t n = strlen(mark) + strlen(p->answer ? p->answer : "") + 1;
    out->answer = cove_malloc(n);
    if (!out->answer)
        return cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
    snprintf(out->answer, n, "%s%s", mark, p->answer ? p->answer : "");
    if (p->n_citations) {
        out->citations = cove_calloc(p->n_citations, sizeof *out->citations);
        if (!out->citations)
            return cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
        memcpy(out->citations, p->citations, p->n_citations * sizeof *p->citations);
        out->n_citations = p->n_citations;
        p->n_citations = 0;
    }
    out->grounded = grounded;
    out->stop = stop;
    out->n_steps = r->step;
    return COVE_OK;
}

/* A final answer: policy, grounding, sub-goals. *done 1 when the run ends here. */
static cove_status on_final(struct run *r, struct agent_plan *p, struct cove_agent_response *out,
                            int *done, cove_error *err)
{
    char why[COVE_ERROR_MSG_MAX] = "";
    if (r->a->cfg.tool_first && r->tool_calls == 0) {
        agent_audit(r->a, COVE_AUDIT_POLICY, r->sid, NULL, NULL, "final answer before a tool");
        return final_not_done(r, p, "policy", "error: call a tool before answering", 1, err);
    }
    int grounded = !r->a->cfg.grounding ||
                   agent_ground_check(&r->sources, p->answer, p->citations, p->n_citations, why,
                                      sizeof why);
    int last_step = r->step >= r->a->cfg.max_steps;
    if (!grounded && !r->revised && !last_step) {
        r->revised = 1;
        agent_audit(r->a, COVE_AUDIT_POLICY, r->sid, NULL, NULL, why);
        char text[COVE_ERROR_MSG_MAX + 128];
        snprintf(text, sizeof text, "error: grounding check failed: %s. Revise the answer so "
                 "that it says only what the cited text supports.", why);
        return final_not_done(r, p, "grounding check", text, 1, err);
    }
    if (r->subgoal + 1 < r->n_subgoals && !last_step) {
        r->subgoal++;
        char text[512];
        snprintf(text, sizeof text, "sub-goal %zu is done (%.200s). Now work on sub-goal %zu: "
                 "%.200s", r->subgoal, p->answer, r->subgoal + 1, r->subgoals[r->subgoal]);
        return final_not_done(r, p, "progress", text, 0, err);
    }
    *done = 1;
    cove_status st = finish(r, p, grounded, COVE_AGENT_STOP_ANSWER, out, err);
    struct cove_agent_step s = {.step = r->step, .subgoal = (int32_t)r->subgoal,
                                .thought = p->thought, .action = COVE_AGENT_FINAL,
                                .arguments = "{}", .answer = out->answer,
                                .citations = (const char *const *)out->citations,
                                .n_citations = out->n_citations, .grounded = grounded};
    if (st == COVE_OK && emit(r, &s))
        st = cove_error_set(err, COVE_ERR_CANCELLED, "agent: stopped by the caller");
    return st;
}

static cove_status on_ask(struct run *r, struct agent_plan *p, struct cove_agent_response *out,
                          cove_error *err)
{
    json_t *args = json_loads(p->arguments, 0, NULL);
    cove_free(p->answer);
    p->answer = cove_strdup(json_string_value(json_object_get(args, "question")));
    json_decref(args);
    if (!p->answer)
        return cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
    cove_status st = finish(r, p, 1, COVE_AGENT_STOP_ASK_USER, out, err);
    struct cove_agent_step s = {.step = r->step, .thought = p->thought, .action = COVE_AGENT_ASK,
                                .arguments = p->arguments, .answer = out->answer, .grounded = 1};
    if (st == COVE_OK && emit(r, &s))
        st = cove_error_set(err, COVE_ERR_CANCELLED, "agent: stopped by the caller");
    return st;
}

/*
 * Choosing the action by likelihood (backends that can score text): the plan starts with
 * its action, so each allowed action name is scored as the continuation of `{"action":"`
 * (mean log-probability of its tokens) minus the score the same name gets after a request
 * that asks nothing (calibration: a small model otherwise prefers the names that are
 * likely anywhere), and the best is taken; then the rest of the plan is generated under
 * the full grammar after that prefix. Greedy sampling would pick by the first token alone.
 */
#define PLAN_START "{\"action\":\""

/*
 * The requests an action's calibration score is averaged over: one that asks nothing and
 * the example request of every tool (from the tool list). Against the empty request
 * alone, a tool whose name is unlikely when nothing is asked (a search) would win almost
 * any real request. Writes up to cap requests into req; returns their number.
 */
static size_t calibration_requests(const cove_agent *a, char (*req)[COVE_AGENT_MAX_CAL_REQUEST],
                                   size_t cap)
{
    size_t n = 0;
    snprintf(req[n++], sizeof req[0], "Request: none");
    for (size_t i = 0; n < cap && i < cove_agent_registry_count(a->reg); i++) {
        const char *ex = cove_agent_registry_get(a->reg, i)->example;
        int len = agent_example_split(ex, NULL);
        if (len >= 0)
            snprintf(req[n++], sizeof req[0], "Request: %.*s", len, ex);
    }
    return n;
}

/* The calibration score of each option (computed once per agent and name). */
static cove_status baselines(struct run *r, const char *const *opts, size_t n, double *base,
                             cove_error *err)
{
    cove_agent *a = r->a;
    const char *todo[COVE_AGENT_MAX_TOOLS + 2];
    double sum[COVE_AGENT_MAX_TOOLS + 2] = {0}, one[COVE_AGENT_MAX_TOOLS + 2];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < a->n_base && strcmp(a->base_name[k], opts[i]) != 0)
            k++;
        if (k == a->n_base)
            todo[m++] = opts[i];
    }
    if (a->n_base + m > COVE_AGENT_MAX_TOOLS + 2)
        return cove_error_set(err, COVE_ERR_LIMIT, "agent: too many actions");
    char req[COVE_AGENT_MAX_TOOLS + 1][COVE_AGENT_MAX_CAL_REQUEST];
    size_t n_req = m ? calibration_requests(a, req, COVE_AGENT_MAX_TOOLS + 1) : 0;
    struct cove_chat_message msgs[2] = {{.role = COVE_CHAT_SYSTEM, .content = a->system},
                                        {.role = COVE_CHAT_USER}};
    struct cove_agent_gen g = {.msgs = msgs, .n_msgs = 2, .prefix = PLAN_START, .max_tokens = 16};
    for (size_t j = 0; j < n_req; j++) {
        msgs[1].content = req[j];
        cove_status st = cove_agent_backend_score(a->backend, &g, todo, m, one, err);
        if (st != COVE_OK)
            return st;
        for (size_t i = 0; i < m; i++)
            sum[i] += one[i];
    }
    for (size_t i = 0; i < m; i++) {
        cove_str_copy(a->base_name[a->n_base], sizeof a->base_name[0], todo[i]);
        a->base_score[a->n_base++] = sum[i] / (double)n_req;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < a->n_base; k++)
            if (strcmp(a->base_name[k], opts[i]) == 0)
                base[i] = a->base_score[k];
    return COVE_OK;
}

static cove_status choose_action(struct run *r, const struct agent_plan_spec *spec,
                                 struct cove_buf *prefix, cove_error *err)
{
    const char *opts[COVE_AGENT_MAX_TOOLS + 2];
    char names[COVE_AGENT_MAX_TOOLS + 2][80];
    double score[COVE_AGENT_MAX_TOOLS + 2], base[COVE_AGENT_MAX_TOOLS + 2];
    size_t n = 0, best = 0;
    for (size_t i = 0; i < cove_agent_registry_count(spec->reg); i++)
        if (spec->tool_ok[i])
            snprintf(names[n++], sizeof names[0], "%s\"",
                     cove_agent_registry_get(spec->reg, i)->name);
    if (spec->allow_final)
        snprintf(names[n++], sizeof names[0], "%s\"", COVE_AGENT_FINAL);
    if (spec->allow_ask)
        snprintf(names[n++], sizeof names[0], "%s\"", COVE_AGENT_ASK);
    for (size_t i = 0; i < n; i++)
        opts[i] = names[i];
    struct cove_agent_gen g = {.msgs = r->msgs, .n_msgs = r->n_msgs, .prefix = PLAN_START,
                               .max_tokens = r->a->cfg.max_tokens};
    cove_status st = cove_buf_append_str(prefix, PLAN_START);
    if (st == COVE_OK && n > 0)
        st = cove_agent_backend_score(r->a->backend, &g, opts, n, score, err);
    if (st == COVE_OK && n > 0)
        st = baselines(r, opts, n, base, err);
    for (size_t i = 1; st == COVE_OK && i < n; i++)
        if (score[i] - base[i] > score[best] - base[best])
            best = i;
    for (size_t i = 0; st == COVE_OK && i < n; i++)
        cove_log_debug("agent: step %d: action %s score %.3f base %.3f", (int)r->step,
                       names[i], score[i], base[i]);
    if (st == COVE_OK && n > 0)
        st = cove_buf_append_str(prefix, opts[best]);
    return st;
}

/* The plan of this step into r->out: by choice where the backend scores, else in one go. */
static cove_status plan(struct run *r, const struct agent_plan_spec *spec, const json_t *strict,
                        cove_error *err)
{
    if (!r->a->backend->ops->score)
        return generate(r, strict, r->a->cfg.max_tokens, NULL, err);
    struct cove_buf prefix;
    cove_buf_init(&prefix, COVE_AGENT_MAX_PLAN);
    cove_status st = choose_action(r, spec, &prefix, err);
    if (st == COVE_OK)
        st = generate(r, strict, r->a->cfg.max_tokens, prefix.data, err);
    cove_buf_release(&prefix);
    return st;
}

/* The plan spec of the current step. ids: storage for the source ids. */
static void step_spec(struct run *r, struct agent_plan_spec *spec, unsigned char *tool_ok,
                      const char **ids)
{
    size_t n = cove_agent_registry_count(r->a->reg);
    /* the last step of a run that has called a tool may only answer */
    int last = r->step >= r->a->cfg.max_steps && r->tool_calls > 0;
    for (size_t i = 0; i < n; i++) {
        int32_t max = cove_agent_registry_get(r->a->reg, i)->limits.max_calls;
        tool_ok[i] = (max <= 0 || r->usage.calls[i] < max) && !r->blocked[i] && !last;
    }
    for (size_t i = 0; i < r->sources.n; i++)
        ids[i] = r->sources.items[i].id;
    /* tool-first: neither an answer nor a question before the first tool call */
    int first = r->a->cfg.tool_first && r->tool_calls == 0;
    *spec = (struct agent_plan_spec){.reg = r->a->reg, .tool_ok = tool_ok,
                                     .allow_final = !first,
                                     .allow_ask = !last && !first, .source_ids = ids,
                                     .n_sources = r->sources.n};
}

/* One step: plan, then act or finish. */
static cove_status step(struct run *r, struct cove_agent_response *out, int *done, cove_error *err)
{
    unsigned char tool_ok[COVE_AGENT_MAX_TOOLS];
    const char *ids[COVE_AGENT_MAX_SOURCES];
    struct agent_plan_spec spec;
    step_spec(r, &spec, tool_ok, ids);
    json_t *strict = NULL, *lax = NULL;
    cove_status st = agent_plan_schema(&spec, 1, &strict, err);
    if (st == COVE_OK)
        st = agent_plan_schema(&spec, 0, &lax, err);
    if (st == COVE_OK)
        st = plan(r, &spec, strict, err);
    struct agent_plan p = {0};
    cove_error perr = {0};
    if (st == COVE_OK && agent_plan_parse(r->out.data ? r->out.data : "", lax, &p, &perr) !=
                             COVE_OK) {
        cove_log_warn("agent: step %d: %s", (int)r->step, cove_error_msg(&perr));
        st = push(r, COVE_CHAT_ASSISTANT, r->out.data, err);
        if (st == COVE_OK)
            st = observe(r, "format", cove_error_msg(&perr), 1, err);
        struct cove_agent_step s = {.step = r->step, .thought = "", .action = "invalid_plan",
                                    .arguments = "{}", .observation = cove_error_msg(&perr),
                                    .is_error = 1};
        if (st == COVE_OK && emit(r, &s))
            st = cove_error_set(err, COVE_ERR_CANCELLED, "agent: stopped by the caller");
    } else if (st == COVE_OK) {
        st = push(r, COVE_CHAT_ASSISTANT, r->out.data, err);
        if (st == COVE_OK && strcmp(p.action, COVE_AGENT_FINAL) == 0)
            st = on_final(r, &p, out, done, err);
        else if (st == COVE_OK && strcmp(p.action, COVE_AGENT_ASK) == 0) {
            *done = 1;
            st = on_ask(r, &p, out, err);
        } else if (st == COVE_OK)
            st = act(r, &p, err);
    }
    agent_plan_release(&p);
    json_decref(strict);
    json_decref(lax);
    return st;
}

/* The run ran out of steps: say so, with what was found. */
static cove_status out_of_steps(struct run *r, struct cove_agent_response *out, cove_error *err)
{
    struct agent_plan p = {0};
    char text[160];
    snprintf(text, sizeof text, "I could not finish within %d steps.", (int)r->a->cfg.max_steps);
    p.answer = cove_strdup(text);
    if (!p.answer)
        return cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
    cove_status st = finish(r, &p, 0, COVE_AGENT_STOP_MAX_STEPS, out, err);
    cove_free(out->answer);
    out->answer = p.answer;
    p.answer = NULL;
    agent_plan_release(&p);
    return st;
}

/* Session set-up: id, history. */
static cove_status open_session(struct run *r, const char *session_id, struct cove_buf *history,
                                cove_error *err)
{
    cove_agent *a = r->a;
    if (!a->memory) {
        if (session_id && *session_id)
            cove_str_copy(r->sid, sizeof r->sid, session_id);
        else
            snprintf(r->sid, sizeof r->sid, "run");
        return COVE_OK;
    }
    cove_status st = cove_agent_memory_session(a->memory, session_id, r->sid, NULL, err);
    if (st == COVE_OK)
        st = cove_agent_memory_history(a->memory, r->sid, a->cfg.prompt_budget, history, err);
    return st;
}

static cove_status run_steps(struct run *r, struct cove_agent_response *out, cove_error *err)
{
    cove_status st = COVE_OK;
    int done = 0;
    while (st == COVE_OK && !done && r->step < r->a->cfg.max_steps) {
        r->step++;
        st = step(r, out, &done, err);
    }
    if (st == COVE_OK && !done)
        st = out_of_steps(r, out, err);
    return st;
}

cove_status cove_agent_run(cove_agent *a, const char *request, const char *session_id,
                           cove_agent_step_fn on_step, void *user,
                           struct cove_agent_response *out, cove_error *err)
{
    if (!a || !request || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "agent: NULL argument");
    memset(out, 0, sizeof *out);
    if (strlen(request) > COVE_AGENT_MAX_REQUEST || !*request)
        return cove_error_set(err, *request ? COVE_ERR_LIMIT : COVE_ERR_INVALID_ARG,
                              "agent: the request must be 1 to %u bytes", COVE_AGENT_MAX_REQUEST);
    struct run *r = cove_calloc(1, sizeof *r);
    if (!r)
        return cove_error_set(err, COVE_ERR_NOMEM, "agent: out of memory");
    r->a = a;
    r->request = request;
    r->on_step = on_step;
    r->user = user;
    cove_buf_init(&r->out, COVE_AGENT_MAX_PLAN);
    struct cove_buf history;
    cove_buf_init(&history, COVE_AGENT_MAX_PROMPT / 2);
    cove_status st = open_session(r, session_id, &history, err);
    a->env.session_id = r->sid;
    if (st == COVE_OK) {
        agent_audit(a, COVE_AUDIT_SESSION_START, r->sid, NULL, NULL, a->cfg.name);
        agent_audit(a, COVE_AUDIT_PROMPT, r->sid, NULL, NULL, request);
        st = push(r, COVE_CHAT_SYSTEM, a->system, err);
    }
    if (st == COVE_OK && a->cfg.decompose)
        st = decompose(r, err);
    if (st == COVE_OK)
        st = first_message(r, history.data, err);
    if (st == COVE_OK)
        st = run_steps(r, out, err);
    if (st == COVE_OK && a->memory)
        st = cove_agent_memory_add_turn(a->memory, r->sid, "user", request, err);
    if (st == COVE_OK && a->memory)
        st = cove_agent_memory_add_turn(a->memory, r->sid, "assistant", out->answer, err);
    if (st == COVE_OK) {
        memcpy(out->session_id, r->sid, sizeof out->session_id);
        agent_audit(a, COVE_AUDIT_FINAL_ANSWER, r->sid, NULL, NULL, out->answer);
    } else {
        agent_audit(a, COVE_AUDIT_ERROR, r->sid, NULL, NULL, cove_error_msg(err));
        cove_agent_response_release(out);
    }
    agent_audit(a, COVE_AUDIT_SESSION_END, r->sid, NULL, NULL, NULL);
    cove_buf_release(&history);
    run_release(r);
    cove_free(r);
    return st;
}

void cove_agent_response_release(struct cove_agent_response *r)
{
    if (!r)
        return;
    cove_free(r->answer);
    for (size_t i = 0; i < r->n_citations; i++)
        cove_free(r->citations[i]);
    cove_free(r->citations);
    memset(r, 0, sizeof *r);
}
