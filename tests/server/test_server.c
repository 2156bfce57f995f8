/*
 * test_server.c - the HTTP server driven over real sockets with libcurl.
 *
 * Each case starts a server in this process on 127.0.0.1, port 0 (a free port), with the
 * fixture model stories260K (real weights; greedy output is known, see the models README),
 * talks to it with libcurl, and stops it before returning. Embeddings use the catalogue's
 * all-minilm-l6-v2 from the model cache ($COVE_MODELS or ~/.cache/cove/models). The /agent
 * stream cases run an agent on a scripted OpenAI-style model server in this process, so
 * their steps are known exactly (the real model's /agent stream is in test_serve.py).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "audit/audit.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/str.h"
#include "server/server.h"
#include "test.h"

#define CTX 2048

__attribute__((constructor)) static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------- helpers */

struct reply {
    long status;
    struct cove_buf body;
    char retry_after[32];
    int abort_after_first; /* the write callback aborts after the first chunk */
    int chunks;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    r->chunks++;
    if (r->abort_after_first && r->chunks > 1)
        return 0;
    cove_buf_append(&r->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    if (size * n > 13 && strncasecmp(p, "Retry-After: ", 13) == 0)
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)(size * n - 13), p + 13);
    return size * n;
}

/* One request; body NULL: GET. key NULL: no Authorization header. Returns the status. */
static long http(int port, const char *method, const char *path, const char *key,
                 const char *body, size_t body_len, struct reply *r)
{
    char url[256], auth[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    cove_buf_init(&r->body, 64u << 20);
    r->status = 0;
    r->chunks = 0;
    r->retry_after[0] = '\0';
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L); /* /agent under ASan */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK || r->abort_after_first)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r->status;
}

static long post(int port, const char *path, const char *key, const char *body, struct reply *r)
{
    return http(port, "POST", path, key, body, strlen(body), r);
}

static json_t *json_of(const struct reply *r)
{
    return r->body.data ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
}

/* 1 when the body is an OpenAI error object whose param is `param` (NULL: null). */
static int is_error(const struct reply *r, const char *param)
{
    json_t *v = json_of(r), *e = json_object_get(v, "error");
    json_t *p = json_object_get(e, "param");
    int ok = json_is_string(json_object_get(e, "message")) &&
             json_is_string(json_object_get(e, "type")) && json_object_get(e, "code") &&
             (param ? json_is_string(p) && strcmp(json_string_value(p), param) == 0
                    : json_is_null(p));
    json_decref(v);
    return ok;
}

static const char *catalogue_model(const char *name)
{
    static char path[1024];
    const char *dir = getenv("COVE_MODELS");
    if (dir && dir[0])
        snprintf(path, sizeof path, "%s/%s", dir, name);
    else
        snprintf(path, sizeof path, "%s/.cache/cove/models/%s", getenv("HOME"), name);
    return path;
}

static cove_server *start(cove_server_params *p)
{
    char model[1024];
    snprintf(model, sizeof model, "%s", test_model_path("stories260K.gguf"));
    p->model_path = model;
    p->port = 0;
    if (!p->n_ctx)
        p->n_ctx = CTX;
    cove_server *s = NULL;
    cove_error err = {0};
    if (cove_server_create(p, &s, &err) != COVE_OK)
        fprintf(stderr, "cove_server_create: %s\n", cove_error_msg(&err));
    return s;
}

static cove_server *start_default(void)
{
    cove_server_params p = cove_server_default_params();
    p.n_parallel = 2;
    p.max_body = 64 * 1024;
    return start(&p);
}

#define GREEDY "\"temperature\":0,\"seed\":1"

/* ------------------------------------------------------------ endpoints */

TEST(server_health_models_metrics)
{
    cove_server *s = start_default();
    CHECK(s);
    int port = cove_server_port(s);
    struct reply r = {0};
    CHECK_EQ_INT(http(port, "GET", "/health", NULL, NULL, 0, &r), 200);
    CHECK(strstr(r.body.data ? r.body.data : "", "\"ok\""));
    cove_buf_release(&r.body);
    CHECK_EQ_INT(http(port, "GET", "/v1/models", NULL, NULL, 0, &r), 200);
    json_t *v = json_of(&r);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(v, "data"), 0),
                                                   "id")), "stories260K");
    json_decref(v);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(port, "/completion", NULL, "{\"prompt\":\"Once\",\"n_predict\":4}", &r), 200);
    cove_buf_release(&r.body);
    const char *want[] = {"cove_http_requests_total{endpoint=\"/completion\",code=\"200\"} 1",
                          "cove_queue_length", "cove_batch_size_mean", "cove_prefix_cache_hit_ratio",
                          "cove_http_request_duration_seconds_bucket", "cove_tokens_generated_total",
                          "cove_time_to_first_token_seconds_count 1"};
    /* a request is counted once its last byte is sent, which may be just after the client
     * has read it: ask again for up to 5 s until every line is there */
    for (int tries = 0; tries < 100; tries++) {
        CHECK_EQ_INT(http(port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
        size_t have = 0;
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            have += strstr(r.body.data ? r.body.data : "", want[i]) != NULL;
        if (have == sizeof want / sizeof want[0])
            break;
        cove_buf_release(&r.body);
        usleep(50 * 1000);
    }
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_MSG(strstr(r.body.data ? r.body.data : "", want[i]), "metrics lack %s:\n%s", want[i], r.body.data);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

TEST(server_completion_greedy_matches_golden)
{
    cove_server *s = start_default();
    CHECK(s);
    struct reply r = {0};
    /* the golden text of stories260K from BOS alone continues "Once upon a time, there ..." */
    CHECK_EQ_INT(post(cove_server_port(s), "/completion", NULL,
                      "{\"prompt\":\"Once upon a time\",\"n_predict\":12," GREEDY "}", &r), 200);
    json_t *v = json_of(&r);
    CHECK(v);
    const char *content = json_string_value(json_object_get(v, "content"));
    CHECK_MSG(content && strncmp(content, ", there was a little girl named Lily", 36) == 0,
              "content: %s", content ? content : "(none)");
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "tokens_predicted")), 12);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "tokens_evaluated")), 5);
    CHECK(json_is_true(json_object_get(v, "stopped_limit")));
    CHECK(json_is_object(json_object_get(v, "timings")));
    json_decref(v);
    cove_buf_release(&r.body);
    /* a stop string ends it and is cut; the second request reuses the cached prefix */
    CHECK_EQ_INT(post(cove_server_port(s), "/completion", NULL,
                      "{\"prompt\":\"Once upon a time\",\"n_predict\":40,\"stop\":[\"Lily\"],"
                      GREEDY "}", &r), 200);
    v = json_of(&r);
    CHECK_STR_EQ(json_string_value(json_object_get(v, "content")), ", there was a little girl named ");
    CHECK(json_is_true(json_object_get(v, "stopped_word")));
    CHECK_STR_EQ(json_string_value(json_object_get(v, "stopping_word")), "Lily");
    CHECK(json_integer_value(json_object_get(v, "tokens_cached")) > 0);
    json_decref(v);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

