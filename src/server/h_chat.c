/*
 * h_chat.c - POST /v1/chat/completions: messages through the model's chat template,
 * tools offered in the prompt and called under a grammar built from their schemas,
 * response_format as a grammar, the answer as a chat.completion object or SSE chunks.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "server/server_int.h"

/* The prompt text of the conversation (malloc'ed by the chat formatter), or a 400. */
static int chat_prompt(srv_conn *c, const struct cove_server_chat_req *r, char **text,
                       size_t *len, struct MHD_Response **resp)
{
    cove_server *s = c->s;
    struct cove_chat_options opt = s->chat_fmt;
    const char **defs = NULL;
    if (r->n_tools) {
        void *mem = NULL;
        if (cove_arena_calloc(c->arena, r->n_tools, sizeof *defs, &mem) != COVE_OK) {
            *resp = srv_reply_error(c, 500, NULL, NULL, "out of memory");
            return -1;
        }
        defs = mem;
        for (size_t i = 0; i < r->n_tools; i++)
            defs[i] = r->tools[i].definition;
        opt.tools = defs;
        opt.n_tools = r->n_tools;
    }
    cove_error err = {0};
    if (cove_chat_format(s->chat.family, r->messages, r->n_messages, &opt, text, len, &err)) {
        *resp = srv_reply_error(c, err.status == COVE_ERR_NOMEM ? 500 : 400, "messages", NULL,
                                "cannot write these messages in the model's chat template "
                                "(%s): %s", cove_chat_family_name(s->chat.family),
                                cove_error_msg(&err));
        return -1;
    }
    return 0;
}

/* The request's stops plus the family's end-of-turn strings (arena). */
static int chat_stops(srv_conn *c, struct cove_server_chat_req *r)
{
    size_t n_fam = 0;
    const char *const *fam = cove_chat_stop_strings(c->s->chat.family, &n_fam);
    void *mem = NULL;
    if (cove_arena_calloc(c->arena, r->gen.n_stop + n_fam, sizeof(char *), &mem) != COVE_OK)
        return -1;
    const char **all = mem;
    size_t n = 0;
    for (size_t i = 0; i < r->gen.n_stop; i++)
        all[n++] = r->gen.stop[i];
    for (size_t i = 0; i < n_fam && n < COVE_SERVER_MAX_STOP; i++)
        all[n++] = fam[i];
    r->gen.stop = all;
    r->gen.n_stop = n;
    return 0;
}

/* The grammar of the answer: tool calls, a response_format, or none (*g NULL). */
static int chat_grammar(srv_conn *c, const struct cove_server_chat_req *r, int *tool_mode,
                        char **g, struct MHD_Response **resp)
{
    *tool_mode = r->n_tools > 0 && r->tool_choice != COVE_SERVER_TOOLS_NONE;
    if (!*tool_mode)
        return srv_format_grammar(c, r->format, NULL, r->schema, g, resp);
    cove_error err = {0};
    if (srv_tools_grammar(r, srv_tool_syntax_of(c->s->chat.family), g, &err) != COVE_OK) {
        *resp = srv_reply_error(c, err.status == COVE_ERR_NOMEM ? 500 : 400,
                                r->tool_choice == COVE_SERVER_TOOLS_FUNCTION ? "tool_choice"
                                                                             : "tools",
                                err.status == COVE_ERR_UNSUPPORTED ? "unsupported_schema" : NULL,
                                "cannot build the tool-call grammar: %s", cove_error_msg(&err));
        return -1;
    }
    return 0;
}

static struct MHD_Response *run_chat(srv_conn *c, struct cove_server_chat_req *r)
{
    struct MHD_Response *resp = NULL;
    char *text = NULL;
    size_t len = 0;
    int32_t *toks = NULL, n = 0;
    if (chat_prompt(c, r, &text, &len, &resp))
        return resp;
    int bad = srv_prompt_tokens(c, text, len, c->s->chat_add_special, &toks, &n, &resp);
    cove_free(text);
    if (bad)
        return resp;
    if (chat_stops(c, r))
        return srv_reply_error(c, 500, NULL, NULL, "out of memory");
    int top = r->logprobs ? r->top_logprobs : 0;
    srv_job_spec spec = {.kind = SRV_JOB_CHAT, .stream = r->gen.stream,
                         .model_id = c->s->model_id, .include_usage = r->include_usage,
                         .want_logprobs = r->logprobs, .n_logprobs = r->logprobs ? (top ? top : 1) : 0,
                         .top_logprobs = top, .tools = srv_tool_syntax_of(c->s->chat.family),
                         .req = cove_sched_default_request()};
    spec.req.prompt = toks;
    spec.req.n_prompt = n;
    if (srv_gen_setup(c, &r->gen, n, &spec.req, &resp))
        return resp;
    char *grammar = NULL;
    if (chat_grammar(c, r, &spec.tool_mode, &grammar, &resp))
        return resp ? resp : srv_reply_error(c, 500, NULL, NULL, "out of memory");
    spec.req.grammar = grammar;
    resp = srv_job_run(c, &spec);
    cove_free(grammar);
    return resp;
}

struct MHD_Response *srv_h_chat(srv_conn *c)
{
    struct cove_server_chat_req r;
    char param[COVE_SERVER_PARAM_MAX];
    cove_error err = {0};
    struct MHD_Response *resp = NULL;
    if (cove_server_parse_chat(c->body.data, c->body.len, c->arena, &r, param, &err))
        return srv_reply_status(c, &err, param);
    if (srv_check_model(c, r.model, c->s->model_id, &resp))
        return resp;
    return run_chat(c, &r);
}
