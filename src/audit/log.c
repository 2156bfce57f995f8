/*
 * audit/log.c - the writer: open or continue a log, append records, checkpoints, close.
 *
 * Invariant while the handle is usable (not broken): the file holds exactly `seq`
 * complete records, `prev` is the leaf hash of the last one and `tree` their Merkle
 * frontier. Everything that changes them happens under `mu`.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_int.h"
#include "audit/record_int.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"

struct cove_audit_log {
    pthread_mutex_t mu;
    int fd;
    char *path;
    uint64_t seq;                              /* records in the file */
    unsigned char prev[COVE_AUDIT_HASH_BYTES]; /* leaf hash of the last record */
    struct audit_merkle tree;
    uint32_t every, since_checkpoint;
    enum cove_audit_fsync fsync;
    bool has_key, broken;
    unsigned char sk[COVE_AUDIT_SECKEY_BYTES];
    unsigned char pk[COVE_AUDIT_PUBKEY_BYTES];
    struct audit_policy pol;
    struct cove_buf line; /* the record being written (under mu) */
};

struct cove_audit_params cove_audit_default_params(void)
{
    struct cove_audit_params p = {0};
    p.checkpoint_every = 1000;
    p.fsync = COVE_AUDIT_FSYNC_CHECKPOINT;
    p.text_mode = COVE_AUDIT_TEXT_STORE;
    return p;
}

/* Write the whole line (log->line + '\n' already in it) and account for it. Under mu. */
static cove_status emit_line(cove_audit_log *log, bool sync, cove_error *err)
{
    const char *p = log->line.data;
    size_t left = log->line.len;
    while (left > 0) {
        ssize_t w = write(log->fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log->broken = true;
            return cove_error_set(err, COVE_ERR_IO, "audit: write to %s failed: %s", log->path,
                                  w < 0 ? strerror(errno) : "no progress");
        }
        p += w;
        left -= (size_t)w;
    }
    audit_leaf_hash(log->line.data, log->line.len - 1, log->prev);
    audit_merkle_add(&log->tree, log->prev);
    log->seq++;
    if (sync && fdatasync(log->fd) != 0) {
        log->broken = true;
        return cove_error_set(err, COVE_ERR_IO, "audit: fdatasync %s: %s", log->path,
                              strerror(errno));
    }
    return COVE_OK;
}

/* Start log->line with {"seq":N,"time":"T" and hand the time back. Under mu. */
static cove_status begin_line(cove_audit_log *log, char time[32])
{
    audit_time_now(time);
    cove_buf_reset(&log->line);
    return cove_buf_appendf(&log->line, "{\"seq\":%llu,\"time\":\"%s\"",
                            (unsigned long long)log->seq, time);
}

static cove_status end_line(cove_audit_log *log)
{
    char hex[COVE_AUDIT_HEX_LEN + 1];
    audit_hex(log->prev, sizeof log->prev, hex);
    return cove_buf_appendf(&log->line, ",\"prev\":\"%s\"}\n", hex);
}

/* Append a checkpoint over every record so far. Under mu. */
static cove_status write_checkpoint(cove_audit_log *log, bool final, cove_error *err)
{
    unsigned char root[COVE_AUDIT_HASH_BYTES], sig[COVE_AUDIT_SIG_BYTES];
    char root_hex[COVE_AUDIT_HEX_LEN + 1], time[32], key_hex[COVE_AUDIT_HEX_LEN + 1];
    char sig_hex[2 * COVE_AUDIT_SIG_BYTES + 1];
    audit_merkle_root(&log->tree, root);
    audit_hex(root, sizeof root, root_hex);
    cove_status s = begin_line(log, time);
    if (s == COVE_OK)
        s = cove_buf_appendf(&log->line,
                             ",\"kind\":\"checkpoint\",\"tree_size\":%llu,\"root\":\"%s\",\"final\":%s",
                             (unsigned long long)log->seq, root_hex, final ? "true" : "false");
    if (s == COVE_OK && log->has_key) {
        char msg[AUDIT_MSG_MAX];
        size_t n = audit_checkpoint_message(msg, log->seq, root_hex, time, final);
        crypto_sign_detached(sig, NULL, (const unsigned char *)msg, n, log->sk);
        audit_hex(log->pk, sizeof log->pk, key_hex);
        audit_hex(sig, sizeof sig, sig_hex);
        if (s == COVE_OK)
            s = cove_buf_appendf(&log->line, ",\"key\":\"%s\",\"sig\":\"%s\"", key_hex, sig_hex);
    } else if (s == COVE_OK) {
        s = cove_buf_append_str(&log->line, ",\"key\":null,\"sig\":null");
    }
    if (s == COVE_OK)
        s = end_line(log);
    if (s != COVE_OK)
        return cove_error_set(err, s, "audit: cannot format a checkpoint");
    log->since_checkpoint = 0;
    return emit_line(log, log->fsync != COVE_AUDIT_FSYNC_NEVER, err);
}