TEST(server_completion_stream)
{
    cove_server *s = start_default();
    CHECK(s);
    struct reply r = {0};
    CHECK_EQ_INT(post(cove_server_port(s), "/completion", NULL,
                      "{\"prompt\":\"Once upon a time\",\"n_predict\":6,\"stream\":true," GREEDY
                      "}", &r), 200);
    /* data: lines, each a JSON object; the last has stop true; the pieces make the text */
    struct cove_buf text;
    cove_buf_init(&text, 1 << 20);
    int events = 0, last_stop = 0;
    for (char *line = strtok(r.body.data, "\n"); line; line = strtok(NULL, "\n")) {
        CHECK_MSG(strncmp(line, "data: ", 6) == 0, "line: %s", line);
        json_t *v = json_loads(line + 6, 0, NULL);
        CHECK(v);
        cove_buf_append_str(&text, json_string_value(json_object_get(v, "content")));
        last_stop = json_is_true(json_object_get(v, "stop"));
        events++;
        json_decref(v);
    }
    CHECK_EQ_INT(events, 7);
    CHECK(last_stop);
    CHECK_STR_EQ(text.data, ", there was a little g"); /* " g" "irl" are two tokens */
    cove_buf_release(&text);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

TEST(server_v1_completions_and_chat)
{
    cove_server *s = start_default();
    CHECK(s);
    int port = cove_server_port(s);
    struct reply r = {0};
    CHECK_EQ_INT(post(port, "/v1/completions", NULL,
                      "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":5,"
                      GREEDY ",\"logprobs\":2}", &r), 200);
    json_t *v = json_of(&r), *c0 = json_array_get(json_object_get(v, "choices"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(v, "object")), "text_completion");
    CHECK_STR_EQ(json_string_value(json_object_get(c0, "text")), ", there was a little");
    CHECK_STR_EQ(json_string_value(json_object_get(c0, "finish_reason")), "length");
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(c0, "logprobs"), "tokens")), 5);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(v, "usage"),
                                                    "completion_tokens")), 5);
    json_decref(v);
    cove_buf_release(&r.body);
    /* stories260K has no chat template: the ChatML layout is used */
    CHECK_EQ_INT(post(port, "/v1/chat/completions", NULL,
                      "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"Tell a story\"}],\"max_tokens\":8,\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true}}", &r), 200);
    CHECK(strstr(r.body.data ? r.body.data : "", "\"object\":\"chat.completion.chunk\""));
    CHECK(strstr(r.body.data ? r.body.data : "", "\"role\":\"assistant\""));
    CHECK(strstr(r.body.data ? r.body.data : "", "\"usage\":{"));
    CHECK(cove_str_ends_with(r.body.data, "data: [DONE]\n\n"));
    cove_buf_release(&r.body);
    cove_server_free(s);
}

TEST(server_embeddings)
{
    cove_server_params p = cove_server_default_params();
    char emb[1024];
    snprintf(emb, sizeof emb, "%s", catalogue_model("all-minilm-l6-v2.gguf"));
    CHECK_MSG(access(emb, R_OK) == 0, "missing model %s (cove pull all-minilm-l6-v2)", emb);
    p.embed_model_path = emb;
    cove_server *s = start(&p);
    CHECK(s);
    struct reply r = {0};
    CHECK_EQ_INT(post(cove_server_port(s), "/v1/embeddings", NULL,
                      "{\"model\":\"all-minilm-l6-v2\",\"input\":[\"a cat\",\"a dog\",\"revenue\"],"
                      "\"encoding_format\":\"float\"}", &r), 200);
    json_t *v = json_of(&r), *data = json_object_get(v, "data");
    CHECK_EQ_INT(json_array_size(data), 3);
    json_t *e = json_object_get(json_array_get(data, 0), "embedding");
    CHECK_EQ_INT(json_array_size(e), 384);
    double norm = 0;
    for (size_t i = 0; i < 384; i++)
        norm += json_real_value(json_array_get(e, i)) * json_real_value(json_array_get(e, i));
    CHECK(norm > 0.99 && norm < 1.01);
    CHECK(json_integer_value(json_object_get(json_object_get(v, "usage"), "prompt_tokens")) >= 9);
    json_decref(v);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(cove_server_port(s), "/v1/embeddings", NULL,
                      "{\"model\":\"stories260K\",\"input\":\"x\"}", &r), 404);
    CHECK(is_error(&r, "model"));
    cove_buf_release(&r.body);
    cove_server_free(s);
}

/* ------------------------------------------------------------ bad input */

struct bad_case {
    const char *path, *body;
    long status;
    const char *param; /* NULL: null */
};

/* POST each case to the server on port: it must be refused with its status and an error
 * object naming its param. A failure ends the calling case too (test_failed_now). */
