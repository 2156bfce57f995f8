/*
 * convert/hftokenizer.c - the vocabulary of a model directory: which file it comes from,
 * its special tokens, chat template and pre-tokenizer name, and the tokenizer.* keys.
 *
 * Special tokens, first source that names one wins:
 *   1. tokenizer_config.json: bos_token, eos_token, unk_token, sep_token, pad_token,
 *      cls_token, mask_token (a string or {"content": ...}); add_bos_token,
 *      add_eos_token; chat_template (a string, or a list of {name, template}: "default"
 *      or else the first).
 *   2. special_tokens_map.json: the same *_token keys.
 *   3. tokenizer.json's post_processor: a TemplateProcessing (alone or in a Sequence)
 *      whose single-text template starts with a special token makes that token BOS and
 *      sets add_bos_token; one that ends with a special token makes it EOS and sets
 *      add_eos_token ("[CLS] $A [SEP]" of BERT, "<|begin_of_text|> $A" of Llama 3).
 *   4. config.json: bos_token_id, eos_token_id, pad_token_id; tokenizer.json:
 *      model.unk_token.
 *   5. WordPiece: [UNK] [CLS] [SEP] [PAD] [MASK] by name; BOS = CLS, EOS = SEP, both
 *      added; the five are control tokens.
 * add_bos_token defaults to true for the SentencePiece style and false for byte-level
 * BPE. An end-of-turn token (<|eot_id|>, <|im_end|>, <end_of_turn>, <|end|>) that is a
 * control token other than EOS becomes tokenizer.ggml.eot_token_id. Without a template
 * in tokenizer_config.json, chat_template.jinja is used when present.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/str.h"
#include "convert/convert_int.h"
#include "cove/engine.h"

#define VOCAB_ARENA_CHUNK (1u << 20)
#define VOCAB_ARENA_MAX (1ull << 30)

/* ---- storage ---- */

void *cove_convert_vocab_alloc(cove_convert_vocab *v, size_t size)
{
    void *p;
    return cove_arena_alloc(v->arena, size, 0, &p) == COVE_OK ? p : NULL;
}

const char *cove_convert_vocab_strdup(cove_convert_vocab *v, const char *s, size_t len)
{
    char *p;
    return cove_arena_strndup(v->arena, s, len, &p) == COVE_OK && strlen(p) == len ? p : NULL;
}

cove_status cove_convert_vocab_alloc_tokens(cove_convert_vocab *v, uint32_t n, int with_scores,
                                            cove_error *err)
{
    if (n == 0 || n > COVE_MAX_VOCAB)
        return cove_error_set(err, COVE_ERR_LIMIT, "a vocabulary of %u tokens (1 to %u allowed)",
                              n, (unsigned)COVE_MAX_VOCAB);
    v->tokens = cove_convert_vocab_alloc(v, (size_t)n * sizeof *v->tokens);
    v->types = cove_convert_vocab_alloc(v, (size_t)n * sizeof *v->types);
    v->scores = with_scores ? cove_convert_vocab_alloc(v, (size_t)n * sizeof *v->scores) : NULL;
    if (!v->tokens || !v->types || (with_scores && !v->scores))
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for the vocabulary");
    for (uint32_t i = 0; i < n; i++) {
        v->tokens[i] = NULL;
        v->types[i] = COVE_TOKEN_NORMAL;
    }
    v->n = n;
    return COVE_OK;
}

void cove_convert_vocab_release(cove_convert_vocab *v)
{
    if (v && v->arena)
        cove_arena_free(v->arena);
    if (v)
        memset(v, 0, sizeof *v);
}

/* ---- text -> id ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

cove_status cove_convert_tokmap_build(struct cove_convert_tokmap *m, const cove_convert_vocab *v,
                                      cove_error *err)
{
    uint64_t slots = 2;
    while (slots < 2 * (uint64_t)v->n)
        slots <<= 1;
    m->mask = slots - 1;
    m->slot = cove_malloc(slots * sizeof *m->slot);
    if (!m->slot)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for the vocabulary index");
    memset(m->slot, 0xff, slots * sizeof *m->slot);
    for (uint32_t id = 0; id < v->n; id++) {
        if (cove_convert_tokmap_find(m, v, v->tokens[id]) >= 0)
            continue;
        uint64_t i = hash_str(v->tokens[id]) & m->mask;
        while (m->slot[i] >= 0)
            i = (i + 1) & m->mask;
        m->slot[i] = (int32_t)id;
    }
    return COVE_OK;
}

int64_t cove_convert_tokmap_find(const struct cove_convert_tokmap *m, const cove_convert_vocab *v,
                                 const char *s)
{
    for (uint64_t i = hash_str(s) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slot[i] < 0)
            return -1;
        if (strcmp(v->tokens[m->slot[i]], s) == 0)
            return m->slot[i];
    }
}

void cove_convert_tokmap_release(struct cove_convert_tokmap *m)
{
    cove_free(m->slot);
    m->slot = NULL;
}

/* ---- special tokens ---- */

