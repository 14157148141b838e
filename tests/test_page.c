/*
 * Tests of the page allocator (vm/page.c): exhaustion and full merge-back,
 * every order, contiguous runs, multi-hart stress with cross-hart frees,
 * out-of-memory with other harts' caches full, failure injection.  The
 * wrong-use suites at the end must panic.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "lib/bootargs.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "vm/page.h"

/* Snapshot of the buddy lists of every region, caches drained. */
struct page_snap {
	size_t nregions;
	size_t free[HAL_MAX_MEM_REGIONS][PAGE_NORDERS];
	size_t free_pages;
};

static void
snap_take(struct page_snap *s)
{
	paddr_t base;
	size_t n;

	page_drain_all();
	s->nregions = page_region_count();
	for (size_t r = 0; r < s->nregions; r++)
		page_region_free(r, s->free[r], &base, &n);
	s->free_pages = page_free_count();
}

/* The allocator is back exactly where it was: every block merged back. */
static void
snap_expect_same(const struct page_snap *a)
{
	struct page_snap b;

	snap_take(&b);
	KT_EXPECT_EQ(b.free_pages, a->free_pages);
	for (size_t r = 0; r < a->nregions; r++)
		for (unsigned o = 0; o < PAGE_NORDERS; o++)
			if (a->free[r][o] != b.free[r][o])
				KT_FAIL("region %zu order %u: %zu free blocks, "
				    "%zu at the start", r, o, b.free[r][o],
				    a->free[r][o]);
	KT_EXPECT(page_is_valid());
}

static uint64_t
cookie(paddr_t pa, uint64_t salt)
{
	return (pa * 0x9e3779b97f4a7c15ull) ^ salt;
}

/* Writes a cookie at a few places of every frame of a block. */
static void
block_mark(struct vm_page *pg, size_t n, uint64_t salt)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t *p = page_to_kva(&pg[i]);
		uint64_t c = cookie(page_to_pa(&pg[i]), salt);
		p[1] = c;
		p[PAGE_SIZE / 16] = ~c;
		p[PAGE_SIZE / 8 - 1] = c + 1;
	}
}

static bool
block_check(struct vm_page *pg, size_t n, uint64_t salt)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t *p = page_to_kva(&pg[i]);
		uint64_t c = cookie(page_to_pa(&pg[i]), salt);
		if (p[1] != c || p[PAGE_SIZE / 16] != ~c ||
		    p[PAGE_SIZE / 8 - 1] != c + 1)
			return false;
	}
	return true;
}

KTEST(page, init_describes_memory)
{
	const struct hal_mem_range *m;
	size_t nm = hal_mem_regions(&m);
	struct page_stats st;
	const char *want = ktest_arg("expect_regions");

	KT_EXPECT_EQ(page_region_count(), nm);
	if (want != NULL) {
		uint64_t w = 0;
		KT_EXPECT(bootarg_parse_u64(want, &w));
		KT_EXPECT_EQ(nm, w);
	}
	page_stats(&st);
	KT_EXPECT_GT(st.total_pages, 0);
	KT_EXPECT_LE(st.free_pages, st.total_pages);
	/* Frames of RAM map to metadata and back; others do not. */
	for (size_t i = 0; i < nm; i++) {
		struct vm_page *pg = pa_to_page(m[i].base);
		KT_ASSERT(pg != NULL);
		KT_EXPECT_EQ(page_to_pa(pg), m[i].base);
		pg = pa_to_page(m[i].base + m[i].size - 1);
		KT_ASSERT(pg != NULL);
		KT_EXPECT_EQ(page_to_pa(pg), m[i].base + m[i].size - PAGE_SIZE);
		KT_EXPECT(pa_to_page(m[i].base + m[i].size) == NULL ||
		    (i + 1 < nm && m[i + 1].base == m[i].base + m[i].size));
	}
	KT_EXPECT(pa_to_page(m[0].base - PAGE_SIZE) == NULL);
	/* Reserved frames are not free. */
	const struct hal_mem_range *rv;
	size_t nr = hal_mem_reserved(&rv);
	for (size_t i = 0; i < nr; i++) {
		struct vm_page *pg = pa_to_page(rv[i].base);
		if (pg != NULL)
			KT_EXPECT_EQ(pg->pg_state, PG_RESERVED);
	}
	KT_EXPECT(page_is_valid());
	ktest_note("%zu regions, %zu frames managed, %zu free", nm,
	    st.total_pages, st.free_pages);
}

