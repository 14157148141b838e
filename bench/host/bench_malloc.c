/*
 * bench_malloc.c: one workload program for rvmm's kmalloc and for the host
 * allocators it is compared with (mimalloc, jemalloc, tcmalloc, glibc).
 *
 * Theory.  A comparison is fair when every allocator runs the same code,
 * on the same threads, through its ordinary interface.  So this file is
 * compiled once per implementation (hal/host/meson.build), each time into
 * its own program, rvmm-bench-malloc-<impl>:
 *
 *	rvmm		bm_alloc/bm_free are kmalloc(size, 0)/kfree
 *	glibc		malloc/free of the C library, nothing else linked
 *	mimalloc,	malloc/free, the program linked normally against the
 *	jemalloc,	allocator's shared library (-lmimalloc, -ljemalloc,
 *	tcmalloc	-ltcmalloc_minimal), which then provides the process's
 *			malloc and free
 *
 * bm_alloc/bm_free are inline functions chosen at compile time: rvmm's are
 * direct calls into librvmm.a; the peers' are the ordinary calls of a
 * dynamically linked program (through the PLT, as every program using
 * them makes them).  Every program boots rvmm's host port the same way
 * and runs every workload on rvmm's host harts, which are pthreads, through
 * smp_run() and the same start barrier (bm_phase); the peers' programs
 * simply never call kmalloc.
 *
 * Workloads (per hart, `ops` of them; "live" = bytes requested and not yet
 * freed):
 *
 *	kmalloc.pair	alloc/free pairs of 64 B: the only object of its
 *			size is freed each time
 *	kmalloc.pair1	the same with one other 64 B object kept live for
 *			the whole run (so no page or slab ever empties)
 *	kmalloc.mixed	a live set of 256 slots; each step frees the slot's
 *			object or allocates 16 B .. 2 KiB into it
 *	kmalloc.cross	batches of 32 objects (16 B .. 2 KiB) handed
 *			through a ring to the next hart, which frees them
 *	kmalloc.larson	after Larson and Krishnan's server simulation: each
 *			hart owns a set of 5000 blocks (8 .. 1000 B) and
 *			replaces random ones; every 5000 replacements it
 *			hands the whole set to the next hart and takes the
 *			previous hart's, so most frees are of blocks another
 *			hart allocated
 *	kmalloc.xmalloc	after Lever and Boreham's xmalloc-test: even harts
 *			only allocate (batches of 32 objects of 8 .. 128 B),
 *			the next odd hart only frees them (a hart without a
 *			partner, as at 1 hart, does both)
 *	kmalloc.thread	after glibc's bench-malloc-thread: each hart a
 *			working set of 1024 slots; each step frees a slot's
 *			block and allocates a new one into it, writing every
 *			byte; sizes from a table of 8000 drawn with an inverse
 *			square distribution over [4, 32768] (most below
 *			100 B; a few above 8 KiB), slots from a table of 4096
 *	kmalloc.scratch	after Berger's cache-scratch (passive false
 *			sharing): hart 0 allocates one 8 B object per hart
 *			and hands each hart its own; each hart frees it, then
 *			repeatedly allocates an 8 B object, writes it 256
 *			times and frees it.  An allocator that gives a hart
 *			back the object another hart allocated puts the
 *			harts' objects on one cache line
 *	kmalloc.bigset	a live set of 32768 objects (16 B .. 2 KiB) per
 *			hart, far more than any per-cpu cache holds, replaced
 *			at random slots: frees scatter over many slabs
 *
 * Each object gets a tag written at allocation and checked at its free, so
 * an allocator that hands out overlapping memory stops the run (panic).
 *
 * Memory.  Around each workload (setup, timed phase, teardown) the program
 * measures:
 *	rss_kib	 the process's resident-set high-water above its size at the
 *		 start: /proc/self/clear_refs gets "5" (resets VmHWM to the
 *		 current VmRSS), then VmHWM - VmRSS from /proc/self/status.
 *		 The harness's own arrays are mmap'd and touched before that.
 *	peak_kib for the peers rss_kib; for rvmm the page allocator's
 *		 high-water (the pages in use above those in use at the start,
 *		 sampled at each new high-water of the bytes live and at the
 *		 end of the setup and of the timed phase), which is
 *		 what a kernel pays; rss_kib is reported for rvmm too (its
 *		 arena is mapped without being touched, so it counts every
 *		 page rvmm has touched since the start)
 *	live_kib the peak of the bytes live, requested sizes: each hart
 *		 counts in a register and adds its count to a shared sum
 *		 whenever it has moved by 64 KiB and at the end of each phase
 *		 (bm_account), so the figure is within 64 KiB per hart
 *		 (a live set that never moves by 64 KiB reads as 0)
 *
 * Output: one JSON line per workload (../shared/BENCH.md), target "host",
 * one run.  bench/host/malloc-rounds runs each workload once per round per
 * implementation, each in its own process, and reports the median round
 * with the spread; ci/bench runs that.
 *
 *	rvmm-bench-malloc-<impl> harts=N [bench=a,b] [ops=N] [scale=N]
 *	    [seed=N] [mem=SIZE]
 *
 * bench= takes exact names, with or without "kmalloc." (all without it);
 * ops= sets every selected workload's operations per hart, scale=
 * multiplies their defaults.  Build with -Dbuildtype=release
 * -Ddebug_level=0 for figures that mean anything (at debug level 2 the
 * kmalloc zones' debug checks are turned off here, but VM_ASSERTs stay).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ck_pr.h>
#include <ck_ring.h>

#include "hal/hal.h"
#include "hal/hal_test.h"
#include "lib/assert.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "vm/kmalloc.h"
#include "vm/page.h"
#include "vm/vm.h"
#include "vm/zone.h"

#ifndef BM_IMPL
#error "BM_IMPL: the implementation's name, set by hal/host/meson.build"
#endif

/* ------------------------------------------------------------------ */
/* The allocator under test: the only code that differs between the    */
/* programs.                                                           */

