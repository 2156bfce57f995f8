/*
 * audit/verify.c - check a whole log: syntax, seq, hash chain, Merkle roots and
 * checkpoint signatures, and name the first bad record. Also the plain reader.
 *
 * The log is read from memory (a mapping of the file) in one pass with one line of
 * look-ahead: when the chain breaks between records i-1 and i, the next link tells
 * which of the two was changed (see blame_chain).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit_int.h"
#include "base/alloc.h"
#include "base/limits.h"

enum key_mode { KEYS_UNKNOWN = 0, KEYS_SIGNED, KEYS_UNSIGNED };

struct span {
    const char *p;
    size_t len;    /* without the newline */
    bool complete; /* ended by a newline */
};

/* One parsed record; the strings belong to root. */
struct rec {
    json_t *root;
    uint64_t seq;
    const char *kind;
    unsigned char prev[COVE_AUDIT_HASH_BYTES];
    bool checkpoint;
};

struct vctx {
    const char *data;
    size_t len, off;
    uint64_t n;                                 /* records accepted */
    const unsigned char *pubkey;                /* given key or NULL */
    unsigned char key[COVE_AUDIT_PUBKEY_BYTES]; /* key of the checkpoints */
    enum key_mode mode;
    unsigned char prev[COVE_AUDIT_HASH_BYTES];  /* leaf hash of record n-1 (zeros) */
    unsigned char prev2[COVE_AUDIT_HASH_BYTES]; /* leaf hash of record n-2 (zeros) */
    struct audit_merkle tree;
    uint64_t checkpoints, covered, last_cp_line;
    bool last_final;
    bool blamed_back; /* the bad record is the one before the last accepted */
    struct cove_audit_report *rep;
};

/* The line starting at *off; advances *off past it. false at the end of the data. */
static bool next_line(const char *data, size_t len, size_t *off, struct span *s)
{
    if (*off >= len)
        return false;
    const char *p = data + *off;
    const char *nl = memchr(p, '\n', len - *off);
    s->p = p;
    s->complete = nl != NULL;
    s->len = nl ? (size_t)(nl - p) : len - *off;
    *off += s->len + (nl ? 1 : 0);
    return true;
}

static int get_hex_field(json_t *o, const char *name, unsigned char *out, size_t n)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) && json_string_length(v) == 2 * n &&
                   audit_unhex(json_string_value(v), out, n) == 0
               ? 0
               : -1;
}

