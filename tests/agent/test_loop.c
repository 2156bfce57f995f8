/*
 * tests/agent/test_loop.c - the agent loop on the scripted backend: deterministic runs
 * through budgets, tool errors and retries, reflection, sub-goals, invalid arguments and
 * plans, grounding failures, tool-first, asking the user, resume and audit.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/memory.h"
#include "agent/registry.h"
#include "agent_test.h"
#include "audit/audit.h"
#include "test.h"

#define MAX_SEEN 32

/* What the step callback saw. */
struct seen {
    int n;
    char action[MAX_SEEN][64];
    char obs[MAX_SEEN][512];
    int is_error[MAX_SEEN];
    int subgoal[MAX_SEEN];
};

static int on_step(void *user, const struct cove_agent_step *s)
{
    struct seen *v = user;
    if (v->n < MAX_SEEN) {
        snprintf(v->action[v->n], 64, "%s", s->action);
        snprintf(v->obs[v->n], 512, "%s", s->observation ? s->observation : "");
        v->is_error[v->n] = s->is_error;
        v->subgoal[v->n] = s->subgoal;
        v->n++;
    }
    return 0;
}

static const char *READ_A =
    "{\"action\":\"read_file\",\"thought\":\"read it\",\"arguments\":{\"path\":\"a.txt\"}}";
static const char *FINAL_A =
    "{\"action\":\"final_answer\",\"thought\":\"done\",\"answer\":\"The pelican contract runs "
    "for 24 months.\",\"citations\":[\"a.txt\"]}";

/* A config with the docs root of at_root(name). */
static void base_config(struct cove_agent_config *cfg, const char *name)
{
    cove_agent_config_init(cfg);
    cove_agent_config_add_root(cfg, at_root(name), NULL);
}

/* Create an agent on a scripted backend; *be receives the backend (borrowed). */
static cove_status make_agent(const struct cove_agent_config *cfg, const char *const *outs,
                              size_t n, cove_agent **a, cove_agent_backend **be)
{
    cove_status st = cove_agent_backend_scripted(outs, n, be, NULL);
    if (st != COVE_OK)
        return st;
    return cove_agent_create(cfg, *be, a, NULL);
}

