#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "test.h"

static size_t read_all(FILE *f, char *buf, size_t n)
{
    fflush(f);
    rewind(f);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    return got;
}

TEST(log_plain_levels)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    cove_log_setup(f, COVE_LOG_INFO, COVE_LOG_PLAIN);
    cove_log_debug("hidden %d", 1);
    cove_log_info("shown %d", 2);
    cove_log_error("bad %s", "thing");
    char buf[512];
    read_all(f, buf, sizeof buf);
    cove_log_setup(NULL, COVE_LOG_WARN, COVE_LOG_PLAIN);
    fclose(f);
    CHECK(strstr(buf, "hidden") == NULL);
    CHECK(strstr(buf, "cove: info: shown 2\n") != NULL);
    CHECK(strstr(buf, "cove: error: bad thing\n") != NULL);
}

TEST(log_json_escapes)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    cove_log_setup(f, COVE_LOG_DEBUG, COVE_LOG_JSON);
    cove_log_warn("quote \" slash \\ nl \n bad \xff end");
    char buf[512];
    read_all(f, buf, sizeof buf);
    cove_log_setup(NULL, COVE_LOG_WARN, COVE_LOG_PLAIN);
    fclose(f);
    CHECK(strncmp(buf, "{\"ts\":\"", 7) == 0);
    CHECK(strstr(buf, "\"level\":\"warn\"") != NULL);
    CHECK(strstr(buf, "quote \\\" slash \\\\ nl \\n bad \xef\xbf\xbd end\"}\n") != NULL);
    CHECK(strchr(buf, '\n') == buf + strlen(buf) - 1); /* one line */
}

TEST(log_level_parse)
{
    enum cove_log_level lv;
    CHECK_EQ_INT(cove_log_level_parse("debug", &lv), 0);
    CHECK_EQ_INT(lv, COVE_LOG_DEBUG);
    CHECK_EQ_INT(cove_log_level_parse("loud", &lv), -1);
}
