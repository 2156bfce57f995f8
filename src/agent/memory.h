/*
 * agent/memory.h - session memory in SQLite: turns, tool results, notes, summaries.
 *
 * One file holds every session. A session is an id (16 hex digits, or one the caller
 * chose: [A-Za-z0-9_-], at most COVE_AGENT_MAX_SESSION_ID bytes) with its turns (the
 * user's requests and the agent's final answers, in order), the tool results of its runs,
 * the notes written by write_note, and a summary of turns that no longer fit the prompt.
 * A run that resumes a session (`cove ask --session ID`) reads them back, so an agent
 * keeps its context across restarts. Every write is its own transaction.
 *
 * Threads: one handle is used from one thread at a time.
 */
#ifndef COVE_AGENT_MEMORY_H
#define COVE_AGENT_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "cove/status.h"

typedef struct cove_agent_memory cove_agent_memory;

/* Open (creating when missing) the store at path. *out owned by the caller. */
cove_status cove_agent_memory_open(const char *path, cove_agent_memory **out, cove_error *err);
void cove_agent_memory_free(cove_agent_memory *m);

/*
 * Make sure session `id` exists. id NULL or "": a new random id is made. The id in use is
 * written to id_out (COVE_AGENT_MAX_SESSION_ID + 1 bytes). *resumed (may be NULL) is 1
 * when the session existed. COVE_ERR_INVALID_ARG for a malformed id.
 */
cove_status cove_agent_memory_session(cove_agent_memory *m, const char *id, char *id_out,
                                      int *resumed, cove_error *err);

/* Append a turn ("user" or "assistant"). */
cove_status cove_agent_memory_add_turn(cove_agent_memory *m, const char *sid, const char *role,
                                       const char *content, cove_error *err);

/* Record a tool call and its observation. */
cove_status cove_agent_memory_add_tool_result(cove_agent_memory *m, const char *sid, int32_t step,
                                              const char *tool, const char *args,
                                              const char *observation, int is_error,
                                              cove_error *err);

/* Add a note (at most COVE_AGENT_MAX_NOTE bytes); *note_id (may be NULL) gets its number. */
cove_status cove_agent_memory_add_note(cove_agent_memory *m, const char *sid, const char *text,
                                       int64_t *note_id, cove_error *err);

/* Number of turns, tool results or notes a session holds. */
cove_status cove_agent_memory_count(cove_agent_memory *m, const char *sid, const char *what,
                                    int64_t *n, cove_error *err);

/*
 * The session's history for a prompt, appended to out: the stored summary (if any), then
 * the turns after it verbatim ("User: ...\nAgent: ...\n"), then its notes. When the
 * verbatim turns are longer than `budget` bytes, the oldest ones are folded into the
 * summary first (an extractive summary: the first sentence of each turn, cut at 160
 * bytes), which is stored so later runs see the same text.
 */
cove_status cove_agent_memory_history(cove_agent_memory *m, const char *sid, size_t budget,
                                      struct cove_buf *out, cove_error *err);

#endif
