/*
 * page.c: physical frames: a buddy allocator per RAM region with per-CPU
 * caches in front.
 *
 * 1. Frames.  page_init() gives every 4 KiB frame of every RAM region a
 *    struct vm_page, in one array per region carved out of the region
 *    itself (the first gap between reserved ranges that fits).  Frames
 *    inside reserved ranges (firmware, kernel, device tree, these arrays)
 *    stay PG_RESERVED forever; pa_to_page() still finds them, so a stray
 *    free of one is recognised and reported.
 *
 * 2. Buddy blocks.  A free block of order o is 2^o frames whose physical
 *    frame number is a multiple of 2^o (natural alignment, so large blocks
 *    can back superpages).  Only its first frame (the head) records the
 *    block: state PG_FREE and pg_order; the other frames are PG_TAIL.  A
 *    block's buddy is the block whose frame number differs in bit o; a
 *    freed block merges with its buddy while the buddy is a free block of
 *    the same order, then goes on free[o] of its region.  Allocation takes
 *    the smallest order with a free block and splits it down.  Each region
 *    has one ck spinlock over its lists.
 *
 * 3. Per-CPU caches.  For orders below PAGE_PCP_ORDERS each cpu keeps a
 *    stack of free blocks (state PG_PCP).  page_alloc pops from it with
 *    interrupts off and nothing else: no lock, no atomic, no shared cache
 *    line; when it is empty it takes `batch` blocks from the buddy
 *    allocator under one lock acquisition.  page_free pushes, and when the
 *    stack grows above `high` it returns `batch` blocks (oldest
 *    first would need a queue; the bottom of a stack is as good here).
 *    Marks follow Linux's per-CPU page lists: batch 31, high 6 * batch
 *    for order 0, smaller for higher orders.
 *    Hit paths.  page_alloc and page_free begin with the common case
 *    inline: one load of page_slow (nonzero in the global mode, with
 *    failure injection or with poisoning, each of which has work the hit
 *    path does not do; its bits lie above the cached orders, so one
 *    compare of order | page_slow tests both), then a pop or push inside
 *    busy (below), the frame's state change (PG_PCP <-> PG_ALLOC), one
 *    per-CPU counter (hits or frees of that order, which also carry the
 *    cache's length: struct page_pcp).  The allocation does nothing of
 *    page_prepare: no frame in a cache bears PGF_POISONED while
 *    poisoning is off (page_set_poison unmarks every frame when it turns
 *    it off).  page_free first makes the checks of a valid free that
 *    misuse fails (a frame of the first region's array; head of an
 *    allocated block of this order, not a run: one load of state, order
 *    and flags as a word, pg_sof, and one compare); anything else, misuse
 *    included, goes to the
 *    out-of-line slow path, which checks everything again and panics with
 *    the function and its arguments.  Everything else (misses, refills,
 *    spills, other regions, zeroing) is out of line as well.
 *    Concurrency contract of a cache: only its cpu touches it, and the
 *    other users on that cpu (page_free from an IPI handler, the drain
 *    IPI below) never see it half-changed: the slow paths keep them out
 *    by disabling interrupts; the hit paths, as the zones' magazines do
 *    (zone_impl.h, Exclusion), by raising the cpu's `busy` byte before
 *    their first access and dropping it after their last, with compiler
 *    barriers on both sides, and no CSR access.  An IPI that interrupts
 *    a hit path finds busy set: page_free then bypasses the cache (the
 *    buddy allocator under the region lock), the drain leaves the cache
 *    alone and reports a miss, and page_drain_all calls that cpu again
 *    (the hit path has finished by then).  The IPI runs on the cpu it
 *    interrupts, so program order is all the ordering needed; the cpu
 *    must not change under a hit path (no preemption in rvmm's kernels,
 *    hal_preempt_disable).  page_alloc never runs in an IPI handler, so
 *    only page_free's hit path tests busy.  Other cpus read only the
 *    counters, atomically (page_cpu_stats), and a frame in a cache
 *    changes state only through its owner (the merge in
 *    buddy_free_locked reads it atomically and never merges a PG_PCP
 *    frame).
 *
 * 4. Draining.  A cached block is invisible to other cpus.  When the buddy
 *    allocator cannot satisfy a request, page_drain_all() asks every cpu,
 *    by cross-call (IPI), to return its whole cache, waits for all of them,
 *    and the allocation is retried; then the reclaim hooks (zones) are
 *    asked to give memory back, the caches are drained once more (what the
 *    hooks free lands in the freeing cpus' caches) and the allocation is
 *    retried a last time.
 *    Only then does it return NULL.  Draining by IPI keeps the owner the
 *    only one who ever touches a cache, which is what makes the local path
 *    free of atomics.
 *
 * 5. Contiguous runs.  page_alloc_contig() scans a region for an aligned
 *    run of frames that all lie in free blocks, takes those blocks off the
 *    lists, and gives back the parts of the first and last block that
 *    stick out of the run.  The run's head is PG_ALLOC with PGF_CONTIG and
 *    its length; the rest are PG_TAIL.  Freeing a run returns it in
 *    maximal aligned blocks, merging as usual.  page_alloc_range() takes
 *    the run at a given address (the no-MMU map's fixed mappings) when
 *    every frame of it is free, after draining the caches and reclaiming
 *    if need be; page_split_contig() cuts a run in two, so that part of
 *    it can be freed (a partial munmap without an MMU).  The scan is in
 *    the size of the region; page_alloc_run() makes a run without one:
 *    the buddy block of the next power of two (page_alloc), marked a run
 *    and its frames past the run given back, O(log n) under one lock
 *    hold after the block's allocation.
 *
 * 6. Baseline.  page_set_mode(PAGE_MODE_GLOBAL) bypasses the caches, so a
 *    benchmark can compare both in one boot.
 *
 * 7. Misuse.  page_free checks the head's state and order; a double free,
 *    a free of a reserved frame, of a tail frame, of a pointer outside the
 *    frame arrays, or with the wrong order panics with the frame address
 *    and the arguments.
 *
 * 8. Debug.  With poisoning on (default when VM_DEBUG_LEVEL >= 2) freed
 *    frames are filled with PAGE_POISON and marked; allocation checks the
 *    pattern, so a write after free panics with the frame address.
 *    page_set_fail_every(n) makes every n-th allocation fail.
 *
 * 9. Statistics.  Per cpu (allocations, frees, cache hits, refills,
 *    spills, drains, cached blocks) and per region (free blocks per order,
 *    splits, merges); page_stats() sums, page_dump() prints.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "lib/assert.h"
#include "lib/kprintf.h"
#include "lib/smp.h"
#include "lib/stat.h"
#include "vm/page_impl.h"

/*
 * pg_state and pg_order of a head change without the region lock while
 * the block sits in a per-CPU cache (PG_PCP <-> PG_ALLOC), and the merge
 * in buddy_free_locked() reads a buddy's fields under the lock: so both
 * are accessed atomically.  The merge decision is still exact: a frame
 * becomes or stops being PG_FREE only under its region's lock.
 */
static inline void
pg_set_state(struct vm_page *pg, enum page_state st)
{
	ck_pr_store_8(&pg->pg_state, (uint8_t)st);
}

