/*
 * request.c - the strict JSON walker and the two completion parsers (/completion,
 * /v1/completions). See request.h for the contract and request_int.h for the walker.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "server/request_int.h"

/* ------------------------------------------------------------------ walker */

void rq_init(struct rq *q, cove_arena *a, char *param, cove_error *err)
{
    memset(q, 0, sizeof *q);
    q->arena = a;
    q->err = err;
    q->param = param;
    if (param)
        param[0] = '\0';
}

cove_status rq_fail(struct rq *q, cove_status st, const char *fmt, ...)
{
    if (q->param)
        memcpy(q->param, q->path, q->path_len + 1);
    if (q->err) {
        va_list ap;
        va_start(ap, fmt);
        q->err->status = st;
        vsnprintf(q->err->msg, sizeof q->err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Append ".name" (or "name" at the top) to the path; returns the old length to restore. */
static size_t path_push(struct rq *q, const char *name)
{
    size_t old = q->path_len;
    int n = snprintf(q->path + old, sizeof q->path - old, "%s%s", old ? "." : "", name);
    if (n > 0)
        q->path_len = old + (size_t)n < sizeof q->path ? old + (size_t)n : sizeof q->path - 1;
    return old;
}

static void path_pop(struct rq *q, size_t old)
{
    q->path_len = old;
    q->path[old] = '\0';
}

cove_status rq_fail_at(struct rq *q, const char *name, cove_status st, const char *msg)
{
    size_t old = path_push(q, name);
    rq_fail(q, st, "%s", msg);
    path_pop(q, old);
    return st;
}

cove_status rq_load(struct rq *q, const char *body, size_t len, json_t **root)
{
    json_error_t je;
    *root = NULL;
    if (!body || len == 0)
        return rq_fail(q, COVE_ERR_FORMAT, "the request body is empty; a JSON object was expected");
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return rq_fail(q, COVE_ERR_FORMAT, "malformed JSON at line %d, column %d: %s", je.line,
                       je.column, je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return rq_fail(q, COVE_ERR_FORMAT, "the request body must be a JSON object");
    }
    *root = v;
    return COVE_OK;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

cove_status rq_object(struct rq *q, json_t *v, const struct rq_field *fields, size_t n,
                      void *out)
{
    if (!json_is_object(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must be an object, not %s",
                       q->path_len ? q->path : "body", json_type_name(v));
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        size_t i = 0;
        while (i < n && strcmp(fields[i].name, key) != 0)
            i++;
        size_t old = path_push(q, key);
        cove_status st = COVE_OK;
        if (i == n)
            st = rq_fail(q, COVE_ERR_FORMAT, "unknown field '%.64s'", key);
        else if (!json_is_null(val))
            st = fields[i].parse(q, val, out);
        path_pop(q, old);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

cove_status rq_array(struct rq *q, json_t *v, size_t max, rq_item_fn parse, void *out)
{
    if (!json_is_array(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must be an array, not %s", q->path,
                       json_type_name(v));
    if (json_array_size(v) > max)
        return rq_fail(q, COVE_ERR_LIMIT, "'%s' has %zu entries; at most %zu are allowed",
                       q->path, json_array_size(v), max);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        size_t old = path_push(q, idx);
        cove_status st = parse(q, item, out, i);
        path_pop(q, old);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

cove_status rq_string(struct rq *q, json_t *v, const char **out)
{
    if (!json_is_string(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must be a string, not %s", q->path,
                       json_type_name(v));
    if (memchr(json_string_value(v), '\0', json_string_length(v)))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must not contain NUL characters", q->path);
    char *s = NULL;
    cove_status st = cove_arena_strndup(q->arena, json_string_value(v), json_string_length(v), &s);
    if (st != COVE_OK)
        return rq_fail(q, st, "the request is too large to hold in memory");
    *out = s;
    return COVE_OK;
}

cove_status rq_int(struct rq *q, json_t *v, long long min, long long max, long long *out)
{
    long long x;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v) &&
             fabs(json_real_value(v)) < 9e15)
        x = (long long)json_real_value(v);
    else
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must be an integer, not %s", q->path,
                       json_type_name(v));
    if (x < min || x > max)
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' is %lld; it must be in [%lld, %lld]", q->path,
                       x, min, max);
    *out = x;
    return COVE_OK;
}

cove_status rq_int32(struct rq *q, json_t *v, int32_t min, int32_t max, int32_t *out)
{
    long long x = 0;
    cove_status st = rq_int(q, v, min, max, &x);
    if (st == COVE_OK)
        *out = (int32_t)x;
    return st;
}

cove_status rq_float(struct rq *q, json_t *v, double min, double max, float *out)
{
    if (!json_is_number(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must be a number, not %s", q->path,
                       json_type_name(v));
    double x = json_number_value(v);
    if (!(x >= min && x <= max))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' is %g; it must be in [%g, %g]", q->path, x,
                       min, max);
    *out = (float)x;
    return COVE_OK;
}

cove_status rq_bool(struct rq *q, json_t *v, int *out)
{
    if (!json_is_boolean(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must be true or false, not %s", q->path,
                       json_type_name(v));
    *out = json_is_true(v);
    return COVE_OK;
}

cove_status rq_dump(struct rq *q, json_t *v, int python_style, const char **out)
{
    size_t flags = JSON_ENCODE_ANY | (python_style ? JSON_ENSURE_ASCII : JSON_COMPACT);
    char *text = json_dumps(v, flags);
    if (!text)
        return rq_fail(q, COVE_ERR_NOMEM, "cannot serialise '%s'", q->path);
    char *copy = NULL;
    cove_status st = cove_arena_strdup(q->arena, text, &copy);
    free(text);
    if (st != COVE_OK)
        return rq_fail(q, st, "the request is too large to hold in memory");
    *out = copy;
    return COVE_OK;
}

/* ------------------------------------------------------------ shared fields */

static cove_status stop_item(struct rq *q, json_t *item, void *out, size_t i)
{
    struct cove_server_gen_opts *g = out;
    const char *s = NULL;
    cove_status st = rq_string(q, item, &s);
    if (st != COVE_OK)
        return st;
    if (strlen(s) > COVE_SERVER_MAX_STOP_LEN)
        return rq_fail(q, COVE_ERR_LIMIT, "a stop string may have at most %d bytes",
                       COVE_SERVER_MAX_STOP_LEN);
    if (s[0])
        g->stop[g->n_stop++] = s;
    return COVE_OK;
}

cove_status rq_stop(struct rq *q, json_t *v, struct cove_server_gen_opts *g)
{
    void *mem = NULL;
    cove_status st = cove_arena_calloc(q->arena, COVE_SERVER_MAX_STOP, sizeof(char *), &mem);
    if (st != COVE_OK)
        return rq_fail(q, st, "the request is too large to hold in memory");
    g->stop = mem;
    g->n_stop = 0;
    if (json_is_string(v))
        return stop_item(q, v, g, 0);
    return rq_array(q, v, COVE_SERVER_MAX_STOP, stop_item, g);
}

cove_status rq_seed(struct rq *q, json_t *v, struct cove_server_gen_opts *g)
{
    long long x = 0;
    cove_status st = rq_int(q, v, -1, (long long)INT64_MAX, &x);
    if (st != COVE_OK)
        return st;
    g->has_seed = x >= 0; /* llama.cpp: -1 means a random seed */
    g->seed = (uint64_t)x;
    return COVE_OK;
}

void rq_gen_defaults_llama(struct cove_server_gen_opts *g)
{
    *g = (struct cove_server_gen_opts){.max_tokens = -1, .temperature = 0.8f, .top_k = 40,
                                       .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f,
                                       .repeat_last_n = 64, .cache_prompt = 1};
}

void rq_gen_defaults_openai(struct cove_server_gen_opts *g)
{
    *g = (struct cove_server_gen_opts){.max_tokens = -1, .temperature = 1.0f, .top_k = 0,
                                       .top_p = 1.0f, .min_p = 0.0f, .repeat_penalty = 1.0f,
                                       .repeat_last_n = 64, .cache_prompt = 1};
}

/* --------------------------------------------------- completion: the fields */

#define CREQ(p) ((struct cove_server_completion_req *)(p))

static cove_status token_item(struct rq *q, json_t *item, void *out, size_t i)
{
    int32_t *toks = (int32_t *)CREQ(out)->prompt_tokens;
    return rq_int32(q, item, 0, INT32_MAX, &toks[i]);
}

static cove_status f_prompt(struct rq *q, json_t *v, void *out)
{
    struct cove_server_completion_req *r = out;
    if (json_is_string(v))
        return rq_string(q, v, &r->prompt);
    if (json_is_array(v) && json_array_size(v) == 1 && json_is_string(json_array_get(v, 0)))
        return rq_string(q, json_array_get(v, 0), &r->prompt); /* ["text"]: one prompt */
    if (!json_is_array(v) || r->model) /* token arrays: /completion only */
        return rq_fail(q, COVE_ERR_FORMAT, "'prompt' must be a string%s",
                       r->model ? "" : " or an array of token ids");
    if (json_array_size(v) > COVE_MAX_CTX)
        return rq_fail(q, COVE_ERR_LIMIT, "'prompt' has more than %u tokens", COVE_MAX_CTX);
    void *mem = NULL;
    if (cove_arena_calloc(q->arena, json_array_size(v) + 1, sizeof(int32_t), &mem) != COVE_OK)
        return rq_fail(q, COVE_ERR_NOMEM, "the request is too large to hold in memory");
    r->prompt_tokens = mem;
    r->n_prompt_tokens = json_array_size(v);
    return rq_array(q, v, COVE_MAX_CTX, token_item, r);
}

static cove_status f_model(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &CREQ(out)->model);
}

static cove_status f_n_predict(struct rq *q, json_t *v, void *out)
{
    return rq_int32(q, v, -1, COVE_SERVER_MAX_TOKENS, &CREQ(out)->gen.max_tokens);
}

static cove_status f_max_tokens(struct rq *q, json_t *v, void *out)
{
    return rq_int32(q, v, 0, COVE_SERVER_MAX_TOKENS, &CREQ(out)->gen.max_tokens);
}

static cove_status f_temperature(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 100, &CREQ(out)->gen.temperature);
}

static cove_status f_top_k(struct rq *q, json_t *v, void *out)
{
    return rq_int32(q, v, 0, COVE_MAX_VOCAB, &CREQ(out)->gen.top_k);
}

static cove_status f_top_p(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 1, &CREQ(out)->gen.top_p);
}

static cove_status f_min_p(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 1, &CREQ(out)->gen.min_p);
}

static cove_status f_repeat_penalty(struct rq *q, json_t *v, void *out)
{
    return rq_float(q, v, 0, 100, &CREQ(out)->gen.repeat_penalty);
}

static cove_status f_repeat_last_n(struct rq *q, json_t *v, void *out)
{
    return rq_int32(q, v, 0, 4096, &CREQ(out)->gen.repeat_last_n);
}

static cove_status f_stop(struct rq *q, json_t *v, void *out)
{
    return rq_stop(q, v, &CREQ(out)->gen);
}

static cove_status f_seed(struct rq *q, json_t *v, void *out)
{
    return rq_seed(q, v, &CREQ(out)->gen);
}

static cove_status f_stream(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &CREQ(out)->gen.stream);
}

static cove_status f_cache_prompt(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &CREQ(out)->gen.cache_prompt);
}

