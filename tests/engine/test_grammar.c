/*
 * test_grammar.c - the GBNF grammar engine (cove/grammar.h): parse errors, acceptance and
 * refusal of strings, token masks against a brute-force check of every token on real
 * vocabularies, jump-forward.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cove/engine.h"
#include "cove/grammar.h"
#include "test.h"

/* A failed check inside a helper that returns a value (CHECK returns void). */
#define NOTE_FAIL(cond, ...)                              \
    do {                                                  \
        if (!(cond))                                      \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);   \
    } while (0)

/* A JSON grammar in the shape JSON Schema converters write. */
static const char JSON_GBNF[] =
    "# any JSON value\n"
    "root   ::= value\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array  ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
    "ws     ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

static const char ARITH_GBNF[] =
    "root ::= expr\n"
    "expr ::= term ((\"+\" | \"-\") term)*\n"
    "term ::= factor ((\"*\" | \"/\") factor)*\n"
    "factor ::= [0-9]+ | \"(\" expr \")\" | \"-\" factor\n";

static const char UTF8_GBNF[] =
    "root ::= greek+ \" \" word{1,3} tail\n"
    "greek ::= [\\u03B1-\\u03C9]\n"
    "word ::= [a-zé]+ (\"-\" | \"\\U0001F600\")?\n"
    "tail ::= \"!\"? [^a-z\\n]{0,2}   # anything but lowercase\n";

static const char TOOL_GBNF[] =
    "root ::= \"{\\\"name\\\": \\\"\" name \"\\\", \\\"arguments\\\": {\\\"city\\\": \\\"\" [a-z]+ \"\\\"}}\"\n"
    "name ::= \"get_weather\" | \"get_time\"\n";

/* ------------------------------------------------------------------ helpers */

static cove_grammar_vocab *bytes_vocab(void)
{
    /* single bytes, some multi-byte pieces, partial UTF-8, pieces across elements */
    static char single[256][1];
    const char *pieces[256 + 16];
    size_t lens[256 + 16];
    int n = 0;
    for (int i = 0; i < 256; i++) {
        single[i][0] = (char)i;
        pieces[n] = single[i];
        lens[n++] = 1;
    }
    const char *extra[] = {"\":", "{\"", "\"}", "true", "null", "12", "\xCE\xB1\xCE", "\xB2",
                           "caf\xC3", "\xA9-", "\xF0\x9F", "\x98\x80", "\", \"", "get_", "weather\"",
                           ""};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        pieces[n] = extra[i];
        lens[n++] = strlen(extra[i]);
    }
    int32_t eog = n - 1; /* the empty piece is the end-of-generation token */
    cove_grammar_vocab *v = NULL;
    cove_error err = {0};
    cove_status st = cove_grammar_vocab_create_from_pieces(pieces, lens, n, &eog, 1, &v, &err);
    NOTE_FAIL(st == COVE_OK, "%s", cove_error_msg(&err));
    return v;
}

static cove_model *load_vocab_model(const char *path)
{
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *m = NULL;
    cove_error err = {0};
    cove_status st = cove_model_load(path, mp, &m, &err);
    NOTE_FAIL(st == COVE_OK, "%s: %s", path, cove_error_msg(&err));
    return m;
}

