/*
 * map_model.c: the reference model of address spaces (see map_model.h).
 *
 * The world: up to MM_MAPS user maps (the first made at the start, more by
 * fork and create steps), four static objects (an anonymous object, a
 * read-only and a read-write pager object, a physical object of four
 * frames) and the anonymous objects that shared anonymous mmaps make.
 * The model keeps, for each map, the first MM_NP pages of user space page
 * by page: mapped?  protection, limit, shared or private, inherited?
 * which object page backs it, and whether the map holds a private copy
 * (and its content); for each object page its content.  Content is two
 * words per page (word 0 and word 511), written by store probes.
 *
 * Every step decodes one operation from the input (mmap with any flags,
 * munmap, mprotect, load and store probes through the MMU, vm_fault with
 * any access, fork, destroy, create, a flaky pager, failure injection for
 * the next step), computes what the API must answer from the model, runs
 * it, compares the return code (and the address chosen by the gap search)
 * and updates the model.  Then it checks every live map:
 *   - vm_map_entries against the model, page by page, and nothing mapped
 *     outside the window; vm_map_is_valid() (tree, gaps, merging, ...)
 *   - every translation in the pmap (pmap_extract, no faults): only on
 *     mapped pages, no permission beyond the entry's, the frame's content
 *     equal to the model's, a private page not yet copied maps the
 *     object's own frame read-only, a copied one never the object's frame
 *   - across maps: a frame mapped in two places is writable in neither
 *     unless both are shared mappings of one object page (copy-on-write)
 * An operation that failed with an injected -ENOMEM must leave the map's
 * entries exactly as they were.  At the end every map and object is
 * released, and page, map, entry, anon and object counts must be back
 * where they started.
 */
#include <errno.h>
#include <string.h>

#include "hal/hal.h"
#include "hal/hal_test.h"
#include "hal/pmap.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "tests/map_model.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/object.h"
#include "vm/page.h"
#include "vm/zone.h"

#define MM_NP 40		/* pages in the window */
#define MM_MAPS 4
#define MM_SOBJ 4		/* static objects */
#define MM_OBJS 48
#define MM_OBJ_PAGES 16
#define MM_PHYS_PAGES 4
#define MM_RUN 8		/* longest mmap */
#define MM_MAX_ENTRIES 64
#define MM_MAX_FAILS 12
#define BASE ((vaddr_t)pmap_user_min())
#define PG ((vaddr_t)PAGE_SIZE)
#define KEY 0xa5a5f00dc0ffee11ull

struct val {
	uint64_t a, b;
};

struct mpage {
	bool mapped, shared, noinherit;
	bool anon;		/* private copy held (content in v) */
	uint8_t prot, maxprot;
	int obj;		/* -1: private anonymous */
	uint32_t opg;
	struct val v;
};

struct mobj {
	vm_object_t o;
	int kind;		/* enum vm_object_kind */
	unsigned maxprot;
	uint32_t npages;
	bool used;
	bool resident[MM_OBJ_PAGES];
	struct val v[MM_OBJ_PAGES];
};

struct mmap_m {
	vm_map_t map;
	unsigned flags;
	struct mpage pg[MM_NP];
};

struct world {
	struct mmap_m maps[MM_MAPS];
	struct mobj objs[MM_OBJS];
	unsigned nobjs;
	struct vm_page *phys;
	vm_map_t active;
	bool flaky;		/* the pagers fail (-EIO) */
	bool inject;		/* failure injection on for this step */
	unsigned releases;	/* pager release calls */
	const uint8_t *data;
	size_t n, i;
	struct rng *r;
	bool end;
	mm_fail_fn fail;
	struct mm_result *res;
	unsigned verbose;	/* bootarg mm_verbose=1: per-op counts,
				   2: a trace of every operation */
	unsigned op_ok[32], op_err[32];
	struct vm_map_entry_info ents[MM_MAX_ENTRIES];
	char buf[256];
};

/* ------------------------------------------------------------------ */
/* Input, reports.                                                     */

static unsigned
in8(struct world *w)
{
	if (w->i < w->n)
		return w->data[w->i++];
	if (w->r != NULL)
		return (unsigned)(rng_next(w->r) >> 56);
	w->end = true;
	return 0;
}

static unsigned
in_below(struct world *w, unsigned n)
{
	return in8(w) % n;
}

#define TR(w, fmt, ...)                                                        \
	do {                                                                   \
		if ((w)->verbose > 1)                                          \
			kprintf("# mm %u: " fmt "\n", (w)->res->steps,         \
			    __VA_ARGS__);                                      \
	} while (0)

#define MMF(w, ...)                                                            \
	do {                                                                   \
		(w)->res->failures++;                                          \
		if ((w)->res->failures <= MM_MAX_FAILS) {                      \
			ksnprintf((w)->buf, sizeof((w)->buf), __VA_ARGS__);    \
			(w)->fail((w)->buf);                                   \
		}                                                              \
	} while (0)

static struct val
pattern(int obj, uint32_t pg)
{
	uint64_t x = (((uint64_t)obj << 32) | pg) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 29;
	return (struct val){ x | 1, ~x };
}

static struct val
written(uint64_t x)
{
	return (struct val){ x, ((x << 17) | (x >> 47)) ^ KEY };
}

/* ------------------------------------------------------------------ */
/* The pager of the two pager objects.                                 */

static struct world mm_world;

/* priv is the model object; the world is mm_world. */
static int
mm_get(void *priv, uint64_t offset, struct vm_page *pg)
{
	struct mobj *mo = priv;
	uint64_t *p = page_to_kva(pg);
	struct val v;

	if (mm_world.flaky)
		return -EIO;
	v = pattern((int)(mo - mm_world.objs), (uint32_t)(offset / PG));
	p[0] = v.a;
	p[511] = v.b;
	return 0;
}

static void
mm_release(void *priv)
{
	(void)priv;
	mm_world.releases++;
}

