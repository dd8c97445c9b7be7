/* The example program: greets each argument, or the world. */
#include <stdio.h>

#include "greet.h"
#include "version.h" /* generated from example/VERSION into build/gen/ */

int main(int argc, char **argv)
{
    int i;

    printf("hello-example %s\n", EXAMPLE_VERSION);
    if (argc < 2)
        greet("world");
    for (i = 1; i < argc; i++)
        greet(argv[i]);
    return 0;
}