static void check_refusals(int port, const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct reply r = {0};
        long st = post(port, cases[i].path, NULL, cases[i].body, &r);
        CHECK_MSG(st == cases[i].status && is_error(&r, cases[i].param),
                  "case %zu %s %s: status %ld, body %s", i, cases[i].path, cases[i].body, st,
                  r.body.data ? r.body.data : "");
        cove_buf_release(&r.body);
    }
}

TEST(server_bad_input)
{
    static const struct bad_case cases[] = {
        {"/completion", "{\"prompt\":\"a\"", 400, NULL},
        {"/completion", "", 400, NULL},
        {"/completion", "[1,2]", 400, NULL},
        {"/completion", "{\"prompt\":\"a\",\"n_predict\":\"many\"}", 400, "n_predict"},
        {"/completion", "{\"prompt\":\"a\",\"temperature\":-1}", 400, "temperature"},
        {"/completion", "{\"prompt\":\"a\",\"stream\":1}", 400, "stream"},
        {"/completion", "{\"prompt\":\"a\",\"whatever\":true}", 400, "whatever"},
        {"/completion", "{\"prompt\":\"a\",\"stop\":[1]}", 400, "stop.0"},
        {"/completion", "{\"n_predict\":3}", 400, "prompt"},
        {"/completion", "{\"prompt\":\"a\",\"prompt\":\"b\"}", 400, NULL},
        {"/completion", "{\"prompt\":[1,99999]}", 400, NULL},
        {"/v1/completions", "{\"prompt\":\"a\"}", 400, "model"},
        {"/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"a\"}", 404, "model"},
        {"/v1/completions", "{\"model\":\"stories260K\",\"prompt\":\"a\",\"n\":2}", 400, "n"},
        {"/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[]}", 400, "messages"},
        {"/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"boss\","
                                 "\"content\":\"x\"}]}", 400, "messages.0.role"},
        {"/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"x\",\"mood\":1}]}", 400, "messages.0.mood"},
        {"/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":5}]}", 400, "messages.0.content"},
        {"/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"x\"}],\"tool_choice\":\"required\"}", 400,
         "tool_choice"},
        {"/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"x\"}],\"max_tokens\":1000000}", 400, "max_tokens"},
        {"/v1/chat/completions", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"x\"}]}", 404, "model"},
        {"/v1/embeddings", "{\"model\":\"stories260K\"}", 400, "input"},
        {"/nothing", "{}", 404, NULL},
    };
    cove_server *s = start_default();
    CHECK(s);
    check_refusals(cove_server_port(s), cases, sizeof cases / sizeof cases[0]);
    if (test_failed_now())
        return;
    struct reply r = {0};
    CHECK_EQ_INT(http(cove_server_port(s), "GET", "/completion", NULL, NULL, 0, &r), 405);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

TEST(server_limits_body_and_context)
{
    cove_server *s = start_default(); /* max_body 64 KiB, context 2048 */
    CHECK(s);
    size_t n = 100 * 1024;
    char *big = malloc(n + 64);
    CHECK(big);
    memset(big, 'a', n + 64);
    memcpy(big, "{\"prompt\":\"", 11);
    memcpy(big + n, "\"}", 3);
    struct reply r = {0};
    long st = post(cove_server_port(s), "/completion", NULL, big, &r);
    CHECK_MSG(st == 413 && is_error(&r, NULL), "status %ld", st);
    cove_buf_release(&r.body);
    /* 20 KiB of words is more than 2048 tokens: refused with a clear message */
    for (size_t i = 11; i < 20 * 1024; i++)
        big[i] = (i % 3 == 2) ? ' ' : 'o';
    memcpy(big + 20 * 1024, "\"}", 3);
    st = post(cove_server_port(s), "/completion", NULL, big, &r);
    free(big);
    CHECK_MSG(st == 400 && is_error(&r, "prompt") && strstr(r.body.data ? r.body.data : "", "context_length_exceeded")
                  && strstr(r.body.data ? r.body.data : "", "the context holds 2048"), "status %ld %s", st,
              r.body.data);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

/* ------------------------------------------------------ auth and backpressure */

struct burst {
    int port;
    const char *key;
    const char *body;
    long status;
    char retry_after[32];
};

static void *burst_one(void *arg)
{
    struct burst *b = arg;
    struct reply r = {0};
    b->status = post(b->port, "/completion", b->key, b->body, &r);
    snprintf(b->retry_after, sizeof b->retry_after, "%s", r.retry_after);
    cove_buf_release(&r.body);
    return NULL;
}

/* n concurrent requests; counts of 200, 429 and 503 answers. */
static void burst(int port, const char *key, const char *body, int n, int *ok, int *n429,
                  int *n503, int *retry_after_ok)
{
    pthread_t th[16];
    struct burst b[16];
    *ok = *n429 = *n503 = 0;
    *retry_after_ok = 1;
    for (int i = 0; i < n; i++) {
        b[i] = (struct burst){.port = port, .key = key, .body = body};
        pthread_create(&th[i], NULL, burst_one, &b[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        *ok += b[i].status == 200;
        *n429 += b[i].status == 429;
        *n503 += b[i].status == 503;
        if (b[i].status == 503 && atoi(b[i].retry_after) < 1)
            *retry_after_ok = 0;
    }
}

#define LONG_BODY "{\"prompt\":\"Once upon a time\",\"n_predict\":600,\"stop\":[\"zzzz\"]}"

TEST(server_auth_and_tenant_limit)
{
    char keys[1024];
    snprintf(keys, sizeof keys, "%s/keys.txt", test_tmpdir());
    FILE *f = fopen(keys, "w");
    CHECK(f);
    fputs("# keys\nk-alice-123 alice\nk-bob-456 bob\n", f);
    fclose(f);
    cove_server_params p = cove_server_default_params();
    p.api_key_file = keys;
    p.tenant_max_concurrent = 1;
    p.n_parallel = 4;
    cove_server *s = start(&p);
    CHECK(s);
    int port = cove_server_port(s);
    struct reply r = {0};
    const char *body = "{\"prompt\":\"Once\",\"n_predict\":2}";
    CHECK_EQ_INT(post(port, "/completion", NULL, body, &r), 401);
    CHECK(is_error(&r, NULL));
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(port, "/completion", "k-alice-12", body, &r), 401);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(http(port, "GET", "/v1/models", "wrong", NULL, 0, &r), 401);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(port, "/completion", "k-alice-123", body, &r), 200);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(http(port, "GET", "/health", NULL, NULL, 0, &r), 200);
    cove_buf_release(&r.body);
    int ok, n429, n503, ra;
    burst(port, "k-alice-123", LONG_BODY, 6, &ok, &n429, &n503, &ra);
    CHECK_MSG(ok >= 1 && n429 >= 1 && ok + n429 == 6, "ok %d, 429 %d, 503 %d", ok, n429, n503);
    /* bob is not limited by alice's requests */
    CHECK_EQ_INT(post(port, "/completion", "k-bob-456", body, &r), 200);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

TEST(server_refuses_public_host_without_keys)
{
    cove_server_params p = cove_server_default_params();
    p.host = "0.0.0.0";
    p.model_path = test_model_path("stories260K.gguf");
    cove_server *s = NULL;
    cove_error err = {0};
    CHECK_EQ_INT(cove_server_create(&p, &s, &err), COVE_ERR_PERMISSION);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "loopback"));
}

