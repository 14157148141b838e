/*
 * kmalloc tests: every size class (cookie across the whole object,
 * alignment, waste bound, ksize), large allocations, kfree(NULL), failure
 * injection with nothing leaked, a multi-hart stress with random sizes and
 * cross-hart frees after which every frame is back, and reclaim: a large
 * page allocation that only succeeds because the zones give back what
 * kmalloc cached.
 */
#include <string.h>

#include <ck_pr.h>
#include <ck_ring.h>

#include "hal/hal.h"
#include "lib/bootargs.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "vm/kmalloc.h"
#include "vm/page.h"
#include "vm/zone.h"

static void
kt_init(void)
{
	zone_init();
	kmalloc_init();
}

static uint8_t
kt_byte(const void *p, size_t i)
{
	uint64_t x = (uint64_t)(uintptr_t)p * 0xbf58476d1ce4e5b9ull + i;

	return (uint8_t)(x ^ (x >> 31));
}

/* Word 0 holds the size asked for; the rest depends on the address. */
static void
kt_fill(void *p, size_t size)
{
	uint8_t *b = p;
	uint64_t s = size;

	memcpy(b, &s, size < 8 ? size : 8);
	for (size_t i = 8; i < size; i++)
		b[i] = kt_byte(p, i);
}

static bool
kt_check(const void *p, size_t size)
{
	const uint8_t *b = p;

	for (size_t i = 8; i < size; i++)
		if (b[i] != kt_byte(p, i))
			return false;
	return true;
}

static size_t
kt_free_frames(void)
{
	(void)zone_reap_everything();
	return page_free_count();
}

