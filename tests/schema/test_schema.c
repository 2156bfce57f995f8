/*
 * tests/schema/test_schema.c - unit tests of the schema module: conversion errors that
 * name keyword and pointer, tool-call and plan grammars, whitespace forms, validator
 * messages, bounds, and allocation failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "cove/grammar.h"
#include "schema/schema.h"
#include "test.h"

static cove_grammar_vocab *bytes_vocab(void)
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

/* 1 when grammar text gbnf accepts doc entirely, 0 when not, -1 on a compile error. */
static int accepts(const char *gbnf, const char *doc)
{
    cove_grammar_vocab *v = bytes_vocab();
    cove_grammar *g = NULL;
    cove_grammar_matcher *m = NULL;
    int r = -1;
    if (v && cove_grammar_compile(v, gbnf, strlen(gbnf), &g, NULL) == COVE_OK &&
        cove_grammar_matcher_create(g, &m, NULL) == COVE_OK)
        r = cove_grammar_matcher_accept_bytes(m, doc, strlen(doc), NULL) == COVE_OK &&
            cove_grammar_matcher_can_end(m);
    cove_grammar_matcher_free(m);
    cove_grammar_free(g);
    cove_grammar_vocab_free(v);
    return r;
}

static cove_status convert(const char *schema, const cove_schema_opts *o, char **out, cove_error *err)
{
    return cove_schema_to_gbnf(schema, strlen(schema), o, out, err);
}

/* ---- conversion errors --------------------------------------------------------------- */

TEST(unsupported_keyword_named_with_pointer)
{
    static const struct { const char *schema, *kw, *ptr; } cases[] = {
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"not\":{\"type\":\"string\"}}}}", "'not'", "#/properties/a"},
        {"{\"type\":\"integer\",\"multipleOf\":2}", "'multipleOf'", "#"},
        {"{\"type\":\"array\",\"items\":{\"type\":\"object\",\"minProperties\":1}}", "'minProperties'", "#/items"},
        {"{\"anyOf\":[{\"type\":\"string\"},{\"if\":{}}]}", "'if'", "#/anyOf/1"},
        {"{\"type\":\"string\",\"pattern\":\"(?=x)\"}", "'pattern'", "#/pattern"},
        {"{\"$defs\":{\"x\":{\"contains\":{}}},\"$ref\":\"#/$defs/x\"}", "'contains'", "#/$defs/x"},
        {"{\"type\":\"object\",\"properties\":{\"a/b\":{\"uniqueKeys\":1}}}", "'uniqueKeys'", "#/properties/a~1b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *g = (char *)1;
        cove_error err = {0};
        CHECK_EQ_INT(convert(cases[i].schema, NULL, &g, &err), COVE_ERR_UNSUPPORTED);
        CHECK(g == NULL);
        CHECK_MSG(strstr(err.msg, cases[i].kw) && strstr(err.msg, cases[i].ptr), "%s", err.msg);
    }
}

TEST(strict_refuses_relaxations)
{
    static const char *const relaxed[] = {
        "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
        "{\"type\":\"array\",\"uniqueItems\":true}",
        "{\"type\":\"number\",\"minimum\":0.5}",
        "{\"type\":\"string\",\"format\":\"hostname\"}"};
    cove_schema_opts strict = cove_schema_default_opts();
    strict.strict = 1;
    for (size_t i = 0; i < sizeof relaxed / sizeof relaxed[0]; i++) {
        char *g = NULL;
        cove_error err = {0};
        CHECK_OK(convert(relaxed[i], NULL, &g, &err));
        cove_free(g);
        g = NULL;
        CHECK_EQ_INT(convert(relaxed[i], &strict, &g, &err), COVE_ERR_UNSUPPORTED);
        CHECK_MSG(strstr(err.msg, "keyword '"), "%s", err.msg);
    }
}

