/*
 * kb/chunk.c - documents into chunks of at most N tokens.
 *
 * Blocks are packed into a chunk until the next would pass the limit; a heading closes
 * the chunk before it and becomes the heading of the chunks after it (headings nest:
 * "Guide > Install > Linux"). A block longer than the limit gets chunks of its own:
 * windows cut at spaces, each starting overlap_tokens before the end of the one before
 * (at most half a window back, so that the windows of a long block never pile up).
 * Each chunk's range spans the blocks it came from; a PDF chunk stays on one page.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/str.h"
#include "kb/kb_int.h"

#define HEADING_MAX 512 /* bytes of a heading path kept */

typedef struct chunker {
    const cove_model *tok;
    int32_t max, overlap;
    kb_chunks *out;
    struct cove_buf text;
    int64_t start, end;
    int32_t n_tokens;
    int pages;     /* ranges are pages: a chunk never spans two */
    char heads[6][128];
    char heading[HEADING_MAX];
    cove_error *err;
} chunker;

void kb_chunks_release(kb_chunks *c)
{
    for (size_t i = 0; i < c->n; i++) {
        cove_free(c->items[i].text);
        cove_free(c->items[i].heading);
    }
    cove_free(c->items);
    memset(c, 0, sizeof *c);
}

static int32_t count_tokens(const cove_model *tok, const char *s, size_t n)
{
    if (!tok)
        return (int32_t)(n / 4 + 1);
    int32_t cnt = 0;
    cove_tokenize(tok, s, n, 0, 0, NULL, 0, &cnt, NULL);
    return cnt;
}

static cove_status emit(chunker *c, const char *text, size_t len, int64_t start, int64_t end)
{
    kb_chunks *o = c->out;
    if (o->n >= COVE_KB_MAX_CHUNKS_DOC)
        return cove_error_set(c->err, COVE_ERR_LIMIT, "more than %d chunks in one document",
                              COVE_KB_MAX_CHUNKS_DOC);
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 32;
        kb_chunk *it = cove_realloc(o->items, cap * sizeof *it);
        if (!it)
            return COVE_ERR_NOMEM;
        o->items = it;
        o->cap = cap;
    }
    kb_chunk *k = &o->items[o->n];
    k->text = cove_strndup(text, len);
    k->heading = cove_strdup(c->heading);
    k->start = start;
    k->end = end;
    if (!k->text || !k->heading) {
        cove_free(k->text);
        cove_free(k->heading);
        return COVE_ERR_NOMEM;
    }
    o->n++;
    return COVE_OK;
}

static cove_status flush(chunker *c)
{
    cove_status s = COVE_OK;
    if (c->text.len)
        s = emit(c, c->text.data, c->text.len, c->start, c->end);
    cove_buf_reset(&c->text);
    c->n_tokens = 0;
    return s;
}

/* Heading of level lvl: drop deeper ones and rebuild the "a > b > c" path. */
static void set_heading(chunker *c, int lvl, const char *text)
{
    cove_str_copy(c->heads[lvl - 1], sizeof c->heads[0], text);
    for (int i = lvl; i < 6; i++)
        c->heads[i][0] = '\0';
    c->heading[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (!c->heads[i][0])
            continue;
        size_t n = strlen(c->heading);
        if (n)
            snprintf(c->heading + n, sizeof c->heading - n, " > ");
        n = strlen(c->heading);
        cove_str_copy(c->heading + n, sizeof c->heading - n, c->heads[i]);
    }
}

/* The start of the character at s[i] (s NUL-terminated): i or before it, but after from;
 * when that character starts at or before from, the start of the next one. */
static size_t char_cut(const char *s, size_t from, size_t i)
{
    size_t j = i;
    while (j > from + 1 && ((unsigned char)s[j] & 0xc0) == 0x80)
        j--;
    if (((unsigned char)s[j] & 0xc0) != 0x80)
        return j;
    while (((unsigned char)s[i] & 0xc0) == 0x80)
        i++;
    return i;
}

