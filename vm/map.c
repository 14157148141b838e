/*
 * map.c: address-space maps (the contract is vm/map.h; layouts, lock order
 * and invariants in vm/map_impl.h).
 *
 * 1. Concepts.
 *    A map is a set of disjoint entries over a window [m_min, m_max) of
 *    virtual addresses, on one pmap.  An entry says what backs its range:
 *	private, no object	anonymous memory; pages are anons, made on
 *				first touch (zero-filled), held in the map's
 *				anon table (the amap, vm/amap.h)
 *	private, object		copy-on-write view of the object: reads map
 *				the object's pages read-only, the first write
 *				to a page copies it into an anon
 *	shared, object		the object's pages, with the entry's
 *				protection, seen by every map that maps them
 *    Translations are made lazily by the fault path (vm/fault.c); this
 *    file only ever removes or narrows them (pmap_remove, pmap_protect).
 *
 * 2. Data structures.
 *    Entries sit in an augmented red-black tree (lib/rbtree.h) keyed by
 *    start.  Each entry records the free gap just below it,
 *    e_gap = start - (previous entry's end, or m_min), and the largest
 *    e_gap of its subtree (e_maxgap, the augment); the gap above the last
 *    entry is computed from rb_last().  Whenever an entry's start moves,
 *    or the end of the entry before it moves, gap_fix() recomputes its
 *    e_gap and walks the change up (O(log n)).
 *    The amap is one slot table per map indexed by virtual page (amap.c
 *    section 1 says why one per map, not one per entry, suffices).
 *    Entries are merged eagerly: after vm_mmap and vm_mprotect no two
 *    neighbours are mergeable (same object at contiguous offsets, or both
 *    without object; same protection, limit and flags) - invariant I4.
 *    Splitting an entry ("clipping") copies it and, for an object, takes
 *    one more reference; nothing in the amap moves.
 *
 * 3. Gap search: O(log n).
 *    vm_mmap without a fixed address wants the lowest gap at or above a
 *    bound lo whose part above lo holds need = size + align - PAGE_SIZE
 *    bytes (then an aligned start always fits: the start rounds up by at
 *    most align - PAGE_SIZE).  gap_search() descends from the root,
 *    skipping every subtree whose e_maxgap < need; it goes left only when
 *    the left subtree can hold a gap that ends above lo, so apart from the
 *    O(log n) nodes whose gaps straddle lo it visits one root-to-leaf path.
 *    Asking for size + align - PAGE_SIZE rather than the exact aligned fit
 *    keeps the search logarithmic (as Linux's vm_unmapped_area does); the
 *    price is that a gap that fits only at a lucky alignment is not used.
 *    A hint address is taken as is when the range is free (vm_map_range_free():
 *    one O(log n) descent).
 *    Neither a hint nor the search goes below 4 KiB: when the user window
 *    starts at 0 (pmap.h, the low layout), page 0 is mapped only by a
 *    fixed request, so a null pointer stays a fault.
 *
 * 4. The lock-light fault lookup (the protocol, tested under TSan).
 *    Each map has a big-reader lock (ck_brlock): a writer flag, written
 *    only by writers, and one reader slot per cpu (struct vm_map_reader,
 *    own cache line), registered when the map is made.
 *      Reader (vm_fault, on cpu c):
 *	R1 store 1 to slot c; full fence (store-load); load the writer
 *	   flag; if set, store 0 to slot c, wait until the flag clears
 *	   (serving cross-calls when interrupts are off), start again
 *	R2 walk the tree, read the entry: no writer can run, so tree,
 *	   entries and gaps are stable, plain loads suffice
 *	R3 the page's amap slot (its VM_SLOT_BUSY bit, amap.c section 2)
 *	   orders this fault against other faults on the same page
 *	R4 release fence; store 0 to slot c
 *      Writer (vm_mmap, vm_munmap, vm_mprotect, vm_map_copy, destroy):
 *	W1 swap 1 into the writer flag until it was 0 (writers serialise)
 *	W2 wait until every reader slot reads 0: every fault that started
 *	   before W1 has finished, every later one waits at R1
 *	W3 change the tree, the pmap (pmap_remove/pmap_protect, which shoot
 *	   down before they return) and the amap (prune, drop anons) freely
 *	W4 release fence; store 0 to the writer flag
 *    Safety: R1 and W1/W2 are the two halves of a Dekker handshake (each
 *    side stores, fences, then loads the other's word), so a reader and a
 *    writer are never both inside.  So a fault never sees a freed entry
 *    or amap node, and a munmap never frees a page while a fault on
 *    another hart is about to map it.
 *    Cost: a fault writes only its own cpu's slot and reads the writer
 *    flag (a line that stays shared while there is no writer), then the
 *    per-page amap slot and its own per-cpu statistics: faults on
 *    disjoint pages of one map share no written line in this layer.  A
 *    writer pays O(ncpus) loads.  Faults do wait for a writer (mmap and
 *    munmap are short; pmap shootdowns are their longest part).
 *    Liveness: a writer waits with interrupts enabled (asserted), so a
 *    fault holding a reader slot that waits for this hart's shootdown
 *    acknowledgement inside pmap_enter is served; a fault waiting at R1
 *    with interrupts off serves cross-calls (vm_spin_wait), so the
 *    writer's own shootdowns complete.  Reader sections do not nest on a
 *    map and never take a writer side.  A reader section never sleeps:
 *    a fault that needs a pager (which may sleep) ends its section first
 *    and starts a new one after (fault.c section 5).  Faults do not
 *    migrate inside a section (rvmm does not preempt; a preemptive kernel
 *    disables preemption around vm_fault, which its sleep hook may
 *    switch away from: the section has ended by then).
 *    Baseline (VM_MAPF_MAPLOCK): both sides take one spinlock per map;
 *    every fault then writes that line (the "maplock" benchmark figure).
 *
 * 5. Operations and failure.
 *    Every call validates all arguments first (-EINVAL, -EACCES), then
 *    allocates what it may need (the new entry, a spare entry for a split,
 *    an anonymous object) before the writer lock, counting under the lock
 *    and retrying if it guessed short; pmap calls that may fail (-ENOMEM)
 *    run before the first change to the tree.  So an error leaves the map
 *    exactly as it was.  vm_map_copy allocates as it goes and, on failure,
 *    empties the child and leaves the parent's entries alone (some of the
 *    parent's translations may have lost W: the next write refaults).
 *    Failure injection: vm_debug_set_fail_every() makes every n-th
 *    allocation of the layer fail (vm_zalloc, vm_frame_alloc).
 *
 * 6. Observability: vm_map_stats, vm_stats, vm_map_entries, vm_map_dump,
 *    vm_map_is_valid (the invariants of map_impl.h).
 *
 * 7. Without an MMU (HAL_MMU == 0, meson -Dmmu=false).  Maps, entries,
 *    the tree and everything that reads or clips entries stay as above,
 *    with physical addresses; where memory comes from and goes to differs,
 *    and that is vm/map_nommu.c (its theory comment says how).  This file
 *    hands over at these points only, each an `if (!HAL_MMU)`: the kernel
 *    map becomes the shared map over RAM (vm_map_init), a user map's
 *    window is every physical address (vm_map_create), vm_mmap and
 *    vm_munmap go to map_nommu.c after the argument checks, vm_map_destroy
 *    gives the map's segments back, vm_mprotect and vm_map_copy return
 *    -ENOTSUP, vm_map_is_valid adds the no-MMU invariants.  The pmap is
 *    the identity (hal/nommu/pmap.c), so the pmap calls here still run
 *    and change nothing.
 */