TEST(bad_input_reported)
{
    char *g = NULL;
    cove_error err = {0};
    CHECK_EQ_INT(convert("{\"type\":", NULL, &g, &err), COVE_ERR_FORMAT);
    CHECK(strstr(err.msg, "line 1") != NULL);
    CHECK_EQ_INT(convert("{\"type\":\"strin\"}", NULL, &g, &err), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(convert("{\"$ref\":\"#/$defs/missing\"}", NULL, &g, &err), COVE_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "$ref") != NULL);
    CHECK_EQ_INT(convert("{\"$ref\":\"http://x/y.json\"}", NULL, &g, &err), COVE_ERR_UNSUPPORTED);
    CHECK_EQ_INT(convert("{\"type\":\"string\",\"minLength\":-1}", NULL, &g, &err), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(convert("{\"type\":\"string\",\"minLength\":5,\"maxLength\":2}", NULL, &g, &err),
                 COVE_ERR_UNSUPPORTED);
    CHECK_EQ_INT(convert("{\"enum\":[1,2],\"type\":\"string\"}", NULL, &g, &err), COVE_ERR_UNSUPPORTED);
    CHECK_EQ_INT(convert("{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", NULL, &g, &err),
                 COVE_ERR_UNSUPPORTED);
    CHECK_EQ_INT(convert("[]", NULL, &g, &err), COVE_ERR_INVALID_ARG);
    CHECK(g == NULL);
    cove_schema_opts o = cove_schema_default_opts();
    o.max_ws = COVE_SCHEMA_MAX_WS + 1;
    CHECK_EQ_INT(convert("{}", &o, &g, &err), COVE_ERR_INVALID_ARG);
}

TEST(limits_enforced)
{
    char *g = NULL;
    cove_error err = {0};
    /* nesting past COVE_SCHEMA_MAX_DEPTH */
    char deep[4096] = "";
    for (int i = 0; i < COVE_SCHEMA_MAX_DEPTH + 2; i++)
        strcat(deep, "{\"items\":");
    strcat(deep, "{}");
    for (int i = 0; i < COVE_SCHEMA_MAX_DEPTH + 2; i++)
        strcat(deep, "}");
    CHECK_EQ_INT(convert(deep, NULL, &g, &err), COVE_ERR_LIMIT);
    char big[128];
    snprintf(big, sizeof big, "{\"type\":\"string\",\"maxLength\":%d}", COVE_SCHEMA_MAX_REPEAT + 1);
    CHECK_EQ_INT(convert(big, NULL, &g, &err), COVE_ERR_LIMIT);
    snprintf(big, sizeof big, "{\"type\":\"string\",\"pattern\":\"^a{%d}$\"}", COVE_SCHEMA_MAX_REPEAT + 1);
    CHECK_EQ_INT(convert(big, NULL, &g, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(convert("{\"type\":\"integer\",\"maximum\":1e30}", NULL, &g, &err), COVE_ERR_UNSUPPORTED);
    CHECK(g == NULL);
}

/* ---- grammars ---------------------------------------------------------------------- */

TEST(whitespace_forms)
{
    const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}}}";
    cove_schema_opts o = cove_schema_default_opts();
    for (int ws = 0; ws <= 2; ws++) {
        char *g = NULL;
        o.max_ws = ws;
        CHECK_OK(convert(s, &o, &g, NULL));
        CHECK_EQ_INT(accepts(g, "{\"a\":[1,2]}"), 1);
        CHECK_EQ_INT(accepts(g, "{}"), 1);
        CHECK_EQ_INT(accepts(g, "{ \"a\": [1, 2] }"), ws >= 1);
        CHECK_EQ_INT(accepts(g, "{\n\"a\":\t[ 1 ,\n2 ]\n}"), ws >= 1);
        CHECK_EQ_INT(accepts(g, "{  \"a\":[1]}"), ws >= 2);
        CHECK_EQ_INT(accepts(g, " {}"), 0);
        CHECK_EQ_INT(accepts(g, "{}\n"), 0);
        cove_free(g);
    }
}

