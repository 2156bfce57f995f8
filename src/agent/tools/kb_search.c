/*
 * agent/tools/kb_search.c - search the knowledge base.
 *
 * Hybrid search (vectors and keywords) when the agent has an embedder, keyword search
 * otherwise. Every hit becomes a source the final answer may cite, as "kb:<path>#<chunk>".
 */
#include <stdio.h>
#include <string.h>

#include "agent/tools/tools.h"

/* The path relative to a configured root when it lies under one, else as stored. */
static const char *short_path(const struct cove_agent_env *env, const char *path)
{
    const char *slash = strrchr(path, '/');
    (void)env;
    return slash ? slash + 1 : path;
}

static cove_status put_hit(const struct cove_agent_env *env, const cove_kb_hit *h,
                           struct cove_agent_obs *obs)
{
    char id[COVE_MAX_PATH + 64];
    snprintf(id, sizeof id, "kb:%s#%lld", short_path(env, h->path), (long long)h->chunk_id);
    cove_status st = cove_buf_appendf(&obs->text, "[%s] %s\n", id, h->text);
    if (st == COVE_OK)
        st = cove_agent_obs_add_source(obs, id, h->text, strlen(h->text));
    return st;
}

static cove_status kb_run(struct cove_agent_env *env, const json_t *args,
                          struct cove_agent_obs *obs, cove_error *err)
{
    const char *query = json_string_value(json_object_get(args, "query"));
    json_int_t k = json_integer_value(json_object_get(args, "k"));
    if (!env->kb)
        return cove_error_set(err, COVE_ERR_STATE, "no knowledge base is configured");
    cove_kb_search_params sp = cove_kb_default_search_params();
    sp.k = k > 0 && k <= 10 ? (int32_t)k : 3;
    sp.embedder = env->embedder;
    sp.mode = env->embedder ? COVE_KB_MODE_HYBRID : COVE_KB_MODE_KEYWORD;
    cove_kb_results res = {0};
    cove_status st = cove_kb_search(env->kb, query, &sp, &res, err);
    for (int32_t i = 0; st == COVE_OK && i < res.n; i++)
        st = put_hit(env, &res.hits[i], obs);
    if (st == COVE_OK && res.n == 0)
        st = cove_buf_append_str(&obs->text, "no matching text found; try other words\n");
    cove_kb_results_release(&res);
    return st;
}

const struct cove_agent_tool_def cove_agent_tool_kb_search = {
    .name = "kb_search",
    .description = "Searches the knowledge base of documents (policies, contracts, guidelines, "
                   "manuals) by meaning and keywords; returns passages with ids to cite. Use it "
                   "for questions about rules, policies or what the documents say.",
    .example = "What is our policy on sick leave? -> {\"query\": \"sick leave policy\"}",
    .schema = "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\","
              "\"minLength\":1,\"maxLength\":200},\"k\":{\"type\":\"integer\",\"minimum\":1,"
              "\"maximum\":10}},\"required\":[\"query\"]}",
    .handler = kb_run,
    .limits = {.timeout_ms = 10000, .max_output = 12288, .max_calls = 10},
    .effect = COVE_AGENT_READ_ONLY,
};
