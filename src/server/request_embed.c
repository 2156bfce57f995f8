/*
 * request_embed.c - the body of POST /v1/embeddings into struct cove_server_embed_req.
 */
#include <string.h>

#include "base/limits.h"
#include "server/request_int.h"

#define EMB(p) ((struct cove_server_embed_req *)(p))
#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

static cove_status f_model(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &EMB(out)->model);
}

static cove_status input_item(struct rq *q, json_t *item, void *out, size_t i)
{
    if (!json_is_string(item))
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "'input' must hold strings (token arrays are "
                       "not supported)");
    return rq_string(q, item, &EMB(out)->input[i]);
}

static cove_status f_input(struct rq *q, json_t *v, void *out)
{
    struct cove_server_embed_req *r = out;
    int one = json_is_string(v);
    if (!one && !json_is_array(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'input' must be a string or an array of strings");
    size_t n = one ? 1 : json_array_size(v);
    if (n == 0)
        return rq_fail(q, COVE_ERR_FORMAT, "'input' must not be empty");
    if (n > COVE_SERVER_MAX_EMBED_INPUTS)
        return rq_fail(q, COVE_ERR_LIMIT, "'input' has %zu texts; at most %d are allowed", n,
                       COVE_SERVER_MAX_EMBED_INPUTS);
    void *mem = NULL;
    if (cove_arena_calloc(q->arena, n, sizeof(char *), &mem) != COVE_OK)
        return rq_fail(q, COVE_ERR_NOMEM, "the request is too large to hold in memory");
    r->input = mem;
    r->n_input = n;
    r->input_was_array = !one;
    return one ? input_item(q, v, r, 0) : rq_array(q, v, COVE_SERVER_MAX_EMBED_INPUTS, input_item, r);
}

static cove_status f_encoding(struct rq *q, json_t *v, void *out)
{
    const char *s = NULL;
    cove_status st = rq_string(q, v, &s);
    if (st != COVE_OK)
        return st;
    if (strcmp(s, "float") == 0)
        EMB(out)->encoding = COVE_SERVER_ENC_FLOAT;
    else if (strcmp(s, "base64") == 0)
        EMB(out)->encoding = COVE_SERVER_ENC_BASE64;
    else
        return rq_fail(q, COVE_ERR_FORMAT, "'encoding_format' must be \"float\" or \"base64\"");
    return COVE_OK;
}

static cove_status f_dimensions(struct rq *q, json_t *v, void *out)
{
    long long x = 0;
    cove_status st = rq_int(q, v, 1, COVE_MAX_EMBD, &x);
    EMB(out)->dimensions = (int)x;
    return st;
}

static cove_status f_user(struct rq *q, json_t *v, void *out)
{
    const char *s = NULL;
    return rq_string(q, v, &s);
}

static const struct rq_field embed_fields[] = {
    {"model", f_model}, {"input", f_input}, {"encoding_format", f_encoding},
    {"dimensions", f_dimensions}, {"user", f_user}};

cove_status cove_server_parse_embed(const char *body, size_t len, cove_arena *a,
                                    struct cove_server_embed_req *out, char *param,
                                    cove_error *err)
{
    struct rq q;
    json_t *root = NULL;
    rq_init(&q, a, param, err);
    memset(out, 0, sizeof *out);
    cove_status st = rq_load(&q, body, len, &root);
    if (st == COVE_OK)
        st = rq_object(&q, root, embed_fields, N_OF(embed_fields), out);
    if (st == COVE_OK && !out->model)
        st = rq_fail_at(&q, "model", COVE_ERR_FORMAT, "'model' is required");
    if (st == COVE_OK && !out->input)
        st = rq_fail_at(&q, "input", COVE_ERR_FORMAT, "'input' is required");
    json_decref(root);
    return st;
}
