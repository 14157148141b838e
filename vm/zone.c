/*
 * zone.c: object caches with per-CPU magazines (Bonwick & Adams, "Magazines
 * and Vmem", USENIX 2001; illumos kmem.c).
 *
 * 1. Layers.  A zone serves objects of one size from four layers, top
 *    down: the calling cpu's two magazines, the zone's depot of magazines,
 *    the zone's slabs, and the page allocator.  An allocation takes from
 *    the highest layer that has an object; a free gives to the highest one
 *    with room.  The per-cpu layer is all that the common case touches.
 *    vm/zone_impl.h holds the structures, the lock order and the
 *    invariants.
 *
 * 2. Magazines.  A magazine is an array of m_size object pointers of
 *    which m_rounds are filled: a stack.  Each cpu owns a loaded magazine
 *    and a previous one (zc_loaded, zc_prev).  Alloc pops from loaded;
 *    if it is empty and prev is not, the two swap; free pushes to loaded,
 *    swapping when loaded is full and prev is empty.  Because prev is
 *    always entirely full or entirely empty, a cpu alternating alloc and
 *    free at a magazine boundary never goes further than the swap; it
 *    reaches the depot at most once per m_size operations.  The fast path
 *    (zone_impl.h: zone_alloc_local, zone_free_local) runs on the cpu's
 *    own cache line between zc_enter and zc_exit, two byte stores that
 *    close the line to the cpu's flush IPI ("Exclusion" in zone_impl.h)
 *    without masking interrupts: a load of the stack-top pointer, a
 *    compare with the bound, the object's load or store, a store of the
 *    moved pointer, and one counter bumped.  No atomic, no lock, no CSR
 *    access, no shared line, and no stack frame: the misses
 *    (zone_alloc_slow, zone_free_slow) are tail calls.  It works on a
 *    "fast view" of the loaded magazine kept in that line (top, lo, hi
 *    pointers); a zone that must not take the fast path (no magazines,
 *    debug checks, failure injection) keeps every view NULL, so the
 *    inline code misses without testing any flag, and the slow paths
 *    switch the view off (zc_writeback) before they touch the magazines
 *    and back on (zc_publish) after.  An empty cpu slot holds
 *    &zone_mag_none (0 of 0 rounds), so nothing needs a NULL test.  A
 *    free on another cpu than the allocating one simply lands in the
 *    freeing cpu's magazine: objects migrate between cpus by whole
 *    magazines through the depot.
 *
 * 3. Depot.  Per zone, a stack of full and a stack of empty magazines
 *    under d_lock.  The alloc miss trades prev (empty) for a full
 *    magazine; the free miss trades prev (full) for an empty one.  When
 *    the depot has no empty magazine the free path allocates one from the
 *    magazine zone of the current size -- with interrupts back on, no
 *    lock held and ZALLOC_NORECLAIM, so that allocating a magazine can
 *    never recurse into reclaim -- and if even that fails the object goes
 *    to the slab layer.  When the depot has no full magazine the
 *    allocation goes to the slab layer, and (zones on the fast path) takes
 *    up to ZONE_REFILL_MAX more objects than asked in the same lock hold
 *    to fill the cpu's empty magazines: one lock trip per magazine instead
 *    of per object, and a cpu's objects are neighbours, so two cpus do
 *    not share the cache lines of their objects.  Bonwick allocates
 *    magazines only on the free path; we also give a cpu that holds no
 *    magazine at all one on the alloc path, so that its first refill has
 *    somewhere to go -- never with reclaim, and with no fallback needed
 *    (without it the allocation takes a single object).
 *    Magazine size.  Every depot transaction first try-locks; a failure
 *    counts as contention.  Every ZONE_RESIZE_WINDOW transactions, if more
 *    than 1 in ZONE_RESIZE_RATIO were contended, the zone's magazine type
 *    grows one step (6, 14, 30, 62, 126, 254 rounds: headers plus rounds
 *    fill 64 B .. 2 KiB), as kmem_cache_magazine_resize does.  Unlike
 *    illumos we do not purge the cpus to resize: magazines carry their own
 *    m_size, so old ones go on working; an empty magazine smaller than the
 *    current size that the free path takes from the depot is freed and
 *    replaced, so the zone converges to the new size as it cycles.
 *    Working set.  The depot remembers, per list, the least number of
 *    magazines it held since the previous zone_reap() (d_full_min,
 *    d_empty_min): those magazines were not needed during the whole
 *    interval, and zone_reap() returns exactly those (kmem_depot_ws_reap).
 *    The interval is set by whoever calls zone_reap (a timer or a reclaim
 *    thread in a full kernel, the tests here).
 *
 * 4. Slabs.  A slab is a naturally aligned block of 2^z_slab_order pages
 *    cut into z_slab_objs objects z_stride apart.  The order is the
 *    smallest (up to ZONE_SLAB_MAX_ORDER, blocks the page allocator
 *    caches per cpu; ZONE_BIG_SLAB_MAX_ORDER for kmalloc's classes above
 *    8 KiB, zone_impl.h) that wastes less than 1/8 of the block and holds
 *    ZONE_SLAB_MIN_OBJS objects, else the smallest under 1/8, else the
 *    least wasteful.  Free objects are linked through their first word.
 *    The slab header (struct zone_slab) sits at the end of the block for
 *    small strides, or comes from the slab-header zone for strides of
 *    ZONE_OFFSLAB_MIN and more, so that e.g. 4 KiB objects pack exactly.
 *    Every frame of the block records the slab, the zone and a tag in its
 *    struct vm_page (pg_owner), so a free finds its slab from the address
 *    alone: no header in front of objects, no size argument.  Slabs sit on
 *    a partial, a full or an empty list; allocation prefers partial slabs
 *    (keeping empty ones empty, so they can go back); an empty slab beyond
 *    ZONE_SLAB_RESERVE is returned to the page allocator at once.
 *    Constructed state: objects in magazines are constructed, objects in
 *    slabs are not.  The constructor runs when an object leaves the slab
 *    layer, the destructor when it goes back (a magazine being emptied by
 *    reap or reclaim, or any free in a zone without magazines).
 *
 * 5. Locking.  Lock order: zone_list_lock, then a zone's depot lock, then
 *    its slab lock, then the page allocator (page_free only).  All are ck
 *    spinlocks taken with interrupts disabled.  Nothing that may call
 *    page_alloc(), smp_call(), a constructor or a destructor runs under a
 *    zone lock (except the destructors of reclaim drains, under the list
 *    lock only).  The per-cpu layer has no lock: only its own cpu touches
 *    it, or that cpu's flush IPI.  The slow paths keep the IPI out with
 *    interrupts off; the fast path with zc_busy, which the IPI honours by
 *    leaving the zone_cpu alone and reporting a miss, so that the sender
 *    calls again (zone_flush_cpus).  Slow paths drop the per-cpu state
 *    (turn interrupts back on) before anything that may allocate, and
 *    re-read it after, because an allocation may drain caches by IPI,
 *    which the waiting cpu serves itself.
 *
 * 6. Reclaim.  zone_reap_everything() is the page allocator's reclaim
 *    hook.  One smp_call() asks every cpu to flush its own magazines of
 *    every zone into the depots (zone_flush_ipi: the cpu moves its loaded
 *    and previous magazines, partial ones to the full list; a cpu caught
 *    inside a fast path is asked again, see 5); then,
 *    under zone_list_lock, every depot is emptied into the slab layer
 *    (destructors run), the magazines are freed, every empty slab is
 *    freed, and last the magazine, slab-header and descriptor zones give
 *    their empty slabs back; the page caches are drained so that the
 *    frames coalesce before the page allocator retries.  It returns the
 *    frames freed.  Cross-calling keeps the rule that only the owner
 *    touches a cpu's magazines, so the fast path stays free of atomics.
 *    zone_reap_all(z) does the same for one zone; zone_destroy() uses it
 *    and then requires the slab layer to be idle (-EBUSY otherwise).
 *
 * 7. Debug (ZF_DEBUG: ZONE_DEBUG, default with VM_DEBUG_LEVEL >= 2, not
 *    for ZONE_NODEBUG zones; code in zone_debug.c).  Each stride carries,
 *    after the object, a redzone of ZONE_REDZONE_BYTE and a state tag
 *    (ALLOC or FREE, xor the address).  A free checks the tag (a FREE tag
 *    is a double free, anything else a wild pointer or overflow) and the
 *    redzone, sets FREE and poisons the object (zones without a
 *    constructor); an allocation checks tag and poison, so a write after
 *    free is caught at the next allocation of that object.  Debug zones
 *    always take the slow path.  Independently of ZF_DEBUG, with
 *    VM_DEBUG_LEVEL >= 1 every zone_free checks that the object belongs
 *    to the zone and is an object start, and the slab layer refuses a
 *    free into a slab with no object out; at level 2 it also walks the
 *    slab's free list.  zone_set_fail_every() injects allocation
 *    failures; zone_is_valid() checks the invariants.
 *
 * 8. Statistics.  Per cpu (written by that cpu only, with stat_inc):
 *    allocs and frees (in the fast path's line, bumped by whichever
 *    path served the call; zone_impl.h, "Counting", says what a reader
 *    gets), and on the second line misses of both magazines, depot gets
 *    and puts, slab allocs and frees.  Per zone: depot and slab lock
 *    contention, resizes, slabs and pages, failures.  zone_stats() sums
 *    them and derives objects in use, cached, memory held and waste;
 *    export and printing live in zone_debug.c.
 */
