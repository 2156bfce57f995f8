/*
 * kb/extract.c - text blocks from txt, md, csv and html files (pdf: pdf.c).
 *
 * Every format yields blocks with their byte ranges in the file: paragraphs (text
 * separated by blank lines), headings (markdown '#' lines, html <h1>..<h6>), and for csv
 * one block per row rendered as "column: value; ...". Text is checked to be UTF-8 without
 * NUL bytes first; anything else is "binary" and skipped by the caller.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"
#include "kb/kb_int.h"

static const struct { const char *ext; enum kb_format f; const char *name; } FORMATS[] = {
    {".txt", KB_FMT_TXT, "txt"},   {".text", KB_FMT_TXT, "txt"},  {".md", KB_FMT_MD, "md"},
    {".markdown", KB_FMT_MD, "md"}, {".csv", KB_FMT_CSV, "csv"},  {".html", KB_FMT_HTML, "html"},
    {".htm", KB_FMT_HTML, "html"}, {".pdf", KB_FMT_PDF, "pdf"}};

enum kb_format kb_format_of(const char *path)
{
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++) {
        size_t n = strlen(path), e = strlen(FORMATS[i].ext);
        if (n > e && cove_str_casecmp(path + n - e, FORMATS[i].ext) == 0)
            return FORMATS[i].f;
    }
    return KB_FMT_NONE;
}

const char *kb_format_name(enum kb_format f)
{
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (FORMATS[i].f == f)
            return FORMATS[i].name;
    return "none";
}

void kb_doc_release(kb_doc *d)
{
    for (size_t i = 0; i < d->n; i++)
        cove_free(d->blocks[i].text);
    cove_free(d->blocks);
    memset(d, 0, sizeof *d);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

cove_status kb_doc_add(kb_doc *d, const char *text, size_t len, int64_t start, int64_t end,
                       int heading)
{
    char *t = cove_malloc(len + 1);
    if (!t)
        return COVE_ERR_NOMEM;
    size_t o = 0;
    int sp = 0;
    for (size_t i = 0; i < len; i++) { /* collapse white space runs into one space */
        if (is_space((unsigned char)text[i])) {
            sp = o > 0;
            continue;
        }
        if (sp)
            t[o++] = ' ';
        sp = 0;
        t[o++] = text[i];
    }
    t[o] = '\0';
    if (o == 0) {
        cove_free(t);
        return COVE_OK;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        kb_block *b = cove_realloc(d->blocks, cap * sizeof *b);
        if (!b) {
            cove_free(t);
            return COVE_ERR_NOMEM;
        }
        d->blocks = b;
        d->cap = cap;
    }
    d->blocks[d->n++] = (kb_block){t, o, start, end, heading};
    return COVE_OK;
}

/* Length of the line at p (up to end), without its '\n'. */
static size_t line_len(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return (size_t)((nl ? nl : end) - p);
}

static int blank_line(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_space((unsigned char)p[i]))
            return 0;
    return 1;
}

/* Markdown ATX heading level of a line ("## x" -> 2), 0 when not a heading. */
static int md_heading(const char *p, size_t n)
{
    int lvl = 0;
    while ((size_t)lvl < n && p[lvl] == '#')
        lvl++;
    return lvl >= 1 && lvl <= 6 && ((size_t)lvl == n || p[lvl] == ' ') ? lvl : 0;
}

/* Paragraphs of plain text or markdown: lines up to a blank line; md headings apart. */
static cove_status split_paragraphs(const char *data, size_t len, int md, kb_doc *out)
{
    const char *p = data, *end = data + len, *para = NULL;
    int in_fence = 0;
    cove_status s = COVE_OK;
    while (p < end && s == COVE_OK) {
        size_t n = line_len(p, end);
        const char *next = p + n + (p + n < end);
        int fence = md && n >= 3 && strncmp(p, "```", 3) == 0;
        int h = md && !in_fence ? md_heading(p, n) : 0;
        if (fence)
            in_fence = !in_fence;
        if ((blank_line(p, n) && !in_fence) || h) {
            if (para)
                s = kb_doc_add(out, para, (size_t)(p - para), para - data, p - data, 0);
            para = NULL;
            if (h && s == COVE_OK) {
                const char *t = p + h;
                s = kb_doc_add(out, t, n - (size_t)h, p - data, (p + n) - data, h);
            }
        } else if (!para) {
            para = p;
        }
        p = next;
    }
    if (para && s == COVE_OK)
        s = kb_doc_add(out, para, (size_t)(end - para), para - data, end - data, 0);
    return s;
}

/* ---- csv ---- */

typedef struct csv_field { const char *p; size_t n; int quoted; } csv_field;

/*
 * Parse one record at *pos into fields (at most max; more is an error). Quoted fields may
 * hold commas, doubled quotes and newlines; they are returned raw (quotes undone later).
 */