static bool
is_pow2(size_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

KTEST(kmalloc, every_class)
{
	void *p[3];

	kt_init();
	size_t before = kt_free_frames();
	KT_EXPECT_GE(kmalloc_nclasses(), 40);
	KT_EXPECT_EQ(kmalloc_class_size(0), 16);
	KT_EXPECT_GE(kmalloc_class_size(kmalloc_nclasses() - 1), 8192);
	for (unsigned c = 0; c < kmalloc_nclasses(); c++) {
		size_t cs = kmalloc_class_size(c);
		size_t lo = c == 0 ? 1 : kmalloc_class_size(c - 1) + 1;
		size_t reqs[3] = { lo, (lo + cs) / 2, cs };
		/* Waste bound above 128 bytes: the worst request is lo. */
		if (cs > 128)
			KT_EXPECT_LE((cs - lo) * 8, cs);
		KT_EXPECT_EQ(kmalloc_zone_for(lo), kmalloc_class_zone(c));
		KT_EXPECT_EQ(kmalloc_zone_for(cs), kmalloc_class_zone(c));
		for (int r = 0; r < 3; r++) {
			size_t req = reqs[r];
			for (int k = 0; k < 3; k++) {
				p[k] = kmalloc(req, k == 1 ? KM_ZERO : 0);
				KT_ASSERT(p[k] != NULL);
				KT_EXPECT_EQ(ksize(p[k]), cs);
				KT_EXPECT_EQ((uintptr_t)p[k] % 16, 0);
				if (is_pow2(req))
					KT_EXPECT_EQ((uintptr_t)p[k] % req, 0);
				if (k == 1)
					for (size_t i = 0; i < req; i++)
						if (((uint8_t *)p[k])[i]) {
							KT_FAIL("KM_ZERO");
							break;
						}
				kt_fill(p[k], cs);
			}
			for (int k = 0; k < 3; k++) {
				KT_EXPECT(kt_check(p[k], cs));
				kfree(p[k]);
			}
		}
	}
	/* Large sizes: frames, natural alignment for powers of two. */
	static const size_t large[] = { KMALLOC_MAX_BIG + 1, 69632, 100000,
	    131072, 3 << 17, 1 << 20 };
	for (size_t i = 0; i < sizeof(large) / sizeof(large[0]); i++) {
		void *q = kmalloc(large[i], i % 2 ? KM_ZERO : 0);
		KT_ASSERT(q != NULL);
		KT_EXPECT_EQ(ksize(q), large[i]);
		KT_EXPECT_EQ((uintptr_t)q % PAGE_SIZE, 0);
		if (is_pow2(large[i]))
			KT_EXPECT_EQ((uintptr_t)q % large[i], 0);
		kt_fill(q, large[i]);
		KT_EXPECT(kt_check(q, large[i]));
		kfree(q);
	}
	/* Size 0 is a valid, freeable object. */
	void *z = kmalloc(0, 0);
	KT_ASSERT(z != NULL);
	KT_EXPECT_GE(ksize(z), 1);
	kfree(z);
	kfree(NULL);
	struct kmalloc_stats ks;
	kmalloc_stats(&ks);
	KT_EXPECT_EQ(ks.large_allocs, ks.large_frees);
	KT_EXPECT_EQ(ks.large_pages, 0);
	KT_EXPECT_EQ(kt_free_frames(), before);
}

/* The lookup table sends every size to the smallest class that holds it. */
KTEST(kmalloc, size_lookup)
{
	unsigned c = 0;

	kt_init();
	for (size_t size = 0; size <= KMALLOC_MAX_BIG; size++) {
		while (kmalloc_class_size(c) < size)
			c++;
		if (kmalloc_zone_for(size) != kmalloc_class_zone(c)) {
			KT_FAIL("kmalloc_zone_for(%zu) is not kmalloc-%zu", size,
			    kmalloc_class_size(c));
			break;
		}
	}
	KT_EXPECT(kmalloc_zone_for(KMALLOC_MAX_BIG + 1) == NULL);
	KT_EXPECT_EQ(kmalloc_class_size(kmalloc_nclasses() - 1),
	    KMALLOC_MAX_BIG);
}

KTEST(kmalloc, failure_injection)
{
	enum { N = 100 };
	static void *p[N];
	unsigned nulls = 0;

	kt_init();
	size_t before = kt_free_frames();
	kmalloc_set_fail_every(4);
	for (int i = 0; i < N; i++)
		if ((p[i] = kmalloc(64, 0)) == NULL)
			nulls++;
	KT_EXPECT_EQ(nulls, N / 4);
	/* Large allocations and each class count on their own. */
	static void *q[8], *b[8];
	nulls = 0;
	for (int i = 0; i < 8; i++)
		if ((q[i] = kmalloc(100000 + 4096 * (size_t)i, 0)) == NULL)
			nulls++;
	KT_EXPECT_EQ(nulls, 2);
	nulls = 0;
	for (int i = 0; i < 8; i++)
		if ((b[i] = kmalloc(20000, 0)) == NULL)
			nulls++;
	KT_EXPECT_EQ(nulls, 2);
	kmalloc_set_fail_every(0);
	for (int i = 0; i < N; i++)
		kfree(p[i]);
	for (int i = 0; i < 8; i++) {
		kfree(q[i]);
		kfree(b[i]);
	}
	struct kmalloc_stats ks;
	kmalloc_stats(&ks);
	KT_EXPECT_EQ(ks.large_allocs, ks.large_frees);
	KT_EXPECT_EQ(ks.large_pages, 0);
	KT_EXPECT_EQ(kt_free_frames(), before);
	/* The page allocator's own failures on the large path leak
	   nothing either. */
	page_set_fail_every(2);
	for (int i = 0; i < 8; i++)
		q[i] = kmalloc(100000, 0);
	page_set_fail_every(0);
	for (int i = 0; i < 8; i++)
		kfree(q[i]);
	kmalloc_stats(&ks);
	KT_EXPECT_EQ(ks.large_allocs, ks.large_frees);
	KT_EXPECT_EQ(ks.large_pages, 0);
	KT_EXPECT_EQ(kt_free_frames(), before);
}

/* ------------------------------------------------------------------ */
/* Stress: random sizes, a live set, cross-hart frees.                 */

#define KS_SLOTS 64
#define KS_RING 64

static ck_ring_t ks_ring[HAL_MAX_CPUS];
static ck_ring_buffer_t ks_buf[HAL_MAX_CPUS][KS_RING];
static unsigned ks_done[HAL_MAX_CPUS];
static uint64_t ks_ops, ks_cross[HAL_MAX_CPUS];

static void
ks_release(void *p)
{
	uint64_t size;

	memcpy(&size, p, sizeof(size));
	if (size == 0 || size > ksize(p) || !kt_check(p, size))
		KT_FAIL("object %p (size %llu): cookie damaged", p,
		    (unsigned long long)size);
	kfree(p);
}

static void
ks_drain(unsigned from, uint64_t *count)
{
	void *p;

	while (ck_ring_dequeue_spsc(&ks_ring[from], ks_buf[from], &p)) {
		ks_release(p);
		(*count)++;
	}
}

static size_t
ks_size(struct rng *r)
{
	uint64_t x = rng_below(r, 100);

	if (x < 60)
		return 8 + rng_below(r, 120);		/* small */
	if (x < 95)
		return 128 + rng_below(r, 1920);	/* up to 2 KiB */
	if (x < 99)
		return 2048 + rng_below(r, 6144);	/* up to 8 KiB */
	return 8192 + rng_below(r, 12288);		/* large */
}

static void
ks_worker(void *arg)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	unsigned prev = (self + n - 1) % n;
	void *live[KS_SLOTS] = { 0 };
	struct rng r;
	uint64_t cross = 0;

	(void)arg;
	rng_seed(&r, ktest_seed(), 100 + self);
	for (uint64_t i = 0; i < ks_ops; i++) {
		unsigned k = (unsigned)rng_below(&r, KS_SLOTS);
		if (live[k] != NULL) {
			ks_release(live[k]);
			live[k] = NULL;
		} else {
			size_t size = ks_size(&r);
			void *p = kmalloc(size, 0);
			if (p == NULL) {
				KT_FAIL("kmalloc(%zu) failed", size);
				continue;
			}
			kt_fill(p, size);
			if (!(n > 1 && rng_below(&r, 3) == 0 &&
			    ck_ring_enqueue_spsc(&ks_ring[self], ks_buf[self],
			    p)))
				live[k] = p;
		}
		if (n > 1 && i % 8 == 0)
			ks_drain(prev, &cross);
	}
	for (unsigned k = 0; k < KS_SLOTS; k++)
		if (live[k] != NULL)
			ks_release(live[k]);
	ck_pr_store_uint(&ks_done[self], 1);
	if (n > 1) {
		for (;;) {
			bool done = ck_pr_load_uint(&ks_done[prev]) != 0;
			ck_pr_fence_load();
			ks_drain(prev, &cross);
			if (done)
				break;
			hal_cpu_relax();
		}
	}
	ks_cross[self] = cross;
}

