/*
 * agent/tools/env.c - the tool environment: roots, the clock, the built-in table.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/tools/tools.h"
#include "base/str.h"
#include "sandbox/sandbox.h"

int64_t cove_agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cove_agent_env_expired(const struct cove_agent_env *env)
{
    return env->deadline_ms > 0 && cove_agent_now_ms() > env->deadline_ms;
}

void cove_agent_env_init(struct cove_agent_env *env)
{
    memset(env, 0, sizeof *env);
    for (int i = 0; i < COVE_AGENT_MAX_ROOTS; i++)
        env->roots[i].fd = -1;
}

void cove_agent_env_release(struct cove_agent_env *env)
{
    if (!env)
        return;
    for (int i = 0; i < env->n_roots; i++)
        if (env->roots[i].fd >= 0)
            close(env->roots[i].fd);
    env->n_roots = 0;
}

cove_status cove_agent_env_add_root(struct cove_agent_env *env, const char *dir, cove_error *err)
{
    if (env->n_roots >= COVE_AGENT_MAX_ROOTS)
        return cove_error_set(err, COVE_ERR_LIMIT, "more than %d roots", COVE_AGENT_MAX_ROOTS);
    struct cove_agent_root *r = &env->roots[env->n_roots];
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return cove_error_set(err, COVE_ERR_NOT_FOUND, "root %s: no such directory", dir);
    if (strlen(real) >= sizeof r->path)
        return cove_error_set(err, COVE_ERR_LIMIT, "root %s: path too long", dir);
    int fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_IO, "root %s: not an openable directory", dir);
    if (fd < 10) { /* sandboxed tools keep it at its number; 0..3 are the sandbox's own */
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
        close(fd);
        if (high < 0)
            return cove_error_set(err, COVE_ERR_IO, "root %s: cannot keep its descriptor", dir);
        fd = high;
    }
    strcpy(r->path, real);
    const char *slash = strrchr(real, '/');
    cove_str_copy(r->name, sizeof r->name, slash && slash[1] ? slash + 1 : real);
    r->fd = fd;
    env->n_roots++;
    return COVE_OK;
}

/* The root rel names by its first component, with *rest the remainder; NULL if none. */
static const struct cove_agent_root *named_root(const struct cove_agent_env *env, const char *rel,
                                                const char **rest)
{
    for (int i = 0; i < env->n_roots; i++) {
        const struct cove_agent_root *r = &env->roots[i];
        size_t n = strlen(r->name);
        if (strncmp(rel, r->name, n) == 0 && (rel[n] == '/' || rel[n] == '\0')) {
            *rest = rel[n] ? rel + n + 1 : ".";
            if (**rest == '\0')
                *rest = ".";
            return r;
        }
    }
    return NULL;
}

/* An absolute path inside a root becomes relative to it. */
static const char *strip_root(const struct cove_agent_env *env, const char *rel)
{
    for (int i = 0; rel[0] == '/' && i < env->n_roots; i++) {
        size_t n = strlen(env->roots[i].path);
        if (strncmp(rel, env->roots[i].path, n) == 0 && (rel[n] == '/' || rel[n] == '\0'))
            return rel[n] ? rel + n + 1 : ".";
    }
    return rel;
}

cove_status cove_agent_open_beneath(const struct cove_agent_env *env, const char *rel,
                                    int directory, int *fd_out,
                                    const struct cove_agent_root **root_out, const char **rest_out,
                                    cove_error *err)
{
    if (env->n_roots == 0)
        return cove_error_set(err, COVE_ERR_PERMISSION, "no directories are open to this "
                              "agent (configure roots)");
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (read_file then refuses it) */
    int flags = O_RDONLY | O_NONBLOCK | (directory ? O_DIRECTORY : 0);
    rel = strip_root(env, rel);
    if (!*rel)
        rel = ".";
    const char *rest = rel;
    const struct cove_agent_root *r = named_root(env, rel, &rest);
    cove_status st = COVE_ERR_NOT_FOUND;
    for (int i = 0; i < env->n_roots; i++) {
        const struct cove_agent_root *cand = r ? r : &env->roots[i];
        const char *path = r ? rest : rel;
        st = cove_sandbox_open_beneath(cand->fd, path, flags, 0, fd_out, err);
        if (st == COVE_OK || st != COVE_ERR_NOT_FOUND || r) {
            if (st == COVE_OK && root_out)
                *root_out = cand;
            if (st == COVE_OK && rest_out)
                *rest_out = path;
            return st;
        }
    }
    return st;
}

const struct cove_agent_tool_def *const *cove_agent_builtin_tools(size_t *n)
{
    static const struct cove_agent_tool_def *const table[] = {
        &cove_agent_tool_kb_search,  &cove_agent_tool_read_file,    &cove_agent_tool_list_files,
        &cove_agent_tool_write_note, &cove_agent_tool_calculator,   &cove_agent_tool_current_time,
        &cove_agent_tool_device_control,
    };
    *n = sizeof table / sizeof table[0];
    return table;
}
