/*
 * schema/schema.h - JSON Schema to GBNF grammar text, and a JSON Schema validator.
 *
 * Two independent halves that share nothing but this header:
 *
 *  - The converter turns a JSON Schema into GBNF text (the grammar syntax llama.cpp
 *    uses: `name ::= ...`, alternation |, grouping ( ), repetition * + ? {m,n},
 *    "literals", [character classes]; the start rule is `root`). Every document the
 *    grammar accepts is the compact canonical JSON form described below, so a model
 *    constrained by it writes text that parses; a document is valid against the
 *    schema unless one of the relaxations listed in docs/json-schema.md applies
 *    (oneOf read as anyOf, and the others named there; opts.strict turns each of them
 *    into an error). A keyword the converter cannot enforce is COVE_ERR_UNSUPPORTED
 *    with a message naming the keyword and its JSON pointer in the schema
 *    ("unsupported keyword 'not' at #/properties/a").
 *
 *  - The validator walks a schema and an instance with jansson and reports the first
 *    failure with the JSON pointer of the failing part of the instance, the keyword
 *    and the reason ("/items/2/id: 'minimum': 3 is less than 5"). It implements more
 *    keywords than the converter can enforce (not, multipleOf, uniqueItems, ...).
 *
 * Whitespace form of the generated grammars: no whitespace before the first or after
 * the last byte of the document; between tokens (after { [ , : and before } ]) at most
 * opts.max_ws bytes of optional whitespace, each one of space, tab or newline. With
 * max_ws == 0 the only document accepted is the compact form, e.g. {"a":1,"b":[2,3]}.
 * Object properties appear in the order the schema declares them; optional ones may be
 * left out; additional properties (where allowed) follow the declared ones.
 *
 * Supported dialect: draft 2020-12 with the draft-7 spellings that mean the same
 * (definitions, items as an array, exclusiveMinimum/Maximum as booleans).
 *
 * Bounds: COVE_SCHEMA_* in base/limits.h (schema depth, rules, grammar bytes, pattern
 * length, repetition counts, $ref expansions). Passing one is COVE_ERR_LIMIT.
 *
 * Thread safety: no shared state; calls may run concurrently on distinct arguments.
 * Schemas passed as json_t are only read (never modified, references not stolen).
 */
#ifndef COVE_SCHEMA_SCHEMA_H
#define COVE_SCHEMA_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

#include "cove/status.h"

/* ---- conversion options ---------------------------------------------------------- */

typedef struct cove_schema_opts {
    /* Most optional whitespace bytes between two tokens (0 = compact form only).
       Default 1; capped at COVE_SCHEMA_MAX_WS. */
    int max_ws;
    /* When an object schema that declares properties (or required names) does not say
       additionalProperties: 0 (default) = no additional properties in the grammar (a
       subset of what the schema allows, fit for generation), 1 = any additional
       properties, as JSON Schema reads it. An object schema that declares nothing
       ({"type": "object"}) always takes any properties. */
    int allow_extra_props;
    /* 1 = every relaxation listed in docs/json-schema.md is COVE_ERR_UNSUPPORTED
       instead (the grammar then accepts only schema-valid documents). Default 0. */
    int strict;
} cove_schema_opts;

/* The defaults: { .max_ws = 1, .allow_extra_props = 0, .strict = 0 }. */
cove_schema_opts cove_schema_default_opts(void);

/* ---- JSON Schema -> GBNF ------------------------------------------------------------ */

/*
 * Convert the JSON Schema text schema_json[0..len) into GBNF. opts may be NULL (the
 * defaults). On success *gbnf_out receives a NUL-terminated grammar whose start rule
 * is `root`; the caller frees it with cove_free. On failure *gbnf_out is NULL and err
 * says why: COVE_ERR_FORMAT (not JSON), COVE_ERR_INVALID_ARG (not a schema: wrong
 * keyword value types, a bad pattern, a $ref that does not resolve),
 * COVE_ERR_UNSUPPORTED (a keyword or construct that cannot be enforced),
 * COVE_ERR_LIMIT, COVE_ERR_NOMEM.
 */
cove_status cove_schema_to_gbnf(const char *schema_json, size_t len, const cove_schema_opts *opts,
                                char **gbnf_out, cove_error *err);

/* As cove_schema_to_gbnf, with the schema already parsed (borrowed, not modified). */
cove_status cove_schema_to_gbnf_json(const json_t *schema, const cove_schema_opts *opts,
                                     char **gbnf_out, cove_error *err);

