/*
 * agent/memory.c - session memory in SQLite.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "agent/memory.h"
#include "base/alloc.h"
#include "base/limits.h"

struct cove_agent_memory {
    sqlite3 *db;
};

static const char *const schema_sql =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS turns(id INTEGER PRIMARY KEY, session TEXT NOT NULL,"
    " role TEXT NOT NULL, content TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tool_results(id INTEGER PRIMARY KEY, session TEXT NOT NULL,"
    " step INTEGER, tool TEXT, args TEXT, observation TEXT, is_error INTEGER);"
    "CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, session TEXT NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS summaries(session TEXT PRIMARY KEY, upto INTEGER NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS turns_session ON turns(session, id);";

static cove_status db_err(cove_agent_memory *m, cove_error *err, const char *what)
{
    return cove_error_set(err, COVE_ERR_IO, "sessions: %s: %s", what, sqlite3_errmsg(m->db));
}

cove_status cove_agent_memory_open(const char *path, cove_agent_memory **out, cove_error *err)
{
    if (!path || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sessions: NULL argument");
    *out = NULL;
    cove_agent_memory *m = cove_calloc(1, sizeof *m);
    if (!m)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        cove_status st = cove_error_set(err, COVE_ERR_IO, "sessions %s: %s", path,
                                        m->db ? sqlite3_errmsg(m->db) : "cannot open");
        cove_agent_memory_free(m);
        return st;
    }
    sqlite3_busy_timeout(m->db, 5000);
    if (sqlite3_exec(m->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        cove_status st = cove_error_set(err, COVE_ERR_IO, "sessions %s: %s", path,
                                        sqlite3_errmsg(m->db));
        cove_agent_memory_free(m);
        return st;
    }
    *out = m;
    return COVE_OK;
}

void cove_agent_memory_free(cove_agent_memory *m)
{
    if (!m)
        return;
    sqlite3_close(m->db);
    cove_free(m);
}

/* Run sql with text parameters p[0, n) (NULL binds NULL); one row of output ignored. */
static cove_status exec_text(cove_agent_memory *m, const char *sql, const char *const *p, int n,
                             int64_t *last_id, cove_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(m, err, "prepare");
    for (int i = 0; i < n; i++)
        sqlite3_bind_text(s, i + 1, p[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_err(m, err, "write");
    if (last_id)
        *last_id = sqlite3_last_insert_rowid(m->db);
    return COVE_OK;
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > COVE_AGENT_MAX_SESSION_ID)
        return 0;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') ||
              (*id >= '0' && *id <= '9') || *id == '_' || *id == '-'))
            return 0;
    return 1;
}

static cove_status new_id(char *out, cove_error *err)
{
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return cove_error_set(err, COVE_ERR_IO, "sessions: no random bytes for an id");
    for (int i = 0; i < 8; i++)
        sprintf(out + 2 * i, "%02x", r[i]);
    return COVE_OK;
}

cove_status cove_agent_memory_session(cove_agent_memory *m, const char *id, char *id_out,
                                      int *resumed, cove_error *err)
{
    cove_status st;
    if (id && *id && !valid_id(id))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "session id must be 1-%d characters "
                              "of [A-Za-z0-9_-]", COVE_AGENT_MAX_SESSION_ID);
    if (id && *id)
        strcpy(id_out, id);
    else if ((st = new_id(id_out, err)) != COVE_OK)
        return st;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(m->db, "INSERT OR IGNORE INTO sessions(id, created) VALUES(?1, "
                           "strftime('%s','now'))", -1, &s, NULL) != SQLITE_OK)
        return db_err(m, err, "prepare");
    sqlite3_bind_text(s, 1, id_out, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return db_err(m, err, "session");
    if (resumed)
        *resumed = sqlite3_changes(m->db) == 0;
    return COVE_OK;
}

cove_status cove_agent_memory_add_turn(cove_agent_memory *m, const char *sid, const char *role,
                                       const char *content, cove_error *err)
{
    const char *p[3] = {sid, role, content ? content : ""};
    return exec_text(m, "INSERT INTO turns(session, role, content) VALUES(?1, ?2, ?3)", p, 3,
                     NULL, err);
}

cove_status cove_agent_memory_add_tool_result(cove_agent_memory *m, const char *sid, int32_t step,
                                              const char *tool, const char *args,
                                              const char *observation, int is_error,
                                              cove_error *err)
{
    char stepbuf[16], errbuf[4];
    snprintf(stepbuf, sizeof stepbuf, "%d", (int)step);
    snprintf(errbuf, sizeof errbuf, "%d", is_error ? 1 : 0);
    const char *p[6] = {sid, stepbuf, tool, args, observation, errbuf};
    return exec_text(m, "INSERT INTO tool_results(session, step, tool, args, observation, "
                     "is_error) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", p, 6, NULL, err);
}

cove_status cove_agent_memory_add_note(cove_agent_memory *m, const char *sid, const char *text,
                                       int64_t *note_id, cove_error *err)
{
    if (!text || strlen(text) > COVE_AGENT_MAX_NOTE)
        return cove_error_set(err, COVE_ERR_LIMIT, "a note is at most %u bytes",
                              COVE_AGENT_MAX_NOTE);
    const char *p[2] = {sid, text};
    return exec_text(m, "INSERT INTO notes(session, text) VALUES(?1, ?2)", p, 2, note_id, err);
}

