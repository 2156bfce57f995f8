/*
 * audit/sign.c - manifests of plugins and models, detached Ed25519 signatures,
 * trust sets and the --require-signed policy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit_int.h"
#include "audit/sign.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"

struct cove_audit_trust {
    unsigned char (*keys)[COVE_AUDIT_PUBKEY_BYTES];
    size_t n, cap;
};

/* ------------------------------------------------------------ manifests */

void cove_audit_manifest_release(struct cove_audit_manifest *m)
{
    if (!m)
        return;
    cove_free(m->name);
    cove_free(m->version);
    cove_free(m->file);
    cove_free(m->description);
    cove_free(m->schema_json);
    for (size_t i = 0; i < m->n_permissions; i++)
        cove_free(m->permissions[i]);
    cove_free(m->permissions);
    memset(m, 0, sizeof *m);
}

static int known_field(const char *k)
{
    static const char *const names[] = {"name", "version", "kind", "file",
                                        "sha256", "schema", "permissions", "description"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(k, names[i]) == 0)
            return 1;
    return 0;
}

/* Strings and the kind; 0 or a reason. */
static const char *take_fields(json_t *o, struct cove_audit_manifest *m)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *ver = json_string_value(json_object_get(o, "version"));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *sha = json_string_value(json_object_get(o, "sha256"));
    json_t *file = json_object_get(o, "file");
    json_t *desc = json_object_get(o, "description");
    unsigned char h[COVE_AUDIT_HASH_BYTES];
    if (!name || !*name || !ver || !*ver || !kind || !sha)
        return "\"name\", \"version\", \"kind\" and \"sha256\" are required strings";
    if (strcmp(kind, "plugin") != 0 && strcmp(kind, "model") != 0)
        return "\"kind\" must be \"plugin\" or \"model\"";
    if (strlen(sha) != COVE_AUDIT_HEX_LEN || audit_unhex(sha, h, sizeof h) != 0)
        return "\"sha256\" must be 64 hex digits";
    if (file && (!json_is_string(file) || json_string_length(file) == 0 ||
                 json_string_length(file) >= COVE_MAX_PATH))
        return "\"file\" must be a non-empty path";
    if (desc && (!json_is_string(desc) || json_string_length(desc) > COVE_AUDIT_MAX_DESCRIPTION))
        return "\"description\" must be a string of at most 1024 bytes";
    m->kind = kind[0] == 'p' ? COVE_AUDIT_MANIFEST_PLUGIN : COVE_AUDIT_MANIFEST_MODEL;
    audit_hex(h, sizeof h, m->sha256); /* lower case */
    m->name = cove_strdup(name);
    m->version = cove_strdup(ver);
    m->file = file ? cove_strdup(json_string_value(file)) : NULL;
    m->description = desc ? cove_strdup(json_string_value(desc)) : NULL;
    if (!m->name || !m->version || (file && !m->file) || (desc && !m->description))
        return "out of memory";
    return NULL;
}

/* "schema" and "permissions". */
static const char *take_plugin_fields(json_t *o, struct cove_audit_manifest *m)
{
    json_t *schema = json_object_get(o, "schema"), *perms = json_object_get(o, "permissions");
    if (schema) {
        if (!json_is_object(schema))
            return "\"schema\" must be an object";
        m->schema_json = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
        if (!m->schema_json)
            return "out of memory";
        char *copy = cove_strdup(m->schema_json); /* json_dumps memory is not ours to cove_free */
        free(m->schema_json);
        m->schema_json = copy;
        if (!copy)
            return "out of memory";
    }
    if (!perms)
        return NULL;
    if (!json_is_array(perms) || json_array_size(perms) > 1024)
        return "\"permissions\" must be an array of at most 1024 strings";
    size_t n = json_array_size(perms);
    if (n == 0)
        return NULL;
    m->permissions = cove_calloc(n, sizeof *m->permissions);
    if (!m->permissions)
        return "out of memory";
    for (size_t i = 0; i < n; i++) {
        const char *p = json_string_value(json_array_get(perms, i));
        if (!p)
            return "\"permissions\" must be an array of strings";
        m->permissions[i] = cove_strdup(p);
        if (!m->permissions[i])
            return "out of memory";
        m->n_permissions++;
    }
    return NULL;
}