/*
 * Runs worker on every hart with ops operations each, the rings empty,
 * and returns how many objects were freed by a hart other than their
 * allocator (the workers' ks_cross).
 */
static uint64_t
ks_run(void (*worker)(void *), uint64_t ops)
{
	uint64_t cross = 0;

	for (unsigned c = 0; c < hal_ncpus(); c++) {
		ck_ring_init(&ks_ring[c], KS_RING);
		ks_done[c] = 0;
	}
	ks_ops = ops;
	smp_run(worker, NULL);
	for (unsigned c = 0; c < hal_ncpus(); c++)
		cross += ks_cross[c];
	return cross;
}

KTEST(kmalloc, stress_cross_hart)
{
	uint64_t cross = 0;

	kt_init();
	size_t before = kt_free_frames();
	cross = ks_run(ks_worker, ktest_iters(2000));
	if (hal_ncpus() > 1)
		KT_EXPECT_GT(cross, 0);
	for (unsigned c = 0; c < kmalloc_nclasses(); c++) {
		struct zone_stats st;
		zone_t z = kmalloc_class_zone(c);
		zone_stats(z, &st);
		KT_EXPECT_EQ(st.objs_in_use, 0);
		KT_EXPECT(zone_is_valid(z));
	}
	ktest_note("%u harts, %llu ops each, %llu cross-hart frees",
	    hal_ncpus(), (unsigned long long)ks_ops,
	    (unsigned long long)cross);
	KT_EXPECT_EQ(kt_free_frames(), before);
}

/* ------------------------------------------------------------------ */
/* Reclaim.                                                            */

/* A list of held page blocks, linked through their own memory. */
struct held {
	struct held *next;
	struct vm_page *pg;
	unsigned order;
};

