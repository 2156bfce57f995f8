/*
 * bench/bench_sandbox.c - what confinement costs per tool call.
 *
 *   bench_sandbox [-n CALLS]
 *
 * One markdown table: wall milliseconds per call (median and p95 over CALLS, default 200)
 * of read_file on a 4 KiB file in-process (the handler called directly) and through the
 * registry in the sandbox (fork, Landlock, seccomp, rlimits, result frame), a sandboxed
 * function that returns at once, and /bin/true under cove_sandbox_exec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/registry.h"
#include "agent/tools/tools.h"
#include "sandbox/sandbox.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void row(const char *what, double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("| %s | %d | %.3f | %.3f |\n", what, n, t[n / 2], t[(n * 95) / 100]);
}

static cove_status nothing(void *arg, int fd, cove_error *err)
{
    (void)arg;
    return cove_sandbox_write_all(fd, "ok", 2, err);
}

int main(int argc, char **argv)
{
    int n = argc > 2 && strcmp(argv[1], "-n") == 0 ? atoi(argv[2]) : 200;
    if (n < 1 || n > 100000)
        n = 200;
    char dir[] = "/tmp/cove-bench-sandbox-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/doc.txt", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < 64; i++)
        fprintf(f, "line %02d of a four kilobyte document for the sandbox benchmark..\n", i);
    if (f)
        fclose(f);
    struct cove_agent_env env;
    cove_agent_env_init(&env);
    cove_agent_registry *r = NULL;
    if (cove_agent_env_add_root(&env, dir, NULL) != COVE_OK ||
        cove_agent_registry_create(&r, NULL) != COVE_OK ||
        cove_agent_registry_add_builtins(r, NULL, 0, NULL) != COVE_OK)
        return 1;
    double *t = malloc((size_t)n * sizeof *t);
    struct cove_agent_obs obs;
    cove_agent_obs_init(&obs);
    json_t *args = json_pack("{s:s}", "path", "doc.txt");
    char line[256];
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    printf("sandbox: %s\n\n", cove_sandbox_caps_describe(&caps, line, sizeof line));
    printf("| call | calls | median ms | p95 ms |\n|---|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        cove_buf_reset(&obs.text);
        cove_agent_tool_read_file.handler(&env, args, &obs, NULL);
        t[i] = now_ms() - t0;
    }
    row("read_file, in-process handler", t, n);
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        cove_agent_registry_invoke(r, &env, "read_file", "{\"path\":\"doc.txt\"}", NULL, &obs,
                                   NULL);
        t[i] = now_ms() - t0;
        if (obs.is_error)
            return fprintf(stderr, "read_file failed: %s\n", obs.text.data), 1;
    }
    row("read_file, sandboxed (registry)", t, n);
    struct cove_sandbox_policy p = cove_sandbox_policy_default();
    struct cove_buf out;
    cove_buf_init(&out, 1 << 20);
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        cove_buf_reset(&out);
        cove_sandbox_run_fn(&p, nothing, NULL, &out, NULL, NULL);
        t[i] = now_ms() - t0;
    }
    row("empty function, cove_sandbox_run_fn", t, n);
    cove_sandbox_policy_add_system(&p, NULL);
    const char *argv_true[] = {"/bin/true", NULL};
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        cove_buf_reset(&out);
        cove_sandbox_exec(&p, argv_true, NULL, 0, &out, NULL, NULL);
        t[i] = now_ms() - t0;
    }
    row("/bin/true, cove_sandbox_exec", t, n);
    cove_buf_release(&out);
    json_decref(args);
    cove_agent_obs_release(&obs);
    cove_agent_registry_free(r);
    cove_agent_env_release(&env);
    free(t);
    unlink(path);
    rmdir(dir);
    return 0;
}
