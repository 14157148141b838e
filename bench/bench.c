/*
 * bench.c: benchmark runner and result lines (see bench.h).
 */
#include <string.h>

#include <ck_pr.h>

#include "bench/bench.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"

extern const struct kbench __start_kbench_cases[];
extern const struct kbench __stop_kbench_cases[];

static const char *bench_args;

uint64_t
bench_arg_u64(const char *key, uint64_t dflt)
{
	return bootarg_u64(bench_args, key, dflt);
}

uint64_t
bench_muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	return (uint64_t)((unsigned __int128)a * b / c);
}

void
bench_report(const char *bench, const char *impl, unsigned harts,
    uint64_t ops, uint64_t ns, const char *counters)
{
	uint64_t ops_per_s = ns ? bench_muldiv(ops, 1000000000ull, ns) : 0;

	kprintf("{\"bench\":\"%s\",\"impl\":\"%s\",\"target\":\"%s\","
	    "\"harts\":%u,\"ops\":%llu,\"ns\":%llu,\"ops_per_s\":%llu%s%s}\n",
	    bench, impl, RVMM_TARGET, harts, (unsigned long long)ops,
	    (unsigned long long)ns, (unsigned long long)ops_per_s,
	    counters ? "," : "", counters ? counters : "");
}

static struct smp_barrier phase_bar = SMP_BARRIER_INIT;
static uint64_t phase_t0, phase_t1;

struct phase {
	smp_fn_t worker;
	void *arg;
};

static void
phase_fn(void *arg)
{
	struct phase *ph = arg;
	unsigned n = hal_ncpus();

	smp_barrier_wait(&phase_bar, n);
	if (hal_cpu_id() == 0)
		phase_t0 = hal_time_ns();
	smp_barrier_wait(&phase_bar, n);
	ph->worker(ph->arg);
	smp_barrier_wait(&phase_bar, n);
	if (hal_cpu_id() == 0)
		phase_t1 = hal_time_ns();
}

uint64_t
bench_phase(smp_fn_t worker, void *arg)
{
	struct phase ph = { worker, arg };

	smp_run(phase_fn, &ph);
	return phase_t1 - phase_t0;
}

int
bench_main(const char *bootargs)
{
	char sel[256];
	bool have = bootarg_get(bootargs, "bench", sel, sizeof(sel));

	bench_args = bootargs;
	kprintf("# rvmm bench: target %s, %u harts, args \"%s\"\n", RVMM_TARGET,
	    hal_ncpus(), bootargs);
	for (const struct kbench *b = __start_kbench_cases;
	    b < __stop_kbench_cases; b++) {
		if (have && !bootarg_list_matches(sel, b->name))
			continue;
		kprintf("# bench %s\n", b->name);
		b->fn();
	}
	kprintf("# rvmm bench: done\n");
	return 0;
}
