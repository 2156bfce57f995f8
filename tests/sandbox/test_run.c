/*
 * tests/sandbox/test_run.c - cove_sandbox_run_fn against hostile functions:
 * escapes from the roots, fork bombs, endless loops, memory hogs, huge
 * outputs, network access. Every case is bounded by the policy's timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sb_test.h"
#include "test.h"

/* Linked with the AddressSanitizer runtime (the library may be sanitized even when this file is not). */
void __asan_init(void) __attribute__((weak));

extern char **environ;

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A root with one file, and a secret outside it. */
static const char *g_root(void)
{
    static char root[COVE_MAX_PATH];
    if (!root[0]) {
        snprintf(root, sizeof root, "%s/run-root", test_tmpdir());
        mkdir(root, 0700);
        sb_write_file(root, "doc.txt", "hello from the root\n");
        mkdir(sb_path(test_tmpdir(), "run-outside"), 0700);
        sb_write_file(test_tmpdir(), "run-outside/id_rsa", "PRIVATE KEY\n");
    }
    return root;
}

static cove_status fn_hello(void *arg, int out_fd, cove_error *err)
{
    return cove_sandbox_write_all(out_fd, "hello", 5, err);
}

TEST(sandbox_probe_describe)
{
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    char line[256];
    cove_sandbox_caps_describe(&caps, line, sizeof line);
    printf("kernel: %s\n", line);
    CHECK(strstr(line, "landlock") != NULL && strstr(line, "seccomp") != NULL);
    CHECK(caps.seccomp_filter == 1); /* every kernel cove supports has it */
    CHECK_EQ_INT(caps.landlock_net, caps.landlock_abi >= 4);
    struct cove_sandbox_caps none = {0};
    cove_sandbox_caps_describe(&none, line, sizeof line);
    CHECK(strstr(line, "landlock none") != NULL);
    caps.landlock_abi = 4;
    cove_sandbox_caps_describe(&caps, line, sizeof line);
    CHECK(strncmp(line, "landlock ABI 4", 14) == 0);
}

TEST(sandbox_run_basic)
{
    struct cove_sandbox_policy p = sb_policy();
    struct cove_buf out;
    cove_buf_init(&out, 1024);
    struct cove_sandbox_report rep;
    cove_error err = {0};
    if (!sb_have_landlock("run_basic"))
        p.accept_weak = 1;
    cove_status st = cove_sandbox_run_fn(&p, fn_hello, NULL, &out, &rep, &err);
    CHECK_MSG(st == COVE_OK, "%s", err.msg);
    CHECK_STR_EQ(out.data, "hello");
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_OK);
    CHECK_EQ_INT(rep.output_bytes, 5);
    cove_buf_release(&out);
}

/* Reads the path in arg inside the sandbox and writes its bytes out. */
static cove_status fn_read_abs(void *arg, int out_fd, cove_error *err)
{
    int fd = open((const char *)arg, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_PERMISSION,
                              "open %s: errno %d", (const char *)arg, errno);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0)
        return cove_error_set(err, COVE_ERR_IO, "read: errno %d", errno);
    return cove_sandbox_write_all(out_fd, buf, (size_t)n, err);
}

static cove_status run_read(struct cove_sandbox_policy *p, const char *path, struct cove_buf *out,
                            cove_error *err)
{
    cove_buf_reset(out);
    return cove_sandbox_run_fn(p, fn_read_abs, (void *)path, out, NULL, err);
}

