/*
 * agent/tools/device_control.c - switch and set the devices of a home hub.
 *
 * The devices live in a SQLite table (the file is env->devices_path):
 *
 *     CREATE TABLE devices(name TEXT PRIMARY KEY, kind TEXT, state TEXT,  -- 'on' | 'off'
 *                          value REAL, min REAL, max REAL, unit TEXT);
 *
 * Actions: "list" (every device), "status", "on", "off", "set" (value, which must lie in
 * [min, max] of the device; a device with no range takes no value). A change is one
 * UPDATE; the observation reports the new state. A device is named as in the table, in
 * any case; a name that matches none is also tried loosely ("the lamp", "lamps",
 * "porch_light" for "porch light") and taken when exactly one device fits.
 */
#include <ctype.h>
#include <math.h>
#include <strings.h>
#include <sqlite3.h>
#include <string.h>

#include "agent/tools/tools.h"
#include "base/limits.h"

/* " LIMIT 1024": the bound of base/limits.h as SQL text. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define LIMIT_DEVICES " LIMIT " STR(COVE_AGENT_MAX_DEVICES)

static cove_status db_fail(sqlite3 *db, cove_error *err, const char *what)
{
    cove_status st = cove_error_set(err, COVE_ERR_IO, "devices: %s: %s", what, sqlite3_errmsg(db));
    sqlite3_close(db);
    return st;
}

/* Append "name (kind): on, 21.5 C [16..28]" for the current row. */
static cove_status put_row(sqlite3_stmt *s, struct cove_buf *out)
{
    cove_status st = cove_buf_appendf(out, "%s (%s): %s", sqlite3_column_text(s, 0),
                                      sqlite3_column_text(s, 1), sqlite3_column_text(s, 2));
    if (st == COVE_OK && sqlite3_column_type(s, 3) != SQLITE_NULL)
        st = cove_buf_appendf(out, ", %g %s [%g..%g]", sqlite3_column_double(s, 3),
                              sqlite3_column_text(s, 6) ? (const char *)sqlite3_column_text(s, 6)
                                                        : "",
                              sqlite3_column_double(s, 4), sqlite3_column_double(s, 5));
    return st == COVE_OK ? cove_buf_append_byte(out, '\n') : st;
}

#define COLS "name, kind, state, value, min, max, unit"

static cove_status show(sqlite3 *db, const char *name, struct cove_buf *out, cove_error *err)
{
    sqlite3_stmt *s = NULL;
    const char *sql = name ? "SELECT " COLS " FROM devices WHERE name = ?1 COLLATE NOCASE"
                           : "SELECT " COLS " FROM devices ORDER BY name" LIMIT_DEVICES;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return cove_error_set(err, COVE_ERR_IO, "devices: %s", sqlite3_errmsg(db));
    if (name)
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rows = 0, rc;
    cove_status st = COVE_OK;
    while (st == COVE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        st = put_row(s, out);
        rows++;
    }
    sqlite3_finalize(s);
    if (st == COVE_OK && rows == 0)
        st = name ? cove_error_set(err, COVE_ERR_NOT_FOUND, "no device named '%s'; use the "
                                   "action \"list\" to see the devices", name)
                  : cove_buf_append_str(out, "(no devices)\n");
    return st;
}

/* Check a "set" value against the device's range. */
static cove_status check_range(sqlite3 *db, const char *name, double v, cove_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT min, max, unit FROM devices WHERE name = ?1 COLLATE "
                           "NOCASE", -1, &s, NULL) != SQLITE_OK)
        return cove_error_set(err, COVE_ERR_IO, "devices: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    cove_status st = COVE_OK;
    if (sqlite3_step(s) != SQLITE_ROW)
        st = cove_error_set(err, COVE_ERR_NOT_FOUND, "no device named '%s'", name);
    else if (sqlite3_column_type(s, 0) == SQLITE_NULL)
        st = cove_error_set(err, COVE_ERR_INVALID_ARG, "%s takes no value, only on/off", name);
    else if (!isfinite(v) || v < sqlite3_column_double(s, 0) || v > sqlite3_column_double(s, 1))
        st = cove_error_set(err, COVE_ERR_INVALID_ARG, "%g is outside the range of %s: %g to "
                            "%g %s", v, name, sqlite3_column_double(s, 0),
                            sqlite3_column_double(s, 1),
                            sqlite3_column_text(s, 2) ? (const char *)sqlite3_column_text(s, 2)
                                                      : "");
    sqlite3_finalize(s);
    return st;
}

