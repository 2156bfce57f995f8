/*
 * chat_gemma.c - gemma 2 and 3.
 *
 *   <bos><start_of_turn>user\nSystem text\n\nHello<end_of_turn>\n
 *   <start_of_turn>model\nHi<end_of_turn>\n
 *   <start_of_turn>model\n                        (generation prompt)
 *
 * There is no system role: as the gemma 3 template does, the system text and
 * a blank line open the first turn. Turn text is trimmed (Jinja's trim), the
 * system text is not. Turns must alternate user/model; the assistant role is
 * called "model". Tools are lowered to plain turns before this runs.
 */
#include "engine/tokenizer/chat_int.h"

cove_status cove_chat_render_gemma(struct chat_ctx *c)
{
    cove_status st = cove_chat_check_alternation(c, "gemma");
    if (st != COVE_OK)
        return st;
    size_t start = c->n > 0 && c->m[0].role == COVE_CHAT_SYSTEM ? 1 : 0;
    cove_chat_puts(c->out, c->bos);
    for (size_t i = start; i < c->n; i++) {
        const struct chat_msg *m = &c->m[i];
        cove_chat_puts(c->out, "<start_of_turn>");
        cove_chat_puts(c->out, m->role == COVE_CHAT_ASSISTANT ? "model" : "user");
        cove_chat_put(c->out, "\n", 1);
        if (i == start && start == 1) {
            cove_chat_put(c->out, c->m[0].text, c->m[0].len);
            cove_chat_put(c->out, "\n\n", 2);
        }
        cove_chat_put_trim(c->out, m->text, m->len);
        cove_chat_puts(c->out, "<end_of_turn>\n");
    }
    if (c->opt->add_generation_prompt)
        cove_chat_puts(c->out, "<start_of_turn>model\n");
    return COVE_OK;
}
