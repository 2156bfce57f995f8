/*
 * tests/convert/test_vocab.c - vocabularies converted from real tokenizer files equal the
 * reference vocabulary GGUFs of the test models (and tokenize like them once the engine
 * has their tokenizer type); the table of known vocabularies matches those files; the
 * pre-tokenizer shapes map to their names.
 *
 * A model file missing from the test models makes the test fail, not skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "convert/convert.h"
#include "convert/convert_int.h"
#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "fixture.h"
#include "test.h"

#define SEP "\n__ggml_vocab_test__\n"

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Array `key` of a and b equal, element by element (strings or 4-byte numbers). */
static int same_array(const cove_gguf *a, const cove_gguf *b, const char *key)
{
    enum cove_gguf_vtype ta, tb;
    uint64_t na, nb;
    if (cove_gguf_get_arr(a, key, &ta, &na) || cove_gguf_get_arr(b, key, &tb, &nb) || ta != tb ||
        na != nb) {
        fprintf(stderr, "    %s: missing or of another type or length\n", key);
        return 0;
    }
    for (uint64_t i = 0; i < na; i++) {
        if (ta == COVE_GGUF_STRING) {
            cove_gguf_str x, y;
            cove_gguf_arr_str(a, key, i, &x);
            cove_gguf_arr_str(b, key, i, &y);
            if (x.len != y.len || memcmp(x.ptr, y.ptr, (size_t)x.len) != 0) {
                fprintf(stderr, "    %s[%llu] differs: \"%.*s\" vs \"%.*s\"\n", key,
                        (unsigned long long)i, (int)x.len, x.ptr, (int)y.len, y.ptr);
                return 0;
            }
        } else {
            const uint8_t *x, *y;
            cove_gguf_arr_data(a, key, (const void **)&x);
            cove_gguf_arr_data(b, key, (const void **)&y);
            if (memcmp(x + 4 * i, y + 4 * i, 4) != 0) {
                fprintf(stderr, "    %s[%llu] differs\n", key, (unsigned long long)i);
                return 0;
            }
        }
    }
    return 1;
}

static int same_str(const cove_gguf *a, const cove_gguf *b, const char *key)
{
    char x[8192];
    const char *s = fx_s(a, key);
    snprintf(x, sizeof x, "%s", s ? s : "(none)");
    s = fx_s(b, key);
    if (strcmp(x, s ? s : "(none)") != 0) {
        fprintf(stderr, "    %s: \"%s\" vs \"%s\"\n", key, x, s ? s : "(none)");
        return 0;
    }
    return 1;
}

static cove_model *load_vocab(const char *path, cove_status *st)
{
    cove_model_params mp = cove_model_default_params();
    cove_model *m = NULL;
    cove_error err = {0};
    mp.vocab_only = 1;
    *st = cove_model_load(path, mp, &m, &err);
    return m;
}

