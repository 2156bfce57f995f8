/*
 * engine/tokenizer/spm.c - the SentencePiece (BPE model) tokenizer of llama vocabularies.
 *
 * Encoding one fragment of plain text:
 *  1. Escape: put U+2581 ("▁") before the text when it starts the input or follows a
 *     special token (and the vocabulary asks for the prefix), and replace every space
 *     (0x20) by U+2581. Other whitespace is left alone.
 *  2. Split the escaped text into UTF-8 characters, one symbol each.
 *  3. Merge: repeatedly join the adjacent pair of symbols whose joined text is a token
 *     with the highest score (ties: the leftmost pair), until no pair is a token.
 *     Candidate pairs wait in a binary heap; a pair is stale when either side has been
 *     merged since it was queued, which the recorded length of the pair detects.
 *  4. Emit each symbol's token; a symbol that is not a token (a character the vocabulary
 *     lacks) becomes its bytes as <0xNN> byte tokens, or <unk> without byte fallback.
 *
 * Control, unknown and byte tokens never result from a merge: their text is not text
 * a model saw ("<s>" in the input stays plain text unless parse_special matched it).
 *
 * Decoding: U+2581 becomes a space, <0xNN> its byte, control tokens nothing (or their
 * text when asked), <unk> " ⁇ " as SentencePiece renders it.
 */
#include <string.h>

#include "base/alloc.h"
#include "engine/tokenizer/tokenizer_int.h"

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */
#define SPACE_MARK_LEN 3
#define UNK_SURFACE " \xe2\x81\x87 " /* " ⁇ " */

typedef struct spm_sym {
    uint32_t off; /* into the escaped text */
    uint32_t len; /* 0 once merged into its left neighbour */
    int32_t prev, next;
} spm_sym;

typedef struct spm_pair {
    int32_t left, right;
    float score;
    uint32_t len; /* joined length when queued; a mismatch later means stale */
} spm_pair;

typedef struct spm_state {
    const cove_vocab *v;
    const char *text; /* escaped */
    spm_sym *sym;
    spm_pair *heap;
    size_t n_heap;
} spm_state;

/* Id of a token whose text is s[0..len) and that ordinary text may produce, or -1. */
static int32_t spm_lookup(const cove_vocab *v, const char *s, size_t len)
{
    int32_t id = cove_vocab_find(v, s, len);
    if (id < 0)
        return -1;
    uint8_t t = v->type[id];
    if (t == COVE_TOKEN_CONTROL || t == COVE_TOKEN_UNKNOWN || t == COVE_TOKEN_BYTE)
        return -1;
    return id;
}

static int pair_better(const spm_pair *a, const spm_pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_state *s, spm_pair p)
{
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_better(&p, &s->heap[up]))
            break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = p;
}

static spm_pair heap_pop(spm_state *s)
{
    spm_pair top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_better(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!pair_better(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* Queue the pair (left, right) when their joined text is a token. */
static void try_pair(spm_state *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    const spm_sym *l = &s->sym[left], *r = &s->sym[right];
    uint32_t len = l->len + r->len;
    int32_t id = spm_lookup(s->v, s->text + l->off, len);
    if (id >= 0)
        heap_push(s, (spm_pair){left, right, s->v->score[id], len});
}

static size_t utf8_len(uint8_t c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xf0)
        return 4;
    if (c >= 0xe0)
        return 3;
    return c >= 0xc0 ? 2 : 1;
}

/* Escape the fragment into dst (room for 3 * len + 3); returns the length. */
static size_t spm_escape(const char *text, size_t len, int prefix, char *dst)
{
    size_t n = 0;
    if (prefix) {
        memcpy(dst, SPACE_MARK, SPACE_MARK_LEN);
        n = SPACE_MARK_LEN;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(dst + n, SPACE_MARK, SPACE_MARK_LEN);
            n += SPACE_MARK_LEN;
        } else {
            dst[n++] = text[i];
        }
    }
    return n;
}

/* One symbol per UTF-8 character (a stray byte is a character of its own). */
static int32_t spm_split(spm_sym *sym, const char *text, size_t len)
{
    int32_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t cl = utf8_len((uint8_t)text[i]);
        if (cl > len - i)
            cl = len - i;
        sym[n] = (spm_sym){(uint32_t)i, (uint32_t)cl, n - 1, -1};
        if (n > 0)
            sym[n - 1].next = n;
        n++;
        i += cl;
    }
    return n;
}

static void spm_merge(spm_state *s, int32_t n_sym)
{
    for (int32_t i = 0; i + 1 < n_sym; i++)
        try_pair(s, i, i + 1);
    while (s->n_heap) {
        spm_pair p = heap_pop(s);
        spm_sym *l = &s->sym[p.left], *r = &s->sym[p.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != p.len || l->next != p.right)
            continue; /* stale */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            s->sym[r->next].prev = p.left;
        try_pair(s, l->prev, p.left);
        try_pair(s, p.left, l->next);
    }
}