TEST(server_queue_full_503)
{
    cove_server_params p = cove_server_default_params();
    p.n_parallel = 1;
    p.n_queue_max = 0;
    cove_server *s = start(&p);
    CHECK(s);
    int ok, n429, n503, ra;
    burst(cove_server_port(s), NULL, LONG_BODY, 8, &ok, &n429, &n503, &ra);
    CHECK_MSG(ok >= 1 && n503 >= 1 && ok + n503 == 8 && ra, "ok %d, 429 %d, 503 %d", ok, n429,
              n503);
    cove_server_free(s);
}

/* ------------------------------------------------- disconnect and drain */

static double metric(int port, const char *name)
{
    struct reply r = {0};
    http(port, "GET", "/metrics", NULL, NULL, 0, &r);
    char line[128];
    snprintf(line, sizeof line, "\n%s ", name); /* the sample, not its # HELP line */
    const char *at = r.body.data ? strstr(r.body.data, line) : NULL;
    double v = at ? atof(at + strlen(line)) : -1;
    cove_buf_release(&r.body);
    return v;
}

TEST(server_client_disconnect_cancels)
{
    cove_server *s = start_default();
    CHECK(s);
    int port = cove_server_port(s);
    struct reply r = {.abort_after_first = 1};
    post(port, "/completion", NULL,
         "{\"prompt\":\"Once upon a time\",\"n_predict\":2000,\"stream\":true}", &r);
    cove_buf_release(&r.body);
    double cancelled = 0;
    for (int i = 0; i < 100 && cancelled < 1; i++) {
        usleep(20000);
        cancelled = metric(port, "cove_requests_cancelled_total");
    }
    CHECK_MSG(cancelled >= 1, "cove_requests_cancelled_total %g", cancelled);
    CHECK(metric(port, "cove_client_disconnects_total") >= 1);
    cove_server_free(s);
}

struct drain_arg {
    int port;
    struct reply r;
};

static void *stream_long(void *arg)
{
    struct drain_arg *d = arg;
    post(d->port, "/completion", NULL,
         "{\"prompt\":\"Once upon a time\",\"n_predict\":1500,\"stream\":true}", &d->r);
    return NULL;
}

TEST(server_drain_finishes_streams)
{
    cove_server *s = start_default();
    CHECK(s);
    struct drain_arg d = {.port = cove_server_port(s)};
    pthread_t th;
    pthread_create(&th, NULL, stream_long, &d);
    for (int i = 0; i < 5000 && metric(d.port, "cove_tokens_generated_total") < 1; i++)
        usleep(1000);
    cove_status st = cove_server_drain(s, 30000);
    pthread_join(th, NULL);
    CHECK_EQ_INT(st, COVE_OK);
    CHECK_EQ_INT(d.r.status, 200);
    CHECK_MSG(d.r.body.data && strstr(d.r.body.data, "\"stop\":true"), "stream cut: %.200s",
              d.r.body.data ? d.r.body.data + (d.r.body.len > 200 ? d.r.body.len - 200 : 0) : "");
    cove_buf_release(&d.r.body);
    struct reply r = {0};
    CHECK_EQ_INT(http(d.port, "GET", "/health", NULL, NULL, 0, &r), 0); /* nobody listens */
    cove_buf_release(&r.body);
    cove_server_free(s);
}

/* ---------------------------------------------------------------- tools */

#define TOOLS_BODY(extra)                                                                    \
    "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in "  \
    "Paris?\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","   \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\","     \
    "\"maxLength\":8},\"unit\":{\"enum\":[\"c\",\"f\"]}},\"required\":[\"city\",\"unit\"]}}}," \
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}],\"tool_choice\":"         \
    "\"required\",\"parallel_tool_calls\":false,\"max_tokens\":200,\"seed\":3" extra "}"