/* Every .inp case gives the ids of the .out line, through both vocabularies. */
static int run_vectors(const cove_model *ours, const cove_model *ref, const char *base)
{
    char path[4200];
    size_t n_in, n_out;
    snprintf(path, sizeof path, "%s.inp", base);
    char *in = (char *)fx_read_file(path, &n_in);
    snprintf(path, sizeof path, "%s.out", base);
    char *out = (char *)fx_read_file(path, &n_out);
    if (!in || !out)
        return -1;
    in[n_in] = out[n_out] = '\0';
    int cases = 0, bad = 0;
    char *p = in, *line = out;
    while (p && *p && line && *line) {
        char *end = strstr(p, SEP), *nl = strchr(line, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int32_t a[1024], b[1024], want[1024];
        int32_t na = 0, nb = 0, nw = 0;
        cove_error err = {0};
        for (char *q = line, *e; nw < 1024; q = e) {
            long v = strtol(q, &e, 10);
            if (e == q || (nl && e > nl))
                break;
            want[nw++] = (int32_t)v;
        }
        cove_tokenize(ours, p, len, 0, 0, a, 1024, &na, &err);
        cove_tokenize(ref, p, len, 0, 0, b, 1024, &nb, &err);
        if (na != nw || nb != nw || memcmp(a, want, (size_t)na * 4) || memcmp(b, want, (size_t)nb * 4)) {
            fprintf(stderr, "    case %d \"%.*s\": %d / %d / %d tokens\n", cases, (int)len, p, na, nb, nw);
            bad++;
        }
        cases++;
        p = end ? end + strlen(SEP) : NULL;
        line = nl ? nl + 1 : NULL;
    }
    free(in);
    free(out);
    return bad ? -1 : cases;
}

/* Load ours and the reference with the engine; tokenize the vectors when it can. */
static int engine_vectors(const char *ours_path, const char *ref_name)
{
    cove_status s1, s2;
    char base[4096];
    snprintf(base, sizeof base, "%s", test_model_path(ref_name));
    cove_model *ours = load_vocab(ours_path, &s1), *ref = load_vocab(base, &s2);
    int rc = 1;
    if (s1 == COVE_ERR_UNSUPPORTED && s2 == COVE_ERR_UNSUPPORTED) {
        fprintf(stderr, "    (the engine has no tokenizer for %s yet: vectors not run)\n", ref_name);
    } else if (s1 != COVE_OK || s2 != COVE_OK) {
        fprintf(stderr, "    the engine loads the reference (%d) but not ours (%d), or the other way\n",
                (int)s2, (int)s1);
        rc = 0;
    } else {
        int n = run_vectors(ours, ref, base);
        fprintf(stderr, "    %d tokenizer vectors: %s\n", n, n > 0 ? "equal" : "DIFFERENT");
        rc = n > 0;
    }
    cove_model_free(ours);
    cove_model_free(ref);
    return rc;
}

TEST(vocab_smollm2_equals_reference)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_model_path("hf/smollm2-135m-instruct"));
    CHECK_MSG(exists(dir), "missing test model directory %s", dir);
    cove_gguf *ref = NULL;
    cove_error err = {0};
    CHECK_MSG(cove_gguf_open(test_model_path("vocab/ggml-vocab-smollm2.gguf"), &ref, &err) == COVE_OK,
              "%s", err.msg);
    const char *path;
    cove_convert_report rep;
    cove_gguf *g = fx_convert(dir, "smollm2_vocab", COVE_TYPE_F16, 1, &rep, &path);
    CHECK(g);
    CHECK_STR_EQ(rep.pre, "smollm");
    int ok = same_str(g, ref, "tokenizer.ggml.model") && same_str(g, ref, "tokenizer.ggml.pre") &&
             same_array(g, ref, "tokenizer.ggml.tokens") &&
             same_array(g, ref, "tokenizer.ggml.token_type") &&
             same_array(g, ref, "tokenizer.ggml.merges") &&
             same_str(g, ref, "tokenizer.chat_template") && same_str(g, ref, "general.architecture");
    CHECK(ok);
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.bos_token_id"), fx_u(ref, "tokenizer.ggml.bos_token_id"));
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.eos_token_id"), fx_u(ref, "tokenizer.ggml.eos_token_id"));
    CHECK_EQ_INT(fx_u(g, "tokenizer.ggml.padding_token_id"), fx_u(ref, "tokenizer.ggml.padding_token_id"));
    CHECK_EQ_INT(fx_u(g, "llama.block_count"), fx_u(ref, "llama.block_count"));
    int a, b;
    CHECK(cove_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &a) == COVE_OK);
    CHECK(cove_gguf_get_bool(ref, "tokenizer.ggml.add_bos_token", &b) == COVE_OK && a == b);
    cove_gguf_free(g);
    cove_gguf_free(ref);
    CHECK(engine_vectors(path, "vocab/ggml-vocab-smollm2.gguf"));
}

/* Append s to f as a JSON string. */
static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* The WordPiece source text of a phantom-space token. */
static void unphantom(cove_gguf_str t, char *out, size_t cap)
{
    if (t.len >= 2 && t.ptr[0] == '[' && t.ptr[t.len - 1] == ']')
        snprintf(out, cap, "%.*s", (int)t.len, t.ptr);
    else if (t.len >= 3 && memcmp(t.ptr, "\xe2\x96\x81", 3) == 0)
        snprintf(out, cap, "%.*s", (int)t.len - 3, t.ptr + 3);
    else
        snprintf(out, cap, "##%.*s", (int)t.len, t.ptr);
}