/*
 * Allocate every free frame one by one (the frames are chained through
 * their first word), check each one's cookie, free them all: the lists
 * must be exactly as before.
 */
KTEST(page, every_frame_and_back)
{
	struct page_snap start;
	struct vm_page *chain = NULL;
	size_t n = 0, bad = 0;
	uint64_t salt = ktest_seed();

	page_set_poison(false);	/* this test touches every frame itself */
	snap_take(&start);
	for (;;) {
		struct vm_page *pg = page_alloc(0, PAGE_NORECLAIM);
		if (pg == NULL)
			break;
		uint64_t *p = page_to_kva(pg);
		p[0] = (uintptr_t)chain;
		block_mark(pg, 1, salt);
		chain = pg;
		n++;
	}
	KT_EXPECT_EQ(n, start.free_pages);
	KT_EXPECT(page_alloc(0, PAGE_NORECLAIM) == NULL);
	while (chain != NULL) {
		uint64_t *p = page_to_kva(chain);
		struct vm_page *next = (struct vm_page *)(uintptr_t)p[0];
		if (!block_check(chain, 1, salt))
			bad++;
		page_free(chain, 0);
		chain = next;
	}
	KT_EXPECT_EQ(bad, 0);
	snap_expect_same(&start);
	page_set_poison(VM_DEBUG_LEVEL >= 2 &&
	    bootarg_u64(hal_bootargs(), "page_poison", 1) != 0);
	ktest_note("%zu frames allocated, checked and freed", n);
}

KTEST(page, every_order)
{
	struct page_snap start;

	snap_take(&start);
	for (unsigned o = 0; o <= PAGE_MAX_ORDER; o++) {
		struct vm_page *pg = page_alloc(o, PAGE_ZERO);
		KT_ASSERT(pg != NULL);
		KT_EXPECT_EQ(page_to_pa(pg) % (PAGE_SIZE << o), 0);
		KT_EXPECT_EQ(pg->pg_state, PG_ALLOC);
		KT_EXPECT_EQ(pg->pg_order, o);
		const uint64_t *z = page_to_kva(pg);
		bool zero = true;
		for (size_t w = 0; w < (PAGE_SIZE << o) / 8 && zero; w += 61)
			zero = z[w] == 0;
		KT_EXPECT(zero);
		block_mark(pg, (size_t)1 << o, o);
		KT_EXPECT(block_check(pg, (size_t)1 << o, o));
		/* Frames of a block are consecutive in the array, too. */
		KT_EXPECT_EQ(page_to_pa(pg + ((1u << o) - 1)),
		    page_to_pa(pg) + (((paddr_t)1 << o) - 1) * PAGE_SIZE);
		page_free(pg, o);
	}
	snap_expect_same(&start);
}

#define CONTIG_LIVE 24

