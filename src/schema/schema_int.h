/*
 * schema/schema_int.h - insides of the JSON Schema converter (gbnf_*.c).
 *
 * The converter writes one GBNF rule per subschema it visits (named r<N>), one per
 * $ref target (so recursive schemas become recursive rules), and the shared helper
 * rules (ws, string, number, value, ...) once at the end, for those that were used.
 * Expressions are built in cove_bufs bounded by COVE_SCHEMA_MAX_GBNF.
 */
#ifndef COVE_SCHEMA_INT_H
#define COVE_SCHEMA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "schema/schema.h"

#define SG_NAME_MAX 32  /* bytes of a rule name */
#define SG_PTR_MAX 256  /* bytes of a schema pointer kept for messages */

/* Helper rules, emitted at the end when used. */
enum sg_helper {
    SG_H_WS = 1u << 0,
    SG_H_CHAR = 1u << 1,
    SG_H_STRING = 1u << 2,
    SG_H_NUMBER = 1u << 3,
    SG_H_INTEGER = 1u << 4,
    SG_H_BOOLEAN = 1u << 5,
    SG_H_NULL = 1u << 6,
    SG_H_VALUE = 1u << 7,
    SG_H_OBJECT = 1u << 8,
    SG_H_ARRAY = 1u << 9,
    SG_H_KCHAR = 1u << 10
};

typedef struct sg_ref {
    const json_t *target; /* borrowed node of the root schema */
    char name[SG_NAME_MAX];
} sg_ref;

typedef struct sg {
    struct cove_buf out;     /* the grammar's rules, in order of creation */
    const json_t *root;      /* the whole schema, for $ref */
    cove_schema_opts opts;
    cove_error *err;
    unsigned helpers;        /* enum sg_helper bits used */
    int n_rules;
    int depth;
    sg_ref *refs;
    size_t n_refs, cap_refs;
    json_t *keep;            /* array holding schemas built while converting (allOf merges) */
} sg;

/* Convert subschema s (pointer ptr) into a rule; its name goes to name[SG_NAME_MAX]. */
cove_status sg_schema(sg *g, const json_t *s, const char *ptr, char *name);

/* Append " ws " (or " " when whitespace is off) to e, marking ws as used. */
cove_status sg_ws(sg *g, struct cove_buf *e);

/* Add the rule `name ::= body` under a fresh name r<N> copied to name. */
cove_status sg_rule_new(sg *g, const char *body, char *name);

/* Reference a helper: mark it used and append its name (with a trailing space). */
cove_status sg_helper(sg *g, struct cove_buf *e, unsigned helper);

/* Append the GBNF literal of the bytes s[0..n) (quoted, escaped) to e. */
cove_status sg_literal(struct cove_buf *e, const char *s, size_t n);

/* Set err for a status, with the schema pointer in the message; returns status. */
cove_status sg_fail(sg *g, cove_status st, const char *ptr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* gbnf_num.c: integer and number schemas with bounds (s holds the keywords). */
cove_status sg_integer(sg *g, const json_t *s, const char *ptr, struct cove_buf *e);
cove_status sg_number(sg *g, const json_t *s, const char *ptr, struct cove_buf *e);

/* gbnf_regex.c: "pattern" as the content of a JSON string (no quotes), to e. */
cove_status sg_pattern(sg *g, const char *re, const char *ptr, struct cove_buf *e);

/* gbnf_string.c: string schemas (format, pattern, lengths) and helper rule bodies. */
cove_status sg_string(sg *g, const json_t *s, const char *ptr, struct cove_buf *e);
cove_status sg_helpers_emit(sg *g);

/* gbnf_object.c: object schemas. gbnf_array.c (same file): array schemas. */
cove_status sg_object(sg *g, const json_t *s, const char *ptr, struct cove_buf *e);
cove_status sg_array(sg *g, const json_t *s, const char *ptr, struct cove_buf *e);

/* gbnf_merge.c: allOf (and siblings of anyOf) merged into one schema; new reference. */
cove_status sg_merge(sg *g, const json_t *a, const json_t *b, const char *ptr, json_t **out);
/* Resolve a local $ref ("#", "#/$defs/x", ...) in root; NULL when it does not resolve. */
const json_t *sg_resolve_ref(const json_t *root, const char *ref);

/* Bounded integer from a keyword: 1 and *out when present and a non-negative integer
   no larger than max, 0 when absent, <0 (status set in g) when invalid. */
int sg_count_kw(sg *g, const json_t *s, const char *kw, const char *ptr, long max, long *out);

/* validate.c, for the converter's enum/const filtering: validate an instance against
   subschema s whose $refs resolve in root. Returns as cove_schema_validate. */
cove_status cove_schema_validate_in(const json_t *root, const json_t *s, const json_t *instance,
                                    cove_error *err);

/* schema_ptr helpers: ptr + "/" + escaped token into out[SG_PTR_MAX] (truncated). */
void sg_ptr_join(char *out, const char *ptr, const char *token);
void sg_ptr_join_idx(char *out, const char *ptr, const char *token, size_t idx);

#endif
