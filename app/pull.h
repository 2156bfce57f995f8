/*
 * app/pull.h - download one file over HTTP(S) into the model cache, verified.
 *
 * The bytes go to DEST.part, which a later call resumes with a Range request;
 * the SHA-256 is computed while the bytes arrive and checked before DEST.part
 * is renamed to DEST, so DEST is either absent or complete and verified. A
 * wrong checksum removes DEST.part. Redirects are followed, HTTP errors fail,
 * and no download grows past the expected size or COVE_MAX_DOWNLOAD.
 *
 * Call cove_pull_global_init once before the first download (it sets up
 * libcurl and libsodium, which is not thread-safe) and cove_pull_global_cleanup
 * at the end.
 */
#ifndef COVE_APP_PULL_H
#define COVE_APP_PULL_H

#include "cove/status.h"

/* What to download. All strings are borrowed for the duration of the call. */
struct cove_pull_params {
    const char *url;         /* http:// or https:// */
    const char *dest;        /* final path; parent directories are created */
    const char *sha256;      /* expected digest (64 hex digits) or NULL: not checked */
    unsigned long long size; /* expected size in bytes, or 0 when unknown */
    const char *label;       /* name shown in the progress bar; NULL: dest */
    int progress;            /* 1: draw a progress bar on stderr */
};

struct cove_pull_params cove_pull_default_params(void);

/* What happened; filled on success and, where known, on failure. */
struct cove_pull_result {
    char sha256[65];                 /* lowercase hex digest of dest */
    unsigned long long bytes;        /* size of dest */
    unsigned long long resumed_from; /* bytes reused from an earlier DEST.part */
    int cached;      /* dest was already there (and matched): nothing was downloaded */
    int unreachable; /* on COVE_ERR_NETWORK: the host could not be resolved or reached */
    char host[256];  /* on failure: the host of the last URL tried */
};

cove_status cove_pull_global_init(cove_error *err);
void cove_pull_global_cleanup(void);

/*
 * Download p->url to p->dest unless dest already exists and matches p->size
 * and p->sha256 (without a digest an existing dest is kept as it is). Errors:
 * COVE_ERR_NETWORK (unreachable host, HTTP error, broken transfer: DEST.part
 * is kept for a resume), COVE_ERR_TIMEOUT, COVE_ERR_CHECKSUM (digest or size
 * wrong; DEST.part removed), COVE_ERR_LIMIT, COVE_ERR_IO, COVE_ERR_STATE
 * (another process is writing DEST.part), COVE_ERR_INVALID_ARG.
 */
cove_status cove_pull_file(const struct cove_pull_params *p, struct cove_pull_result *res,
                           cove_error *err);

/* SHA-256 of a file as 64 lowercase hex digits, streaming; *size gets its length. */
cove_status cove_pull_sha256_file(const char *path, char hex[65], unsigned long long *size,
                                  cove_error *err);

/* 1 when s is 64 hex digits (either case). */
int cove_pull_is_sha256(const char *s);

#endif