KTEST(page, contiguous_runs)
{
	static const size_t sizes[] = { 1, 2, 3, 5, 7, 13, 64, 100, 257, 512,
		1000, 1025, 3000 };
	static const size_t aligns[] = { 0, PAGE_SIZE, 8192, 65536,
		2u << 20 };
	struct { struct vm_page *pg; size_t n; } live[CONTIG_LIVE];
	size_t nlive = 0, done = 0;
	struct page_snap start;
	struct rng r;

	rng_seed(&r, ktest_seed(), 0);
	snap_take(&start);
	for (size_t it = 0; it < ktest_iters(60); it++) {
		if (nlive == CONTIG_LIVE || (nlive > 0 && rng_below(&r, 3) == 0)) {
			size_t k = rng_below(&r, nlive);
			KT_EXPECT(block_check(live[k].pg, live[k].n, 77));
			page_free_contig(live[k].pg, live[k].n);
			live[k] = live[--nlive];
			continue;
		}
		size_t n = sizes[rng_below(&r, sizeof(sizes) / sizeof(sizes[0]))];
		size_t a = aligns[rng_below(&r, sizeof(aligns) / sizeof(aligns[0]))];
		struct vm_page *pg = page_alloc_contig(n, a, 0);
		if (pg == NULL) {
			KT_EXPECT(n >= 1000);	/* only big runs may not fit */
			continue;
		}
		paddr_t pa = page_to_pa(pg);
		KT_EXPECT_EQ(pa % (a ? a : PAGE_SIZE), 0);
		for (size_t i = 0; i < n; i++)
			if (pa_to_page(pa + i * PAGE_SIZE) != pg + i) {
				KT_FAIL("run %#llx+%zu not contiguous at %zu",
				    (unsigned long long)pa, n, i);
				break;
			}
		for (size_t k = 0; k < nlive; k++) {
			paddr_t s2 = page_to_pa(live[k].pg);
			paddr_t e2 = s2 + live[k].n * PAGE_SIZE;
			if (pa < e2 && s2 < pa + n * PAGE_SIZE)
				KT_FAIL("run %#llx+%zu overlaps %#llx+%zu",
				    (unsigned long long)pa, n,
				    (unsigned long long)s2, live[k].n);
		}
		block_mark(pg, n, 77);
		live[nlive].pg = pg;
		live[nlive].n = n;
		nlive++;
		done++;
	}
	while (nlive > 0) {
		nlive--;
		KT_EXPECT(block_check(live[nlive].pg, live[nlive].n, 77));
		page_free_contig(live[nlive].pg, live[nlive].n);
	}
	KT_EXPECT(page_alloc_contig(0, 0, 0) == NULL);
	KT_EXPECT(page_alloc_contig(1, 3 * PAGE_SIZE, 0) == NULL);
	KT_EXPECT(page_alloc_contig(1, 2048, 0) == NULL);
	snap_expect_same(&start);
	ktest_note("%zu runs allocated", done);
}

/*
 * page_alloc_range and page_split_contig (the no-MMU map's segments): a
 * run taken at a given address, cut in pieces freed on their own, in
 * random order; busy, reserved and foreign ranges refused.
 */