cove_status cove_agent_memory_count(cove_agent_memory *m, const char *sid, const char *what,
                                    int64_t *n, cove_error *err)
{
    const char *sql = strcmp(what, "turns") == 0   ? "SELECT count(*) FROM turns WHERE session=?1"
                      : strcmp(what, "notes") == 0 ? "SELECT count(*) FROM notes WHERE session=?1"
                      : strcmp(what, "tool_results") == 0
                          ? "SELECT count(*) FROM tool_results WHERE session=?1"
                          : NULL;
    if (!sql)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "sessions: cannot count '%s'", what);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(m, err, "prepare");
    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC);
    *n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return COVE_OK;
}

/* ------------------------------------------------------------------ history */

/* The first sentence of text, at most 160 bytes (not splitting UTF-8), into out. */
static cove_status first_sentence(struct cove_buf *out, const char *text)
{
    size_t n = 0;
    while (text[n] && n < 160 && text[n] != '\n' &&
           !(n > 0 && (text[n - 1] == '.' || text[n - 1] == '?' || text[n - 1] == '!') &&
             text[n] == ' '))
        n++;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    cove_status st = cove_buf_append(out, text, n);
    if (st == COVE_OK && text[n] && text[n] != ' ' && text[n] != '\n')
        st = cove_buf_append_str(out, "...");
    return st;
}

/* The stored summary and the id of the last turn it covers. */
static cove_status load_summary(cove_agent_memory *m, const char *sid, struct cove_buf *text,
                                int64_t *upto, cove_error *err)
{
    sqlite3_stmt *s = NULL;
    *upto = 0;
    if (sqlite3_prepare_v2(m->db, "SELECT upto, text FROM summaries WHERE session=?1", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(m, err, "prepare");
    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC);
    cove_status st = COVE_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *upto = sqlite3_column_int64(s, 0);
        st = cove_buf_append_str(text, (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_finalize(s);
    return st;
}

/* Fold the oldest turns after `upto` into the summary until the rest fit `budget`. */
static cove_status fold(cove_agent_memory *m, const char *sid, size_t budget,
                        struct cove_buf *summary, int64_t *upto, cove_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(m->db, "SELECT id, role, content, (SELECT sum(length(content)) FROM "
                           "turns t2 WHERE t2.session=?1 AND t2.id >= t.id) FROM turns t WHERE "
                           "session=?1 AND id > ?2 ORDER BY id", -1, &s, NULL) != SQLITE_OK)
        return db_err(m, err, "prepare");
    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, *upto);
    int64_t old = *upto;
    cove_status st = COVE_OK;
    while (st == COVE_OK && sqlite3_step(s) == SQLITE_ROW &&
           (size_t)sqlite3_column_int64(s, 3) > budget) {
        const char *role = (const char *)sqlite3_column_text(s, 1);
        st = cove_buf_append_str(summary, strcmp(role, "user") == 0 ? "- asked: " : "  answered: ");
        if (st == COVE_OK)
            st = first_sentence(summary, (const char *)sqlite3_column_text(s, 2));
        if (st == COVE_OK)
            st = cove_buf_append_byte(summary, '\n');
        *upto = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (st != COVE_OK || *upto == old)
        return st;
    char upbuf[24];
    snprintf(upbuf, sizeof upbuf, "%lld", (long long)*upto);
    const char *p[3] = {sid, upbuf, summary->data ? summary->data : ""};
    return exec_text(m, "INSERT OR REPLACE INTO summaries(session, upto, text) VALUES(?1, ?2, "
                     "?3)", p, 3, NULL, err);
}

static cove_status append_rows(cove_agent_memory *m, const char *sql, const char *sid,
                               int64_t after, struct cove_buf *out, cove_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(m, err, "prepare");
    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, after);
    cove_status st = COVE_OK;
    while (st == COVE_OK && sqlite3_step(s) == SQLITE_ROW)
        st = cove_buf_appendf(out, "%s%s\n", sqlite3_column_text(s, 0), sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    return st;
}

cove_status cove_agent_memory_history(cove_agent_memory *m, const char *sid, size_t budget,
                                      struct cove_buf *out, cove_error *err)
{
    struct cove_buf summary;
    int64_t upto = 0;
    cove_buf_init(&summary, COVE_AGENT_MAX_PROMPT);
    cove_status st = load_summary(m, sid, &summary, &upto, err);
    if (st == COVE_OK)
        st = fold(m, sid, budget, &summary, &upto, err);
    if (st == COVE_OK && summary.len)
        st = cove_buf_appendf(out, "Summary of earlier turns:\n%s", summary.data);
    if (st == COVE_OK)
        st = append_rows(m, "SELECT CASE role WHEN 'user' THEN 'User: ' ELSE 'Agent: ' END, "
                         "content FROM turns WHERE session=?1 AND id > ?2 ORDER BY id", sid, upto,
                         out, err);
    if (st == COVE_OK)
        st = append_rows(m, "SELECT 'Note: ', text FROM notes WHERE session=?1 AND ?2 >= 0 "
                         "ORDER BY id", sid, 0, out, err);
    cove_buf_release(&summary);
    return st;
}