static const char *smollm2_path(void)
{
    static char path[1024];
    const char *dir = getenv("COVE_MODELS"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
    else
        snprintf(path, sizeof path, "%s/.cache/cove/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                 home ? home : "");
    return path;
}

static cove_grammar *compile(const cove_grammar_vocab *v, const char *text)
{
    cove_grammar *g = NULL;
    cove_error err = {0};
    cove_status st = cove_grammar_compile(v, text, strlen(text), &g, &err);
    NOTE_FAIL(st == COVE_OK, "compile: %s", cove_error_msg(&err));
    return g;
}

/* 1 when the grammar accepts s as a complete sentence. */
static int accepts(const cove_grammar *g, const char *s)
{
    cove_grammar_matcher *m = NULL;
    if (cove_grammar_matcher_create(g, &m, NULL) != COVE_OK)
        return -1;
    int ok = cove_grammar_matcher_accept_bytes(m, s, strlen(s), NULL) == COVE_OK &&
             cove_grammar_matcher_can_end(m);
    cove_grammar_matcher_free(m);
    return ok;
}

static void expect_error(const char *text, const char *want)
{
    cove_grammar_vocab *v = bytes_vocab();
    cove_grammar *g = NULL;
    cove_error err = {0};
    cove_status st = cove_grammar_compile(v, text, strlen(text), &g, &err);
    CHECK_MSG(st != COVE_OK, "grammar compiled but should not: %s", text);
    CHECK_MSG(strstr(err.msg, want) != NULL, "error '%s' lacks '%s'", err.msg, want);
    CHECK(g == NULL);
    cove_grammar_vocab_free(v);
}

/* ------------------------------------------------------------------ parsing */

TEST(grammar_parse_errors)
{
    expect_error("root ::= \"abc\n", "1:10: unterminated literal");
    expect_error("root ::= a\n", "1:10: undefined rule 'a'");
    expect_error("a ::= \"x\"\n", "no 'root' rule");
    expect_error("root ::= [ab\n", "1:10: unterminated character class");
    expect_error("root ::= \"x\"\n\nfoo ::= ( \"a\" \n", "expected ')'");
    expect_error("root ::= \"x\" )\n", "1:14: expected the end of the line");
    expect_error("root ::= \"\\q\"\n", "1:11: unknown escape");
    expect_error("root ::= [z-a]\n", "1:11: character range out of order");
    expect_error("root ::= \"a\"{3,2}\n", "maximum below minimum");
    expect_error("root ::= \"a\"{99999}\n", "repetition count above");
    expect_error("root ::= root \"a\" | \"b\"\n", "1:1: rule 'root' is left-recursive");
    expect_error("root ::= x\nx ::= y? root\ny ::= \"a\"\n", "left-recursive");
    expect_error("root := \"a\"\n", "1:6: expected '::='");
    expect_error("root ::= \"\\x4\"\n", "hex digits");
    expect_error("root ::= \"\xC3\"\n", "invalid UTF-8");
    expect_error("root ::= @\n", "1:10: unexpected character '@'");
    expect_error("", "no 'root' rule");
}

TEST(grammar_accepts_and_refuses)
{
    cove_grammar_vocab *v = bytes_vocab();
    cove_grammar *json = compile(v, JSON_GBNF), *ar = compile(v, ARITH_GBNF),
                 *u8 = compile(v, UTF8_GBNF);
    static const char *json_ok[] = {"{}", "[]", "{\"a\":1}", "{\"a\": [1, 2.5, -3e4, \"x\\n\"], \"b\": null}",
                                    "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"", "true", "[[[[]]]]", "0", "-0.5"};
    static const char *json_bad[] = {"{", "{\"a\"}", "[1,]", "01", "\"\x01\"", "tru", "{\"a\":1,}",
                                     "\"\\x\"", "[1 2]", "\"\xC3\x28\"", "\"\xED\xA0\x80\""};
    for (size_t i = 0; i < sizeof json_ok / sizeof *json_ok; i++)
        CHECK_MSG(accepts(json, json_ok[i]) == 1, "JSON should accept %s", json_ok[i]);
    for (size_t i = 0; i < sizeof json_bad / sizeof *json_bad; i++)
        CHECK_MSG(accepts(json, json_bad[i]) == 0, "JSON should refuse %s", json_bad[i]);
    CHECK(accepts(ar, "1+2*(3-4)/-5") == 1);
    CHECK(accepts(ar, "((1))") == 1);
    CHECK(accepts(ar, "1+") == 0);
    CHECK(accepts(ar, "(1") == 0);
    CHECK(accepts(u8, "\xCE\xB1\xCE\xB2 caf\xC3\xA9-ab\xF0\x9F\x98\x80!AB") == 1);
    CHECK(accepts(u8, "\xCE\xB1 x") == 1);
    CHECK(accepts(u8, "\xCE\xB1 xyzzy-ab-cd-ef") == 0); /* four words */
    CHECK(accepts(u8, "a x") == 0);
    CHECK(accepts(u8, "\xCE\xB1 x!ab") == 0);
    CHECK(accepts(u8, "\xCE\xB1 x\xC3\xA9\xC3\xA9") == 1);
    cove_grammar *rep = compile(v, "root ::= \"a\"{2} \"b\"{1,} \"c\"{0,2} (\"d\" | )\n  | \"z\"\n");
    CHECK(accepts(rep, "aab") == 1);
    CHECK(accepts(rep, "aabbbccd") == 1);
    CHECK(accepts(rep, "ab") == 0);
    CHECK(accepts(rep, "aabccc") == 0);
    CHECK(accepts(rep, "z") == 1);
    cove_grammar *any = compile(v, "root ::= . . \"\\\\\" [\\]\\-]\n");
    CHECK(accepts(any, "\xE2\x82\xAC" "a\\]") == 1);
    CHECK(accepts(any, "ab\\-") == 1);
    CHECK(accepts(any, "ab\\x") == 0);
    cove_grammar_free(json);
    cove_grammar_free(ar);
    cove_grammar_free(u8);
    cove_grammar_free(rep);
    cove_grammar_free(any);
    cove_grammar_vocab_free(v);
}

/* ------------------------------------------------------------------ masks */

/* The mask must equal the set of tokens accept_token takes, token by token; then walk
 * on with a random allowed token. */
static void check_masks(const cove_grammar_vocab *v, const cove_grammar *g, uint64_t seed,
                        int steps)
{
    int32_t n = cove_grammar_vocab_n_tokens(v);
    size_t nw = cove_grammar_vocab_mask_words(v);
    uint32_t *mask = calloc(nw, sizeof *mask);
    int32_t *allowed = malloc((size_t)n * sizeof *allowed);
    cove_grammar_matcher *m = NULL;
    CHECK(cove_grammar_matcher_create(g, &m, NULL) == COVE_OK);
    int s = 0;
    for (; s < steps && !test_failed_now(); s++) {
        cove_error err = {0};
        CHECK_MSG(cove_grammar_matcher_fill_mask(m, mask, &err) == COVE_OK, "%s", err.msg);
        int32_t n_allowed = 0;
        for (int32_t t = 0; t < n; t++) {
            cove_grammar_matcher *c = NULL;
            CHECK(cove_grammar_matcher_clone(m, &c, NULL) == COVE_OK);
            int ok = cove_grammar_matcher_accept_token(c, t, NULL) == COVE_OK;
            cove_grammar_matcher_free(c);
            CHECK_MSG(ok == cove_grammar_mask_test(mask, t), "step %d token %d: mask %d, accept %d", s,
                      (int)t, cove_grammar_mask_test(mask, t), ok);
            if (ok)
                allowed[n_allowed++] = t;
            if (test_failed_now())
                break;
        }
        for (size_t w = (size_t)n; w < nw * 32; w++)
            CHECK(!((mask[w >> 5] >> (w & 31)) & 1));
        if (n_allowed == 0 || cove_grammar_matcher_is_complete(m))
            break;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int32_t t = allowed[(seed >> 33) % (uint64_t)n_allowed];
        if (cove_grammar_matcher_can_end(m) && n_allowed > 1 && ((seed >> 20) & 7) == 0)
            break;
        CHECK(cove_grammar_matcher_accept_token(m, t, NULL) == COVE_OK);
        if (cove_grammar_matcher_can_end(m) && ((seed >> 13) & 3) == 0)
            cove_grammar_matcher_reset(m); /* start over now and then */
    }
    if (getenv("GRAMMAR_TEST_VERBOSE"))
        fprintf(stderr, "  %d steps\n", s);
    cove_grammar_matcher_free(m);
    free(mask);
    free(allowed);
}

static void masks_on(const cove_grammar_vocab *v, int steps)
{
    const char *grammars[] = {JSON_GBNF, ARITH_GBNF, UTF8_GBNF, TOOL_GBNF};
    for (size_t i = 0; i < sizeof grammars / sizeof *grammars && !test_failed_now(); i++) {
        cove_grammar *g = compile(v, grammars[i]);
        for (uint64_t seed = 1; seed <= 3 && g && !test_failed_now(); seed++)
            check_masks(v, g, seed * 977 + i, steps);
        cove_grammar_free(g);
    }
}

TEST(grammar_mask_bytes_vocab)
{
    cove_grammar_vocab *v = bytes_vocab();
    masks_on(v, 60);
    cove_grammar_vocab_free(v);
}

static void masks_model(const char *path, int steps)
{
    cove_model *model = load_vocab_model(path);
    cove_grammar_vocab *v = NULL;
    if (model) {
        cove_error err = {0};
        CHECK_MSG(cove_grammar_vocab_create(model, &v, &err) == COVE_OK, "%s", err.msg);
    }
    if (v)
        masks_on(v, steps);
    cove_grammar_vocab_free(v);
    cove_model_free(model);
}

TEST(grammar_mask_stories260k)
{
    masks_model(test_model_path("stories260K.gguf"), 40);
}

TEST(grammar_mask_llama_tiny)
{
    masks_model(test_model_path("llama-2-tiny-random.gguf"), 30);
}

TEST(grammar_mask_smollm2)
{
    masks_model(smollm2_path(), 30);
}

/* End-of-generation: allowed exactly when the grammar accepts. */
TEST(grammar_eog_and_complete)
{
    cove_grammar_vocab *v = bytes_vocab();
    int32_t eog = cove_grammar_vocab_n_tokens(v) - 1;
    cove_grammar *g = compile(v, "root ::= \"ab\" \"c\"?\n");
    cove_grammar_matcher *m = NULL;
    uint32_t mask[16];
    CHECK(cove_grammar_matcher_create(g, &m, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_fill_mask(m, mask, NULL) == COVE_OK);
    CHECK(!cove_grammar_mask_test(mask, eog));
    CHECK(cove_grammar_matcher_accept_token(m, eog, NULL) == COVE_ERR_FORMAT);
    CHECK(cove_grammar_matcher_accept_bytes(m, "ab", 2, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_can_end(m) && !cove_grammar_matcher_is_complete(m));
    CHECK(cove_grammar_matcher_fill_mask(m, mask, NULL) == COVE_OK);
    CHECK(cove_grammar_mask_test(mask, eog) && cove_grammar_mask_test(mask, 'c'));
    CHECK(!cove_grammar_mask_test(mask, 'a'));
    cove_error err = {0};
    CHECK(cove_grammar_matcher_accept_token(m, 'x', &err) == COVE_ERR_FORMAT);
    CHECK(strstr(err.msg, "not allowed") != NULL);
    CHECK(cove_grammar_matcher_accept_token(m, 'c', NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_is_complete(m));
    CHECK(cove_grammar_matcher_accept_token(m, eog, NULL) == COVE_OK);
    float logits[300];
    for (int i = 0; i < 300; i++)
        logits[i] = 1.0f;
    CHECK(cove_grammar_matcher_fill_mask(m, mask, NULL) == COVE_OK);
    int32_t n = cove_grammar_vocab_n_tokens(v);
    cove_grammar_mask_apply(mask, logits, n);
    for (int32_t t = 0; t < n; t++)
        CHECK((isinf(logits[t]) != 0) == (t != eog));
    cove_grammar_matcher_free(m);
    cove_grammar_free(g);
    cove_grammar_vocab_free(v);
}

/* ------------------------------------------------------------------ jump-forward */

TEST(grammar_jump_forward)
{
    cove_grammar_vocab *v = bytes_vocab();
    cove_grammar *g = compile(v, TOOL_GBNF);
    cove_grammar_matcher *m = NULL;
    CHECK(cove_grammar_matcher_create(g, &m, NULL) == COVE_OK);
    char bytes[256];
    size_t nb = 0;
    int32_t toks[64], nt = 0;
    CHECK(cove_grammar_matcher_jump_forward(m, toks, 64, &nt, bytes, sizeof bytes, &nb, NULL) == COVE_OK);
    /* both names start with get_: forced too */
    CHECK(nb == 14 && memcmp(bytes, "{\"name\": \"get_", 14) == 0);
    /* longest tokens first: {" n a m e ": space " get_ */
    CHECK(nt == 9);
    for (int32_t i = 0; i < nt; i++)
        CHECK(cove_grammar_matcher_accept_token(m, toks[i], NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_jump_forward(m, toks, 64, &nt, bytes, sizeof bytes, &nb, NULL) == COVE_OK);
    CHECK(nb == 0 && nt == 0); /* weather or time */
    CHECK(cove_grammar_matcher_accept_bytes(m, "w", 1, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_jump_forward(m, toks, 64, &nt, bytes, sizeof bytes, &nb, NULL) == COVE_OK);
    const char *want = "eather\", \"arguments\": {\"city\": \"";
    CHECK(nb == strlen(want) && memcmp(bytes, want, nb) == 0);
    for (int32_t i = 0; i < nt; i++)
        CHECK(cove_grammar_matcher_accept_token(m, toks[i], NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_accept_bytes(m, "paris\"", 6, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_jump_forward(m, toks, 64, &nt, bytes, sizeof bytes, &nb, NULL) == COVE_OK);
    CHECK(nb == 2 && memcmp(bytes, "}}", 2) == 0 && nt == 2);
    for (int32_t i = 0; i < nt; i++)
        CHECK(cove_grammar_matcher_accept_token(m, toks[i], NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_is_complete(m));
    /* a small byte cap still reports what fits */
    cove_grammar_matcher_reset(m);
    CHECK(cove_grammar_matcher_jump_forward(m, NULL, 0, &nt, bytes, 3, &nb, NULL) == COVE_OK);
    CHECK(nb == 3 && nt == 0 && memcmp(bytes, "{\"n", 3) == 0);
    cove_grammar_matcher_free(m);
    cove_grammar_free(g);
    cove_grammar_vocab_free(v);
}

/* Matchers on one grammar keep separate states; clones start where the original is. */
TEST(grammar_clone_and_reset)
{
    cove_grammar_vocab *v = bytes_vocab();
    cove_grammar *g = compile(v, ARITH_GBNF);
    cove_grammar_matcher *a = NULL, *b = NULL;
    CHECK(cove_grammar_matcher_create(g, &a, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_accept_bytes(a, "(1+", 3, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_clone(a, &b, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_accept_bytes(b, "2)", 2, NULL) == COVE_OK);
    CHECK(cove_grammar_matcher_can_end(b) && !cove_grammar_matcher_can_end(a));
    CHECK(cove_grammar_matcher_accept_bytes(a, ")", 1, NULL) == COVE_ERR_FORMAT);
    cove_grammar_matcher_reset(b);
    CHECK(!cove_grammar_matcher_can_end(b));
    CHECK(cove_grammar_matcher_accept_bytes(b, "7", 1, NULL) == COVE_OK && cove_grammar_matcher_can_end(b));
    cove_grammar_matcher_free(a);
    cove_grammar_matcher_free(b);
    cove_grammar_matcher_free(NULL);
    cove_grammar_free(g);
    cove_grammar_free(NULL);
    cove_grammar_vocab_free(v);
}
