/*
 * audit/record.c - kind names and the JSON body of an event record, after the text
 * policy (store or hash) and redaction.
 */
#include <regex.h>
#include <string.h>

#include "audit/audit_int.h"
#include "audit/record_int.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "base/str.h"

static const char *const kind_names[COVE_AUDIT_KIND_COUNT] = {
    [COVE_AUDIT_PROMPT] = "prompt",
    [COVE_AUDIT_MODEL_OUTPUT] = "model_output",
    [COVE_AUDIT_TOOL_CALL] = "tool_call",
    [COVE_AUDIT_TOOL_RESULT] = "tool_result",
    [COVE_AUDIT_POLICY] = "policy",
    [COVE_AUDIT_FINAL_ANSWER] = "final_answer",
    [COVE_AUDIT_CHECKPOINT] = "checkpoint",
    [COVE_AUDIT_SESSION_START] = "session_start",
    [COVE_AUDIT_SESSION_END] = "session_end",
    [COVE_AUDIT_ERROR] = "error",
    [COVE_AUDIT_NOTE] = "note",
};

const char *cove_audit_kind_name(enum cove_audit_kind kind)
{
    if ((unsigned)kind >= COVE_AUDIT_KIND_COUNT)
        return "unknown";
    return kind_names[kind];
}

cove_status cove_audit_kind_parse(const char *name, enum cove_audit_kind *out)
{
    for (int k = 0; name && k < COVE_AUDIT_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (enum cove_audit_kind)k;
            return COVE_OK;
        }
    return COVE_ERR_NOT_FOUND;
}

/* Length of the longest prefix of s (len bytes) no longer than max that ends on a
 * UTF-8 character boundary. */
static size_t cut_utf8(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Replace every match of re in text (NUL-terminated) with mark, into out. */
static cove_status redact_one(const regex_t *re, const char *text, const char *mark,
                              struct cove_buf *out)
{
    const char *p = text;
    int eflags = 0;
    regmatch_t m;
    cove_status s = COVE_OK;
    while (s == COVE_OK && *p && regexec(re, p, 1, &m, eflags) == 0) {
        if (m.rm_eo == m.rm_so) { /* an empty match: keep one byte and go on */
            s = cove_buf_append(out, p, (size_t)m.rm_so + 1);
            p += m.rm_so + 1;
        } else {
            s = cove_buf_append(out, p, (size_t)m.rm_so);
            if (s == COVE_OK)
                s = cove_buf_append_str(out, mark);
            p += m.rm_eo;
        }
        eflags = REG_NOTBOL;
    }
    return s == COVE_OK ? cove_buf_append_str(out, p) : s;
}

/*
 * Apply every pattern in turn; *io holds the text and receives the result, at most
 * COVE_AUDIT_MAX_FIELD bytes: a result that would be longer is cut and *cut set.
 */
static cove_status redact_all(const struct audit_policy *pol, struct cove_buf *io, bool *cut)
{
    struct cove_buf tmp;
    for (size_t i = 0; i < pol->n_redact; i++) {
        cove_buf_init(&tmp, COVE_AUDIT_MAX_FIELD);
        cove_status s = redact_one(&pol->redact[i], io->data ? io->data : "", pol->mark, &tmp);
        if (s == COVE_ERR_LIMIT) {
            *cut = true; /* tmp holds a whole prefix of the redacted text */
        } else if (s != COVE_OK) {
            cove_buf_release(&tmp);
            return s;
        }
        cove_buf_release(io);
        *io = tmp;
    }
    return COVE_OK;
}

/*
 * Append ,"NAME":"<stored text>" or the hash form for one free-text field. The hash
 * of the full original is given whenever the text is not stored whole.
 */
static cove_status put_text(struct cove_buf *b, const struct audit_policy *pol, const char *name,
                            const char *text)
{
    size_t len = strlen(text);
    char hex[COVE_AUDIT_HEX_LEN + 1];
    if (pol->mode == COVE_AUDIT_TEXT_HASH) {
        cove_audit_sha256_hex(text, len, hex);
        return cove_buf_appendf(b, ",\"%s_sha256\":\"%s\",\"%s_len\":%zu", name, hex, name, len);
    }
    struct cove_buf t;
    cove_buf_init(&t, COVE_AUDIT_MAX_FIELD);
    size_t keep = cut_utf8(text, len, COVE_AUDIT_MAX_FIELD);
    bool cut = keep < len;
    cove_status s = cove_buf_append(&t, text, keep);
    if (s == COVE_OK)
        s = redact_all(pol, &t, &cut);
    if (s == COVE_OK)
        s = cove_buf_appendf(b, ",\"%s\":", name);
    if (s == COVE_OK)
        s = cove_json_append_string(b, t.data ? t.data : "", t.len);
    if (s == COVE_OK && cut) {
        cove_audit_sha256_hex(text, len, hex);
        s = cove_buf_appendf(b, ",\"%s_truncated\":true,\"%s_len\":%zu,\"%s_sha256\":\"%s\"", name,
                             name, len, name, hex);
    }
    cove_buf_release(&t);
    return s;
}

/* Append ,"NAME":"value" for a short identifier field (NULL: nothing). */
static cove_status put_id(struct cove_buf *b, const char *name, const char *v, cove_error *err)
{
    if (!v)
        return COVE_OK;
    size_t n = strlen(v);
    if (n > COVE_AUDIT_MAX_ID)
        return cove_error_set(err, COVE_ERR_LIMIT, "audit: %s longer than %d bytes", name,
                              COVE_AUDIT_MAX_ID);
    cove_status s = cove_buf_appendf(b, ",\"%s\":", name);
    return s == COVE_OK ? cove_json_append_string(b, v, n) : s;
}

cove_status audit_event_body(const struct audit_policy *pol, const struct cove_audit_event *ev,
                             struct cove_buf *b, cove_error *err)
{
    if (!ev || (unsigned)ev->kind >= COVE_AUDIT_KIND_COUNT || ev->kind == COVE_AUDIT_CHECKPOINT)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "audit: bad event kind");
    cove_status s = cove_buf_appendf(b, ",\"kind\":\"%s\"", cove_audit_kind_name(ev->kind));
    const char *names[] = {"tenant", "session", "tool", "decision", "model", "result_digest"};
    const char *vals[] = {ev->tenant, ev->session, ev->tool, ev->decision, ev->model,
                          ev->result_digest};
    for (size_t i = 0; s == COVE_OK && i < sizeof names / sizeof names[0]; i++)
        s = put_id(b, names[i], vals[i], err);
    if (s == COVE_OK && ev->has_status)
        s = cove_buf_appendf(b, ",\"status\":%lld", (long long)ev->status);
    if (s == COVE_OK && ev->args)
        s = put_text(b, pol, "args", ev->args);
    if (s == COVE_OK && ev->text)
        s = put_text(b, pol, "text", ev->text);
    if (s != COVE_OK && (!err || err->status == COVE_OK || err->status != s))
        cove_error_set(err, s, "audit: record too large or out of memory (%s)",
                       cove_status_str(s));
    return s;
}