/* A model that knows nothing of tools still writes a well-formed call under the grammar. */
TEST(server_tool_call_by_grammar)
{
    cove_server *s = start_default();
    CHECK(s);
    struct reply r = {0};
    CHECK_EQ_INT(post(cove_server_port(s), "/v1/chat/completions", NULL, TOOLS_BODY(""), &r), 200);
    json_t *v = json_of(&r), *c0 = json_array_get(json_object_get(v, "choices"), 0);
    json_t *calls = json_object_get(json_object_get(c0, "message"), "tool_calls");
    CHECK_MSG(json_array_size(calls) == 1, "%s", r.body.data);
    CHECK_STR_EQ(json_string_value(json_object_get(c0, "finish_reason")), "tool_calls");
    json_t *fn = json_object_get(json_array_get(calls, 0), "function");
    const char *name = json_string_value(json_object_get(fn, "name"));
    CHECK(name && (strcmp(name, "get_weather") == 0 || strcmp(name, "get_time") == 0));
    json_t *args = json_loads(json_string_value(json_object_get(fn, "arguments")), 0, NULL);
    CHECK(json_is_object(args));
    if (strcmp(name, "get_weather") == 0) {
        const char *unit = json_string_value(json_object_get(args, "unit"));
        CHECK(json_is_string(json_object_get(args, "city")) && unit &&
              (strcmp(unit, "c") == 0 || strcmp(unit, "f") == 0));
    }
    json_decref(args);
    json_decref(v);
    cove_buf_release(&r.body);
    /* streamed: one tool_calls delta, finish_reason tool_calls, [DONE] */
    CHECK_EQ_INT(post(cove_server_port(s), "/v1/chat/completions", NULL,
                      TOOLS_BODY(",\"stream\":true"), &r), 200);
    CHECK_MSG(strstr(r.body.data ? r.body.data : "", "\"tool_calls\":[{\"id\":\"call_") &&
              strstr(r.body.data, "\"finish_reason\":\"tool_calls\"") &&
              cove_str_ends_with(r.body.data, "data: [DONE]\n\n"), "%s", r.body.data);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

/* ---------------------------------------------------------------- /agent */

/* An agent config on the catalogue's instruct model: calculator only, few short steps. */
static const char *agent_config(const char *name)
{
    static char path[1200];
    snprintf(path, sizeof path, "%s/%s.json", test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "{\"model\": \"%s\", \"tools\": [\"calculator\"], \"max_steps\": 1, "
               "\"max_tokens\": 64, \"n_ctx\": 2048}\n",
            catalogue_model("SmolLM2-135M-Instruct.Q4_1.gguf"));
    fclose(f);
    return path;
}

static cove_server *start_agents(struct cove_audit_log *audit)
{
    static const char *names[] = {"calc"};
    static const char *configs[1];
    configs[0] = agent_config("calc");
    cove_server_params p = cove_server_default_params();
    p.n_parallel = 2;
    p.agent_names = names;
    p.agent_configs = configs;
    p.n_agents = 1;
    p.audit = audit;
    return configs[0] ? start(&p) : NULL;
}

#define AGENT_BODY "{\"request\":\"What is 17 * 3? Use the calculator.\""

/* A successful /agent reply: the response shape; returns the session id (static). */
static const char *check_agent_reply(const struct reply *r)
{
    static char sid[128];
    json_t *v = json_of(r);
    json_t *steps = json_object_get(v, "steps"), *trace = json_object_get(v, "trace");
    const char *id = json_string_value(json_object_get(v, "session_id"));
    int ok = json_is_string(json_object_get(v, "response")) &&
             json_is_array(json_object_get(v, "citations")) && json_is_integer(steps) &&
             json_integer_value(steps) >= 1 && json_array_size(trace) >= 1 && id && id[0];
    json_t *a0 = json_object_get(json_array_get(trace, 0), "action");
    ok = ok && json_is_string(a0);
    snprintf(sid, sizeof sid, "%s", ok ? id : "");
    json_decref(v);
    return sid;
}

TEST(server_agent_runs_and_refuses_bad_input)
{
    cove_server *s = start_agents(NULL);
    CHECK(s);
    int port = cove_server_port(s);
    struct reply r = {0};
    CHECK_EQ_INT(post(port, "/agent", NULL, AGENT_BODY "}", &r), 200);
    char sid[128];
    snprintf(sid, sizeof sid, "%s", check_agent_reply(&r));
    CHECK_MSG(sid[0], "%s", r.body.data);
    cove_buf_release(&r.body);
    /* the session goes on under the id given */
    char body[512];
    snprintf(body, sizeof body, AGENT_BODY ",\"session_id\":\"%s\",\"agent\":\"calc\"}", sid);
    CHECK_EQ_INT(post(port, "/agent", NULL, body, &r), 200);
    CHECK_MSG(strcmp(check_agent_reply(&r), sid) == 0, "%s", r.body.data);
    cove_buf_release(&r.body);
    static const struct bad_case bad[] = {
        {"/agent", "{}", 400, "request"},
        {"/agent", "{\"request\":5}", 400, "request"},
        {"/agent", "{\"request\":\"\"}", 400, "request"},
        {"/agent", "{\"request\":\"hi\",\"temperature\":0}", 400, "temperature"},
        {"/agent", "{\"request\":\"hi\",\"session_id\":7}", 400, "session_id"},
        {"/agent", "{\"request\":\"hi\",\"stream\":1}", 400, "stream"},
        {"/agent", "{\"request\":\"hi\",\"agent\":\"nobody\"}", 404, "agent"},
        {"/agent", "[1]", 400, NULL},
    };
    check_refusals(port, bad, sizeof bad / sizeof bad[0]);
    if (test_failed_now())
        return;
    CHECK_EQ_INT(http(port, "GET", "/agent", NULL, NULL, 0, &r), 405);
    cove_buf_release(&r.body);
    cove_server_free(s);
}

/* A new audit log at <tmp>/NAME.jsonl (an older one removed); its path into path. */
static cove_audit_log *fresh_audit(const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s.jsonl", test_tmpdir(), name);
    unlink(path);
    struct cove_audit_params ap = cove_audit_default_params();
    ap.path = path;
    cove_audit_log *log = NULL;
    return cove_audit_create(&ap, &log, NULL) == COVE_OK ? log : NULL;
}

TEST(server_audit_log_verifies)
{
    char path[1200];
    cove_audit_log *log = fresh_audit("serve-audit", path, sizeof path);
    CHECK(log != NULL);
    cove_server *s = start_agents(log);
    CHECK(s);
    int port = cove_server_port(s);
    struct reply r = {0};
    CHECK_EQ_INT(post(port, "/v1/completions", NULL,
                      "{\"model\":\"stories260K\",\"prompt\":\"Once upon\",\"max_tokens\":4}",
                      &r), 200);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(port, "/v1/chat/completions", NULL, TOOLS_BODY(""), &r), 200);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(port, "/agent", NULL, AGENT_BODY "}", &r), 200);
    cove_buf_release(&r.body);
    CHECK_OK(cove_server_drain(s, 5000));
    cove_server_free(s);
    CHECK_OK(cove_audit_close(log, NULL));
    struct cove_audit_report rep;
    CHECK_OK(cove_audit_verify(path, NULL, 0, &rep, NULL));
    CHECK(rep.intact && rep.closed && rep.records >= 8);
    FILE *f = fopen(path, "r");
    CHECK(f);
    static char text[1u << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    CHECK(strstr(text, "\"kind\":\"prompt\"") && strstr(text, "\"tenant\":\"local\"") &&
          strstr(text, "Once upon") && strstr(text, "\"kind\":\"model_output\"") &&
          strstr(text, "\"kind\":\"tool_call\"") && strstr(text, "\"kind\":\"final_answer\"") &&
          strstr(text, "17 * 3"));
}

