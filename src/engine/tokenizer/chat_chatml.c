/*
 * chat_chatml.c - ChatML: qwen2 / qwen2.5 / smollm / smollm2 / generic, and qwen3.
 *
 *   <|im_start|>system\nYou are ...<|im_end|>\n
 *   <|im_start|>user\nHello<|im_end|>\n
 *   <|im_start|>assistant\n                      (generation prompt)
 *
 * Tools follow the qwen2.5 template: the "# Tools" block closes the system
 * turn, calls are <tool_call> blocks inside the assistant turn, and a run of
 * tool results becomes one user turn of <tool_response> blocks. qwen3 adds
 * <think> blocks: reasoning is kept only in the assistant turns after the last
 * real user query, and the last assistant turn always gets one.
 */
#include <string.h>

#include "engine/tokenizer/chat_int.h"

static void put_turn(struct chat_out *o, const char *role, const char *s, size_t n)
{
    cove_chat_puts(o, "<|im_start|>");
    cove_chat_puts(o, role);
    cove_chat_put(o, "\n", 1);
    cove_chat_put(o, s, n);
    cove_chat_puts(o, "<|im_end|>\n");
}

/* The first system turn, with the tool list and the default system text folded in. */
static void put_system(const struct chat_ctx *c, int first_is_system)
{
    const char *def = c->family == COVE_CHAT_QWEN3 ? NULL : c->opt->default_system;
    if (c->opt->n_tools == 0) {
        if (first_is_system)
            put_turn(c->out, "system", c->m[0].text, c->m[0].len);
        else if (def && c->n > 0)
            put_turn(c->out, "system", def, strlen(def));
        return;
    }
    cove_chat_puts(c->out, "<|im_start|>system\n");
    if (first_is_system) {
        cove_chat_put(c->out, c->m[0].text, c->m[0].len);
        cove_chat_put(c->out, "\n\n", 2);
    } else if (def) {
        cove_chat_puts(c->out, def);
        cove_chat_put(c->out, "\n\n", 2);
    }
    cove_chat_put_qwen_tools(c->out, c->opt);
    cove_chat_puts(c->out, "<|im_end|>\n");
}

/* Tool results: a run of them shares one user turn. */
static void put_tool_result(const struct chat_ctx *c, size_t i)
{
    if (i == 0 || c->m[i - 1].role != COVE_CHAT_TOOL)
        cove_chat_puts(c->out, "<|im_start|>user");
    cove_chat_puts(c->out, "\n<tool_response>\n");
    cove_chat_put(c->out, c->m[i].text, c->m[i].len);
    cove_chat_puts(c->out, "\n</tool_response>");
    if (i + 1 == c->n || c->m[i + 1].role != COVE_CHAT_TOOL)
        cove_chat_puts(c->out, "<|im_end|>\n");
}

/* Tool calls after the assistant text: each on a new line, the first only after text. */
static void put_calls(const struct chat_ctx *c, const struct chat_msg *m, size_t text_len)
{
    for (size_t k = 0; k < m->src->n_tool_calls; k++) {
        if (k > 0 || text_len > 0)
            cove_chat_put(c->out, "\n", 1);
        cove_chat_put_qwen_call(c->out, &m->src->tool_calls[k]);
    }
}

static void put_generation_prompt(const struct chat_ctx *c)
{
    if (!c->opt->add_generation_prompt)
        return;
    cove_chat_puts(c->out, "<|im_start|>assistant\n");
    if (c->family == COVE_CHAT_QWEN3 && !c->opt->enable_thinking)
        cove_chat_puts(c->out, "<think>\n\n</think>\n\n");
}

static int has_calls(const struct chat_msg *m)
{
    return m->src && m->src->n_tool_calls > 0;
}

cove_status cove_chat_render_chatml(struct chat_ctx *c)
{
    int first_sys = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM;
    put_system(c, first_sys);
    for (size_t i = first_sys ? 1 : 0; i < c->n; i++) {
        const struct chat_msg *m = &c->m[i];
        if (m->role == COVE_CHAT_TOOL) {
            put_tool_result(c, i);
        } else if (has_calls(m)) {
            cove_chat_puts(c->out, "<|im_start|>assistant");
            if (m->len > 0) {
                cove_chat_put(c->out, "\n", 1);
                cove_chat_put(c->out, m->text, m->len);
            }
            put_calls(c, m, 1); /* qwen2.5 writes a newline before every call */
            cove_chat_puts(c->out, "<|im_end|>\n");
        } else {
            put_turn(c->out, cove_chat_role_name(m->role), m->text, m->len);
        }
    }
    put_generation_prompt(c);
    return COVE_OK;
}

