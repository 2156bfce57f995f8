/*
 * app/cmd_tool.c - `cove tool`: run one agent tool exactly as an agent would.
 *
 * The call goes through the same registry call as the agent loop: the arguments are
 * validated against the tool's schema first, the tool's limits apply, file tools see only
 * the --root directories through the sandbox's beneath-open. The observation the model
 * would see is printed on stdout; a failed call exits 1 (its observation still printed).
 */
#include <stdio.h>
#include <string.h>

#include "agent/memory.h"
#include "agent/registry.h"
#include "agent/tools/tools.h"
#include "audit/audit.h"
#include "cli.h"
#include "cove/engine.h"
#include "kb/kb.h"

#define CMD "tool"

typedef struct tool_opts {
    const char *name, *args, *kb, *embed, *devices, *sessions, *session, *audit;
    const char *trust;
    const char *roots[COVE_AGENT_MAX_ROOTS];
    const char *plugins[COVE_AGENT_MAX_PLUGINS];
    int n_roots, n_plugins, list, accept_weak;
} tool_opts;

static void usage(void)
{
    printf("usage: cove tool NAME JSON_ARGS [--root DIR]... [--kb DB] [--embed MODEL]\n"
           "                 [--devices DB] [--sessions DB --session ID] [--audit FILE]\n"
           "                 [--plugin MANIFEST... --trust KEYS] [--accept-weak-sandbox]\n"
           "       cove tool --list [--plugin MANIFEST... --trust KEYS]\n\n"
           "Runs one agent tool exactly as an agent does (argument validation against the\n"
           "tool's schema, its limits, the sandboxed file access) and prints the observation\n"
           "the model would see.\n\n"
           "  --root DIR      a directory read_file and list_files may read (repeatable)\n"
           "  --kb DB         the knowledge base of kb_search\n"
           "  --embed MODEL   embedding model for hybrid kb_search (default: keyword search)\n"
           "  --devices DB    the device table of device_control (SQLite)\n"
           "  --sessions DB   session store of write_note, with --session ID\n"
           "  --audit FILE    append the call and its result to this audit log\n"
           "  --plugin MANIFEST  add the tool of a signed plugin (repeatable; docs/plugins.md)\n"
           "  --trust KEYS    key file or directory of *.pub files that may sign plugins\n"
           "  --accept-weak-sandbox  run file tools and plugins even where the kernel has no\n"
           "                  Landlock (their file access is then not confined)\n"
           "  --list          list the tools with their schemas\n\n"
           "Exit status: 0 the call succeeded, 1 it failed (the observation says why),\n"
           "2 bad usage.\n");
}

static int parse_args(tool_opts *o, int argc, char **argv)
{
    static const char *const opts[] = {"--kb", "--embed", "--devices", "--sessions", "--session",
                                       "--audit", "--trust"};
    memset(o, 0, sizeof *o);
    const char **fields[] = {&o->kb, &o->embed, &o->devices, &o->sessions, &o->session,
                             &o->audit, &o->trust};
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage();
            return COVE_EXIT_OK;
        }
        if (strcmp(a, "--list") == 0) {
            o->list = 1;
            continue;
        }
        if (strcmp(a, "--accept-weak-sandbox") == 0) {
            o->accept_weak = 1;
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (pos == 0)
                o->name = a;
            else if (pos == 1)
                o->args = a;
            else
                return cli_usage_error(CMD, "unexpected argument '%s'", a);
            pos++;
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "%s needs a value", a);
        if (strcmp(a, "--root") == 0) {
            if (o->n_roots >= COVE_AGENT_MAX_ROOTS)
                return cli_usage_error(CMD, "at most %d --root", COVE_AGENT_MAX_ROOTS);
            o->roots[o->n_roots++] = argv[++i];
            continue;
        }
        if (strcmp(a, "--plugin") == 0) {
            if (o->n_plugins >= COVE_AGENT_MAX_PLUGINS)
                return cli_usage_error(CMD, "at most %d --plugin", COVE_AGENT_MAX_PLUGINS);
            o->plugins[o->n_plugins++] = argv[++i];
            continue;
        }
        size_t k = 0;
        while (k < sizeof opts / sizeof opts[0] && strcmp(a, opts[k]) != 0)
            k++;
        if (k == sizeof opts / sizeof opts[0])
            return cli_usage_error(CMD, "unknown option '%s'", a);
        *fields[k] = argv[++i];
    }
    if (!o->list && (!o->name || !o->args))
        return cli_usage_error(CMD, "expected a tool NAME and its JSON_ARGS");
    return -1;
}

static int list_tools(cove_agent_registry *reg)
{
    for (size_t i = 0; i < cove_agent_registry_count(reg); i++) {
        const struct cove_agent_tool_def *d = cove_agent_registry_get(reg, i);
        printf("%s (%s): %s\n  arguments: %s\n", d->name, cove_agent_effect_name(d->effect),
               d->description, d->schema);
    }
    return COVE_EXIT_OK;
}

