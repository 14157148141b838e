/*
 * shootdown.c: TLB invalidation for the Sv39 pmap, local and remote.
 *
 * 1. Batches.  pmap_enter/remove/protect collect what they changed in a
 *    struct pmap_flush while they hold the pmap lock, and commit it once,
 *    before they drop the lock: at most one request per target hart per
 *    call.  Up to PMAP_FLUSH_MAX (64, Linux's tlb_flush_ceiling in pages)
 *    per-page flushes (sfence.vma va, asid); beyond that, or when a
 *    page-table page was unlinked (an address-specific sfence.vma need not
 *    drop cached non-leaf entries), one flush of the whole address space
 *    (sfence.vma x0, asid).  Kernel (global) mappings use the forms without
 *    an ASID, which also drop global entries.
 *
 * 2. Order.  PTE stores, then a full fence, then the requests: a target's
 *    walk after its flush sees the new entries.  Unlinked page-table pages
 *    are freed only after every target acknowledged (the cross-call waits
 *    for each handler to return; SBI RFENCE returns when every target hart
 *    has flushed), so no hart walks a freed page.
 *
 * 3. Targets.  For a user pmap: the harts that have it in satp now
 *    (pmap->active), by request.  A hart that ran it earlier may still
 *    hold entries tagged with its ASID but cannot use them until it
 *    switches back; instead of asking it, the initiator sets its bit in
 *    pmap->owed (for every hart, before reading active, full fences on
 *    both sides), and pmap_activate() flushes the ASID when it finds its
 *    bit set.  Either the initiator sees the hart active and asks it, or
 *    the hart sees its owed bit: a Dekker pair, one of the two always
 *    happens.  A target that switched away before the request arrived does
 *    nothing (its owed bit covers it).  Without ASIDs every switch flushes,
 *    so owed bits are not needed.  For the kernel pmap: every other hart
 *    (global entries live in every TLB).  So a pmap active only on the
 *    calling hart costs no IPI at all.
 *
 * 4. Methods (pmap_set_shootdown, bootarg shootdown=):
 *	ipi	 smp_call() to the targets; each runs the batch's sfence.vma
 *		 forms in its IPI handler, using the ASID in its own satp.
 *	rfence	 one SBI remote_sfence_vma_asid (remote_sfence_vma for the
 *		 kernel) over the batch's span [min va, max va] or the whole
 *		 space; the firmware flushes the targets in M-mode, whatever
 *		 their interrupt state, and returns when all have.
 *	flushall baseline: every other hart, active or not, flushes its whole
 *		 TLB by IPI, every time.
 *    The default is rfence: on QEMU it was faster for multi-page batches
 *    (no S-mode trap and handler on the target) and within noise for single
 *    pages; docs/PORTING.md has the figures.
 *
 * 5. Counters (per cpu, struct pmap_cpu_stats): local_flushes (every
 *    sfence.vma this hart ran for the pmap), shootdowns, remote_requests
 *    (target harts asked), ipis_sent, rfence_calls, lazy_flushes.
 *
 * 6. Debug: pmap_debug_skip_remote(true) drops every remote request and
 *    owed bit, leaving stale entries behind on purpose.
 *
 * 7. Software walkers.  Hardware walks end with the target's flush, but
 *    pmap_fault_fixup walks this hart's tables in S-mode code without the
 *    pmap lock, and an SBI remote fence (rfence) is carried out in M-mode
 *    between two of its instructions: the initiator's fence returns while
 *    the walker may still hold a pointer to a table it unlinked.  (The
 *    ipi and flushall methods would wait, since the walker runs with
 *    interrupts off; rfence does not.)  So a lockless walker makes its
 *    hart's walk_seq odd for the walk (a full fence after, and before it
 *    makes it even again), and before the initiator frees unlinked tables
 *    it waits, for every other hart whose walk_seq it reads odd, until
 *    that value changes: the walk that might have seen the old link has
 *    ended.  A Dekker pair with the unlink: PTE store, full fence, read
 *    walk_seq; walk_seq store, full fence, read PTEs.  Either the walker
 *    reads the unlinked entry, or the initiator sees it walking.  Walks
 *    are a few loads with interrupts off, so the wait is short and never
 *    waits on a hart that waits for us.  pmap_debug_lockless_walks()
 *    widens the window and can switch the wait off, so a test shows that
 *    the walk then meets a freed table.
 */
#include <ck_pr.h>

#include "hal/sv39/pmap_impl.h"
#include "lib/assert.h"
#include "lib/smp.h"
#include "lib/stat.h"

bool pmap_paging_on;				/* (A) satp is Sv39 everywhere */
static enum pmap_shootdown shoot_how = PMAP_SHOOTDOWN_RFENCE;	/* (A) */
static bool skip_remote;			/* (A) debug */

unsigned pmap_walk_delay;			/* (A) debug */
bool pmap_walk_unprotected;			/* (A) debug */

