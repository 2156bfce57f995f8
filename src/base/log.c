#include "base/log.h"

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

static void write_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void cove_log(enum cove_log_level level, const char *fmt, ...)
{
    if (!cove_log_enabled(level))
        return;
    char msg[1024];
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
