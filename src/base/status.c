#include "cove/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    cove_status status;
    const char *name;
    const char *text;
} status_table[] = {
    {COVE_OK, "COVE_OK", "success"},
    {COVE_ERR_NOMEM, "COVE_ERR_NOMEM", "out of memory"},
    {COVE_ERR_INVALID_ARG, "COVE_ERR_INVALID_ARG", "invalid argument"},
    {COVE_ERR_IO, "COVE_ERR_IO", "input/output error"},
    {COVE_ERR_FORMAT, "COVE_ERR_FORMAT", "malformed input"},
    {COVE_ERR_UNSUPPORTED, "COVE_ERR_UNSUPPORTED", "not supported"},
    {COVE_ERR_LIMIT, "COVE_ERR_LIMIT", "limit exceeded"},
    {COVE_ERR_NOT_FOUND, "COVE_ERR_NOT_FOUND", "not found"},
    {COVE_ERR_CHECKSUM, "COVE_ERR_CHECKSUM", "checksum mismatch"},
    {COVE_ERR_NETWORK, "COVE_ERR_NETWORK", "network error"},
    {COVE_ERR_TIMEOUT, "COVE_ERR_TIMEOUT", "timed out"},
    {COVE_ERR_CANCELLED, "COVE_ERR_CANCELLED", "cancelled"},
    {COVE_ERR_PERMISSION, "COVE_ERR_PERMISSION", "permission denied"},
    {COVE_ERR_STATE, "COVE_ERR_STATE", "invalid state"},
    {COVE_ERR_INTERNAL, "COVE_ERR_INTERNAL", "internal error"},
};

#define N_STATUS (sizeof status_table / sizeof status_table[0])

const char *cove_status_str(cove_status status)
{
    for (size_t i = 0; i < N_STATUS; i++)
        if (status_table[i].status == status)
            return status_table[i].text;
    return "unknown status";
}

const char *cove_status_name(cove_status status)
{
    for (size_t i = 0; i < N_STATUS; i++)
        if (status_table[i].status == status)
            return status_table[i].name;
    return "COVE_ERR_UNKNOWN";
}

void cove_error_clear(cove_error *err)
{
    if (!err)
        return;
    err->status = COVE_OK;
    err->msg[0] = '\0';
}

cove_status cove_error_set(cove_error *err, cove_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

const char *cove_error_msg(const cove_error *err)
{
    if (!err)
        return "no error record";
    if (err->msg[0])
        return err->msg;
    return cove_status_str(err->status);
}