TEST(loop_read_and_answer)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l1");
    const char *outs[] = {READ_A, FINAL_A};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 2, &a, &be));
    CHECK_OK(cove_agent_run(a, "How long does the pelican contract run?", NULL, on_step, &v, &res,
                            NULL));
    CHECK_STR_EQ(res.answer, "The pelican contract runs for 24 months.");
    CHECK_EQ_INT(res.n_citations, 1);
    CHECK_STR_EQ(res.citations[0], "file:docs/a.txt");
    CHECK(res.grounded);
    CHECK_EQ_INT(res.stop, COVE_AGENT_STOP_ANSWER);
    CHECK_EQ_INT(res.n_steps, 2);
    CHECK_EQ_INT(v.n, 2);
    CHECK_STR_EQ(v.action[0], "read_file");
    CHECK(strstr(v.obs[0], "24 months"));
    CHECK_STR_EQ(v.action[1], "final_answer");
    /* the prompt of step 2 extends the prompt of step 1 (stable prefix) */
    const char *p1 = cove_agent_scripted_prompt(be, 0), *p2 = cove_agent_scripted_prompt(be, 1);
    CHECK(p1 && p2 && strncmp(p1, p2, strlen(p1)) == 0);
    CHECK(strstr(p2, "Observation (read_file)") && strstr(p2, "renews automatically"));
    CHECK(strstr(p1, "Tools:\n- kb_search(query: string, k?: integer): ") != NULL);
    CHECK(strstr(p1, "- device_control(action: \"list\") or (action: \"on\"|\"off\"|\"status\", "
                     "device: string) or (action: \"set\", device: string, value: number): "));
    /* each tool's example as a first step under its line, action first */
    CHECK(strstr(p1, "or a power.\n  Request: How much is 3 times 4.5?\n  {\"action\": "
                     "\"calculator\", \"thought\": \"How much is 3 times 4.5?\", \"arguments\": "
                     "{\"expression\": \"3*4.5\"}}\n"));
    /* the grammar names the registered tools; citations limited to retrieved ids later */
    const char *g1 = cove_agent_scripted_grammar(be, 0), *g2 = cove_agent_scripted_grammar(be, 1);
    CHECK(g1 && strstr(g1, "read_file") && strstr(g1, "device_control") &&
          strstr(g1, "final_answer"));
    /* every plan starts with its action; the thought follows it */
    CHECK(strstr(g1, "\"{\" \"\\\"action\\\"\"") && !strstr(g1, "\"{\" \"\\\"thought\\\"\""));
    CHECK(g2 && strstr(g2, "file:docs/a.txt"));
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_budget_and_max_steps)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l2");
    cfg.max_steps = 3;
    cfg.n_budgets = 1;
    strcpy(cfg.budgets[0].tool, "read_file");
    cfg.budgets[0].max_calls = 1;
    const char *read_b = "{\"thought\":\"b\",\"action\":\"read_file\",\"arguments\":{"
                         "\"path\":\"b.txt\"}}";
    const char *outs[] = {READ_A, read_b, read_b};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 3, &a, &be));
    CHECK_OK(cove_agent_run(a, "read a", NULL, on_step, &v, &res, NULL));
    CHECK_EQ_INT(res.stop, COVE_AGENT_STOP_MAX_STEPS);
    CHECK(strstr(res.answer, "could not finish within 3 steps"));
    CHECK(!res.grounded);
    CHECK_EQ_INT(v.n, 3);
    CHECK(!v.is_error[0]);
    CHECK(v.is_error[1] && strstr(v.obs[1], "budget of read_file (1 calls) is spent"));
    /* after the budget is spent, read_file leaves the grammar */
    const char *g2 = cove_agent_scripted_grammar(be, 1);
    CHECK(g2 && !strstr(g2, "read_file") && strstr(g2, "list_files"));
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_tool_error_retry_and_reflection)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l3");
    const char *missing = "{\"thought\":\"try\",\"action\":\"read_file\",\"arguments\":{\"path\":"
                          "\"missing.txt\"}}";
    const char *outs[] = {missing, missing, READ_A, FINAL_A};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 4, &a, &be));
    CHECK_OK(cove_agent_run(a, "contract length?", NULL, on_step, &v, &res, NULL));
    CHECK(v.is_error[0] && strstr(v.obs[0], "read_file failed"));
    CHECK(v.is_error[1] && strstr(v.obs[1], "this exact call failed before"));
    CHECK(!v.is_error[2]);
    CHECK(res.grounded);
    const char *p2 = cove_agent_scripted_prompt(be, 1), *p4 = cove_agent_scripted_prompt(be, 3);
    CHECK(strstr(p2, "retry with changed arguments, use another tool, or ask_user"));
    CHECK(strstr(p4, "is the request answered now?"));
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_repeated_call_blocked)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l11");
    const char *outs[] = {READ_A, READ_A, FINAL_A};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 3, &a, &be));
    CHECK_OK(cove_agent_run(a, "contract?", NULL, on_step, &v, &res, NULL));
    CHECK(v.is_error[1] && strstr(v.obs[1], "was made before"));
    /* the repeated tool leaves the grammar for the next step */
    const char *g3 = cove_agent_scripted_grammar(be, 2);
    CHECK(g3 && !strstr(g3, "read_file") && strstr(g3, "final_answer"));
    CHECK(res.grounded);
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

static int probe_calls;

static cove_status probe_run(struct cove_agent_env *env, const json_t *args,
                             struct cove_agent_obs *obs, cove_error *err)
{
    probe_calls++;
    return cove_buf_append_str(&obs->text, "probed");
}

