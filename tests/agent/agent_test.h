/*
 * tests/agent/agent_test.h - fixtures shared by the agent tests.
 */
#ifndef COVE_TESTS_AGENT_TEST_H
#define COVE_TESTS_AGENT_TEST_H

#include <stdio.h>

/* Write text to dir/name (dir must exist). 0 on success. */
int at_write(const char *dir, const char *name, const char *text);

/* A fresh directory under the test tmpdir: "<tmp>/<name>" (static buffer per call slot). */
const char *at_dir(const char *name);

/* Create a device table at path: lamp (on/off), thermostat 16..28 C, blinds 0..100 %. */
int at_devices(const char *path);

/*
 * A sample root: <tmp>/<name>/docs with a.txt (about a pelican, contract term 24 months)
 * and b.txt (garden notes), plus <tmp>/<name>/secret.txt outside it and a symlink
 * docs/link -> ../secret.txt. Returns the docs path (static buffer).
 */
const char *at_root(const char *name);

#endif
