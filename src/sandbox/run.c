/*
 * sandbox/run.c - fork a confined child, feed it, read it with a bound and a
 * deadline, reap it, and say how it ended.
 *
 * Child file descriptors: 0 stdin (a memfd or /dev/null), 1 the output pipe,
 * 2 the stderr pipe, 3 the status pipe; every other descriptor is closed. The
 * status pipe carries one fixed-size record (struct sb_record, smaller than
 * PIPE_BUF, so it arrives whole): fn's status and message, or why the set-up
 * or execve failed. In exec mode it is close-on-exec, so a successful execve
 * leaves it silent.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

enum { SB_REC_RESULT = 1, SB_REC_SETUP = 2 };
enum { SB_EXIT_SETUP = 125, SB_EXIT_EXEC = 127 };

struct sb_record {
    int32_t kind;   /* SB_REC_* */
    int32_t status; /* cove_status */
    char msg[COVE_ERROR_MSG_MAX];
};

/* What the child runs after its set-up. */
struct sb_job {
    int exec_mode;
    cove_sandbox_fn fn;
    void *arg;
    const char *const *argv;
};

/* Parent-side state of one run. */
struct sb_io {
    int fd[3];        /* out, err, status read ends; -1 once closed */
    struct cove_buf *out;
    size_t room;      /* output bytes still accepted */
    size_t got;       /* output bytes accepted */
    int overflow;
    int nomem;        /* the caller's buffer could not grow */
    char errtxt[COVE_SANDBOX_MAX_STDERR];
    size_t errlen;
    struct sb_record rec;
    size_t reclen;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------------ child */

static void child_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static _Noreturn void child_fail(const char *what, int e, int code)
{
    struct sb_record rec;
    memset(&rec, 0, sizeof rec);
    rec.kind = SB_REC_SETUP;
    rec.status = code == SB_EXIT_EXEC ? COVE_ERR_IO : COVE_ERR_INTERNAL;
    snprintf(rec.msg, sizeof rec.msg, "%s failed (errno %d)", what, e);
    child_write_all(3, &rec, sizeof rec);
    _exit(code);
}

static void child_close_span(unsigned int first, unsigned int last)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, first, last, 0u) == 0)
        return;
#endif
    for (unsigned int fd = first; fd <= last && fd < 65536; fd++)
        close((int)fd);
}

/* Close every descriptor from 4 up except the kept ones, which survive an execve too. */
static void child_close_fds(const struct sb_prepared *prep)
{
    unsigned int lo = 4;
    for (int i = 0; i < prep->n_keep; i++) {
        unsigned int k = (unsigned int)prep->keep[i];
        if (k > lo)
            child_close_span(lo, k - 1);
        if (fcntl((int)k, F_SETFD, 0) != 0)
            child_fail("keeping a descriptor", errno, SB_EXIT_SETUP);
        lo = k + 1;
    }
    child_close_span(lo, ~0u);
}

/* Move the four pipe ends to 0..3 (through high numbers, so none is clobbered). */
static void child_fds(const int src[4], int *ruleset)
{
    int hi[4];
    for (int i = 0; i < 4; i++)
        if ((hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 64)) < 0)
            _exit(SB_EXIT_SETUP);
    if (*ruleset >= 0 && (*ruleset = fcntl(*ruleset, F_DUPFD_CLOEXEC, 64)) < 0)
        _exit(SB_EXIT_SETUP);
    for (int i = 0; i < 4; i++)
        if (dup2(hi[i], i) < 0)
            _exit(SB_EXIT_SETUP);
}

