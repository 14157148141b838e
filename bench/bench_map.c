/*
 * Benchmarks of maps and the fault path (QEMU and host):
 *
 *	fault.zero	every hart takes zero-fill faults on its own region
 *			of one shared map (each region 4 MiB apart): a store
 *			through the MMU per page, so each op is trap + fault
 *			hook + vm_fault + zone/page allocation + pmap_enter +
 *			retry.  impl "lockless" is the big-reader lookup
 *			(map.c section 4), "maplock" the baseline where every
 *			fault takes the map's one spinlock.  ops = faults.
 *	mmap.cycle	every hart, on its own map, maps 4 anonymous pages
 *			without a hint and unmaps them; ops = mmap+munmap
 *			pairs.  impl as above (the writer side differs:
 *			O(ncpus) reader slots against one lock).
 *	fork.1000	every hart forks its own map of 1000 written pages
 *			(vm_map_create + vm_map_copy + vm_map_destroy of the
 *			child); ops = forks.  Counter copy_ns: the mean time
 *			of vm_map_copy alone.
 *
 * Counters for fault.zero: zero_fill (faults of that kind, all harts),
 * other (faults of any other kind: must be 0), faults_per_hart.  With
 * more than one hart every benchmark here also reports solo_ops_per_s,
 * cpu 0 alone in the same boot ("Solo phases" in bench.c): fault.zero
 * the median of solo rounds interleaved with the others, mmap.cycle and
 * fork.1000 one solo phase right before the phase with every hart.
 */
#include <string.h>

#include <ck_pr.h>

#include "bench/bench.h"
#include "lib/kprintf.h"
#include "lib/smp.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/page.h"

#define PG ((vaddr_t)HAL_PAGE_SIZE)
#define REGION_STRIDE (4ull << 20)

static vm_map_t bm_maps[HAL_MAX_CPUS];
static uint64_t bm_pages;
static uint64_t bm_errors;		/* (A) */
static uint64_t bm_copy_ns[HAL_MAX_CPUS];

static vaddr_t
region(unsigned cpu)
{
	return pmap_user_min() + cpu * REGION_STRIDE;
}

/* ------------------------------------------------------------------ */
/* fault.zero                                                          */

static void
fault_worker(void *arg)
{
	unsigned cpu = hal_cpu_id();
	vaddr_t base = region(cpu);

	(void)arg;
	for (uint64_t i = 0; i < bm_pages; i++)
		if (hal_probe_write64(base + i * PG, i + 1) != 0)
			ck_pr_inc_64(&bm_errors);
}

static void
activate_worker(void *arg)
{
	vm_map_activate(arg);
}

/* What one impl gathered over its rounds. */
struct fz_acc {
	uint64_t ns[16];	/* per measured round */
	uint64_t ops, other, shoot, flush, ipis, refills;
	uint64_t solo_rate[16];	/* per measured solo round: cpu 0's ops/s */
};

/*
 * One round on map m: map the regions, fault them in, unmap.  A solo
 * round (bench_solo on) maps every region the same way but only cpu 0
 * faults, and records cpu 0's rate alone.
 */
static void
fault_zero_round(vm_map_t m, struct fz_acc *acc, unsigned r, bool solo)
{
	unsigned n = hal_ncpus();
	struct vm_fault_stats a, b;
	struct pmap_stats pa, pb;
	struct page_stats ga, gb;

	smp_run(activate_worker, m);
	for (unsigned c = 0; c < n; c++)
		if (vm_mmap(m, region(c), bm_pages * PG, VM_PROT_READ |
		    VM_PROT_WRITE, VM_MAP_PRIVATE | VM_MAP_ANON | VM_MAP_FIXED,
		    NULL, 0) < 0)
			ck_pr_inc_64(&bm_errors);
	vm_fault_stats(&a);
	pmap_stats(&pa);
	page_stats(&ga);
	uint64_t t = bench_phase(fault_worker, NULL);
	vm_fault_stats(&b);
	pmap_stats(&pb);
	page_stats(&gb);
	/* Round 0 warms the page caches, zones and page tables. */
	if (solo) {
		if (r > 0)
			acc->solo_rate[r - 1] = bench_ops_per_s(b.zero_fill -
			    a.zero_fill, t);
	} else if (r > 0) {
		acc->ns[r - 1] = t;
		acc->shoot += pb.sum.shootdowns - pa.sum.shootdowns;
		acc->flush += pb.sum.local_flushes - pa.sum.local_flushes;
		acc->ipis += pb.sum.ipis_sent + pb.sum.rfence_calls -
		    pa.sum.ipis_sent - pa.sum.rfence_calls;
		acc->refills += gb.refills - ga.refills;
		acc->ops += b.zero_fill - a.zero_fill;
		acc->other += (b.faults - a.faults) - (b.zero_fill - a.zero_fill);
	}
	for (unsigned c = 0; c < n; c++)
		if (vm_munmap(m, region(c), bm_pages * PG) != 0)
			ck_pr_inc_64(&bm_errors);
	smp_run(activate_worker, NULL);
}