#include <errno.h>
#include <string.h>

#include "lib/kprintf.h"
#include "lib/smp.h"
#include "vm/zone_impl.h"

struct zone_mag zone_mag_none;		/* never written */

struct zone_magtype zone_magtypes[ZONE_NMAGTYPES] = {
	{ 6, NULL }, { 14, NULL }, { 30, NULL }, { 62, NULL }, { 126, NULL },
	{ ZONE_MAG_MAX_ROUNDS, NULL },	/* 254 */
};
struct zone *zone_slab_zone;		/* off-slab headers */
static struct zone *zone_desc_zone;	/* (C) every other zone's descriptor */

struct zone_dmap zone_dmap[HAL_MAX_MEM_REGIONS];
unsigned zone_ndmap;
/* True when zone_dmap[] holds every RAM region (zone_page_of_slow). */
static bool zone_dmap_all;

static CK_LIST_HEAD(zone_list_head, zone) zone_list =
    CK_LIST_HEAD_INITIALIZER(zone_list);
static ck_spinlock_fas_t zone_list_lock = CK_SPINLOCK_FAS_INITIALIZER;
static bool zone_ready;

/* ------------------------------------------------------------------ */
/* Locks.                                                              */

/* Spins politely: try, then watch the line until it looks free. */
static bool
zone_spin_lock(ck_spinlock_fas_t *l)
{
	bool contended = false;

	VM_ASSERT(!hal_intr_enabled());
	while (!ck_spinlock_fas_trylock(l)) {
		contended = true;
		while (ck_spinlock_fas_locked(l))
			hal_cpu_relax();
	}
	return contended;
}

static void
zone_list_lock_acquire(void)
{
	(void)zone_spin_lock(&zone_list_lock);
}

static void
zone_list_lock_release(void)
{
	ck_spinlock_fas_unlock(&zone_list_lock);
}

static void
slab_lock(struct zone *z)
{
	if (zone_spin_lock(&z->z_slab.sl_lock))
		z->z_slab.sl_contention++;
}

static void
slab_unlock(struct zone *z)
{
	ck_spinlock_fas_unlock(&z->z_slab.sl_lock);
}

static void
depot_resize_check_locked(struct zone *z)
{
	struct zone_depot *d = &z->z_depot;

	VM_ASSERT(ck_spinlock_fas_locked(&d->d_lock));
	if (d->d_contention - d->d_contention_mark >
	    ZONE_RESIZE_WINDOW / ZONE_RESIZE_RATIO &&
	    d->d_magtype < d->d_magtype_max) {
		ck_pr_store_uint(&d->d_magtype, d->d_magtype + 1);
		d->d_resizes++;
	}
	d->d_contention_mark = d->d_contention;
}

/* depot_lock: takes the depot lock, counting contention.
   => interrupts off. */
static void
depot_lock(struct zone *z)
{
	struct zone_depot *d = &z->z_depot;

	if (zone_spin_lock(&d->d_lock))
		d->d_contention++;
	if (++d->d_ops % ZONE_RESIZE_WINDOW == 0)
		depot_resize_check_locked(z);
}

static void
depot_unlock(struct zone *z)
{
	ck_spinlock_fas_unlock(&z->z_depot.d_lock);
}

/* ------------------------------------------------------------------ */
/* Depot lists.                                                        */

/* Pops one depot list, keeping its working-set low-water mark. */
static struct zone_mag *
depot_pop_list_locked(struct zone *z, struct zone_mag **head, size_t *n,
    size_t *min)
{
	struct zone_mag *m = *head;

	VM_ASSERT(ck_spinlock_fas_locked(&z->z_depot.d_lock));
	if (m == NULL)
		return NULL;
	*head = m->m_next;
	if (--*n < *min)
		*min = *n;
	return m;
}

static struct zone_mag *
depot_pop_full_locked(struct zone *z)
{
	struct zone_depot *d = &z->z_depot;

	return depot_pop_list_locked(z, &d->d_full, &d->d_nfull,
	    &d->d_full_min);
}

static struct zone_mag *
depot_pop_empty_locked(struct zone *z)
{
	struct zone_depot *d = &z->z_depot;

	return depot_pop_list_locked(z, &d->d_empty, &d->d_nempty,
	    &d->d_empty_min);
}

/* Puts a magazine on the list its contents call for. */
static void
depot_push_locked(struct zone *z, struct zone_mag *m)
{
	struct zone_depot *d = &z->z_depot;

	VM_ASSERT(ck_spinlock_fas_locked(&d->d_lock));
	VM_ASSERT(m != &zone_mag_none && m->m_rounds <= m->m_size);
	if (m->m_rounds > 0) {
		m->m_next = d->d_full;
		d->d_full = m;
		d->d_nfull++;
	} else {
		m->m_next = d->d_empty;
		d->d_empty = m;
		d->d_nempty++;
	}
}

