/*
 * zone_debug.c: the zone allocator's debug aids, validation and statistics
 * export, kept out of the hot file (vm/zone.c, section 7 and 8 of its
 * theory comment).
 *
 * Debug layout of one stride (ZF_DEBUG):
 *
 *	[0, z_size)		the object; poisoned with ZONE_POISON_BYTE
 *				while free (zones without ctor/dtor)
 *	[max(z_size, 8), z_tag_off)	redzone, ZONE_REDZONE_BYTE
 *	[z_tag_off, +8)		state tag: ZONE_TAG_ALLOC or ZONE_TAG_FREE,
 *				xor the object's address
 *	[.., z_stride)		alignment padding
 *
 * A free object in a slab keeps its free-list link in its first word, so
 * the poison check of an object coming from a slab starts at byte 8.
 */
#include <string.h>

#include "lib/kprintf.h"
#include "lib/smp.h"
#include "vm/zone_impl.h"

static inline uint64_t *
zone_tag(struct zone *z, void *obj)
{
	return (uint64_t *)(void *)((char *)obj + z->z_tag_off);
}

static size_t
zone_rz_off(const struct zone *z)
{
	return z->z_size < sizeof(void *) ? sizeof(void *) : z->z_size;
}

/* Panics if the redzone of obj is not intact. */
static void
zone_check_redzone(struct zone *z, void *obj, const char *fn)
{
	const unsigned char *p = obj;

	for (size_t i = zone_rz_off(z); i < z->z_tag_off; i++)
		VM_PANIC_IF(p[i] != ZONE_REDZONE_BYTE, "%s(%s, %p): redzone "
		    "overwritten at offset %zu (object size %zu, byte %#x)",
		    fn, z->z_name, obj, i, z->z_size, p[i]);
}

void
zone_debug_init_slab(struct zone *z, struct zone_slab *s)
{
	for (size_t i = 0; i < z->z_slab_objs; i++) {
		char *obj = s->s_base + i * z->z_stride;
		if (z->z_poison)
			memset(obj, ZONE_POISON_BYTE, z->z_size);
		memset(obj + zone_rz_off(z), ZONE_REDZONE_BYTE,
		    z->z_tag_off - zone_rz_off(z));
		*zone_tag(z, obj) = ZONE_TAG_FREE ^ (uintptr_t)obj;
	}
}

void
zone_debug_on_alloc(struct zone *z, void *obj, bool from_slab)
{
	uint64_t tag = *zone_tag(z, obj);
	const unsigned char *p = obj;

	VM_PANIC_IF(tag != (ZONE_TAG_FREE ^ (uintptr_t)obj),
	    "zone_alloc(%s): free object %p is corrupt (state tag %#llx)",
	    z->z_name, obj, (unsigned long long)tag);
	if (z->z_poison) {
		for (size_t i = from_slab ? sizeof(void *) : 0; i < z->z_size;
		    i++)
			VM_PANIC_IF(p[i] != ZONE_POISON_BYTE, "zone_alloc(%s): "
			    "object %p modified after free (offset %zu holds "
			    "%#x): use after free", z->z_name, obj, i, p[i]);
	}
	zone_check_redzone(z, obj, "zone_alloc");
	*zone_tag(z, obj) = ZONE_TAG_ALLOC ^ (uintptr_t)obj;
}

void
zone_debug_on_free(struct zone *z, void *obj)
{
	uint64_t tag = *zone_tag(z, obj);

	VM_PANIC_IF(tag == (ZONE_TAG_FREE ^ (uintptr_t)obj),
	    "zone_free(%s, %p): double free", z->z_name, obj);
	VM_PANIC_IF(tag != (ZONE_TAG_ALLOC ^ (uintptr_t)obj),
	    "zone_free(%s, %p): redzone overwritten or not an allocated "
	    "object (state tag %#llx)", z->z_name, obj,
	    (unsigned long long)tag);
	zone_check_redzone(z, obj, "zone_free");
	*zone_tag(z, obj) = ZONE_TAG_FREE ^ (uintptr_t)obj;
	if (z->z_poison)
		memset(obj, ZONE_POISON_BYTE, z->z_size);
}

