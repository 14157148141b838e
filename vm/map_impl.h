/*
 * map_impl.h: layouts, locks and invariants of maps, objects and anons
 * (private to vm/map.c, vm/map_nommu.c, vm/fault.c, vm/object.c,
 * vm/amap.c).  The theory of operation is in vm/map.c (without an MMU,
 * also in vm/map_nommu.c).
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
 * Invariants (vm_map_is_valid() checks every one):
 *	I1 entries are page-aligned, start < end, inside [m_min, m_max),
 *	   sorted and disjoint: e.end <= next(e).start
 *	I2 e.e_gap == e.start - (prev(e) ? prev(e).end : m_min)
 *	I3 e.e_maxgap == max(e.e_gap, left.e_maxgap, right.e_maxgap)
 *	I4 no two neighbours are mergeable (entry_mergeable() is false for
 *	   every e, next(e) pair): mmap and mprotect merge eagerly
 *	I5 e.prot is a subset of e.maxprot; W+X only without VM_MAPF_WXORX;
 *	   W implies R
 *	I6 an object entry: offset + (end - start) <= object size; it holds
 *	   one reference on the object; a physical object's entries are shared
 *	I7 every anon in m_amap lies inside a private entry (munmap, FIXED
 *	   replacement and destroy clear the amap for the range they drop)
 *	I8 m_nentries and m_mapped equal the count and the sum of the sizes
 *	I9 an anon's an_refs == number of amap slots (in all maps) that hold
 *	   it; its frame is freed when it reaches 0
 *	I10 a translation in m_pmap for a private page: to the anon in the
 *	   page's amap slot if there is one, else to the object's page and
 *	   not writable; writable only if the anon has an_refs == 1 (or the
 *	   entry is shared).  Established under the slot's BUSY bit.
 *	I11 e.e_owner == the map whose tree holds e (no MMU: the shared
 *	   map's segments record their owner instead, see N1-N3 in
 *	   vm/map_nommu.c)
 */
#ifndef RVMM_VM_MAP_IMPL_H
#define RVMM_VM_MAP_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <ck_brlock.h>
#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/assert.h"
#include "lib/kprintf.h"
#include "lib/rbtree.h"
#include "lib/smp.h"
#include "vm/amap.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/object.h"
#include "vm/page.h"
#include "vm/zone.h"

VM_STATIC_ASSERT(VM_PROT_READ == PMAP_PROT_READ &&
    VM_PROT_WRITE == PMAP_PROT_WRITE && VM_PROT_EXEC == PMAP_PROT_EXEC,
    "VM_PROT_* are the pmap's protections");

#define VM_MAP_MAGIC 0x766d6d6170000001ull	/* "vmmap" */

/* Entry flags kept in e_flags (a subset of the vm_mmap flags). */
#define ENTRY_FLAGS (VM_MAP_SHARED | VM_MAP_PRIVATE | VM_MAP_NOINHERIT | \
	VM_MAP_DEVICE | VM_MAP_UNCACHED)
/* An entry of the no-MMU shared map: a segment (vm/map_nommu.c); never merged. */
#define ENTRY_SEGMENT 0x8000u

struct vm_map_entry {
	struct rb_node e_node;		/* (W) by e_start */
	vaddr_t e_start, e_end;		/* (W) [start, end), page-aligned */
	vaddr_t e_gap;			/* (W) free bytes just below e_start */
	vaddr_t e_maxgap;		/* (W) max e_gap over the subtree */
	struct vm_object *e_obj;	/* (W) NULL: private anonymous */
	uint64_t e_offset;		/* (W) object offset of e_start */
	struct vm_map *e_owner;		/* (W) the map whose mapping this is
					   (no MMU: a segment's owner) */
	uint8_t e_prot;			/* (W) VM_PROT_* */
	uint8_t e_maxprot;		/* (W) limit for vm_mprotect */
	uint16_t e_flags;		/* (W) ENTRY_FLAGS, ENTRY_SEGMENT */
};

/* A reader slot of the map's big-reader lock, one cache line per cpu. */
struct vm_map_reader {
	ck_brlock_reader_t r;		/* (L) */
} HAL_CACHE_ALIGNED;

struct vm_map {
	/* Read-mostly: what every fault reads. */
	uint64_t m_magic;		/* (C) VM_MAP_MAGIC */
	struct rb_tree m_tree;		/* (W) entries */
	vaddr_t m_min, m_max;		/* (C) window */
	pmap_t m_pmap;			/* (C) */
	unsigned m_flags;		/* (C) VM_MAPF_* */
	bool m_user;			/* (C) a user map (U pages) */
	struct vm_slots m_amap;		/* anons by page index from m_min:
					   nodes (A), words (S) */
	/* Writer side. */
	size_t m_nentries;		/* (W) */
	size_t m_mapped;		/* (W) bytes covered */
	uint64_t m_changes;		/* (W) */
	/* The writer flag: written by writers only, read by every fault. */
	ck_brlock_t m_lock HAL_CACHE_ALIGNED;
	/* The VM_MAPF_MAPLOCK baseline: one lock for everything. */
	ck_spinlock_t m_maplock HAL_CACHE_ALIGNED;
	/* Per-cpu reader slots (one line each), last. */
	struct vm_map_reader m_readers[HAL_MAX_CPUS];
};

#define VM_OBJECT_MAGIC 0x766d6f626a656374ull	/* "vmobject" */
#define VM_OBJECT_DEAD 0x646561646f626a21ull	/* "deadobj!" */

