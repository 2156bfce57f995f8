/*
 * request_chat.c - the body of POST /v1/chat/completions into struct cove_server_chat_req.
 */
#include <string.h>

#include "base/buf.h"
#include "base/limits.h"
#include "server/request_int.h"

#define CHAT(p) ((struct cove_server_chat_req *)(p))
#define MSG(p) ((struct cove_chat_message *)(p))
#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

static cove_status alloc_array(struct rq *q, size_t n, size_t size, void **out)
{
    cove_status st = cove_arena_calloc(q->arena, n ? n : 1, size, out);
    return st == COVE_OK ? st : rq_fail(q, st, "the request is too large to hold in memory");
}

/* ------------------------------------------------------------ a message */

static cove_status f_role(struct rq *q, json_t *v, void *out)
{
    static const struct { const char *name; enum cove_chat_role role; } roles[] = {
        {"system", COVE_CHAT_SYSTEM}, {"developer", COVE_CHAT_SYSTEM}, {"user", COVE_CHAT_USER},
        {"assistant", COVE_CHAT_ASSISTANT}, {"tool", COVE_CHAT_TOOL}};
    const char *s = NULL;
    cove_status st = rq_string(q, v, &s);
    for (size_t i = 0; st == COVE_OK && i < N_OF(roles); i++)
        if (strcmp(s, roles[i].name) == 0) {
            MSG(out)->role = roles[i].role;
            MSG(out)->name = ""; /* marks the role as given */
            return COVE_OK;
        }
    return st != COVE_OK ? st : rq_fail(q, COVE_ERR_FORMAT, "unknown role '%.40s' (system, "
                                        "developer, user, assistant or tool)", s);
}

static cove_status part_text(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, (const char **)out);
}

static cove_status part_type(struct rq *q, json_t *v, void *out)
{
    const char *t = NULL;
    cove_status st = rq_string(q, v, &t);
    if (st == COVE_OK && strcmp(t, "text") != 0)
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "content parts of type '%.40s' are not "
                       "supported (only text)", t);
    return st;
}

static cove_status content_part(struct rq *q, json_t *item, void *out, size_t i)
{
    static const struct rq_field fields[] = {{"type", part_type}, {"text", part_text}};
    const char *text = NULL;
    cove_status st = rq_object(q, item, fields, N_OF(fields), &text);
    if (st == COVE_OK && !text)
        return rq_fail_at(q, "text", COVE_ERR_FORMAT, "a content part needs 'text'");
    return st == COVE_OK ? cove_buf_appendf(out, "%s%s", i ? "\n" : "", text) : st;
}

static cove_status f_content(struct rq *q, json_t *v, void *out)
{
    if (json_is_string(v))
        return rq_string(q, v, &MSG(out)->content);
    struct cove_buf b;
    cove_buf_init(&b, COVE_SERVER_MAX_BODY);
    cove_status st = json_is_array(v) ? rq_array(q, v, 4096, content_part, &b)
                                      : rq_fail(q, COVE_ERR_FORMAT, "'%s' must be a string or "
                                                "an array of text parts", q->path);
    if (st == COVE_OK)
        st = cove_arena_strndup(q->arena, b.data ? b.data : "", b.len, (char **)&MSG(out)->content);
    cove_buf_release(&b);
    return st;
}

static cove_status f_ignored_str(struct rq *q, json_t *v, void *out)
{
    const char *s = NULL;
    return rq_string(q, v, &s);
}

static cove_status f_tool_call_id(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &MSG(out)->tool_call_id);
}

static cove_status fn_name(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &((struct cove_chat_tool_call *)out)->name);
}

static cove_status fn_arguments(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &((struct cove_chat_tool_call *)out)->arguments);
}

static cove_status tc_id(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &((struct cove_chat_tool_call *)out)->id);
}

