/*
 * SMP bring-up tests: every hart checks in, IPI round trips between every
 * pair of harts (with interrupts on and off), time, memory description.
 */
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "lib/bootargs.h"
#include "lib/smp.h"
#include "tests/ktest.h"

static unsigned checkin_seen[HAL_MAX_CPUS];
static unsigned long checkin_hartid[HAL_MAX_CPUS];

static void
checkin_fn(void *arg)
{
	unsigned id = hal_cpu_id();

	(void)arg;
	ck_pr_inc_uint(&checkin_seen[id]);
	checkin_hartid[id] = hal_cpu()->hartid;
	KT_EXPECT(hal_intr_enabled());
}

KTEST(smp, all_harts_check_in)
{
	unsigned n = hal_ncpus();
	const char *want = ktest_arg("expect_harts");

	if (want != NULL) {
		uint64_t w = 0;
		KT_EXPECT(bootarg_parse_u64(want, &w));
		KT_EXPECT_EQ(n, w);
	}
	memset(checkin_seen, 0, sizeof(checkin_seen));
	for (int round = 0; round < 3; round++)
		smp_run(checkin_fn, NULL);
	for (unsigned i = 0; i < n; i++) {
		KT_EXPECT_EQ(checkin_seen[i], 3);
		KT_EXPECT_EQ(checkin_hartid[i], hal_cpu_hartid(i));
		for (unsigned j = 0; j < i; j++)
			KT_EXPECT_NE(checkin_hartid[i], checkin_hartid[j]);
	}
	ktest_note("%u harts checked in, cpu 0 is hart %lu", n,
	    hal_cpu_hartid(0));
}

/* pair_count[target][sender]: calls that target ran for sender. */
static unsigned pair_count[HAL_MAX_CPUS][HAL_MAX_CPUS];

struct pair_arg {
	unsigned sender;
	unsigned target;
};

static void
pair_fn(void *arg)
{
	struct pair_arg *pa = arg;

	KT_EXPECT_EQ(pa->target, hal_cpu_id());
	KT_EXPECT(!hal_intr_enabled());
	pair_count[pa->target][pa->sender]++;
}

struct pairs_cfg {
	unsigned rounds;
	bool intr_off;
};

static void
pairs_worker(void *arg)
{
	struct pairs_cfg *cfg = arg;
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	struct pair_arg pa = { self, 0 };

	for (unsigned r = 0; r < cfg->rounds; r++) {
		for (unsigned k = 1; k < n; k++) {
			pa.target = (self + k) % n;
			hal_intr_t s = 0;
			if (cfg->intr_off)
				s = hal_intr_disable();
			smp_call_one(pa.target, pair_fn, &pa);
			if (cfg->intr_off)
				hal_intr_restore(s);
		}
	}
}

static void
pairs_run(bool intr_off)
{
	unsigned n = hal_ncpus();
	struct pairs_cfg cfg = { (unsigned)ktest_iters(50), intr_off };
	uint64_t t0, t1;

	memset(pair_count, 0, sizeof(pair_count));
	t0 = hal_time_ns();
	smp_run(pairs_worker, &cfg);
	t1 = hal_time_ns();
	for (unsigned t = 0; t < n; t++)
		for (unsigned s = 0; s < n; s++)
			KT_EXPECT_EQ(pair_count[t][s], t == s ? 0 : cfg.rounds);
	if (n > 1)
		ktest_note("%u round trips between %u harts in %llu us", cfg.rounds *
		    n * (n - 1), n, (unsigned long long)(t1 - t0) / 1000);
}

KTEST(smp, ipi_every_pair)
{
	pairs_run(false);
}

/* Both sides call each other with interrupts off: served by polling. */
KTEST(smp, ipi_every_pair_intr_off)
{
	pairs_run(true);
}

static void
self_fn(void *arg)
{
	ck_pr_inc_uint(arg);
}

KTEST(smp, call_self_and_all)
{
	hal_cpuset_t all;
	unsigned count = 0;

	hal_cpuset_clear(&all);
	for (unsigned i = 0; i < hal_ncpus(); i++)
		hal_cpuset_add(&all, i);
	smp_call(&all, self_fn, &count);
	KT_EXPECT_EQ(count, hal_ncpus());
	smp_call_one(hal_cpu_id(), self_fn, &count);
	KT_EXPECT_EQ(count, hal_ncpus() + 1);
}

static struct smp_barrier bar = SMP_BARRIER_INIT;
static unsigned bar_phase[HAL_MAX_CPUS];

