/*
 * tests/sandbox/test_exec.c - cove_sandbox_exec with real programs: output
 * captured, stdin fed, empty environment, failures named, hostile shells
 * stopped, and pdftotext on a generated PDF.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_test.h"
#include "test.h"

static struct cove_sandbox_policy exec_policy(void)
{
    struct cove_sandbox_policy p = sb_policy();
    cove_sandbox_policy_add_system(&p, NULL);
    if (!sb_have_landlock("exec policy"))
        p.accept_weak = 1;
    return p;
}

static cove_status run(struct cove_sandbox_policy *p, const char *const *argv, const char *in,
                       struct cove_buf *out, struct cove_sandbox_report *rep, cove_error *err)
{
    cove_buf_reset(out);
    cove_error_clear(err);
    return cove_sandbox_exec(p, argv, in, in ? strlen(in) : 0, out, rep, err);
}

TEST(sandbox_exec_echo_cat_env)
{
    struct cove_sandbox_policy p = exec_policy();
    struct cove_buf out;
    cove_buf_init(&out, 1u << 16);
    struct cove_sandbox_report rep;
    cove_error err;
    const char *echo[] = {"/bin/echo", "hello", "world", NULL};
    CHECK_MSG(run(&p, echo, NULL, &out, &rep, &err) == COVE_OK, "%s", err.msg);
    CHECK_STR_EQ(out.data, "hello world\n");
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_OK);
    const char *cat[] = {"/bin/cat", NULL};
    CHECK_MSG(run(&p, cat, "fed through stdin", &out, &rep, &err) == COVE_OK, "%s", err.msg);
    CHECK_STR_EQ(out.data, "fed through stdin");
    setenv("COVE_SANDBOX_TEST_SECRET", "leak", 1);
    const char *env[] = {"/usr/bin/env", NULL};
    CHECK_MSG(run(&p, env, NULL, &out, &rep, &err) == COVE_OK, "%s", err.msg);
    CHECK_EQ_INT(out.len, 0); /* empty environment */
    cove_buf_release(&out);
}

TEST(sandbox_exec_failures)
{
    struct cove_sandbox_policy p = exec_policy();
    struct cove_buf out;
    cove_buf_init(&out, 1u << 16);
    struct cove_sandbox_report rep;
    cove_error err;
    const char *f[] = {"/bin/false", NULL};
    CHECK_EQ_INT(run(&p, f, NULL, &out, &rep, &err), COVE_ERR_IO);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_EXIT);
    CHECK_EQ_INT(rep.exit_code, 1);
    CHECK(strstr(err.msg, "exited with status 1") != NULL);
    const char *missing[] = {"/nonexistent/program", NULL};
    CHECK_EQ_INT(run(&p, missing, NULL, &out, &rep, &err), COVE_ERR_IO);
    CHECK_EQ_INT(rep.exit_code, 127);
    CHECK_MSG(strstr(err.msg, "execve") != NULL, "%s", err.msg);
    const char *rel[] = {"echo", NULL};
    CHECK_EQ_INT(run(&p, rel, NULL, &out, &rep, &err), COVE_ERR_INVALID_ARG);
    const char *ls[] = {"/bin/ls", "/nonexistent-dir", NULL};
    CHECK_EQ_INT(run(&p, ls, NULL, &out, &rep, &err), COVE_ERR_IO);
    CHECK_MSG(strstr(err.msg, "stderr:") != NULL, "%s", err.msg);
    cove_buf_release(&out);
}

TEST(sandbox_exec_needs_exec_paths)
{
    if (!sb_have_landlock("exec outside the exec paths"))
        return;
    struct cove_sandbox_policy p = sb_policy(); /* no system paths */
    struct cove_buf out;
    cove_buf_init(&out, 1024);
    struct cove_sandbox_report rep;
    cove_error err;
    const char *echo[] = {"/bin/echo", "x", NULL};
    CHECK_EQ_INT(run(&p, echo, NULL, &out, &rep, &err), COVE_ERR_IO);
    CHECK_EQ_INT(rep.exit_code, 127);
    CHECK_EQ_INT(out.len, 0);
    cove_buf_release(&out);
}

