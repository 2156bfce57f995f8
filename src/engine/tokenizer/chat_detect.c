/*
 * chat_detect.c - recognising a chat template's family from its text, reading
 * a ChatML template's default system prompt, and family names.
 *
 * Detection looks for marker strings only; it never parses or runs the
 * template, so any bytes at all are safe input. The order of the checks
 * matters where one family's template could mention another's markers.
 */
#include <string.h>

#include "base/limits.h"
#include "base/str.h"
#include "engine/tokenizer/chat_int.h"

struct tmpl {
    const char *s;
    size_t n;
};

static int has(const struct tmpl *t, const char *marker)
{
    return cove_chat_find(t->s, t->n, marker) != NULL;
}

/* Templates with "[INST]": llama 2 and the mistral variants. */
static int detect_inst(const struct tmpl *t, enum cove_chat_family *out)
{
    if (has(t, "[SYSTEM_PROMPT]"))
        return 0; /* mistral v7: not supported */
    if (has(t, "[AVAILABLE_TOOLS]") || has(t, "[TOOL_CALLS]")) {
        /* v3 writes "[INST] " + content, tekken "[INST]" + content */
        *out = has(t, "\"[INST]\"") || has(t, "'[INST]'") ? COVE_CHAT_MISTRAL_V3_TEKKEN
                                                          : COVE_CHAT_MISTRAL_V3;
        return 1;
    }
    *out = has(t, "<<SYS>>") ? COVE_CHAT_LLAMA2 : COVE_CHAT_MISTRAL_V1;
    return 1;
}

static int detect_family(const struct tmpl *t, enum cove_chat_family *out)
{
    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>"))
            return 0; /* phi-4: ChatML tokens in another layout, not supported */
        *out = has(t, "<think>") && has(t, "reasoning_content") ? COVE_CHAT_QWEN3
                                                                 : COVE_CHAT_CHATML;
        return 1;
    }
    if (has(t, "<|start_header_id|>")) {
        *out = has(t, "Cutting Knowledge Date") || has(t, "ipython") ? COVE_CHAT_LLAMA31
                                                                     : COVE_CHAT_LLAMA3;
        return 1;
    }
    if (has(t, "<start_of_turn>")) {
        *out = COVE_CHAT_GEMMA;
        return 1;
    }
    if (has(t, "[INST]"))
        return detect_inst(t, out);
    if (has(t, "<|user|>") && has(t, "<|assistant|>") && has(t, "<|end|>")) {
        *out = COVE_CHAT_PHI3;
        return 1;
    }
    return 0;
}

cove_status cove_chat_detect(const char *text, size_t len, enum cove_chat_family *out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    *out = COVE_CHAT_GENERIC;
    if (!text && len > 0)
        return COVE_ERR_INVALID_ARG;
    if (len > COVE_CHAT_MAX_TEMPLATE_BYTES)
        return COVE_ERR_LIMIT;
    struct tmpl t = {text ? text : "", len};
    return detect_family(&t, out) ? COVE_OK : COVE_ERR_NOT_FOUND;
}

/* ---- the default system prompt of a ChatML template ---- */

/* The value of a Jinja string escape (\n, \t, ...); 0 when it is not one. */
static char jinja_escape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case '\\': return '\\';
    case '\'': return '\'';
    case '"': return '"';
    default: return 0;
    }
}

/*
 * Decode the rest of a Jinja string literal from s[i] up to the closing
 * `quote` into dst (cap bytes). Returns the decoded length, or cap + 1 when it
 * does not fit or the literal never closes.
 */
static size_t decode_literal(const struct tmpl *t, size_t i, char quote, char *dst, size_t cap)
{
    size_t n = 0;
    for (; i < t->n && t->s[i] != quote; i++) {
        char c = t->s[i];
        if (c == '\\' && i + 1 < t->n && jinja_escape(t->s[i + 1])) {
            c = jinja_escape(t->s[++i]);
        }
        if (n == cap)
            return cap + 1;
        dst[n++] = c;
    }
    return i < t->n ? n : cap + 1;
}

/* The quote character that opens the literal around position p, or 0. */
static char opening_quote(const struct tmpl *t, size_t p)
{
    while (p > 0) {
        char c = t->s[--p];
        if (c == '\'' || c == '"')
            return c;
        if (c == '}' || c == '{')
            return 0; /* template data, not inside an expression */
    }
    return 0;
}

