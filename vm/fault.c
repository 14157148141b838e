/*
 * fault.c: the page-fault path (the contract is vm/fault.h).
 *
 * 1. Steps.  vm_fault(map, va, access):
 *	a. take the map's reader side (map.c section 4: the caller's own
 *	   reader slot; no shared line is written unless a writer is active);
 *	b. look the entry up in the tree (stable while the reader side is
 *	   held); none: -EFAULT; the access not in its protection: -EACCES;
 *	c. shared object entry: find or make the object's page and enter it
 *	   with the entry's protection (the page never moves: object.c 1);
 *	   a page that is busy or must come from the pager: section 5;
 *	d. private entry: lock the page's amap slot (amap.c 2) and, holding
 *	   it, decide and enter (an object page as in c, section 5 likewise):
 *	     anon, an_refs == 1	   enter it with the entry's protection
 *				   (a write here is a "COW reuse": the
 *				   sharing ended, no copy is needed)
 *	     anon, an_refs > 1	   read: enter it without W; write: copy it
 *				   into a new anon, enter the copy, put it in
 *				   the slot, drop the old reference
 *	     none, no object	   zero-fill a new anon, enter it
 *	     none, object	   read: enter the object's page without W
 *				   (the slot stays empty); write: copy the
 *				   object's page into a new anon, enter it
 *	e. release the slot and the reader side;
 *	f. if c or d asked for it (section 5): page in or wait with nothing
 *	   held, then start over at a.
 *    The slot is released only after pmap_enter returned, so for a given
 *    page of a given map the translation always matches what the slot
 *    says (invariant I10 of map_impl.h); pmap_enter has shot down any
 *    translation it replaced before it returns, so an old anon whose last
 *    reference is dropped afterwards is unreachable when it is freed.
 *
 * 2. Failure.  Every allocation happens before the slot changes; a failed
 *    pmap_enter (-ENOMEM for a page-table page) frees what the fault
 *    made and leaves the slot as it was.  Nothing is half-done on error,
 *    but for two things a fault may leave behind, neither visible through
 *    the API nor growing with repeated failures:
 *    - an object page it paged in or zero-filled (step f) stays resident
 *      in its object, as it would had the fault succeeded (it belongs to
 *      the object, not to the map);
 *    - the slot-table nodes on its page's path (amap.c section 4): at most
 *      VM_SLOT_LEVELS frames, created before the allocation that failed.
 *      Faults run without the writer lock, and nodes are removed only
 *      under it (amap.c section 2), so they stay until a munmap of the
 *      range or the map's destruction prunes them.  Every later fault of
 *      a page under them reuses them, so failures add no more than a
 *      fully populated table for the mapped range would hold
 *      (map.failed_fault_leaves_bounded_nodes checks both).
 *
 * 3. Who calls.  The kernel's trap handler calls vm_fault_trap(), which
 *    first lets the pmap fix a spurious fault (a stale or negatively
 *    cached entry on this hart), then picks the map: the hart's current
 *    user map for user addresses, the kernel map for the kernel window.
 *    Tests may call vm_fault() directly.
 *    User memory is reached from the kernel only through the port's
 *    user-access routines (vm/copy.h over hal_copyin/out/instr, and the
 *    test probes), the only code that runs with sstatus.SUM set.  So a
 *    kernel-mode fault is first placed with hal_copy_fixup(pc): outside
 *    those routines a fault on a user address is a kernel bug that no
 *    mapping can cure (with SUM clear the retried access would fault
 *    again, forever) and is refused at once; inside them a fault that
 *    vm_fault() cannot resolve (nothing mapped, no permission, no
 *    memory) is recovered: the routine resumes at its recovery code and
 *    returns -EFAULT, whatever the address (a user copy never reaches
 *    kernel addresses, vm/copy.c checks; a probe may).  The recovery
 *    lookup is here, not in the kernel's trap handler, so that a kernel
 *    embedding rvmm only has to call vm_fault_trap().
 *
 * 4. Observability: per-cpu counters by kind (vm_fault_stats), written
 *    only by their own cpu (lib/stat.h), cache-line separated.
 *
 * 5. Busy pages and pagers that sleep.  A pager's get may sleep (a disk
 *    read), so it must not run under the map's reader side (a writer
 *    would wait behind it, and every fault behind the writer) or the
 *    page's amap slot.  So step c or d asks vm_object_page_try(), which
 *    never waits and never calls get; when the page is busy (another
 *    fault is paging it in) or must be paged in, it returns -EAGAIN, and
 *    the fault
 *	- takes a reference on the object (the entry's keeps it alive until
 *	  then), unlocks the amap slot (still empty: nothing changed) and
 *	  the reader side;
 *	- calls vm_object_page(), holding only that reference: it either
 *	  marks the object's page busy and calls get (which may sleep), or
 *	  waits until the page is no longer busy (the kernel's sleep hook,
 *	  else a spin) and takes the page the other one made, or, if that
 *	  one's get failed, marks it busy and calls get itself (object.c 7);
 *	- drops its reference (if it is the last one, an munmap ran
 *	  meanwhile: the object, with the page just made, is torn down here
 *	  with the pager's put, nothing held);
 *	- starts over at a (an error of vm_object_page ends the fault: -ENOMEM
 *	  or -EFAULT).  The map may have changed meanwhile: the entry may be
 *	  gone (the fault returns -EFAULT: the range was unmapped under it),
 *	  or another fault may have filled the slot; the restart decides anew.
 *    Two faults on one page: one calls get, the other waits and then maps
 *    the page the first made.  An munmap of the range while get sleeps
 *    proceeds (nothing of the map is held) and loses nothing: the page
 *    goes into the object, which the fault's reference keeps alive, and
 *    leaves with the object.  A fault that slept may resume on another
 *    cpu: the per-cpu statistics are looked up again after the wait.
 *    A restart is counted once (vm_fault_stats.restarts); the page-in is
 *    counted by the fault that did it, and its restart counts no hit.
 */
