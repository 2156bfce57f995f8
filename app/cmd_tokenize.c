#include <stdio.h>

#include "cli.h"

int cove_cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("tokenize", "not available yet");
}
