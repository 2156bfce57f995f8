/*
 * http.c - the libmicrohttpd side: routing, request bodies, auth and limits before any
 * work, and the completion notice that settles every request's accounts.
 *
 * The checks run in this order, each answered at once with its error: draining (503),
 * route (404) and method (405), API key (401; GET /health needs none), declared body size
 * (413), the tenant's concurrent requests (429). A body that grows past the bound without
 * a Content-Length is read to its end and discarded, then answered 413. Only then does a
 * handler run.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "server/server_int.h"

struct route {
    const char *method;
    const char *path;
    enum srv_route id;
    srv_handler fn;
    int limited; /* counts against the tenant's concurrent requests */
};

static const struct route routes[] = {
    {"POST", "/completion", SRV_ROUTE_COMPLETION, srv_h_completion, 1},
    {"POST", "/completions", SRV_ROUTE_COMPLETION, srv_h_completion, 1},
    {"POST", "/v1/completions", SRV_ROUTE_V1_COMPLETIONS, srv_h_v1_completions, 1},
    {"POST", "/v1/chat/completions", SRV_ROUTE_CHAT, srv_h_chat, 1},
    {"POST", "/chat/completions", SRV_ROUTE_CHAT, srv_h_chat, 1},
    {"POST", "/v1/embeddings", SRV_ROUTE_EMBEDDINGS, srv_h_embeddings, 1},
    {"POST", "/embeddings", SRV_ROUTE_EMBEDDINGS, srv_h_embeddings, 1},
    {"GET", "/v1/models", SRV_ROUTE_MODELS, srv_h_models, 0},
    {"GET", "/models", SRV_ROUTE_MODELS, srv_h_models, 0},
    {"GET", "/health", SRV_ROUTE_HEALTH, srv_h_health, 0},
    {"GET", "/metrics", SRV_ROUTE_METRICS, srv_h_metrics, 0},
    {"POST", "/agent", SRV_ROUTE_AGENT, srv_h_agent, 1},
};

#define N_ROUTES (sizeof routes / sizeof routes[0])

/* The route of path and method; *wrong_method when the path exists for another method. */
static const struct route *find_route(const char *path, const char *method, int *wrong_method)
{
    *wrong_method = 0;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (strcmp(routes[i].path, path) == 0) {
            if (strcmp(routes[i].method, method) == 0)
                return &routes[i];
            *wrong_method = 1;
        }
    return NULL;
}

static srv_conn *conn_new(cove_server *s, struct MHD_Connection *mc)
{
    srv_conn *c = cove_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (cove_arena_create(0, COVE_SERVER_MAX_REQUEST_MEM, &c->arena) != COVE_OK) {
        cove_free(c);
        return NULL;
    }
    c->s = s;
    c->mc = mc;
    c->tenant = -1;
    c->route = SRV_ROUTE_OTHER;
    c->t_start = srv_now();
    srv_random_id(c->rid, sizeof c->rid);
    cove_buf_init(&c->body, s->p.max_body);
    return c;
}

static void conn_free(srv_conn *c)
{
    cove_buf_release(&c->body);
    cove_arena_free(c->arena);
    cove_free(c);
}

static enum MHD_Result queue(srv_conn *c, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(c->mc, c->status ? c->status : 500, r);
    MHD_destroy_response(r);
    return rc;
}

/* The tenant of the request's bearer key; -2 when the key is missing or wrong. */
static int authenticate(srv_conn *c)
{
    if (!c->s->auth)
        return -1;
    const char *h = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Authorization");
    if (!h || cove_str_ncasecmp(h, "Bearer ", 7) != 0)
        return -2;
    h += 7;
    while (*h == ' ')
        h++;
    if (strlen(h) > COVE_SERVER_MAX_KEY)
        return -2;
    int t = srv_auth_check(c->s->auth, h);
    return t >= 0 ? t : -2;
}

/* Declared Content-Length beyond the bound? */
static int declared_too_large(srv_conn *c)
{
    const char *cl = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Content-Length");
    if (!cl)
        return 0;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    return end != cl && n > c->s->p.max_body;
}