/* Everything the call needs; released by tool_world_free. */
typedef struct tool_world {
    struct cove_agent_env env;
    cove_kb *kb;
    cove_model *emodel;
    cove_embedder *emb;
    cove_agent_memory *mem;
    cove_audit_log *audit;
    char sid[COVE_AGENT_MAX_SESSION_ID + 1];
} tool_world;

static void tool_world_free(tool_world *w)
{
    cove_agent_env_release(&w->env);
    cove_embedder_free(w->emb);
    cove_model_free(w->emodel);
    cove_kb_free(w->kb);
    cove_agent_memory_free(w->mem);
    cove_audit_free(w->audit);
}

static cove_status open_world(tool_world *w, const tool_opts *o, cove_error *err)
{
    cove_status st = COVE_OK;
    cove_agent_env_init(&w->env);
    for (int i = 0; st == COVE_OK && i < o->n_roots; i++)
        st = cove_agent_env_add_root(&w->env, o->roots[i], err);
    if (st == COVE_OK && o->kb) {
        cove_kb_params kp = cove_kb_default_params();
        kp.read_only = 1;
        st = cove_kb_open(o->kb, kp, &w->kb, err);
    }
    if (st == COVE_OK && o->embed)
        st = cove_cli_require_signed(CMD, &o->embed, 1, err);
    if (st == COVE_OK && o->embed) {
        st = cove_model_load(o->embed, cove_model_default_params(), &w->emodel, err);
        cove_embed_params ep = cove_embed_default_params();
        ep.truncate = 1;
        if (st == COVE_OK)
            st = cove_embedder_create(w->emodel, ep, &w->emb, err);
    }
    if (st == COVE_OK && o->sessions) {
        st = cove_agent_memory_open(o->sessions, &w->mem, err);
        if (st == COVE_OK)
            st = cove_agent_memory_session(w->mem, o->session, w->sid, NULL, err);
    }
    if (st == COVE_OK)
        st = cove_audit_create_from_env(o->audit, NULL, &w->audit, err);
    w->env.kb = w->kb;
    w->env.embedder = w->emb;
    w->env.memory = w->mem;
    w->env.session_id = w->mem ? w->sid : NULL;
    w->env.devices_path = o->devices;
    w->env.sandbox_accept_weak = o->accept_weak;
    return st;
}

static void audit_call(tool_world *w, const tool_opts *o, const struct cove_agent_obs *obs)
{
    if (!w->audit)
        return;
    const char *text = obs->text.data ? obs->text.data : "";
    char digest[COVE_AUDIT_HEX_LEN + 1];
    cove_audit_sha256_hex(text, strlen(text), digest);
    struct cove_audit_event call = {.kind = COVE_AUDIT_TOOL_CALL, .tool = o->name,
                                    .args = o->args};
    struct cove_audit_event res = {.kind = COVE_AUDIT_TOOL_RESULT, .tool = o->name,
                                   .result_digest = digest, .text = text,
                                   .status = obs->is_error ? -1 : 0, .has_status = true};
    cove_error e = {0};
    if (cove_audit_append(w->audit, &call, NULL, &e) != COVE_OK ||
        cove_audit_append(w->audit, &res, NULL, &e) != COVE_OK)
        fprintf(stderr, "cove tool: audit: %s\n", cove_error_msg(&e));
}

int cove_cmd_tool(int argc, char **argv)
{
    tool_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    cove_error err = {0};
    cove_cli_log_sandbox(o.accept_weak);
    cove_agent_registry *reg = NULL;
    cove_agent_plugins *plugins = NULL;
    if (cove_agent_registry_create(&reg, &err) != COVE_OK ||
        cove_agent_registry_add_builtins(reg, NULL, 0, &err) != COVE_OK ||
        (o.n_plugins > 0 &&
         cove_agent_plugins_load(o.plugins, (size_t)o.n_plugins, o.trust, NULL, &plugins,
                                 &err) != COVE_OK) ||
        cove_agent_plugins_register(plugins, reg, &err) != COVE_OK) {
        cove_agent_registry_free(reg);
        cove_agent_plugins_free(plugins);
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    }
    if (o.list) {
        rc = list_tools(reg);
        cove_agent_registry_free(reg);
        cove_agent_plugins_free(plugins);
        return rc;
    }
    tool_world w = {0};
    struct cove_agent_obs obs;
    cove_agent_obs_init(&obs);
    cove_status st = open_world(&w, &o, &err);
    if (st == COVE_OK)
        st = cove_agent_registry_invoke(reg, &w.env, o.name, o.args, NULL, &obs, &err);
    if (st == COVE_OK) {
        audit_call(&w, &o, &obs);
        printf("%s%s", obs.text.data ? obs.text.data : "",
               obs.text.len && obs.text.data[obs.text.len - 1] == '\n' ? "" : "\n");
        rc = obs.is_error ? COVE_EXIT_ERROR : COVE_EXIT_OK;
    } else {
        rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    }
    cove_agent_obs_release(&obs);
    tool_world_free(&w);
    cove_agent_registry_free(reg);
    cove_agent_plugins_free(plugins);
    return rc;
}