/* Tokens of one final symbol: itself, its bytes, or <unk>. */
static cove_status spm_emit(const cove_vocab *v, const char *s, size_t len, cove_tokbuf *out,
                            cove_error *err)
{
    int32_t id = spm_lookup(v, s, len);
    if (id >= 0)
        return cove_tokbuf_push(out, id);
    int all_bytes = 1;
    for (size_t i = 0; i < len; i++)
        all_bytes &= v->byte_tok[(uint8_t)s[i]] >= 0;
    if (!all_bytes) {
        if (v->unk < 0)
            return cove_error_set(err, COVE_ERR_FORMAT,
                                  "text has a character the vocabulary cannot express");
        return cove_tokbuf_push(out, v->unk);
    }
    cove_status st = COVE_OK;
    for (size_t i = 0; i < len && st == COVE_OK; i++)
        st = cove_tokbuf_push(out, v->byte_tok[(uint8_t)s[i]]);
    return st;
}

static int32_t utf8_count(const char *text, size_t len)
{
    int32_t n = 0;
    for (size_t i = 0; i < len; n++)
        i += utf8_len((uint8_t)text[i]);
    return n;
}

static cove_status spm_encode(const cove_vocab *v, const char *text, size_t len, int after_special,
                              cove_tokbuf *out, cove_error *err)
{
    spm_state s = {.v = v};
    char *esc = cove_malloc(3 * len + SPACE_MARK_LEN);
    if (!esc)
        return COVE_ERR_NOMEM;
    size_t n = spm_escape(text, len, v->add_space_prefix && after_special, esc);
    size_t n_chars = (size_t)utf8_count(esc, n);
    s.text = esc;
    s.sym = cove_malloc(n_chars * sizeof *s.sym);
    s.heap = cove_malloc(3 * n_chars * sizeof *s.heap); /* n - 1 pairs + 2 per merge */
    cove_status st = COVE_ERR_NOMEM;
    if (s.sym && s.heap) {
        int32_t n_sym = spm_split(s.sym, esc, n);
        spm_merge(&s, n_sym);
        st = COVE_OK;
        for (int32_t i = 0; i >= 0 && i < n_sym && st == COVE_OK; i = s.sym[i].next)
            st = spm_emit(v, esc + s.sym[i].off, s.sym[i].len, out, err);
    }
    cove_free(esc);
    cove_free(s.sym);
    cove_free(s.heap);
    return st;
}

/* Append bytes to buf[0..n) at *at, counting what does not fit. */
static void put(char *buf, size_t n, size_t *at, const char *s, size_t len)
{
    if (*at < n)
        memcpy(buf + *at, s, len <= n - *at ? len : n - *at);
    *at += len;
}

static size_t spm_piece(const cove_vocab *v, int32_t token, int special, char *buf, size_t n)
{
    const char *t = v->blob + v->off[token];
    uint32_t len = v->len[token];
    size_t at = 0;
    switch (v->type[token]) {
    case COVE_TOKEN_BYTE:
        for (int b = 0; b < 256; b++) {
            if (v->byte_tok[b] == token) {
                char c = (char)b;
                put(buf, n, &at, &c, 1);
                return at;
            }
        }
        break; /* not a well-formed <0xNN>: render its text */
    case COVE_TOKEN_CONTROL:
        if (special)
            put(buf, n, &at, t, len);
        return at;
    case COVE_TOKEN_UNKNOWN:
        if (special)
            put(buf, n, &at, t, len);
        else
            put(buf, n, &at, UNK_SURFACE, sizeof UNK_SURFACE - 1);
        return at;
    case COVE_TOKEN_USER_DEFINED:
        put(buf, n, &at, t, len);
        return at;
    default:
        break;
    }
    for (uint32_t i = 0; i < len;) {
        if (len - i >= SPACE_MARK_LEN && memcmp(t + i, SPACE_MARK, SPACE_MARK_LEN) == 0) {
            put(buf, n, &at, " ", 1);
            i += SPACE_MARK_LEN;
        } else {
            put(buf, n, &at, t + i, 1);
            i++;
        }
    }
    return at;
}

const cove_tok_type cove_tok_spm = {
    .name = "llama",
    .def_bos = 1,
    .def_eos = 2,
    .def_unk = 0,
    .def_add_bos = 1,
    .def_add_eos = 0,
    .def_add_space_prefix = 1,
    .init = NULL,
    .release = NULL,
    .encode = spm_encode,
    .piece = spm_piece,
};