/* ---- qwen3 ---- */

/* Index of the last user turn that is a real query, not wrapped tool output. */
static size_t last_query_index(const struct chat_ctx *c)
{
    static const char open[] = "<tool_response>", close[] = "</tool_response>";
    for (size_t i = c->n; i-- > 0;) {
        const struct chat_msg *m = &c->m[i];
        if (m->role != COVE_CHAT_USER)
            continue;
        int wrapped = m->len >= sizeof open - 1 && memcmp(m->text, open, sizeof open - 1) == 0 &&
                      m->len >= sizeof close - 1 &&
                      memcmp(m->text + m->len - (sizeof close - 1), close, sizeof close - 1) == 0;
        if (!wrapped)
            return i;
    }
    return c->n > 0 ? c->n - 1 : 0;
}

struct qwen3_split {
    const char *reason, *text;
    size_t reason_len, text_len;
};

/* Split an assistant turn into reasoning and answer as the qwen3 template does. */
static void qwen3_split(const struct chat_msg *m, struct qwen3_split *q)
{
    q->reason = "";
    q->reason_len = 0;
    q->text = m->text;
    q->text_len = m->len;
    if (m->src && m->src->reasoning) {
        q->reason = m->src->reasoning;
        q->reason_len = strlen(q->reason);
        return;
    }
    const char *first_end = cove_chat_find(m->text, m->len, "</think>");
    if (!first_end)
        return;
    /* reasoning: before the first </think>, right-stripped of newlines, after the last <think> */
    const char *s = m->text;
    size_t before = (size_t)(first_end - s);
    cove_chat_span_strip_nl(&s, &before, 2);
    const char *open = cove_chat_find_last(s, before, "<think>");
    q->reason = open ? open + 7 : s;
    q->reason_len = before - (size_t)(q->reason - s);
    cove_chat_span_strip_nl(&q->reason, &q->reason_len, 1);
    /* answer: after the last </think>, left-stripped of newlines */
    const char *last_end = cove_chat_find_last(m->text, m->len, "</think>") + 8;
    q->text = last_end;
    q->text_len = m->len - (size_t)(last_end - m->text);
    cove_chat_span_strip_nl(&q->text, &q->text_len, 1);
}

static void qwen3_assistant(const struct chat_ctx *c, size_t i, size_t last_query)
{
    struct qwen3_split q;
    qwen3_split(&c->m[i], &q);
    cove_chat_puts(c->out, "<|im_start|>assistant\n");
    if (i > last_query && (i + 1 == c->n || q.reason_len > 0)) {
        const char *r = q.reason, *t = q.text;
        size_t rn = q.reason_len, tn = q.text_len;
        cove_chat_span_strip_nl(&r, &rn, 3);
        cove_chat_span_strip_nl(&t, &tn, 1);
        cove_chat_puts(c->out, "<think>\n");
        cove_chat_put(c->out, r, rn);
        cove_chat_puts(c->out, "\n</think>\n\n");
        cove_chat_put(c->out, t, tn);
    } else {
        cove_chat_put(c->out, q.text, q.text_len);
    }
    if (has_calls(&c->m[i]))
        put_calls(c, &c->m[i], q.text_len);
    cove_chat_puts(c->out, "<|im_end|>\n");
}

cove_status cove_chat_render_qwen3(struct chat_ctx *c)
{
    int first_sys = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM;
    size_t last_query = last_query_index(c);
    put_system(c, first_sys);
    for (size_t i = first_sys ? 1 : 0; i < c->n; i++) {
        const struct chat_msg *m = &c->m[i];
        if (m->role == COVE_CHAT_TOOL)
            put_tool_result(c, i);
        else if (m->role == COVE_CHAT_ASSISTANT)
            qwen3_assistant(c, i, last_query);
        else
            put_turn(c->out, cove_chat_role_name(m->role), m->text, m->len);
    }
    put_generation_prompt(c);
    return COVE_OK;
}
