/*
 * reply.c - JSON responses and OpenAI-style error objects.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/server_int.h"

double srv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void srv_random_id(char *buf, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t len = n > 25 ? 24 : n - 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    buf[len] = '\0';
}

struct MHD_Response *srv_reply_json(srv_conn *c, unsigned status, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    /* MHD frees the text with free(), as jansson allocated it with malloc */
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    c->status = status;
    return r;
}

static const char *error_type(unsigned status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

json_t *srv_error_json(unsigned status, const char *param, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", msg, "type",
                          error_type(status), "param",
                          param && param[0] ? json_string(param) : json_null(), "code",
                          code ? json_string(code) : json_null());
    if (!e) /* a message that is not UTF-8 */
        e = json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", "invalid request",
                      "type", error_type(status), "param", "code");
    return e;
}

struct MHD_Response *srv_reply_error(srv_conn *c, unsigned status, const char *param,
                                     const char *code, const char *fmt, ...)
{
    char msg[COVE_ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct MHD_Response *r = srv_reply_json(c, status, srv_error_json(status, param, code, msg));
    if (r && status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    return r;
}

static unsigned status_http(cove_status st)
{
    switch (st) {
    case COVE_ERR_FORMAT:
    case COVE_ERR_INVALID_ARG:
    case COVE_ERR_UNSUPPORTED:
    case COVE_ERR_LIMIT: return 400;
    case COVE_ERR_NOT_FOUND: return 404;
    case COVE_ERR_PERMISSION: return 403;
    case COVE_ERR_STATE: return 503;
    default: return 500;
    }
}

const char *srv_status_code(cove_status st)
{
    switch (st) {
    case COVE_ERR_UNSUPPORTED: return "unsupported_parameter";
    case COVE_ERR_LIMIT: return "limit_exceeded";
    case COVE_ERR_FORMAT:
    case COVE_ERR_INVALID_ARG: return "invalid_value";
    default: return NULL;
    }
}

struct MHD_Response *srv_reply_status(srv_conn *c, const cove_error *err, const char *param)
{
    return srv_reply_error(c, status_http(err->status), param, srv_status_code(err->status),
                           "%s", cove_error_msg(err));
}
