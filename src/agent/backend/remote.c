/*
 * agent/backend/remote.c - plans from an OpenAI-compatible server (libcurl).
 *
 * POST {base}/v1/chat/completions with the messages, temperature, max_tokens and seed;
 * the constraint goes as response_format {"type": "json_schema", ...} (OpenAI, vLLM,
 * cove) and as "grammar" (llama.cpp's server). The reply's choices[0].message.content is
 * the output; the loop validates it against the plan schema either way, so a server that
 * ignores both constraints still cannot make the agent act on a malformed plan.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/backend.h"
#include "base/alloc.h"
#include "base/limits.h"

#define REMOTE_TIMEOUT_S 300L
#define REMOTE_MAX_REPLY (4u << 20)

struct remote {
    char *url; /* full endpoint */
    char *auth; /* "Authorization: Bearer KEY" or NULL */
    char *model;
};

static void remote_free(void *state)
{
    struct remote *r = state;
    if (!r)
        return;
    if (r->auth) /* the key is a secret: do not leave it in freed memory */
        memset(r->auth, 0, strlen(r->auth));
    cove_free(r->url);
    cove_free(r->auth);
    cove_free(r->model);
    cove_free(r);
}

static size_t on_data(char *ptr, size_t size, size_t n, void *user)
{
    struct cove_buf *b = user;
    return cove_buf_append(b, ptr, size * n) == COVE_OK ? size * n : 0;
}

static const char *role_name(enum cove_chat_role r)
{
    return r == COVE_CHAT_SYSTEM ? "system" : r == COVE_CHAT_ASSISTANT ? "assistant" : "user";
}

/* The request body (caller frees with free()). */
static char *request_body(const struct remote *r, const struct cove_agent_gen *g)
{
    json_t *msgs = json_array();
    for (size_t i = 0; i < g->n_msgs; i++)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", role_name(g->msgs[i].role),
                                              "content", g->msgs[i].content ? g->msgs[i].content
                                                                            : ""));
    json_t *body = json_pack("{s:o, s:f, s:i, s:I}", "messages", msgs, "temperature",
                             (double)g->temperature, "max_tokens", (int)g->max_tokens, "seed",
                             (json_int_t)(g->seed & 0x7fffffff));
    if (!body)
        return NULL;
    if (r->model)
        json_object_set_new(body, "model", json_string(r->model));
    if (g->grammar)
        json_object_set_new(body, "grammar", json_string(g->grammar));
    json_t *schema = g->json_schema ? json_loads(g->json_schema, 0, NULL) : NULL;
    if (schema)
        json_object_set_new(body, "response_format",
                            json_pack("{s:s, s:{s:s, s:o}}", "type", "json_schema",
                                      "json_schema", "name", "plan", "schema", schema));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

static cove_status parse_reply(const struct cove_buf *reply, long code, struct cove_buf *out,
                               cove_error *err)
{
    json_t *doc = json_loads(reply->data ? reply->data : "", 0, NULL);
    json_t *content = json_object_get(
        json_object_get(json_array_get(json_object_get(doc, "choices"), 0), "message"),
        "content");
    cove_status st;
    if (code != 200)
        st = cove_error_set(err, COVE_ERR_NETWORK, "remote model: HTTP %ld: %.160s", code,
                            reply->data ? reply->data : "");
    else if (!json_is_string(content))
        st = cove_error_set(err, COVE_ERR_FORMAT, "remote model: the reply has no "
                            "choices[0].message.content");
    else
        st = cove_buf_append_str(out, json_string_value(content));
    json_decref(doc);
    return st;
}

static cove_status remote_generate(void *state, const struct cove_agent_gen *g,
                                   struct cove_buf *out, cove_error *err)
{
    struct remote *r = state;
    if (g->prefix)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "remote model: no reply prefix");
    char *body = request_body(r, g);
    CURL *c = curl_easy_init();
    if (!body || !c) {
        free(body);
        curl_easy_cleanup(c);
        return cove_error_set(err, COVE_ERR_NOMEM, "remote model: out of memory");
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (r->auth)
        h = curl_slist_append(h, r->auth);
    struct cove_buf reply;
    cove_buf_init(&reply, REMOTE_MAX_REPLY);
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, REMOTE_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    cove_status st = rc == CURLE_OK ? parse_reply(&reply, code, out, err)
                                    : cove_error_set(err, COVE_ERR_NETWORK, "remote model %s: %s",
                                                     r->url, curl_easy_strerror(rc));
    cove_buf_release(&reply);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(body);
    return st;
}

static const struct cove_agent_backend_ops remote_ops = {"remote", remote_generate, remote_free,
                                                         NULL};

cove_status cove_agent_backend_remote(const char *base_url, const char *key, const char *model,
                                      cove_agent_backend **out, cove_error *err)
{
    if (!base_url || !out || strlen(base_url) > COVE_MAX_URL)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "remote model: a base URL is needed");
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "remote model: the URL must start "
                              "with http:// or https://");
    struct remote *r = cove_calloc(1, sizeof *r);
    cove_agent_backend *b = cove_calloc(1, sizeof *b);
    size_t n = strlen(base_url) + sizeof "/v1/chat/completions";
    if (r)
        r->url = cove_malloc(n);
    if (r && key)
        r->auth = cove_malloc(strlen(key) + sizeof "Authorization: Bearer ");
    if (r && model)
        r->model = cove_strdup(model);
    if (!r || !b || !r->url || (key && !r->auth) || (model && !r->model)) {
        remote_free(r);
        cove_free(b);
        return cove_error_set(err, COVE_ERR_NOMEM, "remote model: out of memory");
    }
    size_t bl = strlen(base_url);
    while (bl > 0 && base_url[bl - 1] == '/')
        bl--;
    memcpy(r->url, base_url, bl);
    strcpy(r->url + bl, "/v1/chat/completions");
    if (key) {
        strcpy(r->auth, "Authorization: Bearer ");
        strcat(r->auth, key);
    }
    b->ops = &remote_ops;
    b->state = r;
    *out = b;
    return COVE_OK;
}