static struct zone *
magtype_zone_of(const struct zone_mag *m)
{
	for (unsigned i = 0; i < ZONE_NMAGTYPES; i++)
		if (zone_magtypes[i].mt_size == m->m_size)
			return zone_magtypes[i].mt_zone;
	panic("zone: magazine %p has a bad size %u", (const void *)m,
	    m->m_size);
}

/* ------------------------------------------------------------------ */
/* Slab layer.                                                         */

/* Object geometry: stride, debug offsets, slab order and capacity. */
void
zone_layout(struct zone *z, bool debug)
{
	size_t osize = z->z_size < sizeof(void *) ? sizeof(void *) : z->z_size;
	size_t align = z->z_align, stride;
	unsigned min_order = 0, pick = ~0u, last_ok = ~0u, best = ~0u;
	size_t best_waste = 0;
	unsigned max_order = (z->z_create_flags & ZONE_KMALLOC) &&
	    z->z_size > ZONE_MAX_ALIGN / 4 ? ZONE_BIG_SLAB_MAX_ORDER :
	    ZONE_SLAB_MAX_ORDER;

	z->z_poison = debug && z->z_ctor == NULL && z->z_dtor == NULL;
	if (debug) {
		z->z_tag_off = ((osize + 7) & ~(size_t)7) + 8;
		stride = z->z_tag_off + 8;
	} else {
		z->z_tag_off = 0;
		stride = osize;
	}
	stride = (stride + align - 1) & ~(align - 1);
	z->z_stride = stride;
	z->z_offslab = stride >= ZONE_OFFSLAB_MIN;
	while ((PAGE_SIZE << min_order) < align)
		min_order++;
	for (unsigned o = min_order; o <= max_order; o++) {
		size_t bytes = PAGE_SIZE << o;
		size_t hdr = z->z_offslab ? 0 : sizeof(struct zone_slab);
		size_t n = bytes > hdr ? (bytes - hdr) / stride : 0;
		if (n == 0)
			continue;
		size_t waste = bytes - n * stride;
		bool ok = waste * 8 < bytes;
		if (ok && n >= ZONE_SLAB_MIN_OBJS && pick == ~0u)
			pick = o;
		if (ok)
			last_ok = o;	/* the most objects within 1/8 */
		/* Least waste as a fraction: waste / bytes. */
		if (best == ~0u || waste * (PAGE_SIZE << best) <
		    best_waste * bytes) {
			best = o;
			best_waste = waste;
		}
	}
	if (pick == ~0u)
		pick = last_ok != ~0u ? last_ok : best;
	VM_ASSERT(pick != ~0u);
	z->z_slab_order = pick;
	z->z_slab_objs = (unsigned)(((PAGE_SIZE << pick) -
	    (z->z_offslab ? 0 : sizeof(struct zone_slab))) / stride);

	/* Magazine sizes: start where a magazine holds ~4 KiB of objects,
	   but with at least ZONE_MAG_MIN_ROUNDS rounds when ~64 KiB allows
	   it; grow up to ~64 KiB. */
	unsigned first = 0, max = 0;
	for (unsigned i = 0; i < ZONE_NMAGTYPES; i++) {
		if (zone_magtypes[i].mt_size * stride <= 4096 ||
		    zone_magtypes[i].mt_size <= ZONE_MAG_MIN_ROUNDS)
			first = i;
		if (zone_magtypes[i].mt_size * stride <= 65536)
			max = i;
	}
	if (first > max)
		first = max;
	z->z_depot.d_magtype = first;
	z->z_depot.d_magtype_max = max;
}

/*
 * slab_create: a new slab from the page allocator, all objects free.
 * => no lock held, interrupts on or off.  NULL when out of memory.
 */
static struct zone_slab *
slab_create(struct zone *z, unsigned flags)
{
	unsigned order = z->z_slab_order;
	size_t bytes = PAGE_SIZE << order;
	struct vm_page *pg;
	struct zone_slab *s;
	char *base;

	pg = page_alloc(order, (flags & ZALLOC_NORECLAIM) ? PAGE_NORECLAIM : 0);
	if (pg == NULL)
		return NULL;
	base = page_to_kva(pg);
	if (z->z_offslab) {
		s = zone_alloc(zone_slab_zone, flags & ZALLOC_NORECLAIM);
		if (s == NULL) {
			page_free(pg, order);
			return NULL;
		}
	} else {
		s = (struct zone_slab *)(void *)(base + bytes - sizeof(*s));
	}
	s->s_base = base;
	s->s_page = pg;
	s->s_zone = z;
	s->s_inuse = 0;
	s->s_list = ZSL_EMPTY;
	if (ck_pr_load_uint(&z->z_flags) & ZF_DEBUG)
		zone_debug_init_slab(z, s);
	void *head = NULL;
	for (size_t i = z->z_slab_objs; i-- > 0;) {
		void *o = base + i * z->z_stride;
		*(void **)o = head;
		head = o;
	}
	s->s_free = head;
	for (size_t i = 0; i < ((size_t)1 << order); i++) {
		pg[i].pg_owner.word[0] = (uintptr_t)s;
		pg[i].pg_owner.word[1] = (uintptr_t)z;
		pg[i].pg_owner.word[2] = (uintptr_t)z->z_page_tag;
	}
	return s;
}

/*
 * slab_destroy: gives a slab (no object out) back to the page allocator.
 * => no zone lock held.  Returns the frames freed.
 */
static size_t
slab_destroy(struct zone *z, struct zone_slab *s)
{
	struct vm_page *pg = s->s_page;
	size_t n = (size_t)1 << z->z_slab_order;

	VM_ASSERT(s->s_inuse == 0 && s->s_zone == z);
	for (size_t i = 0; i < n; i++) {
		pg[i].pg_owner.word[0] = 0;
		pg[i].pg_owner.word[1] = 0;
		pg[i].pg_owner.word[2] = 0;
	}
	if (z->z_offslab)
		zone_free(zone_slab_zone, s);
	page_free(pg, z->z_slab_order);
	return n;
}

static void
slab_relist_locked(struct zone *z, struct zone_slab *s)
{
	struct zone_slab_layer *sl = &z->z_slab;
	uint32_t want = s->s_inuse == 0 ? ZSL_EMPTY :
	    s->s_inuse == z->z_slab_objs ? ZSL_FULL : ZSL_PARTIAL;

	VM_ASSERT(ck_spinlock_fas_locked(&sl->sl_lock));
	if (want == s->s_list)
		return;
	CK_LIST_REMOVE(s, s_link);
	sl->sl_count[s->s_list]--;
	CK_LIST_INSERT_HEAD(&sl->sl_lists[want], s, s_link);
	sl->sl_count[want]++;
	s->s_list = want;
}

static void
slab_insert_locked(struct zone *z, struct zone_slab *s)
{
	struct zone_slab_layer *sl = &z->z_slab;

	VM_ASSERT(ck_spinlock_fas_locked(&sl->sl_lock));
	s->s_list = ZSL_EMPTY;
	CK_LIST_INSERT_HEAD(&sl->sl_lists[ZSL_EMPTY], s, s_link);
	sl->sl_count[ZSL_EMPTY]++;
	sl->sl_nslabs++;
	sl->sl_created++;
}

