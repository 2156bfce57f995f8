/*
 * kb/store.c - opening the SQLite store, its schema and small accessors.
 *
 * Schema (version 1):
 *   schema_version(version)          one row: the version that wrote the store
 *   meta(key, value)                 vec_format, n_embd, embed_model, generation, ann_generation
 *   documents(id, path, hash, size, mtime, format, n_chunks)
 *   chunks(id, doc_id, seq, heading, text, range_kind, range_start, range_end, vec, scale)
 *   chunks_fts(text, heading)        FTS5, rowid = chunks.id
 *   ann_pages(page, data)            the serialized HNSW graph in pages
 * `generation` is bumped by every transaction that adds or removes chunks; the HNSW
 * index is current when ann_generation equals it (an older one is brought up to date by
 * its chunk ids, see ann.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "kb/kb_int.h"

static const char *const SCHEMA_SQL =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value NOT NULL);"
    "CREATE TABLE IF NOT EXISTS documents(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
    " hash BLOB NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, format TEXT NOT NULL,"
    " n_chunks INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL"
    " REFERENCES documents(id) ON DELETE CASCADE, seq INTEGER NOT NULL, heading TEXT NOT NULL,"
    " text TEXT NOT NULL, range_kind INTEGER NOT NULL, range_start INTEGER NOT NULL,"
    " range_end INTEGER NOT NULL, vec BLOB, scale REAL);"
    "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, heading,"
    " tokenize='porter unicode61');"
    "CREATE TABLE IF NOT EXISTS ann_pages(page INTEGER PRIMARY KEY, data BLOB NOT NULL);";

cove_kb_params cove_kb_default_params(void)
{
    return (cove_kb_params){0, COVE_KB_VEC_F32, 2, COVE_KB_ANN_THRESHOLD};
}

cove_status kb_sql_error(cove_kb *kb, cove_error *err, const char *what)
{
    return cove_error_set(err, COVE_ERR_IO, "knowledge base: %s: %s", what,
                          kb && kb->db ? sqlite3_errmsg(kb->db) : "no database");
}

cove_status kb_prepare(cove_kb *kb, const char *sql, sqlite3_stmt **st, cove_error *err)
{
    if (sqlite3_prepare_v2(kb->db, sql, -1, st, NULL) != SQLITE_OK)
        return kb_sql_error(kb, err, "prepare");
    return COVE_OK;
}

cove_status kb_exec(cove_kb *kb, const char *sql, cove_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(kb->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cove_error_set(err, COVE_ERR_IO, "knowledge base: %s", msg ? msg : "query failed");
        sqlite3_free(msg);
        return COVE_ERR_IO;
    }
    return COVE_OK;
}

cove_status kb_meta_get_int(cove_kb *kb, const char *key, int64_t *out, cove_error *err)
{
    sqlite3_stmt *st = NULL;
    cove_status s = kb_prepare(kb, "SELECT value FROM meta WHERE key = ?", &st, err);
    if (s != COVE_OK)
        return s;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = kb_sql_error(kb, err, "read meta");
    sqlite3_finalize(st);
    return s;
}

static cove_status meta_set(cove_kb *kb, const char *key, const char *text, int64_t v,
                            cove_error *err)
{
    sqlite3_stmt *st = NULL;
    cove_status s = kb_prepare(kb, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &st,
                               err);
    if (s != COVE_OK)
        return s;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, v);
    if (sqlite3_step(st) != SQLITE_DONE)
        s = kb_sql_error(kb, err, "write meta");
    sqlite3_finalize(st);
    return s;
}

cove_status kb_meta_set_int(cove_kb *kb, const char *key, int64_t value, cove_error *err)
{
    return meta_set(kb, key, NULL, value, err);
}

cove_status kb_meta_set_text(cove_kb *kb, const char *key, const char *value, cove_error *err)
{
    return meta_set(kb, key, value, 0, err);
}

cove_status kb_generation(cove_kb *kb, int64_t *out, cove_error *err)
{
    return kb_meta_get_int(kb, "generation", out, err);
}

/* Read the schema version (0 for a new, empty file). */
static cove_status schema_version(cove_kb *kb, int64_t *ver, cove_error *err)
{
    sqlite3_stmt *st = NULL;
    *ver = 0;
    int rc = sqlite3_prepare_v2(kb->db, "SELECT version FROM schema_version", -1, &st, NULL);
    if (rc != SQLITE_OK) { /* no table: a new file, or not a cove store */
        sqlite3_finalize(st);
        st = NULL;
        if (kb_prepare(kb, "SELECT count(*) FROM sqlite_master", &st, err) != COVE_OK)
            return cove_error_set(err, COVE_ERR_IO, "knowledge base: not a SQLite database");
        int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        if (n != 0)
            return cove_error_set(err, COVE_ERR_FORMAT,
                                  "knowledge base: the file is a SQLite database but not a cove "
                                  "knowledge base (no schema_version table)");
        return COVE_OK;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *ver = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return cove_error_set(err, COVE_ERR_FORMAT, "knowledge base: empty schema_version table");
    return COVE_OK;
}

static cove_status create_schema(cove_kb *kb, cove_error *err)
{
    cove_status s = kb_exec(kb, "BEGIN IMMEDIATE", err);
    if (s != COVE_OK)
        return s;
    int64_t ver = 0;
    s = schema_version(kb, &ver, err); /* again inside the lock: another process may have won */
    if (s == COVE_OK && ver == 0) {
        s = kb_exec(kb, SCHEMA_SQL, err);
        if (s == COVE_OK)
            s = kb_exec(kb, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                            "INSERT INTO schema_version VALUES(1);",
                        err);
        if (s == COVE_OK)
            s = kb_meta_set_int(kb, "vec_format", (int64_t)kb->params.vec_format, err);
        if (s == COVE_OK)
            s = kb_meta_set_int(kb, "generation", 1, err);
    }
    if (s == COVE_OK)
        return kb_exec(kb, "COMMIT", err);
    kb_exec(kb, "ROLLBACK", NULL);
    return s;
}

static cove_status check_schema(cove_kb *kb, cove_error *err)
{
    int64_t ver = 0;
    cove_status s = schema_version(kb, &ver, err);
    if (s != COVE_OK)
        return s;
    if (ver > COVE_KB_SCHEMA_VERSION)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED,
                              "knowledge base: the store has schema version %lld, newer than "
                              "version %d that this cove reads; use a newer cove",
                              (long long)ver, COVE_KB_SCHEMA_VERSION);
    if (ver == 0) {
        if (kb->params.read_only)
            return cove_error_set(err, COVE_ERR_FORMAT, "knowledge base: the store is empty");
        s = create_schema(kb, err);
    } else if (ver < 1) {
        return cove_error_set(err, COVE_ERR_FORMAT, "knowledge base: bad schema version %lld",
                              (long long)ver);
    }
    int64_t fmt = 0, dim = 0;
    if (s == COVE_OK)
        s = kb_meta_get_int(kb, "vec_format", &fmt, err);
    if (s == COVE_OK)
        s = kb_meta_get_int(kb, "n_embd", &dim, err);
    if (s == COVE_OK && (fmt < 0 || fmt > 1 || dim < 0 || dim > COVE_MAX_EMBD))
        return cove_error_set(err, COVE_ERR_FORMAT, "knowledge base: bad meta values");
    kb->fmt = (enum cove_kb_vec_format)fmt;
    kb->n_embd = (int32_t)dim;
    return s;
}

