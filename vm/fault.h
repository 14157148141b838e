/*
 * fault.h: the page-fault path of rvmm.
 *
 * vm_fault() resolves one fault in one map: it finds the entry without
 * the map's writer lock (map.c section 4: the lock-light lookup), checks
 * the access against the entry's protection, finds or makes the page
 * (zero-fill, copy-on-write copy or reuse, an object's page, a pager's
 * page-in, a physical page) and installs the translation with
 * pmap_enter().  vm_fault_trap() is the entry the kernel's trap handler
 * calls for every page fault.
 *
 * Contexts: thread context or the trap handler of a synchronous page
 * fault, interrupts on or off, on every hart at once.  Not from an
 * interrupt handler.  It spins while a writer holds the map (serving
 * cross-calls if interrupts are off).  It sleeps only in a pager: when
 * the page must come from a pager object or is busy being paged in, it
 * drops the map's reader side and the page's slot, calls the pager's get
 * (which may sleep) or waits for the other fault's get (through the
 * kernel's sleep hooks, vm_set_sleep_ops in vm/object.h; without them it
 * spins), and starts over (fault.c section 5).  So a kernel whose pagers
 * sleep calls vm_fault where the faulting thread may sleep, and keeps map
 * alive meanwhile (a thread's own map is); the thread may come back on
 * another hart.  Without pager objects that sleep, vm_fault never sleeps.
 */
#ifndef RVMM_VM_FAULT_H
#define RVMM_VM_FAULT_H

#include <stdint.h>

#include "hal/hal.h"
#include "vm/map.h"

/*
 * vm_fault: resolves a fault at va for `access` (HAL_FAULT_READ, _WRITE
 * or _EXEC, plus HAL_FAULT_USER when it came from user mode; none of R/W/X
 * counts as a read).
 * => returns 0 (the translation is installed: retry the access),
 *    -EFAULT (nothing mapped at va, or the object's pager failed, or the
 *    range was unmapped while the fault waited for the pager: the page
 *    it made stays in the object, nothing is mapped),
 *    -EACCES (the entry's protection forbids the access; also an
 *    instruction fetch by the kernel from a user map, or a user access to
 *    a map without user pages), -ENOMEM (no frame or bookkeeping memory:
 *    nothing visible changed, the caller may retry after reclaim; empty
 *    anon-table nodes on the page's path, at most VM_SLOT_LEVELS frames,
 *    may stay until the range is unmapped: fault.c section 2).
 *    Without an MMU (HAL_MMU == 0) memory is there when vm_mmap returns
 *    and there is nothing to resolve: always -EFAULT.
 */
int vm_fault(vm_map_t map, vaddr_t va, unsigned access);

/*
 * vm_fault_trap: the page-fault entry.  The kernel's trap handler calls it
 * for every load, store or instruction page fault, from user or kernel
 * mode: va is stval, access the HAL_FAULT_* bits (HAL_FAULT_USER when the
 * trap came from user mode), *pc the faulting pc (sepc).
 *   1. a kernel-mode fault on a user address outside the user-access
 *	routines (hal_copy_fixup(*pc) == 0) is a kernel bug: with
 *	sstatus.SUM clear it could never succeed, so it is not resolved
 *	(-EPERM);
 *   2. pmap_fault_fixup() (a stale TLB entry on this hart: flush, retry);
 *   3. vm_fault() in the hart's current map (vm_map_activate) for user
 *	addresses, in the kernel map for the kernel window;
 *   4. not resolved, kernel mode, *pc inside a user-access routine: *pc
 *	becomes the routine's recovery code (which returns -EFAULT).
 * => 0: resume at *pc (resolved: the same pc; recovered: the recovery
 *    code); a negative errno: not resolved (*pc unchanged), the kernel
 *    applies its policy (kill the user process; panic for a kernel
 *    access): -EPERM as in 1, else vm_fault()'s error (-EFAULT, -EACCES,
 *    -ENOMEM).
 * pre: the trap handler of a synchronous page fault on the faulting hart
 *      (or a port's software MMU on its behalf), interrupts on or off.
 */
int vm_fault_trap(vaddr_t va, unsigned access, vaddr_t *pc);

/*
 * Fault statistics, per cpu (each written by its own cpu).  The "kind"
 * counters count events; one fault may have two (a page-in, then a
 * copy-on-write copy of that page).
 */
struct vm_fault_stats {
	uint64_t faults;	/* vm_fault calls */
	uint64_t resolved;	/* of those, returned 0 */
	uint64_t zero_fill;	/* new zero-filled pages (anons, and pages of
				   anonymous objects) */
	uint64_t cow_copy;	/* pages copied for a private write */
	uint64_t cow_reuse;	/* private writes that made a lone anon
				   writable without copying */
	uint64_t pagein;	/* pages a pager filled */
	uint64_t obj_hit;	/* resident object pages mapped */
	uint64_t anon_hit;	/* existing anons mapped again (reads) */
	uint64_t phys;		/* physical-object pages mapped */
	uint64_t efault, eacces, enomem;
	uint64_t spurious;	/* vm_fault_trap: resolved by
				   pmap_fault_fixup alone */
	uint64_t restarts;	/* faults that dropped their locks to page
				   in or wait for a busy object page, and
				   started over (fault.c section 5) */
	uint64_t recovered;	/* vm_fault_trap: sent to a user-access
				   routine's recovery code */
	uint64_t eperm;		/* vm_fault_trap: kernel access to user
				   space outside those routines */
};

void vm_fault_cpu_stats(unsigned cpu, struct vm_fault_stats *out);
/* Sums over every cpu. */
void vm_fault_stats(struct vm_fault_stats *out);

#endif /* RVMM_VM_FAULT_H */
