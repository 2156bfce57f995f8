/*
 * convert/files.c - reading the small files of a model directory: bounded whole-file
 * reads, JSON parsing at the edge, path joining.
 *
 * JSON trees come from jansson, which allocates with its own allocator: its trees live
 * only inside one call of the converter, and their size is bounded by COVE_HF_MAX_JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "convert/convert_int.h"

cove_status cove_convert_path(char *buf, const char *dir, const char *name, cove_error *err)
{
    int n = snprintf(buf, COVE_MAX_PATH, "%s/%s", dir, name);
    if (n < 0 || n >= COVE_MAX_PATH)
        return cove_error_set(err, COVE_ERR_LIMIT, "path %s/%s is longer than %d bytes", dir,
                              name, COVE_MAX_PATH - 1);
    return COVE_OK;
}

int cove_convert_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Read exactly n bytes from fd into buf. */
static int read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

cove_status cove_convert_read_file(const char *path, size_t max, char **out, size_t *len,
                                   cove_error *err)
{
    struct stat sb;
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_IO,
                              "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max) {
        close(fd);
        return cove_error_set(err, COVE_ERR_LIMIT, "%s: %lld bytes, more than the limit of %zu",
                              path, (long long)sb.st_size, max);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = cove_malloc(n + 1);
    if (!buf) {
        close(fd);
        return cove_error_set(err, COVE_ERR_NOMEM, "%s: out of memory", path);
    }
    int bad = read_all(fd, buf, n);
    close(fd);
    if (bad) {
        cove_free(buf);
        return cove_error_set(err, COVE_ERR_IO, "%s: read failed", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return COVE_OK;
}

cove_status cove_convert_json_load(const char *path, int optional, json_t **out,
                                   cove_error *err)
{
    char *text;
    size_t len;
    json_error_t je;
    *out = NULL;
    if (optional && !cove_convert_file_exists(path))
        return COVE_OK;
    cove_status st = cove_convert_read_file(path, COVE_HF_MAX_JSON, &text, &len, err);
    if (st != COVE_OK)
        return st;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    cove_free(text);
    if (!*out)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: not valid JSON: %s (line %d, column %d)",
                              path, je.text, je.line, je.column);
    return COVE_OK;
}