cove_status cove_audit_manifest_parse(const void *json, size_t len, struct cove_audit_manifest *m,
                                      cove_error *err)
{
    memset(m, 0, sizeof *m);
    if (len > COVE_AUDIT_MAX_MANIFEST)
        return cove_error_set(err, COVE_ERR_LIMIT, "manifest larger than %u bytes",
                              COVE_AUDIT_MAX_MANIFEST);
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return cove_error_set(err, COVE_ERR_FORMAT, "manifest is not a JSON object: %.100s",
                              o ? "" : je.text);
    }
    const char *key, *why = NULL;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (!known_field(key)) {
            cove_error_set(err, COVE_ERR_FORMAT, "manifest: unknown field \"%.64s\"", key);
            json_decref(o);
            return COVE_ERR_FORMAT;
        }
    }
    why = take_fields(o, m);
    if (!why)
        why = take_plugin_fields(o, m);
    json_decref(o);
    if (why) {
        cove_audit_manifest_release(m);
        return cove_error_set(err, strcmp(why, "out of memory") ? COVE_ERR_FORMAT : COVE_ERR_NOMEM,
                              "manifest: %s", why);
    }
    return COVE_OK;
}

/* ---------------------------------------------------------------- trust */

cove_status cove_audit_trust_create(cove_audit_trust **out, cove_error *err)
{
    *out = cove_calloc(1, sizeof **out);
    return *out ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
}

cove_status cove_audit_trust_add(cove_audit_trust *t, const unsigned char *pk, cove_error *err)
{
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(t->keys[i], pk, COVE_AUDIT_PUBKEY_BYTES) == 0)
            return COVE_OK;
    if (t->n >= COVE_AUDIT_MAX_TRUSTED)
        return cove_error_set(err, COVE_ERR_LIMIT, "more than %d trusted keys",
                              COVE_AUDIT_MAX_TRUSTED);
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        void *p = cove_realloc(t->keys, cap * COVE_AUDIT_PUBKEY_BYTES);
        if (!p)
            return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
        t->keys = p;
        t->cap = cap;
    }
    memcpy(t->keys[t->n++], pk, COVE_AUDIT_PUBKEY_BYTES);
    return COVE_OK;
}

size_t cove_audit_trust_count(const cove_audit_trust *t)
{
    return t ? t->n : 0;
}

void cove_audit_trust_free(cove_audit_trust *t)
{
    if (!t)
        return;
    cove_free(t->keys);
    cove_free(t);
}

/* A file of keys, one per line. */
static cove_status trust_load_file(cove_audit_trust *t, const char *path, cove_error *err)
{
    char *text;
    size_t len, lineno = 0;
    cove_status s = audit_read_file(path, COVE_AUDIT_MAX_TRUSTED * 128, &text, &len, err);
    const char *cur = text, *f;
    size_t n;
    while (s == COVE_OK && cove_str_next_field(&cur, '\n', &f, &n)) {
        char buf[160];
        unsigned char pk[COVE_AUDIT_PUBKEY_BYTES];
        lineno++;
        if (n >= sizeof buf) {
            s = cove_error_set(err, COVE_ERR_FORMAT, "%s:%zu: line too long", path, lineno);
            break;
        }
        memcpy(buf, f, n);
        buf[n] = '\0';
        char *k = cove_str_trim(buf);
        if (*k == '\0' || *k == '#')
            continue;
        if (audit_unhex(k, pk, sizeof pk) != 0)
            s = cove_error_set(err, COVE_ERR_FORMAT, "%s:%zu: not a public key", path, lineno);
        else
            s = cove_audit_trust_add(t, pk, err);
    }
    cove_free(text);
    return s;
}

static cove_status trust_load_dir(cove_audit_trust *t, const char *path, cove_error *err)
{
    DIR *d = opendir(path);
    if (!d)
        return cove_error_set(err, COVE_ERR_IO, "%s: %s", path, strerror(errno));
    cove_status s = COVE_OK;
    struct dirent *e;
    while (s == COVE_OK && (e = readdir(d)) != NULL) {
        if (!cove_str_ends_with(e->d_name, ".pub"))
            continue;
        char full[COVE_MAX_PATH];
        unsigned char pk[COVE_AUDIT_PUBKEY_BYTES];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", path, e->d_name) >= sizeof full)
            s = cove_error_set(err, COVE_ERR_LIMIT, "%s: path too long", path);
        else if ((s = cove_audit_pubkey_load(full, pk, err)) == COVE_OK)
            s = cove_audit_trust_add(t, pk, err);
    }
    closedir(d);
    return s;
}

cove_status cove_audit_trust_load(const char *path, cove_audit_trust **out, cove_error *err)
{
    *out = NULL;
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return cove_error_set(err, COVE_ERR_NOT_FOUND, "trusted keys %s: %s", path ? path : "(none)",
                              path ? strerror(errno) : "no path");
    cove_audit_trust *t;
    cove_status s = cove_audit_trust_create(&t, err);
    if (s != COVE_OK)
        return s;
    s = S_ISDIR(st.st_mode) ? trust_load_dir(t, path, err) : trust_load_file(t, path, err);
    if (s == COVE_OK && t->n == 0)
        s = cove_error_set(err, COVE_ERR_FORMAT, "%s: no public key in it", path);
    if (s != COVE_OK) {
        cove_audit_trust_free(t);
        return s;
    }
    *out = t;
    return COVE_OK;
}