static const struct {
    const char *key;
    size_t off;
    const char *bert_name; /* WordPiece default */
} specials[] = {
    {"bos_token", offsetof(cove_convert_vocab, bos), NULL},
    {"eos_token", offsetof(cove_convert_vocab, eos), NULL},
    {"unk_token", offsetof(cove_convert_vocab, unk), "[UNK]"},
    {"sep_token", offsetof(cove_convert_vocab, sep), "[SEP]"},
    {"pad_token", offsetof(cove_convert_vocab, pad), "[PAD]"},
    {"cls_token", offsetof(cove_convert_vocab, cls), "[CLS]"},
    {"mask_token", offsetof(cove_convert_vocab, mask), "[MASK]"},
};

#define N_SPECIALS (sizeof specials / sizeof specials[0])

static int64_t *special_slot(cove_convert_vocab *v, size_t i)
{
    return (int64_t *)((char *)v + specials[i].off);
}

/* Id of a special token's text (WordPiece: also in phantom form), or -1. */
static int64_t find_text(const cove_convert_vocab *v, const struct cove_convert_tokmap *m,
                         const char *text)
{
    char buf[COVE_MAX_TOKEN_BYTES + 4];
    int64_t id = cove_convert_tokmap_find(m, v, text);
    if (id < 0 && strcmp(v->model, "bert") == 0 && strlen(text) <= COVE_MAX_TOKEN_BYTES) {
        snprintf(buf, sizeof buf, "\xe2\x96\x81%s", text);
        id = cove_convert_tokmap_find(m, v, buf);
    }
    return id;
}

/* *_token keys of a tokenizer_config.json or special_tokens_map.json object. */
static void specials_from(cove_convert_vocab *v, const struct cove_convert_tokmap *m,
                          const json_t *obj, const char *path)
{
    for (size_t i = 0; obj && i < N_SPECIALS; i++) {
        const json_t *j = json_object_get(obj, specials[i].key);
        const char *text = json_is_object(j) ? json_string_value(json_object_get(j, "content"))
                                             : json_string_value(j);
        if (!text || *special_slot(v, i) >= 0)
            continue;
        int64_t id = find_text(v, m, text);
        if (id < 0)
            cove_log_warn("%s: %s '%.64s' is not in the vocabulary; ignored", path,
                          specials[i].key, text);
        *special_slot(v, i) = id;
    }
}

/* BOS / EOS framing from a TemplateProcessing post-processor (see the top of the file). */
static void specials_from_template(cove_convert_vocab *v, const struct cove_convert_tokmap *m,
                                   const json_t *pp)
{
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type && strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(pp, "processors");
        for (size_t i = 0; i < json_array_size(list); i++)
            specials_from_template(v, m, json_array_get(list, i));
        return;
    }
    const json_t *single = json_object_get(pp, "single");
    size_t n = json_array_size(single);
    if (!type || strcmp(type, "TemplateProcessing") != 0 || n < 2)
        return;
    const char *first = json_string_value(
        json_object_get(json_object_get(json_array_get(single, 0), "SpecialToken"), "id"));
    const char *last = json_string_value(
        json_object_get(json_object_get(json_array_get(single, n - 1), "SpecialToken"), "id"));
    int64_t fid = first ? find_text(v, m, first) : -1, lid = last ? find_text(v, m, last) : -1;
    if (fid >= 0 && v->add_bos < 0) {
        v->add_bos = 1;
        v->bos = v->bos >= 0 ? v->bos : fid;
    }
    if (lid >= 0 && v->add_eos < 0) {
        v->add_eos = 1;
        v->eos = v->eos >= 0 ? v->eos : lid;
    }
}

