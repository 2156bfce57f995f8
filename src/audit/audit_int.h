/*
 * audit/audit_int.h - private pieces shared by the audit module's files.
 */
#ifndef COVE_AUDIT_AUDIT_INT_H
#define COVE_AUDIT_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

/*
 * The RFC 6962 Merkle tree of n leaves kept as its "frontier": node[k] is the root
 * of a perfect subtree of 2^k leaves, valid when bit k of n is set. Appending a leaf
 * is a binary carry; the root folds the valid nodes from the smallest up, which is
 * exactly MTH's split at the largest power of two below n.
 */
struct audit_merkle {
    uint64_t n;
    unsigned char node[64][COVE_AUDIT_HASH_BYTES];
};

void audit_merkle_init(struct audit_merkle *m);
void audit_merkle_add(struct audit_merkle *m, const unsigned char leaf[COVE_AUDIT_HASH_BYTES]);
/* MTH of the leaves so far; SHA-256 of nothing for n == 0. */
void audit_merkle_root(const struct audit_merkle *m, unsigned char out[COVE_AUDIT_HASH_BYTES]);

/* SHA-256(0x00 || len bytes at data). */
void audit_leaf_hash(const void *data, size_t len, unsigned char out[COVE_AUDIT_HASH_BYTES]);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void audit_hex(const unsigned char *in, size_t n, char *out);
/* Parse exactly 2n lower- or upper-case hex digits (s NUL-terminated). 0 or -1. */
int audit_unhex(const char *s, unsigned char *out, size_t n);

/*
 * The bytes a checkpoint signature covers: a fixed tag, the tree size, the root
 * (hex), the checkpoint's time and whether it is final, one per line.
 */
#define AUDIT_MSG_MAX 256
/* Returns the message length, or 0 when it does not fit (a time string far too long). */
size_t audit_checkpoint_message(char out[AUDIT_MSG_MAX], uint64_t size, const char *root_hex,
                                const char *time, bool final);

/* Now as "YYYY-MM-DDThh:mm:ss.uuuuuuZ" (28 bytes + NUL). */
void audit_time_now(char out[32]);

/* Where a verified log ends: what a writer needs to continue it. */
struct audit_tail {
    uint64_t n;                                /* records */
    unsigned char prev[COVE_AUDIT_HASH_BYTES]; /* leaf hash of the last record */
    struct audit_merkle tree;
    uint64_t checkpoints;
};

/* cove_audit_verify_mem that also returns the tail (may be NULL). */
cove_status audit_verify_buf(const char *data, size_t len, const unsigned char *pubkey,
                             unsigned flags, struct cove_audit_report *rep,
                             struct audit_tail *tail, cove_error *err);

/* Read a whole small file (at most max bytes) into a NUL-terminated cove_malloc'd buffer. */
cove_status audit_read_file(const char *path, size_t max, char **out, size_t *len,
                            cove_error *err);

/*
 * Map a file read-only (data NULL, len 0 for an empty file). Release with
 * audit_unmap. fd >= 0: map that descriptor instead of opening path.
 */
cove_status audit_map(const char *path, int fd, const char **data, size_t *len, cove_error *err);
void audit_unmap(const char *data, size_t len);

#endif