struct zone_slab *
zone_obj_slab(struct zone *z, const void *obj, const char *fn)
{
	struct vm_page *pg = zone_page_of(obj);
	struct zone_slab *s;

	VM_PANIC_IF(pg == NULL, "%s(%s, %p): not a zone object (not in "
	    "managed memory)", fn, z->z_name, obj);
	uintptr_t owner = pg->pg_owner.word[1];
	uint64_t tag = pg->pg_owner.word[2];
	VM_PANIC_IF(tag != (owner ^ ZONE_PAGE_MAGIC) &&
	    tag != (owner ^ ZONE_PAGE_MAGIC_KMALLOC), "%s(%s, %p): not a zone "
	    "object (its frame belongs to no zone)", fn, z->z_name, obj);
	VM_PANIC_IF(owner != (uintptr_t)z, "%s(%s, %p): wrong zone: the "
	    "object belongs to zone %s", fn, z->z_name, obj,
	    ((struct zone *)owner)->z_name);
	s = (struct zone_slab *)pg->pg_owner.word[0];
	size_t off = (size_t)((const char *)obj - s->s_base);
	VM_PANIC_IF((const char *)obj < s->s_base || off % z->z_stride != 0 ||
	    off / z->z_stride >= z->z_slab_objs, "%s(%s, %p): not the start "
	    "of an object", fn, z->z_name, obj);
	return s;
}

bool
zone_fail_now(struct zone *z)
{
	unsigned n = ck_pr_load_uint(&z->z_fail_every);

	if (n == 0)
		return false;
	if (ck_pr_faa_uint(&z->z_fail_count, 1) % n != n - 1)
		return false;
	ck_pr_inc_64(&z->z_injected);
	return true;
}

void
zone_set_fail_every(zone_t z, unsigned n)
{
	ck_pr_store_uint(&z->z_fail_count, 0);
	ck_pr_store_uint(&z->z_fail_every, n);
	if (n == 0) {
		/* The next slow path turns the fast views back on. */
		ck_pr_and_uint(&z->z_flags, ~ZF_FAILINJ);
		return;
	}
	ck_pr_or_uint(&z->z_flags, ZF_FAILINJ);
	ck_pr_fence_memory();
	/*
	 * Every cpu's next allocation must see the flag: views off.  Through
	 * the flush, which leaves a cpu caught inside its fast path alone and
	 * calls it again (turning the view off under a fast path that has
	 * loaded zc_top lost the object it was pushing); a slow path that
	 * read the flags before the store above re-reads them before it
	 * turns its view back on (zone_fast_allowed).
	 */
	zone_flush_cpus(z);
}

const char *
zone_name(zone_t z)
{
	return z->z_name;
}

size_t
zone_size(zone_t z)
{
	return z->z_size;
}

bool
zone_is_debug(zone_t z)
{
	return (ck_pr_load_uint(&z->z_flags) & ZF_DEBUG) != 0;
}

/* ------------------------------------------------------------------ */
/* Statistics.                                                         */

void
zone_cpu_stats(zone_t z, unsigned cpu, struct zone_cpu_stats *out)
{
	const struct zone_cpu *zc = &z->z_cpu[cpu];

	VM_ASSERT(cpu < z->z_ncpus);
	out->allocs = stat_read(&zc->zc_allocs);
	out->frees = stat_read(&zc->zc_frees);
	out->alloc_misses = stat_read(&zc->zc_alloc_misses);
	out->free_misses = stat_read(&zc->zc_free_misses);
	out->depot_gets = stat_read(&zc->zc_depot_gets);
	out->depot_puts = stat_read(&zc->zc_depot_puts);
	out->slab_allocs = stat_read(&zc->zc_slab_allocs);
	out->slab_frees = stat_read(&zc->zc_slab_frees);
	out->alloc_slab = stat_read(&zc->zc_alloc_slab);
	out->free_slab = stat_read(&zc->zc_free_slab);
}

