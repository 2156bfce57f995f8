/*
 * agent/tools/list_files.c - list a directory beneath one of the agent's roots.
 *
 * Without a path it lists every root by name. Entries are sorted, hidden ones left out,
 * at most COVE_AGENT_MAX_LIST of them; directories end in '/'.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/tools/tools.h"
#include "base/alloc.h"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static cove_status list_roots(struct cove_agent_env *env, struct cove_agent_obs *obs)
{
    cove_status st = COVE_OK;
    for (int i = 0; i < env->n_roots && st == COVE_OK; i++)
        st = cove_buf_appendf(&obs->text, "%s/\n", env->roots[i].name);
    return st;
}

/* Read the names of dir (owned by the call: closed here) into a sorted array. */
static cove_status read_names(struct cove_agent_env *env, DIR *dir, char ***names, size_t *n,
                              int *more, cove_error *err)
{
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (*n >= COVE_AGENT_MAX_LIST || cove_agent_env_expired(env)) {
            *more = 1;
            break;
        }
        char *name = cove_malloc(strlen(de->d_name) + 2);
        void *p = name ? cove_realloc(*names, (*n + 1) * sizeof **names) : NULL;
        if (!p) {
            cove_free(name);
            closedir(dir);
            return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
        }
        *names = p;
        strcpy(name, de->d_name);
        if (de->d_type == DT_DIR)
            strcat(name, "/");
        (*names)[(*n)++] = name;
    }
    closedir(dir);
    qsort(*names, *n, sizeof **names, cmp_names);
    return COVE_OK;
}

static cove_status list_run(struct cove_agent_env *env, const json_t *args,
                            struct cove_agent_obs *obs, cove_error *err)
{
    const char *path = json_string_value(json_object_get(args, "path"));
    if (!path || !*path || strcmp(path, ".") == 0 || strcmp(path, "/") == 0)
        return list_roots(env, obs);
    int fd = -1;
    const struct cove_agent_root *root = NULL;
    const char *rest = NULL;
    cove_status st = cove_agent_open_beneath(env, path, 1, &fd, &root, &rest, err);
    if (st != COVE_OK)
        return st;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "cannot list %s", path);
    }
    char **names = NULL;
    size_t n = 0;
    int more = 0;
    st = read_names(env, dir, &names, &n, &more, err);
    for (size_t i = 0; i < n; i++) {
        if (st == COVE_OK)
            st = cove_buf_appendf(&obs->text, "%s/%s%s%s\n", root->name,
                                  strcmp(rest, ".") ? rest : "", strcmp(rest, ".") ? "/" : "",
                                  names[i]);
        cove_free(names[i]);
    }
    cove_free(names);
    if (st == COVE_OK && n == 0)
        st = cove_buf_append_str(&obs->text, "(empty)\n");
    if (st == COVE_OK && more)
        st = cove_buf_append_str(&obs->text, "[more entries not shown]\n");
    return st;
}

const struct cove_agent_tool_def cove_agent_tool_list_files = {
    .name = "list_files",
    .description = "Lists the files in a folder; with no path, the folders you may read. Use it "
                   "when asked which files or folders there are.",
    .example = "What folders can you see? -> {}",
    .schema = "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\","
              "\"maxLength\":200}}}",
    .handler = list_run,
    .limits = {.timeout_ms = 5000, .max_output = 16384, .max_calls = 20},
    .effect = COVE_AGENT_READ_ONLY,
    .flags = COVE_AGENT_TOOL_SANDBOXED,
};
