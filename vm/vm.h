/*
 * vm.h: bring-up of the rvmm VM layers, bottom up.
 *
 * Boot order for an embedding kernel:
 *
 *	boot hart				other harts
 *	---------				-----------
 *	(its own start-up: stack, trap vector,	(started by the kernel when it
 *	 console, memory map: the hooks of	 likes: before vm_boot, spinning
 *	 hal/hooks.h must answer)		 or doing their own init, or
 *	vm_set_bootargs(opts)	(optional)	 after it)
 *	vm_boot()
 *	  ... tell the others rvmm is up ...  ->	wait for that, then
 *						vm_boot_cpu()
 *						(from here on: take rvmm's
 *						 IPIs, call smp_ipi_entry)
 *
 * A hart uses nothing of rvmm (no allocation, no map, no pmap call) before
 * it has called vm_boot() or vm_boot_cpu(); from then on it is "online"
 * (lib/smp.h) and must answer rvmm's IPIs promptly: its interrupt dispatch
 * calls smp_ipi_entry(), and it does not keep interrupts off for long
 * stretches (cross-calls and TLB shootdowns wait for it).  hal_ncpus() is
 * final from vm_boot() on (per-cpu arrays are sized by it), even for harts
 * the kernel starts later.
 */
#ifndef RVMM_VM_VM_H
#define RVMM_VM_VM_H

#include <stdbool.h>

/*
 * vm_boot: initialises every layer in dependency order (pages, zones and
 * kmalloc, the kernel pmap with paging on for the calling hart, maps and
 * objects) and puts the calling hart online.
 * pre: once, on one hart (the "boot hart"; any cpu id), interrupts on or
 *      off, no other hart using rvmm.  Needs the hooks of hal/hooks.h only.
 */
void vm_boot(void);

/*
 * vm_boot_cpu: puts the calling hart online and turns paging on for it
 * (satp = the kernel pmap, TLB flushed).  Returns with interrupts as they
 * were.
 * pre: every hart other than the boot hart, once, before it uses rvmm, and
 *      after vm_boot() has returned on the boot hart (the kernel orders the
 *      two, with a flag of its own or vm_booted()); panics otherwise.
 */
void vm_boot_cpu(void);

/*
 * vm_secondary_idle: the whole life of a hart that only serves rvmm's
 * smp_run() jobs (rvmm's test and benchmark kernels): waits until vm_boot()
 * has returned, calls vm_boot_cpu(), then idles in smp_idle_loop().
 * pre: a hart other than the boot hart, interrupts on.  Never returns.
 */
_Noreturn void vm_secondary_idle(void);

/* vm_booted: true once vm_boot() has returned.  pre: any context. */
bool vm_booted(void);

/*
 * vm_set_bootargs: rvmm's options as a kernel command line (words
 * key=value separated by spaces; unknown keys are ignored): page_poison=0
 * (no frame poisoning: big memories boot faster), asid_bits=N,
 * shootdown=ipi|rfence|flushall (hal/pmap.h).  Optional: without it every
 * option has its default.  The string is not copied: it stays valid and
 * unchanged from then on.  pre: before vm_boot().
 */
void vm_set_bootargs(const char *args);

/* vm_bootargs: the string given to vm_set_bootargs(), or "". */
const char *vm_bootargs(void);

/*
 * vm_stats_dump: prints one compact summary per layer (pages, zones,
 * kmalloc, maps, faults, pmap, cross-calls), a few lines each, from the
 * layers' statistics (vm_dump.c).  The test and benchmark images call it
 * at the end of a run when vm_stats_requested(bootargs), i.e. with the
 * bootarg stats=1.
 * => thread context, after vm_boot().
 */
void vm_stats_dump(void);
bool vm_stats_requested(const char *bootargs);

#endif /* RVMM_VM_VM_H */