/* One unconstructed object, or NULL if no slab has a free one. */
static void *
slab_alloc_obj_locked(struct zone *z)
{
	struct zone_slab_layer *sl = &z->z_slab;
	struct zone_slab *s;
	void *obj;

	VM_ASSERT(ck_spinlock_fas_locked(&sl->sl_lock));
	s = CK_LIST_FIRST(&sl->sl_lists[ZSL_PARTIAL]);
	if (s == NULL)
		s = CK_LIST_FIRST(&sl->sl_lists[ZSL_EMPTY]);
	if (s == NULL)
		return NULL;
	obj = s->s_free;
	VM_ASSERT(obj != NULL);
	s->s_free = *(void **)obj;
	s->s_inuse++;
	sl->sl_inuse++;
	slab_relist_locked(z, s);
	return obj;
}

/*
 * slab_free_obj_locked: puts an unconstructed object back in slab s.
 * Returns s if it became empty beyond the reserve (unlinked: the caller
 * destroys it after dropping the lock), else NULL.
 */
static struct zone_slab *
slab_free_obj_locked(struct zone *z, struct zone_slab *s, void *obj)
{
	struct zone_slab_layer *sl = &z->z_slab;

	VM_ASSERT(ck_spinlock_fas_locked(&sl->sl_lock));
	VM_PANIC_IF(s->s_inuse == 0, "zone_free(%s, %p): double free (its "
	    "slab has no object out)", z->z_name, obj);
#if VM_DEBUG_LEVEL >= 2
	for (void *f = s->s_free; f != NULL; f = *(void **)f)
		VM_PANIC_IF(f == obj, "zone_free(%s, %p): double free (object "
		    "is free in its slab)", z->z_name, obj);
#endif
	*(void **)obj = s->s_free;
	s->s_free = obj;
	s->s_inuse--;
	sl->sl_inuse--;
	if (s->s_inuse == 0 && sl->sl_count[ZSL_EMPTY] >= ZONE_SLAB_RESERVE) {
		CK_LIST_REMOVE(s, s_link);
		sl->sl_count[s->s_list]--;
		sl->sl_nslabs--;
		sl->sl_destroyed++;
		return s;
	}
	slab_relist_locked(z, s);
	return NULL;
}

/* The slab of an object of z, without the checks of zone_obj_slab(). */
static inline struct zone_slab *
slab_of(const void *obj)
{
	return (struct zone_slab *)zone_page_of(obj)->pg_owner.word[0];
}

/* Destroys every slab of a private list (no lock held); frames given back. */
static size_t
slab_destroy_list(struct zone *z, struct zone_slab_list *dead)
{
	struct zone_slab *s, *next;
	size_t frames = 0;

	for (s = CK_LIST_FIRST(dead); s != NULL; s = next) {
		next = CK_LIST_NEXT(s, s_link);
		frames += slab_destroy(z, s);
	}
	return frames;
}

/*
 * slab_free_batch: returns n unconstructed objects to the slab layer
 * under one lock hold, then frees the slabs that emptied.
 * => no zone lock held.  Returns frames given back.
 */
static size_t
slab_free_batch(struct zone *z, void *const *objs, size_t n)
{
	struct zone_slab_list dead = CK_LIST_HEAD_INITIALIZER(dead);
	struct zone_slab *s;
	hal_intr_t is;

	is = hal_intr_disable();
	slab_lock(z);
	for (size_t i = 0; i < n; i++) {
		s = slab_free_obj_locked(z, slab_of(objs[i]), objs[i]);
		if (s != NULL)
			CK_LIST_INSERT_HEAD(&dead, s, s_link);
	}
	slab_unlock(z);
	stat_add(&z->z_cpu[hal_cpu_id()].zc_slab_frees, n);
	hal_intr_restore(is);
	return slab_destroy_list(z, &dead);
}

/*
 * slab_alloc: one constructed object from the slab layer, growing it by
 * a slab when needed.
 * => no zone lock held, per-cpu state not in use.  NULL when out of
 *    memory.
 */
static void *
slab_alloc(struct zone *z, unsigned flags)
{
	struct zone_slab *fresh = NULL;
	void *obj;
	hal_intr_t is;

	for (;;) {
		is = hal_intr_disable();
		slab_lock(z);
		if (fresh != NULL)
			slab_insert_locked(z, fresh);
		obj = slab_alloc_obj_locked(z);
		slab_unlock(z);
		if (obj != NULL)
			stat_inc(&z->z_cpu[hal_cpu_id()].zc_slab_allocs);
		hal_intr_restore(is);
		if (obj != NULL)
			break;
		/* No free object: grow, with no lock held. */
		fresh = slab_create(z, flags);
		if (fresh == NULL)
			return NULL;
	}
	if (ck_pr_load_uint(&z->z_flags) & ZF_DEBUG)
		zone_debug_on_alloc(z, obj, true);
	if (z->z_ctor != NULL)
		z->z_ctor(obj);
	return obj;
}

/* Frees every empty slab beyond `keep`.  Returns frames freed. */
static size_t
slab_reap(struct zone *z, size_t keep)
{
	struct zone_slab_layer *sl = &z->z_slab;
	struct zone_slab_list dead = CK_LIST_HEAD_INITIALIZER(dead);
	struct zone_slab *s;
	hal_intr_t is;

	is = hal_intr_disable();
	slab_lock(z);
	while (sl->sl_count[ZSL_EMPTY] > keep) {
		s = CK_LIST_FIRST(&sl->sl_lists[ZSL_EMPTY]);
		CK_LIST_REMOVE(s, s_link);
		sl->sl_count[ZSL_EMPTY]--;
		sl->sl_nslabs--;
		sl->sl_destroyed++;
		CK_LIST_INSERT_HEAD(&dead, s, s_link);
	}
	slab_unlock(z);
	hal_intr_restore(is);
	return slab_destroy_list(z, &dead);
}

/* ------------------------------------------------------------------ */
/* Magazine layer, slow paths.                                         */

/*
 * mag_destroy: empties a magazine (off every list) into the slab layer,
 * running the destructor on each object, and frees the magazine.
 * => no zone lock held.  Returns frames freed.
 */
static size_t
mag_destroy(struct zone *z, struct zone_mag *m)
{
	size_t frames;

	if (z->z_dtor != NULL)
		for (uint32_t i = 0; i < m->m_rounds; i++)
			z->z_dtor(m->m_objs[i]);
	frames = slab_free_batch(z, m->m_objs, m->m_rounds);
	m->m_rounds = 0;
	frames += slab_free_batch(magtype_zone_of(m), (void **)&m, 1);
	return frames;
}

static size_t
mag_destroy_list(struct zone *z, struct zone_mag *list)
{
	size_t frames = 0;

	while (list != NULL) {
		struct zone_mag *next = list->m_next;
		frames += mag_destroy(z, list);
		list = next;
	}
	return frames;
}