#ifdef BM_RVMM
static inline __attribute__((always_inline)) void *
bm_alloc(size_t size)
{
	return kmalloc(size, 0);
}

static inline __attribute__((always_inline)) void
bm_free(void *p)
{
	kfree(p);
}
#else
static inline __attribute__((always_inline)) void *
bm_alloc(size_t size)
{
	return malloc(size);
}

static inline __attribute__((always_inline)) void
bm_free(void *p)
{
	free(p);
}
#endif

static __attribute__((noinline, noreturn)) void
bm_oom(size_t size)
{
	panic("bench_malloc: " BM_IMPL " could not allocate %zu bytes", size);
}

static __attribute__((noinline, noreturn)) void
bm_bad_tag(void *p, size_t size)
{
	panic("bench_malloc: " BM_IMPL " object %p of %zu bytes was "
	    "overwritten while live", p, size);
}

/* The tag: 4 bytes at the start of every object (sizes are >= 4). */
static inline uint32_t
bm_tag_of(size_t size)
{
	return (uint32_t)size * 2654435761u;
}

static inline __attribute__((always_inline)) void *
bm_get(size_t size)
{
	void *p = bm_alloc(size);

	if (__builtin_expect(p == NULL, 0))
		bm_oom(size);
	*(volatile uint32_t *)p = bm_tag_of(size);
	return p;
}

static inline __attribute__((always_inline)) void
bm_put(void *p, size_t size)
{
	if (__builtin_expect(*(volatile uint32_t *)p != bm_tag_of(size), 0))
		bm_bad_tag(p, size);
	bm_free(p);
}

/* ------------------------------------------------------------------ */
/* Per-hart state and the accounting of live bytes and pages.          */

#define BM_SLOTS_MAX 32768	/* kmalloc.bigset's set, the largest */
#define BM_RING 8		/* ring slots (capacity 7) */
#define BM_SLACK (64 << 10)	/* account when 64 KiB from the last time */

struct bm_cpu {
	void **slot;		/* BM_SLOTS_MAX entries, mmap'd */
	uint32_t *size;		/* the slots' sizes */
	ck_ring_t ring;		/* indexes for the next hart */
	ck_ring_buffer_t buf[BM_RING];
	unsigned done;		/* (A) producer finished */
	unsigned held;		/* kmalloc.larson: the set this hart holds */
	uint64_t ops;
	int64_t live;		/* bytes allocated minus bytes freed here */
	int64_t flushed;	/* the part of live added to bm_live_now */
	void *keep;		/* pair1's object; scratch's given one */
	struct rng rng;
} HAL_CACHE_ALIGNED;

static struct bm_cpu bm_cpus[HAL_MAX_CPUS];
static uint64_t bm_live_now;	/* (A) sum of the harts' flushed counts */
static uint64_t bm_live_peak;	/* (A) its high-water */
static uint64_t bm_free_min;	/* (A) rvmm: fewest free pages seen */
static uint64_t bm_ops;		/* this workload's ops per hart */
static uint64_t bm_seed;