TEST(loop_invalid_arguments_and_plans)
{
    static const struct cove_agent_tool_def probe = {
        .name = "probe", .description = "test",
        .schema = "{\"type\":\"object\",\"properties\":{\"level\":{\"type\":\"integer\","
                  "\"maximum\":3}},\"required\":[\"level\"]}",
        .handler = probe_run, .limits = {.max_calls = 5}};
    struct cove_agent_config cfg;
    base_config(&cfg, "l4");
    cove_agent_config_add_tool(&cfg, "calculator", NULL);
    const char *outs[] = {
        "{\"thought\":\"x\",\"action\":\"probe\",\"arguments\":{\"level\":9}}",
        "{\"thought\":\"x\",\"action\":\"probe\",\"arguments\":{}}",
        "this is not a plan",
        "{\"thought\":\"x\",\"action\":\"rm_rf\",\"arguments\":{}}",
        "{\"thought\":\"x\",\"action\":\"calculator\",\"arguments\":{\"expression\":\"6*7\"}}",
        "{\"thought\":\"x\",\"action\":\"final_answer\",\"answer\":\"42\",\"citations\":[]}"};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 6, &a, &be));
    CHECK_OK(cove_agent_registry_add(cove_agent_get_registry(a), &probe, NULL));
    probe_calls = 0;
    CHECK_OK(cove_agent_run(a, "what is 6*7", NULL, on_step, &v, &res, NULL));
    CHECK_EQ_INT(probe_calls, 0);
    CHECK(v.is_error[0] && strstr(v.obs[0], "invalid arguments for probe"));
    CHECK(v.is_error[1] && strstr(v.obs[1], "invalid arguments for probe"));
    CHECK_STR_EQ(v.action[2], "invalid_plan");
    CHECK(strstr(v.obs[2], "not JSON"));
    CHECK_STR_EQ(v.action[3], "invalid_plan"); /* rm_rf is not a registered tool */
    CHECK(!v.is_error[4] && strstr(v.obs[4], "42"));
    CHECK_STR_EQ(res.answer, "42");
    CHECK(res.grounded);
    /* only the allowed tool (and the added one) are in the grammar */
    const char *g = cove_agent_scripted_grammar(be, 0);
    CHECK(g && strstr(g, "calculator") && !strstr(g, "read_file"));
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_grounding_failure_marked)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l5");
    const char *wrong_file = "{\"thought\":\"x\",\"action\":\"final_answer\",\"answer\":\"The "
                             "pelican contract runs for 24 months.\",\"citations\":[\"b.txt\"]}";
    const char *made_up = "{\"thought\":\"x\",\"action\":\"final_answer\",\"answer\":\"Penalties "
                          "of 5000 dollars apply monthly.\",\"citations\":[\"file:docs/a.txt\"]}";
    const char *outs[] = {READ_A, wrong_file, made_up};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 3, &a, &be));
    CHECK_OK(cove_agent_run(a, "contract?", NULL, on_step, &v, &res, NULL));
    CHECK(v.is_error[1] && strstr(v.obs[1], "grounding check failed") &&
          strstr(v.obs[1], "names nothing retrieved"));
    CHECK(!res.grounded);
    CHECK(strncmp(res.answer, "[not grounded] Penalties", 24) == 0);
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_grounding_revised)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l6");
    const char *uncited = "{\"thought\":\"x\",\"action\":\"final_answer\",\"answer\":\"24 "
                          "months\",\"citations\":[]}";
    const char *outs[] = {READ_A, uncited, FINAL_A};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 3, &a, &be));
    CHECK_OK(cove_agent_run(a, "contract?", NULL, on_step, &v, &res, NULL));
    CHECK(strstr(v.obs[1], "cites nothing"));
    CHECK(res.grounded);
    CHECK_STR_EQ(res.citations[0], "file:docs/a.txt");
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_tool_first_and_ask_user)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l7");
    cfg.tool_first = 1;
    const char *early = "{\"thought\":\"x\",\"action\":\"final_answer\",\"answer\":\"guess\","
                        "\"citations\":[]}";
    const char *ask = "{\"thought\":\"x\",\"action\":\"ask_user\",\"arguments\":{\"question\":"
                      "\"Which contract do you mean?\"}}";
    const char *outs[] = {early, ask};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 2, &a, &be));
    CHECK_OK(cove_agent_run(a, "how long?", NULL, on_step, &v, &res, NULL));
    CHECK(strstr(v.obs[0], "call a tool before answering"));
    CHECK(!strstr(cove_agent_scripted_grammar(be, 0), "final_answer"));
    CHECK_EQ_INT(res.stop, COVE_AGENT_STOP_ASK_USER);
    CHECK_STR_EQ(res.answer, "Which contract do you mean?");
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