#include <errno.h>

#include "lib/assert.h"
#include "lib/kprintf.h"
#include "lib/stat.h"
#include "vm/map_impl.h"

VM_STATIC_ASSERT(HAL_FAULT_READ == VM_PROT_READ &&
    HAL_FAULT_WRITE == VM_PROT_WRITE && HAL_FAULT_EXEC == VM_PROT_EXEC,
    "fault access bits are protections");

struct fault_cpu {
	struct vm_fault_stats st;	/* (L) */
	vm_map_t cur;			/* (L) written by its cpu; read (A) by
					   vm_map_destroy's check */
} HAL_CACHE_ALIGNED;

static struct fault_cpu fault_cpus[HAL_MAX_CPUS];

/* ------------------------------------------------------------------ */
/* Current map.                                                        */

void
vm_fault_set_current(vm_map_t map)
{
	ck_pr_store_ptr(&fault_cpus[hal_cpu_id()].cur, map);
}

vm_map_t
vm_map_current(void)
{
	return ck_pr_load_ptr(&fault_cpus[hal_cpu_id()].cur);
}

bool
vm_map_is_current_anywhere(vm_map_t map, unsigned *cpu)
{
	for (unsigned c = 0; c < hal_ncpus(); c++)
		if (ck_pr_load_ptr(&fault_cpus[c].cur) == map) {
			*cpu = c;
			return true;
		}
	return false;
}

/* ------------------------------------------------------------------ */
/* The fault.                                                          */

static int
enter(vm_map_t map, vaddr_t va, paddr_t pa, unsigned prot, unsigned attr)
{
	int err = pmap_enter(map->m_pmap, va, pa, prot, PMAP_ENTER_4K | attr);

	VM_PANIC_IF(err != 0 && err != -ENOMEM,
	    "vm_fault: pmap_enter(%p, %#lx, %#llx, %#x, %#x) = %d",
	    (void *)map->m_pmap, (unsigned long)va, (unsigned long long)pa,
	    prot, attr, err);
	return err;
}

static void
count_found(struct fault_cpu *fc, enum vm_object_found how)
{
	switch (how) {
	case VM_OBJPG_RESIDENT:
		stat_inc(&fc->st.obj_hit);
		break;
	case VM_OBJPG_ZEROED:
		stat_inc(&fc->st.zero_fill);
		break;
	case VM_OBJPG_PAGEDIN:
		stat_inc(&fc->st.pagein);
		break;
	case VM_OBJPG_PHYS:
		stat_inc(&fc->st.phys);
		break;
	}
}

/*
 * What a fault that must wait for an object page (section 5) carries from
 * one attempt to the next.
 */
struct fault_wait {
	vm_object_t obj;	/* referenced; NULL: nothing to wait for */
	uint64_t offset;
	bool counted;		/* the page's event was counted: no hit */
};

/* Section 5: the fault must drop its locks; keeps obj alive meanwhile. */
static int
fault_must_wait(vm_object_t obj, uint64_t offset, struct fault_wait *w)
{
	vm_object_ref(obj);
	w->obj = obj;
	w->offset = offset;
	return -EAGAIN;
}

/*
 * Section 5: with nothing held, makes or waits for the page w names and
 * drops the reference.  Returns 0 (start over) or the error of the fault.
 */
