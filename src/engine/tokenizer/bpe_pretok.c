/*
 * engine/tokenizer/bpe_pretok.c - the pre-tokenizers of byte-level BPE vocabularies.
 *
 * Before merging, byte-level BPE cuts the text into words with a regular expression (or a
 * sequence of them) that belongs to the model family; the GGUF names the family in
 * tokenizer.ggml.pre. There is no regex engine here: each pattern is a hand-written
 * scanner with the same meaning. A family is a list of stages; stage k cuts every piece
 * the stage before it produced into its matches and the gaps between them (both kept, as
 * Hugging Face's Split(..., behavior="isolated") does), so a stage's look-ahead and `$`
 * see the end of the piece, not of the text. A single-pattern family is one stage whose
 * pattern matches at every position.
 *
 * The patterns (\p{L} letter, \p{N} number, \p{P} punctuation, \s White_Space):
 *   gpt2       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *              | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2      llama3 with \p{N} (one digit) for \p{N}{1,3}
 *   starcoder  \p{N} (each number character alone), then gpt2
 *   falcon     [\p{P}$+<=>^~|`]+, then gpt2, then [0-9][0-9][0-9]
 *   deepseek-coder  [\r\n], \s?\p{L}+, \s?\p{P}+, [U+0800-U+9FA5 U+AC00-U+D7FF]+, \p{N}
 *   deepseek-llm    [\r\n], \s?[cased letters]+, \s?[ASCII and full-width punctuation]+,
 *              \s+$, [U+0800-U+9FA5 U+AC00-U+D7FF]+, \p{N}+
 * A byte that is not UTF-8 is a character with no class ("other").
 */
#include <string.h>

#include "engine/tokenizer/tokenizer_int.h"
#include "engine/tokenizer/unicode.h"

/*
 * A stage: find the leftmost match in s[0..len) that starts at or after `from`; return
 * its length (0: none) and its start in *at. Matches are never empty.
 */
typedef size_t (*pt_find)(const char *s, size_t len, size_t from, size_t *at);

#define MAX_STAGES 6

typedef struct pt_family {
    const char *name;
    pt_find stages[MAX_STAGES];
    int n_stages;
} pt_family;

struct cove_pretok {
    const char *pre; /* tokenizer.ggml.pre value */
    const pt_family *fam;
    int ignore_merges; /* a word that is a token is emitted whole (llama 3) */
};

/* ---------------------------------------------------------------- characters */

/* Flags of the character at s[i] (i < len); its length in *n. */
static inline unsigned cls(const char *s, size_t len, size_t i, size_t *n)
{
    uint8_t c = (uint8_t)s[i];
    if (c < 0x80) {
        *n = 1;
        return cove_uni_flags_lo[c];
    }
    uint32_t cp;
    *n = cove_uni_next(s + i, len - i, &cp);
    return cove_uni_flags(cp);
}

/* Code point at s[i]; its length in *n. */
static inline uint32_t cp_at(const char *s, size_t len, size_t i, size_t *n)
{
    uint32_t cp = (uint8_t)s[i];
    if (cp < 0x80) {
        *n = 1;
        return cp;
    }
    *n = cove_uni_next(s + i, len - i, &cp);
    return cp;
}

/* End of the run of characters from i whose flags meet `want` (any bit). */
static size_t run_any(const char *s, size_t len, size_t i, unsigned want)
{
    size_t n;
    while (i < len && (cls(s, len, i, &n) & want))
        i += n;
    return i;
}

/* End of the run of characters from i whose flags have none of `avoid`. */
static size_t run_none(const char *s, size_t len, size_t i, unsigned avoid)
{
    size_t n;
    while (i < len && !(cls(s, len, i, &n) & avoid))
        i += n;
    return i;
}

/* End of the white-space run from i; *last: start of its last character; *count: 0, 1, 2+. */
static size_t ws_run(const char *s, size_t len, size_t i, size_t *last, int *count)
{
    size_t n;
    *count = 0;
    *last = i;
    while (i < len && (cls(s, len, i, &n) & COVE_UNI_WS)) {
        *last = i;
        *count += *count < 2;
        i += n;
    }
    return i;
}

/* Flags of the character at i, or 0 past the end. */
static inline unsigned cls_or0(const char *s, size_t len, size_t i)
{
    size_t n;
    return i < len ? cls(s, len, i, &n) : 0;
}

#define LN (COVE_UNI_L | COVE_UNI_N)
#define WSLN (COVE_UNI_WS | COVE_UNI_L | COVE_UNI_N)

/* ------------------------------------------------------------------ gpt2 */

