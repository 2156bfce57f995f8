#include <stdio.h>

#include "cli.h"

int cove_cmd_complete(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("complete", "not available yet");
}
