/*
 * Kernel command line: "key=value key2=value2 flag ...", separated by
 * spaces.  Lookups copy the value out; nothing is modified or allocated.
 */
#ifndef RVMM_LIB_BOOTARGS_H
#define RVMM_LIB_BOOTARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * bootarg_get: copies the value of `key` into buf (NUL-terminated,
 * truncated to size).  A bare "key" yields "".  Returns true if present.
 */
bool bootarg_get(const char *args, const char *key, char *buf, size_t size);

/* Parses a decimal or 0x-hexadecimal value, with optional K/M/G suffix. */
bool bootarg_parse_u64(const char *s, uint64_t *out);

/*
 * bootarg_get + bootarg_parse_u64: dflt when absent; a value that is
 * present but not a number panics naming the key (a typo must not run
 * with the default).  pre: after the port can panic (hal_host.c parses its
 * own early arguments with bootarg_parse_u64).
 */
uint64_t bootarg_u64(const char *args, const char *key, uint64_t dflt);

/*
 * bootarg_list_next: the next comma-separated word of a list, for a loop
 * over its words: copies it into word (NUL-terminated, truncated to size
 * - 1 bytes; an empty word between two commas is ""), sets *len (if not
 * NULL) to its length before truncation, moves *p past it and its comma,
 * and returns true; false once *p is at the end.  pre: size >= 1.
 */
bool bootarg_list_next(const char **p, char *word, size_t size, size_t *len);

/* True if `item` is one of the comma-separated entries of `list`. */
bool bootarg_list_has(const char *list, const char *item);

/*
 * True if `name` contains one of the comma-separated words of `list` as a
 * substring (how bench= selects benchmarks).  An empty list matches all.
 */
bool bootarg_list_matches(const char *list, const char *name);

#endif /* RVMM_LIB_BOOTARGS_H */
