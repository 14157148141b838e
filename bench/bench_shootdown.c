/*
 * TLB shootdown and address-space switch benchmarks (../shared/BENCH.md):
 *
 *	shootdown.remove1	hart 0 removes 1, 16 or 512 pages of a user
 *	shootdown.remove16	pmap (munmap-like: one pmap_remove), then enters
 *	shootdown.remove512	them again (invalid -> valid: no flush); the pmap
 *				is active on 1, 2 or 4 harts (active_harts), the
 *				others idle with interrupts on.  One operation is
 *				one remove; ns counts the removes only.
 *	asid.switch		every hart switches between 4 pmaps and reads a
 *				page in each: impl "asid" (ASIDs, as booted) and
 *				"noasid" (flush on every switch).  With more
 *				than one hart, solo_ops_per_s: cpu 0 alone in
 *				the same boot ("Solo phases" in bench.c).
 *
 * Shootdown impls: "ipi" (cross-call to each target), "rfence" (SBI
 * remote_sfence_vma_asid) and the baseline "flushall" (every hart flushes
 * everything on every remove).  Counters, per operation with three
 * decimals (integer arithmetic): local_flushes (sfence.vma run by any
 * hart for it), remote_requests (target harts asked), ipis_per_op (IPIs
 * that reached a target: ours for ipi/flushall, the firmware's, one per
 * target, for rfence), sbi_calls_per_op.  Under QEMU every sfence.vma and
 * satp write flushes the whole software TLB, so the counters are the
 * figure; the time is the cost of the protocol.
 */
#include <ck_pr.h>

#include "bench/bench.h"
#include "hal/pmap.h"
#include "lib/kprintf.h"
#include "vm/page.h"

#define SD_BASE (pmap_user_min() + PMAP_SIZE_1G)

struct sd_cfg {
	pmap_t p;
	unsigned npages;
	unsigned active;
	uint64_t ops;
	uint64_t ns;			/* removes only, hart 0 */
	unsigned done;			/* (A) */
};

static struct sd_cfg sd;
static struct smp_barrier sd_bar = SMP_BARRIER_INIT;

/* "12.345" from a ratio, integer math only. */
static void
fix3(char *buf, size_t size, uint64_t num, uint64_t den)
{
	uint64_t x = den ? bench_muldiv(num, 1000, den) : 0;

	ksnprintf(buf, size, "%llu.%03llu", (unsigned long long)(x / 1000),
	    (unsigned long long)(x % 1000));
}

static void
wake_others(void)
{
	hal_cpuset_t s;

	hal_cpuset_clear(&s);
	for (unsigned i = 1; i < hal_ncpus(); i++)
		hal_cpuset_add(&s, i);
	if (hal_ncpus() > 1)
		hal_ipi_send(&s);
}

static void
sd_worker(void *arg)
{
	struct sd_cfg *c = arg;
	unsigned self = hal_cpu_id();

	if (self < c->active)
		pmap_activate(c->p);
	smp_barrier_wait(&sd_bar, hal_ncpus());
	if (self == 0) {
		for (uint64_t i = 0; i < c->ops; i++) {
			uint64_t t0 = hal_time_ns();
			(void)pmap_remove(c->p, SD_BASE, SD_BASE +
			    (vaddr_t)c->npages * HAL_PAGE_SIZE);
			c->ns += hal_time_ns() - t0;
			for (unsigned k = 0; k < c->npages; k++)
				(void)pmap_enter(c->p, SD_BASE +
				    (vaddr_t)k * HAL_PAGE_SIZE, 0x80000000ull +
				    (paddr_t)k * HAL_PAGE_SIZE,
				    PMAP_PROT_READ | PMAP_PROT_WRITE, 0);
		}
		ck_pr_store_uint(&c->done, 1);
		wake_others();
	} else {
		/* Idle like a hart whose process waits: interrupts on. */
		for (;;) {
			hal_intr_t s = hal_intr_disable();
			if (ck_pr_load_uint(&c->done)) {
				hal_intr_restore(s);
				break;
			}
			hal_cpu_idle();
			hal_intr_restore(s);
		}
	}
	if (self < c->active)
		pmap_activate(pmap_kernel());
}

static void
sum_delta(const struct pmap_stats *a, const struct pmap_stats *b,
    struct pmap_cpu_stats *d)
{
	d->local_flushes = b->sum.local_flushes - a->sum.local_flushes;
	d->remote_requests = b->sum.remote_requests - a->sum.remote_requests;
	d->ipis_sent = b->sum.ipis_sent - a->sum.ipis_sent;
	d->rfence_calls = b->sum.rfence_calls - a->sum.rfence_calls;
	d->switches = b->sum.switches - a->sum.switches;
	d->switch_flushes = b->sum.switch_flushes - a->sum.switch_flushes;
	d->lazy_flushes = b->sum.lazy_flushes - a->sum.lazy_flushes;
	d->rollovers = b->sum.rollovers - a->sum.rollovers;
}

