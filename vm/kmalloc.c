/*
 * kmalloc.c: allocation by size over size-class zones.
 *
 * 1. Classes.  16, 32, .., 128 (steps of 16), then eight classes per
 *    doubling up to 8 KiB: 144, 160, .., 256 (steps of 16), 288 .. 512
 *    (32), 576 .. 1024 (64), 1152 .. 2048 (128), 2304 .. 4096 (256),
 *    and above 4 KiB 4608, 5120, 5456, 6144, 6544, 7296, 7680, 8192
 *    (the 56 small classes); then the big classes, eight per doubling up
 *    to 64 KiB: 9 .. 16 KiB (steps of 1 KiB), 18 .. 32 KiB (2 KiB),
 *    36 .. 64 KiB (4 KiB): 80 zones.  The last small doubling is not in steps of 512 because 5632,
 *    6656 and 7168 do not fill a slab of at most 32 KiB (zone.c's
 *    ZONE_SLAB_MAX_ORDER) to within 1/8; 5456 and 6544 are 32 KiB / 6
 *    and / 5 rounded down to 16, 7296 the middle of the classes that
 *    pack four to a 32 KiB slab within 1/8.  Two bounds hold for every
 *    class (tests/test_kmalloc.c computes both from the zones' geometry):
 *    - internal waste: a request just above class p lands in the next
 *      class c and wastes c - p - 1 bytes; above 128 bytes that is below
 *      1/8 of c, at most 687/6144 = 11.2% (a request of 5457 bytes); in
 *      the regular doublings, big classes included, the worst is
 *      b/8 - 1 over b + b/8 (just below 1/9, e.g. 511/4608 = 11.1%,
 *      1023/9216 = 11.1%);
 *    - slab waste: the bytes of a slab block that hold no object (tail,
 *      and the header of an on-slab zone) are below 1/8 of the block, at
 *      most 3584/32768 = 10.9% (7296: four objects per 32 KiB).  The big
 *      classes take slabs of 2^5, 2^6 and 2^7 pages (128, 256, 512 KiB
 *      for the three doublings: zone_impl.h, ZONE_BIG_SLAB_MAX_ORDER),
 *      the smallest that hold eight objects, so their waste is below one
 *      object, i.e. below 1/8; at most 8.6% (13312, 26624, 53248: nine
 *      objects per slab).  This is the zones' layout without debug
 *      redzones (which add 16 bytes to each object's stride, see 6.).
 *    Together: a request above 128 bytes and up to 64 KiB occupies less
 *    than (8/7)^2 = 1.31 times its size, slab tails included (with the
 *    worst cases above, at most 1.26 times; objects cached in magazines
 *    and the one empty slab a zone keeps aside).
 *    Power-of-two classes are created with their size as alignment, the
 *    others with 16, so any request gets 16-byte alignment and a
 *    power-of-two request (which lands in the class of exactly its size)
 *    its natural alignment.
 *
 * 2. Lookup.  One table of zone pointers, no search, no division, no
 *    branch: km_zone_of[(size - 1) >> 4] for every size up to 8 KiB (512
 *    slots, 4 KiB; a workload touches only the lines of the sizes it
 *    asks for).  This works because every class is a multiple of 16, so
 *    all sizes sharing a slot share the smallest class that fits them.
 *    (Two tables, 16-byte steps up to 1 KiB and 128-byte steps above,
 *    would be an eighth of the size but need a branch or arithmetic on
 *    the size to choose; a mix of request sizes makes the branch
 *    mispredict often.)  The big classes, multiples of 1 KiB, have a
 *    second table, km_big_zone_of[(size - 1) >> 10] (64 slots), reached
 *    by one more compare after the first misses: sizes up to 8 KiB pay
 *    nothing for it.
 *
 * 3. Fast path.  kmalloc is the table lookup plus the zone's inline
 *    per-cpu magazine pop (zone_impl.h); kfree finds the frame of the
 *    address (zone_page_of_first: an inline index into the first
 *    region's frame array, what kva_to_page computes with two calls),
 *    reads the zone from pg_owner, and pushes onto the cpu's magazine.
 *    A tag in pg_owner.word[2] (the zone pointer xor a kmalloc magic, set
 *    on every frame of every class slab) proves the frame belongs to a
 *    kmalloc class before the zone pointer is trusted, so a foreign
 *    pointer panics instead of corrupting a zone.  Both need no stack
 *    frame: the large path, other regions and bad pointers (kfree_slow)
 *    are out of line and reached by tail calls, as are the zone misses.
 *
 * 4. Large allocations (> 64 KiB) take 2^k frames from page_alloc when
 *    the frame count n is a power of two (naturally aligned), else a run
 *    from page_alloc_run: the buddy block of the next power of two, cut
 *    to n frames, the frames past them returned to the buddy lists at
 *    once (page.c, 5.).  Both are O(log n) whatever the size of RAM: a
 *    free-list pop, at most PAGE_MAX_ORDER splits, and for a run at most
 *    log2(n) blocks given back and, on kfree, as many merges.  They take
 *    the region's buddy lock (orders of 64 KiB and up are not cached per
 *    cpu), once for a block and twice for a run; at these sizes filling
 *    the memory costs more than the lock.  Runs longer than the largest
 *    buddy block (2^PAGE_MAX_ORDER frames, 4 MiB) still come from
 *    page_alloc_contig, a scan of the region: the one path whose cost
 *    grows with RAM.  The first frame records the size asked for
 *    (pg_owner.ksize = word[0]), an owner mark (word[1]) and the frame
 *    count with the kind of allocation (word[2], xor a magic); kfree
 *    checks all three and clears them, so a second kfree, or a kfree of
 *    a frame inside the allocation (no record), panics.
 *    Cost (docs/BENCHMARKS.md, kmalloc.large): kmalloc+kfree of 8504 or
 *    16384 bytes is a magazine hit of a big class, as cheap as a small
 *    one, at 64 MiB as at 4 GiB; 100000 bytes (a 25-frame run) is a
 *    buddy allocation, a cut and a free, about 170 ns on the host at
 *    either size of RAM.  (Before the big classes and page_alloc_run,
 *    any size above 8 KiB that was not a power-of-two number of frames
 *    took page_alloc_contig's scan under the region lock: 5 us with
 *    64 MiB of RAM, 190 us with 4 GiB, for 8504 bytes.)
 *
 * 5. Locking: none of its own; the zones' and the page allocator's.  The
 *    class tables are written once by kmalloc_init and read-only after.
 *
 * 6. Debug and failure.  The class zones are debug zones when
 *    VM_DEBUG_LEVEL >= 2 (poison, redzones after the class size, state
 *    tags: see zone_debug.c); kmalloc_set_debug() turns that off for
 *    benchmarks.  kmalloc_set_fail_every() injects failures into every
 *    class and the large path.  Statistics of the classes are the zones'
 *    (zone_stats on kmalloc_class_zone(i)); the large path counts its own.
 */