static int
fault_page_in(struct fault_wait *w)
{
	enum vm_object_found how;
	paddr_t pa;
	int err;

	err = vm_object_page(w->obj, w->offset, &pa, &how);
	vm_object_release(w->obj);
	w->obj = NULL;
	if (err == 0 && how != VM_OBJPG_RESIDENT) {
		count_found(&fault_cpus[hal_cpu_id()], how);
		w->counted = true;
	}
	return err;
}

/* A shared mapping of an object: its page, with the entry's protection. */
static int
fault_shared(vm_map_t map, const struct vm_map_entry *e, vaddr_t va,
    struct fault_cpu *fc, struct fault_wait *w)
{
	uint64_t off = e->e_offset + (va - e->e_start);
	enum vm_object_found how;
	paddr_t pa;
	int err;

	err = vm_object_page_try(e->e_obj, off, &pa, &how);
	if (err == -EAGAIN)
		return fault_must_wait(e->e_obj, off, w);
	if (err != 0)
		return err;
	if (!w->counted)
		count_found(fc, how);
	return enter(map, va, pa, e->e_prot, vm_entry_attr(e->e_flags));
}

/*
 * fault_new_anon: gives the slot a new anon holding a copy of the frame at
 * src (0: a zero-filled frame), maps it with prot and counts it.
 * => the slot is locked and holds `old`; it is unlocked on return,
 *    holding the new anon on success and `old` on failure.
 */
static int
fault_new_anon(vm_map_t map, uintptr_t *slot, uintptr_t old, vaddr_t va,
    paddr_t src, unsigned prot, uint64_t *counter)
{
	struct vm_anon *nan = vm_anon_new(src);
	int err;

	if (nan == NULL) {
		vm_slot_unlock(slot, old);
		return -ENOMEM;
	}
	err = enter(map, va, vm_anon_pa(nan), prot, 0);
	if (err != 0) {
		vm_anon_unref(nan);
		vm_slot_unlock(slot, old);
		return err;
	}
	vm_slot_unlock(slot, (uintptr_t)nan);
	stat_inc(counter);
	return 0;
}

/* A private mapping: step d of section 1. */
static int
fault_private(vm_map_t map, const struct vm_map_entry *e, vaddr_t va,
    bool write, struct fault_cpu *fc, struct fault_wait *w)
{
	uint64_t idx = (va - map->m_min) >> PAGE_SHIFT;
	unsigned prot = e->e_prot;
	struct vm_anon *an;
	enum vm_object_found how;
	uintptr_t *slot;
	paddr_t pa;
	int err;

	slot = vm_slots_get(&map->m_amap, idx, true);
	if (slot == NULL)
		return -ENOMEM;
	an = (struct vm_anon *)vm_slot_lock(slot);
	if (an != NULL) {
		if (vm_anon_refs(an) == 1) {
			/*
			 * Ours alone: no copy, whatever the access.  The map
			 * that dropped the other reference removed its
			 * translation first; the acquire orders its last use
			 * of the frame before our writes.
			 */
			ck_pr_fence_acquire();
			err = enter(map, va, vm_anon_pa(an), prot, 0);
			if (err == 0)
				stat_inc(write ? &fc->st.cow_reuse :
				    &fc->st.anon_hit);
			vm_slot_unlock(slot, (uintptr_t)an);
			return err;
		}
		if (!write) {
			/* Shared with another map: read-only until written. */
			err = enter(map, va, vm_anon_pa(an),
			    prot & ~VM_PROT_WRITE, 0);
			if (err == 0)
				stat_inc(&fc->st.anon_hit);
			vm_slot_unlock(slot, (uintptr_t)an);
			return err;
		}
		err = fault_new_anon(map, slot, (uintptr_t)an, va,
		    vm_anon_pa(an), prot, &fc->st.cow_copy);
		/* Our translation of the old frame is gone everywhere. */
		if (err == 0)
			vm_anon_unref(an);
		return err;
	}
	if (e->e_obj == NULL) {
		return fault_new_anon(map, slot, 0, va, 0, prot,
		    &fc->st.zero_fill);
	}
	err = vm_object_page_try(e->e_obj, e->e_offset + (va - e->e_start),
	    &pa, &how);
	if (err != 0) {
		vm_slot_unlock(slot, 0);
		if (err == -EAGAIN)
			return fault_must_wait(e->e_obj, e->e_offset +
			    (va - e->e_start), w);
		return err;
	}
	if (!w->counted)
		count_found(fc, how);
	if (!write) {
		err = enter(map, va, pa, prot & ~VM_PROT_WRITE, 0);
		vm_slot_unlock(slot, 0);
		return err;
	}
	return fault_new_anon(map, slot, 0, va, pa, prot, &fc->st.cow_copy);
}