/* A device named loosely by the model ("the lamps") is found when exactly one fits. */
TEST(loop_device_loose_name)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l7d");
    char dev[4096];
    snprintf(dev, sizeof dev, "%s/devices.db", at_dir("l7d-dev"));
    CHECK(at_devices(dev) == 0);
    cove_agent_config_set(&cfg.devices, dev, NULL);
    const char *on = "{\"action\":\"device_control\",\"thought\":\"x\",\"arguments\":"
                     "{\"action\":\"on\",\"device\":\"the lamps\"}}";
    const char *bad = "{\"action\":\"device_control\",\"thought\":\"x\",\"arguments\":"
                      "{\"action\":\"on\",\"device\":\"oven\"}}";
    const char *done = "{\"action\":\"final_answer\",\"thought\":\"x\",\"answer\":\"The lamp "
                       "is on.\",\"citations\":[]}";
    const char *outs[] = {on, bad, done};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 3, &a, &be));
    CHECK_OK(cove_agent_run(a, "Turn on the lamp.", NULL, on_step, &v, &res, NULL));
    CHECK(!v.is_error[0] && strstr(v.obs[0], "lamp (light): on"));
    CHECK(v.is_error[1] && strstr(v.obs[1], "no device named 'oven'"));
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_decompose_subgoals)
{
    struct cove_agent_config cfg;
    base_config(&cfg, "l8");
    cfg.decompose = 1;
    const char *outs[] = {
        "{\"subgoals\":[\"compute 2+2\",\"compute 3*3\"]}",
        "{\"thought\":\"a\",\"action\":\"calculator\",\"arguments\":{\"expression\":\"2+2\"}}",
        "{\"thought\":\"b\",\"action\":\"final_answer\",\"answer\":\"4\",\"citations\":[]}",
        "{\"thought\":\"c\",\"action\":\"calculator\",\"arguments\":{\"expression\":\"3*3\"}}",
        "{\"thought\":\"d\",\"action\":\"final_answer\",\"answer\":\"4 and 9\",\"citations\":[]}"};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct seen v = {0};
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, outs, 5, &a, &be));
    CHECK_OK(cove_agent_run(a, "compute 2+2 and then 3*3", NULL, on_step, &v, &res, NULL));
    CHECK_STR_EQ(v.action[0], "decompose");
    CHECK_STR_EQ(res.answer, "4 and 9");
    CHECK_EQ_INT(v.n, 5); /* decompose, calc, sub-goal answer, calc, final */
    CHECK_EQ_INT(v.subgoal[1], 0);
    CHECK(strstr(v.obs[2], "sub-goal 1 is done (4)"));
    CHECK_EQ_INT(v.subgoal[3], 1);
    CHECK_EQ_INT(v.subgoal[4], 1);
    const char *p2 = cove_agent_scripted_prompt(be, 1), *p4 = cove_agent_scripted_prompt(be, 3);
    CHECK(strstr(p2, "Sub-goals, in order:\n1. compute 2+2\n2. compute 3*3"));
    CHECK(strstr(p4, "Now work on sub-goal 2: compute 3*3"));
    CHECK(strstr(cove_agent_scripted_grammar(be, 0), "subgoals"));
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(loop_resume_session)
{
    struct cove_agent_config cfg;
    char db[4096];
    base_config(&cfg, "l9");
    snprintf(db, sizeof db, "%s/sessions.db", at_dir("l9"));
    cove_agent_config_set(&cfg.sessions, db, NULL);
    const char *run1[] = {
        "{\"thought\":\"x\",\"action\":\"write_note\",\"arguments\":{\"text\":\"likes tea\"}}",
        "{\"thought\":\"x\",\"action\":\"final_answer\",\"answer\":\"The code word is pelican.\","
        "\"citations\":[]}"};
    const char *run2[] = {"{\"thought\":\"x\",\"action\":\"final_answer\",\"answer\":\"pelican\","
                          "\"citations\":[]}"};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct cove_agent_response res;
    CHECK_OK(make_agent(&cfg, run1, 2, &a, &be));
    CHECK_OK(cove_agent_run(a, "Remember: the code word is pelican.", "s-1", NULL, NULL, &res,
                            NULL));
    CHECK_STR_EQ(res.session_id, "s-1");
    cove_agent_response_release(&res);
    cove_agent_free(a); /* a restart: a new agent on the same store */
    CHECK_OK(make_agent(&cfg, run2, 1, &a, &be));
    CHECK_OK(cove_agent_run(a, "What is the code word?", "s-1", NULL, NULL, &res, NULL));
    const char *p = cove_agent_scripted_prompt(be, 0);
    CHECK(strstr(p, "User: Remember: the code word is pelican."));
    CHECK(strstr(p, "Agent: The code word is pelican."));
    CHECK(strstr(p, "Note: likes tea"));
    cove_agent_response_release(&res);
    /* a new session does not see it */
    cove_agent_free(a);
    CHECK_OK(make_agent(&cfg, run2, 1, &a, &be));
    CHECK_OK(cove_agent_run(a, "What is the code word?", NULL, NULL, NULL, &res, NULL));
    CHECK(!strstr(cove_agent_scripted_prompt(be, 0), "pelican"));
    CHECK_EQ_INT(strlen(res.session_id), 16);
    cove_agent_response_release(&res);
    cove_agent_free(a);
    cove_agent_config_release(&cfg);
}

