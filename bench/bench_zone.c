/*
 * Benchmarks of the zone allocator and kmalloc (QEMU and host):
 *
 *	zone.pair	every hart allocates and frees one 64-byte object
 *			of a shared zone in a loop: impl "mag" (per-cpu
 *			magazines) against "nomag" (every call to the slab
 *			layer under the zone lock); ops = pairs
 *	kmalloc.mixed	every hart keeps a live set of 256 slots and
 *			randomly frees or allocates 16 B .. 2 KiB (same
 *			seed per hart for both impls), after an untimed
 *			quarter-length warm-up; impl "mag" / "nomag"
 *			switches every size class; ops = kmalloc + kfree
 *	kmalloc.large	every hart allocates, touches and frees one object
 *			of `size` bytes in a loop, for size 8504 (above the
 *			small classes, not a power-of-two number of pages),
 *			16384 (four pages) and 100000 (above the classes:
 *			frames); impl "rvmm"; ops = pairs.
 *			mem_mib is the RAM the kernel was given (the cost of
 *			the large path must not depend on it: run it at
 *			several mem= / --mem, ci/bench does), large_per_1000
 *			the allocations that took frames from the page
 *			allocator rather than a class zone, per 1000
 *			allocations of the timed rounds
 *
 * Counters: depot_trips_per_1000 (full magazines fetched or returned per
 * 1000 operations, all harts), contention (depot try-lock failures),
 * slab_contention (slab-lock try-lock failures: the baseline's cost),
 * magsize (final magazine size), debug (whether the zones' debug checks
 * were on: a benchmark kernel built with debug_level 2 cannot always turn
 * them off for kmalloc), rounds (each figure is the best of that many
 * timed phases in a row, bz_measure), solo_ops_per_s (with more than one
 * hart: cpu 0 alone in the same boot, see "Solo phases" in bench.c).
 */
#include <string.h>

#include <ck_pr.h>

#include "bench/bench.h"
#include "lib/assert.h"
#include "lib/kprintf.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "vm/kmalloc.h"
#include "vm/zone.h"

/* Host threads need a while to all be running: longer phases there. */
static uint64_t
bz_default_ops(void)
{
	return strcmp(RVMM_TARGET, "host") == 0 ? 5000000 : 200000;
}

static void
bz_init(void)
{
	zone_init();
	kmalloc_init();
}

struct bz_totals {
	uint64_t trips, contention, slab_contention;
	unsigned magsize;
};

static void
bz_zone_totals(zone_t z, struct bz_totals *t)
{
	struct zone_stats st;

	zone_stats(z, &st);
	t->trips += st.depot_gets + st.depot_puts;
	t->contention += st.contention;
	t->slab_contention += st.slab_contention;
	if (st.magsize > t->magsize)
		t->magsize = st.magsize;
}

static void
bz_report(const char *bench, const char *impl, uint64_t ops, uint64_t ns,
    const struct bz_totals *before, const struct bz_totals *after,
    bool debug, uint64_t solo_rate)
{
	char ctr[240];
	uint64_t trips = after->trips - before->trips;

	ksnprintf(ctr, sizeof(ctr), "\"depot_trips_per_1000\":%llu,"
	    "\"contention\":%llu,\"slab_contention\":%llu,\"magsize\":%u,"
	    "\"debug\":%d,\"rounds\":%llu",
	    (unsigned long long)(ops ? bench_muldiv(trips, 1000, ops) : 0),
	    (unsigned long long)(after->contention - before->contention),
	    (unsigned long long)(after->slab_contention -
	    before->slab_contention), after->magsize, debug ? 1 : 0,
	    (unsigned long long)bench_arg_u64("rounds", 3));
	bench_report_solo(bench, impl, hal_ncpus(), ops, ns, solo_rate, ctr);
}

/* Operations per cpu and phase. */
static uint64_t bz_ops;

/*
 * bz_measure: the best of `rounds` (bootarg, default 3) timed phases of
 * worker, and the totals read around that round.  QEMU's harts are
 * threads of a 2-core host that other work shares: a slow spell falls on
 * one round rather than on the figure.
 */
static uint64_t
bz_measure(smp_fn_t worker, void (*totals)(struct bz_totals *),
    struct bz_totals *before, struct bz_totals *after)
{
	uint64_t rounds = bench_arg_u64("rounds", 3), best;

	totals(before);
	best = bench_phase(worker, NULL);
	totals(after);
	for (uint64_t r = 1; r < rounds; r++) {
		struct bz_totals b, a;
		totals(&b);
		uint64_t ns = bench_phase(worker, NULL);
		totals(&a);
		if (ns < best) {
			best = ns;
			*before = b;
			*after = a;
		}
	}
	return best;
}

