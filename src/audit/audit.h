/*
 * audit/audit.h - the tamper-evident audit log: typed events in, one JSON line out.
 *
 * A log is an append-only file of JSON lines. Each line is one record:
 *
 *   {"seq":7,"time":"2026-11-24T08:52:00.123456Z","kind":"tool_call","tenant":"t1",
 *    "session":"s9","tool":"read_file","args":"{\"path\":\"a.txt\"}","prev":"<64 hex>"}
 *
 * seq counts records from 0 (checkpoints included); time is RFC 3339 UTC; prev is the
 * RFC 6962 leaf hash of the line before (SHA-256(0x00 || line bytes without the
 * newline); 64 zeros for seq 0). The records are also the leaves of an RFC 6962
 * Merkle tree. Every `checkpoint_every` records, and when the log is closed, the
 * writer appends a checkpoint record that states the tree size (= its own seq), the
 * Merkle root of the records before it and an Ed25519 signature over both and the
 * time. docs/audit.md describes the format and what verification proves.
 *
 * Thread safety: one cove_audit_log may be shared by any number of threads;
 * cove_audit_append and cove_audit_checkpoint serialise on an internal lock.
 * A log file is held with an exclusive flock while open: a second writer, in this
 * or another process, gets COVE_ERR_STATE.
 *
 * Text policy and redaction are applied before anything is stored: with
 * COVE_AUDIT_TEXT_HASH, `text` and `args` are replaced by their SHA-256 and length;
 * with COVE_AUDIT_TEXT_STORE they are stored after every redaction pattern (POSIX
 * extended regex) has replaced its matches with the redaction mark.
 */
#ifndef COVE_AUDIT_AUDIT_H
#define COVE_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cove/status.h"

#define COVE_AUDIT_HASH_BYTES 32       /* SHA-256 */
#define COVE_AUDIT_HEX_LEN 64          /* hex digits of a SHA-256 (no terminator) */
#define COVE_AUDIT_PUBKEY_BYTES 32     /* Ed25519 public key */
#define COVE_AUDIT_SECKEY_BYTES 64     /* Ed25519 secret key (seed || public key) */
#define COVE_AUDIT_SIG_BYTES 64        /* Ed25519 signature */

/* ---------------------------------------------------------------- events */

/* What a record is about. The JSON name is the lower-case suffix ("tool_call"). */
enum cove_audit_kind {
    COVE_AUDIT_PROMPT = 0,       /* text: the user's prompt */
    COVE_AUDIT_MODEL_OUTPUT,     /* text: what the model produced in one step */
    COVE_AUDIT_TOOL_CALL,        /* tool, args: a tool call the agent made */
    COVE_AUDIT_TOOL_RESULT,      /* tool, result_digest (+ text, status): what it returned */
    COVE_AUDIT_POLICY,           /* decision, text (reason), tool: a policy decision */
    COVE_AUDIT_FINAL_ANSWER,     /* text: the answer given to the user */
    COVE_AUDIT_CHECKPOINT,       /* written by the log itself; not accepted by append */
    COVE_AUDIT_SESSION_START,    /* a session began (text: optional description) */
    COVE_AUDIT_SESSION_END,      /* a session ended */
    COVE_AUDIT_ERROR,            /* text: an error the run reported */
    COVE_AUDIT_NOTE,             /* text: anything else worth keeping */
    COVE_AUDIT_KIND_COUNT
};

/* JSON name of a kind ("prompt", ...); "unknown" for a value out of range. Never NULL. */
const char *cove_audit_kind_name(enum cove_audit_kind kind);

/* Parse a JSON kind name. Returns COVE_ERR_NOT_FOUND for an unknown name. */
cove_status cove_audit_kind_parse(const char *name, enum cove_audit_kind *out);

/*
 * One event to log. Every pointer is borrowed for the duration of the call and may
 * be NULL (the field is then left out of the record). Strings must be UTF-8 (invalid
 * bytes are stored as U+FFFD) and are bounded by COVE_AUDIT_MAX_FIELD (limits.h);
 * `text` and `args` longer than that are stored cut, with "text_len"/"args_len" the
 * full length and "text_sha256"/"args_sha256" the hash of the full (redacted) text.
 * Initialise with `struct cove_audit_event ev = {.kind = COVE_AUDIT_PROMPT, ...}`.
 */
struct cove_audit_event {
    enum cove_audit_kind kind;
    const char *tenant;        /* who the request is for */
    const char *session;       /* the agent session / conversation id */
    const char *tool;          /* tool name (tool_call, tool_result, policy) */
    const char *args;          /* tool arguments as JSON text (stored as a JSON string) */
    const char *result_digest; /* digest of a tool result, e.g. cove_audit_sha256_hex */
    const char *decision;      /* policy: "allow", "deny", ... */
    const char *model;         /* model name or file, where it matters */
    const char *text;          /* prompt, model output, answer, reason, error */
    int64_t status;            /* tool_result/error: a status code; stored when has_status */
    bool has_status;
};

