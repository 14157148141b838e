/*
 * string.h for the port's files (ports/xv6): xv6's kernel has no C
 * library; the string functions are those of its kernel/string.c, declared
 * here as kernel/defs.h declares them (Concurrency Kit's headers include
 * <string.h>), plus the three the port adds for librvmm.a (rvmm_start.c).
 */
#ifndef RVMM_XV6_STRING_H
#define RVMM_XV6_STRING_H

void *memset(void *, int, unsigned int);
int memcmp(const void *, const void *, unsigned int);
void *memmove(void *, const void *, unsigned int);
void *memcpy(void *, const void *, unsigned int);
int strncmp(const char *, const char *, unsigned int);
int strlen(const char *);
char *strchr(const char *, int);
int strcmp(const char *, const char *);
char *strstr(const char *, const char *);

#endif
