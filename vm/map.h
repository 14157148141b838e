/*
 * map.h: address spaces ("maps") of rvmm: mmap, munmap, mprotect, fork.
 *
 * A map describes one address space as a set of non-overlapping entries,
 * each a page-aligned range [start, end) with a protection and what backs
 * it: private anonymous memory, a memory object shared with every other
 * mapping of it (vm/object.h), or a private copy-on-write view of an
 * object.  The kernel has one map (vm_map_kernel()); every process has its
 * own (vm_map_create()), each on its own pmap (hal/pmap.h).  Translations
 * are installed lazily by the page-fault path (vm/fault.h); vm/map.c holds
 * the theory of operation, vm/map_impl.h the layouts, locks and
 * invariants.
 *
 * Contexts.  Unless a call says otherwise:
 *   - vm_mmap, vm_munmap, vm_mprotect, vm_map_copy, vm_map_create and
 *     vm_map_destroy run in thread context with interrupts enabled (they
 *     wait for faults in progress on other harts and for TLB shootdowns).
 *     They never sleep.  Calls on one map serialise among themselves.
 *   - vm_fault (vm/fault.h) may run on every hart at once, on the same map
 *     too, concurrently with the calls above, interrupts on or off.
 *   - Nothing here may be called from an interrupt handler.
 *
 * Failure.  Every call checks all of its arguments before it changes
 * anything, and allocates what it may need before it takes the map's
 * writer lock: an error (negative errno) leaves the map exactly as it was,
 * entry by entry.  Misuse (destroying an active map or the kernel map, a
 * foreign map handle) panics with the function and its arguments.
 *
 * Without an MMU (HAL_MMU == 0, meson -Dmmu=false) the calls keep their
 * signatures and meaning where they can (vm/map_nommu.c has the theory):
 * addresses are physical; vm_map_kernel() is the shared map over RAM,
 * whose entries are the segments of every map with their owners;
 * vm_mmap returns where the memory is (-EEXIST for a fixed address whose
 * frames are not free, VM_MAP_FIXED included; -EINVAL for an object at
 * any address but its own, or mapped into the shared map; -EEXIST for an
 * object range this map already maps); vm_mprotect and vm_map_copy
 * return -ENOTSUP and change nothing.
 */
#ifndef RVMM_VM_MAP_H
#define RVMM_VM_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"
#include "hal/pmap.h"

/* Opaque handles. */
typedef struct vm_map *vm_map_t;
typedef struct vm_object *vm_object_t;

/* Protections (the values of PMAP_PROT_*). */
#define VM_PROT_NONE 0x0u
#define VM_PROT_READ 0x1u
#define VM_PROT_WRITE 0x2u
#define VM_PROT_EXEC 0x4u
#define VM_PROT_ALL 0x7u

/*
 * vm_mmap flags.  Exactly one of VM_MAP_SHARED and VM_MAP_PRIVATE.
 *
 * VM_MAP_SHARED	stores go to the object and are seen by every map
 *			that maps it (with VM_MAP_ANON: a new anonymous
 *			object of `size` bytes, shared with forked children)
 * VM_MAP_PRIVATE	copy-on-write: the mapping reads the object (zeroes
 *			with VM_MAP_ANON) until it writes a page, which then
 *			becomes a private copy (an anon); a fork shares the
 *			copies until either side writes
 * VM_MAP_ANON		anonymous memory; object must be NULL, offset 0
 * VM_MAP_FIXED		map exactly at addr, replacing what was there
 * VM_MAP_FIXED_NOREPLACE  exactly at addr, -EEXIST if anything is there
 * VM_MAP_NOINHERIT	vm_map_copy (fork) leaves the range out of the child
 * VM_MAP_DEVICE	a physical object as device memory (Svpbmt IO)
 * VM_MAP_UNCACHED	a physical object as normal non-cacheable memory
 *			(Svpbmt NC); both need VM_MAP_SHARED
 * VM_MAP_ALIGNED(n)	the address is a multiple of 2^n bytes
 *			(PAGE_SHIFT <= n <= VM_MAP_ALIGN_MAX)
 *
 * Without VM_MAP_FIXED*, addr is a hint: used as is when [addr, addr +
 * size) is free (and aligned), else the lowest free gap at or above addr
 * that holds size + alignment - PAGE_SIZE bytes, else the lowest such gap
 * in the map; addr 0 means no hint.  The search is O(log n) in the number
 * of entries (see map.c, section 3).
 */
