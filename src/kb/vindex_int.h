/*
 * kb/vindex_int.h - private layout of a cove_kb_vindex, shared by the scan and HNSW files.
 */
#ifndef COVE_KB_VINDEX_INT_H
#define COVE_KB_VINDEX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kb/vindex.h"

/*
 * Vector i: q8[i * stride .. + dim) int8 values (stride = dim rounded up to 32, the pad
 * is zero), scale[i] its f32 scale, ids[i] its caller id, and when keep_f32,
 * f32[i * dim .. + dim) the vector itself.
 */
struct cove_kb_vindex {
    int32_t dim, stride;
    int keep_f32;
    size_t n, cap;
    int8_t *q8;
    float *scale;
    int64_t *ids;
    float *f32;
};

/* int8 dot products of query q with vectors [begin, end) of v into out[0 .. end-begin). */
typedef void (*cove_kb_dots_fn)(const int8_t *q, const int8_t *base, size_t stride,
                                size_t count, int32_t *out);

void cove_kb_dots_ref(const int8_t *q, const int8_t *base, size_t stride, size_t count,
                      int32_t *out);
#if defined(__x86_64__)
void cove_kb_dots_avx2(const int8_t *q, const int8_t *base, size_t stride, size_t count,
                       int32_t *out);
#endif

/* The fastest dot kernel this CPU runs. */
cove_kb_dots_fn cove_kb_dots_pick(void);

/* f32 dot product of n floats. */
float cove_kb_dot_f32(const float *a, const float *b, int32_t n);

#endif
