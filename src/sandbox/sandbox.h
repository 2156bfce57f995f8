/*
 * sandbox/sandbox.h - run untrusted work (file tools, parsers, plugins) in a
 * confined child process. No root needed. Design and threat model:
 * docs/sandbox.md.
 *
 * Layers applied in the child, in this order, before any untrusted work runs:
 *   1. its own session and process group, an empty environment (execve with
 *      none; environ emptied for a fn), every inherited file descriptor
 *      closed (only the pipes of this call survive);
 *   2. rlimits: CPU seconds, address space, file size, processes, core 0;
 *   3. PR_SET_NO_NEW_PRIVS;
 *   4. Landlock: read-only access below the read roots, read+execute below
 *      the exec paths, write below the writable dirs, nothing else on the
 *      file system; TCP bind/connect denied (Landlock ABI >= 4); abstract
 *      unix sockets and signals outside the sandbox denied (ABI >= 6);
 *   5. a seccomp allow-list (libseccomp; built in the parent, loaded in the
 *      child): no socket, no fork/clone, no ptrace, no mount, ...; a syscall
 *      outside the list fails with EPERM or kills the child (policy). Without
 *      write dirs, files open read-only only (open flags checked) and openat2
 *      answers ENOSYS (open_beneath then walks), which holds without Landlock.
 * The parent reads the child's output with a size bound and a wall-clock
 * deadline, SIGKILLs the child's process group on overrun, reaps it and turns
 * the way it ended into a status and a message.
 *
 * Weak mode: without Landlock (old kernel, or disabled) the file system is not
 * confined. cove_sandbox_run_fn and cove_sandbox_exec then refuse with
 * COVE_ERR_PERMISSION unless the policy sets accept_weak; every other layer
 * still applies.
 *
 * Threads: the calls fork. The parent may be multi-threaded; everything that
 * can fail or allocate (policy checks, the Landlock ruleset, the seccomp
 * program) is prepared in the parent before fork, so the child only makes
 * system calls until it runs `fn` or execve. A `fn` runs in a fork of a
 * possibly multi-threaded process: it may use cove_malloc (glibc keeps malloc
 * usable after fork) but must not take locks other threads may hold (the log
 * sink, stdio streams shared with other threads). A fn child also holds a
 * copy of the parent's memory: run code that must not see it (parsers,
 * plugins) with cove_sandbox_exec.
 */
#ifndef COVE_SANDBOX_SANDBOX_H
#define COVE_SANDBOX_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"
#include "cove/status.h"

/* ------------------------------------------------------------------ probe */

/* What the running kernel offers. Plain value; fill it with cove_sandbox_probe. */
struct cove_sandbox_caps {
    int landlock_abi;   /* Landlock ABI version, 0 when Landlock is missing or disabled */
    int landlock_net;   /* 1 when Landlock can deny TCP bind/connect (ABI >= 4) */
    int landlock_scope; /* 1 when Landlock can scope signals, abstract sockets (ABI >= 6) */
    int seccomp_filter; /* 1 when seccomp filter mode (SECCOMP_SET_MODE_FILTER) is available */
    int openat2;        /* 1 when openat2(2) with RESOLVE_BENEATH is available */
};

/*
 * Ask the kernel what it offers (a few cheap system calls; no process is
 * started). Never fails: a feature that cannot be detected reads as missing.
 * out must not be NULL.
 */
void cove_sandbox_probe(struct cove_sandbox_caps *out);

/*
 * Write a one-line description for logs into buf (always NUL-terminated when
 * cap > 0), e.g. "landlock ABI 7 (net yes, scope yes), seccomp yes, openat2 yes"
 * or "landlock none (weak mode: file access not confined), seccomp yes, openat2 yes".
 * Returns buf.
 */
const char *cove_sandbox_caps_describe(const struct cove_sandbox_caps *caps, char *buf,
                                       size_t cap);

/* ----------------------------------------------------------------- policy */

/* How a syscall outside the seccomp allow-list is answered. */
enum cove_sandbox_seccomp_action {
    COVE_SANDBOX_SECCOMP_ERRNO = 0, /* the call fails with EPERM; the child goes on (default) */
    COVE_SANDBOX_SECCOMP_KILL = 1   /* the child is killed (SIGSYS): reported as a violation */
};

/*
 * What a sandboxed child may do. A plain value: start from
 * cove_sandbox_policy_default() and change fields, or add paths with the
 * cove_sandbox_policy_add_* calls. The path strings are BORROWED: they must
 * stay valid until the run/exec call that uses the policy returns. Paths
 * should be absolute; a path that does not exist makes run/exec fail with
 * COVE_ERR_NOT_FOUND (a policy never silently shrinks).
 *
 * A limit of 0 means "no limit of that kind" except max_output and
 * timeout_ms, which are always bounded (0 there selects the default).
 */
