/*
 * tools.c - tool calls in chat answers: how each chat family writes them, the grammar that
 * makes the model write only well-formed calls, and reading the calls back out.
 *
 * A call is the JSON object {"name": TOOL, "arguments": {...}} (llama 3.1: "parameters"),
 * framed the way the family's template shows calls to the model: ChatML and the families
 * without a tool convention of their own use qwen's "<tool_call>\n...\n</tool_call>"
 * blocks, llama 3.1 writes the bare object. The grammar comes from the tools' parameter
 * schemas (schema/schema.h), so a call's arguments always fit its tool's schema.
 *
 * With tool_choice "auto" the answer is either calls or text; text may not begin with the
 * opening of a call (nor with white space), which keeps the two apart from the first byte.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "schema/schema.h"
#include "server/server_int.h"

#define SRV_MAX_PARALLEL_CALLS 8

static const srv_tool_syntax qwen_syntax = {"<tool_call>\n", "\n</tool_call>", "\n", "arguments"};
static const srv_tool_syntax llama31_syntax = {"", "", "", "parameters"};

const srv_tool_syntax *srv_tool_syntax_of(enum cove_chat_family f)
{
    return f == COVE_CHAT_LLAMA31 ? &llama31_syntax : &qwen_syntax;
}

/* ---------------------------------------------------------------- grammar */

/* Append s as a GBNF string literal. */
static cove_status put_literal(struct cove_buf *b, const char *s)
{
    cove_status st = cove_buf_append_byte(b, '"');
    for (; *s && st == COVE_OK; s++) {
        if (*s == '\n')
            st = cove_buf_append_str(b, "\\n");
        else if (*s == '"' || *s == '\\')
            st = cove_buf_appendf(b, "\\%c", *s);
        else
            st = cove_buf_append_byte(b, (unsigned char)*s);
    }
    return st == COVE_OK ? cove_buf_append_byte(b, '"') : st;
}

static int ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Copy the GBNF text g into b with the rule name `root` renamed `tc-call` (names only:
 * literals, character classes and comments are copied as they are). */
static cove_status rename_root(struct cove_buf *b, const char *g)
{
    cove_status st = COVE_OK;
    char in = 0; /* '"', '[' or '#' while inside a literal, class or comment */
    for (size_t i = 0; g[i] && st == COVE_OK;) {
        char c = g[i];
        if (in) {
            size_t k = (c == '\\' && in != '#' && g[i + 1]) ? 2 : 1;
            if ((in == '"' && c == '"') || (in == '[' && c == ']') || (in == '#' && c == '\n'))
                in = 0;
            st = cove_buf_append(b, g + i, k);
            i += k;
        } else if (c == '"' || c == '[' || c == '#') {
            in = c;
            st = cove_buf_append_byte(b, (unsigned char)c);
            i++;
        } else if (ident_char(c)) {
            size_t k = 0;
            while (ident_char(g[i + k]))
                k++;
            st = k == 4 && memcmp(g + i, "root", 4) == 0 ? cove_buf_append_str(b, "tc-call")
                                                           : cove_buf_append(b, g + i, k);
            i += k;
        } else {
            st = cove_buf_append_byte(b, (unsigned char)c);
            i++;
        }
    }
    return st;
}

/* The grammar of one call object over the chosen tools (cove_malloc'ed). */
static cove_status call_gbnf(const struct cove_server_chat_req *r, const srv_tool_syntax *sx,
                             char **out, cove_error *err)
{
    cove_schema_tool tools[COVE_CHAT_MAX_TOOLS];
    json_t *schemas[COVE_CHAT_MAX_TOOLS];
    size_t n = 0;
    cove_status st = COVE_OK;
    for (size_t i = 0; i < r->n_tools && st == COVE_OK; i++) {
        if (r->tool_choice == COVE_SERVER_TOOLS_FUNCTION &&
            strcmp(r->tools[i].name, r->tool_choice_name) != 0)
            continue;
        schemas[n] = json_loads(r->tools[i].parameters, 0, NULL);
        if (!schemas[n])
            st = cove_error_set(err, COVE_ERR_FORMAT, "tool '%s': bad parameters", r->tools[i].name);
        tools[n] = (cove_schema_tool){.name = r->tools[i].name, .arguments = schemas[n]};
        n += st == COVE_OK;
    }
    cove_schema_call_shape shape = cove_schema_default_call_shape();
    shape.args_key = sx->args_key;
    if (st == COVE_OK && n == 0)
        st = cove_error_set(err, COVE_ERR_INVALID_ARG, "tool_choice names the function '%s', "
                            "which is not among the tools", r->tool_choice_name);
    if (st == COVE_OK)
        st = cove_schema_tool_call_gbnf(tools, n, &shape, NULL, out, err);
    for (size_t i = 0; i < n; i++)
        json_decref(schemas[i]);
    return st;
}