static const struct vm_pager_ops mm_pager = {
	.name = "mapmodel",
	.get = mm_get,
	.release = mm_release,
};

/* ------------------------------------------------------------------ */
/* Model helpers.                                                      */

static struct val
expect_val(struct world *w, const struct mpage *p)
{
	if (!p->shared && p->anon)
		return p->v;
	if (p->obj < 0)
		return (struct val){ 0, 0 };
	return w->objs[p->obj].v[p->opg];
}

/* Whether an access to p reaches the object (and may page in). */
static bool
touches_object(const struct mpage *p)
{
	return p->obj >= 0 && (p->shared || !p->anon);
}

/* An access that would page in while the pager is flaky fails. */
static bool
pagein_fails(struct world *w, const struct mpage *p)
{
	const struct mobj *o;

	if (!touches_object(p))
		return false;
	o = &w->objs[p->obj];
	return w->flaky && o->kind == VM_OBJ_PAGER && !o->resident[p->opg];
}

static void
mark_resident(struct world *w, const struct mpage *p)
{
	if (touches_object(p))
		w->objs[p->obj].resident[p->opg] = true;
}

static void
activate(struct world *w, vm_map_t map)
{
	if (w->active != map) {
		vm_map_activate(map);
		w->active = map;
	}
}

/* A page of map mi, most of the time a mapped one. */
static unsigned
page_pick(struct world *w, unsigned mi)
{
	unsigned q = in_below(w, MM_NP);

	if (mi == MM_MAPS || in_below(w, 4) == 0)
		return q;
	for (unsigned i = 0; i < MM_NP; i++)
		if (w->maps[mi].pg[(q + i) % MM_NP].mapped)
			return (q + i) % MM_NP;
	return q;
}

static unsigned
map_pick(struct world *w)
{
	unsigned k = in_below(w, MM_MAPS);

	for (unsigned i = 0; i < MM_MAPS; i++) {
		unsigned j = (k + i) % MM_MAPS;
		if (w->maps[j].map != NULL)
			return j;
	}
	return MM_MAPS;
}

static size_t
snapshot(struct world *w, vm_map_t map, struct vm_map_entry_info *out)
{
	size_t n = vm_map_entries(map, out, MM_MAX_ENTRIES);

	return n > MM_MAX_ENTRIES ? MM_MAX_ENTRIES : n;
}

static bool
same_entries(const struct vm_map_entry_info *a, size_t na,
    const struct vm_map_entry_info *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].start != b[i].start || a[i].end != b[i].end ||
		    a[i].prot != b[i].prot || a[i].maxprot != b[i].maxprot ||
		    a[i].flags != b[i].flags || a[i].object != b[i].object ||
		    a[i].offset != b[i].offset)
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Checks.                                                             */

struct seen {
	paddr_t pa;
	bool w;
	int obj;		/* shared object page, or -1 */
	uint32_t opg;
	unsigned map, page;
};

static void
check_map(struct world *w, unsigned mi, struct seen *seen, unsigned *nseen)
{
	struct mmap_m *mm = &w->maps[mi];
	size_t n = vm_map_entries(mm->map, w->ents, MM_MAX_ENTRIES);

	if (n > MM_MAX_ENTRIES) {
		MMF(w, "map %u: %zu entries", mi, n);
		return;
	}
	for (size_t k = 0; k < n; k++)
		if (w->ents[k].end > BASE + MM_NP * PG)
			MMF(w, "map %u: entry [%#lx, %#lx) outside the window",
			    mi, (unsigned long)w->ents[k].start,
			    (unsigned long)w->ents[k].end);
	for (unsigned p = 0; p < MM_NP; p++) {
		const struct mpage *mp = &mm->pg[p];
		vaddr_t va = BASE + p * PG;
		const struct vm_map_entry_info *e = NULL;
		for (size_t k = 0; k < n && e == NULL; k++)
			if (w->ents[k].start <= va && va < w->ents[k].end)
				e = &w->ents[k];
		if ((e != NULL) != mp->mapped) {
			MMF(w, "map %u page %u: mapped %d, model %d", mi, p,
			    e != NULL, mp->mapped);
			continue;
		}
		if (e != NULL) {
			bool shared = (e->flags & VM_MAP_SHARED) != 0;
			vm_object_t o = mp->obj < 0 ? NULL : w->objs[mp->obj].o;
			if (e->prot != mp->prot || e->maxprot != mp->maxprot ||
			    shared != mp->shared ||
			    !(e->flags & VM_MAP_NOINHERIT) != !mp->noinherit ||
			    e->object != o || (o != NULL &&
			    e->offset + (va - e->start) != mp->opg * PG))
				MMF(w, "map %u page %u: entry prot %x/%x flags "
				    "%#x obj %p+%#llx; model prot %x/%x "
				    "shared %d obj %d page %u", mi, p, e->prot,
				    e->maxprot, e->flags, (void *)e->object,
				    (unsigned long long)e->offset, mp->prot,
				    mp->maxprot, mp->shared, mp->obj, mp->opg);
		}
		struct pmap_mapping pm;
		if (pmap_extract(vm_map_pmap(mm->map), va, &pm) != 0)
			continue;
		if (!mp->mapped || (pm.prot & ~mp->prot) || !pm.user) {
			MMF(w, "map %u page %u: translation prot %x, model "
			    "mapped %d prot %x", mi, p, pm.prot, mp->mapped,
			    mp->prot);
			continue;
		}
		const uint64_t *frame = hal_phys_to_virt(pm.pa);
		struct val want = expect_val(w, mp);
		if (frame[0] != want.a || frame[511] != want.b)
			MMF(w, "map %u page %u: frame %#llx holds %#llx/%#llx, "
			    "model %#llx/%#llx", mi, p,
			    (unsigned long long)pm.pa,
			    (unsigned long long)frame[0],
			    (unsigned long long)frame[511],
			    (unsigned long long)want.a,
			    (unsigned long long)want.b);
		if (mp->obj >= 0 && !mp->shared) {
			paddr_t opa;
			bool res = vm_object_lookup(w->objs[mp->obj].o,
			    mp->opg * PG, &opa);
			if (!mp->anon && (!res || opa != pm.pa ||
			    (pm.prot & VM_PROT_WRITE)))
				MMF(w, "map %u page %u: uncopied private page "
				    "maps %#llx prot %x", mi, p,
				    (unsigned long long)pm.pa, pm.prot);
			if (mp->anon && res && opa == pm.pa)
				MMF(w, "map %u page %u: copied page maps the "
				    "object's frame", mi, p);
		}
		if (*nseen < MM_MAPS * MM_NP) {
			struct seen *s = &seen[(*nseen)++];
			s->pa = pm.pa;
			s->w = (pm.prot & VM_PROT_WRITE) != 0;
			/* The object's own frame (shared, or private and not
			   yet copied: then read-only, checked above). */
			s->obj = touches_object(mp) ? mp->obj : -1;
			s->opg = mp->opg;
			s->map = mi;
			s->page = p;
		}
	}
	if (!vm_map_is_valid(mm->map))
		MMF(w, "map %u: vm_map_is_valid failed", mi);
}

