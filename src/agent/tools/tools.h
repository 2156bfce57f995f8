/*
 * agent/tools/tools.h - what the built-in tools work on, and their definitions.
 *
 * A cove_agent_env is the world a tool call sees: the directories it may read, the
 * knowledge base, the session memory, the device table. The agent fills one when it is
 * created; `cove tool` fills one from its options. Every pointer in it is borrowed.
 */
#ifndef COVE_AGENT_TOOLS_H
#define COVE_AGENT_TOOLS_H

#include <stdint.h>

#include "agent/registry.h"
#include "base/limits.h"
#include "cove/engine.h"
#include "kb/kb.h"

struct cove_agent_memory;
struct cove_sandbox_policy;

/* A directory the file tools may read beneath. */
struct cove_agent_root {
    char path[COVE_MAX_PATH];            /* as configured (absolute after
                                            cove_agent_env_add_root) */
    char name[COVE_AGENT_MAX_ROOT_NAME]; /* last component: "notes" for /data/notes */
    int fd;                              /* O_PATH|O_DIRECTORY descriptor, opened once */
};

struct cove_agent_env {
    struct cove_agent_root roots[COVE_AGENT_MAX_ROOTS];
    int n_roots;
    cove_kb *kb;                     /* borrowed; NULL: kb_search reports no knowledge base */
    cove_embedder *embedder;         /* borrowed; NULL: kb_search uses keyword search */
    struct cove_agent_memory *memory; /* borrowed; NULL: write_note reports no memory */
    const char *session_id;          /* borrowed; the session notes are written to */
    const char *devices_path;        /* borrowed; SQLite file of device_control; NULL: none */
    int64_t deadline_ms;             /* monotonic ms after which a handler should give up;
                                        0: none. Set by the registry for each call */
    int64_t now_override;            /* tests: current_time reports this Unix time when > 0 */
    size_t read_max;                 /* bytes read_file returns; 0: 16 KiB */
    int sandbox_accept_weak;         /* 1: sandboxed tools run even without Landlock */
    int sandbox_without_landlock;    /* 1: sandboxed tools act as on a kernel without
                                        Landlock (tests of the weak-mode refusal) */
    const void *tool_data;           /* the running tool's def->data; set per call */
};

/* Zero the env and mark every root slot closed. */
void cove_agent_env_init(struct cove_agent_env *env);
/* Close the root descriptors (not the borrowed handles). */
void cove_agent_env_release(struct cove_agent_env *env);
/*
 * Add a directory the file tools may read beneath: resolved with realpath and opened
 * O_PATH. Fails with COVE_ERR_NOT_FOUND / COVE_ERR_IO (cannot open, not a directory) or
 * COVE_ERR_LIMIT (more than COVE_AGENT_MAX_ROOTS).
 */
cove_status cove_agent_env_add_root(struct cove_agent_env *env, const char *dir, cove_error *err);

/*
 * Run def's handler in a sandboxed child (COVE_AGENT_TOOL_SANDBOXED; called by the
 * registry): policy from env's roots and def's limits; obs receives the child's
 * observation and sources. Returns the handler's status and message, or the sandbox's
 * (COVE_ERR_PERMISSION in a refused weak mode or on a seccomp violation, COVE_ERR_TIMEOUT,
 * COVE_ERR_LIMIT, COVE_ERR_IO when the child died).
 */
cove_status cove_agent_run_sandboxed(const struct cove_agent_tool_def *def,
                                     struct cove_agent_env *env, const json_t *args,
                                     struct cove_agent_obs *obs, cove_error *err);

/*
 * The limits every sandboxed tool call shares, set in p: wall-clock deadline timeout_ms
 * (<= 0: COVE_AGENT_DEFAULT_TIMEOUT_MS), RLIMIT_CPU of that in seconds plus one, output
 * bound COVE_AGENT_MAX_SANDBOX_RESULT, and env's weak-mode settings (accept_weak,
 * without_landlock). p and env borrowed; the rest of p is left as it is.
 */
