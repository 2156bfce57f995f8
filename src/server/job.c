/*
 * job.c - one generation on the scheduler, seen from HTTP: submit, events, waiting,
 * streaming, cancelling when the client goes away.
 *
 * A job is shared by two sides: the scheduler's worker (on_token, on_done) and the
 * connection's thread (waiting, or the SSE reader callback). Each side holds one reference;
 * the last to let go frees the job. Everything both sides touch is guarded by job->mu.
 *
 * Streaming: the worker formats each event as SSE text into job->out (bounded: a client
 * that does not read is cancelled once COVE_SERVER_MAX_STREAM_PENDING bytes wait), and the
 * connection thread's reader callback hands those bytes to libmicrohttpd, blocking while
 * there are none (libmicrohttpd runs one thread per connection, so a blocking reader
 * stalls no one else). While waiting, both the reader and the non-streaming wait look at
 * the socket every SRV_POLL_MS: a peer that closed it gets its generation cancelled.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "server/job_int.h"

#define SRV_POLL_MS 100

/* ------------------------------------------------------------ references */

static void job_unref(srv_job *j)
{
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    cove_buf_release(&j->out);
    cove_buf_release(&j->text);
    cove_buf_release(&j->held);
    json_decref(j->logprobs);
    cove_free(j);
}

static srv_job *job_new(srv_conn *c, const srv_job_spec *spec)
{
    srv_job *j = cove_calloc(1, sizeof *j);
    if (!j)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    srv_cond_init_monotonic(&j->cv);
    j->refs = 2;
    j->s = c->s;
    j->spec = *spec;
    j->tenant = srv_auth_tenant(c->s->auth, c->tenant);
    cove_str_copy(j->id, sizeof j->id, c->rid);
    j->created = (long)time(NULL);
    j->t_submit = srv_now();
    cove_buf_init(&j->out, COVE_SERVER_MAX_STREAM_PENDING + COVE_SERVER_MAX_OUTPUT);
    cove_buf_init(&j->text, COVE_SERVER_MAX_OUTPUT);
    cove_buf_init(&j->held, COVE_SERVER_MAX_OUTPUT);
    if (spec->n_logprobs || spec->want_logprobs)
        j->logprobs = json_array();
    j->fd = srv_conn_fd(c);
    return j;
}

/* ----------------------------------------------------- scheduler callbacks */

static int on_token(void *user, const cove_sched_token *ev)
{
    srv_job *j = user;
    pthread_mutex_lock(&j->mu);
    if (j->t_first == 0 && ev->token >= 0)
        j->t_first = srv_now();
    if (j->logprobs && ev->token >= 0)
        srv_job_add_logprob(j, ev);
    if (j->spec.stream && !j->gone)
        srv_job_stream_event(j, ev);
    int stop = j->gone || j->out.len - j->out_off > COVE_SERVER_MAX_STREAM_PENDING;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return stop;
}

static void on_done(void *user, const cove_sched_result *res)
{
    srv_job *j = user;
    pthread_mutex_lock(&j->mu);
    if (cove_buf_append(&j->text, res->text, res->text_len) != COVE_OK)
        j->text_cut = 1;
    j->finish = res->finish;
    j->status = res->status;
    snprintf(j->errmsg, sizeof j->errmsg, "%s", res->error_msg ? res->error_msg : "");
    j->n_prompt = res->n_prompt;
    j->n_cached = res->n_cached;
    j->n_gen = res->n_generated;
    j->t_prompt_ms = res->t_prompt_ms;
    j->t_gen_ms = res->t_gen_ms;
    j->t_queue_ms = res->t_queue_ms;
    if (res->stop)
        snprintf(j->stop_word, sizeof j->stop_word, "%s", res->stop);
    if (j->spec.stream && !j->gone)
        srv_job_stream_end(j);
    j->done = 1;
    srv_metrics_tokens(&j->s->metrics, res->n_prompt, res->n_generated,
                       j->t_first > 0 ? j->t_first - j->t_submit : -1);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}

/* ------------------------------------------------------------ the client */

