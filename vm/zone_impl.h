/*
 * zone_impl.h: private layout of the zone allocator (see the theory comment
 * of vm/zone.c).  Only vm/zone*.c and vm/kmalloc.c include this, and the
 * zone tests (white-box checks of the fast path's exclusion).
 *
 * Layers, top down.  An allocation tries each in turn; a free goes down
 * only as far as it must.
 *
 *	1. per-cpu magazines	z_cpu[cpu]: a loaded and a previous magazine
 *				(no lock, own cache line; see Exclusion)
 *	2. depot		z_depot: full and empty magazines (depot lock)
 *	3. slabs		z_slab: partial/full/empty slabs (slab lock)
 *	4. pages		page_alloc/page_free (vm/page.h)
 *
 * Magazines themselves are objects of the magazine zones (one per
 * magazine size, ZONE_NOMAG), allocated on the free path (and for a cpu
 * that holds none, on the alloc path), never with reclaim.  Off-slab slab
 * headers come from the slab-header zone.
 *
 * Lock order (a lock may be taken while holding the ones above it):
 *
 *	1. zone_list_lock	(the list of zones; reclaim and create/destroy)
 *	2. z_depot.d_lock	(one zone's depot)
 *	3. z_slab.sl_lock	(one zone's slab layer)
 *	4. the page allocator's locks (page_free only; see below)
 *
 * In practice the depot and slab locks are never nested with each other:
 * magazines are unloaded from the depot under its lock and emptied into
 * the slab layer after it is dropped.  Every lock is taken with interrupts
 * disabled (the reclaim IPI takes the list and depot locks).  While holding
 * any zone lock one must not: call page_alloc() (it may run the reclaim
 * hook, which takes these locks), call smp_call(), run a constructor or a
 * destructor (except reclaim's drains under zone_list_lock, which run
 * destructors with interrupts off), or call zone_alloc()/zone_free() on the
 * same zone.  page_free() is allowed (it never waits for other cpus).  No
 * cpu holds a zone lock while it waits for another cpu.
 *
 * Field legend:
 *	(C) constant after zone_create (or zone_set_debug on a quiet zone)
 *	(A) atomic (ck_pr)
 *	(G) zone_list_lock
 *	(D) z_depot.d_lock
 *	(S) z_slab.sl_lock
 *	(L) the owning cpu, with interrupts off or inside zc_enter/zc_exit
 *	    (or that cpu's flush IPI, outside zc_enter/zc_exit)
 *	(W) written by the owning cpu with stat_inc (lib/stat.h), read by
 *	    anyone
 *
 * Invariants (checked by zone_is_valid(); "mag" is any magazine):
 *	0 <= mag->m_rounds <= mag->m_size
 *	z_cpu[c].zc_prev is &zone_mag_none, or empty (m_rounds == 0), or full
 *	    (m_rounds == m_size)
 *	fast view on (zc_lo != NULL) => z_flags has no ZF_SLOW bit,
 *	    zc_lo == zc_loaded->m_objs, zc_hi == zc_lo + zc_loaded->m_size,
 *	    zc_lo <= zc_top <= zc_hi; off => zc_top == zc_lo == zc_hi == NULL
 *	every magazine on d_full has m_rounds > 0 (== m_size except for the
 *	    partial magazines a flush put there); every one on d_empty has 0
 *	d_nfull == length(d_full), d_nempty == length(d_empty)
 *	d_full_min <= d_nfull, d_empty_min <= d_nempty
 *	objects in magazines are constructed; objects in slabs are not
 *	per slab: s_inuse + length(s_free list) == z_slab_objs
 *	slab on sl_full <=> s_inuse == z_slab_objs; on sl_empty <=> s_inuse == 0;
 *	    otherwise on sl_partial
 *	sl_nslabs == sl_npartial + sl_nfull + sl_nempty
 *	sum over slabs of s_inuse == objects held by callers + objects in
 *	    magazines (cpus and depot)
 *	every frame f of a slab s: f->pg_owner.z.slab == s,
 *	    f->pg_owner.z.zone == z, f->pg_owner.word[2] == zone_page_tag(z)
 *	z_slab_objs * z_stride + header (on-slab) + tail waste
 *	    == PAGE_SIZE << z_slab_order, with tail waste < 1/8 of it whenever
 *	    some order up to ZONE_SLAB_MAX_ORDER allows
 */