static void flag_from(const json_t *obj, const char *key, int *flag)
{
    const json_t *j = json_object_get(obj, key);
    if (*flag < 0 && json_is_boolean(j))
        *flag = json_is_true(j);
}

/* The WordPiece conventions (step 5). */
static void bert_specials(cove_convert_vocab *v, const struct cove_convert_tokmap *m)
{
    for (size_t i = 0; i < N_SPECIALS; i++) {
        int64_t *slot = special_slot(v, i);
        if (*slot < 0 && specials[i].bert_name)
            *slot = find_text(v, m, specials[i].bert_name);
        if (*slot >= 0 && specials[i].bert_name)
            v->types[*slot] = COVE_TOKEN_CONTROL;
    }
    v->bos = v->bos >= 0 ? v->bos : v->cls;
    v->eos = v->eos >= 0 ? v->eos : v->sep;
    v->add_bos = v->add_bos >= 0 ? v->add_bos : v->bos >= 0;
    v->add_eos = v->add_eos >= 0 ? v->add_eos : v->eos >= 0;
}

static void find_eot(cove_convert_vocab *v, const struct cove_convert_tokmap *m)
{
    static const char *const names[] = {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && v->eot < 0; i++) {
        int64_t id = cove_convert_tokmap_find(m, v, names[i]);
        if (id >= 0 && id != v->eos && v->types[id] == COVE_TOKEN_CONTROL)
            v->eot = id;
    }
}

/* Inputs of the special-token steps, each may be NULL. */
typedef struct special_src {
    const json_t *tok_config, *special_map, *tok_json;
    const char *tc_path, *sm_path;
    const cove_convert_cfg *cfg;
} special_src;

static cove_status resolve_specials(cove_convert_vocab *v, const special_src *s, cove_error *err)
{
    struct cove_convert_tokmap m;
    cove_status st = cove_convert_tokmap_build(&m, v, err);
    if (st != COVE_OK)
        return st;
    specials_from(v, &m, s->tok_config, s->tc_path);
    flag_from(s->tok_config, "add_bos_token", &v->add_bos);
    flag_from(s->tok_config, "add_eos_token", &v->add_eos);
    specials_from(v, &m, s->special_map, s->sm_path);
    specials_from_template(v, &m, json_object_get(s->tok_json, "post_processor"));
    const char *unk = json_string_value(
        json_object_get(json_object_get(s->tok_json, "model"), "unk_token"));
    if (v->unk < 0 && unk)
        v->unk = find_text(v, &m, unk);
    int64_t cfg_ids[3] = {s->cfg->bos_id, s->cfg->eos_id, s->cfg->pad_id};
    int64_t *slots[3] = {&v->bos, &v->eos, &v->pad};
    for (int i = 0; i < 3; i++)
        if (*slots[i] < 0 && cfg_ids[i] >= 0 && cfg_ids[i] < (int64_t)v->n)
            *slots[i] = cfg_ids[i];
    if (strcmp(v->model, "bert") == 0)
        bert_specials(v, &m);
    if (v->add_bos < 0)
        v->add_bos = strcmp(v->model, "llama") == 0;
    if (v->add_eos < 0)
        v->add_eos = 0;
    find_eot(v, &m);
    cove_convert_tokmap_release(&m);
    return COVE_OK;
}

/* ---- chat template ---- */

static const char *template_from_config(const json_t *tc)
{
    const json_t *t = json_object_get(tc, "chat_template");
    if (json_is_string(t))
        return json_string_value(t);
    for (size_t i = 0; i < json_array_size(t); i++) {
        const json_t *e = json_array_get(t, i);
        const char *name = json_string_value(json_object_get(e, "name"));
        if (name && strcmp(name, "default") == 0)
            return json_string_value(json_object_get(e, "template"));
    }
    return json_string_value(json_object_get(json_array_get(t, 0), "template"));
}