static cove_status tc_type(struct rq *q, json_t *v, void *out)
{
    const char *t = NULL;
    cove_status st = rq_string(q, v, &t);
    if (st == COVE_OK && strcmp(t, "function") != 0)
        return rq_fail(q, COVE_ERR_FORMAT, "'type' must be \"function\"");
    return st;
}

static cove_status tc_function(struct rq *q, json_t *v, void *out)
{
    static const struct rq_field fields[] = {{"name", fn_name}, {"arguments", fn_arguments}};
    return rq_object(q, v, fields, N_OF(fields), out);
}

static cove_status tool_call_item(struct rq *q, json_t *item, void *out, size_t i)
{
    static const struct rq_field fields[] = {
        {"id", tc_id}, {"type", tc_type}, {"function", tc_function}};
    struct cove_chat_tool_call *tc = (struct cove_chat_tool_call *)MSG(out)->tool_calls + i;
    cove_status st = rq_object(q, item, fields, N_OF(fields), tc);
    if (st == COVE_OK && !tc->name)
        return rq_fail_at(q, "function", COVE_ERR_FORMAT, "a tool call needs function.name");
    return st;
}

static cove_status f_tool_calls(struct rq *q, json_t *v, void *out)
{
    void *mem = NULL;
    cove_status st = json_is_array(v) ? alloc_array(q, json_array_size(v) > COVE_CHAT_MAX_TOOL_CALLS
                                                           ? 0 : json_array_size(v),
                                                    sizeof(struct cove_chat_tool_call), &mem)
                                      : COVE_OK;
    if (st != COVE_OK)
        return st;
    MSG(out)->tool_calls = mem;
    MSG(out)->n_tool_calls = json_is_array(v) ? json_array_size(v) : 0;
    return rq_array(q, v, COVE_CHAT_MAX_TOOL_CALLS, tool_call_item, out);
}

static cove_status message_item(struct rq *q, json_t *item, void *out, size_t i)
{
    static const struct rq_field fields[] = {
        {"role", f_role}, {"content", f_content}, {"name", f_ignored_str},
        {"tool_calls", f_tool_calls}, {"tool_call_id", f_tool_call_id},
        {"refusal", f_ignored_str}};
    struct cove_chat_message *m = CHAT(out)->messages + i;
    cove_status st = rq_object(q, item, fields, N_OF(fields), m);
    if (st != COVE_OK)
        return st;
    if (!m->name)
        return rq_fail_at(q, "role", COVE_ERR_FORMAT, "every message needs a 'role'");
    m->name = NULL;
    if (m->n_tool_calls && m->role != COVE_CHAT_ASSISTANT)
        return rq_fail_at(q, "tool_calls", COVE_ERR_FORMAT, "only assistant messages have "
                          "tool_calls");
    if (m->role == COVE_CHAT_TOOL && !m->tool_call_id)
        return rq_fail_at(q, "tool_call_id", COVE_ERR_FORMAT, "a tool message needs "
                          "'tool_call_id'");
    if (!m->content && m->role != COVE_CHAT_ASSISTANT)
        return rq_fail_at(q, "content", COVE_ERR_FORMAT, "this message needs 'content'");
    return COVE_OK;
}

static cove_status f_messages(struct rq *q, json_t *v, void *out)
{
    void *mem = NULL;
    if (json_is_array(v) && json_array_size(v) == 0)
        return rq_fail(q, COVE_ERR_FORMAT, "'messages' must not be empty");
    cove_status st = json_is_array(v) && json_array_size(v) <= COVE_CHAT_MAX_MESSAGES
                         ? alloc_array(q, json_array_size(v), sizeof(struct cove_chat_message), &mem)
                         : COVE_OK;
    if (st != COVE_OK)
        return st;
    CHAT(out)->messages = mem;
    CHAT(out)->n_messages = json_is_array(v) ? json_array_size(v) : 0;
    return rq_array(q, v, COVE_CHAT_MAX_MESSAGES, message_item, out);
}

/* --------------------------------------------------------------- tools */