#ifndef RVMM_VM_ZONE_IMPL_H
#define RVMM_VM_ZONE_IMPL_H

#include <ck_pr.h>
#include <ck_queue.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "lib/assert.h"
#include "lib/stat.h"
#include "vm/page.h"
#include "vm/zone.h"

#define ZONE_MIN_ALIGN 16
#define ZONE_SLAB_MAX_ORDER 3		/* slabs of up to 8 pages (cached
					   per cpu by the page allocator) */
#define ZONE_SLAB_MIN_OBJS 8		/* prefer slabs with this many */
#define ZONE_OFFSLAB_MIN (PAGE_SIZE / 8)/* strides from here: off-slab
					   header, so big objects pack */
#define ZONE_SLAB_RESERVE 1		/* empty slabs kept per zone */
#define ZONE_REFILL_MAX 64		/* objects a miss may move from the
					   slab layer into empty magazines */
#define ZONE_MAX_ALIGN (PAGE_SIZE << ZONE_SLAB_MAX_ORDER)
/*
 * kmalloc's classes above ZONE_MAX_ALIGN / 4 (8 KiB; ZONE_KMALLOC zones
 * only) may take slabs of up to 2^ZONE_BIG_SLAB_MAX_ORDER pages, so that
 * objects of up to ZONE_BIG_MAX_SIZE (64 KiB) still pack 8 to a slab
 * within 1/8, and be aligned up to their size.  Those slabs come from the
 * buddy allocator under its lock, once per slab of 8 or more objects.
 */
#define ZONE_BIG_SLAB_MAX_ORDER 7
#define ZONE_BIG_MAX_SIZE (PAGE_SIZE << (ZONE_BIG_SLAB_MAX_ORDER - 3))
/*
 * Smallest starting magazine (rounds), where ~64 KiB of objects allow it.
 * With 6 rounds, a cpu whose count of live objects in a zone swings by a
 * dozen (kmalloc's big classes under a mixed load) trades magazines with
 * the depot every few dozen operations; with two cpus the depot line and
 * whole magazines of objects still hot in the other cpu's cache move
 * between cpus, yet the lock is rarely caught held, so the contention
 * resize (below) never fires.
 */
#define ZONE_MAG_MIN_ROUNDS 30

/* Debug layout: [object size][redzone >= 8 bytes][tag word] per stride. */
#define ZONE_POISON_BYTE 0x6b		/* free object */
#define ZONE_REDZONE_BYTE 0xbb
#define ZONE_TAG_ALLOC 0xa110ca7eda110ca7ull
#define ZONE_TAG_FREE 0xf4eef4eef4eef4eeull

/* Internal zone_create flags (beyond those of zone.h). */
#define ZONE_MAGZONE 0x100u	/* an internal zone: magazines, slab
				   headers or descriptors */
#define ZONE_KMALLOC 0x200u	/* a kmalloc size class */

/* z_flags bits */
#define ZF_NOMAG 0x1u		/* (A) magazine layer off */
#define ZF_DEBUG 0x2u		/* (A) poison/redzone/tags */
#define ZF_FAILINJ 0x4u		/* (A) failure injection armed */
#define ZF_MAGZONE 0x8u		/* (C) */
#define ZF_KMALLOC 0x10u	/* (C) */
/* Any of these keeps the fast views off (zone_alloc/zone_free always take
   the slow path). */
#define ZF_SLOW (ZF_NOMAG | ZF_DEBUG | ZF_FAILINJ)

