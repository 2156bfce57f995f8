/*
 * chat_tools.c - tools in chat prompts: the qwen way of writing tool lists,
 * calls and results, the json.dumps(indent=4) re-indenter llama 3.1 needs, and
 * the lowering pass that gives families without a tool convention plain turns.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/tokenizer/chat_int.h"

/* ---- json.dumps(indent=4) of JSON text ---- */

static int json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && json_ws(s[i]))
        i++;
    return i;
}

/* s[i] is '"': the index after the closing quote, or n + 1 when there is none. */
static size_t json_string_end(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n + 1;
}

static void newline_indent(struct chat_out *o, long depth)
{
    cove_chat_put(o, "\n", 1);
    for (long d = 0; d < depth && o->st == COVE_OK; d++)
        cove_chat_put(o, "    ", 4);
}

/* A scalar (number, true, false, null) runs until a structural character or white space. */
static size_t scalar_end(const char *s, size_t n, size_t i)
{
    while (i < n && !json_ws(s[i]) && !strchr("{}[],:\"", s[i]))
        i++;
    return i;
}

/* Nesting of the value being re-indented: the open brackets, innermost last. */
struct json_nest {
    char open[COVE_CHAT_MAX_JSON_DEPTH];
    long depth;
};

/* Write one structural character; returns 0 when the brackets do not match. */
static int put_structural(struct chat_out *o, const char *s, size_t n, size_t *i, struct json_nest *nest)
{
    char c = s[*i];
    if (c == '{' || c == '[') {
        size_t j = skip_ws(s, n, *i + 1);
        char close = c == '{' ? '}' : ']';
        if (j < n && s[j] == close) { /* json.dumps writes empty containers as {} and [] */
            cove_chat_put(o, s + *i, 1);
            cove_chat_put(o, &close, 1);
            *i = j + 1;
            return 1;
        }
        if (nest->depth == COVE_CHAT_MAX_JSON_DEPTH)
            return 0;
        nest->open[nest->depth++] = c;
        cove_chat_put(o, &c, 1);
        newline_indent(o, nest->depth);
    } else if (c == '}' || c == ']') {
        if (nest->depth == 0 || nest->open[nest->depth - 1] != (c == '}' ? '{' : '['))
            return 0;
        newline_indent(o, --nest->depth);
        cove_chat_put(o, &c, 1);
    } else if (c == ',') {
        cove_chat_put(o, ",", 1);
        newline_indent(o, nest->depth);
    } else {
        cove_chat_put(o, ": ", 2);
    }
    (*i)++;
    return 1;
}

int cove_chat_put_json_indented(struct chat_out *o, const char *s, size_t n)
{
    struct json_nest nest;
    size_t i = 0;
    nest.depth = 0;
    while (i < n && o->st == COVE_OK) {
        size_t j;
        if (json_ws(s[i])) {
            i++;
        } else if (s[i] == '"') {
            j = json_string_end(s, n, i);
            if (j > n)
                return 0;
            cove_chat_put(o, s + i, j - i);
            i = j;
        } else if (strchr("{}[],:", s[i])) {
            if (!put_structural(o, s, n, &i, &nest))
                return 0;
        } else {
            j = scalar_end(s, n, i);
            cove_chat_put(o, s + i, j - i);
            i = j;
        }
    }
    return o->st != COVE_OK || nest.depth == 0; /* a failed append is reported by the status */
}

/* ---- the qwen tool convention ---- */

void cove_chat_put_qwen_call(struct chat_out *o, const struct cove_chat_tool_call *tc)
{
    cove_chat_puts(o, "<tool_call>\n{\"name\": \"");
    cove_chat_puts(o, tc->name);
    cove_chat_puts(o, "\", \"arguments\": ");
    cove_chat_puts(o, tc->arguments ? tc->arguments : "{}");
    cove_chat_puts(o, "}\n</tool_call>");
}

void cove_chat_put_qwen_tools(struct chat_out *o, const struct cove_chat_options *opt)
{
    cove_chat_puts(o, "# Tools\n\nYou may call one or more functions to assist with the user "
                      "query.\n\nYou are provided with function signatures within <tools></tools> "
                      "XML tags:\n<tools>");
    for (size_t i = 0; i < opt->n_tools; i++) {
        cove_chat_put(o, "\n", 1);
        cove_chat_puts(o, opt->tools[i]);
    }
    cove_chat_puts(o, "\n</tools>\n\nFor each function call, return a json object with function "
                      "name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                      "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
}

/* ---- lowering tools to plain turns ---- */

struct chat_lowered {
    struct chat_msg *m; /* n + 1 slots: a system turn may be added */
    size_t n;
    char **texts; /* the texts this list owns */
    size_t n_texts;
};

void cove_chat_lowered_free(struct chat_lowered *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_texts; i++)
        cove_free(l->texts[i]);
    cove_free(l->texts);
    cove_free(l->m);
    cove_free(l);
}

