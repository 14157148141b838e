/*
 * amap.h: anons, and the slot tables that hold them (private to vm/).
 *
 * An anon is one private page of anonymous memory or one copy-on-write
 * copy, with a count of the maps that hold it.  A fork shares an anon
 * between parent and child (count 2); the first write on either side
 * copies it into a new anon (or, when the count has come back to 1, makes
 * it writable in place).  The frame belongs to the anon and is freed with
 * it.
 *
 * A slot table (struct vm_slots) is a sparse array of up to 2^27 words:
 * a radix tree of three levels of 512-word nodes (one frame each), like a
 * page table.  Maps use one to hold their anons by virtual page ("the
 * amap"), objects one to hold their resident frames by page offset.  The
 * concurrency rules, which let page faults on every hart use one table at
 * once with no table-wide lock, are in amap.c section 2:
 *   - nodes are only added (CAS into an empty pointer) while faults run,
 *     and removed only when the owner excludes every reader;
 *   - bit 0 of a leaf word is a lock (VM_SLOT_BUSY) taken by whoever
 *     decides what the slot holds and installs the translation for it.
 */
#ifndef RVMM_VM_AMAP_H
#define RVMM_VM_AMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"
#include "vm/page.h"

struct vm_anon {
	uint32_t an_refs;		/* (A) slots that hold this anon */
	uint32_t an_flags;		/* (C) unused today */
	struct vm_page *an_page;	/* (C) the frame, owned by the anon */
};

/* ------------------------------------------------------------------ */
/* Slot tables.                                                        */

#define VM_SLOT_BITS 9
#define VM_SLOT_FANOUT (1u << VM_SLOT_BITS)	/* words per node */
#define VM_SLOT_LEVELS 3
#define VM_SLOT_INDEX_BITS (VM_SLOT_BITS * VM_SLOT_LEVELS)
#define VM_SLOT_MAX ((uint64_t)1 << VM_SLOT_INDEX_BITS)	/* indexes */
#define VM_SLOT_BUSY ((uintptr_t)1)
/* Object slots only: a thread sleeps until BUSY clears (object.c 7). */
#define VM_SLOT_WANTED ((uintptr_t)2)

struct vm_slots {
	void **root;		/* (A) top node, or NULL */
	size_t nodes;		/* (A) frames held by the table */
};

static inline void
vm_slots_init(struct vm_slots *s)
{
	s->root = NULL;
	s->nodes = 0;
}

/*
 * vm_slots_get: the leaf word for idx; with alloc, missing nodes are
 * created (NULL only when memory is short), without, NULL when no node
 * holds idx.  pre: idx < VM_SLOT_MAX; any thread context.
 */
uintptr_t *vm_slots_get(struct vm_slots *s, uint64_t idx, bool alloc);

/*
 * vm_slot_lock: spins until it owns bit VM_SLOT_BUSY of *slot (serving
 * cross-calls when interrupts are off), returns the word's value without
 * the bit.  vm_slot_unlock stores v (BUSY clear), releasing the slot.
 */
uintptr_t vm_slot_lock(uintptr_t *slot);
void vm_slot_unlock(uintptr_t *slot, uintptr_t v);

/* The value of a slot (BUSY, WANTED dropped), 0 when the node is absent. */
uintptr_t vm_slots_peek(struct vm_slots *s, uint64_t idx);

/*
 * vm_slots_foreach: calls fn(idx, word, arg) on every non-zero leaf word
 * with lo <= idx < hi, in index order; stops at (and returns) the first
 * non-zero result of fn.  fn may change the word (to zero, say).  Leaves
 * and inner nodes left empty are freed when `prune` is set.
 * pre: the owner excludes every other user of the table.
 */
typedef int (*vm_slots_fn)(uint64_t idx, uintptr_t *word, void *arg);
int vm_slots_foreach(struct vm_slots *s, uint64_t lo, uint64_t hi,
    vm_slots_fn fn, void *arg, bool prune);

/* Frees every node (every word must be zero).  pre: as foreach. */
void vm_slots_destroy(struct vm_slots *s);

/* ------------------------------------------------------------------ */
/* Anons.                                                              */

/*
 * vm_anon_new: an anon with one reference and a new frame: zero-filled,
 * or a copy of the page at `from` when from != 0.  NULL when memory is
 * short.  pre: any thread context.
 */
struct vm_anon *vm_anon_new(paddr_t from);

static inline paddr_t
vm_anon_pa(const struct vm_anon *an)
{
	return page_to_pa(an->an_page);
}

void vm_anon_ref(struct vm_anon *an);
/* Drops a reference; the last frees the frame and the anon. */
void vm_anon_unref(struct vm_anon *an);
unsigned vm_anon_refs(const struct vm_anon *an);

/* Copies one frame (used by COW; TSan-friendly on the host). */
void vm_page_copy(paddr_t dst, paddr_t src);

#endif /* RVMM_VM_AMAP_H */
