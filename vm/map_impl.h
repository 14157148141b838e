/*
 * map_impl.h: layouts and invariants of maps and their entries, and the
 * map primitives that vm/map.c shares with vm/map_nommu.c, vm/fault.c and
 * vm/copy.c (private to vm/).  The theory of operation is in vm/map.c
 * (without an MMU, also in vm/map_nommu.c); the layer's lock order and
 * field legend are in vm/layer_impl.h, objects in vm/object_impl.h.
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
#include "vm/layer_impl.h"
#include "vm/map.h"
#include "vm/object_impl.h"

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
long vm_map_nommu_mmap(vm_map_t map, vaddr_t addr, size_t size,
    unsigned prot, unsigned flags, vm_object_t obj, uint64_t offset,
    vaddr_t align, unsigned maxprot);
int vm_map_nommu_munmap(vm_map_t map, vaddr_t addr, size_t size);
void vm_map_nommu_destroy_locked(vm_map_t map);
bool vm_map_nommu_is_valid(vm_map_t map);

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
