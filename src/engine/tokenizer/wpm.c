/*
 * engine/tokenizer/wpm.c - WordPiece ("bert" vocabularies), as BERT's tokenizer does it.
 *
 * Encoding one fragment, character by character (the basic tokenizer, then WordPiece):
 *  1. Clean: drop U+0000, U+FFFD and control characters (every category C but tab, line
 *     feed and carriage return); bytes that are not UTF-8 count as U+FFFD.
 *  2. White space (White_Space, tab, LF, CR) ends the current word.
 *  3. A CJK ideograph (the blocks BERT lists) is a word of its own.
 *  4. Normalize: strip accents (NFD, then drop non-spacing marks) and lower-case, as the
 *     vocabulary says (tokenizer.ggml.do_lower_case, default on; tokenizer.ggml.strip_accents,
 *     default: as do_lower_case).
 *  5. Punctuation (ASCII punctuation and symbols, and category P) is a word of its own.
 *  6. WordPiece each word: from its start, take the longest prefix that is a token (the
 *     first piece as a word start, later ones as continuations); a word that cannot be
 *     covered, or is longer than WPM_MAX_CHARS characters, becomes [UNK] as a whole.
 *
 * Two spellings of the vocabulary are understood, told apart at load:
 *   Hugging Face (vocab.txt)   word starts as they are, continuations "##ing"
 *   llama.cpp's GGUF           word starts "\u2581the", continuations as they are
 *
 * With add_special, [CLS] (BOS, tokenizer.ggml.cls_token_id) goes before the text and [SEP]
 * (EOS, tokenizer.ggml.seperator_token_id) after it.
 *
 * Decoding: a word start gives a space and its text, a continuation its text alone (so the
 * decoded text begins with a space: COVE_DETOK_STRIP_SPACE removes it), except that
 * ". , ! ?" join the word before them, as Hugging Face's clean-up does. Control tokens
 * give nothing (their text when asked).
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/tokenizer/tokenizer_int.h"
#include "engine/tokenizer/unicode.h"

#define WPM_MAX_CHARS 100 /* longer words are [UNK] (max_input_chars_per_word) */
#define WPM_WORD_BYTES (WPM_MAX_CHARS * 4)
#define WPM_PREFIX_MAX 3

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */

typedef struct wpm_data {
    int lowercase, strip_accents;
    char start_prefix[WPM_PREFIX_MAX + 1]; /* "" or U+2581 */
    char cont_prefix[WPM_PREFIX_MAX + 1];  /* "##" or "" */
    size_t start_len, cont_len;
} wpm_data;

/* ------------------------------------------------------------------- load */

static int get_flag(const cove_gguf *g, const char *key, int def)
{
    int b;
    return cove_gguf_get_bool(g, key, &b) == COVE_OK ? (b != 0) : def;
}

/* Special id from `key` when `primary` is absent from the file; `cur` otherwise. */
static int32_t id_from(const cove_vocab *v, const cove_gguf *g, const char *primary,
                       const char *key, int32_t cur)
{
    int64_t id;
    if (cove_gguf_find_key(g, primary) >= 0 || cove_gguf_get_i64(g, key, &id) != COVE_OK)
        return cur;
    return id >= 0 && id < v->n ? (int32_t)id : cur;
}

/* Which spelling: "##" continuations (Hugging Face) or U+2581 word starts (llama.cpp). */
static void pick_spelling(const cove_vocab *v, wpm_data *d)
{
    int32_t hashes = 0;
    for (int32_t id = 0; id < v->n; id++)
        hashes += v->len[id] > 2 && memcmp(v->blob + v->off[id], "##", 2) == 0;
    if (hashes > 0) {
        strcpy(d->cont_prefix, "##");
    } else {
        strcpy(d->start_prefix, SPACE_MARK);
    }
    d->start_len = strlen(d->start_prefix);
    d->cont_len = strlen(d->cont_prefix);
}

static void wpm_release(cove_vocab *v)
{
    cove_free(v->tt_data);
    v->tt_data = NULL;
}

