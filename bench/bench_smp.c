/*
 * Benchmarks of the SMP substrate, so that the scaling figures of the VM
 * layers have a reference in the same boot:
 *
 *	counter.inc	each hart bumps a counter: its own cache line
 *			(impl "percpu") or one shared counter under a ck
 *			spinlock (impl "spinlock"): the cost of contention
 *	ipi.rtt		each hart makes synchronous cross-calls to its
 *			neighbour (cpu + 1): IPI, remote handler, ack
 */
#include <ck_pr.h>
#include <ck_spinlock.h>

#include "bench/bench.h"
#include "lib/kprintf.h"
#include "lib/smp.h"

static struct {
	uint64_t v;
} HAL_CACHE_ALIGNED pcpu_counter[HAL_MAX_CPUS];

static ck_spinlock_t shared_lock HAL_CACHE_ALIGNED = CK_SPINLOCK_INITIALIZER;
static uint64_t shared_counter HAL_CACHE_ALIGNED;
static uint64_t counter_ops;

static void
counter_percpu(void *arg)
{
	uint64_t *c = &pcpu_counter[hal_cpu_id()].v;

	(void)arg;
	for (uint64_t i = 0; i < counter_ops; i++)
		ck_pr_store_64(c, ck_pr_load_64(c) + 1);
}

static void
counter_locked(void *arg)
{
	(void)arg;
	for (uint64_t i = 0; i < counter_ops; i++) {
		ck_spinlock_lock(&shared_lock);
		ck_pr_store_64(&shared_counter,
		    ck_pr_load_64(&shared_counter) + 1);
		ck_spinlock_unlock(&shared_lock);
	}
}

KBENCH(counter_inc)
{
	unsigned n = hal_ncpus();
	uint64_t ns, total = 0;

	counter_ops = bench_arg_u64("ops", 200000);
	for (unsigned i = 0; i < n; i++)
		pcpu_counter[i].v = 0;
	ns = bench_phase(counter_percpu, NULL);
	for (unsigned i = 0; i < n; i++)
		total += pcpu_counter[i].v;
	if (total != counter_ops * n)
		kprintf("# counter.inc percpu: lost updates (%llu)\n",
		    (unsigned long long)total);
	bench_report("counter.inc", "percpu", n, total, ns, NULL);

	shared_counter = 0;
	ns = bench_phase(counter_locked, NULL);
	if (shared_counter != counter_ops * n)
		kprintf("# counter.inc spinlock: lost updates (%llu)\n",
		    (unsigned long long)shared_counter);
	bench_report("counter.inc", "spinlock", n, shared_counter, ns, NULL);
}

static uint64_t ipi_ops;

static void
ipi_nop(void *arg)
{
	ck_pr_inc_64(arg);
}

static uint64_t ipi_served[HAL_MAX_CPUS];

static void
ipi_worker(void *arg)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	unsigned peer = (self + 1) % n;

	(void)arg;
	for (uint64_t i = 0; i < ipi_ops; i++)
		smp_call_one(peer, ipi_nop, &ipi_served[peer]);
}

KBENCH(ipi_rtt)
{
	unsigned n = hal_ncpus();
	struct smp_stats before[HAL_MAX_CPUS], after;
	uint64_t ns, ipis = 0;
	char counters[96];

	if (n < 2) {
		kprintf("# ipi.rtt: needs 2 harts, skipped\n");
		return;
	}
	ipi_ops = bench_arg_u64("ipi_ops", 2000);
	for (unsigned i = 0; i < n; i++)
		smp_stats_cpu(i, &before[i]);
	ns = bench_phase(ipi_worker, NULL);
	for (unsigned i = 0; i < n; i++) {
		smp_stats_cpu(i, &after);
		ipis += after.calls_sent - before[i].calls_sent;
	}
	ksnprintf(counters, sizeof(counters), "\"ipis\":%llu",
	    (unsigned long long)ipis);
	bench_report("ipi.rtt", "smp_call", n, ipi_ops * n, ns, counters);
}