static cove_status load_template(cove_convert_vocab *v, const char *dir, const json_t *tc,
                                 cove_error *err)
{
    char path[COVE_MAX_PATH], *text = NULL;
    size_t len;
    const char *t = template_from_config(tc);
    if (t) {
        len = strlen(t);
        if (len > COVE_HF_MAX_TEMPLATE)
            return cove_error_set(err, COVE_ERR_LIMIT, "the chat template is %zu bytes (limit "
                                  "%u)", len, (unsigned)COVE_HF_MAX_TEMPLATE);
        v->chat_template = cove_convert_vocab_strdup(v, t, len);
        return v->chat_template ? COVE_OK : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    cove_status st = cove_convert_path(path, dir, "chat_template.jinja", err);
    if (st != COVE_OK || !cove_convert_file_exists(path))
        return st;
    if ((st = cove_convert_read_file(path, COVE_HF_MAX_TEMPLATE, &text, &len, err)) != COVE_OK)
        return st;
    if (!cove_utf8_valid(text, len) || memchr(text, '\0', len))
        st = cove_error_set(err, COVE_ERR_FORMAT, "%s: not valid UTF-8 text", path);
    else if (!(v->chat_template = cove_convert_vocab_strdup(v, text, len)))
        st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_free(text);
    return st;
}

/* ---- putting it together ---- */

/* Grow the token list to n entries with "[PADn]" tokens (config vocab_size > tokens). */
static cove_status pad_to(cove_convert_vocab *v, uint32_t n, cove_error *err)
{
    cove_convert_vocab old = *v;
    char buf[32];
    if (n <= v->n)
        return COVE_OK;
    cove_status st = cove_convert_vocab_alloc_tokens(v, n, old.scores != NULL, err);
    if (st != COVE_OK)
        return st;
    memcpy(v->tokens, old.tokens, old.n * sizeof *v->tokens);
    memcpy(v->types, old.types, old.n * sizeof *v->types);
    if (old.scores)
        memcpy(v->scores, old.scores, old.n * sizeof *v->scores);
    for (uint32_t i = old.n; i < n; i++) {
        int k = snprintf(buf, sizeof buf, "[PAD%u]", i);
        if (!(v->tokens[i] = cove_convert_vocab_strdup(v, buf, (size_t)k)))
            return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for the vocabulary");
        v->types[i] = COVE_TOKEN_UNUSED;
        if (v->scores)
            v->scores[i] = -(float)v->n_merges - 1.0f;
    }
    return COVE_OK;
}

/* Which tokenizer file to read, then read it; *tok_json keeps tokenizer.json's tree. */
static cove_status load_tokens(cove_convert_vocab *v, const char *dir, json_t **tok_json,
                               cove_error *err)
{
    char tpath[COVE_MAX_PATH], vpath[COVE_MAX_PATH];
    cove_status st;
    if ((st = cove_convert_path(tpath, dir, "tokenizer.json", err)) ||
        (st = cove_convert_path(vpath, dir, "vocab.txt", err)))
        return st;
    if (cove_convert_file_exists(tpath)) {
        if ((st = cove_convert_json_load(tpath, 0, tok_json, err)) != COVE_OK)
            return st;
        return cove_convert_tokjson_load(*tok_json, tpath, v, err);
    }
    if (cove_convert_file_exists(vpath))
        return cove_convert_vocabtxt_load(vpath, v, err);
    return cove_error_set(err, COVE_ERR_NOT_FOUND, "%s: no tokenizer.json or vocab.txt", dir);
}

static cove_status pick_pre(cove_convert_vocab *v, const json_t *tok_json, const char *pre,
                            const char *dir, cove_error *err)
{
    const char *p = pre;
    if (!p)
        p = cove_convert_known_pre(cove_convert_vocab_fingerprint(v->tokens, v->n), v->n);
    if (!p && strcmp(v->model, "gpt2") == 0)
        p = cove_convert_pre_from_shape(json_object_get(tok_json, "pre_tokenizer"),
                                        json_object_get(tok_json, "normalizer"));
    if (!p && strcmp(v->model, "gpt2") == 0)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s/tokenizer.json: cannot tell which "
                              "pre-tokenizer this byte-level BPE uses; name it with --pre "
                              "(e.g. llama-bpe, qwen2, gpt-2)", dir);
    snprintf(v->pre, sizeof v->pre, "%s", p ? p : "default");
    return COVE_OK;
}

/* Load the two optional special-token files and resolve the special tokens. */
static cove_status load_specials(cove_convert_vocab *v, const char *dir, const json_t *tok_json,
                                 const cove_convert_cfg *cfg, json_t **tc, cove_error *err)
{
    char tc_path[COVE_MAX_PATH], sm_path[COVE_MAX_PATH];
    json_t *sm = NULL;
    cove_status st;
    if ((st = cove_convert_path(tc_path, dir, "tokenizer_config.json", err)) ||
        (st = cove_convert_path(sm_path, dir, "special_tokens_map.json", err)) ||
        (st = cove_convert_json_load(tc_path, 1, tc, err)) ||
        (st = cove_convert_json_load(sm_path, 1, &sm, err)))
        return st;
    special_src s = {*tc, sm, tok_json, tc_path, sm_path, cfg};
    st = resolve_specials(v, &s, err);
    json_decref(sm);
    return st;
}

