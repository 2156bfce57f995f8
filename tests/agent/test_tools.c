/*
 * tests/agent/test_tools.c - the built-in tools and the registry's call discipline.
 */
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "agent/memory.h"
#include "agent/registry.h"
#include "agent/tools/tools.h"
#include "agent_test.h"
#include "base/buf.h"
#include "test.h"

/* Evaluate expr; the text, or "ERR <status>". Static buffer. */
static const char *calc(const char *expr)
{
    static char out[512];
    struct cove_buf b;
    cove_buf_init(&b, 4096);
    cove_status st = cove_agent_calc(expr, &b, NULL);
    if (st == COVE_OK)
        snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    else
        snprintf(out, sizeof out, "ERR %d", (int)st);
    cove_buf_release(&b);
    return out;
}

TEST(tool_calc_exact)
{
    CHECK_STR_EQ(calc("0.1 + 0.2"), "0.3");
    CHECK_STR_EQ(calc("1/3*3"), "1");
    CHECK_STR_EQ(calc("(12.5 + 7) * 3"), "58.5");
    CHECK_STR_EQ(calc("2^100"), "1267650600228229401496703205376");
    CHECK_STR_EQ(calc("2**10"), "1024");
    CHECK_STR_EQ(calc("-(3 - 5)"), "2");
    CHECK_STR_EQ(calc("2^-2"), "0.25");
    CHECK_STR_EQ(calc("1/3"), "1/3 = 0.333333333333333333333333333333...");
    CHECK_STR_EQ(calc("-7/8"), "-0.875");
    CHECK_STR_EQ(calc("1234567.891 * 1000"), "1234567891");
    CHECK_STR_EQ(calc("0.000001 * 0.000001"), "0.000000000001");
    CHECK_STR_EQ(calc("2 + 3 * 4 ^ 2"), "50");
    CHECK_STR_EQ(calc("100 / 7"), "100/7 = 14.285714285714285714285714285714...");
}

TEST(tool_calc_errors)
{
    CHECK_STR_EQ(calc("10 / 0"), "ERR -2");
    CHECK_STR_EQ(calc("2^0.5"), "ERR -2");
    CHECK_STR_EQ(calc("2^200"), "ERR -6");
    CHECK_STR_EQ(calc("99999999999999999999999999999999999999999"), "ERR -6");
    CHECK_STR_EQ(calc("1 +"), "ERR -4");
    CHECK_STR_EQ(calc("(1 + 2"), "ERR -4");
    CHECK_STR_EQ(calc("1 2"), "ERR -4");
    CHECK_STR_EQ(calc("abs(1)"), "ERR -4");
    CHECK_STR_EQ(calc(""), "ERR -4");
    char deep[300];
    memset(deep, '(', 200);
    strcpy(deep + 200, "1");
    CHECK_STR_EQ(calc(deep), "ERR -6");
}

/* ---------------------------------------------------------------- registry */

static int counter_calls;

static cove_status counter_run(struct cove_agent_env *env, const json_t *args,
                               struct cove_agent_obs *obs, cove_error *err)
{
    counter_calls++;
    json_int_t n = json_integer_value(json_object_get(args, "n"));
    for (json_int_t i = 0; i < n; i++)
        cove_buf_append_str(&obs->text, "0123456789");
    return COVE_OK;
}

static const struct cove_agent_tool_def counter_tool = {
    .name = "counter", .description = "test tool",
    .schema = "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":0,"
              "\"maximum\":1000}},\"required\":[\"n\"]}",
    .handler = counter_run, .limits = {.timeout_ms = 100, .max_output = 50, .max_calls = 2},
    .effect = COVE_AGENT_READ_ONLY};

TEST(registry_validates_before_handler)
{
    cove_agent_registry *r = NULL;
    struct cove_agent_env env;
    struct cove_agent_obs obs;
    struct cove_agent_usage use = {0};
    cove_agent_env_init(&env);
    cove_agent_obs_init(&obs);
    CHECK_OK(cove_agent_registry_create(&r, NULL));
    CHECK_OK(cove_agent_registry_add(r, &counter_tool, NULL));
    CHECK(cove_agent_registry_add(r, &counter_tool, NULL) == COVE_ERR_INVALID_ARG);
    counter_calls = 0;
    const char *bad[] = {"{}", "{\"n\":\"3\"}", "{\"n\":-1}", "{\"n\":1,\"n\":2}", "[1]",
                         "not json", "{\"n\":5000}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(cove_agent_registry_invoke(r, &env, "counter", bad[i], &use, &obs, NULL));
        CHECK_MSG(obs.is_error, "accepted %s", bad[i]);
    }
    CHECK_EQ_INT(counter_calls, 0);
    CHECK_EQ_INT(use.calls[0], 0);
    CHECK_OK(cove_agent_registry_invoke(r, &env, "nope", "{}", &use, &obs, NULL));
    CHECK(obs.is_error && strstr(obs.text.data, "no tool named"));
    /* valid: runs; output over max_output is cut and marked */
    CHECK_OK(cove_agent_registry_invoke(r, &env, "counter", "{\"n\":20}", &use, &obs, NULL));
    CHECK(!obs.is_error);
    CHECK(strncmp(obs.text.data, "01234567890123456789", 20) == 0);
    CHECK(strstr(obs.text.data, "[output cut at 50 of 200 bytes]") != NULL);
    CHECK_OK(cove_agent_registry_invoke(r, &env, "counter", "{\"n\":1}", &use, &obs, NULL));
    CHECK(!obs.is_error);
    /* budget of 2 calls spent */
    CHECK_OK(cove_agent_registry_invoke(r, &env, "counter", "{\"n\":1}", &use, &obs, NULL));
    CHECK(obs.is_error && strstr(obs.text.data, "budget") != NULL);
    CHECK_EQ_INT(counter_calls, 2);
    cove_agent_obs_release(&obs);
    cove_agent_registry_free(r);
}

