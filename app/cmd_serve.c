/*
 * app/cmd_serve.c - `cove serve`: the HTTP server (llama.cpp- and OpenAI-compatible API).
 *
 * The listening address goes to stderr once the server answers ("cove serve: listening on
 * http://127.0.0.1:8080"), so a script that asked for --port 0 can read the port chosen.
 * SIGTERM or SIGINT stops accepting connections, lets running requests finish (at most
 * --drain-timeout seconds), closes the audit log (closing checkpoint), and exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "audit/audit.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "catalogue.h"
#include "cli.h"
#include "server/server.h"

#define CMD "serve"
#define DEFAULT_PORT 8080
#define DEFAULT_DRAIN_S 60

typedef struct serve_opts {
    cove_server_params p;
    long drain_s;
    const char *audit_path;
    const char *agent_names[COVE_SERVER_MAX_AGENTS];
    const char *agent_configs[COVE_SERVER_MAX_AGENTS];
    char agent_name_buf[COVE_SERVER_MAX_AGENTS][128];
    const char *roots[COVE_AGENT_MAX_ROOTS];
} serve_opts;

static void usage(void)
{
    printf("usage: cove serve [-m MODEL] [--embed-model M] [--host H] [--port P]\n"
           "                  [--api-key-file F] [--parallel N] [--ctx N] [-t THREADS]\n"
           "                  [--queue N] [--tenant-limit N] [--max-tokens N]\n"
           "                  [--no-prefix-cache] [--drain-timeout S] [--audit FILE]\n"
           "                  [--accept-weak-sandbox] [--require-signed KEYS]\n"
           "                  [--agent NAME=CONFIG.json]... [--kb DB] [--root DIR]...\n\n"
           "Serves a model over HTTP: POST /completion (llama.cpp), POST /v1/completions,\n"
           "/v1/chat/completions and /v1/embeddings (OpenAI), GET /v1/models, /health and\n"
           "/metrics (Prometheus), POST /agent (agent runs). See docs/http/.\n\n"
           "  -m MODEL           GGUF model; default: the catalogue's default instruct model\n"
           "  --embed-model M    GGUF embedding model (bert) for /v1/embeddings\n"
           "  --host H           address to listen on (default 127.0.0.1); without\n"
           "                     --api-key-file only loopback addresses are allowed\n"
           "  --port P           TCP port (default %d; 0: any free port, printed on stderr)\n"
           "  --api-key-file F   one 'KEY TENANT' pair per line; requests then need\n"
           "                     'Authorization: Bearer KEY' (401 otherwise)\n"
           "  --parallel N       requests decoded at once (default 4)\n"
           "  --ctx N            context of each of those, in tokens (default: the model's,\n"
           "                     at most 4096); a longer prompt is refused with 400\n"
           "  -t THREADS         threads of a forward step (default: all cores)\n"
           "  --queue N          requests that may wait for a slot (default 64; 503 beyond)\n"
           "  --tenant-limit N   requests one tenant may run at once (default %d; 429 beyond)\n"
           "  --max-tokens N     most tokens one request may generate (default %d)\n"
           "  --no-prefix-cache  compute every prompt in full\n"
           "  --accept-weak-sandbox  agents' file tools and plugins run even where the\n"
           "                  kernel has no Landlock (file access then not confined)\n"
           "  --require-signed KEYS  load only models whose manifest a trusted key signed\n"
           "  --drain-timeout S  seconds SIGTERM waits for running requests (default %d)\n"
           "  --audit FILE       append every request, output, tool call and agent run to\n"
           "                     this audit log (default: $COVE_AUDIT_LOG; key:\n"
           "                     $COVE_AUDIT_KEY); closed with a checkpoint on SIGTERM\n"
           "  --agent NAME=CFG   an agent config for POST /agent (repeatable; the first is\n"
           "                     the default); none: one agent on the served model\n"
           "  --kb DB            knowledge base of that built-in default agent\n"
           "  --root DIR         directory its read_file/list_files may read (repeatable)\n\n"
           "Exit status: 0 after SIGTERM/SIGINT, 1 error (model, address in use), 2 bad usage.\n",
           DEFAULT_PORT, COVE_SERVER_TENANT_CONCURRENT, COVE_SERVER_MAX_TOKENS, DEFAULT_DRAIN_S);
}

/* --agent NAME=CONFIG; 0, or an exit code. */
static int add_agent(serve_opts *o, const char *val)
{
    const char *eq = strchr(val, '=');
    size_t n = o->p.n_agents;
    if (!eq || eq == val || !eq[1] || (size_t)(eq - val) >= sizeof o->agent_name_buf[0])
        return cli_usage_error(CMD, "--agent needs NAME=CONFIG.json, not '%s'", val);
    if (n >= COVE_SERVER_MAX_AGENTS)
        return cli_usage_error(CMD, "at most %d --agent", COVE_SERVER_MAX_AGENTS);
    memcpy(o->agent_name_buf[n], val, (size_t)(eq - val));
    o->agent_name_buf[n][eq - val] = '\0';
    o->agent_names[n] = o->agent_name_buf[n];
    o->agent_configs[n] = eq + 1;
    o->p.n_agents = n + 1;
    return 0;
}

