/*
 * tests/fuzz/fuzz_gguf.c - libFuzzer target for the GGUF reader.
 *
 * Opens the input with cove_gguf_open_memory and, when it is accepted, walks
 * every key, value, array element (nested arrays included), tensor and the
 * first and last byte of each tensor's data, and runs the typed look-ups on
 * every key and tensor name. Any crash, sanitizer report or leak is a bug.
 *
 *   ./fuzz_gguf -max_total_time=60 tests/fuzz/corpus/gguf
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/gguf/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps the walk from being optimised away */

static void walk_value(const cove_gguf *g, const cove_gguf_value *v)
{
    if (v->type == COVE_GGUF_STRING) {
        for (uint64_t i = 0; i < v->v.str.len; i++)
            sink += (uint8_t)v->v.str.ptr[i];
    } else if (v->type == COVE_GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->v.arr.count; i++) {
            cove_gguf_value e;
            if (cove_gguf_arr_get(g, v, i, &e) == COVE_OK)
                walk_value(g, &e);
        }
    } else {
        sink += v->v.u64;
    }
}

/* The typed look-ups, by a NUL-terminated copy of the key. */
static void lookups(const cove_gguf *g, cove_gguf_str key)
{
    char k[256];
    size_t n = key.len < sizeof k - 1 ? (size_t)key.len : sizeof k - 1;
    memcpy(k, key.ptr, n);
    k[n] = '\0';
    uint64_t u;
    int64_t i;
    double f;
    int b;
    cove_gguf_str s;
    enum cove_gguf_vtype et;
    const void *p;
    sink += (uint64_t)cove_gguf_find_key(g, k);
    sink += (uint64_t)cove_gguf_get_u64(g, k, &u) + (uint64_t)cove_gguf_get_i64(g, k, &i);
    sink += (uint64_t)cove_gguf_get_f64(g, k, &f) + (uint64_t)cove_gguf_get_bool(g, k, &b);
    sink += (uint64_t)cove_gguf_get_str(g, k, &s) + (uint64_t)cove_gguf_get_arr(g, k, &et, &u);
    sink += (uint64_t)cove_gguf_arr_data(g, k, &p);
    if (cove_gguf_arr_str(g, k, 0, &s) == COVE_OK && s.len)
        sink += (uint8_t)s.ptr[s.len - 1];
    sink += cove_gguf_tensor_find(g, k) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cove_gguf *g = NULL;
    cove_error err = {0};
    if (cove_gguf_open_memory(data, size, &g, &err) != COVE_OK)
        return 0;
    for (uint64_t i = 0; i < cove_gguf_kv_count(g); i++) {
        walk_value(g, cove_gguf_kv_value(g, i));
        lookups(g, cove_gguf_kv_key(g, i));
    }
    for (uint64_t i = 0; i < cove_gguf_tensor_count(g); i++) {
        const cove_gguf_tensor *t = cove_gguf_tensor_at(g, i);
        const uint8_t *d = t->data;
        sink += d[0] + d[t->n_bytes - 1];
        lookups(g, t->name);
    }
    sink += cove_gguf_version(g) + cove_gguf_alignment(g) + cove_gguf_data_offset(g);
    cove_gguf_free(g);
    return 0;
}