/*
 * zone_fast_allowed: whether a slow path may turn its cpu's fast view back
 * on.  Read with interrupts off, right before zc_publish: a flag set
 * since the slow path began (failure injection armed, say) is then
 * either seen here, or its setter's flush IPI comes after the publish and
 * turns the view off again.
 */
static inline bool
zone_fast_allowed(const struct zone *z)
{
	return (ck_pr_load_uint(&z->z_flags) & ZF_SLOW) == 0;
}

static inline void
zc_swap(struct zone_cpu *zc)
{
	struct zone_mag *t = zc->zc_loaded;

	zc->zc_loaded = zc->zc_prev;
	zc->zc_prev = t;
}

/*
 * zone_mag_alloc_local: allocation through the magazine layer: loaded,
 * prev, then a full magazine from the depot.
 * => interrupts off.  NULL when the depot has no full magazine either.
 */
static void *
zone_mag_alloc_local(struct zone *z, bool fast, unsigned *room)
{
	struct zone_cpu *zc = &z->z_cpu[hal_cpu_id()];
	void *obj = NULL;

	VM_ASSERT(!hal_intr_enabled());
	*room = 0;
	zc_writeback(zc);
	for (;;) {
		struct zone_mag *m = zc->zc_loaded;
		if (m->m_rounds > 0) {
			obj = m->m_objs[--m->m_rounds];
			stat_inc(&zc->zc_allocs);
			break;
		}
		if (zc->zc_prev->m_rounds > 0) {
			zc_swap(zc);
			continue;
		}
		stat_inc(&zc->zc_alloc_misses);
		depot_lock(z);
		struct zone_mag *full = depot_pop_full_locked(z);
		if (full == NULL) {
			/* A cpu without magazines takes an empty one, so
			   that the refill below has room. */
			if (fast && zc->zc_loaded == &zone_mag_none &&
			    (zc->zc_loaded = depot_pop_empty_locked(z)) == NULL)
				zc->zc_loaded = &zone_mag_none;
			depot_unlock(z);
			/* Both magazines are empty: room for a refill. */
			*room = zc->zc_loaded->m_size + zc->zc_prev->m_size;
			break;
		}
		/* prev is empty (or none): it goes to the depot. */
		if (zc->zc_prev != &zone_mag_none)
			depot_push_locked(z, zc->zc_prev);
		zc->zc_prev = zc->zc_loaded;
		zc->zc_loaded = full;
		depot_unlock(z);
		stat_inc(&zc->zc_depot_gets);
	}
	zc_publish(zc, zone_fast_allowed(z));
	return obj;
}

/*
 * zone_mag_free: free through the magazine layer.  Returns false when no
 * magazine could take the object (then it goes to the slab layer).
 * => any thread context; no zone lock held.
 */
static bool
zone_mag_free(struct zone *z, void *obj)
{
	hal_intr_t is = hal_intr_disable();
	struct zone_cpu *zc = &z->z_cpu[hal_cpu_id()];
	bool done = false;

	zc_writeback(zc);
	for (;;) {
		struct zone_mag *m = zc->zc_loaded;
		if (m->m_rounds < m->m_size) {
			m->m_objs[m->m_rounds++] = obj;
			stat_inc(&zc->zc_frees);
			done = true;
			break;
		}
		struct zone_mag *prev = zc->zc_prev;
		if (prev != &zone_mag_none && prev->m_rounds == 0) {
			zc_swap(zc);
			continue;
		}
		stat_inc(&zc->zc_free_misses);
		depot_lock(z);
		unsigned mt = z->z_depot.d_magtype;
		struct zone_mag *emp = depot_pop_empty_locked(z);
		if (emp != NULL && emp->m_size >= zone_magtypes[mt].mt_size) {
			/* prev is full (or none): it goes to the depot. */
			if (prev != &zone_mag_none) {
				depot_push_locked(z, prev);
				stat_inc(&zc->zc_depot_puts);
			}
			zc->zc_prev = zc->zc_loaded;
			zc->zc_loaded = emp;
			depot_unlock(z);
			continue;
		}
		depot_unlock(z);
		/* Allocate an empty magazine with the per-cpu state let go
		   (a flush IPI may empty it meanwhile: re-read after). */
		hal_intr_restore(is);
		if (emp != NULL)	/* too small since a resize */
			(void)slab_free_batch(magtype_zone_of(emp),
			    (void **)&emp, 1);
		struct zone_mag *nm = zone_alloc(zone_magtypes[mt].mt_zone,
		    ZALLOC_NORECLAIM);
		is = hal_intr_disable();
		zc = &z->z_cpu[hal_cpu_id()];
		if (nm == NULL)
			break;
		nm->m_next = NULL;
		nm->m_rounds = 0;
		nm->m_size = zone_magtypes[mt].mt_size;
		depot_lock(z);
		depot_push_locked(z, nm);
		depot_unlock(z);
	}
	zc_publish(zc, zone_fast_allowed(z));
	hal_intr_restore(is);
	return done;
}

/*
 * slab_alloc_batch: up to `want` constructed objects from the slab layer
 * under one lock hold (growing by one slab only if it has none free), so
 * that one cpu gets neighbouring objects.
 * => no zone lock held, per-cpu state not in use.  Returns how many.
 */
static unsigned
slab_alloc_batch(struct zone *z, unsigned flags, void **objs, unsigned want)
{
	struct zone_slab *fresh = NULL;
	unsigned n = 0;
	hal_intr_t is;

	for (;;) {
		is = hal_intr_disable();
		slab_lock(z);
		if (fresh != NULL)
			slab_insert_locked(z, fresh);
		while (n < want && (objs[n] = slab_alloc_obj_locked(z)) != NULL)
			n++;
		slab_unlock(z);
		stat_add(&z->z_cpu[hal_cpu_id()].zc_slab_allocs, n);
		hal_intr_restore(is);
		if (n > 0)
			break;
		fresh = slab_create(z, flags);
		if (fresh == NULL)
			return 0;
	}
	if (z->z_ctor != NULL)
		for (unsigned i = 0; i < n; i++)
			z->z_ctor(objs[i]);
	return n;
}

/*
 * zone_mag_install_empty: gives a cpu that holds no magazine an empty
 * one from the magazine zone.  Returns the room it has (0 if none).
 * => no zone lock held, per-cpu state not in use.
 */
static unsigned
zone_mag_install_empty(struct zone *z)
{
	unsigned mt = ck_pr_load_uint(&z->z_depot.d_magtype);
	struct zone_mag *m = zone_alloc(zone_magtypes[mt].mt_zone,
	    ZALLOC_NORECLAIM);
	unsigned room = 0;
	hal_intr_t is;

	if (m == NULL)
		return 0;
	m->m_next = NULL;
	m->m_rounds = 0;
	m->m_size = zone_magtypes[mt].mt_size;
	is = hal_intr_disable();
	struct zone_cpu *zc = &z->z_cpu[hal_cpu_id()];
	if (zc->zc_loaded == &zone_mag_none && zc->zc_prev == &zone_mag_none) {
		zc->zc_loaded = m;	/* the fast view stays off: no rounds */
		room = m->m_size;
		m = NULL;
	}
	hal_intr_restore(is);
	if (m != NULL)		/* the cpu got magazines meanwhile */
		(void)slab_free_batch(zone_magtypes[mt].mt_zone, (void **)&m, 1);
	return room;
}

