/* The greeting library's interface: built into build/libgreet.a. */
#ifndef GREET_H
#define GREET_H

/* Write "Hello, NAME!" and a newline to standard output. */
void greet(const char *name);

#endif
