/*
 * bench.c: benchmark runner and result lines (see bench.h).
 */
#include <string.h>

#include <ck_pr.h>

#include "bench/bench.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "vm/vm.h"

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

uint64_t
bench_ops_per_s(uint64_t ops, uint64_t ns)
{
	return ns ? bench_muldiv(ops, 1000000000ull, ns) : 0;
}

void
bench_report_solo(const char *bench, const char *impl, unsigned harts,
    uint64_t ops, uint64_t ns, uint64_t solo_ops_per_s,
    const char *counters)
{
	char solo[48] = "";

	if (solo_ops_per_s != 0)
		ksnprintf(solo, sizeof(solo), ",\"solo_ops_per_s\":%llu",
		    (unsigned long long)solo_ops_per_s);
	kprintf("{\"bench\":\"%s\",\"impl\":\"%s\",\"target\":\"%s\","
	    "\"harts\":%u,\"ops\":%llu,\"ns\":%llu,\"ops_per_s\":%llu%s%s%s}\n",
	    bench, impl, RVMM_TARGET, harts, (unsigned long long)ops,
	    (unsigned long long)ns,
	    (unsigned long long)bench_ops_per_s(ops, ns),
	    counters ? "," : "", counters ? counters : "", solo);
}

void
bench_report(const char *bench, const char *impl, unsigned harts,
    uint64_t ops, uint64_t ns, const char *counters)
{
	bench_report_solo(bench, impl, harts, ops, ns, 0, counters);
}

static struct smp_barrier phase_bar = SMP_BARRIER_INIT;
static uint64_t phase_t0, phase_t1;
static bool phase_tlb_grow;	/* (C) after bench_main starts */
static bool phase_solo;		/* (C) between phases, see bench_solo */
static unsigned phase_solo_done;	/* (A) cpu 0 finished a solo phase */

/*
 * QEMU's software TLB.  QEMU translates guest addresses through a
 * direct-mapped table of 4 KiB entries per hart, whatever the size of
 * the guest's leaf (rvmm's direct map uses 1 GiB and 2 MiB leaves, so a
 * hardware TLB holds all of it in a few entries).  The table grows only
 * at a flush that finds more than 70% of it used, and the benchmark
 * kernel flushes only at boot, so each hart keeps the size boot happened
 * to leave it with, 64 to 1024 entries, and two hot pages whose frame
 * numbers agree in their low bits evict each other on every use.
 * Which pages collide depends on where the page allocator put them:
 * packing the zone descriptors made the 1-hart kmalloc.mixed figure
 * twice as slow by moving its hot pages onto colliding slots, and the
 * second hart, whose table is smaller, ran 25-40% behind the first.
 * So before every timed phase each hart reads one word from each of
 * PHASE_TLB_PAGES consecutive RAM pages (reserved ranges skipped: the
 * firmware's is not readable) and flushes, PHASE_TLB_ROUNDS times: each
 * of those flushes finds the table full and doubles it, so it ends with
 * at least PHASE_TLB_PAGES entries, the same for every hart and
 * implementation, and the phase measures rvmm rather than the
 * collisions.  A phase that flushes by itself (shootdowns, address
 * space switches) lets QEMU resize the table again as it would anyway.
 * `tlbgrow=0` turns this off; the host program never does it.
 */
#define PHASE_TLB_PAGES 8192
#define PHASE_TLB_ROUNDS 8

static bool
phase_page_reserved(paddr_t pa, const struct hal_mem_range *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (pa - r[i].base < r[i].size)
			return true;
	return false;
}

static void
phase_grow_tlb(void)
{
	const struct hal_mem_range *ram, *resv;
	unsigned nram = hal_mem_regions(&ram), nresv = hal_mem_reserved(&resv);

	for (unsigned round = 0; round < PHASE_TLB_ROUNDS; round++) {
		unsigned touched = 0;
		for (unsigned i = 0; i < nram; i++) {
			for (paddr_t pa = ram[i].base; pa < ram[i].base +
			    ram[i].size && touched < PHASE_TLB_PAGES;
			    pa += HAL_PAGE_SIZE) {
				if (phase_page_reserved(pa, resv, nresv))
					continue;
				(void)*(volatile const uint64_t *)
				    hal_phys_to_virt(pa);
				touched++;
			}
		}
		hal_mmu_flush_local_all();
	}
}

struct phase {
	smp_fn_t worker;
	void *arg;
};

/*
 * The cpus that sit a solo phase out idle until cpu 0 is done rather than
 * spin at the closing barrier: under QEMU a spinning vCPU is a host
 * thread that takes its share of the host's cores, and with 4 harts on 2
 * cores three spinners left cpu 0 about half a core, which halved the
 * solo rate and doubled "x solo".  cpu 0 stops its clock before it wakes
 * them, so the IPI's latency is not in the figure.
 */
static void
phase_sit_out(void)
{
	for (;;) {
		hal_intr_t s = hal_intr_disable();
		if (ck_pr_load_uint(&phase_solo_done)) {
			hal_intr_restore(s);
			return;
		}
		hal_cpu_idle();
		hal_intr_restore(s);
	}
}

