/*
 * agent/tools/plugin.c - tools from signed plugins, run in the sandbox.
 *
 * Loading: each manifest is verified against the trusted keys (signature over its bytes,
 * SHA-256 of the plugin file: audit/sign.h), its permissions are checked (only
 * "read:NAME" and "read:*" can be granted), and a registry entry is made from its name,
 * description and schema. Calling: the file's hash is checked again, then the program
 * (or `cove plugin-host LIB` for a shared library) runs under cove_sandbox_exec with the
 * arguments on stdin. The interface for plugin authors: include/cove/plugin.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/tools/tools.h"
#include "audit/sign.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "sandbox/sandbox.h"

struct plugin {
    struct cove_audit_manifest m;   /* verified */
    char file[PATH_MAX];            /* the plugin file, resolved */
    int shared;                     /* a shared library: run through the host */
    struct cove_agent_tool_def def; /* strings borrowed from m */
    const struct cove_agent_plugins *set;
};

struct cove_agent_plugins {
    struct plugin p[COVE_AGENT_MAX_PLUGINS];
    size_t n;
    char host[PATH_MAX];            /* program that runs shared-library plugins */
};

static const char *const default_schema = "{\"type\":\"object\"}";

static cove_status plugin_run(struct cove_agent_env *env, const json_t *args,
                              struct cove_agent_obs *obs, cove_error *err);

void cove_agent_plugins_free(cove_agent_plugins *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++)
        cove_audit_manifest_release(&ps->p[i].m);
    cove_free(ps);
}

/* Only read access to the agent's roots can be granted. */
static cove_status check_permissions(const struct cove_audit_manifest *m, cove_error *err)
{
    for (size_t i = 0; i < m->n_permissions; i++) {
        const char *p = m->permissions[i];
        if (strncmp(p, "read:", 5) == 0 && p[5] && strlen(p + 5) < COVE_AGENT_MAX_ROOT_NAME)
            continue;
        return cove_error_set(err, COVE_ERR_PERMISSION, "plugin %s: permission \"%.64s\" cannot "
                              "be granted (only read:ROOT and read:*; never network or writes)",
                              m->name, p);
    }
    return COVE_OK;
}

static cove_status load_one(cove_agent_plugins *ps, const char *manifest,
                            const cove_audit_trust *trust, cove_error *err)
{
    struct plugin *pl = &ps->p[ps->n];
    memset(pl, 0, sizeof *pl);
    cove_status st = cove_audit_manifest_verify(manifest, NULL, trust, &pl->m, err);
    if (st != COVE_OK)
        return st;
    ps->n++; /* from here the manifest is released with the set */
    char dir[PATH_MAX], path[PATH_MAX * 2];
    cove_str_copy(dir, sizeof dir, manifest);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(path, sizeof path, "%s/%s", slash ? dir : ".", pl->m.file);
    if (pl->m.kind != COVE_AUDIT_MANIFEST_PLUGIN)
        return cove_error_set(err, COVE_ERR_PERMISSION, "%s: not a plugin manifest", manifest);
    if (pl->m.file[0] == '/' ? !realpath(pl->m.file, pl->file) : !realpath(path, pl->file))
        return cove_error_set(err, COVE_ERR_NOT_FOUND, "plugin %s: file %s not found",
                              pl->m.name, pl->m.file);
    if ((st = check_permissions(&pl->m, err)) != COVE_OK)
        return st;
    pl->shared = cove_str_ends_with(pl->file, ".so") || strstr(pl->file, ".so.") != NULL;
    if (!pl->shared && access(pl->file, X_OK) != 0)
        return cove_error_set(err, COVE_ERR_PERMISSION, "plugin %s: %s is not executable",
                              pl->m.name, pl->file);
    pl->set = ps;
    pl->def = (struct cove_agent_tool_def){
        .name = pl->m.name,
        .description = pl->m.description ? pl->m.description : pl->m.name,
        .schema = pl->m.schema_json ? pl->m.schema_json : default_schema,
        .handler = plugin_run,
        .limits = {.timeout_ms = COVE_AGENT_DEFAULT_TIMEOUT_MS, .max_output = 16384,
                   .max_calls = 20},
        .effect = COVE_AGENT_READ_ONLY,
        .data = pl,
    };
    return COVE_OK;
}

cove_status cove_agent_plugins_load(const char *const *manifests, size_t n,
                                    const char *trusted_keys, const char *host,
                                    cove_agent_plugins **out, cove_error *err)
{
    *out = NULL;
    if (n > COVE_AGENT_MAX_PLUGINS)
        return cove_error_set(err, COVE_ERR_LIMIT, "more than %d plugins", COVE_AGENT_MAX_PLUGINS);
    if (!trusted_keys)
        return cove_error_set(err, COVE_ERR_PERMISSION, "plugins need trusted keys "
                              "(\"trusted_keys\" in the config, --trust on the command line)");
    cove_agent_plugins *ps = cove_calloc(1, sizeof *ps);
    if (!ps)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (!realpath(host ? host : "/proc/self/exe", ps->host))
        ps->host[0] = '\0';
    cove_audit_trust *trust = NULL;
    cove_status st = cove_audit_trust_load(trusted_keys, &trust, err);
    for (size_t i = 0; st == COVE_OK && i < n; i++)
        st = load_one(ps, manifests[i], trust, err);
    cove_audit_trust_free(trust);
    if (st != COVE_OK) {
        cove_agent_plugins_free(ps);
        return st;
    }
    *out = ps;
    return COVE_OK;
}

