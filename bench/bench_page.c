/*
 * Page allocator benchmarks (../shared/BENCH.md names):
 *
 *	page.pair	each hart allocates and frees one order-0 frame, again
 *			and again
 *	page.burst	each hart allocates 64 frames, then frees the 64
 *
 * impl "percpu" is the real allocator, "global" the baseline that sends
 * every call to the buddy allocator under its region lock; both run in the
 * same boot.  An operation is one allocation or one free.  Counters:
 * refills and drains per 1000 operations (refills_per_1k, drains_per_1k,
 * both x1000 fixed point, so 1500 means 1.5), and with more than one hart
 * solo_ops_per_s: cpu 0 alone in the same boot, right before the phase
 * with every hart ("Solo phases" in bench.c).
 */
#include "bench/bench.h"
#include "lib/kprintf.h"
#include "vm/page.h"

static uint64_t page_ops;

static inline void
pair_loop(void)
{
	for (uint64_t i = 0; i < page_ops / 2; i++) {
		struct vm_page *pg = page_alloc(0, 0);
		if (pg == NULL)
			return;
		page_free(pg, 0);
	}
}

/* One worker per mode, so that a profiler can count one mode alone
   (docs/BENCHMARKS.md: valgrind --toggle-collect=pair_worker_percpu). */
static void
pair_worker_percpu(void *arg)
{
	(void)arg;
	pair_loop();
}

static void
pair_worker_global(void *arg)
{
	(void)arg;
	pair_loop();
}

#define BURST 64

static void
burst_worker(void *arg)
{
	struct vm_page *pg[BURST];

	(void)arg;
	for (uint64_t i = 0; i < page_ops / (2 * BURST); i++) {
		for (int k = 0; k < BURST; k++)
			pg[k] = page_alloc(0, 0);
		for (int k = 0; k < BURST; k++)
			if (pg[k] != NULL)
				page_free(pg[k], 0);
	}
}

static void
run(const char *bench, smp_fn_t worker_percpu, smp_fn_t worker_global,
    uint64_t ops_per_hart)
{
	static const enum page_mode modes[] = { PAGE_MODE_PERCPU, PAGE_MODE_GLOBAL };
	static const char *const names[] = { "percpu", "global" };
	unsigned n = hal_ncpus();

	for (int m = 0; m < 2; m++) {
		struct page_stats a, b;
		char ctr[160];

		smp_fn_t worker = m == 0 ? worker_percpu : worker_global;

		page_set_mode(modes[m]);
		page_ops = ops_per_hart;
		/* Warm up: fill the caches and the TLB. */
		bench_phase(worker, NULL);
		uint64_t solo = 0;
		if (n > 1) {
			page_stats(&a);
			bench_solo(true);
			uint64_t sns = bench_phase(worker, NULL);
			bench_solo(false);
			page_stats(&b);
			solo = bench_ops_per_s((b.allocs - a.allocs) +
			    (b.frees - a.frees), sns);
		}
		page_stats(&a);
		uint64_t ns = bench_phase(worker, NULL);
		page_stats(&b);
		uint64_t ops = (b.allocs - a.allocs) + (b.frees - a.frees);
		uint64_t fails = b.failures - a.failures;
		ksnprintf(ctr, sizeof(ctr),
		    "\"refills_per_1k\":%llu,\"spills_per_1k\":%llu,"
		    "\"drains_per_1k\":%llu,\"failures\":%llu",
		    (unsigned long long)bench_muldiv(b.refills - a.refills, 1000000, ops),
		    (unsigned long long)bench_muldiv(b.spills - a.spills, 1000000, ops),
		    (unsigned long long)bench_muldiv(b.drains - a.drains, 1000000, ops),
		    (unsigned long long)fails);
		bench_report_solo(bench, names[m], n, ops, ns, solo, ctr);
	}
	page_set_mode(PAGE_MODE_PERCPU);
}

KBENCH(page_pair)
{
	run("page.pair", pair_worker_percpu, pair_worker_global, bench_arg_u64("page_ops", 100000));
}

KBENCH(page_burst)
{
	run("page.burst", burst_worker, burst_worker, bench_arg_u64("page_ops", 100000));
}