static cove_status csv_record(const char *data, size_t len, size_t *pos, csv_field *f,
                              size_t max, size_t *nf, cove_error *err)
{
    size_t i = *pos;
    *nf = 0;
    for (;;) {
        if (*nf == max)
            return cove_error_set(err, COVE_ERR_FORMAT, "more than %zu columns", max);
        csv_field *c = &f[(*nf)++];
        c->quoted = i < len && data[i] == '"';
        if (c->quoted) {
            size_t j = ++i;
            for (;; j++) {
                if (j >= len)
                    return cove_error_set(err, COVE_ERR_FORMAT, "unterminated quoted field");
                if (data[j] == '"' && j + 1 < len && data[j + 1] == '"')
                    j++;
                else if (data[j] == '"')
                    break;
            }
            c->p = data + i;
            c->n = j - i;
            i = j + 1;
            if (i < len && data[i] != ',' && data[i] != '\n' && data[i] != '\r')
                return cove_error_set(err, COVE_ERR_FORMAT, "text after a closing quote");
        } else {
            size_t j = i;
            while (j < len && data[j] != ',' && data[j] != '\n')
                j++;
            c->p = data + i;
            c->n = j - i;
            while (c->n && c->p[c->n - 1] == '\r')
                c->n--;
            i = j;
        }
        if (i < len && data[i] == '\r')
            i++;
        if (i >= len || data[i] == '\n') {
            *pos = i < len ? i + 1 : len;
            return COVE_OK;
        }
        if (data[i] != ',') /* a quoted field's closing quote and a '\r' without '\n' */
            return cove_error_set(err, COVE_ERR_FORMAT, "text after a closing quote");
        i++; /* the comma */
    }
}

static cove_status csv_append_field(struct cove_buf *b, const csv_field *c)
{
    cove_status s = COVE_OK;
    for (size_t i = 0; i < c->n && s == COVE_OK; i++) {
        if (c->quoted && c->p[i] == '"')
            i++; /* "" -> " */
        s = cove_buf_append_byte(b, (unsigned char)c->p[i]);
    }
    return s;
}

#define CSV_MAX_COLS 1024

/* One block per data row: "header: value; header: value"; the header row is the heading. */
static cove_status split_csv(const char *data, size_t len, kb_doc *out, cove_error *err)
{
    csv_field *hdr = cove_malloc(2 * CSV_MAX_COLS * sizeof *hdr), *row = hdr + CSV_MAX_COLS;
    struct cove_buf b;
    cove_buf_init(&b, COVE_KB_MAX_TEXT);
    if (!hdr)
        return COVE_ERR_NOMEM;
    size_t pos = 0, nh = 0, nr = 0, total = 0;
    cove_status s = csv_record(data, len, &pos, hdr, CSV_MAX_COLS, &nh, err);
    while (s == COVE_OK && pos < len) {
        size_t start = pos;
        s = csv_record(data, len, &pos, row, CSV_MAX_COLS, &nr, err);
        cove_buf_reset(&b);
        for (size_t i = 0; s == COVE_OK && i < nr; i++) {
            if (row[i].n == 0)
                continue;
            if (b.len)
                s = cove_buf_append_str(&b, "; ");
            if (s == COVE_OK && i < nh && hdr[i].n) {
                s = csv_append_field(&b, &hdr[i]);
                if (s == COVE_OK)
                    s = cove_buf_append_str(&b, ": ");
            }
            if (s == COVE_OK)
                s = csv_append_field(&b, &row[i]);
        }
        total += b.len; /* each row repeats the header names: bound the sum */
        if (s == COVE_OK && total > COVE_KB_MAX_TEXT)
            s = cove_error_set(err, COVE_ERR_LIMIT, "the rows give more than %u bytes of text",
                               (unsigned)COVE_KB_MAX_TEXT);
        if (s == COVE_OK && b.len)
            s = kb_doc_add(out, b.data, b.len, (int64_t)start, (int64_t)pos, 0);
    }
    cove_buf_release(&b);
    cove_free(hdr);
    return s;
}

/* ---- html ---- */

/* Tags whose content is not visible text. */
static int html_skip_tag(const char *name, size_t n)
{
    static const char *const skip[] = {"script", "style", "head", "noscript", "template", "svg"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strlen(skip[i]) == n && cove_str_ncasecmp(name, skip[i], n) == 0)
            return 1;
    return 0;
}

/* Tags that end a block of text (block-level elements and <br>). */
static int html_block_tag(const char *name, size_t n)
{
    static const char *const blk[] = {"p", "div", "br", "li", "ul", "ol", "tr", "table",
                                      "section", "article", "header", "footer", "blockquote",
                                      "pre", "dt", "dd", "hr", "title", "body", "main", "nav",
                                      "td", "th"};
    if (n == 2 && (name[0] == 'h' || name[0] == 'H') && name[1] >= '1' && name[1] <= '6')
        return 1;
    for (size_t i = 0; i < sizeof blk / sizeof blk[0]; i++)
        if (strlen(blk[i]) == n && cove_str_ncasecmp(name, blk[i], n) == 0)
            return 1;
    return 0;
}

