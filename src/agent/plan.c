/*
 * agent/plan.c - the plan format: its JSON Schema, its grammar, and parsing a plan.
 *
 * A plan is one of
 *     {"action": TOOL, "thought": S, "arguments": {...TOOL's schema...}}
 *     {"action": "ask_user", "thought": S, "arguments": {"question": S}}
 *     {"action": "final_answer", "thought": S, "answer": S, "citations": [ID...]}
 * The tool alternatives come from schema's tool-call builder (one object per tool with
 * its own argument schema); the final answer is one more alternative added here.
 *
 * The action comes first: the choice of the tool then depends on the request alone, not
 * on a thought that a small model writes badly, and the thought (kept short) explains the
 * choice before the arguments are written.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_int.h"
#include "base/alloc.h"
#include "schema/schema.h"

#define THOUGHT_MAX 120
#define ANSWER_MAX 600

static const char *const ask_schema =
    "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":300}},\"required\":[\"question\"]}";

void agent_plan_release(struct agent_plan *p)
{
    if (!p)
        return;
    cove_free(p->thought);
    cove_free(p->action);
    cove_free(p->arguments);
    cove_free(p->answer);
    for (size_t i = 0; i < p->n_citations; i++)
        cove_free(p->citations[i]);
    memset(p, 0, sizeof *p);
}

static json_t *thought_schema(void)
{
    return json_pack("{s:s, s:i}", "type", "string", "maxLength", THOUGHT_MAX);
}

/* The final-answer alternative. strict: citations only from the source ids. */
static json_t *final_schema(const struct agent_plan_spec *spec, int strict)
{
    json_t *items;
    if (strict && spec->n_sources > 0) {
        json_t *ids = json_array();
        for (size_t i = 0; i < spec->n_sources; i++)
            json_array_append_new(ids, json_string(spec->source_ids[i]));
        items = json_pack("{s:o}", "enum", ids);
    } else {
        items = json_pack("{s:s, s:i}", "type", "string", "maxLength", 300);
    }
    /* strict: nothing to cite means no citation; retrieved text means at least one */
    int max_items = strict && spec->n_sources == 0 ? 0 : 4;
    int min_items = strict && spec->n_sources > 0 ? 1 : 0;
    return json_pack("{s:s, s:{s:{s:s}, s:o, s:{s:s, s:i, s:i}, s:{s:s, s:o, s:i, s:i}}, "
                     "s:[s,s,s,s], s:b}",
                     "type", "object", "properties", "action", "const", COVE_AGENT_FINAL,
                     "thought", thought_schema(), "answer", "type", "string", "minLength", 1,
                     "maxLength", ANSWER_MAX, "citations", "type", "array", "items", items,
                     "maxItems", max_items, "minItems", min_items, "required", "action",
                     "thought", "answer", "citations", "additionalProperties", 0);
}

/* The lax form: the plan's shape only. Arguments are checked by the registry, which
 * tells the model exactly what is wrong with them. */
static json_t *lax_call_schema(const struct agent_plan_spec *spec)
{
    json_t *names = json_array();
    for (size_t i = 0; i < cove_agent_registry_count(spec->reg); i++)
        json_array_append_new(names, json_string(cove_agent_registry_get(spec->reg, i)->name));
    json_array_append_new(names, json_string(COVE_AGENT_ASK));
    return json_pack("{s:s, s:{s:{s:o}, s:o, s:{s:s}}, s:[s,s,s], s:b}", "type", "object",
                     "properties", "action", "enum", names, "thought", thought_schema(),
                     "arguments", "type", "object", "required", "action", "thought", "arguments",
                     "additionalProperties", 0);
}

/* Rebuild alt's properties in the plan's order: action, thought, then the others. */
static int action_first(json_t *alt)
{
    json_t *props = json_object_get(alt, "properties"), *ordered = json_object();
    const char *key;
    json_t *v;
    int bad = !props || !ordered ||
              json_object_set(ordered, "action", json_object_get(props, "action")) != 0 ||
              json_object_set(ordered, "thought", json_object_get(props, "thought")) != 0;
    json_object_foreach(props, key, v)
        if (!bad && strcmp(key, "action") != 0 && strcmp(key, "thought") != 0)
            bad = json_object_set(ordered, key, v) != 0;
    if (!bad)
        bad = json_object_set(alt, "properties", ordered) != 0;
    json_decref(ordered);
    return bad ? -1 : 0;
}