/*
 * bm_account: adds this hart's live bytes since its last call to the
 * shared sum and raises its high-water; for rvmm, at each new high-water
 * of the bytes live, also that of the pages in use.  Out of line: called
 * when the hart's count has moved by more than BM_SLACK since its last
 * call, and at the end of each phase.
 */
static void bm_peak_pages(void);

static __attribute__((noinline)) void
bm_account(struct bm_cpu *c, int64_t live)
{
	uint64_t now, old;

	now = ck_pr_faa_64(&bm_live_now, (uint64_t)(live - c->flushed)) +
	    (uint64_t)(live - c->flushed);
	c->flushed = live;
	old = ck_pr_load_64(&bm_live_peak);
	while ((int64_t)now > (int64_t)old) {
		if (ck_pr_cas_64_value(&bm_live_peak, old, now, &old)) {
			bm_peak_pages();
			break;
		}
	}
}

/* rvmm: raises the high-water of the pages in use. */
static void
bm_peak_pages(void)
{
#ifdef BM_RVMM
	uint64_t old, f = page_free_count();
	old = ck_pr_load_64(&bm_free_min);
	while (f < old && !ck_pr_cas_64_value(&bm_free_min, old, f, &old))
		;
#endif
}

#define BM_TICK(c, live)						\
	do {								\
		if (__builtin_expect((uint64_t)((live) - (c)->flushed +	\
		    BM_SLACK) > 2 * BM_SLACK, 0))			\
			bm_account((c), (live));			\
	} while (0)

/* 16 B .. 2 KiB, each power-of-two range equally likely. */
static inline size_t
bm_size(uint64_t x)
{
	size_t size = (size_t)16 << ((x >> 8) % 8);

	size += (x >> 16) % size;
	return size > 2048 ? 2048 : size;
}

/* c frees every object left in owner's slots [0, n) (teardowns). */
static void
bm_free_slots(struct bm_cpu *c, struct bm_cpu *owner, size_t n)
{
	int64_t live = c->live;

	for (size_t j = 0; j < n; j++)
		if (owner->slot[j] != NULL) {
			bm_put(owner->slot[j], owner->size[j]);
			live -= owner->size[j];
			owner->slot[j] = NULL;
		}
	c->live = live;
	bm_account(c, live);
}

/* ------------------------------------------------------------------ */
/* The workloads.  Each has an optional setup (untimed, before the     */
/* start barrier), the timed work, and an optional teardown (untimed). */

#define PAIR_SIZE 64

static void
w_pair(struct bm_cpu *c, unsigned self, unsigned n)
{
	uint64_t ops = bm_ops;
	int64_t live = c->live;

	(void)self;
	(void)n;
	for (uint64_t i = 0; i < ops; i++) {
		void *p = bm_get(PAIR_SIZE);
		live += PAIR_SIZE;
		BM_TICK(c, live);
		bm_put(p, PAIR_SIZE);
		live -= PAIR_SIZE;
	}
	c->live = live;
	c->ops = ops;
}

static void
s_pair1(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)self;
	(void)n;
	c->keep = bm_get(PAIR_SIZE);
	c->live += PAIR_SIZE;
	bm_account(c, c->live);
}

static void
t_keep(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)self;
	(void)n;
	if (c->keep != NULL) {
		bm_put(c->keep, PAIR_SIZE);
		c->keep = NULL;
		c->live -= PAIR_SIZE;
	}
	bm_account(c, c->live);
}

#define MX_SLOTS 256

static void
w_mixed(struct bm_cpu *c, unsigned self, unsigned n)
{
	uint64_t ops = bm_ops;
	int64_t live = c->live;

	(void)n;
	rng_seed(&c->rng, bm_seed, self);
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t x = rng_next(&c->rng);
		unsigned k = (unsigned)(x % MX_SLOTS);
		if (c->slot[k] != NULL) {
			bm_put(c->slot[k], c->size[k]);
			live -= c->size[k];
			c->slot[k] = NULL;
		} else {
			size_t size = bm_size(x);
			c->slot[k] = bm_get(size);
			c->size[k] = (uint32_t)size;
			live += size;
		}
		BM_TICK(c, live);
	}
	c->live = live;
	c->ops = ops;
}

