/*
 * kb/ingest.c - walking paths, hashing files and writing documents.
 *
 * A run first lists every candidate file under the given paths (sorted, so runs are
 * repeatable), then handles the files one by one: read, hash (SHA-256), compare with the
 * stored hash, and for a new or changed file extract, chunk, embed and write it in one
 * transaction. Documents stored under a given path whose file was not listed are removed
 * at the end, in one transaction. A crash leaves every document either fully old or
 * fully new; the next run sees uncommitted files as new or changed and redoes them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/str.h"
#include "kb/kb_int.h"
#include "sandbox/sandbox.h"

#define EMBED_BATCH 16 /* chunks embedded in one call */

typedef struct file_list {
    char **paths; /* owned, absolute */
    size_t n, cap;
} file_list;

typedef struct ingest_run {
    cove_kb *kb;
    cove_embedder *emb;
    const cove_kb_ingest_params *p;
    cove_kb_ingest_stats *st;
    int32_t chunk_tokens;
    file_list files;
    cove_error *err;
} ingest_run;

cove_kb_ingest_params cove_kb_default_ingest_params(void)
{
    return (cove_kb_ingest_params){.chunk_tokens = 512, .overlap_tokens = 64,
                                   .max_file_bytes = COVE_KB_MAX_FILE, .pdf_timeout_ms = 30000};
}

static void files_release(file_list *f)
{
    for (size_t i = 0; i < f->n; i++)
        cove_free(f->paths[i]);
    cove_free(f->paths);
    memset(f, 0, sizeof *f);
}

static cove_status files_add(file_list *f, const char *path, cove_error *err)
{
    if (f->n >= COVE_KB_MAX_FILES)
        return cove_error_set(err, COVE_ERR_LIMIT, "more than %u files", COVE_KB_MAX_FILES);
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        char **p = cove_realloc(f->paths, cap * sizeof *p);
        if (!p)
            return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
        f->paths = p;
        f->cap = cap;
    }
    if (!(f->paths[f->n] = cove_strdup(path)))
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    f->n++;
    return COVE_OK;
}

/* Walk a directory: files with a known extension; no hidden entries, no symlinked dirs. */
static cove_status walk(const char *dir, int depth, file_list *f, cove_error *err)
{
    if (depth > COVE_KB_MAX_DEPTH) {
        cove_log_warn("kb: skipping %s: nested deeper than %d directories", dir, COVE_KB_MAX_DEPTH);
        return COVE_OK;
    }
    DIR *d = opendir(dir);
    if (!d) {
        cove_log_warn("kb: skipping directory %s: %s", dir, strerror(errno));
        return COVE_OK;
    }
    cove_status s = COVE_OK;
    char path[COVE_MAX_PATH];
    struct dirent *e;
    while (s == COVE_OK && (e = readdir(d)) != NULL) {
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            s = walk(path, depth + 1, f, err);
        else if ((S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)) && kb_format_of(path) != KB_FMT_NONE)
            s = files_add(f, path, err);
    }
    closedir(d);
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the candidate files of every root (roots become absolute, in place of the given). */
static cove_status list_files(ingest_run *r, char **roots, int n, cove_error *err)
{
    cove_status s = COVE_OK;
    for (int i = 0; i < n && s == COVE_OK; i++) {
        struct stat sb;
        if (stat(roots[i], &sb) != 0)
            return cove_error_set(err, COVE_ERR_NOT_FOUND, "%s: %s", roots[i], strerror(errno));
        if (S_ISDIR(sb.st_mode))
            s = walk(roots[i], 0, &r->files, err);
        else
            s = files_add(&r->files, roots[i], err);
    }
    if (s == COVE_OK && r->files.n)
        qsort(r->files.paths, r->files.n, sizeof(char *), cmp_str);
    return s;
}