static bool trusted(const cove_audit_trust *t, const unsigned char *pk)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (memcmp(t->keys[i], pk, COVE_AUDIT_PUBKEY_BYTES) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------- hashing */

cove_status cove_audit_file_sha256(const char *path, char out[COVE_AUDIT_HEX_LEN + 1],
                                   cove_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_IO, "%s: %s",
                              path, strerror(errno));
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = cove_malloc(CHUNK), h[COVE_AUDIT_HASH_BYTES];
    if (!buf) {
        close(fd);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    cove_status s = COVE_OK;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            s = cove_error_set(err, COVE_ERR_IO, "%s: %s", path, strerror(errno));
        if (r <= 0)
            break;
        crypto_hash_sha256_update(&st, buf, (size_t)r);
    }
    crypto_hash_sha256_final(&st, h);
    audit_hex(h, sizeof h, out);
    cove_free(buf);
    close(fd);
    return s;
}

/* ------------------------------------------------------------- signing */

static cove_status sig_path(const char *manifest_path, char *out, size_t n, cove_error *err)
{
    if ((size_t)snprintf(out, n, "%s.sig", manifest_path) >= n)
        return cove_error_set(err, COVE_ERR_LIMIT, "path too long: %s", manifest_path);
    return COVE_OK;
}

/* Write the .sig file through a temporary file and rename. */
static cove_status write_sig(const char *path, const char *line, cove_error *err)
{
    char tmp[COVE_MAX_PATH + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return cove_error_set(err, COVE_ERR_IO, "%s: %s", tmp, strerror(errno));
    int bad = fputs(line, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return cove_error_set(err, COVE_ERR_IO, "%s: write failed", path);
    }
    return COVE_OK;
}

cove_status cove_audit_manifest_sign(const char *manifest_path, const char *key_path,
                                     cove_error *err)
{
    char *text, spath[COVE_MAX_PATH + 8];
    size_t len;
    struct cove_audit_manifest m;
    unsigned char sk[COVE_AUDIT_SECKEY_BYTES], pk[COVE_AUDIT_PUBKEY_BYTES], sig[COVE_AUDIT_SIG_BYTES];
    if (sodium_init() < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium failed to initialise");
    cove_status s = sig_path(manifest_path, spath, sizeof spath, err);
    if (s == COVE_OK)
        s = audit_read_file(manifest_path, COVE_AUDIT_MAX_MANIFEST, &text, &len, err);
    if (s != COVE_OK)
        return s;
    s = cove_audit_manifest_parse(text, len, &m, err);
    cove_audit_manifest_release(&m);
    if (s == COVE_OK)
        s = cove_audit_seckey_load(key_path, sk, err);
    if (s == COVE_OK) {
        crypto_sign_detached(sig, NULL, (const unsigned char *)text, len, sk);
        crypto_sign_ed25519_sk_to_pk(pk, sk);
        sodium_memzero(sk, sizeof sk);
        char pk_hex[COVE_AUDIT_HEX_LEN + 1], sig_hex[2 * COVE_AUDIT_SIG_BYTES + 1], line[256];
        audit_hex(pk, sizeof pk, pk_hex);
        audit_hex(sig, sizeof sig, sig_hex);
        snprintf(line, sizeof line, "ed25519 %s %s\n", pk_hex, sig_hex);
        s = write_sig(spath, line, err);
    }
    cove_free(text);
    return s;
}

/* Parse "ed25519 PK SIG" from the .sig file. */
static cove_status read_sig(const char *path, unsigned char *pk, unsigned char *sig, cove_error *err)
{
    char *text;
    size_t len;
    cove_status s = audit_read_file(path, COVE_AUDIT_MAX_KEYFILE, &text, &len, err);
    if (s == COVE_ERR_NOT_FOUND)
        return cove_error_set(err, s, "no signature: %s is missing", path);
    if (s != COVE_OK)
        return s;
    char alg[16], pk_hex[80], sig_hex[160], extra[2];
    int n = sscanf(text, "%15s %79s %159s %1s", alg, pk_hex, sig_hex, extra);
    cove_free(text);
    if (n != 3 || strcmp(alg, "ed25519") != 0 || audit_unhex(pk_hex, pk, COVE_AUDIT_PUBKEY_BYTES) ||
        audit_unhex(sig_hex, sig, COVE_AUDIT_SIG_BYTES))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: not a cove signature file", path);
    return COVE_OK;
}

/* The file a manifest describes: file_path, or "file" relative to the manifest. */
static cove_status target_path(const char *manifest_path, const char *file_path,
                               const struct cove_audit_manifest *m, char *out, size_t n,
                               cove_error *err)
{
    if (file_path) {
        if (!cove_str_copy(out, n, file_path))
            return COVE_OK;
    } else if (!m->file) {
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "%s: no \"file\" and no file given",
                              manifest_path);
    } else if (m->file[0] == '/') {
        if (!cove_str_copy(out, n, m->file))
            return COVE_OK;
    } else {
        const char *slash = strrchr(manifest_path, '/');
        int dir_len = slash ? (int)(slash - manifest_path) : 1;
        const char *dir = slash ? manifest_path : ".";
        if ((size_t)snprintf(out, n, "%.*s/%s", dir_len, dir, m->file) < n)
            return COVE_OK;
    }
    return cove_error_set(err, COVE_ERR_LIMIT, "path too long");
}

/* Signature over the bytes of the manifest text, by a trusted key. */
static cove_status check_sig(const char *manifest_path, const char *text, size_t len,
                             const cove_audit_trust *trust, char signer[COVE_AUDIT_HEX_LEN + 1],
                             cove_error *err)
{
    char spath[COVE_MAX_PATH + 8];
    unsigned char pk[COVE_AUDIT_PUBKEY_BYTES], sig[COVE_AUDIT_SIG_BYTES];
    cove_status s = sig_path(manifest_path, spath, sizeof spath, err);
    if (s == COVE_OK)
        s = read_sig(spath, pk, sig, err);
    if (s != COVE_OK)
        return s;
    audit_hex(pk, sizeof pk, signer);
    if (!trusted(trust, pk))
        return cove_error_set(err, COVE_ERR_PERMISSION, "%s: signed by key %.16s..., which is not trusted",
                              manifest_path, signer);
    if (crypto_sign_verify_detached(sig, (const unsigned char *)text, len, pk) != 0)
        return cove_error_set(err, COVE_ERR_PERMISSION,
                              "%s: bad signature (the manifest changed after it was signed)",
                              manifest_path);
    return COVE_OK;
}

cove_status cove_audit_manifest_verify(const char *manifest_path, const char *file_path,
                                       const cove_audit_trust *trust,
                                       struct cove_audit_manifest *out, cove_error *err)
{
    char *text, signer[COVE_AUDIT_HEX_LEN + 1], target[COVE_MAX_PATH], hex[COVE_AUDIT_HEX_LEN + 1];
    size_t len;
    struct cove_audit_manifest m;
    if (out)
        memset(out, 0, sizeof *out);
    if (sodium_init() < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium failed to initialise");
    cove_status s = audit_read_file(manifest_path, COVE_AUDIT_MAX_MANIFEST, &text, &len, err);
    if (s == COVE_ERR_NOT_FOUND)
        return cove_error_set(err, s, "no manifest: %s is missing", manifest_path);
    if (s != COVE_OK)
        return s;
    s = check_sig(manifest_path, text, len, trust, signer, err);
    if (s == COVE_OK)
        s = cove_audit_manifest_parse(text, len, &m, err);
    cove_free(text);
    if (s != COVE_OK)
        return s;
    s = target_path(manifest_path, file_path, &m, target, sizeof target, err);
    if (s == COVE_OK)
        s = cove_audit_file_sha256(target, hex, err);
    if (s == COVE_OK && strcmp(hex, m.sha256) != 0)
        s = cove_error_set(err, COVE_ERR_CHECKSUM,
                           "%s: SHA-256 %.16s... differs from the signed manifest's %.16s...",
                           target, hex, m.sha256);
    if (s == COVE_OK && out) {
        memcpy(m.signer, signer, sizeof m.signer);
        *out = m;
    } else {
        cove_audit_manifest_release(&m);
    }
    return s;
}

cove_status cove_audit_require_signed_model(const char *model_path, const cove_audit_trust *trust,
                                            cove_error *err)
{
    char mpath[COVE_MAX_PATH + 32];
    cove_error e = {0};
    struct cove_audit_manifest m;
    if ((size_t)snprintf(mpath, sizeof mpath, "%s.manifest.json", model_path) >= sizeof mpath)
        return cove_error_set(err, COVE_ERR_PERMISSION, "model path too long");
    cove_status s = cove_audit_manifest_verify(mpath, model_path, trust, &m, &e);
    if (s == COVE_OK && m.kind != COVE_AUDIT_MANIFEST_MODEL)
        s = cove_error_set(&e, COVE_ERR_FORMAT, "%s is a plugin manifest, not a model's", mpath);
    if (s == COVE_OK)
        cove_audit_manifest_release(&m);
    if (s != COVE_OK)
        return cove_error_set(err, COVE_ERR_PERMISSION, "refusing unsigned model (--require-signed): %s",
                              cove_error_msg(&e));
    return COVE_OK;
}
