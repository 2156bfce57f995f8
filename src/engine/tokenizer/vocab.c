/*
 * engine/tokenizer/vocab.c - vocabulary loading, text -> id hash, special-token splitting.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "engine/tokenizer/tokenizer_int.h"

_Static_assert(COVE_TOKEN_PIECE_MAX == COVE_MAX_TOKEN_BYTES,
               "the public piece bound must match limits.h");

/* Registered tokenizer types, looked up by tokenizer.ggml.model. */
static const cove_tok_type *const tok_types[] = {
    &cove_tok_spm,
    &cove_tok_bpe,
    &cove_tok_wpm,
};

#define N_TOK_TYPES (sizeof tok_types / sizeof tok_types[0])

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"

cove_status cove_tokbuf_push(cove_tokbuf *b, int32_t id)
{
    if (b->n >= b->max)
        return COVE_ERR_LIMIT;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int32_t *ids = cove_realloc(b->ids, cap * sizeof *ids);
        if (!ids)
            return COVE_ERR_NOMEM;
        b->ids = ids;
        b->cap = cap;
    }
    b->ids[b->n++] = id;
    return COVE_OK;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int32_t cove_vocab_find(const cove_vocab *v, const char *s, size_t len)
{
    uint64_t i = hash_bytes(s, len) & v->hash_mask;
    for (;; i = (i + 1) & v->hash_mask) {
        int32_t id = v->hash[i];
        if (id < 0)
            return -1;
        if (v->len[id] == len && memcmp(v->blob + v->off[id], s, len) == 0)
            return id;
    }
}

static cove_status build_hash(cove_vocab *v)
{
    uint64_t slots = 1;
    while (slots < (uint64_t)v->n * 2)
        slots <<= 1;
    v->hash = cove_malloc(slots * sizeof *v->hash);
    if (!v->hash)
        return COVE_ERR_NOMEM;
    memset(v->hash, 0xff, slots * sizeof *v->hash);
    v->hash_mask = slots - 1;
    for (int32_t id = 0; id < v->n; id++) {
        if (cove_vocab_find(v, v->blob + v->off[id], v->len[id]) >= 0)
            continue; /* a duplicate text: the first id keeps it */
        uint64_t i = hash_bytes(v->blob + v->off[id], v->len[id]) & v->hash_mask;
        while (v->hash[i] >= 0)
            i = (i + 1) & v->hash_mask;
        v->hash[i] = id;
    }
    return COVE_OK;
}

static cove_status load_texts(cove_vocab *v, const cove_gguf *g, cove_error *err)
{
    enum cove_gguf_vtype et;
    uint64_t count, total = 0;
    cove_status st = cove_gguf_get_arr(g, KEY_TOKENS, &et, &count);
    if (st != COVE_OK || et != COVE_GGUF_STRING || count == 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is missing or not a list of strings",
                              KEY_TOKENS);
    if (count > COVE_MAX_VOCAB)
        return cove_error_set(err, COVE_ERR_LIMIT, "vocabulary of %llu tokens exceeds the limit of %u",
                              (unsigned long long)count, (unsigned)COVE_MAX_VOCAB);
    v->n = (int32_t)count;
    for (uint64_t i = 0; i < count; i++) {
        cove_gguf_str s;
        if ((st = cove_gguf_arr_str(g, KEY_TOKENS, i, &s)) != COVE_OK)
            return cove_error_set(err, st, "cannot read token %llu", (unsigned long long)i);
        if (s.len > COVE_MAX_TOKEN_BYTES)
            return cove_error_set(err, COVE_ERR_LIMIT, "token %llu is %llu bytes long (limit %d)",
                                  (unsigned long long)i, (unsigned long long)s.len,
                                  COVE_MAX_TOKEN_BYTES);
        total += s.len + 1;
    }
    v->blob = cove_malloc(total);
    v->off = cove_malloc(count * sizeof *v->off);
    v->len = cove_malloc(count * sizeof *v->len);
    if (!v->blob || !v->off || !v->len || total > UINT32_MAX)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the vocabulary");
    uint32_t at = 0;
    for (uint64_t i = 0; i < count; i++) {
        cove_gguf_str s;
        cove_gguf_arr_str(g, KEY_TOKENS, i, &s);
        memcpy(v->blob + at, s.ptr, s.len);
        v->blob[at + s.len] = '\0';
        v->off[i] = at;
        v->len[i] = (uint32_t)s.len;
        at += (uint32_t)s.len + 1;
    }
    return COVE_OK;
}