/* Read a whole file (NUL-terminated) if it is not larger than max. */
static cove_status read_file(const char *path, int64_t max, char **data, size_t *len,
                             cove_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    cove_status s = COVE_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        s = cove_error_set(err, COVE_ERR_IO, "not a regular file");
    else if (sb.st_size > max)
        s = cove_error_set(err, COVE_ERR_LIMIT, "too large (%lld bytes, limit %lld)",
                           (long long)sb.st_size, (long long)max);
    char *buf = s == COVE_OK ? cove_malloc((size_t)sb.st_size + 1) : NULL;
    if (s == COVE_OK && !buf)
        s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    size_t got = 0;
    while (s == COVE_OK && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            s = cove_error_set(err, COVE_ERR_IO, "read failed: %s", n ? strerror(errno) : "short");
        else
            got += (size_t)n;
    }
    close(fd);
    if (s != COVE_OK) {
        cove_free(buf);
        return s;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return COVE_OK;
}

/* ---- writing ---- */

static cove_status delete_doc(cove_kb *kb, int64_t id, cove_error *err)
{
    static const char *const sql[] = {
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?1)",
        "DELETE FROM chunks WHERE doc_id = ?1", "DELETE FROM documents WHERE id = ?1"};
    for (size_t i = 0; i < 3; i++) {
        sqlite3_stmt *st = NULL;
        cove_status s = kb_prepare(kb, sql[i], &st, err);
        if (s != COVE_OK)
            return s;
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            s = kb_sql_error(kb, err, "delete document");
        sqlite3_finalize(st);
        if (s != COVE_OK)
            return s;
    }
    return COVE_OK;
}

static cove_status bump_generation(cove_kb *kb, cove_error *err)
{
    return kb_exec(kb, "UPDATE meta SET value = value + 1 WHERE key = 'generation'", err);
}

typedef struct doc_rec {
    const char *path;
    const uint8_t *hash;
    int64_t size, mtime;
    enum kb_format fmt;
    enum cove_kb_range_kind range_kind;
    const kb_chunks *chunks;
    const float *vecs; /* chunks->n * n_embd */
} doc_rec;

static cove_status insert_chunk(cove_kb *kb, sqlite3_stmt *ins, sqlite3_stmt *fts, int64_t doc,
                                const doc_rec *d, size_t i, int8_t *q8, cove_error *err)
{
    const kb_chunk *c = &d->chunks->items[i];
    const float *v = d->vecs + i * (size_t)kb->n_embd;
    sqlite3_reset(ins);
    sqlite3_bind_int64(ins, 1, doc);
    sqlite3_bind_int64(ins, 2, (int64_t)i);
    sqlite3_bind_text(ins, 3, c->heading, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, c->text, -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 5, (int)d->range_kind);
    sqlite3_bind_int64(ins, 6, c->start);
    sqlite3_bind_int64(ins, 7, c->end);
    if (kb->fmt == COVE_KB_VEC_INT8) {
        float scale = cove_kb_quantize_q8(v, kb->n_embd, q8);
        sqlite3_bind_blob(ins, 8, q8, kb->n_embd, SQLITE_STATIC);
        sqlite3_bind_double(ins, 9, (double)scale);
    } else {
        sqlite3_bind_blob(ins, 8, v, kb->n_embd * (int)sizeof(float), SQLITE_STATIC);
        sqlite3_bind_null(ins, 9);
    }
    if (sqlite3_step(ins) != SQLITE_DONE)
        return kb_sql_error(kb, err, "insert chunk");
    sqlite3_reset(fts);
    sqlite3_bind_int64(fts, 1, sqlite3_last_insert_rowid(kb->db));
    sqlite3_bind_text(fts, 2, c->text, -1, SQLITE_STATIC);
    sqlite3_bind_text(fts, 3, c->heading, -1, SQLITE_STATIC);
    if (sqlite3_step(fts) != SQLITE_DONE)
        return kb_sql_error(kb, err, "index chunk");
    return COVE_OK;
}