struct tool_fn {
    struct cove_server_tool *t;
    int has_params;
};

static int valid_tool_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static cove_status tf_name(struct rq *q, json_t *v, void *out)
{
    struct tool_fn *f = out;
    cove_status st = rq_string(q, v, &f->t->name);
    if (st == COVE_OK && !valid_tool_name(f->t->name))
        return rq_fail(q, COVE_ERR_FORMAT, "a tool name has 1 to 64 of a-z A-Z 0-9 _ - .");
    return st;
}

static cove_status tf_parameters(struct rq *q, json_t *v, void *out)
{
    struct tool_fn *f = out;
    if (!json_is_object(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'parameters' must be a JSON Schema object");
    f->has_params = 1;
    return rq_dump(q, v, 0, &f->t->parameters);
}

static cove_status tf_bool(struct rq *q, json_t *v, void *out)
{
    int b = 0;
    return rq_bool(q, v, &b);
}

static cove_status tool_function(struct rq *q, json_t *v, void *out)
{
    static const struct rq_field fields[] = {{"name", tf_name}, {"description", f_ignored_str},
                                             {"parameters", tf_parameters}, {"strict", tf_bool}};
    return rq_object(q, v, fields, N_OF(fields), out);
}

static cove_status tool_item(struct rq *q, json_t *item, void *out, size_t i)
{
    static const struct rq_field fields[] = {{"type", tc_type}, {"function", tool_function}};
    struct tool_fn f = {.t = CHAT(out)->tools + i};
    cove_status st = rq_object(q, item, fields, N_OF(fields), &f);
    if (st == COVE_OK && !f.t->name)
        return rq_fail_at(q, "function", COVE_ERR_FORMAT, "a tool needs function.name");
    for (size_t k = 0; st == COVE_OK && k < i; k++)
        if (strcmp(CHAT(out)->tools[k].name, f.t->name) == 0)
            return rq_fail(q, COVE_ERR_FORMAT, "two tools are named '%s'", f.t->name);
    if (st == COVE_OK && !f.has_params)
        f.t->parameters = "{\"type\":\"object\",\"properties\":{}}";
    return st == COVE_OK ? rq_dump(q, item, 1, &f.t->definition) : st;
}

static cove_status f_tools(struct rq *q, json_t *v, void *out)
{
    void *mem = NULL;
    cove_status st = json_is_array(v) && json_array_size(v) <= COVE_CHAT_MAX_TOOLS
                         ? alloc_array(q, json_array_size(v), sizeof(struct cove_server_tool), &mem)
                         : COVE_OK;
    if (st != COVE_OK)
        return st;
    CHAT(out)->tools = mem;
    CHAT(out)->n_tools = json_is_array(v) ? json_array_size(v) : 0;
    return rq_array(q, v, COVE_CHAT_MAX_TOOLS, tool_item, out);
}

static cove_status choice_function(struct rq *q, json_t *v, void *out)
{
    static const struct rq_field fields[] = {{"name", part_text}};
    return rq_object(q, v, fields, N_OF(fields), &CHAT(out)->tool_choice_name);
}

static cove_status f_tool_choice(struct rq *q, json_t *v, void *out)
{
    static const char *const names[] = {"auto", "none", "required"};
    if (json_is_string(v)) {
        for (int i = 0; i < 3; i++)
            if (strcmp(json_string_value(v), names[i]) == 0) {
                CHAT(out)->tool_choice = (enum cove_server_tool_choice)i;
                return COVE_OK;
            }
        return rq_fail(q, COVE_ERR_FORMAT, "'tool_choice' must be \"auto\", \"none\", "
                       "\"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    static const struct rq_field fields[] = {{"type", tc_type}, {"function", choice_function}};
    cove_status st = rq_object(q, v, fields, N_OF(fields), out);
    if (st == COVE_OK && !CHAT(out)->tool_choice_name)
        return rq_fail(q, COVE_ERR_FORMAT, "'tool_choice' needs function.name");
    CHAT(out)->tool_choice = COVE_SERVER_TOOLS_FUNCTION;
    return st;
}

static cove_status f_parallel(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &CHAT(out)->parallel_tool_calls);
}

/* ------------------------------------------------------ response_format */

static cove_status rf_type(struct rq *q, json_t *v, void *out)
{
    static const char *const names[] = {"text", "json_object", "json_schema"};
    static const enum cove_server_format f[] = {COVE_SERVER_FORMAT_TEXT, COVE_SERVER_FORMAT_JSON,
                                                COVE_SERVER_FORMAT_JSON_SCHEMA};
    const char *t = NULL;
    cove_status st = rq_string(q, v, &t);
    for (int i = 0; st == COVE_OK && i < 3; i++)
        if (strcmp(t, names[i]) == 0) {
            CHAT(out)->format = f[i];
            return COVE_OK;
        }
    return st != COVE_OK ? st : rq_fail(q, COVE_ERR_FORMAT, "'type' must be \"text\", "
                                        "\"json_object\" or \"json_schema\"");
}

static cove_status js_schema(struct rq *q, json_t *v, void *out)
{
    if (!json_is_object(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'schema' must be an object");
    return rq_dump(q, v, 0, &CHAT(out)->schema);
}

static cove_status rf_json_schema(struct rq *q, json_t *v, void *out)
{
    static const struct rq_field fields[] = {{"name", f_ignored_str}, {"description", f_ignored_str},
                                             {"schema", js_schema}, {"strict", tf_bool}};
    return rq_object(q, v, fields, N_OF(fields), out);
}

static cove_status f_response_format(struct rq *q, json_t *v, void *out)
{
    static const struct rq_field fields[] = {{"type", rf_type}, {"json_schema", rf_json_schema}};
    cove_status st = rq_object(q, v, fields, N_OF(fields), out);
    if (st == COVE_OK && CHAT(out)->format == COVE_SERVER_FORMAT_JSON_SCHEMA && !CHAT(out)->schema)
        return rq_fail(q, COVE_ERR_FORMAT, "type json_schema needs json_schema.schema");
    return st;
}

/* ---------------------------------------------------------- the others */

static cove_status f_model(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &CHAT(out)->model);
}

static cove_status f_max_tokens(struct rq *q, json_t *v, void *out)
{
    return rq_int32(q, v, 1, COVE_SERVER_MAX_TOKENS, &CHAT(out)->gen.max_tokens);
}

static cove_status f_temperature(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 2, &CHAT(out)->gen.temperature);
}

static cove_status f_top_p(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 1, &CHAT(out)->gen.top_p);
}

static cove_status f_top_k(struct rq *q, json_t *v, void *out)
{
    return rq_int32(q, v, 0, COVE_MAX_VOCAB, &CHAT(out)->gen.top_k);
}

static cove_status f_min_p(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 1, &CHAT(out)->gen.min_p);
}

static cove_status f_repeat_penalty(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 100, &CHAT(out)->gen.repeat_penalty);
}

