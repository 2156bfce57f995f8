/*
 * audit/sign.h - signed manifests for tool plugins and models.
 *
 * A manifest is a JSON object describing one file:
 *
 *   {"name":"pdf-reader","version":"1.2.0","kind":"plugin","file":"pdf-reader.so",
 *    "sha256":"<64 hex>","schema":{...},"permissions":["read:docs"]}
 *
 * name, version, kind ("plugin" or "model") and sha256 (of the plugin binary or the
 * GGUF file) are required; "file" (a path relative to the manifest's directory),
 * "schema" (the plugin's argument JSON Schema), "description" (what the tool does, for
 * the model; at most 1024 bytes) and "permissions" (array of strings) are optional; unknown fields are refused. The signature is detached, in
 * MANIFEST.sig beside the manifest: one line "ed25519 <public key hex> <signature
 * hex>", the signature over the manifest's exact bytes. Keys are those of
 * audit/audit.h (cove_audit_keygen). A trust set is a list of public keys: a file
 * with one key (64 hex digits) per line ('#' starts a comment), or a directory whose
 * *.pub files each hold one key.
 */
#ifndef COVE_AUDIT_SIGN_H
#define COVE_AUDIT_SIGN_H

#include <stddef.h>

#include "audit/audit.h"
#include "cove/status.h"

enum cove_audit_manifest_kind {
    COVE_AUDIT_MANIFEST_PLUGIN = 0,
    COVE_AUDIT_MANIFEST_MODEL
};

/* A parsed manifest. Caller-owned value: release with cove_audit_manifest_release. */
struct cove_audit_manifest {
    char *name;            /* owned */
    char *version;         /* owned */
    enum cove_audit_manifest_kind kind;
    char sha256[COVE_AUDIT_HEX_LEN + 1];
    char *file;            /* owned; NULL when absent */
    char *description;     /* owned; NULL when absent */
    char *schema_json;     /* owned; the "schema" object as compact JSON text, or NULL */
    char **permissions;    /* owned array of owned strings; NULL when n_permissions is 0 */
    size_t n_permissions;
    char signer[COVE_AUDIT_HEX_LEN + 1]; /* key that signed it (after a verify), else "" */
};

/* Free the strings of m and zero it. NULL is a no-op. */
void cove_audit_manifest_release(struct cove_audit_manifest *m);

/* Parse len bytes of manifest JSON into *m (zeroed first). COVE_ERR_FORMAT on bad input. */
cove_status cove_audit_manifest_parse(const void *json, size_t len, struct cove_audit_manifest *m,
                                      cove_error *err);

/* A set of trusted public keys. */
typedef struct cove_audit_trust cove_audit_trust;

/*
 * Load the trusted keys at path: a key file or a directory of *.pub files. A file
 * with no key, or a bad line, gives COVE_ERR_FORMAT; at most COVE_AUDIT_MAX_TRUSTED
 * keys. *out is a new handle (cove_audit_trust_free), NULL on failure.
 */
cove_status cove_audit_trust_load(const char *path, cove_audit_trust **out, cove_error *err);

/* An empty set to fill with cove_audit_trust_add. */
cove_status cove_audit_trust_create(cove_audit_trust **out, cove_error *err);

/* Add one key (32 bytes, copied). COVE_ERR_LIMIT past COVE_AUDIT_MAX_TRUSTED. */
cove_status cove_audit_trust_add(cove_audit_trust *t, const unsigned char *pk, cove_error *err);

/* Number of keys in t. */
size_t cove_audit_trust_count(const cove_audit_trust *t);

/* NULL is a no-op. */
void cove_audit_trust_free(cove_audit_trust *t);

/*
 * Sign the manifest file at manifest_path with the secret key file key_path: writes
 * MANIFEST.sig (replacing an older one). The manifest must parse; its sha256 is not
 * checked here (`cove sign` checks it when the file is at hand).
 */
cove_status cove_audit_manifest_sign(const char *manifest_path, const char *key_path,
                                     cove_error *err);

/*
 * Verify a manifest and the file it describes:
 *  - MANIFEST.sig exists, names a key in `trust`, and its signature over the
 *    manifest's bytes is valid;
 *  - the manifest parses;
 *  - the SHA-256 of file_path matches "sha256". file_path NULL: the manifest's
 *    "file", relative to the manifest's directory (COVE_ERR_INVALID_ARG if absent).
 * On success *out (may be NULL) receives the manifest (signer set); the caller
 * releases it. Errors: COVE_ERR_NOT_FOUND (no manifest or no .sig), COVE_ERR_PERMISSION
 * (signature bad, or the key is not trusted), COVE_ERR_CHECKSUM (the file's hash
 * differs), COVE_ERR_FORMAT (unreadable manifest or .sig), COVE_ERR_IO.
 */
cove_status cove_audit_manifest_verify(const char *manifest_path, const char *file_path,
                                       const cove_audit_trust *trust,
                                       struct cove_audit_manifest *out, cove_error *err);

/*
 * The --require-signed policy for a model: verify MODEL.manifest.json and
 * MODEL.manifest.json.sig beside model_path against trust, the manifest's kind
 * must be "model". Every failure, a missing manifest or signature included, is
 * COVE_ERR_PERMISSION with a message naming the model and the cause.
 */
cove_status cove_audit_require_signed_model(const char *model_path, const cove_audit_trust *trust,
                                            cove_error *err);

/* SHA-256 of the whole file at path as hex (streamed; any size). */
cove_status cove_audit_file_sha256(const char *path, char out[COVE_AUDIT_HEX_LEN + 1],
                                   cove_error *err);

#endif