/* Tag in pg_owner.word[2] of every slab frame: tells kfree what it is. */
#define ZONE_PAGE_MAGIC 0x5a0e5a0e5a0e5a0eull
#define ZONE_PAGE_MAGIC_KMALLOC 0x6b3a110c6b3a110cull

/* ------------------------------------------------------------------ */
/* 1. Magazines.                                                       */

struct zone_mag {
	struct zone_mag *m_next;	/* (D) depot list link */
	uint32_t m_rounds;		/* (L) while on a cpu, (D) in the depot */
	uint32_t m_size;		/* (C) capacity */
	void *m_objs[];			/* [0, m_rounds): constructed objects */
};

/* Magazine capacities: header + rounds fill 64 .. 2048 bytes. */
#define ZONE_NMAGTYPES 6
#define ZONE_MAG_MAX_ROUNDS 254		/* the largest (zone_magtypes[]) */
struct zone_magtype {
	unsigned mt_size;		/* (C) rounds */
	struct zone *mt_zone;		/* (C) the zone magazines come from */
};

/*
 * The "no magazine" sentinel: m_rounds == m_size == 0, so the fast paths
 * need no NULL test (an alloc sees it empty, a free sees it full).  It is
 * never written.
 */
extern struct zone_mag zone_mag_none;

/*
 * One cpu's share of a zone: the hot line (first) and its counters.
 *
 * Fast view.  While the zone may use the inline fast path (no ZF_SLOW
 * bit), zc_lo and zc_hi bound the loaded magazine's slots (m_objs and
 * m_objs + m_size) and zc_top points past its last round: that pointer,
 * not m_rounds, is its fill, and the fast path touches this line and the
 * magazine's slot, nothing else.  Otherwise (and whenever a slow path or
 * a flush works on the magazines) the three are NULL, so the inline
 * paths miss (top == lo: nothing to take; top == hi: no room) without
 * testing a flag, and m_rounds is authoritative.  zc_writeback() and
 * zc_publish() switch between the two.
 *
 * Why a pointer and not a count.  The stack top is the one value each
 * operation reads and writes back, so consecutive operations form a
 * chain through it.  As a pointer, a pop is `t = top; top = t - 1;
 * return t[-1]` and a push `*top = obj; top += 1`; with an index the slot
 * address also needs the array base, a second load.  On the host the
 * pointer form runs an alloc/free pair in well under half the time of
 * the index form (bench/host/bench_malloc.c, kmalloc.pair).
 *
 * Counting.  zc_allocs and zc_frees count every zone_alloc that returned
 * an object and every zone_free on this cpu, whichever layer served it:
 * the fast path and the slow paths alike with stat_inc.  Only this cpu
 * writes them, each is one word, and each only grows, so a reader on
 * another cpu (zone_cpu_stats) loads them without a lock and never sees
 * either go backwards; the two are not a consistent pair (an operation
 * in flight may be counted in one read and not in another), as every
 * other counter.
 */
/*
 * Exclusion.  Only the owning cpu touches its zone_cpu, and its flush IPI
 * (zone.c, zone_flush_local), which moves the magazines to the depot.
 * The slow paths keep the IPI out by disabling interrupts.  The inline
 * fast path does not: it raises zc_busy (zc_enter) before its first
 * load and drops it (zc_exit) after its last store, with compiler
 * barriers on both sides.  A flush IPI that interrupts the cpu between
 * the two finds zc_busy set, leaves this zone_cpu alone and reports a
 * miss, and the sender calls that cpu again (zone_flush_cpus): the flush
 * happens at the next try, after the fast path has finished.  The IPI
 * runs on the same cpu as the code it interrupts, so program order is
 * all the ordering needed: plain stores, no fence, no atomic and no CSR
 * access on the fast path.  The cpu must not change under the fast path
 * (hal_preempt_disable: a no-op in rvmm's ports, whose kernel code is
 * never preempted).
 */