int srv_peer_gone(int fd)
{
    if (fd < 0)
        return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        return 1;
    char ch;
    ssize_t n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void srv_poll_wait(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += SRV_POLL_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

void srv_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

int srv_conn_fd(srv_conn *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

ssize_t srv_sse_take(struct cove_buf *out, size_t *off, int gone, char *buf, size_t max)
{
    if (gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (*off == out->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t k = out->len - *off < max ? out->len - *off : max;
    memcpy(buf, out->data + *off, k);
    *off += k;
    if (*off == out->len) {
        cove_buf_reset(out);
        *off = 0;
    }
    return (ssize_t)k;
}

struct MHD_Response *srv_sse_response(srv_conn *c, MHD_ContentReaderCallback reader,
                                      MHD_ContentReaderFreeCallback free_cb, void *cls)
{
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, cls, free_cb);
    if (!r) {
        free_cb(cls);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    c->status = 200;
    return r;
}

/* The client went away (mu held): cancel the generation, once. */
static void client_gone(srv_job *j)
{
    if (j->gone)
        return;
    j->gone = 1;
    if (!j->done) {
        cove_sched_cancel(j->s->sched, j->sid);
        srv_metrics_cancel(&j->s->metrics);
    }
}

/* Non-streaming: wait for on_done, watching the client. 0: done; -1: client gone. */
static int wait_done(srv_job *j)
{
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        srv_poll_wait(&j->cv, &j->mu);
        if (!j->done && srv_peer_gone(j->fd)) {
            client_gone(j);
            break;
        }
    }
    int rc = j->done && !j->gone ? 0 : -1;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    srv_job *j = cls;
    pthread_mutex_lock(&j->mu);
    while (j->out_off == j->out.len && !j->done && !j->gone) {
        srv_poll_wait(&j->cv, &j->mu);
        if (srv_peer_gone(j->fd))
            client_gone(j);
    }
    ssize_t n = srv_sse_take(&j->out, &j->out_off, j->gone, buf, max);
    pthread_mutex_unlock(&j->mu);
    return n;
}

/* The model output and the tool calls parsed from it into the audit log (job done). */
static void job_audit(srv_job *j)
{
    if (!j->s->audit)
        return;
    srv_audit(j->s, COVE_AUDIT_MODEL_OUTPUT, j->tenant, j->id, NULL,
              j->text.data ? j->text.data : "");
    json_t *calls = j->spec.tool_mode ? srv_tools_parse(j->text.data, j->text.len, j->spec.tools,
                                                        j->finish == COVE_SCHED_FINISH_LENGTH)
                                      : NULL;
    size_t i;
    json_t *call;
    json_array_foreach(calls, i, call) {
        json_t *fn = json_object_get(call, "function");
        srv_audit(j->s, COVE_AUDIT_TOOL_CALL, j->tenant, j->id,
                  json_string_value(json_object_get(fn, "name")),
                  json_string_value(json_object_get(fn, "arguments")));
    }
    json_decref(calls);
}

static void stream_free(void *cls)
{
    srv_job *j = cls;
    pthread_mutex_lock(&j->mu);
    if (!j->done)
        client_gone(j);
    int done = j->done && !j->gone;
    pthread_mutex_unlock(&j->mu);
    if (done)
        job_audit(j);
    job_unref(j);
}

/* --------------------------------------------------------------- submit */

static struct MHD_Response *submit_failed(srv_conn *c, const cove_error *err)
{
    if (err->status == COVE_ERR_LIMIT && strstr(err->msg, "queue")) {
        struct MHD_Response *r = srv_reply_error(c, 503, NULL, "queue_full",
                                                 "the server is busy: %s; retry later",
                                                 cove_error_msg(err));
        if (r)
            MHD_add_response_header(r, "Retry-After", "1");
        return r;
    }
    if (err->status == COVE_ERR_STATE)
        return srv_reply_error(c, 503, NULL, "shutting_down", "the server is shutting down");
    if (err->status == COVE_ERR_LIMIT && strstr(err->msg, "prompt"))
        return srv_reply_error(c, 400, "prompt", "context_length_exceeded", "%s",
                               cove_error_msg(err));
    return srv_reply_status(c, err, NULL);
}

struct MHD_Response *srv_job_run(srv_conn *c, const srv_job_spec *spec)
{
    srv_job *j = job_new(c, spec);
    if (!j)
        return srv_reply_error(c, 500, NULL, NULL, "out of memory");
    cove_sched_request req = spec->req;
    req.on_token = on_token;
    req.on_done = on_done;
    req.user = j;
    req.n_logprobs = spec->n_logprobs;
    if (spec->stream)
        srv_job_stream_start(j);
    cove_error err = {0};
    pthread_mutex_lock(&j->mu); /* on_done may not look at sid before it is set */
    cove_status st = cove_sched_submit(c->s->sched, &req, &j->sid, &err);
    if (st != COVE_OK)
        j->refs--; /* no callback will come */
    pthread_mutex_unlock(&j->mu);
    if (st != COVE_OK) {
        job_unref(j);
        return submit_failed(c, &err);
    }
    if (spec->stream)
        return srv_sse_response(c, stream_reader, stream_free, j);
    struct MHD_Response *r = NULL;
    if (wait_done(j) == 0) {
        r = srv_job_reply(c, j);
        job_audit(j);
    }
    job_unref(j);
    return r;
}
