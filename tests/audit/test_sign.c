/*
 * tests/audit/test_sign.c - signed manifests of plugins and models, trust sets and
 * the --require-signed policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/sign.h"
#include "test.h"

static const char *path_in(const char *name)
{
    static char buf[8][1024];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 1024, "%s/sign/%s", test_tmpdir(), name);
    return p;
}

static int put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* A key pair "NAME" in the sign dir (made once). */
static const char *keypair(const char *name)
{
    static char buf[4][1024];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 1024, "%s/sign/%s", test_tmpdir(), name);
    char key[1100];
    snprintf(key, sizeof key, "%s.key", p);
    if (access(key, F_OK) != 0 && cove_audit_keygen(p, NULL) != COVE_OK)
        return NULL;
    return p;
}

/* model.gguf + model.gguf.manifest.json (sha256 right), signed by key "a". */
static int make_model(const char *name)
{
    char dir[1024], model[1100], manifest[1200], key[1100], hex[65], json[1024];
    snprintf(dir, sizeof dir, "%s/sign", test_tmpdir());
    mkdir(dir, 0700);
    snprintf(model, sizeof model, "%s/%s", dir, name);
    if (put(model, "GGUF fake model bytes\n") != 0)
        return -1;
    if (cove_audit_file_sha256(model, hex, NULL) != COVE_OK)
        return -1;
    snprintf(json, sizeof json,
             "{\"name\":\"tiny\",\"version\":\"1.0\",\"kind\":\"model\",\"sha256\":\"%s\"}\n", hex);
    snprintf(manifest, sizeof manifest, "%s.manifest.json", model);
    if (put(manifest, json) != 0)
        return -1;
    snprintf(key, sizeof key, "%s.key", keypair("a"));
    return cove_audit_manifest_sign(manifest, key, NULL) == COVE_OK ? 0 : -1;
}

static cove_audit_trust *trust_of(const char *name)
{
    char pub[1100];
    cove_audit_trust *t = NULL;
    snprintf(pub, sizeof pub, "%s.pub", keypair(name));
    return cove_audit_trust_load(pub, &t, NULL) == COVE_OK ? t : NULL;
}

TEST(sign_model_round_trip)
{
    CHECK(make_model("m1.gguf") == 0);
    cove_audit_trust *t = trust_of("a");
    CHECK(t);
    struct cove_audit_manifest m;
    cove_status s = cove_audit_manifest_verify(path_in("m1.gguf.manifest.json"),
                                               path_in("m1.gguf"), t, &m, NULL);
    int ok = s == COVE_OK && strcmp(m.name, "tiny") == 0 && m.kind == COVE_AUDIT_MANIFEST_MODEL &&
             strlen(m.signer) == 64;
    if (s == COVE_OK)
        cove_audit_manifest_release(&m);
    s = cove_audit_require_signed_model(path_in("m1.gguf"), t, NULL);
    cove_audit_trust_free(t);
    CHECK(ok);
    CHECK_OK(s);
}

TEST(sign_tampered_file)
{
    CHECK(make_model("m2.gguf") == 0);
    CHECK(put(path_in("m2.gguf"), "GGUF fake model bytes, changed\n") == 0);
    cove_audit_trust *t = trust_of("a");
    CHECK(t);
    cove_error err = {0};
    cove_status s = cove_audit_manifest_verify(path_in("m2.gguf.manifest.json"), path_in("m2.gguf"),
                                               t, NULL, &err);
    cove_error perr = {0};
    cove_status ps = cove_audit_require_signed_model(path_in("m2.gguf"), t, &perr);
    cove_audit_trust_free(t);
    CHECK_EQ_INT(s, COVE_ERR_CHECKSUM);
    CHECK_EQ_INT(ps, COVE_ERR_PERMISSION);
    CHECK(strstr(perr.msg, "refusing unsigned model"));
    CHECK(strstr(perr.msg, "SHA-256"));
}

TEST(sign_tampered_manifest)
{
    CHECK(make_model("m3.gguf") == 0);
    const char *mp = path_in("m3.gguf.manifest.json");
    FILE *f = fopen(mp, "r+b");
    CHECK(f);
    fseek(f, 27, SEEK_SET); /* inside "1.0" */
    fputc('9', f);
    fclose(f);
    cove_audit_trust *t = trust_of("a");
    CHECK(t);
    cove_error err = {0};
    cove_status s = cove_audit_manifest_verify(mp, path_in("m3.gguf"), t, NULL, &err);
    cove_audit_trust_free(t);
    CHECK_EQ_INT(s, COVE_ERR_PERMISSION);
    CHECK(strstr(err.msg, "bad signature"));
}

TEST(sign_untrusted_key)
{
    CHECK(make_model("m4.gguf") == 0);
    cove_audit_trust *t = trust_of("b");
    CHECK(t);
    cove_error err = {0};
    cove_status s = cove_audit_require_signed_model(path_in("m4.gguf"), t, &err);
    cove_audit_trust_free(t);
    CHECK_EQ_INT(s, COVE_ERR_PERMISSION);
    CHECK(strstr(err.msg, "not trusted"));
}