struct vm_object {
	uint32_t o_refs;		/* (A) */
	uint64_t o_magic;		/* (A) VM_OBJECT_MAGIC while alive, then
					   VM_OBJECT_DEAD; word 1, so a free
					   slab link (word 0) leaves it */
	uint8_t o_kind;			/* (C) enum vm_object_kind */
	uint8_t o_maxprot;		/* (C) */
	uint64_t o_size;		/* (C) bytes */
	paddr_t o_pa;			/* (C) physical objects */
	const struct vm_pager_ops *o_ops; /* (C) pager objects */
	void *o_priv;			/* (C) */
	struct vm_page *o_seg;		/* (C) no MMU: the run holding every
					   page (object.c section 6) */
	struct vm_slots o_pages;	/* frames by page offset: nodes (A),
					   words (S) */
	uint64_t o_resident;		/* (A) frames held */
	uint64_t o_waits;		/* (A) waits for a busy page */
	struct vm_object *o_dead;	/* (L) dead, teardown deferred
					   (object.c section 8) */
};

/*
 * vm_object_check: panics, naming fn, unless obj is a live object (a
 * released one, or a pointer that never was an object, is misuse).
 */
void vm_object_check(vm_object_t obj, const char *fn);

/* ------------------------------------------------------------------ */
/* Helpers shared by the files of the layer.                           */

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

/* The zones of the layer (map.c creates them). */
extern zone_t vm_anon_zone, vm_object_zone;

/* Slot-table frames held by every table (stats). */
extern uint64_t vm_slot_nodes;	/* (A) */

/* The fault path's view of an entry lookup (map.c). */
struct vm_map_entry *vm_map_lookup_locked(vm_map_t map, vaddr_t va);
void vm_map_read_lock(vm_map_t map);
void vm_map_read_unlock(vm_map_t map);

/*
 * map.c's tree and lock primitives, shared with map_nommu.c (section 7 of
 * map.c).  "writer": the caller holds the map's writer side.
 */
struct vm_map_entry *vm_entry_alloc(void);
/* Frees an entry that is in no tree, with its object reference. */
void vm_entry_free(struct vm_map_entry *e);
struct vm_map_entry *vm_entry_next(struct vm_map_entry *e);
void vm_map_check(vm_map_t map, const char *fn);
void vm_map_write_lock(vm_map_t map);
void vm_map_write_unlock(vm_map_t map);
bool vm_map_locked(vm_map_t map);
/* The first entry with end > va, or NULL.  pre: writer. */
struct vm_map_entry *vm_map_first_after(vm_map_t map, vaddr_t va);
/* Whether no entry meets [s, e).  pre: writer. */
bool vm_map_range_free(vm_map_t map, vaddr_t s, vaddr_t e);
/* Inserts n into a free range, merging it with mergeable neighbours. */
void vm_map_insert_locked(vm_map_t map, struct vm_map_entry *n);
/* Removes [s, e), clipping straddlers (*spare: the one split). */
void vm_map_unmap_locked(vm_map_t map, vaddr_t s, vaddr_t e,
    struct vm_map_entry **spare);

/* The *_is_valid walkers: reports a broken invariant of map m. */
#define VM_MAP_BAD(m, okp, ...)                                                \
	do {                                                                   \
		kprintf("map %p: ", (void *)(m));                              \
		kprintf(__VA_ARGS__);                                          \
		kprintf("\n");                                                 \
		*(okp) = false;                                                \
	} while (0)

/*
 * The no-MMU half of the layer (map_nommu.c): what map.c calls where the
 * two builds differ (`if (!HAL_MMU)`, section 7 of map.c).
 */
#define VM_NOMMU_MIN ((vaddr_t)HAL_PAGE_SIZE)
#define VM_NOMMU_MAX ((vaddr_t)1 << 56)		/* physical addresses */
/*
 * No MMU (object.c section 6): a new anonymous object whose pages are the
 * run of size bytes at run (zeroed), which it takes over; NULL when no
 * memory (the run stays the caller's).
 */
vm_object_t vm_object_segment_create(struct vm_page *run, uint64_t size);
long vm_map_nommu_mmap(vm_map_t map, vaddr_t addr, size_t size,
    unsigned prot, unsigned flags, vm_object_t obj, uint64_t offset,
    vaddr_t align, unsigned maxprot);
int vm_map_nommu_munmap(vm_map_t map, vaddr_t addr, size_t size);
void vm_map_nommu_destroy_locked(vm_map_t map);
bool vm_map_nommu_is_valid(vm_map_t map);

/*
 * object.c section 7: vm_object_page for the fault path, which holds the
 * map's reader side and maybe an amap slot: never waits, never calls the
 * pager.  -EAGAIN: the page is busy or must be paged in; the caller drops
 * what it holds and calls vm_object_page (holding a reference on obj).
 */
int vm_object_page_try(vm_object_t obj, uint64_t offset, paddr_t *pa,
    enum vm_object_found *how);
/*
 * object.c section 8: vm_map_write_lock calls vm_object_defer_begin once
 * it holds the writer side; vm_map_write_unlock calls vm_object_defer_end
 * before it lets go and vm_object_reap on what that returned after.
 */
void vm_object_defer_begin(void);
struct vm_object *vm_object_defer_end(void);
void vm_object_reap(struct vm_object *dead);

/* fault.c: per-cpu current map (vm_map_activate). */
void vm_fault_set_current(vm_map_t map);
bool vm_map_is_current_anywhere(vm_map_t map, unsigned *cpu);

/* Pmap attribute bits for an entry's flags. */
static inline unsigned
vm_entry_attr(unsigned flags)
{
	if (flags & VM_MAP_DEVICE)
		return PMAP_ATTR_IO;
	if (flags & VM_MAP_UNCACHED)
		return PMAP_ATTR_NC;
	return 0;
}

#endif /* RVMM_VM_MAP_IMPL_H */
