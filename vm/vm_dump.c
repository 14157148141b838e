/*
 * vm_dump.c: one compact summary per layer, bottom up (vm_stats_dump in
 * vm.h), for the end of a test or benchmark run (bootarg stats=1).  Each
 * layer prints a few lines from its own statistics: pages (page_dump),
 * zones (zone_dump_summary) and kmalloc's large allocations, maps and
 * faults (vm_stats, vm_fault_stats), the pmap (pmap_stats) and the
 * cross-call layer (smp_stats_cpu).  The counters are sums over cpus read
 * without stopping anyone: a snapshot, exact only on a quiet system.
 */
#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "lib/smp.h"
#include "vm/fault.h"
#include "vm/kmalloc.h"
#include "vm/map.h"
#include "vm/page.h"
#include "vm/vm.h"
#include "vm/zone.h"

#define ULL(x) ((unsigned long long)(x))

void
vm_stats_dump(void)
{
	struct kmalloc_stats ks;
	struct vm_stats vs;
	struct vm_fault_stats fs;
	struct pmap_stats ps;
	struct smp_stats ss, sum = { 0, 0, 0 };

	kprintf("stats: %u cpus\n", hal_ncpus());
	page_dump();
	zone_dump_summary();
	kmalloc_stats(&ks);
	kprintf("kmalloc: large allocs %llu frees %llu, %llu frames held, "
	    "failures %llu\n", ULL(ks.large_allocs), ULL(ks.large_frees),
	    ULL(ks.large_pages), ULL(ks.failures));
	vm_stats(&vs);
	kprintf("map: %zu maps, %zu entries, %zu anons, %zu objects, %zu "
	    "table pages\n", vs.maps, vs.entries, vs.anons, vs.objects,
	    vs.slot_nodes);
	vm_fault_stats(&fs);
	kprintf("fault: %llu faults (%llu resolved): zero fill %llu, cow "
	    "copy %llu reuse %llu, pagein %llu, object %llu anon %llu phys "
	    "%llu, spurious %llu; efault %llu eacces %llu enomem %llu\n",
	    ULL(fs.faults), ULL(fs.resolved), ULL(fs.zero_fill),
	    ULL(fs.cow_copy), ULL(fs.cow_reuse), ULL(fs.pagein),
	    ULL(fs.obj_hit), ULL(fs.anon_hit), ULL(fs.phys), ULL(fs.spurious),
	    ULL(fs.efault), ULL(fs.eacces), ULL(fs.enomem));
	pmap_stats(&ps);
	kprintf("pmap: %zu pmaps, %zu table pages, asid bits %u of %u "
	    "(generation %llu, rollovers %llu, %llu assigned), shootdown %s\n",
	    ps.pmaps, ps.table_pages, ps.asid_bits, ps.asid_bits_hw,
	    ULL(ps.asid_generation), ULL(ps.sum.rollovers),
	    ULL(ps.sum.asid_allocs),
	    pmap_shootdown_name(pmap_get_shootdown()));
	kprintf("pmap: local flushes %llu, shootdowns %llu (%llu remote "
	    "requests, %llu ipis, %llu rfence calls), switches %llu (%llu "
	    "flushed, %llu lazy flushes)\n", ULL(ps.sum.local_flushes),
	    ULL(ps.sum.shootdowns), ULL(ps.sum.remote_requests),
	    ULL(ps.sum.ipis_sent), ULL(ps.sum.rfence_calls),
	    ULL(ps.sum.switches), ULL(ps.sum.switch_flushes),
	    ULL(ps.sum.lazy_flushes));
	for (unsigned c = 0; c < hal_ncpus(); c++) {
		smp_stats_cpu(c, &ss);
		sum.calls_sent += ss.calls_sent;
		sum.calls_served += ss.calls_served;
		sum.ipis_sent += ss.ipis_sent;
	}
	kprintf("smp: cross-calls sent %llu served %llu, ipis %llu\n",
	    ULL(sum.calls_sent), ULL(sum.calls_served), ULL(sum.ipis_sent));
}

bool
vm_stats_requested(const char *bootargs)
{
	return bootarg_u64(bootargs, "stats", 0) != 0;
}
