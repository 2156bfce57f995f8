/*
 * server/request_int.h - the strict JSON walker behind the request parsers (private).
 *
 * A request object is parsed against a table of the fields it may have: each entry names
 * a field and the function that parses its value into the struct being filled. A field
 * that is not in the table is refused; a JSON null counts as an absent field. While a
 * value is parsed, the walker keeps its dotted path ("messages.1.content") so that an
 * error names the field it is about.
 */
#ifndef COVE_SERVER_REQUEST_INT_H
#define COVE_SERVER_REQUEST_INT_H

#include <jansson.h>

#include "server/request.h"

/* State of one parse: where errors go and where memory comes from. */
struct rq {
    cove_arena *arena;
    cove_error *err;
    char *param;                        /* the caller's COVE_SERVER_PARAM_MAX bytes */
    char path[COVE_SERVER_PARAM_MAX];   /* path of the value being parsed */
    size_t path_len;
};

/* Parse one field's value `v` into the struct `out`. */
typedef cove_status (*rq_field_fn)(struct rq *q, json_t *v, void *out);

struct rq_field {
    const char *name;
    rq_field_fn parse;
};

/* Set up q; param and err are the caller's (param gets "" now). */
void rq_init(struct rq *q, cove_arena *a, char *param, cove_error *err);

/* Parse `len` bytes of JSON into *root (owned by the caller: json_decref). The top level
 * must be an object. */
cove_status rq_load(struct rq *q, const char *body, size_t len, json_t **root);

/* Record a failure about the value at the current path (copied to param). Returns st. */
cove_status rq_fail(struct rq *q, cove_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* As rq_fail, naming the field `name` below the current path. */
cove_status rq_fail_at(struct rq *q, const char *name, cove_status st, const char *msg);

/* Walk the object `v` (refused when not an object) with the table of n fields. */
cove_status rq_object(struct rq *q, json_t *v, const struct rq_field *fields, size_t n,
                      void *out);

/* Walk the array `v` (refused when not one, or longer than max): parse(q, item, out, i). */
typedef cove_status (*rq_item_fn)(struct rq *q, json_t *item, void *out, size_t i);
cove_status rq_array(struct rq *q, json_t *v, size_t max, rq_item_fn parse, void *out);

/* Value readers: refuse the wrong JSON type or a value out of [min, max]. */
cove_status rq_string(struct rq *q, json_t *v, const char **out);
cove_status rq_int(struct rq *q, json_t *v, long long min, long long max, long long *out);
cove_status rq_int32(struct rq *q, json_t *v, int32_t min, int32_t max, int32_t *out);
cove_status rq_float(struct rq *q, json_t *v, double min, double max, float *out);
cove_status rq_bool(struct rq *q, json_t *v, int *out);
/* `v` as JSON text in the arena: compact, or json.dumps style (", " and ": "). */
cove_status rq_dump(struct rq *q, json_t *v, int python_style, const char **out);

/* Shared fields of the generating endpoints (out: the request struct; the offset of its
 * cove_server_gen_opts is given by the caller's wrapper functions). */
cove_status rq_stop(struct rq *q, json_t *v, struct cove_server_gen_opts *g);
cove_status rq_seed(struct rq *q, json_t *v, struct cove_server_gen_opts *g);

/* Defaults: llama.cpp's for /completion, OpenAI's for the /v1 endpoints. */
void rq_gen_defaults_llama(struct cove_server_gen_opts *g);
void rq_gen_defaults_openai(struct cove_server_gen_opts *g);

#endif