/* Parse one line into r. On failure returns -1 with a reason; r->root is then NULL. */
static int parse_rec(const struct span *s, struct rec *r, char *why, size_t why_n)
{
    memset(r, 0, sizeof *r);
    if (s->len > COVE_AUDIT_MAX_RECORD) {
        snprintf(why, why_n, "record longer than %u bytes", COVE_AUDIT_MAX_RECORD);
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(s->p, s->len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        snprintf(why, why_n, "not a JSON object%s%.120s", o ? "" : ": ", o ? "" : je.text);
        json_decref(o);
        return -1;
    }
    json_t *seq = json_object_get(o, "seq"), *time = json_object_get(o, "time");
    json_t *kind = json_object_get(o, "kind");
    int64_t us;
    const char *bad = NULL;
    if (!json_is_integer(seq) || json_integer_value(seq) < 0)
        bad = "no valid \"seq\"";
    else if (!json_is_string(time) || cove_audit_time_parse(json_string_value(time), &us, NULL))
        bad = "no valid \"time\"";
    else if (!json_is_string(kind))
        bad = "no \"kind\"";
    else if (get_hex_field(o, "prev", r->prev, COVE_AUDIT_HASH_BYTES))
        bad = "no valid \"prev\" hash";
    if (bad) {
        snprintf(why, why_n, "%s", bad);
        json_decref(o);
        return -1;
    }
    r->root = o;
    r->seq = (uint64_t)json_integer_value(seq);
    r->kind = json_string_value(kind);
    r->checkpoint = strcmp(r->kind, "checkpoint") == 0;
    return 0;
}

/* Record the first problem: 1-based line, seq (-1 unknown) and reason. */
static cove_status fail(struct vctx *c, uint64_t line, int64_t seq, cove_error *err,
                        const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static cove_status fail(struct vctx *c, uint64_t line, int64_t seq, cove_error *err,
                        const char *fmt, ...)
{
    struct cove_audit_report *rep = c->rep;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->reason, sizeof rep->reason, fmt, ap);
    va_end(ap);
    rep->intact = false;
    rep->bad_line = line;
    rep->bad_seq = seq;
    if (seq >= 0)
        return cove_error_set(err, COVE_ERR_CHECKSUM, "line %llu (seq %lld): %s",
                              (unsigned long long)line, (long long)seq, rep->reason);
    return cove_error_set(err, COVE_ERR_CHECKSUM, "line %llu: %s", (unsigned long long)line,
                          rep->reason);
}

/* Check signature fields against the key policy. 0 or -1 with a reason. */
static int check_signature(struct vctx *c, json_t *o, uint64_t size, const char *root_hex,
                           bool final, char *why, size_t why_n)
{
    json_t *key = json_object_get(o, "key"), *sig = json_object_get(o, "sig");
    const char *time = json_string_value(json_object_get(o, "time"));
    if (json_is_null(key) && json_is_null(sig)) {
        if (c->pubkey || c->mode == KEYS_SIGNED) {
            snprintf(why, why_n, "unsigned checkpoint in a log that must be signed");
            return -1;
        }
        c->mode = KEYS_UNSIGNED;
        return 0;
    }
    unsigned char pk[COVE_AUDIT_PUBKEY_BYTES], sg[COVE_AUDIT_SIG_BYTES];
    if (get_hex_field(o, "key", pk, sizeof pk) || get_hex_field(o, "sig", sg, sizeof sg)) {
        snprintf(why, why_n, "checkpoint \"key\" or \"sig\" malformed");
        return -1;
    }
    const unsigned char *want = c->pubkey ? c->pubkey : (c->mode == KEYS_SIGNED ? c->key : NULL);
    if (c->mode == KEYS_UNSIGNED) {
        snprintf(why, why_n, "signed checkpoint in a log whose earlier checkpoints are unsigned");
        return -1;
    }
    if (want && memcmp(want, pk, sizeof pk) != 0) {
        char hex[COVE_AUDIT_HEX_LEN + 1];
        audit_hex(pk, sizeof pk, hex);
        snprintf(why, why_n, "checkpoint signed by key %.16s..., not the %s key", hex,
                 c->pubkey ? "given" : "log's");
        return -1;
    }
    char msg[AUDIT_MSG_MAX];
    size_t n = audit_checkpoint_message(msg, size, root_hex, time, final);
    if (n == 0 || crypto_sign_verify_detached(sg, (const unsigned char *)msg, n, pk) != 0) {
        snprintf(why, why_n, "checkpoint signature does not verify (forged or altered checkpoint)");
        return -1;
    }
    memcpy(c->key, pk, sizeof pk);
    c->mode = KEYS_SIGNED;
    return 0;
}

/* A checkpoint record at c->n: tree size, root, signature. */
static int check_checkpoint(struct vctx *c, json_t *o, char *why, size_t why_n)
{
    json_t *size = json_object_get(o, "tree_size"), *final = json_object_get(o, "final");
    unsigned char root[COVE_AUDIT_HASH_BYTES], want[COVE_AUDIT_HASH_BYTES];
    if (!json_is_integer(size) || !json_is_boolean(final) ||
        get_hex_field(o, "root", root, sizeof root)) {
        snprintf(why, why_n, "checkpoint without valid \"tree_size\", \"root\" or \"final\"");
        return -1;
    }
    if ((uint64_t)json_integer_value(size) != c->n) {
        snprintf(why, why_n, "checkpoint tree_size %lld, but %llu records precede it",
                 (long long)json_integer_value(size), (unsigned long long)c->n);
        return -1;
    }
    audit_merkle_root(&c->tree, want);
    if (memcmp(root, want, sizeof root) != 0) {
        snprintf(why, why_n,
                 "Merkle root does not match the records before it: a record after line %llu "
                 "was changed, inserted or removed",
                 (unsigned long long)c->last_cp_line);
        return -1;
    }
    char root_hex[COVE_AUDIT_HEX_LEN + 1];
    audit_hex(root, sizeof root, root_hex);
    return check_signature(c, o, c->n, root_hex, json_is_true(final), why, why_n);
}

/*
 * The prev of record i (line i+1) does not match the hash of record i-1. Either
 * record i-1 changed after it was written, or this record's prev did. If the next
 * link (i -> i+1) holds, record i is as written, so i-1 changed; if record i is the
 * last and a checkpoint whose root still covers record i-1 as written, record i
 * changed. Returns the index of the record to blame.
 */
static uint64_t blame_chain(struct vctx *c, const struct span *line, const struct rec *r)
{
    unsigned char h[COVE_AUDIT_HASH_BYTES];
    audit_leaf_hash(line->p, line->len, h);
    size_t off = c->off;
    struct span next;
    struct rec nr;
    char why[8];
    if (next_line(c->data, c->len, &off, &next)) {
        if (parse_rec(&next, &nr, why, sizeof why) != 0)
            return c->n - 1;
        bool holds = memcmp(nr.prev, h, sizeof h) == 0;
        json_decref(nr.root);
        return holds ? c->n - 1 : c->n;
    }
    if (!r->checkpoint)
        return c->n - 1;
    unsigned char root[COVE_AUDIT_HASH_BYTES], want[COVE_AUDIT_HASH_BYTES];
    audit_merkle_root(&c->tree, want);
    if (get_hex_field(r->root, "root", root, sizeof root) == 0 && memcmp(root, want, sizeof root) == 0)
        return c->n;
    return c->n - 1;
}

/* Check record r on line `line` (1-based). COVE_OK or the failure. */
static cove_status check_record(struct vctx *c, const struct span *s, struct rec *r,
                                uint64_t line, cove_error *err)
{
    char why[200];
    if (r->seq != c->n) {
        if (r->seq + 1 == c->n && c->n >= 1 && memcmp(r->prev, c->prev2, sizeof c->prev2) == 0) {
            c->blamed_back = true;
            return fail(c, line - 1, (int64_t)c->n - 1, err,
                        "record inserted: the record after it continues the chain from the one "
                        "before it");
        }
        if (r->seq < c->n)
            return fail(c, line, (int64_t)r->seq, err,
                        "seq %llu where %llu was expected: record inserted, duplicated or moved",
                        (unsigned long long)r->seq, (unsigned long long)c->n);
        return fail(c, line, (int64_t)r->seq, err,
                    "seq %llu where %llu was expected: record(s) before it deleted or moved",
                    (unsigned long long)r->seq, (unsigned long long)c->n);
    }
    if (memcmp(r->prev, c->prev, sizeof c->prev) != 0) {
        if (c->n == 0)
            return fail(c, line, 0, err, "first record does not start the chain (records before "
                                         "it were removed)");
        uint64_t who = blame_chain(c, s, r);
        c->blamed_back = who + 1 == c->n;
        if (c->blamed_back)
            return fail(c, line - 1, (int64_t)who, err,
                        "record changed after it was written: its hash does not match the prev "
                        "of the record after it");
        return fail(c, line, (int64_t)who, err,
                    "prev does not match the hash of the record before it (this record was "
                    "changed)");
    }
    if (r->checkpoint && check_checkpoint(c, r->root, why, sizeof why) != 0)
        return fail(c, line, (int64_t)r->seq, err, "%s", why);
    return COVE_OK;
}

/* Take record r (checked) into the chain and the tree. */
static void accept_record(struct vctx *c, const struct span *s, const struct rec *r, uint64_t line)
{
    memcpy(c->prev2, c->prev, sizeof c->prev);
    audit_leaf_hash(s->p, s->len, c->prev);
    if (r->checkpoint) {
        c->checkpoints++;
        c->covered = c->n;
        c->last_cp_line = line;
        c->last_final = json_is_true(json_object_get(r->root, "final"));
    } else {
        c->last_final = false;
    }
    audit_merkle_add(&c->tree, c->prev);
    c->n++;
}

static void fill_report(struct vctx *c)
{
    struct cove_audit_report *rep = c->rep;
    unsigned char root[COVE_AUDIT_HASH_BYTES];
    rep->records = c->n - (c->blamed_back ? 1 : 0);
    rep->checkpoints = c->checkpoints;
    rep->covered = c->covered;
    rep->closed = c->last_final;
    rep->is_signed = c->mode == KEYS_SIGNED;
    if (c->mode == KEYS_SIGNED)
        audit_hex(c->key, sizeof c->key, rep->key);
    audit_merkle_root(&c->tree, root);
    audit_hex(root, sizeof root, rep->root);
}

static cove_status verify_lines(struct vctx *c, unsigned flags, cove_error *err)
{
    struct span s;
    struct rec r;
    char why[200];
    uint64_t line = 0;
    while (next_line(c->data, c->len, &c->off, &s)) {
        line++;
        if (!s.complete)
            return fail(c, line, -1, err, "incomplete last line (cut in the middle of a record)");
        if (parse_rec(&s, &r, why, sizeof why) != 0)
            return fail(c, line, -1, err, "%s", why);
        cove_status st = check_record(c, &s, &r, line, err);
        if (st == COVE_OK)
            accept_record(c, &s, &r, line);
        json_decref(r.root);
        if (st != COVE_OK)
            return st;
    }
    if (!c->last_final && !(flags & COVE_AUDIT_VERIFY_ALLOW_OPEN)) {
        if (c->n == 0)
            return fail(c, 1, 0, err, "empty log: no closing checkpoint");
        return fail(c, line + 1, (int64_t)c->n, err,
                    "log ends without a closing checkpoint after line %llu: it was truncated, "
                    "or it is still being written", (unsigned long long)line);
    }
    return COVE_OK;
}

cove_status audit_verify_buf(const char *data, size_t len, const unsigned char *pubkey,
                             unsigned flags, struct cove_audit_report *rep,
                             struct audit_tail *tail, cove_error *err)
{
    struct vctx *c = cove_calloc(1, sizeof *c);
    memset(rep, 0, sizeof *rep);
    rep->bad_seq = -1;
    if (!c)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (sodium_init() < 0) {
        cove_free(c);
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium failed to initialise");
    }
    c->data = data;
    c->len = len;
    c->pubkey = pubkey;
    c->rep = rep;
    audit_merkle_init(&c->tree);
    cove_status s = verify_lines(c, flags, err);
    if (s == COVE_OK)
        rep->intact = true;
    fill_report(c);
    if (rep->intact)
        rep->bad_seq = -1;
    if (tail) {
        tail->n = c->n;
        memcpy(tail->prev, c->prev, sizeof tail->prev);
        tail->tree = c->tree;
        tail->checkpoints = c->checkpoints;
    }
    cove_free(c);
    return s;
}

cove_status cove_audit_verify_mem(const void *data, size_t len, const unsigned char *pubkey,
                                  unsigned flags, struct cove_audit_report *rep, cove_error *err)
{
    return audit_verify_buf(data, len, pubkey, flags, rep, NULL, err);
}

cove_status cove_audit_verify(const char *path, const unsigned char *pubkey, unsigned flags,
                              struct cove_audit_report *rep, cove_error *err)
{
    const char *data;
    size_t len;
    memset(rep, 0, sizeof *rep);
    rep->bad_seq = -1;
    cove_status s = audit_map(path, -1, &data, &len, err);
    if (s != COVE_OK)
        return s;
    s = audit_verify_buf(data, len, pubkey, flags, rep, NULL, err);
    audit_unmap(data, len);
    return s;
}

static const char *opt_string(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name)); /* NULL when absent or not a string */
}

