#include <stdio.h>

#include "cli.h"

int cove_cmd_models(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("models", "not available yet");
}
