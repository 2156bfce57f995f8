/*
 * chat_llama.c - llama 2, llama 3.0 and llama 3.1 / 3.2 / 3.3.
 *
 * llama 2:   <s>[INST] <<SYS>>\nSystem\n<</SYS>>\n\nHello [/INST] Hi </s><s>[INST] More [/INST]
 *            (every user turn opens with the BOS text, text is stripped, turns
 *            alternate user/assistant, and there is no generation prompt).
 * llama 3.0: <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>
 *            ... <|start_header_id|>assistant<|end_header_id|>\n\n (generation prompt)
 * llama 3.1: as 3.0, but the system turn always exists and starts with the knowledge
 *            cut-off and today's date; tools go into the first user turn (JSON
 *            indented by 4), a call is {"name": ..., "parameters": ...} in an
 *            assistant turn, and a result is an ipython turn holding the result as
 *            a JSON string (the template applies tojson to the text).
 * llama 2 and 3.0 get tools lowered to plain turns before they run.
 */
#include <string.h>

#include "base/limits.h"
#include "engine/tokenizer/chat_int.h"

static void put_header(struct chat_out *o, const char *role)
{
    cove_chat_puts(o, "<|start_header_id|>");
    cove_chat_puts(o, role);
    cove_chat_puts(o, "<|end_header_id|>\n\n");
}

static void put_generation_prompt(const struct chat_ctx *c)
{
    if (c->opt->add_generation_prompt)
        put_header(c->out, "assistant");
}

cove_status cove_chat_render_llama3(struct chat_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (i == 0)
            cove_chat_puts(c->out, c->bos);
        put_header(c->out, cove_chat_role_name(c->m[i].role));
        cove_chat_put_trim(c->out, c->m[i].text, c->m[i].len);
        cove_chat_puts(c->out, "<|eot_id|>");
    }
    put_generation_prompt(c);
    return COVE_OK;
}

/* ---- llama 3.1 ---- */

static const char llama31_tool_rules[] =
    "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name "
    "and its value}.Do not use variables.\n\n";

static void llama31_system(const struct chat_ctx *c, int first_is_system)
{
    cove_chat_puts(c->out, c->bos);
    put_header(c->out, "system");
    if (c->opt->n_tools > 0)
        cove_chat_puts(c->out, "Environment: ipython\n");
    cove_chat_puts(c->out, "Cutting Knowledge Date: December 2023\nToday Date: ");
    cove_chat_puts(c->out, c->opt->date ? c->opt->date : "26 Jul 2024");
    cove_chat_puts(c->out, "\n\n");
    if (first_is_system)
        cove_chat_put_trim(c->out, c->m[0].text, c->m[0].len);
    cove_chat_puts(c->out, "<|eot_id|>");
}

/* The tool list and the first message after the system turn, as one user turn. */
static cove_status llama31_tools_turn(const struct chat_ctx *c, size_t first)
{
    if (first >= c->n)
        return cove_error_set(c->err, COVE_ERR_INVALID_ARG,
                              "llama3.1: tools go into the first user message, and there is none");
    put_header(c->out, "user");
    cove_chat_puts(c->out, "Given the following functions, please respond with a JSON for a "
                           "function call with its proper arguments that best answers the given "
                           "prompt.\n\n");
    cove_chat_puts(c->out, llama31_tool_rules);
    for (size_t k = 0; k < c->opt->n_tools; k++) {
        const char *t = c->opt->tools[k];
        if (!cove_chat_put_json_indented(c->out, t, strlen(t)))
            return cove_error_set(c->err, COVE_ERR_FORMAT,
                                  "llama3.1: tool %zu is not well-formed JSON (or nests deeper than %d)", k,
                                  COVE_CHAT_MAX_JSON_DEPTH);
        cove_chat_puts(c->out, "\n\n");
    }
    cove_chat_put_trim(c->out, c->m[first].text, c->m[first].len);
    cove_chat_puts(c->out, "<|eot_id|>");
    return COVE_OK;
}

