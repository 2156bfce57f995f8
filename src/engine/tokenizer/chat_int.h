/*
 * engine/tokenizer/chat_int.h - private parts of the chat templates (chat.h).
 *
 * cove_chat_format checks the caller's messages once, turns them into a
 * struct chat_msg list (a view: text and length, and the caller's message for
 * the tool fields) and hands it to the family's render function, one per
 * family in chat_<family>.c, registered in the table in chat.c. A renderer
 * writes into a struct chat_out, whose status is sticky: after the first
 * failed append every later one is skipped, so a renderer checks it once at
 * the end. Renderers report bad input (roles out of order, a missing id)
 * through cove_error_set and return that status.
 *
 * Families whose templates define no tool convention call cove_chat_lower_tools
 * first: it rewrites tool definitions, calls and results into plain system,
 * user and assistant text the qwen way (see chat.h), so their renderers only
 * know about plain turns.
 */
#ifndef COVE_ENGINE_TOKENIZER_CHAT_INT_H
#define COVE_ENGINE_TOKENIZER_CHAT_INT_H

#include <stddef.h>

#include "base/buf.h"
#include "engine/tokenizer/chat.h"

/* A growing output with a sticky status. */
struct chat_out {
    struct cove_buf b;
    cove_status st; /* COVE_OK until an append fails */
};

/* A message as the renderers see it. */
struct chat_msg {
    enum cove_chat_role role;
    const char *text; /* content; never NULL */
    size_t len;
    const struct cove_chat_message *src; /* the caller's message; NULL for one cove wrote */
};

/* What a renderer works from. Everything here is borrowed for the call. */
struct chat_ctx {
    enum cove_chat_family family;
    const struct cove_chat_options *opt; /* never NULL */
    const char *bos;                     /* resolved BOS / EOS text; never NULL */
    const char *eos;
    const struct chat_msg *m; /* the messages (possibly lowered) */
    size_t n;
    struct chat_out *out;
    cove_error *err;
};

typedef cove_status (*chat_render_fn)(struct chat_ctx *c);

/* ---- output helpers (chat_text.c) ---- */
void cove_chat_out_init(struct chat_out *o, size_t max);
void cove_chat_put(struct chat_out *o, const char *s, size_t n);
void cove_chat_puts(struct chat_out *o, const char *s); /* s NULL writes nothing */
/* Append s with Python str.strip() applied (Unicode white space, as Jinja's trim). */
void cove_chat_put_trim(struct chat_out *o, const char *s, size_t n);
/* Append s as a JSON string with quotes, escaped as Python's json.dumps(ensure_ascii=False). */
void cove_chat_put_json_string(struct chat_out *o, const char *s, size_t n);
/*
 * Append the JSON text s re-indented as json.dumps(indent=4) writes it.
 * Returns 0 when its brackets or strings do not close or it nests deeper than
 * COVE_CHAT_MAX_JSON_DEPTH (what was written is then useless), else 1 (also
 * when an append failed: o->st tells).
 */
int cove_chat_put_json_indented(struct chat_out *o, const char *s, size_t n);
/* Append one tool call the qwen way: "<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>". */
void cove_chat_put_qwen_call(struct chat_out *o, const struct cove_chat_tool_call *tc);
/* Append the qwen "# Tools" block (no leading blank line, ends with "</tool_call>"). */
void cove_chat_put_qwen_tools(struct chat_out *o, const struct cove_chat_options *opt);

/* ---- text spans ---- */
/* Python str.strip()/lstrip()/rstrip() of Unicode white space, on a span. */
void cove_chat_span_strip(const char **s, size_t *n);
/* Python strip('\n') family: which 1 = left, 2 = right, 3 = both. */
void cove_chat_span_strip_nl(const char **s, size_t *n, int which);
/* memmem for the first / last occurrence of needle; NULL when absent. */
const char *cove_chat_find(const char *s, size_t n, const char *needle);
const char *cove_chat_find_last(const char *s, size_t n, const char *needle);

/* The family's role word for r ("system", "user", "assistant", "tool"). */
const char *cove_chat_role_name(enum cove_chat_role r);

/*
 * Rewrite c's messages with tools lowered to plain text (see the file comment).
 * On success *owned (release with cove_chat_lowered_free) holds the new list,
 * which c->m / c->n now point at. Returns COVE_ERR_NOMEM or COVE_ERR_LIMIT.
 */
struct chat_lowered;
cove_status cove_chat_lower_tools(struct chat_ctx *c, struct chat_lowered **owned);
void cove_chat_lowered_free(struct chat_lowered *l);

/*
 * Check that the messages after an optional leading system message alternate
 * user, assistant, user, ... starting with user, as gemma, llama 2 and mistral
 * v1 templates demand. Returns COVE_ERR_INVALID_ARG with a message otherwise.
 */
cove_status cove_chat_check_alternation(const struct chat_ctx *c, const char *family);

/* ---- renderers, one per family file ---- */
cove_status cove_chat_render_chatml(struct chat_ctx *c);
cove_status cove_chat_render_qwen3(struct chat_ctx *c);
cove_status cove_chat_render_gemma(struct chat_ctx *c);
cove_status cove_chat_render_llama3(struct chat_ctx *c);
cove_status cove_chat_render_llama31(struct chat_ctx *c);
cove_status cove_chat_render_llama2(struct chat_ctx *c);
cove_status cove_chat_render_phi3(struct chat_ctx *c);
cove_status cove_chat_render_mistral_v1(struct chat_ctx *c);
cove_status cove_chat_render_mistral_v3(struct chat_ctx *c); /* v3 and v3-tekken */

#endif
