/*
 * pmap_impl.h: private layout of the Sv39 pmap (see pmap.c's theory
 * comment).  Only the .c files of hal/sv39 include this.
 *
 * Lock order (outer first):
 *	1. pmap->lock		one pmap's tables; the kernel pmap's included
 *	2. pmap_list_lock	the list of pmaps, and the kernel-window root
 *				slots copied into every pmap
 *	3. asid_lock		the ASID allocator's slow path
 * A hart holding pmap->lock may wait for other harts (shootdown), so
 * pmap->lock is always acquired by pmap_lock(), which serves cross-calls
 * while it spins with interrupts off.  pmap_list_lock and asid_lock are
 * leaf locks: nothing waits for another hart while holding them.
 * Forbidden under any pmap lock: pmap_activate() (it may take asid_lock
 * with interrupts off, fine, but the caller's own satp is not the pmap's
 * business), page_alloc() (allocations happen before the lock is taken,
 * see struct pmap_pool), smp_run().
 *
 * Field legend: (C) constant after creation, (P) pmap->lock, (G)
 * pmap_list_lock, (K) asid_lock, (A) atomic (ck_pr), (L) the owning cpu
 * with interrupts off, (S) per-cpu statistics: stat_inc by the owner,
 * stat_read by anyone.
 *
 * Invariants:
 *	- every page-table page other than a root has 1 <= count <= 512
 *	  valid entries (an emptied table is unlinked and freed), and
 *	  count == the number of valid entries in it (checked by
 *	  pmap_is_valid);
 *	- no PTE has W without R; leaves have A, and D when writable; user
 *	  pmaps' leaves have U and not G, the kernel's G and not U;
 *	- root slots of the kernel window are identical in every pmap;
 *	- a page-table page is freed only after every hart that might walk it
 *	  has acknowledged a flush that covers it (struct pmap_flush).
 */
#ifndef RVMM_HAL_SV39_PMAP_IMPL_H
#define RVMM_HAL_SV39_PMAP_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <ck_queue.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "hal/sv39/pte.h"
#include "vm/page.h"

#define PMAP_CPU_WORDS ((HAL_MAX_CPUS + 63) / 64)

/*
 * Root-table slots: those of the user window (pmap_user_min() >> 30 up to
 * pmap_user_max() >> 30) are each pmap's own; every other slot is the
 * kernel's, shared by every pmap (pmap.c section 2).
 */

#define PMAP_MAGIC 0x706d61705f6f6b21ull		/* "pmap_ok!" */
#define PMAP_DEAD 0x706d61705f646561ull		/* "pmap_dea" */

struct pmap {
	ck_spinlock_t lock;
	uint64_t magic;				/* (C) PMAP_MAGIC; PMAP_DEAD
						   once destroyed */
	bool kernel;				/* (C) */
	paddr_t root_pa;			/* (C) */
	pte_t *root;				/* (C) hal_phys_to_virt(root_pa) */
	struct vm_page *self_pg;		/* (C) frame holding this struct */
	uint64_t asid_ctx;			/* (A, K) generation << 16 | asid,
						   0 before the first one */
	uint64_t active[PMAP_CPU_WORDS];	/* (A) harts with p in satp */
	uint64_t owed[PMAP_CPU_WORDS];		/* (A) harts that must flush p's
						   ASID before they use it again */
	size_t table_pages;			/* (P) root included */
	CK_LIST_ENTRY(pmap) link;		/* (G) */
};

/* Per-cpu state. */
struct pmap_cpu {
	pmap_t cur;				/* (L) pmap in satp */
	unsigned cur_asid;			/* (L) ASID in satp */
	uint64_t walk_seq;			/* (A) odd while this hart walks
						   tables without the pmap lock
						   (shootdown.c section 7);
						   written by its hart only */
	struct pmap_cpu_stats st;		/* (S) */
} HAL_CACHE_ALIGNED;

extern struct pmap_cpu pmap_cpus[HAL_MAX_CPUS];
extern struct pmap pmap_kernel_store;

/*
 * A batch of invalidations, collected under the pmap lock and committed
 * (pmap_flush_commit) before the lock is dropped: up to PMAP_FLUSH_MAX
 * per-page flushes, beyond that (or once a page-table page was unlinked,
 * which per-page sfence.vma does not cover) one flush of the whole address
 * space.  Page-table pages unlinked meanwhile wait on `freeq` until every
 * target has acknowledged.  Lives on the initiator's stack; remote
 * handlers read it until they acknowledge.
 */
#define PMAP_FLUSH_MAX 64

struct pmap_flush {
	pmap_t pmap;
	enum pmap_shootdown how;
	bool all;			/* flush the whole address space */
	unsigned n;
	vaddr_t va[PMAP_FLUSH_MAX];
	struct vm_page *freeq;		/* chained through pg_owner.word[1] */
	unsigned nfree;
};

/* Page-table pages: the owner words of their struct vm_page. */
#define PT_COUNT(pg) ((pg)->pg_owner.word[0])
#define PT_NEXT(pg) ((pg)->pg_owner.word[1])
#define PT_MAGIC(pg) ((pg)->pg_owner.word[2])
#define PT_MAGIC_VALUE ((uintptr_t)0x5039746162ull)	/* "P9tab" */

/* shootdown.c */
void pmap_flush_init(struct pmap_flush *f, pmap_t p);
void pmap_flush_add(struct pmap_flush *f, vaddr_t va);
void pmap_flush_free_table(struct pmap_flush *f, struct vm_page *pg);
void pmap_flush_commit(struct pmap_flush *f);
void pmap_shootdown_init(void);
bool pmap_owed_take(pmap_t p, unsigned cpu);
void pmap_local_flush_all(void);
void pmap_local_flush_asid(unsigned asid);
void pmap_local_flush_va(vaddr_t va, unsigned asid);
void pmap_local_flush_va_all(vaddr_t va);
extern bool pmap_paging_on;

void pmap_flush_wait_walkers(void);
extern unsigned pmap_walk_delay;		/* (A) debug */
extern bool pmap_walk_unprotected;		/* (A) debug */

/* asid.c */
void asid_init(unsigned hw_bits, unsigned cap_bits);
bool asid_enabled(void);
unsigned asid_switch(pmap_t p, unsigned cpu, bool *flush_all);
unsigned asid_probe_bits(void);
unsigned asid_bits_hw(void);
unsigned asid_bits_used(void);
uint64_t asid_generation(void);

/* cpuset words, atomically. */
static inline void
pmap_cpuset_add(uint64_t *w, unsigned cpu)
{
	ck_pr_or_64(&w[cpu / 64], 1ull << (cpu % 64));
}

static inline void
pmap_cpuset_del(uint64_t *w, unsigned cpu)
{
	ck_pr_and_64(&w[cpu / 64], ~(1ull << (cpu % 64)));
}

#endif /* RVMM_HAL_SV39_PMAP_IMPL_H */