struct zone_cpu {
	void **zc_top;			/* (L) next free slot of loaded, fast
					   view (NULL: off) */
	void **zc_lo;			/* (L) zc_loaded->m_objs, fast view */
	void **zc_hi;			/* (L) zc_lo + m_size, fast view */
	uint64_t zc_allocs;		/* (W) zone_alloc calls that returned
					   an object (see Counting) */
	uint64_t zc_frees;		/* (W) zone_free calls, likewise */
	struct zone_mag *zc_loaded;	/* (L) */
	struct zone_mag *zc_prev;	/* (L) */
	uint8_t zc_busy;		/* (L) nonzero while the owner is in
					   the inline fast path: see
					   Exclusion above */
	/* Second line: the slow paths' counters. */
	uint64_t zc_alloc_misses __attribute__((aligned(HAL_CACHE_LINE)));
					/* (W) both magazines empty */
	uint64_t zc_free_misses;	/* (W) both magazines full */
	uint64_t zc_depot_gets;		/* (W) full magazines from the depot */
	uint64_t zc_depot_puts;		/* (W) full magazines to the depot */
	uint64_t zc_slab_allocs;	/* (W) objects from the slab layer */
	uint64_t zc_slab_frees;		/* (W) objects to the slab layer */
	uint64_t zc_alloc_slab;		/* (W) allocs served by the slab layer */
	uint64_t zc_free_slab;		/* (W) frees that went to the slab layer */
} __attribute__((aligned(2 * HAL_CACHE_LINE)));	/* adjacent-line prefetch
							   pairs lines */
_Static_assert(sizeof(struct zone_cpu) == 2 * HAL_CACHE_LINE,
    "struct zone_cpu is one pair of lines");

/* The fill of the fast view (0 when it is off).  => the owning cpu, or a
   quiet zone. */
static inline uint32_t
zc_rounds(const struct zone_cpu *zc)
{
	return (uint32_t)(zc->zc_top - zc->zc_lo);
}

/*
 * zc_writeback: turns the fast view off (m_rounds becomes authoritative).
 * => the owning cpu, interrupts off.
 */
static inline void
zc_writeback(struct zone_cpu *zc)
{
	if (zc->zc_lo == NULL)
		return;		/* off */
	zc->zc_loaded->m_rounds = zc_rounds(zc);
	zc->zc_top = zc->zc_lo = zc->zc_hi = NULL;
}

/* zc_view: points the fast view at magazine m.  => as zc_writeback. */
static inline void
zc_view(struct zone_cpu *zc, struct zone_mag *m)
{
	zc->zc_lo = m->m_objs;
	zc->zc_top = m->m_objs + m->m_rounds;
	zc->zc_hi = m->m_objs + m->m_size;
}

/* zc_publish: turns the fast view on for the loaded magazine, if the
   zone may use it.  => the owning cpu, interrupts off, view off. */
static inline void
zc_publish(struct zone_cpu *zc, bool fast)
{
	struct zone_mag *m = zc->zc_loaded;

	VM_ASSERT(zc->zc_lo == NULL && zc->zc_top == NULL);
	if (fast && m != &zone_mag_none)
		zc_view(zc, m);
}

/* ------------------------------------------------------------------ */
/* 2. Depot.                                                           */

struct zone_depot {
	ck_spinlock_fas_t d_lock;
	struct zone_mag *d_full;	/* (D) stack of full magazines */
	struct zone_mag *d_empty;	/* (D) stack of empty magazines */
	size_t d_nfull, d_nempty;	/* (D) */
	size_t d_full_min;		/* (D) least d_nfull since last reap */
	size_t d_empty_min;		/* (D) least d_nempty since last reap */
	unsigned d_magtype;		/* (D, read A) size of new magazines */
	unsigned d_magtype_max;		/* (C) growth limit */
	uint64_t d_ops;			/* (D) depot transactions */
	uint64_t d_contention;		/* (D) try-lock failures */
	uint64_t d_contention_mark;	/* (D) d_contention at last check */
	uint64_t d_resizes;		/* (D) magazine size increases */
} HAL_CACHE_ALIGNED;

