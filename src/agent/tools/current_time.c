/*
 * agent/tools/current_time.c - the date and time, in UTC or the machine's zone.
 */
#include <string.h>
#include <time.h>

#include "agent/tools/tools.h"

static cove_status time_run(struct cove_agent_env *env, const json_t *args,
                            struct cove_agent_obs *obs, cove_error *err)
{
    const char *zone = json_string_value(json_object_get(args, "timezone"));
    int local = zone && strcmp(zone, "local") == 0;
    time_t now = env->now_override > 0 ? (time_t)env->now_override : time(NULL);
    struct tm tm;
    if (!(local ? localtime_r(&now, &tm) : gmtime_r(&now, &tm)))
        return cove_error_set(err, COVE_ERR_INTERNAL, "cannot convert the time");
    char text[96];
    size_t n = strftime(text, sizeof text, local ? "%Y-%m-%dT%H:%M:%S%z (%A)"
                                                 : "%Y-%m-%dT%H:%M:%SZ (%A)", &tm);
    if (n == 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "cannot format the time");
    return cove_buf_append(&obs->text, text, n);
}

const struct cove_agent_tool_def cove_agent_tool_current_time = {
    .name = "current_time",
    .description = "The current date, time and weekday, in UTC or local time. Use it when "
                   "asked what time, date or day it is now or today.",
    .example = "Is it still morning? -> {\"timezone\": \"local\"}",
    .schema = "{\"type\":\"object\",\"properties\":{\"timezone\":{\"enum\":[\"utc\","
              "\"local\"]}}}",
    .handler = time_run,
    .limits = {.timeout_ms = 1000, .max_output = 256, .max_calls = 0},
    .effect = COVE_AGENT_READ_ONLY,
};
