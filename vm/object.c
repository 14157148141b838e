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
 *    takes the slot's VM_SLOT_BUSY bit, so concurrent callers create the
 *    page once.  The bit is held across the pager's get, which may sleep;
 *    so unlike an amap slot (amap.c 2), an object slot is never waited for
 *    with anything else held (section 7).  The reference count is atomic;
 *    the last vm_object_release() owns the object (no fault can be running
 *    on it: every mapping is gone, and a fault that dropped its locks
 *    holds a reference of its own) and tears it down without locks.
 *
 * 4. Failure.  Creation returns NULL on bad arguments or no memory;
 *    vm_object_page() returns -ENOMEM (nothing changed) or -EFAULT (the
 *    pager failed; the slot is empty again, waiters wake and the next one
 *    calls get again).
 *
 * 5. Observability: vm_object_refs(), vm_object_resident(),
 *    vm_object_waits() (waits for a busy page, section 7), the fault
 *    statistics (vm/fault.h) count zero-fills, page-ins and restarts.
 *
 * 6. Without an MMU (HAL_MMU == 0) a mapping cannot gather scattered
 *    frames into one range, so an anonymous or pager object is a segment:
 *    one run of frames (o_seg), zeroed and, for a pager, filled page by
 *    page when the object is made.  Its page at offset o is the run's
 *    address + o, resident from the start; the run goes back to the page
 *    allocator with the last reference (after the pager's put of every
 *    page).  object_segment_init() is the only place that looks at the
 *    build; everything else asks o_seg.
 *
 * 7. Waiting for a busy page (pagers that sleep).
 *    A caller that finds an object slot busy waits until the bit clears,
 *    then looks again (the page is there, or the get failed and the slot
 *    is empty: it then takes the bit and calls get itself).  Waiting:
 *	no hooks	spin on the word (vm_spin_wait)
 *	sleep hooks	take the wait lock of the slot (a small hashed table
 *			of spinlocks), and under it: load the word; not busy:
 *			done; else set VM_SLOT_WANTED in it (CAS, retried if
 *			the word changed) and sleep(slot, lock); repeat
 *    The owner ends its hold with object_slot_publish(): swap the new value
 *    in (BUSY and WANTED clear); if WANTED was set, take and release the
 *    slot's wait lock, then wakeup(slot).  No wakeup is lost: a sleeper set
 *    WANTED under the lock, before the swap (else its CAS would have
 *    failed), and stays under the lock until sleep() releases it
 *    atomically; the owner takes the lock after the swap, so after the
 *    sleeper is asleep, then wakes it.  WANTED costs nothing when nobody
 *    sleeps: the swap is the only extra work of a page creation.
 *    A fault cannot wait with the map's reader side or an amap slot held
 *    (a writer, or another fault, would wait behind a sleeping pager): the
 *    fault path asks vm_object_page_try(), which never waits and never
 *    calls get, and on -EAGAIN drops everything, calls vm_object_page()
 *    holding only a reference on the object, and starts over (fault.c 5).
 *
 * 8. Deferred teardown.  put and release may sleep, so the last reference
 *    must not go under a spinlock.  The map layer drops references under
 *    its writer side (munmap, destroy, FIXED replacement): while a cpu
 *    holds a map's writer side (vm_object_defer_begin, called by
 *    vm_map_write_lock) a last vm_object_release() only links the object
 *    on the cpu's dead list; the outermost vm_map_write_unlock takes the
 *    list before it lets go (vm_object_defer_end, still on that cpu) and
 *    tears the objects down after (vm_object_reap).  A writer side is a
 *    spinlock, held without migrating, so the per-cpu list is only ever
 *    touched by the thread that runs on its cpu.
 */
#include <errno.h>

#include "lib/assert.h"
#include "vm/object_impl.h"


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
	obj->o_waits = 0;
	obj->o_dead = NULL;
	ck_pr_store_32(&obj->o_refs, 1);
	ck_pr_store_64(&obj->o_magic, VM_OBJECT_MAGIC);
	return obj;
}

