/*
 * bench/bench_audit.c - audit-log appends per second under each fsync policy, and
 * verification speed.
 *
 *     bench_audit [--dir DIR] [--n N] [--n-sync M] [--threads T]
 *
 * Each row appends records (a prompt of about 200 bytes, tenant and session; signed
 * checkpoints every 1000 records) to a fresh log in DIR (default $TMPDIR or /tmp),
 * from 1 thread and from T threads (default 4), and prints appends/s. fsync "record"
 * rows write M records (default 2000; fdatasync per record is bound by the disk),
 * the other rows N (default 200000). The last rows verify the largest log written.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"

struct bench_cfg {
    const char *dir;
    long n, n_sync;
    int threads;
    char key[1024];
};

struct worker {
    cove_audit_log *log;
    long n;
    int id, failures;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *work(void *p)
{
    struct worker *w = p;
    char text[256], session[32];
    snprintf(session, sizeof session, "session-%d", w->id);
    for (long i = 0; i < w->n; i++) {
        snprintf(text, sizeof text,
                 "Question %ld from thread %d: what does the discharge letter say about the "
                 "dose of the medication, and which follow-up appointments are planned for "
                 "the patient in the next weeks?", i, w->id);
        struct cove_audit_event ev = {.kind = COVE_AUDIT_PROMPT, .tenant = "clinic-north",
                                      .session = session, .text = text};
        if (cove_audit_append(w->log, &ev, NULL, NULL) != COVE_OK)
            w->failures++;
    }
    return NULL;
}

/* Append n records from `threads` threads; returns appends/s or -1. */
static double run_case(const struct bench_cfg *c, const char *path, enum cove_audit_fsync fs,
                       const char *const *redact, size_t n_redact, long n, int threads)
{
    unlink(path);
    struct cove_audit_params p = cove_audit_default_params();
    p.path = path;
    p.key_path = c->key;
    p.fsync = fs;
    p.redact = redact;
    p.n_redact = n_redact;
    cove_audit_log *log;
    cove_error err = {0};
    if (cove_audit_create(&p, &log, &err) != COVE_OK) {
        fprintf(stderr, "bench_audit: %s\n", cove_error_msg(&err));
        return -1;
    }
    pthread_t th[64];
    struct worker w[64];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){.log = log, .n = n / threads, .id = i};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    cove_audit_close(log, NULL);
    double dt = now_s() - t0;
    return failures ? -1 : (double)(n / threads * threads) / dt;
}

static int parse_args(int argc, char **argv, struct bench_cfg *c)
{
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--dir") == 0 && v)
            c->dir = argv[++i];
        else if (strcmp(argv[i], "--n") == 0 && v)
            c->n = atol(argv[++i]);
        else if (strcmp(argv[i], "--n-sync") == 0 && v)
            c->n_sync = atol(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && v)
            c->threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_audit [--dir DIR] [--n N] [--n-sync M] [--threads T]\n");
            return -1;
        }
    }
    if (c->n < 1 || c->n_sync < 1 || c->threads < 1 || c->threads > 64)
        return -1;
    return 0;
}

static void verify_rows(const char *path)
{
    struct stat st;
    struct cove_audit_report rep;
    double t0 = now_s();
    cove_status s = cove_audit_verify(path, NULL, 0, &rep, NULL);
    double dt = now_s() - t0;
    if (s != COVE_OK || stat(path, &st) != 0) {
        fprintf(stderr, "bench_audit: verify failed: %s\n", rep.reason);
        return;
    }
    printf("| verify (whole log) | %llu records, %.1f MB | %.0f records/s | %.1f MB/s |\n",
           (unsigned long long)rep.records, (double)st.st_size / 1e6, (double)rep.records / dt,
           (double)st.st_size / 1e6 / dt);
}

int main(int argc, char **argv)
{
    struct bench_cfg c = {.dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", .n = 200000,
                          .n_sync = 2000, .threads = 4};
    if (parse_args(argc, argv, &c) != 0)
        return 2;
    char prefix[900], path[1024];
    snprintf(prefix, sizeof prefix, "%s/bench_audit_%d", c.dir, (int)getpid());
    snprintf(c.key, sizeof c.key, "%s.key", prefix);
    snprintf(path, sizeof path, "%s.log", prefix);
    if (cove_audit_keygen(prefix, NULL) != COVE_OK) {
        fprintf(stderr, "bench_audit: cannot write keys under %s\n", c.dir);
        return 1;
    }
    static const char *const names[] = {"never", "checkpoint (every 1000)", "record"};
    static const enum cove_audit_fsync pol[] = {COVE_AUDIT_FSYNC_NEVER, COVE_AUDIT_FSYNC_CHECKPOINT,
                                                COVE_AUDIT_FSYNC_RECORD};
    const char *redact[] = {"MRN-[0-9]{6}", "[0-9]{4}-[0-9]{4}-[0-9]{4}"};
    printf("| fsync | threads | records | appends/s |\n|---|---:|---:|---:|\n");
    for (int k = 0; k < 3; k++) {
        long n = pol[k] == COVE_AUDIT_FSYNC_RECORD ? c.n_sync : c.n;
        int tcounts[2] = {1, c.threads};
        for (int t = 0; t < (c.threads > 1 ? 2 : 1); t++)
            printf("| %s | %d | %ld | %.0f |\n", names[k], tcounts[t], n,
                   run_case(&c, path, pol[k], NULL, 0, n, tcounts[t]));
    }
    printf("| never, 2 redaction patterns | 1 | %ld | %.0f |\n", c.n,
           run_case(&c, path, COVE_AUDIT_FSYNC_NEVER, redact, 2, c.n, 1));
    printf("\n| check | size | speed | |\n|---|---|---:|---:|\n");
    run_case(&c, path, COVE_AUDIT_FSYNC_NEVER, NULL, 0, c.n, 1);
    verify_rows(path);
    unlink(path);
    unlink(c.key);
    snprintf(path, sizeof path, "%s.pub", prefix);
    unlink(path);
    return 0;
}