TEST(memory_summarises_old_turns)
{
    char db[4096], sid[COVE_AGENT_MAX_SESSION_ID + 1];
    snprintf(db, sizeof db, "%s/sum.db", at_dir("mem"));
    cove_agent_memory *m = NULL;
    CHECK_OK(cove_agent_memory_open(db, &m, NULL));
    CHECK_OK(cove_agent_memory_session(m, "long", sid, NULL, NULL));
    char text[300];
    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "Question number %d is about topic %d. It has more words "
                 "after the first sentence that the summary drops.", i, i);
        CHECK_OK(cove_agent_memory_add_turn(m, sid, i % 2 ? "assistant" : "user", text, NULL));
    }
    struct cove_buf h;
    cove_buf_init(&h, 1 << 20);
    CHECK_OK(cove_agent_memory_history(m, sid, 500, &h, NULL));
    CHECK(strstr(h.data, "Summary of earlier turns:\n- asked: Question number 0 is about topic "
                 "0.\n  answered: Question number 1"));
    CHECK(strstr(h.data, "Question number 19 is about topic 19. It has more words"));
    CHECK(!strstr(h.data, "Question number 0 is about topic 0. It has"));
    /* the summary is stored: the same history next time */
    struct cove_buf h2;
    cove_buf_init(&h2, 1 << 20);
    CHECK_OK(cove_agent_memory_history(m, sid, 500, &h2, NULL));
    CHECK_STR_EQ(h.data, h2.data);
    cove_buf_release(&h);
    cove_buf_release(&h2);
    char bad[COVE_AGENT_MAX_SESSION_ID + 1];
    CHECK(cove_agent_memory_session(m, "../etc", bad, NULL, NULL) == COVE_ERR_INVALID_ARG);
    cove_agent_memory_free(m);
}

static int count_kind(const struct cove_audit_record *rec, void *user)
{
    int *counts = user;
    enum cove_audit_kind k;
    if (cove_audit_kind_parse(rec->kind, &k) == COVE_OK)
        counts[k]++;
    return 0;
}