/* Numeric array `key` of n 4-byte elements of one of the types `t1`, `t2`; NULL when absent. */
static cove_status get_arr4(const cove_gguf *g, const char *key, enum cove_gguf_vtype t1,
                            enum cove_gguf_vtype t2, int32_t n, const void **data, cove_error *err)
{
    enum cove_gguf_vtype et;
    uint64_t count;
    *data = NULL;
    if (cove_gguf_get_arr(g, key, &et, &count) != COVE_OK)
        return COVE_OK;
    if ((et != t1 && et != t2) || count != (uint64_t)n)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: expected %d numbers of 4 bytes", key, n);
    if (cove_gguf_arr_data(g, key, data) != COVE_OK)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: cannot read the array", key);
    return COVE_OK;
}

static cove_status load_scores_types(cove_vocab *v, const cove_gguf *g, cove_error *err)
{
    const void *scores, *types;
    cove_status st = get_arr4(g, KEY_SCORES, COVE_GGUF_FLOAT32, COVE_GGUF_FLOAT32, v->n, &scores, err);
    if (st == COVE_OK)
        st = get_arr4(g, KEY_TYPES, COVE_GGUF_INT32, COVE_GGUF_UINT32, v->n, &types, err);
    if (st != COVE_OK)
        return st;
    v->score = cove_calloc((size_t)v->n, sizeof *v->score);
    v->type = cove_malloc((size_t)v->n);
    if (!v->score || !v->type)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the vocabulary");
    for (int32_t i = 0; i < v->n; i++) {
        int32_t t = COVE_TOKEN_NORMAL;
        if (scores)
            memcpy(&v->score[i], (const char *)scores + 4 * (size_t)i, 4);
        if (types)
            memcpy(&t, (const char *)types + 4 * (size_t)i, 4);
        if (t < COVE_TOKEN_UNDEFINED || t > COVE_TOKEN_BYTE)
            return cove_error_set(err, COVE_ERR_FORMAT, "token %d has unknown type %d", i, t);
        v->type[i] = (uint8_t)t;
    }
    return COVE_OK;
}

/* Special id `key`: `def` when absent, -1 when "none" (-1, 2^32-1) or out of range. */
static int32_t get_id(const cove_vocab *v, const cove_gguf *g, const char *key, int32_t def)
{
    int64_t id;
    if (cove_gguf_get_i64(g, key, &id) != COVE_OK)
        return def < v->n ? def : -1;
    if (id == -1 || id == (int64_t)UINT32_MAX)
        return -1;
    if (id < 0 || id >= v->n) {
        cove_log_warn("%s = %lld is outside the vocabulary of %d; ignored", key, (long long)id, v->n);
        return -1;
    }
    return (int32_t)id;
}

static int get_flag(const cove_gguf *g, const char *key, int def)
{
    int b;
    return cove_gguf_get_bool(g, key, &b) == COVE_OK ? (b != 0) : def;
}

static void load_specials_ids(cove_vocab *v, const cove_gguf *g)
{
    const cove_tok_type *t = v->tt;
    v->bos = get_id(v, g, "tokenizer.ggml.bos_token_id", t->def_bos);
    v->eos = get_id(v, g, "tokenizer.ggml.eos_token_id", t->def_eos);
    v->unk = get_id(v, g, "tokenizer.ggml.unknown_token_id", t->def_unk);
    v->pad = get_id(v, g, "tokenizer.ggml.padding_token_id", -1);
    v->eot = get_id(v, g, "tokenizer.ggml.eot_token_id", -1);
    v->add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", t->def_add_bos);
    v->add_eos = get_flag(g, "tokenizer.ggml.add_eos_token", t->def_add_eos);
    v->add_space_prefix = get_flag(g, "tokenizer.ggml.add_space_prefix", t->def_add_space_prefix);
}

