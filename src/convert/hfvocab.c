/*
 * convert/hfvocab.c - tokenizer.json and vocab.txt into the token list of a GGUF
 * vocabulary.
 *
 * tokenizer.json, by model.type:
 *   BPE, byte-level (a ByteLevel pre-tokenizer)  -> "gpt2": tokens, types, merges
 *   BPE, SentencePiece style (byte_fallback, or "▁" put in by the normalizer or a
 *   Metaspace pre-tokenizer)                     -> "llama": tokens, types, scores, and
 *        the merges as well. The scores come from the merges: the token a merge of rank r
 *        produces scores -r (its first merge counts), every other token
 *        -(number of merges + 1). Picking the highest-scoring pair, as a SentencePiece
 *        tokenizer does, then merges in the order of the merge list.
 *   WordPiece                                    -> "bert" (see the phantom space below)
 * Types: added_tokens marked special are control tokens, other added tokens user-defined;
 * in the SentencePiece style "<0xNN>" tokens are byte tokens and model.unk_token is the
 * unknown token; ids no token has become "[PADn]" (unused).
 *
 * WordPiece vocabularies are written in the "phantom space" form GGUF BERT vocabularies
 * use: a word-initial token "abc" becomes "▁abc", a continuation "##bc" becomes "bc", and
 * bracketed tokens ("[CLS]", "[unused0]") stay as they are.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "convert/convert_int.h"
#include "cove/engine.h"

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */

/* ---- token texts ---- */

/* Store token `id` with text s[0..len) (phantom form for WordPiece) and type. */
static cove_status set_token(cove_convert_vocab *v, uint32_t id, const char *s, size_t len,
                             int32_t type, int phantom, cove_error *err)
{
    char buf[COVE_MAX_TOKEN_BYTES + 4];
    if (phantom && !(len >= 1 && s[0] == '[' && s[len - 1] == ']')) {
        if (len >= 2 && s[0] == '#' && s[1] == '#') {
            s += 2;
            len -= 2;
        } else if (len <= COVE_MAX_TOKEN_BYTES) {
            memcpy(buf, SPACE_MARK, 3);
            memcpy(buf + 3, s, len);
            s = buf;
            len += 3;
        }
    }
    if (len > COVE_MAX_TOKEN_BYTES)
        return cove_error_set(err, COVE_ERR_LIMIT, "token %u is %zu bytes long (limit %d)", id,
                              len, COVE_MAX_TOKEN_BYTES);
    if (!(v->tokens[id] = cove_convert_vocab_strdup(v, s, len)))
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for the vocabulary");
    v->types[id] = type;
    return COVE_OK;
}

/* Give every id without a token "[PADn]", type unused. */
static cove_status fill_holes(cove_convert_vocab *v, cove_error *err)
{
    char buf[32];
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->tokens[i])
            continue;
        int n = snprintf(buf, sizeof buf, "[PAD%u]", i);
        cove_status st = set_token(v, i, buf, (size_t)n, COVE_TOKEN_UNUSED, 0, err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

/* ---- tokenizer.json ---- */

/* An id from JSON: an integer in [0, COVE_MAX_VOCAB). */
static int json_id(const json_t *j, uint32_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        json_integer_value(j) >= (json_int_t)COVE_MAX_VOCAB)
        return 0;
    *out = (uint32_t)json_integer_value(j);
    return 1;
}

/* One past the largest id of model.vocab and added_tokens. */
static cove_status count_ids(const json_t *vocab, const json_t *added, const char *path,
                             uint32_t *n, cove_error *err)
{
    const char *k;
    json_t *val;
    uint32_t id;
    *n = 0;
    json_object_foreach((json_t *)vocab, k, val) {
        if (!json_id(val, &id))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: token '%.64s' has a bad id", path, k);
        *n = id + 1 > *n ? id + 1 : *n;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        if (!json_id(json_object_get(a, "id"), &id) ||
            !json_is_string(json_object_get(a, "content")))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: added_tokens[%zu] has no id or "
                                  "content", path, i);
        *n = id + 1 > *n ? id + 1 : *n;
    }
    if (*n == 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: the vocabulary is empty", path);
    return COVE_OK;
}