struct cove_sandbox_policy {
    const char *read_roots[COVE_SANDBOX_MAX_PATHS]; /* read files, list dirs below each */
    size_t n_read_roots;
    const char *write_dirs[COVE_SANDBOX_MAX_PATHS]; /* read + create/write/remove below each */
    size_t n_write_dirs;
    const char *exec_paths[COVE_SANDBOX_MAX_PATHS]; /* read + execute (a binary or a dir) */
    size_t n_exec_paths;

    uint64_t cpu_seconds;   /* RLIMIT_CPU (soft; the hard limit is one second more) */
    uint64_t address_space; /* RLIMIT_AS in bytes (not applied to run_fn children in
                               AddressSanitizer builds, whose shadow memory needs terabytes) */
    uint64_t file_size;     /* RLIMIT_FSIZE in bytes (writes to files past it fail) */
    uint64_t max_processes; /* RLIMIT_NPROC; note: not enforced for root, where the
                               seccomp list (no fork/clone) is what stops a fork bomb */
    uint32_t timeout_ms;    /* wall-clock deadline for the whole run (<= COVE_SANDBOX_MAX_TIMEOUT_MS) */
    size_t max_output;      /* bytes of stdout/result accepted (<= COVE_SANDBOX_MAX_OUTPUT) */

    /*
     * Descriptors kept open in the child at the same numbers (close-on-exec
     * cleared), e.g. O_PATH root directories for cove_sandbox_open_beneath.
     * Each must be open and >= 4 (0..3 are the sandbox's own). Landlock
     * still decides what may be opened through them: a root used this way
     * must also be one of read_roots. Borrowed; the parent keeps them.
     */
    int keep_fds[COVE_SANDBOX_MAX_KEEP_FDS];
    size_t n_keep_fds;

    enum cove_sandbox_seccomp_action seccomp_action;
    int accept_weak;        /* 1: run even when Landlock is missing (weak mode) */
    int without_landlock;   /* 1: act as on a kernel without Landlock (tests, comparisons) */
};

/*
 * The default policy: no paths at all, network off (always), CPU 10 s,
 * address space 1 GiB, file size 64 MiB, 1 process, timeout 30 s, output
 * 16 MiB (COVE_SANDBOX_DEFAULT_*), seccomp errno, weak mode refused.
 */
struct cove_sandbox_policy cove_sandbox_policy_default(void);

/*
 * Add a borrowed path to read_roots / write_dirs / exec_paths. Returns
 * COVE_ERR_INVALID_ARG for NULL, empty, relative or over-long paths,
 * COVE_ERR_LIMIT when the list is full (COVE_SANDBOX_MAX_PATHS).
 */
cove_status cove_sandbox_policy_add_read(struct cove_sandbox_policy *p, const char *path,
                                         cove_error *err);
cove_status cove_sandbox_policy_add_write(struct cove_sandbox_policy *p, const char *path,
                                          cove_error *err);
cove_status cove_sandbox_policy_add_exec(struct cove_sandbox_policy *p, const char *path,
                                         cove_error *err);

/*
 * Make the system's programs and shared libraries runnable: adds read+execute
 * on /usr, /bin, /sbin, /lib, /lib64, /lib32 (those that exist) and read on
 * /etc/ld.so.cache, /etc/fonts and /etc/poppler when present - what a
 * dynamically linked parser such as pdftotext needs. Nothing writable. Errors
 * as cove_sandbox_policy_add_exec.
 */
cove_status cove_sandbox_policy_add_system(struct cove_sandbox_policy *p, cove_error *err);

/*
 * Check a policy against the kernel's caps without running anything:
 * COVE_ERR_PERMISSION when Landlock is missing and accept_weak is 0 (the
 * message says so and names the setting), COVE_ERR_INVALID_ARG / LIMIT for
 * bad fields, COVE_ERR_UNSUPPORTED when seccomp filtering is missing.
 * caps NULL: probe now. run/exec perform this check themselves.
 */
cove_status cove_sandbox_policy_check(const struct cove_sandbox_policy *p,
                                      const struct cove_sandbox_caps *caps, cove_error *err);

/* ------------------------------------------------------------- running */