static cove_status wpm_init(cove_vocab *v, const cove_gguf *g, cove_error *err)
{
    wpm_data *d = cove_calloc(1, sizeof *d);
    if (!d)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the vocabulary");
    v->tt_data = d;
    d->lowercase = get_flag(g, "tokenizer.ggml.do_lower_case", 1);
    d->strip_accents = get_flag(g, "tokenizer.ggml.strip_accents", d->lowercase);
    pick_spelling(v, d);
    v->bos = id_from(v, g, "tokenizer.ggml.bos_token_id", "tokenizer.ggml.cls_token_id", v->bos);
    v->eos = id_from(v, g, "tokenizer.ggml.eos_token_id", "tokenizer.ggml.seperator_token_id",
                     v->eos);
    v->eos = id_from(v, g, "tokenizer.ggml.eos_token_id", "tokenizer.ggml.separator_token_id",
                     v->eos);
    v->add_space_prefix = 1; /* decoded text starts with a space */
    return COVE_OK;
}

/* ----------------------------------------------------------------- encode */

typedef struct wpm_word {
    char bytes[WPM_WORD_BYTES];
    uint16_t off[WPM_MAX_CHARS + 1]; /* byte offset of each character, and the end */
    int n_chars;                     /* may pass WPM_MAX_CHARS (then bytes are not kept) */
} wpm_word;

typedef struct wpm_state {
    const cove_vocab *v;
    const wpm_data *d;
    cove_tokbuf *out;
    wpm_word w;
} wpm_state;

/* Longest token for word[start..) (a word start when start == 0); its end in *end, or -1. */
static int32_t longest_match(const wpm_state *s, int start, int *end)
{
    const wpm_word *w = &s->w;
    char key[WPM_PREFIX_MAX + WPM_WORD_BYTES];
    const char *pre = start ? s->d->cont_prefix : s->d->start_prefix;
    size_t pl = start ? s->d->cont_len : s->d->start_len;
    size_t from = w->off[start];
    memcpy(key, pre, pl);
    memcpy(key + pl, w->bytes + from, w->off[w->n_chars] - from);
    for (int e = w->n_chars; e > start; e--) {
        size_t len = pl + w->off[e] - from;
        if (len > COVE_MAX_TOKEN_BYTES)
            continue;
        int32_t id = cove_vocab_find(s->v, key, len);
        if (id >= 0) {
            *end = e;
            return id;
        }
    }
    return -1;
}

/* WordPiece the n collected characters into ids; returns the count, or -1: [UNK]. */
static int wordpiece(const wpm_state *s, int n, int32_t ids[WPM_MAX_CHARS])
{
    if (n > WPM_MAX_CHARS)
        return -1;
    int n_ids = 0;
    for (int start = 0, end = 0; start < n; start = end) {
        int32_t id = longest_match(s, start, &end);
        if (id < 0)
            return -1;
        ids[n_ids++] = id;
    }
    return n_ids;
}

/* WordPiece the collected word, emit it and start a new one. */
static cove_status flush_word(wpm_state *s)
{
    if (s->w.n_chars == 0)
        return COVE_OK;
    int32_t ids[WPM_MAX_CHARS];
    int n_ids = wordpiece(s, s->w.n_chars, ids);
    s->w.n_chars = 0;
    if (n_ids < 0) {
        if (s->v->unk < 0)
            return COVE_ERR_FORMAT;
        return cove_tokbuf_push(s->out, s->v->unk);
    }
    cove_status st = COVE_OK;
    for (int i = 0; i < n_ids && st == COVE_OK; i++)
        st = cove_tokbuf_push(s->out, ids[i]);
    return st;
}

/* Append a character to the word (only counted past WPM_MAX_CHARS). */
static void add_char(wpm_word *w, uint32_t cp)
{
    if (w->n_chars < WPM_MAX_CHARS) {
        size_t at = w->off[w->n_chars];
        w->off[w->n_chars + 1] = (uint16_t)(at + cove_uni_put(cp, w->bytes + at));
    }
    w->n_chars += w->n_chars <= WPM_MAX_CHARS;
}

