/*
 * audit/keys.c - Ed25519 key files: generation and loading.
 *
 * PREFIX.pub holds the 32-byte public key as 64 hex digits and a newline;
 * PREFIX.key the 64-byte libsodium secret key (seed || public key) as 128 hex
 * digits, mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_int.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"

/* Create path exclusively with mode and write len bytes; removes it on failure. */
static cove_status write_new_file(const char *path, mode_t mode, const char *data, size_t len,
                                  cove_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return cove_error_set(err, errno == EEXIST ? COVE_ERR_STATE : COVE_ERR_IO, "%s: %s",
                              path, errno == EEXIST ? "exists; not overwriting a key" : strerror(errno));
    ssize_t w = write(fd, data, len);
    int fail = w < 0 || (size_t)w != len || fsync(fd) != 0;
    if (close(fd) != 0)
        fail = 1;
    if (fail) {
        unlink(path);
        return cove_error_set(err, COVE_ERR_IO, "%s: write failed", path);
    }
    return COVE_OK;
}

cove_status cove_audit_keygen(const char *prefix, cove_error *err)
{
    if (!prefix || !*prefix || strlen(prefix) + 5 > COVE_MAX_PATH)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "keygen: bad output prefix");
    if (sodium_init() < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium failed to initialise");
    char pub_path[COVE_MAX_PATH + 8], key_path[COVE_MAX_PATH + 8];
    snprintf(pub_path, sizeof pub_path, "%s.pub", prefix);
    snprintf(key_path, sizeof key_path, "%s.key", prefix);
    if (access(pub_path, F_OK) == 0)
        return cove_error_set(err, COVE_ERR_STATE, "%s: exists; not overwriting a key", pub_path);

    unsigned char pk[COVE_AUDIT_PUBKEY_BYTES], sk[COVE_AUDIT_SECKEY_BYTES];
    char sk_hex[2 * COVE_AUDIT_SECKEY_BYTES + 2], pk_hex[2 * COVE_AUDIT_PUBKEY_BYTES + 2];
    crypto_sign_keypair(pk, sk);
    audit_hex(sk, sizeof sk, sk_hex);
    audit_hex(pk, sizeof pk, pk_hex);
    strcat(sk_hex, "\n");
    strcat(pk_hex, "\n");
    sodium_memzero(sk, sizeof sk);
    cove_status s = write_new_file(key_path, 0600, sk_hex, strlen(sk_hex), err);
    sodium_memzero(sk_hex, sizeof sk_hex);
    if (s != COVE_OK)
        return s;
    s = write_new_file(pub_path, 0644, pk_hex, strlen(pk_hex), err);
    if (s != COVE_OK)
        unlink(key_path);
    return s;
}

/* Read a key file and parse its one token of n bytes' hex. */
static cove_status load_hex_file(const char *path, unsigned char *out, size_t n, cove_error *err)
{
    char *text;
    size_t len;
    cove_status s = audit_read_file(path, COVE_AUDIT_MAX_KEYFILE, &text, &len, err);
    if (s != COVE_OK)
        return s;
    char *tok = cove_str_trim(text);
    int bad = audit_unhex(tok, out, n);
    sodium_memzero(text, len);
    cove_free(text);
    if (bad)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: not a key (expected %zu hex digits)",
                              path, 2 * n);
    return COVE_OK;
}

cove_status cove_audit_pubkey_load(const char *path, unsigned char pk[COVE_AUDIT_PUBKEY_BYTES],
                                   cove_error *err)
{
    return load_hex_file(path, pk, COVE_AUDIT_PUBKEY_BYTES, err);
}

cove_status cove_audit_seckey_load(const char *path, unsigned char sk[COVE_AUDIT_SECKEY_BYTES],
                                   cove_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_IO, "%s: %s",
                              path, strerror(errno));
    if (st.st_mode & 077)
        return cove_error_set(err, COVE_ERR_PERMISSION,
                              "%s: secret key readable by others (mode %03o); chmod 600 it", path,
                              (unsigned)(st.st_mode & 0777));
    cove_status s = load_hex_file(path, sk, COVE_AUDIT_SECKEY_BYTES, err);
    if (s != COVE_OK)
        return s;
    /* the public half stored in the key must be the one its seed gives */
    unsigned char pk[COVE_AUDIT_PUBKEY_BYTES];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    unsigned char pk2[COVE_AUDIT_PUBKEY_BYTES], sk2[COVE_AUDIT_SECKEY_BYTES];
    crypto_sign_seed_keypair(pk2, sk2, sk);
    int same = sodium_memcmp(pk, pk2, sizeof pk) == 0;
    sodium_memzero(sk2, sizeof sk2);
    if (!same) {
        sodium_memzero(sk, COVE_AUDIT_SECKEY_BYTES);
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: damaged secret key", path);
    }
    return COVE_OK;
}

cove_status cove_audit_pubkey_parse(const char *hex, unsigned char pk[COVE_AUDIT_PUBKEY_BYTES],
                                    cove_error *err)
{
    if (!hex || audit_unhex(hex, pk, COVE_AUDIT_PUBKEY_BYTES) != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "not a public key (expected 64 hex digits)");
    return COVE_OK;
}