static cove_status f_grammar(struct rq *q, json_t *v, void *out)
{
    struct cove_server_completion_req *r = out;
    if (r->format == COVE_SERVER_FORMAT_JSON_SCHEMA)
        return rq_fail(q, COVE_ERR_FORMAT, "'grammar' and 'json_schema' exclude each other");
    cove_status st = rq_string(q, v, &r->grammar);
    if (st == COVE_OK && r->grammar[0])
        r->format = COVE_SERVER_FORMAT_GRAMMAR;
    return st;
}

static cove_status f_json_schema(struct rq *q, json_t *v, void *out)
{
    struct cove_server_completion_req *r = out;
    if (r->format == COVE_SERVER_FORMAT_GRAMMAR)
        return rq_fail(q, COVE_ERR_FORMAT, "'grammar' and 'json_schema' exclude each other");
    if (!json_is_object(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'json_schema' must be an object");
    r->format = COVE_SERVER_FORMAT_JSON_SCHEMA;
    return rq_dump(q, v, 0, &r->schema);
}

static cove_status f_n_probs(struct rq *q, json_t *v, void *out)
{
    long long x = 0;
    cove_status st = rq_int(q, v, 0, COVE_SERVER_MAX_TOP_LOGPROBS, &x);
    CREQ(out)->n_probs = (int)x;
    return st;
}

static cove_status f_logprobs(struct rq *q, json_t *v, void *out)
{
    long long x = 0;
    cove_status st = rq_int(q, v, 0, 5, &x);
    CREQ(out)->logprobs = (int)x;
    return st;
}

static cove_status f_one(struct rq *q, json_t *v, void *out)
{
    long long x = 0;
    cove_status st = rq_int(q, v, 1, 64, &x);
    if (st == COVE_OK && x != 1)
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "'%s' must be 1: cove returns one choice",
                       q->path);
    return st;
}

static cove_status f_zero_penalty(struct rq *q, json_t *v, void *out)
{
    float x = 0;
    cove_status st = rq_float(q, v, -2, 2, &x);
    if (st == COVE_OK && x != 0)
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "'%s' is not supported (only 0); use "
                       "repeat_penalty", q->path);
    return st;
}

