/*
 * request_agent.c - the body of POST /agent into struct cove_server_agent_req.
 */
#include <string.h>

#include "base/limits.h"
#include "server/request_int.h"

#define AGR(p) ((struct cove_server_agent_req *)(p))
#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

static cove_status f_request(struct rq *q, json_t *v, void *out)
{
    cove_status st = rq_string(q, v, &AGR(out)->request);
    if (st == COVE_OK && AGR(out)->request[0] == '\0')
        return rq_fail(q, COVE_ERR_FORMAT, "'request' must not be empty");
    if (st == COVE_OK && strlen(AGR(out)->request) > COVE_AGENT_MAX_REQUEST)
        return rq_fail(q, COVE_ERR_LIMIT, "'request' is longer than %u bytes",
                       (unsigned)COVE_AGENT_MAX_REQUEST);
    return st;
}

static cove_status f_session(struct rq *q, json_t *v, void *out)
{
    cove_status st = rq_string(q, v, &AGR(out)->session_id);
    if (st == COVE_OK && strlen(AGR(out)->session_id) > COVE_AGENT_MAX_SESSION_ID)
        return rq_fail(q, COVE_ERR_LIMIT, "'session_id' is longer than %d bytes",
                       COVE_AGENT_MAX_SESSION_ID);
    return st;
}

static cove_status f_agent(struct rq *q, json_t *v, void *out)
{
    return rq_string(q, v, &AGR(out)->agent);
}

static cove_status f_stream(struct rq *q, json_t *v, void *out)
{
    return rq_bool(q, v, &AGR(out)->stream);
}

static const struct rq_field agent_fields[] = {
    {"request", f_request}, {"session_id", f_session}, {"agent", f_agent},
    {"stream", f_stream}};

cove_status cove_server_parse_agent(const char *body, size_t len, cove_arena *a,
                                    struct cove_server_agent_req *out, char *param,
                                    cove_error *err)
{
    struct rq q;
    json_t *root = NULL;
    rq_init(&q, a, param, err);
    memset(out, 0, sizeof *out);
    cove_status st = rq_load(&q, body, len, &root);
    if (st == COVE_OK)
        st = rq_object(&q, root, agent_fields, N_OF(agent_fields), out);
    if (st == COVE_OK && !out->request)
        st = rq_fail_at(&q, "request", COVE_ERR_FORMAT, "'request' is required");
    json_decref(root);
    return st;
}