/* A bert directory whose vocabulary is that of `ref`, as vocab.txt or tokenizer.json. */
static int write_bert_dir(const cove_gguf *ref, const char *dir, int as_json)
{
    char path[4200], tok[2048];
    enum cove_gguf_vtype et;
    uint64_t n;
    cove_gguf_get_arr(ref, "tokenizer.ggml.tokens", &et, &n);
    snprintf(path, sizeof path, "%s/%s", dir, as_json ? "tokenizer.json" : "vocab.txt");
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (as_json)
        fprintf(f, "{\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\",\"special\":true},"
                   "{\"id\":100,\"content\":\"[UNK]\",\"special\":true},{\"id\":101,\"content\":"
                   "\"[CLS]\",\"special\":true},{\"id\":102,\"content\":\"[SEP]\",\"special\":true},"
                   "{\"id\":103,\"content\":\"[MASK]\",\"special\":true}],\"normalizer\":{\"type\":"
                   "\"BertNormalizer\",\"lowercase\":true},\"model\":{\"type\":\"WordPiece\","
                   "\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"vocab\":{");
    for (uint64_t i = 0; i < n; i++) {
        cove_gguf_str t;
        cove_gguf_arr_str(ref, "tokenizer.ggml.tokens", i, &t);
        unphantom(t, tok, sizeof tok);
        if (as_json) {
            fputs(i ? "," : "", f);
            json_str(f, tok, strlen(tok));
            fprintf(f, ":%llu", (unsigned long long)i);
        } else {
            fprintf(f, "%s\n", tok);
        }
    }
    fputs(as_json ? "}}}" : "", f);
    fclose(f);
    snprintf(tok, sizeof tok, "{\"model_type\":\"bert\",\"vocab_size\":%llu,\"hidden_size\":384,"
             "\"intermediate_size\":1536,\"num_hidden_layers\":12,\"num_attention_heads\":12,"
             "\"max_position_embeddings\":512,\"layer_norm_eps\":1e-12,\"type_vocab_size\":2}",
             (unsigned long long)n);
    return fx_write_text(dir, "config.json", tok) ||
           fx_write_text(dir, "tokenizer_config.json",
                         "{\"do_lower_case\":true,\"unk_token\":\"[UNK]\",\"sep_token\":\"[SEP]\","
                         "\"pad_token\":\"[PAD]\",\"cls_token\":\"[CLS]\",\"mask_token\":\"[MASK]\"}");
}

/* bge-small's WordPiece vocabulary, from vocab.txt and from tokenizer.json. */
TEST(vocab_bert_bge_equals_reference)
{
    cove_gguf *ref = NULL;
    cove_error err = {0};
    CHECK_MSG(cove_gguf_open(test_model_path("vocab/ggml-vocab-bert-bge.gguf"), &ref, &err) == COVE_OK,
              "%s", err.msg);
    for (int as_json = 0; as_json < 2; as_json++) {
        char dir[4096], name[64];
        snprintf(name, sizeof name, "bge_src_%d", as_json);
        snprintf(dir, sizeof dir, "%s", fx_dir(name));
        CHECK(write_bert_dir(ref, dir, as_json) == 0);
        snprintf(name, sizeof name, "bge_%d", as_json);
        const char *path;
        cove_gguf *g = fx_convert(dir, name, COVE_TYPE_F16, 1, NULL, &path);
        CHECK(g);
        CHECK(same_str(g, ref, "tokenizer.ggml.model") && same_str(g, ref, "tokenizer.ggml.pre"));
        CHECK(same_array(g, ref, "tokenizer.ggml.tokens"));
        CHECK(same_array(g, ref, "tokenizer.ggml.token_type"));
        static const char *const ids[] = {"unknown", "seperator", "padding", "cls", "mask"};
        for (int i = 0; i < 5; i++) {
            char key[96];
            snprintf(key, sizeof key, "tokenizer.ggml.%s_token_id", ids[i]);
            CHECK_EQ_INT(fx_u(g, key), fx_u(ref, key));
        }
        cove_gguf_free(g);
        if (as_json == 0)
            CHECK(engine_vectors(path, "vocab/ggml-vocab-bert-bge.gguf"));
    }
    cove_gguf_free(ref);
}