static cove_status insert_doc(cove_kb *kb, const doc_rec *d, cove_error *err)
{
    sqlite3_stmt *doc = NULL, *ins = NULL, *fts = NULL;
    cove_status s = kb_prepare(kb, "INSERT INTO documents(path, hash, size, mtime, format, "
                                   "n_chunks) VALUES(?, ?, ?, ?, ?, ?)", &doc, err);
    if (s == COVE_OK)
        s = kb_prepare(kb, "INSERT INTO chunks(doc_id, seq, heading, text, range_kind, "
                           "range_start, range_end, vec, scale) VALUES(?,?,?,?,?,?,?,?,?)",
                       &ins, err);
    if (s == COVE_OK)
        s = kb_prepare(kb, "INSERT INTO chunks_fts(rowid, text, heading) VALUES(?, ?, ?)", &fts,
                       err);
    if (s == COVE_OK) {
        sqlite3_bind_text(doc, 1, d->path, -1, SQLITE_STATIC);
        sqlite3_bind_blob(doc, 2, d->hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(doc, 3, d->size);
        sqlite3_bind_int64(doc, 4, d->mtime);
        sqlite3_bind_text(doc, 5, kb_format_name(d->fmt), -1, SQLITE_STATIC);
        sqlite3_bind_int64(doc, 6, (int64_t)d->chunks->n);
        if (sqlite3_step(doc) != SQLITE_DONE)
            s = kb_sql_error(kb, err, "insert document");
    }
    int8_t *q8 = s == COVE_OK ? cove_malloc((size_t)kb->n_embd + 1) : NULL;
    if (s == COVE_OK && !q8)
        s = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    int64_t id = sqlite3_last_insert_rowid(kb->db);
    for (size_t i = 0; s == COVE_OK && i < d->chunks->n; i++)
        s = insert_chunk(kb, ins, fts, id, d, i, q8, err);
    cove_free(q8);
    sqlite3_finalize(doc);
    sqlite3_finalize(ins);
    sqlite3_finalize(fts);
    return s;
}

/* Record the embedding model and dimensions with the first vectors. */
static cove_status fix_dims(cove_kb *kb, cove_embedder *emb, const cove_model *m,
                            cove_error *err)
{
    int32_t dim = cove_embedder_n_embd(emb);
    if (kb->n_embd && kb->n_embd != dim)
        return cove_error_set(err, COVE_ERR_INVALID_ARG,
                              "the store holds %d-dimensional vectors; the embedder gives %d",
                              kb->n_embd, dim);
    if (kb->n_embd)
        return COVE_OK;
    cove_status s = kb_meta_set_int(kb, "n_embd", dim, err);
    if (s == COVE_OK)
        s = kb_meta_set_text(kb, "embed_model", m && cove_model_name(m) ? cove_model_name(m) : "",
                             err);
    if (s == COVE_OK)
        kb->n_embd = dim;
    return s;
}

/* Replace (old_id != 0) or add a document in one transaction. */
static cove_status write_doc(ingest_run *r, int64_t old_id, const doc_rec *d)
{
    cove_kb *kb = r->kb;
    int32_t dim0 = kb->n_embd;
    cove_status s = kb_exec(kb, "BEGIN IMMEDIATE", r->err);
    if (s != COVE_OK)
        return s;
    s = fix_dims(kb, r->emb, r->p->tokenizer, r->err);
    if (s == COVE_OK && old_id)
        s = delete_doc(kb, old_id, r->err);
    if (s == COVE_OK)
        s = insert_doc(kb, d, r->err);
    if (s == COVE_OK)
        s = bump_generation(kb, r->err);
    if (s == COVE_OK)
        s = kb_exec(kb, "COMMIT", r->err);
    if (s != COVE_OK) {
        kb_exec(kb, "ROLLBACK", NULL);
        kb->n_embd = dim0;
    }
    return s;
}

/* Embed every chunk: heading and text together, EMBED_BATCH at a time. */
static cove_status embed_chunks(ingest_run *r, const kb_chunks *c, float *vecs)
{
    int32_t dim = cove_embedder_n_embd(r->emb);
    char *texts[EMBED_BATCH] = {0};
    cove_status s = COVE_OK;
    for (size_t b = 0; b < c->n && s == COVE_OK; b += EMBED_BATCH) {
        int32_t n = (int32_t)(c->n - b < EMBED_BATCH ? c->n - b : EMBED_BATCH);
        for (int32_t i = 0; i < n && s == COVE_OK; i++) {
            const kb_chunk *k = &c->items[b + (size_t)i];
            size_t len = strlen(k->heading) + strlen(k->text) + 2;
            if (!(texts[i] = cove_malloc(len)))
                s = cove_error_set(r->err, COVE_ERR_NOMEM, "out of memory");
            else
                snprintf(texts[i], len, "%s%s%s", k->heading, *k->heading ? "\n" : "", k->text);
        }
        if (s == COVE_OK)
            s = cove_embed(r->emb, (const char *const *)texts, n, vecs + b * (size_t)dim, r->err);
        for (int32_t i = 0; i < n; i++) {
            cove_free(texts[i]);
            texts[i] = NULL;
        }
    }
    return s;
}

/*
 * PDFs go through a sandboxed pdftotext; on a kernel without Landlock the sandbox cannot
 * confine its file access, so they are skipped unless the params accept the weak mode.
 */
static cove_status converter_allowed(const cove_kb_ingest_params *p, enum kb_format fmt,
                                     cove_error *err)
{
    if (fmt != KB_FMT_PDF || p->sandbox_accept_weak)
        return COVE_OK;
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    if (caps.landlock_abi > 0)
        return COVE_OK;
    return cove_error_set(err, COVE_ERR_PERMISSION, "this kernel has no Landlock, so pdftotext "
                          "cannot be confined; accept the weaker sandbox with "
                          "--accept-weak-sandbox");
}

/*
 * Extract, chunk and embed one file's bytes, then write it. A problem with the file itself
 * (format, limits) is COVE_ERR_FORMAT-like and means skip; *fatal is set for errors of the
 * store or the embedder, which end the run.
 */
static cove_status ingest_bytes(ingest_run *r, const char *path, const char *data, size_t len,
                                const doc_rec *base, int64_t old_id, int *fatal)
{
    kb_doc doc;
    kb_chunks ch = {0};
    float *vecs = NULL;
    memset(&doc, 0, sizeof doc);
    cove_status s = converter_allowed(r->p, base->fmt, r->err);
    if (s == COVE_OK)
        s = kb_extract(path, base->fmt, data, len, r->p->pdf_timeout_ms, &doc, r->err);
    if (s == COVE_OK)
        s = kb_chunk_doc(&doc, r->p->tokenizer, r->chunk_tokens, r->p->overlap_tokens, &ch,
                         r->err);
    if (s == COVE_OK && ch.n == 0)
        s = cove_error_set(r->err, COVE_ERR_FORMAT, "no text");
    if (s == COVE_OK) {
        *fatal = 1;
        vecs = cove_malloc(ch.n * (size_t)cove_embedder_n_embd(r->emb) * sizeof *vecs);
        s = vecs ? embed_chunks(r, &ch, vecs) : cove_error_set(r->err, COVE_ERR_NOMEM, "out of memory");
    }
    if (s == COVE_OK) {
        doc_rec d = *base;
        d.range_kind = doc.range_kind;
        d.chunks = &ch;
        d.vecs = vecs;
        s = write_doc(r, old_id, &d);
        if (s == COVE_OK)
            r->st->n_chunks += (int64_t)ch.n;
    }
    cove_free(vecs);
    kb_chunks_release(&ch);
    kb_doc_release(&doc);
    return s;
}

/* One file: unchanged, new, changed or skipped. Returns an error only to end the run. */
static cove_status ingest_file(ingest_run *r, const char *path)
{
    enum kb_format fmt = kb_format_of(path);
    char *data = NULL;
    size_t len = 0;
    cove_error ferr = {0};
    cove_error *run_err = r->err;
    r->err = &ferr;
    int fatal = 0;
    cove_status s = fmt == KB_FMT_NONE ? cove_error_set(&ferr, COVE_ERR_UNSUPPORTED,
                                                        "not a txt, md, csv, html or pdf file")
                                       : read_file(path, r->p->max_file_bytes, &data, &len, &ferr);
    uint8_t hash[32], old_hash[32];
    int64_t old_id = 0;
    struct stat sb = {0};
    if (s == COVE_OK) {
        crypto_hash_sha256(hash, (const unsigned char *)data, len);
        stat(path, &sb);
        fatal = 1;
        s = kb_doc_find(r->kb, path, &old_id, old_hash, &ferr);
        fatal = s != COVE_OK;
    }
    if (s == COVE_OK && old_id && memcmp(hash, old_hash, 32) == 0) {
        r->st->n_unchanged++;
    } else if (s == COVE_OK) {
        doc_rec base = {path, hash, (int64_t)len, (int64_t)sb.st_mtime, fmt, 0, NULL, NULL};
        s = ingest_bytes(r, path, data, len, &base, old_id, &fatal);
        if (s == COVE_OK)
            *(old_id ? &r->st->n_changed : &r->st->n_new) += 1;
    }
    cove_free(data);
    r->err = run_err;
    if (s != COVE_OK && !fatal) {
        cove_log_warn("kb: skipped %s: %s", path, cove_error_msg(&ferr));
        r->st->n_skipped++;
        return COVE_OK;
    }
    if (s != COVE_OK)
        cove_error_set(r->err, s, "%s: %s", path, cove_error_msg(&ferr));
    return s;
}

/* 1 when the stored path lies under one of the roots. */
static int under_roots(const char *path, char **roots, int n)
{
    for (int i = 0; i < n; i++) {
        size_t l = strlen(roots[i]);
        if (strncmp(path, roots[i], l) == 0 &&
            (path[l] == '\0' || path[l] == '/' || (l && roots[i][l - 1] == '/')))
            return 1;
    }
    return 0;
}

/* Remove the stored documents under the roots whose files were not listed, in one go. */
static cove_status remove_vanished(ingest_run *r, char **roots, int n)
{
    cove_kb *kb = r->kb;
    sqlite3_stmt *st = NULL;
    cove_status s = kb_exec(kb, "BEGIN IMMEDIATE", r->err);
    if (s == COVE_OK)
        s = kb_prepare(kb, "SELECT id, path FROM documents", &st, r->err);
    int64_t removed = 0;
    while (s == COVE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(st, 1);
        if (!path || !under_roots(path, roots, n) ||
            (r->files.n && bsearch(&path, r->files.paths, r->files.n, sizeof(char *), cmp_str)))
            continue;
        s = delete_doc(kb, sqlite3_column_int64(st, 0), r->err);
        removed++;
    }
    sqlite3_finalize(st);
    if (s == COVE_OK && removed)
        s = bump_generation(kb, r->err);
    if (s == COVE_OK)
        s = kb_exec(kb, "COMMIT", r->err);
    if (s != COVE_OK) {
        kb_exec(kb, "ROLLBACK", NULL);
        return s;
    }
    r->st->n_removed += removed;
    return COVE_OK;
}

static cove_status check_params(cove_kb *kb, cove_embedder *emb, const char *const *paths,
                                int n_paths, const cove_kb_ingest_params *p, cove_error *err)
{
    if (!kb || !emb || !paths || n_paths < 1 || !p)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "ingest: NULL argument or no path");
    if (kb->params.read_only)
        return cove_error_set(err, COVE_ERR_PERMISSION, "ingest: the store is open read-only");
    if (p->chunk_tokens < 16 || p->overlap_tokens < 0 || p->overlap_tokens >= p->chunk_tokens / 2 ||
        p->max_file_bytes < 1 || p->pdf_timeout_ms < 1)
        return cove_error_set(err, COVE_ERR_INVALID_ARG,
                              "ingest: chunk_tokens >= 16, 0 <= overlap < chunk_tokens / 2");
    if (kb->n_embd && kb->n_embd != cove_embedder_n_embd(emb))
        return cove_error_set(err, COVE_ERR_INVALID_ARG,
                              "ingest: the store holds %d-dimensional vectors; the embedding "
                              "model gives %d", kb->n_embd, cove_embedder_n_embd(emb));
    return COVE_OK;
}