static void
check_all(struct world *w)
{
	static struct seen seen[MM_MAPS * MM_NP];
	unsigned nseen = 0;

	for (unsigned mi = 0; mi < MM_MAPS; mi++)
		if (w->maps[mi].map != NULL)
			check_map(w, mi, seen, &nseen);
	for (unsigned i = 0; i < nseen; i++)
		for (unsigned j = i + 1; j < nseen; j++) {
			const struct seen *a = &seen[i], *b = &seen[j];
			if (a->pa != b->pa || (!a->w && !b->w))
				continue;
			if (a->obj >= 0 && a->obj == b->obj &&
			    a->opg == b->opg)
				continue;
			MMF(w, "frame %#llx writable and shared: map %u page %u "
			    "and map %u page %u", (unsigned long long)a->pa,
			    a->map, a->page, b->map, b->page);
		}
}

/* ------------------------------------------------------------------ */
/* mmap.                                                               */

/* Lowest start (in pages from BASE) of a gap of need pages at >= lo. */
static uint64_t
model_gap(const struct mmap_m *mm, uint64_t lo, uint64_t npg, uint64_t apg)
{
	uint64_t need = npg + apg - 1, p = 0;

	for (;;) {
		while (p < MM_NP && mm->pg[p].mapped)
			p++;
		uint64_t gs = p;
		while (p < MM_NP && !mm->pg[p].mapped)
			p++;
		/* Past the window the map is free up to its end. */
		uint64_t ge = p < MM_NP ? p : (pmap_user_max() - BASE) / PG;
		uint64_t s = gs > lo ? gs : lo;
		if (ge > s && ge - s >= need)
			return (s + apg - 1) / apg * apg;
		if (p >= MM_NP)
			return ~0ull;
	}
}

static bool
model_free(const struct mmap_m *mm, uint64_t q, uint64_t npg)
{
	for (uint64_t p = q; p < q + npg; p++)
		if (p < MM_NP && mm->pg[p].mapped)
			return false;
	return true;
}

struct mmap_args {
	vaddr_t addr;
	size_t size;
	unsigned prot, flags;
	int obj;		/* model object, -1 none */
	uint64_t offset;
};

/* What vm_mmap must answer (map.h), and the start when it succeeds. */
static long
expect_mmap(struct world *w, struct mmap_m *mm, const struct mmap_args *a,
    unsigned *maxprotp)
{
	unsigned f = a->flags, ashift =
	    (f & VM_MAP_ALIGN_MASK) >> VM_MAP_ALIGN_SHIFT;
	bool fixed = (f & (VM_MAP_FIXED | VM_MAP_FIXED_NOREPLACE)) != 0;
	const struct mobj *o = a->obj >= 0 ? &w->objs[a->obj] : NULL;
	vaddr_t align = PG, min = BASE, max = pmap_user_max();
	unsigned maxprot;

	if ((f & ~VM_MAP_FLAGS_ALL) || (a->prot & ~VM_PROT_ALL) ||
	    ((a->prot & VM_PROT_WRITE) && !(a->prot & VM_PROT_READ)))
		return -EINVAL;
	if (a->size == 0 || (a->size % PG) || (a->addr % PG) ||
	    (a->offset % PG) || a->addr + a->size < a->addr)
		return -EINVAL;
	if (!(f & VM_MAP_SHARED) == !(f & VM_MAP_PRIVATE))
		return -EINVAL;
	if ((f & VM_MAP_FIXED) && (f & VM_MAP_FIXED_NOREPLACE))
		return -EINVAL;
	if (ashift != 0) {
		if (ashift < PAGE_SHIFT || ashift > VM_MAP_ALIGN_MAX)
			return -EINVAL;
		align = (vaddr_t)1 << ashift;
	}
	if (fixed && (a->addr < min || a->addr + a->size > max ||
	    (a->addr & (align - 1))))
		return -EINVAL;
	if (f & VM_MAP_ANON) {
		if (o != NULL || a->offset != 0 ||
		    (f & (VM_MAP_DEVICE | VM_MAP_UNCACHED)))
			return -EINVAL;
		maxprot = VM_PROT_ALL;
	} else {
		if (o == NULL || a->offset + a->size < a->offset ||
		    a->offset + a->size > (uint64_t)o->npages * PG)
			return -EINVAL;
		if ((f & VM_MAP_DEVICE) && (f & VM_MAP_UNCACHED))
			return -EINVAL;
		if ((f & (VM_MAP_DEVICE | VM_MAP_UNCACHED)) &&
		    o->kind != VM_OBJ_PHYS)
			return -EINVAL;
		if (o->kind == VM_OBJ_PHYS && !(f & VM_MAP_SHARED))
			return -EINVAL;
		maxprot = o->maxprot;
		if ((f & VM_MAP_PRIVATE) && (maxprot & VM_PROT_READ))
			maxprot |= VM_PROT_WRITE;
	}
	if (a->prot & ~maxprot)
		return -EACCES;
	if ((mm->flags & VM_MAPF_WXORX) && (a->prot & VM_PROT_WRITE) &&
	    (a->prot & VM_PROT_EXEC))
		return -EACCES;
	*maxprotp = maxprot;
	if (a->size > max - min)
		return -ENOMEM;
	uint64_t npg = a->size / PG, apg = align / PG;
	if (fixed) {
		if ((f & VM_MAP_FIXED_NOREPLACE) &&
		    !model_free(mm, (a->addr - BASE) / PG, npg))
			return -EEXIST;
		return (long)a->addr;
	}
	/* Never below 4 KiB without FIXED (a window that starts at 0). */
	vaddr_t floor = min < PG ? PG : min;
	if (a->addr != 0 && (a->addr & (align - 1)) == 0 && a->addr >= floor &&
	    a->addr + a->size <= max &&
	    model_free(mm, (a->addr - BASE) / PG, npg))
		return (long)a->addr;
	uint64_t q = ~0ull;
	if (a->addr > floor && a->addr < max)
		q = model_gap(mm, (a->addr - BASE) / PG, npg, apg);
	if (q == ~0ull)
		q = model_gap(mm, (floor - BASE) / PG, npg, apg);
	return (long)(BASE + q * PG);
}