/* bz_solo_rate: cpu 0's ops/s working alone (bench_solo, the best of
   the same rounds as bz_measure), 0 on one cpu.  Each cpu's worker does
   bz_ops operations. */
static uint64_t
bz_solo_rate(smp_fn_t worker, void (*totals)(struct bz_totals *))
{
	struct bz_totals b, a;
	uint64_t ns;

	if (hal_ncpus() < 2)
		return 0;
	bench_solo(true);
	ns = bz_measure(worker, totals, &b, &a);
	bench_solo(false);
	return bench_ops_per_s(bz_ops, ns);
}

/* ------------------------------------------------------------------ */

static zone_t bz_zone;

static void
bz_pair_worker(void *arg)
{
	zone_t z = bz_zone;

	(void)arg;
	for (uint64_t i = 0; i < bz_ops; i++) {
		void *p = zone_alloc(z, 0);
		if (__builtin_expect(p == NULL, 0))
			panic("zone.pair: out of memory");
		*(volatile uint64_t *)p = i;
		zone_free(z, p);
	}
}

static void
bz_warm(void *arg)
{
	/* One round trip per hart so every cpu has its magazines. */
	void *p = zone_alloc(bz_zone, 0);

	(void)arg;
	zone_free(bz_zone, p);
}

static void
bz_pair_totals(struct bz_totals *t)
{
	*t = (struct bz_totals){ 0, 0, 0, 0 };
	bz_zone_totals(bz_zone, t);
}

KBENCH(zone_pair)
{
	struct bz_totals b, a;
	uint64_t ns;

	bz_init();
	bz_ops = bench_arg_u64("ops", bz_default_ops());
	bz_zone = zone_create("bench-pair", 64, 0, NULL, NULL, ZONE_NODEBUG);
	if (bz_zone == NULL) {
		kprintf("# zone.pair: zone_create failed\n");
		return;
	}
	for (int mag = 1; mag >= 0; mag--) {
		zone_set_magazines(bz_zone, mag != 0);
		smp_run(bz_warm, NULL);
		uint64_t solo = bz_solo_rate(bz_pair_worker, bz_pair_totals);
		ns = bz_measure(bz_pair_worker, bz_pair_totals, &b, &a);
		bz_report("zone.pair", mag ? "mag" : "nomag",
		    bz_ops * hal_ncpus(), ns, &b, &a, false, solo);
	}
	if (zone_destroy(bz_zone) != 0)
		kprintf("# zone.pair: zone_destroy: objects left\n");
}

/* ------------------------------------------------------------------ */

#define BZ_SLOTS 256

struct bz_mixed_cpu {
	void *live[BZ_SLOTS];
	uint64_t ops;
} HAL_CACHE_ALIGNED;

static struct bz_mixed_cpu bz_mixed[HAL_MAX_CPUS];
static uint64_t bz_seed;

static void
bz_mixed_worker(void *arg)
{
	struct bz_mixed_cpu *c = &bz_mixed[hal_cpu_id()];
	struct rng r;
	uint64_t ops = 0;

	(void)arg;
	rng_seed(&r, bz_seed, hal_cpu_id());
	for (uint64_t i = 0; i < bz_ops; i++) {
		uint64_t x = rng_next(&r);
		unsigned k = (unsigned)(x % BZ_SLOTS);
		if (c->live[k] != NULL) {
			kfree(c->live[k]);
			c->live[k] = NULL;
		} else {
			/* 16 B .. 2 KiB, small sizes more likely. */
			size_t size = 16u << ((x >> 8) % 8);
			size += (x >> 16) % size;
			if (size > 2048)
				size = 2048;
			c->live[k] = kmalloc(size, 0);
			if (__builtin_expect(c->live[k] == NULL, 0))
				panic("kmalloc.mixed: out of memory");
			*(volatile uint64_t *)c->live[k] = i;
		}
		ops++;
	}
	c->ops = ops;
}

static void
bz_mixed_clear(void *arg)
{
	struct bz_mixed_cpu *c = &bz_mixed[hal_cpu_id()];

	(void)arg;
	for (unsigned k = 0; k < BZ_SLOTS; k++) {
		kfree(c->live[k]);
		c->live[k] = NULL;
	}
}

static void
bz_kmalloc_totals(struct bz_totals *t)
{
	*t = (struct bz_totals){ 0, 0, 0, 0 };
	for (unsigned i = 0; i < kmalloc_nclasses(); i++)
		bz_zone_totals(kmalloc_class_zone(i), t);
}

