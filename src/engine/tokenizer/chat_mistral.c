/*
 * chat_mistral.c - mistral's [INST] layouts.
 *
 * v1 (mistral 7b v0.1, v0.2):
 *   <s> [INST] System\n\nHello [/INST] Hi</s> [INST] More [/INST]
 *   The system text opens the first user turn; turns alternate user/assistant;
 *   nothing is stripped. Tools are lowered to plain turns before this runs.
 *
 * v3 (mistral 7b v0.3) and v3-tekken (mistral nemo, the same without spaces):
 *   <s>[INST] Hello[/INST] Hi</s>[AVAILABLE_TOOLS] [{...}][/AVAILABLE_TOOLS][INST] System\n\nMore[/INST]
 *   [TOOL_CALLS] [{"name": ..., "arguments": ..., "id": "abcdefghi"}]</s>
 *   [TOOL_RESULTS] {"content": ..., "call_id": "abcdefghi"}[/TOOL_RESULTS]
 *   The system text and the tool list go only into the LAST user turn, and the
 *   system text only when that turn is the last message (the template drops it
 *   otherwise). Call ids must be 9 characters. There is no generation prompt.
 */
#include <string.h>

#include "engine/tokenizer/chat_int.h"

cove_status cove_chat_render_mistral_v1(struct chat_ctx *c)
{
    cove_status st = cove_chat_check_alternation(c, "mistral-v1");
    if (st != COVE_OK)
        return st;
    size_t start = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM ? 1 : 0;
    cove_chat_puts(c->out, c->bos);
    for (size_t i = start; i < c->n; i++) {
        const struct chat_msg *m = &c->m[i];
        if (m->role == COVE_CHAT_ASSISTANT) {
            cove_chat_put(c->out, " ", 1);
            cove_chat_put(c->out, m->text, m->len);
            cove_chat_puts(c->out, c->eos);
            continue;
        }
        cove_chat_puts(c->out, " [INST] ");
        if (i == 1 && start == 1) {
            cove_chat_put(c->out, c->m[0].text, c->m[0].len);
            cove_chat_put(c->out, "\n\n", 2);
        }
        cove_chat_put(c->out, m->text, m->len);
        cove_chat_puts(c->out, " [/INST]");
    }
    return COVE_OK;
}

/* ---- v3 ---- */

struct v3 {
    const struct chat_ctx *c;
    int tekken;       /* no spaces after the markers */
    size_t start;     /* first message after the optional system message */
    size_t last_user; /* index of the last user message, c->n when none */
};

/* Calls and results are left out of the alternation check, as the template does. */
static cove_status v3_check(const struct v3 *v)
{
    size_t k = 0;
    for (size_t i = v->start; i < v->c->n; i++) {
        const struct chat_msg *m = &v->c->m[i];
        if (m->role == COVE_CHAT_TOOL || (m->src && m->src->n_tool_calls > 0))
            continue;
        enum cove_chat_role want = k++ % 2 == 0 ? COVE_CHAT_USER : COVE_CHAT_ASSISTANT;
        if (m->role != want)
            return cove_error_set(v->c->err, COVE_ERR_INVALID_ARG,
                                  "mistral-v3: message %zu is %s where %s was expected: after an "
                                  "optional first system message, user and assistant turns "
                                  "must alternate",
                                  i, cove_chat_role_name(m->role), cove_chat_role_name(want));
    }
    return COVE_OK;
}

/* Checks a call id the way the template does: present, 9 characters. */
static cove_status v3_id(const struct v3 *v, const char *id, size_t i)
{
    if (id && strlen(id) == 9)
        return COVE_OK;
    return cove_error_set(v->c->err, COVE_ERR_INVALID_ARG,
                          "mistral-v3: message %zu: tool call ids must be 9 characters (got %s)",
                          i, id ? id : "none");
}

static void v3_tools(const struct v3 *v)
{
    const struct cove_chat_options *opt = v->c->opt;
    cove_chat_puts(v->c->out, v->tekken ? "[AVAILABLE_TOOLS][" : "[AVAILABLE_TOOLS] [");
    for (size_t k = 0; k < opt->n_tools; k++) {
        if (k > 0)
            cove_chat_puts(v->c->out, ", ");
        cove_chat_puts(v->c->out, opt->tools[k]);
    }
    cove_chat_puts(v->c->out, "][/AVAILABLE_TOOLS]");
}