static inline void
pg_set_order(struct vm_page *pg, unsigned order)
{
	ck_pr_store_8(&pg->pg_order, (uint8_t)order);
}

static inline unsigned
pg_order(const struct vm_page *pg)
{
	return ck_pr_load_8((uint8_t *)(uintptr_t)&pg->pg_order);
}

/*
 * pg_sof: state, order, region and flags of a frame in one atomic load, so
 * that page_free's hit path checks state, order and PGF_CONTIG with one
 * compare: PG_SOF(st, ord, fl) is the word those bytes make.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PG_SOF(st, ord, fl) \
	((uint32_t)(st) | (uint32_t)(ord) << 8 | (uint32_t)(fl) << 24)
#else
#define PG_SOF(st, ord, fl) \
	((uint32_t)(st) << 24 | (uint32_t)(ord) << 16 | (uint32_t)(fl))
#endif
#define PG_SOF_MASK PG_SOF(0xff, 0xff, PGF_CONTIG)

static inline uint32_t
pg_sof(const struct vm_page *pg)
{
	return ck_pr_load_32((uint32_t *)(uintptr_t)&pg->pg_sof);
}

/* The pg_sof of the head of an allocated block (not a run) of order. */
static const uint32_t pg_sof_alloc[PAGE_PCP_ORDERS] = {
	PG_SOF(PG_ALLOC, 0, 0), PG_SOF(PG_ALLOC, 1, 0),
	PG_SOF(PG_ALLOC, 2, 0), PG_SOF(PG_ALLOC, 3, 0),
};
_Static_assert(PAGE_PCP_ORDERS == 4, "pg_sof_alloc: one entry per order");

#define PAGE_POISON 0x6b6b6b6b6b6b6b6bull
#define PGF_POISONED 0x2u	/* frame holds PAGE_POISON since its free */
#define PAGE_MAX_RECLAIM 8

static struct page_region regions[HAL_MAX_MEM_REGIONS];
static size_t nregions;
static struct page_cpu page_cpus[HAL_MAX_CPUS];
/*
 * The hit paths reach page_cpus through this pointer (C): from a register
 * the compiler addresses every field as an offset, where from the symbol
 * it spends an instruction on the address of each atomic store.
 */
static struct page_cpu *page_cpu_base = page_cpus;

static enum page_mode page_mode;		/* (A) read-mostly */
static unsigned fail_every;			/* (A) */
static unsigned fail_counter;			/* (A) */
static bool poison_on = VM_DEBUG_LEVEL >= 2;	/* (A) */
/*
 * Why the per-CPU hit paths of page_alloc/page_free may not be taken (see
 * 3. in the theory comment); 0 lets them run.  Read-mostly: one load on
 * every call instead of three.
 */
/* Bits from PAGE_PCP_ORDERS up, so that one compare of order | page_slow
   tests both (the hit paths). */
#define PAGE_SLOW_GLOBAL (0x1u * PAGE_PCP_ORDERS) /* PAGE_MODE_GLOBAL */
#define PAGE_SLOW_FAIL (0x2u * PAGE_PCP_ORDERS)	/* failure injection on */
#define PAGE_SLOW_POISON (0x4u * PAGE_PCP_ORDERS) /* poisoning on */
_Static_assert((PAGE_PCP_ORDERS & (PAGE_PCP_ORDERS - 1)) == 0,
    "PAGE_PCP_ORDERS: a power of two (page_slow)");
static unsigned page_slow = VM_DEBUG_LEVEL >= 2 ? PAGE_SLOW_POISON : 0; /* (A) */
static uint64_t failures, injected, contig_allocs;	/* (A) */
static page_reclaim_fn reclaim_fns[PAGE_MAX_RECLAIM];
static unsigned nreclaim;

/* ------------------------------------------------------------------ */
/* Frames and regions.                                                 */

static inline size_t
pg_index(const struct page_region *r, const struct vm_page *pg)
{
	return (size_t)(pg - r->pages);
}

struct vm_page *
pa_to_page(paddr_t pa)
{
	for (size_t i = 0; i < nregions; i++) {
		struct page_region *r = &regions[i];
		if (pa >= r->base && (pa - r->base) >> PAGE_SHIFT < r->npages)
			return &r->pages[(pa - r->base) >> PAGE_SHIFT];
	}
	return NULL;
}

/* The region whose array holds pg, or NULL for a foreign pointer. */
static struct page_region *
page_region_of(const struct vm_page *pg)
{
	/* Fast path: trust pg_region once the pointer is inside that array. */
	uintptr_t a = (uintptr_t)pg;

	if (a % _Alignof(struct vm_page) == 0) {
		struct page_region *r = &regions[0];
		if (nregions == 1 && pg >= r->pages && pg < r->pages + r->npages &&
		    (a - (uintptr_t)r->pages) % sizeof(*pg) == 0)
			return r;
	}
	for (size_t i = 0; i < nregions; i++) {
		struct page_region *r = &regions[i];
		if (pg >= r->pages && pg < r->pages + r->npages &&
		    ((uintptr_t)pg - (uintptr_t)r->pages) % sizeof(*pg) == 0)
			return r;
	}
	return NULL;
}

/*
 * Whether pg is an entry of the first region's frame array (the hit path
 * of page_free; page_region_of finds the others).  One compare: the byte
 * offset rotated right by log2(sizeof(*pg)) is below npages only if it is
 * a multiple of the size (else low bits rotate to the top).
 */
static inline bool
page_in_first(const struct vm_page *pg)
{
	_Static_assert((sizeof(*pg) & (sizeof(*pg) - 1)) == 0,
	    "struct vm_page: a power-of-two size");
	const unsigned sh = __builtin_ctzl(sizeof(*pg));
	uintptr_t off = (uintptr_t)pg - (uintptr_t)regions[0].pages;

	return ((off >> sh) | (off << (sizeof(off) * 8 - sh))) <
	    regions[0].npages;
}

/* ------------------------------------------------------------------ */
/* Poison.                                                             */

static void
page_poison_block(struct vm_page *pg, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t *p = hal_phys_to_virt(pg[i].pg_pa);
		for (size_t w = 0; w < PAGE_SIZE / 8; w++)
			p[w] = PAGE_POISON;
		pg[i].pg_flags |= PGF_POISONED;
	}
}

static void
page_check_poison(struct vm_page *pg, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!(pg[i].pg_flags & PGF_POISONED))
			continue;
		pg[i].pg_flags &= ~PGF_POISONED;
		const uint64_t *p = hal_phys_to_virt(pg[i].pg_pa);
		for (size_t w = 0; w < PAGE_SIZE / 8; w++)
			if (p[w] != PAGE_POISON)
				panic("page_alloc: frame %#llx modified after "
				    "free (offset %#zx holds %#llx)",
				    (unsigned long long)pg[i].pg_pa, w * 8,
				    (unsigned long long)p[w]);
	}
}

/* ------------------------------------------------------------------ */
/* Buddy allocator: everything here runs under the region's lock.      */

