/*
 * object.c: memory objects (the contract is vm/object.h).
 *
 * 1. Concepts.  An object is a range of pages shared by every mapping of
 *    it.  Anonymous objects make zero-filled frames on first touch, pager
 *    objects ask their pager to fill one, physical objects compute the
 *    address (pa + offset) and hold no frames.  Frames stay resident until
 *    the object dies: rvmm does not page out, so a page, once found, never
 *    changes under a mapping, and a shared mapping needs no lock around its
 *    pmap_enter.
 *
 * 2. Data structures.  Resident frames sit in a slot table (vm/amap.h)
 *    indexed by page offset; the frame's struct vm_page records the owner
 *    (pg_owner.o: object, offset).
 *
 * 3. Concurrency.  vm_object_page() reads the slot without a lock when the
 *    page is there (the common case: one load per level), and otherwise
 *    takes the slot's VM_SLOT_BUSY bit, so concurrent faults on one offset
 *    create the page once; the pager's get runs with the bit held.  The
 *    reference count is atomic; the last vm_object_release() owns the
 *    object (no fault can be running on it: every mapping is gone) and
 *    tears it down without locks.
 *
 * 4. Failure.  Creation returns NULL on bad arguments or no memory;
 *    vm_object_page() returns -ENOMEM (nothing changed) or -EFAULT (the
 *    pager failed; the slot stays empty, a later fault asks again).
 *
 * 5. Observability: vm_object_refs(), vm_object_resident(), the fault
 *    statistics (vm/fault.h) count zero-fills and page-ins.
 *
 * 6. Without an MMU (HAL_MMU == 0) a mapping cannot gather scattered
 *    frames into one range, so an anonymous or pager object is a segment:
 *    one run of frames (o_seg), zeroed and, for a pager, filled page by
 *    page when the object is made.  Its page at offset o is the run's
 *    address + o, resident from the start; the run goes back to the page
 *    allocator with the last reference (after the pager's put of every
 *    page).  object_segment_init() is the only place that looks at the
 *    build; everything else asks o_seg.
 */
#include <errno.h>

#include "lib/assert.h"
#include "vm/map_impl.h"

zone_t vm_object_zone;

static struct vm_object *
object_new(enum vm_object_kind kind, uint64_t size, unsigned maxprot)
{
	struct vm_object *obj;

	if (size == 0 || (size & (PAGE_SIZE - 1)) != 0 ||
	    size > VM_OBJECT_MAX_SIZE || (maxprot & ~VM_PROT_ALL) != 0)
		return NULL;
	obj = vm_zalloc(vm_object_zone);
	if (obj == NULL)
		return NULL;
	obj->o_kind = (uint8_t)kind;
	obj->o_maxprot = (uint8_t)maxprot;
	obj->o_size = size;
	obj->o_pa = 0;
	obj->o_seg = NULL;
	obj->o_ops = NULL;
	obj->o_priv = NULL;
	vm_slots_init(&obj->o_pages);
	obj->o_resident = 0;
	ck_pr_store_32(&obj->o_refs, 1);
	return obj;
}

/* Section 6: obj's pages are the run seg from now on. */
static void
object_adopt(struct vm_object *obj, struct vm_page *seg)
{
	obj->o_seg = seg;
	obj->o_pa = page_to_pa(seg);
	obj->o_resident = obj->o_size >> PAGE_SHIFT;
}

/*
 * Section 6: gives obj (new, no reference out yet) its segment when the
 * build has no MMU.  Returns obj, or NULL after freeing it: no memory, or
 * the pager failed (its put has then been called for every page its get
 * filled, its release not at all: the caller still owns priv).
 */
