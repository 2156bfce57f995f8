/*
 * cove/plugin.h - the interface of a tool plugin. See docs/plugins.md.
 *
 * A plugin is a program or a shared library plus a manifest (name, description, JSON
 * Schema of the arguments, permissions, SHA-256 of the file) signed with a key the agent
 * trusts. cove checks the signature and the hash before the tool is registered and the
 * hash again before every call, and runs every call in a sandboxed child process:
 * no network, an empty environment, rlimits, a seccomp allow-list, and (with Landlock)
 * no file access beyond the system's libraries and the roots the manifest's permissions
 * name ("read:NAME" for the agent's root NAME, "read:*" for all of them).
 *
 * An executable plugin reads the call's arguments (one JSON object, already validated
 * against the schema) on standard input and writes the observation for the model on
 * standard output; exit status 0 means success, anything else a failed call whose
 * standard error is shown to the model. Readable roots come as arguments "NAME=PATH".
 *
 * A shared-library plugin (file name ending in ".so") exports the function below; cove
 * runs it inside the sandbox through `cove plugin-host`.
 */
#ifndef COVE_PLUGIN_H
#define COVE_PLUGIN_H

#include <stddef.h>

#define COVE_PLUGIN_ABI 1

/*
 * Exported by a shared-library plugin under this name. args_json: the arguments (NUL-
 * terminated, args_len bytes). Write the observation (UTF-8) into out (cap bytes) and
 * its length into *out_len. Return 0 on success; non-zero marks a failed call, with out
 * holding the message. Called once per process.
 */
typedef int cove_plugin_call_fn(const char *args_json, size_t args_len, char *out, size_t cap,
                                size_t *out_len);

/* Exported by a shared-library plugin: its ABI version (COVE_PLUGIN_ABI). */
typedef int cove_plugin_abi_fn(void);

#endif