/* Section 7: waits until no other hart is inside a walk it began before. */
void
pmap_flush_wait_walkers(void)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();

	if (ck_pr_load_8((uint8_t *)&pmap_walk_unprotected))
		return;
	/* The unlinking stores before the walk_seq loads. */
	ck_pr_fence_memory();
	for (unsigned c = 0; c < n; c++) {
		uint64_t s = ck_pr_load_64(&pmap_cpus[c].walk_seq);
		if (c == self || (s & 1) == 0)
			continue;
		while (ck_pr_load_64(&pmap_cpus[c].walk_seq) == s)
			hal_cpu_relax();
	}
	ck_pr_fence_memory();
}

void
pmap_debug_lockless_walks(unsigned delay_spins, bool unprotected)
{
	ck_pr_store_uint(&pmap_walk_delay, delay_spins);
	ck_pr_store_8((uint8_t *)&pmap_walk_unprotected, unprotected);
}

static const char *const shoot_names[] = {
	[PMAP_SHOOTDOWN_IPI] = "ipi",
	[PMAP_SHOOTDOWN_RFENCE] = "rfence",
	[PMAP_SHOOTDOWN_FLUSHALL] = "flushall",
};

const char *
pmap_shootdown_name(enum pmap_shootdown how)
{
	return (unsigned)how < 3 ? shoot_names[how] : "?";
}

void
pmap_set_shootdown(enum pmap_shootdown how)
{
	VM_ASSERT((unsigned)how < 3);
	ck_pr_store_uint((unsigned *)&shoot_how, how);
}

enum pmap_shootdown
pmap_get_shootdown(void)
{
	return (enum pmap_shootdown)ck_pr_load_uint((unsigned *)&shoot_how);
}

void
pmap_debug_skip_remote(bool on)
{
	ck_pr_store_8((uint8_t *)&skip_remote, on);
}

/* ---- local flushes, counted ---- */

static inline struct pmap_cpu_stats *
my_stats(void)
{
	return &pmap_cpus[hal_cpu_id()].st;
}

void
pmap_local_flush_all(void)
{
	hal_mmu_flush_local_all();
	stat_inc(&my_stats()->local_flushes);
}

void
pmap_local_flush_asid(unsigned asid)
{
	hal_mmu_flush_local_asid(asid);
	stat_inc(&my_stats()->local_flushes);
}

void
pmap_local_flush_va(vaddr_t va, unsigned asid)
{
	hal_mmu_flush_local_va(va, asid);
	stat_inc(&my_stats()->local_flushes);
}

void
pmap_local_flush_va_all(vaddr_t va)
{
	hal_mmu_flush_local_va_all(va);
	stat_inc(&my_stats()->local_flushes);
}

/* ---- batches ---- */

void
pmap_flush_init(struct pmap_flush *f, pmap_t p)
{
	f->pmap = p;
	f->how = pmap_get_shootdown();
	f->all = false;
	f->n = 0;
	f->freeq = NULL;
	f->nfree = 0;
}

void
pmap_flush_add(struct pmap_flush *f, vaddr_t va)
{
	if (f->all)
		return;
	if (f->n == PMAP_FLUSH_MAX) {
		f->all = true;
		return;
	}
	f->va[f->n++] = va;
}

void
pmap_flush_free_table(struct pmap_flush *f, struct vm_page *pg)
{
	PT_NEXT(pg) = (uintptr_t)f->freeq;
	f->freeq = pg;
	f->nfree++;
	f->all = true;
}

/*
 * Flushes the batch on the calling hart, for a hart whose satp holds
 * `asid` (user pmap) or for the kernel's global entries.
 */
static void
flush_here(const struct pmap_flush *f, unsigned asid)
{
	if (f->how == PMAP_SHOOTDOWN_FLUSHALL) {
		pmap_local_flush_all();
		return;
	}
	if (f->pmap->kernel) {
		if (f->all)
			pmap_local_flush_all();
		else
			for (unsigned i = 0; i < f->n; i++)
				pmap_local_flush_va_all(f->va[i]);
		return;
	}
	if (f->all)
		pmap_local_flush_asid(asid);
	else
		for (unsigned i = 0; i < f->n; i++)
			pmap_local_flush_va(f->va[i], asid);
}

/*
 * The IPI handler (interrupt context, interrupts off).  A user pmap's
 * batch is for the hart only if the pmap is still in its satp: if it has
 * switched away, its owed bit makes it flush before it comes back.
 */
static void
shoot_ipi(void *arg)
{
	const struct pmap_flush *f = arg;
	unsigned cpu = hal_cpu_id();
	struct pmap_cpu *pc = &pmap_cpus[cpu];

	if (f->how != PMAP_SHOOTDOWN_FLUSHALL && !f->pmap->kernel) {
		if (pc->cur != f->pmap)
			return;
		if (asid_enabled())
			pmap_cpuset_del(f->pmap->owed, cpu);
	}
	flush_here(f, pc->cur_asid);
}

