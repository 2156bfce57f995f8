/*
 * cove/status.h - status codes and error records shared by every cove module.
 *
 * Every fallible call returns a cove_status (COVE_OK == 0, errors negative) and
 * writes its results through out-params. Calls that can explain a failure also
 * take a `cove_error *err` (may be NULL): on failure it receives the status and
 * a human-readable message fit for a log line, an HTTP error body or an audit
 * record. The error record is caller-owned; it holds no heap memory.
 */
#ifndef COVE_STATUS_H
#define COVE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cove_status {
    COVE_OK = 0,
    COVE_ERR_NOMEM = -1,       /* an allocation failed */
    COVE_ERR_INVALID_ARG = -2, /* the caller passed something unusable */
    COVE_ERR_IO = -3,          /* a read, write, open or mmap failed */
    COVE_ERR_FORMAT = -4,      /* malformed input: file, JSON, request */
    COVE_ERR_UNSUPPORTED = -5, /* well-formed but not handled (type, arch) */
    COVE_ERR_LIMIT = -6,       /* a bound from limits.h was exceeded */
    COVE_ERR_NOT_FOUND = -7,   /* no such key, file, model or tool */
    COVE_ERR_CHECKSUM = -8,    /* a digest did not match */
    COVE_ERR_NETWORK = -9,     /* a download or connection failed */
    COVE_ERR_TIMEOUT = -10,    /* a deadline passed */
    COVE_ERR_CANCELLED = -11,  /* stopped on request */
    COVE_ERR_PERMISSION = -12, /* refused by policy or the OS */
    COVE_ERR_STATE = -13,      /* the call does not fit the object's state */
    COVE_ERR_INTERNAL = -14    /* a bug in cove; please report it */
} cove_status;

/* Short static description of a status ("out of memory", ...). Never NULL. */
const char *cove_status_str(cove_status status);

/* Symbolic name of a status ("COVE_ERR_NOMEM"). Never NULL. */
const char *cove_status_name(cove_status status);

#define COVE_ERROR_MSG_MAX 256

/* A caller-owned error record. Zero-initialise it (or call cove_error_clear). */
typedef struct cove_error {
    cove_status status;
    char msg[COVE_ERROR_MSG_MAX];
} cove_error;

/* Reset an error record to COVE_OK with an empty message. err may be NULL. */
void cove_error_clear(cove_error *err);

/*
 * Record a failure: sets err->status and formats the message (truncated to fit).
 * err may be NULL. Returns `status`, so callers can write
 *     return cove_error_set(err, COVE_ERR_FORMAT, "bad magic in %s", path);
 */
cove_status cove_error_set(cove_error *err, cove_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The message of err if one was set, else cove_status_str(err->status). */
const char *cove_error_msg(const cove_error *err);

#ifdef __cplusplus
}
#endif
#endif /* COVE_STATUS_H */
