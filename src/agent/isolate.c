/*
 * agent/isolate.c - run a tool's handler in a sandboxed child process.
 *
 * The child is a fork of the agent: the handler runs there with the env's root
 * descriptors kept open (and Landlock allowing reads below the roots only), then writes
 * its observation to the result pipe in a small frame:
 *
 *     u64 text length, text, u32 source count, then per source:
 *     u32 id length, id, u32 text length, text          (little-endian host order)
 *
 * The parent reads it with a bound (COVE_AGENT_MAX_SANDBOX_RESULT) and rebuilds the
 * observation; a frame that does not add up is refused, never trusted.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/tools/tools.h"
#include "base/limits.h"
#include "sandbox/sandbox.h"

struct iso_call {
    const struct cove_agent_tool_def *def;
    struct cove_agent_env *env;
    const json_t *args;
};

static cove_status put(int fd, const void *p, size_t n, cove_error *err)
{
    return n ? cove_sandbox_write_all(fd, p, n, err) : COVE_OK;
}

static cove_status put_frame(int fd, const struct cove_agent_obs *o, cove_error *err)
{
    uint64_t tl = o->text.len;
    uint32_t ns = (uint32_t)o->n_sources;
    cove_status st = put(fd, &tl, sizeof tl, err);
    if (st == COVE_OK)
        st = put(fd, o->text.data, o->text.len, err);
    if (st == COVE_OK)
        st = put(fd, &ns, sizeof ns, err);
    for (size_t i = 0; st == COVE_OK && i < o->n_sources; i++) {
        uint32_t il = (uint32_t)strlen(o->sources[i].id);
        uint32_t xl = (uint32_t)strlen(o->sources[i].text);
        st = put(fd, &il, sizeof il, err);
        if (st == COVE_OK)
            st = put(fd, o->sources[i].id, il, err);
        if (st == COVE_OK)
            st = put(fd, &xl, sizeof xl, err);
        if (st == COVE_OK)
            st = put(fd, o->sources[i].text, xl, err);
    }
    return st;
}

/* In the child: the handler, then the frame. */
static cove_status iso_child(void *arg, int out_fd, cove_error *err)
{
    struct iso_call *c = arg;
    struct cove_agent_obs o;
    cove_agent_obs_init(&o);
    cove_status st = c->def->handler(c->env, c->args, &o, err);
    if (st == COVE_OK)
        st = put_frame(out_fd, &o, err);
    cove_agent_obs_release(&o);
    return st;
}

/* Take n bytes at *p (bounded by end); NULL when the frame is short. */
static const char *take(const char **p, const char *end, size_t n)
{
    if ((size_t)(end - *p) < n)
        return NULL;
    const char *at = *p;
    *p += n;
    return at;
}

static cove_status get_frame(const struct cove_buf *b, struct cove_agent_obs *obs,
                             cove_error *err)
{
    const char *p = b->data ? b->data : "", *end = p + b->len, *q;
    uint64_t tl;
    uint32_t ns;
    if (!(q = take(&p, end, sizeof tl)))
        goto bad;
    memcpy(&tl, q, sizeof tl);
    if (tl > (uint64_t)(end - p) || !(q = take(&p, end, (size_t)tl)))
        goto bad;
    if (cove_buf_append(&obs->text, q, (size_t)tl) != COVE_OK)
        return cove_error_set(err, COVE_ERR_LIMIT, "observation too large");
    if (!(q = take(&p, end, sizeof ns)))
        goto bad;
    memcpy(&ns, q, sizeof ns);
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t il, xl;
        const char *id, *tx;
        if (!(q = take(&p, end, sizeof il)))
            goto bad;
        memcpy(&il, q, sizeof il);
        if (il >= COVE_AGENT_MAX_SOURCE_ID || !(id = take(&p, end, il)) ||
            !(q = take(&p, end, sizeof xl)))
            goto bad;
        memcpy(&xl, q, sizeof xl);
        if (!(tx = take(&p, end, xl)))
            goto bad;
        char idz[COVE_AGENT_MAX_SOURCE_ID];
        memcpy(idz, id, il);
        idz[il] = '\0';
        cove_status st = cove_agent_obs_add_source(obs, idz, tx, xl);
        if (st != COVE_OK)
            return cove_error_set(err, st, "too many sources");
    }
    if (p == end)
        return COVE_OK;
bad:
    return cove_error_set(err, COVE_ERR_FORMAT, "sandboxed tool returned a malformed result");
}

void cove_agent_sandbox_limits(struct cove_sandbox_policy *p, int32_t timeout_ms,
                               const struct cove_agent_env *env)
{
    int32_t ms = timeout_ms > 0 ? timeout_ms : COVE_AGENT_DEFAULT_TIMEOUT_MS;
    p->timeout_ms = (uint32_t)ms;
    p->cpu_seconds = (uint64_t)ms / 1000u + 1u;
    p->max_output = COVE_AGENT_MAX_SANDBOX_RESULT;
    p->accept_weak = env->sandbox_accept_weak;
    p->without_landlock = env->sandbox_without_landlock;
}

/* Address space the child may use: what the fork inherits plus a margin. */
static uint64_t child_address_space(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    long ps = sysconf(_SC_PAGESIZE);
    if (pages == 0 || ps <= 0)
        return 0; /* unknown: no address-space limit (the other limits still hold) */
    return (uint64_t)pages * (uint64_t)ps + COVE_AGENT_SANDBOX_HEAP;
}

static cove_status tool_policy(const struct cove_agent_tool_def *def,
                               const struct cove_agent_env *env, struct cove_sandbox_policy *p,
                               cove_error *err)
{
    *p = cove_sandbox_policy_default();
    cove_status st = COVE_OK;
    for (int i = 0; st == COVE_OK && i < env->n_roots; i++) {
        st = cove_sandbox_policy_add_read(p, env->roots[i].path, err);
        if (st == COVE_OK && p->n_keep_fds < COVE_SANDBOX_MAX_KEEP_FDS)
            p->keep_fds[p->n_keep_fds++] = env->roots[i].fd;
    }
    cove_agent_sandbox_limits(p, def->limits.timeout_ms, env);
    p->address_space = child_address_space();
    return st;
}

cove_status cove_agent_run_sandboxed(const struct cove_agent_tool_def *def,
                                     struct cove_agent_env *env, const json_t *args,
                                     struct cove_agent_obs *obs, cove_error *err)
{
    struct cove_sandbox_policy pol;
    cove_status st = tool_policy(def, env, &pol, err);
    if (st != COVE_OK)
        return st;
    struct iso_call call = {def, env, args};
    struct cove_buf out;
    cove_buf_init(&out, COVE_AGENT_MAX_SANDBOX_RESULT);
    st = cove_sandbox_run_fn(&pol, iso_child, &call, &out, NULL, err);
    if (st == COVE_OK)
        st = get_frame(&out, obs, err);
    cove_buf_release(&out);
    return st;
}