/* ------------------------------------------------------------------ keys */

/*
 * Write a new Ed25519 key pair: PREFIX.pub (one line: 64 hex digits, mode 0644) and
 * PREFIX.key (one line: 128 hex digits, mode 0600, created exclusively). Refuses to
 * overwrite an existing PREFIX.key or PREFIX.pub (COVE_ERR_STATE). The secret key is
 * wiped from memory before return.
 */
cove_status cove_audit_keygen(const char *prefix, cove_error *err);

/* Read a public key file (64 hex digits, surrounding white space ignored) into pk. */
cove_status cove_audit_pubkey_load(const char *path, unsigned char pk[COVE_AUDIT_PUBKEY_BYTES],
                                   cove_error *err);

/*
 * Read a secret key file (128 hex digits) into sk. Refuses a file that group or others
 * may read (COVE_ERR_PERMISSION) so that a leaked key is not used silently. The caller
 * should wipe sk (sodium_memzero) when done.
 */
cove_status cove_audit_seckey_load(const char *path, unsigned char sk[COVE_AUDIT_SECKEY_BYTES],
                                   cove_error *err);

/* Parse 64 hex digits (a public key as printed by the log and `cove keygen`). */
cove_status cove_audit_pubkey_parse(const char *hex, unsigned char pk[COVE_AUDIT_PUBKEY_BYTES],
                                    cove_error *err);

/* SHA-256 of len bytes at data as 64 lower-case hex digits plus NUL into out. */
void cove_audit_sha256_hex(const void *data, size_t len, char out[COVE_AUDIT_HEX_LEN + 1]);

/* -------------------------------------------------------------- the log */

enum cove_audit_fsync {
    COVE_AUDIT_FSYNC_CHECKPOINT = 0, /* fdatasync after each checkpoint (default) */
    COVE_AUDIT_FSYNC_RECORD,         /* fdatasync after every record */
    COVE_AUDIT_FSYNC_NEVER           /* leave it to the OS */
};

enum cove_audit_text_mode {
    COVE_AUDIT_TEXT_STORE = 0, /* store text and args (after redaction) */
    COVE_AUDIT_TEXT_HASH       /* store only SHA-256 and length of text and args */
};

/*
 * How to open a log. Get defaults from cove_audit_default_params(). Pointers are
 * borrowed for the duration of cove_audit_create only (the log copies what it keeps).
 */
struct cove_audit_params {
    const char *path;                  /* the log file; created (mode 0600) if missing */
    const char *key_path;              /* secret key file signing checkpoints, or NULL */
    const unsigned char *secret_key;   /* or the key itself (64 bytes); wins over key_path */
    uint32_t checkpoint_every;         /* records between checkpoints; 0: only at close.
                                          Default 1000 */
    enum cove_audit_fsync fsync;       /* default COVE_AUDIT_FSYNC_CHECKPOINT */
    enum cove_audit_text_mode text_mode; /* default COVE_AUDIT_TEXT_STORE */
    const char *const *redact;         /* POSIX extended regexes, applied in order */
    size_t n_redact;                   /* at most COVE_AUDIT_MAX_REDACT */
    const char *redact_mark;           /* replacement text; NULL: "[REDACTED]" */
};

/* Defaults as documented on each field; path NULL, no key, no redaction. */
struct cove_audit_params cove_audit_default_params(void);

typedef struct cove_audit_log cove_audit_log;

/*
 * Open (create or continue) the log at p->path. An existing non-empty log is
 * verified first, all of it, with the public half of the given key (or, with no
 * key, for internal consistency): a log that fails verification, ends in a partial
 * line, or whose checkpoints were signed by another key is refused
 * (COVE_ERR_CHECKSUM / COVE_ERR_FORMAT / COVE_ERR_STATE) and left untouched. New
 * records then continue its seq, chain and Merkle tree.
 * Without a key, checkpoints are written unsigned (verification then proves
 * consistency only; see docs/audit.md). A bad regex gives COVE_ERR_INVALID_ARG.
 * On success *out is a new handle the caller frees with cove_audit_close or
 * cove_audit_free; on failure *out is NULL.
 */
cove_status cove_audit_create(const struct cove_audit_params *p, cove_audit_log **out,
                              cove_error *err);

/*
 * Append one event. On success *seq_out (may be NULL) receives its seq. When the
 * record completes a checkpoint interval a checkpoint is appended as well. The
 * record is written with one write(2) call; fsync follows the policy. Errors:
 * COVE_ERR_INVALID_ARG (kind checkpoint or out of range), COVE_ERR_LIMIT (record
 * past COVE_AUDIT_MAX_RECORD), COVE_ERR_IO (write failed: the log then refuses
 * further appends with COVE_ERR_STATE, since its tail is no longer known).
 */
cove_status cove_audit_append(cove_audit_log *log, const struct cove_audit_event *ev,
                              uint64_t *seq_out, cove_error *err);

