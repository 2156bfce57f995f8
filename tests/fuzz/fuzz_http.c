/*
 * fuzz_http.c - libFuzzer target for the HTTP API's request parsers (no sockets): any
 * bytes as the body of /completion, /v1/completions, /v1/chat/completions and
 * /v1/embeddings must be parsed or refused with a status and a message, never crash, and
 * never leave memory behind (the arena holds all of a parsed request).
 *
 * The first byte picks the parser, the rest is the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cove_arena *a = NULL;
    if (cove_arena_create(0, 16u << 20, &a) != COVE_OK)
        return 0;
    char param[COVE_SERVER_PARAM_MAX];
    cove_error err = {0};
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    cove_status st;
    switch (data[0] % 4) {
    case 0: {
        struct cove_server_completion_req r;
        st = cove_server_parse_completion(body, len, a, &r, param, &err);
        break;
    }
    case 1: {
        struct cove_server_completion_req r;
        st = cove_server_parse_v1_completion(body, len, a, &r, param, &err);
        break;
    }
    case 2: {
        struct cove_server_chat_req r;
        st = cove_server_parse_chat(body, len, a, &r, param, &err);
        if (st == COVE_OK) /* every message's strings are readable */
            for (size_t i = 0; i < r.n_messages; i++)
                if (r.messages[i].content)
                    (void)strlen(r.messages[i].content);
        break;
    }
    default: {
        struct cove_server_embed_req r;
        st = cove_server_parse_embed(body, len, a, &r, param, &err);
        break;
    }
    }
    if (st != COVE_OK && (err.msg[0] == '\0' || strlen(param) >= sizeof param))
        __builtin_trap(); /* a refusal always says why */
    cove_arena_free(a);
    return 0;
}