static cove_status open_db(cove_kb *kb, const char *path, cove_error *err)
{
    int flags = kb->params.read_only ? SQLITE_OPEN_READONLY
                                     : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &kb->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return cove_error_set(err, kb->params.read_only ? COVE_ERR_NOT_FOUND : COVE_ERR_IO,
                              "knowledge base: cannot open %s: %s", path,
                              kb->db ? sqlite3_errmsg(kb->db) : "out of memory");
    sqlite3_busy_timeout(kb->db, 10000);
    cove_status s = COVE_OK;
    if (!kb->params.read_only)
        s = kb_exec(kb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
    if (s == COVE_OK)
        s = kb_exec(kb, "PRAGMA foreign_keys=ON;", err);
    if (s != COVE_OK)
        cove_error_set(err, COVE_ERR_IO, "knowledge base: %s is not a usable SQLite file: %s",
                       path, sqlite3_errmsg(kb->db));
    return s;
}

cove_status cove_kb_open(const char *path, cove_kb_params params, cove_kb **out, cove_error *err)
{
    if (!out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "knowledge base: no out pointer");
    *out = NULL;
    if (!path || !*path || strlen(path) >= COVE_MAX_PATH || params.n_threads < 1 ||
        params.n_threads > COVE_MAX_THREADS || params.ann_threshold < 1 ||
        (params.vec_format != COVE_KB_VEC_F32 && params.vec_format != COVE_KB_VEC_INT8))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "knowledge base: bad open parameters");
    cove_kb *kb = cove_calloc(1, sizeof *kb);
    if (!kb)
        return cove_error_set(err, COVE_ERR_NOMEM, "knowledge base: out of memory");
    kb->params = params;
    cove_status s = open_db(kb, path, err);
    if (s == COVE_OK)
        s = check_schema(kb, err);
    if (s == COVE_OK && cove_pool_create(params.n_threads, &kb->pool) != COVE_OK)
        s = cove_error_set(err, COVE_ERR_NOMEM, "knowledge base: cannot start threads");
    if (s != COVE_OK) {
        cove_kb_free(kb);
        return s;
    }
    *out = kb;
    return COVE_OK;
}

