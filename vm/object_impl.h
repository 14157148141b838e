/*
 * object_impl.h: the layout of memory objects and what the other files
 * of the layer call in vm/object.c beyond vm/object.h (private to vm/).
 * The theory of operation is in vm/object.c; the layer's lock order and
 * field legend in vm/layer_impl.h.
 */
#ifndef RVMM_VM_OBJECT_IMPL_H
#define RVMM_VM_OBJECT_IMPL_H

#include "vm/amap.h"
#include "vm/layer_impl.h"
#include "vm/object.h"

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

/*
 * No MMU (object.c section 6): a new anonymous object whose pages are the
 * run of size bytes at run (zeroed), which it takes over; NULL when no
 * memory (the run stays the caller's).
 */
vm_object_t vm_object_segment_create(struct vm_page *run, uint64_t size);
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

#endif /* RVMM_VM_OBJECT_IMPL_H */
