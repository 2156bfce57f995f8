/*
 * convert/quantize.c - cove_convert_quantize: a GGUF file requantized to another type.
 *
 * Eligible tensors: two dimensions, a name ending in ".weight", not a lookup table of
 * positions or token types, and rows that are whole blocks of the target type. They go
 * through f32 (the source type's dequantizer) into the target type; a tensor already of
 * the target type is copied unchanged, so requantizing to the same type loses nothing.
 * Everything else is copied byte for byte in its own type and order.
 */
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/log.h"
#include "convert/convert_int.h"
#include "engine/kernels/quants.h"

static int is_table(const char *name)
{
    return strncmp(name, "position_embd.", 14) == 0 || strncmp(name, "token_types.", 12) == 0;
}

/* A 2-D weight matrix that quantization applies to (block size aside). */
static int is_matrix(const cove_gguf_tensor *t, const char *name)
{
    size_t n = strlen(name);
    return t->n_dims == 2 && n > 7 && strcmp(name + n - 7, ".weight") == 0 && !is_table(name);
}

static cove_status plan_one(const cove_gguf_tensor *t, enum cove_ggml_type want,
                            cove_convert_job *j, cove_convert_report *rep, cove_error *err)
{
    const cove_type_info *wi = cove_type_info_get(want), *si = cove_type_info_get(t->type);
    memset(j, 0, sizeof *j);
    memcpy(j->name, t->name.ptr, (size_t)t->name.len);
    j->name[t->name.len] = '\0';
    j->n_dims = t->n_dims;
    for (uint32_t d = 0; d < COVE_GGUF_MAX_DIMS; d++)
        j->ne[d] = t->ne[d];
    j->src = (cove_convert_src){t->data, t->type};
    j->type = t->type;
    j->n_bytes = t->n_bytes;
    if (!is_matrix(t, j->name) || t->type == want)
        return COVE_OK;
    if (t->ne[0] % wi->block_size != 0) {
        rep->n_fallback++;
        cove_log_warn("%s: rows of %llu are not whole %s blocks; kept as %s", j->name,
                      (unsigned long long)t->ne[0], wi->name, si->name);
        return COVE_OK;
    }
    const cove_quant_ops *ops = cove_quant_ops_get(t->type);
    if (!ops || !ops->dequantize_row)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "tensor %s has type %s, which cove "
                              "cannot dequantize", j->name, si->name);
    j->type = want;
    j->n_bytes = cove_quant_row_bytes(want, (int64_t)t->ne[0]) * cove_convert_job_rows(j);
    return COVE_OK;
}

static cove_status plan(const cove_gguf *g, enum cove_ggml_type want, cove_convert_job **jobs,
                        cove_convert_report *rep, cove_error *err)
{
    uint64_t n = cove_gguf_tensor_count(g);
    *jobs = cove_calloc((size_t)n + 1, sizeof **jobs);
    if (!*jobs)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        cove_status st = plan_one(cove_gguf_tensor_at(g, i), want, &(*jobs)[i], rep, err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

static cove_status write_meta(const cove_gguf *g, enum cove_ggml_type want, cove_gguf_writer *w,
                              cove_error *err)
{
    static const char *const skip[] = {"general.alignment", "general.file_type",
                                       "general.quantization_version", NULL};
    cove_status st = cove_convert_copy_meta(g, w, skip, err);
    if (st != COVE_OK)
        return st;
    if ((st = cove_gguf_writer_set_u32(w, "general.file_type", cove_convert_file_type(want))) ||
        (st = cove_gguf_writer_set_u32(w, "general.quantization_version", 2)))
        return cove_error_set(err, st, "cannot set general.file_type");
    return COVE_OK;
}

static cove_status write_all(const cove_gguf *g, const char *out_path, const cove_convert_job *jobs,
                             const cove_quantize_params *p, cove_convert_report *rep,
                             cove_error *err)
{
    uint64_t n = cove_gguf_tensor_count(g), total = 0, done = 0;
    cove_convert_out *o = NULL;
    cove_gguf_writer *w;
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    cove_status st = write_meta(g, p->type, w, err);
    if (st == COVE_OK)
        st = cove_convert_out_open(out_path, w, jobs, (size_t)n, &o, err);
    cove_gguf_writer_free(w);
    for (uint64_t i = 0; i < n; i++)
        total += jobs[i].n_bytes;
    for (uint64_t i = 0; st == COVE_OK && i < n; i++)
        st = cove_convert_write_job(o, &jobs[i], p->progress, p->progress_ctx, &done, total, err);
    if (st == COVE_OK)
        return cove_convert_out_finish(o, &rep->out_bytes, err);
    cove_convert_out_abort(o);
    return st;
}

static void fill_report(const cove_gguf *g, const cove_convert_job *jobs,
                        cove_convert_report *rep)
{
    cove_gguf_str s;
    if (cove_gguf_get_str(g, "general.architecture", &s) == COVE_OK)
        snprintf(rep->arch, sizeof rep->arch, "%.*s", (int)(s.len < 31 ? s.len : 31), s.ptr);
    if (cove_gguf_get_str(g, "tokenizer.ggml.model", &s) == COVE_OK)
        snprintf(rep->tok_model, sizeof rep->tok_model, "%.*s", (int)(s.len < 15 ? s.len : 15),
                 s.ptr);
    rep->n_tensors = cove_gguf_tensor_count(g);
    for (uint64_t i = 0; i < rep->n_tensors; i++) {
        rep->n_params += jobs[i].ne[0] * cove_convert_job_rows(&jobs[i]);
        rep->n_quantized += cove_type_info_get(jobs[i].type)->block_size > 1;
    }
}

/* 1 when both paths name the same existing file. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The input file; the reader's message gets the path in front. */
static cove_status open_input(const char *path, cove_gguf **g, cove_error *err)
{
    cove_error e = {0};
    cove_status st = cove_gguf_open(path, g, &e);
    if (st != COVE_OK)
        return cove_error_set(err, st, "%s: %s", path, cove_error_msg(&e));
    return COVE_OK;
}

cove_status cove_convert_quantize(const char *in_path, const char *out_path,
                                  const cove_quantize_params *params,
                                  cove_convert_report *report, cove_error *err)
{
    cove_convert_report rep;
    cove_convert_job *jobs = NULL;
    cove_gguf *g = NULL;
    memset(&rep, 0, sizeof rep);
    if (!in_path || !out_path || !params)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "no input, output or parameters");
    if (!cove_convert_type_ok(params->type))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove cannot write tensors of type %s",
                              cove_type_info_get(params->type)
                                  ? cove_type_info_get(params->type)->name : "(unknown)");
    if (same_file(in_path, out_path))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "%s: the output must be another file",
                              out_path);
    cove_status st = open_input(in_path, &g, err);
    if (st == COVE_OK)
        st = plan(g, params->type, &jobs, &rep, err);
    if (st == COVE_OK)
        st = write_all(g, out_path, jobs, params, &rep, err);
    if (st == COVE_OK) {
        fill_report(g, jobs, &rep);
        if (report)
            *report = rep;
    }
    cove_free(jobs);
    cove_gguf_free(g);
    return st;
}
