/*
 * page.h: physical page frames, the lowest layer of rvmm.
 *
 * Every 4 KiB frame of managed RAM has one struct vm_page.  Frames are
 * handed out as naturally aligned blocks of 2^order frames by a buddy
 * allocator per RAM region, with per-CPU caches in front for orders
 * 0..PAGE_PCP_ORDERS-1, and as contiguous runs of any length.
 *
 * Contexts.  Every call here may run in thread context with interrupts on
 * or off.  None may run from an IPI handler except page_free() (which
 * never waits for other cpus).  Nothing sleeps; allocation failure
 * returns NULL after draining every cpu's cache and asking the reclaim
 * hooks (zones) to give memory back.
 *
 * Misuse (double free, freeing a reserved or foreign frame, freeing with
 * the wrong order) panics with the frame address and the arguments.
 */
#ifndef RVMM_VM_PAGE_H
#define RVMM_VM_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ck_pr.h>
#include <ck_queue.h>

#include "hal/hal.h"

#define PAGE_SHIFT HAL_PAGE_SHIFT
#define PAGE_SIZE HAL_PAGE_SIZE
#define PAGE_MAX_ORDER 10		/* largest block: 2^10 pages, 4 MiB */
#define PAGE_NORDERS (PAGE_MAX_ORDER + 1)
#define PAGE_PCP_ORDERS 4		/* orders 0..3 are cached per CPU */

/* page_alloc flags */
#define PAGE_ZERO 0x1u		/* return zero-filled frames */
#define PAGE_NORECLAIM 0x2u	/* fail rather than call reclaim hooks */
#define PAGE_NODRAIN 0x4u	/* page_alloc_range: one look, no draining
				   or reclaim, a miss not counted as a
				   failure (an address that is only a hint) */

/* Frame states (pg_state). */
enum page_state {
	PG_RESERVED = 0,	/* not managed: firmware, kernel, metadata */
	PG_FREE,		/* head of a free buddy block of pg_order */
	PG_PCP,			/* head of a block in a per-CPU cache */
	PG_ALLOC,		/* head of an allocated block or run */
	PG_TAIL,		/* inside a block or run whose head is elsewhere */
};

/*
 * struct vm_page: one per frame, exactly 64 bytes (1/64 of the memory it
 * describes): a frame's entry is one cache line, and finding it from an
 * address is a shift and a mask (kfree's path: frame number times 64)
 * rather than a multiply.
 *
 * Field legend: (F) the region's free-list lock, (L) owning cpu with
 * interrupts off, (O) the current owner of the allocated block (the
 * layer that called page_alloc), (C) constant after page_init(),
 * (A) accessed atomically: read pg_state with pg_state().
 */
struct vm_page {
	CK_LIST_ENTRY(vm_page) pg_link;	/* (F) buddy list / (L) pcp stack / (O) */
	paddr_t pg_pa;			/* (C) physical address */
	uint32_t pg_npages;		/* (F) run length of a contiguous allocation */
	union {
		struct {
			uint8_t pg_state;	/* (F, L, A) enum page_state */
			uint8_t pg_order;	/* (F, L, A) block order, on heads */
			uint8_t pg_region;	/* (C) index of the region */
			uint8_t pg_flags;	/* (F) PGF_* */
		};
		uint32_t pg_sof;	/* (A) the four as one word, read by
					   page_free's hit path (page.c) */
	};
	/* Free for the owner of an allocated block (zones, objects, kmalloc). */
	union {
		struct {
			void *slab;	/* zone slab this frame belongs to */
			void *zone;
		} z;
		size_t ksize;		/* kmalloc: size of a large allocation */
		struct {
			void *object;	/* memory object holding the page */
			uint64_t offset;
			uint32_t refs;
		} o;
		uintptr_t word[3];
	} pg_owner;
	uintptr_t pg_spare;		/* pads the entry to 64 bytes */
};

#define PGF_CONTIG 0x1u		/* head of a page_alloc_contig run */

_Static_assert(sizeof(struct vm_page) == 64, "struct vm_page is one cache line");

/* A frame's state, read atomically (see page.c: it may change under us). */
static inline enum page_state
pg_state(const struct vm_page *pg)
{
	return (enum page_state)ck_pr_load_8((uint8_t *)(uintptr_t)&pg->pg_state);
}

/*
 * page_init: builds the frame arrays from hal_mem_regions() minus
 * hal_mem_reserved(), carving each region's array out of the region.
 * pre: boot cpu, once, before any other page_* call.
 */
void page_init(void);

/*
 * page_alloc: a naturally aligned block of 2^order frames, or NULL.
 * pre: order <= PAGE_MAX_ORDER, any thread context.
 */
struct vm_page *page_alloc(unsigned order, unsigned flags);

/*
 * page_free: returns a block from page_alloc.  `order` must be the order
 * it was allocated with.  pre: any context, including IPI handlers.
 */
void page_free(struct vm_page *pg, unsigned order);

/*
 * page_alloc_contig: npages (>= 1, any number) physically contiguous
 * frames whose first address is a multiple of `align` (a power of two,
 * >= PAGE_SIZE, or 0 for PAGE_SIZE).  Returns the first frame or NULL.
 */