static void
phase_wake_others(void)
{
	hal_cpuset_t s;

	ck_pr_store_uint(&phase_solo_done, 1);
	hal_cpuset_clear(&s);
	for (unsigned i = 1; i < hal_ncpus(); i++)
		hal_cpuset_add(&s, i);
	hal_ipi_send(&s);
}

static void
phase_fn(void *arg)
{
	struct phase *ph = arg;
	unsigned n = hal_ncpus();

	if (phase_tlb_grow)
		phase_grow_tlb();
	smp_barrier_wait(&phase_bar, n);
	if (hal_cpu_id() == 0)
		phase_t0 = hal_time_ns();
	smp_barrier_wait(&phase_bar, n);
	if (bench_sitting_out()) {
		phase_sit_out();
	} else {
		ph->worker(ph->arg);
		if (phase_solo) {
			phase_t1 = hal_time_ns();
			phase_wake_others();
		}
	}
	smp_barrier_wait(&phase_bar, n);
	if (hal_cpu_id() == 0 && !phase_solo)
		phase_t1 = hal_time_ns();
}

uint64_t
bench_phase(smp_fn_t worker, void *arg)
{
	struct phase ph = { worker, arg };

	ck_pr_store_uint(&phase_solo_done, 0);
	smp_run(phase_fn, &ph);
	return phase_t1 - phase_t0;
}

/*
 * kbench_selected: the selection list matches the benchmark's name as
 * registered (page_pair) or as reported (page.pair: '_' read as '.').
 */
static bool
kbench_selected(const char *list, const struct kbench *b)
{
	char dotted[64];
	size_t i;

	for (i = 0; b->name[i] != '\0' && i < sizeof(dotted) - 1; i++)
		dotted[i] = b->name[i] == '_' ? '.' : b->name[i];
	dotted[i] = '\0';
	return bootarg_list_matches(list, b->name) ||
	    bootarg_list_matches(list, dotted);
}

/*
 * bench_names_known: every word of bench= selects at least one benchmark
 * (a typo must not run nothing and succeed); prints the ones that do not.
 */
static bool
bench_names_known(const char *sel)
{
	const char *p = sel;
	char word[64];
	bool all = true;

	while (bootarg_list_next(&p, word, sizeof(word), NULL)) {
		bool found = false;
		for (const struct kbench *b = __start_kbench_cases;
		    b < __stop_kbench_cases && !found; b++)
			found = word[0] == '\0' || kbench_selected(word, b);
		if (!found) {
			all = false;
			kprintf("Bail out! bench: no benchmark matches \"%s\"; "
			    "there are:", word);
			for (const struct kbench *b = __start_kbench_cases;
			    b < __stop_kbench_cases; b++)
				kprintf(" %s", b->name);
			kprintf("\n");
		}
	}
	return all;
}

/*
 * Solo phases.  The 2-hart figure against the 1-hart one compares two
 * boots, and on a 2-core host shared with other work the speed QEMU gets
 * drifts by as much as a third over minutes (fault.zero gave 1.77x at 2
 * harts over 1 in one run and 1.14x in the next).  So with more than one
 * hart a scaling benchmark also times cpu 0 working alone in the same
 * boot, right before the phase with every hart, with the same worker and
 * the same measurement, and reports that rate as solo_ops_per_s; ci/bench
 * shows the ratio as "x solo".  The other cpus take part in the barriers
 * (and in the TLB growing above) but not in the work, and wait for cpu 0
 * idle (phase_sit_out).
 */
void
bench_solo(bool on)
{
	phase_solo = on;
}

bool
bench_sitting_out(void)
{
	return phase_solo && hal_cpu_id() != 0;
}

uint64_t
bench_solo_rate(smp_fn_t worker, void *arg, uint64_t ops_per_cpu)
{
	uint64_t ns;

	if (hal_ncpus() < 2)
		return 0;
	bench_solo(true);
	ns = bench_phase(worker, arg);
	bench_solo(false);
	return bench_ops_per_s(ops_per_cpu, ns);
}

int
bench_main(const char *bootargs)
{
	char sel[256];
	bool have = bootarg_get(bootargs, "bench", sel, sizeof(sel));

	bench_args = bootargs;
	phase_tlb_grow = HAL_MMU && strcmp(RVMM_TARGET, "qemu") == 0 &&
	    bench_arg_u64("tlbgrow", 1) != 0;
	kprintf("# rvmm bench: target %s, %u harts, args \"%s\", tlbgrow %d\n",
	    RVMM_TARGET, hal_ncpus(), bootargs, phase_tlb_grow ? 1 : 0);
	if (have && !bench_names_known(sel))
		return 1;
	for (const struct kbench *b = __start_kbench_cases;
	    b < __stop_kbench_cases; b++) {
		if (have && !kbench_selected(sel, b))
			continue;
		kprintf("# bench %s\n", b->name);
		b->fn();
	}
	/* Bootarg stats=1: one summary per layer (vm_dump.c). */
	if (vm_stats_requested(bootargs))
		vm_stats_dump();
	kprintf("# rvmm bench: done\n");
	return 0;
}
