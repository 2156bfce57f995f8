/*
 * server.c - the server's life cycle: models, scheduler, listening socket, drain, free.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "engine/gguf/gguf.h"
#include "server/server_int.h"

cove_server_params cove_server_default_params(void)
{
    cove_server_params p = {
        .host = "127.0.0.1",
        .n_parallel = 4,
        .n_queue_max = 64,
        .tenant_max_concurrent = COVE_SERVER_TENANT_CONCURRENT,
        .max_body = COVE_SERVER_MAX_BODY,
        .max_tokens = COVE_SERVER_MAX_TOKENS,
        .prefix_cache = 1,
    };
    return p;
}

/* 1 when host is a loopback address (127.0.0.0/8, ::1) or "localhost". */
static int is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* The model id: the file name without directories and ".gguf". */
static void model_id_of(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    cove_str_copy(out, n, base);
    size_t len = strlen(out);
    if (len > 5 && strcmp(out + len - 5, ".gguf") == 0)
        out[len - 5] = '\0';
}

/* The chat family, default system prompt and BOS rule from the GGUF's template. */
static cove_status load_template(cove_server *s, cove_error *err)
{
    cove_gguf *g = NULL;
    if (cove_gguf_open(s->p.model_path, &g, err) != COVE_OK)
        return err ? err->status : COVE_ERR_IO;
    cove_gguf_str t = {0};
    s->chat = (struct cove_chat_template_info){.family = COVE_CHAT_GENERIC};
    if (cove_gguf_get_str(g, "tokenizer.chat_template", &t) == COVE_OK)
        cove_chat_inspect(t.ptr, (size_t)t.len, &s->chat);
    cove_gguf_free(g);
    s->chat_fmt = cove_chat_default_options();
    s->chat_fmt.default_system = s->chat.has_default_system ? s->chat.default_system : NULL;
    int32_t bos = cove_model_token_bos(s->model), eos = cove_model_token_eos(s->model);
    s->chat_fmt.bos_text = bos >= 0 ? cove_token_text(s->model, bos) : NULL;
    s->chat_fmt.eos_text = eos >= 0 ? cove_token_text(s->model, eos) : NULL;
    s->chat_add_special = !cove_chat_emits_bos(s->chat.family, &s->chat_fmt);
    return COVE_OK;
}

static cove_status load_models(cove_server *s, cove_error *err)
{
    cove_status st = cove_model_load(s->p.model_path, cove_model_default_params(), &s->model, err);
    if (st == COVE_OK)
        st = load_template(s, err);
    cove_sched_params sp = cove_sched_default_params();
    sp.n_slots = s->p.n_parallel;
    sp.n_ctx = s->p.n_ctx;
    sp.n_threads = s->p.n_threads;
    sp.n_queue_max = s->p.n_queue_max;
    sp.prefix_cache = s->p.prefix_cache;
    if (sp.n_batch < sp.n_slots)
        sp.n_batch = sp.n_slots;
    if (st == COVE_OK)
        st = cove_sched_create(s->model, sp, &s->sched, err);
    if (st == COVE_OK)
        s->n_ctx = cove_sched_n_ctx(s->sched);
    model_id_of(s->p.model_path, s->model_id, sizeof s->model_id);
    if (st != COVE_OK || !s->p.embed_model_path)
        return st;
    cove_embed_params ep = cove_embed_default_params();
    ep.n_threads = s->p.n_threads;
    st = cove_model_load(s->p.embed_model_path, cove_model_default_params(), &s->emb_model, err);
    if (st == COVE_OK)
        st = cove_embedder_create(s->emb_model, ep, &s->emb, err);
    model_id_of(s->p.embed_model_path, s->embed_id, sizeof s->embed_id);
    return st;
}

/* Listen on host:port with one thread per connection. */
static cove_status start_http(cove_server *s, cove_error *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->p.port);
    if (getaddrinfo(s->p.host, port, &hints, &ai) != 0 || !ai)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cannot resolve the host '%s'",
                              s->p.host);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->p.port, NULL, NULL, srv_on_request, s,
                              MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_NOTIFY_COMPLETED, srv_on_completed, s,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)COVE_SERVER_MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                              MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd)
        return cove_error_set(err, COVE_ERR_IO, "cannot listen on %s port %d (in use?)",
                              s->p.host, s->p.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->p.port;
    return COVE_OK;
}