struct vm_page *page_alloc_contig(size_t npages, size_t align, unsigned flags);
/* page_free_contig: returns a run; npages must match the allocation. */
void page_free_contig(struct vm_page *pg, size_t npages);

/*
 * page_alloc_run: a run of npages frames (1 <= npages <= 2^PAGE_MAX_ORDER)
 * in O(log npages) whatever the size of RAM: the buddy block of the next
 * power of two, cut to npages, the frames past them given back at once.
 * The first frame is aligned to that power of two.  Freed with
 * page_free_contig(pg, npages), like a run of page_alloc_contig.  NULL
 * when out of memory (after draining and reclaim) or npages is out of
 * range.
 */
struct vm_page *page_alloc_run(size_t npages, unsigned flags);

/*
 * page_alloc_range: the run of npages frames that starts exactly at pa,
 * taken as page_alloc_contig() would take it (a run, freed with
 * page_free_contig).  Frames in per-CPU caches are drained and the reclaim
 * hooks asked before it gives up.
 * => 0 and *out, or -EINVAL (pa unaligned, npages 0, or the range is not
 *    all managed RAM of one region), -EEXIST (a frame of the range is in
 *    use or reserved), -ENOMEM (failure injection).
 */
int page_alloc_range(paddr_t pa, size_t npages, unsigned flags,
    struct vm_page **out);

/*
 * page_split_contig: cuts the run of npages frames headed by pg after its
 * first `at` frames (0 < at < npages): pg then heads a run of at frames,
 * and the frame returned a run of npages - at; each is freed on its own.
 * Panics if pg does not head a run of npages.
 */
struct vm_page *page_split_contig(struct vm_page *pg, size_t npages,
    size_t at);

/* Conversions.  pa_to_page() is NULL outside managed memory. */
static inline paddr_t
page_to_pa(const struct vm_page *pg)
{
	return pg->pg_pa;
}

struct vm_page *pa_to_page(paddr_t pa);

static inline void *
page_to_kva(const struct vm_page *pg)
{
	return hal_phys_to_virt(pg->pg_pa);
}

static inline struct vm_page *
kva_to_page(const void *va)
{
	return pa_to_page(hal_virt_to_phys(va));
}

/*
 * Allocation policy, for comparisons in one boot: PAGE_MODE_PERCPU (the
 * default) or PAGE_MODE_GLOBAL (every call goes to the buddy allocator
 * under its lock).  Switching drains every per-CPU cache.
 * pre: thread context, interrupts enabled, no concurrent page calls.
 */
enum page_mode { PAGE_MODE_PERCPU, PAGE_MODE_GLOBAL };
void page_set_mode(enum page_mode mode);
enum page_mode page_get_mode(void);

/* Returns every per-CPU cached frame to the buddy allocator (IPIs).
 * pre: thread context. */
void page_drain_all(void);

/*
 * Reclaim hooks: called, in registration order, when an allocation fails
 * after the caches were drained.  A hook returns the number of frames it
 * gave back.  pre: page_reclaim_register at boot.
 */
typedef size_t (*page_reclaim_fn)(void);
void page_reclaim_register(page_reclaim_fn fn);

/* Debug knobs.  fail_every n > 0 makes every n-th allocation fail.
   page_set_poison(false) drains the caches and unmarks every frame (a
   walk of all frames).  pre (poison): no concurrent page calls. */
void page_set_fail_every(unsigned n);
void page_set_poison(bool on);

/* Statistics. */
struct page_cpu_stats {
	uint64_t allocs;	/* blocks handed out on this cpu */
	uint64_t frees;		/* blocks freed on this cpu */
	uint64_t pcp_hits;	/* allocations served by the cache */
	uint64_t refills;	/* batches taken from the buddy allocator */
	uint64_t spills;	/* batches returned because above `high` */
	uint64_t drains;	/* caches emptied by page_drain_all */
	uint64_t cached[PAGE_PCP_ORDERS];	/* blocks now in the cache */
};

struct page_stats {
	size_t nregions;
	size_t total_pages;		/* managed frames */
	size_t free_pages;		/* in buddy lists and per-CPU caches */
	size_t buddy_free[PAGE_NORDERS];/* free blocks per order, all regions */
	size_t pcp_pages;		/* frames held in per-CPU caches */
	uint64_t splits, merges;	/* buddy operations */
	uint64_t allocs, frees;		/* sums over cpus */
	uint64_t refills, spills, drains, pcp_hits;
	uint64_t failures;		/* allocations that returned NULL */
	uint64_t injected;		/* of those, injected by fail_every */
	uint64_t contig_allocs;
};

void page_stats(struct page_stats *out);
void page_cpu_stats(unsigned cpu, struct page_cpu_stats *out);
size_t page_free_count(void);
/* Per region: free blocks per order. */
size_t page_region_count(void);
void page_region_free(size_t region, size_t out[PAGE_NORDERS], paddr_t *base,
    size_t *npages);
void page_dump(void);

/* Expensive: walks every frame and free list and checks the invariants. */
bool page_is_valid(void);

#endif /* RVMM_VM_PAGE_H */