static void
t_slots_mx(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)self;
	(void)n;
	bm_free_slots(c, c, MX_SLOTS);
}

/*
 * Batches through rings (kmalloc.cross, kmalloc.xmalloc): batch s of a
 * producer is slots [s * BATCH, (s + 1) * BATCH) of its arrays; a slot
 * index is reused only after its batch was freed, since the ring holds
 * fewer batches (BM_RING - 1) than there are slots (BT_SLOTS).
 */
#define BT_BATCH 32
#define BT_SLOTS 16

/* Fills batch s of c (8 .. 128 B if small, else 16 B .. 2 KiB); returns
   the bytes allocated. */
static inline __attribute__((always_inline)) int64_t
bt_fill(struct bm_cpu *c, uintptr_t s, bool small)
{
	int64_t bytes = 0;

	for (unsigned i = 0; i < BT_BATCH; i++) {
		uint64_t x = rng_next(&c->rng);
		size_t size = small ? 8 + (size_t)(x % 121) : bm_size(x);
		c->slot[s * BT_BATCH + i] = bm_get(size);
		c->size[s * BT_BATCH + i] = (uint32_t)size;
		bytes += (int64_t)size;
	}
	return bytes;
}

/* c frees every batch queued by `from`; returns the objects freed. */
static inline __attribute__((always_inline)) uint64_t
bt_drain(struct bm_cpu *c, struct bm_cpu *from, int64_t *live)
{
	uint64_t ops = 0;
	void *v;

	while (ck_ring_dequeue_spsc(&from->ring, from->buf, &v)) {
		uintptr_t s = (uintptr_t)v;
		for (unsigned i = 0; i < BT_BATCH; i++) {
			bm_put(from->slot[s * BT_BATCH + i],
			    from->size[s * BT_BATCH + i]);
			*live -= from->size[s * BT_BATCH + i];
		}
		ops += BT_BATCH;
		BM_TICK(c, *live);
	}
	return ops;
}

/* Waits for `from` to finish and frees what it still queues. */
static inline __attribute__((always_inline)) uint64_t
bt_finish(struct bm_cpu *c, struct bm_cpu *from, int64_t *live)
{
	uint64_t ops = 0;

	for (;;) {
		bool done = ck_pr_load_uint(&from->done) != 0;
		ck_pr_fence_load();
		ops += bt_drain(c, from, live);
		if (done)
			return ops;
		hal_cpu_relax();
	}
}

/*
 * kmalloc.cross: every hart a producer for the next and a consumer of the
 * previous one (at one hart, of itself).  ops: allocations and frees.
 */
static void
w_cross(struct bm_cpu *c, unsigned self, unsigned n)
{
	struct bm_cpu *prev = &bm_cpus[(self + n - 1) % n];
	uint64_t batches = bm_ops / (2 * BT_BATCH), made = 0, ops = 0;
	int64_t live = c->live;

	rng_seed(&c->rng, bm_seed, 1000 + self);
	while (made < batches) {
		uint64_t before = ops;
		if (ck_ring_size(&c->ring) < BM_RING - 1) {
			uintptr_t s = made % BT_SLOTS;
			live += bt_fill(c, s, false);
			if (!ck_ring_enqueue_spsc(&c->ring, c->buf, (void *)s))
				panic("bench_malloc: ring full");
			made++;
			ops += BT_BATCH;
			BM_TICK(c, live);
		}
		ops += bt_drain(c, prev, &live);
		/* Ring full, nothing to free: the consumer is not running
		   (more threads than cores); let it. */
		if (ops == before)
			hal_cpu_relax();
	}
	ck_pr_store_uint(&c->done, 1);
	ops += bt_finish(c, prev, &live);
	c->live = live;
	c->ops = ops;
}

/*
 * kmalloc.xmalloc: even harts produce for the next (odd) hart, which only
 * frees; an even hart without a next one frees its own batches.  Each
 * producer allocates ops / 2 objects; ops: allocations and frees.
 */
