/*
 * layer_impl.h: what the files of the map layer share (vm/layer.c, and
 * the private headers of maps and objects built on it): allocation with
 * failure injection, the zones of anons and objects, the wait loop, and
 * the layer's lock order and field legend.  It depends only on the layers
 * below (pages, zones, the pmap, lib/); vm/amap.c, vm/object.c,
 * vm/map.c, vm/map_nommu.c, vm/fault.c and vm/copy.c depend on it and on
 * the private headers of the files they call (object_impl.h,
 * map_impl.h), never the other way round:
 *
 *	layer.c <- amap.c <- object.c <- map.c, map_nommu.c <- fault.c <- copy.c
 *
 * Lock order (a lock may be taken while holding the ones above it):
 *	1. a map's lock: the writer side (mmap/munmap/mprotect/copy/destroy)
 *	   or the reader side (vm_fault); with VM_MAPF_MAPLOCK, m_maplock
 *	1a. without an MMU: the shared map's writer side, after a user
 *	   map's (vm/map_nommu.c section 4)
 *	2. a slot of the map's amap (VM_SLOT_BUSY), one at a time
 *	3. a slot of an object's page table, one at a time, taken only
 *	   with a try (CAS), never waited for while 1 or 2 is held
 *	4. the pmap's lock (inside pmap_enter/remove/protect), the page
 *	   allocator's and the zones' locks (inside their calls)
 *	5. a wait lock of object.c (section 7), held alone or inside 3, and
 *	   released by the kernel's sleep hook
 * An object slot held busy across a pager's get (which may sleep) is
 * held with nothing above it: the fault drops 1 and 2 first (fault.c 5).
 * Waiting for a busy object slot (spinning or sleeping) happens with no
 * other rvmm lock held (object.c 7).
 * Forbidden: taking a map lock while holding a slot (so a pager's get,
 * which holds an object slot busy, must not touch the map that faulted);
 * sleeping with any of 1-4 held; a map's writer side
 * with interrupts disabled (it waits for readers that may be waiting for
 * this hart's acknowledgement of a shootdown); two maps' writer sides at
 * once, except vm_map_copy: src then dst, dst being new and private to
 * the caller, and, without an MMU, a user map then the shared map.  The
 * last vm_object_release() under a writer side is deferred to its release
 * (object.c 8), so the pager's put and release run with no lock held.
 *
 * Field legend:
 *	(C) constant after creation
 *	(W) written only under the map's writer lock; read under either side
 *	(A) atomic (ck_pr), any context
 *	(S) under the slot's VM_SLOT_BUSY bit
 *	(L) the owning cpu, not migrating
 *
 */
#ifndef RVMM_VM_LAYER_IMPL_H
#define RVMM_VM_LAYER_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "lib/assert.h"
#include "lib/smp.h"
#include "vm/page.h"
#include "vm/zone.h"

/* One spin of a wait loop: serve cross-calls if interrupts are off. */
static inline void
vm_spin_wait(void)
{
	if (!hal_intr_enabled())
		smp_call_poll();
	hal_cpu_relax();
}

/* Failure injection (vm_debug_set_fail_every). */
bool vm_fail_now(void);

/* Allocation helpers honouring failure injection. */
struct vm_page *vm_frame_alloc(unsigned flags);
void *vm_zalloc(zone_t z);

/* The zones of anons and objects (vm_layer_init creates them). */
extern zone_t vm_anon_zone, vm_object_zone;

/* Creates the layer's shared zones.  pre: vm_map_init, once. */
void vm_layer_init(void);

/* Slot-table frames held by every table (stats, amap.c). */
extern uint64_t vm_slot_nodes;	/* (A) */

#endif /* RVMM_VM_LAYER_IMPL_H */