TEST(sandbox_run_roots_confine_reads)
{
    if (!sb_have_landlock("reads outside the roots (~/.ssh, /etc/shadow)"))
        return;
    const char *root = g_root();
    struct cove_sandbox_policy p = sb_policy();
    CHECK_OK(cove_sandbox_policy_add_read(&p, root, NULL));
    struct cove_buf out;
    cove_buf_init(&out, 1u << 16);
    cove_error err = {0};
    CHECK_OK(run_read(&p, sb_path(root, "doc.txt"), &out, &err));
    CHECK_STR_EQ(out.data, "hello from the root\n");
    const char *home = getenv("HOME") ? getenv("HOME") : "/root";
    char ssh[COVE_MAX_PATH];
    snprintf(ssh, sizeof ssh, "%s/.ssh/id_rsa", home);
    const char *outside[] = {"/etc/shadow", "/etc/passwd", ssh, sb_path(test_tmpdir(), "run-outside/id_rsa"),
                             "/proc/self/root/etc/passwd", "/proc/1/environ"};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        cove_error e2 = {0};
        cove_status st = run_read(&p, outside[i], &out, &e2);
        CHECK_MSG(st == COVE_ERR_PERMISSION || st == COVE_ERR_NOT_FOUND, "%s: %d %s", outside[i],
                  (int)st, e2.msg);
        CHECK_EQ_INT(out.len, 0);
    }
    /* the file outside exists: the refusal is Landlock's, not a missing file */
    cove_error e3 = {0};
    CHECK_EQ_INT(run_read(&p, sb_path(test_tmpdir(), "run-outside/id_rsa"), &out, &e3),
                 COVE_ERR_PERMISSION);
    CHECK(strstr(e3.msg, "errno 13") != NULL); /* EACCES from Landlock */
    cove_buf_release(&out);
}

/* The file tool's pattern: open the root inside the child, read beneath it. */
struct beneath_arg {
    const char *root, *rel;
};

static cove_status fn_read_beneath(void *arg, int out_fd, cove_error *err)
{
    const struct beneath_arg *a = arg;
    int rfd = open(a->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot open the root");
    struct cove_buf b;
    cove_buf_init(&b, 1u << 16);
    cove_status st = cove_sandbox_read_file_beneath(rfd, a->rel, 0, 1u << 16, &b, err);
    close(rfd);
    if (st == COVE_OK)
        st = cove_sandbox_write_all(out_fd, b.data ? b.data : "", b.len, err);
    cove_buf_release(&b);
    return st;
}

TEST(sandbox_run_beneath_inside_child)
{
    const char *root = g_root();
    symlink(sb_path(test_tmpdir(), "run-outside/id_rsa"), sb_path(root, "key"));
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1; /* the beneath checks hold either way */
    CHECK_OK(cove_sandbox_policy_add_read(&p, root, NULL));
    struct cove_buf out;
    cove_buf_init(&out, 1u << 16);
    static const struct {
        const char *rel;
        cove_status st;
    } cases[] = {
        {"doc.txt", COVE_OK}, {"../run-outside/id_rsa", COVE_ERR_PERMISSION},
        {"/etc/passwd", COVE_ERR_PERMISSION}, {"key", COVE_ERR_PERMISSION},
        {"nope", COVE_ERR_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct beneath_arg a = {root, cases[i].rel};
        cove_error err = {0};
        cove_buf_reset(&out);
        cove_status st = cove_sandbox_run_fn(&p, fn_read_beneath, &a, &out, NULL, &err);
        CHECK_MSG(st == cases[i].st, "%s: %d %s", cases[i].rel, (int)st, err.msg);
        if (st != COVE_OK)
            CHECK(err.msg[0] != '\0');
    }
    cove_buf_release(&out);
}

TEST(sandbox_run_weak_mode)
{
    const char *root = g_root();
    struct cove_sandbox_policy p = sb_policy();
    CHECK_OK(cove_sandbox_policy_add_read(&p, root, NULL));
    p.without_landlock = 1; /* as on a kernel without Landlock */
    struct cove_buf out;
    cove_buf_init(&out, 1024);
    struct cove_sandbox_report rep;
    cove_error err = {0};
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_hello, NULL, &out, &rep, &err), COVE_ERR_PERMISSION);
    CHECK(strstr(err.msg, "Landlock") != NULL);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_NOT_STARTED);
    CHECK_EQ_INT(out.len, 0);
    CHECK_EQ_INT(cove_sandbox_policy_check(&p, NULL, NULL), COVE_ERR_PERMISSION);
    struct cove_sandbox_caps none = {0};
    none.seccomp_filter = 1;
    struct cove_sandbox_policy q = sb_policy();
    CHECK_EQ_INT(cove_sandbox_policy_check(&q, &none, NULL), COVE_ERR_PERMISSION);
    q.accept_weak = 1;
    CHECK_OK(cove_sandbox_policy_check(&q, &none, NULL));
    /* accepted: it runs, says so, and seccomp still keeps files read-only */
    p.accept_weak = 1;
    CHECK_OK(cove_sandbox_run_fn(&p, fn_hello, NULL, &out, &rep, &err));
    CHECK_EQ_INT(rep.weak, 1);
    cove_buf_release(&out);
}

