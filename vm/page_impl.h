/*
 * page_impl.h: private layout of the page allocator (see page.c's theory
 * comment).  Only vm/page*.c include this.
 *
 * Lock order: a cpu's cache (interrupts off, no lock) before a region's
 * lock; region locks are never nested (a spill that crosses regions drops
 * one before taking the next).  Region locks are always taken with
 * interrupts disabled, since the drain IPI takes them too.
 *
 * Field legend: (C) constant after page_init, (F) region lock,
 * (L) owning cpu with interrupts off, or in a hit path with `busy` set
 * (see page.c, 3.), (A) atomic, (S) written by the
 * owner only with stat_inc/stat_add, read by anyone with stat_read.
 */
#ifndef RVMM_VM_PAGE_IMPL_H
#define RVMM_VM_PAGE_IMPL_H

#include <ck_spinlock.h>

#include "vm/page.h"

struct page_region {
	ck_spinlock_t lock;
	paddr_t base;				/* (C) first frame's address */
	size_t npages;				/* (C) frames, reserved included */
	struct vm_page *pages;			/* (C) npages entries */
	CK_LIST_HEAD(page_list, vm_page) free[PAGE_NORDERS];	/* (F) */
	size_t nfree[PAGE_NORDERS];		/* (F) blocks on free[o] */
	size_t free_pages;			/* (F) frames in free blocks */
	size_t managed;				/* (C) frames not reserved */
	uint64_t splits;			/* (F) */
	uint64_t merges;			/* (F) */
} HAL_CACHE_ALIGNED;

/* A per-CPU stack of free blocks of one order, linked through pg_link. */
struct page_pcp {
	struct vm_page *head;			/* (L) */
	/*
	 * The blocks in the cache are base + frees - hits (mod 2^64,
	 * pcp_count() in page.c): the hit paths count their operations,
	 * which the statistics need anyway, and only the slow paths (refill,
	 * spill, drain, their pushes and pops) move base.  Each is stored
	 * atomically for page_cpu_stats().
	 */
	uint64_t base;				/* (L) */
	uint64_t hits;				/* (L) hit-path allocations */
	uint64_t frees;				/* (L) hit-path frees */
	uint64_t high;				/* (C) spill above this many (64
						   bits: compared with the count) */
	unsigned batch;				/* (C) blocks moved per refill/spill */
} __attribute__((aligned(64)));	/* a power of two: the hit paths index
					   pcp[order] with a shift */

/* Per-CPU counters; page_cpu_stats() turns them into struct page_cpu_stats. */
struct page_cpu_counters {
	uint64_t allocs;			/* not from the cache */
	uint64_t pcp_allocs;			/* from the cache */
	uint64_t pcp_misses;			/* cache empty: refill tried */
	uint64_t frees;
	uint64_t refills;
	uint64_t spills;
	uint64_t drains;
};

struct page_cpu {
	struct page_pcp pcp[PAGE_PCP_ORDERS];	/* (L); count also (A) */
	struct page_cpu_counters st;		/* (S) */
	uint8_t busy;				/* (L) nonzero while the owner is
						   in a hit path (page.c, 3.) */
} __attribute__((aligned(512)));	/* a power of two, as pcp above */

/*
 * Invariants (checked by page_is_valid):
 *  - a block on free[o] has a head in state PG_FREE with pg_order == o, its
 *    frame number is a multiple of 2^o, it lies inside its region, and its
 *    other 2^o - 1 frames are PG_TAIL;
 *  - free_pages == sum over o of nfree[o] << o;
 *  - managed == free_pages + frames in PG_PCP blocks + frames allocated.
 */

#endif /* RVMM_VM_PAGE_IMPL_H */