#define VM_MAP_SHARED 0x0001u
#define VM_MAP_PRIVATE 0x0002u
#define VM_MAP_ANON 0x0004u
#define VM_MAP_FIXED 0x0008u
#define VM_MAP_FIXED_NOREPLACE 0x0010u
#define VM_MAP_NOINHERIT 0x0020u
#define VM_MAP_DEVICE 0x0040u
#define VM_MAP_UNCACHED 0x0080u
#define VM_MAP_ALIGN_SHIFT 24
#define VM_MAP_ALIGN_MASK (0x3fu << VM_MAP_ALIGN_SHIFT)
#define VM_MAP_ALIGNED(n) ((unsigned)(n) << VM_MAP_ALIGN_SHIFT)
#define VM_MAP_ALIGN_MAX 30		/* 1 GiB */
#define VM_MAP_FLAGS_ALL (0x00ffu | VM_MAP_ALIGN_MASK)

/* vm_map_create flags. */
#define VM_MAPF_WXORX 0x1u	/* refuse W+X protections (-EACCES) */
#define VM_MAPF_MAPLOCK 0x2u	/* baseline: faults take one map-wide
				   spinlock instead of the lock-light
				   reader protocol (benchmarks) */

/*
 * vm_map_init: creates the zones of the map layer and the kernel map.
 * (Page faults reach the VM through vm_fault_trap, vm/fault.h, which the
 * kernel's trap handler calls.)
 * pre: boot cpu, once, after page_init(), zone_init(), kmalloc_init() and
 *      pmap_bootstrap().  (Idempotent; it calls zone_init() itself.)
 */
void vm_map_init(void);

/*
 * vm_map_create: a new, empty user address space over
 * [pmap_user_min(), pmap_user_max()), on a new pmap.  flags: VM_MAPF_*.
 * Placements without VM_MAP_FIXED never start below 4 KiB.
 * => returns the map, or NULL when memory is short.
 */
vm_map_t vm_map_create(unsigned flags);

/*
 * vm_map_destroy: removes every entry (dropping its pages and object
 * references), destroys the pmap and frees the map.
 * => map is a user map, active on no hart (panics otherwise), and no
 *    other call on it runs or will run.
 */
void vm_map_destroy(vm_map_t map);

/*
 * vm_map_kernel: the kernel's map, on pmap_kernel(): a window of the
 * kernel window above all RAM, pmap_kernel_map_range() (kernel virtual
 * memory: lazily faulted, never user-accessible).  NULL if RAM leaves no
 * room for it.  W^X.
 */
vm_map_t vm_map_kernel(void);

pmap_t vm_map_pmap(vm_map_t map);
/* The map's address window [*min, *max). */
void vm_map_window(vm_map_t map, vaddr_t *min, vaddr_t *max);

/*
 * vm_map_activate: makes map the calling hart's address space (the
 * scheduler calls it on a context switch): pmap_activate() and the
 * per-cpu "current map" that the fault hook resolves user addresses
 * against.  vm_map_activate(vm_map_kernel()) (or NULL) leaves user space.
 * => thread context; the caller does not migrate meanwhile.
 */
void vm_map_activate(vm_map_t map);
/* The calling hart's current user map, or NULL. */
vm_map_t vm_map_current(void);

/*
 * vm_mmap: maps `size` bytes of object (from `offset`) or of anonymous
 * memory with protection `prot` (VM_PROT_*), flags as above.  The map
 * takes its own reference to object; the caller keeps its own.
 * => returns the address (>= 0), or:
 *    -EINVAL	size 0; addr, size or offset not page-aligned; addr + size
 *		or offset + size overflows; a fixed range outside the map;
 *		unknown prot or flag bits; W without R (Sv39 cannot map it);
 *		not exactly one of SHARED/PRIVATE; ANON with an object or an
 *		offset, no ANON and no object; a range beyond the object's
 *		size; DEVICE/UNCACHED without a physical object or without
 *		SHARED, a physical object mapped PRIVATE; a bad alignment,
 *		or a fixed addr that does not meet it
 *    -EACCES	prot beyond what the object allows (VM_MAP_SHARED needs
 *		the object's own maxprot; PRIVATE may add W to a readable
 *		object: the writes stay private); W+X in a VM_MAPF_WXORX map
 *    -EEXIST	VM_MAP_FIXED_NOREPLACE and the range is not free
 *    -ENOMEM	no gap large enough, or memory for the bookkeeping
 * => neighbours with the same object (contiguous offsets), protection,
 *    limits and flags are merged with the new entry.
 */