static void v3_user(const struct v3 *v, size_t i)
{
    const struct chat_ctx *c = v->c;
    const struct chat_msg *m = &c->m[i], *last = &c->m[v->last_user];
    /* the template compares messages by value: an equal earlier turn gets the list too */
    if (c->opt->n_tools > 0 && m->len == last->len && memcmp(m->text, last->text, m->len) == 0)
        v3_tools(v);
    cove_chat_puts(c->out, v->tekken ? "[INST]" : "[INST] ");
    if (i + 1 == c->n && v->start == 1) {
        cove_chat_put(c->out, c->m[0].text, c->m[0].len);
        cove_chat_put(c->out, "\n\n", 2);
    }
    cove_chat_put(c->out, m->text, m->len);
    cove_chat_puts(c->out, "[/INST]");
}

static cove_status v3_calls(const struct v3 *v, size_t i)
{
    const struct cove_chat_message *src = v->c->m[i].src;
    struct chat_out *o = v->c->out;
    cove_chat_puts(o, v->tekken ? "[TOOL_CALLS][" : "[TOOL_CALLS] [");
    for (size_t k = 0; k < src->n_tool_calls; k++) {
        const struct cove_chat_tool_call *tc = &src->tool_calls[k];
        cove_status st = v3_id(v, tc->id, i);
        if (st != COVE_OK)
            return st;
        if (k > 0)
            cove_chat_puts(o, ", ");
        cove_chat_puts(o, "{\"name\": ");
        cove_chat_put_json_string(o, tc->name, strlen(tc->name));
        cove_chat_puts(o, ", \"arguments\": ");
        cove_chat_puts(o, tc->arguments ? tc->arguments : "{}");
        cove_chat_puts(o, ", \"id\": \"");
        cove_chat_puts(o, tc->id);
        cove_chat_puts(o, "\"}");
    }
    cove_chat_puts(o, "]");
    cove_chat_puts(o, v->c->eos);
    return COVE_OK;
}

static cove_status v3_message(const struct v3 *v, size_t i)
{
    const struct chat_ctx *c = v->c;
    const struct chat_msg *m = &c->m[i];
    if (m->role == COVE_CHAT_USER) {
        v3_user(v, i);
    } else if (m->src && m->src->n_tool_calls > 0) {
        return v3_calls(v, i);
    } else if (m->role == COVE_CHAT_ASSISTANT) {
        cove_chat_puts(c->out, v->tekken ? "" : " ");
        if (v->tekken)
            cove_chat_put(c->out, m->text, m->len);
        else
            cove_chat_put_trim(c->out, m->text, m->len);
        cove_chat_puts(c->out, c->eos);
    } else if (m->role == COVE_CHAT_TOOL) {
        cove_status st = v3_id(v, m->src->tool_call_id, i);
        if (st != COVE_OK)
            return st;
        cove_chat_puts(c->out, v->tekken ? "[TOOL_RESULTS]{\"content\": "
                                         : "[TOOL_RESULTS] {\"content\": ");
        cove_chat_put(c->out, m->text, m->len);
        cove_chat_puts(c->out, ", \"call_id\": \"");
        cove_chat_puts(c->out, m->src->tool_call_id);
        cove_chat_puts(c->out, "\"}[/TOOL_RESULTS]");
    } else {
        return cove_error_set(c->err, COVE_ERR_INVALID_ARG,
                              "mistral-v3: message %zu: a system message is only allowed first", i);
    }
    return COVE_OK;
}

cove_status cove_chat_render_mistral_v3(struct chat_ctx *c)
{
    struct v3 v = {c, c->family == COVE_CHAT_MISTRAL_V3_TEKKEN, 0, c->n};
    v.start = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM ? 1 : 0;
    for (size_t i = v.start; i < c->n; i++)
        if (c->m[i].role == COVE_CHAT_USER)
            v.last_user = i;
    cove_status st = v3_check(&v);
    if (st != COVE_OK)
        return st;
    cove_chat_puts(c->out, c->bos);
    for (size_t i = v.start; i < c->n && st == COVE_OK; i++)
        st = v3_message(&v, i);
    return st;
}