static unsigned
gen_prot(struct world *w)
{
	static const unsigned common[] = { VM_PROT_READ,
		VM_PROT_READ | VM_PROT_WRITE, VM_PROT_READ | VM_PROT_EXEC,
		VM_PROT_NONE, VM_PROT_EXEC, VM_PROT_ALL,
		VM_PROT_READ | VM_PROT_WRITE, VM_PROT_READ | VM_PROT_WRITE };
	unsigned b = in8(w);

	if (b < 224)
		return common[b % 8];
	return b & 0x0f;	/* anything, W without R, unknown bits */
}

static void
op_mmap(struct world *w)
{
	unsigned mi = map_pick(w), kind = in_below(w, 8), mode = in_below(w, 4);
	unsigned q = in_below(w, MM_NP), npg = 1 + in_below(w, MM_RUN);
	unsigned bend = in8(w), maxprot = 0, nflags;
	struct mmap_args a;
	struct mmap_m *mm;
	vm_object_t obj = NULL;
	long want, got;

	if (mi == MM_MAPS)
		return;
	mm = &w->maps[mi];
	memset(&a, 0, sizeof(a));
	a.obj = -1;
	a.prot = gen_prot(w);
	switch (kind) {
	case 0: case 1: case 2:
		a.flags = VM_MAP_PRIVATE | VM_MAP_ANON;
		break;
	case 3:
		a.flags = VM_MAP_SHARED | VM_MAP_ANON;
		if (w->nobjs >= MM_OBJS)
			a.flags = VM_MAP_PRIVATE | VM_MAP_ANON;
		break;
	case 4: case 5: case 7:
		a.obj = (int)in_below(w, MM_SOBJ);
		a.flags = kind == 5 ? VM_MAP_PRIVATE : VM_MAP_SHARED;
		if (kind == 7)
			a.flags |= in_below(w, 2) ? VM_MAP_DEVICE :
			    VM_MAP_UNCACHED;
		a.offset = (uint64_t)in_below(w, w->objs[a.obj].npages) * PG;
		break;
	default:
		/* Any flags at all (an unknown bit is -EINVAL). */
		a.flags = in8(w) | (in8(w) << 8);
		if (in_below(w, 2))
			a.flags &= 0x00ffu;
		if ((a.flags & VM_MAP_ANON) == 0) {
			a.obj = (int)in_below(w, MM_SOBJ);
			a.offset = (uint64_t)in_below(w, MM_OBJ_PAGES) * PG;
		}
		if ((a.flags & VM_MAP_SHARED) && (a.flags & VM_MAP_ANON) &&
		    w->nobjs >= MM_OBJS)
			a.flags &= ~VM_MAP_ANON;
		break;
	}
	if (in_below(w, 4) == 0)
		a.flags |= VM_MAP_NOINHERIT;
	if (in_below(w, 8) == 0)
		a.flags |= VM_MAP_ALIGNED(11 + in_below(w, 6));
	if (mode >= 2 && q + npg > MM_NP)
		npg = MM_NP - q;
	a.size = npg * PG;
	if (mode == 1)
		a.addr = BASE + q * PG;
	else if (mode == 2)
		a.flags |= VM_MAP_FIXED;
	else if (mode == 3)
		a.flags |= VM_MAP_FIXED_NOREPLACE;
	if (mode >= 2)
		a.addr = BASE + q * PG;
	/* Now and then, a bad argument. */
	switch (bend < 24 ? bend % 8 : 99) {
	case 0: a.addr += 8; break;
	case 1: a.size = 0; break;
	case 2: a.size += 100; break;
	case 3: a.offset += 512; break;
	case 4: a.addr = BASE - PG; break;
	case 5: a.addr = pmap_user_max() - PG; a.size = 2 * PG; break;
	case 6: a.size = ~(size_t)0 - PG + 1; break;
	case 7: a.offset = ~0ull - PG + 1; break;
	}
	if (a.obj >= 0)
		obj = w->objs[a.obj].o;
	want = expect_mmap(w, mm, &a, &maxprot);
	if (w->inject)
		vm_debug_set_fail_every(1 + in_below(w, 3));
	size_t nb = snapshot(w, mm->map, w->ents);
	static struct vm_map_entry_info before[MM_MAX_ENTRIES];
	memcpy(before, w->ents, nb * sizeof(before[0]));
	got = vm_mmap(mm->map, a.addr, a.size, a.prot, a.flags, obj, a.offset);
	vm_debug_set_fail_every(0);
	TR(w, "map %u mmap(%#lx, %#zx, %#x, %#x, obj %d, %#llx) = %#lx want %#lx",
	    mi, (unsigned long)a.addr, a.size, a.prot, a.flags, a.obj,
	    (unsigned long long)a.offset, (unsigned long)got,
	    (unsigned long)want);
	if (got == -ENOMEM && w->inject && (want >= 0 || want == -EEXIST)) {
		size_t na = snapshot(w, mm->map, w->ents);
		if (!same_entries(before, nb, w->ents, na))
			MMF(w, "mmap: -ENOMEM changed the map");
		w->res->enomem++;
		w->res->err_ops++;
		return;
	}
	if (got != want) {
		MMF(w, "mmap(%#lx, %#zx, prot %#x, flags %#x, obj %d, off "
		    "%#llx) = %ld, model %ld", (unsigned long)a.addr, a.size,
		    a.prot, a.flags, a.obj, (unsigned long long)a.offset, got,
		    want);
		if (got >= 0 && (vaddr_t)got >= BASE + MM_NP * PG)
			vm_munmap(mm->map, (vaddr_t)got, a.size);
		return;
	}
	if (got < 0) {
		size_t na = snapshot(w, mm->map, w->ents);
		if (!same_entries(before, nb, w->ents, na))
			MMF(w, "mmap: error %ld changed the map", got);
		w->res->err_ops++;
		return;
	}
	w->res->ok_ops++;
	npg = (unsigned)(a.size / PG);		/* a bad-argument case may */
	if ((vaddr_t)got + a.size > BASE + MM_NP * PG) {	/* have changed it */
		/*
		 * Beyond the window: checked the address, now drop it.  A
		 * fixed mapping that starts inside the window replaced what
		 * was mapped there, and the munmap takes that part too: the
		 * model's pages in the window are unmapped from now on
		 * (forgetting this made seeds 7-9 diverge at scale 2000).
		 */
		if (vm_munmap(mm->map, (vaddr_t)got, a.size) != 0)
			MMF(w, "munmap of an out-of-window mapping failed");
		for (vaddr_t va = (vaddr_t)got; va < BASE + MM_NP * PG;
		    va += PG)
			if (va >= BASE)
				memset(&mm->pg[(va - BASE) / PG], 0,
				    sizeof(struct mpage));
		return;
	}
	int oid = a.obj;
	if ((a.flags & VM_MAP_ANON) && (a.flags & VM_MAP_SHARED)) {
		struct vm_map_entry_info ei;
		oid = (int)w->nobjs++;
		struct mobj *mo = &w->objs[oid];
		memset(mo, 0, sizeof(*mo));
		if (!vm_map_lookup(mm->map, (vaddr_t)got, &ei))
			MMF(w, "mmap: no entry at %#lx", (unsigned long)got);
		mo->o = ei.object;
		mo->kind = VM_OBJ_ANON;
		mo->maxprot = VM_PROT_ALL;
		mo->npages = npg;
		mo->used = true;
	}
	nflags = a.flags;
	for (unsigned i = 0; i < npg; i++) {
		struct mpage *p = &mm->pg[((vaddr_t)got - BASE) / PG + i];
		p->mapped = true;
		p->shared = (nflags & VM_MAP_SHARED) != 0;
		p->noinherit = (nflags & VM_MAP_NOINHERIT) != 0;
		p->anon = false;
		p->prot = (uint8_t)a.prot;
		p->maxprot = (uint8_t)maxprot;
		p->obj = (nflags & VM_MAP_ANON) && !(nflags & VM_MAP_SHARED) ?
		    -1 : oid;
		p->opg = (uint32_t)(a.offset / PG) + i;
		p->v = (struct val){ 0, 0 };
	}
}

