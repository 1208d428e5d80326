/*
 * Writing text into a format that reserves characters (JUnit's XML,
 * Mermaid's labels): one loop, each format a table of replacements.
 */
#ifndef VPCFW_ESCAPE_H
#define VPCFW_ESCAPE_H

#include <stdio.h>

/* s (NULL: nothing) to out, each byte c as table[c] when that is set;
 * else a control character (< 0x20) as ctrl when that is set; else as it
 * is. table has 128 entries. */
void escape_put(FILE *out, const char *s, const char *const *table, const char *ctrl);

#endif
