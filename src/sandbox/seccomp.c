/*
 * sandbox/seccomp.c - the seccomp allow-list, built with libseccomp in the
 * parent and exported as a BPF program the child loads with one system call.
 *
 * What is left out on purpose: every socket call (socket, connect, bind,
 * socketpair, sendto...), process creation (fork, vfork, clone, clone3),
 * signals to other processes (kill, tgkill), ptrace, mount, namespaces,
 * keyrings, bpf, perf, io_uring, module loading, chroot, setuid and friends.
 * ioctl is allowed only for TCGETS (isatty) and FIONREAD. Without writable
 * dirs in the policy, files can only be opened for reading (checked on the
 * open flags), which holds even where Landlock is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sandbox/sandbox_int.h"

/* Enough for reading files, listing directories, allocating memory and writing results. */
static const char *const k_base_calls[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
    "lseek", "close", "fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs",
    "getdents64", "getdents", "fcntl", "dup", "dup2", "dup3",
    "readlink", "readlinkat", "access", "faccessat", "faccessat2", "fadvise64",
    "mmap", "munmap", "mremap", "mprotect", "brk", "madvise",
    "futex", "getrandom", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "nanosleep", "clock_nanosleep", "sched_yield", "restart_syscall",
    "exit", "exit_group", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack",
    "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "uname",
    "poll", "ppoll", "pipe2",
};

/* What a dynamically linked program needs on top: loading, start-up, its own fds. */
static const char *const k_exec_calls[] = {
    "execve", "execveat", "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
    "prlimit64", "getrlimit", "getcwd", "getppid", "getpgrp", "sysinfo",
    "sched_getaffinity", "umask", "select", "pselect6",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "membarrier",
};

/* Changing the file system: only when the policy has writable dirs (Landlock confines them). */
static const char *const k_write_calls[] = {
    "open", "openat", "openat2", "creat", "ftruncate", "unlink", "unlinkat", "mkdir", "mkdirat",
    "rmdir", "rename", "renameat", "renameat2", "fsync", "fdatasync",
};

static cove_status add_list(scmp_filter_ctx ctx, const char *const *names, size_t n,
                            cove_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a system call on this architecture */
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (rc < 0 && rc != -EEXIST)
            return cove_error_set(err, COVE_ERR_INTERNAL, "seccomp: cannot allow %s (%d)",
                                  names[i], rc);
    }
    return COVE_OK;
}

/*
 * Read-only opening: open/openat only without write, create, truncate or
 * append flags; openat2 (whose flags seccomp cannot see) answers ENOSYS so
 * cove_sandbox_open_beneath falls back to its openat walk.
 */
static cove_status add_read_only_open(scmp_filter_ctx ctx, cove_error *err)
{
    const scmp_datum_t wr = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
    const struct scmp_arg_cmp at_flags = {.arg = 2, .op = SCMP_CMP_MASKED_EQ, .datum_a = wr, .datum_b = 0};
    const struct scmp_arg_cmp open_flags = {.arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = wr, .datum_b = 0};
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, at_flags);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1, open_flags);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0);
    if (rc < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "seccomp: cannot add open rules (%d)", rc);
    return COVE_OK;
}

static cove_status add_ioctls(scmp_filter_ctx ctx, cove_error *err)
{
    const unsigned long cmds[] = {TCGETS, FIONREAD};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const struct scmp_arg_cmp cmd = {.arg = 1, .op = SCMP_CMP_EQ,
                                         .datum_a = (scmp_datum_t)cmds[i], .datum_b = 0};
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, cmd);
        if (rc < 0)
            return cove_error_set(err, COVE_ERR_INTERNAL, "seccomp: cannot allow ioctl (%d)", rc);
    }
    return COVE_OK;
}

/* Export ctx's program into prog->filter (cove_malloc'd) through a memfd. */
static cove_status export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog, cove_error *err)
{
    int fd = memfd_create("cove-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "seccomp: memfd_create: %s", strerror(errno));
    cove_status st = COVE_OK;
    struct stat sb;
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0 || fstat(fd, &sb) != 0 || sb.st_size <= 0 ||
        (size_t)sb.st_size % sizeof(struct sock_filter) != 0 || sb.st_size > (1 << 20)) {
        close(fd);
        return cove_error_set(err, COVE_ERR_INTERNAL, "seccomp: cannot export the program (%d)", rc);
    }
    struct sock_filter *f = cove_malloc((size_t)sb.st_size);
    if (!f) {
        close(fd);
        return cove_error_set(err, COVE_ERR_NOMEM, "seccomp: out of memory");
    }
    if (pread(fd, f, (size_t)sb.st_size, 0) != (ssize_t)sb.st_size) {
        st = cove_error_set(err, COVE_ERR_INTERNAL, "seccomp: cannot read the program back");
        cove_free(f);
        f = NULL;
    }
    close(fd);
    if (f) {
        prog->filter = f;
        prog->len = (unsigned short)((size_t)sb.st_size / sizeof(struct sock_filter));
    }
    return st;
}

cove_status cove_sandbox_int_seccomp_build(int exec_mode, int writable,
                                           enum cove_sandbox_seccomp_action action,
                                           struct sock_fprog *prog, cove_error *err)
{
    memset(prog, 0, sizeof *prog);
    uint32_t def = action == COVE_SANDBOX_SECCOMP_KILL ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx)
        return cove_error_set(err, COVE_ERR_NOMEM, "seccomp: cannot create a filter");
    /* no_new_privs is set by the child itself, before loading */
    cove_status st = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) == 0 ? COVE_OK
        : cove_error_set(err, COVE_ERR_INTERNAL, "seccomp: cannot set attributes");
    if (st == COVE_OK)
        st = add_list(ctx, k_base_calls, sizeof k_base_calls / sizeof k_base_calls[0], err);
    if (st == COVE_OK && exec_mode)
        st = add_list(ctx, k_exec_calls, sizeof k_exec_calls / sizeof k_exec_calls[0], err);
    if (st == COVE_OK)
        st = writable ? add_list(ctx, k_write_calls, sizeof k_write_calls / sizeof k_write_calls[0], err)
                      : add_read_only_open(ctx, err);
    if (st == COVE_OK)
        st = add_ioctls(ctx, err);
    if (st == COVE_OK)
        st = export_prog(ctx, prog, err);
    seccomp_release(ctx);
    return st;
}