void cove_kb_free(cove_kb *kb)
{
    if (!kb)
        return;
    cove_kb_hnsw_free(kb->hnsw);
    cove_kb_vindex_free(kb->vi);
    cove_pool_free(kb->pool);
    sqlite3_close(kb->db);
    cove_free(kb);
}

static int64_t count_rows(cove_kb *kb, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

cove_status cove_kb_info_get(cove_kb *kb, cove_kb_info *out, cove_error *err)
{
    if (!kb || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "knowledge base: NULL argument");
    memset(out, 0, sizeof *out);
    out->n_documents = count_rows(kb, "SELECT count(*) FROM documents");
    out->n_chunks = count_rows(kb, "SELECT count(*) FROM chunks");
    if (out->n_documents < 0 || out->n_chunks < 0)
        return kb_sql_error(kb, err, "count");
    out->n_embd = kb->n_embd;
    out->vec_format = kb->fmt;
    sqlite3_stmt *st = NULL;
    if (kb_prepare(kb, "SELECT value FROM meta WHERE key = 'embed_model'", &st, err) != COVE_OK)
        return COVE_ERR_IO;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out->embed_model, sizeof out->embed_model, "%s",
                 (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return COVE_OK;
}

cove_status kb_doc_find(cove_kb *kb, const char *path, int64_t *id, uint8_t hash[32],
                        cove_error *err)
{
    sqlite3_stmt *st = NULL;
    cove_status s = kb_prepare(kb, "SELECT id, hash FROM documents WHERE path = ?", &st, err);
    if (s != COVE_OK)
        return s;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    *id = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        memset(hash, 0, 32);
        if (sqlite3_column_bytes(st, 1) == 32)
            memcpy(hash, sqlite3_column_blob(st, 1), 32);
    } else if (rc != SQLITE_DONE) {
        s = kb_sql_error(kb, err, "find document");
    }
    sqlite3_finalize(st);
    return s;
}
