/*
 * job_fmt.c - what a generation looks like on the wire: llama.cpp's /completion objects,
 * OpenAI's text_completion and chat.completion objects, and their streamed chunks.
 *
 * Streaming formats:
 *   /completion            data: {"content":"...","stop":false,...} per event, then one
 *                          data: {"content":"","stop":true,...timings} (no [DONE], as
 *                          llama.cpp's server does)
 *   /v1/completions        data: {"object":"text_completion","choices":[{"text":...}]}
 *                          ..., a chunk with finish_reason, an optional usage chunk, and
 *                          data: [DONE]
 *   /v1/chat/completions   a first chunk with delta.role, content deltas (or one tool_calls
 *                          delta), a chunk with finish_reason, an optional usage chunk
 *                          (choices []), data: [DONE]
 */
#include <string.h>

#include "base/str.h"
#include "server/job_int.h"

/* ------------------------------------------------------------ small values */

/* A JSON string of n bytes; bytes that are not UTF-8 become U+FFFD. */
static json_t *json_text(const char *s, size_t n)
{
    if (cove_utf8_valid(s, n))
        return json_stringn(s ? s : "", n);
    struct cove_buf b;
    cove_buf_init(&b, 3 * n + 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k && i + k <= n && cove_utf8_valid(s + i, k)) {
            cove_buf_append(&b, s + i, k);
            i += k;
        } else {
            cove_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    json_t *v = json_stringn(b.data ? b.data : "", b.len);
    cove_buf_release(&b);
    return v;
}

static json_t *token_entry(const cove_model *m, int32_t tok, float lp, int with_id)
{
    char piece[COVE_TOKEN_PIECE_MAX];
    size_t len = 0;
    if (cove_token_to_piece(m, tok, piece, sizeof piece, &len) != COVE_OK)
        len = 0;
    json_t *bytes = json_array();
    for (size_t i = 0; i < len; i++)
        json_array_append_new(bytes, json_integer((unsigned char)piece[i]));
    json_t *e = json_pack("{s:o, s:f, s:o}", "token", json_text(piece, len), "logprob",
                          (double)lp, "bytes", bytes);
    if (e && with_id)
        json_object_set_new(e, "id", json_integer(tok));
    return e;
}

void srv_job_add_logprob(srv_job *j, const cove_sched_token *ev)
{
    const cove_model *m = j->s->model;
    int llama = j->spec.kind == SRV_JOB_LLAMA;
    json_t *e = token_entry(m, ev->token, ev->logprob, llama);
    json_t *top = json_array();
    for (int32_t i = 0; i < ev->n_top && i < j->spec.top_logprobs; i++)
        json_array_append_new(top, token_entry(m, ev->top[i].token, ev->top[i].logprob, llama));
    json_object_set_new(e, "top_logprobs", top);
    json_array_append_new(j->logprobs, e);
}

static const char *finish_reason(const srv_job *j, int calls)
{
    if (calls && j->finish != COVE_SCHED_FINISH_LENGTH)
        return "tool_calls";
    return j->finish == COVE_SCHED_FINISH_LENGTH ? "length" : "stop";
}

static json_t *usage(const srv_job *j)
{
    return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", j->n_prompt,
                     "completion_tokens", j->n_gen, "total_tokens", j->n_prompt + j->n_gen,
                     "prompt_tokens_details", "cached_tokens", j->n_cached);
}

static json_t *llama_timings(const srv_job *j)
{
    int32_t pn = j->n_prompt - j->n_cached;
    return json_pack("{s:i, s:f, s:f, s:f, s:i, s:f, s:f, s:f}", "prompt_n", pn, "prompt_ms",
                     j->t_prompt_ms, "prompt_per_token_ms", pn ? j->t_prompt_ms / pn : 0.0,
                     "prompt_per_second", j->t_prompt_ms > 0 ? 1e3 * pn / j->t_prompt_ms : 0.0,
                     "predicted_n", j->n_gen, "predicted_ms", j->t_gen_ms,
                     "predicted_per_token_ms", j->n_gen ? j->t_gen_ms / j->n_gen : 0.0,
                     "predicted_per_second",
                     j->t_gen_ms > 0 ? 1e3 * j->n_gen / j->t_gen_ms : 0.0);
}

/* v1 completions' logprobs: {"tokens","token_logprobs","top_logprobs","text_offset"}. */
static json_t *v1_logprobs(const srv_job *j)
{
    json_t *toks = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    size_t i, off = 0;
    json_t *e;
    json_array_foreach(j->logprobs, i, e) {
        json_t *t = json_object_get(e, "token"), *top = json_object(), *x;
        json_array_append(toks, t);
        json_array_append(lps, json_object_get(e, "logprob"));
        size_t k;
        json_array_foreach(json_object_get(e, "top_logprobs"), k, x)
            json_object_set(top, json_string_value(json_object_get(x, "token")),
                            json_object_get(x, "logprob"));
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer((json_int_t)off));
        off += json_string_length(t);
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", toks, "token_logprobs", lps,
                     "top_logprobs", tops, "text_offset", offs);
}

