/*
 * convert/convert.c - cove_convert_hf: configuration, vocabulary and weights of a Hugging
 * Face directory into one GGUF file.
 *
 * Tensors are written globals first (token_embd, output_norm, output, rope_freqs, ...),
 * then block by block in block order, names sorted inside a block: the same directory
 * always gives the same file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "convert/convert_int.h"
#include "engine/kernels/quants.h"

cove_convert_params cove_convert_default_params(void)
{
    cove_convert_params p = {.type = COVE_TYPE_F16};
    return p;
}

/* Everything one conversion holds; released by conv_release. */
typedef struct conv {
    const char *dir;
    cove_convert_params p;
    cove_convert_cfg cfg;
    cove_convert_vocab vocab;
    cove_convert_st *st;
    cove_convert_job *jobs;
    size_t n_jobs;
    float *rope_factors;
    cove_convert_report rep;
} conv;

static void conv_release(conv *c)
{
    cove_convert_vocab_release(&c->vocab);
    cove_convert_st_free(c->st);
    cove_free(c->jobs);
    cove_free(c->rope_factors);
}

/* ---- planning the tensors ---- */

static int src_type(enum cove_convert_dtype d, enum cove_ggml_type *t)
{
    switch (d) {
    case COVE_ST_F32: *t = COVE_TYPE_F32; return 1;
    case COVE_ST_F16: *t = COVE_TYPE_F16; return 1;
    case COVE_ST_BF16: *t = COVE_TYPE_BF16; return 1;
    default: return 0;
    }
}

/* Heads of a Q/K permutation, checked against the tensor's size. */
static cove_status check_permute(const conv *c, cove_convert_job *j, const char *file,
                                 const char *hf, cove_error *err)
{
    j->n_heads = (j->xform & COVE_XFORM_PERMUTE_Q) ? c->cfg.n_head : c->cfg.n_head_kv;
    uint64_t units = j->n_dims == 1 ? j->ne[0] : cove_convert_job_rows(j);
    if (units != (uint64_t)(j->n_heads * c->cfg.head_dim))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: tensor '%s' has %llu rows, expected "
                              "%lld heads of %lld", file, hf,
                              (unsigned long long)units, (long long)j->n_heads,
                              (long long)c->cfg.head_dim);
    return COVE_OK;
}

/* The output type of j and the count of F16 fall-backs. */
static void choose_type(conv *c, cove_convert_job *j, enum cove_convert_role role)
{
    int fallback;
    if (j->n_dims == 1)
        role = COVE_ROLE_VECTOR;
    j->type = cove_convert_pick_type(role, j->ne[0], c->p.type, &fallback);
    if (fallback) {
        c->rep.n_fallback++;
        cove_log_warn("%s: rows of %llu are not whole %s blocks; written as f16", j->name,
                      (unsigned long long)j->ne[0], cove_type_info_get(c->p.type)->name);
    }
    j->n_bytes = cove_quant_row_bytes(j->type, (int64_t)j->ne[0]) * cove_convert_job_rows(j);
}

/* One source tensor into a job (or nothing when the table skips it). */
static cove_status plan_one(conv *c, const cove_convert_st_tensor *t, cove_error *err)
{
    cove_convert_map m;
    cove_error e = {0};
    const char *file = cove_convert_st_file(c->st, t->file);
    cove_status st = cove_convert_map_tensor(&c->cfg, t->name, &m, &e);
    if (st != COVE_OK)
        return cove_error_set(err, st, "%s: %s", file, cove_error_msg(&e));
    if (m.skip)
        return COVE_OK;
    cove_convert_job *j = &c->jobs[c->n_jobs];
    memset(j, 0, sizeof *j);
    if (!src_type(t->dtype, &j->src.type))
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, F16 "
                              "and BF16 are converted)", file, t->name,
                              cove_convert_dtype_name(t->dtype));
    if (t->n_dims < 1 || t->n_dims > 2)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s: tensor '%s' has %u dimensions "
                              "(1 or 2 are converted)", file, t->name, t->n_dims);
    snprintf(j->name, sizeof j->name, "%s", m.name);
    j->n_dims = t->n_dims;
    for (uint32_t d = 0; d < t->n_dims; d++)
        j->ne[d] = t->shape[t->n_dims - 1 - d];
    j->src.data = t->data;
    j->xform = m.xform;
    if ((j->xform & (COVE_XFORM_PERMUTE_Q | COVE_XFORM_PERMUTE_K)) &&
        (st = check_permute(c, j, file, t->name, err)) != COVE_OK)
        return st;
    choose_type(c, j, m.role);
    c->n_jobs++;
    return COVE_OK;
}