static cove_status load_vocab_obj(cove_convert_vocab *v, const json_t *vocab, int phantom,
                                  const char *path, cove_error *err)
{
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)vocab, k, val) {
        uint32_t id = (uint32_t)json_integer_value(val);
        if (v->tokens[id])
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: id %u is given to two tokens", path,
                                  id);
        cove_status st = set_token(v, id, k, strlen(k), COVE_TOKEN_NORMAL, phantom, err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

static cove_status load_added(cove_convert_vocab *v, const json_t *added, int phantom,
                              cove_error *err)
{
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        const char *text = json_string_value(json_object_get(a, "content"));
        uint32_t id = (uint32_t)json_integer_value(json_object_get(a, "id"));
        int32_t type = json_is_true(json_object_get(a, "special")) ? COVE_TOKEN_CONTROL
                                                                   : COVE_TOKEN_USER_DEFINED;
        cove_status st = set_token(v, id, text, strlen(text), type, phantom, err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

/* One merge ("a b" or ["a", "b"]) into "a b" in the arena. */
static const char *merge_text(cove_convert_vocab *v, const json_t *m)
{
    if (json_is_string(m))
        return strchr(json_string_value(m), ' ')
                   ? cove_convert_vocab_strdup(v, json_string_value(m), json_string_length(m))
                   : NULL;
    const char *a = json_string_value(json_array_get(m, 0));
    const char *b = json_string_value(json_array_get(m, 1));
    if (json_array_size(m) != 2 || !a || !b)
        return NULL;
    size_t la = strlen(a), lb = strlen(b);
    char *s = cove_convert_vocab_alloc(v, la + lb + 2);
    if (s) {
        memcpy(s, a, la);
        s[la] = ' ';
        memcpy(s + la + 1, b, lb + 1);
    }
    return s;
}

static cove_status load_merges(cove_convert_vocab *v, const json_t *merges, const char *path,
                               cove_error *err)
{
    size_t n = json_array_size(merges);
    if (merges && !json_is_array(merges))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: model.merges is not a list", path);
    if (n > COVE_HF_MAX_MERGES)
        return cove_error_set(err, COVE_ERR_LIMIT, "%s: %zu merges, more than the limit of %u",
                              path, n, (unsigned)COVE_HF_MAX_MERGES);
    v->merges = cove_convert_vocab_alloc(v, (n + 1) * sizeof *v->merges);
    if (!v->merges)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for the merges");
    for (size_t i = 0; i < n; i++) {
        if (!(v->merges[i] = merge_text(v, json_array_get(merges, i))))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: merge %zu is not \"a b\" or "
                                  "[\"a\", \"b\"] (or memory ran out)", path, i);
    }
    v->n_merges = (uint32_t)n;
    return COVE_OK;
}

/* Scores of the SentencePiece-style form from the merge ranks (see the top of the file). */
static void merge_scores(cove_convert_vocab *v, const struct cove_convert_tokmap *map)
{
    char buf[2 * COVE_MAX_TOKEN_BYTES + 2];
    float none = -(float)v->n_merges - 1.0f;
    for (uint32_t i = 0; i < v->n; i++)
        v->scores[i] = none;
    for (uint32_t r = 0; r < v->n_merges; r++) {
        const char *m = v->merges[r], *sp = strchr(m, ' ');
        size_t la = (size_t)(sp - m), lb = strlen(sp + 1);
        if (la + lb >= sizeof buf)
            continue;
        memcpy(buf, m, la);
        memcpy(buf + la, sp + 1, lb + 1);
        int64_t id = cove_convert_tokmap_find(map, v, buf);
        if (id >= 0 && v->scores[id] == none)
            v->scores[id] = -(float)r;
    }
}

/* Walk a normalizer (or a Sequence of them) for "▁" handling. */
static void scan_normalizer(const json_t *n, int *space_mark, int *prefix)
{
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type)
        return;
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(n, "normalizers");
        for (size_t i = 0; i < json_array_size(list); i++)
            scan_normalizer(json_array_get(list, i), space_mark, prefix);
    } else if (strcmp(type, "Replace") == 0) {
        const char *to = json_string_value(json_object_get(n, "content"));
        *space_mark |= to && strcmp(to, SPACE_MARK) == 0;
    } else if (strcmp(type, "Prepend") == 0) {
        const char *p = json_string_value(json_object_get(n, "prepend"));
        *prefix |= p && strcmp(p, SPACE_MARK) == 0;
    }
}

/* SentencePiece style or byte-level; sets add_space_prefix for the former. */
static int spm_style(const json_t *root, const json_t *model, cove_convert_vocab *v)
{
    int mark = 0, prefix = 0;
    const json_t *pre = json_object_get(root, "pre_tokenizer");
    scan_normalizer(json_object_get(root, "normalizer"), &mark, &prefix);
    const char *pt = json_string_value(json_object_get(pre, "type"));
    if (pt && strcmp(pt, "Metaspace") == 0) {
        const char *scheme = json_string_value(json_object_get(pre, "prepend_scheme"));
        mark = 1;
        prefix |= json_is_true(json_object_get(pre, "add_prefix_space")) ||
                  (scheme && strcmp(scheme, "never") != 0);
    }
    if (!mark && !json_is_true(json_object_get(model, "byte_fallback")))
        return 0;
    v->add_space_prefix = prefix;
    return 1;
}

/* Byte tokens and the unknown token of the SentencePiece style. */
static void spm_types(cove_convert_vocab *v, const json_t *model, const struct cove_convert_tokmap *map)
{
    for (uint32_t i = 0; i < v->n; i++) {
        const char *t = v->tokens[i];
        if (strlen(t) == 6 && memcmp(t, "<0x", 3) == 0 && t[5] == '>' &&
            strchr("0123456789ABCDEF", t[3]) && strchr("0123456789ABCDEF", t[4]))
            v->types[i] = COVE_TOKEN_BYTE;
    }
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    int64_t id = unk ? cove_convert_tokmap_find(map, v, unk) : -1;
    if (id >= 0)
        v->types[id] = COVE_TOKEN_UNKNOWN;
}

