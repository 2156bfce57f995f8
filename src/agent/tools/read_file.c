/*
 * agent/tools/read_file.c - read a text file beneath one of the agent's roots.
 *
 * The file is opened with the sandbox's beneath-open (openat2 RESOLVE_BENEATH, no magic
 * links, no symlinks out of the root, no ".."), must be a regular file, and is read up
 * to a bound (env->read_max, default 16 KiB, at most COVE_AGENT_MAX_FILE_READ); a longer
 * file is cut and the observation says so. Text that is not UTF-8 is refused.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/tools/tools.h"
#include "base/str.h"
#include "sandbox/sandbox.h"

#define READ_DEFAULT_MAX (16u << 10)

static cove_status read_run(struct cove_agent_env *env, const json_t *args,
                            struct cove_agent_obs *obs, cove_error *err)
{
    const char *path = json_string_value(json_object_get(args, "path"));
    size_t max = env->read_max > 0 && env->read_max <= COVE_AGENT_MAX_FILE_READ
                     ? env->read_max : READ_DEFAULT_MAX;
    const struct cove_agent_root *root = NULL;
    const char *rest = NULL;
    int fd = -1;
    cove_status st = cove_agent_open_beneath(env, path, 0, &fd, &root, &rest, err);
    if (st != COVE_OK)
        return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cove_error_set(err, COVE_ERR_PERMISSION, "%s is not a regular file", path);
    }
    struct cove_buf data;
    cove_buf_init(&data, max);
    st = cove_sandbox_read_bounded(fd, max, &data, err);
    close(fd);
    int cut = st == COVE_ERR_LIMIT;
    if (st != COVE_OK && !cut) {
        cove_buf_release(&data);
        return st;
    }
    if (!cove_utf8_valid(data.data, data.len) && !cut) {
        cove_buf_release(&data);
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s is not a text file", path);
    }
    char id[COVE_AGENT_MAX_SOURCE_ID];
    snprintf(id, sizeof id, "file:%s/%s", root->name, rest);
    st = cove_buf_appendf(&obs->text, "%s (%lld bytes%s):\n", id + 5, (long long)sb.st_size,
                          cut ? ", cut" : "");
    if (st == COVE_OK)
        st = cove_buf_append(&obs->text, data.data, data.len);
    if (st == COVE_OK)
        st = cove_agent_obs_add_source(obs, id, data.data ? data.data : "", data.len);
    cove_buf_release(&data);
    return st;
}

const struct cove_agent_tool_def cove_agent_tool_read_file = {
    .name = "read_file",
    .description = "Reads one text file from the folders you may read, given its path (e.g. "
                   "notes/todo.txt). Use it when asked to read, open or show a file or what a "
                   "file says.",
    .example = "Print notes/todo.txt -> {\"path\": \"notes/todo.txt\"}",
    .schema = "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\","
              "\"minLength\":1,\"maxLength\":200}},\"required\":[\"path\"]}",
    .handler = read_run,
    .limits = {.timeout_ms = 5000, .max_output = 16384 + 512, .max_calls = 20},
    .effect = COVE_AGENT_READ_ONLY,
    .flags = COVE_AGENT_TOOL_SANDBOXED,
};
