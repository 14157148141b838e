/*
 * bench: the benchmark registry and the result format of ../shared/BENCH.md
 * (see docs/BENCHMARKS.md).  A benchmark is registered with
 *
 *	KBENCH(name) { ... bench_report(...); }
 *
 * and selected with the bootarg bench=a,b (substring match on the name;
 * all benchmarks when absent).  Every result is one JSON line:
 *
 *	{"bench":"page.pair","impl":"percpu","target":"qemu","harts":2,
 *	 "ops":..,"ns":..,"ops_per_s":..,<counters>}
 *
 * The same sources build into the riscv64 benchmark kernel and the host
 * benchmark program.  Timing uses hal_time_ns(); phases are delimited by
 * barriers so "ns" covers all harts from the common start to the last
 * finisher.
 */
#ifndef RVMM_BENCH_BENCH_H
#define RVMM_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "hal/hal.h"
#include "hal/hal_test.h"
#include "lib/smp.h"

struct kbench {
	const char *name;
	void (*fn)(void);
};

#define KBENCH(name_)                                                          \
	static void kbench_fn_##name_(void);                                   \
	static const struct kbench kbench_##name_                              \
	    __attribute__((used, section("kbench_cases"), aligned(8))) = {     \
		#name_, kbench_fn_##name_};                                    \
	static void kbench_fn_##name_(void)

#ifndef RVMM_TARGET
#define RVMM_TARGET "unknown"
#endif

/* Bootarg lookup for benchmarks (ops=, iters=...). */
uint64_t bench_arg_u64(const char *key, uint64_t dflt);

/*
 * bench_report: prints one result line.  `counters` is either NULL or a
 * ready JSON fragment of extra fields without braces, e.g. "\"refills\":12".
 */
void bench_report(const char *bench, const char *impl, unsigned harts,
    uint64_t ops, uint64_t ns, const char *counters);

/*
 * bench_report_solo: bench_report plus "solo_ops_per_s" (cpu 0 alone in
 * the same boot, see bench_solo) when solo_ops_per_s is not 0.
 */
void bench_report_solo(const char *bench, const char *impl, unsigned harts,
    uint64_t ops, uint64_t ns, uint64_t solo_ops_per_s,
    const char *counters);

/* ops per second from ops and nanoseconds (0 when ns is 0). */
uint64_t bench_ops_per_s(uint64_t ops, uint64_t ns);

/* a * b / c without overflow for 64-bit a, b (c > 0). */
uint64_t bench_muldiv(uint64_t a, uint64_t b, uint64_t c);

/*
 * bench_phase: runs worker(arg) on every cpu between two barriers and
 * returns the elapsed nanoseconds from the first barrier to the last cpu's
 * finish (measured on cpu 0 after the closing barrier).
 */
uint64_t bench_phase(smp_fn_t worker, void *arg);

/*
 * Solo phases (bench.c).  bench_solo(true): from now on bench_phase runs
 * the worker on cpu 0 only; the other cpus pass the opening barriers and
 * wait at the closing one, so "ns" is cpu 0's time working alone.
 * bench_solo(false) returns to every cpu.  A worker need not know; one
 * that leaves per-cpu results behind can ask bench_sitting_out().
 * pre: cpu 0, between phases.
 */
void bench_solo(bool on);
bool bench_sitting_out(void);

/*
 * bench_solo_rate: one phase of worker(arg) on cpu 0 alone (bench_solo),
 * each cpu's worker doing ops_per_cpu operations; returns cpu 0's ops/s,
 * or 0 with a single cpu (nothing to compare).
 */
uint64_t bench_solo_rate(smp_fn_t worker, void *arg, uint64_t ops_per_cpu);

int bench_main(const char *bootargs);

#endif /* RVMM_BENCH_BENCH_H */