cove_status cove_audit_append(cove_audit_log *log, const struct cove_audit_event *ev,
                              uint64_t *seq_out, cove_error *err)
{
    if (!log)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "audit: no log");
    struct cove_buf body;
    cove_buf_init(&body, COVE_AUDIT_MAX_RECORD - 256);
    cove_status s = audit_event_body(&log->pol, ev, &body, err); /* outside the lock */
    if (s != COVE_OK) {
        cove_buf_release(&body);
        return s;
    }
    char time[32];
    pthread_mutex_lock(&log->mu);
    if (log->broken) {
        s = cove_error_set(err, COVE_ERR_STATE, "audit: %s failed earlier; not appending",
                           log->path);
        goto out;
    }
    s = begin_line(log, time);
    if (s == COVE_OK)
        s = cove_buf_append(&log->line, body.data, body.len);
    if (s == COVE_OK)
        s = end_line(log);
    if (s != COVE_OK) {
        cove_error_set(err, s, "audit: record larger than %u bytes", COVE_AUDIT_MAX_RECORD);
        goto out;
    }
    if (seq_out)
        *seq_out = log->seq;
    s = emit_line(log, log->fsync == COVE_AUDIT_FSYNC_RECORD, err);
    if (s == COVE_OK && log->every && ++log->since_checkpoint >= log->every)
        s = write_checkpoint(log, false, err);
out:
    pthread_mutex_unlock(&log->mu);
    cove_buf_release(&body);
    return s;
}

cove_status cove_audit_checkpoint(cove_audit_log *log, cove_error *err)
{
    if (!log)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "audit: no log");
    pthread_mutex_lock(&log->mu);
    cove_status s = log->broken ? cove_error_set(err, COVE_ERR_STATE, "audit: %s failed earlier",
                                                 log->path)
                                : write_checkpoint(log, false, err);
    pthread_mutex_unlock(&log->mu);
    return s;
}

uint64_t cove_audit_size(cove_audit_log *log)
{
    if (!log)
        return 0;
    pthread_mutex_lock(&log->mu);
    uint64_t n = log->seq;
    pthread_mutex_unlock(&log->mu);
    return n;
}

bool cove_audit_pubkey_hex(const cove_audit_log *log, char out[COVE_AUDIT_HEX_LEN + 1])
{
    out[0] = '\0';
    if (!log || !log->has_key)
        return false;
    audit_hex(log->pk, sizeof log->pk, out);
    return true;
}

static void log_destroy(cove_audit_log *log)
{
    if (log->fd >= 0)
        close(log->fd);
    sodium_memzero(log->sk, sizeof log->sk);
    audit_policy_release(&log->pol);
    cove_buf_release(&log->line);
    pthread_mutex_destroy(&log->mu);
    cove_free(log->path);
    cove_free(log);
}

cove_status cove_audit_close(cove_audit_log *log, cove_error *err)
{
    if (!log)
        return COVE_OK;
    cove_status s = COVE_OK;
    pthread_mutex_lock(&log->mu);
    if (!log->broken)
        s = write_checkpoint(log, true, err);
    else
        s = cove_error_set(err, COVE_ERR_STATE,
                           "audit: %s failed earlier; closed without a closing checkpoint",
                           log->path);
    pthread_mutex_unlock(&log->mu);
    log_destroy(log);
    return s;
}

void cove_audit_free(cove_audit_log *log)
{
    cove_audit_close(log, NULL);
}

