/*
 * h_completion.c - POST /completion (llama.cpp) and POST /v1/completions (OpenAI), and the
 * checks every generating endpoint shares: prompt tokens against the context, max tokens,
 * sampler parameters, the model id.
 */
#include <string.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "schema/schema.h"
#include "server/server_int.h"

int srv_check_model(srv_conn *c, const char *model, const char *served,
                    struct MHD_Response **resp)
{
    size_t n = strlen(served);
    if (model && (strcmp(model, served) == 0 ||
                  (strncmp(model, served, n) == 0 && strcmp(model + n, ".gguf") == 0)))
        return 0;
    *resp = srv_reply_error(c, 404, "model", "model_not_found",
                            "the model '%.100s' does not exist; this server has '%s' (GET "
                            "/v1/models)", model ? model : "", served);
    return -1;
}

int srv_prompt_tokens(srv_conn *c, const char *text, size_t len, int add_special,
                      int32_t **toks, int32_t *n, struct MHD_Response **resp)
{
    cove_server *s = c->s;
    void *mem = NULL;
    cove_error err = {0};
    *n = 0;
    if (cove_arena_alloc(c->arena, (size_t)s->n_ctx * sizeof(int32_t), 0, &mem) != COVE_OK) {
        *resp = srv_reply_error(c, 500, NULL, NULL, "out of memory");
        return -1;
    }
    *toks = mem;
    cove_status st = cove_tokenize(s->model, text, len, add_special, 1, *toks, s->n_ctx, n, &err);
    if (st == COVE_ERR_LIMIT && *n > s->n_ctx)
        st = COVE_OK; /* reported below with the count */
    if (st != COVE_OK) {
        *resp = srv_reply_error(c, 400, "prompt", NULL, "cannot tokenize the prompt: %s",
                                cove_error_msg(&err));
        return -1;
    }
    if (*n >= s->n_ctx) {
        *resp = srv_reply_error(c, 400, "prompt", "context_length_exceeded",
                                "the prompt has %d tokens and the context holds %d, one of "
                                "which is needed for the answer; shorten the prompt (or start "
                                "the server with a larger --ctx)", (int)*n, (int)s->n_ctx);
        return -1;
    }
    if (*n == 0) {
        *resp = srv_reply_error(c, 400, "prompt", NULL, "the prompt is empty");
        return -1;
    }
    return 0;
}

int srv_gen_setup(srv_conn *c, const struct cove_server_gen_opts *g, int32_t n_prompt,
                  cove_sched_request *req, struct MHD_Response **resp)
{
    cove_server *s = c->s;
    if (g->max_tokens > s->p.max_tokens || g->max_tokens == 0) {
        *resp = srv_reply_error(c, 400, "max_tokens", "limit_exceeded",
                                "the most tokens one request may generate is %d (asked: %d)",
                                (int)s->p.max_tokens, (int)g->max_tokens);
        return -1;
    }
    int32_t room = s->n_ctx - n_prompt;
    int32_t n = g->max_tokens < 0 ? s->p.max_tokens : g->max_tokens;
    req->n_predict = n < room ? n : room;
    req->sampler = cove_sampler_default_params();
    req->sampler.temp = g->temperature;
    req->sampler.top_k = g->top_k;
    req->sampler.top_p = g->top_p;
    req->sampler.min_p = g->min_p;
    req->sampler.repeat_penalty = g->repeat_penalty;
    req->sampler.repeat_last_n = g->repeat_last_n;
    req->sampler.seed = g->has_seed ? g->seed : ((uint64_t)randombytes_random() << 32 |
                                                 randombytes_random());
    req->stop = g->stop;
    req->n_stop = (int32_t)g->n_stop;
    req->cache_prompt = g->cache_prompt;
    return 0;
}

int srv_format_grammar(srv_conn *c, enum cove_server_format f, const char *grammar,
                          const char *schema, char **out, struct MHD_Response **resp)
{
    cove_error err = {0};
    cove_status st = COVE_OK;
    *out = NULL;
    if (f == COVE_SERVER_FORMAT_GRAMMAR)
        return (*out = cove_strdup(grammar)) ? 0 : -1;
    if (f == COVE_SERVER_FORMAT_JSON)
        st = cove_schema_to_gbnf("{\"type\":\"object\"}", 17, NULL, out, &err);
    else if (f == COVE_SERVER_FORMAT_JSON_SCHEMA)
        st = cove_schema_to_gbnf(schema, strlen(schema), NULL, out, &err);
    if (st != COVE_OK) {
        *resp = srv_reply_error(c, 400, f == COVE_SERVER_FORMAT_JSON_SCHEMA ? "json_schema"
                                                                             : "response_format",
                                st == COVE_ERR_UNSUPPORTED ? "unsupported_schema" : NULL,
                                "cannot turn the schema into a grammar: %s",
                                cove_error_msg(&err));
        return -1;
    }
    return 0;
}

static struct MHD_Response *run_completion(srv_conn *c, struct cove_server_completion_req *r,
                                           enum srv_job_kind kind)
{
    struct MHD_Response *resp = NULL;
    int32_t *toks = (int32_t *)r->prompt_tokens, n = (int32_t)r->n_prompt_tokens;
    if (r->prompt && srv_prompt_tokens(c, r->prompt, strlen(r->prompt), 1, &toks, &n, &resp))
        return resp;
    if (!r->prompt && (n <= 0 || n >= c->s->n_ctx))
        return srv_reply_error(c, 400, "prompt", "context_length_exceeded",
                               "the prompt has %d tokens; it must have 1 to %d", (int)n,
                               (int)c->s->n_ctx - 1);
    srv_job_spec spec = {.kind = kind, .stream = r->gen.stream, .model_id = c->s->model_id,
                         .include_usage = r->include_usage,
                         .n_logprobs = kind == SRV_JOB_LLAMA ? r->n_probs : r->logprobs,
                         .req = cove_sched_default_request()};
    spec.top_logprobs = spec.n_logprobs;
    spec.req.prompt = toks;
    spec.req.n_prompt = n;
    if (srv_gen_setup(c, &r->gen, n, &spec.req, &resp))
        return resp;
    char *grammar = NULL;
    if (srv_format_grammar(c, r->format, r->grammar, r->schema, &grammar, &resp))
        return resp ? resp : srv_reply_error(c, 500, NULL, NULL, "out of memory");
    spec.req.grammar = grammar;
    resp = srv_job_run(c, &spec);
    cove_free(grammar); /* the scheduler copied it */
    return resp;
}

struct MHD_Response *srv_h_completion(srv_conn *c)
{
    struct cove_server_completion_req r;
    char param[COVE_SERVER_PARAM_MAX];
    cove_error err = {0};
    if (cove_server_parse_completion(c->body.data, c->body.len, c->arena, &r, param, &err))
        return srv_reply_status(c, &err, param);
    return run_completion(c, &r, SRV_JOB_LLAMA);
}

struct MHD_Response *srv_h_v1_completions(srv_conn *c)
{
    struct cove_server_completion_req r;
    char param[COVE_SERVER_PARAM_MAX];
    cove_error err = {0};
    struct MHD_Response *resp = NULL;
    if (cove_server_parse_v1_completion(c->body.data, c->body.len, c->arena, &r, param, &err))
        return srv_reply_status(c, &err, param);
    if (srv_check_model(c, r.model, c->s->model_id, &resp))
        return resp;
    return run_completion(c, &r, SRV_JOB_V1_COMPLETION);
}