#include <errno.h>
#include <string.h>

#include "lib/kprintf.h"
#include "vm/kmalloc.h"
#include "vm/zone_impl.h"

#define KM_NSMALL 56		/* classes up to KMALLOC_MAX_CLASS */
#define KM_NCLASSES (KM_NSMALL + 24)
#define KM_LARGE_OWNER 0x4b4d414c4c4152ull	/* word[1] of a large run */
#define KM_LARGE_MAGIC 0x9e3779b97f4a7c15ull

static size_t km_class_size[KM_NCLASSES];		/* (C) */
static struct zone *km_class_zone[KM_NCLASSES];		/* (C) */
static struct zone *km_zone_of[KMALLOC_MAX_CLASS >> 4];	/* (C) */
static struct zone *km_big_zone_of[KMALLOC_MAX_BIG >> 10];	/* (C) */
static bool km_ready;

static unsigned km_fail_every;		/* (A) */
static unsigned km_fail_count;		/* (A) */
static uint64_t km_large_allocs, km_large_frees, km_large_pages;	/* (A) */
static uint64_t km_failures;		/* (A) */

/* The classes above 4 KiB (see 1. in the theory comment). */
static const size_t km_top[] = {
	4608, 5120, 5456, 6144, 6544, 7296, 7680, 8192
};

static void
kmalloc_make_classes(void)
{
	unsigned n = 0;

	for (size_t s = 16; s <= 128; s += 16)
		km_class_size[n++] = s;
	for (size_t base = 128; base < KMALLOC_MAX_CLASS / 2; base *= 2)
		for (size_t s = base + base / 8; s <= 2 * base; s += base / 8)
			km_class_size[n++] = s;
	for (unsigned i = 0; i < sizeof(km_top) / sizeof(km_top[0]); i++)
		km_class_size[n++] = km_top[i];
	VM_ASSERT(n == KM_NSMALL);
	/* The big classes: eight per doubling, multiples of 1 KiB. */
	for (size_t base = KMALLOC_MAX_CLASS; base < KMALLOC_MAX_BIG; base *= 2)
		for (size_t s = base + base / 8; s <= 2 * base; s += base / 8)
			km_class_size[n++] = s;
	VM_ASSERT(n == KM_NCLASSES);
}

static struct zone *
kmalloc_class_for(size_t size)
{
	for (unsigned i = 0; i < KM_NCLASSES; i++)
		if (km_class_size[i] >= size)
			return km_class_zone[i];
	return NULL;
}