static void
w_xmalloc(struct bm_cpu *c, unsigned self, unsigned n)
{
	uint64_t batches = bm_ops / (2 * BT_BATCH), made = 0, ops = 0;
	int64_t live = c->live;

	rng_seed(&c->rng, bm_seed, 2000 + self);
	if (self % 2 == 1) {
		/* Consumer of self - 1. */
		ops += bt_finish(c, &bm_cpus[self - 1], &live);
		c->live = live;
		c->ops = ops;
		return;
	}
	bool alone = self + 1 == n;
	while (made < batches) {
		uint64_t before = ops;
		if (ck_ring_size(&c->ring) < BM_RING - 1) {
			uintptr_t s = made % BT_SLOTS;
			live += bt_fill(c, s, true);
			if (!ck_ring_enqueue_spsc(&c->ring, c->buf, (void *)s))
				panic("bench_malloc: ring full");
			made++;
			ops += BT_BATCH;
			BM_TICK(c, live);
		}
		if (alone)
			ops += bt_drain(c, c, &live);
		if (ops == before)
			hal_cpu_relax();
	}
	if (alone)
		ops += bt_drain(c, c, &live);
	ck_pr_store_uint(&c->done, 1);
	c->live = live;
	c->ops = ops;
}

/*
 * kmalloc.larson: set k is hart k's arrays; a hart works on the set it
 * holds, then queues it for the next hart and takes the one the previous
 * hart queued (at one hart, its own again).  ops: replacements.
 */
#define LS_SLOTS 5000
#define LS_EPOCH 5000
#define LS_MIN 8
#define LS_MAX 1000

static void
s_larson(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)n;
	rng_seed(&c->rng, bm_seed, 3000 + self);
	for (size_t j = 0; j < LS_SLOTS; j++) {
		size_t size = LS_MIN + rng_below(&c->rng, LS_MAX - LS_MIN + 1);
		c->slot[j] = bm_get(size);
		c->size[j] = (uint32_t)size;
		c->live += (int64_t)size;
	}
	c->held = self;
	bm_account(c, c->live);
}

static void
w_larson(struct bm_cpu *c, unsigned self, unsigned n)
{
	struct bm_cpu *prev = &bm_cpus[(self + n - 1) % n];
	uint64_t epochs = bm_ops / LS_EPOCH ? bm_ops / LS_EPOCH : 1;
	unsigned cur = c->held;
	int64_t live = c->live;

	for (uint64_t e = 0; e < epochs; e++) {
		struct bm_cpu *set = &bm_cpus[cur];
		void *v;
		for (unsigned k = 0; k < LS_EPOCH; k++) {
			size_t j = rng_below(&c->rng, LS_SLOTS);
			size_t size = LS_MIN +
			    rng_below(&c->rng, LS_MAX - LS_MIN + 1);
			bm_put(set->slot[j], set->size[j]);
			live -= set->size[j];
			set->slot[j] = bm_get(size);
			set->size[j] = (uint32_t)size;
			live += size;
			BM_TICK(c, live);
		}
		if (!ck_ring_enqueue_spsc(&c->ring, c->buf,
		    (void *)(uintptr_t)cur))
			panic("bench_malloc: ring full");
		while (!ck_ring_dequeue_spsc(&prev->ring, prev->buf, &v))
			hal_cpu_relax();
		cur = (unsigned)(uintptr_t)v;
	}
	c->held = cur;
	c->live = live;
	c->ops = epochs * LS_EPOCH;
}

static void
t_larson(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)self;
	(void)n;
	bm_free_slots(c, &bm_cpus[c->held], LS_SLOTS);
}

/*
 * kmalloc.thread: glibc's bench-malloc-thread, written from its
 * description.  th_size and th_off are drawn once per process from the
 * seed (bm_tables), the same for every implementation.
 */
#define TH_WSET 1024
#define TH_NSIZES 8000
#define TH_NOFFS 4096
#define TH_MIN 4.0
#define TH_MAX 32768.0

static uint32_t th_size[TH_NSIZES];
static uint16_t th_off[TH_NOFFS];

static void
w_thread(struct bm_cpu *c, unsigned self, unsigned n)
{
	uint64_t ops = bm_ops;
	unsigned si = (self * 1999) % TH_NSIZES, oi = (self * 1031) % TH_NOFFS;
	int64_t live = c->live;

	(void)n;
	for (uint64_t i = 0; i < ops; i++) {
		unsigned k = th_off[oi];
		size_t size = th_size[si];
		oi = oi + 1 == TH_NOFFS ? 0 : oi + 1;
		si = si + 1 == TH_NSIZES ? 0 : si + 1;
		if (c->slot[k] != NULL) {
			bm_put(c->slot[k], c->size[k]);
			live -= c->size[k];
		}
		unsigned char *p = bm_alloc(size);
		if (__builtin_expect(p == NULL, 0))
			bm_oom(size);
		for (size_t b = 0; b < size; b++)
			p[b] = (unsigned char)b;
		*(volatile uint32_t *)p = bm_tag_of(size);
		c->slot[k] = p;
		c->size[k] = (uint32_t)size;
		live += size;
		BM_TICK(c, live);
	}
	c->live = live;
	c->ops = ops;
}