TEST(registry_builtins)
{
    cove_agent_registry *r = NULL;
    CHECK_OK(cove_agent_registry_create(&r, NULL));
    CHECK_OK(cove_agent_registry_add_builtins(r, NULL, 0, NULL));
    CHECK_EQ_INT(cove_agent_registry_count(r), 7);
    CHECK(cove_agent_registry_find(r, "calculator") >= 0);
    CHECK(cove_agent_registry_find(r, "device_control") >= 0);
    CHECK_EQ_INT(cove_agent_registry_get(r, (size_t)cove_agent_registry_find(r, "device_control"))
                     ->effect, COVE_AGENT_DEVICE);
    cove_agent_registry_free(r);
    CHECK_OK(cove_agent_registry_create(&r, NULL));
    const char *names[] = {"calculator", "nonexistent"};
    CHECK(cove_agent_registry_add_builtins(r, names, 2, NULL) == COVE_ERR_NOT_FOUND);
    cove_agent_registry_free(r);
}

/* --------------------------------------------------------------- file tools */

/* Run a built-in tool; returns is_error, text copied into out. */
static int run_tool(struct cove_agent_env *env, const char *name, const char *args, char *out,
                    size_t n)
{
    cove_agent_registry *r = NULL;
    struct cove_agent_obs obs;
    cove_agent_obs_init(&obs);
    cove_agent_registry_create(&r, NULL);
    cove_agent_registry_add_builtins(r, NULL, 0, NULL);
    cove_status st = cove_agent_registry_invoke(r, env, name, args, NULL, &obs, NULL);
    int is_err = st != COVE_OK || obs.is_error;
    snprintf(out, n, "%s", obs.text.data ? obs.text.data : "");
    cove_agent_obs_release(&obs);
    cove_agent_registry_free(r);
    return is_err;
}

TEST(tool_read_file_beneath_root)
{
    const char *docs = at_root("rf");
    CHECK(docs != NULL);
    struct cove_agent_env env;
    char out[4096];
    cove_agent_env_init(&env);
    CHECK_OK(cove_agent_env_add_root(&env, docs, NULL));
    CHECK(!run_tool(&env, "read_file", "{\"path\":\"a.txt\"}", out, sizeof out));
    CHECK(strstr(out, "pelican contract") && strstr(out, "docs/a.txt"));
    CHECK(!run_tool(&env, "read_file", "{\"path\":\"docs/b.txt\"}", out, sizeof out));
    CHECK(strstr(out, "tomatoes"));
    /* escapes: .., absolute, a symlink out of the root, a directory, /proc magic */
    const char *escapes[] = {"{\"path\":\"../secret.txt\"}", "{\"path\":\"/etc/passwd\"}",
                             "{\"path\":\"link\"}", "{\"path\":\"docs/../../secret.txt\"}",
                             "{\"path\":\".\"}", "{\"path\":\"/proc/self/root/etc/passwd\"}"};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        CHECK_MSG(run_tool(&env, "read_file", escapes[i], out, sizeof out), "read %s",
                  escapes[i]);
        CHECK_MSG(!strstr(out, "top secret") && !strstr(out, "root:"), "leaked via %s",
                  escapes[i]);
    }
    CHECK(run_tool(&env, "read_file", "{\"path\":\"missing.txt\"}", out, sizeof out));
    /* a FIFO under the root: refused at once, never a read that waits for a writer */
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/pipe", docs);
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(run_tool(&env, "read_file", "{\"path\":\"pipe\"}", out, sizeof out));
    CHECK(strstr(out, "not a regular file") != NULL);
    unlink(fifo);
    /* the size bound */
    env.read_max = 10;
    CHECK(!run_tool(&env, "read_file", "{\"path\":\"a.txt\"}", out, sizeof out));
    CHECK(strstr(out, "cut") && !strstr(out, "automatically"));
    cove_agent_env_release(&env);
}