static void
barrier_worker(void *arg)
{
	unsigned n = hal_ncpus(), self = hal_cpu_id();

	(void)arg;
	for (unsigned p = 1; p <= 20; p++) {
		ck_pr_store_uint(&bar_phase[self], p);
		smp_barrier_wait(&bar, n);
		for (unsigned i = 0; i < n; i++)
			KT_EXPECT(ck_pr_load_uint(&bar_phase[i]) >= p);
		smp_barrier_wait(&bar, n);
	}
}

KTEST(smp, barrier)
{
	smp_run(barrier_worker, NULL);
}

KTEST(smp, time_is_monotonic)
{
	uint64_t prev = hal_time_ns(), start = prev;

	for (int i = 0; i < 1000; i++) {
		uint64_t t = hal_time_ns();
		KT_EXPECT_GE(t, prev);
		prev = t;
	}
	/* Time advances: wait until at least 1 ms has passed. */
	while (hal_time_ns() - start < 1000000)
		hal_cpu_relax();
	KT_EXPECT_GE(hal_time_ns() - start, 1000000);
}

KTEST(smp, memory_description)
{
	const struct hal_mem_range *m, *r;
	unsigned nm = hal_mem_regions(&m), nr = hal_mem_reserved(&r);
	uint64_t total = 0;
	const char *want = ktest_arg("expect_mem");

	KT_ASSERT(nm >= 1);
	for (unsigned i = 0; i < nm; i++) {
		KT_EXPECT_GT(m[i].size, 0);
		KT_EXPECT_EQ(m[i].base % HAL_PAGE_SIZE, 0);
		if (i > 0)
			KT_EXPECT_GE(m[i].base, m[i - 1].base + m[i - 1].size);
		total += m[i].size;
		ktest_note("RAM %#llx-%#llx", (unsigned long long)m[i].base,
		    (unsigned long long)(m[i].base + m[i].size));
	}
	for (unsigned i = 0; i < nr; i++) {
		ktest_note("reserved %#llx-%#llx", (unsigned long long)r[i].base,
		    (unsigned long long)(r[i].base + r[i].size));
		KT_EXPECT_GT(r[i].size, 0);
	}
	if (want != NULL) {
		uint64_t w = 0;
		KT_EXPECT(bootarg_parse_u64(want, &w));
		KT_EXPECT_EQ(total, w);
	}
	/* The direct map round-trips and the memory is usable. */
	paddr_t pa = m[nm - 1].base + m[nm - 1].size - HAL_PAGE_SIZE;
	volatile uint64_t *p = hal_phys_to_virt(pa);
	KT_EXPECT_EQ(hal_virt_to_phys((const void *)p), pa);
	uint64_t old = *p;
	*p = 0x5a5a5a5a12345678ull;
	KT_EXPECT_EQ(*p, 0x5a5a5a5a12345678ull);
	*p = old;
}

/*
 * Issue 12: rvmm's test kernels boot rvmm on cpu 0 and let every other
 * hart come online afterwards (vm_boot_cpu, tests/kmain_test.c), with no
 * smp_init(): by the first test every hart is online, has paging on the
 * kernel pmap, and answers cross-calls.
 */
#include "hal/pmap.h"
#include "vm/vm.h"

static pmap_t online_pmap[HAL_MAX_CPUS];
static unsigned online_seen[HAL_MAX_CPUS];

static void
online_fn(void *arg)
{
	unsigned id = hal_cpu_id();

	(void)arg;
	online_pmap[id] = pmap_current();
	ck_pr_inc_uint(&online_seen[id]);
}

KTEST(smp, every_hart_online_after_vm_boot)
{
	unsigned n = hal_ncpus();
	hal_cpuset_t set;

	KT_EXPECT(vm_booted());
	KT_EXPECT_EQ(smp_online_count(), n);
	smp_online_set(&set);
	for (unsigned i = 0; i < HAL_MAX_CPUS; i++) {
		KT_EXPECT_EQ(smp_cpu_is_online(i), i < n);
		KT_EXPECT_EQ(hal_cpuset_has(&set, i), i < n);
	}
	memset(online_seen, 0, sizeof(online_seen));
	memset(online_pmap, 0, sizeof(online_pmap));
	smp_call(&set, online_fn, NULL);
	for (unsigned i = 0; i < n; i++) {
		KT_EXPECT_EQ(online_seen[i], 1);
		KT_EXPECT(online_pmap[i] == pmap_kernel());
	}
}

/* Wrong use: a hart that is online already comes online again. */
KTEST_EXPLICIT(wrong_boot_cpu_twice, cpu0)
{
	vm_boot_cpu();
	KT_FAIL("vm_boot_cpu() on an online cpu did not panic");
}

/* Wrong use: vm_boot() twice. */
KTEST_EXPLICIT(wrong_vm_boot_twice, cpu0)
{
	vm_boot();
	KT_FAIL("a second vm_boot() did not panic");
}
