/*
 * tests/fuzz/fuzz_safetensors.c - libFuzzer target for the converter's safetensors reader
 * (convert/safetensors.c), through cove_convert_st_add_memory: no model directory needed.
 *
 * The first byte says whether the rest is one file or two shards of one checkpoint (bit 0)
 * and where it is cut (bits 1-7). Each file is added to one set; a file that fails leaves
 * the set as it was. Then every tensor of the set is checked against what the reader
 * promises: a name of 1..COVE_ST_MAX_NAME bytes found again by cove_convert_st_find, names
 * sorted and unique, a known dtype, at most COVE_GGUF_MAX_DIMS dimensions whose product is
 * the element count, n_bytes = elements x dtype size, the data inside the data section of
 * its own file (first and last byte read), and no two tensors of a file overlapping.
 * A violation is __builtin_trap(), which libFuzzer reports as a crash.
 *
 *   ./fuzz_safetensors -max_total_time=60 /tmp/st-corpus tests/fuzz/corpus/safetensors
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "convert/convert_int.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps the data reads from being optimised away */

/* Bytes of one element of each dtype, as the format defines them. */
static uint64_t dtype_size(enum cove_convert_dtype d)
{
    switch (d) {
    case COVE_ST_I16: case COVE_ST_U16: case COVE_ST_F16: case COVE_ST_BF16: return 2;
    case COVE_ST_I32: case COVE_ST_U32: case COVE_ST_F32: return 4;
    case COVE_ST_I64: case COVE_ST_U64: case COVE_ST_F64: return 8;
    default: return 1;
    }
}

typedef struct fz_file {
    const uint8_t *p;
    size_t n;
} fz_file;

/* The data section of a file: after the 8-byte length and the header. */
static void data_section(const fz_file *f, const uint8_t **begin, const uint8_t **end)
{
    uint64_t h = 0;
    CHECK_FZ(f->n >= 8);
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | f->p[i];
    CHECK_FZ(h <= f->n - 8);
    *begin = f->p + 8 + h;
    *end = f->p + f->n;
}

static void check_tensor(const cove_convert_st *st, const cove_convert_st_tensor *t,
                         const fz_file *files, uint32_t n_files)
{
    CHECK_FZ(t->name != NULL);
    size_t nl = strlen(t->name);
    CHECK_FZ(nl > 0 && nl <= COVE_ST_MAX_NAME);
    CHECK_FZ(cove_convert_st_find(st, t->name) == t);
    CHECK_FZ((unsigned)t->dtype < COVE_ST_DTYPE_COUNT);
    CHECK_FZ(strcmp(cove_convert_dtype_name(t->dtype), "?") != 0);
    CHECK_FZ(t->n_dims <= COVE_GGUF_MAX_DIMS);
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= t->shape[d]; /* overflow was refused by the reader */
    CHECK_FZ(n == t->n_elems && t->n_bytes == n * dtype_size(t->dtype));
    CHECK_FZ(t->file < n_files);
    const uint8_t *begin, *end, *p = t->data;
    data_section(&files[t->file], &begin, &end);
    CHECK_FZ(p >= begin && p <= end && t->n_bytes <= (uint64_t)(end - p));
    if (t->n_bytes)
        sink += p[0] + p[t->n_bytes - 1];
}

/* Names ascending and unique; the non-empty tensors of a file disjoint. */
static void check_set(const cove_convert_st *st, const fz_file *files, uint32_t n_files)
{
    size_t n = cove_convert_st_count(st);
    CHECK_FZ(cove_convert_st_at(st, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const cove_convert_st_tensor *t = cove_convert_st_at(st, i);
        check_tensor(st, t, files, n_files);
        if (i > 0)
            CHECK_FZ(strcmp(cove_convert_st_at(st, i - 1)->name, t->name) < 0);
        for (size_t k = 0; k < i && n <= 256; k++) {
            const cove_convert_st_tensor *u = cove_convert_st_at(st, k);
            const uint8_t *a = t->data, *b = u->data;
            if (u->file == t->file && t->n_bytes && u->n_bytes)
                CHECK_FZ(a + t->n_bytes <= b || b + u->n_bytes <= a);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_file parts[2] = {{data + 1, size - 1}, {NULL, 0}};
    size_t n_parts = 1;
    if (data[0] & 1) {
        size_t cut = (size - 1) * (data[0] >> 1) / 128;
        parts[1] = (fz_file){data + 1 + cut, size - 1 - cut};
        parts[0].n = cut;
        n_parts = 2;
    }
    cove_convert_st *st = NULL;
    CHECK_FZ(cove_convert_st_create(&st) == COVE_OK);
    fz_file added[2];
    uint32_t n_added = 0;
    for (size_t i = 0; i < n_parts; i++) {
        cove_error err = {0};
        size_t before = cove_convert_st_count(st);
        cove_status rc = cove_convert_st_add_memory(st, parts[i].p, parts[i].n, "part", &err);
        if (rc == COVE_OK) {
            added[n_added++] = parts[i];
        } else {
            CHECK_FZ(err.status == rc && err.msg[0] != '\0');
            CHECK_FZ(cove_convert_st_count(st) == before);
        }
    }
    check_set(st, added, n_added);
    cove_convert_st_free(st);
    return 0;
}
