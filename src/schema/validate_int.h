/*
 * schema/validate_int.h - insides of the validator (validate*.c). Written apart from
 * the converter: it shares no code with gbnf_*.c, so that each checks the other.
 */
#ifndef COVE_SCHEMA_VALIDATE_INT_H
#define COVE_SCHEMA_VALIDATE_INT_H

#include <stddef.h>

#include "schema/schema.h"

/*
 * validate_fmt.c: 1 when string s[0..n) is in the named format, 0 when not,
 * -1 when the format is not one the validator checks (it is then ignored).
 */
int vs_format_check(const char *format, const char *s, size_t n);

/*
 * validate_fmt.c: does the ECMA-262-style pattern `re` find a match in s (the
 * search semantics of JSON Schema)? *match gets 1 or 0. COVE_ERR_UNSUPPORTED for a
 * construct outside the subset, COVE_ERR_INVALID_ARG for a malformed pattern
 * (err says which).
 */
cove_status vs_pattern_search(const char *re, const char *s, int *match, cove_error *err);

#endif
