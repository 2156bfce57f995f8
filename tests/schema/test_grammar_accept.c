/*
 * tests/schema/test_grammar_accept.c - the converter's grammars through the engine's
 * grammar compiler (cove/grammar.h): every corpus grammar compiles, accepts the valid
 * instances and refuses the invalid ones (except the documented subset/relaxation
 * cases each file lists), in the compact form and in the default whitespace form.
 * Also exhaustive checks of integer ranges against the validator.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cove/grammar.h"
#include "schema/schema.h"
#include "test.h"

/* A vocabulary of the 256 single bytes, so acceptance is tested byte by byte. */
static cove_grammar_vocab *byte_vocab(void)
{
    static char bytes[256];
    const char *pieces[256];
    size_t lens[256];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (char)i;
        pieces[i] = &bytes[i];
        lens[i] = 1;
    }
    cove_grammar_vocab *v = NULL;
    cove_grammar_vocab_create_from_pieces(pieces, lens, 256, NULL, 0, &v, NULL);
    return v;
}

/* 1 accepted, 0 refused, -1 engine error (message in err). */
static int grammar_accepts(const cove_grammar *g, const char *text, cove_error *err)
{
    cove_grammar_matcher *m = NULL;
    if (cove_grammar_matcher_create(g, &m, err) != COVE_OK)
        return -1;
    cove_status st = cove_grammar_matcher_accept_bytes(m, text, strlen(text), err);
    int r = st == COVE_OK ? cove_grammar_matcher_can_end(m) : st == COVE_ERR_FORMAT ? 0 : -1;
    cove_grammar_matcher_free(m);
    return r;
}

/* Serialise as Python's json.dumps does (ensure_ascii off), with separators sep. */
static int dump(const json_t *x, struct cove_buf *b, const char *comma, const char *colon)
{
    if (json_is_real(x)) {
        char t[64];
        double d = json_real_value(x);
        int fixed = fabs(d) >= 1e-4 && fabs(d) < 1e16; /* Python's repr */
        for (int p = fixed ? 0 : 1; p <= 17; p++) {
            snprintf(t, sizeof t, fixed ? "%.*f" : "%.*g", p, d);
            if (strtod(t, NULL) == d)
                break;
        }
        if (!strpbrk(t, ".eEn"))
            strcat(t, ".0");
        return cove_buf_append_str(b, t);
    }
    if (json_is_array(x) || json_is_object(x)) {
        int obj = json_is_object(x);
        int st = cove_buf_append_byte(b, obj ? '{' : '[');
        size_t n = obj ? json_object_size(x) : json_array_size(x);
        void *it = obj ? json_object_iter((json_t *)x) : NULL;
        for (size_t i = 0; i < n && !st; i++) {
            if (i)
                st = cove_buf_append_str(b, comma);
            if (obj) {
                json_t *k = json_string(json_object_iter_key(it));
                st = st ? st : dump(k, b, comma, colon);
                json_decref(k);
                st = st ? st : cove_buf_append_str(b, colon);
            }
            st = st ? st : dump(obj ? json_object_iter_value(it) : json_array_get(x, i), b, comma, colon);
            if (obj)
                it = json_object_iter_next((json_t *)x, it);
        }
        return st ? st : cove_buf_append_byte(b, obj ? '}' : ']');
    }
    char *t = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);
    int st = cove_buf_append_str(b, t);
    free(t);
    return st;
}

static int listed(const json_t *list, size_t i)
{
    size_t k;
    const json_t *v;
    json_array_foreach(list, k, v)
        if (json_integer_value(v) == (json_int_t)i)
            return 1;
    return 0;
}

typedef struct tally {
    int files, checks, failures;
} tally;

static void check_instances(const char *name, const cove_grammar *g, const json_t *doc, int ws, tally *t)
{
    static const char *const lists[] = {"valid", "invalid"};
    static const char *const marks[] = {"grammar_rejects_valid", "grammar_accepts_invalid"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *x;
        json_array_foreach(json_object_get(doc, lists[l]), i, x) {
            struct cove_buf b;
            cove_buf_init(&b, 1u << 20);
            dump(x, &b, ws ? ", " : ",", ws ? ": " : ":");
            cove_error err = {0};
            int got = grammar_accepts(g, b.data, &err);
            int want = (l == 0) != listed(json_object_get(doc, marks[l]), i);
            t->checks++;
            if (got != want) {
                t->failures++;
                fprintf(stderr, "  %s ws=%d %s[%zu] %s: %s %s\n", name, ws, lists[l], i,
                        got < 0 ? "engine error" : got ? "accepted" : "refused", b.data, err.msg);
            }
            cove_buf_release(&b);
        }
    }
}

