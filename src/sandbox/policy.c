/*
 * sandbox/policy.c - sandbox policies, their checks, and the parent-side
 * preparation of a run: the Landlock ruleset, the seccomp program, rlimits.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sandbox/sandbox_int.h"

/* ASan reserves terabytes of shadow address space: RLIMIT_AS would break a sanitized child. */
#if defined(__SANITIZE_ADDRESS__)
#define SB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif
#endif
#ifndef SB_ASAN
#define SB_ASAN 0
#endif

struct cove_sandbox_policy cove_sandbox_policy_default(void)
{
    struct cove_sandbox_policy p;
    memset(&p, 0, sizeof p);
    p.cpu_seconds = COVE_SANDBOX_DEFAULT_CPU_S;
    p.address_space = COVE_SANDBOX_DEFAULT_AS;
    p.file_size = COVE_SANDBOX_DEFAULT_FSIZE;
    p.max_processes = 1;
    p.timeout_ms = COVE_SANDBOX_DEFAULT_TIMEOUT_MS;
    p.max_output = COVE_SANDBOX_DEFAULT_OUTPUT;
    p.seccomp_action = COVE_SANDBOX_SECCOMP_ERRNO;
    return p;
}

static cove_status add_path(const char **list, size_t *n, const char *path, const char *what,
                            cove_error *err)
{
    if (!path || path[0] != '/')
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: %s path must be absolute: %s",
                              what, path ? path : "(null)");
    if (strlen(path) >= COVE_MAX_PATH)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: %s path too long", what);
    if (*n >= COVE_SANDBOX_MAX_PATHS)
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: more than %d %s paths",
                              COVE_SANDBOX_MAX_PATHS, what);
    list[(*n)++] = path;
    return COVE_OK;
}

cove_status cove_sandbox_policy_add_read(struct cove_sandbox_policy *p, const char *path,
                                         cove_error *err)
{
    return add_path(p->read_roots, &p->n_read_roots, path, "read", err);
}

cove_status cove_sandbox_policy_add_write(struct cove_sandbox_policy *p, const char *path,
                                          cove_error *err)
{
    return add_path(p->write_dirs, &p->n_write_dirs, path, "write", err);
}

cove_status cove_sandbox_policy_add_exec(struct cove_sandbox_policy *p, const char *path,
                                         cove_error *err)
{
    return add_path(p->exec_paths, &p->n_exec_paths, path, "exec", err);
}

