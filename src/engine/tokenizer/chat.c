/*
 * chat.c - the chat template entry points: the family table, checking the
 * caller's messages and running the family's renderer (chat_<family>.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/tokenizer/chat_int.h"

/* One registered family. */
struct chat_family_def {
    const char *name;
    chat_render_fn render;
    const char *bos;          /* usual BOS text; NULL: the template never writes one */
    const char *eos;          /* usual EOS text; NULL: the template never writes one */
    const char *const *stops; /* NULL-terminated */
    int lowers_tools;         /* no tool convention of its own: tools become plain turns */
};

static const char *const stops_chatml[] = {"<|im_end|>", "<|endoftext|>", NULL};
static const char *const stops_gemma[] = {"<end_of_turn>", "<eos>", NULL};
static const char *const stops_llama3[] = {"<|eot_id|>", "<|end_of_text|>", NULL};
static const char *const stops_llama31[] = {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", NULL};
static const char *const stops_inst[] = {"</s>", NULL};
static const char *const stops_phi3[] = {"<|end|>", "<|endoftext|>", NULL};

/* Indexed by enum cove_chat_family. */
static const struct chat_family_def families[COVE_CHAT_FAMILY_COUNT] = {
    [COVE_CHAT_GENERIC] = {"generic", cove_chat_render_chatml, NULL, NULL, stops_chatml, 0},
    [COVE_CHAT_CHATML] = {"chatml", cove_chat_render_chatml, NULL, NULL, stops_chatml, 0},
    [COVE_CHAT_QWEN3] = {"qwen3", cove_chat_render_qwen3, NULL, NULL, stops_chatml, 0},
    [COVE_CHAT_GEMMA] = {"gemma", cove_chat_render_gemma, "<bos>", "<eos>", stops_gemma, 1},
    [COVE_CHAT_LLAMA3] = {"llama3", cove_chat_render_llama3, "<|begin_of_text|>", "<|end_of_text|>",
                          stops_llama3, 1},
    [COVE_CHAT_LLAMA31] = {"llama3.1", cove_chat_render_llama31, "<|begin_of_text|>",
                           "<|end_of_text|>", stops_llama31, 0},
    [COVE_CHAT_LLAMA2] = {"llama2", cove_chat_render_llama2, "<s>", "</s>", stops_inst, 1},
    [COVE_CHAT_PHI3] = {"phi3", cove_chat_render_phi3, NULL, "<|endoftext|>", stops_phi3, 1},
    [COVE_CHAT_MISTRAL_V1] = {"mistral-v1", cove_chat_render_mistral_v1, "<s>", "</s>", stops_inst,
                              1},
    [COVE_CHAT_MISTRAL_V3] = {"mistral-v3", cove_chat_render_mistral_v3, "<s>", "</s>", stops_inst,
                              0},
    [COVE_CHAT_MISTRAL_V3_TEKKEN] = {"mistral-v3-tekken", cove_chat_render_mistral_v3, "<s>", "</s>",
                                     stops_inst, 0},
};

static const struct chat_family_def *family_def(enum cove_chat_family f)
{
    if ((unsigned)f >= COVE_CHAT_FAMILY_COUNT)
        return NULL;
    return &families[f];
}

struct cove_chat_options cove_chat_default_options(void)
{
    struct cove_chat_options o;
    memset(&o, 0, sizeof o);
    o.add_generation_prompt = 1;
    o.enable_thinking = 1;
    return o;
}

const char *cove_chat_role_name(enum cove_chat_role r)
{
    switch (r) {
    case COVE_CHAT_SYSTEM: return "system";
    case COVE_CHAT_USER: return "user";
    case COVE_CHAT_ASSISTANT: return "assistant";
    case COVE_CHAT_TOOL: return "tool";
    }
    return "unknown";
}

const char *cove_chat_family_name(enum cove_chat_family f)
{
    const struct chat_family_def *d = family_def(f);
    return d ? d->name : "unknown";
}

const char *const *cove_chat_stop_strings(enum cove_chat_family f, size_t *n_out)
{
    const struct chat_family_def *d = family_def(f);
    size_t n = 0;
    if (d)
        while (d->stops[n])
            n++;
    if (n_out)
        *n_out = n;
    return d ? d->stops : NULL;
}

const char *cove_chat_default_bos(enum cove_chat_family f)
{
    const struct chat_family_def *d = family_def(f);
    return d ? d->bos : NULL;
}

const char *cove_chat_default_eos(enum cove_chat_family f)
{
    const struct chat_family_def *d = family_def(f);
    return d ? d->eos : NULL;
}

int cove_chat_emits_bos(enum cove_chat_family f, const struct cove_chat_options *opt)
{
    const struct chat_family_def *d = family_def(f);
    if (!d || !d->bos)
        return 0;
    const char *bos = opt && opt->bos_text ? opt->bos_text : d->bos;
    return bos[0] != '\0';
}

int cove_chat_has_native_tools(enum cove_chat_family f)
{
    const struct chat_family_def *d = family_def(f);
    return d && !d->lowers_tools;
}

/* ---- checking the input ---- */

static cove_status check_text(const char *s, const char *what, size_t i, cove_error *err)
{
    if (s && strnlen(s, (size_t)COVE_CHAT_MAX_PROMPT_BYTES + 1) > COVE_CHAT_MAX_PROMPT_BYTES)
        return cove_error_set(err, COVE_ERR_LIMIT, "message %zu: %s longer than %u bytes", i, what,
                              COVE_CHAT_MAX_PROMPT_BYTES);
    return COVE_OK;
}

static cove_status check_calls(const struct cove_chat_message *m, size_t i, cove_error *err)
{
    if (m->n_tool_calls == 0)
        return COVE_OK;
    if (m->role != COVE_CHAT_ASSISTANT)
        return cove_error_set(err, COVE_ERR_INVALID_ARG,
                              "message %zu: only assistant messages carry tool calls", i);
    if (m->n_tool_calls > COVE_CHAT_MAX_TOOL_CALLS)
        return cove_error_set(err, COVE_ERR_LIMIT, "message %zu: more than %d tool calls", i,
                              COVE_CHAT_MAX_TOOL_CALLS);
    if (!m->tool_calls)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "message %zu: tool_calls is NULL", i);
    cove_status st = COVE_OK;
    for (size_t k = 0; k < m->n_tool_calls && st == COVE_OK; k++) {
        const struct cove_chat_tool_call *tc = &m->tool_calls[k];
        if (!tc->name || !tc->name[0])
            return cove_error_set(err, COVE_ERR_INVALID_ARG,
                                  "message %zu: tool call %zu has no function name", i, k);
        st = check_text(tc->arguments, "tool call arguments", i, err);
    }
    return st;
}