cove_status srv_tools_grammar(const struct cove_server_chat_req *r, const srv_tool_syntax *sx,
                              char **out, cove_error *err)
{
    char *call = NULL;
    *out = NULL;
    cove_status st = call_gbnf(r, sx, &call, err);
    if (st != COVE_OK)
        return st;
    struct cove_buf b;
    cove_buf_init(&b, COVE_SCHEMA_MAX_GBNF + 4096);
    int more = r->parallel_tool_calls && sx->open[0] ? SRV_MAX_PARALLEL_CALLS - 1 : 0;
    st = cove_buf_append_str(&b, r->tool_choice == COVE_SERVER_TOOLS_AUTO
                                     ? "root ::= tc-calls | tc-free\n" : "root ::= tc-calls\n");
    if (st == COVE_OK)
        st = cove_buf_appendf(&b, "tc-calls ::= tc-one (tc-sep tc-one){0,%d}\ntc-sep ::= ", more);
    if (st == COVE_OK)
        st = put_literal(&b, sx->sep);
    if (st == COVE_OK)
        st = cove_buf_append_str(&b, "\ntc-one ::= ");
    if (st == COVE_OK)
        st = put_literal(&b, sx->open);
    if (st == COVE_OK)
        st = cove_buf_append_str(&b, " tc-call ");
    if (st == COVE_OK)
        st = put_literal(&b, sx->close);
    if (st == COVE_OK)
        st = cove_buf_appendf(&b, "\ntc-free ::= [^%s \\t\\n] .*\n", sx->open[0] ? "<" : "{");
    if (st == COVE_OK)
        st = rename_root(&b, call);
    cove_free(call);
    if (st != COVE_OK) {
        cove_buf_release(&b);
        return cove_error_set(err, st, "the tools' grammar is too large");
    }
    *out = cove_buf_detach(&b, NULL);
    return COVE_OK;
}

/* ------------------------------------------------------------------ parse */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i;
}

static int take(const char *s, size_t len, size_t *i, const char *lit)
{
    size_t n = strlen(lit);
    if (*i + n > len || memcmp(s + *i, lit, n) != 0)
        return 0;
    *i += n;
    return 1;
}

/* One call object at s[*i]: the OpenAI tool_calls entry, or NULL. */
static json_t *one_call(const char *s, size_t len, size_t *i, const srv_tool_syntax *sx)
{
    json_error_t je;
    json_t *v = json_loadb(s + *i, len - *i, JSON_DISABLE_EOF_CHECK, &je);
    if (!v)
        return NULL;
    *i += (size_t)je.position;
    json_t *name = json_object_get(v, "name"), *args = json_object_get(v, sx->args_key);
    char *text = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
    json_t *call = NULL;
    if (json_is_string(name) && text) {
        char id[32] = "call_";
        srv_random_id(id + 5, sizeof id - 5);
        call = json_pack("{s:s, s:s, s:{s:O, s:s}}", "id", id, "type", "function", "function",
                         "name", name, "arguments", text);
    }
    free(text);
    json_decref(v);
    return call;
}

json_t *srv_tools_parse(const char *text, size_t len, const srv_tool_syntax *sx, int cut)
{
    if (!text || !len)
        return NULL;
    json_t *calls = json_array();
    size_t i = skip_ws(text, len, 0);
    while (i < len && json_array_size(calls) < COVE_CHAT_MAX_TOOL_CALLS) {
        if (!take(text, len, &i, sx->open))
            break;
        json_t *c = one_call(text, len, &i, sx);
        if (!c || !take(text, len, &i, sx->close)) {
            json_decref(c);
            break;
        }
        json_array_append_new(calls, c);
        i = skip_ws(text, len, i);
    }
    /* an answer cut by max_tokens keeps the calls it completed */
    if (json_array_size(calls) == 0 || (!cut && skip_ws(text, len, i) != len)) {
        json_decref(calls);
        return NULL;
    }
    return calls;
}