/* One option with a value; 0, or an exit code. */
static int parse_value(serve_opts *o, const char *opt, const char *val)
{
    long l = 0;
    int ok = 1;
    if (strcmp(opt, "-m") == 0)
        o->p.model_path = val;
    else if (strcmp(opt, "--embed-model") == 0)
        o->p.embed_model_path = val;
    else if (strcmp(opt, "--host") == 0)
        o->p.host = val;
    else if (strcmp(opt, "--api-key-file") == 0)
        o->p.api_key_file = val;
    else if (strcmp(opt, "--port") == 0 && (ok = cli_parse_long(val, 0, 65535, &l) == 0))
        o->p.port = (int)l;
    else if (strcmp(opt, "--parallel") == 0 && (ok = cli_parse_long(val, 1, COVE_MAX_SEQ, &l) == 0))
        o->p.n_parallel = (int32_t)l;
    else if (strcmp(opt, "--ctx") == 0 && (ok = cli_parse_long(val, 16, COVE_MAX_CTX, &l) == 0))
        o->p.n_ctx = (int32_t)l;
    else if (strcmp(opt, "-t") == 0 && (ok = cli_parse_long(val, 1, COVE_MAX_THREADS, &l) == 0))
        o->p.n_threads = (int32_t)l;
    else if (strcmp(opt, "--queue") == 0 && (ok = cli_parse_long(val, 0, 65536, &l) == 0))
        o->p.n_queue_max = (int32_t)l;
    else if (strcmp(opt, "--tenant-limit") == 0 && (ok = cli_parse_long(val, 1, 65536, &l) == 0))
        o->p.tenant_max_concurrent = (int32_t)l;
    else if (strcmp(opt, "--max-tokens") == 0 &&
             (ok = cli_parse_long(val, 1, COVE_SERVER_MAX_TOKENS, &l) == 0))
        o->p.max_tokens = (int32_t)l;
    else if (strcmp(opt, "--audit") == 0)
        o->audit_path = val;
    else if (strcmp(opt, "--agent") == 0)
        return add_agent(o, val);
    else if (strcmp(opt, "--kb") == 0)
        o->p.agent_kb = val;
    else if (strcmp(opt, "--root") == 0) {
        if (o->p.n_agent_roots >= COVE_AGENT_MAX_ROOTS)
            return cli_usage_error(CMD, "at most %d --root", COVE_AGENT_MAX_ROOTS);
        o->roots[o->p.n_agent_roots++] = val;
    } else if (strcmp(opt, "--drain-timeout") == 0)
        ok = cli_parse_long(val, 0, 86400, &o->drain_s) == 0;
    else if (ok)
        return cli_usage_error(CMD, "unknown option '%s'", opt);
    return ok ? 0 : cli_usage_error(CMD, "bad value '%s' for %s", val, opt);
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(serve_opts *o, int argc, char **argv)
{
    o->p = cove_server_default_params();
    o->p.port = DEFAULT_PORT;
    o->drain_s = DEFAULT_DRAIN_S;
    o->audit_path = NULL;
    o->p.agent_names = o->agent_names;
    o->p.agent_configs = o->agent_configs;
    o->p.agent_roots = o->roots;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage();
            return COVE_EXIT_OK;
        }
        if (strcmp(a, "--accept-weak-sandbox") == 0) {
            o->p.agent_accept_weak_sandbox = 1;
            continue;
        }
        if (strcmp(a, "--no-prefix-cache") == 0) {
            o->p.prefix_cache = 0;
            continue;
        }
        if (a[0] != '-')
            return cli_usage_error(CMD, "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "%s needs a value (or is unknown)", a);
        int rc = parse_value(o, a, argv[++i]);
        if (rc)
            return rc;
    }
    return -1;
}