KBENCH(kmalloc_mixed)
{
	struct bz_totals b, a;
	bool was_debug, debug;
	uint64_t ns, ops, timed_ops;

	bz_init();
	/* On QEMU five times zone.pair's: at 200000 its phases at 2 harts
	   lasted a few milliseconds and varied by a fifth between boots. */
	timed_ops = bench_arg_u64("ops", strcmp(RVMM_TARGET, "host") == 0 ?
	    bz_default_ops() : 5 * bz_default_ops());
	bz_seed = bench_arg_u64("seed", 1);
	was_debug = zone_is_debug(kmalloc_class_zone(0));
	(void)kmalloc_set_debug(false);
	debug = zone_is_debug(kmalloc_class_zone(0));
	for (int mag = 1; mag >= 0; mag--) {
		kmalloc_set_magazines(mag != 0);
		/* Untimed warm-up: slabs made, magazines filled, the live
		   set at its steady size. */
		bz_ops = timed_ops / 4;
		smp_run(bz_mixed_worker, NULL);
		bz_ops = timed_ops;
		uint64_t solo = bz_solo_rate(bz_mixed_worker,
		    bz_kmalloc_totals);
		ns = bz_measure(bz_mixed_worker, bz_kmalloc_totals, &b, &a);
		ops = 0;
		for (unsigned c = 0; c < hal_ncpus(); c++)
			ops += bz_mixed[c].ops;
		smp_run(bz_mixed_clear, NULL);
		bz_report("kmalloc.mixed", mag ? "mag" : "nomag", ops, ns, &b,
		    &a, debug, solo);
	}
	kmalloc_set_magazines(true);
	(void)kmalloc_reap_all();
	if (was_debug)
		(void)kmalloc_set_debug(true);
}

/* ------------------------------------------------------------------ */

static size_t bz_large_size;

static void
bz_large_worker(void *arg)
{
	size_t size = bz_large_size;

	(void)arg;
	for (uint64_t i = 0; i < bz_ops; i++) {
		void *p = kmalloc(size, 0);
		if (__builtin_expect(p == NULL, 0))
			panic("kmalloc.large: kmalloc(%zu) failed", size);
		*(volatile uint64_t *)p = i;
		kfree(p);
	}
}

/* The RAM the kernel was given, in MiB (all regions, reserved included). */
static uint64_t
bz_mem_mib(void)
{
	const struct hal_mem_range *mem;
	unsigned n = hal_mem_regions(&mem);
	uint64_t bytes = 0;

	for (size_t i = 0; i < n; i++)
		bytes += mem[i].size;
	return bytes >> 20;
}

KBENCH(kmalloc_large)
{
	static const size_t sizes[] = { 8504, 16384, 100000 };
	struct bz_totals b, a;
	struct kmalloc_stats k0, k1;
	bool was_debug, debug;
	char ctr[240];
	uint64_t rounds = bench_arg_u64("rounds", 3);

	bz_init();
	was_debug = zone_is_debug(kmalloc_class_zone(0));
	(void)kmalloc_set_debug(false);
	debug = zone_is_debug(kmalloc_class_zone(0));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		bz_large_size = sizes[i];
		bz_ops = bench_arg_u64("ops", strcmp(RVMM_TARGET, "host") == 0 ?
		    1000000 : 100000);
		/* Untimed warm-up: slabs made and magazines filled. */
		uint64_t timed = bz_ops;
		bz_ops = timed / 10 + 1;
		smp_run(bz_large_worker, NULL);
		bz_ops = timed;
		uint64_t solo = bz_solo_rate(bz_large_worker, bz_kmalloc_totals);
		kmalloc_stats(&k0);
		uint64_t ns = bz_measure(bz_large_worker, bz_kmalloc_totals, &b,
		    &a);
		kmalloc_stats(&k1);
		ksnprintf(ctr, sizeof(ctr), "\"size\":%zu,\"mem_mib\":%llu,"
		    "\"large_per_1000\":%llu,\"depot_trips_per_1000\":%llu,"
		    "\"contention\":%llu,\"debug\":%d,\"rounds\":%llu",
		    bz_large_size, (unsigned long long)bz_mem_mib(),
		    (unsigned long long)bench_muldiv(k1.large_allocs -
		    k0.large_allocs, 1000, rounds * bz_ops * hal_ncpus()),
		    (unsigned long long)(bench_muldiv(a.trips - b.trips, 1000,
		    bz_ops * hal_ncpus())),
		    (unsigned long long)(a.contention - b.contention),
		    debug ? 1 : 0,
		    (unsigned long long)rounds);
		bench_report_solo("kmalloc.large", "rvmm", hal_ncpus(),
		    bz_ops * hal_ncpus(), ns, solo, ctr);
	}
	(void)kmalloc_reap_all();
	if (was_debug)
		(void)kmalloc_set_debug(true);
}