/*
 * The grammar of any JSON value (object, array, string, number, true, false, null),
 * in the whitespace form of opts (may be NULL). *gbnf_out as above (cove_free).
 * Nesting is not bounded by the grammar; the caller bounds generation length.
 */
cove_status cove_schema_any_json_gbnf(const cove_schema_opts *opts, char **gbnf_out,
                                      cove_error *err);

/* ---- tool calls and agent plans ---------------------------------------------------- */

/* One tool a call may name. Both pointers are borrowed for the duration of the call. */
typedef struct cove_schema_tool {
    const char *name;         /* the tool's name, written as the selector's const value */
    const json_t *arguments;  /* JSON Schema of its arguments; NULL = any object */
} cove_schema_tool;

/* A fixed property written in every call, before or after the selector. */
typedef struct cove_schema_field {
    const char *key;          /* borrowed */
    const json_t *schema;     /* borrowed; NULL = any JSON value */
} cove_schema_field;

/*
 * The shape of a call object. The object holds, in this order: the `before` fields,
 * then `select_key` whose value is the name of one tool, then `args_key` whose value
 * must fit that tool's argument schema, then the `after` fields. All of them are
 * required and no other property is allowed.
 *
 *   tool call (the default):  {"name": "search", "arguments": {...}}
 *   agent plan:               select_key = "action", args_key = "action_input",
 *                             before = {"thought": {"type": "string"}}
 *                             -> {"thought": "...", "action": "search", "action_input": {...}}
 *
 * max_calls: 0 or 1 = the document is one call object; n > 1 = the document is an
 * array of 1..n call objects (each may name any tool).
 */
typedef struct cove_schema_call_shape {
    const char *select_key;   /* default "name" */
    const char *args_key;     /* default "arguments" */
    const cove_schema_field *before;
    size_t n_before;
    const cove_schema_field *after;
    size_t n_after;
    int max_calls;            /* capped at COVE_SCHEMA_MAX_TOOLS */
} cove_schema_call_shape;

/* The default shape: {"name": ..., "arguments": ...}, one call, no extra fields. */
cove_schema_call_shape cove_schema_default_call_shape(void);

/*
 * Build the JSON Schema of a call to one of tools[0..n_tools) in the given shape
 * (shape NULL = the default): an anyOf with one object schema per tool. Tool names
 * must be distinct and non-empty; 1 <= n_tools <= COVE_SCHEMA_MAX_TOOLS. On success
 * *schema_out receives a new reference (the caller json_decref's it); the argument
 * schemas are deep-copied into it. This schema both drives cove_schema_to_gbnf_json
 * and checks a finished call with cove_schema_validate.
 */
cove_status cove_schema_tool_call_schema(const cove_schema_tool *tools, size_t n_tools,
                                         const cove_schema_call_shape *shape,
                                         json_t **schema_out, cove_error *err);

/*
 * The grammar of cove_schema_tool_call_schema's schema (shape and opts may be NULL).
 * *gbnf_out as in cove_schema_to_gbnf (cove_free). An argument schema that cannot be
 * converted fails the call with its pointer inside the built schema
 * (#/anyOf/<tool index>/properties/arguments/...).
 */
cove_status cove_schema_tool_call_gbnf(const cove_schema_tool *tools, size_t n_tools,
                                       const cove_schema_call_shape *shape,
                                       const cove_schema_opts *opts, char **gbnf_out,
                                       cove_error *err);

/* ---- validation ------------------------------------------------------------------- */

/*
 * Validate `instance` against `schema` (both borrowed). Returns:
 *   COVE_OK               the instance is valid;
 *   COVE_ERR_FORMAT       it is not; err->msg names the JSON pointer of the first
 *                         failure in the instance, the keyword and the reason;
 *   COVE_ERR_INVALID_ARG  the schema itself is malformed (a keyword with a value of the
 *                         wrong type, a bad pattern, a $ref that does not resolve);
 *   COVE_ERR_LIMIT        a bound passed (nesting depth, $ref chain), COVE_ERR_NOMEM.
 * Keywords the validator does not know are ignored, as JSON Schema says. "format"
 * is checked for date, date-time, time, uuid and email; other formats are ignored.
 */
cove_status cove_schema_validate(const json_t *schema, const json_t *instance, cove_error *err);

/*
 * As cove_schema_validate, with both as JSON text. A text that is not JSON is
 * COVE_ERR_INVALID_ARG for the schema and COVE_ERR_FORMAT for the instance, with the
 * line and column in the message.
 */
cove_status cove_schema_validate_text(const char *schema_json, size_t schema_len,
                                      const char *instance_json, size_t instance_len,
                                      cove_error *err);

#endif
