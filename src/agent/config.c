/*
 * agent/config.c - agent definitions: defaults, the JSON file, copies.
 *
 * The file is parsed once into the typed struct (unknown keys refused); nothing else in
 * the agent sees its JSON.
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "agent/agent_int.h"
#include "base/alloc.h"
#include "base/str.h"

void cove_agent_config_init(struct cove_agent_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_steps = 8;
    cfg->grounding = 1;
    cfg->max_tokens = 384;
    cfg->temperature = 0;
    cfg->seed = 1;
    cfg->n_ctx = 4096;
    cfg->prompt_budget = 6000;
}

void cove_agent_config_release(struct cove_agent_config *cfg)
{
    if (!cfg)
        return;
    char **strs[] = {&cfg->name, &cfg->model, &cfg->remote_url, &cfg->remote_key,
                     &cfg->remote_model, &cfg->kb, &cfg->embed_model, &cfg->devices,
                     &cfg->sessions, &cfg->system_prompt, &cfg->trusted_keys,
                     &cfg->plugin_host};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        cove_free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < cfg->n_plugins; i++)
        cove_free(cfg->plugins[i]);
    cfg->n_plugins = 0;
    for (size_t i = 0; i < cfg->n_tools; i++)
        cove_free(cfg->tools[i]);
    for (size_t i = 0; i < cfg->n_roots; i++)
        cove_free(cfg->roots[i]);
    cfg->n_tools = cfg->n_roots = 0;
}

cove_status cove_agent_config_set(char **field, const char *value, cove_error *err)
{
    char *copy = NULL;
    if (value && !(copy = cove_strdup(value)))
        return cove_error_set(err, COVE_ERR_NOMEM, "config: out of memory");
    cove_free(*field);
    *field = copy;
    return COVE_OK;
}

cove_status cove_agent_config_add_tool(struct cove_agent_config *cfg, const char *name,
                                       cove_error *err)
{
    if (cfg->n_tools >= COVE_AGENT_MAX_TOOLS)
        return cove_error_set(err, COVE_ERR_LIMIT, "config: more than %d tools",
                              COVE_AGENT_MAX_TOOLS);
    cfg->tools[cfg->n_tools] = NULL;
    cove_status st = cove_agent_config_set(&cfg->tools[cfg->n_tools], name, err);
    if (st == COVE_OK)
        cfg->n_tools++;
    return st;
}

cove_status cove_agent_config_add_root(struct cove_agent_config *cfg, const char *dir,
                                       cove_error *err)
{
    if (cfg->n_roots >= COVE_AGENT_MAX_ROOTS)
        return cove_error_set(err, COVE_ERR_LIMIT, "config: more than %d roots",
                              COVE_AGENT_MAX_ROOTS);
    cfg->roots[cfg->n_roots] = NULL;
    cove_status st = cove_agent_config_set(&cfg->roots[cfg->n_roots], dir, err);
    if (st == COVE_OK)
        cfg->n_roots++;
    return st;
}

cove_status cove_agent_config_add_plugin(struct cove_agent_config *cfg, const char *manifest,
                                         cove_error *err)
{
    if (cfg->n_plugins >= COVE_AGENT_MAX_PLUGINS)
        return cove_error_set(err, COVE_ERR_LIMIT, "config: more than %d plugins",
                              COVE_AGENT_MAX_PLUGINS);
    cfg->plugins[cfg->n_plugins] = NULL;
    cove_status st = cove_agent_config_set(&cfg->plugins[cfg->n_plugins], manifest, err);
    if (st == COVE_OK)
        cfg->n_plugins++;
    return st;
}

cove_status agent_config_copy(struct cove_agent_config *dst, const struct cove_agent_config *src,
                              cove_error *err)
{
    *dst = *src;
    char **strs[] = {&dst->name, &dst->model, &dst->remote_url, &dst->remote_key,
                     &dst->remote_model, &dst->kb, &dst->embed_model, &dst->devices,
                     &dst->sessions, &dst->system_prompt, &dst->trusted_keys,
                     &dst->plugin_host};
    int bad = 0;
    for (size_t i = 0; i < dst->n_plugins; i++)
        if (!(dst->plugins[i] = cove_strdup(src->plugins[i])))
            bad = 1;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (*strs[i] && !(*strs[i] = cove_strdup(*strs[i])))
            bad = 1;
    for (size_t i = 0; i < dst->n_tools; i++)
        if (!(dst->tools[i] = cove_strdup(src->tools[i])))
            bad = 1;
    for (size_t i = 0; i < dst->n_roots; i++)
        if (!(dst->roots[i] = cove_strdup(src->roots[i])))
            bad = 1;
    if (!dst->name && !(dst->name = cove_strdup("agent")))
        bad = 1;
    if (bad) {
        cove_agent_config_release(dst);
        return cove_error_set(err, COVE_ERR_NOMEM, "config: out of memory");
    }
    return COVE_OK;
}

/* ---------------------------------------------------------------- loading */