cove_status cove_sandbox_policy_add_system(struct cove_sandbox_policy *p, cove_error *err)
{
    static const char *const exec_dirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"};
    static const char *const read_paths[] = {"/etc/ld.so.cache", "/etc/fonts", "/etc/poppler"};
    struct stat sb;
    for (size_t i = 0; i < sizeof exec_dirs / sizeof exec_dirs[0]; i++) {
        /* /bin -> usr/bin style links: the rule lands on the target, which is listed anyway */
        if (lstat(exec_dirs[i], &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        cove_status st = cove_sandbox_policy_add_exec(p, exec_dirs[i], err);
        if (st != COVE_OK)
            return st;
    }
    for (size_t i = 0; i < sizeof read_paths / sizeof read_paths[0]; i++) {
        if (stat(read_paths[i], &sb) != 0)
            continue;
        cove_status st = cove_sandbox_policy_add_read(p, read_paths[i], err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

static cove_status check_fields(const struct cove_sandbox_policy *p, cove_error *err)
{
    if (p->n_read_roots > COVE_SANDBOX_MAX_PATHS || p->n_write_dirs > COVE_SANDBOX_MAX_PATHS ||
        p->n_exec_paths > COVE_SANDBOX_MAX_PATHS)
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: more than %d paths in a list",
                              COVE_SANDBOX_MAX_PATHS);
    if (p->timeout_ms > COVE_SANDBOX_MAX_TIMEOUT_MS)
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: timeout %u ms over the bound %u ms",
                              p->timeout_ms, COVE_SANDBOX_MAX_TIMEOUT_MS);
    if (p->max_output > COVE_SANDBOX_MAX_OUTPUT)
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: output bound %zu over %u bytes",
                              p->max_output, COVE_SANDBOX_MAX_OUTPUT);
    if (p->n_keep_fds > COVE_SANDBOX_MAX_KEEP_FDS)
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: more than %d kept descriptors",
                              COVE_SANDBOX_MAX_KEEP_FDS);
    for (size_t i = 0; i < p->n_keep_fds; i++)
        if (p->keep_fds[i] < 4 || fcntl(p->keep_fds[i], F_GETFD) < 0)
            return cove_error_set(err, COVE_ERR_INVALID_ARG,
                                  "sandbox: descriptor %d cannot be kept (closed, or one of 0..3)",
                                  p->keep_fds[i]);
    if (p->seccomp_action != COVE_SANDBOX_SECCOMP_ERRNO &&
        p->seccomp_action != COVE_SANDBOX_SECCOMP_KILL)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: unknown seccomp action");
    return COVE_OK;
}

cove_status cove_sandbox_policy_check(const struct cove_sandbox_policy *p,
                                      const struct cove_sandbox_caps *caps, cove_error *err)
{
    if (!p)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: no policy");
    struct cove_sandbox_caps local;
    if (!caps) {
        cove_sandbox_probe(&local);
        caps = &local;
    }
    cove_status st = check_fields(p, err);
    if (st != COVE_OK)
        return st;
    if (!caps->seccomp_filter)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED,
                              "sandbox: this kernel has no seccomp filtering; refusing to run tools");
    int landlock = caps->landlock_abi > 0 && !p->without_landlock;
    if (!landlock && !p->accept_weak)
        return cove_error_set(err, COVE_ERR_PERMISSION,
                              "sandbox: Landlock is not available, so file access cannot be "
                              "confined; refusing to run (accept the weaker mode explicitly: "
                              "--accept-weak-sandbox, or \"accept_weak_sandbox\": true in "
                              "the agent config)");
    return COVE_OK;
}

/* ---------------------------------------------------------------- Landlock */

static uint64_t ll_fs_handled(int abi)
{
    uint64_t all = (1ull << 13) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */
    if (abi >= 2)
        all |= SB_LL_FS_REFER;
    if (abi >= 3)
        all |= SB_LL_FS_TRUNCATE;
    if (abi >= 5)
        all |= SB_LL_FS_IOCTL_DEV;
    return all;
}

static cove_status ll_add(int ruleset, const char *path, uint64_t access, uint64_t handled,
                          cove_error *err)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_IO,
                              "sandbox: cannot open policy path %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return cove_error_set(err, COVE_ERR_IO, "sandbox: cannot stat %s", path);
    }
    if (!S_ISDIR(sb.st_mode)) /* rights that make sense on a file only */
        access &= SB_LL_FS_EXECUTE | SB_LL_FS_WRITE_FILE | SB_LL_FS_READ_FILE | SB_LL_FS_TRUNCATE |
                  SB_LL_FS_IOCTL_DEV;
    struct {
        uint64_t allowed_access;
        int32_t parent_fd;
    } __attribute__((packed)) rule = {access & handled, fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, SB_LL_RULE_PATH_BENEATH, &rule, 0u);
    int e = errno;
    close(fd);
    if (rc != 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "sandbox: Landlock rule for %s: %s", path,
                              strerror(e));
    return COVE_OK;
}

static cove_status ll_ruleset(const struct cove_sandbox_policy *p, int abi, int *out,
                              cove_error *err)
{
    struct sb_ll_ruleset_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.handled_access_fs = ll_fs_handled(abi);
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        attr.handled_access_net = SB_LL_NET_BIND_TCP | SB_LL_NET_CONNECT_TCP; /* no rules: none */
        size += sizeof attr.handled_access_net;
    }
    if (abi >= 6) {
        attr.scoped = SB_LL_SCOPE_ABSTRACT_UNIX | SB_LL_SCOPE_SIGNAL;
        size += sizeof attr.scoped;
    }
    long fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0u);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "sandbox: Landlock ruleset: %s",
                              strerror(errno));
    const uint64_t h = attr.handled_access_fs;
    const uint64_t rd = SB_LL_FS_READ_FILE | SB_LL_FS_READ_DIR;
    cove_status st = COVE_OK;
    for (size_t i = 0; st == COVE_OK && i < p->n_read_roots; i++)
        st = ll_add((int)fd, p->read_roots[i], rd, h, err);
    for (size_t i = 0; st == COVE_OK && i < p->n_exec_paths; i++)
        st = ll_add((int)fd, p->exec_paths[i], rd | SB_LL_FS_EXECUTE, h, err);
    for (size_t i = 0; st == COVE_OK && i < p->n_write_dirs; i++)
        st = ll_add((int)fd, p->write_dirs[i], h & ~SB_LL_FS_EXECUTE, h, err);
    if (st != COVE_OK) {
        close((int)fd);
        return st;
    }
    *out = (int)fd;
    return COVE_OK;
}