/* The generated rope_freqs.weight of Llama 3 rope scaling. */
static cove_status plan_rope_freqs(conv *c, cove_error *err)
{
    int64_t n = c->cfg.head_dim / 2;
    if (c->cfg.rope_scaling != COVE_ROPE_SCALING_LLAMA3)
        return COVE_OK;
    if (!(c->rope_factors = cove_malloc((size_t)n * sizeof(float))))
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_convert_llama3_rope_factors(&c->cfg, c->rope_factors);
    cove_convert_job *j = &c->jobs[c->n_jobs++];
    memset(j, 0, sizeof *j);
    snprintf(j->name, sizeof j->name, "rope_freqs.weight");
    j->type = COVE_TYPE_F32;
    j->n_dims = 1;
    j->ne[0] = (uint64_t)n;
    j->n_bytes = (uint64_t)n * sizeof(float);
    j->src = (cove_convert_src){c->rope_factors, COVE_TYPE_F32};
    return COVE_OK;
}

/* Block number of a GGUF name, -1 for globals. */
static long block_of(const char *name)
{
    return strncmp(name, "blk.", 4) == 0 ? strtol(name + 4, NULL, 10) : -1;
}

static int cmp_job(const void *a, const void *b)
{
    const cove_convert_job *x = a, *y = b;
    long bx = block_of(x->name), by = block_of(y->name);
    if (bx != by)
        return bx < by ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The rows of token_embd must be the vocabulary. */
static cove_status check_embd(const conv *c, cove_error *err)
{
    for (size_t i = 0; i < c->n_jobs; i++) {
        const cove_convert_job *j = &c->jobs[i];
        if (strcmp(j->name, "token_embd.weight") == 0) {
            if (j->n_dims != 2 || j->ne[1] != c->vocab.n || j->ne[0] != (uint64_t)c->cfg.n_embd)
                return cove_error_set(err, COVE_ERR_FORMAT, "%s: token_embd has shape [%llu, %llu]; "
                                      "the vocabulary has %u tokens of %lld", c->dir,
                                      (unsigned long long)j->ne[0],
                                      (unsigned long long)j->ne[1], c->vocab.n,
                                      (long long)c->cfg.n_embd);
            return COVE_OK;
        }
    }
    return cove_error_set(err, COVE_ERR_FORMAT, "%s: the weights have no token embeddings", c->dir);
}

static cove_status plan(conv *c, cove_error *err)
{
    size_t n = cove_convert_st_count(c->st);
    cove_status st;
    if (!(c->jobs = cove_calloc(n + 1, sizeof *c->jobs)))
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if ((st = plan_one(c, cove_convert_st_at(c->st, i), err)) != COVE_OK)
            return st;
    if ((st = plan_rope_freqs(c, err)) != COVE_OK)
        return st;
    qsort(c->jobs, c->n_jobs, sizeof *c->jobs, cmp_job);
    return check_embd(c, err);
}

/* ---- metadata and output ---- */

/* general.name: the parameter, else the directory's last component. */
static void default_name(const char *dir, char *buf, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    snprintf(buf, n, "%.*s", (int)(len - start), dir + start);
}

static cove_status write_meta(const conv *c, cove_gguf_writer *w, cove_error *err)
{
    char name[256];
    cove_status st;
    if (c->p.name)
        snprintf(name, sizeof name, "%s", c->p.name);
    else
        default_name(c->dir, name, sizeof name);
    if ((st = cove_gguf_writer_set_str(w, "general.architecture",
                                       cove_convert_arch_name(c->cfg.arch))) ||
        (st = cove_gguf_writer_set_str(w, "general.name", name)) ||
        (st = cove_gguf_writer_set_u32(w, "general.file_type", cove_convert_file_type(c->p.type))) ||
        (st = cove_gguf_writer_set_u32(w, "general.quantization_version", 2)))
        return cove_error_set(err, st, "cannot write general.*: %s (is the name valid UTF-8?)",
                              cove_status_str(st));
    if ((st = cove_convert_arch_write_meta(&c->cfg, c->vocab.n, w, err)) != COVE_OK)
        return st;
    return cove_convert_vocab_write(&c->vocab, w, err);
}

static cove_status write_file(conv *c, const char *out_path, cove_error *err)
{
    cove_gguf_writer *w;
    cove_convert_out *o = NULL;
    uint64_t total = 0, done = 0;
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_status st = write_meta(c, w, err);
    if (st == COVE_OK)
        st = cove_convert_out_open(out_path, w, c->jobs, c->n_jobs, &o, err);
    cove_gguf_writer_free(w);
    for (size_t i = 0; i < c->n_jobs; i++)
        total += c->jobs[i].n_bytes;
    for (size_t i = 0; st == COVE_OK && i < c->n_jobs; i++)
        st = cove_convert_write_job(o, &c->jobs[i], c->p.progress, c->p.progress_ctx, &done,
                                    total, err);
    if (st == COVE_OK)
        return cove_convert_out_finish(o, &c->rep.out_bytes, err);
    cove_convert_out_abort(o);
    return st;
}

static void fill_report(conv *c)
{
    cove_convert_report *r = &c->rep;
    snprintf(r->arch, sizeof r->arch, "%s", cove_convert_arch_name(c->cfg.arch));
    snprintf(r->tok_model, sizeof r->tok_model, "%s", c->vocab.model);
    snprintf(r->pre, sizeof r->pre, "%s", c->vocab.pre);
    r->n_vocab = c->vocab.n;
    r->n_tensors = c->n_jobs;
    for (size_t i = 0; i < c->n_jobs; i++) {
        const cove_convert_job *j = &c->jobs[i];
        const cove_type_info *ti = cove_type_info_get(j->type);
        r->n_params += j->ne[0] * cove_convert_job_rows(j);
        r->n_quantized += ti->block_size > 1;
    }
}

static cove_status run(conv *c, const char *out_path, cove_error *err)
{
    cove_status st = cove_convert_cfg_load(c->dir, &c->cfg, err);
    if (st == COVE_OK)
        st = cove_convert_vocab_load(c->dir, &c->cfg, c->p.pre, &c->vocab, err);
    if (st == COVE_OK && !c->p.vocab_only) {
        if ((st = cove_convert_st_open_dir(c->dir, &c->st, err)) == COVE_OK)
            st = plan(c, err);
    }
    if (st == COVE_OK)
        st = write_file(c, out_path, err);
    if (st == COVE_OK)
        fill_report(c);
    return st;
}

cove_status cove_convert_hf(const char *dir, const char *out_path,
                            const cove_convert_params *params, cove_convert_report *report,
                            cove_error *err)
{
    conv c;
    memset(&c, 0, sizeof c);
    c.p = params ? *params : cove_convert_default_params();
    c.dir = dir;
    if (!dir || !out_path)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no model directory or output path");
    if (!cove_convert_type_ok(c.p.type))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove cannot write tensors of type %s",
                              cove_type_info_get(c.p.type) ? cove_type_info_get(c.p.type)->name
                                                           : "(unknown)");
    if (c.p.pre && (!*c.p.pre || strlen(c.p.pre) >= sizeof c.vocab.pre))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "bad pre-tokenizer name");
    cove_status st = run(&c, out_path, err);
    if (st == COVE_OK && report)
        *report = c.rep;
    conv_release(&c);
    return st;
}