cove_status cove_convert_vocab_load(const char *dir, const cove_convert_cfg *cfg,
                                    const char *pre, cove_convert_vocab *v, cove_error *err)
{
    json_t *tok_json = NULL, *tc = NULL;
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->unk = v->sep = v->pad = v->cls = v->mask = v->eot = -1;
    v->add_bos = v->add_eos = v->add_space_prefix = -1;
    if (cove_arena_create(VOCAB_ARENA_CHUNK, VOCAB_ARENA_MAX, &v->arena) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory for the vocabulary");
    cove_status st = load_tokens(v, dir, &tok_json, err);
    if (st == COVE_OK)
        st = pad_to(v, (uint32_t)cfg->n_vocab, err);
    if (st == COVE_OK)
        st = pick_pre(v, tok_json, pre, dir, err);
    if (st == COVE_OK)
        st = load_specials(v, dir, tok_json, cfg, &tc, err);
    if (st == COVE_OK)
        st = load_template(v, dir, tc, err);
    json_decref(tok_json);
    json_decref(tc);
    if (st != COVE_OK)
        cove_convert_vocab_release(v);
    return st;
}

/* ---- the tokenizer.* keys ---- */

static cove_status write_ids(const cove_convert_vocab *v, cove_gguf_writer *w)
{
    static const struct {
        const char *key;
        size_t off;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", offsetof(cove_convert_vocab, bos)},
        {"tokenizer.ggml.eos_token_id", offsetof(cove_convert_vocab, eos)},
        {"tokenizer.ggml.unknown_token_id", offsetof(cove_convert_vocab, unk)},
        {"tokenizer.ggml.seperator_token_id", offsetof(cove_convert_vocab, sep)},
        {"tokenizer.ggml.padding_token_id", offsetof(cove_convert_vocab, pad)},
        {"tokenizer.ggml.cls_token_id", offsetof(cove_convert_vocab, cls)},
        {"tokenizer.ggml.mask_token_id", offsetof(cove_convert_vocab, mask)},
        {"tokenizer.ggml.eot_token_id", offsetof(cove_convert_vocab, eot)},
    };
    cove_status st = COVE_OK;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] && st == COVE_OK; i++) {
        int64_t id = *(const int64_t *)((const char *)v + ids[i].off);
        if (id >= 0)
            st = cove_gguf_writer_set_u32(w, ids[i].key, (uint32_t)id);
    }
    return st;
}

static cove_status write_flags(const cove_convert_vocab *v, cove_gguf_writer *w)
{
    cove_status st = COVE_OK;
    if (v->add_bos >= 0)
        st = cove_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos);
    if (st == COVE_OK && v->add_eos >= 0)
        st = cove_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos);
    if (st == COVE_OK && v->add_space_prefix >= 0 && strcmp(v->model, "llama") == 0)
        st = cove_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
    if (st == COVE_OK && v->chat_template)
        st = cove_gguf_writer_set_str(w, "tokenizer.chat_template", v->chat_template);
    return st;
}

cove_status cove_convert_vocab_write(const cove_convert_vocab *v, cove_gguf_writer *w,
                                     cove_error *err)
{
    cove_status st;
    if ((st = cove_gguf_writer_set_str(w, "tokenizer.ggml.model", v->model)) ||
        (st = cove_gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre)) ||
        (st = cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v->tokens, v->n)) ||
        (v->scores && (st = cove_gguf_writer_set_arr(w, "tokenizer.ggml.scores", COVE_GGUF_FLOAT32,
                                                     v->scores, v->n))) ||
        (st = cove_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", COVE_GGUF_INT32, v->types,
                                       v->n)) ||
        (v->n_merges && (st = cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", v->merges,
                                                           v->n_merges))) ||
        (st = write_ids(v, w)) || (st = write_flags(v, w)))
        return cove_error_set(err, st, "cannot write the vocabulary: %s (a token or the chat "
                              "template that is not valid UTF-8, or a size past a limit)",
                              cove_status_str(st));
    return COVE_OK;
}