static struct vm_object *
object_segment_init(struct vm_object *obj)
{
	struct vm_page *seg;
	size_t n, i;

	if (HAL_MMU || obj == NULL)
		return obj;
	n = obj->o_size >> PAGE_SHIFT;
	seg = vm_fail_now() ? NULL : page_alloc_contig(n, 0, PAGE_ZERO);
	if (seg == NULL)
		goto fail;
	for (i = 0; obj->o_ops != NULL && i < n; i++)
		if (obj->o_ops->get(obj->o_priv, (uint64_t)i << PAGE_SHIFT,
		    seg + i) != 0)
			break;
	if (obj->o_ops != NULL && i < n) {
		while (obj->o_ops->put != NULL && i-- > 0)
			obj->o_ops->put(obj->o_priv, (uint64_t)i << PAGE_SHIFT,
			    seg + i);
		page_free_contig(seg, n);
		goto fail;
	}
	object_adopt(obj, seg);
	return obj;
fail:
	vm_slots_destroy(&obj->o_pages);
	zone_free(vm_object_zone, obj);
	return NULL;
}

vm_object_t
vm_object_segment_create(struct vm_page *run, uint64_t size)
{
	struct vm_object *obj;

	VM_ASSERT(!HAL_MMU && run != NULL);
	obj = object_new(VM_OBJ_ANON, size, VM_PROT_ALL);
	if (obj != NULL)
		object_adopt(obj, run);
	return obj;
}

vm_object_t
vm_object_anon_create(uint64_t size)
{
	return object_segment_init(object_new(VM_OBJ_ANON, size,
	    VM_PROT_ALL));
}

vm_object_t
vm_object_phys_create(paddr_t pa, uint64_t size, unsigned maxprot)
{
	struct vm_object *obj;

	if ((pa & (PAGE_SIZE - 1)) != 0 || pa + size < pa)
		return NULL;
	obj = object_new(VM_OBJ_PHYS, size, maxprot);
	if (obj != NULL)
		obj->o_pa = pa;
	return obj;
}

vm_object_t
vm_object_pager_create(uint64_t size, unsigned maxprot,
    const struct vm_pager_ops *ops, void *priv)
{
	struct vm_object *obj;

	if (ops == NULL || ops->get == NULL)
		return NULL;
	obj = object_new(VM_OBJ_PAGER, size, maxprot);
	if (obj != NULL) {
		obj->o_ops = ops;
		obj->o_priv = priv;
	}
	return object_segment_init(obj);
}

void
vm_object_ref(vm_object_t obj)
{
	uint32_t old = ck_pr_faa_32(&obj->o_refs, 1);

	VM_PANIC_IF(old == 0, "vm_object_ref(%p): object is dead", (void *)obj);
}

/* Puts back and frees one resident frame (teardown). */
static int
object_drop_page(uint64_t idx, uintptr_t *word, void *arg)
{
	struct vm_object *obj = arg;
	struct vm_page *pg = (struct vm_page *)*word;

	VM_ASSERT(pg->pg_owner.o.object == obj);
	if (obj->o_ops != NULL && obj->o_ops->put != NULL)
		obj->o_ops->put(obj->o_priv, idx << PAGE_SHIFT, pg);
	pg->pg_owner.o.object = NULL;
	page_free(pg, 0);
	*word = 0;
	ck_pr_dec_64(&obj->o_resident);
	return 0;
}

void
vm_object_release(vm_object_t obj)
{
	uint32_t old = ck_pr_faa_32(&obj->o_refs, (uint32_t)-1);

	VM_PANIC_IF(old == 0, "vm_object_release(%p): no reference to drop",
	    (void *)obj);
	if (old != 1)
		return;
	ck_pr_fence_acquire();
	if (obj->o_seg != NULL) {
		size_t n = obj->o_size >> PAGE_SHIFT;
		for (size_t i = 0; obj->o_ops != NULL &&
		    obj->o_ops->put != NULL && i < n; i++)
			obj->o_ops->put(obj->o_priv, (uint64_t)i << PAGE_SHIFT,
			    obj->o_seg + i);
		page_free_contig(obj->o_seg, n);
		obj->o_seg = NULL;
		obj->o_resident = 0;
	}
	vm_slots_foreach(&obj->o_pages, 0, VM_SLOT_MAX, object_drop_page, obj,
	    true);
	VM_ASSERT(obj->o_resident == 0);
	vm_slots_destroy(&obj->o_pages);
	if (obj->o_ops != NULL && obj->o_ops->release != NULL)
		obj->o_ops->release(obj->o_priv);
	zone_free(vm_object_zone, obj);
}

