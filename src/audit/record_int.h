/*
 * audit/record_int.h - the text policy of a log and the JSON body of an event.
 */
#ifndef COVE_AUDIT_RECORD_INT_H
#define COVE_AUDIT_RECORD_INT_H

#include <regex.h>
#include <stddef.h>

#include "audit/audit.h"
#include "base/buf.h"

/* What a log does to free text before storing it. Read-only after init (shared by threads). */
struct audit_policy {
    enum cove_audit_text_mode mode;
    regex_t *redact; /* owned, n_redact compiled patterns */
    size_t n_redact;
    char *mark;      /* owned */
};

/* Compile p's patterns. On failure what was set up must still be released. */
cove_status audit_policy_init(struct audit_policy *pol, const struct cove_audit_params *p,
                              cove_error *err);
void audit_policy_release(struct audit_policy *pol);

/*
 * Append the event's fields, from ,"kind":... on, to b (no braces, no seq/time/prev).
 * Uses only the read-only policy: safe to call from many threads at once.
 */
cove_status audit_event_body(const struct audit_policy *pol, const struct cove_audit_event *ev,
                             struct cove_buf *b, cove_error *err);

#endif