/* Parse one line for the reader and hand it to fn. */
static cove_status read_one(const struct span *s, uint64_t line, cove_audit_record_fn fn,
                            void *user, cove_error *err)
{
    struct rec r;
    char why[200];
    if (!s->complete)
        return cove_error_set(err, COVE_ERR_FORMAT, "line %llu: incomplete last line",
                              (unsigned long long)line);
    if (parse_rec(s, &r, why, sizeof why) != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "line %llu: %s", (unsigned long long)line, why);
    struct cove_audit_record rec = {
        .line = line,
        .seq = r.seq,
        .time = opt_string(r.root, "time"),
        .kind = r.kind,
        .tenant = opt_string(r.root, "tenant"),
        .session = opt_string(r.root, "session"),
        .json = s->p,
        .json_len = s->len,
    };
    cove_audit_time_parse(rec.time, &rec.time_us, NULL);
    int stop = fn(&rec, user);
    json_decref(r.root);
    return stop ? COVE_ERR_CANCELLED : COVE_OK;
}

cove_status cove_audit_read(const char *path, cove_audit_record_fn fn, void *user,
                            cove_error *err)
{
    const char *data;
    size_t len, off = 0;
    cove_status s = audit_map(path, -1, &data, &len, err);
    if (s != COVE_OK)
        return s;
    struct span sp;
    uint64_t line = 0;
    while (s == COVE_OK && next_line(data, len, &off, &sp))
        s = read_one(&sp, ++line, fn, user, err);
    audit_unmap(data, len);
    return s;
}
