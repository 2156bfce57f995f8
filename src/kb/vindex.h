/*
 * kb/vindex.h - in-memory vector sets with an exact scan and an HNSW graph.
 *
 * The knowledge base loads its vectors into a cove_kb_vindex to search them; the
 * benchmark uses the same calls on synthetic vectors. Vectors are compared by dot product
 * (cosine similarity for unit vectors). The scan runs over an int8 copy of every vector
 * (one f32 scale each; AVX2 when the CPU has it) and re-ranks the best candidates with
 * the f32 vectors when they are kept, so results are exact up to the int8 candidate cut.
 *
 * A vindex is filled, then searched; searching does not modify it, so several threads may
 * search one vindex (each with its own pool, or none).
 */
#ifndef COVE_KB_VINDEX_H
#define COVE_KB_VINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"
#include "cove/status.h"

typedef struct cove_kb_vindex cove_kb_vindex;

/*
 * Create an empty set of `dim`-dimensional vectors (1..COVE_MAX_EMBD) with room for
 * `capacity` of them (it grows when needed). keep_f32 = 1 also keeps the f32 vectors
 * for re-ranking (4 bytes more a dimension). On success *out owns the set (free with
 * cove_kb_vindex_free). Errors: COVE_ERR_INVALID_ARG, COVE_ERR_LIMIT, COVE_ERR_NOMEM.
 */
cove_status cove_kb_vindex_create(int32_t dim, size_t capacity, int keep_f32,
                                  cove_kb_vindex **out);

void cove_kb_vindex_free(cove_kb_vindex *v); /* NULL is a no-op */

/* Append a vector (dim floats, borrowed) with its caller id (>= 0: a negative id marks a
 * removed slot, which searches skip). Errors: NOMEM, LIMIT. */
cove_status cove_kb_vindex_add(cove_kb_vindex *v, int64_t id, const float *vec);

/* Append an already quantized vector: dim int8 values q with vec[i] ~ q[i] * scale. */
cove_status cove_kb_vindex_add_q8(cove_kb_vindex *v, int64_t id, const int8_t *q, float scale);

/*
 * Append vector i of src (same dim) with its id: its int8 values and scale as they are
 * (and its f32 values, dequantized when src keeps none). Errors: INVALID_ARG, NOMEM, LIMIT.
 */
cove_status cove_kb_vindex_append(cove_kb_vindex *v, const cove_kb_vindex *src, size_t i);

/*
 * Append a removed slot (a zero vector with id -1) that keeps the positions of an HNSW
 * graph with removed nodes. Errors: INVALID_ARG, NOMEM, LIMIT.
 */
cove_status cove_kb_vindex_add_removed(cove_kb_vindex *v);

/* Mark vector i removed: its id becomes -1 and scans skip it. Out of range: no-op. */
void cove_kb_vindex_remove(cove_kb_vindex *v, size_t i);

/* A 32-bit hash of vector i's int8 values and scale (what an HNSW graph was built on). */
uint32_t cove_kb_vindex_hash(const cove_kb_vindex *v, size_t i);

size_t cove_kb_vindex_size(const cove_kb_vindex *v);
int32_t cove_kb_vindex_dim(const cove_kb_vindex *v);
/* Id of the i-th vector; -1 for a removed one. */
int64_t cove_kb_vindex_id(const cove_kb_vindex *v, size_t i);

/* Dot product of query q (dim floats) and vector i (f32 when kept, else dequantized int8). */
float cove_kb_vindex_dot(const cove_kb_vindex *v, const float *q, size_t i);

/* Quantize dim floats to int8 with one scale (max |x| / 127); returns the scale. */
float cove_kb_quantize_q8(const float *x, int32_t dim, int8_t *q);

/*
 * A filter for searches: keep(ctx, i) returns 1 when vector i may be returned.
 * NULL keeps every vector.
 */
typedef int (*cove_kb_keep_fn)(void *ctx, size_t i);

/*
 * The k best vectors for query q (dim floats), best first: indices (positions in the set)
 * into idx[0..*n_out) and their dot products into score; removed vectors (id < 0) are
 * never returned. pool (may be NULL: one thread)
 * splits the scan. Errors: COVE_ERR_INVALID_ARG (k < 1 or > COVE_KB_MAX_K), COVE_ERR_NOMEM.
 */
cove_status cove_kb_vindex_search(const cove_kb_vindex *v, cove_pool *pool, const float *q,
                                  int32_t k, cove_kb_keep_fn keep, void *keep_ctx,
                                  size_t *idx, float *score, int32_t *n_out);

/* ------------------------------- HNSW -------------------------------- */

