/*
 * schema/tools.c - schemas and grammars for tool calls and agent plans.
 *
 * The call schema is plain JSON Schema (an anyOf of one closed object per tool), so
 * the same document drives the grammar and checks the finished call.
 */
#include <string.h>

#include "base/limits.h"
#include "schema/schema.h"

cove_schema_call_shape cove_schema_default_call_shape(void)
{
    cove_schema_call_shape s = {.select_key = "name", .args_key = "arguments", .max_calls = 1};
    return s;
}

static int add_fields(json_t *props, json_t *req, const cove_schema_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!f[i].key || !*f[i].key || json_object_get(props, f[i].key))
            return -1;
        json_t *sch = f[i].schema ? json_deep_copy(f[i].schema) : json_true();
        if (!sch || json_object_set_new(props, f[i].key, sch) != 0 ||
            json_array_append_new(req, json_string(f[i].key)) != 0)
            return -1;
    }
    return 0;
}

/* One closed object schema for tool t. NULL on a bad name or out of memory. */
static json_t *call_object(const cove_schema_tool *t, const cove_schema_call_shape *sh)
{
    json_t *o = json_object(), *props = json_object(), *req = json_array();
    json_t *args = t->arguments ? json_deep_copy(t->arguments)
                                : json_pack("{s:s}", "type", "object");
    int bad = !o || !props || !req || !args || add_fields(props, req, sh->before, sh->n_before) != 0 ||
              json_object_get(props, sh->select_key) || json_object_get(props, sh->args_key) ||
              json_object_set_new(props, sh->select_key, json_pack("{s:s}", "const", t->name)) != 0 ||
              json_object_set(props, sh->args_key, args) != 0 ||
              json_array_append_new(req, json_string(sh->select_key)) != 0 ||
              json_array_append_new(req, json_string(sh->args_key)) != 0 ||
              add_fields(props, req, sh->after, sh->n_after) != 0;
    json_decref(args);
    if (!bad)
        bad = json_object_set_new(o, "type", json_string("object")) != 0 ||
              json_object_set(o, "properties", props) != 0 ||
              json_object_set(o, "required", req) != 0 ||
              json_object_set_new(o, "additionalProperties", json_false()) != 0;
    json_decref(props);
    json_decref(req);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

cove_status cove_schema_tool_call_schema(const cove_schema_tool *tools, size_t n_tools,
                                         const cove_schema_call_shape *shape,
                                         json_t **schema_out, cove_error *err)
{
    if (!schema_out || (!tools && n_tools))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "tools and schema_out are required");
    *schema_out = NULL;
    if (n_tools == 0 || n_tools > COVE_SCHEMA_MAX_TOOLS)
        return cove_error_set(err, n_tools ? COVE_ERR_LIMIT : COVE_ERR_INVALID_ARG,
                              "need 1..%d tools, got %zu", COVE_SCHEMA_MAX_TOOLS, n_tools);
    cove_schema_call_shape sh = shape ? *shape : cove_schema_default_call_shape();
    if (!sh.select_key || !sh.args_key || !*sh.select_key || !*sh.args_key ||
        strcmp(sh.select_key, sh.args_key) == 0 || sh.max_calls < 0 ||
        sh.max_calls > COVE_SCHEMA_MAX_TOOLS)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad call shape: keys must be distinct "
                              "and non-empty, max_calls 0..%d", COVE_SCHEMA_MAX_TOOLS);
    json_t *any = json_array();
    if (!any)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_tools; i++) {
        for (size_t j = 0; j < i; j++)
            if (tools[i].name && tools[j].name && strcmp(tools[i].name, tools[j].name) == 0) {
                json_decref(any);
                return cove_error_set(err, COVE_ERR_INVALID_ARG, "tool '%.60s' listed twice", tools[i].name);
            }
        json_t *o = tools[i].name && *tools[i].name ? call_object(&tools[i], &sh) : NULL;
        if (!o || json_array_append_new(any, o) != 0) {
            json_decref(any);
            return cove_error_set(err, COVE_ERR_INVALID_ARG,
                                  "tool %zu: empty name, a field key used twice, or out of memory", i);
        }
    }
    json_t *call = json_pack("{s:o}", "anyOf", any);
    if (call && sh.max_calls > 1)
        call = json_pack("{s:s, s:o, s:i, s:i}", "type", "array", "items", call, "minItems", 1,
                         "maxItems", sh.max_calls);
    if (!call)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    *schema_out = call;
    return COVE_OK;
}

cove_status cove_schema_tool_call_gbnf(const cove_schema_tool *tools, size_t n_tools,
                                       const cove_schema_call_shape *shape,
                                       const cove_schema_opts *opts, char **gbnf_out,
                                       cove_error *err)
{
    if (!gbnf_out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "gbnf_out is required");
    *gbnf_out = NULL;
    json_t *s = NULL;
    cove_status st = cove_schema_tool_call_schema(tools, n_tools, shape, &s, err);
    if (st)
        return st;
    st = cove_schema_to_gbnf_json(s, opts, gbnf_out, err);
    json_decref(s);
    return st;
}