/* ------------------------------------------------------------------ */
/* munmap, mprotect.                                                   */

static void
gen_range(struct world *w, unsigned mi, vaddr_t *addr, size_t *size)
{
	unsigned q = page_pick(w, mi), n = 1 + in_below(w, MM_RUN + 4);
	unsigned bend = in8(w);

	if (q + n > MM_NP)
		n = MM_NP - q;
	/* Mostly within one mapped run. */
	if (in_below(w, 4) != 0)
		for (unsigned k = 1; k < n; k++)
			if (!w->maps[mi].pg[q + k].mapped) {
				n = k;
				break;
			}
	*addr = BASE + q * PG;
	*size = n * PG;
	switch (bend < 16 ? bend % 6 : 99) {
	case 0: *addr += 16; break;
	case 1: *size = 0; break;
	case 2: *size -= 8; break;
	case 3: *addr = BASE - PG; break;
	case 4: *size = ~(size_t)0 - PG + 1; break;
	case 5: *addr = pmap_user_max() - PG; *size = 2 * PG; break;
	}
}

static int
range_expect(vaddr_t addr, size_t size)
{
	if (size == 0 || (size % PG) || (addr % PG) || addr + size < addr ||
	    addr < BASE || addr + size > pmap_user_max())
		return -EINVAL;
	return 0;
}

static void
op_munmap(struct world *w)
{
	unsigned mi = map_pick(w);
	static struct vm_map_entry_info before[MM_MAX_ENTRIES];
	vaddr_t addr;
	size_t size, nb;
	int want, got;

	if (mi == MM_MAPS)
		return;
	gen_range(w, mi, &addr, &size);
	want = range_expect(addr, size);
	nb = snapshot(w, w->maps[mi].map, before);
	if (w->inject)
		vm_debug_set_fail_every(1);
	got = vm_munmap(w->maps[mi].map, addr, size);
	vm_debug_set_fail_every(0);
	TR(w, "map %u munmap(%#lx, %#zx) = %d want %d", mi,
	    (unsigned long)addr, size, got, want);
	if (got != want && !(got == -ENOMEM && w->inject && want == 0)) {
		MMF(w, "munmap(%#lx, %#zx) = %d, model %d",
		    (unsigned long)addr, size, got, want);
		return;
	}
	if (got != 0) {
		size_t na = snapshot(w, w->maps[mi].map, w->ents);
		if (!same_entries(before, nb, w->ents, na))
			MMF(w, "munmap: error %d changed the map", got);
		w->res->err_ops++;
		w->res->enomem += got == -ENOMEM;
		return;
	}
	w->res->ok_ops++;
	for (vaddr_t va = addr; va < addr + size; va += PG)
		if (va >= BASE && va < BASE + MM_NP * PG)
			memset(&w->maps[mi].pg[(va - BASE) / PG], 0,
			    sizeof(struct mpage));
}