/* Grow the magazine when more than 1 in ZONE_RESIZE_RATIO of the last
   ZONE_RESIZE_WINDOW depot transactions found the lock taken. */
#define ZONE_RESIZE_WINDOW 64
#define ZONE_RESIZE_RATIO 8

/* ------------------------------------------------------------------ */
/* 3. Slabs.                                                           */

struct zone_slab {
	CK_LIST_ENTRY(zone_slab) s_link;	/* (S) on one of the lists */
	void *s_free;			/* (S) free objects, linked by word 0 */
	uint32_t s_inuse;		/* (S) objects out of the slab */
	uint32_t s_list;		/* (S) ZSL_* */
	char *s_base;			/* (C) first object */
	struct vm_page *s_page;		/* (C) head frame of the block */
	struct zone *s_zone;		/* (C) */
};

enum { ZSL_PARTIAL, ZSL_FULL, ZSL_EMPTY };

CK_LIST_HEAD(zone_slab_list, zone_slab);

struct zone_slab_layer {
	ck_spinlock_fas_t sl_lock;
	struct zone_slab_list sl_lists[3];	/* (S) by ZSL_* */
	size_t sl_count[3];			/* (S) slabs per list */
	size_t sl_nslabs;			/* (S) */
	size_t sl_inuse;			/* (S) sum of s_inuse */
	uint64_t sl_created, sl_destroyed;	/* (S) */
	uint64_t sl_contention;			/* (S) try-lock failures */
} HAL_CACHE_ALIGNED;

/* ------------------------------------------------------------------ */
/* The zone.                                                           */

/*
 * Descriptors.  A zone's descriptor (struct zone and its z_cpu[] lines)
 * is an object of the descriptor zone ("zone-desc", created first by
 * zone_init, without magazines), so descriptors pack several to a page:
 * 512 + 128 * ncpus bytes each.  With one page per descriptor, a load
 * that spreads over the 56 kmalloc classes touched 56 pages for their
 * per-cpu lines alone; under QEMU, whose software TLB holds 4 KiB
 * entries whatever the guest's page size and is direct mapped, that
 * doubled the TLB misses of a second hart.  Two descriptors take frames
 * of their own (z_self): the descriptor zone's, and that of the
 * slab-header zone, made before it because the descriptor zone's slab
 * headers are off-slab.
 */

struct zone {
	/* Identity and geometry (C). */
	char z_name[ZONE_NAME_MAX];
	size_t z_size;			/* object size asked for */
	size_t z_align;
	size_t z_stride;		/* object + debug area + padding */
	size_t z_tag_off;		/* debug: offset of the tag word */
	bool z_poison;			/* debug, and no ctor nor dtor */
	unsigned z_slab_order;
	unsigned z_slab_objs;
	bool z_offslab;			/* header from zone_slab_zone */
	unsigned z_create_flags;
	zone_ctor_t z_ctor;
	zone_dtor_t z_dtor;
	uint64_t z_page_tag;		/* pg_owner.word[2] of its frames */
	unsigned z_ncpus;		/* entries of z_cpu[] */
	struct vm_page *z_self;		/* frames of this descriptor (zone-slab
					   and zone-desc only; NULL for every
					   other zone: see Descriptors) */
	unsigned z_self_order;

	unsigned z_flags;		/* (A) ZF_* */
	unsigned z_fail_every;		/* (A) */
	unsigned z_fail_count;		/* (A) */
	uint64_t z_failures;		/* (A) */
	uint64_t z_injected;		/* (A) */
	uint64_t z_flush_deferred;	/* (A) flush IPIs that found a cpu in
					   the fast path (zc_busy) */

	CK_LIST_ENTRY(zone) z_link;	/* (G) */

	struct zone_depot z_depot;
	struct zone_slab_layer z_slab;

	/* Per cpu, last, a pair of lines each (cpu c's only: (L)). */
	struct zone_cpu z_cpu[] __attribute__((aligned(2 * HAL_CACHE_LINE)));
};