/* Byte tokens "<0xNN>": the value, or -1 for any other text. */
static int parse_byte_token(const char *s, uint32_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
    if (!hi || !lo || !s[3] || !s[4])
        return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

static void load_byte_tokens(cove_vocab *v)
{
    for (int b = 0; b < 256; b++)
        v->byte_tok[b] = -1;
    for (int32_t id = 0; id < v->n; id++) {
        if (v->type[id] != COVE_TOKEN_BYTE)
            continue;
        int b = parse_byte_token(v->blob + v->off[id], v->len[id]);
        if (b >= 0 && v->byte_tok[b] < 0)
            v->byte_tok[b] = id;
    }
}

int cove_vocab_is_special_type(uint8_t type, int parse_special)
{
    if (type == COVE_TOKEN_USER_DEFINED)
        return 1;
    return parse_special && (type == COVE_TOKEN_CONTROL || type == COVE_TOKEN_UNKNOWN);
}

/* A special token as sorted: by first byte, then longest first, then lowest id. */
typedef struct special_key {
    uint8_t first;
    uint32_t len;
    int32_t id;
} special_key;

static int cmp_special(const void *a, const void *b)
{
    const special_key *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Collect the tokens that may be matched in the text, grouped by first byte. */
static cove_status build_specials(cove_vocab *v)
{
    int32_t n = 0;
    for (int32_t id = 0; id < v->n; id++)
        n += v->len[id] > 0 && cove_vocab_is_special_type(v->type[id], 1);
    special_key *keys = cove_malloc(((size_t)n + 1) * sizeof *keys);
    v->special = cove_malloc(((size_t)n + 1) * sizeof *v->special);
    if (!keys || !v->special) {
        cove_free(keys);
        return COVE_ERR_NOMEM;
    }
    int32_t k = 0;
    for (int32_t id = 0; id < v->n; id++)
        if (v->len[id] > 0 && cove_vocab_is_special_type(v->type[id], 1))
            keys[k++] = (special_key){(uint8_t)v->blob[v->off[id]], v->len[id], id};
    qsort(keys, (size_t)n, sizeof *keys, cmp_special);
    for (int b = 0, i = 0; b <= 256; b++) {
        while (i < n && keys[i].first < b)
            i++;
        v->special_at[b] = i;
    }
    for (int32_t i = 0; i < n; i++)
        v->special[i] = keys[i].id;
    v->n_special = n;
    cove_free(keys);
    return COVE_OK;
}

static cove_status pick_type(cove_vocab *v, const cove_gguf *g, cove_error *err)
{
    cove_gguf_str name;
    if (cove_gguf_get_str(g, KEY_MODEL, &name) != COVE_OK)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is missing", KEY_MODEL);
    int shown = name.len > 24 ? 24 : (int)name.len;
    for (size_t i = 0; i < N_TOK_TYPES; i++) {
        if (cove_gguf_str_eq(name, tok_types[i]->name)) {
            v->tt = tok_types[i];
            memcpy(v->model_name, name.ptr, name.len);
            return COVE_OK;
        }
    }
    return cove_error_set(err, COVE_ERR_UNSUPPORTED, "tokenizer type '%.*s' is not supported yet",
                          shown, name.ptr);
}

cove_status cove_vocab_load(const cove_gguf *g, cove_vocab **out, cove_error *err)
{
    *out = NULL;
    cove_vocab *v = cove_calloc(1, sizeof *v);
    if (!v)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the vocabulary");
    cove_status st = pick_type(v, g, err);
    if (st == COVE_OK)
        st = load_texts(v, g, err);
    if (st == COVE_OK)
        st = load_scores_types(v, g, err);
    if (st == COVE_OK && (build_hash(v) != COVE_OK || build_specials(v) != COVE_OK))
        st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the vocabulary");
    if (st == COVE_OK) {
        load_specials_ids(v, g);
        load_byte_tokens(v);
        if (v->tt->init)
            st = v->tt->init(v, g, err);
    }
    if (st != COVE_OK) {
        cove_vocab_free(v);
        return st;
    }
    *out = v;
    return COVE_OK;
}

void cove_vocab_free(cove_vocab *v)
{
    if (!v)
        return;
    if (v->tt && v->tt->release)
        v->tt->release(v);
    cove_free(v->blob);
    cove_free(v->off);
    cove_free(v->len);
    cove_free(v->score);
    cove_free(v->type);
    cove_free(v->hash);
    cove_free(v->special);
    cove_free(v);
}

int32_t cove_vocab_n_tokens(const cove_vocab *v) { return v->n; }
const char *cove_vocab_model_name(const cove_vocab *v) { return v->model_name; }
int32_t cove_vocab_bos(const cove_vocab *v) { return v->bos; }
int32_t cove_vocab_eos(const cove_vocab *v) { return v->eos; }
int32_t cove_vocab_unk(const cove_vocab *v) { return v->unk; }
int32_t cove_vocab_pad(const cove_vocab *v) { return v->pad; }
int cove_vocab_adds_space_prefix(const cove_vocab *v) { return v->add_space_prefix; }

int cove_vocab_is_eog(const cove_vocab *v, int32_t token)
{
    return token >= 0 && (token == v->eos || token == v->eot);
}

const char *cove_vocab_text(const cove_vocab *v, int32_t token)
{
    return token >= 0 && token < v->n ? v->blob + v->off[token] : NULL;
}

float cove_vocab_score(const cove_vocab *v, int32_t token)
{
    return token >= 0 && token < v->n ? v->score[token] : 0.0f;
}

enum cove_token_type cove_vocab_type(const cove_vocab *v, int32_t token)
{
    return token >= 0 && token < v->n ? (enum cove_token_type)v->type[token] : COVE_TOKEN_UNDEFINED;
}

/* The longest special token that starts at s[0..rem), or -1. */
static int32_t match_special(const cove_vocab *v, const char *s, size_t rem, int parse_special)
{
    uint8_t b = (uint8_t)s[0];
    for (int32_t i = v->special_at[b]; i < v->special_at[b + 1]; i++) {
        int32_t id = v->special[i];
        if (v->len[id] <= rem && cove_vocab_is_special_type(v->type[id], parse_special) &&
            memcmp(s, v->blob + v->off[id], v->len[id]) == 0)
            return id;
    }
    return -1;
}

/* Split the text around special tokens and encode the plain fragments between them. */
static cove_status encode_text(const cove_vocab *v, const char *text, size_t len, int parse_special,
                               cove_tokbuf *b, cove_error *err)
{
    size_t start = 0;
    int after_special = 1;
    cove_status st = COVE_OK;
    for (size_t pos = 0; pos < len && st == COVE_OK;) {
        int32_t id = v->n_special ? match_special(v, text + pos, len - pos, parse_special) : -1;
        if (id < 0) {
            pos++;
            continue;
        }
        if (pos > start)
            st = v->tt->encode(v, text + start, pos - start, after_special, b, err);
        if (st == COVE_OK)
            st = cove_tokbuf_push(b, id);
        after_special = 1;
        pos += v->len[id];
        start = pos;
    }
    if (st == COVE_OK && len > start)
        st = v->tt->encode(v, text + start, len - start, after_special, b, err);
    return st;
}

static cove_status tokenize_into(const cove_vocab *v, const char *text, size_t len, int add_special,
                                 int parse_special, cove_tokbuf *b, cove_error *err)
{
    cove_status st = COVE_OK;
    if (add_special && v->add_bos && v->bos >= 0)
        st = cove_tokbuf_push(b, v->bos);
    if (st == COVE_OK)
        st = encode_text(v, text, len, parse_special, b, err);
    if (st == COVE_OK && add_special && v->add_eos && v->eos >= 0)
        st = cove_tokbuf_push(b, v->eos);
    /* encoders leave the message of these two to us */
    if (st == COVE_ERR_NOMEM)
        return cove_error_set(err, st, "out of memory while tokenizing");
    if (st == COVE_ERR_LIMIT)
        return cove_error_set(err, st, "the text gives more than %zu tokens", b->max);
    return st;
}

cove_status cove_vocab_tokenize(const cove_vocab *v, const char *text, size_t len, int add_special,
                                int parse_special, int32_t *out, int32_t n_max, int32_t *n_out,
                                cove_error *err)
{
    *n_out = 0;
    if ((!text && len) || n_max < 0 || (!out && n_max > 0))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_tokenize: bad arguments");
    if (len > COVE_MAX_TOKENIZE_BYTES)
        return cove_error_set(err, COVE_ERR_LIMIT, "text of %zu bytes exceeds the limit of %u",
                              len, (unsigned)COVE_MAX_TOKENIZE_BYTES);
    /* every token but BOS, EOS and a space prefix per fragment covers at least one byte */
    cove_tokbuf b = {.max = 2 * len + 8};
    cove_status st = tokenize_into(v, text, len, add_special, parse_special, &b, err);
    if (st == COVE_OK) {
        *n_out = (int32_t)b.n;
        if (b.n > (size_t)n_max)
            st = cove_error_set(err, COVE_ERR_LIMIT, "the text gives %zu tokens, room for %d",
                                b.n, n_max);
        else if (b.n)
            memcpy(out, b.ids, b.n * sizeof *out);
    }
    cove_free(b.ids);
    return st;
}

cove_status cove_vocab_piece(const cove_vocab *v, int32_t token, int special, char *buf, size_t n,
                             size_t *len)
{
    *len = 0;
    if (token < 0 || token >= v->n || (!buf && n))
        return COVE_ERR_INVALID_ARG;
    size_t need = v->tt->piece(v, token, special, buf, n);
    *len = need;
    return need > n ? COVE_ERR_LIMIT : COVE_OK;
}
