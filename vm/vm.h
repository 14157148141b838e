/*
 * vm.h: bring-up of the rvmm VM layers, bottom up.
 */
#ifndef RVMM_VM_VM_H
#define RVMM_VM_VM_H

#include <stdbool.h>

/*
 * vm_boot: initialises every layer in dependency order.
 * pre: boot cpu, after smp_init(), once.
 */
void vm_boot(void);

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