typedef struct cove_kb_hnsw cove_kb_hnsw;

typedef struct cove_kb_hnsw_params {
    int32_t m;               /* links per node on upper layers (2m on layer 0); default 16 */
    int32_t ef_construction; /* candidate list while building; default 100 */
    int32_t ef_search;       /* candidate list while searching (at least k); default 256
                                (recall@10 0.96-0.98 at 1M clustered vectors with 192) */
    uint64_t seed;           /* level draws; default 42 */
} cove_kb_hnsw_params;

cove_kb_hnsw_params cove_kb_hnsw_default_params(void);

/*
 * Build a graph over every vector of v (borrowed; the graph refers to it by position and
 * must be searched with the same set, or a set that only grew, see extend). Nodes are
 * inserted on the threads of pool (may be NULL: the calling thread), so two builds of one
 * set may differ in their links (not measurably in recall). The graph records each
 * node's id and cove_kb_vindex_hash. On success *out owns the graph.
 * Errors: COVE_ERR_INVALID_ARG (bad params, empty set), COVE_ERR_NOMEM.
 */
cove_status cove_kb_hnsw_build(const cove_kb_vindex *v, cove_kb_hnsw_params params,
                               cove_pool *pool, cove_kb_hnsw **out);

/*
 * Insert the vectors v holds beyond the graph's nodes (positions [size(h), size(v)); the
 * first size(h) positions of v must be the vectors the graph was built on, removed ones
 * as removed slots) with the parameters the graph was built with, on pool's threads.
 * Errors: COVE_ERR_INVALID_ARG (v smaller than the graph, other dim), COVE_ERR_NOMEM (the
 * graph then holds the new nodes' slots only partly linked: free it).
 */
cove_status cove_kb_hnsw_extend(cove_kb_hnsw *h, const cove_kb_vindex *v, cove_pool *pool);

/*
 * Remove nodes[0..count) (positions; already removed ones are skipped): they are never
 * returned again, and every node that linked to one chooses its links again among its
 * other links and the removed node's links, so the graph stays navigable without the
 * removed vectors. v: the set the graph was built on (it may have grown since: vectors
 * beyond the graph's nodes are not looked at). pool may be NULL.
 * Errors: COVE_ERR_INVALID_ARG (a position out of range), COVE_ERR_NOMEM (nodes then
 * marked removed but not all lists repaired: free the graph).
 */
cove_status cove_kb_hnsw_remove(cove_kb_hnsw *h, const cove_kb_vindex *v, const size_t *nodes,
                                size_t count, cove_pool *pool);

void cove_kb_hnsw_free(cove_kb_hnsw *h); /* NULL is a no-op */

/* Set the candidate list size used by searches (clamped to >= k at search time). */
void cove_kb_hnsw_set_ef(cove_kb_hnsw *h, int32_t ef_search);

/* Nodes in the graph (removed ones included), and how many of them are removed. */
size_t cove_kb_hnsw_size(const cove_kb_hnsw *h);
size_t cove_kb_hnsw_n_removed(const cove_kb_hnsw *h);

/* Node i (< size): removed flag, the id and the vector hash it was inserted with. */
int cove_kb_hnsw_is_removed(const cove_kb_hnsw *h, size_t i);
int64_t cove_kb_hnsw_node_id(const cove_kb_hnsw *h, size_t i);
uint32_t cove_kb_hnsw_node_hash(const cove_kb_hnsw *h, size_t i);

/*
 * The approximately k best vectors of v for q, as cove_kb_vindex_search (no filter);
 * removed nodes are never returned. Errors: COVE_ERR_INVALID_ARG (v not the graph's size
 * or dim), COVE_ERR_NOMEM.
 */
cove_status cove_kb_hnsw_search(const cove_kb_hnsw *h, const cove_kb_vindex *v, const float *q,
                                 int32_t k, size_t *idx, float *score, int32_t *n_out);

/*
 * Serialize the graph (format version 2: links, levels, removed flags, node ids and
 * hashes) into a new buffer (*data, *len; caller frees with cove_free), and read one
 * back for dim-dimensional vectors. cove_kb_hnsw_load checks every field and link:
 * COVE_ERR_FORMAT on a damaged or foreign buffer or another dim, COVE_ERR_UNSUPPORTED on
 * a buffer of another format version (version 1 had no ids: rebuild the graph).
 */
cove_status cove_kb_hnsw_save(const cove_kb_hnsw *h, uint8_t **data, size_t *len);
cove_status cove_kb_hnsw_load(const uint8_t *data, size_t len, int32_t dim, cove_kb_hnsw **out,
                              cove_error *err);

#endif
