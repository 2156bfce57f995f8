/*
 * metrics.c - the server's counters and histograms, and the Prometheus text of /metrics.
 *
 * Every metric is named cove_*; the scheduler's counters (queue, batch size, prefix cache)
 * are read from cove_sched_metrics_get at each scrape.
 */
#include <string.h>

#include "server/server_int.h"

static const double bucket_le[SRV_N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,    2.5,   5,    10,  30};
static const unsigned code_of[SRV_N_CODES] = {200, 400, 401, 404, 405, 413, 429, 500, 503, 0};
static const char *const route_name[SRV_ROUTE_COUNT] = {
    "/completion", "/v1/completions", "/v1/chat/completions", "/v1/embeddings",
    "/v1/models",  "/health",         "/metrics",             "/agent", "other"};

void srv_metrics_init(srv_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void srv_metrics_destroy(srv_metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

static void hist_add(srv_hist *h, double v)
{
    int b = 0;
    while (b < SRV_N_BUCKETS && v > bucket_le[b])
        b++;
    h->counts[b]++;
    h->sum += v;
    h->n++;
}

void srv_metrics_request(srv_metrics *m, enum srv_route r, unsigned code, double seconds)
{
    int k = 0;
    while (k < SRV_N_CODES - 1 && code_of[k] != code)
        k++;
    pthread_mutex_lock(&m->mu);
    m->requests[r][k]++;
    hist_add(&m->duration[r], seconds);
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_tokens(srv_metrics *m, int32_t prompt, int32_t completion, double ttft_s)
{
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += (uint64_t)(prompt > 0 ? prompt : 0);
    m->completion_tokens += (uint64_t)(completion > 0 ? completion : 0);
    if (ttft_s >= 0)
        hist_add(&m->ttft, ttft_s);
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_cancel(srv_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    m->client_cancels++;
    pthread_mutex_unlock(&m->mu);
}

static cove_status render_hist(struct cove_buf *b, const char *name, const char *label,
                               const srv_hist *h)
{
    uint64_t cum = 0;
    cove_status st = COVE_OK;
    for (int i = 0; i <= SRV_N_BUCKETS && st == COVE_OK; i++) {
        cum += h->counts[i];
        if (i < SRV_N_BUCKETS)
            st = cove_buf_appendf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label,
                                  label[0] ? "," : "", bucket_le[i], (unsigned long long)cum);
        else
            st = cove_buf_appendf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label,
                                  label[0] ? "," : "", (unsigned long long)cum);
    }
    const char *o = label[0] ? "{" : "", *c = label[0] ? "}" : "";
    if (st == COVE_OK)
        st = cove_buf_appendf(b, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, o, label, c,
                              h->sum, name, o, label, c, (unsigned long long)h->n);
    return st;
}

static cove_status render_requests(const srv_metrics *m, struct cove_buf *b)
{
    cove_status st = cove_buf_append_str(
        b, "# HELP cove_http_requests_total HTTP requests answered, by endpoint and status.\n"
           "# TYPE cove_http_requests_total counter\n");
    for (int r = 0; r < SRV_ROUTE_COUNT && st == COVE_OK; r++)
        for (int k = 0; k < SRV_N_CODES && st == COVE_OK; k++)
            if (m->requests[r][k])
                st = k < SRV_N_CODES - 1
                         ? cove_buf_appendf(b, "cove_http_requests_total{endpoint=\"%s\","
                                               "code=\"%u\"} %llu\n", route_name[r], code_of[k],
                                            (unsigned long long)m->requests[r][k])
                         : cove_buf_appendf(b, "cove_http_requests_total{endpoint=\"%s\","
                                               "code=\"other\"} %llu\n", route_name[r],
                                            (unsigned long long)m->requests[r][k]);
    if (st == COVE_OK)
        st = cove_buf_append_str(b, "# HELP cove_http_request_duration_seconds Time from a "
                                    "request's arrival to its last byte sent.\n"
                                    "# TYPE cove_http_request_duration_seconds histogram\n");
    for (int r = 0; r < SRV_ROUTE_COUNT && st == COVE_OK; r++) {
        char label[64];
        snprintf(label, sizeof label, "endpoint=\"%s\"", route_name[r]);
        if (m->duration[r].n)
            st = render_hist(b, "cove_http_request_duration_seconds", label, &m->duration[r]);
    }
    if (st == COVE_OK)
        st = cove_buf_append_str(b, "# HELP cove_time_to_first_token_seconds Time from a "
                                    "generation's submission to its first token.\n"
                                    "# TYPE cove_time_to_first_token_seconds histogram\n");
    if (st == COVE_OK)
        st = render_hist(b, "cove_time_to_first_token_seconds", "", &m->ttft);
    return st;
}

/* One metric line with HELP and TYPE. */
static cove_status line(struct cove_buf *b, const char *name, const char *type,
                        const char *help, double v)
{
    return cove_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
                            name, v);
}

static cove_status render_sched(const cove_sched_metrics *sm, struct cove_buf *b)
{
    double batch = sm->steps ? (double)sm->batch_tokens / (double)sm->steps : 0;
    double seqs = sm->steps ? (double)sm->batch_seqs / (double)sm->steps : 0;
    double hit = sm->prefix_lookups ? (double)sm->prefix_hits / (double)sm->prefix_lookups : 0;
    cove_status st = line(b, "cove_queue_length", "gauge", "Requests waiting for a slot.",
                          sm->queue_len);
    if (st == COVE_OK)
        st = line(b, "cove_requests_active", "gauge", "Requests in slots.", sm->active);
    if (st == COVE_OK)
        st = line(b, "cove_slots", "gauge", "Scheduler slots.", sm->n_slots);
    if (st == COVE_OK)
        st = line(b, "cove_batch_size_mean", "gauge", "Mean tokens per decode step.", batch);
    if (st == COVE_OK)
        st = line(b, "cove_batch_sequences_mean", "gauge", "Mean sequences per decode step.",
                  seqs);
    if (st == COVE_OK)
        st = line(b, "cove_decode_steps_total", "counter", "Decode steps.", (double)sm->steps);
    if (st == COVE_OK)
        st = line(b, "cove_prefix_cache_hit_ratio", "gauge",
                  "Admitted requests that reused a cached prefix, of those that looked.", hit);
    if (st == COVE_OK)
        st = line(b, "cove_prefix_cache_reused_tokens_total", "counter",
                  "Prompt tokens taken from the prefix cache.", (double)sm->tokens_reused);
    if (st == COVE_OK)
        st = line(b, "cove_tokens_evaluated_total", "counter", "Prompt tokens computed.",
                  (double)sm->tokens_evaluated);
    if (st == COVE_OK)
        st = line(b, "cove_tokens_generated_total", "counter", "Tokens generated.",
                  (double)sm->tokens_generated);
    if (st == COVE_OK)
        st = line(b, "cove_requests_rejected_total", "counter",
                  "Generations refused because the queue was full.",
                  (double)sm->requests_rejected);
    if (st == COVE_OK)
        st = line(b, "cove_requests_cancelled_total", "counter", "Generations cancelled.",
                  (double)sm->requests_cancelled);
    return st;
}

cove_status srv_metrics_render(srv_metrics *m, cove_sched *sched, struct cove_buf *b)
{
    cove_sched_metrics sm;
    cove_sched_metrics_get(sched, &sm);
    pthread_mutex_lock(&m->mu);
    cove_status st = render_requests(m, b);
    if (st == COVE_OK)
        st = line(b, "cove_prompt_tokens_total", "counter", "Prompt tokens of requests.",
                  (double)m->prompt_tokens);
    if (st == COVE_OK)
        st = line(b, "cove_completion_tokens_total", "counter", "Tokens answered.",
                  (double)m->completion_tokens);
    if (st == COVE_OK)
        st = line(b, "cove_client_disconnects_total", "counter",
                  "Generations cancelled because the client went away.",
                  (double)m->client_cancels);
    pthread_mutex_unlock(&m->mu);
    if (st == COVE_OK)
        st = render_sched(&sm, b);
    return st;
}
