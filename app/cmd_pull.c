#include <stdio.h>

#include "cli.h"

int cove_cmd_pull(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("pull", "not available yet");
}