/* ------------------------------------------------------- /agent streaming */
/*
 * A scripted OpenAI-style model server on 127.0.0.1 for agents with "remote_url": each
 * POST gets one plan chosen from the conversation it carries (k = the observations in it),
 * so a run's steps are known and the same every time. A request with "countdown" in it
 * calls the calculator at every step, 300 ms a call (a long run to walk away from); one
 * with "breakdown" gets a 500; otherwise two calculator steps and then a final answer.
 */
struct fake_llm {
    int fd, port;
    pthread_t thread;
    volatile int stop;
    volatile int calls;
};

/* Read one HTTP request (headers and Content-Length body) into req. 0, or -1. */
static int fake_read(int fd, struct cove_buf *req)
{
    size_t head = 0, body = 0;
    char buf[8192];
    while (!head || req->len < head + body) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0 || cove_buf_append(req, buf, (size_t)n) != COVE_OK)
            return -1;
        const char *end = head ? NULL : strstr(req->data, "\r\n\r\n");
        if (end) {
            head = (size_t)(end - req->data) + 4;
            const char *cl = strcasestr(req->data, "\r\nContent-Length:");
            body = cl && cl < end ? (size_t)atol(cl + 17) : 0;
            if (strcasestr(req->data, "\r\nExpect: 100-continue") &&
                send(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL) != 25)
                return -1;
        }
    }
    return 0;
}

/* The assistant turns (earlier plans) of the conversation in a request's JSON body. */
static int fake_turns(const char *req)
{
    const char *body = strstr(req, "\r\n\r\n");
    json_t *v = body ? json_loads(body + 4, 0, NULL) : NULL, *m;
    size_t i;
    int k = 0;
    json_array_foreach(json_object_get(v, "messages"), i, m)
        k += strcmp(json_string_value(json_object_get(m, "role")), "assistant") == 0;
    json_decref(v);
    return k;
}

static void fake_answer(struct fake_llm *f, int fd, const char *req)
{
    int k = fake_turns(req);
    char plan[256];
    if (strstr(req, "breakdown")) {
        static const char down[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
        if (send(fd, down, sizeof down - 1, MSG_NOSIGNAL) > 0)
            f->calls++;
        return;
    }
    if (strstr(req, "countdown")) {
        usleep(300 * 1000);
        snprintf(plan, sizeof plan, "{\"thought\":\"Next.\",\"action\":\"calculator\","
                 "\"arguments\":{\"expression\":\"%d+1\"}}", k);
    } else if (k < 2) {
        snprintf(plan, sizeof plan, "{\"thought\":\"Step %d.\",\"action\":\"calculator\","
                 "\"arguments\":{\"expression\":\"(%d+1)*3\"}}", k + 1, k);
    } else {
        snprintf(plan, sizeof plan, "{\"thought\":\"Done.\",\"action\":\"final_answer\","
                 "\"answer\":\"6\",\"citations\":[]}");
    }
    json_t *v = json_pack("{s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "object", "chat.completion",
                          "choices", "index", 0, "message", "role", "assistant", "content",
                          plan, "finish_reason", "stop");
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen(text));
    if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n)
        send(fd, text, strlen(text), MSG_NOSIGNAL);
    free(text);
    f->calls++;
}

static void *fake_main(void *arg)
{
    struct fake_llm *f = arg;
    while (!f->stop) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(f->fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct cove_buf req;
        cove_buf_init(&req, 8u << 20);
        if (fake_read(fd, &req) == 0)
            fake_answer(f, fd, req.data);
        cove_buf_release(&req);
        close(fd);
    }
    return NULL;
}

static int fake_start(struct fake_llm *f)
{
    memset(f, 0, sizeof *f);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->fd, 8) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : -1;
}

static void fake_stop(struct fake_llm *f)
{
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
}

/* A server whose agent "scripted" runs on the fake model server on port. */
static cove_server *start_scripted(int port, struct cove_audit_log *audit)
{
    static const char *names[] = {"scripted"};
    static char path[1200];
    static const char *configs[1] = {path};
    snprintf(path, sizeof path, "%s/scripted.json", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "{\"remote_url\": \"http://127.0.0.1:%d\", \"tools\": [\"calculator\"], "
               "\"max_steps\": 8}\n", port);
    fclose(f);
    cove_server_params p = cove_server_default_params();
    p.n_parallel = 2;
    p.agent_names = names;
    p.agent_configs = configs;
    p.n_agents = 1;
    p.audit = audit;
    return start(&p);
}

