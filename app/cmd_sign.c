/*
 * app/cmd_sign.c - `cove sign` and `cove verify-sig`: detached Ed25519 signatures
 * of plugin and model manifests (audit/sign.h; docs/audit.md).
 *
 *   cove sign --key PREFIX.key MANIFEST.json      writes MANIFEST.json.sig
 *   cove verify-sig --pubkey K MANIFEST.json [--file F]
 */
#include <stdio.h>
#include <string.h>

#include "audit/sign.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "cli.h"

static void usage_sign(FILE *f)
{
    fprintf(f, "usage: cove sign --key PREFIX.key MANIFEST.json [--file F]\n\n"
               "Signs the manifest of a plugin or model (JSON: name, version, kind plugin|model,\n"
               "sha256 of the file, optional file, schema, permissions) with the secret key and\n"
               "writes the detached signature MANIFEST.json.sig. Before signing, the SHA-256 of\n"
               "the file it describes (--file F, else its \"file\", else for a model the manifest\n"
               "name without .manifest.json) is checked when that file exists.\n\n"
               "Exit status: 0 signed, 1 error (bad manifest, hash mismatch, key), 2 bad usage.\n");
}

static void usage_verify(FILE *f)
{
    fprintf(f, "usage: cove verify-sig --pubkey K MANIFEST.json [--file F]\n\n"
               "Checks that MANIFEST.json.sig is a valid signature of the manifest by a trusted\n"
               "key and that the file it describes has the SHA-256 it states.\n"
               "  --pubkey K  a public key file, a file of keys (one per line) or a directory of\n"
               "              *.pub files: the trusted keys\n"
               "  --file F    the plugin or model file (default: the manifest's \"file\", relative\n"
               "              to the manifest, else the manifest name without .manifest.json)\n\n"
               "Exit status: 0 valid, 1 invalid or untrusted, 2 bad usage.\n");
}

/* The file a manifest describes when neither --file nor "file" names it: X for X.manifest.json. */
static const char *default_target(const char *manifest, const char *file, char *buf, size_t n)
{
    const char *suffix = ".manifest.json";
    size_t len = strlen(manifest), sl = strlen(suffix);
    if (file)
        return file;
    if (len > sl && strcmp(manifest + len - sl, suffix) == 0 && len - sl < n) {
        memcpy(buf, manifest, len - sl);
        buf[len - sl] = '\0';
        return buf;
    }
    return NULL;
}

/* Parse [--key K|--pubkey K] MANIFEST [--file F]. 0, -1 for help, or an exit code. */
static int parse(int argc, char **argv, const char *keyopt, const char **key, const char **manifest,
                 const char **file)
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return -1;
        if (strcmp(argv[i], keyopt) == 0 && i + 1 < argc)
            *key = argv[++i];
        else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
            *file = argv[++i];
        else if (argv[i][0] == '-' || *manifest)
            return cli_usage_error(argv[0], "unknown option, missing value or extra argument: '%s'",
                                   argv[i]);
        else
            *manifest = argv[i];
    }
    if (!*key || !*manifest)
        return cli_usage_error(argv[0], "give %s and the MANIFEST", keyopt);
    return 0;
}

/* The manifest's text (at most COVE_AUDIT_MAX_MANIFEST bytes; more is cut and fails to
 * parse); the caller frees it with cove_free. NULL when it cannot be read. */
static char *read_manifest(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *text = f ? cove_malloc(COVE_AUDIT_MAX_MANIFEST + 1) : NULL;
    *n = text ? fread(text, 1, COVE_AUDIT_MAX_MANIFEST + 1, f) : 0;
    if (f)
        fclose(f);
    return text;
}

/* The file exists: its hash must be the manifest's. */
static int check_hash_before_signing(const char *manifest, const char *file)
{
    char hex[COVE_AUDIT_HEX_LEN + 1], buf[4200];
    cove_error err = {0};
    size_t n;
    char *text = read_manifest(manifest, &n);
    if (!text)
        return cli_fail("sign", "%s: cannot read", manifest);
    struct cove_audit_manifest m;
    cove_status s = cove_audit_manifest_parse(text, n, &m, &err);
    cove_free(text);
    if (s != COVE_OK)
        return cli_fail("sign", "%s: %s", manifest, cove_error_msg(&err));
    const char *target = default_target(manifest, file, buf, sizeof buf);
    if (!target && m.file) {
        const char *slash = strrchr(manifest, '/');
        snprintf(buf, sizeof buf, "%.*s%s", slash ? (int)(slash - manifest + 1) : 0, manifest,
                 m.file);
        target = m.file[0] == '/' ? m.file : buf;
    }
    int rc = COVE_EXIT_OK;
    if (target && cove_audit_file_sha256(target, hex, &err) == COVE_OK && strcmp(hex, m.sha256) != 0)
        rc = cli_fail("sign", "%s has SHA-256 %s, the manifest says %s: not signing", target, hex,
                      m.sha256);
    cove_audit_manifest_release(&m);
    return rc;
}

int cove_cmd_sign(int argc, char **argv)
{
    const char *key = NULL, *manifest = NULL, *file = NULL;
    int rc = parse(argc, argv, "--key", &key, &manifest, &file);
    if (rc == -1) {
        usage_sign(stdout);
        return COVE_EXIT_OK;
    }
    if (rc != 0)
        return rc;
    rc = check_hash_before_signing(manifest, file);
    if (rc != COVE_EXIT_OK)
        return rc;
    cove_error err = {0};
    if (cove_audit_manifest_sign(manifest, key, &err) != COVE_OK)
        return cli_fail("sign", "%s", cove_error_msg(&err));
    printf("wrote %s.sig\n", manifest);
    return COVE_EXIT_OK;
}

int cove_cmd_verify_sig(int argc, char **argv)
{
    const char *keys = NULL, *manifest = NULL, *file = NULL;
    char buf[4200];
    int rc = parse(argc, argv, "--pubkey", &keys, &manifest, &file);
    if (rc == -1) {
        usage_verify(stdout);
        return COVE_EXIT_OK;
    }
    if (rc != 0)
        return rc;
    cove_error err = {0};
    cove_audit_trust *trust = NULL;
    if (cove_audit_trust_load(keys, &trust, &err) != COVE_OK)
        return cli_fail("verify-sig", "%s", cove_error_msg(&err));
    struct cove_audit_manifest m;
    const char *target = file;
    if (!target) {
        /* prefer the manifest's own "file"; fall back to X for X.manifest.json */
        size_t n;
        char *text = read_manifest(manifest, &n);
        if (text && cove_audit_manifest_parse(text, n, &m, NULL) == COVE_OK) {
            if (!m.file)
                target = default_target(manifest, NULL, buf, sizeof buf);
            cove_audit_manifest_release(&m);
        }
        cove_free(text);
    }
    cove_status s = cove_audit_manifest_verify(manifest, target, trust, &m, &err);
    cove_audit_trust_free(trust);
    if (s != COVE_OK) {
        printf("INVALID %s\n", manifest);
        return cli_fail("verify-sig", "%s", cove_error_msg(&err));
    }
    printf("valid %s\nname: %s\nversion: %s\nkind: %s\nsha256: %s\nsigner: %s\n", manifest, m.name,
           m.version, m.kind == COVE_AUDIT_MANIFEST_MODEL ? "model" : "plugin", m.sha256, m.signer);
    cove_audit_manifest_release(&m);
    return COVE_EXIT_OK;
}
