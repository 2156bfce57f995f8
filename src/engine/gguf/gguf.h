/*
 * engine/gguf/gguf.h - GGUF v2/v3 reader (over mmap) and writer.
 *
 * The reader validates the whole header before returning: every count, length,
 * offset and size is checked against the file and against limits.h, so that a
 * hostile file yields COVE_ERR_FORMAT (or COVE_ERR_LIMIT / COVE_ERR_UNSUPPORTED)
 * with a message naming the problem, never a crash or an allocation sized by
 * the file without a bound.
 *
 * Ownership: cove_gguf owns the mapping and all metadata; every pointer the
 * accessors return (strings, arrays, tensor data) is borrowed and valid until
 * cove_gguf_free. Strings from the file are NOT NUL-terminated: use the
 * (ptr, len) pairs.
 */
#ifndef COVE_ENGINE_GGUF_H
#define COVE_ENGINE_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "cove/status.h"

/* Metadata value types, numbered as in the GGUF specification. */
enum cove_gguf_vtype {
    COVE_GGUF_UINT8 = 0,
    COVE_GGUF_INT8 = 1,
    COVE_GGUF_UINT16 = 2,
    COVE_GGUF_INT16 = 3,
    COVE_GGUF_UINT32 = 4,
    COVE_GGUF_INT32 = 5,
    COVE_GGUF_FLOAT32 = 6,
    COVE_GGUF_BOOL = 7,
    COVE_GGUF_STRING = 8,
    COVE_GGUF_ARRAY = 9,
    COVE_GGUF_UINT64 = 10,
    COVE_GGUF_INT64 = 11,
    COVE_GGUF_FLOAT64 = 12,
    COVE_GGUF_VTYPE_COUNT
};

/* Bytes of one element of a fixed-size value type; 0 for STRING, ARRAY and unknown numbers. */
size_t cove_gguf_vtype_size(uint32_t type);

/* Name of a value type as the specification spells it ("uint32", "string"); "?" when unknown. */
const char *cove_gguf_vtype_name(uint32_t type);

/* Tensor element types, numbered as ggml numbers them (GGML_TYPE_*). */
enum cove_ggml_type {
    COVE_TYPE_F32 = 0,
    COVE_TYPE_F16 = 1,
    COVE_TYPE_Q4_0 = 2,
    COVE_TYPE_Q4_1 = 3,
    /* 4 and 5 (Q4_2, Q4_3) were removed from the format */
    COVE_TYPE_Q5_0 = 6,
    COVE_TYPE_Q5_1 = 7,
    COVE_TYPE_Q8_0 = 8,
    COVE_TYPE_Q8_1 = 9,
    COVE_TYPE_Q2_K = 10,
    COVE_TYPE_Q3_K = 11,
    COVE_TYPE_Q4_K = 12,
    COVE_TYPE_Q5_K = 13,
    COVE_TYPE_Q6_K = 14,
    COVE_TYPE_Q8_K = 15,
    COVE_TYPE_IQ2_XXS = 16,
    COVE_TYPE_IQ2_XS = 17,
    COVE_TYPE_IQ3_XXS = 18,
    COVE_TYPE_IQ1_S = 19,
    COVE_TYPE_IQ4_NL = 20,
    COVE_TYPE_IQ3_S = 21,
    COVE_TYPE_IQ2_S = 22,
    COVE_TYPE_IQ4_XS = 23,
    COVE_TYPE_I8 = 24,
    COVE_TYPE_I16 = 25,
    COVE_TYPE_I32 = 26,
    COVE_TYPE_I64 = 27,
    COVE_TYPE_F64 = 28,
    COVE_TYPE_IQ1_M = 29,
    COVE_TYPE_BF16 = 30,
    /* 31..33 (Q4_0_4_4 ...) were removed from the format */
    COVE_TYPE_TQ1_0 = 34,
    COVE_TYPE_TQ2_0 = 35,
    /* 36..38 removed */
    COVE_TYPE_MXFP4 = 39,
    COVE_TYPE_COUNT
};

/* Static facts about a tensor type. */
typedef struct cove_type_info {
    const char *name;     /* "f32", "q4_k", ...; NULL for an unused number */
    uint32_t block_size;  /* elements per block (1 for plain types) */
    uint32_t block_bytes; /* bytes per block */
} cove_type_info;

/* Info for type `t`, or NULL when `t` is not a known ggml type. */
const cove_type_info *cove_type_info_get(uint32_t t);

/* Type by name ("q8_0", case-insensitive), or -1. */
int cove_type_from_name(const char *name);

/* A string inside the file (not NUL-terminated). */
typedef struct cove_gguf_str {
    const char *ptr;
    uint64_t len;
} cove_gguf_str;