TEST(tool_list_files)
{
    const char *docs = at_root("lf");
    struct cove_agent_env env;
    char out[4096];
    cove_agent_env_init(&env);
    CHECK_OK(cove_agent_env_add_root(&env, docs, NULL));
    CHECK(!run_tool(&env, "list_files", "{}", out, sizeof out));
    CHECK_STR_EQ(out, "docs/\n");
    CHECK(!run_tool(&env, "list_files", "{\"path\":\"docs\"}", out, sizeof out));
    CHECK(strstr(out, "docs/a.txt\ndocs/b.txt\n") != NULL);
    CHECK(run_tool(&env, "list_files", "{\"path\":\"..\"}", out, sizeof out));
    cove_agent_env_release(&env);
    cove_agent_env_init(&env); /* no roots: refused */
    CHECK(run_tool(&env, "read_file", "{\"path\":\"a.txt\"}", out, sizeof out));
    CHECK(strstr(out, "no directories"));
}

/* The thermostat's value in the table. */
static double thermostat(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    double v = -1;
    sqlite3_open(path, &db);
    sqlite3_prepare_v2(db, "SELECT value FROM devices WHERE name='thermostat'", -1, &s, NULL);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

TEST(tool_device_bounds)
{
    char path[4096], out[4096];
    snprintf(path, sizeof path, "%s/devices.db", at_dir("dev"));
    CHECK(at_devices(path) == 0);
    struct cove_agent_env env;
    cove_agent_env_init(&env);
    env.devices_path = path;
    CHECK(run_tool(&env, "device_control", "{\"action\":\"set\",\"device\":\"thermostat\","
                   "\"value\":35}", out, sizeof out));
    CHECK(strstr(out, "outside the range"));
    CHECK(thermostat(path) == 20);
    CHECK(run_tool(&env, "device_control", "{\"action\":\"set\",\"device\":\"thermostat\","
                   "\"value\":15.9}", out, sizeof out));
    CHECK(!run_tool(&env, "device_control", "{\"action\":\"set\",\"device\":\"Thermostat\","
                    "\"value\":21.5}", out, sizeof out));
    CHECK(strstr(out, "thermostat (heating): on, 21.5 C"));
    CHECK(thermostat(path) == 21.5);
    CHECK(run_tool(&env, "device_control", "{\"action\":\"set\",\"device\":\"lamp\",\"value\":1}",
                   out, sizeof out));
    CHECK(!run_tool(&env, "device_control", "{\"action\":\"on\",\"device\":\"lamp\"}", out,
                    sizeof out));
    CHECK(strstr(out, "lamp (light): on"));
    CHECK(run_tool(&env, "device_control", "{\"action\":\"off\",\"device\":\"oven\"}", out,
                   sizeof out));
    CHECK(strstr(out, "no device named 'oven'"));
    CHECK(run_tool(&env, "device_control", "{\"action\":\"explode\",\"device\":\"lamp\"}", out,
                   sizeof out));
    CHECK(!run_tool(&env, "device_control", "{\"action\":\"list\"}", out, sizeof out));
    CHECK(strstr(out, "blinds") && strstr(out, "lamp") && strstr(out, "thermostat"));
    env.devices_path = NULL;
    CHECK(run_tool(&env, "device_control", "{\"action\":\"list\"}", out, sizeof out));
}

TEST(tool_time_and_notes)
{
    struct cove_agent_env env;
    char out[4096], path[4096], sid[COVE_AGENT_MAX_SESSION_ID + 1];
    cove_agent_env_init(&env);
    env.now_override = 1700000000; /* 2023-11-14T22:13:20Z, a Tuesday */
    CHECK(!run_tool(&env, "current_time", "{}", out, sizeof out));
    CHECK_STR_EQ(out, "2023-11-14T22:13:20Z (Tuesday)");
    CHECK(run_tool(&env, "current_time", "{\"timezone\":\"mars\"}", out, sizeof out));
    CHECK(run_tool(&env, "write_note", "{\"text\":\"x\"}", out, sizeof out));
    CHECK(strstr(out, "no session memory"));
    cove_agent_memory *m = NULL;
    snprintf(path, sizeof path, "%s/notes.db", at_dir("notes"));
    CHECK_OK(cove_agent_memory_open(path, &m, NULL));
    CHECK_OK(cove_agent_memory_session(m, "n1", sid, NULL, NULL));
    env.memory = m;
    env.session_id = sid;
    CHECK(!run_tool(&env, "write_note", "{\"text\":\"buy milk\"}", out, sizeof out));
    CHECK(strstr(out, "saved"));
    int64_t n = 0;
    CHECK_OK(cove_agent_memory_count(m, sid, "notes", &n, NULL));
    CHECK_EQ_INT(n, 1);
    cove_agent_memory_free(m);
}