void
kmalloc_init(void)
{
	char name[ZONE_NAME_MAX];

	if (km_ready)
		return;
	kmalloc_make_classes();
	for (unsigned i = 0; i < KM_NCLASSES; i++) {
		size_t s = km_class_size[i];
		size_t align = (s & (s - 1)) == 0 ? s : 16;
		ksnprintf(name, sizeof(name), "kmalloc-%zu", s);
		km_class_zone[i] = zone_create(name, s, align, NULL, NULL,
		    ZONE_KMALLOC);
		VM_PANIC_IF(km_class_zone[i] == NULL,
		    "kmalloc_init: cannot create zone %s", name);
	}
	for (size_t i = 0; i < KMALLOC_MAX_CLASS >> 4; i++)
		km_zone_of[i] = kmalloc_class_for((i + 1) << 4);
	for (size_t i = KMALLOC_MAX_CLASS >> 10; i < KMALLOC_MAX_BIG >> 10; i++)
		km_big_zone_of[i] = kmalloc_class_for((i + 1) << 10);
	ck_pr_store_8((uint8_t *)&km_ready, 1);
}

zone_t
kmalloc_zone_for(size_t size)
{
	if (size == 0)
		size = 1;
	if (size <= KMALLOC_MAX_CLASS)
		return km_zone_of[(size - 1) >> 4];
	if (size <= KMALLOC_MAX_BIG)
		return km_big_zone_of[(size - 1) >> 10];
	return NULL;
}

static bool
kmalloc_fail_now(void)
{
	unsigned n = ck_pr_load_uint(&km_fail_every);

	if (n == 0)
		return false;
	return ck_pr_faa_uint(&km_fail_count, 1) % n == n - 1;
}

/* Out of line (as is kfree_large), so that kmalloc and kfree themselves
   need no stack frame. */
static __attribute__((noinline)) void *
kmalloc_large(size_t size, unsigned flags)
{
	size_t npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	unsigned pflags = ((flags & KM_ZERO) ? PAGE_ZERO : 0) |
	    ((flags & KM_NORECLAIM) ? PAGE_NORECLAIM : 0);
	unsigned order = 0;
	struct vm_page *pg;
	bool contig;

	if (kmalloc_fail_now() || npages > UINT32_MAX)
		goto fail;
	while (((size_t)1 << order) < npages)
		order++;
	contig = ((size_t)1 << order) != npages || order > PAGE_MAX_ORDER;
	if (!contig)
		pg = page_alloc(order, pflags);
	else if (order <= PAGE_MAX_ORDER)
		pg = page_alloc_run(npages, pflags);	/* O(log n) */
	else	/* Beyond the largest block: a scan; powers of two aligned. */
		pg = page_alloc_contig(npages, (npages & (npages - 1)) == 0 ?
		    npages << PAGE_SHIFT : 0, pflags);
	if (pg == NULL)
		goto fail;
	pg->pg_owner.word[0] = size;
	pg->pg_owner.word[1] = KM_LARGE_OWNER;
	pg->pg_owner.word[2] = ((npages << 1) | contig) ^ KM_LARGE_MAGIC;
	ck_pr_inc_64(&km_large_allocs);
	ck_pr_add_64(&km_large_pages, npages);
	return page_to_kva(pg);
fail:
	ck_pr_inc_64(&km_failures);
	return NULL;
}

void *
kmalloc(size_t size, unsigned flags)
{
	struct zone *z;

	if (__builtin_expect(size - 1 < KMALLOC_MAX_CLASS, 1))
		z = km_zone_of[(size - 1) >> 4];
	else if (size - 1 < KMALLOC_MAX_BIG)
		z = km_big_zone_of[(size - 1) >> 10];
	else if (size == 0)
		z = km_zone_of[0];
	else
		return kmalloc_large(size, flags);
	return zone_alloc_inline(z, flags);
}

/* Decodes and checks a large allocation's frame; panics on misuse. */
static size_t
kmalloc_large_npages(struct vm_page *pg, const void *p, bool *contig,
    const char *fn)
{
	uint64_t enc = pg->pg_owner.word[2] ^ KM_LARGE_MAGIC;
	size_t size = pg->pg_owner.word[0];
	size_t npages = (size_t)(enc >> 1);

	VM_PANIC_IF(p != page_to_kva(pg) || npages == 0 ||
	    (size + PAGE_SIZE - 1) >> PAGE_SHIFT != npages,
	    "%s(%p): not a pointer kmalloc returned (bad large-allocation "
	    "record)", fn, p);
	*contig = enc & 1;
	return npages;
}