KTEST(page, runs_at_an_address_and_cut)
{
	const struct hal_mem_range *rv;
	struct vm_page *pg, *x, *parts[8];
	size_t lens[8], nparts, nres;
	struct page_snap start;
	struct rng r;

	rng_seed(&r, ktest_seed(), 3);
	snap_take(&start);
	for (size_t it = 0; it < ktest_iters(40); it++) {
		/* Find a free run, give it back, take it again by address. */
		size_t n = 2 + rng_below(&r, 40);
		pg = page_alloc_contig(n, 0, 0);
		KT_ASSERT(pg != NULL);
		paddr_t pa = page_to_pa(pg);
		page_free_contig(pg, n);
		KT_ASSERT_EQ(page_alloc_range(pa, n, PAGE_ZERO, &x), 0);
		KT_EXPECT(x == pg);
		for (size_t i = 0; i < n * PAGE_SIZE / 8; i++)
			if (((uint64_t *)page_to_kva(x))[i] != 0) {
				KT_FAIL("word %zu of the run not zeroed", i);
				break;
			}
		/* Busy, in part or whole. */
		KT_EXPECT_EQ(page_alloc_range(pa + (n - 1) * PAGE_SIZE, 1, 0,
		    &x), -EEXIST);
		KT_EXPECT_EQ(page_alloc_range(pa + PAGE_SIZE, n - 1, 0, &x),
		    -EEXIST);
		KT_EXPECT_EQ(page_alloc_range(pa, 1, 0, &x), -EEXIST);
		block_mark(pg, n, 5);
		/* Cut it into random pieces, then free them in random order. */
		nparts = 0;
		for (size_t left = n; left > 0; nparts++) {
			size_t len = nparts == 7 ? left : 1 + rng_below(&r, left);
			parts[nparts] = pg;
			lens[nparts] = len;
			if (len < left)
				pg = page_split_contig(pg, left, len);
			left -= len;
		}
		for (size_t k = nparts; k > 0; k--) {
			size_t i = rng_below(&r, k);
			KT_EXPECT(block_check(parts[i], lens[i], 5));
			page_free_contig(parts[i], lens[i]);
			parts[i] = parts[k - 1];
			lens[i] = lens[k - 1];
		}
	}
	/* A frame in this cpu's cache is free: taken after a drain. */
	page_set_mode(PAGE_MODE_PERCPU);	/* drains: the cache is empty */
	pg = page_alloc(0, 0);
	KT_ASSERT(pg != NULL);
	page_free(pg, 0);
	KT_EXPECT_EQ(page_alloc_range(page_to_pa(pg), 1, PAGE_NODRAIN, &x),
	    -EEXIST);
	KT_EXPECT_EQ(page_alloc_range(page_to_pa(pg), 1, 0, &x), 0);
	KT_EXPECT(x == pg);
	page_free_contig(x, 1);
	/* Reserved frames (the kernel, the firmware) and non-RAM. */
	nres = hal_mem_reserved(&rv);
	for (size_t i = 0; i < nres; i++)
		if (pa_to_page(rv[i].base) != NULL)
			KT_EXPECT_EQ(page_alloc_range(rv[i].base, 1, 0, &x),
			    -EEXIST);
	KT_EXPECT_EQ(page_alloc_range(PAGE_SIZE, 1, 0, &x), -EINVAL);
	pg = page_alloc(0, 0);
	KT_ASSERT(pg != NULL);
	KT_EXPECT_EQ(page_alloc_range(page_to_pa(pg) + 1, 1, 0, &x), -EINVAL);
	KT_EXPECT_EQ(page_alloc_range(page_to_pa(pg), 0, 0, &x), -EINVAL);
	page_free(pg, 0);
	snap_expect_same(&start);
}

/*
 * page_alloc_run: runs of every length up to the largest block, aligned
 * to the next power of two, zeroed on request, contents kept, cut and
 * freed in pieces or whole; the frames past each run are free at once,
 * and at the end every block has merged back.
 */
KTEST(page, runs_from_the_next_block)
{
	struct page_snap start;
	struct vm_page *pg, *t;
	struct rng r;

	rng_seed(&r, ktest_seed(), 4);
	snap_take(&start);
	for (size_t n = 1; n <= ((size_t)1 << PAGE_MAX_ORDER);
	    n += n < 40 ? 1 : 1 + rng_below(&r, 97)) {
		size_t p2 = 1, before = page_free_count();
		while (p2 < n)
			p2 <<= 1;
		pg = page_alloc_run(n, n % 3 == 0 ? PAGE_ZERO : 0);
		KT_ASSERT(pg != NULL);
		KT_EXPECT_EQ(page_to_pa(pg) % (p2 * PAGE_SIZE), 0);
		KT_EXPECT_EQ(page_free_count(), before - n);
		if (n % 3 == 0)
			for (size_t i = 0; i < n; i++)
				if (((uint64_t *)page_to_kva(&pg[i]))[7] != 0) {
					KT_FAIL("run of %zu: frame %zu not zeroed",
					    n, i);
					break;
				}
		block_mark(pg, n, 9);
		if (n > 1 && n % 2 == 0) {
			t = page_split_contig(pg, n, n / 2);
			KT_EXPECT(block_check(t, n - n / 2, 9));
			page_free_contig(t, n - n / 2);
			KT_EXPECT(block_check(pg, n / 2, 9));
			page_free_contig(pg, n / 2);
		} else {
			KT_EXPECT(block_check(pg, n, 9));
			page_free_contig(pg, n);
		}
	}
	KT_EXPECT(page_alloc_run(0, 0) == NULL);
	KT_EXPECT(page_alloc_run(((size_t)1 << PAGE_MAX_ORDER) + 1, 0) == NULL);
	snap_expect_same(&start);
}

