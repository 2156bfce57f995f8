/*
 * h_misc.c - POST /v1/embeddings, GET /v1/models, GET /health, GET /metrics.
 */
#include <string.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "server/server_int.h"

/* ------------------------------------------------------------- embeddings */

/* Tokens of the texts as the embedder counts them ([CLS] and [SEP] included). */
static int64_t count_tokens(const cove_model *m, const char **texts, size_t n)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t one[1], k = 0;
        cove_tokenize(m, texts[i], strlen(texts[i]), 1, 0, one, 1, &k, NULL);
        total += k;
    }
    return total;
}

static json_t *vector_json(const float *v, int32_t dim, enum cove_server_encoding enc)
{
    if (enc == COVE_SERVER_ENC_FLOAT) {
        json_t *a = json_array();
        for (int32_t k = 0; k < dim; k++)
            json_array_append_new(a, json_real((double)v[k]));
        return a;
    }
    size_t n = sodium_base64_ENCODED_LEN((size_t)dim * sizeof(float),
                                         sodium_base64_VARIANT_ORIGINAL);
    char *b64 = cove_malloc(n);
    if (!b64)
        return NULL;
    sodium_bin2base64(b64, n, (const unsigned char *)v, (size_t)dim * sizeof(float),
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *s = json_string(b64);
    cove_free(b64);
    return s;
}

static struct MHD_Response *embed_reply(srv_conn *c, const struct cove_server_embed_req *r,
                                        const float *vecs, int32_t dim)
{
    json_t *data = json_array();
    for (size_t i = 0; i < r->n_input; i++)
        json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index",
                                              (json_int_t)i,
                                              "embedding", vector_json(vecs + i * (size_t)dim,
                                                                       dim, r->encoding)));
    int64_t ntok = count_tokens(c->s->emb_model, r->input, r->n_input);
    return srv_reply_json(c, 200, json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list",
                                            "data", data, "model", c->s->embed_id, "usage",
                                            "prompt_tokens", (json_int_t)ntok, "total_tokens",
                                            (json_int_t)ntok));
}

struct MHD_Response *srv_h_embeddings(srv_conn *c)
{
    cove_server *s = c->s;
    struct cove_server_embed_req r;
    char param[COVE_SERVER_PARAM_MAX];
    cove_error err = {0};
    struct MHD_Response *resp = NULL;
    if (cove_server_parse_embed(c->body.data, c->body.len, c->arena, &r, param, &err))
        return srv_reply_status(c, &err, param);
    if (!s->emb)
        return srv_reply_error(c, 404, "model", "model_not_found", "this server has no "
                               "embedding model (cove serve --embed-model FILE)");
    if (srv_check_model(c, r.model, s->embed_id, &resp))
        return resp;
    int32_t dim = cove_embedder_n_embd(s->emb);
    if (r.dimensions && r.dimensions != dim)
        return srv_reply_error(c, 400, "dimensions", "unsupported_parameter",
                               "the model's vectors have %d dimensions (asked: %d)", (int)dim,
                               r.dimensions);
    float *vecs = cove_calloc(r.n_input ? r.n_input : 1, (size_t)dim * sizeof(float));
    if (!vecs)
        return srv_reply_error(c, 500, NULL, NULL, "out of memory");
    pthread_mutex_lock(&s->emb_mu);
    cove_status st = cove_embed(s->emb, r.input, (int32_t)r.n_input, vecs, &err);
    pthread_mutex_unlock(&s->emb_mu);
    resp = st == COVE_OK ? embed_reply(c, &r, vecs, dim)
                         : srv_reply_error(c, st == COVE_ERR_LIMIT ? 400 : 500, "input",
                                           st == COVE_ERR_LIMIT ? "context_length_exceeded"
                                                                : NULL,
                                           "%s", cove_error_msg(&err));
    cove_free(vecs);
    return resp;
}

/* ------------------------------------------------------------------ others */

static json_t *model_entry(const cove_server *s, const char *id, const cove_model *m, int n_ctx)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:{s:s, s:i, s:i, s:I}}", "id", id, "object", "model",
                     "created", (json_int_t)s->created, "owned_by", "cove", "meta", "arch",
                     cove_model_arch(m), "n_ctx", n_ctx, "n_embd", cove_model_n_embd(m),
                     "n_params", (json_int_t)cove_model_n_params(m));
}

struct MHD_Response *srv_h_models(srv_conn *c)
{
    cove_server *s = c->s;
    json_t *data = json_array();
    json_array_append_new(data, model_entry(s, s->model_id, s->model, s->n_ctx));
    if (s->emb)
        json_array_append_new(data, model_entry(s, s->embed_id, s->emb_model,
                                                cove_embedder_max_tokens(s->emb)));
    return srv_reply_json(c, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

struct MHD_Response *srv_h_health(srv_conn *c)
{
    if (atomic_load(&c->s->draining))
        return srv_reply_json(c, 503, json_pack("{s:s}", "status", "draining"));
    return srv_reply_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

struct MHD_Response *srv_h_metrics(srv_conn *c)
{
    struct cove_buf b;
    cove_buf_init(&b, 1u << 20);
    if (srv_metrics_render(&c->s->metrics, c->s->sched, &b) != COVE_OK || !b.data) {
        cove_buf_release(&b);
        return srv_reply_error(c, 500, NULL, NULL, "cannot render the metrics");
    }
    size_t len = 0;
    char *text = cove_buf_detach(&b, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, text,
                                                                                 cove_free);
    if (!r) {
        cove_free(text);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    c->status = 200;
    return r;
}