static void
region_lock(struct page_region *r)
{
	VM_ASSERT(!hal_intr_enabled());
	ck_spinlock_lock(&r->lock);
}

static void
region_unlock(struct page_region *r)
{
	ck_spinlock_unlock(&r->lock);
}

static void
buddy_insert_locked(struct page_region *r, struct vm_page *pg, unsigned order)
{
	pg_set_state(pg, PG_FREE);
	pg_set_order(pg, (uint8_t)order);
	CK_LIST_INSERT_HEAD(&r->free[order], pg, pg_link);
	r->nfree[order]++;
	r->free_pages += (size_t)1 << order;
}

static void
buddy_remove_locked(struct page_region *r, struct vm_page *pg, unsigned order)
{
	VM_ASSERT(pg_state(pg) == PG_FREE && pg_order(pg) == order);
	CK_LIST_REMOVE(pg, pg_link);
	r->nfree[order]--;
	r->free_pages -= (size_t)1 << order;
}

/* The buddy of the order-o block at index idx, or NULL. */
static struct vm_page *
buddy_of(struct page_region *r, size_t idx, unsigned order)
{
	uint64_t pfn = (r->base >> PAGE_SHIFT) + idx;
	uint64_t bpfn = pfn ^ ((uint64_t)1 << order);
	uint64_t first = r->base >> PAGE_SHIFT;

	if (bpfn < first || bpfn - first + ((uint64_t)1 << order) > r->npages)
		return NULL;
	return &r->pages[bpfn - first];
}

/* Frees an order-o block (its frames are already PG_TAIL), merging. */
static void
buddy_free_locked(struct page_region *r, struct vm_page *pg, unsigned order)
{
	while (order < PAGE_MAX_ORDER) {
		struct vm_page *b = buddy_of(r, pg_index(r, pg), order);
		if (b == NULL || pg_state(b) != PG_FREE || pg_order(b) != order)
			break;
		buddy_remove_locked(r, b, order);
		if (b < pg) {
			pg_set_state(pg, PG_TAIL);
			pg = b;
		} else {
			pg_set_state(b, PG_TAIL);
		}
		r->merges++;
		order++;
	}
	buddy_insert_locked(r, pg, order);
}

static struct vm_page *
buddy_alloc_locked(struct page_region *r, unsigned order)
{
	unsigned o = order;

	while (o <= PAGE_MAX_ORDER && CK_LIST_EMPTY(&r->free[o]))
		o++;
	if (o > PAGE_MAX_ORDER)
		return NULL;
	struct vm_page *pg = CK_LIST_FIRST(&r->free[o]);
	buddy_remove_locked(r, pg, o);
	while (o > order) {
		o--;
		buddy_insert_locked(r, pg + ((size_t)1 << o), o);
		r->splits++;
	}
	/*
	 * Not PG_FREE any more before the lock drops: a concurrent free of
	 * its buddy must not merge with it.
	 */
	pg_set_state(pg, PG_ALLOC);
	pg_set_order(pg, order);
	return pg;
}

static unsigned
ctz64(uint64_t x)
{
	return x == 0 ? 64 : (unsigned)__builtin_ctzll(x);
}

static unsigned
log2_floor(uint64_t x)
{
	return 63 - (unsigned)__builtin_clzll(x);
}

/* Returns frames [s, e) of a region to the buddy lists. */
static void
free_range_locked(struct page_region *r, size_t s, size_t e)
{
	uint64_t first = r->base >> PAGE_SHIFT;

	for (size_t i = s; i < e; i++) {
		pg_set_state(&r->pages[i], PG_TAIL);
		r->pages[i].pg_flags &= ~PGF_CONTIG;
	}
	while (s < e) {
		unsigned o = ctz64(first + s);
		unsigned fit = log2_floor(e - s);
		if (o > fit)
			o = fit;
		if (o > PAGE_MAX_ORDER)
			o = PAGE_MAX_ORDER;
		buddy_free_locked(r, &r->pages[s], o);
		s += (size_t)1 << o;
	}
}

/* ------------------------------------------------------------------ */
/* Initialisation.                                                     */

struct range {
	paddr_t s, e;
};

static void
range_sort(struct range *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j].s < v[j - 1].s; j--) {
			struct range t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

/* Reserved ranges clipped to [base, end), page-rounded, sorted, merged. */
static size_t
reserved_in(paddr_t base, paddr_t end, const struct range *extra,
    size_t nextra, struct range *out, size_t max)
{
	const struct hal_mem_range *rv;
	size_t nrv = hal_mem_reserved(&rv), n = 0;

	for (size_t i = 0; i < nrv + nextra; i++) {
		paddr_t s = i < nrv ? rv[i].base : extra[i - nrv].s;
		paddr_t e = i < nrv ? rv[i].base + rv[i].size : extra[i - nrv].e;
		s &= ~(paddr_t)(PAGE_SIZE - 1);
		e = (e + PAGE_SIZE - 1) & ~(paddr_t)(PAGE_SIZE - 1);
		if (s < base)
			s = base;
		if (e > end)
			e = end;
		if (s >= e)
			continue;
		VM_ASSERT(n < max);
		out[n].s = s;
		out[n].e = e;
		n++;
	}
	range_sort(out, n);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && out[i].s <= out[m - 1].e) {
			if (out[i].e > out[m - 1].e)
				out[m - 1].e = out[i].e;
		} else {
			out[m++] = out[i];
		}
	}
	return m;
}