/* Tries to create a file at the path in arg. */
static cove_status fn_write_abs(void *arg, int out_fd, cove_error *err)
{
    int fd = open((const char *)arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_PERMISSION, "create: errno %d", errno);
    close(fd);
    return COVE_OK;
}

TEST(sandbox_run_read_only)
{
    const char *root = g_root();
    const char *target = sb_path(root, "planted.txt");
    unlink(target);
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    for (int weak = 0; weak < 2; weak++) { /* Landlock + seccomp, then seccomp alone */
        struct cove_sandbox_policy p = sb_policy();
        CHECK_OK(cove_sandbox_policy_add_read(&p, root, NULL));
        p.without_landlock = weak;
        p.accept_weak = weak || caps.landlock_abi == 0;
        cove_error err = {0};
        struct cove_buf out;
        cove_buf_init(&out, 64);
        cove_status st = cove_sandbox_run_fn(&p, fn_write_abs, (void *)target, &out, NULL, &err);
        cove_buf_release(&out);
        CHECK_MSG(st == COVE_ERR_PERMISSION, "weak %d: %d %s", weak, (int)st, err.msg);
        CHECK(access(target, F_OK) != 0);
    }
    /* a writable dir is writable, and only that one (with Landlock) */
    char wdir[COVE_MAX_PATH];
    snprintf(wdir, sizeof wdir, "%s/run-write", test_tmpdir());
    mkdir(wdir, 0700);
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    CHECK_OK(cove_sandbox_policy_add_write(&p, wdir, NULL));
    struct cove_buf out;
    cove_buf_init(&out, 64);
    CHECK_OK(cove_sandbox_run_fn(&p, fn_write_abs, (void *)sb_path(wdir, "ok.txt"), &out, NULL, NULL));
    CHECK(access(sb_path(wdir, "ok.txt"), F_OK) == 0);
    if (sb_have_landlock("writes outside the writable dir")) {
        CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_write_abs, (void *)target, &out, NULL, NULL),
                     COVE_ERR_PERMISSION);
        CHECK(access(target, F_OK) != 0);
    }
    cove_buf_release(&out);
}

static cove_status fn_env_fds(void *arg, int out_fd, cove_error *err)
{
    char line[128];
    int open_fds = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            open_fds++;
    int n_env = 0;
    for (char **e = environ; e && *e; e++)
        n_env++;
    int len = snprintf(line, sizeof line, "fds=%d env=%d", open_fds, n_env);
    return cove_sandbox_write_all(out_fd, line, (size_t)len, err);
}

TEST(sandbox_run_closes_fds)
{
    setenv("COVE_SANDBOX_TEST_KEY", "secret", 1);
    int leak = open("/etc/hostname", O_RDONLY); /* not close-on-exec: must not reach the child */
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    struct cove_buf out;
    cove_buf_init(&out, 256);
    cove_status st = cove_sandbox_run_fn(&p, fn_env_fds, NULL, &out, NULL, NULL);
    if (leak >= 0)
        close(leak);
    CHECK_OK(st);
    CHECK_STR_EQ(out.data, "fds=4 env=0"); /* 0..3 only, no environment */
    cove_buf_release(&out);
}

static cove_status fn_flood(void *arg, int out_fd, cove_error *err)
{
    char block[65536];
    memset(block, 'x', sizeof block);
    for (;;) /* the parent stops reading at the bound and kills us */
        if (cove_sandbox_write_all(out_fd, block, sizeof block, err) != COVE_OK)
            return COVE_ERR_IO;
}