TEST(sandbox_exec_hostile_shell)
{
    struct cove_sandbox_policy p = exec_policy();
    struct cove_buf out;
    cove_buf_init(&out, 1u << 20);
    struct cove_sandbox_report rep;
    cove_error err;
    /* fork bomb: no process is ever created */
    const char *bomb[] = {"/bin/sh", "-c", "b() { b | b & }; b; echo survived", NULL};
    cove_status st = run(&p, bomb, NULL, &out, &rep, &err);
    CHECK_MSG(st == COVE_ERR_IO || st == COVE_OK, "%d %s", (int)st, err.msg);
    CHECK(rep.end != COVE_SANDBOX_END_TIMEOUT);
    /* the network */
    const char *net[] = {"/bin/sh", "-c", "echo x > /dev/tcp/127.0.0.1/9; exec 3<>/dev/tcp/1.1.1.1/80", NULL};
    run(&p, net, NULL, &out, &rep, &err);
    CHECK_EQ_INT(out.len, 0);
    /* endless loop: the CPU limit */
    p.cpu_seconds = 1;
    const char *spin[] = {"/bin/sh", "-c", "while :; do :; done", NULL};
    CHECK_EQ_INT(run(&p, spin, NULL, &out, &rep, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_CPU);
    /* huge output: bounded */
    p.max_output = 50000;
    const char *yes[] = {"/usr/bin/yes", NULL};
    CHECK_EQ_INT(run(&p, yes, NULL, &out, &rep, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(out.len, 50000);
    /* memory hog: the address-space limit */
    p.address_space = 64u << 20;
    p.max_output = 1u << 20;
    const char *hog[] = {"/bin/sh", "-c", "x=a; while :; do x=$x$x; done", NULL};
    st = run(&p, hog, NULL, &out, &rep, &err);
    CHECK_MSG(st != COVE_OK && rep.end != COVE_SANDBOX_END_TIMEOUT, "%d %s", (int)st, err.msg);
    /* secrets outside the roots */
    if (sb_have_landlock("exec reading /etc/shadow")) {
        p = exec_policy();
        const char *shadow[] = {"/bin/cat", "/etc/shadow", NULL};
        CHECK_EQ_INT(run(&p, shadow, NULL, &out, &rep, &err), COVE_ERR_IO);
        CHECK_EQ_INT(out.len, 0);
        CHECK_MSG(strstr(err.msg, "Permission denied") != NULL, "%s", err.msg);
    }
    cove_buf_release(&out);
}

/* A one-page PDF saying `text` in Helvetica, with a correct xref table. */
static int write_pdf(const char *path, const char *text)
{
    char content[256], body[2048];
    int clen = snprintf(content, sizeof content, "BT /F1 24 Tf 72 720 Td (%s) Tj ET", text);
    const char *objs[5];
    char o4[512];
    objs[0] = "<< /Type /Catalog /Pages 2 0 R >>";
    objs[1] = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
    objs[2] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
              "/Resources << /Font << /F1 5 0 R >> >> >>";
    snprintf(o4, sizeof o4, "<< /Length %d >>\nstream\n%s\nendstream", clen, content);
    objs[3] = o4;
    objs[4] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
    long off[5];
    int n = snprintf(body, sizeof body, "%%PDF-1.4\n");
    for (int i = 0; i < 5; i++) {
        off[i] = n;
        n += snprintf(body + n, sizeof body - (size_t)n, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
    }
    long xref = n;
    n += snprintf(body + n, sizeof body - (size_t)n, "xref\n0 6\n0000000000 65535 f \n");
    for (int i = 0; i < 5; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%010ld 00000 n \n", off[i]);
    n += snprintf(body + n, sizeof body - (size_t)n,
                  "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", xref);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(body, 1, (size_t)n, f);
    return fclose(f);
}

TEST(sandbox_exec_pdftotext)
{
    const char *prog = "/usr/bin/pdftotext";
    if (access(prog, X_OK) != 0) {
        printf("note: pdftotext is not installed (poppler-utils): skipping\n");
        return;
    }
    char dir[COVE_MAX_PATH];
    snprintf(dir, sizeof dir, "%s/pdf", test_tmpdir());
    mkdir(dir, 0700);
    const char *pdf = sb_path(dir, "hello.pdf");
    CHECK(write_pdf(pdf, "Hello sandbox") == 0);
    struct cove_sandbox_policy p = exec_policy();
    CHECK_OK(cove_sandbox_policy_add_read(&p, dir, NULL));
    struct cove_buf out;
    cove_buf_init(&out, 1u << 20);
    struct cove_sandbox_report rep;
    cove_error err;
    const char *argv[] = {prog, "-q", "-enc", "UTF-8", pdf, "-", NULL};
    cove_status st = run(&p, argv, NULL, &out, &rep, &err);
    CHECK_MSG(st == COVE_OK, "%s", err.msg);
    CHECK_MSG(strstr(out.data, "Hello sandbox") != NULL, "%s", out.data);
    /* a document outside the roots is not readable by the parser */
    if (sb_have_landlock("pdftotext outside the roots")) {
        struct cove_sandbox_policy q = exec_policy();
        st = run(&q, argv, NULL, &out, &rep, &err);
        CHECK_EQ_INT(st, COVE_ERR_IO);
        CHECK_EQ_INT(out.len, 0);
    }
    /* the document as stdin bytes: no read root needed at all */
    FILE *f = fopen(pdf, "rb");
    CHECK(f);
    char doc[4096];
    size_t dlen = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[dlen] = '\0';
    struct cove_sandbox_policy q = exec_policy();
    const char *from_stdin[] = {prog, "-q", "-enc", "UTF-8", "-", "-", NULL};
    st = run(&q, from_stdin, doc, &out, &rep, &err);
    CHECK_MSG(st == COVE_OK, "%s", err.msg);
    CHECK(strstr(out.data, "Hello sandbox") != NULL);
    /* the allow-list covers everything pdftotext calls: it also runs in kill mode */
    q.seccomp_action = COVE_SANDBOX_SECCOMP_KILL;
    st = run(&q, from_stdin, doc, &out, &rep, &err);
    CHECK_MSG(st == COVE_OK, "%s", err.msg);
    CHECK(strstr(out.data, "Hello sandbox") != NULL);
    q.seccomp_action = COVE_SANDBOX_SECCOMP_ERRNO;
    /* garbage in: a named failure, not a hang */
    const char *garbage_argv[] = {prog, "-", "-", NULL};
    CHECK_EQ_INT(run(&q, garbage_argv, "%PDF-1.4 this is not a document", &out, &rep, &err),
                 COVE_ERR_IO);
    CHECK_EQ_INT(rep.end, COVE_SANDBOX_END_EXIT);
    /* more text than the bound */
    q.max_output = 5;
    CHECK_EQ_INT(run(&q, from_stdin, doc, &out, &rep, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(out.len, 5);
    cove_buf_release(&out);
}