/* Multi-hart stress: random orders, cross-hart frees through mailboxes. */
#define STRESS_SLOTS 48
#define MAILBOX 8

struct mailbox {
	struct vm_page *pg[MAILBOX];	/* (A) filled by sender, emptied by owner */
	unsigned order[MAILBOX];
} HAL_CACHE_ALIGNED;

static struct mailbox mbox[HAL_MAX_CPUS];
static uint64_t stress_iters;
static uint64_t stress_done[HAL_MAX_CPUS];

static void
stress_take_mail(unsigned self)
{
	for (unsigned k = 0; k < MAILBOX; k++) {
		struct vm_page *pg = ck_pr_load_ptr(&mbox[self].pg[k]);
		if (pg == NULL)
			continue;
		ck_pr_fence_load();
		unsigned o = mbox[self].order[k];
		if (!block_check(pg, (size_t)1 << o, 0xabc))
			KT_FAIL("cookie lost on frame %#llx (cross-hart)",
			    (unsigned long long)page_to_pa(pg));
		page_free(pg, o);
		ck_pr_store_ptr(&mbox[self].pg[k], NULL);
	}
}

static void
stress_worker(void *arg)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	struct vm_page *slot[STRESS_SLOTS] = { 0 };
	unsigned order[STRESS_SLOTS];
	struct rng r;

	(void)arg;
	rng_seed(&r, ktest_seed(), self + 1);
	for (uint64_t it = 0; it < stress_iters; it++) {
		unsigned k = (unsigned)rng_below(&r, STRESS_SLOTS);
		if (slot[k] != NULL) {
			unsigned o = order[k];
			if (!block_check(slot[k], (size_t)1 << o, 0xabc))
				KT_FAIL("cookie lost on frame %#llx",
				    (unsigned long long)page_to_pa(slot[k]));
			/* Every fourth block is freed by another hart. */
			unsigned peer = (self + 1) % n;
			unsigned mk = (unsigned)rng_below(&r, MAILBOX);
			if (n > 1 && rng_below(&r, 4) == 0 &&
			    ck_pr_load_ptr(&mbox[peer].pg[mk]) == NULL) {
				mbox[peer].order[mk] = o;
				ck_pr_fence_store();
				/* Only this hart fills mbox[peer]: no race. */
				ck_pr_store_ptr(&mbox[peer].pg[mk], slot[k]);
			} else {
				page_free(slot[k], o);
			}
			slot[k] = NULL;
		} else {
			/* Mostly order 0, some up to order 5. */
			unsigned o = rng_below(&r, 4) ? 0 : (unsigned)rng_below(&r, 6);
			struct vm_page *pg = page_alloc(o, 0);
			if (pg == NULL) {
				KT_FAIL("page_alloc(%u) failed under light load", o);
				continue;
			}
			block_mark(pg, (size_t)1 << o, 0xabc);
			slot[k] = pg;
			order[k] = o;
		}
		if ((it & 15) == 0)
			stress_take_mail(self);
	}
	for (unsigned k = 0; k < STRESS_SLOTS; k++)
		if (slot[k] != NULL)
			page_free(slot[k], order[k]);
	stress_done[self] = stress_iters;
}

static void
stress_final_mail(void *arg)
{
	(void)arg;
	stress_take_mail(hal_cpu_id());
}

