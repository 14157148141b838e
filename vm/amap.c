/*
 * amap.c: anons and slot tables (the contract is vm/amap.h).
 *
 * 1. Why one anon table per map, by virtual page.
 *    UVM gives every map entry its own amap, shares amaps between parent
 *    and child after a fork (needs_copy) and keeps per-slot reference
 *    counts (ppref) so that a partial munmap knows which anons no other
 *    entry still uses.  rvmm copies the anon references eagerly at fork
 *    (one pass over the populated slots; the parent's translations must be
 *    write-protected then anyway), so an amap never outlives or leaves its
 *    map; and the entries of one map never overlap.  Then one table per
 *    map, indexed by (va - map min) / PAGE_SIZE, is enough: a slot belongs
 *    to whichever entry covers its page, splitting and merging entries
 *    never touch it, and dropping a range drops exactly its anons (I7 of
 *    map_impl.h).  Objects reuse the same table for their resident frames.
 *
 * 2. Concurrency of a slot table.
 *    Nodes are frames (512 words).  A missing node is created with a
 *    zeroed frame and published by CAS into the empty parent word (the
 *    loser frees its frame); while faults may run nodes are never
 *    removed, so a pointer read from the table stays valid.  Pruning and
 *    destruction run only when the owner excludes every reader (a map's
 *    writer lock, an object's last reference).
 *    A leaf word holds a pointer (an anon, a struct vm_page) with bit 0
 *    as a lock, VM_SLOT_BUSY: the fault that owns the bit decides what the
 *    slot holds and installs the translation before it lets go, so two
 *    harts never enter different frames for one page in the same pmap
 *    (a copy-on-write copy racing a read fault would otherwise leave the
 *    old frame mapped after the new one was written).  Empty slots are
 *    locked the same way.  The bit is taken by CAS and released by a
 *    store after a release fence; waiters spin, serving cross-calls when
 *    interrupts are off (the holder may be waiting for this hart to
 *    acknowledge a shootdown inside pmap_enter).
 *
 * 3. Anons.  an_refs counts the amap slots that hold the anon, in every
 *    map.  It only grows under the writer lock of the map being copied
 *    (fork), so a fault that holds a slot and reads an_refs == 1 knows
 *    that no one else can see the frame and may write it in place; with
 *    an_refs > 1 it copies, stores the copy in its slot and drops one
 *    reference.  Two maps that break the sharing of one anon at once may
 *    both copy (the second copy is not needed but is harmless); the old
 *    frame is freed by whoever drops the last reference, after its own
 *    translation is gone (pmap_enter of the copy, or pmap_remove).
 *
 * 4. Failure: node and frame allocations go through vm_frame_alloc (the
 *    layer's failure injection); a NULL leaves the table as it was, but
 *    for the nodes vm_slots_get made on the way down before it failed
 *    (or before its caller's next allocation failed): they stay, empty,
 *    until a pruning walk under the owner's exclusion (munmap, destroy)
 *    frees them.  At most VM_SLOT_LEVELS per failed call, reused by the
 *    next call under them (fault.c section 2 states the bound).
 */
#include <string.h>

#include "lib/assert.h"
#include "vm/amap.h"
#include "vm/layer_impl.h"

uint64_t vm_slot_nodes;

/* ------------------------------------------------------------------ */
/* Slot tables.                                                        */

static void **
node_alloc(void)
{
	struct vm_page *pg = vm_frame_alloc(PAGE_ZERO);

	if (pg == NULL)
		return NULL;
	ck_pr_inc_64(&vm_slot_nodes);
	return page_to_kva(pg);
}

static void
node_free(void **node)
{
	ck_pr_dec_64(&vm_slot_nodes);
	page_free(kva_to_page(node), 0);
}

uintptr_t *
vm_slots_get(struct vm_slots *s, uint64_t idx, bool alloc)
{
	void **pp = (void **)&s->root;

	VM_ASSERT(idx < VM_SLOT_MAX);
	for (int l = VM_SLOT_LEVELS - 1; l >= 0; l--) {
		void **node = ck_pr_load_ptr(pp);
		if (node == NULL) {
			if (!alloc)
				return NULL;
			node = node_alloc();
			if (node == NULL)
				return NULL;
			/* The zeroed node is published by the CAS (a full
			   barrier); readers follow the pointer (dependency). */
			if (!ck_pr_cas_ptr(pp, NULL, node)) {
				node_free(node);
				node = ck_pr_load_ptr(pp);
			} else {
				ck_pr_inc_64((uint64_t *)&s->nodes);
			}
		}
		pp = &node[(idx >> (l * VM_SLOT_BITS)) & (VM_SLOT_FANOUT - 1)];
	}
	return (uintptr_t *)pp;
}

uintptr_t
vm_slots_peek(struct vm_slots *s, uint64_t idx)
{
	uintptr_t *w = vm_slots_get(s, idx, false);

	return w == NULL ? 0 :
	    (uintptr_t)ck_pr_load_ptr((void **)w) &
	    ~(VM_SLOT_BUSY | VM_SLOT_WANTED);
}

uintptr_t
vm_slot_lock(uintptr_t *slot)
{
	for (;;) {
		uintptr_t v = (uintptr_t)ck_pr_load_ptr((void **)slot);
		if (!(v & VM_SLOT_BUSY) &&
		    ck_pr_cas_ptr((void **)slot, (void *)v,
		    (void *)(v | VM_SLOT_BUSY))) {
			ck_pr_fence_lock();
			return v;
		}
		vm_spin_wait();
	}
}