static cove_status check_message(const struct cove_chat_message *m, size_t i, cove_error *err)
{
    if ((unsigned)m->role > COVE_CHAT_TOOL)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "message %zu: unknown role %d", i,
                              (int)m->role);
    cove_status st = check_text(m->content, "content", i, err);
    if (st == COVE_OK)
        st = check_text(m->reasoning, "reasoning", i, err);
    if (st == COVE_OK)
        st = check_calls(m, i, err);
    return st;
}

static cove_status check_tools(const struct cove_chat_options *opt, cove_error *err)
{
    if (opt->n_tools > COVE_CHAT_MAX_TOOLS)
        return cove_error_set(err, COVE_ERR_LIMIT, "%zu tools offered; at most %d", opt->n_tools,
                              COVE_CHAT_MAX_TOOLS);
    if (opt->n_tools > 0 && !opt->tools)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "n_tools is %zu but tools is NULL",
                              opt->n_tools);
    for (size_t i = 0; i < opt->n_tools; i++) {
        if (!opt->tools[i])
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "tool %zu is NULL", i);
        if (strnlen(opt->tools[i], (size_t)COVE_CHAT_MAX_PROMPT_BYTES + 1) >
            COVE_CHAT_MAX_PROMPT_BYTES)
            return cove_error_set(err, COVE_ERR_LIMIT, "tool %zu longer than %u bytes", i,
                                  COVE_CHAT_MAX_PROMPT_BYTES);
    }
    return COVE_OK;
}