TEST(any_json_grammar)
{
    char *g = NULL;
    CHECK_OK(cove_schema_any_json_gbnf(NULL, &g, NULL));
    static const char *const ok[] = {"0", "-1.5e+3", "\"a\\u00e9\\n\"", "true", "null", "[]",
                                     "{\"a\": [1, {\"b\": null}], \"c\": \"\"}"};
    static const char *const bad[] = {"01", "'a'", "[1,]", "{\"a\"}", "tru", "\"\x01\"", "{a:1}"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK_MSG(accepts(g, ok[i]) == 1, "refused %s", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(accepts(g, bad[i]) == 0, "accepted %s", bad[i]);
    cove_free(g);
}

TEST(tool_call_grammar)
{
    json_t *a = json_loads("{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}},"
                           "\"required\":[\"q\"],\"additionalProperties\":false}", 0, NULL);
    json_t *b = json_loads("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\","
                           "\"minimum\":1,\"maximum\":9}},\"required\":[\"n\"]}", 0, NULL);
    cove_schema_tool tools[] = {{"search", a}, {"roll", b}, {"noop", NULL}};
    cove_schema_opts o = cove_schema_default_opts();
    o.max_ws = 0;
    char *g = NULL;
    cove_error err = {0};
    CHECK_OK(cove_schema_tool_call_gbnf(tools, 3, NULL, &o, &g, &err));
    CHECK_EQ_INT(accepts(g, "{\"name\":\"search\",\"arguments\":{\"q\":\"x\"}}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"name\":\"roll\",\"arguments\":{\"n\":9}}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"name\":\"noop\",\"arguments\":{}}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"name\":\"noop\",\"arguments\":{\"any\":[1]}}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"name\":\"roll\",\"arguments\":{\"q\":\"x\"}}"), 0);
    CHECK_EQ_INT(accepts(g, "{\"name\":\"roll\",\"arguments\":{\"n\":10}}"), 0);
    CHECK_EQ_INT(accepts(g, "{\"name\":\"other\",\"arguments\":{}}"), 0);
    cove_free(g);

    /* the same schema validates finished calls */
    json_t *s = NULL;
    CHECK_OK(cove_schema_tool_call_schema(tools, 3, NULL, &s, &err));
    json_t *call = json_loads("{\"name\":\"roll\",\"arguments\":{\"n\":0}}", 0, NULL);
    CHECK_EQ_INT(cove_schema_validate(s, call, &err), COVE_ERR_FORMAT);
    json_decref(call);
    json_decref(s);

    /* several calls in an array */
    cove_schema_call_shape sh = cove_schema_default_call_shape();
    sh.max_calls = 2;
    CHECK_OK(cove_schema_tool_call_gbnf(tools, 3, &sh, &o, &g, &err));
    CHECK_EQ_INT(accepts(g, "[{\"name\":\"noop\",\"arguments\":{}},{\"name\":\"roll\",\"arguments\":{\"n\":1}}]"), 1);
    CHECK_EQ_INT(accepts(g, "[]"), 0);
    CHECK_EQ_INT(accepts(g, "[{\"name\":\"noop\",\"arguments\":{}},{\"name\":\"noop\",\"arguments\":{}},"
                            "{\"name\":\"noop\",\"arguments\":{}}]"), 0);
    cove_free(g);

    /* duplicate names and bad shapes are refused */
    cove_schema_tool dup[] = {{"x", NULL}, {"x", NULL}};
    CHECK_EQ_INT(cove_schema_tool_call_gbnf(dup, 2, NULL, NULL, &g, &err), COVE_ERR_INVALID_ARG);
    sh = cove_schema_default_call_shape();
    sh.args_key = "name";
    CHECK_EQ_INT(cove_schema_tool_call_gbnf(tools, 1, &sh, NULL, &g, &err), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_schema_tool_call_gbnf(tools, 0, NULL, NULL, &g, &err), COVE_ERR_INVALID_ARG);
    json_decref(a);
    json_decref(b);
}

TEST(agent_plan_grammar)
{
    json_t *args = json_loads("{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},"
                              "\"required\":[\"path\"]}", 0, NULL);
    json_t *ans = json_loads("{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}},"
                             "\"required\":[\"answer\"]}", 0, NULL);
    json_t *str = json_loads("{\"type\":\"string\",\"maxLength\":200}", 0, NULL);
    cove_schema_tool tools[] = {{"read_file", args}, {"final_answer", ans}};
    cove_schema_field before[] = {{"thought", str}};
    cove_schema_call_shape sh = cove_schema_default_call_shape();
    sh.select_key = "action";
    sh.args_key = "action_input";
    sh.before = before;
    sh.n_before = 1;
    char *g = NULL;
    cove_error err = {0};
    CHECK_OK(cove_schema_tool_call_gbnf(tools, 2, &sh, NULL, &g, &err));
    CHECK_EQ_INT(accepts(g, "{\"thought\": \"look\", \"action\": \"read_file\", \"action_input\": {\"path\": \"/a\"}}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"thought\":\"ok\",\"action\":\"final_answer\",\"action_input\":{\"answer\":\"42\"}}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"thought\":\"ok\",\"action\":\"final_answer\",\"action_input\":{\"path\":\"/a\"}}"), 0);
    CHECK_EQ_INT(accepts(g, "{\"action\":\"final_answer\",\"action_input\":{\"answer\":\"42\"}}"), 0);
    cove_free(g);
    json_decref(args);
    json_decref(ans);
    json_decref(str);
}

TEST(recursive_ref_grammar)
{
    const char *s = "{\"$defs\":{\"t\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
                    "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/t\"}}},\"required\":[\"v\"],"
                    "\"additionalProperties\":false}},\"$ref\":\"#/$defs/t\"}";
    char *g = NULL;
    CHECK_OK(convert(s, NULL, &g, NULL));
    CHECK_EQ_INT(accepts(g, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4,\"kids\":[]}]}]}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"v\":1,\"kids\":[{\"kids\":[]}]}"), 0);
    cove_free(g);
}

TEST(extra_property_keys_differ_from_declared)
{
    const char *s = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"idx\":{\"type\":\"integer\"}},"
                    "\"additionalProperties\":{\"type\":\"string\"}}";
    char *g = NULL;
    CHECK_OK(convert(s, NULL, &g, NULL));
    CHECK_EQ_INT(accepts(g, "{\"id\":1,\"i\":\"a\",\"idxx\":\"b\",\"\":\"c\",\"x-y\":\"d\"}"), 1);
    CHECK_EQ_INT(accepts(g, "{\"id\":1,\"id\":\"a\"}"), 0);
    CHECK_EQ_INT(accepts(g, "{\"idx\":1,\"idx\":\"a\"}"), 0);
    cove_free(g);
}

/* ---- validator ----------------------------------------------------------------------- */

static cove_status vtext(const char *schema, const char *doc, cove_error *err)
{
    return cove_schema_validate_text(schema, strlen(schema), doc, strlen(doc), err);
}

TEST(validator_messages_name_pointer_and_keyword)
{
    static const struct { const char *schema, *doc, *want; } cases[] = {
        {"{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"id\":{\"minimum\":5}}}}",
         "[{\"id\":5},{\"id\":9},{\"id\":3}]", "/2/id: 'minimum'"},
        {"{\"properties\":{\"a/b\":{\"properties\":{\"c~d\":{\"type\":\"string\"}}}}}",
         "{\"a/b\":{\"c~d\":1}}", "/a~1b/c~0d: 'type'"},
        {"{\"required\":[\"x\"]}", "{}", "(root): 'required': property 'x' is missing"},
        {"{\"additionalProperties\":false,\"properties\":{\"a\":{}}}", "{\"a\":1,\"b\":2}", "/b: 'additionalProperties'"},
        {"{\"type\":\"string\",\"format\":\"date\"}", "\"2023-02-29\"", "(root): 'format'"},
        {"{\"type\":\"string\",\"pattern\":\"^a+$\"}", "\"ab\"", "'pattern'"},
        {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}", "5", "'oneOf': 2 branches"},
        {"{\"items\":{\"uniqueItems\":true}}", "[[1,[2]],[1,[2.0],1.0,1]]", "/1: 'uniqueItems'"},
        {"{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#/$defs/n\"},"
         "\"v\":{\"const\":1}}}},\"$ref\":\"#/$defs/n\"}", "{\"next\":{\"next\":{\"v\":2}}}", "/next/next/v: 'const'"},
        {"{\"not\":{\"type\":\"null\"}}", "null", "'not'"},
        {"{\"multipleOf\":0.5}", "1.25", "'multipleOf'"},
        {"{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", "'maxLength': 3 characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cove_error err = {0};
        CHECK_EQ_INT(vtext(cases[i].schema, cases[i].doc, &err), COVE_ERR_FORMAT);
        CHECK_MSG(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
    }
    cove_error err = {0};
    CHECK_OK(vtext("{\"maxLength\":3}", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", &err));
    CHECK_OK(vtext("{\"type\":\"integer\"}", "2.0", &err));
    CHECK_OK(vtext("{\"enum\":[1]}", "1.0", &err));
    CHECK_EQ_INT(vtext("{\"enum\":[1]}", "true", &err), COVE_ERR_FORMAT);
    CHECK_OK(vtext("{\"if\":{\"type\":\"integer\"},\"then\":{\"minimum\":0},\"else\":{\"type\":\"string\"}}", "\"x\"", &err));
    CHECK_EQ_INT(vtext("{\"if\":{\"type\":\"integer\"},\"then\":{\"minimum\":0}}", "-1", &err), COVE_ERR_FORMAT);
}

TEST(validator_schema_errors)
{
    cove_error err = {0};
    CHECK_EQ_INT(vtext("{\"$ref\":\"#/nope\"}", "1", &err), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(vtext("{\"type\":5}", "1", &err), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(vtext("{\"pattern\":\"(?<=a)\"}", "\"a\"", &err), COVE_ERR_UNSUPPORTED);
    CHECK_EQ_INT(vtext("{", "1", &err), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(vtext("{}", "[1,", &err), COVE_ERR_FORMAT);
    CHECK(strstr(err.msg, "not JSON") != NULL);
    /* nested counts the C library would expand into millions of nodes */
    CHECK_EQ_INT(vtext("{\"pattern\":\"((a{1000}){1000}){9}\"}", "\"a\"", &err), COVE_ERR_LIMIT);
    CHECK_OK(vtext("{\"pattern\":\"^(a{1,20}b){1,50}$\"}", "\"ab\"", &err));
    CHECK_EQ_INT(vtext("{\"pattern\":\"a*++++++++++++++++++++++++++++++++++++++++++++\"}", "\"a\"", &err),
                 COVE_ERR_UNSUPPORTED);
    CHECK_EQ_INT(vtext("{\"pattern\":\"a)\"}", "\"a\"", &err), COVE_ERR_INVALID_ARG);
    CHECK_OK(vtext("{\"pattern\":\"^a+?b*?$\"}", "\"aab\"", &err));
    /* unbounded recursion through $ref is a limit, not a crash */
    CHECK_EQ_INT(vtext("{\"$ref\":\"#\"}", "1", &err), COVE_ERR_LIMIT);
}

TEST(enum_values_filtered_by_siblings)
{
    char *g = NULL;
    CHECK_OK(convert("{\"type\":\"string\",\"enum\":[\"a\",1,\"bb\"],\"maxLength\":1}", NULL, &g, NULL));
    CHECK_EQ_INT(accepts(g, "\"a\""), 1);
    CHECK_EQ_INT(accepts(g, "\"bb\""), 0);
    CHECK_EQ_INT(accepts(g, "1"), 0);
    cove_free(g);
}

/* ---- allocation failures -------------------------------------------------------------- */

TEST(allocation_failures_reported)
{
    const char *s = "{\"$defs\":{\"p\":{\"type\":\"string\",\"pattern\":\"^[a-z]+\\\\d?$\"}},\"type\":\"object\","
                    "\"properties\":{\"a\":{\"$ref\":\"#/$defs/p\"},\"b\":{\"type\":\"integer\",\"minimum\":-5,"
                    "\"maximum\":500},\"c\":{\"type\":\"array\",\"prefixItems\":[{\"enum\":[1,\"x\"]}],"
                    "\"items\":{\"format\":\"date\"}}},\"required\":[\"a\"],\"additionalProperties\":{\"type\":\"number\"}}";
    int ok_seen = 0;
    for (long n = 1; n < 400 && !ok_seen; n++) {
        char *g = NULL;
        cove_error err = {0};
        cove_alloc_fail_at(n, 0);
        cove_status st = convert(s, NULL, &g, &err);
        cove_alloc_fail_at(0, 0);
        CHECK_MSG(st == COVE_OK || st == COVE_ERR_NOMEM, "n=%ld: %d %s", n, st, err.msg);
        ok_seen = st == COVE_OK;
        cove_free(g);
    }
    CHECK(ok_seen);
}
