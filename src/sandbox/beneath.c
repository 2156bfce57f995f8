/*
 * sandbox/beneath.c - open paths below a root directory without escaping it.
 *
 * Two mechanisms: openat2(2) with RESOLVE_BENEATH (the kernel resolves the
 * whole path and refuses escapes, magic links and, by default, every
 * symlink), and, where openat2 is missing (or answers ENOSYS under the
 * sandbox's read-only seccomp list), a walk that opens one component at a
 * time with O_NOFOLLOW, so no symlink is ever followed. ".." never reaches
 * either: cove_sandbox_path_normalize refuses it first.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

cove_status cove_sandbox_path_normalize(const char *rel, char *out, size_t cap, cove_error *err)
{
    if (!rel || !out || cap < 2)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: path or buffer missing");
    size_t len = strnlen(rel, COVE_MAX_PATH);
    if (len == 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: empty path");
    if (len >= COVE_MAX_PATH)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: path longer than %d bytes",
                              COVE_MAX_PATH - 1);
    if (rel[0] == '/')
        return cove_error_set(err, COVE_ERR_PERMISSION, "sandbox: absolute path refused");
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && rel[j] != '/') {
            if ((unsigned char)rel[j] < 0x20 || rel[j] == 0x7f)
                return cove_error_set(err, COVE_ERR_INVALID_ARG,
                                      "sandbox: control character in path");
            j++;
        }
        size_t n = j - i;
        if (n == 2 && rel[i] == '.' && rel[i + 1] == '.')
            return cove_error_set(err, COVE_ERR_PERMISSION, "sandbox: '..' in path refused");
        if (n > 0 && !(n == 1 && rel[i] == '.')) {
            if (o + (o > 0) + n + 1 > cap)
                return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: normalised path too long");
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, rel + i, n);
            o += n;
        }
        i = j + 1;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    return COVE_OK;
}

static cove_status map_errno(int e, const char *path, cove_error *err)
{
    switch (e) {
    case EXDEV:
        return cove_error_set(err, COVE_ERR_PERMISSION, "sandbox: %s escapes the root", path);
    case ELOOP:
        return cove_error_set(err, COVE_ERR_PERMISSION,
                              "sandbox: %s: symbolic link refused (or a loop)", path);
    case ENOENT:
        return cove_error_set(err, COVE_ERR_NOT_FOUND, "sandbox: %s: no such file", path);
    case ENOTDIR:
        return cove_error_set(err, COVE_ERR_NOT_FOUND, "sandbox: %s: not a directory", path);
    case EACCES:
    case EPERM:
        return cove_error_set(err, COVE_ERR_PERMISSION, "sandbox: %s: access denied", path);
    default:
        return cove_error_set(err, COVE_ERR_IO, "sandbox: cannot open %s: %s", path, strerror(e));
    }
}

/* openat2 below root_fd. Returns 1 and sets *st when it answered, 0 when missing. */
static int open_with_openat2(int root_fd, const char *path, int flags, unsigned how_flags,
                             int *fd_out, cove_status *st, cove_error *err)
{
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned)flags;
    how.mode = (flags & O_CREAT) ? 0600 : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    if (!(how_flags & COVE_SANDBOX_BENEATH_FOLLOW))
        how.resolve |= RESOLVE_NO_SYMLINKS;
    for (int attempt = 0; attempt < 8; attempt++) {
        long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        if (fd >= 0) {
            *fd_out = (int)fd;
            *st = COVE_OK;
            return 1;
        }
        if (errno == ENOSYS)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            break;
    }
    *st = map_errno(errno, path, err);
    return 1;
#else
    return 0;
#endif
}