static cove_status check_input(enum cove_chat_family f, const struct cove_chat_message *msgs,
                               size_t n, const struct cove_chat_options *opt, cove_error *err)
{
    if (!family_def(f))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "unknown chat family %d", (int)f);
    if (n > COVE_CHAT_MAX_MESSAGES)
        return cove_error_set(err, COVE_ERR_LIMIT, "%zu messages; at most %d in one prompt", n,
                              COVE_CHAT_MAX_MESSAGES);
    if (n > 0 && !msgs)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "msgs is NULL");
    cove_status st = check_tools(opt, err);
    for (size_t i = 0; i < n && st == COVE_OK; i++)
        st = check_message(&msgs[i], i, err);
    return st;
}

/* ---- formatting ---- */

static struct chat_msg *make_views(const struct cove_chat_message *msgs, size_t n)
{
    struct chat_msg *v = cove_calloc(n ? n : 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i].role = msgs[i].role;
        v[i].text = msgs[i].content ? msgs[i].content : "";
        v[i].len = strlen(v[i].text);
        v[i].src = &msgs[i];
    }
    return v;
}

/* Run the renderer of family d over c (lowering tools first where the family needs it). */
static cove_status render(const struct chat_family_def *d, struct chat_ctx *c)
{
    struct chat_lowered *low = NULL;
    cove_status st = COVE_OK;
    if (d->lowers_tools)
        st = cove_chat_lower_tools(c, &low);
    if (st == COVE_OK)
        st = d->render(c);
    if (st == COVE_OK && c->out->st == COVE_OK)
        st = cove_buf_reserve(&c->out->b, 0); /* an empty prompt still gets memory */
    if (st == COVE_OK)
        st = c->out->st;
    cove_chat_lowered_free(low);
    if (st == COVE_ERR_LIMIT && (!c->err || c->err->status != COVE_ERR_LIMIT))
        cove_error_set(c->err, st, "%s prompt longer than %u bytes", d->name,
                       COVE_CHAT_MAX_PROMPT_BYTES);
    else if (st == COVE_ERR_NOMEM && (!c->err || c->err->status != st))
        cove_error_set(c->err, st, "out of memory formatting a %s prompt", d->name);
    return st;
}

cove_status cove_chat_format(enum cove_chat_family f, const struct cove_chat_message *msgs,
                             size_t n, const struct cove_chat_options *opt, char **out,
                             size_t *out_len, cove_error *err)
{
    struct cove_chat_options defaults = cove_chat_default_options();
    if (!out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!opt)
        opt = &defaults;
    cove_error_clear(err);
    cove_status st = check_input(f, msgs, n, opt, err);
    if (st != COVE_OK)
        return st;
    const struct chat_family_def *d = family_def(f);
    struct chat_out o;
    cove_chat_out_init(&o, COVE_CHAT_MAX_PROMPT_BYTES);
    struct chat_ctx c = {f, opt, opt->bos_text ? opt->bos_text : d->bos ? d->bos : "",
                         opt->eos_text ? opt->eos_text : d->eos ? d->eos : "",
                         NULL, n, &o, err};
    struct chat_msg *views = make_views(msgs, n);
    c.m = views;
    st = views ? render(d, &c) : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_free(views);
    if (st != COVE_OK) {
        cove_buf_release(&o.b);
        return st;
    }
    *out = cove_buf_detach(&o.b, out_len);
    return COVE_OK;
}
