/*
 * app/pull.h - download one file over HTTP(S) into the model cache, verified.
 *
 * The bytes go to DEST.part, which a later call resumes with a Range request;
 * the SHA-256 is computed while the bytes arrive and checked before DEST.part
 * is renamed to DEST, so DEST is either absent or complete and verified. A
 * wrong checksum removes DEST.part. Redirects are followed, HTTP errors fail,
 * and no download grows past the expected size or COVE_MAX_DOWNLOAD.
 *
 * A model that the catalogue lists as "built" is not downloaded as a GGUF:
 * its source files are, and cove_pull_build converts them in-process (the
 * convert module) into DEST.part, checks that file's size and SHA-256 against
 * the catalogue and renames it to DEST, with the same guarantee.
 *
 * Call cove_pull_global_init once before the first download (it sets up
 * libcurl and libsodium, which is not thread-safe) and cove_pull_global_cleanup
 * at the end.
 */
#ifndef COVE_APP_PULL_H
#define COVE_APP_PULL_H

#include "convert/convert.h"
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

/*
 * Is p->dest already in place: a file of p->size bytes (when p->size is set)
 * whose SHA-256 is p->sha256 (when set)? Sets res->cached, and res->sha256 and
 * res->bytes when the file was hashed. A missing file is COVE_OK with cached 0;
 * a wrong one is logged and also answers cached 0. Errors: COVE_ERR_IO,
 * COVE_ERR_INVALID_ARG (dest exists and is not a regular file), COVE_ERR_NOMEM.
 */
cove_status cove_pull_cached(const struct cove_pull_params *p, struct cove_pull_result *res,
                             cove_error *err);

/* What to build: a Hugging Face model directory converted into one GGUF file. */
struct cove_pull_build_params {
    const char *src_dir;         /* the model directory (borrowed) */
    const char *dest;            /* final path (borrowed); written as DEST.part, then renamed */
    const char *sha256;          /* expected digest of the result (64 hex digits), or NULL */
    unsigned long long size;     /* expected size of the result, or 0 */
    cove_convert_params convert; /* how to convert (its strings borrowed for the call) */
    const char *label;           /* name shown in the progress line; NULL: dest */
    int progress;                /* 1: show the conversion's progress on stderr */
};

/*
 * Convert p->src_dir into p->dest unless dest is already in place (as
 * cove_pull_cached says). The result is checked against p->size and p->sha256
 * before it is renamed to dest; a wrong result is removed and the call fails
 * with COVE_ERR_CHECKSUM (the catalogue and this cove's converter disagree).
 * Other errors: those of cove_convert_hf (a source file missing or malformed),
 * COVE_ERR_IO, COVE_ERR_LIMIT, COVE_ERR_INVALID_ARG. res as for cove_pull_file
 * (resumed_from and host unused).
 */
cove_status cove_pull_build(const struct cove_pull_build_params *p, struct cove_pull_result *res,
                            cove_error *err);

/* SHA-256 of a file as 64 lowercase hex digits, streaming; *size gets its length. */
cove_status cove_pull_sha256_file(const char *path, char hex[65], unsigned long long *size,
                                  cove_error *err);

/* 1 when s is 64 hex digits (either case). */
int cove_pull_is_sha256(const char *s);

#endif