static void
stress_run(enum page_mode mode)
{
	struct page_snap start;
	struct page_stats before, after;

	page_set_mode(mode);
	snap_take(&start);
	page_stats(&before);
	memset(mbox, 0, sizeof(mbox));
	stress_iters = ktest_iters(3000);
	smp_run(stress_worker, NULL);
	smp_run(stress_final_mail, NULL);
	for (unsigned i = 0; i < hal_ncpus(); i++) {
		KT_EXPECT_EQ(stress_done[i], stress_iters);
		for (unsigned k = 0; k < MAILBOX; k++)
			KT_EXPECT(mbox[i].pg[k] == NULL);
	}
	page_stats(&after);
	KT_EXPECT_EQ(after.allocs - before.allocs, after.frees - before.frees);
	snap_expect_same(&start);
	ktest_note("%s: %llu allocs, %llu refills, %llu spills on %u harts",
	    mode == PAGE_MODE_PERCPU ? "percpu" : "global",
	    (unsigned long long)(after.allocs - before.allocs),
	    (unsigned long long)(after.refills - before.refills),
	    (unsigned long long)(after.spills - before.spills), hal_ncpus());
	page_set_mode(PAGE_MODE_PERCPU);
}

KTEST(page, stress_percpu)
{
	stress_run(PAGE_MODE_PERCPU);
}

KTEST(page, stress_global)
{
	stress_run(PAGE_MODE_GLOBAL);
}

/*
 * Tight bursts on every hart straight into the buddy allocator: blocks and
 * their buddies change hands constantly, which is where a state published
 * too late (a taken block still looking free) would let a concurrent free
 * merge with it.  Every frame carries its owner's mark while held.
 */
#define RACE_BURST 64

static uint64_t race_rounds;

static void
race_worker(void *arg)
{
	struct vm_page *pg[RACE_BURST];
	uint64_t mark = 0x5eed0000ull + hal_cpu_id();

	(void)arg;
	for (uint64_t r = 0; r < race_rounds; r++) {
		for (int k = 0; k < RACE_BURST; k++) {
			pg[k] = page_alloc(0, 0);
			if (pg[k] != NULL)
				*(volatile uint64_t *)page_to_kva(pg[k]) = mark;
		}
		for (int k = 0; k < RACE_BURST; k++) {
			if (pg[k] == NULL) {
				KT_FAIL("page_alloc failed in a burst");
				continue;
			}
			if (*(volatile uint64_t *)page_to_kva(pg[k]) != mark)
				KT_FAIL("frame %#llx handed to two harts",
				    (unsigned long long)page_to_pa(pg[k]));
			page_free(pg[k], 0);
		}
	}
}

static void
race_run(enum page_mode mode)
{
	struct page_snap start;

	page_set_poison(false);
	page_set_mode(mode);
	snap_take(&start);
	race_rounds = ktest_iters(1000);
	smp_run(race_worker, NULL);
	snap_expect_same(&start);
	page_set_mode(PAGE_MODE_PERCPU);
	page_set_poison(VM_DEBUG_LEVEL >= 2 &&
	    bootarg_u64(hal_bootargs(), "page_poison", 1) != 0);
}

KTEST(page, burst_race_global)
{
	race_run(PAGE_MODE_GLOBAL);
}

KTEST(page, burst_race_percpu)
{
	race_run(PAGE_MODE_PERCPU);
}

/*
 * The hit paths against the IPIs that meet a cache (vm/page.c, 3.): the
 * other harts allocate and free order-0 frames as fast as they can (the
 * hit paths, poisoning off) while cpu 0 drains every cache and sends each
 * of them a frame to free from the IPI handler, again and again.  A drain
 * or an IPI free that touched a cache in the middle of a push or pop
 * would lose or duplicate a frame: the allocator must come back whole.
 */
static uint8_t meet_stop;		/* (A) */
static struct vm_page *meet_slot[HAL_MAX_CPUS];

