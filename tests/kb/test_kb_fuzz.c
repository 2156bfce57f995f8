/*
 * tests/kb/test_kb_fuzz.c - inputs fuzz_extract (tests/fuzz/) found, kept as unit cases.
 * Each input is also a seed of tests/fuzz/corpus/extract/ (its first byte holds the
 * fuzz target's settings: format, tokenizer, chunk size, overlap).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/str.h"
#include "cove/engine.h"
#include "kb/kb_int.h"
#include "test.h"

/* A seed of the extract corpus, without its settings byte (exactly its length, no NUL). */
static char *corpus_input(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/extract/%s", COVE_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n < 1)
        return NULL;
    char *p = cove_malloc(n - 1 ? n - 1 : 1);
    if (p)
        memcpy(p, buf + 1, n - 1);
    *len = n - 1;
    return p;
}

/* An html comment opened near the end of a text that is not NUL-terminated: the search
 * for "-->" read past the text. */
TEST(extract_html_comment_unterminated)
{
    static const char in[] = "<!-- comment <p>hidden</p> -\x03<!-- comment <p>hidden</p> - unterminated";
    size_t n = sizeof in - 1, page = (size_t)sysconf(_SC_PAGESIZE);
    /* the text ends where an inaccessible page begins: a read past it faults */
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK(mprotect(map + page, page, PROT_NONE) == 0);
    char *text = map + page - n;
    memcpy(text, in, n);
    kb_doc d;
    cove_error err = {0};
    cove_status st = kb_extract("x", KB_FMT_HTML, text, n, 1000, &d, &err);
    munmap(map, 2 * page);
    CHECK_OK(st);
    CHECK_EQ_INT(d.n, 0); /* all of it is inside the comment */
    kb_doc_release(&d);

    static const char closed[] = "<p>a</p><!-- x > y -->b<!-->c";
    CHECK_OK(kb_extract("x", KB_FMT_HTML, closed, sizeof closed - 1, 1000, &d, &err));
    CHECK_EQ_INT(d.n, 2);
    CHECK_STR_EQ(d.blocks[0].text, "a");
    CHECK_STR_EQ(d.blocks[1].text, "bc");
    kb_doc_release(&d);
}

/* A heading long enough to leave 16-token chunks only half their size, with an overlap of
 * 7 tokens: each window of a long block moved on by a few bytes only, and the windows
 * repeated the block many times over. */
TEST(chunk_overlap_with_long_heading)
{
    size_t len = 0;
    char *text = corpus_input("regress_chunk_overlap_long_heading", &len);
    CHECK_MSG(text != NULL, "missing tests/fuzz/corpus/extract/regress_chunk_overlap_long_heading");
    kb_doc d;
    cove_error err = {0};
    cove_status st = kb_extract("x", KB_FMT_MD, text, len, 1000, &d, &err);
    cove_free(text);
    CHECK_OK(st);
    kb_chunks c;
    st = kb_chunk_doc(&d, NULL, 16, 7, &c, &err);
    size_t doc_bytes = 0, chunk_bytes = 0;
    for (size_t i = 0; i < d.n; i++)
        doc_bytes += d.blocks[i].len + 2;
    kb_doc_release(&d);
    CHECK_OK(st);
    for (size_t i = 0; i < c.n; i++)
        chunk_bytes += strlen(c.items[i].text);
    size_t n_chunks = c.n;
    kb_chunks_release(&c);
    CHECK_MSG(chunk_bytes <= 3 * doc_bytes, "%zu chunks hold %zu bytes of %zu", n_chunks,
              chunk_bytes, doc_bytes);
}

/* A markdown heading of more than 127 bytes with a two-byte character across the cut: the
 * chunk heading ended in half a character (invalid UTF-8 in the store and in answers). */
TEST(chunk_heading_cut_at_character)
{
    size_t len = 0;
    char *text = corpus_input("regress_chunk_heading_cut_utf8", &len);
    CHECK_MSG(text != NULL, "missing tests/fuzz/corpus/extract/regress_chunk_heading_cut_utf8");
    kb_doc d;
    cove_error err = {0};
    cove_status st = kb_extract("x", KB_FMT_MD, text, len, 1000, &d, &err);
    cove_free(text);
    CHECK_OK(st);
    kb_chunks c;
    st = kb_chunk_doc(&d, NULL, 16, 7, &c, &err);
    kb_doc_release(&d);
    CHECK_OK(st);
    int ok = c.n > 0;
    for (size_t i = 0; i < c.n && ok; i++)
        ok = cove_utf8_valid(c.items[i].heading, strlen(c.items[i].heading)) &&
             cove_utf8_valid(c.items[i].text, strlen(c.items[i].text));
    kb_chunks_release(&c);
    CHECK_MSG(ok, "a chunk heading or text is not UTF-8");

    /* the same with a heading of 3-byte characters: cut whole at 127 bytes or less */
    char head[400] = "# ";
    for (int i = 0; i < 100; i++)
        strcat(head, "\xe6\x97\xa5");
    strcat(head, "\n\nbody text\n");
    CHECK_OK(kb_extract("x", KB_FMT_MD, head, strlen(head), 1000, &d, &err));
    CHECK_OK(kb_chunk_doc(&d, NULL, 512, 64, &c, &err));
    kb_doc_release(&d);
    CHECK_EQ_INT(c.n, 1);
    size_t hl = strlen(c.items[0].heading);
    int head_ok = hl == 126 && cove_utf8_valid(c.items[0].heading, hl);
    kb_chunks_release(&c);
    CHECK(head_ok);
}

