/*
 * tests/agent/test_fixtures.c - files, directories and device tables for the agent tests.
 */
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_test.h"
#include "test.h"

int at_write(const char *dir, const char *name, const char *text)
{
    char path[8192];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

const char *at_dir(const char *name)
{
    static char bufs[8][4096];
    static int slot;
    char *p = bufs[slot++ % 8];
    snprintf(p, 4096, "%.3000s/%.900s", test_tmpdir(), name);
    mkdir(p, 0700);
    return p;
}

int at_devices(const char *path)
{
    sqlite3 *db = NULL;
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    int rc = sqlite3_exec(db,
        "CREATE TABLE devices(name TEXT PRIMARY KEY, kind TEXT, state TEXT, value REAL,"
        " min REAL, max REAL, unit TEXT);"
        "INSERT INTO devices VALUES('lamp','light','off',NULL,NULL,NULL,NULL);"
        "INSERT INTO devices VALUES('thermostat','heating','on',20,16,28,'C');"
        "INSERT INTO devices VALUES('blinds','cover','on',50,0,100,'%');",
        NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

const char *at_root(const char *name)
{
    static char docs[4096];
    const char *base = at_dir(name);
    if ((size_t)snprintf(docs, sizeof docs, "%.4000s/docs", base) >= sizeof docs)
        return NULL;
    mkdir(docs, 0700);
    at_write(docs, "a.txt", "The pelican contract runs for 24 months and renews automatically "
                            "unless cancelled in writing.\n");
    at_write(docs, "b.txt", "Garden notes: water the tomatoes every morning.\n");
    at_write(base, "secret.txt", "top secret outside the root\n");
    char link[4200];
    snprintf(link, sizeof link, "%s/link", docs);
    unlink(link);
    if (symlink("../secret.txt", link) != 0)
        return NULL;
    return docs;
}
