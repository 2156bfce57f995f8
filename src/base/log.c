#include "base/log.h"

#include "base/buf.h"
#include "base/limits.h"
#include "base/str.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

/* The log sink: global by design (see log.h), configured before threads start. */
static FILE *log_sink;
static enum cove_log_level log_level = COVE_LOG_WARN;
static enum cove_log_format log_format = COVE_LOG_PLAIN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cove_log_setup(FILE *sink, enum cove_log_level level, enum cove_log_format format)
{
    log_sink = sink;
    log_level = level;
    log_format = format;
}

int cove_log_level_parse(const char *name, enum cove_log_level *out)
{
    for (int i = 0; i <= COVE_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum cove_log_level)i;
            return 0;
        }
    }
    return -1;
}

int cove_log_enabled(enum cove_log_level level)
{
    return level <= log_level;
}

/* Write msg as a JSON string; invalid UTF-8 becomes U+FFFD (see cove_json_escape). */
static void write_json_string(FILE *f, const char *msg)
{
    struct cove_buf b;
    cove_buf_init(&b, COVE_LOG_MSG_MAX * 6 + 2);
    if (cove_json_append_string(&b, msg, strlen(msg)) == COVE_OK)
        fwrite(b.data, 1, b.len, f);
    else
        fputs("\"(message could not be encoded)\"", f);
    cove_buf_release(&b);
}

void cove_log(enum cove_log_level level, const char *fmt, ...)
{
    if (!cove_log_enabled(level))
        return;
    char msg[COVE_LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    FILE *f = log_sink ? log_sink : stderr;
    pthread_mutex_lock(&log_lock);
    if (log_format == COVE_LOG_JSON) {
        struct timespec ts;
        struct tm tm;
        char when[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(f, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", when,
                ts.tv_nsec / 1000000, level_names[level]);
        write_json_string(f, msg);
        fputs("}\n", f);
    } else {
        fprintf(f, "cove: %s: %s\n", level_names[level], msg);
    }
    fflush(f);
    pthread_mutex_unlock(&log_lock);
}