static void
op_mprotect(struct world *w)
{
	unsigned mi = map_pick(w), prot;
	static struct vm_map_entry_info before[MM_MAX_ENTRIES];
	struct mmap_m *mm;
	vaddr_t addr;
	size_t size, nb;
	int want, got;

	if (mi == MM_MAPS)
		return;
	mm = &w->maps[mi];
	gen_range(w, mi, &addr, &size);
	prot = gen_prot(w);
	want = range_expect(addr, size);
	if (want == 0 && ((prot & ~VM_PROT_ALL) ||
	    ((prot & VM_PROT_WRITE) && !(prot & VM_PROT_READ))))
		want = -EINVAL;
	if (want == 0 && (mm->flags & VM_MAPF_WXORX) &&
	    (prot & VM_PROT_WRITE) && (prot & VM_PROT_EXEC))
		want = -EACCES;
	for (vaddr_t va = addr; want == 0 && va < addr + size; va += PG) {
		const struct mpage *p = &mm->pg[(va - BASE) / PG];
		if (!p->mapped)
			want = -ENOMEM;
		else if (prot & ~p->maxprot)
			want = -EACCES;
	}
	nb = snapshot(w, mm->map, before);
	if (w->inject)
		vm_debug_set_fail_every(1);
	got = vm_mprotect(mm->map, addr, size, prot);
	vm_debug_set_fail_every(0);
	TR(w, "map %u mprotect(%#lx, %#zx, %#x) = %d want %d", mi,
	    (unsigned long)addr, size, prot, got, want);
	if (got != want && !(got == -ENOMEM && w->inject && want == 0)) {
		MMF(w, "mprotect(%#lx, %#zx, %#x) = %d, model %d",
		    (unsigned long)addr, size, prot, got, want);
		return;
	}
	if (got != 0) {
		size_t na = snapshot(w, mm->map, w->ents);
		if (!same_entries(before, nb, w->ents, na))
			MMF(w, "mprotect: error %d changed the map", got);
		w->res->err_ops++;
		w->res->enomem += w->inject && got == -ENOMEM;
		return;
	}
	w->res->ok_ops++;
	for (vaddr_t va = addr; va < addr + size; va += PG)
		mm->pg[(va - BASE) / PG].prot = (uint8_t)prot;
}

/* ------------------------------------------------------------------ */
/* Accesses.                                                           */

static void
op_read(struct world *w)
{
	unsigned mi = map_pick(w), q = page_pick(w, mi);
	struct mpage *p;
	uint64_t a = 0, b = 0;
	int e1, e2;

	if (mi == MM_MAPS)
		return;
	p = &w->maps[mi].pg[q];
	activate(w, w->maps[mi].map);
	e1 = hal_probe_read64(BASE + q * PG, &a);
	e2 = hal_probe_read64(BASE + q * PG + 511 * 8, &b);
	TR(w, "map %u read page %u = %d/%d", mi, q, e1, e2);
	bool ok = p->mapped && (p->prot & VM_PROT_READ) && !pagein_fails(w, p);
	if ((e1 == 0) != ok || (e2 == 0) != ok) {
		MMF(w, "read map %u page %u: %d/%d, model %s", mi, q, e1, e2,
		    ok ? "ok" : "fault");
		return;
	}
	if (!ok) {
		w->res->err_ops++;
		return;
	}
	w->res->ok_ops++;
	mark_resident(w, p);
	struct val want = expect_val(w, p);
	if (a != want.a || b != want.b)
		MMF(w, "read map %u page %u: %#llx/%#llx, model %#llx/%#llx",
		    mi, q, (unsigned long long)a, (unsigned long long)b,
		    (unsigned long long)want.a, (unsigned long long)want.b);
}

static void
op_write(struct world *w)
{
	unsigned mi = map_pick(w), q = page_pick(w, mi);
	uint64_t x = ((uint64_t)in8(w) << 8 | in8(w)) * 0x100000001b3ull + 7;
	struct val v = written(x);
	struct mpage *p;
	int e1, e2;

	if (mi == MM_MAPS)
		return;
	p = &w->maps[mi].pg[q];
	activate(w, w->maps[mi].map);
	e1 = hal_probe_write64(BASE + q * PG, v.a);
	e2 = hal_probe_write64(BASE + q * PG + 511 * 8, v.b);
	TR(w, "map %u write page %u = %d/%d", mi, q, e1, e2);
	bool ok = p->mapped && (p->prot & VM_PROT_WRITE) && !pagein_fails(w, p);
	if ((e1 == 0) != ok || (e2 == 0) != ok) {
		MMF(w, "write map %u page %u: %d/%d, model %s", mi, q, e1, e2,
		    ok ? "ok" : "fault");
		return;
	}
	if (!ok) {
		w->res->err_ops++;
		return;
	}
	w->res->ok_ops++;
	mark_resident(w, p);
	if (p->shared) {
		w->objs[p->obj].v[p->opg] = v;
	} else {
		p->anon = true;
		p->v = v;
	}
}