enum vm_object_kind
vm_object_kind(vm_object_t obj)
{
	return (enum vm_object_kind)obj->o_kind;
}

uint64_t
vm_object_size(vm_object_t obj)
{
	return obj->o_size;
}

unsigned
vm_object_maxprot(vm_object_t obj)
{
	return obj->o_maxprot;
}

paddr_t
vm_object_phys_addr(vm_object_t obj)
{
	return obj->o_pa;
}

unsigned
vm_object_refs(vm_object_t obj)
{
	return ck_pr_load_32(&obj->o_refs);
}

size_t
vm_object_resident(vm_object_t obj)
{
	return (size_t)ck_pr_load_64(&obj->o_resident);
}

bool
vm_object_lookup(vm_object_t obj, uint64_t offset, paddr_t *pa)
{
	uintptr_t v;

	VM_ASSERT(offset < obj->o_size && (offset & (PAGE_SIZE - 1)) == 0);
	if (obj->o_kind == VM_OBJ_PHYS || obj->o_seg != NULL) {
		*pa = obj->o_pa + offset;
		return true;
	}
	v = vm_slots_peek(&obj->o_pages, offset >> PAGE_SHIFT);
	if (v == 0)
		return false;
	*pa = page_to_pa((struct vm_page *)v);
	return true;
}

int
vm_object_page(vm_object_t obj, uint64_t offset, paddr_t *pa,
    enum vm_object_found *how)
{
	uintptr_t *slot, v;
	struct vm_page *pg;
	int err = 0;

	VM_ASSERT(offset < obj->o_size && (offset & (PAGE_SIZE - 1)) == 0);
	if (obj->o_kind == VM_OBJ_PHYS) {
		*pa = obj->o_pa + offset;
		*how = VM_OBJPG_PHYS;
		return 0;
	}
	if (obj->o_seg != NULL) {
		*pa = obj->o_pa + offset;
		*how = VM_OBJPG_RESIDENT;
		return 0;
	}
	slot = vm_slots_get(&obj->o_pages, offset >> PAGE_SHIFT, true);
	if (slot == NULL)
		return -ENOMEM;
	/* Fast path: resident and not being created. */
	v = (uintptr_t)ck_pr_load_ptr((void **)slot);
	if (v != 0 && !(v & VM_SLOT_BUSY)) {
		*pa = page_to_pa((struct vm_page *)v);
		*how = VM_OBJPG_RESIDENT;
		return 0;
	}
	v = vm_slot_lock(slot);
	if (v != 0) {
		vm_slot_unlock(slot, v);
		*pa = page_to_pa((struct vm_page *)v);
		*how = VM_OBJPG_RESIDENT;
		return 0;
	}
	/* New pages are zeroed: a pager that fills less leaks nothing. */
	pg = vm_frame_alloc(PAGE_ZERO);
	if (pg == NULL) {
		vm_slot_unlock(slot, 0);
		return -ENOMEM;
	}
	if (obj->o_kind == VM_OBJ_PAGER) {
		err = obj->o_ops->get(obj->o_priv, offset, pg);
		if (err != 0) {
			page_free(pg, 0);
			vm_slot_unlock(slot, 0);
			return err == -ENOMEM ? -ENOMEM : -EFAULT;
		}
		*how = VM_OBJPG_PAGEDIN;
	} else {
		*how = VM_OBJPG_ZEROED;
	}
	pg->pg_owner.o.object = obj;
	pg->pg_owner.o.offset = offset;
	pg->pg_owner.o.refs = 0;
	ck_pr_inc_64(&obj->o_resident);
	vm_slot_unlock(slot, (uintptr_t)pg);
	*pa = page_to_pa(pg);
	return 0;
}