static void child_rlimits(const struct sb_prepared *prep)
{
    for (int i = 0; i < prep->n_rlim; i++) {
        struct rlimit cur, rl;
        if (getrlimit(prep->rlim[i].resource, &cur) != 0)
            child_fail("getrlimit", errno, SB_EXIT_SETUP);
        rlim_t v = (rlim_t)prep->rlim[i].value;
        rl.rlim_cur = v;
        rl.rlim_max = prep->rlim[i].resource == RLIMIT_CPU ? v + 1 : v;
        if (cur.rlim_max != RLIM_INFINITY && rl.rlim_max > cur.rlim_max)
            rl.rlim_max = cur.rlim_max; /* never ask to raise a hard limit */
        if (rl.rlim_cur > rl.rlim_max)
            rl.rlim_cur = rl.rlim_max;
        if (setrlimit(prep->rlim[i].resource, &rl) != 0)
            child_fail("setrlimit", errno, SB_EXIT_SETUP);
    }
}

static _Noreturn void child_main(struct sb_prepared *prep, const int fds[4],
                                 const struct sb_job *job)
{
    static char *const empty_env[] = {NULL};
    int ruleset = prep->ruleset_fd;
    setsid(); /* own session and process group, no controlling terminal */
    child_fds(fds, &ruleset);
    if (job->exec_mode && fcntl(3, F_SETFD, FD_CLOEXEC) != 0)
        child_fail("fcntl", errno, SB_EXIT_SETUP);
    child_rlimits(prep);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        child_fail("no_new_privs", errno, SB_EXIT_SETUP);
    if (ruleset >= 0 && syscall(SYS_landlock_restrict_self, ruleset, 0u) != 0)
        child_fail("landlock_restrict_self", errno, SB_EXIT_SETUP);
    child_close_fds(prep);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0u, &prep->prog) != 0)
        child_fail("seccomp", errno, SB_EXIT_SETUP);
    if (job->exec_mode) {
        execve(job->argv[0], (char *const *)job->argv, empty_env);
        child_fail("execve", errno, SB_EXIT_EXEC);
    }
    environ = NULL; /* getenv sees nothing (no lock taken: another thread may hold it) */
    struct sb_record rec;
    memset(&rec, 0, sizeof rec);
    cove_error e;
    cove_error_clear(&e);
    rec.kind = SB_REC_RESULT;
    rec.status = job->fn(job->arg, 1, &e);
    if (rec.status != COVE_OK)
        memcpy(rec.msg, e.msg, sizeof rec.msg);
    child_write_all(3, &rec, sizeof rec);
    _exit(0);
}

/* ----------------------------------------------------------------- parent */

static void io_read(struct sb_io *io, int which)
{
    char chunk[65536];
    ssize_t n = read(io->fd[which], chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(io->fd[which]);
        io->fd[which] = -1;
        return;
    }
    size_t len = (size_t)n;
    if (which == 0) {
        size_t take = len <= io->room ? len : io->room;
        if (take > 0 && cove_buf_append(io->out, chunk, take) != COVE_OK) {
            io->nomem = 1;
            return;
        }
        io->room -= take;
        io->got += take;
        if (take < len)
            io->overflow = 1;
    } else if (which == 1) {
        size_t take = sizeof io->errtxt - 1 - io->errlen;
        take = len < take ? len : take;
        memcpy(io->errtxt + io->errlen, chunk, take);
        io->errlen += take;
    } else {
        size_t take = sizeof io->rec - io->reclen;
        take = len < take ? len : take;
        memcpy((char *)&io->rec + io->reclen, chunk, take);
        io->reclen += take;
    }
}

static void kill_child(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

enum sb_loop { SB_LOOP_REAPED, SB_LOOP_KILL, SB_LOOP_LOST };

/* A descriptor that polls readable when the child exits (Linux 5.3+), or -1. */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, pid, 0u);
    return fd >= 0 ? (int)fd : -1;
#else
    return -1;
#endif
}

