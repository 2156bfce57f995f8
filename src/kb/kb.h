/*
 * kb/kb.h - the knowledge base: a SQLite store of documents, chunks, an FTS5 keyword
 * index and sentence embeddings, with ingestion and vector / keyword / hybrid search.
 *
 *     cove_kb *kb = NULL;
 *     cove_kb_open("notes.db", cove_kb_default_params(), &kb, &err);
 *     cove_kb_search_params sp = cove_kb_default_search_params();
 *     sp.k = 5; sp.mode = COVE_KB_MODE_HYBRID; sp.path_prefix = "/docs/";
 *     sp.embedder = emb;                     // borrowed; needed for vector and hybrid
 *     cove_kb_results res;
 *     cove_kb_search(kb, "how do I rotate the keys", &sp, &res, &err);
 *     for (int i = 0; i < res.n; i++) use(res.hits[i].path, res.hits[i].text, res.hits[i].score);
 *     cove_kb_results_release(&res);
 *     cove_kb_free(kb);
 *
 * The store is one SQLite file in WAL mode. Every document is written in its own
 * transaction (document row, chunks, keyword index, vectors together), so a process
 * killed at any point leaves a consistent store; the next ingestion of the same paths
 * finds the documents that were not committed and completes the work. A store written by
 * a newer schema version than this build knows is refused (COVE_ERR_UNSUPPORTED).
 *
 * Threads: a cove_kb is used from one thread at a time (searches may use a pool of
 * threads internally). Several processes may open the same file; SQLite serialises writers.
 */
#ifndef COVE_KB_KB_H
#define COVE_KB_KB_H

#include <stddef.h>
#include <stdint.h>

#include "cove/engine.h"
#include "cove/status.h"

/* The schema version this build writes and reads. */
#define COVE_KB_SCHEMA_VERSION 1

typedef struct cove_kb cove_kb;

/* How vectors are kept in the store (chosen when the store is created; fixed afterwards). */
enum cove_kb_vec_format {
    COVE_KB_VEC_F32 = 0, /* 4 bytes a dimension */
    COVE_KB_VEC_INT8 = 1 /* 1 byte a dimension and one f32 scale per vector */
};

typedef struct cove_kb_params {
    int read_only;                      /* 1: open an existing store for search only. Default 0 */
    enum cove_kb_vec_format vec_format; /* for a new store; default COVE_KB_VEC_F32 */
    int n_threads;                      /* threads of a vector scan and of building or
                                           updating the HNSW index, 1..COVE_MAX_THREADS;
                                           default 2 */
    int64_t ann_threshold;              /* vectors from which the approximate (HNSW) index
                                           is built and used; default COVE_KB_ANN_THRESHOLD */
} cove_kb_params;

cove_kb_params cove_kb_default_params(void);

/*
 * Open (creating when missing, unless read_only) the store at `path`. On success *out owns
 * the handle (release with cove_kb_free). Fails with COVE_ERR_IO (cannot open or not a
 * SQLite file), COVE_ERR_UNSUPPORTED (schema newer than COVE_KB_SCHEMA_VERSION; the message
 * says which), COVE_ERR_FORMAT (a damaged store), COVE_ERR_NOT_FOUND (read_only and no
 * file), COVE_ERR_INVALID_ARG, COVE_ERR_NOMEM. *out is NULL on failure.
 */
cove_status cove_kb_open(const char *path, cove_kb_params params, cove_kb **out, cove_error *err);

/* Close the store and release the handle. NULL is a no-op. */
void cove_kb_free(cove_kb *kb);

/* Counts of what the store holds. */
typedef struct cove_kb_info {
    int64_t n_documents;
    int64_t n_chunks;
    int32_t n_embd;             /* vector dimensions; 0 while the store holds no vector */
    enum cove_kb_vec_format vec_format;
    char embed_model[256];      /* name of the embedding model the vectors came from */
} cove_kb_info;

/* Fill *out. Errors: COVE_ERR_INVALID_ARG, COVE_ERR_IO (a query failed). */
cove_status cove_kb_info_get(cove_kb *kb, cove_kb_info *out, cove_error *err);

/* ------------------------------ ingestion ------------------------------ */

/* Progress of an ingestion: called after each file; `done` of `total` files looked at. */
typedef void (*cove_kb_progress_fn)(void *user, int64_t done, int64_t total, const char *path);

typedef struct cove_kb_ingest_params {
    int32_t chunk_tokens;   /* most tokens of one chunk; default 512. Capped by what the
                               embedder takes in one text (max_tokens - 4: [CLS], [SEP] and
                               the heading separator; 252 for all-MiniLM-L6-v2), so that
                               every chunk is embedded whole (embedders should still be
                               created with truncate = 1: a heading may add a few tokens) */
    int32_t overlap_tokens; /* tokens a chunk repeats from the one before it when a long
                               passage is cut; default 64; < chunk_tokens / 2 */
    int64_t max_file_bytes; /* larger files are skipped; default COVE_KB_MAX_FILE */
    int pdf_timeout_ms;     /* wall-clock limit of one pdftotext run; default 30000 */
    int sandbox_accept_weak; /* 1: run pdftotext even where the kernel has no Landlock (its
                                file access then unconfined; seccomp, rlimits and the empty
                                environment still apply); 0 (default): such PDFs are skipped
                                with the reason */
    const cove_model *tokenizer; /* borrowed: the embedder's model, whose tokenizer counts
                                    chunk tokens and whose name is recorded in the store;
                                    NULL: tokens are estimated (4 bytes a token) */
    cove_kb_progress_fn progress; /* may be NULL */
    void *progress_user;          /* passed to progress */
} cove_kb_ingest_params;

cove_kb_ingest_params cove_kb_default_ingest_params(void);