static void corpus_file(cove_grammar_vocab *v, const char *dir, const char *name, tally *t)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_t *doc = json_load_file(path, 0, NULL);
    if (!doc) {
        t->failures++;
        fprintf(stderr, "  %s: not JSON\n", name);
        return;
    }
    t->files++;
    for (int ws = 0; ws <= 1 && !json_object_get(doc, "unsupported"); ws++) {
        cove_schema_opts o = cove_schema_default_opts();
        o.max_ws = ws;
        o.allow_extra_props = json_is_true(json_object_get(doc, "extra_props"));
        char *text = NULL;
        cove_error err = {0};
        cove_grammar *g = NULL;
        if (cove_schema_to_gbnf_json(json_object_get(doc, "schema"), &o, &text, &err) != COVE_OK ||
            cove_grammar_compile(v, text, strlen(text), &g, &err) != COVE_OK) {
            t->failures++;
            fprintf(stderr, "  %s ws=%d: %s\n", name, ws, err.msg);
        } else {
            check_instances(name, g, doc, ws, t);
        }
        cove_grammar_free(g);
        cove_free(text);
    }
    json_decref(doc);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(engine_accepts_corpus)
{
    const char *dir = COVE_SOURCE_DIR "/tests/schema/schemas";
    cove_grammar_vocab *v = byte_vocab();
    CHECK(v != NULL);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (strstr(e->d_name, ".json"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    tally t = {0};
    for (size_t i = 0; i < n; i++) {
        corpus_file(v, dir, names[i], &t);
        free(names[i]);
    }
    cove_grammar_vocab_free(v);
    printf("  engine: %d corpus files, %d instance checks, %d failures\n", t.files, t.checks, t.failures);
    CHECK(n >= 200);
    CHECK_EQ_INT(t.failures, 0);
}

/* Every integer near the ends of a range: grammar and validator agree. */
TEST(engine_integer_ranges_exhaustive)
{
    static const long long r[][2] = {{0, 0}, {-1, 1}, {3, 17}, {-130, -7}, {95, 1005}, {-999, 1000},
                                     {19, 20}, {1, 99}, {-5, 99999}, {7, 7000}};
    cove_grammar_vocab *v = byte_vocab();
    CHECK(v != NULL);
    int bad = 0;
    for (size_t k = 0; k < sizeof r / sizeof r[0]; k++) {
        char sch[128];
        snprintf(sch, sizeof sch, "{\"type\":\"integer\",\"minimum\":%lld,\"maximum\":%lld}", r[k][0], r[k][1]);
        char *text = NULL;
        cove_grammar *g = NULL;
        cove_error err = {0};
        CHECK_OK(cove_schema_to_gbnf(sch, strlen(sch), NULL, &text, &err));
        CHECK_OK(cove_grammar_compile(v, text, strlen(text), &g, &err));
        json_t *s = json_loads(sch, 0, NULL);
        for (long long x = r[k][0] - 1200; x <= r[k][1] + 1200; x++) {
            char num[32];
            snprintf(num, sizeof num, "%lld", x);
            json_t *inst = json_integer(x);
            int valid = cove_schema_validate(s, inst, NULL) == COVE_OK;
            json_decref(inst);
            if (grammar_accepts(g, num, NULL) != valid && bad++ < 5)
                fprintf(stderr, "  range [%lld,%lld]: %s\n", r[k][0], r[k][1], num);
        }
        json_decref(s);
        cove_grammar_free(g);
        cove_free(text);
    }
    cove_grammar_vocab_free(v);
    CHECK_EQ_INT(bad, 0);
}

/* Numbers with bounds: a grid of decimals near the ends, grammar and validator agree. */
TEST(engine_number_ranges)
{
    static const char *const schemas[] = {
        "{\"type\":\"number\",\"minimum\":-2,\"maximum\":3}",
        "{\"type\":\"number\",\"exclusiveMinimum\":-2,\"exclusiveMaximum\":3}",
        "{\"type\":\"number\",\"exclusiveMinimum\":0}",
        "{\"type\":\"number\",\"maximum\":-1}",
        "{\"type\":\"number\",\"minimum\":0,\"exclusiveMaximum\":0.0001e4}"};
    cove_grammar_vocab *v = byte_vocab();
    CHECK(v != NULL);
    int bad = 0;
    for (size_t k = 0; k < sizeof schemas / sizeof schemas[0]; k++) {
        char *text = NULL;
        cove_grammar *g = NULL;
        cove_error err = {0};
        CHECK_OK(cove_schema_to_gbnf(schemas[k], strlen(schemas[k]), NULL, &text, &err));
        CHECK_OK(cove_grammar_compile(v, text, strlen(text), &g, &err));
        json_t *s = json_loads(schemas[k], 0, NULL);
        for (int i = -500; i <= 500; i++) {
            char num[32];
            snprintf(num, sizeof num, "%s%d.%02d", i < 0 ? "-" : "", abs(i) / 100, abs(i) % 100);
            json_t *inst = json_loads(num, JSON_DECODE_ANY, NULL);
            int valid = cove_schema_validate(s, inst, NULL) == COVE_OK;
            json_decref(inst);
            if (grammar_accepts(g, num, NULL) != valid && bad++ < 5)
                fprintf(stderr, "  %s: %s\n", schemas[k], num);
        }
        json_decref(s);
        cove_grammar_free(g);
        cove_free(text);
    }
    cove_grammar_vocab_free(v);
    CHECK_EQ_INT(bad, 0);
}

/* Patterns: random strings over a small alphabet, grammar (through the engine) and
   validator (POSIX regex) agree on every one. */
TEST(engine_patterns_differential)
{
    static const char *const pats[] = {
        "^[a-c]+$", "ab", "^a|b$", "^(ab|ba)*c?$", "^[^a]b{1,2}$", "^\\d+(\\.\\d+)?$", "a.c",
        "^[\\w-]{2,3}$", "^\\s*x\\s*$", "^(?:a|\\\\|\")+$", "^[\"\\\\]$", "x{2,}", "^.?$",
        "^[a-c-]$", "^(a(b(c)?)?)$", "^\\S\\D\\W$", "^[b-]+[^-b]$", "c$", "^(a|)+b$"};
    const char alpha[] = "abcx01 -.\"\\_";
    cove_grammar_vocab *v = byte_vocab();
    CHECK(v != NULL);
    unsigned long rng = 12345;
    int bad = 0, checks = 0;
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        json_t *s = json_pack("{s:s, s:s}", "type", "string", "pattern", pats[k]);
        char *text = NULL;
        cove_grammar *g = NULL;
        cove_error err = {0};
        CHECK_MSG(cove_schema_to_gbnf_json(s, NULL, &text, &err) == COVE_OK, "%s: %s", pats[k], err.msg);
        CHECK_MSG(cove_grammar_compile(v, text, strlen(text), &g, &err) == COVE_OK, "%s: %s", pats[k], err.msg);
        for (int t = 0; t < 3000; t++) {
            char str[16];
            rng = rng * 6364136223846793005UL + 1442695040888963407UL;
            int n = (int)((rng >> 33) % 9);
            for (int i = 0; i < n; i++) {
                rng = rng * 6364136223846793005UL + 1442695040888963407UL;
                str[i] = alpha[(rng >> 33) % (sizeof alpha - 1)];
            }
            str[n] = '\0';
            json_t *inst = json_string(str);
            char *doc = json_dumps(inst, JSON_ENCODE_ANY);
            int valid = cove_schema_validate(s, inst, NULL) == COVE_OK;
            checks++;
            if (grammar_accepts(g, doc, NULL) != valid && bad++ < 5)
                fprintf(stderr, "  pattern %s on %s: validator says %d\n", pats[k], doc, valid);
            free(doc);
            json_decref(inst);
        }
        json_decref(s);
        cove_grammar_free(g);
        cove_free(text);
    }
    cove_grammar_vocab_free(v);
    printf("  %d pattern checks\n", checks);
    CHECK_EQ_INT(bad, 0);
}
