/*
 * map_nommu.c: the map layer without an MMU (HAL_MMU == 0, meson
 * -Dmmu=false).  The contract is still vm/map.h, the structures
 * vm/map_impl.h; map.c section 7 lists where it hands over to this file.
 * Compiled in both builds; the MMU build never calls it.
 *
 * 1. Concepts.  Without translation an address is where the memory is,
 *    so every process allocates from one address space, physical memory.
 *    The shared map (vm_map_kernel() in this build) covers the RAM
 *    regions and records every segment - a run of frames a map owns -
 *    with its owner (e_owner).  A process map (vm_map_create) still keeps
 *    its own entries, at physical addresses, so everything in map.c that
 *    reads or clips entries (lookup, split, merge, statistics,
 *    vm_map_entries) is unchanged.  What differs is where a range comes
 *    from and where it goes:
 *	private anonymous	a new segment, zeroed, owned by the map
 *	private, writable,	a new segment owned by the map, holding a copy
 *	of an object		of the object's bytes (no copy-on-write without
 *				an MMU); the entry is then anonymous memory
 *	shared anonymous	a new segment, placed as a private one would
 *				be, made into an anonymous object (object.c
 *				section 6); forked children are not possible
 *				here, so it is shared by handing the object
 *				(vm_map_entries) to the other map
 *	shared, or private	the object's segment (a physical object's
 *	read-only, object	range) where it lies: every map that maps it
 *				sees the same memory
 *    Free memory stays the page allocator's (zones and kmalloc take frames
 *    from it as before): a segment is a run from page_alloc_contig(), or
 *    from page_alloc_range() for a fixed address or a hint.  So a gap of
 *    the shared map need not be free memory; the page allocator decides,
 *    the shared map records who holds what.
 *
 * 2. What needs an MMU.  vm_mprotect and vm_map_copy (copy-on-write)
 *    return -ENOTSUP and change nothing; vm_fault refuses every fault.
 *    A fixed address is honoured only where its frames are free: -EEXIST
 *    otherwise, VM_MAP_FIXED included (nothing can be replaced in place);
 *    an object maps only where it lies (a fixed address elsewhere, or an
 *    alignment it does not meet: -EINVAL), and only once per map at a
 *    time (-EEXIST: two entries cannot share an address).  The shared map
 *    itself takes the kernel's own private anonymous memory (owner: the
 *    shared map) and nothing else (-EINVAL): the kernel reaches an object
 *    at its address (vm_object_phys_addr) without mapping it.  A hint is
 *    one look at its frames (PAGE_NODRAIN): a miss costs no cross-call.
 *
 * 3. Invariants (vm_map_nommu_is_valid checks them).
 *	N1 every entry of the shared map is a segment (ENTRY_SEGMENT,
 *	   private, no object): the head of a page-allocator run of exactly
 *	   its length; segments are disjoint and never merged
 *	N2 a segment's owner is the shared map or a live user map
 *	N3 the segments a map owns cover exactly its private entries
 *	   without object, the only entries that own memory (for the shared
 *	   map: its own segments are its entries)
 *    So vm_munmap frees the frames of the caller's segments inside the
 *    range, cutting runs at the ends (page_split_contig), and
 *    vm_map_destroy frees every segment its entries cover, and nothing of
 *    any other map.
 *
 * 4. Locks and failure.  The lock order of map_impl.h gains one rung:
 *    a user map's writer side, then the shared map's writer side (held
 *    only to record or drop segments).  Frames are allocated, zeroed or
 *    copied, and entries allocated, before either lock; an error frees
 *    them again, so a failed call changes nothing.  vm_munmap allocates
 *    its two possible split entries up front (one per tree).
 *
 * 5. Concurrency.  With no faults there are no readers: every call here
 *    is a writer, and calls on different user maps meet only on the
 *    shared map's lock and inside the page allocator.
 */
#include <errno.h>
#include <string.h>

#include "lib/assert.h"
#include "lib/kprintf.h"
#include "vm/map_impl.h"

#define NPAGES(bytes) ((size_t)((bytes) >> PAGE_SHIFT))