/* Decode the entity at p (after '&'); appends its text and returns bytes used, 0 if none. */
static size_t html_entity(const char *p, const char *end, struct cove_buf *b)
{
    static const struct { const char *name; const char *text; } ent[] = {
        {"amp;", "&"}, {"lt;", "<"}, {"gt;", ">"}, {"quot;", "\""}, {"apos;", "'"},
        {"#39;", "'"}, {"nbsp;", " "}, {"mdash;", "\xe2\x80\x94"}, {"ndash;", "\xe2\x80\x93"}};
    for (size_t i = 0; i < sizeof ent / sizeof ent[0]; i++) {
        size_t n = strlen(ent[i].name);
        if ((size_t)(end - p) >= n && memcmp(p, ent[i].name, n) == 0)
            return cove_buf_append_str(b, ent[i].text) == COVE_OK ? n : 0;
    }
    return 0;
}

typedef struct html_state {
    const char *data;
    kb_doc *out;
    struct cove_buf text;
    int64_t start;     /* byte offset where the pending text began, -1 none */
    int heading;       /* inside <hN> */
} html_state;

static cove_status html_flush(html_state *h, int64_t at)
{
    cove_status s = COVE_OK;
    if (h->text.len && h->start >= 0)
        s = kb_doc_add(h->out, h->text.data, h->text.len, h->start, at, h->heading);
    cove_buf_reset(&h->text);
    h->start = -1;
    return s;
}

/* Handle the tag at p ('<'); returns where scanning goes on. */
static const char *html_tag(html_state *h, const char *p, const char *end, cove_status *s)
{
    const char *gt = memchr(p, '>', (size_t)(end - p));
    if (!gt)
        return end;
    if (p + 4 <= end && strncmp(p, "<!--", 4) == 0) {
        const char *c = memmem(p, (size_t)(end - p), "-->", 3); /* within the text only */
        return c ? c + 3 : end;
    }
    int closing = p[1] == '/';
    const char *name = p + 1 + closing, *ne = name;
    while (ne < gt && ((*ne >= 'a' && *ne <= 'z') || (*ne >= 'A' && *ne <= 'Z') ||
                       (*ne >= '0' && *ne <= '9')))
        ne++;
    size_t n = (size_t)(ne - name);
    if (!closing && html_skip_tag(name, n)) { /* jump past </name> */
        for (const char *q = gt + 1; q + n + 2 < end; q++)
            if (q[0] == '<' && q[1] == '/' && cove_str_ncasecmp(q + 2, name, n) == 0) {
                const char *g = memchr(q, '>', (size_t)(end - q));
                return g ? g + 1 : end;
            }
        return end;
    }
    if (html_block_tag(name, n)) {
        *s = html_flush(h, p - h->data);
        int hl = n == 2 && (name[0] == 'h' || name[0] == 'H') && name[1] >= '1' && name[1] <= '6';
        h->heading = hl && !closing ? name[1] - '0' : 0;
    }
    return gt + 1;
}

static cove_status split_html(const char *data, size_t len, kb_doc *out)
{
    html_state h = {data, out, {0}, -1, 0};
    cove_buf_init(&h.text, COVE_KB_MAX_TEXT);
    const char *p = data, *end = data + len;
    cove_status s = COVE_OK;
    while (p < end && s == COVE_OK) {
        if (*p == '<') {
            p = html_tag(&h, p, end, &s);
            continue;
        }
        if (h.start < 0 && !is_space((unsigned char)*p))
            h.start = p - data;
        size_t used = *p == '&' ? html_entity(p + 1, end, &h.text) : 0;
        if (used)
            p += used + 1;
        else
            s = cove_buf_append_byte(&h.text, (unsigned char)*p++);
    }
    if (s == COVE_OK)
        s = html_flush(&h, (int64_t)len);
    cove_buf_release(&h.text);
    return s;
}

cove_status kb_extract(const char *path, enum kb_format fmt, const char *data, size_t len,
                       int pdf_timeout_ms, kb_doc *out, cove_error *err)
{
    memset(out, 0, sizeof *out);
    out->range_kind = COVE_KB_RANGE_BYTES;
    if (fmt == KB_FMT_PDF)
        return kb_extract_pdf(path, data, len, pdf_timeout_ms, out, err);
    if (memchr(data, '\0', len) || !cove_utf8_valid(data, len))
        return cove_error_set(err, COVE_ERR_FORMAT, "binary content (NUL bytes or not UTF-8)");
    cove_status s;
    switch (fmt) {
    case KB_FMT_MD: s = split_paragraphs(data, len, 1, out); break;
    case KB_FMT_CSV: s = split_csv(data, len, out, err); break;
    case KB_FMT_HTML: s = split_html(data, len, out); break;
    default: s = split_paragraphs(data, len, 0, out); break;
    }
    if (s != COVE_OK) {
        kb_doc_release(out);
        if (err && err->status == COVE_OK)
            cove_error_set(err, s, "%s", cove_status_str(s));
    }
    return s;
}