static void
t_thread(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)self;
	(void)n;
	bm_free_slots(c, c, TH_WSET);
}

/*
 * kmalloc.scratch: hart 0 allocates one object per hart in setup (so the
 * objects are neighbours); each hart frees the one it was given and then
 * allocates, writes and frees its own.  ops: allocate-write-free rounds.
 */
#define SC_SIZE 8
#define SC_WRITES 256

static void
s_scratch(struct bm_cpu *c, unsigned self, unsigned n)
{
	if (self != 0)
		return;
	for (unsigned h = 0; h < n; h++) {
		bm_cpus[h].keep = bm_get(SC_SIZE);
		c->live += SC_SIZE;
	}
	bm_account(c, c->live);
}

static void
w_scratch(struct bm_cpu *c, unsigned self, unsigned n)
{
	uint64_t ops = bm_ops;
	int64_t live = c->live;

	(void)self;
	(void)n;
	bm_put(c->keep, SC_SIZE);
	c->keep = NULL;
	live -= SC_SIZE;
	for (uint64_t i = 0; i < ops; i++) {
		volatile uint32_t *p = bm_get(SC_SIZE);
		live += SC_SIZE;
		for (unsigned w = 0; w < SC_WRITES; w++)
			p[1] = p[1] + 1;
		BM_TICK(c, live);
		bm_put((void *)p, SC_SIZE);
		live -= SC_SIZE;
	}
	c->live = live;
	c->ops = ops;
}

/* kmalloc.bigset: BM_SLOTS_MAX objects per hart, replaced at random. */
static void
s_bigset(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)n;
	rng_seed(&c->rng, bm_seed, 4000 + self);
	for (size_t j = 0; j < BM_SLOTS_MAX; j++) {
		size_t size = bm_size(rng_next(&c->rng));
		c->slot[j] = bm_get(size);
		c->size[j] = (uint32_t)size;
		c->live += (int64_t)size;
	}
	bm_account(c, c->live);
}

static void
w_bigset(struct bm_cpu *c, unsigned self, unsigned n)
{
	uint64_t ops = bm_ops;
	int64_t live = c->live;

	(void)self;
	(void)n;
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t x = rng_next(&c->rng);
		size_t j = (size_t)(x % BM_SLOTS_MAX);
		size_t size = bm_size(x >> 20);
		bm_put(c->slot[j], c->size[j]);
		live -= c->size[j];
		c->slot[j] = bm_get(size);
		c->size[j] = (uint32_t)size;
		live += size;
		BM_TICK(c, live);
	}
	c->live = live;
	c->ops = ops;
}

static void
t_bigset(struct bm_cpu *c, unsigned self, unsigned n)
{
	(void)self;
	(void)n;
	bm_free_slots(c, c, BM_SLOTS_MAX);
}

typedef void (*bm_fn_t)(struct bm_cpu *c, unsigned self, unsigned n);

struct workload {
	const char *name;
	bm_fn_t setup, work, teardown;
	uint64_t ops;		/* default ops per hart */
};

/* Defaults: about 20-60 ms per run for the faster allocators here. */
static const struct workload workloads[] = {
	{ "kmalloc.pair", NULL, w_pair, NULL, 8000000 },
	{ "kmalloc.pair1", s_pair1, w_pair, t_keep, 8000000 },
	{ "kmalloc.mixed", NULL, w_mixed, t_slots_mx, 4000000 },
	{ "kmalloc.cross", NULL, w_cross, NULL, 1000000 },
	{ "kmalloc.larson", s_larson, w_larson, t_larson, 1000000 },
	{ "kmalloc.xmalloc", NULL, w_xmalloc, NULL, 2000000 },
	{ "kmalloc.thread", NULL, w_thread, t_thread, 1000000 },
	{ "kmalloc.scratch", s_scratch, w_scratch, t_keep, 100000 },
	{ "kmalloc.bigset", s_bigset, w_bigset, t_bigset, 500000 },
};
#define NWORK (sizeof(workloads) / sizeof(workloads[0]))

/* ------------------------------------------------------------------ */
/* Phases: setup, the timed work between barriers, teardown.           */