static inline vaddr_t
max_va(vaddr_t a, vaddr_t b)
{
	return a > b ? a : b;
}

static inline vaddr_t
min_va(vaddr_t a, vaddr_t b)
{
	return a < b ? a : b;
}

static bool
entry_owns_memory(const struct vm_map_entry *e)
{
	return e->e_obj == NULL && (e->e_flags & VM_MAP_PRIVATE);
}

/*
 * A new run of size bytes for a segment: at addr exactly (fixed), at addr
 * if it is free (a hint), else anywhere aligned to align.
 * => 0 and *out, -EEXIST (fixed, frames in use), -EINVAL (fixed, not
 *    RAM), -ENOMEM.
 */
static int
segment_alloc(vaddr_t addr, size_t size, vaddr_t align, bool fixed,
    bool zero, struct vm_page **out)
{
	unsigned pflags = zero ? PAGE_ZERO : 0;

	if (vm_fail_now())
		return -ENOMEM;
	if (fixed)
		return page_alloc_range(addr, NPAGES(size), pflags, out);
	if (addr != 0 && (addr & (align - 1)) == 0 &&
	    page_alloc_range(addr, NPAGES(size), pflags | PAGE_NODRAIN,
	    out) == 0)
		return 0;
	*out = page_alloc_contig(NPAGES(size), align, pflags);
	return *out != NULL ? 0 : -ENOMEM;
}

/* Frees [s, e) of segment x, cutting its run (section 3, N1). */
static void
segment_free_part(struct vm_map_entry *x, vaddr_t s, vaddr_t e)
{
	struct vm_page *pg = pa_to_page(x->e_start), *part = pg;
	size_t n = NPAGES(x->e_end - x->e_start), len = NPAGES(e - s);

	VM_ASSERT(pg != NULL && x->e_start <= s && s < e && e <= x->e_end);
	if (s > x->e_start) {
		part = page_split_contig(pg, n, NPAGES(s - x->e_start));
		n -= NPAGES(s - x->e_start);
	}
	if (len < n)
		page_split_contig(part, n, len);
	page_free_contig(part, len);
}

/*
 * Frees owner's segments inside [s, e) and drops them from the shared
 * map; *spare serves the one split a segment straddling both ends needs.
 * Returns the bytes freed.  pre: the shared map's writer side.
 */
static size_t
segments_release_locked(vm_map_t shared, vm_map_t owner, vaddr_t s,
    vaddr_t e, struct vm_map_entry **spare)
{
	struct vm_map_entry *x, *next;
	size_t freed = 0;

	VM_ASSERT(vm_map_locked(shared));
	for (x = vm_map_first_after(shared, s); x != NULL && x->e_start < e;
	    x = next) {
		next = vm_entry_next(x);
		if (x->e_owner != owner)
			continue;
		vaddr_t cs = max_va(x->e_start, s), ce = min_va(x->e_end, e);
		segment_free_part(x, cs, ce);
		/* Only x meets [cs, ce): this clips x and nothing else. */
		vm_map_unmap_locked(shared, cs, ce, spare);
		freed += ce - cs;
	}
	return freed;
}