static struct held *
hold_all_but(size_t keep_order, size_t *held_frames)
{
	struct held *list = NULL;

	*held_frames = 0;
	for (int o = PAGE_MAX_ORDER; o >= 0; o--) {
		struct vm_page *pg;
		while ((pg = page_alloc((unsigned)o, PAGE_NORECLAIM)) != NULL) {
			struct held *h = page_to_kva(pg);
			h->next = list;
			h->pg = pg;
			h->order = (unsigned)o;
			list = h;
			*held_frames += (size_t)1 << o;
		}
	}
	/* Give back the smallest block of at least keep_order. */
	struct held **pp = NULL;
	for (struct held **q = &list; *q != NULL; q = &(*q)->next)
		if ((*q)->order >= keep_order &&
		    (pp == NULL || (*q)->order < (*pp)->order))
			pp = q;
	if (pp != NULL) {
		struct held *h = *pp;
		*pp = h->next;
		*held_frames -= (size_t)1 << h->order;
		page_free(h->pg, h->order);
	}
	return list;
}

static void
release_held(struct held *list)
{
	while (list != NULL) {
		struct held *next = list->next;
		page_free(list->pg, list->order);
		list = next;
	}
}

KTEST(kmalloc, reclaim_lets_big_allocation_succeed)
{
	enum { ORDER = 8 };	/* 1 MiB: the allocation that needs reclaim */
	const char *pp = ktest_arg("page_poison");
	size_t held_frames, filled = 0;
	void *objs = NULL;

	kt_init();
	/* Poisoning all of memory twice is slow under TCG; not the point. */
	page_set_poison(false);
	size_t before = kt_free_frames();
	struct held *held = hold_all_but(ORDER, &held_frames);
	KT_ASSERT(held != NULL);

	/* Fill what is left through kmalloc, then free it all. */
	for (;;) {
		void **p = kmalloc(1024, KM_NORECLAIM);
		if (p == NULL)
			break;
		*p = objs;
		objs = p;
		filled++;
	}
	KT_EXPECT_GE(filled * 1024, (PAGE_SIZE << ORDER) / 4);
	while (objs != NULL) {
		void *next = *(void **)objs;
		kfree(objs);
		objs = next;
	}
	/* The memory sits in magazines and slabs: no 1 MiB block without
	   reclaim. */
	struct vm_page *big = page_alloc(ORDER, PAGE_NORECLAIM);
	KT_EXPECT(big == NULL);
	if (big != NULL)
		page_free(big, ORDER);
	struct zone_stats st;
	zone_stats(kmalloc_zone_for(1024), &st);
	ktest_note("filled %zu objects; cached %zu, %zu slabs hold %zu bytes",
	    filled, st.objs_cached, st.slabs, st.mem_held);
	/* With reclaim, the page allocator asks the zones and succeeds. */
	big = page_alloc(ORDER, 0);
	KT_EXPECT(big != NULL);
	zone_stats(kmalloc_zone_for(1024), &st);
	KT_EXPECT_EQ(st.objs_cached, 0);
	if (big != NULL)
		page_free(big, ORDER);
	release_held(held);
	KT_EXPECT_EQ(kt_free_frames(), before);
	page_set_poison(VM_DEBUG_LEVEL >= 2 && !(pp != NULL && pp[0] == '0'));
}

/*
 * Waste bounds of every class, from the zones' real geometry (slab order
 * and objects per slab as zone_stats reports them) in the layout without
 * debug redzones: the slab waste (bytes of a slab block that hold no
 * object) and the internal waste above 128 bytes (class size minus the
 * smallest request that lands in the class) are both below 1/8.
 */
KTEST(kmalloc, waste_below_one_eighth)
{
	bool was_debug;
	struct zone_stats st;

	kt_init();
	zone_stats(kmalloc_class_zone(0), &st);
	was_debug = st.debug;
	(void)kmalloc_reap_all();
	int err = kmalloc_set_debug(false);
	for (unsigned c = 0; c < kmalloc_nclasses(); c++) {
		size_t cs = kmalloc_class_size(c);
		size_t lo = c == 0 ? 1 : kmalloc_class_size(c - 1) + 1;
		zone_stats(kmalloc_class_zone(c), &st);
		KT_EXPECT_EQ(st.size, cs);
		if (st.debug) {
			/* Live objects keep a debug zone's layout. */
			KT_EXPECT_NE(err, 0);
			ktest_note("kmalloc-%zu busy: layout not checked", cs);
			continue;
		}
		size_t bytes = (size_t)st.slab_pages * PAGE_SIZE;
		size_t waste = bytes - (size_t)st.slab_objs * cs;
		KT_ASSERT(st.slab_objs > 0);
		KT_EXPECT_LE((size_t)st.slab_objs * cs, bytes);
		if (waste * 8 >= bytes)
			KT_FAIL("kmalloc-%zu: slab of %zu bytes holds %u "
			    "objects, wastes %zu (%zu.%zu%%)", cs, bytes,
			    st.slab_objs, waste, waste * 100 / bytes,
			    waste * 1000 / bytes % 10);
		if (cs > 128 && (cs - lo) * 8 >= cs)
			KT_FAIL("kmalloc-%zu: request %zu wastes %zu", cs, lo,
			    cs - lo);
	}
	if (was_debug)
		KT_EXPECT_EQ(kmalloc_set_debug(true), 0);
}