/* Windows of an html block counted with bge's WordPiece (17-token chunks, overlap 2): a
 * window three bytes long started in the middle of U+2581, and a chunk began with half a
 * character. */
TEST(chunk_window_starts_at_character)
{
    size_t len = 0;
    char *text = corpus_input("regress_chunk_window_mid_character", &len);
    CHECK_MSG(text != NULL, "missing tests/fuzz/corpus/extract/regress_chunk_window_mid_character");
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *tok = NULL;
    cove_error err = {0};
    cove_status st = cove_model_load(test_model_path("vocab/ggml-vocab-bert-bge.gguf"), mp, &tok,
                                     &err);
    kb_doc d = {0};
    if (st == COVE_OK)
        st = kb_extract("x", KB_FMT_HTML, text, len, 1000, &d, &err);
    cove_free(text);
    kb_chunks c = {0};
    if (st == COVE_OK)
        st = kb_chunk_doc(&d, tok, 17, 2, &c, &err);
    kb_doc_release(&d);
    cove_model_free(tok);
    CHECK_MSG(st == COVE_OK, "%s", cove_error_msg(&err));
    int ok = c.n > 0;
    for (size_t i = 0; i < c.n && ok; i++)
        ok = c.items[i].text[0] && cove_utf8_valid(c.items[i].text, strlen(c.items[i].text));
    kb_chunks_release(&c);
    CHECK_MSG(ok, "a chunk is empty or not UTF-8");
}

/* Each csv row repeats the header names of its non-empty fields, so a file of 1.2 MB with
 * long names and full rows asked for 70 MB of text and more: the rows are bounded together
 * by COVE_KB_MAX_TEXT (a 64 MiB file would have asked for hundreds of GB). */
TEST(extract_csv_header_repeats_bounded)
{
    enum { COLS = 1024, NAME = 1000, ROWS = 70 };
    size_t cap = (size_t)COLS * (NAME + 8) + (size_t)ROWS * COLS * 2 + 16, n = 0;
    char *csv = cove_malloc(cap);
    CHECK(csv != NULL);
    for (int c = 0; c < COLS; c++) {
        n += (size_t)snprintf(csv + n, cap - n, "%04d", c);
        memset(csv + n, 'h', NAME - 4);
        n += NAME - 4;
        csv[n++] = c + 1 < COLS ? ',' : '\n';
    }
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            csv[n++] = 'v';
            csv[n++] = c + 1 < COLS ? ',' : '\n';
        }
    kb_doc d;
    cove_error err = {0};
    cove_status st = kb_extract("x", KB_FMT_CSV, csv, n, 1000, &d, &err);
    CHECK_MSG(st == COVE_ERR_LIMIT, "status %d: %s", (int)st, cove_error_msg(&err));
    CHECK(d.n == 0 && d.blocks == NULL);
    /* the same rows, fewer of them, are fine: 50 rows of 1 MB */
    size_t head = (size_t)COLS * (NAME + 1);
    st = kb_extract("x", KB_FMT_CSV, csv, head + 50 * (size_t)COLS * 2, 1000, &d, &err);
    cove_free(csv);
    CHECK_OK(st);
    CHECK_EQ_INT(d.n, 50);
    size_t one = d.blocks[0].len;
    kb_doc_release(&d);
    CHECK_EQ_INT(one, (size_t)COLS * (NAME + 2 + 1) + (COLS - 1) * 2);
}

/* A quoted field, its closing quote, a '\r' without '\n' and more text: the byte after the
 * '\r' was taken for the comma, here the first of a 3-byte character, and the next field
 * began inside it (a block that was not UTF-8). Now a format error, as any other text after
 * a closing quote; with the comma or "\r\n" the row is fine. */
TEST(extract_csv_cr_after_quote)
{
    size_t len = 0;
    char *text = corpus_input("regress_csv_cr_after_quote", &len);
    CHECK_MSG(text != NULL, "missing tests/fuzz/corpus/extract/regress_csv_cr_after_quote");
    kb_doc d;
    cove_error err = {0};
    cove_status st = kb_extract("x", KB_FMT_CSV, text, len, 1000, &d, &err);
    cove_free(text);
    CHECK_MSG(st == COVE_ERR_FORMAT, "status %d", (int)st);
    CHECK_STR_EQ(cove_error_msg(&err), "text after a closing quote");

    static const char bad[] = "a,b\n\"x\"\r\xe2\x96\x81y,z\n";
    CHECK(kb_extract("x", KB_FMT_CSV, bad, sizeof bad - 1, 1000, &d, &err) == COVE_ERR_FORMAT);
    static const char good[] = "a,b\n\"x\"\r,\xe2\x96\x81y\n\"p\"\r\nq\n";
    CHECK_OK(kb_extract("x", KB_FMT_CSV, good, sizeof good - 1, 1000, &d, &err));
    CHECK_EQ_INT(d.n, 3);
    CHECK_STR_EQ(d.blocks[0].text, "a: x; b: \xe2\x96\x81y");
    CHECK_STR_EQ(d.blocks[1].text, "a: p");
    CHECK_STR_EQ(d.blocks[2].text, "a: q");
    kb_doc_release(&d);
}