/* The fingerprint table holds each reference vocabulary with the name its file gives. */
TEST(vocab_known_fingerprints)
{
    static const char *const files[] = {"smollm2", "gpt-2", "starcoder", "refact", "falcon", "mpt",
                                        "deepseek-coder", "deepseek-llm", "bert-bge"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char name[128];
        cove_gguf *g = NULL;
        cove_error err = {0};
        snprintf(name, sizeof name, "vocab/ggml-vocab-%s.gguf", files[f]);
        CHECK_MSG(cove_gguf_open(test_model_path(name), &g, &err) == COVE_OK, "%s", err.msg);
        enum cove_gguf_vtype et;
        uint64_t n;
        CHECK(cove_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) == COVE_OK);
        char **toks = malloc(n * sizeof *toks);
        for (uint64_t i = 0; i < n; i++) {
            cove_gguf_str s;
            cove_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &s);
            toks[i] = malloc((size_t)s.len + 1);
            memcpy(toks[i], s.ptr, (size_t)s.len);
            toks[i][s.len] = '\0';
        }
        uint64_t fp = cove_convert_vocab_fingerprint((const char *const *)toks, (uint32_t)n);
        const char *pre = cove_convert_known_pre(fp, (uint32_t)n);
        char want[64];
        snprintf(want, sizeof want, "%s", fx_s(g, "tokenizer.ggml.pre"));
        for (uint64_t i = 0; i < n; i++)
            free(toks[i]);
        free(toks);
        cove_gguf_free(g);
        CHECK_MSG(pre && strcmp(pre, want) == 0, "%s: table says %s, the file %s", files[f],
                  pre ? pre : "(nothing)", want);
        CHECK(cove_convert_known_pre(fp, (uint32_t)n + 1) == NULL);
    }
}

static const char *shape(const char *pre_json, const char *norm_json)
{
    json_t *p = json_loads(pre_json, 0, NULL), *n = norm_json ? json_loads(norm_json, 0, NULL) : NULL;
    const char *r = cove_convert_pre_from_shape(p, n);
    json_decref(p);
    json_decref(n);
    return r ? r : "(none)";
}

TEST(vocab_pre_tokenizer_shapes)
{
    static const char llama3[] =
        "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
        "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?"
        "[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
        "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
        "false,\"trim_offsets\":true,\"use_regex\":false}]}";
    static const char qwen2[] =
        "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
        "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?"
        "[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
        "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
        "false,\"trim_offsets\":false,\"use_regex\":false}]}";
    CHECK_STR_EQ(shape(llama3, NULL), "llama-bpe");
    CHECK_STR_EQ(shape(qwen2, "{\"type\":\"NFC\"}"), "qwen2");
    CHECK_STR_EQ(shape(qwen2, "{\"type\":\"Lowercase\"}"), "(none)");
    CHECK_STR_EQ(shape("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}", NULL),
                 "gpt-2");
    CHECK_STR_EQ(shape("{\"type\":\"ByteLevel\",\"add_prefix_space\":true}", NULL), "(none)");
    CHECK_STR_EQ(shape("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\","
                       "\"individual_digits\":true},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
                       "false,\"use_regex\":true}]}", "null"),
                 "starcoder");
    CHECK_STR_EQ(shape("{\"type\":\"Whitespace\"}", NULL), "(none)");
}

/* A byte-level BPE whose pre-tokenizer cove cannot name: an error that suggests --pre. */
TEST(vocab_unknown_pre_needs_flag)
{
    char dir[4096], out[4096];
    snprintf(dir, sizeof dir, "%s", fx_dir("unknown_pre"));
    CHECK(fx_write_text(dir, "config.json",
                        "{\"model_type\":\"qwen2\",\"vocab_size\":3,\"hidden_size\":8,"
                        "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                        "\"max_position_embeddings\":16,\"rms_norm_eps\":1e-6}") == 0);
    CHECK(fx_write_text(dir, "tokenizer.json",
                        "{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"BPE\","
                        "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}") == 0);
    snprintf(out, sizeof out, "%s/unknown_pre.gguf", test_tmpdir());
    cove_convert_params p = cove_convert_default_params();
    cove_error err = {0};
    p.vocab_only = 1;
    CHECK(cove_convert_hf(dir, out, &p, NULL, &err) == COVE_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "--pre") && strstr(err.msg, "tokenizer.json"));
    p.pre = "gpt-2";
    CHECK_OK(cove_convert_hf(dir, out, &p, NULL, &err));
}