static void
meet_worker(void *arg)
{
	uint64_t mark = 0x3ee70000ull + hal_cpu_id();

	(void)arg;
	if (hal_cpu_id() == 0)
		return;
	while (!ck_pr_load_8(&meet_stop)) {
		struct vm_page *pg = page_alloc(0, 0);
		if (pg == NULL) {
			KT_FAIL("page_alloc failed");
			break;
		}
		*(volatile uint64_t *)page_to_kva(pg) = mark;
		if (*(volatile uint64_t *)page_to_kva(pg) != mark)
			KT_FAIL("frame %#llx handed to two harts",
			    (unsigned long long)page_to_pa(pg));
		page_free(pg, 0);
	}
}

static void
meet_free_ipi(void *arg)
{
	(void)arg;
	page_free(meet_slot[hal_cpu_id()], 0);
}

static void
meet_driver(void *arg)
{
	(void)arg;
	if (hal_cpu_id() != 0)
		return;
	for (uint64_t i = 0; i < ktest_iters(100); i++) {
		page_drain_all();
		for (unsigned c = 1; c < hal_ncpus(); c++) {
			meet_slot[c] = page_alloc(0, 0);
			KT_ASSERT(meet_slot[c] != NULL);
			smp_call_one(c, meet_free_ipi, NULL);
		}
	}
	ck_pr_store_8(&meet_stop, 1);
}

static void
meet_both(void *arg)
{
	meet_driver(arg);
	meet_worker(arg);
}

KTEST(page, drain_and_ipi_free_meet_hit_paths)
{
	struct page_snap start;
	struct page_stats a, b;

	page_set_poison(false);
	snap_take(&start);
	page_stats(&a);
	ck_pr_store_8(&meet_stop, 0);
	smp_run(meet_both, NULL);
	page_stats(&b);
	snap_expect_same(&start);
	if (hal_ncpus() > 1)
		KT_EXPECT_GT(b.drains, a.drains);
	ktest_note("%llu drains, %llu frees",
	    (unsigned long long)(b.drains - a.drains),
	    (unsigned long long)(b.frees - a.frees));
	page_set_poison(VM_DEBUG_LEVEL >= 2 &&
	    bootarg_u64(hal_bootargs(), "page_poison", 1) != 0);
}

/* Other harts fill their caches, then cpu 0 exhausts memory. */
static void
fill_cache_worker(void *arg)
{
	struct vm_page *pg[40];

	(void)arg;
	if (hal_cpu_id() == 0)
		return;
	for (int i = 0; i < 40; i++)
		pg[i] = page_alloc(0, 0);
	for (int i = 0; i < 40; i++)
		if (pg[i] != NULL)
			page_free(pg[i], 0);
}

KTEST(page, oom_drains_other_caches)
{
	struct page_snap start;
	struct page_stats st0, st1;
	struct vm_page *chain = NULL;
	size_t n = 0, cached_elsewhere = 0;

	page_set_poison(false);
	snap_take(&start);
	smp_run(fill_cache_worker, NULL);
	for (unsigned c = 1; c < hal_ncpus(); c++) {
		struct page_cpu_stats cs;
		page_cpu_stats(c, &cs);
		cached_elsewhere += cs.cached[0];
		KT_EXPECT_GT(cs.cached[0], 0);
	}
	page_stats(&st0);
	for (;;) {
		struct vm_page *pg = page_alloc(0, PAGE_NORECLAIM);
		if (pg == NULL)
			break;
		*(uint64_t *)page_to_kva(pg) = (uintptr_t)chain;
		chain = pg;
		n++;
	}
	page_stats(&st1);
	/* Every free frame was reached, those in other caches too. */
	KT_EXPECT_EQ(n, start.free_pages);
	if (hal_ncpus() > 1)
		KT_EXPECT_GT(st1.drains, st0.drains);
	KT_EXPECT_GT(st1.failures, st0.failures);
	KT_EXPECT(page_alloc(0, PAGE_NORECLAIM) == NULL);
	KT_EXPECT(page_alloc(3, PAGE_NORECLAIM) == NULL);
	KT_EXPECT(page_alloc_contig(2, 0, PAGE_NORECLAIM) == NULL);
	while (chain != NULL) {
		struct vm_page *next =
		    (struct vm_page *)(uintptr_t)*(uint64_t *)page_to_kva(chain);
		page_free(chain, 0);
		chain = next;
	}
	snap_expect_same(&start);
	page_set_poison(VM_DEBUG_LEVEL >= 2 &&
	    bootarg_u64(hal_bootargs(), "page_poison", 1) != 0);
	ktest_note("%zu frames taken, %zu were in other harts' caches", n,
	    cached_elsewhere);
}

