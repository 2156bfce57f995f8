/*
 * auth.c - API keys and tenants, and how many requests each tenant runs at once.
 *
 * Keys are never compared as text: each stored key is kept as its BLAKE2b-256 digest, the
 * presented key is hashed the same way, and the digest is compared with every stored one
 * by sodium_memcmp (constant time, no early exit), so neither the position nor the length
 * of a match shows in the time taken. The key file's text is wiped after reading.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "server/server_int.h"

struct auth_entry {
    unsigned char digest[crypto_generichash_BYTES];
    char tenant[COVE_SERVER_MAX_KEY + 1];
    int tenant_index; /* entries of one tenant name share it */
};

struct srv_auth {
    struct auth_entry *e;
    int n;
};

static void digest_of(const char *key, size_t len, unsigned char out[crypto_generichash_BYTES])
{
    crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)key, len, NULL, 0);
}

/* One "KEY TENANT" line (already trimmed, not a comment). */
static cove_status add_line(srv_auth *a, char *line, int lineno, cove_error *err)
{
    char *save = NULL, *key = strtok_r(line, " \t", &save), *tenant = strtok_r(NULL, " \t", &save);
    if (!key || !tenant || strtok_r(NULL, " \t", &save))
        return cove_error_set(err, COVE_ERR_FORMAT, "API key file line %d: expected KEY TENANT",
                              lineno);
    if (strlen(key) > COVE_SERVER_MAX_KEY || strlen(tenant) > COVE_SERVER_MAX_KEY)
        return cove_error_set(err, COVE_ERR_LIMIT, "API key file line %d: a key or tenant "
                              "longer than %d bytes", lineno, COVE_SERVER_MAX_KEY);
    if (a->n == COVE_SERVER_MAX_TENANTS)
        return cove_error_set(err, COVE_ERR_LIMIT, "API key file: more than %d keys",
                              COVE_SERVER_MAX_TENANTS);
    struct auth_entry *e = &a->e[a->n];
    digest_of(key, strlen(key), e->digest);
    memcpy(e->tenant, tenant, strlen(tenant) + 1);
    e->tenant_index = a->n;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->e[i].tenant, tenant) == 0) {
            e->tenant_index = a->e[i].tenant_index;
            break;
        }
    a->n++;
    return COVE_OK;
}

static cove_status read_lines(srv_auth *a, FILE *f, cove_error *err)
{
    char line[2 * COVE_SERVER_MAX_KEY + 64];
    int lineno = 0;
    cove_status st = COVE_OK;
    while (st == COVE_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n')
            st = cove_error_set(err, COVE_ERR_LIMIT, "API key file line %d is too long", lineno);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (st == COVE_OK && *p && *p != '#')
            st = add_line(a, p, lineno, err);
    }
    sodium_memzero(line, sizeof line);
    if (st == COVE_OK && a->n == 0)
        st = cove_error_set(err, COVE_ERR_FORMAT, "the API key file holds no keys");
    return st;
}

cove_status srv_auth_load(const char *path, srv_auth **out, cove_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return cove_error_set(err, COVE_ERR_IO, "cannot open the API key file %s: %s", path,
                              strerror(errno));
    srv_auth *a = cove_calloc(1, sizeof *a);
    if (a)
        a->e = cove_calloc(COVE_SERVER_MAX_TENANTS, sizeof *a->e);
    cove_status st = a && a->e ? read_lines(a, f, err)
                               : cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    fclose(f);
    if (st != COVE_OK) {
        srv_auth_free(a);
        return st;
    }
    *out = a;
    return COVE_OK;
}

void srv_auth_free(srv_auth *a)
{
    if (!a)
        return;
    if (a->e)
        sodium_memzero(a->e, (size_t)COVE_SERVER_MAX_TENANTS * sizeof *a->e);
    cove_free(a->e);
    cove_free(a);
}

int srv_auth_check(const srv_auth *a, const char *key)
{
    unsigned char d[crypto_generichash_BYTES];
    digest_of(key, strlen(key), d);
    int found = -1;
    for (int i = 0; i < a->n; i++) {
        int eq = sodium_memcmp(d, a->e[i].digest, sizeof d) == 0;
        found = eq ? a->e[i].tenant_index : found;
    }
    sodium_memzero(d, sizeof d);
    return found;
}

const char *srv_auth_tenant(const srv_auth *a, int tenant)
{
    return a && tenant >= 0 && tenant < a->n ? a->e[tenant].tenant : "local";
}

/* ------------------------------------------------------------- concurrency */

struct srv_tenants {
    pthread_mutex_t mu;
    int max_each;
    int n;
    int *active; /* n + 1: the last is the keyless tenant */
};

cove_status srv_tenants_create(int n_tenants, int max_each, srv_tenants **out)
{
    srv_tenants *t = cove_calloc(1, sizeof *t);
    if (t)
        t->active = cove_calloc((size_t)n_tenants + 1, sizeof *t->active);
    if (!t || !t->active) {
        if (t)
            cove_free(t);
        return COVE_ERR_NOMEM;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->n = n_tenants;
    t->max_each = max_each;
    *out = t;
    return COVE_OK;
}

void srv_tenants_free(srv_tenants *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    cove_free(t->active);
    cove_free(t);
}

static int slot_of(const srv_tenants *t, int tenant)
{
    return tenant >= 0 && tenant < t->n ? tenant : t->n;
}

int srv_tenants_acquire(srv_tenants *t, int tenant)
{
    int i = slot_of(t, tenant), ok = 0;
    pthread_mutex_lock(&t->mu);
    if (t->active[i] < t->max_each) {
        t->active[i]++;
        ok = 1;
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void srv_tenants_release(srv_tenants *t, int tenant)
{
    int i = slot_of(t, tenant);
    pthread_mutex_lock(&t->mu);
    if (t->active[i] > 0)
        t->active[i]--;
    pthread_mutex_unlock(&t->mu);
}