static void
op_fault(struct world *w)
{
	unsigned mi = map_pick(w), q = page_pick(w, mi);
	unsigned access = in8(w) & (HAL_FAULT_READ | HAL_FAULT_WRITE |
	    HAL_FAULT_EXEC | HAL_FAULT_USER);
	unsigned need = access & VM_PROT_ALL;
	struct mpage *p;
	int want, got;

	if (mi == MM_MAPS)
		return;
	p = &w->maps[mi].pg[q];
	if (need == 0)
		need = VM_PROT_READ;
	if ((need & VM_PROT_EXEC) && !(access & HAL_FAULT_USER))
		want = -EACCES;
	else if (!p->mapped)
		want = -EFAULT;
	else if ((p->prot & need) != need)
		want = -EACCES;
	else if (pagein_fails(w, p))
		want = -EFAULT;
	else
		want = 0;
	if (w->inject)
		vm_debug_set_fail_every(1);
	got = vm_fault(w->maps[mi].map, BASE + q * PG + in_below(w, 8) * 512,
	    access);
	vm_debug_set_fail_every(0);
	TR(w, "map %u fault page %u access %#x = %d want %d", mi, q, access,
	    got, want);
	/* Injected: the frame allocation comes before the pager's get. */
	if (got != want && !(got == -ENOMEM && w->inject &&
	    (want == 0 || (want == -EFAULT && p->mapped)))) {
		MMF(w, "vm_fault(map %u, page %u, %#x) = %d, model %d", mi, q,
		    access, got, want);
		return;
	}
	if (got != 0) {
		w->res->err_ops++;
		w->res->enomem += got == -ENOMEM;
		return;
	}
	w->res->ok_ops++;
	if (!p->shared && (need & VM_PROT_WRITE) && !p->anon) {
		/* A private write fault copies (or zero-fills) the page. */
		mark_resident(w, p);
		p->v = expect_val(w, p);
		p->anon = true;
	} else {
		mark_resident(w, p);
	}
}

/* ------------------------------------------------------------------ */
/* Maps: create, fork, destroy.                                        */

static unsigned
free_slot(struct world *w)
{
	for (unsigned i = 0; i < MM_MAPS; i++)
		if (w->maps[i].map == NULL)
			return i;
	return MM_MAPS;
}

static void
op_create(struct world *w)
{
	unsigned k = free_slot(w), flags = in_below(w, 2) ? VM_MAPF_WXORX : 0;

	if (k == MM_MAPS)
		return;
	if (w->inject)
		vm_debug_set_fail_every(1 + in_below(w, 2));
	w->maps[k].map = vm_map_create(flags);
	vm_debug_set_fail_every(0);
	if (w->maps[k].map == NULL) {
		if (!w->inject)
			MMF(w, "vm_map_create failed");
		return;
	}
	w->maps[k].flags = flags;
	memset(w->maps[k].pg, 0, sizeof(w->maps[k].pg));
}

static void
destroy_map(struct world *w, unsigned mi)
{
	TR(w, "destroy map %u", mi);
	if (w->active == w->maps[mi].map)
		activate(w, NULL);
	vm_map_destroy(w->maps[mi].map);
	w->maps[mi].map = NULL;
}

static void
op_fork(struct world *w)
{
	unsigned mi = map_pick(w), k = free_slot(w);
	static struct vm_map_entry_info before[MM_MAX_ENTRIES];
	struct mmap_m *src, *dst;
	size_t nb;
	int err;

	if (mi == MM_MAPS)
		return;
	if (k == MM_MAPS) {
		/* Full: a random other map makes room. */
		k = (mi + 1 + in_below(w, MM_MAPS - 1)) % MM_MAPS;
		destroy_map(w, k);
	}
	src = &w->maps[mi];
	dst = &w->maps[k];
	dst->map = vm_map_create(src->flags);
	if (dst->map == NULL) {
		MMF(w, "vm_map_create failed");
		return;
	}
	dst->flags = src->flags;
	nb = snapshot(w, src->map, before);
	if (w->inject)
		vm_debug_set_fail_every(1 + in_below(w, 4));
	err = vm_map_copy(dst->map, src->map);
	vm_debug_set_fail_every(0);
	TR(w, "fork map %u -> %u = %d", mi, k, err);
	if (err != 0) {
		size_t na = snapshot(w, src->map, w->ents);
		if (err != -ENOMEM || !w->inject)
			MMF(w, "vm_map_copy = %d", err);
		if (!same_entries(before, nb, w->ents, na))
			MMF(w, "vm_map_copy: error changed the parent");
		if (vm_map_entries(dst->map, w->ents, 1) != 0)
			MMF(w, "vm_map_copy: error left entries in the child");
		if (!vm_map_is_valid(dst->map))
			MMF(w, "vm_map_copy: child invalid after error");
		vm_map_destroy(dst->map);
		dst->map = NULL;
		w->res->err_ops++;
		w->res->enomem++;
		return;
	}
	w->res->ok_ops++;
	w->res->forks++;
	for (unsigned p = 0; p < MM_NP; p++) {
		dst->pg[p] = src->pg[p];
		if (src->pg[p].noinherit)
			memset(&dst->pg[p], 0, sizeof(struct mpage));
	}
}


static void
op_destroy(struct world *w)
{
	unsigned mi = map_pick(w);

	if (mi != MM_MAPS)
		destroy_map(w, mi);
}

/* ------------------------------------------------------------------ */
/* The session.                                                        */

