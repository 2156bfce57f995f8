/*
 * agent/tools/write_note.c - keep a note in the session's memory.
 *
 * Notes are stored with the session (agent/memory.h) and shown to the model in later
 * runs of the same session.
 */
#include <string.h>

#include "agent/memory.h"
#include "agent/tools/tools.h"

static cove_status note_run(struct cove_agent_env *env, const json_t *args,
                            struct cove_agent_obs *obs, cove_error *err)
{
    const char *text = json_string_value(json_object_get(args, "text"));
    if (!env->memory || !env->session_id)
        return cove_error_set(err, COVE_ERR_STATE, "this agent keeps no session memory "
                              "(no sessions file configured)");
    int64_t id = 0;
    cove_status st = cove_agent_memory_add_note(env->memory, env->session_id, text, &id, err);
    if (st != COVE_OK)
        return st;
    return cove_buf_appendf(&obs->text, "note %lld saved", (long long)id);
}

const struct cove_agent_tool_def cove_agent_tool_write_note = {
    .name = "write_note",
    .description = "Saves a note in this session's memory. Use it when the user asks you to "
                   "remember, note down or save something for later.",
    .example = "Remember that the car is in level 3 -> {\"text\": \"the car is in level 3\"}",
    .schema = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\","
              "\"minLength\":1,\"maxLength\":500}},\"required\":[\"text\"]}",
    .handler = note_run,
    .limits = {.timeout_ms = 2000, .max_output = 256, .max_calls = 20},
    .effect = COVE_AGENT_WRITES,
};