/* ------------------------------------------------------------- preparation */

static void add_rlim(struct sb_prepared *prep, int resource, uint64_t value)
{
    prep->rlim[prep->n_rlim].resource = resource;
    prep->rlim[prep->n_rlim].value = value;
    prep->n_rlim++;
}

/* Check that every path exists, so weak mode fails the same way as Landlock mode. */
static cove_status check_paths(const struct cove_sandbox_policy *p, cove_error *err)
{
    const char *const *lists[3] = {p->read_roots, p->write_dirs, p->exec_paths};
    size_t ns[3] = {p->n_read_roots, p->n_write_dirs, p->n_exec_paths};
    struct stat sb;
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < ns[l]; i++)
            if (!lists[l][i] || stat(lists[l][i], &sb) != 0)
                return cove_error_set(err, COVE_ERR_NOT_FOUND, "sandbox: policy path not found: %s",
                                      lists[l][i] ? lists[l][i] : "(null)");
    return COVE_OK;
}

cove_status cove_sandbox_int_prepare(const struct cove_sandbox_policy *p, int exec_mode,
                                     struct sb_prepared *prep, cove_error *err)
{
    memset(prep, 0, sizeof *prep);
    prep->ruleset_fd = -1;
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    cove_status st = cove_sandbox_policy_check(p, &caps, err);
    if (st == COVE_OK)
        st = check_paths(p, err);
    if (st != COVE_OK)
        return st;
    prep->weak = caps.landlock_abi == 0 || p->without_landlock;
    if (!prep->weak) {
        st = ll_ruleset(p, caps.landlock_abi, &prep->ruleset_fd, err);
        if (st != COVE_OK)
            return st;
    }
    st = cove_sandbox_int_seccomp_build(exec_mode, p->n_write_dirs > 0, p->seccomp_action,
                                        &prep->prog, err);
    if (st != COVE_OK) {
        cove_sandbox_int_prepared_release(prep);
        return st;
    }
    if (p->cpu_seconds)
        add_rlim(prep, RLIMIT_CPU, p->cpu_seconds);
    if (p->address_space && !(SB_ASAN && !exec_mode))
        add_rlim(prep, RLIMIT_AS, p->address_space);
    if (p->file_size)
        add_rlim(prep, RLIMIT_FSIZE, p->file_size);
    if (p->max_processes)
        add_rlim(prep, RLIMIT_NPROC, p->max_processes);
    for (size_t i = 0; i < p->n_keep_fds; i++) { /* insertion into a sorted, unique list */
        int fd = p->keep_fds[i], j = prep->n_keep;
        while (j > 0 && prep->keep[j - 1] > fd)
            j--;
        if (j > 0 && prep->keep[j - 1] == fd)
            continue;
        memmove(prep->keep + j + 1, prep->keep + j, (size_t)(prep->n_keep - j) * sizeof(int));
        prep->keep[j] = fd;
        prep->n_keep++;
    }
    add_rlim(prep, RLIMIT_CORE, 0);
    add_rlim(prep, RLIMIT_NOFILE, 256);
    return COVE_OK;
}

void cove_sandbox_int_prepared_release(struct sb_prepared *prep)
{
    if (prep->ruleset_fd >= 0)
        close(prep->ruleset_fd);
    prep->ruleset_fd = -1;
    cove_free(prep->prog.filter);
    prep->prog.filter = NULL;
    prep->prog.len = 0;
}
