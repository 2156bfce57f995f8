/*
 * convert/pretok.c - choosing tokenizer.ggml.pre, the name GGUF loaders use to pick the
 * pre-tokenizer (the regular expressions that split text before BPE).
 *
 * Two ways, tried in this order:
 *  1. Known vocabularies. A vocabulary is identified by a fingerprint: 64-bit FNV-1a over
 *     every token text followed by a NUL byte, in id order, together with the token count.
 *     The table below holds the fingerprints of the reference vocabularies in the test
 *     models (vocab/ggml-vocab-*.gguf) with the name each file carries. This is how
 *     SmolLM2 gets "smollm" although its tokenizer.json has the same shape as StarCoder's.
 *  2. The shape of tokenizer.json's pre_tokenizer (the normalizer must be absent or NFC):
 *       ByteLevel (use_regex, no prefix space)              -> "gpt-2"
 *       Sequence [Digits (individual), ByteLevel]           -> "starcoder"
 *       Sequence [Split (Regex R), ByteLevel (no regex)]    -> by R: the Llama 3 expression
 *                                                              -> "llama-bpe", the Qwen2 one
 *                                                              -> "qwen2"
 * Anything else is refused; `cove convert --pre NAME` then says what to write.
 */
#include <string.h>

#include "convert/convert_int.h"

static const struct {
    uint64_t fp;
    uint32_t n;
    const char *pre;
} known[] = {
    {0xca6de488847fce04ull, 49152, "smollm"},
    {0x5d3a6a219f4bc62full, 50257, "gpt-2"},
    {0xf3e4076080403f3dull, 49152, "starcoder"},
    {0xd3152134a0bfbef9ull, 49216, "refact"},
    {0x50aef615533d918dull, 65024, "falcon"},
    {0x69e231d0ff043a27ull, 50432, "mpt"},
    {0x88180bc0b0cf573full, 32256, "deepseek-coder"},
    {0x6b979ffb953418f2ull, 102400, "deepseek-llm"},
    {0xb75de4f06773e83bull, 30522, "bert-bge"}, /* the bert-base-uncased WordPiece vocabulary */
};

/* Split expressions of known pre-tokenizers, as tokenizer.json holds them. */
static const struct {
    const char *regex;
    const char *pre;
} known_splits[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
     "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "llama-bpe"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
     "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "qwen2"},
};

uint64_t cove_convert_vocab_fingerprint(const char *const *tokens, uint32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)tokens[i];; p++) {
            h ^= *p;
            h *= 1099511628211ull;
            if (!*p)
                break;
        }
    }
    return h;
}

const char *cove_convert_known_pre(uint64_t fingerprint, uint32_t n)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].fp == fingerprint && known[i].n == n)
            return known[i].pre;
    return NULL;
}

static int is_type(const json_t *step, const char *type)
{
    const char *t = json_string_value(json_object_get(step, "type"));
    return t && strcmp(t, type) == 0;
}

/* ByteLevel with the given use_regex (absent means true) and no prefix space. */
static int is_byte_level(const json_t *step, int use_regex)
{
    const json_t *ur = json_object_get(step, "use_regex");
    int regex = ur ? json_is_true(ur) : 1;
    return is_type(step, "ByteLevel") && regex == use_regex &&
           !json_is_true(json_object_get(step, "add_prefix_space"));
}

static const char *split_pre(const json_t *split)
{
    const json_t *pat = json_object_get(split, "pattern");
    const char *re = json_string_value(json_object_get(pat, "Regex"));
    const char *beh = json_string_value(json_object_get(split, "behavior"));
    if (!re || !beh || strcmp(beh, "Isolated") != 0 || json_is_true(json_object_get(split, "invert")))
        return NULL;
    for (size_t i = 0; i < sizeof known_splits / sizeof known_splits[0]; i++)
        if (strcmp(known_splits[i].regex, re) == 0)
            return known_splits[i].pre;
    return NULL;
}

const char *cove_convert_pre_from_shape(const json_t *pre_tokenizer, const json_t *normalizer)
{
    if (normalizer && !json_is_null(normalizer) && !is_type(normalizer, "NFC"))
        return NULL;
    if (is_byte_level(pre_tokenizer, 1))
        return "gpt-2";
    if (!is_type(pre_tokenizer, "Sequence"))
        return NULL;
    const json_t *steps = json_object_get(pre_tokenizer, "pretokenizers");
    if (json_array_size(steps) != 2)
        return NULL;
    const json_t *a = json_array_get(steps, 0), *b = json_array_get(steps, 1);
    if (is_type(a, "Digits") && json_is_true(json_object_get(a, "individual_digits")) &&
        is_byte_level(b, 1))
        return "starcoder";
    if (is_type(a, "Split") && is_byte_level(b, 0))
        return split_pre(a);
    return NULL;
}
