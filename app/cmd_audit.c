/*
 * app/cmd_audit.c - `cove audit`: verify, show and append to a tamper-evident audit log.
 *
 *   cove audit verify FILE [--pubkey K] [--allow-open]
 *   cove audit show FILE [--session S] [--tenant T] [--since T] [--until T] [--kind K]
 *   cove audit append [FILE] [--key K] [--every N] [--fsync P] [--hash-text] [--redact RE]...
 *
 * The log format and what verification proves: docs/audit.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "cli.h"

#define CMD "audit"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cove audit verify FILE [--pubkey K] [--allow-open]\n"
            "       cove audit show FILE [--session S] [--tenant T] [--since TIME] [--until TIME]\n"
            "                            [--kind KIND]\n"
            "       cove audit append [FILE] [--key K] [--every N] [--fsync record|checkpoint|never]\n"
            "                              [--hash-text] [--redact REGEX]...\n\n"
            "verify  checks every record of FILE: seq, hash chain, Merkle roots and checkpoint\n"
            "        signatures. Prints 'intact' and a summary and exits 0, or names the first bad\n"
            "        record (line, seq, reason) and exits 1.\n"
            "  --pubkey K     public key file (cove keygen) the checkpoints must be signed with;\n"
            "                 without it the log is checked for consistency with its own key only\n"
            "  --allow-open   accept a log that does not end with a closing checkpoint (one still\n"
            "                 being written); its last records are then covered by the chain only\n"
            "show    prints the records (JSON lines) that match every filter given.\n"
            "  --since/--until TIME  RFC 3339 time or date (2026-11-24, 2026-11-24T08:00:00Z),\n"
            "                 inclusive\n"
            "append  reads events as JSON lines on stdin ({\"kind\":\"prompt\",\"session\":\"s1\",\n"
            "        \"text\":\"...\"}; fields kind, tenant, session, tool, args, result_digest,\n"
            "        decision, model, text, status) and appends them, then closes the log.\n"
            "        FILE defaults to $COVE_AUDIT_LOG.\n"
            "  --key K        secret key file signing checkpoints (default: $COVE_AUDIT_KEY)\n"
            "  --every N      records between checkpoints (default 1000; 0: only at close)\n"
            "  --fsync P      when to fdatasync (default checkpoint)\n"
            "  --hash-text    store only SHA-256 and length of text and args\n"
            "  --redact RE    replace matches of the POSIX extended regex RE in text and args\n\n"
            "Exit status: 0 intact / done, 1 tampered or error, 2 bad usage.\n");
}

/* ---------------------------------------------------------------- verify */