/* The checks made before the body is read; a response when one fails, else NULL. */
static struct MHD_Response *admit(srv_conn *c, const char *url, const char *method,
                                  const struct route **rt)
{
    cove_server *s = c->s;
    int wrong_method = 0;
    *rt = find_route(url, method, &wrong_method);
    if (*rt)
        c->route = (*rt)->id;
    if (atomic_load(&s->draining))
        return srv_reply_error(c, 503, NULL, "shutting_down", "the server is shutting down");
    if (!*rt)
        return wrong_method ? srv_reply_error(c, 405, NULL, "method_not_allowed",
                                              "%s is not allowed on %.200s", method, url)
                            : srv_reply_error(c, 404, NULL, "not_found",
                                              "no endpoint %.200s", url);
    if ((*rt)->id != SRV_ROUTE_HEALTH && (c->tenant = authenticate(c)) == -2)
        return srv_reply_error(c, 401, NULL, "invalid_api_key", "a valid API key is needed: "
                               "send the header 'Authorization: Bearer KEY'");
    if (declared_too_large(c))
        return srv_reply_error(c, 413, NULL, "request_too_large", "the request body is larger "
                               "than %zu bytes", s->p.max_body);
    if ((*rt)->limited) {
        if (!srv_tenants_acquire(s->tenants, c->tenant))
            return srv_reply_error(c, 429, NULL, "too_many_requests", "tenant '%s' already has "
                                   "%d requests running; retry when one has finished",
                                   srv_auth_tenant(s->auth, c->tenant),
                                   (int)s->p.tenant_max_concurrent);
        c->holds_tenant = 1;
    }
    return NULL;
}

static void count_inflight(srv_conn *c)
{
    pthread_mutex_lock(&c->s->mu);
    c->s->inflight++;
    c->counted = 1;
    pthread_mutex_unlock(&c->s->mu);
}

static enum MHD_Result first_call(cove_server *s, struct MHD_Connection *mc, const char *url,
                                  const char *method, void **con_cls)
{
    srv_conn *c = conn_new(s, mc);
    if (!c)
        return MHD_NO;
    *con_cls = c;
    count_inflight(c);
    const struct route *rt = NULL;
    struct MHD_Response *r = admit(c, url, method, &rt);
    if (r)
        return queue(c, r);
    c->handler = rt->fn;
    return MHD_YES;
}

enum MHD_Result srv_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    srv_conn *c = *con_cls;
    if (!c)
        return first_call(cls, mc, url, method, con_cls);
    if (*upload_data_size) {
        if (!c->handler || c->body_too_large ||
            cove_buf_append(&c->body, upload_data, *upload_data_size) != COVE_OK)
            c->body_too_large = c->handler != NULL;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!c->handler)
        return MHD_YES; /* answered in the first call */
    srv_handler h = c->handler;
    c->handler = NULL;
    if (c->body_too_large)
        return queue(c, srv_reply_error(c, 413, NULL, "request_too_large", "the request body "
                                        "is larger than %zu bytes", c->s->p.max_body));
    if (c->s->audit && c->route != SRV_ROUTE_AGENT && c->body.data) /* /agent logs its own */
        srv_audit(c->s, COVE_AUDIT_PROMPT, srv_auth_tenant(c->s->auth, c->tenant), c->rid, NULL,
                  c->body.data);
    return queue(c, h(c));
}

void srv_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    cove_server *s = cls;
    srv_conn *c = *con_cls;
    if (!c)
        return;
    *con_cls = NULL;
    unsigned code = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? c->status : 499;
    srv_metrics_request(&s->metrics, c->route, code, srv_now() - c->t_start);
    if (c->holds_tenant)
        srv_tenants_release(s->tenants, c->tenant);
    if (c->counted) {
        pthread_mutex_lock(&s->mu);
        if (--s->inflight == 0)
            pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->mu);
    }
    conn_free(c);
}