/* Takes (clears) cpu's owed bit of p; true if it was set. */
bool
pmap_owed_take(pmap_t p, unsigned cpu)
{
	uint64_t bit = 1ull << (cpu % 64);

	if (!(ck_pr_load_64(&p->owed[cpu / 64]) & bit))
		return false;
	return ck_pr_btr_64(&p->owed[cpu / 64], cpu % 64);
}

static unsigned
cpuset_count(const hal_cpuset_t *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(s->bits) / sizeof(s->bits[0]); i++)
		n += (unsigned)__builtin_popcountll(s->bits[i]);
	return n;
}

static void
rfence(const struct pmap_flush *f, const hal_cpuset_t *targets)
{
	vaddr_t start = 0;
	size_t size = HAL_MMU_SIZE_ALL;
	long asid;

	if (f->pmap->kernel)
		asid = HAL_MMU_ASID_ANY;
	else if (asid_enabled())
		/* Read after the targets were seen active (invariant a). */
		asid = (long)(ck_pr_load_64(&f->pmap->asid_ctx) &
		    ((1ull << SATP_ASID_BITS) - 1));
	else
		asid = 0;
	if (!f->all && f->n > 0) {
		vaddr_t lo = f->va[0], hi = f->va[0];
		for (unsigned i = 1; i < f->n; i++) {
			if (f->va[i] < lo)
				lo = f->va[i];
			if (f->va[i] > hi)
				hi = f->va[i];
		}
		start = lo;
		size = hi - lo + HAL_PAGE_SIZE;
	}
	int err = hal_mmu_remote_fence(targets, start, size, asid);
	VM_PANIC_IF(err != 0, "pmap shootdown: remote fence failed (%d)", err);
}

void
pmap_flush_commit(struct pmap_flush *f)
{
	pmap_t p = f->pmap;
	unsigned self = hal_cpu_id();
	struct pmap_cpu *pc = &pmap_cpus[self];
	hal_cpuset_t targets;
	bool skip = ck_pr_load_8((uint8_t *)&skip_remote) != 0;

	if (f->n == 0 && !f->all)
		goto out;
	if (!ck_pr_load_8((uint8_t *)&pmap_paging_on))
		goto out;	/* bootstrap: no TLB holds anything yet */
	stat_inc(&pc->st.shootdowns);

	/* PTE stores before the owed bits, the active read and the requests. */
	ck_pr_fence_memory();
	hal_cpuset_clear(&targets);
	if (f->how == PMAP_SHOOTDOWN_FLUSHALL || p->kernel) {
		/*
		 * Every online hart (lib/smp.c section 3): one that comes
		 * online later flushes its whole TLB then.
		 */
		smp_online_set(&targets);
		targets.bits[self / 64] &= ~(1ull << (self % 64));
	} else {
		if (asid_enabled() && !skip) {
			for (unsigned w = 0; w < PMAP_CPU_WORDS; w++)
				ck_pr_or_64(&p->owed[w], ~0ull);
			ck_pr_fence_memory();
		}
		for (unsigned w = 0; w < PMAP_CPU_WORDS; w++)
			targets.bits[w] = ck_pr_load_64(&p->active[w]);
		targets.bits[self / 64] &= ~(1ull << (self % 64));
		ck_pr_fence_load();
	}
	if (skip)
		hal_cpuset_clear(&targets);

	/* This hart, with interrupts off so satp cannot change under us. */
	hal_intr_t s = hal_intr_disable();
	if (f->how == PMAP_SHOOTDOWN_FLUSHALL || p->kernel) {
		flush_here(f, 0);
	} else if (pc->cur == p) {
		if (asid_enabled())
			pmap_cpuset_del(p->owed, self);
		flush_here(f, pc->cur_asid);
	}
	hal_intr_restore(s);

	unsigned nt = cpuset_count(&targets);
	if (nt > 0) {
		stat_add(&pc->st.remote_requests, nt);
		if (f->how == PMAP_SHOOTDOWN_RFENCE) {
			stat_inc(&pc->st.rfence_calls);
			rfence(f, &targets);
		} else {
			stat_add(&pc->st.ipis_sent, nt);
			smp_call(&targets, shoot_ipi, f);
		}
	}
out:
	/* Every hart that could walk them has flushed, and no software walk
	   that could still reach one runs (section 7): free the tables. */
	if (f->freeq != NULL)
		pmap_flush_wait_walkers();
	while (f->freeq != NULL) {
		struct vm_page *pg = f->freeq;
		f->freeq = (struct vm_page *)PT_NEXT(pg);
		PT_NEXT(pg) = 0;
		PT_MAGIC(pg) = 0;
		page_free(pg, 0);
	}
	f->nfree = 0;
	f->n = 0;
	f->all = false;
}