extern struct zone_magtype zone_magtypes[ZONE_NMAGTYPES];
extern struct zone *zone_slab_zone;

/* ------------------------------------------------------------------ */
/* Address to frame without a call (kfree's hot path).                 */

/*
 * The direct map of each RAM region and the region's struct vm_page array
 * (page.c carves one contiguous array per region; zone_init checks that
 * both ends agree with pa_to_page and hal_phys_to_virt before using a
 * region).  (C) after zone_init.
 */
struct zone_dmap {
	uintptr_t dm_va;		/* direct-map address of the region */
	size_t dm_len;			/* bytes */
	struct vm_page *dm_pages;	/* frame of dm_va */
};
extern struct zone_dmap zone_dmap[HAL_MAX_MEM_REGIONS];
extern unsigned zone_ndmap;

struct vm_page *zone_page_of_slow(const void *va);

/* zone_page_of_first: sets *pg to the frame of va and returns true if va
   is in the first region's direct map (else zone_page_of_slow knows). */
static inline bool
zone_page_of_first(const void *va, struct vm_page **pg)
{
	uintptr_t off = (uintptr_t)va - zone_dmap[0].dm_va;

	*pg = zone_dmap[0].dm_pages + (off >> PAGE_SHIFT);
	return off < zone_dmap[0].dm_len;
}

/* zone_page_of: kva_to_page(va) for direct-map addresses, inline. */
static inline struct vm_page *
zone_page_of(const void *va)
{
	struct vm_page *pg;

	if (__builtin_expect(zone_page_of_first(va, &pg), 1))
		return pg;
	return zone_page_of_slow(va);
}

/* ------------------------------------------------------------------ */
/* Inline fast paths (used by zone.c and kmalloc.c).                   */

/* This cpu's zone_cpu.  (One base register for all its fields: written
   as &z->z_cpu[id], compilers fold the array's offset into the index and
   address the counters from a second base; hiding the byte offset from
   them prevents that.) */
static inline struct zone_cpu *
zone_cpu_local(struct zone *z)
{
	uintptr_t off = hal_cpu_id() * sizeof(struct zone_cpu);

	__asm__("" : "+r"(off));
	return (struct zone_cpu *)((char *)z->z_cpu + off);
}

/*
 * zone_swap_local: Bonwick's exchange of the loaded and the previous
 * magazine, on the fast view: loaded is empty (want_full) or full, prev is
 * the opposite.  Returns false if the view is off or prev does not fit.
 * => as zone_alloc_local.
 */
static inline bool
zone_swap_local(struct zone_cpu *zc, bool want_full)
{
	struct zone_mag *p = zc->zc_prev;

	if (zc->zc_lo == NULL || p == &zone_mag_none ||
	    (want_full ? p->m_rounds == 0 : p->m_rounds != 0))
		return false;
	zc->zc_loaded->m_rounds = zc_rounds(zc);
	zc->zc_prev = zc->zc_loaded;
	zc->zc_loaded = p;
	zc_view(zc, p);
	return true;
}

/*
 * zone_alloc_local: pops an object from this cpu's loaded magazine
 * through the fast view into *objp.
 * => zc is this cpu's, between zc_enter and zc_exit (or interrupts off).
 *    Returns false if both magazines are empty (or the view is off).
 *    (Not NULL for a miss: then the caller's hit path would test the
 *    object it got.)
 */
static inline bool
zone_alloc_local(struct zone_cpu *zc, void **objp)
{
	void **t = zc->zc_top;

	if (__builtin_expect(t == zc->zc_lo, 0)) {
		if (!zone_swap_local(zc, true))
			return false;
		t = zc->zc_top;
	}
	zc->zc_top = --t;
	stat_inc(&zc->zc_allocs);
	*objp = *t;
	return true;
}

/*
 * zone_free_local: pushes obj onto this cpu's loaded magazine through the
 * fast view.
 * => as zone_alloc_local.  Returns false if it is full (or the view is
 *    off).
 */