long
vm_map_nommu_mmap(vm_map_t map, vaddr_t addr, size_t size, unsigned prot,
    unsigned flags, vm_object_t obj, uint64_t offset, vaddr_t align,
    unsigned maxprot)
{
	vm_map_t shared = vm_map_kernel();
	bool fixed = (flags & (VM_MAP_FIXED | VM_MAP_FIXED_NOREPLACE)) != 0;
	bool own = (flags & VM_MAP_PRIVATE) &&
	    (obj == NULL || (prot & VM_PROT_WRITE));
	bool anon_shared = obj == NULL && (flags & VM_MAP_SHARED);
	struct vm_map_entry *n = NULL, *seg = NULL;
	struct vm_page *run = NULL;
	vm_object_t made = NULL;
	vaddr_t start;
	long err;

	VM_ASSERT(!HAL_MMU);
	if (map == shared && (obj != NULL || anon_shared))
		return -EINVAL;		/* section 2 */
	if (own || anon_shared) {
		err = segment_alloc(addr, size, align, fixed, obj == NULL,
		    &run);
		if (err != 0)
			goto fail;
		start = (vaddr_t)page_to_pa(run);
		if (anon_shared) {
			/* The run becomes the object's (its reference: n's). */
			made = obj = vm_object_segment_create(run, size);
			if (obj == NULL) {
				err = -ENOMEM;
				goto fail;
			}
			run = NULL;
		} else if (obj != NULL) {
			memcpy(hal_phys_to_virt(start),
			    hal_phys_to_virt(vm_object_phys_addr(obj) + offset),
			    size);
		}
	} else {
		start = (vaddr_t)(vm_object_phys_addr(obj) + offset);
		if ((fixed && addr != start) || (start & (align - 1)) ||
		    start < map->m_min || start + size > map->m_max) {
			err = -EINVAL;
			goto fail;
		}
	}
	err = -ENOMEM;
	if (map != shared && (n = vm_entry_alloc()) == NULL)
		goto fail;
	if (own && (seg = vm_entry_alloc()) == NULL)
		goto fail;
	if (n != NULL) {
		n->e_start = start;
		n->e_end = start + size;
		n->e_obj = own ? NULL : obj;
		n->e_offset = own ? 0 : offset;
		n->e_prot = (uint8_t)prot;
		n->e_maxprot = (uint8_t)maxprot;
		n->e_flags = (uint16_t)(flags & ENTRY_FLAGS);
		n->e_owner = map;
	}
	if (seg != NULL) {
		seg->e_start = start;
		seg->e_end = start + size;
		seg->e_obj = NULL;
		seg->e_offset = 0;
		seg->e_prot = (uint8_t)(map == shared ? prot : VM_PROT_ALL);
		seg->e_maxprot = (uint8_t)(map == shared ? maxprot :
		    VM_PROT_ALL);
		seg->e_flags = VM_MAP_PRIVATE | ENTRY_SEGMENT;
		seg->e_owner = map;
	}

	if (map != shared) {
		vm_map_write_lock(map);
		if (!vm_map_range_free(map, start, start + size)) {
			/*
			 * This map has the object's range already, or (a new
			 * segment) maps a physical object over frames the
			 * page allocator held free: one address, two uses.
			 */
			vm_map_write_unlock(map);
			err = -EEXIST;
			goto fail;
		}
	}
	if (seg != NULL) {
		vm_map_write_lock(shared);
		VM_ASSERT(vm_map_range_free(shared, start, start + size));
		vm_map_insert_locked(shared, seg);
		shared->m_changes++;
		vm_map_write_unlock(shared);
	}
	if (map != shared) {
		/* The map's reference: the one made, or a new one. */
		if (n->e_obj != NULL && made == NULL)
			vm_object_ref(obj);
		vm_map_insert_locked(map, n);
		map->m_changes++;
		vm_map_write_unlock(map);
	}
	return (long)start;

fail:
	/* No reference was taken for the entries yet. */
	if (n != NULL) {
		n->e_obj = NULL;
		vm_entry_free(n);
	}
	if (seg != NULL) {
		seg->e_obj = NULL;
		vm_entry_free(seg);
	}
	if (run != NULL)
		page_free_contig(run, NPAGES(size));
	if (made != NULL)
		vm_object_release(made);
	return err;
}

int
vm_map_nommu_munmap(vm_map_t map, vaddr_t addr, size_t size)
{
	vm_map_t shared = vm_map_kernel();
	struct vm_map_entry *spare, *sspare;
	vaddr_t end = addr + size;

	VM_ASSERT(!HAL_MMU);
	spare = vm_entry_alloc();
	sspare = vm_entry_alloc();
	/* Unused spares go back through vm_entry_free: no object. */
	if (spare != NULL)
		spare->e_obj = NULL;
	if (sspare != NULL)
		sspare->e_obj = NULL;
	if (spare == NULL || sspare == NULL) {
		if (spare != NULL)
			vm_entry_free(spare);
		if (sspare != NULL)
			vm_entry_free(sspare);
		return -ENOMEM;
	}
	if (map != shared) {
		vm_map_write_lock(map);
		if (!vm_map_range_free(map, addr, end)) {
			vm_map_unmap_locked(map, addr, end, &spare);
			map->m_changes++;
		}
	}
	vm_map_write_lock(shared);
	if (segments_release_locked(shared, map, addr, end, &sspare) != 0)
		shared->m_changes++;
	vm_map_write_unlock(shared);
	if (map != shared)
		vm_map_write_unlock(map);
	if (spare != NULL)
		vm_entry_free(spare);
	if (sspare != NULL)
		vm_entry_free(sspare);
	return 0;
}