/* Length of 's 't 're 've 'm 'll 'd at s[i]; `fold`: either case. 0 when none. */
static size_t contraction(const char *s, size_t len, size_t i, int fold)
{
    if (s[i] != '\'' || i + 1 >= len)
        return 0;
    char a = s[i + 1], b = i + 2 < len ? s[i + 2] : 0;
    if (fold) {
        a = (char)(a >= 'A' && a <= 'Z' ? a + 32 : a);
        b = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at i (a white-space character): the run, less its last character when
 * more than one and something follows. */
static size_t ws_tail(const char *s, size_t len, size_t i)
{
    size_t last;
    int count;
    size_t r = ws_run(s, len, i, &last, &count);
    return r == len || count < 2 ? r : last;
}

/* End of the gpt2 match at i. */
static size_t gpt2_at(const char *s, size_t len, size_t i)
{
    size_t m = contraction(s, len, i, 0);
    if (m)
        return i + m;
    size_t j = s[i] == ' ' && i + 1 < len ? i + 1 : i;
    unsigned f = cls_or0(s, len, j);
    if (f & COVE_UNI_L)
        return run_any(s, len, j, COVE_UNI_L);
    if (f & COVE_UNI_N)
        return run_any(s, len, j, COVE_UNI_N);
    if (!(f & WSLN))
        return run_none(s, len, j, WSLN);
    return ws_tail(s, len, i); /* s[i] is white space */
}

static size_t find_gpt2(const char *s, size_t len, size_t from, size_t *at)
{
    *at = from;
    return gpt2_at(s, len, from) - from;
}

/* -------------------------------------------------------------- llama3, qwen2 */

static int is_crlf(char c) { return c == '\r' || c == '\n'; }

/* End of the llama3 / qwen2 match at i; max_digits: 3 or 1. */
static size_t llama3_at(const char *s, size_t len, size_t i, int max_digits)
{
    size_t n0, m = contraction(s, len, i, 1);
    if (m)
        return i + m;
    unsigned f0 = cls(s, len, i, &n0);
    if (f0 & COVE_UNI_L) /* [^\r\n\p{L}\p{N}]?\p{L}+ without the optional character */
        return run_any(s, len, i, COVE_UNI_L);
    if (!(f0 & COVE_UNI_N) && !is_crlf(s[i]) && (cls_or0(s, len, i + n0) & COVE_UNI_L))
        return run_any(s, len, i + n0, COVE_UNI_L);
    if (f0 & COVE_UNI_N) { /* \p{N}{1,3} */
        size_t e = i, n;
        for (int k = 0; k < max_digits && e < len && (cls(s, len, e, &n) & COVE_UNI_N); k++)
            e += n;
        return e;
    }
    size_t j = s[i] == ' ' && i + 1 < len ? i + 1 : i;
    if (!(cls_or0(s, len, j) & WSLN) && j < len) { /* ?[^\s\p{L}\p{N}]+[\r\n]* */
        size_t e = run_none(s, len, j, WSLN);
        while (e < len && is_crlf(s[e]))
            e++;
        return e;
    }
    /* s[i] is white space: \s*[\r\n]+ ends after the run's last line break */
    size_t last;
    int count;
    size_t r = ws_run(s, len, i, &last, &count), nl = r;
    for (size_t k = i; k < r; k++)
        if (is_crlf(s[k]))
            nl = k;
    if (nl < r)
        return nl + 1;
    return r == len || count < 2 ? r : last;
}

static size_t find_llama3(const char *s, size_t len, size_t from, size_t *at)
{
    *at = from;
    return llama3_at(s, len, from, 3) - from;
}

static size_t find_qwen2(const char *s, size_t len, size_t from, size_t *at)
{
    *at = from;
    return llama3_at(s, len, from, 1) - from;
}

/* ------------------------------------------------------ single-class stages */

/* A character class as a predicate on a code point and its flags. */
typedef int (*pt_class)(uint32_t cp, unsigned f);

/* Leftmost run of `cls_fn` characters (at most `max` characters; 0: no limit). */
static size_t find_run(const char *s, size_t len, size_t from, size_t *at, pt_class cls_fn,
                       size_t max)
{
    size_t n;
    for (size_t i = from; i < len; i += n) {
        uint32_t cp = cp_at(s, len, i, &n);
        if (!cls_fn(cp, cove_uni_flags(cp)))
            continue;
        size_t e = i + n, k = 1;
        while (e < len && (max == 0 || k < max)) {
            uint32_t c2 = cp_at(s, len, e, &n);
            if (!cls_fn(c2, cove_uni_flags(c2)))
                break;
            e += n;
            k++;
        }
        *at = i;
        return e - i;
    }
    return 0;
}

/* Leftmost \s?C+ : a run of C, with the white-space character right before it. */
static size_t find_ws_run(const char *s, size_t len, size_t from, size_t *at, pt_class cls_fn)
{
    size_t at_run, n, m = find_run(s, len, from, &at_run, cls_fn, 0);
    *at = at_run;
    if (!m || at_run == from)
        return m;
    size_t p = at_run - 1; /* the start of the character before the run */
    while (p > from && ((uint8_t)s[p] & 0xC0) == 0x80)
        p--;
    uint32_t cp = cp_at(s, len, p, &n);
    if (p + n == at_run && (cove_uni_flags(cp) & COVE_UNI_WS)) {
        *at = p;
        return m + (at_run - p);
    }
    return m;
}

static int c_letter(uint32_t cp, unsigned f) { (void)cp; return (f & COVE_UNI_L) != 0; }
static int c_number(uint32_t cp, unsigned f) { (void)cp; return (f & COVE_UNI_N) != 0; }
static int c_punct(uint32_t cp, unsigned f) { (void)cp; return (f & COVE_UNI_P) != 0; }
static int c_digit(uint32_t cp, unsigned f) { (void)f; return cp >= '0' && cp <= '9'; }

/* [一-龥ࠀ-一가-퟿] of the DeepSeek patterns */
static int c_ds_cjk(uint32_t cp, unsigned f)
{
    (void)f;
    return (cp >= 0x0800 && cp <= 0x9FA5) || (cp >= 0xAC00 && cp <= 0xD7FF);
}

/* [\p{P}$+<=>^~|`] of falcon */
static int c_falcon_punct(uint32_t cp, unsigned f)
{
    return (f & COVE_UNI_P) || (cp != 0 && cp < 0x80 && strchr("$+<=>^~|`", (int)cp));
}

/* [!-/:-~！-／：-～‘-‟　-。] of deepseek-llm */
static int c_ds_punct(uint32_t cp, unsigned f)
{
    (void)f;
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x7E) ||
           (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF5E) ||
           (cp >= 0x2018 && cp <= 0x201F) || (cp >= 0x3000 && cp <= 0x3002);
}

/* The cased-letter class of deepseek-llm, as the pattern lists it. */
static const uint32_t ds_letters[][2] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static int c_ds_letter(uint32_t cp, unsigned f)
{
    if (!(f & COVE_UNI_L))
        return 0; /* every listed character is a letter */
    size_t lo = 0, hi = sizeof ds_letters / sizeof ds_letters[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < ds_letters[mid][0])
            hi = mid;
        else if (cp > ds_letters[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static size_t find_crlf(const char *s, size_t len, size_t from, size_t *at)
{
    for (size_t i = from; i < len; i++) {
        if (is_crlf(s[i])) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

static size_t find_number1(const char *s, size_t len, size_t from, size_t *at)
{
    return find_run(s, len, from, at, c_number, 1);
}

static size_t find_numbers(const char *s, size_t len, size_t from, size_t *at)
{
    return find_run(s, len, from, at, c_number, 0);
}

static size_t find_three_digits(const char *s, size_t len, size_t from, size_t *at)
{
    for (size_t i = from; i + 3 <= len; i++) {
        if (c_digit((uint8_t)s[i], 0) && c_digit((uint8_t)s[i + 1], 0) &&
            c_digit((uint8_t)s[i + 2], 0)) {
            *at = i;
            return 3;
        }
    }
    return 0;
}

static size_t find_falcon_punct(const char *s, size_t len, size_t from, size_t *at)
{
    return find_run(s, len, from, at, c_falcon_punct, 0);
}

static size_t find_ds_cjk(const char *s, size_t len, size_t from, size_t *at)
{
    return find_run(s, len, from, at, c_ds_cjk, 0);
}

static size_t find_ws_letters(const char *s, size_t len, size_t from, size_t *at)
{
    return find_ws_run(s, len, from, at, c_letter);
}

static size_t find_ws_punct(const char *s, size_t len, size_t from, size_t *at)
{
    return find_ws_run(s, len, from, at, c_punct);
}

static size_t find_ds_ws_letters(const char *s, size_t len, size_t from, size_t *at)
{
    return find_ws_run(s, len, from, at, c_ds_letter);
}

static size_t find_ds_ws_punct(const char *s, size_t len, size_t from, size_t *at)
{
    return find_ws_run(s, len, from, at, c_ds_punct);
}

/* \s+$ : the white space that ends the piece. */
static size_t find_trailing_ws(const char *s, size_t len, size_t from, size_t *at)
{
    size_t start = len;
    while (start > from) {
        size_t p = start - 1, n;
        while (p > from && ((uint8_t)s[p] & 0xC0) == 0x80)
            p--;
        if (!(cls(s, len, p, &n) & COVE_UNI_WS) || p + n != start)
            break;
        start = p;
    }
    *at = start;
    return len - start;
}

/* ----------------------------------------------------------- the registry */

static const pt_family fam_gpt2 = {"gpt2", {find_gpt2}, 1};
static const pt_family fam_llama3 = {"llama3", {find_llama3}, 1};
static const pt_family fam_qwen2 = {"qwen2", {find_qwen2}, 1};
static const pt_family fam_starcoder = {"starcoder", {find_number1, find_gpt2}, 2};
static const pt_family fam_falcon = {"falcon", {find_falcon_punct, find_gpt2, find_three_digits}, 3};
static const pt_family fam_ds_coder = {
    "deepseek-coder", {find_crlf, find_ws_letters, find_ws_punct, find_ds_cjk, find_number1}, 5};
static const pt_family fam_ds_llm = {"deepseek-llm",
                                     {find_crlf, find_ds_ws_letters, find_ds_ws_punct,
                                      find_trailing_ws, find_ds_cjk, find_numbers},
                                     6};

/* tokenizer.ggml.pre values, as llama.cpp's converter writes them */
static const cove_pretok pretoks[] = {
    {"gpt-2", &fam_gpt2, 0},          {"gpt2", &fam_gpt2, 0},
    {"default", &fam_gpt2, 0},        {"mpt", &fam_gpt2, 0},
    {"olmo", &fam_gpt2, 0},           {"gpt-neox", &fam_gpt2, 0},
    {"phi-2", &fam_gpt2, 0},          {"jais", &fam_gpt2, 0},
    {"roberta-bpe", &fam_gpt2, 0},    {"jina-v1-en", &fam_gpt2, 0},
    {"jina-v2-code", &fam_gpt2, 0},   {"jina-es", &fam_gpt2, 0},
    {"jina-de", &fam_gpt2, 0},        {"jina-v2-es", &fam_gpt2, 0},
    {"jina-v2-de", &fam_gpt2, 0},     {"gigachat", &fam_gpt2, 0},
    {"exaone4", &fam_gpt2, 0},        {"trillion", &fam_gpt2, 0},
    {"llama3", &fam_llama3, 1},       {"llama-v3", &fam_llama3, 1},
    {"llama-bpe", &fam_llama3, 1},    {"falcon3", &fam_llama3, 1},
    {"falcon-h1", &fam_llama3, 1},    {"pixtral", &fam_llama3, 1},
    {"lfm2", &fam_llama3, 1},         {"midm-2.0", &fam_llama3, 1},
    {"dbrx", &fam_llama3, 0},         {"smaug-bpe", &fam_llama3, 0},
    {"chatglm-bpe", &fam_llama3, 0},  {"glm4", &fam_llama3, 0},
    {"qwen2", &fam_qwen2, 0},         {"deepseek-r1-qwen", &fam_qwen2, 0},
    {"stablelm2", &fam_qwen2, 0},     {"megrez", &fam_qwen2, 0},
    {"starcoder", &fam_starcoder, 0}, {"refact", &fam_starcoder, 0},
    {"smollm", &fam_starcoder, 0},    {"command-r", &fam_starcoder, 0},
    {"codeshell", &fam_starcoder, 0}, {"exaone", &fam_starcoder, 0},
    {"minerva-7b", &fam_starcoder, 0}, {"falcon", &fam_falcon, 0},
    {"deepseek-coder", &fam_ds_coder, 0}, {"deepseek-llm", &fam_ds_llm, 0},
};

#define N_PRETOKS (sizeof pretoks / sizeof pretoks[0])

const cove_pretok *cove_pretok_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_PRETOKS; i++)
        if (strlen(pretoks[i].pre) == len && memcmp(pretoks[i].pre, name, len) == 0)
            return &pretoks[i];
    return NULL;
}

const cove_pretok *cove_pretok_default(void)
{
    return &pretoks[0];
}

const char *cove_pretok_family(const cove_pretok *p)
{
    return p->fam->name;
}

int cove_pretok_ignore_merges(const cove_pretok *p)
{
    return p->ignore_merges;
}

/* Cut s[0..len) with stage k and hand each piece to stage k + 1 (or to fn after the last). */
static cove_status split_stage(const pt_family *f, int k, const char *s, size_t len,
                               cove_pretok_fn fn, void *ctx)
{
    if (k == f->n_stages)
        return fn(ctx, s, len);
    cove_status st = COVE_OK;
    size_t from = 0;
    while (from < len && st == COVE_OK) {
        size_t at, m = f->stages[k](s, len, from, &at);
        if (m == 0)
            break;
        if (at > from)
            st = split_stage(f, k + 1, s + from, at - from, fn, ctx);
        if (st == COVE_OK)
            st = split_stage(f, k + 1, s + at, m, fn, ctx);
        from = at + m;
    }
    if (st == COVE_OK && from < len)
        st = split_stage(f, k + 1, s + from, len - from, fn, ctx);
    return st;
}

cove_status cove_pretok_split(const cove_pretok *p, const char *text, size_t len,
                              cove_pretok_fn fn, void *ctx)
{
    return len ? split_stage(p->fam, 0, text, len, fn, ctx) : COVE_OK;
}