static cove_status llama31_call(const struct chat_ctx *c, size_t i)
{
    const struct cove_chat_message *src = c->m[i].src;
    if (src->n_tool_calls != 1)
        return cove_error_set(c->err, COVE_ERR_INVALID_ARG,
                              "llama3.1: message %zu has %zu tool calls; the template allows "
                              "one per assistant turn",
                              i, src->n_tool_calls);
    const struct cove_chat_tool_call *tc = &src->tool_calls[0];
    put_header(c->out, "assistant");
    cove_chat_puts(c->out, "{\"name\": \"");
    cove_chat_puts(c->out, tc->name);
    cove_chat_puts(c->out, "\", \"parameters\": ");
    cove_chat_puts(c->out, tc->arguments ? tc->arguments : "{}");
    cove_chat_puts(c->out, "}<|eot_id|>");
    return COVE_OK;
}

static cove_status llama31_message(const struct chat_ctx *c, size_t i)
{
    const struct chat_msg *m = &c->m[i];
    if (m->role == COVE_CHAT_TOOL) {
        put_header(c->out, "ipython");
        cove_chat_put_json_string(c->out, m->text, m->len);
        cove_chat_puts(c->out, "<|eot_id|>");
    } else if (m->src && m->src->n_tool_calls > 0) {
        return llama31_call(c, i);
    } else {
        put_header(c->out, cove_chat_role_name(m->role));
        cove_chat_put_trim(c->out, m->text, m->len);
        cove_chat_puts(c->out, "<|eot_id|>");
    }
    return COVE_OK;
}

cove_status cove_chat_render_llama31(struct chat_ctx *c)
{
    int first_sys = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM;
    size_t i = first_sys ? 1 : 0;
    cove_status st = COVE_OK;
    llama31_system(c, first_sys);
    if (c->opt->n_tools > 0) {
        st = llama31_tools_turn(c, i);
        i++;
    }
    for (; i < c->n && st == COVE_OK; i++)
        st = llama31_message(c, i);
    if (st == COVE_OK)
        put_generation_prompt(c);
    return st;
}

/* ---- llama 2 ---- */

/*
 * The first user turn: "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + text, stripped as a
 * whole. "<<SYS>>" is not white space, so only the end is cut: the text's own
 * trailing space, and the blank line too when the text is nothing but space.
 */
static void put_sys_block(struct chat_out *o, const struct chat_msg *sys, const struct chat_msg *m)
{
    const char *t = m->text;
    size_t n = m->len;
    cove_chat_span_strip(&t, &n);
    cove_chat_puts(o, "<<SYS>>\n");
    cove_chat_put(o, sys->text, sys->len);
    cove_chat_puts(o, "\n<</SYS>>");
    if (n > 0) {
        cove_chat_puts(o, "\n\n");
        cove_chat_put(o, m->text, (size_t)(t - m->text) + n);
    }
}

cove_status cove_chat_render_llama2(struct chat_ctx *c)
{
    cove_status st = cove_chat_check_alternation(c, "llama2");
    if (st != COVE_OK)
        return st;
    size_t start = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM ? 1 : 0;
    for (size_t i = start; i < c->n; i++) {
        const struct chat_msg *m = &c->m[i];
        struct chat_out *o = c->out;
        if (m->role == COVE_CHAT_ASSISTANT) {
            cove_chat_put(o, " ", 1);
            cove_chat_put_trim(o, m->text, m->len);
            cove_chat_put(o, " ", 1);
            cove_chat_puts(o, c->eos);
            continue;
        }
        cove_chat_puts(o, c->bos);
        cove_chat_puts(o, "[INST] ");
        if (i == 1 && start == 1) {
            put_sys_block(o, &c->m[0], m);
        } else {
            cove_chat_put_trim(o, m->text, m->len);
        }
        cove_chat_puts(o, " [/INST]");
    }
    return COVE_OK;
}