static void
shootdown_bench(const char *name, unsigned npages)
{
	static const enum pmap_shootdown hows[] = { PMAP_SHOOTDOWN_IPI,
	    PMAP_SHOOTDOWN_RFENCE, PMAP_SHOOTDOWN_FLUSHALL };
	static const unsigned actives[] = { 1, 2, 4 };
	enum pmap_shootdown saved = pmap_get_shootdown();
	unsigned n = hal_ncpus();
	uint64_t ops = bench_arg_u64("shootdown_ops", npages > 64 ? 100 : 400);

	for (unsigned ai = 0; ai < 3; ai++) {
		unsigned act = actives[ai];
		if (act > n)
			break;
		for (unsigned h = 0; h < 3; h++) {
			struct pmap_stats a, b;
			struct pmap_cpu_stats d;
			char ctr[320], lf[24], rr[24], ip[24], sc[24];

			pmap_set_shootdown(hows[h]);
			sd = (struct sd_cfg){ 0 };
			sd.p = pmap_create();
			if (sd.p == NULL) {
				kprintf("# %s: no memory\n", name);
				return;
			}
			sd.npages = npages;
			sd.active = act;
			/* An anchor page keeps the last-level table alive. */
			(void)pmap_enter(sd.p, SD_BASE + PMAP_SIZE_2M - HAL_PAGE_SIZE,
			    0x80000000ull, PMAP_PROT_READ, 0);
			for (unsigned k = 0; k < npages; k++)
				(void)pmap_enter(sd.p, SD_BASE +
				    (vaddr_t)k * HAL_PAGE_SIZE, 0x80000000ull +
				    (paddr_t)k * HAL_PAGE_SIZE,
				    PMAP_PROT_READ | PMAP_PROT_WRITE, 0);
			sd.ops = ops / 10 + 1;		/* warm-up */
			smp_run(sd_worker, &sd);
			sd.ops = ops;
			sd.ns = 0;
			sd.done = 0;
			pmap_stats(&a);
			smp_run(sd_worker, &sd);
			pmap_stats(&b);
			sum_delta(&a, &b, &d);
			uint64_t ipis = hows[h] == PMAP_SHOOTDOWN_RFENCE ?
			    d.remote_requests : d.ipis_sent;
			fix3(lf, sizeof(lf), d.local_flushes, ops);
			fix3(rr, sizeof(rr), d.remote_requests, ops);
			fix3(ip, sizeof(ip), ipis, ops);
			fix3(sc, sizeof(sc), d.rfence_calls, ops);
			ksnprintf(ctr, sizeof(ctr),
			    "\"active_harts\":%u,\"pages\":%u,\"ipis_per_op\":%s,"
			    "\"local_flushes\":%s,\"remote_requests\":%s,"
			    "\"sbi_calls_per_op\":%s,\"ipis\":%llu", act, npages,
			    ip, lf, rr, sc, (unsigned long long)ipis);
			bench_report(name, pmap_shootdown_name(hows[h]), n, ops,
			    sd.ns, ctr);
			pmap_destroy(sd.p);
		}
	}
	pmap_set_shootdown(saved);
}

KBENCH(shootdown_remove1)
{
	shootdown_bench("shootdown.remove1", 1);
}

KBENCH(shootdown_remove16)
{
	shootdown_bench("shootdown.remove16", 16);
}

KBENCH(shootdown_remove512)
{
	shootdown_bench("shootdown.remove512", 512);
}

/* ---- asid.switch ---- */

#define SW_PMAPS 4

static pmap_t sw_p[SW_PMAPS];
static uint64_t sw_ops;
static unsigned sw_bad;		/* (A) */

static void
sw_worker(void *arg)
{
	(void)arg;
	for (uint64_t i = 0; i < sw_ops; i++) {
		uint64_t v = 0;
		unsigned k = (unsigned)(i % SW_PMAPS);
		pmap_activate(sw_p[k]);
		if (hal_probe_read64(SD_BASE, &v) != 0 || v != k)
			ck_pr_inc_uint(&sw_bad);
	}
	pmap_activate(pmap_kernel());
}

KBENCH(asid_switch)
{
	struct pmap_stats st, a, b;
	struct vm_page *pg[SW_PMAPS];
	unsigned n = hal_ncpus();

	pmap_stats(&st);
	sw_ops = bench_arg_u64("switch_ops", 4000);
	for (unsigned k = 0; k < SW_PMAPS; k++) {
		sw_p[k] = pmap_create();
		pg[k] = page_alloc(0, PAGE_ZERO);
		if (sw_p[k] == NULL || pg[k] == NULL) {
			kprintf("# asid.switch: no memory\n");
			return;
		}
		*(uint64_t *)page_to_kva(pg[k]) = k;
		(void)pmap_enter(sw_p[k], SD_BASE, page_to_pa(pg[k]),
		    PMAP_PROT_READ | PMAP_PROT_WRITE, 0);
	}
	for (int mode = 0; mode < 2; mode++) {
		struct pmap_cpu_stats d;
		char ctr[256], lf[24], sf[24];

		pmap_debug_set_asid_bits(mode == 0 ? st.asid_bits : 0);
		sw_bad = 0;
		bench_phase(sw_worker, NULL);		/* warm-up */
		uint64_t solo = bench_solo_rate(sw_worker, NULL, sw_ops);
		pmap_stats(&a);
		uint64_t ns = bench_phase(sw_worker, NULL);
		pmap_stats(&b);
		sum_delta(&a, &b, &d);
		uint64_t ops = sw_ops * n;
		fix3(lf, sizeof(lf), d.local_flushes, ops);
		fix3(sf, sizeof(sf), d.switch_flushes, ops);
		ksnprintf(ctr, sizeof(ctr),
		    "\"asid_bits\":%u,\"pmaps\":%u,\"local_flushes\":%s,"
		    "\"switch_flushes\":%s,\"rollovers\":%llu,\"errors\":%u",
		    b.asid_bits, SW_PMAPS, lf, sf,
		    (unsigned long long)d.rollovers, ck_pr_load_uint(&sw_bad));
		bench_report_solo("asid.switch", mode == 0 ? "asid" : "noasid", n,
		    ops, ns, solo, ctr);
	}
	pmap_debug_set_asid_bits(st.asid_bits);
	for (unsigned k = 0; k < SW_PMAPS; k++) {
		pmap_destroy(sw_p[k]);
		page_free(pg[k], 0);
	}
}