/* Append a checkpoint now (not final) and fdatasync unless the policy is NEVER. */
cove_status cove_audit_checkpoint(cove_audit_log *log, cove_error *err);

/* Number of records in the log so far (the seq the next record gets); 0 for NULL. */
uint64_t cove_audit_size(cove_audit_log *log);

/* The log's public key as 64 hex digits + NUL into out; returns false (out "") if unsigned. */
bool cove_audit_pubkey_hex(const cove_audit_log *log, char out[COVE_AUDIT_HEX_LEN + 1]);

/*
 * Append the closing checkpoint, fdatasync (unless the policy is NEVER), close the
 * file and free the handle, even when writing fails (the error is then returned; a
 * log whose earlier write failed is closed without a checkpoint and gives
 * COVE_ERR_STATE). log may be NULL (returns COVE_OK).
 */
cove_status cove_audit_close(cove_audit_log *log, cove_error *err);

/* cove_audit_close, ignoring errors. NULL is a no-op. */
void cove_audit_free(cove_audit_log *log);

/*
 * The log a command was asked for: `path` (from --audit FILE), else $COVE_AUDIT_LOG;
 * the secret key from base->key_path, else $COVE_AUDIT_KEY. When neither names a log
 * *out is NULL and COVE_OK is returned (logging is off). base may be NULL (defaults).
 */
cove_status cove_audit_create_from_env(const char *path, const struct cove_audit_params *base,
                                       cove_audit_log **out, cove_error *err);

/* ---------------------------------------------------------- verification */

/* Accept a log that does not end with a closing checkpoint (one still being written). */
#define COVE_AUDIT_VERIFY_ALLOW_OPEN 1u

/* What cove_audit_verify found. Caller-owned, no heap memory. */
struct cove_audit_report {
    bool intact;                 /* no problem found */
    uint64_t records;            /* records read and valid before the first problem */
    uint64_t checkpoints;        /* valid checkpoints among them */
    bool is_signed;              /* every checkpoint carries a valid signature */
    bool closed;                 /* the log ends with a closing (final) checkpoint */
    uint64_t covered;            /* records covered by the last valid checkpoint */
    uint64_t bad_line;           /* 1-based line of the first bad record; 0 when intact */
    int64_t bad_seq;             /* its seq (-1 when unreadable) */
    char reason[256];            /* why it is bad; "" when intact */
    char root[COVE_AUDIT_HEX_LEN + 1]; /* Merkle root of the valid records */
    char key[COVE_AUDIT_HEX_LEN + 1];  /* public key of the checkpoints; "" if unsigned */
};

/*
 * Verify the log at path. pubkey (32 bytes) is the key the checkpoints must be
 * signed with; with NULL, the key in the first checkpoint is taken and the log is
 * checked for consistency only (anyone could have made a consistent log with a key
 * of their own). Returns COVE_OK with rep->intact true for an intact log;
 * COVE_ERR_CHECKSUM with rep naming the first bad record (line, seq, reason) on any
 * problem; COVE_ERR_IO / COVE_ERR_NOMEM when the check could not run (rep->intact
 * false, bad_line 0). A log that does not end with a closing checkpoint is bad
 * unless flags has COVE_AUDIT_VERIFY_ALLOW_OPEN.
 */
cove_status cove_audit_verify(const char *path, const unsigned char *pubkey, unsigned flags,
                              struct cove_audit_report *rep, cove_error *err);

/* As cove_audit_verify on len bytes in memory (data borrowed). */
cove_status cove_audit_verify_mem(const void *data, size_t len, const unsigned char *pubkey,
                                  unsigned flags, struct cove_audit_report *rep, cove_error *err);

/* ------------------------------------------------------------- reading */

/* One record as cove_audit_read hands it out; every pointer valid during the callback. */
struct cove_audit_record {
    uint64_t line;        /* 1-based line number */
    uint64_t seq;
    int64_t time_us;      /* microseconds since the epoch */
    const char *time;     /* as written */
    const char *kind;     /* JSON name, e.g. "tool_call" */
    const char *tenant;   /* NULL when absent */
    const char *session;  /* NULL when absent */
    const char *json;     /* the whole line, without the newline */
    size_t json_len;
};

/* Return non-zero to stop reading (cove_audit_read then returns COVE_ERR_CANCELLED). */
typedef int (*cove_audit_record_fn)(const struct cove_audit_record *rec, void *user);

/*
 * Call fn for each record of the log at path, in order. Does not verify hashes (use
 * cove_audit_verify); a line that is not a record gives COVE_ERR_FORMAT naming it.
 */
cove_status cove_audit_read(const char *path, cove_audit_record_fn fn, void *user,
                            cove_error *err);

/*
 * Parse an RFC 3339 time ("2026-11-24T08:52:00Z", "...00.5+01:00") or a date
 * ("2026-11-24", midnight UTC) into microseconds since the epoch.
 */
cove_status cove_audit_time_parse(const char *s, int64_t *us_out, cove_error *err);

#endif