cove_status audit_policy_init(struct audit_policy *pol, const struct cove_audit_params *p,
                              cove_error *err)
{
    memset(pol, 0, sizeof *pol);
    pol->mode = p->text_mode;
    if (p->n_redact > COVE_AUDIT_MAX_REDACT)
        return cove_error_set(err, COVE_ERR_LIMIT, "audit: more than %d redaction patterns",
                              COVE_AUDIT_MAX_REDACT);
    const char *mark = p->redact_mark ? p->redact_mark : "[REDACTED]";
    if (strlen(mark) > 64)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "audit: redaction mark over 64 bytes");
    pol->mark = cove_strdup(mark);
    if (!pol->mark)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    if (p->n_redact == 0)
        return COVE_OK;
    pol->redact = cove_calloc(p->n_redact, sizeof *pol->redact);
    if (!pol->redact)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_redact; i++) {
        int rc = p->redact[i] ? regcomp(&pol->redact[i], p->redact[i], REG_EXTENDED) : REG_BADPAT;
        if (rc != 0) {
            char msg[128];
            if (p->redact[i])
                regerror(rc, &pol->redact[i], msg, sizeof msg);
            else
                strcpy(msg, "NULL pattern");
            return cove_error_set(err, COVE_ERR_INVALID_ARG, "audit: redaction pattern %zu: %s",
                                  i + 1, msg);
        }
        pol->n_redact++;
    }
    return COVE_OK;
}

void audit_policy_release(struct audit_policy *pol)
{
    for (size_t i = 0; i < pol->n_redact; i++)
        regfree(&pol->redact[i]);
    cove_free(pol->redact);
    cove_free(pol->mark);
    memset(pol, 0, sizeof *pol);
}