/* The strict form: one alternative per callable tool with its own argument schema. */
static cove_status strict_calls(const struct agent_plan_spec *spec, json_t **alts,
                                cove_error *err)
{
    cove_schema_tool tools[COVE_AGENT_MAX_TOOLS + 1];
    size_t n = 0, nreg = cove_agent_registry_count(spec->reg);
    json_t *ask = spec->allow_ask ? json_loads(ask_schema, 0, NULL) : NULL;
    for (size_t i = 0; i < nreg; i++)
        if (!spec->tool_ok || spec->tool_ok[i])
            tools[n++] = (cove_schema_tool){cove_agent_registry_get(spec->reg, i)->name,
                                            cove_agent_registry_schema(spec->reg, i)};
    if (ask)
        tools[n++] = (cove_schema_tool){COVE_AGENT_ASK, ask};
    cove_status st = COVE_OK;
    *alts = json_array();
    if (n > 0) {
        json_t *thought = thought_schema();
        cove_schema_field before = {"thought", thought};
        cove_schema_call_shape shape = cove_schema_default_call_shape();
        shape.select_key = "action";
        shape.args_key = "arguments";
        shape.before = &before;
        shape.n_before = 1;
        json_t *calls = NULL;
        st = cove_schema_tool_call_schema(tools, n, &shape, &calls, err);
        json_decref(thought);
        json_t *any = json_object_get(calls, "anyOf");
        if (st == COVE_OK && any)
            json_array_extend(*alts, any);
        else if (st == COVE_OK)
            json_array_append(*alts, calls);
        json_decref(calls);
        for (size_t i = 0; st == COVE_OK && i < json_array_size(*alts); i++)
            if (action_first(json_array_get(*alts, i)) != 0)
                st = cove_error_set(err, COVE_ERR_NOMEM, "plan schema: out of memory");
    }
    json_decref(ask);
    return st;
}

cove_status agent_plan_schema(const struct agent_plan_spec *spec, int strict, json_t **out,
                              cove_error *err)
{
    json_t *alts = NULL;
    cove_status st = COVE_OK;
    if (strict) {
        st = strict_calls(spec, &alts, err);
    } else {
        alts = json_array();
        json_array_append_new(alts, lax_call_schema(spec));
    }
    if (st != COVE_OK) {
        json_decref(alts);
        return st;
    }
    if (!strict || spec->allow_final || json_array_size(alts) == 0)
        json_array_append_new(alts, final_schema(spec, strict));
    *out = json_pack("{s:o}", "anyOf", alts);
    return *out ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "plan schema: out of memory");
}

cove_status agent_plan_grammar(const json_t *schema, char **gbnf, cove_error *err)
{
    cove_schema_opts o = cove_schema_default_opts();
    o.max_ws = 0;
    return cove_schema_to_gbnf_json(schema, &o, gbnf, err);
}

cove_status agent_subgoal_schema(json_t **out, cove_error *err)
{
    *out = json_pack("{s:s, s:{s:{s:s, s:{s:s, s:i, s:i}, s:i, s:i}}, s:[s], s:b}", "type",
                     "object", "properties", "subgoals", "type", "array", "items", "type",
                     "string", "minLength", 1, "maxLength", 200, "minItems", 1, "maxItems",
                     COVE_AGENT_MAX_SUBGOALS, "required", "subgoals", "additionalProperties", 0);
    return *out ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
}

static char *dup_str(const json_t *v)
{
    const char *s = json_string_value(v);
    return cove_strdup(s ? s : "");
}

cove_status agent_plan_parse(const char *text, const json_t *schema, struct agent_plan *out,
                             cove_error *err)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return cove_error_set(err, COVE_ERR_FORMAT, "the plan is not JSON: %s", je.text);
    cove_error verr = {0};
    if (schema && cove_schema_validate(schema, doc, &verr) != COVE_OK) {
        json_decref(doc);
        return cove_error_set(err, COVE_ERR_FORMAT, "the plan does not fit the plan format: %s",
                              cove_error_msg(&verr));
    }
    out->thought = dup_str(json_object_get(doc, "thought"));
    out->action = dup_str(json_object_get(doc, "action"));
    json_t *args = json_object_get(doc, "arguments");
    out->arguments = args ? json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER)
                          : cove_strdup("{}");
    out->answer = json_object_get(doc, "answer") ? dup_str(json_object_get(doc, "answer")) : NULL;
    json_t *c = json_object_get(doc, "citations");
    for (size_t i = 0; i < json_array_size(c) && i < COVE_AGENT_MAX_CITATIONS; i++)
        out->citations[out->n_citations++] = dup_str(json_array_get(c, i));
    json_decref(doc);
    if (args && out->arguments) { /* json_dumps uses malloc: move it to cove's allocator */
        char *copy = cove_strdup(out->arguments);
        free(out->arguments);
        out->arguments = copy;
    }
    if (!out->thought || !out->action || !out->arguments) {
        agent_plan_release(out);
        return cove_error_set(err, COVE_ERR_NOMEM, "plan: out of memory");
    }
    return COVE_OK;
}