static bool
world_init(struct world *w)
{
	w->phys = page_alloc_contig(MM_PHYS_PAGES, 0, PAGE_ZERO);
	if (w->phys == NULL)
		return false;
	/* 0: anonymous object. */
	w->objs[0].o = vm_object_anon_create(MM_OBJ_PAGES * PG);
	w->objs[0].kind = VM_OBJ_ANON;
	w->objs[0].maxprot = VM_PROT_ALL;
	w->objs[0].npages = MM_OBJ_PAGES;
	/* 1, 2: pager objects, read-only and read-write. */
	for (int k = 0; k < 2; k++) {
		struct mobj *mo = &w->objs[1 + k];
		mo->kind = VM_OBJ_PAGER;
		mo->maxprot = k == 0 ? VM_PROT_READ | VM_PROT_EXEC :
		    VM_PROT_ALL;
		mo->npages = MM_OBJ_PAGES;
		for (uint32_t p = 0; p < MM_OBJ_PAGES; p++)
			mo->v[p] = pattern(1 + k, p);
		mo->o = vm_object_pager_create(MM_OBJ_PAGES * PG, mo->maxprot,
		    &mm_pager, mo);
	}
	/* 3: physical object over four frames, filled with a pattern. */
	struct mobj *ph = &w->objs[3];
	ph->kind = VM_OBJ_PHYS;
	ph->maxprot = VM_PROT_READ | VM_PROT_WRITE;
	ph->npages = MM_PHYS_PAGES;
	for (uint32_t p = 0; p < MM_PHYS_PAGES; p++) {
		uint64_t *f = page_to_kva(&w->phys[p]);
		ph->v[p] = pattern(3, p);
		f[0] = ph->v[p].a;
		f[511] = ph->v[p].b;
		ph->resident[p] = true;
	}
	ph->o = vm_object_phys_create(page_to_pa(w->phys),
	    MM_PHYS_PAGES * PG, ph->maxprot);
	w->nobjs = MM_SOBJ;
	for (int k = 0; k < MM_SOBJ; k++) {
		w->objs[k].used = true;
		if (w->objs[k].o == NULL)
			return false;
	}
	w->maps[0].flags = VM_MAPF_WXORX;
	w->maps[0].map = vm_map_create(VM_MAPF_WXORX);
	return w->maps[0].map != NULL;
}

void
mm_session(const uint8_t *data, size_t n, struct rng *r, unsigned max_steps,
    mm_fail_fn fail, struct mm_result *out)
{
	struct world *w = &mm_world;
	struct vm_stats vs0, vs1;
	size_t free0, free1;

	memset(out, 0, sizeof(*out));
	memset(w, 0, sizeof(*w));
	w->data = data;
	w->n = n;
	w->r = r;
	w->fail = fail;
	w->res = out;
	w->verbose = (unsigned)bootarg_u64(hal_bootargs(), "mm_verbose", 0);
	vm_map_init();
	vm_map_activate(NULL);
	zone_reap_everything();
	page_drain_all();
	free0 = page_free_count();
	vm_stats(&vs0);

	if (!world_init(w)) {
		MMF(w, "mapmodel: cannot build the world");
		goto teardown;
	}
	if (n > 0)
		w->maps[0].flags = in_below(w, 2) ? VM_MAPF_WXORX : 0;
	if (w->maps[0].flags == 0) {
		vm_map_destroy(w->maps[0].map);
		w->maps[0].map = vm_map_create(0);
	}
	for (out->steps = 0; out->steps < max_steps; out->steps++) {
		unsigned op = in8(w);
		if (w->end)
			break;
		w->inject = false;
		if (op >= 240) {
			/* Failure injection for the next operation. */
			w->inject = true;
			op = in8(w);
		}
		unsigned ok0 = out->ok_ops, err0 = out->err_ops;
		switch (op % 32) {
		case 0: case 1: case 2: case 3: case 4: case 5:
			op_mmap(w);
			break;
		case 6: case 7:
			op_munmap(w);
			break;
		case 8: case 9: case 10:
			op_mprotect(w);
			break;
		case 11: case 12: case 13: case 14:
			op_read(w);
			break;
		case 15: case 16: case 17: case 18: case 19: case 20:
			op_write(w);
			break;
		case 21: case 22: case 23:
			op_fault(w);
			break;
		case 24: case 25: case 26:
			op_fork(w);
			break;
		case 27:
			op_destroy(w);
			break;
		case 28:
			(in8(w) & 1) ? op_create(w) :
			    (void)(w->flaky = !w->flaky);
			break;
		default:
			/* A burst of accesses to one map. */
			for (int k = 0; k < 4; k++)
				(in8(w) & 1) ? op_read(w) : op_write(w);
			break;
		}
		if (w->verbose) {
			w->op_ok[op % 32] += out->ok_ops - ok0;
			w->op_err[op % 32] += out->err_ops - err0;
		}
		check_all(w);
		if (out->failures > MM_MAX_FAILS)
			break;
	}

teardown:
	if (w->verbose)
		for (unsigned k = 0; k < 32; k++)
			kprintf("# op %2u: %u ok, %u errors\n", k, w->op_ok[k],
			    w->op_err[k]);
	w->flaky = false;
	activate(w, NULL);
	for (unsigned mi = 0; mi < MM_MAPS; mi++)
		if (w->maps[mi].map != NULL)
			destroy_map(w, mi);
	for (int k = 0; k < MM_SOBJ; k++)
		if (w->objs[k].o != NULL) {
			if (vm_object_refs(w->objs[k].o) != 1)
				MMF(w, "object %d: %u references after every "
				    "map died", k, vm_object_refs(w->objs[k].o));
			vm_object_release(w->objs[k].o);
		}
	if (w->releases != 2)
		MMF(w, "pager release called %u times", w->releases);
	if (w->phys != NULL)
		page_free_contig(w->phys, MM_PHYS_PAGES);
	zone_reap_everything();
	page_drain_all();
	free1 = page_free_count();
	vm_stats(&vs1);
	if (free1 != free0)
		MMF(w, "leak: %zu free frames at the start, %zu at the end",
		    free0, free1);
	if (vs1.maps != vs0.maps || vs1.entries != vs0.entries ||
	    vs1.anons != vs0.anons || vs1.objects != vs0.objects ||
	    vs1.slot_nodes != vs0.slot_nodes)
		MMF(w, "leak: maps %zu/%zu entries %zu/%zu anons %zu/%zu "
		    "objects %zu/%zu nodes %zu/%zu", vs0.maps, vs1.maps,
		    vs0.entries, vs1.entries, vs0.anons, vs1.anons,
		    vs0.objects, vs1.objects, vs0.slot_nodes, vs1.slot_nodes);
}
