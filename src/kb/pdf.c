/*
 * kb/pdf.c - PDF text through poppler's pdftotext, run as a child process.
 *
 * The one place the knowledge base starts a program. Converters run confined
 * (sandbox/sandbox.h): the document's bytes on stdin, the system's programs and
 * libraries readable, nothing else on the file system, no network, one process, CPU and
 * wall-clock limits, an empty environment and a bound on the output.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/str.h"
#include "kb/kb_int.h"
#include "sandbox/sandbox.h"

/* argv0 as an absolute path: itself when it has a '/', else the first executable on PATH. */
static cove_status find_program(const char *argv0, char *out, size_t cap, cove_error *err)
{
    if (strchr(argv0, '/')) {
        if (argv0[0] != '/' || strlen(argv0) >= cap)
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "%s: need an absolute path", argv0);
        strcpy(out, argv0);
        return COVE_OK;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0 && path[0] == '/' && n + strlen(argv0) + 2 <= cap) {
            snprintf(out, cap, "%.*s/%s", (int)n, path, argv0);
            if (access(out, X_OK) == 0)
                return COVE_OK;
        }
        path += n + (colon ? 1 : 0);
    }
    return cove_error_set(err, COVE_ERR_NOT_FOUND, "%s is not installed (not on PATH)", argv0);
}

/*
 * The sandbox policy of a converter: the system's programs and libraries readable and
 * executable, nothing else on the file system (the document comes in on stdin), no
 * network, one process, CPU seconds and wall clock from timeout_ms.
 */
static cove_status converter_policy(struct cove_sandbox_policy *p, const char *prog,
                                    int timeout_ms, size_t max_out, cove_error *err)
{
    *p = cove_sandbox_policy_default();
    cove_status s = cove_sandbox_policy_add_system(p, err);
    if (s == COVE_OK && strncmp(prog, "/usr/", 5) != 0)
        s = cove_sandbox_policy_add_exec(p, prog, err);
    p->timeout_ms = (uint32_t)timeout_ms;
    p->cpu_seconds = (uint64_t)timeout_ms / 1000u + 1u;
    p->address_space = COVE_KB_CONVERTER_AS;
    p->max_output = max_out;
    p->accept_weak = 1; /* the caller decided (kb_ingest refuses PDFs in weak mode unless
                           its params accept it) */
    return s;
}

static cove_status spawn_in(char *const argv[], const void *in, size_t in_len, int timeout_ms,
                            size_t max_out, char **out, size_t *out_len, cove_error *err)
{
    *out = NULL;
    *out_len = 0;
    char prog[COVE_MAX_PATH];
    cove_status s = find_program(argv[0], prog, sizeof prog, err);
    if (s != COVE_OK)
        return s;
    struct cove_sandbox_policy pol;
    if ((s = converter_policy(&pol, prog, timeout_ms, max_out, err)) != COVE_OK)
        return s;
    const char *args[COVE_KB_MAX_CONVERTER_ARGS + 1];
    size_t n = 0;
    args[n++] = prog;
    while (argv[n] && n < COVE_KB_MAX_CONVERTER_ARGS)
        args[n] = argv[n], n++;
    args[n] = NULL;
    struct cove_buf b;
    cove_buf_init(&b, max_out);
    struct cove_sandbox_report rep;
    s = cove_sandbox_exec(&pol, args, in, in_len, &b, &rep, err);
    if (s == COVE_ERR_IO && rep.end == COVE_SANDBOX_END_EXIT)
        s = cove_error_set(err, COVE_ERR_FORMAT, "%s failed (exit status %d)", argv[0],
                           rep.exit_code);
    if (s == COVE_OK && (cove_buf_append(&b, "", 0) != COVE_OK || cove_buf_reserve(&b, 1) != COVE_OK))
        s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (s != COVE_OK) {
        cove_buf_release(&b);
        return s;
    }
    *out = cove_buf_detach(&b, out_len);
    return COVE_OK;
}

cove_status kb_spawn_capture(char *const argv[], int timeout_ms, size_t max_out, char **out,
                             size_t *out_len, cove_error *err)
{
    return spawn_in(argv, NULL, 0, timeout_ms, max_out, out, out_len, err);
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
    (void)path; /* the caller names the file in its messages */
    /* the document goes in on stdin: the parser may open nothing of the file system */
    char *argv[] = {"pdftotext", "-layout", "-enc", "UTF-8", "-", "-", NULL};
    char *text = NULL;
    size_t n = 0;
    cove_status s = spawn_in(argv, data, len, timeout_ms, COVE_KB_MAX_TEXT, &text, &n, err);
    if (s != COVE_OK) {
        char why[COVE_ERROR_MSG_MAX];
        cove_str_copy(why, sizeof why, cove_error_msg(err));
        return cove_error_set(err, s, "pdftotext: %s", why);
    }
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