static struct smp_barrier bm_bar = SMP_BARRIER_INIT;
static uint64_t bm_t0, bm_t1;
static const struct workload *bm_cur;

static void
bm_phase(void *arg)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	struct bm_cpu *c = &bm_cpus[self];

	(void)arg;
	if (bm_cur->setup != NULL)
		bm_cur->setup(c, self, n);
	bm_account(c, c->live);
	bm_peak_pages();
	smp_barrier_wait(&bm_bar, n);
	if (self == 0)
		bm_t0 = hal_time_ns();
	smp_barrier_wait(&bm_bar, n);
	bm_cur->work(c, self, n);
	smp_barrier_wait(&bm_bar, n);
	if (self == 0)
		bm_t1 = hal_time_ns();
	bm_account(c, c->live);
	bm_peak_pages();
	smp_barrier_wait(&bm_bar, n);
	if (bm_cur->teardown != NULL)
		bm_cur->teardown(c, self, n);
}

/* ------------------------------------------------------------------ */
/* Setup of the process: tables, arrays, memory figures.              */

static void
bm_tables(void)
{
	struct rng r;
	const double lo = 1.0 / TH_MIN, hi = 1.0 / TH_MAX;

	rng_seed(&r, bm_seed, 88);
	/* Inverse square density over [TH_MIN, TH_MAX]: 1/s is uniform. */
	for (unsigned i = 0; i < TH_NSIZES; i++) {
		double u = (double)(rng_next(&r) >> 11) * 0x1.0p-53;
		uint32_t s = (uint32_t)(1.0 / (lo - u * (lo - hi)));
		th_size[i] = s < TH_MIN ? (uint32_t)TH_MIN : s;
	}
	for (unsigned i = 0; i < TH_NOFFS; i++)
		th_off[i] = (uint16_t)rng_below(&r, TH_WSET);
}

/* The harness's arrays: mapped and touched before any measurement. */
static void
bm_arrays(void)
{
	size_t bytes = BM_SLOTS_MAX * (sizeof(void *) + sizeof(uint32_t));

	for (unsigned c = 0; c < hal_ncpus(); c++) {
		char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			panic("bench_malloc: mmap of %zu bytes failed", bytes);
		memset(m, 0, bytes);
		bm_cpus[c].slot = (void **)m;
		bm_cpus[c].size = (uint32_t *)(m + BM_SLOTS_MAX *
		    sizeof(void *));
	}
}

/* A field of /proc/self/status in KiB (0 if absent); no malloc. */
static uint64_t
bm_status_kib(const char *field)
{
	char buf[4096];
	size_t flen = strlen(field);
	ssize_t len;
	int fd = open("/proc/self/status", O_RDONLY);

	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (char *p = buf; p != NULL && *p != '\0';) {
		if (strncmp(p, field, flen) == 0 && p[flen] == ':')
			return strtoull(p + flen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* Resets VmHWM to VmRSS; false if the kernel does not allow it. */
static bool
bm_reset_hwm(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, "5", 1) == 1;
	close(fd);
	return ok;
}

static uint64_t
bm_rate(uint64_t ops, uint64_t ns)
{
	return ns ? (uint64_t)((unsigned __int128)ops * 1000000000ull / ns) : 0;
}

#ifdef BM_RVMM
static uint64_t
rvmm_depot_trips(void)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < kmalloc_nclasses(); i++) {
		struct zone_stats st;
		zone_stats(kmalloc_class_zone(i), &st);
		t += st.depot_gets + st.depot_puts;
	}
	return t;
}
#endif

static bool bm_hwm_ok = true;

