/*
 * tests/agent/plugins/echo_plugin.c - an executable tool plugin for the tests. It reads
 * the arguments {"op": ..., "path": ...} on stdin and does what "op" says: "echo" prints
 * them back, "read" prints the file at "path", "net" tries a socket, "fork" tries a
 * child process, "fail" exits 3 with a message on stderr, "flood" writes without end.
 * The roots it was granted arrive as arguments NAME=PATH and are printed first.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The string value of "key" in a flat JSON object (no escapes), into out. */
static int field(const char *json, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    static char in[65536], op[64], path[4096], buf[4096];
    size_t n = fread(in, 1, sizeof in - 1, stdin);
    in[n] = '\0';
    for (int i = 1; i < argc; i++)
        printf("root %s\n", argv[i]);
    if (field(in, "op", op, sizeof op) != 0) {
        fprintf(stderr, "no op");
        return 2;
    }
    if (strcmp(op, "echo") == 0) {
        printf("echo %s\n", in);
    } else if (strcmp(op, "read") == 0) {
        field(in, "path", path, sizeof path);
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            printf("read denied\n");
            return 0;
        }
        ssize_t r = read(fd, buf, sizeof buf - 1);
        buf[r > 0 ? r : 0] = '\0';
        printf("read ok: %s\n", buf);
    } else if (strcmp(op, "net") == 0) {
        printf("socket %s\n", socket(AF_INET, SOCK_STREAM, 0) >= 0 ? "opened" : "denied");
    } else if (strcmp(op, "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        printf("fork %s\n", pid > 0 ? "worked" : "denied");
    } else if (strcmp(op, "fail") == 0) {
        fprintf(stderr, "the widget is broken");
        return 3;
    } else if (strcmp(op, "flood") == 0) {
        memset(buf, 'x', sizeof buf);
        for (;;)
            if (fwrite(buf, 1, sizeof buf, stdout) != sizeof buf)
                return 1;
    }
    return 0;
}