TEST(loop_audit_log)
{
    struct cove_agent_config cfg;
    char path[4096];
    base_config(&cfg, "l10");
    snprintf(path, sizeof path, "%s/audit.log", at_dir("l10"));
    const char *outs[] = {READ_A, FINAL_A};
    cove_agent *a = NULL;
    cove_agent_backend *be = NULL;
    struct cove_agent_response res;
    struct cove_audit_params ap = cove_audit_default_params();
    ap.path = path;
    cove_audit_log *log = NULL;
    CHECK_OK(cove_audit_create(&ap, &log, NULL));
    CHECK_OK(make_agent(&cfg, outs, 2, &a, &be));
    cove_agent_set_audit(a, log);
    CHECK_OK(cove_agent_run(a, "contract?", NULL, NULL, NULL, &res, NULL));
    cove_agent_response_release(&res);
    cove_agent_free(a);
    CHECK_OK(cove_audit_close(log, NULL));
    int counts[COVE_AUDIT_KIND_COUNT] = {0};
    CHECK_OK(cove_audit_read(path, count_kind, counts, NULL));
    CHECK_EQ_INT(counts[COVE_AUDIT_PROMPT], 1);
    CHECK_EQ_INT(counts[COVE_AUDIT_MODEL_OUTPUT], 2);
    CHECK_EQ_INT(counts[COVE_AUDIT_TOOL_CALL], 1);
    CHECK_EQ_INT(counts[COVE_AUDIT_TOOL_RESULT], 1);
    CHECK_EQ_INT(counts[COVE_AUDIT_FINAL_ANSWER], 1);
    cove_agent_config_release(&cfg);
}

TEST(config_load)
{
    const char *dir = at_dir("cfg");
    at_write(dir, "agent.json", "{\"name\":\"clinic\",\"model\":\"m.gguf\",\"tools\":"
             "[\"kb_search\",\"calculator\"],\"roots\":[\"notes\"],\"kb\":\"/abs/kb.db\","
             "\"budgets\":{\"kb_search\":3},\"max_steps\":5,\"tool_first\":true,"
             "\"temperature\":0.2,\"system_prompt\":\"Be brief.\"}");
    at_write(dir, "bad.json", "{\"name\":\"x\",\"colour\":\"blue\"}");
    at_write(dir, "badtype.json", "{\"max_steps\":\"many\"}");
    char p[4096], expect[4096];
    struct cove_agent_config cfg;
    cove_agent_config_init(&cfg);
    snprintf(p, sizeof p, "%s/agent.json", dir);
    CHECK_OK(cove_agent_config_load(&cfg, p, NULL));
    CHECK_STR_EQ(cfg.name, "clinic");
    snprintf(expect, sizeof expect, "%s/m.gguf", dir);
    CHECK_STR_EQ(cfg.model, expect);
    CHECK_STR_EQ(cfg.kb, "/abs/kb.db");
    CHECK_EQ_INT(cfg.n_tools, 2);
    CHECK_EQ_INT(cfg.n_roots, 1);
    CHECK_EQ_INT(cfg.budgets[0].max_calls, 3);
    CHECK_EQ_INT(cfg.max_steps, 5);
    CHECK(cfg.tool_first && cfg.temperature > 0.19f && cfg.temperature < 0.21f);
    cove_agent_config_release(&cfg);
    cove_error err = {0};
    cove_agent_config_init(&cfg);
    snprintf(p, sizeof p, "%s/bad.json", dir);
    CHECK(cove_agent_config_load(&cfg, p, &err) == COVE_ERR_FORMAT);
    CHECK(strstr(err.msg, "colour"));
    snprintf(p, sizeof p, "%s/badtype.json", dir);
    CHECK(cove_agent_config_load(&cfg, p, &err) == COVE_ERR_FORMAT);
    CHECK(strstr(err.msg, "max_steps"));
    cove_agent_config_release(&cfg);
}