/* Wait up to `wait` ms for output on the open pipes or the child's exit; read what came. */
static int io_poll(struct sb_io *io, int pidfd, uint64_t wait)
{
    struct pollfd pf[4];
    int map[4], n = 0;
    for (int i = 0; i < 3; i++)
        if (io->fd[i] >= 0) {
            pf[n].fd = io->fd[i];
            pf[n].events = POLLIN;
            pf[n].revents = 0;
            map[n++] = i;
        }
    if (pidfd >= 0) {
        pf[n].fd = pidfd;
        pf[n].events = POLLIN;
        pf[n].revents = 0;
        map[n++] = -1;
    }
    int rc = poll(pf, (nfds_t)n, (int)wait);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; rc > 0 && i < n; i++)
        if (pf[i].revents && map[i] >= 0)
            io_read(io, map[i]);
    return 0;
}

/*
 * Read the child's pipes until it has exited and closed them, the deadline
 * passes or the output bound is crossed. Returns SB_LOOP_REAPED when the
 * child was reaped here (*wstatus, *ru filled), SB_LOOP_KILL when it must be
 * killed (timeout, overflow, poll failure), SB_LOOP_LOST when someone else
 * reaped it (SIGCHLD ignored by the application).
 */
static enum sb_loop io_loop(struct sb_io *io, pid_t pid, uint64_t deadline, int *wstatus,
                            struct rusage *ru, int *timed_out)
{
    int reaped = 0;
    int pidfd = open_pidfd(pid);
    enum sb_loop how;
    for (;;) {
        if (!reaped) {
            pid_t r = wait4(pid, wstatus, WNOHANG, ru);
            if (r == pid)
                reaped = 1;
            else if (r < 0 && errno == ECHILD) {
                how = SB_LOOP_LOST;
                break;
            }
        }
        int open_fds = (io->fd[0] >= 0) + (io->fd[1] >= 0) + (io->fd[2] >= 0);
        uint64_t now = now_ms();
        if ((reaped && open_fds == 0) || now >= deadline) {
            *timed_out = !(reaped && open_fds == 0);
            how = reaped ? SB_LOOP_REAPED : SB_LOOP_KILL;
            break;
        }
        uint64_t wait = deadline - now;
        if (open_fds == 0 && (pidfd < 0 || reaped) && wait > 2)
            wait = 2; /* pipes closed, no pidfd: poll the child's exit */
        if (io_poll(io, reaped ? -1 : pidfd, wait) != 0 || io->overflow || io->nomem) {
            how = reaped ? SB_LOOP_REAPED : SB_LOOP_KILL;
            break;
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return how;
}

/* The first line-ish of the child's stderr, control characters blanked, for a message. */
static const char *stderr_tail(struct sb_io *io)
{
    io->errtxt[io->errlen] = '\0';
    for (size_t i = 0; i < io->errlen; i++)
        if ((unsigned char)io->errtxt[i] < 0x20 || io->errtxt[i] == 0x7f)
            io->errtxt[i] = ' ';
    return io->errtxt;
}

static void clean_msg(char *msg, size_t cap)
{
    msg[cap - 1] = '\0';
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

static const char *sig_name(int sig)
{
    const char *s = sigabbrev_np(sig);
    return s ? s : "?";
}

static cove_status classify_signal(int sig, const struct rusage *ru,
                                   const struct cove_sandbox_policy *p,
                                   struct cove_sandbox_report *rep, cove_error *err)
{
    uint64_t cpu = (uint64_t)ru->ru_utime.tv_sec + (uint64_t)ru->ru_stime.tv_sec;
    rep->signal = sig;
    if (sig == SIGSYS) {
        rep->end = COVE_SANDBOX_END_SECCOMP;
        return cove_error_set(err, COVE_ERR_PERMISSION,
                              "sandbox: child killed for a forbidden system call (seccomp)");
    }
    if (sig == SIGXCPU || (sig == SIGKILL && p->cpu_seconds && cpu >= p->cpu_seconds)) {
        rep->end = COVE_SANDBOX_END_CPU;
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: CPU limit of %llu s reached",
                              (unsigned long long)p->cpu_seconds);
    }
    if (sig == SIGXFSZ) {
        rep->end = COVE_SANDBOX_END_FILE_SIZE;
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: file size limit of %llu bytes reached",
                              (unsigned long long)p->file_size);
    }
    rep->end = COVE_SANDBOX_END_SIGNAL;
    return cove_error_set(err, COVE_ERR_IO, "sandbox: child killed by signal %d (SIG%s)", sig,
                          sig_name(sig));
}

static cove_status classify_exit(int code, struct sb_io *io, const struct sb_job *job,
                                 struct cove_sandbox_report *rep, cove_error *err)
{
    int has_rec = io->reclen == sizeof io->rec;
    rep->exit_code = code;
    if (has_rec)
        clean_msg(io->rec.msg, sizeof io->rec.msg);
    if (has_rec && io->rec.kind == SB_REC_SETUP) {
        rep->end = code == SB_EXIT_EXEC ? COVE_SANDBOX_END_EXIT : COVE_SANDBOX_END_NOT_STARTED;
        return cove_error_set(err, (cove_status)io->rec.status, "sandbox: %s%s%s", io->rec.msg,
                              job->exec_mode ? " for " : "", job->exec_mode ? job->argv[0] : "");
    }
    if (has_rec && io->rec.kind == SB_REC_RESULT && code == 0) {
        if (io->rec.status == COVE_OK) {
            rep->end = COVE_SANDBOX_END_OK;
            return COVE_OK;
        }
        rep->end = COVE_SANDBOX_END_FAILED;
        cove_status s = (cove_status)io->rec.status;
        if (s < COVE_ERR_INTERNAL || s > COVE_OK)
            s = COVE_ERR_INTERNAL;
        return cove_error_set(err, s, "%s", io->rec.msg[0] ? io->rec.msg : cove_status_str(s));
    }
    if (job->exec_mode && code == 0) {
        rep->end = COVE_SANDBOX_END_OK;
        return COVE_OK;
    }
    rep->end = COVE_SANDBOX_END_EXIT;
    return cove_error_set(err, COVE_ERR_IO, "sandbox: %s exited with status %d%s",
                          job->exec_mode ? job->argv[0] : "child", code,
                          job->exec_mode ? "" : " without a result");
}

/* Append the child's stderr to a failure message, as room allows. */
static void add_stderr(struct sb_io *io, cove_error *err)
{
    if (!err || io->errlen == 0)
        return;
    size_t used = strlen(err->msg);
    if (used + 16 >= sizeof err->msg)
        return;
    int room = (int)(sizeof err->msg - used - 12);
    snprintf(err->msg + used, sizeof err->msg - used, " (stderr: %.*s", room, stderr_tail(io));
    size_t now = strlen(err->msg);
    if (now + 1 < sizeof err->msg) {
        err->msg[now] = ')';
        err->msg[now + 1] = '\0';
    }
}

/* Standard input for the child: a memfd holding the bytes, or /dev/null. */
static cove_status make_stdin(const void *data, size_t len, int *fd_out, cove_error *err)
{
    if (len == 0) {
        *fd_out = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return *fd_out >= 0 ? COVE_OK
                            : cove_error_set(err, COVE_ERR_INTERNAL, "sandbox: cannot open /dev/null");
    }
    int fd = memfd_create("cove-stdin", MFD_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "sandbox: memfd_create: %s", strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return cove_error_set(err, COVE_ERR_IO, "sandbox: cannot buffer stdin");
        }
        p += w;
        left -= (size_t)w;
    }
    lseek(fd, 0, SEEK_SET);
    *fd_out = fd;
    return COVE_OK;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* pipes[0..2]: out, err, status as {read, write} pairs. */
static cove_status make_pipes(int pipes[3][2], cove_error *err)
{
    for (int i = 0; i < 3; i++)
        pipes[i][0] = pipes[i][1] = -1;
    for (int i = 0; i < 3; i++) {
        if (pipe2(pipes[i], O_CLOEXEC) != 0) {
            for (int j = 0; j < i; j++)
                close_all(pipes[j], 2);
            return cove_error_set(err, COVE_ERR_INTERNAL, "sandbox: pipe: %s", strerror(errno));
        }
        fcntl(pipes[i][0], F_SETFL, O_NONBLOCK);
    }
    return COVE_OK;
}

static cove_status finish(pid_t pid, struct sb_io *io, enum sb_loop how, int wstatus,
                          const struct rusage *ru, int timed_out,
                          const struct cove_sandbox_policy *p, const struct sb_job *job,
                          struct cove_sandbox_report *rep, cove_error *err)
{
    cove_status st;
    if (how == SB_LOOP_KILL) {
        kill_child(pid);
        struct rusage ignore;
        while (wait4(pid, &wstatus, 0, &ignore) < 0 && errno == EINTR) {
        }
    }
    if (io->nomem) {
        rep->end = COVE_SANDBOX_END_OUTPUT_LIMIT;
        return cove_error_set(err, COVE_ERR_NOMEM, "sandbox: no memory for the output after %zu bytes",
                              io->got);
    }
    if (io->overflow) {
        rep->end = COVE_SANDBOX_END_OUTPUT_LIMIT;
        return cove_error_set(err, COVE_ERR_LIMIT,
                              "sandbox: output larger than %zu bytes; child stopped", io->got);
    }
    if (timed_out) {
        rep->end = COVE_SANDBOX_END_TIMEOUT;
        return cove_error_set(err, COVE_ERR_TIMEOUT, "sandbox: no result within %u ms; child killed",
                              p->timeout_ms ? p->timeout_ms : COVE_SANDBOX_DEFAULT_TIMEOUT_MS);
    }
    if (how == SB_LOOP_LOST) {
        rep->end = COVE_SANDBOX_END_SIGNAL;
        return cove_error_set(err, COVE_ERR_INTERNAL,
                              "sandbox: the child was reaped elsewhere (SIGCHLD ignored?)");
    }
    if (WIFSIGNALED(wstatus))
        st = classify_signal(WTERMSIG(wstatus), ru, p, rep, err);
    else
        st = classify_exit(WEXITSTATUS(wstatus), io, job, rep, err);
    if (st != COVE_OK && rep->end != COVE_SANDBOX_END_FAILED)
        add_stderr(io, err);
    return st;
}

static cove_status run_child(const struct cove_sandbox_policy *p, struct sb_prepared *prep,
                             const struct sb_job *job, int stdin_fd, struct cove_buf *out,
                             struct cove_sandbox_report *rep, cove_error *err)
{
    int pipes[3][2];
    cove_status st = make_pipes(pipes, err);
    if (st != COVE_OK)
        return st;
    uint32_t timeout = p->timeout_ms ? p->timeout_ms : COVE_SANDBOX_DEFAULT_TIMEOUT_MS;
    size_t bound = p->max_output ? p->max_output : COVE_SANDBOX_DEFAULT_OUTPUT;
    uint64_t start = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        for (int i = 0; i < 3; i++)
            close_all(pipes[i], 2);
        return cove_error_set(err, COVE_ERR_INTERNAL, "sandbox: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int fds[4] = {stdin_fd, pipes[0][1], pipes[1][1], pipes[2][1]};
        child_main(prep, fds, job);
    }
    for (int i = 0; i < 3; i++)
        close_all(&pipes[i][1], 1);
    static struct sb_io zero_io;
    struct sb_io io = zero_io;
    io.fd[0] = pipes[0][0], io.fd[1] = pipes[1][0], io.fd[2] = pipes[2][0];
    io.out = out;
    io.room = out->max - out->len < bound ? out->max - out->len : bound;
    int wstatus = 0, timed_out = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    enum sb_loop how = io_loop(&io, pid, start + timeout, &wstatus, &ru, &timed_out);
    close_all(io.fd, 3);
    st = finish(pid, &io, how, wstatus, &ru, timed_out, p, job, rep, err);
    rep->output_bytes = io.got;
    rep->wall_ms = now_ms() - start;
    return st;
}

static cove_status run_common(const struct cove_sandbox_policy *p, const struct sb_job *job,
                              const void *in, size_t in_len, struct cove_buf *out,
                              struct cove_sandbox_report *rep, cove_error *err)
{
    struct sb_prepared prep;
    cove_status st = cove_sandbox_int_prepare(p, job->exec_mode, &prep, err);
    if (st != COVE_OK)
        return st;
    rep->weak = prep.weak;
    int stdin_fd = -1;
    st = make_stdin(in, in_len, &stdin_fd, err);
    if (st == COVE_OK)
        st = run_child(p, &prep, job, stdin_fd, out, rep, err);
    if (stdin_fd >= 0)
        close(stdin_fd);
    cove_sandbox_int_prepared_release(&prep);
    return st;
}

static void report_init(struct cove_sandbox_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->end = COVE_SANDBOX_END_NOT_STARTED;
}

cove_status cove_sandbox_run_fn(const struct cove_sandbox_policy *p, cove_sandbox_fn fn, void *arg,
                                struct cove_buf *out, struct cove_sandbox_report *rep,
                                cove_error *err)
{
    struct cove_sandbox_report local;
    rep = rep ? rep : &local;
    report_init(rep);
    if (!p || !fn || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sandbox: run needs a policy, fn and out");
    struct sb_job job = {0, fn, arg, NULL};
    return run_common(p, &job, NULL, 0, out, rep, err);
}

cove_status cove_sandbox_exec(const struct cove_sandbox_policy *p, const char *const argv[],
                              const void *stdin_data, size_t stdin_len, struct cove_buf *out,
                              struct cove_sandbox_report *rep, cove_error *err)
{
    struct cove_sandbox_report local;
    rep = rep ? rep : &local;
    report_init(rep);
    if (!p || !argv || !argv[0] || argv[0][0] != '/' || !out || (stdin_len && !stdin_data))
        return cove_error_set(err, COVE_ERR_INVALID_ARG,
                              "sandbox: exec needs a policy, an absolute program path and out");
    size_t argc = 0;
    while (argv[argc])
        if (++argc > COVE_SANDBOX_MAX_ARGS)
            return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: more than %d arguments",
                                  COVE_SANDBOX_MAX_ARGS);
    if (stdin_len > COVE_SANDBOX_MAX_STDIN)
        return cove_error_set(err, COVE_ERR_LIMIT, "sandbox: stdin over %u bytes",
                              COVE_SANDBOX_MAX_STDIN);
    struct sb_job job = {1, NULL, NULL, argv};
    return run_common(p, &job, stdin_data, stdin_len, out, rep, err);
}

cove_status cove_sandbox_write_all(int fd, const void *data, size_t n, cove_error *err)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return cove_error_set(err, COVE_ERR_IO, "sandbox: write of the result failed: %s",
                                  w < 0 ? strerror(errno) : "no progress");
        p += w;
        n -= (size_t)w;
    }
    return COVE_OK;
}

const char *cove_sandbox_end_str(enum cove_sandbox_end end)
{
    switch (end) {
    case COVE_SANDBOX_END_OK: return "ok";
    case COVE_SANDBOX_END_FAILED: return "failed";
    case COVE_SANDBOX_END_EXIT: return "nonzero exit";
    case COVE_SANDBOX_END_SIGNAL: return "killed by signal";
    case COVE_SANDBOX_END_SECCOMP: return "seccomp violation";
    case COVE_SANDBOX_END_CPU: return "CPU limit";
    case COVE_SANDBOX_END_FILE_SIZE: return "file size limit";
    case COVE_SANDBOX_END_TIMEOUT: return "timeout";
    case COVE_SANDBOX_END_OUTPUT_LIMIT: return "output limit";
    case COVE_SANDBOX_END_NOT_STARTED: return "not started";
    }
    return "unknown";
}