/* Whether a frame is a class slab's (then pg_owner.word[1] is its zone). */
static inline bool
kmalloc_is_class(const struct vm_page *pg)
{
	return pg->pg_owner.word[2] ==
	    (pg->pg_owner.word[1] ^ ZONE_PAGE_MAGIC_KMALLOC);
}

static inline void
kfree_class(struct zone *z, void *p)
{
#if VM_DEBUG_LEVEL >= 1
	(void)zone_obj_slab(z, p, "kfree");
#endif
	zone_free_inline(z, p);
}

/*
 * kfree of anything but a class object in the first RAM region: NULL, a
 * class object elsewhere, a large run, or a bad pointer.  Out of line (as is
 * kmalloc_large), so that kfree itself needs no stack frame.
 */
static __attribute__((noinline)) void
kfree_slow(void *p)
{
	struct vm_page *pg;

	if (p == NULL)
		return;
	pg = zone_page_of(p);
	if (pg != NULL && kmalloc_is_class(pg)) {
		kfree_class((struct zone *)pg->pg_owner.word[1], p);
		return;
	}
	if (pg != NULL && pg->pg_owner.word[1] == KM_LARGE_OWNER) {
		bool contig;
		size_t npages = kmalloc_large_npages(pg, p, &contig, "kfree");
		pg->pg_owner.word[0] = 0;
		pg->pg_owner.word[1] = 0;
		pg->pg_owner.word[2] = 0;
		ck_pr_inc_64(&km_large_frees);
		ck_pr_sub_64(&km_large_pages, npages);
		if (contig) {
			page_free_contig(pg, npages);
		} else {
			unsigned order = 0;
			while (((size_t)1 << order) < npages)
				order++;
			page_free(pg, order);
		}
		return;
	}
	panic("kfree(%p): not a pointer kmalloc returned", p);
}

void
kfree(void *p)
{
	struct vm_page *pg;

	/* NULL is not in the first region (zone_dmap_init), so it reaches
	   kfree_slow. */
	if (__builtin_expect(zone_page_of_first(p, &pg), 1) &&
	    __builtin_expect(kmalloc_is_class(pg), 1)) {
		kfree_class((struct zone *)pg->pg_owner.word[1], p);
		return;
	}
	kfree_slow(p);
}

size_t
ksize(const void *p)
{
	struct vm_page *pg = p != NULL ? zone_page_of(p) : NULL;

	if (pg != NULL) {
		if (kmalloc_is_class(pg)) {
			struct zone *z = (struct zone *)pg->pg_owner.word[1];
#if VM_DEBUG_LEVEL >= 1
			(void)zone_obj_slab(z, p, "ksize");
#endif
			return z->z_size;
		}
		if (pg->pg_owner.word[1] == KM_LARGE_OWNER) {
			bool contig;
			(void)kmalloc_large_npages(pg, p, &contig, "ksize");
			return pg->pg_owner.ksize;
		}
	}
	panic("ksize(%p): not a pointer kmalloc returned", p);
}

unsigned
kmalloc_nclasses(void)
{
	return KM_NCLASSES;
}

size_t
kmalloc_class_size(unsigned i)
{
	VM_ASSERT(i < KM_NCLASSES);
	return km_class_size[i];
}

zone_t
kmalloc_class_zone(unsigned i)
{
	VM_ASSERT(i < KM_NCLASSES);
	return km_class_zone[i];
}

void
kmalloc_set_magazines(bool on)
{
	for (unsigned i = 0; i < KM_NCLASSES; i++)
		zone_set_magazines(km_class_zone[i], on);
}

int
kmalloc_set_debug(bool on)
{
	int err = 0;

	for (unsigned i = 0; i < KM_NCLASSES; i++)
		if (zone_set_debug(km_class_zone[i], on) != 0)
			err = -EBUSY;
	return err;
}

void
kmalloc_set_fail_every(unsigned n)
{
	for (unsigned i = 0; i < KM_NCLASSES; i++)
		zone_set_fail_every(km_class_zone[i], n);
	ck_pr_store_uint(&km_fail_count, 0);
	ck_pr_store_uint(&km_fail_every, n);
}

size_t
kmalloc_reap_all(void)
{
	size_t frames = 0;

	for (unsigned i = 0; i < KM_NCLASSES; i++)
		frames += zone_reap_all(km_class_zone[i]);
	return frames;
}

void
kmalloc_stats(struct kmalloc_stats *out)
{
	out->large_allocs = ck_pr_load_64(&km_large_allocs);
	out->large_frees = ck_pr_load_64(&km_large_frees);
	out->large_pages = ck_pr_load_64(&km_large_pages);
	out->failures = ck_pr_load_64(&km_failures);
}