/* One metadata value. For arrays, `arr` describes the elements in the file. */
typedef struct cove_gguf_value {
    enum cove_gguf_vtype type;
    union {
        uint64_t u64; /* all unsigned ints and bool, widened */
        int64_t i64;  /* all signed ints, widened */
        double f64;   /* float32 and float64, widened */
        cove_gguf_str str;
        struct {
            enum cove_gguf_vtype elem_type;
            uint64_t count;
            const uint8_t *data; /* raw elements in the file (for fixed-size types) */
            uint32_t index;      /* reader-internal handle for string/nested arrays */
        } arr;
    } v;
} cove_gguf_value;

typedef struct cove_gguf_tensor {
    cove_gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];        /* elements per dimension, ne[0] fastest; unused dims = 1 */
    enum cove_ggml_type type;
    uint64_t offset;       /* relative to the data section */
    uint64_t n_bytes;      /* validated size in the file */
    const void *data;      /* into the mapping */
} cove_gguf_tensor;

typedef struct cove_gguf cove_gguf;

/*
 * Map and validate a GGUF file (versions 2 and 3, little-endian). On success
 * *out owns the mapping; on failure *out is NULL and err says what and where,
 * e.g. "tensor 'blk.0.attn_q.weight': data (...) ends past the end of the
 * file (size M)". Returns COVE_ERR_NOT_FOUND (no such file), COVE_ERR_IO
 * (cannot open or map; not a regular file), COVE_ERR_FORMAT (malformed),
 * COVE_ERR_UNSUPPORTED (version 1 or > 3, big-endian, unknown tensor type),
 * COVE_ERR_LIMIT (a bound of limits.h exceeded), COVE_ERR_NOMEM.
 * Work and memory are linear in the size of the header; the indexes built at
 * open (hashes of keys and tensor names, one offset per string in an array,
 * one record per array) are bounded by limits.h and by the file size.
 */
cove_status cove_gguf_open(const char *path, cove_gguf **out, cove_error *err);

/* As cove_gguf_open, over an image held in memory (borrowed; must outlive the handle). For fuzzing and tests. */
cove_status cove_gguf_open_memory(const void *data, size_t size, cove_gguf **out, cove_error *err);

/* Release the handle and its mapping. NULL is a no-op. */
void cove_gguf_free(cove_gguf *g);

uint32_t cove_gguf_version(const cove_gguf *g);
uint64_t cove_gguf_alignment(const cove_gguf *g);
/* Start of the tensor data section; may lie past the end of a file without tensors. */
uint64_t cove_gguf_data_offset(const cove_gguf *g);
uint64_t cove_gguf_size(const cove_gguf *g);        /* bytes in the whole file image */

/* Metadata by index (0..n-1) and by key. */
uint64_t cove_gguf_kv_count(const cove_gguf *g);
cove_gguf_str cove_gguf_kv_key(const cove_gguf *g, uint64_t i);
const cove_gguf_value *cove_gguf_kv_value(const cove_gguf *g, uint64_t i);
/* Index of `key`, or -1. */
int64_t cove_gguf_find_key(const cove_gguf *g, const char *key);

/* Typed look-ups; return COVE_ERR_NOT_FOUND when absent, COVE_ERR_FORMAT on a type mismatch. */
cove_status cove_gguf_get_u64(const cove_gguf *g, const char *key, uint64_t *out); /* any integer or bool >= 0 */
cove_status cove_gguf_get_i64(const cove_gguf *g, const char *key, int64_t *out);  /* any integer or bool */
cove_status cove_gguf_get_f64(const cove_gguf *g, const char *key, double *out);   /* any number */
cove_status cove_gguf_get_bool(const cove_gguf *g, const char *key, int *out);
cove_status cove_gguf_get_str(const cove_gguf *g, const char *key, cove_gguf_str *out);
/* Array of the given key: element type and count. */
cove_status cove_gguf_get_arr(const cove_gguf *g, const char *key, enum cove_gguf_vtype *elem_type,
                              uint64_t *count);
/* Element i of an array of strings (key names the array), in O(1); COVE_ERR_INVALID_ARG when i >= count. */
cove_status cove_gguf_arr_str(const cove_gguf *g, const char *key, uint64_t i, cove_gguf_str *out);
/* Pointer to the raw little-endian elements of a numeric array (borrowed). */
cove_status cove_gguf_arr_data(const cove_gguf *g, const char *key, const void **data);
/*
 * Element i of any array value `arr` (from cove_gguf_kv_value or from an
 * earlier call, so nested arrays can be walked), in O(1). Numbers are widened
 * as in cove_gguf_value; a string or array element borrows from the file.
 * Returns COVE_ERR_INVALID_ARG when arr is not an array of g or i >= count.
 */
cove_status cove_gguf_arr_get(const cove_gguf *g, const cove_gguf_value *arr, uint64_t i, cove_gguf_value *out);