/* The events of an SSE body: a JSON array of the events before "data: [DONE]", or NULL
 * when the body is not "data: JSON\n\n"... "data: [DONE]\n\n". */
static json_t *sse_events(const struct reply *r)
{
    const char *p = r->body.data;
    if (!p || !cove_str_ends_with(p, "data: [DONE]\n\n"))
        return NULL;
    json_t *a = json_array();
    while (strncmp(p, "data: ", 6) == 0 && strcmp(p, "data: [DONE]\n\n") != 0) {
        const char *end = strstr(p, "\n\n");
        json_t *v = end ? json_loadb(p + 6, (size_t)(end - p - 6), 0, NULL) : NULL;
        if (!json_is_object(v)) {
            json_decref(v);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, v);
        p = end + 2;
    }
    if (strcmp(p, "data: [DONE]\n\n") != 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static const char *type_of(json_t *ev)
{
    const char *t = json_string_value(json_object_get(ev, "type"));
    return t ? t : "";
}

/*
 * Check a streamed run against the unstreamed reply `plain` of the same request: step
 * events numbered 1, 2, ... with plain's trace (each step as it is there), then a done
 * event equal to plain but for "id", then [DONE].
 */
static int check_stream(const struct reply *sse, const struct reply *plain)
{
    json_t *ev = sse_events(sse), *want = json_of(plain);
    json_t *trace = json_object_get(want, "trace");
    size_t n = json_array_size(ev);
    int ok = ev && want && n >= 2 && n == json_array_size(trace) + 1;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *e = json_array_get(ev, i);
        ok = strcmp(type_of(e), i + 1 < n ? "step" : "done") == 0;
        json_object_del(e, "type");
        if (ok && i + 1 < n)
            ok = json_integer_value(json_object_get(e, "step")) == (json_int_t)i + 1 &&
                 json_is_object(json_object_get(e, "arguments")) &&
                 json_equal(e, json_array_get(trace, i));
    }
    if (ok) {
        json_t *done = json_array_get(ev, n - 1);
        ok = json_is_string(json_object_get(done, "id"));
        json_object_del(done, "id");
        json_object_del(want, "id");
        ok = ok && json_equal(done, want);
    }
    json_decref(ev);
    json_decref(want);
    return ok;
}

/* The kinds of the records in an audit log, one letter each, 'N' (note) starting a run. */
static void audit_kinds(const char *path, char *out, size_t cap)
{
    static const struct { const char *kind; char c; } map[] = {
        {"\"kind\":\"note\"", 'N'}, {"\"kind\":\"prompt\"", 'P'},
        {"\"kind\":\"model_output\"", 'M'}, {"\"kind\":\"tool_call\"", 'C'},
        {"\"kind\":\"tool_result\"", 'R'}, {"\"kind\":\"policy\"", 'Y'},
        {"\"kind\":\"final_answer\"", 'F'}, {"\"kind\":\"error\"", 'E'},
        {"\"kind\":\"session_start\"", 'S'}, {"\"kind\":\"session_end\"", 'T'}};
    size_t n = 0;
    char line[1 << 16];
    FILE *f = fopen(path, "r");
    while (f && n + 1 < cap && fgets(line, sizeof line, f))
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strstr(line, map[i].kind)) {
                out[n++] = map[i].c;
                break;
            }
    if (f)
        fclose(f);
    out[n] = '\0';
}

#define SCRIPTED_BODY(extra) \
    "{\"request\":\"Multiply, then answer.\",\"agent\":\"scripted\"" extra "}"

/* A server with the agent "scripted" on the fake model, and its audit log (or none). */
struct scripted {
    struct fake_llm fake;
    cove_audit_log *log;
    cove_server *s;
    int port;
    char path[1200]; /* the audit log's */
};

/* Start f (zeroed by the caller) with a fresh audit log named audit, or none when NULL.
 * A failure ends the calling case too (test_failed_now). */
static void scripted_start(struct scripted *f, const char *audit)
{
    if (audit) {
        f->log = fresh_audit(audit, f->path, sizeof f->path);
        CHECK(f->log != NULL);
    }
    CHECK(fake_start(&f->fake) == 0);
    f->s = start_scripted(f->fake.port, f->log);
    CHECK(f->s);
    f->port = cove_server_port(f->s);
}

/* Stop f. With an audit log, the server is drained first (every run's records in the log)
 * and the log closed after. A failure ends the calling case too (test_failed_now). */
static void scripted_stop(struct scripted *f)
{
    if (f->log)
        CHECK_OK(cove_server_drain(f->s, 5000));
    cove_server_free(f->s);
    fake_stop(&f->fake);
    if (f->log)
        CHECK_OK(cove_audit_close(f->log, NULL));
}

/* The audit kinds of the log at path (audit_kinds, into kinds[n]) cut into runs at each
 * note: runs[0..max) point into kinds. Returns how many were found. */
static int audit_runs(const char *path, char *kinds, size_t n, char **runs, int max)
{
    audit_kinds(path, kinds, n);
    int n_runs = 0;
    for (char *p = strtok(kinds, "N"); p && n_runs < max; p = strtok(NULL, "N"))
        runs[n_runs++] = p;
    return n_runs;
}