static cove_status f_echo(struct rq *q, json_t *v, void *out)
{
    cove_status st = rq_bool(q, v, &CREQ(out)->echo);
    if (st == COVE_OK && CREQ(out)->echo)
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "'echo' is not supported");
    return st;
}

static cove_status f_ignored_string(struct rq *q, json_t *v, void *out)
{
    const char *s = NULL;
    return rq_string(q, v, &s);
}

static cove_status f_empty_object(struct rq *q, json_t *v, void *out)
{
    if (!json_is_object(v))
        return rq_fail(q, COVE_ERR_FORMAT, "'%s' must be an object", q->path);
    if (json_object_size(v) != 0)
        return rq_fail(q, COVE_ERR_UNSUPPORTED, "'%s' is not supported", q->path);
    return COVE_OK;
}

static cove_status f_include_usage(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &CREQ(out)->include_usage);
}

static cove_status f_stream_options(struct rq *q, json_t *v, void *out)
{
    static const struct rq_field fields[] = {{"include_usage", f_include_usage}};
    return rq_object(q, v, fields, 1, out);
}

static const struct rq_field llama_fields[] = {
    {"prompt", f_prompt},           {"n_predict", f_n_predict},
    {"temperature", f_temperature}, {"top_k", f_top_k},
    {"top_p", f_top_p},             {"min_p", f_min_p},
    {"repeat_penalty", f_repeat_penalty}, {"repeat_last_n", f_repeat_last_n},
    {"stop", f_stop},               {"seed", f_seed},
    {"grammar", f_grammar},         {"json_schema", f_json_schema},
    {"stream", f_stream},           {"cache_prompt", f_cache_prompt},
    {"n_probs", f_n_probs},
};