/* Take the signing key from p (raw key or key file). */
static cove_status load_key(cove_audit_log *log, const struct cove_audit_params *p,
                            cove_error *err)
{
    if (p->secret_key) {
        memcpy(log->sk, p->secret_key, sizeof log->sk);
    } else if (p->key_path) {
        cove_status s = cove_audit_seckey_load(p->key_path, log->sk, err);
        if (s != COVE_OK)
            return s;
    } else {
        return COVE_OK;
    }
    crypto_sign_ed25519_sk_to_pk(log->pk, log->sk);
    log->has_key = true;
    return COVE_OK;
}

/* Verify what the file holds and take over its tail. The file is locked. */
static cove_status continue_log(cove_audit_log *log, cove_error *err)
{
    const char *data;
    size_t len;
    cove_status s = audit_map(log->path, log->fd, &data, &len, err);
    if (s != COVE_OK || len == 0)
        return s;
    struct cove_audit_report rep;
    struct audit_tail tail;
    s = audit_verify_buf(data, len, NULL, COVE_AUDIT_VERIFY_ALLOW_OPEN, &rep, &tail, err);
    audit_unmap(data, len);
    if (s == COVE_ERR_CHECKSUM)
        return cove_error_set(err, s, "audit: %s does not verify (line %llu: %s); not continuing it",
                              log->path, (unsigned long long)rep.bad_line, rep.reason);
    if (s != COVE_OK)
        return s;
    char own[COVE_AUDIT_HEX_LEN + 1];
    cove_audit_pubkey_hex(log, own);
    if (rep.checkpoints > 0 && strcmp(own, rep.key) != 0) {
        if (rep.key[0])
            return cove_error_set(err, COVE_ERR_STATE,
                                  "audit: %s is signed by key %.16s...; open it with that key",
                                  log->path, rep.key);
        return cove_error_set(err, COVE_ERR_STATE,
                              "audit: %s was written without a key; open it without one",
                              log->path);
    }
    log->seq = tail.n;
    memcpy(log->prev, tail.prev, sizeof log->prev);
    log->tree = tail.tree;
    return COVE_OK;
}

static cove_status open_file(cove_audit_log *log, cove_error *err)
{
    log->fd = open(log->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log->fd < 0)
        return cove_error_set(err, COVE_ERR_IO, "audit: %s: %s", log->path, strerror(errno));
    if (flock(log->fd, LOCK_EX | LOCK_NB) != 0)
        return cove_error_set(err, COVE_ERR_STATE, "audit: %s is open in another writer",
                              log->path);
    return continue_log(log, err);
}

cove_status cove_audit_create(const struct cove_audit_params *p, cove_audit_log **out,
                              cove_error *err)
{
    *out = NULL;
    if (!p || !p->path || !*p->path || strlen(p->path) >= COVE_MAX_PATH)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "audit: no log path");
    if ((unsigned)p->fsync > COVE_AUDIT_FSYNC_NEVER || (unsigned)p->text_mode > COVE_AUDIT_TEXT_HASH)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "audit: bad fsync or text mode");
    if (sodium_init() < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium failed to initialise");
    cove_audit_log *log = cove_calloc(1, sizeof *log);
    if (!log)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    log->fd = -1;
    pthread_mutex_init(&log->mu, NULL);
    cove_buf_init(&log->line, COVE_AUDIT_MAX_RECORD);
    audit_merkle_init(&log->tree);
    log->every = p->checkpoint_every;
    log->fsync = p->fsync;
    log->path = cove_strdup(p->path);
    cove_status s = log->path ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (s == COVE_OK)
        s = audit_policy_init(&log->pol, p, err);
    if (s == COVE_OK)
        s = load_key(log, p, err);
    if (s == COVE_OK)
        s = open_file(log, err);
    if (s != COVE_OK) {
        log_destroy(log);
        return s;
    }
    *out = log;
    return COVE_OK;
}

cove_status cove_audit_create_from_env(const char *path, const struct cove_audit_params *base,
                                       cove_audit_log **out, cove_error *err)
{
    *out = NULL;
    struct cove_audit_params p = base ? *base : cove_audit_default_params();
    if (!path || !*path)
        path = getenv("COVE_AUDIT_LOG");
    if (!path || !*path)
        return COVE_OK;
    p.path = path;
    if (!p.key_path && !p.secret_key) {
        const char *k = getenv("COVE_AUDIT_KEY");
        if (k && *k)
            p.key_path = k;
    }
    return cove_audit_create(&p, out, err);
}