/* How a sandboxed child ended. */
enum cove_sandbox_end {
    COVE_SANDBOX_END_OK = 0,        /* fn returned COVE_OK / the program exited 0 */
    COVE_SANDBOX_END_FAILED,        /* fn returned an error status (its message is kept) */
    COVE_SANDBOX_END_EXIT,          /* nonzero exit status (exit_code) */
    COVE_SANDBOX_END_SIGNAL,        /* killed by a signal (signal) other than those below */
    COVE_SANDBOX_END_SECCOMP,       /* killed for a syscall outside the allow-list (SIGSYS) */
    COVE_SANDBOX_END_CPU,           /* CPU rlimit reached (SIGXCPU, or SIGKILL at the hard limit) */
    COVE_SANDBOX_END_FILE_SIZE,     /* file size rlimit reached (SIGXFSZ) */
    COVE_SANDBOX_END_TIMEOUT,       /* wall-clock deadline passed; the parent killed it */
    COVE_SANDBOX_END_OUTPUT_LIMIT,  /* it wrote more than max_output; the parent killed it */
    COVE_SANDBOX_END_NOT_STARTED    /* refused or failed before the child ran */
};

/* What happened in one run (optional out-param; for logs and the audit record). */
struct cove_sandbox_report {
    enum cove_sandbox_end end;
    int exit_code;       /* valid for END_OK / END_EXIT / END_FAILED */
    int signal;          /* the terminating signal, 0 if none */
    size_t output_bytes; /* bytes of output accepted into `out` */
    uint64_t wall_ms;    /* time from fork to reap */
    int weak;            /* 1 when it ran without Landlock (weak mode) */
};

/* Short static name of an end ("timeout", "seccomp violation", ...). Never NULL. */
const char *cove_sandbox_end_str(enum cove_sandbox_end end);

/*
 * The function run inside the sandbox. It writes its result to out_fd (a
 * pipe; use cove_sandbox_write_all) and returns COVE_OK, or an error status
 * with a message in err (err is never NULL here). The status and message are
 * carried back to the parent and returned by cove_sandbox_run_fn. arg is the
 * caller's pointer, seen in the child's copy of memory (changes the child
 * makes are not seen by the parent). Descriptors the parent had open are
 * closed in the child except the policy's keep_fds: pass the roots' O_PATH
 * descriptors there, or open the roots inside fn (readable there when they
 * are among the policy's read roots), and use cove_sandbox_open_beneath. When
 * the policy has no write dirs, openat2 answers ENOSYS in the child, so
 * open_beneath walks components there and never follows symlinks.
 */
typedef cove_status (*cove_sandbox_fn)(void *arg, int out_fd, cove_error *err);

/*
 * Run fn(arg, ...) in a sandboxed child under policy p and append what it
 * writes to `out` (caller-owned, initialised; bounded by p->max_output and by
 * out->max). rep may be NULL.
 *
 * Returns COVE_OK when fn returned COVE_OK and the child exited cleanly;
 * otherwise (out then holds what arrived before the failure):
 *   the status and message fn returned (END_FAILED);
 *   COVE_ERR_PERMISSION: weak mode refused (END_NOT_STARTED) or seccomp violation;
 *   COVE_ERR_TIMEOUT: the wall-clock deadline passed;
 *   COVE_ERR_LIMIT: output over the bound, CPU or file-size rlimit;
 *   COVE_ERR_IO: killed by another signal ("killed by signal 11 (SIGSEGV)")
 *                or exited without reporting a status (e.g. out of memory);
 *   COVE_ERR_NOT_FOUND: a policy path does not exist;
 *   COVE_ERR_UNSUPPORTED: no seccomp; COVE_ERR_NOMEM; COVE_ERR_INTERNAL (fork, pipe).
 * The parent never waits longer than the timeout plus a short reaping grace.
 */
cove_status cove_sandbox_run_fn(const struct cove_sandbox_policy *p, cove_sandbox_fn fn, void *arg,
                                struct cove_buf *out, struct cove_sandbox_report *rep,
                                cove_error *err);

/*
 * Run an external program under policy p: execve(argv[0], argv, {}) with an
 * empty environment. argv is NULL-terminated, argv[0] an absolute path, at
 * most COVE_SANDBOX_MAX_ARGS entries; all borrowed. The program (and the
 * shared libraries it loads) must be readable+executable under the policy's
 * exec paths (see cove_sandbox_policy_add_system). stdin_data/stdin_len
 * (up to COVE_SANDBOX_MAX_STDIN bytes; NULL/0 for empty) become its standard
 * input; its standard output is appended to `out` as for run_fn; its standard
 * error is kept (first COVE_SANDBOX_MAX_STDERR bytes) and quoted in the
 * message when it fails. rep may be NULL.
 *
 * Returns COVE_OK on exit status 0; COVE_ERR_IO "exited with status N: ..."
 * on a nonzero exit (also when execve itself fails: status 127); other errors
 * as cove_sandbox_run_fn.
 */