/* Serve until SIGTERM or SIGINT, then drain. The signals are blocked in every thread and
 * taken here with sigwait, so no handler runs inside the server's threads. */
static int serve(serve_opts *o)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    cove_server *s = NULL;
    cove_error err = {0};
    cove_audit_log *audit = NULL;
    if (cove_audit_create_from_env(o->audit_path, NULL, &audit, &err) != COVE_OK)
        return cli_fail(CMD, "audit log: %s", cove_error_msg(&err));
    o->p.audit = audit;
    if (cove_server_create(&o->p, &s, &err) != COVE_OK) {
        cove_audit_free(audit);
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    }
    fprintf(stderr, "cove serve: listening on http://%s%s%s:%d (model %s)\n",
            strchr(o->p.host, ':') ? "[" : "", o->p.host, strchr(o->p.host, ':') ? "]" : "",
            cove_server_port(s), cove_server_model_id(s));
    fflush(stderr);
    int sig = 0;
    sigdelset(&set, SIGPIPE);
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "cove serve: %s: finishing running requests\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    cove_status st = cove_server_drain(s, (int)(o->drain_s * 1000));
    if (st != COVE_OK)
        fprintf(stderr, "cove serve: requests still running after %lds were cancelled\n",
                o->drain_s);
    cove_server_free(s);
    if (cove_audit_close(audit, &err) != COVE_OK)
        fprintf(stderr, "cove serve: audit log: %s\n", cove_error_msg(&err));
    fprintf(stderr, "cove serve: stopped\n");
    return COVE_EXIT_OK;
}

/* --require-signed: the model, the embedder and every agent's models must be signed (each
 * distinct file hashed once, the keys loaded once). */
static int check_models(const serve_opts *o)
{
    struct cove_agent_config *cfg = cove_calloc(o->p.n_agents + 1, sizeof *cfg);
    const char *paths[2 + 2 * COVE_SERVER_MAX_AGENTS] = {o->p.model_path, o->p.embed_model_path};
    size_t n = 2, loaded = 0;
    int rc = cfg ? COVE_EXIT_OK : cli_fail(CMD, "out of memory");
    for (; rc == COVE_EXIT_OK && loaded < o->p.n_agents; loaded++) {
        cove_error err = {0};
        cove_agent_config_init(&cfg[loaded]);
        if (cove_agent_config_load(&cfg[loaded], o->agent_configs[loaded], &err) != COVE_OK)
            rc = cli_fail(CMD, "%s", cove_error_msg(&err));
        paths[n++] = cfg[loaded].remote_url ? NULL : cfg[loaded].model;
        paths[n++] = cfg[loaded].embed_model;
    }
    if (rc == COVE_EXIT_OK)
        rc = cove_cli_check_signed_list(CMD, paths, n);
    for (size_t i = 0; i < loaded; i++)
        cove_agent_config_release(&cfg[i]);
    cove_free(cfg);
    return rc;
}

int cove_cmd_serve(int argc, char **argv)
{
    serve_opts o;
    char path[COVE_MAX_PATH], name[128];
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    if (!o.p.model_path) {
        cove_error err = {0};
        if (cove_catalogue_default_model("instruct", name, sizeof name, &err) != COVE_OK ||
            cove_catalogue_model_path(name, path, sizeof path, &err) != COVE_OK)
            return cli_fail(CMD, "%s", cove_error_msg(&err));
        o.p.model_path = path;
    }
    if ((rc = check_models(&o)) != COVE_EXIT_OK)
        return rc;
    cove_cli_log_sandbox(o.p.agent_accept_weak_sandbox);
    return serve(&o);
}
