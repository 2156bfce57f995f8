/*
 * engine/gguf/gguf_int.h - pieces shared by the GGUF reader and writer.
 */
#ifndef COVE_ENGINE_GGUF_INT_H
#define COVE_ENGINE_GGUF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/gguf/gguf.h"

#define COVE_GGUF_MAGIC "GGUF"
#define COVE_GGUF_VERSION 3
#define COVE_GGUF_DEFAULT_ALIGNMENT 32

/*
 * Check that data[0..size) starts with one well-formed value of `type` as it
 * is encoded in a file (the bytes after the type field), with the reader's
 * rules and bounds. *used receives its length in bytes.
 */
cove_status cove_gguf_value_check(const void *data, size_t size, enum cove_gguf_vtype type, size_t *used,
                                  cove_error *err);

#endif