void
zone_stats(zone_t z, struct zone_stats *out)
{
	struct zone_depot *d = &z->z_depot;
	struct zone_slab_layer *sl = &z->z_slab;
	struct zone_cpu_stats cs;
	uint64_t slab_allocs = 0, slab_frees = 0, direct = 0;
	size_t inuse_slab;
	unsigned zf = ck_pr_load_uint(&z->z_flags);
	hal_intr_t is;

	memset(out, 0, sizeof(*out));
	out->name = z->z_name;
	out->size = z->z_size;
	out->align = z->z_align;
	out->stride = z->z_stride;
	out->slab_pages = 1u << z->z_slab_order;
	out->slab_objs = z->z_slab_objs;
	out->magazines = !(zf & ZF_NOMAG);
	out->debug = (zf & ZF_DEBUG) != 0;
	for (unsigned c = 0; c < z->z_ncpus; c++) {
		zone_cpu_stats(z, c, &cs);
		out->allocs += cs.allocs;
		out->frees += cs.frees;
		out->depot_gets += cs.depot_gets;
		out->depot_puts += cs.depot_puts;
		slab_allocs += cs.slab_allocs;
		slab_frees += cs.slab_frees;
		direct += cs.alloc_slab + cs.free_slab;
	}
	out->slab_allocs = slab_allocs;
	out->slab_frees = slab_frees;

	is = hal_intr_disable();
	while (!ck_spinlock_fas_trylock(&d->d_lock))
		hal_cpu_relax();
	out->depot_full = d->d_nfull;
	out->depot_empty = d->d_nempty;
	out->magsize = out->magazines ? zone_magtypes[d->d_magtype].mt_size : 0;
	out->contention = d->d_contention;
	out->resizes = d->d_resizes;
	ck_spinlock_fas_unlock(&d->d_lock);
	while (!ck_spinlock_fas_trylock(&sl->sl_lock))
		hal_cpu_relax();
	out->slabs = sl->sl_nslabs;
	out->slabs_partial = sl->sl_count[ZSL_PARTIAL];
	out->slabs_full = sl->sl_count[ZSL_FULL];
	out->slabs_empty = sl->sl_count[ZSL_EMPTY];
	inuse_slab = sl->sl_inuse;
	out->pages_allocs = sl->sl_created;
	out->pages_frees = sl->sl_destroyed;
	out->slab_contention = sl->sl_contention;
	ck_spinlock_fas_unlock(&sl->sl_lock);
	hal_intr_restore(is);

	/* Magazine hits: operations that did not reach the slab layer. */
	uint64_t ops = out->allocs + out->frees;
	out->mag_hits = ops > direct ? ops - direct : 0;
	out->objs_in_use = out->allocs > out->frees ?
	    (size_t)(out->allocs - out->frees) : 0;
	out->objs_cached = inuse_slab > out->objs_in_use ?
	    inuse_slab - out->objs_in_use : 0;
	out->objs_slab_free = out->slabs * z->z_slab_objs - inuse_slab;
	out->mem_held = out->slabs * (PAGE_SIZE << z->z_slab_order);
	out->waste = out->mem_held - out->slabs * z->z_slab_objs * z->z_size;
	out->failures = ck_pr_load_64(&z->z_failures);
	out->injected = ck_pr_load_64(&z->z_injected);
	out->flush_deferred = ck_pr_load_64(&z->z_flush_deferred);
}

void
zone_dump(zone_t z)
{
	struct zone_stats st;

	zone_stats(z, &st);
	kprintf("zone %s: size %zu stride %zu slab %u pages/%u objs, "
	    "%zu slabs (%zu partial %zu full %zu empty), in use %zu cached "
	    "%zu, held %zu waste %zu, mag %s size %u, depot %zu full %zu "
	    "empty, allocs %llu frees %llu hits %llu gets %llu puts %llu "
	    "slab %llu/%llu contention %llu/%llu resizes %llu failures %llu%s\n",
	    st.name, st.size, st.stride, st.slab_pages, st.slab_objs, st.slabs,
	    st.slabs_partial, st.slabs_full, st.slabs_empty, st.objs_in_use,
	    st.objs_cached, st.mem_held, st.waste,
	    st.magazines ? "on" : "off", st.magsize, st.depot_full,
	    st.depot_empty, (unsigned long long)st.allocs,
	    (unsigned long long)st.frees, (unsigned long long)st.mag_hits,
	    (unsigned long long)st.depot_gets,
	    (unsigned long long)st.depot_puts,
	    (unsigned long long)st.slab_allocs,
	    (unsigned long long)st.slab_frees,
	    (unsigned long long)st.contention,
	    (unsigned long long)st.slab_contention,
	    (unsigned long long)st.resizes,
	    (unsigned long long)st.failures, st.debug ? " (debug)" : "");
}

/* ------------------------------------------------------------------ */
/* Validation.                                                         */

#define ZV_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond)) {                                                 \
			kprintf("zone_is_valid(%s): %s failed at line %d\n",   \
			    z->z_name, #cond, __LINE__);                       \
			ok = false;                                            \
			goto out;                                              \
		}                                                              \
	} while (0)

