/*
 * chat_phi3.c - phi 3 and 3.5 (the phi-3.5-mini template).
 *
 *   <|system|>\nSystem text<|end|>\n
 *   <|user|>\nHello<|end|>\n
 *   <|assistant|>\n                               (generation prompt)
 *
 * An empty system message writes nothing. Without a generation prompt the
 * template ends the text with the EOS text instead. Tools are lowered to plain
 * turns before this runs.
 */
#include "engine/tokenizer/chat_int.h"

cove_status cove_chat_render_phi3(struct chat_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct chat_msg *m = &c->m[i];
        if (m->role == COVE_CHAT_SYSTEM && m->len == 0)
            continue;
        cove_chat_puts(c->out, "<|");
        cove_chat_puts(c->out, cove_chat_role_name(m->role));
        cove_chat_puts(c->out, "|>\n");
        cove_chat_put(c->out, m->text, m->len);
        cove_chat_puts(c->out, "<|end|>\n");
    }
    if (c->opt->add_generation_prompt)
        cove_chat_puts(c->out, "<|assistant|>\n");
    else
        cove_chat_puts(c->out, c->eos);
    return COVE_OK;
}