/* After "<|im_start|>system" at p: the start of its text, past a real or escaped newline. */
static size_t after_system_header(const struct tmpl *t, size_t p)
{
    size_t q = p + strlen("<|im_start|>system");
    if (q < t->n && t->s[q] == '\n')
        return q + 1;
    if (q + 1 < t->n && t->s[q] == '\\' && t->s[q + 1] == 'n')
        return q + 2;
    return 0;
}

/*
 * Try the system header at p: 1 when the literal holding it carries a whole
 * system turn of literal text ("...system\nText<|im_end|>"), copied into info.
 * -1 when such a text is too long; 0 when this occurrence is not one.
 */
static int try_default_at(const struct tmpl *t, size_t p, struct cove_chat_template_info *info)
{
    enum { CAP = COVE_CHAT_MAX_DEFAULT_SYSTEM + 64 };
    static const char end_marker[] = "<|im_end|>";
    char buf[CAP];
    size_t q = after_system_header(t, p);
    char quote = q ? opening_quote(t, p) : 0;
    if (!quote)
        return 0;
    size_t n = decode_literal(t, q, quote, buf, CAP);
    if (n > CAP)
        return 0;
    const char *end = cove_chat_find(buf, n, end_marker);
    if (!end || end == buf)
        return 0;
    size_t len = (size_t)(end - buf);
    if (cove_chat_find(buf, len, "{{") || cove_chat_find(buf, len, "{%"))
        return 0;
    if (len > COVE_CHAT_MAX_DEFAULT_SYSTEM)
        return -1;
    memcpy(info->default_system, buf, len);
    info->default_system[len] = '\0';
    info->has_default_system = 1;
    return 1;
}

static cove_status find_default_system(const struct tmpl *t, struct cove_chat_template_info *info)
{
    static const char header[] = "<|im_start|>system";
    const char *p = t->s;
    while ((p = cove_chat_find(p, t->n - (size_t)(p - t->s), header)) != NULL) {
        int r = try_default_at(t, (size_t)(p - t->s), info);
        if (r != 0)
            return r > 0 ? COVE_OK : COVE_ERR_LIMIT;
        p += sizeof header - 1;
    }
    return COVE_OK;
}

cove_status cove_chat_inspect(const char *text, size_t len, struct cove_chat_template_info *out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    cove_status st = cove_chat_detect(text, len, &out->family);
    if (st != COVE_OK || (out->family != COVE_CHAT_CHATML && out->family != COVE_CHAT_GENERIC))
        return st;
    struct tmpl t = {text ? text : "", len};
    return find_default_system(&t, out);
}

/* ---- names ---- */

static const struct {
    const char *name;
    enum cove_chat_family family;
} names[] = {
    {"generic", COVE_CHAT_GENERIC},       {"chatml", COVE_CHAT_CHATML},
    {"qwen2", COVE_CHAT_CHATML},          {"qwen2.5", COVE_CHAT_CHATML},
    {"smollm", COVE_CHAT_CHATML},         {"smollm2", COVE_CHAT_CHATML},
    {"qwen3", COVE_CHAT_QWEN3},           {"gemma", COVE_CHAT_GEMMA},
    {"gemma2", COVE_CHAT_GEMMA},          {"gemma3", COVE_CHAT_GEMMA},
    {"llama3", COVE_CHAT_LLAMA3},         {"llama3.1", COVE_CHAT_LLAMA31},
    {"llama3.2", COVE_CHAT_LLAMA31},      {"llama3.3", COVE_CHAT_LLAMA31},
    {"llama2", COVE_CHAT_LLAMA2},         {"phi3", COVE_CHAT_PHI3},
    {"phi3.5", COVE_CHAT_PHI3},           {"mistral", COVE_CHAT_MISTRAL_V1},
    {"mistral-v1", COVE_CHAT_MISTRAL_V1}, {"mistral-v3", COVE_CHAT_MISTRAL_V3},
    {"mistral-v3-tekken", COVE_CHAT_MISTRAL_V3_TEKKEN},
};

cove_status cove_chat_family_from_name(const char *name, enum cove_chat_family *out)
{
    if (!name || !out)
        return COVE_ERR_INVALID_ARG;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (cove_str_casecmp(name, names[i].name) == 0) {
            *out = names[i].family;
            return COVE_OK;
        }
    }
    return COVE_ERR_NOT_FOUND;
}
