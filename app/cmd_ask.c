/*
 * app/cmd_ask.c - `cove ask`: one request to an agent; the answer with its sources.
 *
 * The agent comes from --agent CONFIG (docs/agents.md), with the command-line options
 * laid over it. Without --trace the answer is printed, then its citations, one per line;
 * with --trace stdout carries one JSON object per step instead, the last one the final
 * answer. The session id goes to stderr ("session: ID") so a later --session ID resumes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "agent/agent.h"
#include "audit/audit.h"
#include "base/limits.h"
#include "catalogue.h"
#include "cli.h"

#define CMD "ask"

typedef struct ask_opts {
    const char *model, *kb, *session, *audit, *agent, *request, *sessions, *devices, *embed;
    const char *remote, *key;
    const char *roots[COVE_AGENT_MAX_ROOTS];
    const char *plugins[COVE_AGENT_MAX_PLUGINS], *trust;
    int n_roots, n_plugins, trace, accept_weak;
    long max_steps;
} ask_opts;

static void usage(void)
{
    printf("usage: cove ask [-m MODEL] [--kb DB] [--root DIR]... [--session ID] [--trace]\n"
           "                [--audit FILE] [--agent CONFIG] [--plugin MANIFEST]... [--trust KEYS]\n"
           "                [--accept-weak-sandbox] [--require-signed KEYS] REQUEST\n\n"
           "Answers REQUEST with an agent that plans, calls tools (knowledge base, files,\n"
           "calculator, clock, notes, devices) and answers with citations.\n\n"
           "  -m MODEL         GGUF model (default: the agent config's, else the catalogue's\n"
           "                   default instruct model)\n"
           "  --kb DB          knowledge base for kb_search\n"
           "  --embed MODEL    embedding model of the knowledge base (default: the\n"
           "                   catalogue's default embedder when it is in the cache)\n"
           "  --root DIR       a directory read_file / list_files may read (repeatable)\n"
           "  --devices DB     device table for device_control\n"
           "  --session ID     resume (or start) this session\n"
           "  --sessions DB    session store (default $COVE_AGENT_SESSIONS, else\n"
           "                   ~/.local/share/cove/sessions.db)\n"
           "  --max-steps N    step budget (default 8)\n"
           "  --remote URL     use an OpenAI-compatible server instead of a local model\n"
           "  --key KEY        its API key (default $COVE_REMOTE_KEY)\n"
           "  --trace          print each step as one JSON object per line\n"
           "  --audit FILE     log prompts, plans, tool calls and answers to this audit log\n"
           "  --agent CONFIG   agent definition (JSON; see docs/agents.md)\n"
           "  --plugin MANIFEST  add a signed plugin's tool (repeatable; docs/plugins.md)\n"
           "  --trust KEYS     keys that may sign plugins (file or directory of *.pub)\n"
           "  --accept-weak-sandbox  run file tools and plugins even where the kernel has\n"
           "                   no Landlock (file access then not confined)\n"
           "  --require-signed KEYS  load only models whose manifest a trusted key signed\n\n"
           "Exit status: 0 answered, 1 error, 2 bad usage.\n");
}

static int set_opt(ask_opts *o, const char *a, const char *v)
{
    static const char *const names[] = {"-m", "--kb", "--session", "--audit", "--agent",
                                        "--sessions", "--devices", "--embed", "--remote", "--key",
                                        "--trust"};
    const char **fields[] = {&o->model, &o->kb, &o->session, &o->audit, &o->agent,
                             &o->sessions, &o->devices, &o->embed, &o->remote, &o->key,
                             &o->trust};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(a, names[k]) == 0) {
            *fields[k] = v;
            return 0;
        }
    if (strcmp(a, "--root") == 0) {
        if (o->n_roots >= COVE_AGENT_MAX_ROOTS)
            return cli_usage_error(CMD, "at most %d --root", COVE_AGENT_MAX_ROOTS);
        o->roots[o->n_roots++] = v;
        return 0;
    }
    if (strcmp(a, "--plugin") == 0) {
        if (o->n_plugins >= COVE_AGENT_MAX_PLUGINS)
            return cli_usage_error(CMD, "at most %d --plugin", COVE_AGENT_MAX_PLUGINS);
        o->plugins[o->n_plugins++] = v;
        return 0;
    }
    if (strcmp(a, "--max-steps") == 0)
        return cli_parse_long(v, 1, COVE_AGENT_MAX_STEPS, &o->max_steps) == 0
                   ? 0 : cli_usage_error(CMD, "--max-steps: 1 to %d", COVE_AGENT_MAX_STEPS);
    return cli_usage_error(CMD, "unknown option '%s'", a);
}

static int parse_args(ask_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage();
            return COVE_EXIT_OK;
        }
        if (strcmp(a, "--trace") == 0) {
            o->trace = 1;
        } else if (strcmp(a, "--accept-weak-sandbox") == 0) {
            o->accept_weak = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            if (i + 1 >= argc)
                return cli_usage_error(CMD, "%s needs a value", a);
            int rc = set_opt(o, a, argv[++i]);
            if (rc)
                return rc;
        } else if (!o->request) {
            o->request = a;
        } else {
            return cli_usage_error(CMD, "one REQUEST only (quote it)");
        }
    }
    if (!o->request)
        return cli_usage_error(CMD, "expected a REQUEST");
    return -1;
}

/* A default model of the catalogue, when it is in the cache; "" when not. */
static void default_model(const char *purpose, char *path, size_t n)
{
    char name[128];
    cove_error err = {0};
    path[0] = '\0';
    if (cove_catalogue_default_model(purpose, name, sizeof name, &err) != COVE_OK ||
        cove_catalogue_model_path(name, path, n, &err) != COVE_OK)
        path[0] = '\0';
}