#include <errno.h>

#include "lib/assert.h"
#include "lib/kprintf.h"
#include "vm/kmalloc.h"
#include "vm/map_impl.h"

static zone_t vm_map_zone, vm_entry_zone;
static vm_map_t kernel_map;
static bool map_ready;

#define PAGE_MASK ((vaddr_t)PAGE_SIZE - 1)
#define E(n) rb_entry((n), struct vm_map_entry, e_node)

/* ------------------------------------------------------------------ */
/* Entries.                                                            */

struct vm_map_entry *
vm_entry_alloc(void)
{
	return vm_zalloc(vm_entry_zone);
}

/* Frees an entry that is in no tree, with its object reference. */
void
vm_entry_free(struct vm_map_entry *e)
{
	if (e->e_obj != NULL)
		vm_object_release(e->e_obj);
	zone_free(vm_entry_zone, e);
}

/* ------------------------------------------------------------------ */
/* The tree.                                                           */

static int
entry_cmp(const struct rb_node *a, const struct rb_node *b)
{
	vaddr_t x = E(a)->e_start, y = E(b)->e_start;

	return x < y ? -1 : x > y;
}

static bool
entry_augment(struct rb_node *n)
{
	struct vm_map_entry *e = E(n);
	vaddr_t m = e->e_gap;

	if (n->left != NULL && E(n->left)->e_maxgap > m)
		m = E(n->left)->e_maxgap;
	if (n->right != NULL && E(n->right)->e_maxgap > m)
		m = E(n->right)->e_maxgap;
	if (m == e->e_maxgap)
		return false;
	e->e_maxgap = m;
	return true;
}

struct vm_map_entry *
vm_entry_next(struct vm_map_entry *e)
{
	struct rb_node *n = rb_next(&e->e_node);

	return n ? E(n) : NULL;
}

static inline struct vm_map_entry *
entry_prev(struct vm_map_entry *e)
{
	struct rb_node *n = rb_prev(&e->e_node);

	return n ? E(n) : NULL;
}

/* Whether the calling hart may read the tree (either side held). */
bool
vm_map_locked(vm_map_t map)
{
	if (map->m_flags & VM_MAPF_MAPLOCK)
		return ck_spinlock_locked(&map->m_maplock);
	return ck_pr_load_uint(&map->m_lock.writer) != 0 ||
	    ck_pr_load_uint(&map->m_readers[hal_cpu_id()].r.n_readers) != 0;
}

/* The entry containing va, or NULL.  pre: either side of the lock. */
struct vm_map_entry *
vm_map_lookup_locked(vm_map_t map, vaddr_t va)
{
	struct rb_node *n = map->m_tree.root;

	VM_ASSERT(vm_map_locked(map));
	while (n != NULL) {
		struct vm_map_entry *e = E(n);
		if (va < e->e_start)
			n = n->left;
		else if (va >= e->e_end)
			n = n->right;
		else
			return e;
	}
	return NULL;
}

