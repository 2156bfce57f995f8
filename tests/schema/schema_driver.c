/*
 * tests/schema/schema_driver.c - runs the schema module over corpus files for
 * test_corpus.py, one process for the whole corpus.
 *
 *   schema_driver corpus FILE...   one JSON line per file:
 *       {"file": F, "gbnf": TEXT | null, "gbnf0": TEXT | null (compact form, --ws 0),
 *        "error": MSG | null, "valid": [RESULT...], "invalid": [RESULT...]}
 *     where RESULT is {"ok": true} or {"ok": false, "status": NAME, "msg": MSG}: the
 *     verdict of cove_schema_validate on each instance of the file.
 *   schema_driver gbnf SCHEMA.json   the grammar on stdout (exit 1 on error)
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "schema/schema.h"

static json_t *verdicts(const json_t *schema, const json_t *list)
{
    json_t *out = json_array();
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x) {
        cove_error err = {0};
        cove_status st = cove_schema_validate(schema, x, &err);
        json_t *r = st == COVE_OK ? json_pack("{s:b}", "ok", 1)
                                  : json_pack("{s:b, s:s, s:s}", "ok", 0, "status",
                                              cove_status_name(st), "msg", err.msg);
        json_array_append_new(out, r);
    }
    return out;
}

static json_t *grammar(const json_t *schema, int ws, int extra, json_t **error)
{
    cove_schema_opts o = cove_schema_default_opts();
    o.max_ws = ws;
    o.allow_extra_props = extra;
    char *g = NULL;
    cove_error err = {0};
    if (cove_schema_to_gbnf_json(schema, &o, &g, &err) != COVE_OK) {
        if (!*error)
            *error = json_pack("{s:s, s:s}", "status", cove_status_name(err.status), "msg", err.msg);
        return json_null();
    }
    json_t *t = json_string(g);
    cove_free(g);
    return t;
}

static int corpus_file(const char *path)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        fprintf(stderr, "%s: %s (line %d)\n", path, je.text, je.line);
        return 1;
    }
    const json_t *schema = json_object_get(doc, "schema");
    int extra = json_is_true(json_object_get(doc, "extra_props"));
    json_t *error = NULL;
    json_t *g1 = grammar(schema, 1, extra, &error);
    json_t *g0 = grammar(schema, 0, extra, &error);
    json_t *line = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "file", path, "gbnf", g1, "gbnf0", g0,
                             "error", error ? error : json_null(),
                             "valid", verdicts(schema, json_object_get(doc, "valid")),
                             "invalid", verdicts(schema, json_object_get(doc, "invalid")));
    char *txt = json_dumps(line, JSON_COMPACT);
    puts(txt);
    free(txt);
    json_decref(line);
    json_decref(doc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "corpus") == 0) {
        int bad = 0;
        for (int i = 2; i < argc; i++)
            bad |= corpus_file(argv[i]);
        return bad;
    }
    if (argc == 3 && strcmp(argv[1], "gbnf") == 0) {
        json_error_t je;
        json_t *s = json_load_file(argv[2], JSON_DECODE_ANY, &je);
        char *g = NULL;
        cove_error err = {0};
        if (!s || cove_schema_to_gbnf_json(s, NULL, &g, &err) != COVE_OK) {
            fprintf(stderr, "%s\n", s ? err.msg : je.text);
            json_decref(s);
            return 1;
        }
        fputs(g, stdout);
        cove_free(g);
        json_decref(s);
        return 0;
    }
    fprintf(stderr, "usage: schema_driver corpus FILE... | schema_driver gbnf SCHEMA.json\n");
    return 2;
}