KTEST(page, failure_injection)
{
	struct vm_page *pg[30];
	unsigned nulls = 0;
	struct page_snap start;

	snap_take(&start);
	page_set_fail_every(3);
	for (int i = 0; i < 30; i++) {
		pg[i] = page_alloc(i % 3 == 0 ? 0 : 1, 0);
		if (pg[i] == NULL)
			nulls++;
	}
	page_set_fail_every(0);
	KT_EXPECT_EQ(nulls, 10);
	for (int i = 0; i < 30; i++)
		if (pg[i] != NULL)
			page_free(pg[i], i % 3 == 0 ? 0 : 1);
	snap_expect_same(&start);
}

#if VM_DEBUG_LEVEL >= 2
KTEST(page, poison_is_checked)
{
	struct vm_page *pg = page_alloc(0, 0);

	KT_ASSERT(pg != NULL);
	page_set_poison(true);
	page_free(pg, 0);
	/* The freed frame holds the poison pattern. */
	const uint64_t *p = page_to_kva(pg);
	KT_EXPECT_EQ(p[0], 0x6b6b6b6b6b6b6b6bull);
	KT_EXPECT_EQ(p[PAGE_SIZE / 8 - 1], 0x6b6b6b6b6b6b6b6bull);
	/* And the next allocation (the same frame, from the cache) checks it. */
	struct vm_page *again = page_alloc(0, 0);
	KT_EXPECT(again == pg);
	page_free(again, 0);
	page_set_poison(bootarg_u64(hal_bootargs(), "page_poison", 1) != 0);
}
#endif

/* ---- wrong use: each suite must panic with the message in meson ---- */

KTEST_EXPLICIT(wrong_page_double_free, double_free)
{
	struct vm_page *pg = page_alloc(0, 0);

	page_free(pg, 0);
	page_free(pg, 0);
	KT_FAIL("double free not detected");
}

KTEST_EXPLICIT(wrong_page_split, split_a_block)
{
	struct vm_page *pg = page_alloc(2, 0);

	page_split_contig(pg, 4, 1);	/* a block, not a run */
	KT_FAIL("split of a block not detected");
}

KTEST_EXPLICIT(wrong_page_reserved, free_reserved)
{
	const struct hal_mem_range *rv;
	size_t n = hal_mem_reserved(&rv);

	for (size_t i = 0; i < n; i++) {
		struct vm_page *pg = pa_to_page(rv[i].base);
		if (pg != NULL)
			page_free(pg, 0);
	}
	KT_FAIL("no reserved frame to free, or its free was not detected");
}

KTEST_EXPLICIT(wrong_page_order, wrong_order)
{
	struct vm_page *pg = page_alloc(2, 0);

	page_free(pg, 1);
	KT_FAIL("free with the wrong order not detected");
}

KTEST_EXPLICIT(wrong_page_foreign, foreign_pointer)
{
	static struct vm_page fake;

	page_free(&fake, 0);
	KT_FAIL("free of a foreign pointer not detected");
}

KTEST_EXPLICIT(wrong_page_use_after_free, write_after_free)
{
	struct vm_page *pg = page_alloc(0, 0);
	uint64_t *p = page_to_kva(pg);

	page_set_poison(true);
	page_free(pg, 0);
	p[17] = 42;	/* the cache hands this frame out next */
	for (int i = 0; i < 64; i++)
		(void)page_alloc(0, 0);
	KT_FAIL("write after free not detected");
}