static cove_status f_stop(struct rq *q, json_t *v, void *out)
{
    return rq_stop(q, v, &CHAT(out)->gen);
}

static cove_status f_seed(struct rq *q, json_t *v, void *out)
{
    return rq_seed(q, v, &CHAT(out)->gen);
}

static cove_status f_stream(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &CHAT(out)->gen.stream);
}

static cove_status so_usage(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &CHAT(out)->include_usage);
}

static cove_status f_stream_options(struct rq *q, json_t *v, void *out)
{
    static const struct rq_field fields[] = {{"include_usage", so_usage}};
    return rq_object(q, v, fields, N_OF(fields), out);
}

static cove_status f_logprobs(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &CHAT(out)->logprobs);
}

static cove_status f_top_logprobs(struct rq *q, json_t *v, void *out)
{
    long long x = 0;
    cove_status st = rq_int(q, v, 0, COVE_SERVER_MAX_TOP_LOGPROBS, &x);
    CHAT(out)->top_logprobs = (int)x;
    return st;
}

static cove_status f_n(struct rq *q, json_t *v, void *out)
{
    long long x = 0;
    cove_status st = rq_int(q, v, 1, 128, &x);
    if (st == COVE_OK && x != 1)
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "'n' must be 1: cove returns one choice");
    return st;
}