/* ------------------------------------------------------------------ */
/* Sweep of sizes, and the large path across harts.                    */

/* Stamps: the size and a tag at the start, the middle and the end. */
static void
kt_stamp(void *p, size_t size, uint64_t tag)
{
	uint8_t *b = p;
	uint64_t w[2] = { size, tag };
	size_t n = size < sizeof(w) ? size : sizeof(w);

	memcpy(b, w, n);
	if (size >= 3 * sizeof(w))
		memcpy(b + size / 2 - sizeof(w) / 2, w, sizeof(w));
	if (size >= 2 * sizeof(w))
		memcpy(b + size - sizeof(w), w, sizeof(w));
}

static bool
kt_stamped(const void *p, size_t size, uint64_t tag)
{
	const uint8_t *b = p;
	uint64_t w[2] = { size, tag };
	size_t n = size < sizeof(w) ? size : sizeof(w);

	if (size >= 2 * sizeof(w) &&
	    memcmp(b + size - sizeof(w), w, sizeof(w)) != 0)
		return false;
	if (size >= 3 * sizeof(w) &&
	    memcmp(b + size / 2 - sizeof(w) / 2, w, sizeof(w)) != 0)
		return false;
	return memcmp(b, w, n) == 0;
}

/* The alignment every allocation of `size` must have (kmalloc.h). */
static size_t
kt_align_of(size_t size)
{
	if (is_pow2(size) && size >= 16)
		return size;
	return size > KMALLOC_MAX_BIG ? PAGE_SIZE : 16;
}

#define KW_LIVE 8			/* objects live at once in the sweep */
#define KW_BYTES (16u << 20)		/* and at most this many bytes */

struct kw_obj {
	uint8_t *p;
	size_t size;
	uint64_t tag;
};

static struct kw_obj kw_live[KW_LIVE];
static unsigned kw_n, kw_bad;
static size_t kw_bytes;

static void
kw_release_oldest(void)
{
	struct kw_obj *o = &kw_live[0];

	if (!kt_stamped(o->p, o->size, o->tag) && kw_bad++ < 5)
		KT_FAIL("kmalloc(%zu) = %p: contents changed", o->size,
		    (void *)o->p);
	kfree(o->p);
	kw_bytes -= o->size;
	memmove(&kw_live[0], &kw_live[1], --kw_n * sizeof(kw_live[0]));
}

static void
kw_one(size_t size, uint64_t tag)
{
	unsigned flags = tag % 7 == 0 && size <= KMALLOC_MAX_BIG ? KM_ZERO : 0;

	while (kw_n == KW_LIVE || (kw_n > 0 && kw_bytes + size > KW_BYTES))
		kw_release_oldest();
	uint8_t *p = kmalloc(size, flags);
	if (p == NULL) {
		if (kw_bad++ < 5)
			KT_FAIL("kmalloc(%zu) failed", size);
		return;
	}
	/* Physical: the host port's arena is only page aligned. */
	if ((hal_virt_to_phys(p) % kt_align_of(size) != 0 ||
	    (uintptr_t)p % 16 != 0 || ksize(p) < size) &&
	    kw_bad++ < 5)
		KT_FAIL("kmalloc(%zu) = %p: ksize %zu, alignment %zu expected",
		    size, (void *)p, ksize(p), kt_align_of(size));
	if (size > KMALLOC_MAX_BIG && ksize(p) != size && kw_bad++ < 5)
		KT_FAIL("kmalloc(%zu): ksize %zu", size, ksize(p));
	if (flags & KM_ZERO)
		for (size_t i = 0; i < size; i += size / 16 + 1)
			if (p[i] != 0 || p[size - 1] != 0) {
				if (kw_bad++ < 5)
					KT_FAIL("kmalloc(%zu, KM_ZERO): byte "
					    "not zero", size);
				break;
			}
	for (unsigned k = 0; k < kw_n; k++) {
		struct kw_obj *o = &kw_live[k];
		if (p < o->p + o->size && o->p < p + size && kw_bad++ < 5)
			KT_FAIL("kmalloc(%zu) = %p overlaps kmalloc(%zu) = %p",
			    size, (void *)p, o->size, (void *)o->p);
	}
	kt_stamp(p, size, tag);
	kw_live[kw_n++] = (struct kw_obj){ p, size, tag };
	kw_bytes += size;
}