static inline bool
zone_free_local(struct zone_cpu *zc, void *obj)
{
	void **t = zc->zc_top;

	if (__builtin_expect(t == zc->zc_hi, 0)) {
		if (!zone_swap_local(zc, false))
			return false;
		t = zc->zc_top;
	}
	*t = obj;
	zc->zc_top = t + 1;
	stat_inc(&zc->zc_frees);
	return true;
}

void *zone_alloc_slow(struct zone *z, unsigned flags);
void zone_free_slow(struct zone *z, void *obj);

/* zone_flush_local: this cpu's magazines of z to the depot; false (and
   nothing done) inside z's fast path.  => interrupts off.  (zone.c; the
   flush IPI's body, called directly by tests.) */
bool zone_flush_local(struct zone *z);

/* zone_flush_cpus: every cpu runs zone_flush_local(z) (z NULL: on every
   zone) by IPI, again on each cpu caught in a fast path, until all have
   flushed; each cpu's fast view is then off until its next slow path.
   => thread context, no zone lock held.  (zone.c) */
void zone_flush_cpus(struct zone *z);

/* zc_enter: this cpu's zone_cpu of z, closed to its flush IPI until
   zc_exit (see Exclusion). */
static inline struct zone_cpu *
zc_enter(struct zone *z)
{
	struct zone_cpu *zc;

	hal_preempt_disable();
	zc = zone_cpu_local(z);
	ck_pr_store_8(&zc->zc_busy, 1);
	ck_pr_barrier();
	return zc;
}

static inline void
zc_exit(struct zone_cpu *zc)
{
	ck_pr_barrier();
	ck_pr_store_8(&zc->zc_busy, 0);
	hal_preempt_enable();
}

/*
 * zone_alloc_inline: zone_alloc for callers that include this header.
 * A zone with ZF_SLOW bits keeps its fast views off, so it always
 * reaches zone_alloc_slow.  The miss is a tail call, so the hit path
 * needs no stack frame.
 */
static inline void *
zone_alloc_inline(struct zone *z, unsigned flags)
{
	if (__builtin_expect(flags == 0, 1)) {
		struct zone_cpu *zc = zc_enter(z);
		void *obj;
		bool hit = zone_alloc_local(zc, &obj);
		zc_exit(zc);
		if (__builtin_expect(hit, 1))
			return obj;
	}
	return zone_alloc_slow(z, flags);
}

/*
 * zone_free_inline: zone_free without the owner check (the caller, kfree,
 * found the zone from the object's frame).
 */
static inline void
zone_free_inline(struct zone *z, void *obj)
{
	struct zone_cpu *zc = zc_enter(z);
	bool hit = zone_free_local(zc, obj);

	zc_exit(zc);
	if (__builtin_expect(!hit, 0))
		zone_free_slow(z, obj);
}

/* ------------------------------------------------------------------ */
/* Between zone.c and zone_debug.c.                                    */

/* Object geometry for the given debug state (zone_create, set_debug). */
void zone_layout(struct zone *z, bool debug);
/* Debug hooks: state tag, redzone and poison.  pre: ZF_DEBUG. */
void zone_debug_on_alloc(struct zone *z, void *obj, bool from_slab);
void zone_debug_on_free(struct zone *z, void *obj);
/* Marks a fresh slab's objects free (tags, redzones, poison). */
void zone_debug_init_slab(struct zone *z, struct zone_slab *s);
/* The slab an object belongs to; panics (naming fn) if obj is not an
   object start of zone z. */
struct zone_slab *zone_obj_slab(struct zone *z, const void *obj,
    const char *fn);
bool zone_fail_now(struct zone *z);
/* Calls fn on every zone under zone_list_lock, interrupts off. */
void zone_list_foreach(void (*fn)(struct zone *, void *), void *arg);

static inline uint64_t
zone_page_tag(const struct zone *z)
{
	return z->z_page_tag;
}

#endif /* RVMM_VM_ZONE_IMPL_H */