void
vm_slot_unlock(uintptr_t *slot, uintptr_t v)
{
	VM_ASSERT(((uintptr_t)ck_pr_load_ptr((void **)slot) & VM_SLOT_BUSY) != 0);
	VM_ASSERT((v & VM_SLOT_BUSY) == 0);
	ck_pr_fence_unlock();
	ck_pr_store_ptr((void **)slot, (void *)v);
}

static bool
node_empty(void **node)
{
	for (unsigned i = 0; i < VM_SLOT_FANOUT; i++)
		if (ck_pr_load_ptr(&node[i]) != NULL)
			return false;
	return true;
}

struct walk {
	uint64_t lo, hi;
	vm_slots_fn fn;
	void *arg;
	bool prune;
	struct vm_slots *s;
};

/* node covers [base, base + FANOUT^(level+1)). */
static int
walk_node(struct walk *w, void **node, int level, uint64_t base)
{
	uint64_t span = (uint64_t)1 << (level * VM_SLOT_BITS);
	uint64_t first = w->lo > base ? (w->lo - base) / span : 0;
	uint64_t last = (w->hi - base + span - 1) / span;
	int r = 0;

	if (last > VM_SLOT_FANOUT)
		last = VM_SLOT_FANOUT;
	for (uint64_t i = first; i < last && r == 0; i++) {
		void *c = ck_pr_load_ptr(&node[i]);
		if (c == NULL)
			continue;
		if (level == 0) {
			uintptr_t *word = (uintptr_t *)&node[i];
			VM_ASSERT((*word & VM_SLOT_BUSY) == 0);
			r = w->fn(base + i, word, w->arg);
			continue;
		}
		r = walk_node(w, c, level - 1, base + i * span);
		if (w->prune && node_empty(c)) {
			ck_pr_store_ptr(&node[i], NULL);
			node_free(c);
			ck_pr_dec_64((uint64_t *)&w->s->nodes);
		}
	}
	return r;
}

int
vm_slots_foreach(struct vm_slots *s, uint64_t lo, uint64_t hi,
    vm_slots_fn fn, void *arg, bool prune)
{
	struct walk w = { lo, hi, fn, arg, prune, s };
	void **root = ck_pr_load_ptr(&s->root);
	int r;

	if (hi > VM_SLOT_MAX)
		hi = w.hi = VM_SLOT_MAX;
	if (root == NULL || lo >= hi)
		return 0;
	r = walk_node(&w, root, VM_SLOT_LEVELS - 1, 0);
	if (prune && node_empty(root)) {
		ck_pr_store_ptr(&s->root, NULL);
		node_free(root);
		ck_pr_dec_64((uint64_t *)&s->nodes);
	}
	return r;
}

static int
expect_zero(uint64_t idx, uintptr_t *word, void *arg)
{
	(void)arg;
	panic("vm_slots_destroy: slot %#llx still holds %#lx",
	    (unsigned long long)idx, (unsigned long)*word);
}

void
vm_slots_destroy(struct vm_slots *s)
{
	vm_slots_foreach(s, 0, VM_SLOT_MAX, expect_zero, NULL, true);
	VM_ASSERT(s->root == NULL && s->nodes == 0);
}

/* ------------------------------------------------------------------ */
/* Anons.                                                              */

void
vm_page_copy(paddr_t dst, paddr_t src)
{
	memcpy(hal_phys_to_virt(dst), hal_phys_to_virt(src), PAGE_SIZE);
}

struct vm_anon *
vm_anon_new(paddr_t from)
{
	struct vm_anon *an = vm_zalloc(vm_anon_zone);
	struct vm_page *pg;

	if (an == NULL)
		return NULL;
	/* A copy overwrites the whole frame: no need to zero it first. */
	pg = vm_frame_alloc(from != 0 ? 0 : PAGE_ZERO);
	if (pg == NULL) {
		zone_free(vm_anon_zone, an);
		return NULL;
	}
	if (from != 0)
		vm_page_copy(page_to_pa(pg), from);
	pg->pg_owner.o.object = NULL;
	pg->pg_owner.o.offset = 0;
	pg->pg_owner.o.refs = 0;
	an->an_page = pg;
	an->an_flags = 0;
	ck_pr_store_32(&an->an_refs, 1);
	return an;
}

void
vm_anon_ref(struct vm_anon *an)
{
	uint32_t old = ck_pr_faa_32(&an->an_refs, 1);

	VM_PANIC_IF(old == 0, "vm_anon_ref(%p): anon is free", (void *)an);
}

void
vm_anon_unref(struct vm_anon *an)
{
	uint32_t old = ck_pr_faa_32(&an->an_refs, (uint32_t)-1);

	VM_PANIC_IF(old == 0, "vm_anon_unref(%p): no reference", (void *)an);
	if (old == 1) {
		ck_pr_fence_acquire();
		page_free(an->an_page, 0);
		an->an_page = NULL;
		zone_free(vm_anon_zone, an);
	}
}

unsigned
vm_anon_refs(const struct vm_anon *an)
{
	return ck_pr_load_32((uint32_t *)(uintptr_t)&an->an_refs);
}