void
vm_object_check(vm_object_t obj, const char *fn)
{
	VM_PANIC_IF(obj == NULL, "%s(NULL): no object", fn);
	VM_PANIC_IF(ck_pr_load_64(&obj->o_magic) != VM_OBJECT_MAGIC,
	    "%s(%p): not a live object (released already?)", fn, (void *)obj);
	VM_PANIC_IF(ck_pr_load_32(&obj->o_refs) == 0, "%s(%p): object has no "
	    "reference left (released already?)", fn, (void *)obj);
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
	vm_object_check(obj, "vm_object_ref");
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

/* Section 8: the last reference went; no lock is held. */
static void
object_teardown(struct vm_object *obj)
{
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
	ck_pr_store_64(&obj->o_magic, VM_OBJECT_DEAD);
	zone_free(vm_object_zone, obj);
}

/* Section 8: per cpu, the map writer sides held and the deferred dead. */
static struct object_cpu {
	unsigned defer;			/* (L) */
	struct vm_object *dead;		/* (L) linked by o_dead */
} HAL_CACHE_ALIGNED object_cpus[HAL_MAX_CPUS];

void
vm_object_defer_begin(void)
{
	object_cpus[hal_cpu_id()].defer++;
}

struct vm_object *
vm_object_defer_end(void)
{
	struct object_cpu *oc = &object_cpus[hal_cpu_id()];
	struct vm_object *dead;

	VM_ASSERT(oc->defer > 0);
	if (--oc->defer != 0)
		return NULL;
	dead = oc->dead;
	oc->dead = NULL;
	return dead;
}

void
vm_object_reap(struct vm_object *dead)
{
	while (dead != NULL) {
		struct vm_object *next = dead->o_dead;
		object_teardown(dead);
		dead = next;
	}
}

void
vm_object_release(vm_object_t obj)
{
	uint32_t old;
	struct object_cpu *oc;

	VM_PANIC_IF(obj == NULL, "vm_object_release(NULL): no object");
	VM_PANIC_IF(ck_pr_load_64(&obj->o_magic) != VM_OBJECT_MAGIC,
	    "vm_object_release(%p): not a live object (released already?)",
	    (void *)obj);
	old = ck_pr_faa_32(&obj->o_refs, (uint32_t)-1);
	VM_PANIC_IF(old == 0, "vm_object_release(%p): no reference to drop",
	    (void *)obj);
	if (old != 1)
		return;
	ck_pr_fence_acquire();
	oc = &object_cpus[hal_cpu_id()];
	if (oc->defer != 0) {
		obj->o_dead = oc->dead;
		oc->dead = obj;
		return;
	}
	object_teardown(obj);
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

uint64_t
vm_object_waits(vm_object_t obj)
{
	return ck_pr_load_64(&obj->o_waits);
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

/* ------------------------------------------------------------------ */
/* Busy pages: waiting and waking (section 7).                         */

static const struct vm_sleep_ops *sleep_ops;	/* (A) */

#define WAIT_LOCKS 16
static struct wait_lock {
	ck_spinlock_t lk;
} HAL_CACHE_ALIGNED wait_locks[WAIT_LOCKS] = {
	[0 ... WAIT_LOCKS - 1] = { CK_SPINLOCK_INITIALIZER },
};

void
vm_set_sleep_ops(const struct vm_sleep_ops *ops)
{
	VM_PANIC_IF(ops != NULL && (ops->sleep == NULL || ops->wakeup == NULL),
	    "vm_set_sleep_ops(%p): sleep and wakeup are required",
	    (const void *)ops);
	ck_pr_store_ptr(&sleep_ops, (void *)(uintptr_t)ops);
}

static ck_spinlock_t *
wait_lock(const uintptr_t *slot)
{
	return &wait_locks[((uintptr_t)slot / sizeof(*slot)) %
	    WAIT_LOCKS].lk;
}

static void
wait_lock_take(ck_spinlock_t *lk)
{
	while (!ck_spinlock_trylock(lk))
		vm_spin_wait();
}

/*
 * object_slot_wait: returns once *slot is not busy (it may be busy again
 * by the time the caller looks).  pre: no rvmm lock held.
 */
static void
object_slot_wait(uintptr_t *slot)
{
	const struct vm_sleep_ops *ops = ck_pr_load_ptr(&sleep_ops);
	ck_spinlock_t *lk;
	uintptr_t v;

	if (ops == NULL) {
		while ((uintptr_t)ck_pr_load_ptr((void **)slot) & VM_SLOT_BUSY)
			vm_spin_wait();
		return;
	}
	lk = wait_lock(slot);
	wait_lock_take(lk);
	for (;;) {
		v = (uintptr_t)ck_pr_load_ptr((void **)slot);
		if (!(v & VM_SLOT_BUSY))
			break;
		if (!(v & VM_SLOT_WANTED) && !ck_pr_cas_ptr((void **)slot,
		    (void *)v, (void *)(v | VM_SLOT_WANTED)))
			continue;
		ops->sleep(slot, lk);
	}
	ck_spinlock_unlock(lk);
}

/* Ends the owner's hold of a busy object slot: stores v, wakes waiters. */
static void
object_slot_publish(uintptr_t *slot, uintptr_t v)
{
	const struct vm_sleep_ops *ops;
	ck_spinlock_t *lk;
	uintptr_t old;

	VM_ASSERT((v & (VM_SLOT_BUSY | VM_SLOT_WANTED)) == 0);
	ck_pr_fence_unlock();
	old = (uintptr_t)ck_pr_fas_ptr((void **)slot, (void *)v);
	VM_ASSERT((old & VM_SLOT_BUSY) != 0);
	if (!(old & VM_SLOT_WANTED))
		return;
	ops = ck_pr_load_ptr(&sleep_ops);
	VM_PANIC_IF(ops == NULL, "vm_set_sleep_ops: hooks removed while a "
	    "thread sleeps on slot %p", (void *)slot);
	lk = wait_lock(slot);
	wait_lock_take(lk);
	ck_spinlock_unlock(lk);
	ops->wakeup(slot);
}

/* ------------------------------------------------------------------ */
/* Finding and creating pages.                                         */

/*
 * object_page_common: the page of a physical or segment object, or the
 * resident page at *slot.  Returns 0 (found), 1 (not found: *slot is the
 * page's slot, *v its word), -ENOMEM (no slot-table node).
 */
static int
object_page_common(struct vm_object *obj, uint64_t offset, paddr_t *pa,
    enum vm_object_found *how, uintptr_t **slotp, uintptr_t *vp)
{
	uintptr_t *slot, v;

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
	*slotp = slot;
	*vp = v;
	return 1;
}

/*
 * object_fill: makes the page at offset, the caller owning the (empty)
 * slot's BUSY bit; publishes it (or an empty slot on failure).  Calls the
 * pager's get with no rvmm lock held but this bit.
 */
static int
object_fill(struct vm_object *obj, uint64_t offset, uintptr_t *slot,
    paddr_t *pa, enum vm_object_found *how)
{
	struct vm_page *pg;
	int err;

	/* New pages are zeroed: a pager that fills less leaks nothing. */
	pg = vm_frame_alloc(PAGE_ZERO);
	if (pg == NULL) {
		object_slot_publish(slot, 0);
		return -ENOMEM;
	}
	if (obj->o_kind == VM_OBJ_PAGER) {
		err = obj->o_ops->get(obj->o_priv, offset, pg);
		if (err != 0) {
			page_free(pg, 0);
			object_slot_publish(slot, 0);
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
	object_slot_publish(slot, (uintptr_t)pg);
	*pa = page_to_pa(pg);
	return 0;
}

int
vm_object_page(vm_object_t obj, uint64_t offset, paddr_t *pa,
    enum vm_object_found *how)
{
	enum vm_object_found how_local;
	bool counted = false;
	uintptr_t *slot, v;
	int r;

	vm_object_check(obj, "vm_object_page");
	if (how == NULL)
		how = &how_local;
	r = object_page_common(obj, offset, pa, how, &slot, &v);
	if (r <= 0)
		return r;
	for (;;) {
		if (v == 0 && ck_pr_cas_ptr((void **)slot, NULL,
		    (void *)VM_SLOT_BUSY)) {
			ck_pr_fence_lock();
			return object_fill(obj, offset, slot, pa, how);
		}
		if (v & VM_SLOT_BUSY) {
			if (!counted)
				ck_pr_inc_64(&obj->o_waits);
			counted = true;
			object_slot_wait(slot);
		} else if (v != 0) {
			/* Made by the holder we waited for. */
			*pa = page_to_pa((struct vm_page *)v);
			*how = VM_OBJPG_RESIDENT;
			return 0;
		}
		v = (uintptr_t)ck_pr_load_ptr((void **)slot);
	}
}

int
vm_object_page_try(vm_object_t obj, uint64_t offset, paddr_t *pa,
    enum vm_object_found *how)
{
	uintptr_t *slot, v;
	int r;

	r = object_page_common(obj, offset, pa, how, &slot, &v);
	if (r <= 0)
		return r;
	/* Anonymous pages are made here: no get, nothing that sleeps. */
	if (v != 0 || obj->o_kind != VM_OBJ_ANON ||
	    !ck_pr_cas_ptr((void **)slot, NULL, (void *)VM_SLOT_BUSY))
		return -EAGAIN;
	ck_pr_fence_lock();
	return object_fill(obj, offset, slot, pa, how);
}