/* ------------------------------------------------------------ SSE chunks */

static void sse(srv_job *j, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!text)
        return;
    cove_buf_append_str(&j->out, "data: ");
    cove_buf_append_str(&j->out, text);
    cove_buf_append_str(&j->out, "\n\n");
    free(text);
}

static void sse_done(srv_job *j)
{
    cove_buf_append_str(&j->out, "data: [DONE]\n\n");
}

/* An OpenAI chunk: choice holds delta (chat) or text (v1); finish NULL: not the last. */
static json_t *chunk(const srv_job *j, json_t *choice, const char *finish)
{
    int chat = j->spec.kind == SRV_JOB_CHAT;
    json_object_set_new(choice, "index", json_integer(0));
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    if (!json_object_get(choice, "logprobs"))
        json_object_set_new(choice, "logprobs", json_null());
    return json_pack("{s:s++, s:s, s:I, s:s, s:[o]}", "id", chat ? "chatcmpl-" : "cmpl-", j->id,
                     "", "object", chat ? "chat.completion.chunk" : "text_completion",
                     "created", (json_int_t)j->created, "model", j->spec.model_id, "choices",
                     choice);
}

static void chat_delta(srv_job *j, const char *text, size_t len, json_t *lp)
{
    json_t *choice = json_pack("{s:{s:o}}", "delta", "content", json_text(text, len));
    if (lp)
        json_object_set_new(choice, "logprobs", json_pack("{s:[O]}", "content", lp));
    sse(j, chunk(j, choice, NULL));
}

void srv_job_stream_start(srv_job *j)
{
    if (j->spec.kind == SRV_JOB_CHAT)
        sse(j, chunk(j, json_pack("{s:{s:s, s:s}}", "delta", "role", "assistant", "content", ""),
                     NULL));
}

/* A chat event when the answer may be tool calls: hold text until it is known. */
static void tool_mode_event(srv_job *j, const cove_sched_token *ev)
{
    if (j->tool_state == SRV_TOOLS_TEXT) {
        chat_delta(j, ev->text, ev->text_len, NULL);
        return;
    }
    cove_buf_append(&j->held, ev->text, ev->text_len);
    if (j->tool_state == SRV_TOOLS_CALLS)
        return;
    const char *h = j->held.data ? j->held.data : "", *open = j->spec.tools->open;
    while (*h == ' ' || *h == '\n')
        h++;
    size_t hl = strlen(h), ol = strlen(open);
    if (hl >= ol ? memcmp(h, open, ol) == 0 : memcmp(h, open, hl) == 0) {
        if (hl >= ol)
            j->tool_state = SRV_TOOLS_CALLS;
        return;
    }
    j->tool_state = SRV_TOOLS_TEXT;
    chat_delta(j, j->held.data, j->held.len, NULL);
}

void srv_job_stream_event(srv_job *j, const cove_sched_token *ev)
{
    json_t *lp = j->logprobs && ev->token >= 0 ? json_array_get(j->logprobs,
                                                   json_array_size(j->logprobs) - 1) : NULL;
    if (ev->text_len == 0 && !lp)
        return;
    if (j->spec.kind == SRV_JOB_LLAMA) {
        json_t *v = json_pack("{s:o, s:b, s:i, s:i}", "content", json_text(ev->text, ev->text_len),
                              "stop", 0, "id_slot", 0, "index", 0);
        if (ev->token >= 0)
            json_object_set_new(v, "tokens", json_pack("[i]", ev->token));
        if (lp)
            json_object_set_new(v, "completion_probabilities", json_pack("[O]", lp));
        sse(j, v);
    } else if (j->spec.kind == SRV_JOB_V1_COMPLETION) {
        sse(j, chunk(j, json_pack("{s:o}", "text", json_text(ev->text, ev->text_len)), NULL));
    } else if (j->spec.tool_mode) {
        tool_mode_event(j, ev);
    } else {
        chat_delta(j, ev->text, ev->text_len, lp);
    }
}

/* The llama.cpp /completion object of a finished job (also its last streamed event). */
static json_t *llama_final(const srv_job *j, int with_content)
{
    const char *type = j->finish == COVE_SCHED_FINISH_STOP ? "word"
                       : j->finish == COVE_SCHED_FINISH_EOS ? "eos" : "limit";
    json_t *v = json_pack(
        "{s:o, s:b, s:i, s:i, s:s, s:i, s:i, s:i, s:b, s:b, s:b, s:b, s:s, s:s, s:o}", "content",
        with_content ? json_text(j->text.data, j->text.len) : json_string(""), "stop", 1,
        "id_slot", 0, "index", 0, "model", j->spec.model_id, "tokens_predicted", j->n_gen,
        "tokens_evaluated", j->n_prompt, "tokens_cached", j->n_cached, "truncated", 0,
        "stopped_eos", j->finish == COVE_SCHED_FINISH_EOS, "stopped_word",
        j->finish == COVE_SCHED_FINISH_STOP, "stopped_limit",
        j->finish == COVE_SCHED_FINISH_LENGTH, "stop_type", type, "stopping_word", j->stop_word,
        "timings", llama_timings(j));
    if (v && with_content && j->logprobs)
        json_object_set(v, "completion_probabilities", j->logprobs);
    return v;
}