void
page_init(void)
{
	const struct hal_mem_range *mem;
	size_t nmem = hal_mem_regions(&mem);
	struct range arrays[HAL_MAX_MEM_REGIONS];
	struct range rsv[HAL_MAX_RESERVED + HAL_MAX_MEM_REGIONS];

	VM_ASSERT(nregions == 0);
	VM_ASSERT(nmem >= 1 && nmem <= HAL_MAX_MEM_REGIONS);
	for (size_t i = 0; i < nmem; i++) {
		struct page_region *r = &regions[i];
		paddr_t base = (mem[i].base + PAGE_SIZE - 1) &
		    ~(paddr_t)(PAGE_SIZE - 1);
		paddr_t end = (mem[i].base + mem[i].size) &
		    ~(paddr_t)(PAGE_SIZE - 1);
		size_t bytes;

		VM_ASSERT(end > base);
		r->base = base;
		r->npages = (size_t)((end - base) >> PAGE_SHIFT);
		bytes = (r->npages * sizeof(struct vm_page) + PAGE_SIZE - 1) &
		    ~(size_t)(PAGE_SIZE - 1);

		/* Carve the array from the first gap that fits. */
		size_t nr = reserved_in(base, end, arrays, i, rsv,
		    sizeof(rsv) / sizeof(rsv[0]));
		paddr_t at = base, found = 0;
		for (size_t k = 0; k <= nr; k++) {
			paddr_t gap_end = k < nr ? rsv[k].s : end;
			if (gap_end >= at && gap_end - at >= bytes) {
				found = at;
				break;
			}
			if (k < nr && rsv[k].e > at)
				at = rsv[k].e;
		}
		if (found == 0)
			panic("page_init: region %#llx-%#llx has no room for "
			    "%zu bytes of frame metadata",
			    (unsigned long long)base, (unsigned long long)end,
			    bytes);
		arrays[i].s = found;
		arrays[i].e = found + bytes;
		r->pages = hal_phys_to_virt(found);
		ck_spinlock_init(&r->lock);
		for (unsigned o = 0; o < PAGE_NORDERS; o++)
			CK_LIST_INIT(&r->free[o]);
		for (size_t k = 0; k < r->npages; k++) {
			struct vm_page *pg = &r->pages[k];
			memset(pg, 0, sizeof(*pg));
			pg->pg_pa = base + ((paddr_t)k << PAGE_SHIFT);
			pg->pg_region = (uint8_t)i;
			pg_set_state(pg, PG_RESERVED);
		}
	}
	nregions = nmem;

	/* Free everything between the reserved ranges and the arrays. */
	for (size_t i = 0; i < nregions; i++) {
		struct page_region *r = &regions[i];
		paddr_t end = r->base + ((paddr_t)r->npages << PAGE_SHIFT);
		size_t nr = reserved_in(r->base, end, arrays, nregions, rsv,
		    sizeof(rsv) / sizeof(rsv[0]));
		paddr_t at = r->base;
		hal_intr_t s = hal_intr_disable();

		region_lock(r);
		for (size_t k = 0; k <= nr; k++) {
			paddr_t gap_end = k < nr ? rsv[k].s : end;
			if (gap_end > at)
				free_range_locked(r, (at - r->base) >> PAGE_SHIFT,
				    (gap_end - r->base) >> PAGE_SHIFT);
			if (k < nr && rsv[k].e > at)
				at = rsv[k].e;
		}
		r->managed = r->free_pages;
		region_unlock(r);
		hal_intr_restore(s);
	}

	for (unsigned c = 0; c < HAL_MAX_CPUS; c++) {
		for (unsigned o = 0; o < PAGE_PCP_ORDERS; o++) {
			struct page_pcp *l = &page_cpus[c].pcp[o];
			l->batch = o == 0 ? 31 : 31 >> o;
			l->high = l->batch * (o == 0 ? 6 : 4);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Allocation.                                                         */

/* Takes one block from any region. */
static struct vm_page *
buddy_alloc_any(unsigned order)
{
	for (size_t i = 0; i < nregions; i++) {
		struct page_region *r = &regions[i];
		hal_intr_t s = hal_intr_disable();
		region_lock(r);
		struct vm_page *pg = buddy_alloc_locked(r, order);
		region_unlock(r);
		hal_intr_restore(s);
		if (pg != NULL)
			return pg;
	}
	return NULL;
}

/* pcp_enter: this cpu's caches, closed to IPIs until pcp_exit (3.). */
static inline struct page_cpu *
pcp_enter(void)
{
	struct page_cpu *c;

	hal_preempt_disable();
	c = &page_cpu_base[hal_cpu_id()];
	ck_pr_store_8(&c->busy, 1);
	ck_pr_barrier();
	return c;
}

static inline void
pcp_exit(struct page_cpu *c)
{
	ck_pr_barrier();
	ck_pr_store_8(&c->busy, 0);
	hal_preempt_enable();
}

static void
pcp_push_local(struct page_cpu *c, struct page_pcp *l, struct vm_page *pg,
    unsigned order)
{
	pg_set_state(pg, PG_PCP);
	pg_set_order(pg, (uint8_t)order);
	pg->pg_link.cle_next = l->head;
	l->head = pg;
	ck_pr_store_64(&l->base, l->base + 1);
}

/* The blocks in a cache (see struct page_pcp). */
static inline uint64_t
pcp_count(const struct page_pcp *l)
{
	return ck_pr_load_64((uint64_t *)(uintptr_t)&l->base) +
	    ck_pr_load_64((uint64_t *)(uintptr_t)&l->frees) -
	    ck_pr_load_64((uint64_t *)(uintptr_t)&l->hits);
}

static struct vm_page *
pcp_pop_local(struct page_cpu *c, struct page_pcp *l, unsigned order)
{
	struct vm_page *pg = l->head;

	if (pg == NULL)
		return NULL;
	l->head = pg->pg_link.cle_next;
	ck_pr_store_64(&l->base, l->base - 1);
	return pg;
}

/* Moves up to `batch` blocks from the buddy allocator into the cache. */
static void
pcp_refill_local(struct page_cpu *c, struct page_pcp *l, unsigned order)
{
	unsigned got = 0;

	for (size_t i = 0; i < nregions && got < l->batch; i++) {
		struct page_region *r = &regions[i];
		region_lock(r);
		while (got < l->batch) {
			struct vm_page *pg = buddy_alloc_locked(r, order);
			if (pg == NULL)
				break;
			pcp_push_local(c, l, pg, order);
			got++;
		}
		region_unlock(r);
	}
	if (got > 0)
		stat_inc(&c->st.refills);
}

/* Returns `n` blocks from the cache to the buddy allocator. */
static void
pcp_spill_local(struct page_cpu *c, struct page_pcp *l, unsigned order,
    unsigned n)
{
	struct page_region *held = NULL;

	while (n-- > 0) {
		struct vm_page *pg = pcp_pop_local(c, l, order);
		if (pg == NULL)
			break;
		struct page_region *r = &regions[pg->pg_region];
		if (r != held) {
			if (held != NULL)
				region_unlock(held);
			region_lock(r);
			held = r;
		}
		buddy_free_locked(r, pg, order);
	}
	if (held != NULL)
		region_unlock(held);
}

static bool
page_inject_failure(void)
{
	unsigned n = ck_pr_load_uint(&fail_every);

	if (n == 0)
		return false;
	if (ck_pr_faa_uint(&fail_counter, 1) % n != n - 1)
		return false;
	ck_pr_inc_64(&injected);
	return true;
}

/* Poison check and zeroing of a freshly allocated block. */
static void
page_prepare(struct vm_page *pg, size_t n, unsigned flags)
{
	if (ck_pr_load_8((uint8_t *)&poison_on))
		page_check_poison(pg, n);
	else
		for (size_t i = 0; i < n; i++)
			pg[i].pg_flags &= ~PGF_POISONED;
	if (flags & PAGE_ZERO)
		for (size_t i = 0; i < n; i++)
			memset(hal_phys_to_virt(pg[i].pg_pa), 0, PAGE_SIZE);
}

/* The PAGE_ZERO part of page_prepare, for the hit path. */
static __attribute__((noinline)) struct vm_page *
page_zero(struct vm_page *pg, unsigned order)
{
	for (size_t i = 0; i < (size_t)1 << order; i++)
		memset(hal_phys_to_virt(pg[i].pg_pa), 0, PAGE_SIZE);
	return pg;
}

static size_t
page_run_reclaim(void)
{
	size_t got = 0;

	for (unsigned i = 0; i < nreclaim; i++)
		got += reclaim_fns[i]();
	return got;
}

/*
 * Before retry `attempt` of a failed allocation: 1, drain every cpu's
 * cache; 2, ask the reclaim hooks, then drain again, since what they free
 * lands in the caches of the cpus that free it.  Returns -ENOMEM when
 * there is nothing more to try.
 */
static int
page_refill_slow(int attempt, unsigned flags)
{
	if (attempt == 2) {
		if ((flags & PAGE_NORECLAIM) || page_run_reclaim() == 0)
			return -ENOMEM;
	}
	page_drain_all();
	return 0;
}

/*
 * page_alloc_slow: everything but a hit of the per-CPU hit path below:
 * cache misses, the global mode, failure injection, poisoning, orders
 * that are not cached.
 */
static __attribute__((noinline)) struct vm_page *
page_alloc_slow(unsigned order, unsigned flags)
{
	struct vm_page *pg = NULL;

	VM_ASSERT(order <= PAGE_MAX_ORDER);
	if (__builtin_expect(page_inject_failure(), 0))
		goto fail;

	if (order < PAGE_PCP_ORDERS &&
	    ck_pr_load_uint((unsigned *)&page_mode) == PAGE_MODE_PERCPU) {
		hal_intr_t s = hal_intr_disable();
		struct page_cpu *c = &page_cpus[hal_cpu_id()];
		struct page_pcp *l = &c->pcp[order];

		/* Never in an IPI handler (page.h), so never inside a hit
		   path of this cpu. */
		VM_ASSERT(!c->busy);
		if (l->head == NULL) {
			stat_inc(&c->st.pcp_misses);
			pcp_refill_local(c, l, order);
		}
		pg = pcp_pop_local(c, l, order);
		if (pg != NULL) {
			pg_set_state(pg, PG_ALLOC);
			stat_inc(&c->st.pcp_allocs);
		}
		hal_intr_restore(s);
	}
	if (pg == NULL) {
		for (int attempt = 0; attempt < 3 && pg == NULL; attempt++) {
			if (attempt > 0 && page_refill_slow(attempt, flags) != 0)
				break;
			pg = buddy_alloc_any(order);
		}
		if (pg == NULL)
			goto fail;
		pg_set_state(pg, PG_ALLOC);
		hal_intr_t s = hal_intr_disable();
		stat_inc(&page_cpus[hal_cpu_id()].st.allocs);
		hal_intr_restore(s);
	}
	page_prepare(pg, (size_t)1 << order, flags);
	return pg;
fail:
	ck_pr_inc_64(&failures);
	return NULL;
}

struct vm_page *
page_alloc(unsigned order, unsigned flags)
{
	VM_ASSERT(order <= PAGE_MAX_ORDER);
	/* The hit path: a pop with interrupts off (3. in the theory
	   comment).  page_slow == 0: per-CPU mode, no failure injection, no
	   poison to check. */
	if (__builtin_expect((order | ck_pr_load_uint(&page_slow)) <
	    PAGE_PCP_ORDERS, 1)) {
		struct page_cpu *c = pcp_enter();
		struct page_pcp *l = &c->pcp[order];
		struct vm_page *pg = l->head;
		if (__builtin_expect(pg != NULL, 1)) {
			/* The pop; hits moves the count (struct page_pcp). */
			l->head = pg->pg_link.cle_next;
			stat_inc(&l->hits);
			VM_ASSERT(pg_state(pg) == PG_PCP && pg_order(pg) == order);
			pg_set_state(pg, PG_ALLOC);
			pcp_exit(c);
			/* Nothing of page_prepare: no poisoning, and no
			   cached frame is marked poisoned (page_set_poison). */
			if (__builtin_expect(flags & PAGE_ZERO, 0))
				return page_zero(pg, order);
			return pg;
		}
		pcp_exit(c);
	}
	return page_alloc_slow(order, flags);
}

/* Validates a block being freed; panics on misuse. */
static struct page_region *
page_check_free(struct vm_page *pg, size_t order_or_n, bool contig)
{
	const char *fn = contig ? "page_free_contig" : "page_free";
	struct page_region *r = page_region_of(pg);

	if (r == NULL)
		panic("%s(%p, %zu): not a frame of managed memory", fn,
		    (void *)pg, order_or_n);
	unsigned long long pa = (unsigned long long)pg->pg_pa;
	switch (pg_state(pg)) {
	case PG_ALLOC:
		break;
	case PG_FREE:
	case PG_PCP:
		panic("%s(frame %#llx, %zu): double free (frame is free)", fn,
		    pa, order_or_n);
	case PG_RESERVED:
		panic("%s(frame %#llx, %zu): frame is reserved", fn, pa,
		    order_or_n);
	case PG_TAIL:
		panic("%s(frame %#llx, %zu): frame is inside a block, not "
		    "its head", fn, pa, order_or_n);
	default:
		panic("%s(frame %#llx, %zu): corrupt state %u", fn, pa,
		    order_or_n, pg_state(pg));
	}
	if (contig) {
		if (!(pg->pg_flags & PGF_CONTIG) || pg->pg_npages != order_or_n)
			panic("page_free_contig(frame %#llx, %zu): allocated "
			    "as %s of %u", pa, order_or_n,
			    (pg->pg_flags & PGF_CONTIG) ? "a run" : "a block",
			    (pg->pg_flags & PGF_CONTIG) ? pg->pg_npages :
			    1u << pg_order(pg));
	} else {
		if (pg->pg_flags & PGF_CONTIG)
			panic("page_free(frame %#llx, %zu): frame heads a "
			    "contiguous run of %u, use page_free_contig", pa,
			    order_or_n, pg->pg_npages);
		if (pg_order(pg) != order_or_n)
			panic("page_free(frame %#llx, %zu): wrong order, "
			    "allocated with order %u", pa, order_or_n,
			    pg_order(pg));
	}
	return r;
}

/* page_free_slow: every page_free that the hit path below does not take. */
static __attribute__((noinline)) void
page_free_slow(struct vm_page *pg, unsigned order)
{
	struct page_region *r = page_check_free(pg, order, false);

	if (ck_pr_load_8((uint8_t *)&poison_on))
		page_poison_block(pg, (size_t)1 << order);

	hal_intr_t s = hal_intr_disable();
	struct page_cpu *c = &page_cpus[hal_cpu_id()];
	stat_inc(&c->st.frees);
	/* busy: an IPI handler interrupted a hit path of this cpu. */
	if (order < PAGE_PCP_ORDERS && !c->busy &&
	    ck_pr_load_uint((unsigned *)&page_mode) == PAGE_MODE_PERCPU) {
		struct page_pcp *l = &c->pcp[order];
		pcp_push_local(c, l, pg, order);
		if (pcp_count(l) > l->high) {
			pcp_spill_local(c, l, order, l->batch);
			stat_inc(&c->st.spills);
		}
	} else {
		region_lock(r);
		buddy_free_locked(r, pg, order);
		region_unlock(r);
	}
	hal_intr_restore(s);
}

/* => inside pcp_enter (the region lock wants interrupts off); does the
   caller's pcp_exit. */
static __attribute__((noinline)) void
pcp_spill_batch_exit(struct page_cpu *c, struct page_pcp *l, unsigned order)
{
	hal_intr_t s = hal_intr_disable();
	pcp_spill_local(c, l, order, l->batch);
	stat_inc(&c->st.spills);
	hal_intr_restore(s);
	pcp_exit(c);
}

void
page_free(struct vm_page *pg, unsigned order)
{
	/*
	 * The hit path: the checks of page_check_free that a valid free
	 * passes (a frame of the only region, an allocated head of this
	 * order, not a run), then a push with interrupts off.  Anything
	 * else, and every misuse, goes to page_free_slow, which checks
	 * again and panics naming the misuse.
	 */
	if (__builtin_expect((order | ck_pr_load_uint(&page_slow)) <
	    PAGE_PCP_ORDERS && page_in_first(pg) &&
	    (pg_sof(pg) & PG_SOF_MASK) == pg_sof_alloc[order], 1)) {
		hal_preempt_disable();
		struct page_cpu *c = &page_cpu_base[hal_cpu_id()];
		if (__builtin_expect(ck_pr_load_8(&c->busy) != 0, 0)) {
			/* In an IPI handler that interrupted a hit path. */
			hal_preempt_enable();
			page_free_slow(pg, order);
			return;
		}
		ck_pr_store_8(&c->busy, 1);
		ck_pr_barrier();
		struct page_pcp *l = &c->pcp[order];
		/* pcp_push_local without the order, which is already right;
		   frees moves the count (struct page_pcp). */
		uint64_t f = l->frees + 1;
		ck_pr_store_64(&l->frees, f);
		pg_set_state(pg, PG_PCP);
		pg->pg_link.cle_next = l->head;
		l->head = pg;
		if (__builtin_expect(l->base + f - l->hits > l->high, 0)) {
			pcp_spill_batch_exit(c, l, order);
			return;
		}
		pcp_exit(c);
		return;
	}
	page_free_slow(pg, order);
}

/* ------------------------------------------------------------------ */
/* Contiguous runs.                                                    */

/* The free block containing frame i: its head index and order. */
static bool
containing_free_locked(struct page_region *r, size_t i, size_t *head,
    unsigned *order)
{
	uint64_t first = r->base >> PAGE_SHIFT;

	for (unsigned o = 0; o <= PAGE_MAX_ORDER; o++) {
		uint64_t pfn = (first + i) & ~(((uint64_t)1 << o) - 1);
		if (pfn < first)
			break;
		struct vm_page *h = &r->pages[pfn - first];
		if (pg_state(h) == PG_FREE && pg_order(h) >= o) {
			*head = (size_t)(pfn - first);
			*order = pg_order(h);
			return true;
		}
	}
	return false;
}

static struct vm_page *contig_take_locked(struct page_region *r, size_t s,
    size_t n);

static struct vm_page *
contig_alloc_locked(struct page_region *r, size_t n, uint64_t align_pages)
{
	uint64_t first = r->base >> PAGE_SHIFT;
	uint64_t mask = align_pages - 1;
	size_t s = (size_t)(((first + mask) & ~mask) - first);

	if (r->free_pages < n)
		return NULL;
	while (s + n <= r->npages) {
		size_t i = s, h;
		unsigned o;
		while (i < s + n && containing_free_locked(r, i, &h, &o))
			i = h + ((size_t)1 << o);
		if (i >= s + n)
			break;
		/* Frame i is not free: the next candidate starts past it. */
		s = (size_t)(((first + i + 1 + mask) & ~mask) - first);
	}
	if (s + n > r->npages)
		return NULL;
	return contig_take_locked(r, s, n);
}

/* True if every frame of [s, s + n) lies in a free block. */
static bool
range_is_free_locked(struct page_region *r, size_t s, size_t n)
{
	size_t i = s, h;
	unsigned o;

	while (i < s + n && containing_free_locked(r, i, &h, &o))
		i = h + ((size_t)1 << o);
	return i >= s + n;
}

/*
 * Takes the free blocks covering [s, s + n), gives back the parts that
 * stick out, and makes the frames one run.  pre: range_is_free_locked().
 */
static struct vm_page *
contig_take_locked(struct page_region *r, size_t s, size_t n)
{
	size_t e = s + n, i = s;
	while (i < e) {
		size_t h;
		unsigned o;
		if (!containing_free_locked(r, i, &h, &o))
			panic("contig_alloc_locked: frame %#llx of a free run "
			    "is not free", (unsigned long long)r->pages[i].pg_pa);
		size_t be = h + ((size_t)1 << o);
		buddy_remove_locked(r, &r->pages[h], o);
		pg_set_state(&r->pages[h], PG_TAIL);
		for (size_t k = h; k < be; k++)
			if (k < s || k >= e)
				pg_set_state(&r->pages[k], PG_TAIL);
		if (h < s)
			free_range_locked(r, h, s);
		if (be > e)
			free_range_locked(r, e, be);
		i = be;
	}
	struct vm_page *pg = &r->pages[s];
	pg_set_state(pg, PG_ALLOC);
	pg->pg_flags |= PGF_CONTIG;
	pg->pg_npages = (uint32_t)n;
	pg_set_order(pg, 0);
	return pg;
}

struct vm_page *
page_alloc_contig(size_t npages, size_t align, unsigned flags)
{
	struct vm_page *pg = NULL;

	if (align == 0)
		align = PAGE_SIZE;
	if (npages == 0 || npages > UINT32_MAX || align < PAGE_SIZE ||
	    (align & (align - 1)) != 0)
		return NULL;
	if (page_inject_failure())
		goto fail;
	for (int attempt = 0; attempt < 3 && pg == NULL; attempt++) {
		if (attempt > 0 && page_refill_slow(attempt, flags) != 0)
			break;
		for (size_t i = 0; i < nregions && pg == NULL; i++) {
			struct page_region *r = &regions[i];
			hal_intr_t s = hal_intr_disable();
			region_lock(r);
			pg = contig_alloc_locked(r, npages,
			    align >> PAGE_SHIFT);
			region_unlock(r);
			hal_intr_restore(s);
		}
	}
	if (pg == NULL)
		goto fail;
	ck_pr_inc_64(&contig_allocs);
	page_prepare(pg, npages, flags);
	return pg;
fail:
	ck_pr_inc_64(&failures);
	return NULL;
}

int
page_alloc_range(paddr_t pa, size_t npages, unsigned flags,
    struct vm_page **out)
{
	struct vm_page *first, *last, *pg = NULL;
	struct page_region *r;

	if ((pa & (PAGE_SIZE - 1)) != 0 || npages == 0 || npages > UINT32_MAX)
		return -EINVAL;
	first = pa_to_page(pa);
	last = pa_to_page(pa + ((paddr_t)(npages - 1) << PAGE_SHIFT));
	if (first == NULL || last == NULL ||
	    first->pg_region != last->pg_region ||
	    last - first != (ptrdiff_t)(npages - 1))
		return -EINVAL;		/* not managed RAM of one region */
	if (page_inject_failure()) {
		ck_pr_inc_64(&failures);
		return -ENOMEM;
	}
	r = &regions[first->pg_region];
	/* Frames may sit in per-CPU caches or in empty slabs: drain, reclaim. */
	int attempts = (flags & PAGE_NODRAIN) ? 1 : 3;
	for (int attempt = 0; attempt < attempts && pg == NULL; attempt++) {
		if (attempt > 0 && page_refill_slow(attempt, flags) != 0)
			break;
		hal_intr_t s = hal_intr_disable();
		region_lock(r);
		if (range_is_free_locked(r, pg_index(r, first), npages))
			pg = contig_take_locked(r, pg_index(r, first), npages);
		region_unlock(r);
		hal_intr_restore(s);
	}
	if (pg == NULL) {
		if (!(flags & PAGE_NODRAIN))
			ck_pr_inc_64(&failures);
		return -EEXIST;
	}
	ck_pr_inc_64(&contig_allocs);
	page_prepare(pg, npages, flags);
	*out = pg;
	return 0;
}

struct vm_page *
page_split_contig(struct vm_page *pg, size_t npages, size_t at)
{
	struct page_region *r = page_region_of(pg);
	struct vm_page *t;

	if (r == NULL || pg_state(pg) != PG_ALLOC ||
	    !(pg->pg_flags & PGF_CONTIG) || pg->pg_npages != npages ||
	    at == 0 || at >= npages)
		panic("page_split_contig(%p, %zu, %zu): not a run of %zu frames "
		    "that can be cut there", (void *)pg, npages, at, npages);
	t = pg + at;
	VM_ASSERT(pg_state(t) == PG_TAIL);
	hal_intr_t s = hal_intr_disable();
	region_lock(r);
	pg->pg_npages = (uint32_t)at;
	t->pg_npages = (uint32_t)(npages - at);
	t->pg_flags |= PGF_CONTIG;
	pg_set_order(t, 0);
	pg_set_state(t, PG_ALLOC);
	region_unlock(r);
	hal_intr_restore(s);
	return t;
}

void
page_free_contig(struct vm_page *pg, size_t npages)
{
	struct page_region *r = page_check_free(pg, npages, true);
	size_t idx = pg_index(r, pg);

	VM_ASSERT(idx + npages <= r->npages);
	if (ck_pr_load_8((uint8_t *)&poison_on))
		page_poison_block(pg, npages);
	hal_intr_t s = hal_intr_disable();
	stat_inc(&page_cpus[hal_cpu_id()].st.frees);
	region_lock(r);
	pg->pg_npages = 0;
	free_range_locked(r, idx, idx + npages);
	region_unlock(r);
	hal_intr_restore(s);
}

struct vm_page *
page_alloc_run(size_t npages, unsigned flags)
{
	unsigned order = npages > 1 ? log2_floor(npages - 1) + 1 : 0;
	size_t n2 = (size_t)1 << order;
	struct vm_page *pg;

	if (npages == 0 || order > PAGE_MAX_ORDER)
		return NULL;
	/* Failure injection, draining and reclaim are page_alloc's. */
	pg = page_alloc(order, flags & ~PAGE_ZERO);
	if (pg == NULL)
		return NULL;
	struct page_region *r = &regions[pg->pg_region];
	size_t idx = pg_index(r, pg);
	if (n2 > npages && ck_pr_load_8((uint8_t *)&poison_on))
		page_poison_block(pg + npages, n2 - npages);
	hal_intr_t s = hal_intr_disable();
	region_lock(r);
	pg->pg_flags |= PGF_CONTIG;
	pg->pg_npages = (uint32_t)npages;
	pg_set_order(pg, 0);
	/* The frames past the run go back to the buddy lists. */
	if (n2 > npages)
		free_range_locked(r, idx + npages, idx + n2);
	region_unlock(r);
	hal_intr_restore(s);
	ck_pr_inc_64(&contig_allocs);
	if (flags & PAGE_ZERO)
		for (size_t i = 0; i < npages; i++)
			memset(hal_phys_to_virt(pg[i].pg_pa), 0, PAGE_SIZE);
	return pg;
}

/* ------------------------------------------------------------------ */
/* Draining, mode, knobs.                                              */

/* The drain IPI; arg: the cpus it found in a hit path (3.). */
static void
page_drain_local(void *arg)
{
	struct page_cpu *c = &page_cpus[hal_cpu_id()];
	uint8_t *missed = arg;
	bool any = false;

	VM_ASSERT(!hal_intr_enabled());
	if (c->busy) {
		ck_pr_store_8(&missed[hal_cpu_id()], 1);
		return;
	}
	for (unsigned o = 0; o < PAGE_PCP_ORDERS; o++) {
		struct page_pcp *l = &c->pcp[o];
		uint64_t n = pcp_count(l);
		if (n == 0)
			continue;
		pcp_spill_local(c, l, o, (unsigned)n);
		any = true;
	}
	if (any)
		stat_inc(&c->st.drains);
}

void
page_drain_all(void)
{
	hal_cpuset_t todo;
	uint8_t missed[HAL_MAX_CPUS];
	bool again;

	/* Offline cpus have no caches (lib/smp.c section 3). */
	smp_online_set(&todo);
	do {
		memset(missed, 0, sizeof(missed));
		smp_call(&todo, page_drain_local, missed);
		hal_cpuset_clear(&todo);
		again = false;
		for (unsigned c = 0; c < hal_ncpus(); c++) {
			if (ck_pr_load_8(&missed[c]) != 0) {
				hal_cpuset_add(&todo, c);
				again = true;
			}
		}
	} while (again);
}

void
page_set_mode(enum page_mode mode)
{
	ck_pr_store_uint((unsigned *)&page_mode, mode);
	if (mode == PAGE_MODE_PERCPU)
		ck_pr_and_uint(&page_slow, ~PAGE_SLOW_GLOBAL);
	else
		ck_pr_or_uint(&page_slow, PAGE_SLOW_GLOBAL);
	ck_pr_fence_memory();
	page_drain_all();
}

enum page_mode
page_get_mode(void)
{
	return (enum page_mode)ck_pr_load_uint((unsigned *)&page_mode);
}

void
page_reclaim_register(page_reclaim_fn fn)
{
	VM_ASSERT(nreclaim < PAGE_MAX_RECLAIM);
	reclaim_fns[nreclaim++] = fn;
}

void
page_set_fail_every(unsigned n)
{
	ck_pr_store_uint(&fail_counter, 0);
	ck_pr_store_uint(&fail_every, n);
	if (n == 0)
		ck_pr_and_uint(&page_slow, ~PAGE_SLOW_FAIL);
	else
		ck_pr_or_uint(&page_slow, PAGE_SLOW_FAIL);
}

void
page_set_poison(bool on)
{
	ck_pr_store_8((uint8_t *)&poison_on, on);
	if (on) {
		ck_pr_or_uint(&page_slow, PAGE_SLOW_POISON);
		return;
	}
	/*
	 * The allocation hit path does not clear PGF_POISONED (it takes
	 * only blocks freed while poisoning was off): no free frame may keep
	 * the mark.  Empty the caches, then unmark every frame.
	 */
	ck_pr_and_uint(&page_slow, ~PAGE_SLOW_POISON);
	ck_pr_fence_memory();
	page_drain_all();
	for (size_t i = 0; i < nregions; i++) {
		struct page_region *r = &regions[i];
		hal_intr_t s = hal_intr_disable();
		region_lock(r);
		for (size_t k = 0; k < r->npages; k++)
			r->pages[k].pg_flags &= ~PGF_POISONED;
		region_unlock(r);
		hal_intr_restore(s);
	}
}

/* ------------------------------------------------------------------ */
/* Statistics and validation.                                          */

void
page_cpu_stats(unsigned cpu, struct page_cpu_stats *out)
{
	const struct page_cpu_counters *st = &page_cpus[cpu].st;

	VM_ASSERT(cpu < HAL_MAX_CPUS);
	uint64_t hits = 0, frees = 0;

	for (unsigned o = 0; o < PAGE_PCP_ORDERS; o++) {
		hits += stat_read(&page_cpus[cpu].pcp[o].hits);
		frees += stat_read(&page_cpus[cpu].pcp[o].frees);
	}
	out->allocs = stat_read(&st->allocs) + stat_read(&st->pcp_allocs) +
	    hits;
	/* Another cpu's three counters are not read at one instant: a
	   length that comes out negative is a cache being emptied. */
	out->frees = stat_read(&st->frees) + frees;
	out->pcp_hits = stat_read(&st->pcp_allocs) + hits -
	    stat_read(&st->pcp_misses);
	out->refills = stat_read(&st->refills);
	out->spills = stat_read(&st->spills);
	out->drains = stat_read(&st->drains);
	for (unsigned o = 0; o < PAGE_PCP_ORDERS; o++) {
		uint64_t n = pcp_count(&page_cpus[cpu].pcp[o]);
		out->cached[o] = (int64_t)n < 0 ? 0 : n;
	}
}

void
page_stats(struct page_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->nregions = nregions;
	for (size_t i = 0; i < nregions; i++) {
		struct page_region *r = &regions[i];
		hal_intr_t s = hal_intr_disable();
		region_lock(r);
		out->total_pages += r->managed;
		out->free_pages += r->free_pages;
		for (unsigned o = 0; o < PAGE_NORDERS; o++)
			out->buddy_free[o] += r->nfree[o];
		out->splits += r->splits;
		out->merges += r->merges;
		region_unlock(r);
		hal_intr_restore(s);
	}
	for (unsigned c = 0; c < hal_ncpus(); c++) {
		struct page_cpu_stats cs;
		page_cpu_stats(c, &cs);
		out->allocs += cs.allocs;
		out->frees += cs.frees;
		out->pcp_hits += cs.pcp_hits;
		out->refills += cs.refills;
		out->spills += cs.spills;
		out->drains += cs.drains;
		for (unsigned o = 0; o < PAGE_PCP_ORDERS; o++)
			out->pcp_pages += (size_t)cs.cached[o] << o;
	}
	out->free_pages += out->pcp_pages;
	out->failures = ck_pr_load_64(&failures);
	out->injected = ck_pr_load_64(&injected);
	out->contig_allocs = ck_pr_load_64(&contig_allocs);
}

size_t
page_free_count(void)
{
	struct page_stats st;

	page_stats(&st);
	return st.free_pages;
}

size_t
page_region_count(void)
{
	return nregions;
}

void
page_region_free(size_t region, size_t out[PAGE_NORDERS], paddr_t *base,
    size_t *npages)
{
	struct page_region *r = &regions[region];

	VM_ASSERT(region < nregions);
	hal_intr_t s = hal_intr_disable();
	region_lock(r);
	for (unsigned o = 0; o < PAGE_NORDERS; o++)
		out[o] = r->nfree[o];
	region_unlock(r);
	hal_intr_restore(s);
	*base = r->base;
	*npages = r->npages;
}

void
page_dump(void)
{
	struct page_stats st;

	page_stats(&st);
	kprintf("page: %zu regions, %zu managed frames, %zu free (%zu in "
	    "per-CPU caches)\n", st.nregions, st.total_pages, st.free_pages,
	    st.pcp_pages);
	for (size_t i = 0; i < nregions; i++) {
		size_t f[PAGE_NORDERS], n;
		paddr_t b;
		char line[256];
		int len = 0;
		page_region_free(i, f, &b, &n);
		for (unsigned o = 0; o < PAGE_NORDERS; o++)
			len += ksnprintf(line + len, sizeof(line) - (size_t)len,
			    " %zu", f[o]);
		kprintf("page: region %zu %#llx +%zu frames, free blocks by "
		    "order:%s\n", i, (unsigned long long)b, n, line);
	}
	kprintf("page: allocs %llu frees %llu cache hits %llu refills %llu "
	    "spills %llu drains %llu splits %llu merges %llu failures %llu\n",
	    (unsigned long long)st.allocs, (unsigned long long)st.frees,
	    (unsigned long long)st.pcp_hits, (unsigned long long)st.refills,
	    (unsigned long long)st.spills, (unsigned long long)st.drains,
	    (unsigned long long)st.splits, (unsigned long long)st.merges,
	    (unsigned long long)st.failures);
}

static bool
region_is_valid_locked(struct page_region *r)
{
	uint64_t first = r->base >> PAGE_SHIFT;
	size_t free_pages = 0, heads[PAGE_NORDERS] = {0};

	for (unsigned o = 0; o < PAGE_NORDERS; o++) {
		size_t n = 0;
		struct vm_page *pg;
		CK_LIST_FOREACH(pg, &r->free[o], pg_link) {
			size_t i = pg_index(r, pg);
			if (pg_state(pg) != PG_FREE || pg_order(pg) != o ||
			    ((first + i) & (((uint64_t)1 << o) - 1)) != 0 ||
			    i + ((size_t)1 << o) > r->npages)
				return false;
			for (size_t k = 1; k < ((size_t)1 << o); k++)
				if (pg_state(&pg[k]) != PG_TAIL)
					return false;
			n++;
		}
		if (n != r->nfree[o])
			return false;
		free_pages += n << o;
	}
	if (free_pages != r->free_pages)
		return false;
	for (size_t i = 0; i < r->npages; i++)
		if (pg_state(&r->pages[i]) == PG_FREE)
			heads[pg_order(&r->pages[i])]++;
	for (unsigned o = 0; o < PAGE_NORDERS; o++)
		if (heads[o] != r->nfree[o])
			return false;
	return true;
}

bool
page_is_valid(void)
{
	bool ok = true;

	for (size_t i = 0; i < nregions && ok; i++) {
		struct page_region *r = &regions[i];
		hal_intr_t s = hal_intr_disable();
		region_lock(r);
		ok = region_is_valid_locked(r);
		region_unlock(r);
		hal_intr_restore(s);
	}
	/* This cpu's cache: every block is a PG_PCP head of its order. */
	hal_intr_t s = hal_intr_disable();
	struct page_cpu *c = &page_cpus[hal_cpu_id()];
	for (unsigned o = 0; o < PAGE_PCP_ORDERS && ok; o++) {
		unsigned n = 0;
		for (struct vm_page *pg = c->pcp[o].head; pg != NULL;
		    pg = pg->pg_link.cle_next, n++)
			if (pg_state(pg) != PG_PCP || pg_order(pg) != o)
				ok = false;
		if (n != pcp_count(&c->pcp[o]))
			ok = false;
	}
	hal_intr_restore(s);
	return ok;
}