typedef struct cove_kb_ingest_stats {
    int64_t n_new, n_changed, n_removed, n_unchanged, n_skipped; /* files */
    int64_t n_chunks; /* chunks embedded and written by this run */
} cove_kb_ingest_stats;

/*
 * Ingest the files and directories (walked recursively; hidden entries and symlinked
 * directories are not followed) named in paths[0..n_paths): .txt, .md, .csv, .html/.htm
 * and .pdf files. A file whose content hash is already stored for its path is left as it
 * is; new and changed files are chunked, embedded with `embedder` (borrowed) and written,
 * one transaction each; documents stored under one of the given paths whose file is gone
 * are removed. Files that cannot be read, are binary, too large or malformed are skipped
 * with the reason logged (warn) and counted. Paths are stored absolute (realpath).
 * The first ingestion fixes the store's embedding model and dimensions; a later one with
 * another dimension count fails with COVE_ERR_INVALID_ARG.
 * *stats (may be NULL) receives the counts, also after a failure (what was done so far).
 * Errors: COVE_ERR_INVALID_ARG, COVE_ERR_NOT_FOUND (a given path does not exist),
 * COVE_ERR_PERMISSION (read-only store), COVE_ERR_IO (the store), COVE_ERR_NOMEM, and
 * errors of the embedder. Work committed before a failure stays.
 */
cove_status cove_kb_ingest(cove_kb *kb, cove_embedder *embedder, const char *const *paths,
                           int n_paths, const cove_kb_ingest_params *params,
                           cove_kb_ingest_stats *stats, cove_error *err);

/* -------------------------------- search ------------------------------- */

enum cove_kb_mode {
    COVE_KB_MODE_VECTOR = 0,  /* cosine similarity of embeddings */
    COVE_KB_MODE_KEYWORD = 1, /* FTS5 BM25 */
    COVE_KB_MODE_HYBRID = 2   /* both, fused by reciprocal rank fusion */
};

/* Parse "vector", "keyword", "hybrid". Returns 0 on success, -1 otherwise. */
int cove_kb_mode_parse(const char *name, enum cove_kb_mode *out);

/* Name of a mode ("vector", ...). Never NULL. */
const char *cove_kb_mode_name(enum cove_kb_mode mode);

typedef struct cove_kb_search_params {
    int32_t k;                 /* results wanted, 1..COVE_KB_MAX_K; default 5 */
    enum cove_kb_mode mode;    /* default COVE_KB_MODE_HYBRID */
    const char *path_prefix;   /* only chunks whose document path starts with it; NULL: all.
                                  Borrowed for the call */
    cove_embedder *embedder;   /* borrowed; embeds the query for vector and hybrid modes
                                  (must give the store's dimension count) */
    int exact;                 /* 1: never use the approximate index. Default 0 */
} cove_kb_search_params;

cove_kb_search_params cove_kb_default_search_params(void);

/* Where a chunk lies in its document. */
enum cove_kb_range_kind {
    COVE_KB_RANGE_BYTES = 0, /* [start, end) bytes of the file */
    COVE_KB_RANGE_PAGES = 1  /* pages start..end, 1-based, inclusive (PDF) */
};

typedef struct cove_kb_hit {
    int64_t chunk_id;
    char *path;     /* owned by the results; the document's stored (absolute) path */
    char *text;     /* owned by the results; the chunk's text */
    char *heading;  /* owned by the results; nearest heading above the chunk, "" if none */
    enum cove_kb_range_kind range_kind;
    int64_t range_start, range_end;
    double score;          /* the ranking score of the mode (higher is better): cosine
                              similarity, -bm25, or the reciprocal rank fusion sum */
    double vector_score;   /* cosine similarity; 0 when not ranked by vector */
    double keyword_score;  /* -bm25 (higher is better); 0 when not ranked by keyword */
    int32_t vector_rank;   /* 1-based rank in the vector list; 0 when not in it */
    int32_t keyword_rank;  /* 1-based rank in the keyword list; 0 when not in it */
} cove_kb_hit;

/* Caller-owned results: zero it or let cove_kb_search fill it; release with _release. */
typedef struct cove_kb_results {
    cove_kb_hit *hits; /* owned; n entries, best first */
    int32_t n;
} cove_kb_results;

/*
 * Search the store for `query` (UTF-8, at most COVE_KB_MAX_QUERY bytes) and fill *out with
 * up to k hits, best first (fewer when fewer chunks match). Vector search scans every
 * vector exactly, or uses the approximate index when the store holds at least
 * ann_threshold vectors, no path prefix is given and exact is 0. Keyword search turns the
 * query into an OR of its terms (quoted, so FTS5 syntax in the query is plain text; words
 * joined by - . / : stay one phrase, so "ERR-4127" matches as a whole) ranked by BM25.
 * Hybrid search takes max(4k, 50) candidates of each and fuses them by reciprocal rank
 * (1 / (60 + rank) summed over the lists), counting in each list only the hits close to
 * its best (keyword: at least half the best BM25; vector: within 0.1 of the best cosine),
 * so that a list with no clear match does not outvote one with a clear match; ties go to
 * the hit from the narrower list.
 * *out is always set (empty on failure). Errors: COVE_ERR_INVALID_ARG (k out of range, no
 * embedder for a mode that needs one, dimension mismatch), COVE_ERR_LIMIT (query too long),
 * COVE_ERR_IO (the store), COVE_ERR_NOMEM, and errors of the embedder.
 */
cove_status cove_kb_search(cove_kb *kb, const char *query, const cove_kb_search_params *params,
                           cove_kb_results *out, cove_error *err);

/* Free the hits' memory and leave *r empty. NULL or an empty result is fine. */
void cove_kb_results_release(cove_kb_results *r);

#endif