int
vm_fault(vm_map_t map, vaddr_t va, unsigned access)
{
	struct fault_cpu *fc = &fault_cpus[hal_cpu_id()];
	struct fault_wait w = { NULL, 0, false };
	const struct vm_map_entry *e;
	unsigned need = access & VM_PROT_ALL;
	int err;

	stat_inc(&fc->st.faults);
	if (need == 0)
		need = VM_PROT_READ;
	va &= ~(vaddr_t)(PAGE_SIZE - 1);
	/* Without an MMU nothing is mapped lazily: every fault is real. */
	if (!HAL_MMU || map == NULL || va < map->m_min || va >= map->m_max) {
		err = -EFAULT;
		goto out;
	}
	VM_PANIC_IF(map->m_magic != VM_MAP_MAGIC, "vm_fault(%p, %#lx, %#x): "
	    "not a map", (void *)map, (unsigned long)va, access);
	/* The kernel never runs user code; users never reach kernel pages. */
	if (map->m_user ? ((need & VM_PROT_EXEC) && !(access & HAL_FAULT_USER))
	    : (access & HAL_FAULT_USER) != 0) {
		err = -EACCES;
		goto out;
	}
	for (;;) {
		vm_map_read_lock(map);
		e = vm_map_lookup_locked(map, va);
		if (e == NULL)
			err = -EFAULT;
		else if ((e->e_prot & need) != need)
			err = -EACCES;
		else if (e->e_obj != NULL && (e->e_flags & VM_MAP_SHARED))
			err = fault_shared(map, e, va, fc, &w);
		else
			err = fault_private(map, e, va,
			    (need & VM_PROT_WRITE) != 0, fc, &w);
		vm_map_read_unlock(map);
		if (err != -EAGAIN)
			break;
		/* Section 5: nothing held; this may sleep. */
		err = fault_page_in(&w);
		fc = &fault_cpus[hal_cpu_id()];
		if (err != 0)
			break;
		stat_inc(&fc->st.restarts);
	}
out:
	switch (err) {
	case 0:
		stat_inc(&fc->st.resolved);
		break;
	case -EFAULT:
		stat_inc(&fc->st.efault);
		break;
	case -EACCES:
		stat_inc(&fc->st.eacces);
		break;
	case -ENOMEM:
		stat_inc(&fc->st.enomem);
		break;
	default:
		panic("vm_fault(%p, %#lx, %#x): unexpected error %d",
		    (void *)map, (unsigned long)va, access, err);
	}
	return err;
}

/* va lies in user space (the pmap's user window). */
static bool
fault_user_va(vaddr_t va)
{
	return pmap_user_range_ok(va & ~(vaddr_t)(PAGE_SIZE - 1), PAGE_SIZE);
}

int
vm_fault_trap(vaddr_t va, unsigned access, vaddr_t *pc)
{
	struct fault_cpu *fc = &fault_cpus[hal_cpu_id()];
	vm_map_t map = NULL, k = vm_map_kernel();
	bool user_va = fault_user_va(va);
	vaddr_t fixup = 0;
	hal_intr_t s;
	int err;

	if (!(access & HAL_FAULT_USER)) {
		fixup = hal_copy_fixup(*pc);
		if (fixup == 0 && user_va) {
			/* Section 3: SUM is clear here, nothing can help. */
			stat_inc(&fc->st.eperm);
			return -EPERM;
		}
	}
	s = hal_intr_disable();
	err = pmap_fault_fixup(va, access);
	hal_intr_restore(s);
	if (err == 0) {
		stat_inc(&fc->st.spurious);
		return 0;
	}
	if (user_va)
		map = vm_map_current();
	else if (k != NULL && va >= k->m_min && va < k->m_max)
		map = k;
	err = map == NULL ? -EFAULT : vm_fault(map, va, access);
	if (err != 0 && fixup != 0) {
		*pc = fixup;
		stat_inc(&fc->st.recovered);
		return 0;
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Statistics.                                                         */

void
vm_fault_cpu_stats(unsigned cpu, struct vm_fault_stats *out)
{
	const uint64_t *in = (const uint64_t *)&fault_cpus[cpu].st;
	uint64_t *o = (uint64_t *)out;

	VM_ASSERT(cpu < HAL_MAX_CPUS);
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		o[i] = stat_read(&in[i]);
}

void
vm_fault_stats(struct vm_fault_stats *out)
{
	struct vm_fault_stats c;
	uint64_t *o = (uint64_t *)out, *ci = (uint64_t *)&c;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		o[i] = 0;
	for (unsigned cpu = 0; cpu < hal_ncpus(); cpu++) {
		vm_fault_cpu_stats(cpu, &c);
		for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
			o[i] += ci[i];
	}
}
