/*
 * tests/audit/test_audit.c - the audit log: round trip, every kind of tampering,
 * reopening, threads, text policy and redaction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit.h"
#include "base/alloc.h"
#include "test.h"

/* ------------------------------------------------------------ helpers */

static const char *tmp_path(const char *name)
{
    static char buf[8][1024];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 1024, "%s/%s", test_tmpdir(), name);
    return p;
}

/* A key pair under the temp dir named PREFIX (made once). */
static const char *key_prefix(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", test_tmpdir(), name);
    char key[1100];
    snprintf(key, sizeof key, "%s.key", buf);
    if (access(key, F_OK) != 0 && cove_audit_keygen(buf, NULL) != COVE_OK)
        return NULL;
    return buf;
}

static int load_pub(const char *prefix, unsigned char pk[32])
{
    char p[1100];
    snprintf(p, sizeof p, "%s.pub", prefix);
    return cove_audit_pubkey_load(p, pk, NULL);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static int spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(data, 1, len, f) != len;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* Split text into at most max lines (with their newlines); returns the count. */
static int split_lines(char *text, char **lines, int max)
{
    int n = 0;
    char *p = text;
    while (*p && n < max) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static size_t line_len(const char *l)
{
    const char *nl = strchr(l, '\n');
    return nl ? (size_t)(nl - l) + 1 : strlen(l);
}

/* Write lines[order[i]] for i < n to path. */
static int write_lines(const char *path, char **lines, const int *order, int n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    for (int i = 0; i < n; i++)
        fwrite(lines[order[i]], 1, line_len(lines[order[i]]), f);
    return fclose(f);
}

/*
 * The standard log: key "k1", checkpoint every 4, ten events. Lines:
 * 1-4 events (seq 0-3), 5 checkpoint (seq 4), 6-9 events (seq 5-8), 10 checkpoint
 * (seq 9), 11-12 events (seq 10-11), 13 closing checkpoint (seq 12).
 */
static int make_std_log(const char *path)
{
    const char *kp = key_prefix("k1");
    char key[1100];
    snprintf(key, sizeof key, "%s.key", kp);
    unlink(path);
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.key_path = key;
    p.checkpoint_every = 4;
    cove_audit_log *log;
    if (cove_audit_create(&p, &log, NULL) != COVE_OK)
        return -1;
    for (int i = 0; i < 10; i++) {
        char text[64];
        snprintf(text, sizeof text, "message number %d", i);
        struct cove_audit_event ev = {.kind = i % 2 ? COVE_AUDIT_MODEL_OUTPUT : COVE_AUDIT_PROMPT,
                                      .tenant = "clinic",
                                      .session = "s1",
                                      .text = text};
        if (cove_audit_append(log, &ev, NULL, NULL) != COVE_OK)
            return -1;
    }
    return cove_audit_close(log, NULL) == COVE_OK ? 0 : -1;
}

/* Verify path with key k1; fill rep. */
static cove_status verify_k1(const char *path, struct cove_audit_report *rep)
{
    unsigned char pk[32];
    if (load_pub(key_prefix("k1"), pk) != 0)
        return COVE_ERR_IO;
    return cove_audit_verify(path, pk, 0, rep, NULL);
}

/* ------------------------------------------------------------ round trip */

TEST(audit_round_trip)
{
    const char *path = tmp_path("rt.log");
    CHECK(make_std_log(path) == 0);
    struct cove_audit_report rep;
    CHECK_OK(verify_k1(path, &rep));
    CHECK(rep.intact);
    CHECK_EQ_INT(rep.records, 13);
    CHECK_EQ_INT(rep.checkpoints, 3);
    CHECK(rep.closed);
    CHECK(rep.is_signed);
    CHECK_EQ_INT(rep.covered, 12);
    CHECK_EQ_INT(rep.bad_line, 0);
    /* without a key: consistent with its own key */
    CHECK_OK(cove_audit_verify(path, NULL, 0, &rep, NULL));
    CHECK(rep.intact && rep.is_signed);
}

struct count_ctx {
    int n, prompts;
    uint64_t last_seq;
};

static int count_rec(const struct cove_audit_record *r, void *user)
{
    struct count_ctx *c = user;
    c->n++;
    c->last_seq = r->seq;
    if (strcmp(r->kind, "prompt") == 0 && r->session && strcmp(r->session, "s1") == 0 &&
        r->tenant && strcmp(r->tenant, "clinic") == 0 && r->time_us > 1700000000000000LL)
        c->prompts++;
    return 0;
}

TEST(audit_read_records)
{
    const char *path = tmp_path("read.log");
    CHECK(make_std_log(path) == 0);
    struct count_ctx c = {0};
    CHECK_OK(cove_audit_read(path, count_rec, &c, NULL));
    CHECK_EQ_INT(c.n, 13);
    CHECK_EQ_INT(c.prompts, 5);
    CHECK_EQ_INT(c.last_seq, 12);
}

/* ------------------------------------------------------------ tampering */

/* Apply a change to the standard log's lines, verify, expect line/seq. */
static void expect_bad(const char *name, const int *order, int n, uint64_t line, int64_t seq,
                       const char *reason_part)
{
    const char *path = tmp_path("tamper.log");
    size_t len;
    CHECK(make_std_log(path) == 0);
    char *text = slurp(path, &len), *lines[64];
    CHECK(text);
    int nl = split_lines(text, lines, 64);
    CHECK_EQ_INT(nl, 13);
    CHECK(write_lines(path, lines, order, n) == 0);
    struct cove_audit_report rep;
    cove_status s = verify_k1(path, &rep);
    free(text);
    CHECK_MSG(s == COVE_ERR_CHECKSUM && !rep.intact, "%s: not detected", name);
    CHECK_MSG(rep.bad_line == line && rep.bad_seq == seq, "%s: named line %llu seq %lld (%s)",
              name, (unsigned long long)rep.bad_line, (long long)rep.bad_seq, rep.reason);
    CHECK_MSG(strstr(rep.reason, reason_part), "%s: reason '%s'", name, rep.reason);
}

TEST(audit_tamper_delete_line)
{
    int order[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12}; /* line 7 (seq 6) gone */
    expect_bad("delete", order, 12, 7, 7, "deleted");
}

TEST(audit_tamper_delete_first)
{
    int order[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    expect_bad("delete first", order, 12, 1, 1, "deleted");
}

TEST(audit_tamper_insert_duplicate)
{
    int order[] = {0, 1, 2, 3, 4, 5, 6, 2, 7, 8, 9, 10, 11, 12}; /* copy of seq 2 as line 8 */
    expect_bad("insert", order, 14, 8, 2, "inserted");
}

TEST(audit_tamper_swap)
{
    int order[] = {0, 1, 2, 3, 4, 6, 5, 7, 8, 9, 10, 11, 12}; /* lines 6 and 7 swapped */
    expect_bad("swap", order, 13, 6, 6, "moved");
}

TEST(audit_tamper_truncate_records)
{
    int order[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; /* last two lines gone */
    expect_bad("truncate", order, 11, 12, 11, "truncated");
}

TEST(audit_tamper_truncate_at_checkpoint)
{
    int order[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; /* ends at a periodic checkpoint */
    expect_bad("truncate at checkpoint", order, 10, 11, 10, "closing checkpoint");
}

TEST(audit_tamper_truncate_everything)
{
    expect_bad("empty", NULL, 0, 1, 0, "empty");
}

/* Change byte `col` of line `ln` (0-based) to c; verify; expect line/seq. */
static void expect_edit(const char *name, int ln, const char *find, const char *repl,
                        uint64_t line, int64_t seq, const char *reason_part)
{
    const char *path = tmp_path("edit.log");
    size_t len;
    CHECK(make_std_log(path) == 0);
    char *text = slurp(path, &len), *lines[64];
    CHECK(text);
    CHECK_EQ_INT(split_lines(text, lines, 64), 13);
    char *at = strstr(lines[ln], find);
    CHECK(at && at < lines[ln] + line_len(lines[ln]));
    CHECK(strlen(repl) == strlen(find));
    memcpy(at, repl, strlen(repl));
    CHECK(spit(path, text, len) == 0);
    free(text);
    struct cove_audit_report rep;
    cove_status s = verify_k1(path, &rep);
    CHECK_MSG(s == COVE_ERR_CHECKSUM && !rep.intact, "%s: not detected", name);
    CHECK_MSG(rep.bad_line == line && rep.bad_seq == seq, "%s: named line %llu seq %lld (%s)",
              name, (unsigned long long)rep.bad_line, (long long)rep.bad_seq, rep.reason);
    CHECK_MSG(strstr(rep.reason, reason_part), "%s: reason '%s'", name, rep.reason);
}

TEST(audit_tamper_edit_text)
{
    expect_edit("edit text", 6, "number 5", "number 9", 7, 6, "changed");
}

TEST(audit_tamper_edit_last_event)
{
    expect_edit("edit last event", 11, "number 9", "number 1", 12, 11, "changed");
}

TEST(audit_tamper_edit_breaks_json)
{
    expect_edit("edit syntax", 2, "\"kind\"", "\"kind ", 3, -1, "JSON");
}

TEST(audit_tamper_edit_seq)
{
    expect_edit("edit seq", 7, "\"seq\":7", "\"seq\":3", 8, 3, "seq 3");
}

TEST(audit_tamper_edit_tenant)
{
    expect_edit("edit tenant", 0, "clinic", "CLINIC", 1, 0, "changed");
}

TEST(audit_tamper_forged_signature)
{
    const char *path = tmp_path("forge.log");
    size_t len;
    CHECK(make_std_log(path) == 0);
    char *text = slurp(path, &len), *lines[64];
    CHECK(text);
    CHECK_EQ_INT(split_lines(text, lines, 64), 13);
    char *sig = strstr(lines[4], "\"sig\":\"");
    CHECK(sig);
    sig += 7 + 10;
    *sig = *sig == '0' ? '1' : '0';
    CHECK(spit(path, text, len) == 0);
    free(text);
    struct cove_audit_report rep;
    CHECK(verify_k1(path, &rep) == COVE_ERR_CHECKSUM);
    CHECK_EQ_INT(rep.bad_line, 5);
    CHECK_EQ_INT(rep.bad_seq, 4);
    CHECK(strstr(rep.reason, "signature"));
    /* also without a key: the signature is checked against the log's own key */
    CHECK(cove_audit_verify(path, NULL, 0, &rep, NULL) == COVE_ERR_CHECKSUM);
    CHECK_EQ_INT(rep.bad_line, 5);
}

TEST(audit_tamper_wrong_pubkey)
{
    const char *path = tmp_path("wrongkey.log");
    CHECK(make_std_log(path) == 0);
    unsigned char pk[32];
    CHECK(key_prefix("k2") != NULL);
    CHECK_OK(load_pub(key_prefix("k2"), pk));
    struct cove_audit_report rep;
    CHECK(cove_audit_verify(path, pk, 0, &rep, NULL) == COVE_ERR_CHECKSUM);
    CHECK_EQ_INT(rep.bad_line, 5);
    CHECK_EQ_INT(rep.bad_seq, 4);
    CHECK(strstr(rep.reason, "not the given key"));
}

TEST(audit_truncate_mid_line)
{
    const char *path = tmp_path("cut.log");
    size_t len;
    CHECK(make_std_log(path) == 0);
    char *text = slurp(path, &len);
    CHECK(text);
    CHECK(spit(path, text, len - 40) == 0);
    free(text);
    struct cove_audit_report rep;
    CHECK(verify_k1(path, &rep) == COVE_ERR_CHECKSUM);
    CHECK_EQ_INT(rep.bad_line, 13);
    CHECK(strstr(rep.reason, "incomplete"));
    /* a writer refuses to continue it */
    struct cove_audit_params p = cove_audit_default_params();
    char key[1100];
    snprintf(key, sizeof key, "%s.key", key_prefix("k1"));
    p.path = path;
    p.key_path = key;
    cove_audit_log *log = NULL;
    cove_error err = {0};
    CHECK(cove_audit_create(&p, &log, &err) == COVE_ERR_CHECKSUM);
    CHECK(log == NULL);
    CHECK(strstr(err.msg, "incomplete"));
}

TEST(audit_allow_open)
{
    const char *path = tmp_path("open.log");
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.checkpoint_every = 2;
    unlink(path);
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    struct cove_audit_event ev = {.kind = COVE_AUDIT_NOTE, .text = "x"};
    for (int i = 0; i < 3; i++)
        CHECK_OK(cove_audit_append(log, &ev, NULL, NULL));
    /* still open: 3 events + 1 checkpoint written */
    struct cove_audit_report rep;
    CHECK(cove_audit_verify(path, NULL, 0, &rep, NULL) == COVE_ERR_CHECKSUM);
    CHECK_OK(cove_audit_verify(path, NULL, COVE_AUDIT_VERIFY_ALLOW_OPEN, &rep, NULL));
    CHECK(rep.intact && !rep.closed && !rep.is_signed);
    CHECK_EQ_INT(rep.records, 4);
    CHECK_EQ_INT(rep.covered, 2);
    CHECK_OK(cove_audit_close(log, NULL));
    CHECK_OK(cove_audit_verify(path, NULL, 0, &rep, NULL));
    /* unsigned log, but a key demanded */
    unsigned char pk[32];
    CHECK_OK(load_pub(key_prefix("k1"), pk));
    CHECK(cove_audit_verify(path, pk, 0, &rep, NULL) == COVE_ERR_CHECKSUM);
    CHECK(strstr(rep.reason, "unsigned"));
}

/* ------------------------------------------------------------ reopen */

TEST(audit_reopen_continue)
{
    const char *path = tmp_path("reopen.log");
    CHECK(make_std_log(path) == 0);
    char key[1100];
    snprintf(key, sizeof key, "%s.key", key_prefix("k1"));
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.key_path = key;
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    CHECK_EQ_INT(cove_audit_size(log), 13);
    uint64_t seq = 0;
    struct cove_audit_event ev = {.kind = COVE_AUDIT_FINAL_ANSWER, .text = "done"};
    CHECK_OK(cove_audit_append(log, &ev, &seq, NULL));
    CHECK_EQ_INT(seq, 13);
    /* a second writer on the same file is refused */
    cove_audit_log *two = NULL;
    CHECK(cove_audit_create(&p, &two, NULL) == COVE_ERR_STATE);
    CHECK_OK(cove_audit_close(log, NULL));
    struct cove_audit_report rep;
    CHECK_OK(verify_k1(path, &rep));
    CHECK_EQ_INT(rep.records, 15);
    CHECK_EQ_INT(rep.checkpoints, 4);

    /* another key may not continue it; neither may no key */
    char key2[1100];
    snprintf(key2, sizeof key2, "%s.key", key_prefix("k2"));
    p.key_path = key2;
    cove_error err = {0};
    CHECK(cove_audit_create(&p, &log, &err) == COVE_ERR_STATE);
    p.key_path = NULL;
    CHECK(cove_audit_create(&p, &log, &err) == COVE_ERR_STATE);
}

TEST(audit_reopen_refuses_tampered)
{
    const char *path = tmp_path("reopen-bad.log");
    size_t len;
    CHECK(make_std_log(path) == 0);
    char *text = slurp(path, &len);
    CHECK(text);
    char *at = strstr(text, "number 3");
    CHECK(at);
    at[7] = '8';
    CHECK(spit(path, text, len) == 0);
    free(text);
    char key[1100];
    snprintf(key, sizeof key, "%s.key", key_prefix("k1"));
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.key_path = key;
    cove_audit_log *log = NULL;
    cove_error err = {0};
    CHECK(cove_audit_create(&p, &log, &err) == COVE_ERR_CHECKSUM);
    CHECK(strstr(err.msg, "line 4"));
}

/* ------------------------------------------------------------ threads */

struct thread_arg {
    cove_audit_log *log;
    int id, n, failures;
};

static void *append_many(void *p)
{
    struct thread_arg *a = p;
    char session[32], text[64];
    snprintf(session, sizeof session, "thread-%d", a->id);
    for (int i = 0; i < a->n; i++) {
        snprintf(text, sizeof text, "event %d of thread %d", i, a->id);
        struct cove_audit_event ev = {.kind = COVE_AUDIT_TOOL_CALL, .session = session,
                                      .tool = "search", .args = "{\"q\":\"x\"}", .text = text};
        if (cove_audit_append(a->log, &ev, NULL, NULL) != COVE_OK)
            a->failures++;
    }
    return NULL;
}

TEST(audit_concurrent_appends)
{
    const char *path = tmp_path("threads.log");
    char key[1100];
    snprintf(key, sizeof key, "%s.key", key_prefix("k1"));
    unlink(path);
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.key_path = key;
    p.checkpoint_every = 50;
    p.fsync = COVE_AUDIT_FSYNC_NEVER;
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    enum { T = 8, N = 400 };
    pthread_t th[T];
    struct thread_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (struct thread_arg){.log = log, .id = i, .n = N};
        CHECK(pthread_create(&th[i], NULL, append_many, &args[i]) == 0);
    }
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++)
        CHECK_EQ_INT(args[i].failures, 0);
    CHECK_OK(cove_audit_close(log, NULL));
    struct cove_audit_report rep;
    CHECK_OK(verify_k1(path, &rep));
    CHECK_EQ_INT(rep.records, T * N + T * N / 50 + 1);
    struct count_ctx c = {0};
    CHECK_OK(cove_audit_read(path, count_rec, &c, NULL));
    CHECK_EQ_INT(c.n, T * N + T * N / 50 + 1);
}

/* ------------------------------------------------------------ text policy */

TEST(audit_redaction)
{
    const char *path = tmp_path("redact.log");
    unlink(path);
    const char *pats[] = {"MRN-[0-9]{6}", "[0-9]{4}-[0-9]{4}-[0-9]{4}"};
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.redact = pats;
    p.n_redact = 2;
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    struct cove_audit_event ev = {
        .kind = COVE_AUDIT_PROMPT,
        .text = "patient MRN-123456 paid with 1234-5678-9012, see MRN-654321",
    };
    CHECK_OK(cove_audit_append(log, &ev, NULL, NULL));
    struct cove_audit_event call = {.kind = COVE_AUDIT_TOOL_CALL, .tool = "lookup",
                                    .args = "{\"id\":\"MRN-000001\"}"};
    CHECK_OK(cove_audit_append(log, &call, NULL, NULL));
    CHECK_OK(cove_audit_close(log, NULL));
    size_t len;
    char *text = slurp(path, &len);
    CHECK(text);
    /* (digits alone could occur inside the hex hashes; the patterns' text cannot) */
    int ok = !strstr(text, "MRN-") && !strstr(text, "1234-5678") &&
             strstr(text, "patient [REDACTED] paid with [REDACTED], see [REDACTED]") &&
             strstr(text, "{\\\"id\\\":\\\"[REDACTED]\\\"}");
    free(text);
    CHECK(ok);
    struct cove_audit_report rep;
    CHECK_OK(cove_audit_verify(path, NULL, 0, &rep, NULL));

    const char *bad[] = {"([unclosed"};
    p.redact = bad;
    p.n_redact = 1;
    cove_error err = {0};
    CHECK(cove_audit_create(&p, &log, &err) == COVE_ERR_INVALID_ARG);
}

TEST(audit_hash_only)
{
    const char *path = tmp_path("hash.log");
    unlink(path);
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.text_mode = COVE_AUDIT_TEXT_HASH;
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    const char *secret = "my account is 99-1234 and my diagnosis is private";
    struct cove_audit_event ev = {.kind = COVE_AUDIT_PROMPT, .session = "s", .text = secret};
    CHECK_OK(cove_audit_append(log, &ev, NULL, NULL));
    CHECK_OK(cove_audit_close(log, NULL));
    char hex[65], want[200];
    cove_audit_sha256_hex(secret, strlen(secret), hex);
    snprintf(want, sizeof want, "\"text_sha256\":\"%s\",\"text_len\":%zu", hex, strlen(secret));
    size_t len;
    char *text = slurp(path, &len);
    CHECK(text);
    int ok = !strstr(text, "diagnosis") && !strstr(text, "\"text\":") && strstr(text, want);
    free(text);
    CHECK(ok);
}

TEST(audit_long_text_cut)
{
    const char *path = tmp_path("long.log");
    unlink(path);
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    size_t n = (2u << 20) + 3;
    char *big = malloc(n + 1);
    CHECK(big);
    memset(big, 'a', n);
    big[n] = '\0';
    struct cove_audit_event ev = {.kind = COVE_AUDIT_MODEL_OUTPUT, .text = big};
    cove_status s = cove_audit_append(log, &ev, NULL, NULL);
    free(big);
    CHECK_OK(s);
    CHECK_OK(cove_audit_close(log, NULL));
    struct cove_audit_report rep;
    CHECK_OK(cove_audit_verify(path, NULL, 0, &rep, NULL));
    size_t len;
    char *text = slurp(path, &len);
    CHECK(text);
    int ok = strstr(text, "\"text_truncated\":true,\"text_len\":2097155") != NULL;
    free(text);
    CHECK(ok);
}

TEST(audit_bad_events)
{
    const char *path = tmp_path("badev.log");
    unlink(path);
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    struct cove_audit_event ev = {.kind = COVE_AUDIT_CHECKPOINT};
    CHECK(cove_audit_append(log, &ev, NULL, NULL) == COVE_ERR_INVALID_ARG);
    ev.kind = (enum cove_audit_kind)99;
    CHECK(cove_audit_append(log, &ev, NULL, NULL) == COVE_ERR_INVALID_ARG);
    char id[2000];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    struct cove_audit_event big = {.kind = COVE_AUDIT_NOTE, .session = id};
    CHECK(cove_audit_append(log, &big, NULL, NULL) == COVE_ERR_LIMIT);
    /* an invalid UTF-8 byte is stored as U+FFFD; the log stays valid */
    struct cove_audit_event u = {.kind = COVE_AUDIT_NOTE, .text = "bad \xff byte \"q\" \n"};
    CHECK_OK(cove_audit_append(log, &u, NULL, NULL));
    CHECK_EQ_INT(cove_audit_size(log), 1);
    CHECK_OK(cove_audit_close(log, NULL));
    struct cove_audit_report rep;
    CHECK_OK(cove_audit_verify(path, NULL, 0, &rep, NULL));
    CHECK_EQ_INT(rep.records, 2);
}

TEST(audit_alloc_failures)
{
    /* every allocation of an append failing in turn: an error, never a broken log */
    const char *path = tmp_path("nomem.log");
    unlink(path);
    const char *pats[] = {"[0-9]+"};
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.redact = pats;
    p.n_redact = 1;
    cove_audit_log *log;
    CHECK_OK(cove_audit_create(&p, &log, NULL));
    struct cove_audit_event ev = {.kind = COVE_AUDIT_PROMPT, .session = "s",
                                  .text = "account 12345 and 678", .args = "{\"a\":1}"};
    int ok = 0;
    for (long k = 1; k < 200; k++) {
        cove_alloc_fail_at(k, 0);
        cove_status s = cove_audit_append(log, &ev, NULL, NULL);
        cove_alloc_fail_at(0, 0);
        if (s == COVE_OK) {
            ok++;
            if (ok > 3)
                break;
        } else {
            CHECK_EQ_INT(s, COVE_ERR_NOMEM);
        }
    }
    CHECK_OK(cove_audit_close(log, NULL));
    struct cove_audit_report rep;
    CHECK_OK(cove_audit_verify(path, NULL, 0, &rep, NULL));
}

TEST(audit_time_parse)
{
    int64_t us;
    CHECK_OK(cove_audit_time_parse("1970-01-01T00:00:01Z", &us, NULL));
    CHECK_EQ_INT(us, 1000000);
    CHECK_OK(cove_audit_time_parse("1970-01-01T01:00:00.5+01:00", &us, NULL));
    CHECK_EQ_INT(us, 500000);
    CHECK_OK(cove_audit_time_parse("2026-11-24", &us, NULL));
    CHECK_EQ_INT(us, 1795478400LL * 1000000);
    CHECK(cove_audit_time_parse("2026-13-01", &us, NULL) == COVE_ERR_FORMAT);
    CHECK(cove_audit_time_parse("2026-11-24T10:00", &us, NULL) == COVE_ERR_FORMAT);
    CHECK(cove_audit_time_parse("yesterday", &us, NULL) == COVE_ERR_FORMAT);
}

TEST(audit_keys)
{
    const char *prefix = tmp_path("kk");
    CHECK_OK(cove_audit_keygen(prefix, NULL));
    CHECK(cove_audit_keygen(prefix, NULL) == COVE_ERR_STATE); /* never overwrites */
    char key[1100];
    snprintf(key, sizeof key, "%s.key", prefix);
    struct stat st;
    CHECK(stat(key, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    unsigned char sk[64], pk[32];
    CHECK_OK(cove_audit_seckey_load(key, sk, NULL));
    CHECK_OK(load_pub(prefix, pk));
    CHECK(memcmp(sk + 32, pk, 32) == 0);
    CHECK(chmod(key, 0644) == 0);
    CHECK(cove_audit_seckey_load(key, sk, NULL) == COVE_ERR_PERMISSION);
    sodium_memzero(sk, sizeof sk);
}

TEST(audit_create_from_env)
{
    cove_audit_log *log = (cove_audit_log *)1;
    unsetenv("COVE_AUDIT_LOG");
    unsetenv("COVE_AUDIT_KEY");
    CHECK_OK(cove_audit_create_from_env(NULL, NULL, &log, NULL));
    CHECK(log == NULL); /* logging off */
    const char *path = tmp_path("env.log");
    unlink(path);
    char key[1100];
    snprintf(key, sizeof key, "%s.key", key_prefix("k1"));
    setenv("COVE_AUDIT_LOG", path, 1);
    setenv("COVE_AUDIT_KEY", key, 1);
    cove_status s = cove_audit_create_from_env(NULL, NULL, &log, NULL);
    unsetenv("COVE_AUDIT_LOG");
    unsetenv("COVE_AUDIT_KEY");
    CHECK_OK(s);
    CHECK(log != NULL);
    char hex[65];
    CHECK(cove_audit_pubkey_hex(log, hex));
    CHECK_OK(cove_audit_close(log, NULL));
    struct cove_audit_report rep;
    CHECK_OK(verify_k1(path, &rep));
    /* --audit FILE wins over the environment */
    const char *flag = tmp_path("flag.log");
    unlink(flag);
    setenv("COVE_AUDIT_LOG", path, 1);
    s = cove_audit_create_from_env(flag, NULL, &log, NULL);
    unsetenv("COVE_AUDIT_LOG");
    CHECK_OK(s);
    CHECK(!cove_audit_pubkey_hex(log, hex)); /* no key: unsigned */
    CHECK_OK(cove_audit_close(log, NULL));
    CHECK(access(flag, F_OK) == 0);
}

/* RFC 6962 leaf hash of one line (without its newline) as hex. */
static void leaf_hex(const char *line, char out[65])
{
    size_t n = strcspn(line, "\n");
    unsigned char h[32];
    crypto_hash_sha256_state st;
    const unsigned char zero = 0;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)line, n);
    crypto_hash_sha256_final(&st, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

TEST(audit_tamper_insert_forged_link)
{
    /* a made-up record with the right seq and prev, placed after line 6 (seq 5) */
    const char *path = tmp_path("forged-insert.log");
    size_t len;
    CHECK(make_std_log(path) == 0);
    char *text = slurp(path, &len), *lines[64];
    CHECK(text);
    CHECK_EQ_INT(split_lines(text, lines, 64), 13);
    char prev[65], forged[512];
    leaf_hex(lines[5], prev);
    snprintf(forged, sizeof forged,
             "{\"seq\":6,\"time\":\"2026-01-01T00:00:00.000000Z\",\"kind\":\"final_answer\","
             "\"text\":\"all clear\",\"prev\":\"%s\"}\n", prev);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    for (int i = 0; i < 13; i++) {
        fwrite(lines[i], 1, line_len(lines[i]), f);
        if (i == 5)
            fputs(forged, f);
    }
    fclose(f);
    free(text);
    struct cove_audit_report rep;
    CHECK(verify_k1(path, &rep) == COVE_ERR_CHECKSUM);
    CHECK_MSG(rep.bad_line == 7 && rep.bad_seq == 6, "named line %llu seq %lld (%s)",
              (unsigned long long)rep.bad_line, (long long)rep.bad_seq, rep.reason);
    CHECK(strstr(rep.reason, "inserted"));
}

TEST(audit_alloc_failures_open_verify)
{
    const char *path = tmp_path("nomem2.log");
    CHECK(make_std_log(path) == 0);
    char key[1100];
    snprintf(key, sizeof key, "%s.key", key_prefix("k1"));
    const char *pats[] = {"[0-9]+"};
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.key_path = key;
    p.redact = pats;
    p.n_redact = 1;
    int opened = 0;
    for (long k = 1; k < 100 && !opened; k++) {
        cove_audit_log *log = NULL;
        cove_alloc_fail_at(k, 0);
        cove_status s = cove_audit_create(&p, &log, NULL);
        cove_alloc_fail_at(0, 0);
        if (s == COVE_OK) {
            opened = 1;
            CHECK_OK(cove_audit_close(log, NULL));
        } else {
            CHECK_EQ_INT(s, COVE_ERR_NOMEM);
            CHECK(log == NULL);
        }
    }
    CHECK(opened);
    struct cove_audit_report rep;
    unsigned char pk[32];
    CHECK_OK(load_pub(key_prefix("k1"), pk));
    cove_alloc_fail_at(1, 0);
    cove_status s = cove_audit_verify(path, pk, 0, &rep, NULL);
    cove_alloc_fail_at(0, 0);
    CHECK(s == COVE_ERR_NOMEM || s == COVE_OK);
    CHECK_OK(verify_k1(path, &rep)); /* the file is untouched by failed opens */
    CHECK_EQ_INT(rep.records, 14);
}