static int cmd_verify(int argc, char **argv)
{
    const char *file = NULL, *pub = NULL;
    unsigned flags = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc)
            pub = argv[++i];
        else if (strcmp(argv[i], "--allow-open") == 0)
            flags |= COVE_AUDIT_VERIFY_ALLOW_OPEN;
        else if (argv[i][0] == '-' || file)
            return cli_usage_error(CMD, "unknown option or extra argument: '%s'", argv[i]);
        else
            file = argv[i];
    }
    if (!file)
        return cli_usage_error(CMD, "verify: give the log FILE");
    unsigned char pk[COVE_AUDIT_PUBKEY_BYTES];
    cove_error err = {0};
    if (pub && cove_audit_pubkey_load(pub, pk, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    struct cove_audit_report rep;
    cove_status s = cove_audit_verify(file, pub ? pk : NULL, flags, &rep, &err);
    if (s != COVE_OK && rep.bad_line == 0)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    if (!rep.intact) {
        printf("TAMPERED %s\n", file);
        if (rep.bad_seq >= 0)
            printf("first bad record: line %llu (seq %lld): %s\n", (unsigned long long)rep.bad_line,
                   (long long)rep.bad_seq, rep.reason);
        else
            printf("first bad record: line %llu: %s\n", (unsigned long long)rep.bad_line, rep.reason);
        printf("valid before it: %llu records, %llu checkpoints\n",
               (unsigned long long)rep.records, (unsigned long long)rep.checkpoints);
        return COVE_EXIT_ERROR;
    }
    printf("intact %s\nrecords: %llu\ncheckpoints: %llu\ncovered by the last checkpoint: %llu\n"
           "closed: %s\nroot: %s\n",
           file, (unsigned long long)rep.records, (unsigned long long)rep.checkpoints,
           (unsigned long long)rep.covered, rep.closed ? "yes" : "no (open)", rep.root);
    if (rep.is_signed)
        printf("key: %s%s\n", rep.key, pub ? " (the given key)" : " (the log's own; give --pubkey to check whose)");
    else
        printf("key: none (unsigned: proves consistency only, not origin)\n");
    return COVE_EXIT_OK;
}

/* ------------------------------------------------------------------ show */

struct show_filter {
    const char *session, *tenant, *kind;
    int64_t since, until;
    bool has_since, has_until;
    unsigned long shown;
};

static int show_one(const struct cove_audit_record *r, void *user)
{
    struct show_filter *f = user;
    if ((f->session && (!r->session || strcmp(f->session, r->session) != 0)) ||
        (f->tenant && (!r->tenant || strcmp(f->tenant, r->tenant) != 0)) ||
        (f->kind && strcmp(f->kind, r->kind) != 0) || (f->has_since && r->time_us < f->since) ||
        (f->has_until && r->time_us > f->until))
        return 0;
    fwrite(r->json, 1, r->json_len, stdout);
    fputc('\n', stdout);
    f->shown++;
    return 0;
}

/* --until DATE means the end of that day: a bare date gets 24 h minus 1 us. */
static int parse_bound(const char *s, bool end, int64_t *out)
{
    if (cove_audit_time_parse(s, out, NULL) != COVE_OK)
        return -1;
    if (end && strlen(s) == 10)
        *out += 86400LL * 1000000 - 1;
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    struct show_filter f = {0};
    const char *file = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--session") == 0 && v)
            f.session = argv[++i];
        else if (strcmp(a, "--tenant") == 0 && v)
            f.tenant = argv[++i];
        else if (strcmp(a, "--kind") == 0 && v)
            f.kind = argv[++i];
        else if (strcmp(a, "--since") == 0 && v) {
            if (parse_bound(argv[++i], false, &f.since) != 0)
                return cli_usage_error(CMD, "--since takes an RFC 3339 time or a date, not '%s'", v);
            f.has_since = true;
        } else if (strcmp(a, "--until") == 0 && v) {
            if (parse_bound(argv[++i], true, &f.until) != 0)
                return cli_usage_error(CMD, "--until takes an RFC 3339 time or a date, not '%s'", v);
            f.has_until = true;
        } else if (a[0] == '-' || file)
            return cli_usage_error(CMD, "unknown option, missing value or extra argument: '%s'", a);
        else
            file = a;
    }
    if (!file)
        return cli_usage_error(CMD, "show: give the log FILE");
    cove_error err = {0};
    if (cove_audit_read(file, show_one, &f, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    return fflush(stdout) == 0 ? COVE_EXIT_OK : cli_fail(CMD, "cannot write the output");
}

/* ---------------------------------------------------------------- append */

struct append_opts {
    struct cove_audit_params p;
    const char *redact[COVE_AUDIT_MAX_REDACT];
};

static int parse_fsync(const char *s, enum cove_audit_fsync *out)
{
    if (strcmp(s, "record") == 0)
        *out = COVE_AUDIT_FSYNC_RECORD;
    else if (strcmp(s, "checkpoint") == 0)
        *out = COVE_AUDIT_FSYNC_CHECKPOINT;
    else if (strcmp(s, "never") == 0)
        *out = COVE_AUDIT_FSYNC_NEVER;
    else
        return -1;
    return 0;
}

static int parse_append_args(int argc, char **argv, struct append_opts *o)
{
    long l;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--key") == 0 && v)
            o->p.key_path = argv[++i];
        else if (strcmp(a, "--every") == 0 && v) {
            if (cli_parse_long(argv[++i], 0, 1L << 30, &l) != 0)
                return cli_usage_error(CMD, "--every takes a count of records");
            o->p.checkpoint_every = (uint32_t)l;
        } else if (strcmp(a, "--fsync") == 0 && v) {
            if (parse_fsync(argv[++i], &o->p.fsync) != 0)
                return cli_usage_error(CMD, "--fsync takes record, checkpoint or never");
        } else if (strcmp(a, "--hash-text") == 0)
            o->p.text_mode = COVE_AUDIT_TEXT_HASH;
        else if (strcmp(a, "--redact") == 0 && v) {
            if (o->p.n_redact >= COVE_AUDIT_MAX_REDACT)
                return cli_usage_error(CMD, "at most %d --redact patterns", COVE_AUDIT_MAX_REDACT);
            o->redact[o->p.n_redact++] = argv[++i];
        } else if (a[0] == '-' || o->p.path)
            return cli_usage_error(CMD, "unknown option, missing value or extra argument: '%s'", a);
        else
            o->p.path = a;
    }
    if (!o->p.path && !getenv("COVE_AUDIT_LOG"))
        return cli_usage_error(CMD, "append: give the log FILE (or set COVE_AUDIT_LOG)");
    o->p.redact = o->redact;
    return 0;
}

/* One stdin line (a JSON object) into ev; the strings stay owned by o. */
static int event_from_json(json_t *o, struct cove_audit_event *ev, char **args_text)
{
    static const char *const fields[] = {"kind", "tenant", "session", "tool", "args",
                                         "result_digest", "decision", "model", "text", "status"};
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t i = 0;
        while (i < sizeof fields / sizeof fields[0] && strcmp(key, fields[i]) != 0)
            i++;
        if (i == sizeof fields / sizeof fields[0])
            return -1;
    }
    if (cove_audit_kind_parse(json_string_value(json_object_get(o, "kind")), &ev->kind) != COVE_OK)
        return -1;
    ev->tenant = json_string_value(json_object_get(o, "tenant"));
    ev->session = json_string_value(json_object_get(o, "session"));
    ev->tool = json_string_value(json_object_get(o, "tool"));
    ev->result_digest = json_string_value(json_object_get(o, "result_digest"));
    ev->decision = json_string_value(json_object_get(o, "decision"));
    ev->model = json_string_value(json_object_get(o, "model"));
    ev->text = json_string_value(json_object_get(o, "text"));
    json_t *args = json_object_get(o, "args"), *st = json_object_get(o, "status");
    if (json_is_string(args))
        ev->args = json_string_value(args);
    else if (args) {
        *args_text = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
        ev->args = *args_text;
    }
    if (json_is_integer(st)) {
        ev->status = json_integer_value(st);
        ev->has_status = true;
    }
    return 0;
}