TEST(sandbox_run_output_bound)
{
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    p.max_output = 100000;
    struct cove_buf out;
    cove_buf_init(&out, 1u << 20);
    struct cove_sandbox_report rep;
    cove_error err = {0};
    uint64_t t0 = ms_now();
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_flood, NULL, &out, &rep, &err), COVE_ERR_LIMIT);
    CHECK(ms_now() - t0 < 5000);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_OUTPUT_LIMIT);
    CHECK_EQ_INT(out.len, 100000);
    CHECK(strstr(err.msg, "output larger") != NULL);
    /* the caller's buffer bound counts too */
    struct cove_buf small;
    cove_buf_init(&small, 1000);
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_flood, NULL, &small, NULL, NULL), COVE_ERR_LIMIT);
    CHECK_EQ_INT(small.len, 1000);
    cove_buf_release(&small);
    cove_buf_release(&out);
}

static cove_status fn_spin(void *arg, int out_fd, cove_error *err)
{
    volatile unsigned long x = 0;
    for (;;)
        x++;
    return COVE_OK;
}

static cove_status fn_sleep(void *arg, int out_fd, cove_error *err)
{
    for (;;)
        sleep(1000); /* no CPU: only the wall clock stops it */
    return COVE_OK;
}

TEST(sandbox_run_timeout)
{
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    p.timeout_ms = 300;
    struct cove_buf out;
    cove_buf_init(&out, 64);
    struct cove_sandbox_report rep;
    cove_error err = {0};
    uint64_t t0 = ms_now();
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_sleep, NULL, &out, &rep, &err), COVE_ERR_TIMEOUT);
    uint64_t dt = ms_now() - t0;
    CHECK_MSG(dt >= 250 && dt < 3000, "took %llu ms", (unsigned long long)dt);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_TIMEOUT);
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_spin, NULL, &out, &rep, &err), COVE_ERR_TIMEOUT);
    cove_buf_release(&out);
}

TEST(sandbox_run_cpu_limit)
{
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    p.cpu_seconds = 1;
    p.timeout_ms = 20000;
    struct cove_buf out;
    cove_buf_init(&out, 64);
    struct cove_sandbox_report rep;
    cove_error err = {0};
    uint64_t t0 = ms_now();
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_spin, NULL, &out, &rep, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_CPU);
    CHECK(strstr(err.msg, "CPU") != NULL);
    CHECK(ms_now() - t0 < 15000);
    cove_buf_release(&out);
}

static cove_status fn_hog(void *arg, int out_fd, cove_error *err)
{
    size_t total = 0;
    for (int i = 0; i < 64; i++) { /* up to 4 GiB, touched */
        char *p = malloc(64u << 20);
        if (!p)
            return cove_error_set(err, COVE_ERR_NOMEM, "allocation failed after %zu MiB", total >> 20);
        memset(p, 1, 64u << 20);
        total += 64u << 20;
    }
    return COVE_OK;
}

TEST(sandbox_run_memory_limit)
{
    if (__asan_init) {
        printf("note: AddressSanitizer build: RLIMIT_AS is not applied to run_fn, skipping\n");
        return;
    }
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    p.address_space = 256u << 20;
    struct cove_buf out;
    cove_buf_init(&out, 64);
    cove_error err = {0};
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_hog, NULL, &out, NULL, &err), COVE_ERR_NOMEM);
    CHECK(strstr(err.msg, "allocation failed") != NULL);
    cove_buf_release(&out);
}

static cove_status fn_fork_bomb(void *arg, int out_fd, cove_error *err)
{
    int made = 0;
    for (int i = 0; i < 64; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                pause();
        }
        if (pid > 0)
            made++;
    }
    char line[32];
    int len = snprintf(line, sizeof line, "forked=%d", made);
    return cove_sandbox_write_all(out_fd, line, (size_t)len, err);
}