/*
 * zone_refill: an allocation that missed every magazine while the cpu's
 * two magazines are empty: takes up to `room` more objects from the slab
 * layer than asked for and loads them, so the next misses are hits and
 * the cpu's objects are neighbours (no cache line shared with another
 * cpu's objects).  Only for zones on the fast path (no debug).
 * => no zone lock held, per-cpu state not in use.  NULL when out of
 *    memory.
 */
static void *
zone_refill(struct zone *z, unsigned flags, unsigned room)
{
	void *objs[ZONE_REFILL_MAX + 1];
	unsigned n, k = 1;
	hal_intr_t is;

	n = slab_alloc_batch(z, flags, objs,
	    1 + (room < ZONE_REFILL_MAX ? room : ZONE_REFILL_MAX));
	if (n == 0)
		return NULL;
	is = hal_intr_disable();
	struct zone_cpu *zc = &z->z_cpu[hal_cpu_id()];
	zc_writeback(zc);
	while (k < n) {
		struct zone_mag *m = zc->zc_loaded;
		if (m->m_rounds < m->m_size) {
			m->m_objs[m->m_rounds++] = objs[k++];
			continue;
		}
		if (zc->zc_prev != &zone_mag_none && zc->zc_prev->m_rounds == 0) {
			zc_swap(zc);
			continue;
		}
		break;		/* a flush took the magazines meanwhile */
	}
	zc_publish(zc, zone_fast_allowed(z));
	hal_intr_restore(is);
	if (k < n) {
		if (z->z_dtor != NULL)
			for (unsigned i = k; i < n; i++)
				z->z_dtor(objs[i]);
		(void)slab_free_batch(z, objs + k, n - k);
	}
	return objs[0];
}

void *
zone_alloc_slow(struct zone *z, unsigned flags)
{
	unsigned zf = ck_pr_load_uint(&z->z_flags);
	void *obj = NULL;

	if ((zf & ZF_FAILINJ) && zone_fail_now(z))
		goto fail;
	unsigned room = 0;
	if (!(zf & ZF_NOMAG)) {
		hal_intr_t is = hal_intr_disable();
		obj = zone_mag_alloc_local(z, (zf & ZF_SLOW) == 0, &room);
		hal_intr_restore(is);
		if (obj != NULL && (zf & ZF_DEBUG))
			zone_debug_on_alloc(z, obj, false);
	}
	if (obj == NULL) {
		/* A cpu with no magazine at all gets one (never with
		   reclaim), so that it can refill from neighbouring
		   objects instead of taking them one by one. */
		if (room == 0 && (zf & ZF_SLOW) == 0)
			room = zone_mag_install_empty(z);
		/* Refill empty magazines on the fast path; one object else. */
		if (room > 0 && (zf & ZF_SLOW) == 0)
			obj = zone_refill(z, flags, room);
		else
			obj = slab_alloc(z, flags);
		if (obj == NULL)
			goto fail;
		hal_intr_t is = hal_intr_disable();
		stat_inc(&z->z_cpu[hal_cpu_id()].zc_allocs);
		stat_inc(&z->z_cpu[hal_cpu_id()].zc_alloc_slab);
		hal_intr_restore(is);
	}
	if (flags & ZALLOC_ZERO)
		memset(obj, 0, z->z_size);
	return obj;
fail:
	ck_pr_inc_64(&z->z_failures);
	return NULL;
}

void
zone_free_slow(struct zone *z, void *obj)
{
	unsigned zf = ck_pr_load_uint(&z->z_flags);

	if (zf & ZF_DEBUG)
		zone_debug_on_free(z, obj);
	if (!(zf & ZF_NOMAG) && zone_mag_free(z, obj))
		return;
	hal_intr_t is = hal_intr_disable();
	stat_inc(&z->z_cpu[hal_cpu_id()].zc_frees);
	stat_inc(&z->z_cpu[hal_cpu_id()].zc_free_slab);
	hal_intr_restore(is);
	if (z->z_dtor != NULL)
		z->z_dtor(obj);
	(void)slab_free_batch(z, &obj, 1);
}

void *
zone_alloc(zone_t z, unsigned flags)
{
	VM_PANIC_IF(z == NULL, "zone_alloc(NULL, %#x): no zone", flags);
	return zone_alloc_inline(z, flags);
}

void
zone_free(zone_t z, void *obj)
{
	VM_PANIC_IF(z == NULL, "zone_free(NULL, %p): no zone", obj);
	VM_PANIC_IF(obj == NULL, "zone_free(%s, NULL)", z->z_name);
#if VM_DEBUG_LEVEL >= 1
	(void)zone_obj_slab(z, obj, "zone_free");
#endif
	zone_free_inline(z, obj);
}

/* ------------------------------------------------------------------ */
/* Flushing, reaping, reclaim.                                         */

/*
 * zone_flush_local: moves this cpu's magazines of z into the depot.
 * Returns false, and does nothing, if the flush interrupted this cpu in
 * z's inline fast path (zc_busy, zone_impl.h "Exclusion").
 * => interrupts off (an IPI handler, or the cpu itself).
 */
bool
zone_flush_local(struct zone *z)
{
	struct zone_cpu *zc = &z->z_cpu[hal_cpu_id()];

	VM_ASSERT(!hal_intr_enabled());
	if (ck_pr_load_8(&zc->zc_busy) != 0) {
		ck_pr_inc_64(&z->z_flush_deferred);
		return false;
	}
	zc_writeback(zc);
	if (zc->zc_loaded == &zone_mag_none && zc->zc_prev == &zone_mag_none)
		return true;
	depot_lock(z);
	if (zc->zc_loaded != &zone_mag_none)
		depot_push_locked(z, zc->zc_loaded);
	if (zc->zc_prev != &zone_mag_none)
		depot_push_locked(z, zc->zc_prev);
	depot_unlock(z);
	zc->zc_loaded = &zone_mag_none;
	zc->zc_prev = &zone_mag_none;
	return true;
}

/* A flush of one zone (rq_zone) or of all (NULL) on a set of cpus; each
   cpu that could not flush everything sets its rq_missed byte. */
struct zone_flush_req {
	struct zone *rq_zone;
	uint8_t rq_missed[HAL_MAX_CPUS];
};

static void
zone_flush_ipi(void *arg)
{
	struct zone_flush_req *rq = arg;
	bool done = true;
	struct zone *z;

	if (rq->rq_zone != NULL) {
		done = zone_flush_local(rq->rq_zone);
	} else {
		zone_list_lock_acquire();
		CK_LIST_FOREACH(z, &zone_list, z_link)
			if (!zone_flush_local(z))
				done = false;
		zone_list_lock_release();
	}
	if (!done)
		ck_pr_store_8(&rq->rq_missed[hal_cpu_id()], 1);
}