/* The model's form: "gpt2", "llama" or "bert"; COVE_ERR_UNSUPPORTED for others. */
static cove_status pick_form(const json_t *root, const json_t *model, const char *path,
                             cove_convert_vocab *v, cove_error *err)
{
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type && json_is_object(json_object_get(model, "vocab")))
        type = json_object_get(model, "merges") ? "BPE" : NULL;
    if (type && strcmp(type, "WordPiece") == 0) {
        const char *pfx = json_string_value(json_object_get(model, "continuing_subword_prefix"));
        if (pfx && strcmp(pfx, "##") != 0)
            return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s: WordPiece prefix '%.16s' (only "
                                  "'##' is supported)", path, pfx);
        snprintf(v->model, sizeof v->model, "bert");
    } else if (type && strcmp(type, "BPE") == 0) {
        snprintf(v->model, sizeof v->model, "%s", spm_style(root, model, v) ? "llama" : "gpt2");
    } else {
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s: tokenizer model type '%.32s' is "
                              "not supported (BPE and WordPiece are)", path,
                              type ? type : "(none)");
    }
    return COVE_OK;
}

static cove_status load_lists(const json_t *root, const json_t *model, const char *path,
                              cove_convert_vocab *v, cove_error *err)
{
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *added = json_object_get(root, "added_tokens");
    int phantom = strcmp(v->model, "bert") == 0, spm = strcmp(v->model, "llama") == 0;
    uint32_t n;
    cove_status st;
    if (!json_is_object(vocab) || (added && !json_is_array(added)))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: model.vocab is not an object or "
                              "added_tokens not a list", path);
    if ((st = count_ids(vocab, added, path, &n, err)) ||
        (st = cove_convert_vocab_alloc_tokens(v, n, spm, err)) ||
        (st = load_vocab_obj(v, vocab, phantom, path, err)) ||
        (st = load_added(v, added, phantom, err)) || (st = fill_holes(v, err)))
        return st;
    if (strcmp(v->model, "bert") == 0)
        return COVE_OK;
    return load_merges(v, json_object_get(model, "merges"), path, err);
}

cove_status cove_convert_tokjson_load(const json_t *root, const char *path,
                                      cove_convert_vocab *v, cove_error *err)
{
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(root) || !json_is_object(model))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: no model object", path);
    cove_status st = pick_form(root, model, path, v, err);
    if (st == COVE_OK)
        st = load_lists(root, model, path, v, err);
    if (st != COVE_OK || strcmp(v->model, "llama") != 0)
        return st;
    struct cove_convert_tokmap map;
    if ((st = cove_convert_tokmap_build(&map, v, err)) != COVE_OK)
        return st;
    spm_types(v, model, &map);
    merge_scores(v, &map);
    cove_convert_tokmap_release(&map);
    return COVE_OK;
}

/* ---- vocab.txt ---- */

/* Count the tokens of vocab.txt: one per line, a final newline ending the last. */
static cove_status count_lines(const char *text, size_t len, const char *path, uint32_t *n,
                               cove_error *err)
{
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (len && text[len - 1] != '\n')
        lines++;
    if (lines == 0 || lines > COVE_MAX_VOCAB)
        return cove_error_set(err, lines ? COVE_ERR_LIMIT : COVE_ERR_FORMAT,
                              "%s: %zu tokens (1 to %u allowed)", path, lines,
                              (unsigned)COVE_MAX_VOCAB);
    *n = (uint32_t)lines;
    return COVE_OK;
}

cove_status cove_convert_vocabtxt_load(const char *path, cove_convert_vocab *v,
                                       cove_error *err)
{
    char *text;
    size_t len;
    uint32_t n = 0;
    cove_status st = cove_convert_read_file(path, COVE_HF_MAX_VOCAB_TXT, &text, &len, err);
    if (st != COVE_OK)
        return st;
    snprintf(v->model, sizeof v->model, "bert");
    if (!cove_utf8_valid(text, len))
        st = cove_error_set(err, COVE_ERR_FORMAT, "%s: not valid UTF-8", path);
    if (st == COVE_OK && (st = count_lines(text, len, path, &n, err)) == COVE_OK)
        st = cove_convert_vocab_alloc_tokens(v, n, 0, err);
    const char *p = text;
    for (uint32_t i = 0; st == COVE_OK && i < n; i++) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        size_t tl = l && p[l - 1] == '\r' ? l - 1 : l;
        if (tl == 0 || memchr(p, '\0', tl))
            st = cove_error_set(err, COVE_ERR_FORMAT, "%s: line %u is empty or holds a NUL byte",
                                path, i + 1);
        else
            st = set_token(v, i, p, tl, COVE_TOKEN_NORMAL, 1, err);
        p += l + 1;
    }
    cove_free(text);
    return st;
}