TEST(sandbox_run_fork_bomb)
{
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    struct cove_buf out;
    cove_buf_init(&out, 64);
    cove_error err = {0};
    CHECK_OK(cove_sandbox_run_fn(&p, fn_fork_bomb, NULL, &out, NULL, &err));
    CHECK_STR_EQ(out.data, "forked=0");
    /* in kill mode the first fork ends the child */
    p.seccomp_action = COVE_SANDBOX_SECCOMP_KILL;
    struct cove_sandbox_report rep;
    cove_buf_reset(&out);
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_fork_bomb, NULL, &out, &rep, &err), COVE_ERR_PERMISSION);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_SECCOMP);
    CHECK(strstr(err.msg, "seccomp") != NULL);
    cove_buf_release(&out);
}

static cove_status fn_connect(void *arg, int out_fd, cove_error *err)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return cove_error_set(err, COVE_ERR_NETWORK, "socket refused: errno %d", errno);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(*(const unsigned short *)arg);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    if (rc != 0)
        return cove_error_set(err, COVE_ERR_NETWORK, "connect refused: errno %d", errno);
    return cove_sandbox_write_all(out_fd, "connected", 9, err);
}

TEST(sandbox_run_no_network)
{
    /* a real listener on 127.0.0.1, so a refusal is the sandbox's doing */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(ls >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CHECK(bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 4) == 0);
    CHECK(getsockname(ls, (struct sockaddr *)&a, &al) == 0);
    unsigned short port = ntohs(a.sin_port);
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    struct cove_buf out;
    cove_buf_init(&out, 64);
    cove_error err = {0};
    cove_status st = cove_sandbox_run_fn(&p, fn_connect, &port, &out, NULL, &err);
    close(ls);
    CHECK_EQ_INT(st, COVE_ERR_NETWORK);
    CHECK_MSG(strstr(err.msg, "socket refused: errno 1") != NULL, "%s", err.msg); /* EPERM */
    CHECK_EQ_INT(out.len, 0);
    cove_buf_release(&out);
}

static cove_status fn_exec_shell(void *arg, int out_fd, cove_error *err)
{
    char *const argv[] = {"/bin/sh", "-c", "echo escaped", NULL};
    char *const envp[] = {NULL};
    execve(argv[0], argv, envp);
    return cove_error_set(err, COVE_ERR_PERMISSION, "execve refused: errno %d", errno);
}

TEST(sandbox_run_no_exec_in_fn)
{
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    cove_sandbox_policy_add_system(&p, NULL); /* even with the programs readable */
    struct cove_buf out;
    cove_buf_init(&out, 64);
    cove_error err = {0};
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_exec_shell, NULL, &out, NULL, &err), COVE_ERR_PERMISSION);
    CHECK_STR_EQ(err.msg, "execve refused: errno 1");
    CHECK_EQ_INT(out.len, 0);
    cove_buf_release(&out);
}

static cove_status fn_fail(void *arg, int out_fd, cove_error *err)
{
    cove_sandbox_write_all(out_fd, "partial", 7, err);
    return cove_error_set(err, COVE_ERR_FORMAT, "bad document\nwith a newline");
}

static cove_status fn_crash(void *arg, int out_fd, cove_error *err)
{
    _exit(3);
}

TEST(sandbox_run_errors_carried)
{
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    struct cove_buf out;
    cove_buf_init(&out, 64);
    struct cove_sandbox_report rep;
    cove_error err = {0};
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_fail, NULL, &out, &rep, &err), COVE_ERR_FORMAT);
    CHECK_STR_EQ(err.msg, "bad document with a newline");
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_FAILED);
    CHECK_STR_EQ(out.data, "partial");
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_crash, NULL, &out, &rep, &err), COVE_ERR_IO);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_EXIT);
    CHECK_EQ_INT(rep.exit_code, 3);
    /* a policy path that does not exist fails before anything runs */
    CHECK_OK(cove_sandbox_policy_add_read(&p, "/nonexistent/cove-root", NULL));
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_hello, NULL, &out, &rep, &err), COVE_ERR_NOT_FOUND);
    CHECK_EQ_INT(cove_sandbox_policy_add_read(&p, "relative/path", NULL), COVE_ERR_INVALID_ARG);
    while (p.n_read_roots < COVE_SANDBOX_MAX_PATHS)
        p.read_roots[p.n_read_roots++] = "/";
    CHECK_EQ_INT(cove_sandbox_policy_add_read(&p, "/", NULL), COVE_ERR_LIMIT);
    cove_buf_release(&out);
}

