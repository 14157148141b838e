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
	static const size_t large[] = { 8193, 12288, 16384, 20000, 65536,
	    100000, 1 << 20 };
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
	for (size_t size = 0; size <= 8192; size++) {
		while (kmalloc_class_size(c) < size)
			c++;
		if (kmalloc_zone_for(size) != kmalloc_class_zone(c)) {
			KT_FAIL("kmalloc_zone_for(%zu) is not kmalloc-%zu", size,
			    kmalloc_class_size(c));
			break;
		}
	}
	KT_EXPECT(kmalloc_zone_for(8193) == NULL);
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
	/* Large allocations count on their own. */
	static void *q[8];
	nulls = 0;
	for (int i = 0; i < 8; i++)
		if ((q[i] = kmalloc(20000, 0)) == NULL)
			nulls++;
	KT_EXPECT_EQ(nulls, 2);
	kmalloc_set_fail_every(0);
	for (int i = 0; i < N; i++)
		kfree(p[i]);
	for (int i = 0; i < 8; i++)
		kfree(q[i]);
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

KTEST(kmalloc, stress_cross_hart)
{
	uint64_t cross = 0;

	kt_init();
	size_t before = kt_free_frames();
	for (unsigned c = 0; c < hal_ncpus(); c++) {
		ck_ring_init(&ks_ring[c], KS_RING);
		ks_done[c] = 0;
	}
	ks_ops = ktest_iters(2000);
	smp_run(ks_worker, NULL);
	for (unsigned c = 0; c < hal_ncpus(); c++)
		cross += ks_cross[c];
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