static bool
zone_mag_is_valid(struct zone *z, struct zone_mag *m, bool debug)
{
	bool ok = true;

	ZV_CHECK(m->m_rounds <= m->m_size);
	ZV_CHECK(m->m_size == 0 || m != &zone_mag_none);
	for (uint32_t i = 0; i < m->m_rounds; i++) {
		void *obj = m->m_objs[i];
		struct vm_page *pg = zone_page_of(obj);
		ZV_CHECK(pg != NULL && pg->pg_owner.word[1] == (uintptr_t)z);
		if (debug)
			ZV_CHECK(*zone_tag(z, obj) ==
			    (ZONE_TAG_FREE ^ (uintptr_t)obj));
	}
out:
	return ok;
}

bool
zone_is_valid(zone_t z)
{
	struct zone_depot *d = &z->z_depot;
	struct zone_slab_layer *sl = &z->z_slab;
	bool debug = (ck_pr_load_uint(&z->z_flags) & ZF_DEBUG) != 0;
	bool ok = true, dlocked = false, slocked = false;
	size_t n, nslabs = 0, inuse = 0, cached = 0;
	hal_intr_t is = hal_intr_disable();

	/* Per cpu: prev is none, empty or full. */
	for (unsigned c = 0; c < z->z_ncpus; c++) {
		struct zone_cpu *zc = &z->z_cpu[c];
		struct zone_mag *p = zc->zc_prev;
		ZV_CHECK(zone_mag_is_valid(z, zc->zc_loaded, debug));
		ZV_CHECK(zone_mag_is_valid(z, p, debug));
		ZV_CHECK(p == &zone_mag_none || p->m_rounds == 0 ||
		    p->m_rounds == p->m_size);
		if (zc->zc_lo != NULL) {
			ZV_CHECK(!(ck_pr_load_uint(&z->z_flags) & ZF_SLOW));
			ZV_CHECK(zc->zc_lo == zc->zc_loaded->m_objs);
			ZV_CHECK(zc->zc_hi == zc->zc_lo + zc->zc_loaded->m_size);
			ZV_CHECK(zc->zc_top >= zc->zc_lo &&
			    zc->zc_top <= zc->zc_hi);
			cached += zc_rounds(zc);
		} else {
			ZV_CHECK(zc->zc_top == NULL && zc->zc_hi == NULL);
			cached += zc->zc_loaded->m_rounds;
		}
		cached += p->m_rounds;
	}
	ZV_CHECK(zone_mag_none.m_rounds == 0 && zone_mag_none.m_size == 0);

	while (!ck_spinlock_fas_trylock(&d->d_lock))
		hal_cpu_relax();
	dlocked = true;
	n = 0;
	for (struct zone_mag *m = d->d_full; m != NULL; m = m->m_next, n++) {
		ZV_CHECK(m->m_rounds > 0);
		ZV_CHECK(zone_mag_is_valid(z, m, debug));
		cached += m->m_rounds;
	}
	ZV_CHECK(n == d->d_nfull && d->d_full_min <= d->d_nfull);
	n = 0;
	for (struct zone_mag *m = d->d_empty; m != NULL; m = m->m_next, n++)
		ZV_CHECK(m->m_rounds == 0);
	ZV_CHECK(n == d->d_nempty && d->d_empty_min <= d->d_nempty);
	ZV_CHECK(d->d_magtype <= d->d_magtype_max &&
	    d->d_magtype_max < ZONE_NMAGTYPES);

	while (!ck_spinlock_fas_trylock(&sl->sl_lock))
		hal_cpu_relax();
	slocked = true;
	for (unsigned l = 0; l < 3; l++) {
		size_t count = 0;
		struct zone_slab *s;
		CK_LIST_FOREACH(s, &sl->sl_lists[l], s_link) {
			size_t nfree = 0;
			count++;
			ZV_CHECK(s->s_zone == z && s->s_list == l);
			ZV_CHECK(s->s_base == page_to_kva(s->s_page));
			for (size_t f = 0; f < ((size_t)1 << z->z_slab_order);
			    f++) {
				struct vm_page *pg = s->s_page + f;
				ZV_CHECK(pg->pg_owner.word[0] == (uintptr_t)s);
				ZV_CHECK(pg->pg_owner.word[1] == (uintptr_t)z);
				ZV_CHECK(pg->pg_owner.word[2] == z->z_page_tag);
			}
			for (char *o = s->s_free; o != NULL;
			    o = *(char **)(void *)o) {
				size_t off = (size_t)(o - s->s_base);
				ZV_CHECK(o >= s->s_base &&
				    off % z->z_stride == 0 &&
				    off / z->z_stride < z->z_slab_objs);
				ZV_CHECK(++nfree <= z->z_slab_objs);
				if (debug)
					ZV_CHECK(*zone_tag(z, o) ==
					    (ZONE_TAG_FREE ^ (uintptr_t)o));
				if (z->z_poison)
					for (size_t i = sizeof(void *);
					    i < z->z_size; i++)
						ZV_CHECK(((unsigned char *)o)[i]
						    == ZONE_POISON_BYTE);
			}
			ZV_CHECK(s->s_inuse + nfree == z->z_slab_objs);
			ZV_CHECK(l == (s->s_inuse == 0 ? ZSL_EMPTY :
			    s->s_inuse == z->z_slab_objs ? ZSL_FULL :
			    ZSL_PARTIAL));
			inuse += s->s_inuse;
		}
		ZV_CHECK(count == sl->sl_count[l]);
		nslabs += count;
	}
	ZV_CHECK(nslabs == sl->sl_nslabs && inuse == sl->sl_inuse);
	/* Objects in magazines are out of their slabs. */
	ZV_CHECK(cached <= inuse);
out:
	if (slocked)
		ck_spinlock_fas_unlock(&sl->sl_lock);
	if (dlocked)
		ck_spinlock_fas_unlock(&d->d_lock);
	hal_intr_restore(is);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Totals over every zone (zone_totals, zone_dump_summary).            */

#define ZT_TOP 3

struct zt_walk {
	struct zone_totals *t;
	struct {
		const char *name;
		size_t held;
	} top[ZT_TOP];			/* by mem_held, largest first */
};

static void
zt_add(struct zone *z, void *arg)
{
	struct zt_walk *w = arg;
	struct zone_totals *t = w->t;
	struct zone_stats st;

	zone_stats(z, &st);
	t->zones++;
	t->slabs += st.slabs;
	t->objs_in_use += st.objs_in_use;
	t->objs_cached += st.objs_cached;
	t->mem_held += st.mem_held;
	t->waste += st.waste;
	t->allocs += st.allocs;
	t->frees += st.frees;
	t->mag_hits += st.mag_hits;
	t->depot_trips += st.depot_gets + st.depot_puts;
	t->slab_allocs += st.slab_allocs;
	t->slab_frees += st.slab_frees;
	t->contention += st.contention;
	t->slab_contention += st.slab_contention;
	t->failures += st.failures;
	for (unsigned i = 0; i < ZT_TOP; i++) {
		if (w->top[i].name != NULL && w->top[i].held >= st.mem_held)
			continue;
		for (unsigned k = ZT_TOP - 1; k > i; k--)
			w->top[k] = w->top[k - 1];
		w->top[i].name = st.name;
		w->top[i].held = st.mem_held;
		break;
	}
}

static void
zt_walk(struct zt_walk *w, struct zone_totals *out)
{
	memset(w, 0, sizeof(*w));
	memset(out, 0, sizeof(*out));
	w->t = out;
	zone_list_foreach(zt_add, w);
}

void
zone_totals(struct zone_totals *out)
{
	struct zt_walk w;

	zt_walk(&w, out);
}

void
zone_dump_summary(void)
{
	struct zone_totals t;
	struct zt_walk w;
	char top[160];
	int len = 0;

	zt_walk(&w, &t);
	kprintf("zone: %zu zones, %zu slabs, %zu KiB held (%zu KiB waste), "
	    "in use %zu cached %zu; allocs %llu frees %llu mag hits %llu "
	    "depot trips %llu slab %llu/%llu contention %llu/%llu "
	    "failures %llu\n", t.zones, t.slabs, t.mem_held / 1024,
	    t.waste / 1024, t.objs_in_use, t.objs_cached,
	    (unsigned long long)t.allocs, (unsigned long long)t.frees,
	    (unsigned long long)t.mag_hits,
	    (unsigned long long)t.depot_trips,
	    (unsigned long long)t.slab_allocs,
	    (unsigned long long)t.slab_frees,
	    (unsigned long long)t.contention,
	    (unsigned long long)t.slab_contention,
	    (unsigned long long)t.failures);
	for (unsigned i = 0; i < ZT_TOP && w.top[i].name != NULL &&
	    (size_t)len < sizeof(top); i++)
		len += ksnprintf(top + len, sizeof(top) - (size_t)len,
		    " %s %zu KiB", w.top[i].name, w.top[i].held / 1024);
	if (len > 0)
		kprintf("zone: most held:%s\n", top);
}