/* Tensors by index and by name. */
uint64_t cove_gguf_tensor_count(const cove_gguf *g);
const cove_gguf_tensor *cove_gguf_tensor_at(const cove_gguf *g, uint64_t i);
const cove_gguf_tensor *cove_gguf_tensor_find(const cove_gguf *g, const char *name); /* NULL if absent */

/*
 * Copy bytes [off, off + n) of tensor t's data to dst (n bytes, owned by the caller). A file
 * opened with cove_gguf_open is read with pread: its pages do not enter the process's
 * mapping, so a caller that lays the tensor out anew in its own memory holds it once. A memory
 * image is copied. COVE_ERR_INVALID_ARG for a range past the tensor, COVE_ERR_IO when the
 * file cannot be read (or has become shorter).
 */
cove_status cove_gguf_tensor_read(const cove_gguf *g, const cove_gguf_tensor *t, uint64_t off, void *dst,
                                  size_t n, cove_error *err);

/* 1 when a cove_gguf_str equals a C string. */
int cove_gguf_str_eq(cove_gguf_str s, const char *c);

/* ---- writer ---- */

/*
 * The writer collects metadata and tensors (copying every input) and writes a
 * version 3 file. It accepts only what the reader accepts: keys are non-empty
 * unique UTF-8 of at most COVE_GGUF_MAX_KEY_LEN bytes, strings are UTF-8, and
 * the bounds of limits.h apply. Setters return COVE_ERR_INVALID_ARG for a bad
 * or duplicate key or value, COVE_ERR_LIMIT past a bound, COVE_ERR_NOMEM;
 * on failure the writer is unchanged. Keys are checked for duplicates by a
 * linear scan: meant for the few dozen keys of a model file.
 *
 * general.alignment: when the caller sets it (any unsigned integer type, a
 * power of two up to COVE_GGUF_MAX_ALIGNMENT) it is used; otherwise a uint32
 * general.alignment of 32 is written first.
 */
typedef struct cove_gguf_writer cove_gguf_writer;

cove_status cove_gguf_writer_create(cove_gguf_writer **out);
void cove_gguf_writer_free(cove_gguf_writer *w); /* NULL is a no-op */

/* Metadata (copied). Keys must be unique. */
cove_status cove_gguf_writer_set_u32(cove_gguf_writer *w, const char *key, uint32_t v);
cove_status cove_gguf_writer_set_i32(cove_gguf_writer *w, const char *key, int32_t v);
cove_status cove_gguf_writer_set_u64(cove_gguf_writer *w, const char *key, uint64_t v);
cove_status cove_gguf_writer_set_f32(cove_gguf_writer *w, const char *key, float v);
cove_status cove_gguf_writer_set_bool(cove_gguf_writer *w, const char *key, int v);
cove_status cove_gguf_writer_set_str(cove_gguf_writer *w, const char *key, const char *v);
/*
 * Any fixed-size type: `value` points to the native C value (uint8_t, int8_t,
 * uint16_t, ..., float, double; a bool is a uint8_t holding 0 or 1).
 */
cove_status cove_gguf_writer_set_scalar(cove_gguf_writer *w, const char *key, enum cove_gguf_vtype type,
                                        const void *value);
/* Numeric array: `data` holds `count` little-endian elements of `elem_type` (copied). */
cove_status cove_gguf_writer_set_arr(cove_gguf_writer *w, const char *key, enum cove_gguf_vtype elem_type,
                                     const void *data, uint64_t count);
cove_status cove_gguf_writer_set_arr_str(cove_gguf_writer *w, const char *key, const char *const *strs,
                                         uint64_t count);
/*
 * Any value, given as its encoding in a file (the bytes after the type field;
 * for an array: u32 element type, u64 count, elements). This is how nested
 * arrays are written. The bytes must hold exactly one value that the reader
 * accepts (COVE_ERR_FORMAT / COVE_ERR_LIMIT with a message otherwise); copied.
 */
cove_status cove_gguf_writer_set_raw(cove_gguf_writer *w, const char *key, enum cove_gguf_vtype type,
                                     const void *bytes, size_t n, cove_error *err);

/*
 * Add a tensor; `data` (n_bytes for its shape and type) is copied, or NULL for
 * zeros. Tensors are laid out in the order added, each aligned.
 */
cove_status cove_gguf_writer_add_tensor(cove_gguf_writer *w, const char *name, enum cove_ggml_type type,
                                        uint32_t n_dims, const uint64_t *ne, const void *data);

/*
 * Write version 3 to `path` atomically: a temporary file in the same
 * directory, fsync, rename over `path`, fsync of the directory. On failure the
 * temporary file is removed and `path` is untouched.
 */
cove_status cove_gguf_writer_save(cove_gguf_writer *w, const char *path, cove_error *err);

/* The same bytes as save, in memory: *out (cove_malloc'd, the caller frees with cove_free), *size. */
cove_status cove_gguf_writer_to_memory(cove_gguf_writer *w, void **out, size_t *size, cove_error *err);

#endif
