/*
 * kb/kb_int.h - private parts of the knowledge base shared by its files.
 */
#ifndef COVE_KB_KB_INT_H
#define COVE_KB_KB_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"
#include "kb/kb.h"
#include "kb/vindex.h"

struct cove_kb {
    sqlite3 *db;
    cove_kb_params params;
    cove_pool *pool;          /* n_threads threads for scans */
    int32_t n_embd;           /* 0 until the first vector is stored */
    enum cove_kb_vec_format fmt;
    /* vectors loaded for search, valid while vi_gen equals the store's generation */
    cove_kb_vindex *vi;
    cove_kb_hnsw *hnsw;       /* NULL when the store has no current index */
    int64_t vi_gen;
};

/* ---- store.c ---- */

/* Prepare, bind nothing; on failure the message goes to err. */
cove_status kb_prepare(cove_kb *kb, const char *sql, sqlite3_stmt **st, cove_error *err);
/* Run SQL without results (several statements allowed). */
cove_status kb_exec(cove_kb *kb, const char *sql, cove_error *err);
/* COVE_ERR_IO with the SQLite message and `what`. */
cove_status kb_sql_error(cove_kb *kb, cove_error *err, const char *what);

cove_status kb_meta_get_int(cove_kb *kb, const char *key, int64_t *out, cove_error *err);
cove_status kb_meta_set_int(cove_kb *kb, const char *key, int64_t value, cove_error *err);
cove_status kb_meta_set_text(cove_kb *kb, const char *key, const char *value, cove_error *err);

/* The generation: bumped in every transaction that changes chunks. */
cove_status kb_generation(cove_kb *kb, int64_t *out, cove_error *err);

/* A document's stored id and hash (32 bytes); *id 0 when the path is not stored. */
cove_status kb_doc_find(cove_kb *kb, const char *path, int64_t *id, uint8_t hash[32],
                        cove_error *err);

/* ---- extraction: extract.c, pdf.c ---- */

enum kb_format { KB_FMT_TXT, KB_FMT_MD, KB_FMT_CSV, KB_FMT_HTML, KB_FMT_PDF, KB_FMT_NONE };

/* Format from the file name's extension; KB_FMT_NONE when not ingested. */
enum kb_format kb_format_of(const char *path);
const char *kb_format_name(enum kb_format f);

/* A piece of a document's text: a paragraph, a heading, a table row, a page's lines. */
typedef struct kb_block {
    char *text;            /* owned, NUL-terminated, whitespace-normalised */
    size_t len;
    int64_t start, end;    /* byte range [start, end) or pages start..end */
    int heading;           /* heading level 1..6, 0 for body text */
} kb_block;

typedef struct kb_doc {
    kb_block *blocks;      /* owned */
    size_t n, cap;
    enum cove_kb_range_kind range_kind;
} kb_doc;

void kb_doc_release(kb_doc *d);
/* Append a block (text copied, len bytes). Whitespace-only text is dropped. */
cove_status kb_doc_add(kb_doc *d, const char *text, size_t len, int64_t start, int64_t end,
                       int heading);

/*
 * Read the text blocks of `path` (`data`, `len`: the file's bytes, already read) in its
 * format. Errors: COVE_ERR_FORMAT (binary or malformed, with the reason), COVE_ERR_NOMEM,
 * COVE_ERR_LIMIT, and pdftotext's failures.
 */
cove_status kb_extract(const char *path, enum kb_format fmt, const char *data, size_t len,
                       int pdf_timeout_ms, kb_doc *out, cove_error *err);

/* The pages of a PDF file (data: its bytes, to check the header) through pdftotext. */
cove_status kb_extract_pdf(const char *path, const char *data, size_t len, int timeout_ms,
                           kb_doc *out, cove_error *err);

/*
 * Run argv (argv[0] found on PATH) with stdin and stderr on /dev/null and collect its
 * stdout (at most max_out bytes; more is COVE_ERR_LIMIT) within timeout_ms (else the
 * child is killed: COVE_ERR_TIMEOUT). A non-zero exit is COVE_ERR_FORMAT. This one
 * function starts external converters, so that a sandboxed spawn can replace it.
 */
cove_status kb_spawn_capture(char *const argv[], int timeout_ms, size_t max_out, char **out,
                             size_t *out_len, cove_error *err);

/* ---- chunk.c ---- */

typedef struct kb_chunk {
    char *text;            /* owned */
    char *heading;         /* owned, "" when none */
    int64_t start, end;
} kb_chunk;

typedef struct kb_chunks {
    kb_chunk *items;
    size_t n, cap;
} kb_chunks;

void kb_chunks_release(kb_chunks *c);

/*
 * Split the blocks of d into chunks of at most chunk_tokens tokens (counted with
 * tokenizer, or estimated when NULL), starting a chunk at each heading and keeping
 * paragraphs whole where they fit; a longer block is cut into windows that overlap by
 * overlap_tokens. Errors: COVE_ERR_NOMEM, COVE_ERR_LIMIT (too many chunks).
 */
cove_status kb_chunk_doc(const kb_doc *d, const cove_model *tokenizer, int32_t chunk_tokens,
                         int32_t overlap_tokens, kb_chunks *out, cove_error *err);

/* ---- ann.c: vectors in memory and the persisted HNSW index ---- */

/* Make kb->vi match the store, and kb->hnsw when a graph (in memory or stored) could be
 * brought up to date: removed chunks removed, at most COVE_KB_ANN_LAZY_INSERT new ones
 * inserted (see ann.c). */
cove_status kb_vectors_load(cove_kb *kb, cove_error *err);

/* At >= ann_threshold vectors: update the index (any number of new vectors) or build it
 * when there is none or too many nodes are removed, and store it unless the stored one is
 * current. Below the threshold: drop a stored index. */
cove_status kb_ann_refresh(cove_kb *kb, cove_error *err);

#endif