static int is_bert_punct(uint32_t cp, unsigned f)
{
    return (f & COVE_UNI_P) || (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
           (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}

/* A character after cleaning and normalization: joins the word or stands alone. */
static cove_status take_char(wpm_state *s, uint32_t cp)
{
    unsigned f = cove_uni_flags(cp);
    if (f & COVE_UNI_WS)
        return flush_word(s);
    if (!is_bert_punct(cp, f)) {
        add_char(&s->w, cp);
        return COVE_OK;
    }
    cove_status st = flush_word(s);
    if (st == COVE_OK) {
        add_char(&s->w, cp);
        st = flush_word(s);
    }
    return st;
}

/* Normalize one input character (strip accents, lower-case) and take the result. */
static cove_status normalize_char(wpm_state *s, uint32_t cp)
{
    uint32_t a[COVE_UNI_MAP_MAX], b[COVE_UNI_MAP_MAX];
    size_t na = 1;
    a[0] = cp;
    if (s->d->strip_accents)
        na = cove_uni_strip(cp, a);
    cove_status st = COVE_OK;
    for (size_t i = 0; i < na && st == COVE_OK; i++) {
        size_t nb = 1;
        b[0] = a[i];
        if (s->d->lowercase)
            nb = cove_uni_lower(a[i], b);
        for (size_t k = 0; k < nb && st == COVE_OK; k++)
            st = take_char(s, b[k]);
    }
    return st;
}

/* One input character through the basic tokenizer. */
static cove_status feed_char(wpm_state *s, uint32_t cp)
{
    if (cp == 0 || cp == 0xFFFD || cp == COVE_UNI_INVALID)
        return COVE_OK;
    unsigned f = cove_uni_flags(cp);
    int tab_or_eol = cp == '\t' || cp == '\n' || cp == '\r';
    if ((f & COVE_UNI_C) && !tab_or_eol)
        return COVE_OK; /* control characters go, U+0085 included */
    if (f & COVE_UNI_WS)
        return flush_word(s);
    if (!(f & COVE_UNI_CJK))
        return normalize_char(s, cp);
    cove_status st = flush_word(s);
    if (st == COVE_OK)
        st = normalize_char(s, cp);
    if (st == COVE_OK)
        st = flush_word(s);
    return st;
}

static cove_status wpm_encode(const cove_vocab *v, const char *text, size_t len, int after_special,
                              cove_tokbuf *out, cove_error *err)
{
    (void)after_special;
    wpm_state *s = cove_malloc(sizeof *s);
    if (!s)
        return COVE_ERR_NOMEM;
    s->v = v;
    s->d = v->tt_data;
    s->out = out;
    s->w.n_chars = 0;
    s->w.off[0] = 0;
    cove_status st = COVE_OK;
    for (size_t i = 0; i < len && st == COVE_OK;) {
        uint32_t cp;
        i += cove_uni_next(text + i, len - i, &cp);
        st = feed_char(s, cp);
    }
    if (st == COVE_OK)
        st = flush_word(s);
    cove_free(s);
    if (st == COVE_ERR_FORMAT)
        return cove_error_set(err, st, "the vocabulary has no [UNK] for a word it cannot spell");
    return st;
}

/* ----------------------------------------------------------------- decode */

static void put(char *buf, size_t n, size_t *at, const char *s, size_t len)
{
    if (*at < n)
        memcpy(buf + *at, s, len <= n - *at ? len : n - *at);
    *at += len;
}

/* ". , ! ?" alone: joined to the word before, as the clean-up of decoding does. */
static int joins_left(const char *t, size_t len)
{
    return len == 1 && (t[0] == '.' || t[0] == ',' || t[0] == '!' || t[0] == '?');
}

static size_t wpm_piece(const cove_vocab *v, int32_t token, int special, char *buf, size_t n)
{
    const wpm_data *d = v->tt_data;
    const char *t = v->blob + v->off[token];
    size_t len = v->len[token], at = 0;
    uint8_t type = v->type[token];
    if (type == COVE_TOKEN_CONTROL || type == COVE_TOKEN_UNKNOWN) {
        if (special)
            put(buf, n, &at, t, len);
        return at;
    }
    int start;
    if (d->cont_len) { /* "##ing" continues, anything else starts a word */
        start = !(len >= d->cont_len && memcmp(t, d->cont_prefix, d->cont_len) == 0);
        if (!start)
            t += d->cont_len, len -= d->cont_len;
    } else { /* "\u2581the" starts a word, anything else continues */
        start = len >= d->start_len && memcmp(t, d->start_prefix, d->start_len) == 0;
        if (start)
            t += d->start_len, len -= d->start_len;
    }
    if (start && !joins_left(t, len))
        put(buf, n, &at, " ", 1);
    put(buf, n, &at, t, len);
    return at;
}

const cove_tok_type cove_tok_wpm = {
    .name = "bert",
    .def_bos = 101,
    .def_eos = 102,
    .def_unk = 100,
    .def_add_bos = 1,
    .def_add_eos = 1,
    .def_add_space_prefix = 1,
    .init = wpm_init,
    .release = wpm_release,
    .encode = wpm_encode,
    .piece = wpm_piece,
};
