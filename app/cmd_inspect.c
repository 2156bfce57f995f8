#include <stdio.h>

#include "cli.h"

int cove_cmd_inspect(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("inspect", "not available yet");
}