/* Append a turn whose text is what `tmp` holds; the list takes the memory. */
static cove_status add_owned(struct chat_lowered *l, struct chat_out *tmp, enum cove_chat_role role)
{
    cove_status st = tmp->st;
    if (st == COVE_OK)
        st = cove_buf_reserve(&tmp->b, 0); /* so that even "" has memory to detach */
    if (st != COVE_OK) {
        cove_buf_release(&tmp->b);
        return st;
    }
    struct chat_msg *m = &l->m[l->n++];
    m->role = role;
    m->text = l->texts[l->n_texts++] = cove_buf_detach(&tmp->b, &m->len);
    m->src = NULL;
    return COVE_OK;
}

/* The system turn carrying the tool list; *next is the first message still to do. */
static cove_status lower_system(const struct chat_ctx *c, struct chat_lowered *l, size_t *next)
{
    *next = 0;
    if (c->opt->n_tools == 0)
        return COVE_OK;
    struct chat_out tmp;
    cove_chat_out_init(&tmp, COVE_CHAT_MAX_PROMPT_BYTES);
    if (c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM) {
        cove_chat_put(&tmp, c->m[0].text, c->m[0].len);
        cove_chat_put(&tmp, "\n\n", 2);
        *next = 1;
    }
    cove_chat_put_qwen_tools(&tmp, c->opt);
    return add_owned(l, &tmp, COVE_CHAT_SYSTEM);
}

static cove_status lower_calls(struct chat_lowered *l, const struct chat_msg *m)
{
    struct chat_out tmp;
    cove_chat_out_init(&tmp, COVE_CHAT_MAX_PROMPT_BYTES);
    cove_chat_put(&tmp, m->text, m->len);
    for (size_t k = 0; k < m->src->n_tool_calls; k++) {
        if (k > 0 || m->len > 0)
            cove_chat_put(&tmp, "\n", 1);
        cove_chat_put_qwen_call(&tmp, &m->src->tool_calls[k]);
    }
    return add_owned(l, &tmp, COVE_CHAT_ASSISTANT);
}

/* A run of tool results becomes one user turn; *i moves past the run. */
static cove_status lower_results(const struct chat_ctx *c, struct chat_lowered *l, size_t *i)
{
    struct chat_out tmp;
    cove_chat_out_init(&tmp, COVE_CHAT_MAX_PROMPT_BYTES);
    for (size_t first = *i; *i < c->n && c->m[*i].role == COVE_CHAT_TOOL; (*i)++) {
        if (*i > first)
            cove_chat_put(&tmp, "\n", 1);
        cove_chat_puts(&tmp, "<tool_response>\n");
        cove_chat_put(&tmp, c->m[*i].text, c->m[*i].len);
        cove_chat_puts(&tmp, "\n</tool_response>");
    }
    return add_owned(l, &tmp, COVE_CHAT_USER);
}

static cove_status lower_all(const struct chat_ctx *c, struct chat_lowered *l)
{
    size_t i;
    cove_status st = lower_system(c, l, &i);
    while (st == COVE_OK && i < c->n) {
        const struct chat_msg *m = &c->m[i];
        if (m->role == COVE_CHAT_TOOL) {
            st = lower_results(c, l, &i);
        } else if (m->role == COVE_CHAT_ASSISTANT && m->src && m->src->n_tool_calls > 0) {
            st = lower_calls(l, m);
            i++;
        } else {
            l->m[l->n++] = *m;
            i++;
        }
    }
    return st;
}

cove_status cove_chat_lower_tools(struct chat_ctx *c, struct chat_lowered **owned)
{
    *owned = NULL;
    struct chat_lowered *l = cove_calloc(1, sizeof *l);
    if (!l)
        return COVE_ERR_NOMEM;
    l->m = cove_calloc(c->n + 1, sizeof *l->m);
    l->texts = cove_calloc(c->n + 1, sizeof *l->texts);
    cove_status st = l->m && l->texts ? lower_all(c, l) : COVE_ERR_NOMEM;
    if (st != COVE_OK) {
        cove_chat_lowered_free(l);
        return st;
    }
    c->m = l->m;
    c->n = l->n;
    *owned = l;
    return COVE_OK;
}

cove_status cove_chat_check_alternation(const struct chat_ctx *c, const char *family)
{
    size_t start = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM ? 1 : 0;
    for (size_t i = start; i < c->n; i++) {
        enum cove_chat_role want = (i - start) % 2 == 0 ? COVE_CHAT_USER : COVE_CHAT_ASSISTANT;
        if (c->m[i].role != want)
            return cove_error_set(c->err, COVE_ERR_INVALID_ARG,
                                  "%s: turn %zu is %s where %s was expected: after an optional "
                                  "first system message turns must alternate user/assistant",
                                  family, i, cove_chat_role_name(c->m[i].role),
                                  cove_chat_role_name(want));
    }
    return COVE_OK;
}