void
vm_map_nommu_destroy_locked(vm_map_t map)
{
	vm_map_t shared = vm_map_kernel();
	struct vm_map_entry *none = NULL;

	VM_ASSERT(!HAL_MMU && map != shared && vm_map_locked(map));
	vm_map_write_lock(shared);
	for (struct vm_map_entry *e = vm_map_first_after(map, 0); e != NULL;
	    e = vm_entry_next(e))
		if (entry_owns_memory(e) && segments_release_locked(shared, map,
		    e->e_start, e->e_end, &none) != 0)
			shared->m_changes++;
	if (VM_DEBUG_LEVEL >= 2)
		for (struct vm_map_entry *x = vm_map_first_after(shared, 0);
		    x != NULL; x = vm_entry_next(x))
			VM_ASSERT(x->e_owner != map);
	vm_map_write_unlock(shared);
}

#define BAD(...) VM_MAP_BAD(shared, &ok, __VA_ARGS__)

/* N1-N3 for map.  Takes map's writer side, then the shared map's. */
bool
vm_map_nommu_is_valid(vm_map_t map)
{
	vm_map_t shared = vm_map_kernel();
	size_t owned = 0, covered = 0;
	bool ok = true;

	if (map != shared)
		vm_map_write_lock(map);
	vm_map_write_lock(shared);
	for (struct vm_map_entry *x = vm_map_first_after(shared, 0); x != NULL;
	    x = vm_entry_next(x)) {
		struct vm_page *pg = pa_to_page(x->e_start);
		if (!(x->e_flags & ENTRY_SEGMENT) || !entry_owns_memory(x))
			BAD("N1: entry at %#lx is not a segment",
			    (unsigned long)x->e_start);
		if (pg == NULL || pg_state(pg) != PG_ALLOC ||
		    !(pg->pg_flags & PGF_CONTIG) ||
		    pg->pg_npages != NPAGES(x->e_end - x->e_start))
			BAD("N1: segment [%#lx, %#lx) is not one run",
			    (unsigned long)x->e_start,
			    (unsigned long)x->e_end);
		if (x->e_owner == NULL || (x->e_owner != shared &&
		    (x->e_owner->m_magic != VM_MAP_MAGIC ||
		    !x->e_owner->m_user)))
			BAD("N2: segment at %#lx owned by %p",
			    (unsigned long)x->e_start, (void *)x->e_owner);
		if (x->e_owner == map)
			owned += x->e_end - x->e_start;
	}
	if (map != shared) {
		/* N3: every owning entry lies in segments of its own. */
		for (struct vm_map_entry *e = vm_map_first_after(map, 0);
		    e != NULL; e = vm_entry_next(e)) {
			if (!entry_owns_memory(e))
				continue;
			covered += e->e_end - e->e_start;
			vaddr_t at = e->e_start;
			for (struct vm_map_entry *x = vm_map_first_after(shared,
			    at); x != NULL && x->e_start <= at && at < e->e_end;
			    x = vm_entry_next(x))
				if (x->e_owner == map)
					at = x->e_end;
			if (at < e->e_end)
				BAD("N3: map %p: [%#lx, %#lx) not in its "
				    "segments from %#lx", (void *)map,
				    (unsigned long)e->e_start,
				    (unsigned long)e->e_end, (unsigned long)at);
		}
		if (covered != owned)
			BAD("N3: map %p owns %zu bytes of segments, its "
			    "entries %zu", (void *)map, owned, covered);
	}
	vm_map_write_unlock(shared);
	if (map != shared)
		vm_map_write_unlock(map);
	return ok;
}
