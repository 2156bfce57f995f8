/*
 * engine/tokenizer/unicode.h - the Unicode facts the tokenizers need (engine-internal).
 *
 * Everything here is looked up in tables generated from Python's unicodedata by
 * tests/tools/gen_unicode.py into unicode_tables.c (committed; do not edit it by hand):
 *
 *   cove_uni_flags      general-category group of a code point (letter, number,
 *                       punctuation, ...), White_Space, and BERT's CJK blocks.
 *   cove_uni_lower      lower case (Python's str.lower of one character; one character
 *                       can become several, U+0130 -> "i\u0307").
 *   cove_uni_strip      canonical decomposition (NFD) without non-spacing marks, as
 *                       BERT's accent stripping does; Hangul syllables decompose too.
 *
 * Code points past U+10FFFF and bytes that are not UTF-8 (COVE_UNI_INVALID) have no
 * flags: the pre-tokenizers treat them as "other" characters.
 */
#ifndef COVE_ENGINE_TOKENIZER_UNICODE_H
#define COVE_ENGINE_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum cove_uni_flag {
    COVE_UNI_L = 1 << 0,   /* letter (Lu Ll Lt Lm Lo): \p{L} */
    COVE_UNI_N = 1 << 1,   /* number (Nd Nl No): \p{N} */
    COVE_UNI_P = 1 << 2,   /* punctuation (Pc Pd Ps Pe Pi Pf Po): \p{P} */
    COVE_UNI_S = 1 << 3,   /* symbol (Sm Sc Sk So) */
    COVE_UNI_M = 1 << 4,   /* mark (Mn Mc Me) */
    COVE_UNI_MN = 1 << 5,  /* non-spacing mark (Mn): what accent stripping removes */
    COVE_UNI_Z = 1 << 6,   /* separator (Zs Zl Zp) */
    COVE_UNI_C = 1 << 7,   /* other (Cc Cf Cs Co, and unassigned code points) */
    COVE_UNI_WS = 1 << 8,  /* White_Space: \s of the pre-tokenizer patterns */
    COVE_UNI_CJK = 1 << 9  /* a CJK ideograph block BERT splits character by character */
};

/* What a byte that does not start valid UTF-8 decodes to; it has no flags. */
#define COVE_UNI_INVALID 0x110000u

/* Most code points one code point maps to in cove_uni_lower / cove_uni_strip. */
#define COVE_UNI_MAP_MAX 4

/* Flags (enum cove_uni_flag or-ed) of `cp`; 0 for COVE_UNI_INVALID and beyond. */
unsigned cove_uni_flags(uint32_t cp);

/*
 * Decode the character at s[0..len) (len >= 1) into *cp; returns its length in bytes.
 * A byte that does not start a well-formed sequence (strict: no overlong forms,
 * surrogates or values past U+10FFFF, no truncation) is a character of length 1
 * with *cp = COVE_UNI_INVALID.
 */
size_t cove_uni_next(const char *s, size_t len, uint32_t *cp);

/* Encode `cp` (a valid code point) as UTF-8 into out; returns its length (1..4). */
size_t cove_uni_put(uint32_t cp, char *out);

/* Lower case of `cp` into out; returns how many code points (1..COVE_UNI_MAP_MAX). */
size_t cove_uni_lower(uint32_t cp, uint32_t out[COVE_UNI_MAP_MAX]);

/* `cp` decomposed (NFD) without its non-spacing marks, into out; returns how many
 * code points (0 for a non-spacing mark itself, else 1..COVE_UNI_MAP_MAX). */
size_t cove_uni_strip(uint32_t cp, uint32_t out[COVE_UNI_MAP_MAX]);

/* ---- the generated tables (unicode_tables.c); use the calls above ---- */

/* Flags of U+0000..U+00FF. */
extern const uint16_t cove_uni_flags_lo[256];
/* Range i covers [start[i], start[i + 1]) (the last one up to U+10FFFF); sorted. */
extern const uint32_t cove_uni_range_start[];
extern const uint16_t cove_uni_range_flags[];
extern const size_t cove_uni_range_count;
/* Maps: keys sorted; vals[i] = offset into pool << 3 | number of code points. */
extern const uint32_t cove_uni_lower_keys[], cove_uni_lower_vals[], cove_uni_lower_pool[];
extern const size_t cove_uni_lower_count;
extern const uint32_t cove_uni_strip_keys[], cove_uni_strip_vals[], cove_uni_strip_pool[];
extern const size_t cove_uni_strip_count;

#endif