static void
all_cpus(hal_cpuset_t *set)
{
	/* Offline cpus have no magazines (lib/smp.c section 3). */
	smp_online_set(set);
}

/*
 * zone_flush_cpus: every cpu moves its magazines of z (NULL: of every
 * zone) to the depots.  A cpu that was in a fast path when the IPI came
 * is called again until it has flushed; each fast path is a few
 * instructions long, so a retry almost always succeeds.
 * => thread context, interrupts on or off (smp_call serves calls to the
 *    caller while it waits), no zone lock held.
 */
void
zone_flush_cpus(struct zone *z)
{
	struct zone_flush_req rq;
	hal_cpuset_t todo;
	bool again;

	rq.rq_zone = z;
	all_cpus(&todo);
	do {
		memset(rq.rq_missed, 0, sizeof(rq.rq_missed));
		smp_call(&todo, zone_flush_ipi, &rq);
		hal_cpuset_clear(&todo);
		again = false;
		for (unsigned c = 0; c < hal_ncpus(); c++) {
			if (ck_pr_load_8(&rq.rq_missed[c]) != 0) {
				hal_cpuset_add(&todo, c);
				again = true;
			}
		}
	} while (again);
}

/* Empties the whole depot into the slab layer.  => no zone lock held. */
static size_t
depot_drain(struct zone *z)
{
	struct zone_depot *d = &z->z_depot;
	struct zone_mag *full, *empty;
	hal_intr_t is = hal_intr_disable();

	depot_lock(z);
	full = d->d_full;
	empty = d->d_empty;
	d->d_full = d->d_empty = NULL;
	d->d_nfull = d->d_nempty = 0;
	d->d_full_min = d->d_empty_min = 0;
	depot_unlock(z);
	hal_intr_restore(is);
	return mag_destroy_list(z, full) + mag_destroy_list(z, empty);
}

size_t
zone_reap(zone_t z)
{
	struct zone_depot *d = &z->z_depot;
	struct zone_mag *list = NULL;
	hal_intr_t is = hal_intr_disable();

	depot_lock(z);
	/* Magazines the depot never dipped into since the last reap. */
	size_t nfull = d->d_full_min, nempty = d->d_empty_min;
	for (size_t n = nfull; n > 0; n--) {
		struct zone_mag *m = depot_pop_full_locked(z);
		m->m_next = list;
		list = m;
	}
	for (size_t n = nempty; n > 0; n--) {
		struct zone_mag *m = depot_pop_empty_locked(z);
		m->m_next = list;
		list = m;
	}
	/* A new interval starts. */
	d->d_full_min = d->d_nfull;
	d->d_empty_min = d->d_nempty;
	depot_unlock(z);
	hal_intr_restore(is);
	return mag_destroy_list(z, list) + slab_reap(z, ZONE_SLAB_RESERVE);
}

size_t
zone_reap_all(zone_t z)
{
	zone_flush_cpus(z);
	return depot_drain(z) + slab_reap(z, 0);
}

size_t
zone_reap_everything(void)
{
	struct zone *z;
	size_t frames = 0;
	hal_intr_t is;

	if (!ck_pr_load_8((uint8_t *)&zone_ready))
		return 0;
	zone_flush_cpus(NULL);
	is = hal_intr_disable();
	zone_list_lock_acquire();
	CK_LIST_FOREACH(z, &zone_list, z_link) {
		if (z->z_create_flags & ZONE_MAGZONE)
			continue;
		frames += depot_drain(z);
		frames += slab_reap(z, 0);
	}
	/* The magazines and off-slab headers freed above, last. */
	CK_LIST_FOREACH(z, &zone_list, z_link)
		if (z->z_create_flags & ZONE_MAGZONE)
			frames += slab_reap(z, 0);
	zone_list_lock_release();
	hal_intr_restore(is);
	/* page_free parks small blocks in this cpu's page cache; hand them
	   to the buddy allocator so that they coalesce before the retry. */
	if (frames != 0)
		page_drain_all();
	return frames;
}

/* ------------------------------------------------------------------ */
/* Zones.                                                              */

/* Bytes of a zone descriptor: the zone and one zone_cpu per cpu. */
static size_t
zone_desc_size(void)
{
	return sizeof(struct zone) + hal_ncpus() * sizeof(struct zone_cpu);
}

static zone_t
zone_create_internal(const char *name, size_t size, size_t align,
    zone_ctor_t ctor, zone_dtor_t dtor, unsigned flags)
{
	unsigned ncpus = hal_ncpus(), order = 0;
	size_t bytes = zone_desc_size();
	struct vm_page *pg;
	struct zone *z;
	bool debug;

	if (align == 0)
		align = ZONE_MIN_ALIGN;
	bool big = (flags & ZONE_KMALLOC) && size > ZONE_MAX_ALIGN / 4;
	if (size == 0 || size > (big ? ZONE_BIG_MAX_SIZE : ZONE_MAX_ALIGN / 2) ||
	    align < sizeof(void *) || (align & (align - 1)) != 0 ||
	    align > (big ? ZONE_BIG_MAX_SIZE : ZONE_MAX_ALIGN))
		return NULL;
	if (zone_desc_zone != NULL) {
		/* Descriptors pack (see "Descriptors" in zone_impl.h). */
		z = zone_alloc(zone_desc_zone, ZALLOC_ZERO);
		if (z == NULL)
			return NULL;
	} else {
		/* zone-slab's and zone-desc's own: frames of their own. */
		while ((PAGE_SIZE << order) < bytes)
			order++;
		pg = page_alloc(order, PAGE_ZERO);
		if (pg == NULL)
			return NULL;
		z = page_to_kva(pg);
		z->z_self = pg;
		z->z_self_order = order;
	}
	size_t n = strlen(name);
	if (n >= ZONE_NAME_MAX)
		n = ZONE_NAME_MAX - 1;
	memcpy(z->z_name, name, n);
	z->z_name[n] = '\0';
	z->z_size = size;
	z->z_align = align;
	z->z_ctor = ctor;
	z->z_dtor = dtor;
	z->z_create_flags = flags;
	z->z_ncpus = ncpus;
	z->z_page_tag = (uint64_t)(uintptr_t)z ^ ((flags & ZONE_KMALLOC) ?
	    ZONE_PAGE_MAGIC_KMALLOC : ZONE_PAGE_MAGIC);
	debug = (flags & ZONE_DEBUG) ||
	    (VM_DEBUG_LEVEL >= 2 && !(flags & ZONE_NODEBUG));
	if (flags & ZONE_NODEBUG)
		debug = false;
	zone_layout(z, debug);
	z->z_flags = (debug ? ZF_DEBUG : 0) |
	    ((flags & (ZONE_NOMAG | ZONE_MAGZONE)) ? ZF_NOMAG : 0) |
	    ((flags & ZONE_MAGZONE) ? ZF_MAGZONE : 0) |
	    ((flags & ZONE_KMALLOC) ? ZF_KMALLOC : 0);
	ck_spinlock_fas_init(&z->z_depot.d_lock);
	ck_spinlock_fas_init(&z->z_slab.sl_lock);
	for (unsigned i = 0; i < 3; i++)
		CK_LIST_INIT(&z->z_slab.sl_lists[i]);
	for (unsigned c = 0; c < ncpus; c++) {
		z->z_cpu[c].zc_loaded = &zone_mag_none;
		z->z_cpu[c].zc_prev = &zone_mag_none;
	}
	hal_intr_t is = hal_intr_disable();
	zone_list_lock_acquire();
	CK_LIST_INSERT_HEAD(&zone_list, z, z_link);
	zone_list_lock_release();
	hal_intr_restore(is);
	return z;
}