static cove_status change(sqlite3 *db, const char *name, const char *action, const json_t *value,
                          cove_error *err)
{
    int set = strcmp(action, "set") == 0;
    if (set && !json_is_number(value))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "\"set\" needs a number \"value\"");
    cove_status st;
    if (set && (st = check_range(db, name, json_number_value(value), err)) != COVE_OK)
        return st;
    sqlite3_stmt *s = NULL;
    const char *sql = set ? "UPDATE devices SET value = ?2, state = 'on' WHERE name = ?1 "
                            "COLLATE NOCASE"
                          : "UPDATE devices SET state = ?2 WHERE name = ?1 COLLATE NOCASE";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return cove_error_set(err, COVE_ERR_IO, "devices: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (set)
        sqlite3_bind_double(s, 2, json_number_value(value));
    else
        sqlite3_bind_text(s, 2, action, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return cove_error_set(err, COVE_ERR_IO, "devices: %s", sqlite3_errmsg(db));
    if (sqlite3_changes(db) == 0)
        return cove_error_set(err, COVE_ERR_NOT_FOUND, "no device named '%s'; use the action "
                              "\"list\" to see the devices", name);
    return COVE_OK;
}

/* in lower case, '_' as ' ', without a leading "the " or a trailing 's' (into out). */
static void loosen(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    if (strncasecmp(in, "the ", 4) == 0)
        in += 4;
    for (; *in && n + 1 < cap; in++)
        out[n++] = *in == '_' ? ' ' : (char)tolower((unsigned char)*in);
    if (n > 1 && out[n - 1] == 's')
        n--;
    out[n] = '\0';
}

/* The stored name of the device called `name` into out (see the top of the file). */
static cove_status resolve(sqlite3 *db, const char *name, char *out, size_t cap,
                           cove_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name FROM devices ORDER BY name" LIMIT_DEVICES, -1, &s,
                           NULL) != SQLITE_OK)
        return cove_error_set(err, COVE_ERR_IO, "devices: %s", sqlite3_errmsg(db));
    char want[COVE_AGENT_MAX_DEVICE_NAME + 1], have[COVE_AGENT_MAX_DEVICE_NAME + 1];
    loosen(name, want, sizeof want);
    int exact = 0, loose = 0;
    while (!exact && sqlite3_step(s) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(s, 0);
        if (!row)
            continue;
        loosen(row, have, sizeof have);
        exact = strcasecmp(row, name) == 0;
        if (exact || (strcmp(have, want) == 0 && loose++ == 0))
            snprintf(out, cap, "%s", row);
    }
    sqlite3_finalize(s);
    if (exact || loose == 1)
        return COVE_OK;
    return cove_error_set(err, COVE_ERR_NOT_FOUND, "no device named '%s'; use the action "
                          "\"list\" to see the devices", name);
}

/* "status", "on", "off" or "set" on the device called name; its state into out. */
static cove_status act_on(sqlite3 *db, const char *name, const char *action,
                          const json_t *args, struct cove_buf *out, cove_error *err)
{
    char stored[COVE_AGENT_MAX_DEVICE_NAME + 1];
    cove_status st = resolve(db, name, stored, sizeof stored, err);
    if (st == COVE_OK && strcmp(action, "status") != 0)
        st = change(db, stored, action, json_object_get(args, "value"), err);
    return st == COVE_OK ? show(db, stored, out, err) : st;
}

static cove_status device_run(struct cove_agent_env *env, const json_t *args,
                              struct cove_agent_obs *obs, cove_error *err)
{
    const char *name = json_string_value(json_object_get(args, "device"));
    const char *action = json_string_value(json_object_get(args, "action"));
    if (!env->devices_path)
        return cove_error_set(err, COVE_ERR_STATE, "no device table is configured");
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(env->devices_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return db_fail(db, err, env->devices_path);
    sqlite3_busy_timeout(db, 2000);
    cove_status st;
    if (strcmp(action, "list") == 0)
        st = show(db, NULL, &obs->text, err);
    else if (!name || !*name)
        st = cove_error_set(err, COVE_ERR_INVALID_ARG, "\"%s\" needs a \"device\"", action);
    else
        st = act_on(db, name, action, args, &obs->text, err);
    sqlite3_close(db);
    return st;
}

const struct cove_agent_tool_def cove_agent_tool_device_control = {
    .name = "device_control",
    .description = "Controls the devices in the home (lights, lamps, heating, blinds). Use it "
                   "to switch a device on or off, set its value (a temperature, a position), "
                   "get its status, or list the devices.",
    .example = "Switch the porch light on -> {\"action\": \"on\", \"device\": \"porch "
               "light\"}",
    /* one alternative per kind of action, so that a call that names a device always has
     * one and "set" always has a value (the plan grammar follows the schema) */
    .schema = "{\"anyOf\":["
              "{\"type\":\"object\",\"properties\":{\"action\":{\"enum\":[\"list\"]}},"
              "\"required\":[\"action\"]},"
              "{\"type\":\"object\",\"properties\":{\"action\":{\"enum\":[\"on\",\"off\","
              "\"status\"]},\"device\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64}},"
              "\"required\":[\"action\",\"device\"]},"
              "{\"type\":\"object\",\"properties\":{\"action\":{\"enum\":[\"set\"]},"
              "\"device\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
              "\"value\":{\"type\":\"number\"}},\"required\":[\"action\",\"device\",\"value\"]}]}",
    .handler = device_run,
    .limits = {.timeout_ms = 3000, .max_output = 8192, .max_calls = 10},
    .effect = COVE_AGENT_DEVICE,
};