static cove_status setup(cove_server *s, cove_error *err)
{
    if (!s->keyed && !is_loopback(s->p.host))
        return cove_error_set(err, COVE_ERR_PERMISSION, "without --api-key-file the server "
                              "only listens on a loopback address, not '%s'", s->p.host);
    if (s->keyed && srv_auth_load(s->key_file, &s->auth, err) != COVE_OK)
        return err ? err->status : COVE_ERR_IO;
    if (srv_tenants_create(s->auth ? COVE_SERVER_MAX_TENANTS : 0, s->p.tenant_max_concurrent,
                           &s->tenants) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_status st = srv_agents_setup(s, err);
    if (st == COVE_OK)
        st = load_models(s, err);
    return st == COVE_OK ? start_http(s, err) : st;
}

cove_status cove_server_create(const cove_server_params *p, cove_server **out, cove_error *err)
{
    *out = NULL;
    if (!p || !p->model_path || p->n_parallel < 1 || p->tenant_max_concurrent < 1 ||
        p->max_tokens < 1 || p->port < 0 || p->port > 65535)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad server parameters");
    if (sodium_init() < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium cannot start");
    cove_server *s = cove_calloc(1, sizeof *s);
    if (!s)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    s->p = *p;
    s->host = cove_strdup(p->host ? p->host : "127.0.0.1");
    s->key_file = p->api_key_file ? cove_strdup(p->api_key_file) : NULL;
    s->p.host = s->host;
    s->keyed = p->api_key_file != NULL;
    s->p.api_key_file = s->key_file;
    s->p.model_path = NULL;
    s->created = (long)time(NULL);
    s->audit = p->audit;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_mutex_init(&s->emb_mu, NULL);
    srv_metrics_init(&s->metrics);
    s->model_path = cove_strdup(p->model_path);
    s->embed_path = p->embed_model_path ? cove_strdup(p->embed_model_path) : NULL;
    s->p.model_path = s->model_path;
    s->p.embed_model_path = s->embed_path;
    cove_status st = !s->host || !s->model_path || (p->api_key_file && !s->key_file) ||
                             (p->embed_model_path && !s->embed_path)
                         ? cove_error_set(err, COVE_ERR_NOMEM, "out of memory")
                         : setup(s, err);
    s->p.agent_names = s->p.agent_configs = s->p.agent_roots = NULL; /* read in setup */
    s->p.agent_kb = NULL;
    if (st != COVE_OK) {
        cove_server_free(s);
        return st;
    }
    *out = s;
    return COVE_OK;
}

int cove_server_port(const cove_server *s)
{
    return s->port;
}

const char *cove_server_model_id(const cove_server *s)
{
    return s->model_id;
}

/* Wait until no request is in flight or the deadline (monotonic seconds; < 0: none). */
static int wait_idle(cove_server *s, double deadline)
{
    pthread_mutex_lock(&s->mu);
    while (s->inflight > 0 && (deadline < 0 || srv_now() < deadline)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->idle, &s->mu, &ts);
    }
    int idle = s->inflight == 0;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

cove_status cove_server_drain(cove_server *s, int timeout_ms)
{
    if (!s->mhd)
        return COVE_OK;
    atomic_store(&s->draining, 1);
    MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
    int idle = wait_idle(s, timeout_ms < 0 ? -1 : srv_now() + timeout_ms / 1000.0);
    if (s->sched)
        cove_sched_shutdown(s->sched, idle ? COVE_SCHED_SHUTDOWN_DRAIN : COVE_SCHED_SHUTDOWN_CANCEL);
    if (!idle)
        wait_idle(s, srv_now() + 5.0);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    return idle ? COVE_OK : COVE_ERR_TIMEOUT;
}

void cove_server_free(cove_server *s)
{
    if (!s)
        return;
    cove_server_drain(s, 0);
    srv_agents_free(s);
    cove_sched_free(s->sched);
    cove_embedder_free(s->emb);
    cove_model_free(s->emb_model);
    cove_model_free(s->model);
    srv_tenants_free(s->tenants);
    srv_auth_free(s->auth);
    srv_metrics_destroy(&s->metrics);
    pthread_mutex_destroy(&s->emb_mu);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    cove_free(s->host);
    cove_free(s->key_file);
    cove_free(s->model_path);
    cove_free(s->embed_path);
    cove_free(s);
}