/* One run of one workload; prints its line. */
static void
run(const struct workload *w, uint64_t ops)
{
	unsigned n = hal_ncpus();
	uint64_t total = 0, ns, rss0, rss, peak, live;
	char ctr[160] = "";
	struct page_stats pst;

	for (unsigned c = 0; c < n; c++) {
		struct bm_cpu *bc = &bm_cpus[c];
		ck_ring_init(&bc->ring, BM_RING);
		bc->done = 0;
		bc->ops = 0;
		bc->live = bc->flushed = 0;
		bc->keep = NULL;
		memset(bc->slot, 0, BM_SLOTS_MAX * sizeof(void *));
		rng_seed(&bc->rng, bm_seed, c);
	}
	bm_cur = w;
	bm_ops = ops;
	ck_pr_store_64(&bm_live_now, 0);
	ck_pr_store_64(&bm_live_peak, 0);
	page_stats(&pst);
	ck_pr_store_64(&bm_free_min, pst.free_pages);
	if (!bm_reset_hwm() && bm_hwm_ok) {
		kprintf("# bench_malloc: /proc/self/clear_refs refused: rss_kib "
		    "is the high-water since the start of the process\n");
		bm_hwm_ok = false;
	}
	rss0 = bm_status_kib("VmRSS");
#ifdef BM_RVMM
	uint64_t trips = rvmm_depot_trips();
#endif
	smp_run(bm_phase, NULL);
	rss = bm_status_kib("VmHWM");
	rss = rss > rss0 ? rss - rss0 : 0;
	ns = bm_t1 - bm_t0;
	for (unsigned c = 0; c < n; c++)
		total += bm_cpus[c].ops;
	live = (ck_pr_load_64(&bm_live_peak) + 1023) / 1024;
#ifdef BM_RVMM
	peak = (pst.free_pages - ck_pr_load_64(&bm_free_min)) *
	    (HAL_PAGE_SIZE / 1024);
	trips = rvmm_depot_trips() - trips;
	ksnprintf(ctr, sizeof(ctr), ",\"depot_trips_per_1000\":%llu",
	    (unsigned long long)(total ? (unsigned __int128)trips * 1000 /
	    total : 0));
#else
	peak = rss;
#endif
	kprintf("{\"bench\":\"%s\",\"impl\":\"%s\",\"target\":\"%s\","
	    "\"harts\":%u,\"ops\":%llu,\"ns\":%llu,\"ops_per_s\":%llu,"
	    "\"peak_kib\":%llu,\"rss_kib\":%llu,\"live_kib\":%llu,"
	    "\"mem_mib\":%llu%s}\n", w->name, BM_IMPL, RVMM_TARGET, n,
	    (unsigned long long)total, (unsigned long long)ns,
	    (unsigned long long)bm_rate(total, ns), (unsigned long long)peak,
	    (unsigned long long)rss, (unsigned long long)live,
	    (unsigned long long)(pst.total_pages * HAL_PAGE_SIZE >> 20), ctr);
}

/* Boot order: tests/kmain_test.c's. */
_Noreturn void
kmain_secondary(void)
{
	vm_secondary_idle();
}

/* bench=: exact names, with or without the "kmalloc." prefix. */
static bool
bm_selected(const char *sel, const char *name)
{
	return sel[0] == '\0' || bootarg_list_has(sel, name) ||
	    bootarg_list_has(sel, name + strlen("kmalloc."));
}

void
kmain(void)
{
	const char *args = hal_bootargs();
	uint64_t ops = bootarg_u64(args, "ops", 0);
	uint64_t scale = bootarg_u64(args, "scale", 1);
	char sel[256] = "", word[64];
	const char *p = sel;

	vm_set_bootargs(args);
	vm_boot();
	while (smp_online_count() != hal_ncpus())
		hal_cpu_relax();
	zone_init();
	kmalloc_init();
	if (zone_is_debug(kmalloc_class_zone(0)) && kmalloc_set_debug(false))
		kprintf("# kmalloc debug checks could not be turned off\n");
	(void)bootarg_get(args, "bench", sel, sizeof(sel));
	bm_seed = bootarg_u64(args, "seed", 1);
	/* A word of bench= that selects nothing is a typo. */
	while (bootarg_list_next(&p, word, sizeof(word), NULL)) {
		bool found = word[0] == '\0';
		for (size_t i = 0; i < NWORK && !found; i++)
			found = bm_selected(word, workloads[i].name);
		if (!found) {
			kprintf("Bail out! rvmm-bench-malloc: no benchmark "
			    "matches \"%s\"\n", word);
			hal_poweroff(2);
		}
	}
	bm_tables();
	bm_arrays();
	kprintf("# rvmm-bench-malloc-%s: %u harts, VM_DEBUG_LEVEL %d\n",
	    BM_IMPL, hal_ncpus(), VM_DEBUG_LEVEL);
	for (size_t i = 0; i < NWORK; i++)
		if (bm_selected(sel, workloads[i].name))
			run(&workloads[i], ops ? ops :
			    workloads[i].ops * (scale ? scale : 1));
	/* Bootarg stats=1: one summary per layer (vm_dump.c). */
	if (vm_stats_requested(args))
		vm_stats_dump();
	hal_poweroff(0);
}