size_t cove_agent_plugins_count(const cove_agent_plugins *ps)
{
    return ps ? ps->n : 0;
}

const char *cove_agent_plugins_name(const cove_agent_plugins *ps, size_t i)
{
    return ps && i < ps->n ? ps->p[i].m.name : NULL;
}

cove_status cove_agent_plugins_register_one(const cove_agent_plugins *ps, size_t i,
                                            cove_agent_registry *r, cove_error *err)
{
    if (!ps || i >= ps->n)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no plugin %zu", i);
    return cove_agent_registry_add(r, &ps->p[i].def, err);
}

cove_status cove_agent_plugins_register(const cove_agent_plugins *ps, cove_agent_registry *r,
                                        cove_error *err)
{
    for (size_t i = 0; i < cove_agent_plugins_count(ps); i++) {
        cove_status st = cove_agent_plugins_register_one(ps, i, r, err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

/* ------------------------------------------------------------------ calls */

/* May the plugin read root r? */
static int granted(const struct plugin *pl, const struct cove_agent_root *r)
{
    for (size_t i = 0; i < pl->m.n_permissions; i++) {
        const char *p = pl->m.permissions[i] + 5;
        if (strcmp(p, "*") == 0 || strcmp(p, r->name) == 0)
            return 1;
    }
    return 0;
}

struct call {
    struct cove_sandbox_policy pol;
    const char *argv[COVE_AGENT_MAX_ROOTS + 4];
    char rootargs[COVE_AGENT_MAX_ROOTS][COVE_AGENT_MAX_PLUGIN_ROOT_ARG];
};

static cove_status make_call(const struct plugin *pl, const struct cove_agent_env *env,
                             struct call *c, cove_error *err)
{
    c->pol = cove_sandbox_policy_default();
    cove_status st = cove_sandbox_policy_add_system(&c->pol, err);
    if (st == COVE_OK)
        st = cove_sandbox_policy_add_exec(&c->pol, pl->file, err);
    size_t n = 0;
    if (pl->shared) {
        if (!pl->set->host[0])
            return cove_error_set(err, COVE_ERR_NOT_FOUND, "no plugin host for %s", pl->m.name);
        if (st == COVE_OK)
            st = cove_sandbox_policy_add_exec(&c->pol, pl->set->host, err);
        c->argv[n++] = pl->set->host;
        c->argv[n++] = "plugin-host";
    }
    c->argv[n++] = pl->file;
    for (int i = 0; st == COVE_OK && i < env->n_roots; i++) {
        if (!granted(pl, &env->roots[i]))
            continue;
        st = cove_sandbox_policy_add_read(&c->pol, env->roots[i].path, err);
        snprintf(c->rootargs[i], sizeof c->rootargs[i], "%s=%s", env->roots[i].name,
                 env->roots[i].path);
        c->argv[n++] = c->rootargs[i];
    }
    c->argv[n] = NULL;
    cove_agent_sandbox_limits(&c->pol, pl->def.limits.timeout_ms, env);
    c->pol.seccomp_action = COVE_SANDBOX_SECCOMP_KILL;
    return st;
}

static cove_status plugin_run(struct cove_agent_env *env, const json_t *args,
                              struct cove_agent_obs *obs, cove_error *err)
{
    const struct plugin *pl = env->tool_data;
    char sha[COVE_AUDIT_HEX_LEN + 1];
    cove_status st = cove_audit_file_sha256(pl->file, sha, err);
    if (st != COVE_OK)
        return st;
    if (strcmp(sha, pl->m.sha256) != 0)
        return cove_error_set(err, COVE_ERR_CHECKSUM, "plugin file %s changed since its "
                              "manifest was verified; refusing to run it", pl->file);
    struct call *c = cove_calloc(1, sizeof *c);
    char *text = json_dumps(args, JSON_COMPACT);
    if (!c || !text) {
        cove_free(c);
        free(text);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    st = make_call(pl, env, c, err);
    struct cove_buf out;
    cove_buf_init(&out, COVE_AGENT_MAX_SANDBOX_RESULT);
    if (st == COVE_OK)
        st = cove_sandbox_exec(&c->pol, c->argv, text, strlen(text), &out, NULL, err);
    if (st == COVE_OK && !cove_utf8_valid(out.data, out.len))
        st = cove_error_set(err, COVE_ERR_FORMAT, "plugin %s wrote output that is not UTF-8",
                            pl->m.name);
    if (st == COVE_OK)
        st = out.len ? cove_buf_append(&obs->text, out.data,
                                       out.len < COVE_AGENT_MAX_OBSERVATION / 2
                                           ? out.len : COVE_AGENT_MAX_OBSERVATION / 2)
                     : cove_buf_append_str(&obs->text, "(no output)");
    cove_buf_release(&out);
    free(text);
    cove_free(c);
    return st;
}
