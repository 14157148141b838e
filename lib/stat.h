/*
 * Statistics counters with one writer (a per-CPU counter bumped by its own
 * cpu) and any number of readers.  The writer needs no atomic
 * read-modify-write: a relaxed load and store of its own cache line.
 * Readers on other cpus use stat_read() and may see a slightly old value.
 */
#ifndef RVMM_LIB_STAT_H
#define RVMM_LIB_STAT_H

#include <stdint.h>

#include <ck_pr.h>

static inline void
stat_add(uint64_t *c, uint64_t n)
{
	ck_pr_store_64(c, ck_pr_load_64(c) + n);
}

static inline void
stat_inc(uint64_t *c)
{
	stat_add(c, 1);
}

static inline uint64_t
stat_read(const uint64_t *c)
{
	return ck_pr_load_64((uint64_t *)(uintptr_t)c);
}

#endif /* RVMM_LIB_STAT_H */
