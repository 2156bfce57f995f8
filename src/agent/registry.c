/*
 * agent/registry.c - the tool table, argument validation and one call's life.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_int.h"
#include "agent/registry.h"
#include "agent/tools/tools.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "schema/schema.h"

struct entry {
    struct cove_agent_tool_def def;
    json_t *schema; /* owned */
};

struct cove_agent_registry {
    struct entry tools[COVE_AGENT_MAX_TOOLS];
    size_t n;
};

const char *cove_agent_effect_name(enum cove_agent_effect e)
{
    switch (e) {
    case COVE_AGENT_READ_ONLY: return "read_only";
    case COVE_AGENT_WRITES: return "writes";
    case COVE_AGENT_DEVICE: return "device";
    }
    return "unknown";
}

/* ------------------------------------------------------------ observations */

void cove_agent_obs_init(struct cove_agent_obs *o)
{
    memset(o, 0, sizeof *o);
    cove_buf_init(&o->text, COVE_AGENT_MAX_OBSERVATION);
}

static void obs_clear_sources(struct cove_agent_obs *o)
{
    for (size_t i = 0; i < o->n_sources; i++) {
        cove_free(o->sources[i].id);
        cove_free(o->sources[i].text);
    }
    cove_free(o->sources);
    o->sources = NULL;
    o->n_sources = 0;
}

void cove_agent_obs_release(struct cove_agent_obs *o)
{
    if (!o)
        return;
    obs_clear_sources(o);
    cove_buf_release(&o->text);
    o->is_error = 0;
}

cove_status cove_agent_obs_add_source(struct cove_agent_obs *o, const char *id, const char *text,
                                      size_t text_len)
{
    if (o->n_sources >= COVE_AGENT_MAX_SOURCES)
        return COVE_ERR_LIMIT;
    void *p = cove_realloc(o->sources, (o->n_sources + 1) * sizeof *o->sources);
    if (!p)
        return COVE_ERR_NOMEM;
    o->sources = p;
    struct cove_agent_source *s = &o->sources[o->n_sources];
    s->id = cove_strdup(id);
    s->text = cove_strndup(text, text_len);
    if (!s->id || !s->text) {
        cove_free(s->id);
        cove_free(s->text);
        return COVE_ERR_NOMEM;
    }
    o->n_sources++;
    return COVE_OK;
}