/* Absolute forms of the given paths (realpath); caller frees each and the array. */
static cove_status resolve_roots(const char *const *paths, int n, char ***out, cove_error *err)
{
    char **roots = cove_calloc((size_t)n, sizeof *roots);
    if (!roots)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    *out = roots;
    for (int i = 0; i < n; i++) {
        char *rp = realpath(paths[i], NULL);
        if (!rp)
            return cove_error_set(err, COVE_ERR_NOT_FOUND, "%s: %s", paths[i], strerror(errno));
        roots[i] = cove_strdup(rp);
        free(rp);
        if (!roots[i])
            return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    }
    return COVE_OK;
}

cove_status cove_kb_ingest(cove_kb *kb, cove_embedder *embedder, const char *const *paths,
                           int n_paths, const cove_kb_ingest_params *params,
                           cove_kb_ingest_stats *stats, cove_error *err)
{
    cove_kb_ingest_stats local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    cove_status s = check_params(kb, embedder, paths, n_paths, params, err);
    if (s != COVE_OK)
        return s;
    if (sodium_init() < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium failed to start");
    ingest_run r = {kb, embedder, params, stats, params->chunk_tokens, {0}, err};
    int32_t cap = cove_embedder_max_tokens(embedder) - 4;
    if (r.chunk_tokens > cap)
        r.chunk_tokens = cap;
    char **roots = NULL;
    s = resolve_roots(paths, n_paths, &roots, err);
    if (s == COVE_OK)
        s = list_files(&r, roots, n_paths, err);
    for (size_t i = 0; s == COVE_OK && i < r.files.n; i++) {
        s = ingest_file(&r, r.files.paths[i]);
        if (params->progress)
            params->progress(params->progress_user, (int64_t)i + 1, (int64_t)r.files.n,
                             r.files.paths[i]);
    }
    if (s == COVE_OK)
        s = remove_vanished(&r, roots, n_paths);
    if (s == COVE_OK)
        s = kb_ann_refresh(kb, err);
    for (int i = 0; roots && i < n_paths; i++)
        cove_free(roots[i]);
    cove_free(roots);
    files_release(&r.files);
    return s;
}
