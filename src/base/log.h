/*
 * base/log.h - leveled logging to one sink, as plain text or JSON lines.
 *
 * The sink (a FILE*, stderr by default), its level and its format are the one
 * piece of global state cove keeps besides the CPU feature probe; set them
 * once at start-up, before threads start. Writing a record is thread-safe.
 */
#ifndef COVE_BASE_LOG_H
#define COVE_BASE_LOG_H

#include <stdio.h>

enum cove_log_level {
    COVE_LOG_ERROR = 0,
    COVE_LOG_WARN = 1,
    COVE_LOG_INFO = 2,
    COVE_LOG_DEBUG = 3
};

enum cove_log_format {
    COVE_LOG_PLAIN = 0, /* "cove: warn: message" */
    COVE_LOG_JSON = 1   /* {"ts":"...","level":"warn","msg":"..."} */
};

/* Configure the sink. `sink` is borrowed and must outlive logging; NULL means stderr. */
void cove_log_setup(FILE *sink, enum cove_log_level level, enum cove_log_format format);

/* Parse "error", "warn", "info", "debug" into *out. Returns 0 on success, -1 otherwise. */
int cove_log_level_parse(const char *name, enum cove_log_level *out);

/* 1 when a record of `level` would be written. */
int cove_log_enabled(enum cove_log_level level);

void cove_log(enum cove_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define cove_log_error(...) cove_log(COVE_LOG_ERROR, __VA_ARGS__)
#define cove_log_warn(...) cove_log(COVE_LOG_WARN, __VA_ARGS__)
#define cove_log_info(...) cove_log(COVE_LOG_INFO, __VA_ARGS__)
#define cove_log_debug(...) cove_log(COVE_LOG_DEBUG, __VA_ARGS__)

#endif