void cove_agent_obs_error(struct cove_agent_obs *o, const char *fmt, ...)
{
    va_list ap;
    cove_buf_reset(&o->text);
    obs_clear_sources(o);
    o->is_error = 1;
    cove_buf_append_str(&o->text, "error: ");
    va_start(ap, fmt);
    cove_buf_vappendf(&o->text, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- registry */

cove_status cove_agent_registry_create(cove_agent_registry **out, cove_error *err)
{
    if (!out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "registry: NULL out");
    *out = cove_calloc(1, sizeof **out);
    if (!*out)
        return cove_error_set(err, COVE_ERR_NOMEM, "registry: out of memory");
    return COVE_OK;
}

void cove_agent_registry_free(cove_agent_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        json_decref(r->tools[i].schema);
    cove_free(r);
}

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64 || !(islower((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

cove_status cove_agent_registry_add(cove_agent_registry *r, const struct cove_agent_tool_def *def,
                                    cove_error *err)
{
    if (!r || !def || !valid_name(def->name) || !def->handler || !def->schema)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "registry: a tool needs a name "
                              "([a-z_][a-z0-9_]*), a schema and a handler");
    if (strcmp(def->name, COVE_AGENT_FINAL) == 0 || cove_agent_registry_find(r, def->name) >= 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "registry: tool '%s' already exists",
                              def->name);
    if (r->n >= COVE_AGENT_MAX_TOOLS)
        return cove_error_set(err, COVE_ERR_LIMIT, "registry: more than %d tools",
                              COVE_AGENT_MAX_TOOLS);
    json_error_t je;
    json_t *schema = json_loads(def->schema, 0, &je);
    if (!json_is_object(schema)) {
        json_decref(schema);
        return cove_error_set(err, COVE_ERR_FORMAT, "registry: schema of '%s' is not a JSON "
                              "object: %s", def->name, je.text);
    }
    r->tools[r->n].def = *def;
    r->tools[r->n].schema = schema;
    r->n++;
    return COVE_OK;
}

cove_status cove_agent_registry_add_builtins(cove_agent_registry *r, const char *const *names,
                                             size_t n, cove_error *err)
{
    size_t nb = 0;
    const struct cove_agent_tool_def *const *b = cove_agent_builtin_tools(&nb);
    if (n == 0) {
        for (size_t i = 0; i < nb; i++) {
            cove_status st = cove_agent_registry_add(r, b[i], err);
            if (st != COVE_OK)
                return st;
        }
        return COVE_OK;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;
        while (i < nb && strcmp(b[i]->name, names[k]) != 0)
            i++;
        if (i == nb)
            return cove_error_set(err, COVE_ERR_NOT_FOUND, "no built-in tool '%s'", names[k]);
        cove_status st = cove_agent_registry_add(r, b[i], err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

cove_status cove_agent_registry_set_budget(cove_agent_registry *r, const char *name,
                                           int32_t max_calls, cove_error *err)
{
    int i = cove_agent_registry_find(r, name);
    if (i < 0)
        return cove_error_set(err, COVE_ERR_NOT_FOUND, "budget for unknown tool '%s'", name);
    if (max_calls < 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "budget of '%s' is negative", name);
    r->tools[i].def.limits.max_calls = max_calls;
    return COVE_OK;
}

size_t cove_agent_registry_count(const cove_agent_registry *r) { return r ? r->n : 0; }

const struct cove_agent_tool_def *cove_agent_registry_get(const cove_agent_registry *r, size_t i)
{
    return r && i < r->n ? &r->tools[i].def : NULL;
}

const json_t *cove_agent_registry_schema(const cove_agent_registry *r, size_t i)
{
    return r && i < r->n ? r->tools[i].schema : NULL;
}

int cove_agent_registry_find(const cove_agent_registry *r, const char *name)
{
    if (!r || !name)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->tools[i].def.name, name) == 0)
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------------ invoke */

/* Cut the observation to max bytes (at a UTF-8 boundary) and say so. */
static void obs_cap(struct cove_agent_obs *o, size_t max)
{
    if (max == 0 || o->text.len <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)o->text.data[cut] & 0xC0) == 0x80)
        cut--;
    size_t total = o->text.len;
    cove_buf_truncate(&o->text, cut);
    cove_buf_appendf(&o->text, "\n[output cut at %zu of %zu bytes]", cut, total);
}

/* Parse and validate; on failure the observation says why. 0 ok, -1 rejected. */
static int check_args(const struct entry *e, const char *args_json, json_t **args,
                      struct cove_agent_obs *obs)
{
    json_error_t je;
    cove_error verr = {0};
    if (!args_json)
        args_json = "{}";
    if (strlen(args_json) > COVE_AGENT_MAX_ARGS) {
        cove_agent_obs_error(obs, "arguments of %s are longer than %u bytes", e->def.name,
                             COVE_AGENT_MAX_ARGS);
        return -1;
    }
    *args = json_loads(args_json, JSON_REJECT_DUPLICATES, &je);
    if (!*args) {
        cove_agent_obs_error(obs, "arguments of %s are not JSON (%s); write an object that "
                             "fits the tool's schema", e->def.name, je.text);
        return -1;
    }
    if (cove_schema_validate(e->schema, *args, &verr) != COVE_OK) {
        cove_agent_obs_error(obs, "invalid arguments for %s: %s; the schema is %s", e->def.name,
                             cove_error_msg(&verr), e->def.schema);
        json_decref(*args);
        *args = NULL;
        return -1;
    }
    return 0;
}

cove_status cove_agent_registry_invoke(cove_agent_registry *r, struct cove_agent_env *env,
                                       const char *name, const char *args_json,
                                       struct cove_agent_usage *usage, struct cove_agent_obs *obs,
                                       cove_error *err)
{
    cove_buf_reset(&obs->text);
    obs_clear_sources(obs);
    obs->is_error = 0;
    int i = cove_agent_registry_find(r, name);
    if (i < 0) {
        cove_agent_obs_error(obs, "no tool named '%s'", name ? name : "");
        return obs->text.data ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    struct entry *e = &r->tools[i];
    json_t *args = NULL;
    if (check_args(e, args_json, &args, obs) != 0)
        return COVE_OK;
    if (usage && e->def.limits.max_calls > 0 && usage->calls[i] >= e->def.limits.max_calls) {
        json_decref(args);
        cove_agent_obs_error(obs, "the budget of %s (%d calls) is spent; use another tool or "
                             "give the final answer", e->def.name, (int)e->def.limits.max_calls);
        return COVE_OK;
    }
    if (usage)
        usage->calls[i]++;
    cove_error herr = {0};
    env->deadline_ms = e->def.limits.timeout_ms > 0
                           ? cove_agent_now_ms() + e->def.limits.timeout_ms : 0;
    env->tool_data = e->def.data;
    cove_status st = (e->def.flags & COVE_AGENT_TOOL_SANDBOXED)
                         ? cove_agent_run_sandboxed(&e->def, env, args, obs, &herr)
                         : e->def.handler(env, args, obs, &herr);
    env->deadline_ms = 0;
    env->tool_data = NULL;
    json_decref(args);
    if (st == COVE_ERR_NOMEM)
        return cove_error_set(err, COVE_ERR_NOMEM, "%s: out of memory", e->def.name);
    if (st != COVE_OK)
        cove_agent_obs_error(obs, "%s failed: %s", e->def.name, cove_error_msg(&herr));
    obs_cap(obs, e->def.limits.max_output ? e->def.limits.max_output
                                          : COVE_AGENT_MAX_OBSERVATION - 64);
    return COVE_OK;
}