/* A path from the file: relative ones are taken from the file's directory. */
static cove_status set_path(char **field, const char *dir, const char *value, cove_error *err)
{
    if (value[0] == '/' || strcmp(dir, ".") == 0)
        return cove_agent_config_set(field, value, err);
    char buf[COVE_MAX_PATH];
    if ((size_t)snprintf(buf, sizeof buf, "%s/%s", dir, value) >= sizeof buf)
        return cove_error_set(err, COVE_ERR_LIMIT, "config: path too long: %s", value);
    return cove_agent_config_set(field, buf, err);
}

static cove_status want(json_t *v, json_type type, const char *key, cove_error *err)
{
    if (json_typeof(v) == type || (type == JSON_REAL && json_is_number(v)) ||
        (type == JSON_TRUE && json_is_boolean(v)))
        return COVE_OK;
    return cove_error_set(err, COVE_ERR_FORMAT, "config: \"%s\" has the wrong type", key);
}

static cove_status load_list(struct cove_agent_config *cfg, const char *dir, const char *key,
                             json_t *v, cove_error *err)
{
    cove_status st = want(v, JSON_ARRAY, key, err);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (st == COVE_OK)
            st = want(e, JSON_STRING, key, err);
        if (st != COVE_OK)
            return st;
        if (strcmp(key, "tools") == 0) {
            st = cove_agent_config_add_tool(cfg, json_string_value(e), err);
        } else if (strcmp(key, "plugins") == 0) {
            if (cfg->n_plugins >= COVE_AGENT_MAX_PLUGINS)
                return cove_error_set(err, COVE_ERR_LIMIT, "config: too many plugins");
            cfg->plugins[cfg->n_plugins] = NULL;
            st = set_path(&cfg->plugins[cfg->n_plugins], dir, json_string_value(e), err);
            if (st == COVE_OK)
                cfg->n_plugins++;
        } else {
            if (cfg->n_roots >= COVE_AGENT_MAX_ROOTS)
                return cove_error_set(err, COVE_ERR_LIMIT, "config: too many roots");
            cfg->roots[cfg->n_roots] = NULL;
            st = set_path(&cfg->roots[cfg->n_roots], dir, json_string_value(e), err);
            if (st == COVE_OK)
                cfg->n_roots++;
        }
    }
    return st;
}

static cove_status load_budgets(struct cove_agent_config *cfg, json_t *v, cove_error *err)
{
    cove_status st = want(v, JSON_OBJECT, "budgets", err);
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
        if (st == COVE_OK)
            st = want(e, JSON_INTEGER, "budgets", err);
        if (st != COVE_OK)
            return st;
        if (cfg->n_budgets >= COVE_AGENT_MAX_TOOLS || strlen(k) >= sizeof cfg->budgets[0].tool)
            return cove_error_set(err, COVE_ERR_LIMIT, "config: bad budget '%.64s'", k);
        struct cove_agent_budget *b = &cfg->budgets[cfg->n_budgets++];
        strcpy(b->tool, k);
        b->max_calls = (int32_t)json_integer_value(e);
    }
    return st;
}