TEST(sandbox_run_reaps_children)
{
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    p.timeout_ms = 200;
    struct cove_buf out;
    cove_buf_init(&out, 64);
    for (int i = 0; i < 5; i++)
        cove_sandbox_run_fn(&p, fn_sleep, NULL, &out, NULL, NULL);
    CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD); /* no zombie, no live child */
    cove_buf_release(&out);
}

struct thread_arg {
    int ok;
};

static void *thread_runs(void *arg)
{
    struct thread_arg *t = arg;
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    for (int i = 0; i < 5; i++) {
        struct cove_buf out;
        cove_buf_init(&out, 64);
        if (cove_sandbox_run_fn(&p, fn_hello, NULL, &out, NULL, NULL) == COVE_OK && out.len == 5 &&
            memcmp(out.data, "hello", 5) == 0)
            t->ok++;
        cove_buf_release(&out);
    }
    return NULL;
}

TEST(sandbox_run_from_threads)
{
    pthread_t th[4];
    struct thread_arg args[4];
    memset(args, 0, sizeof args);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, thread_runs, &args[i]) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(args[i].ok, 5);
}

struct kept_arg {
    int root_fd;
    const char *rel;
};

static cove_status fn_read_kept(void *arg, int out_fd, cove_error *err)
{
    const struct kept_arg *a = arg;
    struct cove_buf b;
    cove_buf_init(&b, 4096);
    cove_status st = cove_sandbox_read_file_beneath(a->root_fd, a->rel, 0, 4096, &b, err);
    if (st == COVE_OK)
        st = cove_sandbox_write_all(out_fd, b.data ? b.data : "", b.len, err);
    cove_buf_release(&b);
    return st;
}

TEST(sandbox_run_keep_fds)
{
    const char *root = g_root();
    int r0 = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int o0 = open(sb_path(test_tmpdir(), "run-outside"), O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(r0 >= 0 && o0 >= 0);
    int rfd = fcntl(r0, F_DUPFD_CLOEXEC, 20), ofd = fcntl(o0, F_DUPFD_CLOEXEC, 20); /* above 0..3 */
    close(r0);
    close(o0);
    CHECK(rfd >= 20 && ofd >= 20);
    struct cove_sandbox_policy p = sb_policy();
    p.accept_weak = 1;
    CHECK_OK(cove_sandbox_policy_add_read(&p, root, NULL));
    p.keep_fds[p.n_keep_fds++] = rfd;
    p.keep_fds[p.n_keep_fds++] = ofd;
    struct cove_buf out;
    cove_buf_init(&out, 4096);
    cove_error err = {0};
    struct kept_arg a = {rfd, "doc.txt"};
    cove_status st = cove_sandbox_run_fn(&p, fn_read_kept, &a, &out, NULL, &err);
    CHECK_MSG(st == COVE_OK, "%s", err.msg);
    CHECK_STR_EQ(out.data, "hello from the root\n");
    cove_buf_reset(&out);
    CHECK_OK(cove_sandbox_run_fn(&p, fn_env_fds, NULL, &out, NULL, NULL));
    CHECK_STR_EQ(out.data, "fds=6 env=0");
    /* a kept descriptor does not widen Landlock: outside the read roots stays shut */
    if (sb_have_landlock("opening through a kept descriptor outside the roots")) {
        struct kept_arg b = {ofd, "id_rsa"};
        cove_buf_reset(&out);
        CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_read_kept, &b, &out, NULL, &err), COVE_ERR_PERMISSION);
        CHECK_EQ_INT(out.len, 0);
    }
    p.keep_fds[0] = 2;
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_hello, NULL, &out, NULL, &err), COVE_ERR_INVALID_ARG);
    close(ofd);
    p.keep_fds[0] = ofd; /* closed now */
    CHECK_EQ_INT(cove_sandbox_run_fn(&p, fn_hello, NULL, &out, NULL, &err), COVE_ERR_INVALID_ARG);
    close(rfd);
    cove_buf_release(&out);
}