/* The first entry with end > va, or NULL.  pre: writer. */
struct vm_map_entry *
vm_map_first_after(vm_map_t map, vaddr_t va)
{
	struct rb_node *n = map->m_tree.root;
	struct vm_map_entry *best = NULL;

	while (n != NULL) {
		struct vm_map_entry *e = E(n);
		if (e->e_end > va) {
			best = e;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

static vaddr_t
prev_end(vm_map_t map, struct vm_map_entry *e)
{
	struct vm_map_entry *p = entry_prev(e);

	return p ? p->e_end : map->m_min;
}

/* Recomputes e's gap after its start or its predecessor's end moved. */
static void
gap_fix(vm_map_t map, struct vm_map_entry *e)
{
	if (e == NULL)
		return;
	e->e_gap = e->e_start - prev_end(map, e);
	rb_augment_update(&map->m_tree, &e->e_node);
}

static void
tree_insert(vm_map_t map, struct vm_map_entry *e)
{
	e->e_gap = 0;		/* set for real by gap_fix below */
	e->e_maxgap = 0;
	rb_insert(&map->m_tree, &e->e_node);
	gap_fix(map, e);
	gap_fix(map, vm_entry_next(e));
	map->m_nentries++;
	map->m_mapped += e->e_end - e->e_start;
}

static void
tree_remove(vm_map_t map, struct vm_map_entry *e)
{
	struct vm_map_entry *next = vm_entry_next(e);

	rb_remove(&map->m_tree, &e->e_node);
	gap_fix(map, next);
	map->m_nentries--;
	map->m_mapped -= e->e_end - e->e_start;
}

bool
vm_map_range_free(vm_map_t map, vaddr_t s, vaddr_t e)
{
	struct vm_map_entry *x = vm_map_first_after(map, s);

	return x == NULL || x->e_start >= e;
}

/* Section 3: lowest gap start >= lo in n's subtree with need bytes. */
static bool
gap_search(struct rb_node *n, vaddr_t lo, vaddr_t need, vaddr_t *out)
{
	while (n != NULL && E(n)->e_maxgap >= need) {
		struct vm_map_entry *e = E(n);
		vaddr_t gs = e->e_start - e->e_gap;
		/* Left gaps all end at or below gs. */
		if (gs > lo && gap_search(n->left, lo, need, out))
			return true;
		vaddr_t s = gs > lo ? gs : lo;
		if (e->e_start > s && e->e_start - s >= need) {
			*out = s;
			return true;
		}
		n = n->right;
	}
	return false;
}

/* A free start for size bytes aligned to align at or above lo, or 0. */
static vaddr_t
gap_find(vm_map_t map, vaddr_t size, vaddr_t align, vaddr_t lo)
{
	vaddr_t need = size + align - PAGE_SIZE, s;
	struct rb_node *last;

	if (need < size)
		return 0;
	if (!gap_search(map->m_tree.root, lo, need, &s)) {
		last = rb_last(&map->m_tree);
		s = last ? E(last)->e_end : map->m_min;
		if (s < lo)
			s = lo;
		if (s >= map->m_max || map->m_max - s < need)
			return 0;
	}
	return (s + align - 1) & ~(align - 1);
}

static bool
entry_mergeable(const struct vm_map_entry *a, const struct vm_map_entry *b)
{
	return a->e_end == b->e_start && a->e_obj == b->e_obj &&
	    a->e_owner == b->e_owner && !(a->e_flags & ENTRY_SEGMENT) &&
	    (a->e_obj == NULL ||
	    a->e_offset + (a->e_end - a->e_start) == b->e_offset) &&
	    a->e_prot == b->e_prot && a->e_maxprot == b->e_maxprot &&
	    a->e_flags == b->e_flags;
}

/* Merges b (the next entry) into a. */
static void
entry_merge_next(vm_map_t map, struct vm_map_entry *a, struct vm_map_entry *b)
{
	vaddr_t end = b->e_end;

	VM_ASSERT(entry_mergeable(a, b));
	tree_remove(map, b);
	map->m_mapped += end - a->e_end;
	a->e_end = end;
	gap_fix(map, vm_entry_next(a));	/* its gap was measured from b */
	vm_entry_free(b);
}

/*
 * Splits x at va (x->e_start < va < x->e_end): x keeps [start, va), the
 * spare y gets [va, end).  Returns y.
 */
static struct vm_map_entry *
entry_split(vm_map_t map, struct vm_map_entry *x, vaddr_t va,
    struct vm_map_entry *y)
{
	VM_ASSERT(y != NULL && x->e_start < va && va < x->e_end);
	*y = *x;
	y->e_start = va;
	y->e_offset = x->e_offset + (va - x->e_start);
	if (y->e_obj != NULL)
		vm_object_ref(y->e_obj);
	map->m_mapped -= x->e_end - va;
	x->e_end = va;
	tree_insert(map, y);
	return y;
}

/* ------------------------------------------------------------------ */
/* Locks (section 4).                                                  */

void
vm_map_write_lock(vm_map_t map)
{
	VM_PANIC_IF(!hal_intr_enabled(), "map %p: writer side taken with "
	    "interrupts disabled", (void *)map);
	if (map->m_flags & VM_MAPF_MAPLOCK) {
		while (!ck_spinlock_trylock(&map->m_maplock))
			vm_spin_wait();
	} else {
		ck_brlock_write_lock(&map->m_lock);
	}
	/* Last object references dropped from now on wait (object.c 8). */
	vm_object_defer_begin();
}

void
vm_map_write_unlock(vm_map_t map)
{
	struct vm_object *dead = vm_object_defer_end();

	if (map->m_flags & VM_MAPF_MAPLOCK)
		ck_spinlock_unlock(&map->m_maplock);
	else
		ck_brlock_write_unlock(&map->m_lock);
	/* Pagers' put and release, with no lock held. */
	vm_object_reap(dead);
}

void
vm_map_read_lock(vm_map_t map)
{
	if (map->m_flags & VM_MAPF_MAPLOCK) {
		while (!ck_spinlock_trylock(&map->m_maplock))
			vm_spin_wait();
		return;
	}
	ck_brlock_reader_t *r = &map->m_readers[hal_cpu_id()].r;
	while (!ck_brlock_read_trylock(&map->m_lock, r, 1))
		vm_spin_wait();
}

void
vm_map_read_unlock(vm_map_t map)
{
	if (map->m_flags & VM_MAPF_MAPLOCK)
		ck_spinlock_unlock(&map->m_maplock);
	else
		ck_brlock_read_unlock(&map->m_readers[hal_cpu_id()].r);
}

void
vm_map_check(vm_map_t map, const char *fn)
{
	VM_PANIC_IF(map == NULL || map->m_magic != VM_MAP_MAGIC,
	    "%s(%p): not a map", fn, (void *)map);
}

/* ------------------------------------------------------------------ */
/* Amap ranges.                                                        */

static int
drop_anon(uint64_t idx, uintptr_t *w, void *arg)
{
	(void)idx;
	(void)arg;
	vm_anon_unref((struct vm_anon *)*w);
	ck_pr_store_ptr((void **)w, NULL);
	return 0;
}

/* Drops every anon of [s, e).  pre: writer. */
static void
amap_clear(vm_map_t map, vaddr_t s, vaddr_t e)
{
	vm_slots_foreach(&map->m_amap, (s - map->m_min) >> PAGE_SHIFT,
	    (e - map->m_min) >> PAGE_SHIFT, drop_anon, NULL, true);
}

/*
 * Removes [s, e) from the tree: clips entries that straddle an end (one
 * that straddles both takes *spare), frees the others, drops the anons.
 * The caller has removed the translations.  pre: writer.
 */
void
vm_map_unmap_locked(vm_map_t map, vaddr_t s, vaddr_t e,
    struct vm_map_entry **spare)
{
	struct vm_map_entry *x = vm_map_first_after(map, s), *next;
	bool priv = false;

	VM_ASSERT(vm_map_locked(map));
	while (x != NULL && x->e_start < e) {
		next = vm_entry_next(x);
		if (!(x->e_flags & VM_MAP_SHARED))
			priv = true;
		if (x->e_start < s && x->e_end > e) {
			struct vm_map_entry *y = entry_split(map, x, e, *spare);
			*spare = NULL;
			map->m_mapped -= x->e_end - s;
			x->e_end = s;
			gap_fix(map, y);
			break;
		}
		if (x->e_start < s) {
			map->m_mapped -= x->e_end - s;
			x->e_end = s;
			gap_fix(map, next);
		} else if (x->e_end > e) {
			map->m_mapped -= e - x->e_start;
			x->e_offset += e - x->e_start;
			x->e_start = e;
			gap_fix(map, x);
		} else {
			tree_remove(map, x);
			vm_entry_free(x);
		}
		x = next;
	}
	if (priv)
		amap_clear(map, s, e);
}

/* Entries of [s, e) that are not wholly inside: 0, 1 or 2 splits. */
static unsigned
splits_needed(vm_map_t map, vaddr_t s, vaddr_t e, bool both_ends)
{
	struct vm_map_entry *x = vm_map_first_after(map, s);
	unsigned n = 0;

	if (x == NULL || x->e_start >= e)
		return 0;
	if (!both_ends)
		return x->e_start < s && x->e_end > e;
	if (x->e_start < s)
		n++;
	x = vm_map_lookup_locked(map, e - 1);
	if (x != NULL && x->e_end > e)
		n++;
	return n;
}

/* Inserts n (not in the tree; range free), merging with neighbours. */
void
vm_map_insert_locked(vm_map_t map, struct vm_map_entry *n)
{
	struct vm_map_entry *next = vm_map_first_after(map, n->e_start);
	struct vm_map_entry *prev;
	struct rb_node *last;

	VM_ASSERT(vm_map_locked(map));
	if (next != NULL) {
		prev = entry_prev(next);
	} else {
		last = rb_last(&map->m_tree);
		prev = last ? E(last) : NULL;
	}
	VM_ASSERT(next == NULL || next->e_start >= n->e_end);
	if (prev != NULL && entry_mergeable(prev, n)) {
		map->m_mapped += n->e_end - prev->e_end;
		prev->e_end = n->e_end;
		if (next != NULL && entry_mergeable(prev, next))
			entry_merge_next(map, prev, next);
		else
			gap_fix(map, next);
		vm_entry_free(n);
		return;
	}
	if (next != NULL && entry_mergeable(n, next)) {
		map->m_mapped += next->e_start - n->e_start;
		next->e_start = n->e_start;
		next->e_offset = n->e_offset;
		gap_fix(map, next);
		vm_entry_free(n);
		return;
	}
	tree_insert(map, n);
}

/* ------------------------------------------------------------------ */
/* Create, destroy, activate.                                          */

static void
map_setup(vm_map_t map, pmap_t pmap, vaddr_t min, vaddr_t max,
    unsigned flags, bool user)
{
	map->m_magic = VM_MAP_MAGIC;
	rb_init(&map->m_tree, entry_cmp, entry_augment);
	map->m_min = min;
	map->m_max = max;
	map->m_pmap = pmap;
	map->m_flags = flags;
	map->m_user = user;
	vm_slots_init(&map->m_amap);
	map->m_nentries = 0;
	map->m_mapped = 0;
	map->m_changes = 0;
	ck_brlock_init(&map->m_lock);
	ck_spinlock_init(&map->m_maplock);
	for (unsigned c = 0; c < hal_ncpus(); c++)
		ck_brlock_read_register(&map->m_lock, &map->m_readers[c].r);
}

void
vm_map_init(void)
{
	const struct hal_mem_range *r;
	paddr_t ram_end = 0, ram_base = ~(paddr_t)0;
	unsigned n;

	if (map_ready)
		return;
	zone_init();
	kmalloc_init();
	vm_layer_init();
	vm_map_zone = zone_create("vm-map", sizeof(struct vm_map),
	    HAL_CACHE_LINE, NULL, NULL, 0);
	vm_entry_zone = zone_create("vm-map-entry",
	    sizeof(struct vm_map_entry), 0, NULL, NULL, 0);
	VM_PANIC_IF(vm_map_zone == NULL || vm_entry_zone == NULL,
	    "vm_map_init: cannot create zones");

	n = hal_mem_regions(&r);
	for (unsigned i = 0; i < n; i++) {
		if (r[i].base + r[i].size > ram_end)
			ram_end = r[i].base + r[i].size;
		if (r[i].base < ram_base)
			ram_base = r[i].base;
	}
	if (!HAL_MMU) {
		/* Section 7: the shared map covers the RAM regions. */
		kernel_map = zone_alloc(vm_map_zone, 0);
		VM_PANIC_IF(kernel_map == NULL, "vm_map_init: no memory");
		map_setup(kernel_map, pmap_kernel(), (vaddr_t)ram_base,
		    (vaddr_t)ram_end, 0, false);
	} else {
		/* The kernel map: above all RAM, in the kernel window. */
		vaddr_t klo, khi;
		pmap_kernel_map_range(&klo, &khi);
		if (klo < khi) {
			kernel_map = zone_alloc(vm_map_zone, 0);
			VM_PANIC_IF(kernel_map == NULL,
			    "vm_map_init: no memory");
			map_setup(kernel_map, pmap_kernel(), klo, khi,
			    VM_MAPF_WXORX, false);
		}
	}
	ck_pr_store_8((uint8_t *)&map_ready, 1);
}

vm_map_t
vm_map_create(unsigned flags)
{
	vm_map_t map;
	pmap_t pmap;

	if (flags & ~(VM_MAPF_WXORX | VM_MAPF_MAPLOCK))
		return NULL;
	map = vm_zalloc(vm_map_zone);
	if (map == NULL)
		return NULL;
	pmap = vm_fail_now() ? NULL : pmap_create();
	if (pmap == NULL) {
		zone_free(vm_map_zone, map);
		return NULL;
	}
	if (HAL_MMU)
		map_setup(map, pmap, pmap_user_min(), pmap_user_max(), flags,
		    true);
	else
		map_setup(map, pmap, VM_NOMMU_MIN, VM_NOMMU_MAX, flags, true);
	return map;
}

void
vm_map_destroy(vm_map_t map)
{
	struct rb_node *n;
	unsigned cpu;

	vm_map_check(map, "vm_map_destroy");
	VM_PANIC_IF(map == kernel_map, "vm_map_destroy(%p): the kernel map",
	    (void *)map);
	VM_PANIC_IF(vm_map_is_current_anywhere(map, &cpu),
	    "vm_map_destroy(%p): still active on cpu %u", (void *)map, cpu);
	vm_map_write_lock(map);
	if (!HAL_MMU)
		vm_map_nommu_destroy_locked(map);
	/* No hart uses the pmap: drop it whole, then the pages. */
	pmap_destroy(map->m_pmap);
	map->m_pmap = NULL;
	while ((n = rb_first(&map->m_tree)) != NULL) {
		struct vm_map_entry *e = E(n);
		tree_remove(map, e);
		vm_entry_free(e);
	}
	vm_slots_foreach(&map->m_amap, 0, VM_SLOT_MAX, drop_anon, NULL, true);
	vm_slots_destroy(&map->m_amap);
	map->m_magic = 0;
	vm_map_write_unlock(map);
	zone_free(vm_map_zone, map);
}

vm_map_t
vm_map_kernel(void)
{
	return kernel_map;
}

pmap_t
vm_map_pmap(vm_map_t map)
{
	return map->m_pmap;
}

void
vm_map_window(vm_map_t map, vaddr_t *min, vaddr_t *max)
{
	*min = map->m_min;
	*max = map->m_max;
}

void
vm_map_activate(vm_map_t map)
{
	if (map == NULL || map == kernel_map) {
		pmap_activate(pmap_kernel());
		vm_fault_set_current(NULL);
		return;
	}
	vm_map_check(map, "vm_map_activate");
	pmap_activate(map->m_pmap);
	vm_fault_set_current(map);
}

/* ------------------------------------------------------------------ */
/* mmap.                                                               */

/* The checks of vm_mmap that need no lock; fills *maxprot. */
static int
mmap_check(vm_map_t map, vaddr_t addr, size_t size, unsigned prot,
    unsigned flags, vm_object_t obj, uint64_t offset, vaddr_t *alignp,
    unsigned *maxprotp)
{
	unsigned ashift = (flags & VM_MAP_ALIGN_MASK) >> VM_MAP_ALIGN_SHIFT;
	bool fixed = (flags & (VM_MAP_FIXED | VM_MAP_FIXED_NOREPLACE)) != 0;
	unsigned maxprot;
	vaddr_t align = PAGE_SIZE;

	if ((flags & ~VM_MAP_FLAGS_ALL) || (prot & ~VM_PROT_ALL) ||
	    ((prot & VM_PROT_WRITE) && !(prot & VM_PROT_READ)))
		return -EINVAL;
	if (size == 0 || (size & PAGE_MASK) || (addr & PAGE_MASK) ||
	    (offset & PAGE_MASK) || addr + size < addr)
		return -EINVAL;
	if (!(flags & VM_MAP_SHARED) == !(flags & VM_MAP_PRIVATE))
		return -EINVAL;
	if ((flags & VM_MAP_FIXED) && (flags & VM_MAP_FIXED_NOREPLACE))
		return -EINVAL;
	if (ashift != 0) {
		if (ashift < PAGE_SHIFT || ashift > VM_MAP_ALIGN_MAX)
			return -EINVAL;
		align = (vaddr_t)1 << ashift;
	}
	if (fixed && (addr < map->m_min || addr + size > map->m_max ||
	    (addr & (align - 1))))
		return -EINVAL;
	if (obj != NULL)
		vm_object_check(obj, "vm_mmap");
	if (flags & VM_MAP_ANON) {
		if (obj != NULL || offset != 0 ||
		    (flags & (VM_MAP_DEVICE | VM_MAP_UNCACHED)))
			return -EINVAL;
		maxprot = VM_PROT_ALL;
	} else {
		if (obj == NULL || offset + size < offset ||
		    offset + size > obj->o_size)
			return -EINVAL;
		if ((flags & VM_MAP_DEVICE) && (flags & VM_MAP_UNCACHED))
			return -EINVAL;
		if ((flags & (VM_MAP_DEVICE | VM_MAP_UNCACHED)) &&
		    obj->o_kind != VM_OBJ_PHYS)
			return -EINVAL;
		if (obj->o_kind == VM_OBJ_PHYS && !(flags & VM_MAP_SHARED))
			return -EINVAL;
		maxprot = obj->o_maxprot;
		/* Private writes go to copies: a readable object will do. */
		if ((flags & VM_MAP_PRIVATE) && (maxprot & VM_PROT_READ))
			maxprot |= VM_PROT_WRITE;
	}
	if (prot & ~maxprot)
		return -EACCES;
	if ((map->m_flags & VM_MAPF_WXORX) && (prot & VM_PROT_WRITE) &&
	    (prot & VM_PROT_EXEC))
		return -EACCES;
	*alignp = align;
	*maxprotp = maxprot;
	return 0;
}

long
vm_mmap(vm_map_t map, vaddr_t addr, size_t size, unsigned prot,
    unsigned flags, vm_object_t obj, uint64_t offset)
{
	struct vm_map_entry *n, *spare = NULL;
	bool fixed = (flags & (VM_MAP_FIXED | VM_MAP_FIXED_NOREPLACE)) != 0;
	vaddr_t align, start = 0;
	unsigned maxprot;
	long err;

	vm_map_check(map, "vm_mmap");
	err = mmap_check(map, addr, size, prot, flags, obj, offset, &align,
	    &maxprot);
	if (err != 0)
		return err;
	if (!HAL_MMU)
		return vm_map_nommu_mmap(map, addr, size, prot, flags, obj,
		    offset, align, maxprot);
	if (size > map->m_max - map->m_min)
		return -ENOMEM;
	n = vm_entry_alloc();
	if (n == NULL)
		return -ENOMEM;
	if ((flags & VM_MAP_ANON) && (flags & VM_MAP_SHARED)) {
		obj = vm_object_anon_create(size);
		if (obj == NULL) {
			zone_free(vm_entry_zone, n);
			return -ENOMEM;
		}
	} else if (obj != NULL) {
		vm_object_ref(obj);
	}
	n->e_obj = (flags & VM_MAP_ANON) && (flags & VM_MAP_PRIVATE) ?
	    NULL : obj;
	n->e_offset = offset;
	n->e_prot = (uint8_t)prot;
	n->e_maxprot = (uint8_t)maxprot;
	n->e_flags = (uint16_t)(flags & ENTRY_FLAGS);
	n->e_owner = map;

	for (;;) {
		vm_map_write_lock(map);
		if (!fixed || spare != NULL ||
		    splits_needed(map, addr, addr + size, false) == 0)
			break;
		vm_map_write_unlock(map);
		spare = vm_entry_alloc();
		if (spare == NULL) {
			err = -ENOMEM;
			goto fail;
		}
	}
	if (fixed) {
		start = addr;
		if (!vm_map_range_free(map, start, start + size)) {
			if (flags & VM_MAP_FIXED_NOREPLACE) {
				err = -EEXIST;
				goto fail_locked;
			}
			err = pmap_remove(map->m_pmap, start, start + size);
			if (err != 0)
				goto fail_locked;
			vm_map_unmap_locked(map, start, start + size, &spare);
		}
	} else {
		/* Section 3: page 0 only with FIXED. */
		vaddr_t floor = map->m_min < PAGE_SIZE ? PAGE_SIZE : map->m_min;
		if (addr != 0 && (addr & (align - 1)) == 0 &&
		    addr >= floor && addr + size <= map->m_max &&
		    vm_map_range_free(map, addr, addr + size))
			start = addr;
		if (start == 0 && addr > floor && addr < map->m_max)
			start = gap_find(map, size, align, addr);
		if (start == 0)
			start = gap_find(map, size, align, floor);
		if (start == 0) {
			err = -ENOMEM;
			goto fail_locked;
		}
	}
	n->e_start = start;
	n->e_end = start + size;
	vm_map_insert_locked(map, n);
	map->m_changes++;
	vm_map_write_unlock(map);
	if (spare != NULL)
		zone_free(vm_entry_zone, spare);
	return (long)start;

fail_locked:
	vm_map_write_unlock(map);
fail:
	if (spare != NULL)
		zone_free(vm_entry_zone, spare);
	vm_entry_free(n);
	return err;
}

/* ------------------------------------------------------------------ */
/* munmap, mprotect.                                                   */

static int
range_check(vm_map_t map, vaddr_t addr, size_t size)
{
	if (size == 0 || (size & PAGE_MASK) || (addr & PAGE_MASK) ||
	    addr + size < addr || addr < map->m_min ||
	    addr + size > map->m_max)
		return -EINVAL;
	return 0;
}

int
vm_munmap(vm_map_t map, vaddr_t addr, size_t size)
{
	struct vm_map_entry *spare = NULL;
	vaddr_t end = addr + size;
	int err;

	vm_map_check(map, "vm_munmap");
	err = range_check(map, addr, size);
	if (err != 0)
		return err;
	if (!HAL_MMU)
		return vm_map_nommu_munmap(map, addr, size);
	for (;;) {
		vm_map_write_lock(map);
		if (spare != NULL || splits_needed(map, addr, end, false) == 0)
			break;
		vm_map_write_unlock(map);
		spare = vm_entry_alloc();
		if (spare == NULL)
			return -ENOMEM;
	}
	if (!vm_map_range_free(map, addr, end)) {
		err = pmap_remove(map->m_pmap, addr, end);
		if (err == 0) {
			vm_map_unmap_locked(map, addr, end, &spare);
			map->m_changes++;
		}
	}
	vm_map_write_unlock(map);
	if (spare != NULL)
		zone_free(vm_entry_zone, spare);
	return err;
}

/*
 * Checks [s, e) for vm_mprotect under the lock: 0 and the number of
 * splits and whether any permission goes away, or -ENOMEM (a hole),
 * -EACCES (beyond maxprot).
 */
static int
mprotect_scan(vm_map_t map, vaddr_t s, vaddr_t e, unsigned prot,
    unsigned *splits, bool *narrows)
{
	struct vm_map_entry *x = vm_map_first_after(map, s);
	vaddr_t at = s;

	*splits = 0;
	*narrows = false;
	for (; x != NULL && x->e_start < e; x = vm_entry_next(x)) {
		if (x->e_start > at)
			return -ENOMEM;
		if (prot & ~x->e_maxprot)
			return -EACCES;
		if (x->e_prot != prot) {
			if (x->e_start < s)
				(*splits)++;
			if (x->e_end > e)
				(*splits)++;
		}
		if (x->e_prot & ~prot)
			*narrows = true;
		at = x->e_end;
	}
	return at >= e ? 0 : -ENOMEM;
}

int
vm_mprotect(vm_map_t map, vaddr_t addr, size_t size, unsigned prot)
{
	struct vm_map_entry *spare[2] = { NULL, NULL }, *x, *next;
	vaddr_t end = addr + size;
	unsigned have = 0, splits;
	bool narrows;
	int err;

	vm_map_check(map, "vm_mprotect");
	if (!HAL_MMU)
		return -ENOTSUP;	/* section 7: nothing to enforce it */
	err = range_check(map, addr, size);
	if (err != 0)
		return err;
	if ((prot & ~VM_PROT_ALL) ||
	    ((prot & VM_PROT_WRITE) && !(prot & VM_PROT_READ)))
		return -EINVAL;
	if ((map->m_flags & VM_MAPF_WXORX) && (prot & VM_PROT_WRITE) &&
	    (prot & VM_PROT_EXEC))
		return -EACCES;
	for (;;) {
		vm_map_write_lock(map);
		err = mprotect_scan(map, addr, end, prot, &splits, &narrows);
		if (err != 0 || have >= splits)
			break;
		vm_map_write_unlock(map);
		while (have < splits) {
			spare[have] = vm_entry_alloc();
			if (spare[have] == NULL) {
				err = -ENOMEM;
				goto out;
			}
			have++;
		}
	}
	if (err != 0)
		goto out_locked;
	if (narrows) {
		err = pmap_protect(map->m_pmap, addr, end, prot);
		if (err != 0)
			goto out_locked;
	}
	/* Clip, set, then merge from the entry before addr to the one after. */
	x = vm_map_first_after(map, addr);
	if (x->e_start < addr && x->e_prot != prot) {
		x = entry_split(map, x, addr, spare[--have]);
		spare[have] = NULL;
	}
	for (; x != NULL && x->e_start < end; x = vm_entry_next(x)) {
		if (x->e_end > end && x->e_prot != prot) {
			entry_split(map, x, end, spare[--have]);
			spare[have] = NULL;
		}
		x->e_prot = (uint8_t)prot;
	}
	x = vm_map_first_after(map, addr);
	if (x != NULL && entry_prev(x) != NULL)
		x = entry_prev(x);
	while (x != NULL && x->e_start <= end) {
		next = vm_entry_next(x);
		if (next != NULL && entry_mergeable(x, next))
			entry_merge_next(map, x, next);
		else
			x = next;
	}
	map->m_changes++;
out_locked:
	vm_map_write_unlock(map);
out:
	for (unsigned i = 0; i < 2; i++)
		if (spare[i] != NULL)
			zone_free(vm_entry_zone, spare[i]);
	return err;
}

/* ------------------------------------------------------------------ */
/* Fork.                                                               */

struct copy_arg {
	vm_map_t dst;
	size_t n;
};

static int
copy_anon(uint64_t idx, uintptr_t *w, void *arg)
{
	struct copy_arg *ca = arg;
	uintptr_t *d = vm_slots_get(&ca->dst->m_amap, idx, true);

	if (d == NULL)
		return -ENOMEM;
	VM_ASSERT(*d == 0);
	vm_anon_ref((struct vm_anon *)*w);
	ck_pr_store_ptr((void **)d, (void *)*w);
	ca->n++;
	return 0;
}

int
vm_map_copy(vm_map_t dst, vm_map_t src)
{
	struct copy_arg ca = { dst, 0 };
	struct vm_map_entry *x, *y;
	struct rb_node *n;
	int err = 0;

	vm_map_check(dst, "vm_map_copy");
	vm_map_check(src, "vm_map_copy");
	if (!HAL_MMU)
		return -ENOTSUP;	/* section 7: no copy-on-write */
	if (dst == src || !dst->m_user || !src->m_user ||
	    dst->m_min != src->m_min ||
	    ((dst->m_flags & VM_MAPF_WXORX) && !(src->m_flags & VM_MAPF_WXORX)))
		return -EINVAL;
	vm_map_write_lock(src);
	vm_map_write_lock(dst);
	if (dst->m_nentries != 0) {
		err = -EINVAL;
		goto out;
	}
	for (n = rb_first(&src->m_tree); n != NULL; n = rb_next(n)) {
		x = E(n);
		if (x->e_flags & VM_MAP_NOINHERIT)
			continue;
		y = vm_entry_alloc();
		if (y == NULL) {
			err = -ENOMEM;
			break;
		}
		*y = *x;
		y->e_owner = dst;
		if (y->e_obj != NULL)
			vm_object_ref(y->e_obj);
		tree_insert(dst, y);
		if (x->e_flags & VM_MAP_SHARED)
			continue;
		ca.n = 0;
		err = vm_slots_foreach(&src->m_amap,
		    (x->e_start - src->m_min) >> PAGE_SHIFT,
		    (x->e_end - src->m_min) >> PAGE_SHIFT, copy_anon, &ca,
		    false);
		if (err != 0)
			break;
		/* Shared anons: the parent may no longer write them. */
		if (ca.n != 0 && (x->e_prot & VM_PROT_WRITE)) {
			err = pmap_protect(src->m_pmap, x->e_start, x->e_end,
			    x->e_prot & ~VM_PROT_WRITE);
			if (err != 0)
				break;
		}
	}
	if (err != 0) {
		/* Empty the child again (no split: the whole window). */
		struct vm_map_entry *none = NULL;
		vm_map_unmap_locked(dst, dst->m_min, dst->m_max, &none);
		amap_clear(dst, dst->m_min, dst->m_max);
		VM_ASSERT(dst->m_nentries == 0);
	} else {
		src->m_changes++;
		dst->m_changes++;
	}
out:
	vm_map_write_unlock(dst);
	vm_map_write_unlock(src);
	return err;
}

/* ------------------------------------------------------------------ */
/* Introspection.                                                      */

static void
entry_info(const struct vm_map_entry *e, struct vm_map_entry_info *o)
{
	o->start = e->e_start;
	o->end = e->e_end;
	o->prot = e->e_prot;
	o->maxprot = e->e_maxprot;
	o->flags = e->e_flags & ENTRY_FLAGS;
	o->object = e->e_obj;
	o->offset = e->e_offset;
	o->owner = e->e_owner;
}

size_t
vm_map_entries(vm_map_t map, struct vm_map_entry_info *out, size_t max)
{
	size_t i = 0;

	vm_map_check(map, "vm_map_entries");
	vm_map_write_lock(map);
	for (struct rb_node *n = rb_first(&map->m_tree); n != NULL;
	    n = rb_next(n), i++)
		if (i < max)
			entry_info(E(n), &out[i]);
	vm_map_write_unlock(map);
	return i;
}

bool
vm_map_lookup(vm_map_t map, vaddr_t va, struct vm_map_entry_info *out)
{
	struct vm_map_entry *e;

	vm_map_check(map, "vm_map_lookup");
	vm_map_write_lock(map);
	e = vm_map_lookup_locked(map, va);
	if (e != NULL)
		entry_info(e, out);
	vm_map_write_unlock(map);
	return e != NULL;
}

static int
count_slot(uint64_t idx, uintptr_t *w, void *arg)
{
	(void)idx;
	(void)w;
	(*(size_t *)arg)++;
	return 0;
}

void
vm_map_stats(vm_map_t map, struct vm_map_stats *out)
{
	struct rb_node *last;
	size_t n = 0;

	vm_map_check(map, "vm_map_stats");
	vm_map_write_lock(map);
	out->entries = map->m_nentries;
	out->mapped = map->m_mapped;
	vm_slots_foreach(&map->m_amap, 0, VM_SLOT_MAX, count_slot, &n, false);
	out->anons = n;
	out->amap_nodes = ck_pr_load_64((uint64_t *)&map->m_amap.nodes);
	out->changes = map->m_changes;
	out->largest_gap = map->m_tree.root ? E(map->m_tree.root)->e_maxgap : 0;
	last = rb_last(&map->m_tree);
	vaddr_t tail = map->m_max - (last ? E(last)->e_end : map->m_min);
	if (tail > out->largest_gap)
		out->largest_gap = tail;
	vm_map_write_unlock(map);
}

void
vm_stats(struct vm_stats *out)
{
	struct zone_stats zs;

	zone_stats(vm_map_zone, &zs);
	out->maps = zs.objs_in_use;
	zone_stats(vm_entry_zone, &zs);
	out->entries = zs.objs_in_use;
	zone_stats(vm_anon_zone, &zs);
	out->anons = zs.objs_in_use;
	zone_stats(vm_object_zone, &zs);
	out->objects = zs.objs_in_use;
	out->slot_nodes = ck_pr_load_64(&vm_slot_nodes);
}

size_t
vm_reap(void)
{
	return zone_reap_all(vm_map_zone) + zone_reap_all(vm_entry_zone) +
	    zone_reap_all(vm_anon_zone) + zone_reap_all(vm_object_zone);
}

void
vm_map_dump(vm_map_t map)
{
	vm_map_write_lock(map);
	kprintf("map %p [%#lx, %#lx) %zu entries, %zu bytes\n", (void *)map,
	    (unsigned long)map->m_min, (unsigned long)map->m_max,
	    map->m_nentries, map->m_mapped);
	for (struct rb_node *n = rb_first(&map->m_tree); n != NULL;
	    n = rb_next(n)) {
		struct vm_map_entry *e = E(n);
		kprintf("  [%#lx, %#lx) prot %x/%x flags %#x obj %p+%#llx "
		    "owner %p gap %#lx maxgap %#lx\n",
		    (unsigned long)e->e_start, (unsigned long)e->e_end,
		    e->e_prot, e->e_maxprot, e->e_flags, (void *)e->e_obj,
		    (unsigned long long)e->e_offset, (void *)e->e_owner,
		    (unsigned long)e->e_gap, (unsigned long)e->e_maxgap);
	}
	vm_map_write_unlock(map);
}

struct valid_arg {
	vm_map_t map;
	bool ok;
};

static int
check_anon(uint64_t idx, uintptr_t *w, void *arg)
{
	struct valid_arg *va = arg;
	vaddr_t addr = va->map->m_min + (idx << PAGE_SHIFT);
	struct vm_map_entry *e = vm_map_lookup_locked(va->map, addr);
	struct vm_anon *an = (struct vm_anon *)*w;

	if (e == NULL || (e->e_flags & VM_MAP_SHARED)) {
		kprintf("map %p: anon %p at %#lx outside a private entry\n",
		    (void *)va->map, (void *)an, (unsigned long)addr);
		va->ok = false;
	}
	if (vm_anon_refs(an) == 0) {
		kprintf("map %p: anon %p at %#lx has no reference\n",
		    (void *)va->map, (void *)an, (unsigned long)addr);
		va->ok = false;
	}
	return 0;
}

#define BAD(...) VM_MAP_BAD(map, &ok, __VA_ARGS__)

bool
vm_map_is_valid(vm_map_t map)
{
	struct vm_map_entry *prev = NULL;
	struct valid_arg va;
	size_t count = 0, mapped = 0;
	bool ok = true;

	vm_map_check(map, "vm_map_is_valid");
	vm_map_write_lock(map);
	if (!rb_is_valid(&map->m_tree))
		BAD("tree invalid (order, colours or gap augment)");
	for (struct rb_node *n = rb_first(&map->m_tree); n != NULL;
	    n = rb_next(n)) {
		struct vm_map_entry *e = E(n);
		vaddr_t pe = prev ? prev->e_end : map->m_min;
		if ((e->e_start & PAGE_MASK) || (e->e_end & PAGE_MASK) ||
		    e->e_start >= e->e_end || e->e_start < map->m_min ||
		    e->e_end > map->m_max)
			BAD("I1: bad entry [%#lx, %#lx)",
			    (unsigned long)e->e_start, (unsigned long)e->e_end);
		if (e->e_start < pe)
			BAD("I1: [%#lx, %#lx) overlaps the previous entry",
			    (unsigned long)e->e_start, (unsigned long)e->e_end);
		else if (e->e_gap != e->e_start - pe)
			BAD("I2: gap %#lx at %#lx, should be %#lx",
			    (unsigned long)e->e_gap, (unsigned long)e->e_start,
			    (unsigned long)(e->e_start - pe));
		if (prev != NULL && entry_mergeable(prev, e))
			BAD("I4: [%#lx, %#lx) and its predecessor are "
			    "mergeable", (unsigned long)e->e_start,
			    (unsigned long)e->e_end);
		if ((e->e_prot & ~e->e_maxprot) ||
		    ((e->e_prot & VM_PROT_WRITE) && !(e->e_prot & VM_PROT_READ))
		    || ((map->m_flags & VM_MAPF_WXORX) &&
		    (e->e_prot & VM_PROT_WRITE) && (e->e_prot & VM_PROT_EXEC)))
			BAD("I5: prot %#x maxprot %#x at %#lx", e->e_prot,
			    e->e_maxprot, (unsigned long)e->e_start);
		if (!(e->e_flags & VM_MAP_SHARED) == !(e->e_flags & VM_MAP_PRIVATE))
			BAD("flags %#x at %#lx", e->e_flags,
			    (unsigned long)e->e_start);
		if (!(e->e_flags & ENTRY_SEGMENT) && e->e_owner != map)
			BAD("I11: entry at %#lx owned by %p",
			    (unsigned long)e->e_start, (void *)e->e_owner);
		if (e->e_obj != NULL) {
			struct vm_object *o = e->e_obj;
			if (e->e_offset + (e->e_end - e->e_start) > o->o_size ||
			    vm_object_refs(o) == 0 ||
			    (o->o_kind == VM_OBJ_PHYS &&
			    !(e->e_flags & VM_MAP_SHARED)))
				BAD("I6: object %p+%#llx at %#lx", (void *)o,
				    (unsigned long long)e->e_offset,
				    (unsigned long)e->e_start);
		} else if (e->e_flags & VM_MAP_SHARED) {
			BAD("shared entry without object at %#lx",
			    (unsigned long)e->e_start);
		}
		count++;
		mapped += e->e_end - e->e_start;
		prev = e;
	}
	if (count != map->m_nentries || mapped != map->m_mapped)
		BAD("I8: %zu entries, %zu bytes; counted %zu, %zu",
		    map->m_nentries, map->m_mapped, count, mapped);
	va.map = map;
	va.ok = true;
	vm_slots_foreach(&map->m_amap, 0, VM_SLOT_MAX, check_anon, &va, false);
	if (!va.ok)
		ok = false;
	vm_map_write_unlock(map);
	if (!HAL_MMU && !vm_map_nommu_is_valid(map))
		ok = false;
	return ok;
}
