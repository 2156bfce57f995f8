/*
 * kb/pdf.c - PDF text through poppler's pdftotext, run as a child process.
 *
 * kb_spawn_capture is the one place the knowledge base starts a program; the sandbox
 * module can take its place later without touching the callers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "kb/kb_int.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: stdin and stderr on /dev/null, stdout on the pipe, then exec. */
static void child_exec(char *const argv[], int out_fd)
{
    int devnull = open("/dev/null", O_RDWR);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 2) < 0 || dup2(out_fd, 1) < 0)
        _exit(127);
    execvp(argv[0], argv);
    _exit(127);
}

/* Read the child's output until EOF, the bound or the deadline. */
static cove_status read_child(int fd, long deadline, struct cove_buf *b, cove_error *err)
{
    char tmp[65536];
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            return cove_error_set(err, COVE_ERR_TIMEOUT, "converter ran past its time limit");
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cove_error_set(err, COVE_ERR_IO, "poll: %s", strerror(errno));
        if (r == 0)
            continue;
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cove_error_set(err, COVE_ERR_IO, "read: %s", strerror(errno));
        if (n == 0)
            return COVE_OK;
        cove_status s = cove_buf_append(b, tmp, (size_t)n);
        if (s == COVE_ERR_LIMIT)
            return cove_error_set(err, s, "converter output beyond %zu bytes", b->max);
        if (s != COVE_OK)
            return cove_error_set(err, s, "out of memory");
    }
}

cove_status kb_spawn_capture(char *const argv[], int timeout_ms, size_t max_out, char **out,
                             size_t *out_len, cove_error *err)
{
    int fds[2];
    *out = NULL;
    *out_len = 0;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return cove_error_set(err, COVE_ERR_IO, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return cove_error_set(err, COVE_ERR_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0)
        child_exec(argv, fds[1]);
    close(fds[1]);
    struct cove_buf b;
    cove_buf_init(&b, max_out);
    cove_status s = read_child(fds[0], now_ms() + timeout_ms, &b, err);
    close(fds[0]);
    if (s != COVE_OK)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (s == COVE_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        s = cove_error_set(err, COVE_ERR_FORMAT, "%s failed (%s %d)", argv[0],
                           WIFEXITED(status) ? "exit status" : "signal",
                           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    if (s != COVE_OK) {
        cove_buf_release(&b);
        return s;
    }
    if (cove_buf_append(&b, "", 0) != COVE_OK || cove_buf_reserve(&b, 1) != COVE_OK) {
        cove_buf_release(&b);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    *out = cove_buf_detach(&b, out_len);
    return COVE_OK;
}

/* Blocks of one page's text: paragraphs split at blank lines, range = the page. */
static cove_status add_page(kb_doc *d, const char *p, size_t n, int64_t page)
{
    const char *end = p + n, *para = NULL;
    cove_status s = COVE_OK;
    while (p < end && s == COVE_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        int blank = 1;
        for (const char *q = p; q < le; q++)
            if (*q != ' ' && *q != '\t' && *q != '\r')
                blank = 0;
        if (blank && para) {
            s = kb_doc_add(d, para, (size_t)(p - para), page, page, 0);
            para = NULL;
        } else if (!blank && !para) {
            para = p;
        }
        p = nl ? nl + 1 : end;
    }
    if (para && s == COVE_OK)
        s = kb_doc_add(d, para, (size_t)(end - para), page, page, 0);
    return s;
}

cove_status kb_extract_pdf(const char *path, const char *data, size_t len, int timeout_ms,
                           kb_doc *out, cove_error *err)
{
    if (len < 5 || memcmp(data, "%PDF-", 5) != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "not a PDF file (no %%PDF- header)");
    char *argv[] = {"pdftotext", "-layout", "-enc", "UTF-8", (char *)path, "-", NULL};
    char *text = NULL;
    size_t n = 0;
    cove_status s = kb_spawn_capture(argv, timeout_ms, COVE_KB_MAX_TEXT, &text, &n, err);
    if (s != COVE_OK)
        return s;
    out->range_kind = COVE_KB_RANGE_PAGES;
    const char *p = text, *end = text + n;
    for (int64_t page = 1; p < end && s == COVE_OK; page++) {
        const char *ff = memchr(p, '\f', (size_t)(end - p));
        const char *pe = ff ? ff : end;
        s = add_page(out, p, (size_t)(pe - p), page);
        p = ff ? ff + 1 : end;
    }
    cove_free(text);
    if (s != COVE_OK) {
        kb_doc_release(out);
        return cove_error_set(err, s, "out of memory");
    }
    return COVE_OK;
}