TEST(sign_missing_signature)
{
    CHECK(make_model("m5.gguf") == 0);
    char sig[1200];
    snprintf(sig, sizeof sig, "%s.sig", path_in("m5.gguf.manifest.json"));
    CHECK(unlink(sig) == 0);
    cove_audit_trust *t = trust_of("a");
    CHECK(t);
    cove_error err = {0};
    cove_status s = cove_audit_require_signed_model(path_in("m5.gguf"), t, &err);
    cove_status s2 = cove_audit_require_signed_model(path_in("no-such.gguf"), t, NULL);
    cove_audit_trust_free(t);
    CHECK_EQ_INT(s, COVE_ERR_PERMISSION);
    CHECK(strstr(err.msg, "no signature"));
    CHECK_EQ_INT(s2, COVE_ERR_PERMISSION);
}

TEST(sign_trust_dir_and_file)
{
    CHECK(make_model("m6.gguf") == 0);
    CHECK(keypair("b"));
    /* a directory with both keys */
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/sign/trusted", test_tmpdir());
    mkdir(dir, 0700);
    snprintf(cmd, sizeof cmd, "cp %s.pub %s/ && cp %s.pub %s/", keypair("a"), dir, keypair("b"), dir);
    CHECK(system(cmd) == 0);
    cove_audit_trust *t = NULL;
    CHECK_OK(cove_audit_trust_load(dir, &t, NULL));
    CHECK_EQ_INT(cove_audit_trust_count(t), 2);
    cove_status s = cove_audit_require_signed_model(path_in("m6.gguf"), t, NULL);
    cove_audit_trust_free(t);
    CHECK_OK(s);
    /* a key list file with a comment; a bad line is an error */
    char list[1100];
    snprintf(list, sizeof list, "%s/sign/keys.txt", test_tmpdir());
    snprintf(cmd, sizeof cmd, "(echo '# team keys'; cat %s.pub; echo) > %s", keypair("b"), list);
    CHECK(system(cmd) == 0);
    CHECK_OK(cove_audit_trust_load(list, &t, NULL));
    CHECK_EQ_INT(cove_audit_trust_count(t), 1);
    cove_audit_trust_free(t);
    CHECK(put(list, "zz not a key\n") == 0);
    CHECK(cove_audit_trust_load(list, &t, NULL) == COVE_ERR_FORMAT);
}

TEST(sign_plugin_manifest)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/sign", test_tmpdir());
    mkdir(dir, 0700);
    CHECK(put(path_in("plug.so"), "\177ELF not really\n") == 0);
    char hex[65], json[2048], key[1100];
    CHECK_OK(cove_audit_file_sha256(path_in("plug.so"), hex, NULL));
    snprintf(json, sizeof json,
             "{\"name\":\"pdf\",\"version\":\"0.1\",\"kind\":\"plugin\",\"file\":\"plug.so\","
             "\"sha256\":\"%s\",\"schema\":{\"type\":\"object\",\"properties\":{\"path\":"
             "{\"type\":\"string\"}}},\"permissions\":[\"read:docs\",\"exec:pdftotext\"]}",
             hex);
    CHECK(put(path_in("plug.json"), json) == 0);
    snprintf(key, sizeof key, "%s.key", keypair("a"));
    CHECK_OK(cove_audit_manifest_sign(path_in("plug.json"), key, NULL));
    cove_audit_trust *t = trust_of("a");
    CHECK(t);
    struct cove_audit_manifest m;
    cove_status s = cove_audit_manifest_verify(path_in("plug.json"), NULL, t, &m, NULL);
    cove_error err = {0};
    cove_status s2 = cove_audit_require_signed_model(path_in("plug"), t, &err); /* not a model */
    cove_audit_trust_free(t);
    CHECK_OK(s);
    int ok = m.kind == COVE_AUDIT_MANIFEST_PLUGIN && m.n_permissions == 2 &&
             strcmp(m.permissions[1], "exec:pdftotext") == 0 && m.schema_json &&
             strstr(m.schema_json, "\"path\"");
    cove_audit_manifest_release(&m);
    CHECK(ok);
    CHECK_EQ_INT(s2, COVE_ERR_PERMISSION);
}

TEST(sign_manifest_parse_rejects)
{
    struct cove_audit_manifest m;
    const char *bad[] = {
        "{}",
        "[1]",
        "{\"name\":\"a\",\"version\":\"1\",\"kind\":\"model\",\"sha256\":\"00\"}",
        "{\"name\":\"a\",\"version\":\"1\",\"kind\":\"other\",\"sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"name\":\"a\",\"version\":\"1\",\"kind\":\"model\",\"extra\":1,\"sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"name\":\"a\",\"name\":\"b\",\"version\":\"1\",\"kind\":\"model\",\"sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"name\":\"a\",\"version\":\"1\",\"kind\":\"plugin\",\"permissions\":[1],\"sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(cove_audit_manifest_parse(bad[i], strlen(bad[i]), &m, NULL) == COVE_ERR_FORMAT,
                  "accepted %s", bad[i]);
}