zone_t
zone_create(const char *name, size_t size, size_t align, zone_ctor_t ctor,
    zone_dtor_t dtor, unsigned flags)
{
	VM_ASSERT(zone_ready);
	/* A name is required; unknown flag bits are a caller's mistake.
	   (ZONE_KMALLOC is kmalloc's own, outside zone.h.) */
	if (name == NULL ||
	    (flags & ~(ZONE_NOMAG | ZONE_DEBUG | ZONE_NODEBUG | ZONE_KMALLOC)))
		return NULL;
	return zone_create_internal(name, size, align, ctor, dtor, flags);
}

int
zone_destroy(zone_t z)
{
	struct zone_slab_layer *sl = &z->z_slab;
	size_t inuse;
	hal_intr_t is;

	VM_ASSERT(hal_intr_enabled());
	(void)zone_reap_all(z);
	is = hal_intr_disable();
	slab_lock(z);
	inuse = sl->sl_inuse;
	slab_unlock(z);
	hal_intr_restore(is);
	if (inuse != 0)
		return -EBUSY;
	is = hal_intr_disable();
	zone_list_lock_acquire();
	CK_LIST_REMOVE(z, z_link);
	zone_list_lock_release();
	hal_intr_restore(is);
	VM_ASSERT(sl->sl_nslabs == 0);
	VM_ASSERT(z->z_self == NULL);	/* never zone-slab nor zone-desc */
	zone_free(zone_desc_zone, z);
	return 0;
}

void
zone_set_magazines(zone_t z, bool on)
{
	if (z->z_create_flags & ZONE_MAGZONE)
		return;
	if (on) {
		ck_pr_and_uint(&z->z_flags, ~ZF_NOMAG);
		return;
	}
	ck_pr_or_uint(&z->z_flags, ZF_NOMAG);
	ck_pr_fence_memory();
	(void)zone_reap_all(z);
}

int
zone_set_debug(zone_t z, bool on)
{
	struct zone_slab_layer *sl = &z->z_slab;
	int err = 0;

	if (((ck_pr_load_uint(&z->z_flags) & ZF_DEBUG) != 0) == on)
		return 0;
	(void)zone_reap_all(z);
	hal_intr_t is = hal_intr_disable();
	depot_lock(z);
	slab_lock(z);
	if (sl->sl_nslabs != 0) {
		err = -EBUSY;
	} else {
		unsigned mt = z->z_depot.d_magtype;
		zone_layout(z, on);
		if (mt > z->z_depot.d_magtype)	/* keep a grown size */
			z->z_depot.d_magtype = mt < z->z_depot.d_magtype_max ?
			    mt : z->z_depot.d_magtype_max;
		if (on)
			ck_pr_or_uint(&z->z_flags, ZF_DEBUG);
		else
			ck_pr_and_uint(&z->z_flags, ~ZF_DEBUG);
	}
	slab_unlock(z);
	depot_unlock(z);
	hal_intr_restore(is);
	return err;
}

struct vm_page *
zone_page_of_slow(const void *va)
{
	for (unsigned i = 1; i < zone_ndmap; i++) {
		uintptr_t off = (uintptr_t)va - zone_dmap[i].dm_va;
		if (off < zone_dmap[i].dm_len)
			return zone_dmap[i].dm_pages + (off >> PAGE_SHIFT);
	}
	/* Every region is in the table: va is in none (a stack or static
	   address, say), and the caller names itself in its panic. */
	if (zone_dmap_all)
		return NULL;
	return kva_to_page(va);
}

/* The direct-map table of zone_page_of(), for regions that check out. */
static void
zone_dmap_init(void)
{
	const struct hal_mem_range *m;
	unsigned nm = hal_mem_regions(&m);

	for (unsigned i = 0; i < nm && zone_ndmap < HAL_MAX_MEM_REGIONS; i++) {
		size_t n = m[i].size >> PAGE_SHIFT;
		paddr_t last = m[i].base + ((paddr_t)(n - 1) << PAGE_SHIFT);
		struct vm_page *pg = pa_to_page(m[i].base);
		char *va = hal_phys_to_virt(m[i].base);
		/* (va == NULL: kfree relies on NULL being outside.) */
		if (n == 0 || pg == NULL || va == NULL ||
		    pa_to_page(last) != pg + n - 1 ||
		    (char *)hal_phys_to_virt(last) != va + (last - m[i].base))
			continue;
		zone_dmap[zone_ndmap].dm_va = (uintptr_t)va;
		zone_dmap[zone_ndmap].dm_len = n << PAGE_SHIFT;
		zone_dmap[zone_ndmap].dm_pages = pg;
		zone_ndmap++;
	}
	zone_dmap_all = zone_ndmap == nm;
}

void
zone_init(void)
{
	char name[ZONE_NAME_MAX];

	if (zone_ready)
		return;
	zone_dmap_init();
	zone_slab_zone = zone_create_internal("zone-slab",
	    sizeof(struct zone_slab), sizeof(void *), NULL, NULL,
	    ZONE_MAGZONE | ZONE_NODEBUG);
	VM_PANIC_IF(zone_slab_zone == NULL, "zone_init: out of memory");
	/* Descriptors are big enough for off-slab headers: after zone-slab. */
	zone_desc_zone = zone_create_internal("zone-desc", zone_desc_size(),
	    __alignof__(struct zone), NULL, NULL, ZONE_MAGZONE | ZONE_NODEBUG);
	VM_PANIC_IF(zone_desc_zone == NULL, "zone_init: out of memory");
	for (unsigned i = 0; i < ZONE_NMAGTYPES; i++) {
		struct zone_magtype *mt = &zone_magtypes[i];
		ksnprintf(name, sizeof(name), "zone-mag-%u", mt->mt_size);
		mt->mt_zone = zone_create_internal(name,
		    sizeof(struct zone_mag) + mt->mt_size * sizeof(void *),
		    HAL_CACHE_LINE, NULL, NULL, ZONE_MAGZONE | ZONE_NODEBUG);
		VM_PANIC_IF(mt->mt_zone == NULL, "zone_init: out of memory");
	}
	page_reclaim_register(zone_reap_everything);
	ck_pr_store_8((uint8_t *)&zone_ready, 1);
}

/* ------------------------------------------------------------------ */
/* Accessors used by zone_debug.c.                                     */

void
zone_list_foreach(void (*fn)(struct zone *, void *), void *arg)
{
	struct zone *z;
	hal_intr_t is = hal_intr_disable();

	zone_list_lock_acquire();
	CK_LIST_FOREACH(z, &zone_list, z_link)
		fn(z, arg);
	zone_list_lock_release();
	hal_intr_restore(is);
}