/* Sorts v[0..n) in place (n <= 16). */
static void
sort_u64(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned k = i; k > 0 && v[k - 1] > v[k]; k--) {
			uint64_t t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
}

static void
fault_zero_report(const char *impl, struct fz_acc *acc, unsigned rounds)
{
	unsigned n = hal_ncpus();
	uint64_t per_round = acc->ops / rounds;
	char ctr[360];

	/* The median round: a vCPU the host descheduled inflates one. */
	sort_u64(acc->ns, rounds);
	sort_u64(acc->solo_rate, rounds);
	ksnprintf(ctr, sizeof(ctr), "\"rounds\":%u,\"ns_min\":%llu,"
	    "\"ns_max\":%llu,\"zero_fill\":%llu,\"other\":%llu,"
	    "\"faults_per_hart\":%llu,\"shootdowns\":%llu,"
	    "\"local_flushes\":%llu,\"ipis\":%llu,\"page_refills\":%llu,"
	    "\"errors\":%llu", rounds, (unsigned long long)acc->ns[0],
	    (unsigned long long)acc->ns[rounds - 1],
	    (unsigned long long)acc->ops, (unsigned long long)acc->other,
	    (unsigned long long)(per_round / n),
	    (unsigned long long)acc->shoot, (unsigned long long)acc->flush,
	    (unsigned long long)acc->ipis, (unsigned long long)acc->refills,
	    (unsigned long long)ck_pr_load_64(&bm_errors));
	bench_report_solo("fault.zero", impl, n, per_round,
	    acc->ns[rounds / 2], n > 1 ? acc->solo_rate[rounds / 2] : 0, ctr);
}

/*
 * The two impls take turns, round by round, so both see the same host:
 * the ratio is the figure.  Each reports its median round (ops: the
 * faults of one round; the spread is in ns_min and ns_max).
 */
KBENCH(fault_zero)
{
	static struct fz_acc acc[2];
	unsigned rounds = (unsigned)bench_arg_u64("fault_rounds", 5);
	vm_map_t m[2];

	vm_map_init();
	if (rounds < 1)
		rounds = 1;
	if (rounds > 16)
		rounds = 16;
	/* Long phases (a whole region, 1024 pages, per hart). */
	bm_pages = bench_arg_u64("fault_pages", 1024);
	if (bm_pages * PG > REGION_STRIDE)
		bm_pages = REGION_STRIDE / PG;
	bm_errors = 0;
	memset(acc, 0, sizeof(acc));
	m[0] = vm_map_create(0);
	m[1] = vm_map_create(VM_MAPF_MAPLOCK);
	if (m[0] == NULL || m[1] == NULL) {
		kprintf("# fault.zero: no map\n");
		return;
	}
	for (unsigned r = 0; r <= rounds; r++)
		for (int k = 0; k < 2; k++) {
			if (hal_ncpus() > 1) {
				bench_solo(true);
				fault_zero_round(m[k], &acc[k], r, true);
				bench_solo(false);
			}
			fault_zero_round(m[k], &acc[k], r, false);
		}
	vm_map_destroy(m[0]);
	vm_map_destroy(m[1]);
	fault_zero_report("lockless", &acc[0], rounds);
	fault_zero_report("maplock", &acc[1], rounds);
}

/* ------------------------------------------------------------------ */
/* mmap.cycle                                                          */

static uint64_t bm_cycles;

static void
cycle_worker(void *arg)
{
	vm_map_t m = bm_maps[hal_cpu_id()];

	(void)arg;
	for (uint64_t i = 0; i < bm_cycles; i++) {
		long a = vm_mmap(m, 0, 4 * PG, VM_PROT_READ | VM_PROT_WRITE,
		    VM_MAP_PRIVATE | VM_MAP_ANON, NULL, 0);
		if (a < 0 || vm_munmap(m, (vaddr_t)a, 4 * PG) != 0)
			ck_pr_inc_64(&bm_errors);
	}
}