static int append_stdin(cove_audit_log *log)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    cove_error err = {0};
    int rc = COVE_EXIT_OK;
    while (rc == COVE_EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (n > (ssize_t)COVE_AUDIT_MAX_RECORD) {
            rc = cli_fail(CMD, "stdin line %lu: longer than %u bytes", lineno, COVE_AUDIT_MAX_RECORD);
            break;
        }
        if (n <= 1 && (n == 0 || line[0] == '\n'))
            continue;
        json_t *o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
        struct cove_audit_event ev = {0};
        char *args_text = NULL;
        if (!json_is_object(o) || event_from_json(o, &ev, &args_text) != 0)
            rc = cli_fail(CMD, "stdin line %lu: not an event object (see --help)", lineno);
        else if (cove_audit_append(log, &ev, NULL, &err) != COVE_OK)
            rc = cli_fail(CMD, "%s", cove_error_msg(&err));
        free(args_text);
        json_decref(o);
    }
    free(line);
    return rc;
}

static int cmd_append(int argc, char **argv)
{
    struct append_opts o = {.p = cove_audit_default_params()};
    int rc = parse_append_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    cove_audit_log *log = NULL;
    cove_error err = {0};
    if (cove_audit_create_from_env(o.p.path, &o.p, &log, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    rc = append_stdin(log);
    if (cove_audit_close(log, &err) != COVE_OK && rc == COVE_EXIT_OK)
        rc = cli_fail(CMD, "%s", cove_error_msg(&err));
    return rc;
}

int cove_cmd_audit(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(CMD, "give a subcommand: verify, show or append");
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return COVE_EXIT_OK;
        }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc, argv);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc, argv);
    if (strcmp(argv[1], "append") == 0)
        return cmd_append(argc, argv);
    return cli_usage_error(CMD, "unknown subcommand '%s' (verify, show, append)", argv[1]);
}
