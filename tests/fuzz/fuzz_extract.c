/*
 * tests/fuzz/fuzz_extract.c - libFuzzer target for the knowledge base's text extraction
 * (kb/extract.c: txt, md, csv, html) and the chunker (kb/chunk.c) on any bytes.
 *
 * The first byte picks the format (bits 0-1: txt, md, csv, html), whether chunk tokens are
 * counted with a real WordPiece vocabulary or estimated (bit 2), the chunk size (bits 3-5:
 * 16 ... 512 tokens) and the overlap (bits 6-7: none ... just under half); the rest is the
 * file, passed as it is (not NUL-terminated). Checked on every input:
 *  - extraction succeeds or fails with COVE_ERR_FORMAT (binary, malformed csv) or
 *    COVE_ERR_LIMIT (too much text) and nothing else; what it accepts is UTF-8 without NUL
 *    bytes;
 *  - every block is non-empty, NUL-terminated at its length, white space normalised, valid
 *    UTF-8, a heading level 0..6 (headings only in md and html), its byte range inside the
 *    file and after the block before; its text no longer than its range (csv rows: plus
 *    the header names and separators);
 *  - chunking succeeds; every chunk is non-empty valid UTF-8 with a valid UTF-8 heading, its
 *    byte range inside the file; there is a chunk when there is body text, at most
 *    COVE_KB_MAX_CHUNKS_DOC of them, and overlapping windows repeat only a part of the
 *    text (all chunks together hold at most three times the text of the blocks).
 * A violation is __builtin_trap(), which libFuzzer reports as a crash.
 *
 * The vocabulary is vocab/ggml-vocab-bert-bge.gguf of the fixture models ($COVE_TEST_MODELS,
 * else ../shared/models beside the source tree), loaded once.
 *
 *   ./fuzz_extract -max_total_time=60 /tmp/extract-corpus tests/fuzz/corpus/extract
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/str.h"
#include "cove/engine.h"
#include "kb/kb_int.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VOCAB_FILE "vocab/ggml-vocab-bert-bge.gguf"

static cove_model *tokenizer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fuzz_models_dir(), VOCAB_FILE);
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_error err = {0};
    if (cove_model_load(path, mp, &tokenizer, &err) != COVE_OK) {
        fprintf(stderr, "fuzz_extract: %s: %s\n", path, cove_error_msg(&err));
        exit(1);
    }
    return 0;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* One block of a document of `len` bytes, after the block that ended at *prev_end. */
static void check_block(const kb_block *b, enum kb_format fmt, size_t len, int64_t *prev_end)
{
    CHECK_FZ(b->text != NULL && b->len > 0 && strlen(b->text) == b->len);
    CHECK_FZ(!is_ws(b->text[0]) && !is_ws(b->text[b->len - 1]));
    for (size_t i = 0; i < b->len; i++) /* b->text[b->len] is the NUL */
        CHECK_FZ(!is_ws(b->text[i]) || (b->text[i] == ' ' && b->text[i + 1] != ' '));
    CHECK_FZ(cove_utf8_valid(b->text, b->len));
    CHECK_FZ(b->heading >= 0 && b->heading <= 6);
    CHECK_FZ(b->heading == 0 || fmt == KB_FMT_MD || fmt == KB_FMT_HTML);
    CHECK_FZ(b->start >= *prev_end && b->start <= b->end && b->end <= (int64_t)len);
    size_t span = (size_t)(b->end - b->start);
    if (fmt == KB_FMT_CSV) /* "header: value; " around each field of the row */
        CHECK_FZ(b->len <= 5 * span + len);
    else
        CHECK_FZ(b->len <= span);
    *prev_end = b->end;
}

static void check_chunks(const kb_chunks *c, const kb_doc *d, size_t len)
{
    size_t doc_bytes = 0, chunk_bytes = 0, body = 0;
    for (size_t i = 0; i < d->n; i++) {
        doc_bytes += d->blocks[i].len + 2; /* "\n\n" between packed blocks */
        body += d->blocks[i].heading == 0;
    }
    CHECK_FZ(c->n <= COVE_KB_MAX_CHUNKS_DOC && (c->n > 0) == (body > 0));
    for (size_t i = 0; i < c->n; i++) {
        const kb_chunk *k = &c->items[i];
        CHECK_FZ(k->text != NULL && k->heading != NULL);
        size_t n = strlen(k->text);
        if (n == 0 || !cove_utf8_valid(k->text, n))
            fprintf(stderr, "fuzz_extract: chunk %zu of %zu: %zu bytes \"%s\"\n", i, c->n, n,
                    k->text);
        CHECK_FZ(n > 0 && cove_utf8_valid(k->text, n));
        CHECK_FZ(cove_utf8_valid(k->heading, strlen(k->heading)));
        CHECK_FZ(k->start >= 0 && k->start <= k->end && k->end <= (int64_t)len);
        chunk_bytes += n;
    }
    /* overlapping windows repeat a part of a long block, never most of it */
    CHECK_FZ(chunk_bytes <= 3 * doc_bytes + 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum kb_format fmts[4] = {KB_FMT_TXT, KB_FMT_MD, KB_FMT_CSV, KB_FMT_HTML};
    static const int32_t sizes[8] = {16, 17, 24, 32, 64, 128, 252, 512};
    if (size < 1)
        return 0;
    enum kb_format fmt = fmts[data[0] & 3];
    const cove_model *tok = (data[0] >> 2) & 1 ? tokenizer : NULL;
    int32_t chunk_tokens = sizes[(data[0] >> 3) & 7];
    int32_t overlap = (chunk_tokens / 2 - 1) * ((data[0] >> 6) & 3) / 3;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    kb_doc doc;
    cove_error err = {0};
    cove_status st = kb_extract("fuzz", fmt, text, len, 1000, &doc, &err);
    if (st != COVE_OK) {
        CHECK_FZ((st == COVE_ERR_FORMAT || st == COVE_ERR_LIMIT) && doc.n == 0 &&
                 doc.blocks == NULL);
        return 0;
    }
    CHECK_FZ(memchr(text, '\0', len) == NULL && cove_utf8_valid(text, len));
    CHECK_FZ(doc.n <= len && doc.range_kind == COVE_KB_RANGE_BYTES);
    int64_t prev_end = 0;
    for (size_t i = 0; i < doc.n; i++)
        check_block(&doc.blocks[i], fmt, len, &prev_end);

    kb_chunks chunks;
    st = kb_chunk_doc(&doc, tok, chunk_tokens, overlap, &chunks, &err);
    if (st != COVE_OK)
        fprintf(stderr, "fuzz_extract: chunking: %s\n", cove_error_msg(&err));
    CHECK_FZ(st == COVE_OK);
    check_chunks(&chunks, &doc, len);
    kb_chunks_release(&chunks);
    kb_doc_release(&doc);
    return 0;
}