static void error_event(srv_job *j)
{
    sse(j, json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message",
                     j->errmsg[0] ? j->errmsg : "generation failed", "type", "server_error",
                     "param", "code"));
}

/* Tool calls of a streamed answer as one delta; 1 when there were calls. */
static int stream_tool_calls(srv_job *j)
{
    json_t *calls = srv_tools_parse(j->held.data, j->held.len, j->spec.tools,
                                   j->finish == COVE_SCHED_FINISH_LENGTH);
    if (!calls)
        return 0;
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c)
        json_object_set_new(c, "index", json_integer((json_int_t)i));
    sse(j, chunk(j, json_pack("{s:{s:o}}", "delta", "tool_calls", calls), NULL));
    return 1;
}

void srv_job_stream_end(srv_job *j)
{
    if (j->finish == COVE_SCHED_FINISH_ERROR)
        error_event(j);
    if (j->spec.kind == SRV_JOB_LLAMA) {
        if (j->finish != COVE_SCHED_FINISH_ERROR)
            sse(j, llama_final(j, 0));
        return;
    }
    int calls = 0;
    if (j->spec.kind == SRV_JOB_CHAT && j->spec.tool_mode && j->tool_state != SRV_TOOLS_TEXT) {
        calls = stream_tool_calls(j);
        if (!calls && j->held.len)
            chat_delta(j, j->held.data, j->held.len, NULL);
    }
    json_t *last = j->spec.kind == SRV_JOB_CHAT ? json_pack("{s:{}}", "delta")
                                                : json_pack("{s:s}", "text", "");
    sse(j, chunk(j, last, finish_reason(j, calls)));
    if (j->spec.include_usage) {
        json_t *u = chunk(j, json_object(), NULL);
        json_object_set_new(u, "choices", json_array());
        json_object_set_new(u, "usage", usage(j));
        sse(j, u);
    }
    sse_done(j);
}

/* ------------------------------------------------------- whole responses */

static json_t *chat_message(srv_job *j, int *calls_out)
{
    json_t *calls = j->spec.tool_mode ? srv_tools_parse(j->text.data, j->text.len, j->spec.tools,
                                                        j->finish == COVE_SCHED_FINISH_LENGTH)
                                      : NULL;
    *calls_out = calls != NULL;
    if (calls)
        return json_pack("{s:s, s:n, s:o}", "role", "assistant", "content", "tool_calls", calls);
    return json_pack("{s:s, s:o}", "role", "assistant", "content",
                     json_text(j->text.data, j->text.len));
}

static json_t *openai_object(srv_job *j)
{
    int chat = j->spec.kind == SRV_JOB_CHAT, calls = 0;
    json_t *choice = chat ? json_pack("{s:o}", "message", chat_message(j, &calls))
                          : json_pack("{s:o}", "text", json_text(j->text.data, j->text.len));
    json_t *lp = json_null();
    if (j->logprobs)
        lp = chat ? json_pack("{s:O}", "content", j->logprobs) : v1_logprobs(j);
    json_object_set_new(choice, "logprobs", lp);
    json_object_set_new(choice, "index", json_integer(0));
    json_object_set_new(choice, "finish_reason", json_string(finish_reason(j, calls)));
    return json_pack("{s:s++, s:s, s:I, s:s, s:[o], s:o, s:s}", "id",
                     chat ? "chatcmpl-" : "cmpl-", j->id, "", "object",
                     chat ? "chat.completion" : "text_completion", "created",
                     (json_int_t)j->created, "model", j->spec.model_id, "choices", choice,
                     "usage", usage(j), "system_fingerprint", "cove");
}

struct MHD_Response *srv_job_reply(srv_conn *c, srv_job *j)
{
    if (j->finish == COVE_SCHED_FINISH_ERROR)
        return srv_reply_error(c, 500, NULL, NULL, "generation failed: %s",
                               j->errmsg[0] ? j->errmsg : cove_status_str(j->status));
    if (j->text_cut)
        return srv_reply_error(c, 500, NULL, NULL, "the answer is longer than %u bytes",
                               (unsigned)COVE_SERVER_MAX_OUTPUT);
    json_t *v = j->spec.kind == SRV_JOB_LLAMA ? llama_final(j, 1) : openai_object(j);
    if (!v)
        return srv_reply_error(c, 500, NULL, NULL, "cannot build the response");
    return srv_reply_json(c, 200, v);
}