/*
 * Every size from 1 byte to KMALLOC_MAX_BIG + 4 pages, then every page
 * count (the size of n pages, one byte less and one more) up to 1100
 * pages (4.3 MiB: past the largest buddy block, where kmalloc scans for a
 * run): alignment, ksize, no overlap with the last few allocations still
 * live, contents (stamps at both ends and the middle) kept until freed,
 * KM_ZERO, and afterwards every frame and statistic back where it was.
 * Debug zones and page poisoning are turned off meanwhile: they fill and
 * check every byte, which is not what this test is about and would take
 * minutes under TCG.
 */
KTEST(kmalloc, sweep_every_size)
{
	const char *pp = ktest_arg("page_poison");
	struct kmalloc_stats k0, k1;
	struct zone_stats st;
	uint64_t tag = 0;

	kt_init();
	zone_stats(kmalloc_class_zone(0), &st);
	bool was_debug = st.debug;
	(void)kmalloc_reap_all();
	(void)kmalloc_set_debug(false);
	page_set_poison(false);
	size_t before = kt_free_frames();
	kmalloc_stats(&k0);
	kw_n = 0;
	kw_bad = 0;
	kw_bytes = 0;
	for (size_t size = 1; size <= KMALLOC_MAX_BIG + 4 * PAGE_SIZE; size++)
		kw_one(size, ++tag);
	for (size_t n = (KMALLOC_MAX_BIG >> PAGE_SHIFT) + 4; n <= 1100; n++) {
		kw_one(n * PAGE_SIZE - 1, ++tag);
		kw_one(n * PAGE_SIZE, ++tag);
		kw_one(n * PAGE_SIZE + 1, ++tag);
	}
	while (kw_n > 0)
		kw_release_oldest();
	kmalloc_stats(&k1);
	KT_EXPECT_EQ(k1.large_allocs - k0.large_allocs,
	    k1.large_frees - k0.large_frees);
	KT_EXPECT_EQ(k1.large_pages, k0.large_pages);
	KT_EXPECT_EQ(k1.failures, k0.failures);
	for (unsigned c = 0; c < kmalloc_nclasses(); c++) {
		zone_stats(kmalloc_class_zone(c), &st);
		KT_EXPECT_EQ(st.objs_in_use, 0);
	}
	KT_EXPECT_EQ(kt_free_frames(), before);
	ktest_note("%llu allocations", (unsigned long long)tag);
	page_set_poison(VM_DEBUG_LEVEL >= 2 && !(pp != NULL && pp[0] == '0'));
	if (was_debug)
		KT_EXPECT_EQ(kmalloc_set_debug(true), 0);
}

/*
 * Harts allocate and free large objects (above the small classes: the
 * big classes and frame runs up to 1 MiB) at once, from deterministic
 * seeds, each keeping a few live and handing some to the next hart to
 * free; every object's stamps are checked before it is freed.
 */
#define KL_SLOTS 6