static cove_status load_number(struct cove_agent_config *cfg, const char *k, json_t *v,
                               cove_error *err)
{
    cove_status st = want(v, strcmp(k, "temperature") == 0 ? JSON_REAL : JSON_INTEGER, k, err);
    if (st != COVE_OK)
        return st;
    json_int_t i = json_integer_value(v);
    if (strcmp(k, "temperature") == 0)
        cfg->temperature = (float)json_number_value(v);
    else if (strcmp(k, "max_steps") == 0)
        cfg->max_steps = (int32_t)(i < 0 ? 0 : i > 1000 ? 1000 : i);
    else if (strcmp(k, "max_tokens") == 0)
        cfg->max_tokens = (int32_t)(i < 16 ? 16 : i > 8192 ? 8192 : i);
    else if (strcmp(k, "seed") == 0)
        cfg->seed = (uint64_t)i;
    else if (strcmp(k, "n_ctx") == 0)
        cfg->n_ctx = (int32_t)(i < 256 ? 256 : i > (1 << 20) ? (1 << 20) : i);
    else
        cfg->prompt_budget = (size_t)(i < 0 ? 0 : i > (json_int_t)COVE_AGENT_MAX_PROMPT / 2
                                                      ? (json_int_t)COVE_AGENT_MAX_PROMPT / 2 : i);
    return COVE_OK;
}

/* One key of the file. */
static cove_status load_key(struct cove_agent_config *cfg, const char *dir, const char *k,
                            json_t *v, cove_error *err)
{
    static const char *const paths[] = {"model", "kb", "embed_model", "devices", "sessions",
                                        "trusted_keys", "plugin_host"};
    static const char *const strs[] = {"name", "remote_url", "remote_key", "remote_model",
                                       "system_prompt", "", ""};
    char **pf[] = {&cfg->model, &cfg->kb, &cfg->embed_model, &cfg->devices, &cfg->sessions,
                   &cfg->trusted_keys, &cfg->plugin_host};
    char **sf[] = {&cfg->name, &cfg->remote_url, &cfg->remote_key, &cfg->remote_model,
                   &cfg->system_prompt, NULL, NULL};
    for (size_t i = 0; i < 7; i++) {
        int is_path = strcmp(k, paths[i]) == 0;
        if (!is_path && (!sf[i] || strcmp(k, strs[i]) != 0))
            continue;
        cove_status st = want(v, JSON_STRING, k, err);
        if (st != COVE_OK)
            return st;
        return is_path ? set_path(pf[i], dir, json_string_value(v), err)
                       : cove_agent_config_set(sf[i], json_string_value(v), err);
    }
    if (strcmp(k, "tools") == 0 || strcmp(k, "roots") == 0 || strcmp(k, "plugins") == 0)
        return load_list(cfg, dir, k, v, err);
    if (strcmp(k, "budgets") == 0)
        return load_budgets(cfg, v, err);
    int *flags[] = {&cfg->tool_first, &cfg->decompose, &cfg->grounding,
                    &cfg->accept_weak_sandbox};
    const char *fnames[] = {"tool_first", "decompose", "grounding", "accept_weak_sandbox"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(k, fnames[i]) == 0) {
            cove_status st = want(v, JSON_TRUE, k, err);
            *flags[i] = json_is_true(v);
            return st;
        }
    if (strcmp(k, "temperature") == 0 || strcmp(k, "max_steps") == 0 ||
        strcmp(k, "max_tokens") == 0 || strcmp(k, "seed") == 0 || strcmp(k, "n_ctx") == 0 ||
        strcmp(k, "prompt_budget") == 0)
        return load_number(cfg, k, v, err);
    if (strcmp(k, "comment") == 0)
        return COVE_OK;
    return cove_error_set(err, COVE_ERR_FORMAT, "config: unknown key \"%.64s\"", k);
}

cove_status cove_agent_config_load(struct cove_agent_config *cfg, const char *path,
                                   cove_error *err)
{
    json_error_t je;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return cove_error_set(err, COVE_ERR_IO, "%s: cannot open", path);
    if (sb.st_size > (off_t)COVE_AGENT_MAX_CONFIG)
        return cove_error_set(err, COVE_ERR_LIMIT, "%s: larger than %u bytes", path,
                              COVE_AGENT_MAX_CONFIG);
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return cove_error_set(err, strstr(je.text, "unable to open") ? COVE_ERR_IO
                                                                      : COVE_ERR_FORMAT,
                              "%s:%d: %s", path, je.line, je.text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: not a JSON object", path);
    }
    char pathcopy[COVE_MAX_PATH];
    cove_str_copy(pathcopy, sizeof pathcopy, path);
    const char *dir = dirname(pathcopy);
    const char *k;
    json_t *v;
    cove_status st = COVE_OK;
    json_object_foreach(doc, k, v) {
        if (st == COVE_OK)
            st = load_key(cfg, dir, k, v, err);
    }
    json_decref(doc);
    return st;
}
