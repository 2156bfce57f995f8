/*
 * schema/gbnf_string.c - string schemas (format, pattern, minLength/maxLength) and
 * the shared helper rules (ws, char, string, number, value, ...).
 *
 * A string's content is made of JSON string characters: any code point but '"', '\'
 * and the controls U+0000..U+001F, or an escape (\" \\ \/ \b \f \n \r \t \uXXXX).
 * minLength/maxLength count these characters, each escape as one.
 */
#include <string.h>

#include "base/limits.h"
#include "schema_int.h"

/* Content of the formats (no quotes). Dates check the days of each month and leap years. */
#define G_YEAR "[0-9]{4}"
#define G_LEAP "([0-9] [0-9] (\"0\" [48] | [2468] [048] | [13579] [26]) | ([02468] [048] | [13579] [26]) \"00\")"
#define G_MD "((\"0\" [13578] | \"1\" [02]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01]) | " \
             "(\"0\" [469] | \"11\") \"-\" (\"0\" [1-9] | [12] [0-9] | \"30\") | " \
             "\"02-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]))"
#define G_DATE "(" G_YEAR " \"-\" " G_MD " | " G_LEAP " \"-02-29\")"
#define G_HH "([01] [0-9] | \"2\" [0-3])"
#define G_TIME G_HH " \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]+)? " \
               "(\"Z\" | [+-] " G_HH " \":\" [0-5] [0-9])"
#define G_HEX "[0-9a-fA-F]"
#define G_ATOM "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
#define G_LABEL "[A-Za-z0-9] ([A-Za-z0-9-]* [A-Za-z0-9])?"
#define G_OCTET "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9]? [0-9])"

static const struct { const char *name, *gbnf; } formats[] = {
    {"date", G_DATE},
    {"time", G_TIME},
    {"date-time", G_DATE " \"T\" " G_TIME},
    {"uuid", G_HEX "{8} \"-\" " G_HEX "{4} \"-\" " G_HEX "{4} \"-\" " G_HEX "{4} \"-\" " G_HEX "{12}"},
    {"email", G_ATOM " (\".\" " G_ATOM ")* \"@\" " G_LABEL " (\".\" " G_LABEL ")+"},
    {"ipv4", G_OCTET " (\".\" " G_OCTET "){3}"},
};

static cove_status format_expr(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    const json_t *f = json_object_get(s, "format");
    if (!json_is_string(f))
        return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'format' must be a string");
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(json_string_value(f), formats[i].name) != 0)
            continue;
        if (json_object_get(s, "pattern") || json_object_get(s, "minLength") ||
            json_object_get(s, "maxLength"))
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr,
                           "keyword 'format' together with 'pattern' or a length bound");
        return cove_buf_appendf(e, "\"\\\"\" %s \"\\\"\" ", formats[i].gbnf);
    }
    if (g->opts.strict)
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "keyword 'format' value '%.40s' (strict)",
                       json_string_value(f));
    return 1; /* an unknown format is an annotation: not enforced */
}

cove_status sg_string(sg *g, const json_t *s, const char *ptr, struct cove_buf *e)
{
    if (json_object_get(s, "format")) {
        cove_status st = format_expr(g, s, ptr, e);
        if (st != 1)
            return st;
    }
    long lo = 0, hi = -1;
    int has_lo = sg_count_kw(g, s, "minLength", ptr, COVE_SCHEMA_MAX_REPEAT, &lo);
    int has_hi = sg_count_kw(g, s, "maxLength", ptr, COVE_SCHEMA_MAX_REPEAT, &hi);
    if (has_lo < 0 || has_hi < 0)
        return g->err ? g->err->status : COVE_ERR_INVALID_ARG;
    if (has_hi && hi < lo)
        return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr, "'maxLength' below 'minLength' allows no string");
    const json_t *pat = json_object_get(s, "pattern");
    cove_status st = cove_buf_append_str(e, "\"\\\"\" ");
    if (st)
        return st;
    if (pat) {
        if (!json_is_string(pat))
            return sg_fail(g, COVE_ERR_INVALID_ARG, ptr, "'pattern' must be a string");
        if (has_lo || has_hi)
            return sg_fail(g, COVE_ERR_UNSUPPORTED, ptr,
                           "keyword 'pattern' together with 'minLength'/'maxLength'");
        char pptr[SG_PTR_MAX];
        sg_ptr_join(pptr, ptr, "pattern");
        st = sg_pattern(g, json_string_value(pat), pptr, e);
    } else if (!has_lo && !has_hi) {
        st = cove_buf_append_str(e, "char* ");
    } else if (has_hi) {
        st = cove_buf_appendf(e, "char{%ld,%ld} ", lo, hi);
    } else {
        st = cove_buf_appendf(e, "char{%ld,} ", lo);
    }
    g->helpers |= pat ? 0 : SG_H_CHAR;
    return st ? st : cove_buf_append_str(e, "\"\\\"\" ");
}