static void
kl_worker(void *arg)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	unsigned prev = (self + n - 1) % n;
	struct kw_obj live[KL_SLOTS] = { 0 };
	uint64_t cross = 0;
	struct rng r;
	void *q;

	(void)arg;
	rng_seed(&r, ktest_seed(), 200 + self);
	for (uint64_t i = 0; i < ks_ops; i++) {
		unsigned k = (unsigned)rng_below(&r, KL_SLOTS);
		if (live[k].p != NULL) {
			if (!kt_stamped(live[k].p, live[k].size, live[k].tag))
				KT_FAIL("kmalloc(%zu) = %p: contents changed",
				    live[k].size, (void *)live[k].p);
			kfree(live[k].p);
			live[k].p = NULL;
		} else {
			size_t size = rng_below(&r, 4) == 0 ?
			    KMALLOC_MAX_BIG + 1 + rng_below(&r, 1 << 20) :
			    KMALLOC_MAX_CLASS + 1 + rng_below(&r,
			    KMALLOC_MAX_BIG - KMALLOC_MAX_CLASS);
			uint8_t *p = kmalloc(size, 0);
			if (p == NULL) {
				KT_FAIL("kmalloc(%zu) failed", size);
				continue;
			}
			uint64_t tag = ((uint64_t)self << 48) | i;
			kt_stamp(p, size, tag);
			/* Hand every third to the next hart: it checks the
			   stamps it finds (size and tag in the first words). */
			if (n > 1 && rng_below(&r, 3) == 0 &&
			    ck_ring_enqueue_spsc(&ks_ring[self], ks_buf[self], p))
				continue;
			live[k] = (struct kw_obj){ p, size, tag };
		}
		while (n > 1 && ck_ring_dequeue_spsc(&ks_ring[prev],
		    ks_buf[prev], &q)) {
			uint64_t w[2];
			memcpy(w, q, sizeof(w));
			if (!kt_stamped(q, w[0], w[1]) || ksize(q) < w[0])
				KT_FAIL("object %p from cpu %u damaged", q, prev);
			kfree(q);
			cross++;
		}
	}
	for (unsigned k = 0; k < KL_SLOTS; k++)
		if (live[k].p != NULL)
			kfree(live[k].p);
	ck_pr_store_uint(&ks_done[self], 1);
	while (n > 1) {
		bool done = ck_pr_load_uint(&ks_done[prev]) != 0;
		ck_pr_fence_load();
		while (ck_ring_dequeue_spsc(&ks_ring[prev], ks_buf[prev], &q)) {
			kfree(q);
			cross++;
		}
		if (done)
			break;
		hal_cpu_relax();
	}
	ks_cross[self] = cross;
}

KTEST(kmalloc, large_across_harts)
{
	struct kmalloc_stats k0, k1;
	uint64_t cross = 0;

	kt_init();
	size_t before = kt_free_frames();
	kmalloc_stats(&k0);
	cross = ks_run(kl_worker, ktest_iters(400));
	if (hal_ncpus() > 1)
		KT_EXPECT_GT(cross, 0);
	kmalloc_stats(&k1);
	KT_EXPECT_GT(k1.large_allocs, k0.large_allocs);
	KT_EXPECT_EQ(k1.large_allocs - k0.large_allocs,
	    k1.large_frees - k0.large_frees);
	KT_EXPECT_EQ(k1.large_pages, k0.large_pages);
	for (unsigned c = 0; c < kmalloc_nclasses(); c++) {
		struct zone_stats st;
		zone_t z = kmalloc_class_zone(c);
		zone_stats(z, &st);
		KT_EXPECT_EQ(st.objs_in_use, 0);
		KT_EXPECT(zone_is_valid(z));
	}
	KT_EXPECT(page_is_valid());
	ktest_note("%u harts, %llu ops each, %llu cross-hart frees",
	    hal_ncpus(), (unsigned long long)ks_ops,
	    (unsigned long long)cross);
	KT_EXPECT_EQ(kt_free_frames(), before);
}

/* ------------------------------------------------------------------ */
/* Wrong use of the large path and the big classes (tests/meson.build). */

KTEST_EXPLICIT(wrong_kmalloc_large_double_free, double_free)
{
	kt_init();
	void *p = kmalloc(100000, 0);
	kfree(p);
	kfree(p);
	KT_FAIL("double kfree of a large allocation not caught");
}

KTEST_EXPLICIT(wrong_kmalloc_large_interior, interior)
{
	kt_init();
	uint8_t *p = kmalloc(100000, 0);
	kfree(p + 2 * PAGE_SIZE);
	KT_FAIL("kfree inside a large allocation not caught");
}

KTEST_EXPLICIT(wrong_kmalloc_big_interior, big_interior)
{
	kt_init();
	uint8_t *p = kmalloc(20000, 0);
	kfree(p + PAGE_SIZE);
	KT_FAIL("kfree inside a big-class object not caught");
}