static void default_sessions(char *path, size_t n)
{
    const char *env = getenv("COVE_AGENT_SESSIONS"), *home = getenv("HOME");
    if (env && *env) {
        snprintf(path, n, "%s", env);
        return;
    }
    char dir[COVE_MAX_PATH];
    snprintf(dir, sizeof dir, "%s/.local", home ? home : ".");
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/.local/share", home ? home : ".");
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/.local/share/cove", home ? home : ".");
    mkdir(dir, 0700);
    if ((size_t)snprintf(path, n, "%.*s/sessions.db", (int)(n > 16 ? n - 16 : 0), dir) >= n)
        path[0] = '\0';
}

/* The config: the file, then the options over it. */
static int build_config(struct cove_agent_config *cfg, const ask_opts *o)
{
    cove_error err = {0};
    char path[COVE_MAX_PATH];
    cove_status st = o->agent ? cove_agent_config_load(cfg, o->agent, &err) : COVE_OK;
    const char *pairs[][2] = {{o->model, "m"}, {o->kb, "k"}, {o->devices, "d"},
                              {o->sessions, "s"}, {o->embed, "e"}, {o->remote, "r"}};
    char **fields[] = {&cfg->model, &cfg->kb, &cfg->devices, &cfg->sessions, &cfg->embed_model,
                       &cfg->remote_url};
    for (size_t i = 0; st == COVE_OK && i < 6; i++)
        if (pairs[i][0])
            st = cove_agent_config_set(fields[i], pairs[i][0], &err);
    for (int i = 0; st == COVE_OK && i < o->n_roots; i++)
        st = cove_agent_config_add_root(cfg, o->roots[i], &err);
    for (int i = 0; st == COVE_OK && i < o->n_plugins; i++)
        st = cove_agent_config_add_plugin(cfg, o->plugins[i], &err);
    if (st == COVE_OK && o->trust)
        st = cove_agent_config_set(&cfg->trusted_keys, o->trust, &err);
    const char *key = o->key ? o->key : getenv("COVE_REMOTE_KEY");
    if (st == COVE_OK && key && cfg->remote_url)
        st = cove_agent_config_set(&cfg->remote_key, key, &err);
    if (st == COVE_OK && !cfg->model && !cfg->remote_url) {
        default_model("instruct", path, sizeof path);
        if (!path[0])
            return cli_fail(CMD, "no model: give -m MODEL or fetch the default instruct model "
                                 "(cove pull, see cove models)");
        st = cove_agent_config_set(&cfg->model, path, &err);
    }
    if (st == COVE_OK && cfg->kb && !cfg->embed_model) {
        default_model("embedding", path, sizeof path);
        if (path[0])
            st = cove_agent_config_set(&cfg->embed_model, path, &err);
    }
    if (st == COVE_OK && !cfg->sessions) {
        default_sessions(path, sizeof path);
        st = cove_agent_config_set(&cfg->sessions, path, &err);
    }
    if (o->max_steps)
        cfg->max_steps = (int32_t)o->max_steps;
    if (st != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    if (o->accept_weak)
        cfg->accept_weak_sandbox = 1;
    cove_cli_log_sandbox(cfg->accept_weak_sandbox);
    const char *models[2] = {cfg->remote_url ? NULL : cfg->model, cfg->embed_model};
    return cove_cli_check_signed_list(CMD, models, 2) != COVE_EXIT_OK ? COVE_EXIT_ERROR : 0;
}

/* --trace: one JSON object per step. */
static int trace_step(void *user, const struct cove_agent_step *s)
{
    (void)user;
    json_t *args = json_loads(s->arguments ? s->arguments : "{}", 0, NULL);
    json_t *o = json_pack("{s:i, s:s, s:s, s:o}", "step", (int)s->step, "thought",
                          s->thought ? s->thought : "", "action", s->action,
                          "arguments", args ? args : json_object());
    if (!o)
        return 0;
    if (s->observation) {
        json_object_set_new(o, "observation", json_string(s->observation));
        json_object_set_new(o, "is_error", json_boolean(s->is_error));
    }
    if (s->answer) {
        json_t *c = json_array();
        for (size_t i = 0; i < s->n_citations; i++)
            json_array_append_new(c, json_string(s->citations[i]));
        json_object_set_new(o, "answer", json_string(s->answer));
        json_object_set_new(o, "citations", c);
        json_object_set_new(o, "grounded", json_boolean(s->grounded));
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (line)
        printf("%s\n", line);
    fflush(stdout);
    free(line);
    json_decref(o);
    return 0;
}

static void print_answer(const struct cove_agent_response *r)
{
    printf("%s\n", r->answer);
    if (r->n_citations)
        printf("\nSources:\n");
    for (size_t i = 0; i < r->n_citations; i++)
        printf("  [%zu] %s\n", i + 1, r->citations[i]);
}

int cove_cmd_ask(int argc, char **argv)
{
    ask_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    struct cove_agent_config cfg;
    cove_agent_config_init(&cfg);
    rc = build_config(&cfg, &o);
    cove_error err = {0};
    cove_agent *a = NULL;
    cove_audit_log *log = NULL;
    struct cove_agent_response res = {0};
    if (rc == 0 && (cove_audit_create_from_env(o.audit, NULL, &log, &err) != COVE_OK ||
                    cove_agent_create(&cfg, NULL, &a, &err) != COVE_OK))
        rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    if (rc == 0) {
        cove_agent_set_audit(a, log);
        if (cove_agent_run(a, o.request, o.session, o.trace ? trace_step : NULL, NULL, &res,
                           &err) != COVE_OK)
            rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    }
    if (rc == 0) {
        if (!o.trace)
            print_answer(&res);
        fprintf(stderr, "session: %s\n", res.session_id);
        if (res.stop == COVE_AGENT_STOP_MAX_STEPS)
            fprintf(stderr, "cove ask: the step budget ran out\n");
        if (res.stop == COVE_AGENT_STOP_ASK_USER)
            fprintf(stderr, "cove ask: the agent asks a question; answer it with --session %s\n",
                    res.session_id);
        if (!res.grounded)
            fprintf(stderr, "cove ask: the answer is not grounded in what the tools returned\n");
    }
    cove_agent_response_release(&res);
    cove_agent_free(a);
    if (log && cove_audit_close(log, &err) != COVE_OK && rc == 0)
        rc = cli_fail(CMD, "audit: %s", cove_error_msg(&err));
    cove_agent_config_release(&cfg);
    return rc;
}