static const struct rq_field v1_fields[] = {
    {"model", f_model},             {"prompt", f_prompt},
    {"max_tokens", f_max_tokens},   {"temperature", f_temperature},
    {"top_p", f_top_p},             {"top_k", f_top_k},
    {"min_p", f_min_p},             {"stop", f_stop},
    {"seed", f_seed},               {"stream", f_stream},
    {"stream_options", f_stream_options}, {"logprobs", f_logprobs},
    {"n", f_one},                   {"best_of", f_one},
    {"echo", f_echo},               {"presence_penalty", f_zero_penalty},
    {"frequency_penalty", f_zero_penalty}, {"logit_bias", f_empty_object},
    {"user", f_ignored_string},     {"suffix", f_ignored_string},
    {"repeat_penalty", f_repeat_penalty}, {"grammar", f_grammar},
};

#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

static cove_status parse_completion(const char *body, size_t len, cove_arena *a,
                                    struct cove_server_completion_req *out, char *param,
                                    cove_error *err, int v1)
{
    struct rq q;
    json_t *root = NULL;
    rq_init(&q, a, param, err);
    memset(out, 0, sizeof *out);
    if (v1)
        rq_gen_defaults_openai(&out->gen);
    else
        rq_gen_defaults_llama(&out->gen);
    cove_status st = rq_load(&q, body, len, &root);
    if (st != COVE_OK)
        return st;
    if (v1) { /* set first: f_prompt reads it to refuse token arrays */
        json_t *m = json_object_get(root, "model");
        if (!json_is_string(m))
            st = rq_fail_at(&q, "model", COVE_ERR_FORMAT,
                            "'model' is required and must be a string");
        else
            out->model = "";
    }
    if (st == COVE_OK)
        st = v1 ? rq_object(&q, root, v1_fields, N_OF(v1_fields), out)
                : rq_object(&q, root, llama_fields, N_OF(llama_fields), out);
    if (st == COVE_OK && !out->prompt && !out->prompt_tokens)
        st = rq_fail_at(&q, "prompt", COVE_ERR_FORMAT, "'prompt' is required");
    json_decref(root);
    return st;
}

cove_status cove_server_parse_completion(const char *body, size_t len, cove_arena *a,
                                         struct cove_server_completion_req *out, char *param,
                                         cove_error *err)
{
    return parse_completion(body, len, a, out, param, err, 0);
}

cove_status cove_server_parse_v1_completion(const char *body, size_t len, cove_arena *a,
                                            struct cove_server_completion_req *out,
                                            char *param, cove_error *err)
{
    return parse_completion(body, len, a, out, param, err, 1);
}