/* ---- helper rules ------------------------------------------------------------------- */

static unsigned helper_closure(const sg *g, unsigned h)
{
    for (int pass = 0; pass < 4; pass++) {
        if (h & SG_H_VALUE)
            h |= SG_H_OBJECT | SG_H_ARRAY | SG_H_STRING | SG_H_NUMBER | SG_H_BOOLEAN | SG_H_NULL;
        if (h & SG_H_OBJECT)
            h |= SG_H_STRING | SG_H_VALUE;
        if (h & SG_H_ARRAY)
            h |= SG_H_VALUE;
        if (h & SG_H_STRING)
            h |= SG_H_CHAR;
    }
    if ((h & (SG_H_OBJECT | SG_H_ARRAY)) && g->opts.max_ws > 0)
        h |= SG_H_WS;
    return h;
}

cove_status sg_helpers_emit(sg *g)
{
    unsigned h = helper_closure(g, g->helpers);
    const char *w = g->opts.max_ws > 0 ? " ws " : " ";
    struct cove_buf *o = &g->out;
    cove_status st = COVE_OK;
    if (h & SG_H_VALUE)
        st = cove_buf_append_str(o, "value ::= object | array | string | number | boolean | null\n");
    if (!st && (h & SG_H_OBJECT))
        st = cove_buf_appendf(o, "object ::= \"{\"%s(string%s\":\"%svalue (%s\",\"%sstring%s\":\"%svalue)*%s)? \"}\"\n",
                              w, w, w, w, w, w, w, w);
    if (!st && (h & SG_H_ARRAY))
        st = cove_buf_appendf(o, "array ::= \"[\"%s(value (%s\",\"%svalue)*%s)? \"]\"\n", w, w, w, w);
    if (!st && (h & SG_H_STRING))
        st = cove_buf_append_str(o, "string ::= \"\\\"\" char* \"\\\"\"\n");
    if (!st && (h & SG_H_CHAR))
        st = cove_buf_append_str(o, "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n");
    if (!st && (h & SG_H_KCHAR))
        st = cove_buf_append_str(o, "kchar ::= [^\"\\\\\\x00-\\x1F]\n");
    if (!st && (h & SG_H_NUMBER))
        st = cove_buf_append_str(o, "number ::= \"-\"? (\"0\" | [1-9] [0-9]*) (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)?\n");
    if (!st && (h & SG_H_INTEGER))
        st = cove_buf_append_str(o, "integer ::= \"-\"? (\"0\" | [1-9] [0-9]*)\n");
    if (!st && (h & SG_H_BOOLEAN))
        st = cove_buf_append_str(o, "boolean ::= \"true\" | \"false\"\n");
    if (!st && (h & SG_H_NULL))
        st = cove_buf_append_str(o, "null ::= \"null\"\n");
    if (!st && (h & SG_H_WS))
        st = g->opts.max_ws == 1 ? cove_buf_append_str(o, "ws ::= [ \\t\\n]?\n")
                                 : cove_buf_appendf(o, "ws ::= [ \\t\\n]{0,%d}\n", g->opts.max_ws);
    return st;
}