/* Name why a walk step failed: a symlink is refused, anything else as its errno. */
static cove_status walk_error(int dir, const char *comp, const char *path, int e, cove_error *err)
{
    struct stat sb;
    if (fstatat(dir, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
        return cove_error_set(err, COVE_ERR_PERMISSION, "sandbox: %s: symbolic link refused", path);
    return map_errno(e, path, err);
}

/* The fallback: one component at a time, never following a symlink. path is normalised. */
static cove_status open_by_walk(int root_fd, char *path, int flags, int *fd_out, cove_error *err)
{
    char shown[COVE_MAX_PATH];
    memcpy(shown, path, strlen(path) + 1);
    int dir = root_fd;
    char *comp = path;
    for (char *slash; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
        *slash = '\0';
        int next = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cove_status st = next < 0 ? walk_error(dir, comp, shown, errno, err) : COVE_OK;
        if (dir != root_fd)
            close(dir);
        if (st != COVE_OK)
            return st;
        dir = next;
    }
    int fd = openat(dir, comp, flags | O_NOFOLLOW, 0600);
    cove_status st = fd < 0 ? walk_error(dir, comp, shown, errno, err) : COVE_OK;
    if (dir != root_fd)
        close(dir);
    if (st == COVE_OK)
        *fd_out = fd;
    return st;
}

cove_status cove_sandbox_open_beneath(int root_fd, const char *rel, int flags, unsigned how,
                                      int *fd_out, cove_error *err)
{
    if (!fd_out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: fd_out missing");
    *fd_out = -1;
    const int allowed = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY |
                        O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    if ((flags & ~allowed) != 0 || (flags & O_ACCMODE) == O_ACCMODE)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: open flags 0x%x refused", flags);
    if (root_fd < 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: no root directory");
    char path[COVE_MAX_PATH];
    cove_status st = cove_sandbox_path_normalize(rel, path, sizeof path, err);
    if (st != COVE_OK)
        return st;
    flags |= O_CLOEXEC | O_NOCTTY;
    if (!(how & COVE_SANDBOX_BENEATH_NO_OPENAT2) &&
        open_with_openat2(root_fd, path, flags, how, fd_out, &st, err))
        return st;
    return open_by_walk(root_fd, path, flags, fd_out, err);
}

cove_status cove_sandbox_open_beneath_path(const char *root, const char *rel, int flags,
                                           unsigned how, int *fd_out, cove_error *err)
{
    if (fd_out)
        *fd_out = -1;
    if (!root)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: no root directory");
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return map_errno(errno, root, err);
    cove_status st = cove_sandbox_open_beneath(rfd, rel, flags, how, fd_out, err);
    close(rfd);
    return st;
}

cove_status cove_sandbox_read_bounded(int fd, size_t max, struct cove_buf *out, cove_error *err)
{
    if (fd < 0 || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: read needs an fd and a buffer");
    char chunk[65536];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cove_error_set(err, COVE_ERR_IO, "sandbox: read failed: %s", strerror(errno));
        if (n == 0)
            return COVE_OK;
        size_t take = (size_t)n <= max - got ? (size_t)n : max - got;
        cove_status st = cove_buf_append(out, chunk, take);
        if (st != COVE_OK)
            return cove_error_set(err, st, "sandbox: read buffer full after %zu bytes", got);
        got += take;
        if (take < (size_t)n)
            return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: input larger than %zu bytes", max);
    }
}

cove_status cove_sandbox_read_file_beneath(int root_fd, const char *rel, unsigned how, size_t max,
                                           struct cove_buf *out, cove_error *err)
{
    int fd = -1;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    cove_status st = cove_sandbox_open_beneath(root_fd, rel, O_RDONLY | O_NONBLOCK, how, &fd, err);
    if (st != COVE_OK)
        return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        st = cove_error_set(err, COVE_ERR_IO, "sandbox: cannot stat %s", rel);
    else if (!S_ISREG(sb.st_mode))
        st = cove_error_set(err, COVE_ERR_PERMISSION, "sandbox: %s is not a regular file", rel);
    else if ((uint64_t)sb.st_size > max)
        st = cove_error_set(err, COVE_ERR_LIMIT, "sandbox: %s is larger than %zu bytes", rel, max);
    else
        st = cove_sandbox_read_bounded(fd, max, out, err);
    close(fd);
    return st;
}