KBENCH(mmap_cycle)
{
	static const unsigned flags[] = { 0, VM_MAPF_MAPLOCK };
	static const char *const impl[] = { "lockless", "maplock" };
	unsigned n = hal_ncpus();
	char ctr[64];

	vm_map_init();
	bm_cycles = bench_arg_u64("mmap_cycles",
	    __builtin_strcmp(RVMM_TARGET, "host") == 0 ? 200000 : 5000);
	for (int k = 0; k < 2; k++) {
		bm_errors = 0;
		for (unsigned c = 0; c < n; c++) {
			bm_maps[c] = vm_map_create(flags[k]);
			/* A few entries below, as in a real process. */
			for (int e = 0; e < 8; e++)
				(void)vm_mmap(bm_maps[c], 0, (1 + e) * PG,
				    e & 1 ? VM_PROT_READ : VM_PROT_ALL & ~VM_PROT_WRITE,
				    VM_MAP_PRIVATE | VM_MAP_ANON, NULL, 0);
		}
		uint64_t solo = bench_solo_rate(cycle_worker, NULL, bm_cycles);
		uint64_t ns = bench_phase(cycle_worker, NULL);
		for (unsigned c = 0; c < n; c++)
			vm_map_destroy(bm_maps[c]);
		ksnprintf(ctr, sizeof(ctr), "\"errors\":%llu",
		    (unsigned long long)ck_pr_load_64(&bm_errors));
		bench_report_solo("mmap.cycle", impl[k], n, bm_cycles * n, ns,
		    solo, ctr);
	}
}

/* ------------------------------------------------------------------ */
/* fork.1000                                                           */

static uint64_t bm_forks;

static void
fork_prepare(void *arg)
{
	unsigned cpu = hal_cpu_id();
	vm_map_t m = bm_maps[cpu];

	(void)arg;
	vm_map_activate(m);
	for (uint64_t i = 0; i < 1000; i++)
		if (hal_probe_write64(pmap_user_min() + i * PG, i) != 0)
			ck_pr_inc_64(&bm_errors);
	vm_map_activate(NULL);
}

static void
fork_worker(void *arg)
{
	unsigned cpu = hal_cpu_id();
	uint64_t copy = 0;

	(void)arg;
	for (uint64_t i = 0; i < bm_forks; i++) {
		vm_map_t c = vm_map_create(0);
		if (c == NULL) {
			ck_pr_inc_64(&bm_errors);
			continue;
		}
		uint64_t t0 = hal_time_ns();
		if (vm_map_copy(c, bm_maps[cpu]) != 0)
			ck_pr_inc_64(&bm_errors);
		copy += hal_time_ns() - t0;
		vm_map_destroy(c);
	}
	bm_copy_ns[cpu] = copy;
}

KBENCH(fork_1000)
{
	unsigned n = hal_ncpus();
	uint64_t copy = 0;
	char ctr[96];

	vm_map_init();
	bm_errors = 0;
	bm_forks = bench_arg_u64("forks",
	    __builtin_strcmp(RVMM_TARGET, "host") == 0 ? 2000 : 40);
	for (unsigned c = 0; c < n; c++) {
		bm_maps[c] = vm_map_create(0);
		if (bm_maps[c] == NULL || vm_mmap(bm_maps[c], pmap_user_min(),
		    1000 * PG, VM_PROT_READ | VM_PROT_WRITE, VM_MAP_PRIVATE |
		    VM_MAP_ANON | VM_MAP_FIXED, NULL, 0) < 0) {
			kprintf("# fork.1000: no memory\n");
			return;
		}
	}
	smp_run(fork_prepare, NULL);
	uint64_t solo = bench_solo_rate(fork_worker, NULL, bm_forks);
	uint64_t ns = bench_phase(fork_worker, NULL);
	for (unsigned c = 0; c < n; c++) {
		copy += bm_copy_ns[c];
		vm_map_destroy(bm_maps[c]);
	}
	ksnprintf(ctr, sizeof(ctr), "\"copy_ns\":%llu,\"pages\":1000,"
	    "\"errors\":%llu", (unsigned long long)(copy / (bm_forks * n)),
	    (unsigned long long)ck_pr_load_64(&bm_errors));
	bench_report_solo("fork.1000", "lockless", n, bm_forks * n, ns, solo,
	    ctr);
}