TEST(server_agent_stream_matches_plain_run)
{
    struct scripted f = {0};
    scripted_start(&f, "stream-audit");
    if (test_failed_now())
        return;
    int port = f.port;
    struct reply plain = {0}, sse = {0};
    /* the scripted model: three steps, known exactly */
    CHECK_EQ_INT(post(port, "/agent", NULL, SCRIPTED_BODY(""), &plain), 200);
    CHECK_EQ_INT(post(port, "/agent", NULL, SCRIPTED_BODY(",\"stream\":true"), &sse), 200);
    json_t *pv = json_of(&plain);
    CHECK_MSG(json_integer_value(json_object_get(pv, "steps")) == 3, "%s", plain.body.data);
    json_decref(pv);
    CHECK_MSG(check_stream(&sse, &plain), "%s\n---\n%s", sse.body.data, plain.body.data);
    cove_buf_release(&plain.body);
    cove_buf_release(&sse.body);
    /* a second session: the same again */
    CHECK_EQ_INT(post(port, "/agent", NULL, SCRIPTED_BODY(",\"stream\":true"), &sse), 200);
    CHECK_EQ_INT(post(port, "/agent", NULL, SCRIPTED_BODY(""), &plain), 200);
    CHECK_MSG(check_stream(&sse, &plain), "%s\n---\n%s", sse.body.data, plain.body.data);
    cove_buf_release(&plain.body);
    cove_buf_release(&sse.body);
    scripted_stop(&f);
    if (test_failed_now())
        return;
    /* the audit log holds the same records for a streamed run as for a plain one */
    char kinds[4096];
    char *runs[4] = {0};
    int n_runs = audit_runs(f.path, kinds, sizeof kinds, runs, 4);
    CHECK_MSG(n_runs == 4, "audit kinds: %d runs", n_runs);
    CHECK_MSG(strcmp(runs[0], runs[1]) == 0 && strchr(runs[0], 'F'), "%s | %s", runs[0],
              runs[1]);
    CHECK_MSG(strcmp(runs[2], runs[3]) == 0 && strchr(runs[2], 'F'), "%s | %s", runs[2],
              runs[3]);
}

TEST(server_agent_stream_errors)
{
    struct scripted f = {0};
    scripted_start(&f, NULL);
    if (test_failed_now())
        return;
    int port = f.port;
    static const struct bad_case bad[] = {
        {"/agent", "{\"request\":\"\",\"stream\":true}", 400, "request"},
        {"/agent", "{\"stream\":true}", 400, "request"},
        {"/agent", "{\"request\":\"hi\",\"stream\":\"yes\"}", 400, "stream"},
        {"/agent", "{\"request\":\"hi\",\"stream\":true,\"n\":2}", 400, "n"},
        {"/agent", "{\"request\":\"hi\",\"stream\":true,\"agent\":\"nobody\"}", 404,
         "agent"},
        {"/agent", "{\"request\":\"hi\",\"stream\":true", 400, NULL},
    };
    check_refusals(port, bad, sizeof bad / sizeof bad[0]);
    if (test_failed_now())
        return;
    struct reply r = {0};
    /* a run that fails once the stream has begun: an error event, then [DONE] */
    CHECK_EQ_INT(post(port, "/agent", NULL,
                      "{\"request\":\"breakdown\",\"agent\":\"scripted\"}", &r), 500);
    CHECK_MSG(is_error(&r, NULL), "%s", r.body.data);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(port, "/agent", NULL,
                      "{\"request\":\"breakdown\",\"agent\":\"scripted\",\"stream\":true}",
                      &r), 200);
    json_t *ev = sse_events(&r), *e0 = json_array_get(ev, 0);
    json_t *err = json_object_get(e0, "error");
    CHECK_MSG(json_array_size(ev) == 1 && strcmp(type_of(e0), "error") == 0 &&
              json_is_string(json_object_get(err, "message")) &&
              strcmp(json_string_value(json_object_get(err, "type")), "server_error") == 0,
              "%s", r.body.data);
    json_decref(ev);
    cove_buf_release(&r.body);
    scripted_stop(&f);
}

TEST(server_agent_stream_disconnect_cancels)
{
    struct scripted f = {0};
    scripted_start(&f, "cancel-audit");
    if (test_failed_now())
        return;
    int port = f.port;
    /* the client reads the first step and hangs up; the run would take 8 steps of 300 ms */
    struct reply r = {.abort_after_first = 1};
    post(port, "/agent", NULL,
         "{\"request\":\"countdown\",\"agent\":\"scripted\",\"stream\":true}", &r);
    static const char first[] = "data: {\"type\":\"step\",\"step\":1,";
    CHECK_MSG(r.status == 200 && r.body.data &&
              strncmp(r.body.data, first, sizeof first - 1) == 0, "%ld %s", r.status,
              r.body.data);
    cove_buf_release(&r.body);
    r.abort_after_first = 0;
    double gone = 0;
    for (int i = 0; i < 250 && gone < 1; i++) {
        usleep(20000);
        gone = metric(port, "cove_client_disconnects_total");
    }
    CHECK_MSG(gone == 1, "cove_client_disconnects_total %g", gone);
    /* the run stops at its next step: no model call after the one under way */
    usleep(1000 * 1000);
    int calls = f.fake.calls;
    CHECK_MSG(calls <= 3, "the run went on after the client left: %d model calls", calls);
    /* the server is well and the agent free for the next request */
    CHECK_EQ_INT(http(port, "GET", "/health", NULL, NULL, 0, &r), 200);
    cove_buf_release(&r.body);
    CHECK_EQ_INT(post(port, "/agent", NULL, SCRIPTED_BODY(",\"stream\":true"), &r), 200);
    json_t *ev = sse_events(&r);
    json_t *last = json_array_get(ev, json_array_size(ev) - 1);
    CHECK_MSG(ev && strcmp(type_of(last), "done") == 0 &&
              strcmp(json_string_value(json_object_get(last, "response")), "6") == 0, "%s",
              r.body.data);
    json_decref(ev);
    cove_buf_release(&r.body);
    scripted_stop(&f);
    if (test_failed_now())
        return;
    /* the cancelled run ends in an error record, the next one in its answer */
    char kinds[4096];
    char *runs[2] = {0};
    int n_runs = audit_runs(f.path, kinds, sizeof kinds, runs, 2);
    CHECK_MSG(n_runs == 2 && cove_str_ends_with(runs[0], "E") && !strchr(runs[0], 'F') &&
              cove_str_ends_with(runs[1], "F"), "audit kinds: %s | %s", runs[0], runs[1]);
}