cove_status cove_sandbox_exec(const struct cove_sandbox_policy *p, const char *const argv[],
                              const void *stdin_data, size_t stdin_len, struct cove_buf *out,
                              struct cove_sandbox_report *rep, cove_error *err);

/*
 * Write all n bytes to fd, retrying on EINTR and short writes. For use inside
 * a cove_sandbox_fn. Returns COVE_ERR_IO when the write fails (EPIPE: the
 * parent stopped reading, e.g. the output bound was reached).
 */
cove_status cove_sandbox_write_all(int fd, const void *data, size_t n, cove_error *err);

/* --------------------------------------------------------- beneath-open */

/* Flags for cove_sandbox_open_beneath. */
enum {
    /*
     * Follow symlinks whose targets stay below the root (openat2
     * RESOLVE_BENEATH refuses the others). Without this flag any symlink in
     * the path is refused (RESOLVE_NO_SYMLINKS), which is the default and the
     * only mode of the fallback walk: with the fallback this flag is ignored
     * and symlinks stay refused. Magic links (/proc/PID/fd/N, /proc/self/root)
     * are always refused (RESOLVE_NO_MAGICLINKS).
     */
    COVE_SANDBOX_BENEATH_FOLLOW = 1u << 0,
    /* Use the component-by-component walk even when openat2 exists (tests). */
    COVE_SANDBOX_BENEATH_NO_OPENAT2 = 1u << 1
};

/*
 * Check and normalise a path meant to stay below a root, without touching the
 * file system: refuses (COVE_ERR_PERMISSION) absolute paths and any ".."
 * component, refuses (COVE_ERR_INVALID_ARG) empty paths, paths over
 * COVE_MAX_PATH - 1 bytes and control characters (bytes < 0x20 and 0x7f); drops "." components,
 * repeated and trailing slashes. "." or "./" normalise to ".". out (cap bytes,
 * may equal rel's length + 1) receives the result; COVE_ERR_LIMIT when it
 * does not fit. Pure; safe to call anywhere (the fuzzer drives it).
 */
cove_status cove_sandbox_path_normalize(const char *rel, char *out, size_t cap, cove_error *err);

/*
 * Open `rel` below the directory root_fd, never escaping it: the path is
 * normalised as above, then opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS unless FOLLOW is given), or,
 * where openat2 is missing, walked one component at a time with
 * O_NOFOLLOW | O_DIRECTORY (symlinks refused). `flags` are open(2) flags:
 * O_RDONLY/O_WRONLY/O_RDWR, O_CREAT (mode 0600), O_EXCL, O_TRUNC, O_APPEND,
 * O_DIRECTORY, O_NONBLOCK, O_NOFOLLOW; others are refused (INVALID_ARG).
 * O_CLOEXEC and O_NOCTTY are always added. rel "." opens the root itself.
 *
 * On success *fd_out owns a new descriptor (caller closes it). Errors:
 * COVE_ERR_PERMISSION for escapes (absolute, "..", symlinks out or when
 * refused, magic links, EXDEV/ELOOP), COVE_ERR_NOT_FOUND, COVE_ERR_IO.
 */
cove_status cove_sandbox_open_beneath(int root_fd, const char *rel, int flags, unsigned how,
                                      int *fd_out, cove_error *err);

/* As cove_sandbox_open_beneath, with the root given as a directory path (opened O_PATH). */
cove_status cove_sandbox_open_beneath_path(const char *root, const char *rel, int flags,
                                           unsigned how, int *fd_out, cove_error *err);

/*
 * Read from fd until end of file, appending to out, but never more than max
 * bytes: COVE_ERR_LIMIT ("larger than N bytes") when more is available (a
 * device such as /dev/zero, a huge file). out keeps the first max bytes.
 */
cove_status cove_sandbox_read_bounded(int fd, size_t max, struct cove_buf *out, cove_error *err);

/*
 * Open a regular file below root_fd (flags as open_beneath with O_RDONLY) and
 * read it whole, bounded by max: COVE_ERR_PERMISSION when it is not a regular
 * file (device, FIFO, socket, directory), COVE_ERR_LIMIT when larger than max.
 */
cove_status cove_sandbox_read_file_beneath(int root_fd, const char *rel, unsigned how, size_t max,
                                           struct cove_buf *out, cove_error *err);

#endif /* COVE_SANDBOX_SANDBOX_H */