void cove_agent_sandbox_limits(struct cove_sandbox_policy *p, int32_t timeout_ms,
                               const struct cove_agent_env *env);

/*
 * Signed tool plugins (include/cove/plugin.h, docs/plugins.md). A set is an owned handle.
 * cove_agent_plugins_load verifies each manifest in manifests[0, n) against the keys at
 * trusted_keys (a key file or a directory of *.pub: audit/sign.h): signature, file hash,
 * kind "plugin", grantable permissions. host: the program that runs shared-library
 * plugins (`cove plugin-host`); NULL: this process's executable. Errors: those of
 * cove_audit_manifest_verify (COVE_ERR_PERMISSION for a bad signature or an untrusted
 * key, COVE_ERR_CHECKSUM for a changed file, COVE_ERR_NOT_FOUND), COVE_ERR_PERMISSION for
 * permissions that cannot be granted or no trusted keys, COVE_ERR_LIMIT.
 */
typedef struct cove_agent_plugins cove_agent_plugins;
cove_status cove_agent_plugins_load(const char *const *manifests, size_t n,
                                    const char *trusted_keys, const char *host,
                                    cove_agent_plugins **out, cove_error *err);
/* Add every plugin of ps (NULL: none) to r (entries borrow from ps: free ps after r). */
cove_status cove_agent_plugins_register(const cove_agent_plugins *ps, cove_agent_registry *r,
                                        cove_error *err);
/* Number of plugins in ps (0 for NULL), the tool name of plugin i, and adding only it. */
size_t cove_agent_plugins_count(const cove_agent_plugins *ps);
const char *cove_agent_plugins_name(const cove_agent_plugins *ps, size_t i);
cove_status cove_agent_plugins_register_one(const cove_agent_plugins *ps, size_t i,
                                            cove_agent_registry *r, cove_error *err);
void cove_agent_plugins_free(cove_agent_plugins *ps);

/* Monotonic clock in milliseconds. */
int64_t cove_agent_now_ms(void);
/* 1 when env has a deadline and it has passed. */
int cove_agent_env_expired(const struct cove_agent_env *env);

/* The built-in tools, one file each. */
extern const struct cove_agent_tool_def cove_agent_tool_kb_search;
extern const struct cove_agent_tool_def cove_agent_tool_read_file;
extern const struct cove_agent_tool_def cove_agent_tool_list_files;
extern const struct cove_agent_tool_def cove_agent_tool_write_note;
extern const struct cove_agent_tool_def cove_agent_tool_calculator;
extern const struct cove_agent_tool_def cove_agent_tool_current_time;
extern const struct cove_agent_tool_def cove_agent_tool_device_control;

/*
 * The calculator's evaluator, for tests and the tool: exact arithmetic on rationals
 * (numerator and denominator as 128-bit integers). Writes the result as text to out:
 * an integer, a finite decimal ("0.3"), or a fraction with a 30-digit decimal
 * ("1/3 = 0.333333333333333333333333333333..."). Errors: COVE_ERR_FORMAT (syntax, with
 * the offset), COVE_ERR_INVALID_ARG (division by zero, non-integer exponent),
 * COVE_ERR_LIMIT (a value beyond 128 bits, expression too long or deep).
 */
cove_status cove_agent_calc(const char *expr, struct cove_buf *out, cove_error *err);

/*
 * Open `rel` (relative path, no leading '/') beneath one of env's roots, for reading;
 * `rel` may start with a root's name to choose it, otherwise the roots are tried in
 * order. Uses the sandbox's beneath-open (no "..", no absolute symlinks out, no magic
 * links). *fd_out is owned by the caller. *root_out (may be NULL) names the root used.
 * Errors: COVE_ERR_PERMISSION (an escape), COVE_ERR_NOT_FOUND, COVE_ERR_IO.
 */
cove_status cove_agent_open_beneath(const struct cove_agent_env *env, const char *rel,
                                    int directory, int *fd_out,
                                    const struct cove_agent_root **root_out, const char **rest_out,
                                    cove_error *err);

#endif
