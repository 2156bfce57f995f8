/*
 * fuzz_chat.c - libFuzzer target for chat template detection: any bytes as a
 * tokenizer.chat_template text must be classified without a crash, and the
 * family found must format a small conversation.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "engine/tokenizer/chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cove_chat_template_info info;
    cove_chat_inspect((const char *)data, size, &info);
    struct cove_chat_message m[2] = {{.role = COVE_CHAT_SYSTEM, .content = "s"},
                                     {.role = COVE_CHAT_USER, .content = "u"}};
    struct cove_chat_options opt = cove_chat_default_options();
    opt.default_system = info.has_default_system ? info.default_system : NULL;
    char *out = NULL;
    cove_chat_format(info.family, m + 1, 1, &opt, &out, NULL, NULL);
    cove_free(out);
    return 0;
}