static cove_status f_penalty(struct rq *q, json_t *v, void *out)
{
    float x = 0;
    cove_status st = rq_float(q, v, -2, 2, &x);
    if (st == COVE_OK && x != 0)
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "'%s' is not supported (only 0); use "
                       "repeat_penalty", q->path);
    return st;
}

static cove_status f_logit_bias(struct rq *q, json_t *v, void *out)
{
    if (!json_is_object(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'logit_bias' must be an object");
    return json_object_size(v) ? rq_fail(q, COVE_ERR_UNSUPPORTED, "'logit_bias' is not supported")
                               : COVE_OK;
}

static const struct rq_field chat_fields[] = {
    {"model", f_model},
    {"messages", f_messages},
    {"tools", f_tools},
    {"tool_choice", f_tool_choice},
    {"parallel_tool_calls", f_parallel},
    {"response_format", f_response_format},
    {"max_tokens", f_max_tokens},
    {"max_completion_tokens", f_max_tokens},
    {"temperature", f_temperature},
    {"top_p", f_top_p},
    {"top_k", f_top_k},
    {"min_p", f_min_p},
    {"repeat_penalty", f_repeat_penalty},
    {"stop", f_stop},
    {"seed", f_seed},
    {"stream", f_stream},
    {"stream_options", f_stream_options},
    {"logprobs", f_logprobs},
    {"top_logprobs", f_top_logprobs},
    {"n", f_n},
    {"presence_penalty", f_penalty},
    {"frequency_penalty", f_penalty},
    {"logit_bias", f_logit_bias},
    {"user", f_ignored_str},
};

static cove_status check_chat(struct rq *q, struct cove_server_chat_req *r)
{
    if (!r->model)
        return rq_fail_at(q, "model", COVE_ERR_FORMAT, "'model' is required");
    if (!r->messages)
        return rq_fail_at(q, "messages", COVE_ERR_FORMAT, "'messages' is required");
    if (r->n_tools == 0 && (r->tool_choice == COVE_SERVER_TOOLS_REQUIRED ||
                            r->tool_choice == COVE_SERVER_TOOLS_FUNCTION))
        return rq_fail_at(q, "tool_choice", COVE_ERR_FORMAT, "'tool_choice' asks for a call "
                          "but there are no tools");
    for (size_t i = 0; r->tool_choice == COVE_SERVER_TOOLS_FUNCTION && i < r->n_tools; i++)
        if (strcmp(r->tools[i].name, r->tool_choice_name) == 0)
            return COVE_OK;
    if (r->tool_choice == COVE_SERVER_TOOLS_FUNCTION)
        return rq_fail_at(q, "tool_choice", COVE_ERR_FORMAT, "'tool_choice' names a function "
                          "that is not among the tools");
    return COVE_OK;
}

cove_status cove_server_parse_chat(const char *body, size_t len, cove_arena *a,
                                   struct cove_server_chat_req *out, char *param,
                                   cove_error *err)
{
    struct rq q;
    json_t *root = NULL;
    rq_init(&q, a, param, err);
    memset(out, 0, sizeof *out);
    rq_gen_defaults_openai(&out->gen);
    out->parallel_tool_calls = 1;
    cove_status st = rq_load(&q, body, len, &root);
    if (st == COVE_OK)
        st = rq_object(&q, root, chat_fields, N_OF(chat_fields), out);
    if (st == COVE_OK)
        st = check_chat(&q, out);
    json_decref(root);
    return st;
}