/* Largest cut <= want at a space (or a UTF-8 boundary when there is none) after from. */
static size_t cut_at(const char *s, size_t from, size_t want)
{
    size_t i = want;
    while (i > from + 1 && s[i] != ' ')
        i--;
    if (i > from + 1)
        return i;
    return char_cut(s, from, want);
}

/*
 * Where the window after [pos, end) starts: `back` bytes before its end, at a space (or a
 * character boundary when there is none) in its second half, so that every window moves
 * on by about half its length at least, however small the heading left the windows.
 */
static size_t next_start(const char *s, size_t pos, size_t end, size_t back)
{
    size_t mid = pos + (end - pos) / 2;
    size_t want = back < end - mid ? end - back : mid, i = want;
    while (i > mid && s[i] != ' ')
        i--;
    return i > mid ? i : char_cut(s, pos, want);
}

/* Windows of at most max tokens over one long block, overlapping by overlap tokens. */
static cove_status split_long(chunker *c, const kb_block *b, int32_t n_tok, int32_t max)
{
    double bpt = (double)b->len / (n_tok > 0 ? n_tok : 1); /* bytes a token, on average */
    size_t pos = 0;
    cove_status s = COVE_OK;
    while (pos < b->len && s == COVE_OK) {
        size_t want = pos + (size_t)(bpt * max * 0.95), end = b->len;
        if (want < b->len) {
            end = cut_at(b->text, pos, want);
            while (end > pos + 16 && count_tokens(c->tok, b->text + pos, end - pos) > max)
                end = cut_at(b->text, pos, pos + (end - pos) * 9 / 10);
        }
        s = emit(c, b->text + pos, end - pos, b->start, b->end);
        if (end >= b->len)
            break;
        size_t back = (size_t)(bpt * c->overlap);
        size_t next = back && end > pos + back ? next_start(b->text, pos, end, back) : end;
        pos = next > pos ? next : end;
        while (pos < b->len && b->text[pos] == ' ')
            pos++;
    }
    return s;
}

static cove_status add_block(chunker *c, const kb_block *b)
{
    if (b->heading) {
        cove_status s = flush(c);
        set_heading(c, b->heading, b->text);
        return s;
    }
    int32_t max = c->max - count_tokens(c->tok, c->heading, strlen(c->heading));
    if (max < c->max / 2)
        max = c->max / 2;
    int32_t t = count_tokens(c->tok, b->text, b->len);
    cove_status s = COVE_OK;
    if (t > max) {
        s = flush(c);
        return s == COVE_OK ? split_long(c, b, t, max) : s;
    }
    if (c->n_tokens + t + 1 > max || (c->pages && c->text.len && b->start != c->end))
        s = flush(c);
    if (s == COVE_OK && c->text.len == 0)
        c->start = b->start;
    if (s == COVE_OK && c->text.len)
        s = cove_buf_append_str(&c->text, "\n\n");
    if (s == COVE_OK)
        s = cove_buf_append(&c->text, b->text, b->len);
    c->end = b->end;
    c->n_tokens += t + 1;
    return s;
}

cove_status kb_chunk_doc(const kb_doc *d, const cove_model *tokenizer, int32_t chunk_tokens,
                         int32_t overlap_tokens, kb_chunks *out, cove_error *err)
{
    memset(out, 0, sizeof *out);
    chunker *c = cove_calloc(1, sizeof *c);
    if (!c)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    c->tok = tokenizer;
    c->max = chunk_tokens;
    c->overlap = overlap_tokens;
    c->out = out;
    c->err = err;
    c->pages = d->range_kind == COVE_KB_RANGE_PAGES;
    cove_buf_init(&c->text, COVE_KB_MAX_TEXT);
    cove_status s = COVE_OK;
    for (size_t i = 0; i < d->n && s == COVE_OK; i++)
        s = add_block(c, &d->blocks[i]);
    if (s == COVE_OK)
        s = flush(c);
    cove_buf_release(&c->text);
    cove_free(c);
    if (s != COVE_OK) {
        kb_chunks_release(out);
        if (err && err->status == COVE_OK)
            cove_error_set(err, s, "chunking: %s", cove_status_str(s));
    }
    return s;
}