long vm_mmap(vm_map_t map, vaddr_t addr, size_t size, unsigned prot,
    unsigned flags, vm_object_t object, uint64_t offset);

/*
 * vm_munmap: removes every mapping in [addr, addr + size); holes inside
 * are fine.  Entries that straddle an end are split.  Private pages of
 * the range are freed (those shared with another map lose a reference),
 * translations are gone from every hart when it returns.
 * => 0, or -EINVAL (size 0, unaligned, overflow, outside the map), or
 *    -ENOMEM (an entry had to be split and no memory; nothing changed).
 */
int vm_munmap(vm_map_t map, vaddr_t addr, size_t size);

/*
 * vm_mprotect: sets the protection of every page in [addr, addr + size),
 * splitting entries at the ends and merging neighbours that become equal.
 * Narrowing takes effect on every hart before it returns; widening takes
 * effect at the next fault (copy-on-write pages stay read-only until
 * written).
 * => 0, or -EINVAL (as vm_munmap, or bad prot bits, W without R),
 *    -EACCES (beyond an entry's limit, or W+X in a W^X map), -ENOMEM
 *    (part of the range is not mapped, or no memory to split).
 */
int vm_mprotect(vm_map_t map, vaddr_t addr, size_t size, unsigned prot);

/*
 * vm_map_copy: fork.  Copies every entry of src without VM_MAP_NOINHERIT
 * into dst: shared entries share their object; private entries share
 * their private pages (anons) copy-on-write, and src's translations of
 * them become read-only, so the first write on either side copies (or, if
 * the other side has let go meanwhile, reuses the page).
 * => dst is an empty user map other than src, and W^X (VM_MAPF_WXORX)
 *    only if src is (-EINVAL otherwise).
 * => 0, or -ENOMEM: dst is left empty, src as it was.
 */
int vm_map_copy(vm_map_t dst, vm_map_t src);

/* One entry as vm_map_entries() reports it (tests, debuggers). */
struct vm_map_entry_info {
	vaddr_t start, end;
	unsigned prot, maxprot;
	unsigned flags;		/* VM_MAP_SHARED/PRIVATE/NOINHERIT/DEVICE/
				   UNCACHED (ANON: private, no object) */
	vm_object_t object;	/* NULL for private anonymous memory */
	uint64_t offset;
	vm_map_t owner;		/* the map the mapping belongs to (the map
				   itself, but for the segments of the
				   no-MMU shared map) */
};

/*
 * vm_map_entries: copies up to max entries, in address order, to out and
 * returns how many there are (may exceed max).  Takes the writer lock.
 */
size_t vm_map_entries(vm_map_t map, struct vm_map_entry_info *out,
    size_t max);

/* The entry that maps va: true and *out, or false.  Takes the writer lock. */
bool vm_map_lookup(vm_map_t map, vaddr_t va, struct vm_map_entry_info *out);

struct vm_map_stats {
	size_t entries;		/* entries in the map */
	size_t mapped;		/* bytes covered by entries */
	size_t anons;		/* private pages (anons) held by the map */
	size_t amap_nodes;	/* pages of the map's anon table */
	uint64_t changes;	/* successful mmap/munmap/mprotect/copy */
	size_t largest_gap;	/* largest free gap (root of the augment) */
};
void vm_map_stats(vm_map_t map, struct vm_map_stats *out);

/* Layer-wide counts (live objects of the layer's zones). */
struct vm_stats {
	size_t maps, entries, anons, objects;
	size_t slot_nodes;	/* pages of anon tables and object page tables */
};
void vm_stats(struct vm_stats *out);

/*
 * vm_map_is_valid: expensive; checks the invariants of vm/map_impl.h
 * (tree, gaps and their augment, no overlap, neighbours not mergeable,
 * prot within maxprot and W^X, object ranges, every anon inside a private
 * entry).  Prints what is wrong.  Takes the writer lock.
 */
bool vm_map_is_valid(vm_map_t map);

/* Prints the entries of a map to the console. */
void vm_map_dump(vm_map_t map);

/*
 * Debug knobs.  vm_debug_set_fail_every(n): with n > 0, every n-th
 * allocation of the map layer (entries, maps, objects, anons, anon-table
 * and page frames for faults) fails, so tests reach every -ENOMEM branch.
 * vm_reap(): gives the layer's cached zone memory back (leak checks).
 */
void vm_debug_set_fail_every(unsigned n);
size_t vm_reap(void);

#endif /* RVMM_VM_MAP_H */
