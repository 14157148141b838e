/*
 * The soak: every layer on every hart at once, for a given time.
 *
 * Each hart draws a mix of operations from its own generator (seeded with
 * ktest_seed() and its cpu number):
 *	pages	page_alloc/page_free of orders 0-3, each block filled with a
 *		pattern that is checked when it is freed
 *	zones	a zone of the suite's own and kmalloc of sizes from 1 byte to
 *		beyond the largest class (whole frames), patterns checked
 *	maps	mmap into slots of the hart's own window of its map: private
 *		and shared anonymous memory, private and shared mappings of an
 *		anonymous object of the hart's, stores and loads through the
 *		MMU (every first touch a fault) checked against a model
 *	mprotect  read-only, then a store that must fail and change nothing
 *	munmap	of a whole slot (the range must fault afterwards) or of its
 *		first page (an entry split)
 *	fork	vm_map_copy into a child: the child sees the parent's data,
 *		its writes to private memory stay its own, its writes to
 *		shared memory reach the parent; the child lives on until the
 *		next fork, so the parent's writes meanwhile copy
 *	objects	one anonymous object per round mapped shared by every hart,
 *		each writing its own word of each page
 * In every other round the harts pair up and each pair shares one map
 * (both have it active, each in its own window): every munmap, mprotect
 * and fork of one shoots down on the other, and the pair plays with a
 * shoot page (see struct sk_pair) that shows a translation left behind.
 * The case stale_caught shows that this check fails when shootdowns skip
 * the remote harts (pmap_debug_skip_remote).
 *
 * A round lasts soak_round_ms (default 500); at its end every hart
 * releases what it holds and waits at a barrier; then the maps go, and the
 * free-frame count, the layer's counts (maps, entries, anons, objects,
 * table nodes), kmalloc's class zones and large frames and the suite's
 * zone must all be back at their start values.  The whole run lasts
 * soak_s seconds (default 2: the test command stays fast; ci/soak runs it
 * for minutes).  One line per round reports the operation counts.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/bootargs.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "tests/map_util.h"
#include "vm/fault.h"
#include "vm/kmalloc.h"
#include "vm/map.h"
#include "vm/object.h"
#include "vm/page.h"
#include "vm/zone.h"

#define RW (VM_PROT_READ | VM_PROT_WRITE)

#define SK_SLOTS 12		/* mapping slots per hart */
#define SK_SLOT_PAGES 8		/* at most, per slot */
#define SK_OBJ_PAGES 16		/* the hart's own object */
#define SK_GLOBAL_PAGES 8	/* the object every hart maps */
#define SK_BLOCKS 12		/* page blocks held at most */
#define SK_ALLOCS 24		/* zone and kmalloc objects held at most */
#define SK_ZONE_SIZE 200
#define SK_KM_LARGE 20000	/* largest kmalloc size drawn */
#define SK_REPORT 4		/* failures reported per hart and round */

/* Kinds of mapping slots. */
enum sk_kind {
	SK_FREE,
	SK_PRIV_ANON,		/* VM_MAP_PRIVATE | VM_MAP_ANON */
	SK_SHARED_ANON,		/* VM_MAP_SHARED | VM_MAP_ANON */
	SK_PRIV_OBJ,		/* private mapping of the hart's object */
	SK_SHARED_OBJ,		/* shared mapping of the hart's object */
};

struct sk_slot {
	enum sk_kind kind;
	vaddr_t va;
	unsigned npages;
	unsigned objoff;	/* first object page (object kinds) */
	bool ro;
	/* Private pages written through this slot (0: not written: zero,
	   or the object's value for SK_PRIV_OBJ); shared kinds keep their
	   values here too (SK_SHARED_OBJ: in sk_hart.objval). */
	uint64_t val[SK_SLOT_PAGES];
};

struct sk_alloc {
	void *p;
	size_t size;		/* 0: a soak-zone object */
	uint8_t fill;
};

struct sk_block {
	struct vm_page *pg;
	unsigned order;
	uint64_t salt;
};

/* Operation counts of one hart in one round. */
struct sk_ops {
	uint64_t pages, zallocs, kmallocs, mmaps, munmaps, splits, mprotects;
	uint64_t stores, loads, forks, global, denied;
	uint64_t shoots;	/* shoot-page steps of a pair's leader */
	uint64_t watched;	/* shoot-page checks of a pair's partner */
};

struct sk_hart {
	unsigned cpu;
	struct rng r;
	vm_map_t map;		/* the map it works in (maybe shared) */
	vm_map_t child;		/* its last fork, or NULL */
	vaddr_t child_va;	/* a private page the child wrote */
	uint64_t child_val;
	vm_object_t obj;	/* its own anonymous object */
	uint64_t objval[SK_OBJ_PAGES];
	struct sk_slot slot[SK_SLOTS];
	struct sk_block blk[SK_BLOCKS];
	struct sk_alloc al[SK_ALLOCS];
	uint64_t gval[SK_GLOBAL_PAGES];	/* its word of the global object */
	uint64_t tick;		/* values written so far (makes each new) */
	unsigned reported;
	struct sk_ops ops;
} __attribute__((aligned(64)));

/*
 * The shoot page of a pair (paired rounds): the leader (the even cpu)
 * maps a page of its window, stores a value, then makes it read-only,
 * then unmaps it, publishing each step after its call returned; the
 * partner, which has the same map active, reads it while it is mapped
 * (so its TLB holds the translation; the leader's next step waits for
 * that read), must fail to store once it saw the
 * page read-only, and must fault once it saw it gone (then it hands the
 * page back).  A translation left behind by a shootdown shows there.
 */
enum sk_shoot_state { SH_IDLE, SH_MAPPED, SH_RO, SH_GONE };

struct sk_pair {
	uint64_t state;		/* (A) enum sk_shoot_state */
	uint64_t val;		/* what the page holds (set before MAPPED) */
	uint64_t done;		/* (A) stale_caught: the leader finished */
	uint64_t looked;	/* (A) the state the partner last read the
				   page in: the leader's next step waits
				   for it, so the partner's TLB has it */
} __attribute__((aligned(64)));

static struct {
	struct sk_hart hart[HAL_MAX_CPUS];
	struct sk_pair pair[HAL_MAX_CPUS];	/* by leader cpu */
	bool paired;		/* this round: pairs share a map */
	bool skip_remote;	/* the deliberate bug: count stale, no FAIL */
	uint64_t stale;		/* (A) stale translations seen */
	vm_map_t maps[HAL_MAX_CPUS];
	vm_object_t global;
	zone_t zone;
	unsigned round;
	uint64_t deadline;	/* of the round (hal_time_ns) */
	struct smp_barrier bar;
	uint64_t bad;		/* (A) failures of the round */
} sk;

#define SK_FAIL(h, ...)                                                        \
	do {                                                                   \
		ck_pr_inc_64(&sk.bad);                                         \
		if ((h)->reported++ < SK_REPORT) {                             \
			ktest_note("soak: seed %llu round %u cpu %u:",         \
			    (unsigned long long)ktest_seed(), sk.round,        \
			    (h)->cpu);                                         \
			KT_FAIL(__VA_ARGS__);                                  \
		}                                                              \
	} while (0)

/*
 * The hart's window of user space: its slots, then its mapping of the
 * global object.  Windows of different harts never overlap, so two harts
 * in one map never touch each other's entries.
 */
static vaddr_t
sk_window(unsigned cpu)
{
	return UBASE + (vaddr_t)cpu * (SK_SLOTS + 2) * 2 * SK_SLOT_PAGES * PG;
}

static vaddr_t
sk_slot_va(unsigned cpu, unsigned i)
{
	return sk_window(cpu) + (vaddr_t)i * 2 * SK_SLOT_PAGES * PG;
}

static vaddr_t
sk_global_va(unsigned cpu)
{
	return sk_slot_va(cpu, SK_SLOTS);
}

static vaddr_t
sk_shoot_va(unsigned leader)
{
	return sk_slot_va(leader, SK_SLOTS + 1);
}

static uint64_t
sk_newval(struct sk_hart *h, vaddr_t va)
{
	return cookie(va ^ ((uint64_t)h->cpu << 56), ++h->tick) | 1;
}

/*
 * One access through the MMU.  The probes resolve faults through
 * vm_fault_trap until the access succeeds or the fault is real (on the
 * host too: a fork on another hart in between cannot make a correct access
 * fail), so a failure here is a real one.
 */
static int
sk_load(struct sk_hart *h, vaddr_t va, uint64_t *v)
{
	(void)h;
	return hal_probe_read64(va, v);
}

static int
sk_store(struct sk_hart *h, vaddr_t va, uint64_t v)
{
	(void)h;
	return hal_probe_write64(va, v);
}

/* What page p of slot s must hold (word 0 and word 511). */
static uint64_t
sk_expect(struct sk_hart *h, struct sk_slot *s, unsigned p)
{
	if (s->kind == SK_SHARED_OBJ)
		return h->objval[s->objoff + p];
	if (s->kind == SK_PRIV_OBJ && s->val[p] == 0)
		return h->objval[s->objoff + p];
	return s->val[p];
}

static void
sk_check_page(struct sk_hart *h, struct sk_slot *s, unsigned p,
    const char *where)
{
	uint64_t want = sk_expect(h, s, p), a = 0, b = 0;
	vaddr_t va = s->va + p * PG;

	if (sk_load(h, va, &a) != 0 || sk_load(h, va + PG - 8, &b) != 0) {
		SK_FAIL(h, "%s: load %#lx (kind %d) faulted", where,
		    (unsigned long)va, s->kind);
		return;
	}
	h->ops.loads += 2;
	if (a != want || b != want)
		SK_FAIL(h, "%s: page %#lx (kind %d, ro %d) holds %#llx/%#llx, "
		    "expected %#llx", where, (unsigned long)va, s->kind, s->ro,
		    (unsigned long long)a, (unsigned long long)b,
		    (unsigned long long)want);
}

static void
sk_check_slot(struct sk_hart *h, struct sk_slot *s, const char *where)
{
	for (unsigned p = 0; p < s->npages; p++)
		sk_check_page(h, s, p, where);
}

/* Stores a new value in page p of slot s (writable) and records it. */
static void
sk_store_page(struct sk_hart *h, struct sk_slot *s, unsigned p)
{
	vaddr_t va = s->va + p * PG;
	uint64_t v = sk_newval(h, va);

	if (sk_store(h, va, v) != 0 || sk_store(h, va + PG - 8, v) != 0) {
		SK_FAIL(h, "store %#lx (kind %d) faulted", (unsigned long)va,
		    s->kind);
		return;
	}
	h->ops.stores += 2;
	if (s->kind == SK_SHARED_OBJ)
		h->objval[s->objoff + p] = v;
	else
		s->val[p] = v;
}

/* ---- pages, zones, kmalloc ---------------------------------------- */

static void
sk_block_fill(struct sk_block *b, bool check, struct sk_hart *h)
{
	uint64_t *w = page_to_kva(b->pg);
	size_t n = ((size_t)PAGE_SIZE << b->order) / 8;

	for (size_t i = 0; i < n; i += 61) {
		uint64_t v = cookie(i, b->salt);
		if (!check) {
			w[i] = v;
		} else if (w[i] != v) {
			SK_FAIL(h, "frame %#lx order %u word %zu holds %#llx, "
			    "expected %#llx", (unsigned long)page_to_pa(b->pg),
			    b->order, i, (unsigned long long)w[i],
			    (unsigned long long)v);
			return;
		}
	}
}

static void
sk_page_op(struct sk_hart *h)
{
	struct sk_block *b = &h->blk[rng_below(&h->r, SK_BLOCKS)];

	if (b->pg != NULL) {
		sk_block_fill(b, true, h);
		page_free(b->pg, b->order);
		b->pg = NULL;
	} else {
		b->order = (unsigned)rng_below(&h->r, 4);
		b->pg = page_alloc(b->order, 0);
		if (b->pg == NULL) {
			SK_FAIL(h, "page_alloc(%u) failed", b->order);
			return;
		}
		b->salt = rng_next(&h->r);
		sk_block_fill(b, false, h);
	}
	h->ops.pages++;
}

static void
sk_alloc_free(struct sk_hart *h, struct sk_alloc *a)
{
	size_t n = a->size != 0 ? a->size : SK_ZONE_SIZE;
	const uint8_t *c = a->p;

	for (size_t i = 0; i < n; i += (i < 64 ? 1 : 29))
		if (c[i] != (uint8_t)(a->fill + i)) {
			SK_FAIL(h, "%s object %p (%zu bytes) byte %zu holds "
			    "%#x", a->size ? "kmalloc" : "zone", a->p, n, i,
			    c[i]);
			break;
		}
	if (c[n - 1] != (uint8_t)(a->fill + n - 1))
		SK_FAIL(h, "object %p: last byte overwritten", a->p);
	if (a->size != 0)
		kfree(a->p);
	else
		zone_free(sk.zone, a->p);
	a->p = NULL;
}

static void
sk_alloc_op(struct sk_hart *h)
{
	struct sk_alloc *a = &h->al[rng_below(&h->r, SK_ALLOCS)];

	if (a->p != NULL) {
		sk_alloc_free(h, a);
		return;
	}
	unsigned k = (unsigned)rng_below(&h->r, 8);
	if (k == 0) {
		a->size = 0;
		a->p = zone_alloc(sk.zone, 0);
		h->ops.zallocs++;
	} else {
		a->size = k < 5 ? 1 + rng_below(&h->r, 256) :
		    k < 7 ? 1 + rng_below(&h->r, KMALLOC_MAX_CLASS) :
		    KMALLOC_MAX_CLASS + 1 + rng_below(&h->r,
		    SK_KM_LARGE - KMALLOC_MAX_CLASS);
		a->p = kmalloc(a->size, 0);
		h->ops.kmallocs++;
	}
	if (a->p == NULL) {
		SK_FAIL(h, "%s of %zu bytes failed", k ? "kmalloc" : "zone_alloc",
		    a->size);
		return;
	}
	a->fill = (uint8_t)rng_next(&h->r);
	size_t n = a->size != 0 ? a->size : SK_ZONE_SIZE;
	uint8_t *c = a->p;
	for (size_t i = 0; i < n; i++)
		c[i] = (uint8_t)(a->fill + i);
}

/* ---- maps ---------------------------------------------------------- */

static void
sk_mmap(struct sk_hart *h, struct sk_slot *s, unsigned i)
{
	unsigned kind = SK_PRIV_ANON + (unsigned)rng_below(&h->r, 4);
	unsigned n = 1 + (unsigned)rng_below(&h->r, SK_SLOT_PAGES);
	unsigned flags = VM_MAP_FIXED;
	vm_object_t obj = NULL;
	uint64_t off = 0;
	long a;

	switch (kind) {
	case SK_PRIV_ANON:
		flags |= VM_MAP_PRIVATE | VM_MAP_ANON;
		break;
	case SK_SHARED_ANON:
		flags |= VM_MAP_SHARED | VM_MAP_ANON;
		break;
	default:
		flags |= kind == SK_PRIV_OBJ ? VM_MAP_PRIVATE : VM_MAP_SHARED;
		obj = h->obj;
		off = rng_below(&h->r, SK_OBJ_PAGES - n + 1);
		break;
	}
	memset(s, 0, sizeof(*s));
	s->va = sk_slot_va(h->cpu, i);
	a = vm_mmap(h->map, s->va, n * PG, RW, flags, obj, off * PG);
	if (a != (long)s->va) {
		SK_FAIL(h, "vm_mmap(%#lx, %u pages, kind %u) = %ld",
		    (unsigned long)s->va, n, kind, a);
		return;
	}
	s->kind = kind;
	s->npages = n;
	s->objoff = (unsigned)off;
	h->ops.mmaps++;
	/* What is there already: zeros, or the object's data. */
	sk_check_page(h, s, (unsigned)rng_below(&h->r, n), "fresh mapping");
}

static void
sk_munmap(struct sk_hart *h, struct sk_slot *s)
{
	uint64_t v;

	if (s->npages > 1 && rng_below(&h->r, 3) == 0) {
		/* The first page only: the entry is split. */
		if (vm_munmap(h->map, s->va, PG) != 0) {
			SK_FAIL(h, "vm_munmap(%#lx, 1 page) failed",
			    (unsigned long)s->va);
			return;
		}
		if (hal_probe_read64(s->va, &v) != -EFAULT)
			SK_FAIL(h, "%#lx still readable after munmap",
			    (unsigned long)s->va);
		memmove(s->val, s->val + 1, (SK_SLOT_PAGES - 1) * 8);
		s->val[SK_SLOT_PAGES - 1] = 0;
		s->va += PG;
		s->npages--;
		s->objoff++;
		h->ops.splits++;
		sk_check_slot(h, s, "after a split");
		return;
	}
	sk_check_slot(h, s, "before munmap");
	if (vm_munmap(h->map, s->va, s->npages * PG) != 0) {
		SK_FAIL(h, "vm_munmap(%#lx, %u pages) failed",
		    (unsigned long)s->va, s->npages);
		return;
	}
	for (unsigned p = 0; p < s->npages; p++)
		if (hal_probe_read64(s->va + p * PG, &v) != -EFAULT)
			SK_FAIL(h, "%#lx still readable after munmap",
			    (unsigned long)(s->va + p * PG));
	s->kind = SK_FREE;
	h->ops.munmaps++;
}

static void
sk_mprotect(struct sk_hart *h, struct sk_slot *s)
{
	unsigned p = (unsigned)rng_below(&h->r, s->npages);
	vaddr_t va = s->va + p * PG;
	int e;

	if (s->ro) {
		e = vm_mprotect(h->map, s->va, s->npages * PG, RW);
		if (e != 0)
			SK_FAIL(h, "vm_mprotect(%#lx, RW) = %d",
			    (unsigned long)s->va, e);
		else
			s->ro = false;
		h->ops.mprotects++;
		return;
	}
	e = vm_mprotect(h->map, s->va, s->npages * PG, VM_PROT_READ);
	if (e != 0) {
		SK_FAIL(h, "vm_mprotect(%#lx, R) = %d", (unsigned long)s->va, e);
		return;
	}
	s->ro = true;
	h->ops.mprotects++;
	/* A store must fail, and change nothing. */
	if (hal_probe_write64(va, sk_newval(h, va)) != -EFAULT)
		SK_FAIL(h, "store to read-only %#lx did not fault",
		    (unsigned long)va);
	h->ops.denied++;
	sk_check_page(h, s, p, "after a denied store");
}

/*
 * Fork: the child sees the parent's data; its store to a private page
 * stays its own, its store to a shared page reaches the parent.
 */
static void
sk_fork(struct sk_hart *h)
{
	struct sk_slot *priv = NULL, *shared = NULL;

	if (h->child != NULL) {
		uint64_t v = 0;
		if (h->child_va != 0) {
			vm_map_activate(h->child);
			if (sk_load(h, h->child_va, &v) != 0 || v != h->child_val)
				SK_FAIL(h, "child's page %#lx lost its value "
				    "(%#llx, expected %#llx)",
				    (unsigned long)h->child_va,
				    (unsigned long long)v,
				    (unsigned long long)h->child_val);
			vm_map_activate(h->map);
		}
		vm_map_destroy(h->child);
		h->child = NULL;
	}
	h->child = vm_map_create(0);
	if (h->child == NULL) {
		SK_FAIL(h, "vm_map_create failed");
		return;
	}
	int e = vm_map_copy(h->child, h->map);
	if (e != 0) {
		SK_FAIL(h, "vm_map_copy = %d", e);
		return;
	}
	h->ops.forks++;
	h->child_va = 0;
	vm_map_activate(h->child);
	for (unsigned i = 0; i < SK_SLOTS; i++) {
		struct sk_slot *s = &h->slot[i];
		if (s->kind == SK_FREE)
			continue;
		sk_check_page(h, s, (unsigned)rng_below(&h->r, s->npages),
		    "child after fork");
		if (s->ro)
			continue;
		if (s->kind == SK_PRIV_ANON || s->kind == SK_PRIV_OBJ)
			priv = s;
		else
			shared = s;
	}
	if (priv != NULL) {
		unsigned p = (unsigned)rng_below(&h->r, priv->npages);
		struct sk_slot save = *priv;
		sk_store_page(h, priv, p);
		h->child_va = priv->va + p * PG;
		h->child_val = priv->val[p];
		*priv = save;		/* the parent's model is unchanged */
	}
	if (shared != NULL)
		sk_store_page(h, shared, (unsigned)rng_below(&h->r,
		    shared->npages));
	vm_map_activate(h->map);
	if (priv != NULL)
		sk_check_slot(h, priv, "parent after the child's store");
	if (shared != NULL)
		sk_check_slot(h, shared, "parent sees the child's store");
}

static void
sk_global_op(struct sk_hart *h)
{
	unsigned p = (unsigned)rng_below(&h->r, SK_GLOBAL_PAGES);
	vaddr_t va = sk_global_va(h->cpu) + p * PG + (1 + h->cpu) * 8;
	uint64_t v = sk_newval(h, va), got = 0;

	if (sk_store(h, va, v) != 0 || sk_load(h, va, &got) != 0 || got != v) {
		SK_FAIL(h, "global object page %u: store/load %#lx failed",
		    p, (unsigned long)va);
		return;
	}
	h->gval[p] = v;
	h->ops.global++;
}

static void
sk_shoot_lead(struct sk_hart *h)
{
	struct sk_pair *sp = &sk.pair[h->cpu];
	vaddr_t va = sk_shoot_va(h->cpu);
	uint64_t st = ck_pr_load_64(&sp->state);
	long a;
	int e;

	switch (st) {
	case SH_IDLE:
		ck_pr_store_64(&sp->looked, SH_IDLE);
		/* Private anonymous memory: the frame is freed by the
		   munmap.  With the deliberate bug, the first page of the
		   hart's object instead: the frame outlives the munmap, so
		   a stale load reads an old value, never a freed frame
		   (which would be a data race, as TSan says). */
		if (!sk.skip_remote)
			a = vm_mmap(h->map, va, PG, RW, VM_MAP_PRIVATE |
			    VM_MAP_ANON | VM_MAP_FIXED, NULL, 0);
		else
			a = vm_mmap(h->map, va, PG, RW, VM_MAP_SHARED |
			    VM_MAP_FIXED, h->obj, 0);
		if (a != (long)va) {
			SK_FAIL(h, "vm_mmap(shoot page %#lx) = %ld",
			    (unsigned long)va, a);
			return;
		}
		sp->val = sk_newval(h, va);
		if (sk_store(h, va, sp->val) != 0) {
			SK_FAIL(h, "store to shoot page %#lx faulted",
			    (unsigned long)va);
			return;
		}
		break;
	case SH_MAPPED:
		if (ck_pr_load_64(&sp->looked) != SH_MAPPED)
			return;
		e = vm_mprotect(h->map, va, PG, VM_PROT_READ);
		if (e != 0) {
			SK_FAIL(h, "vm_mprotect(shoot page, R) = %d", e);
			return;
		}
		break;
	case SH_RO:
		if (ck_pr_load_64(&sp->looked) != SH_RO)
			return;
		e = vm_munmap(h->map, va, PG);
		if (e != 0) {
			SK_FAIL(h, "vm_munmap(shoot page) = %d", e);
			return;
		}
		break;
	default:
		return;		/* the partner has not looked yet */
	}
	ck_pr_fence_store();
	ck_pr_store_64(&sp->state, st + 1);
	h->ops.shoots++;
}

static void
sk_stale(struct sk_hart *h, const char *what, vaddr_t va)
{
	ck_pr_inc_64(&sk.stale);
	if (!sk.skip_remote)
		SK_FAIL(h, "shoot page %#lx: %s", (unsigned long)va, what);
}

static void
sk_shoot_watch(struct sk_hart *h)
{
	unsigned leader = h->cpu - 1;
	struct sk_pair *sp = &sk.pair[leader];
	vaddr_t va = sk_shoot_va(leader);
	uint64_t st = ck_pr_load_64(&sp->state), v = 0;
	int e;

	ck_pr_fence_load();
	switch (st) {
	case SH_MAPPED:
	case SH_RO:
		/* The leader may take the next step meanwhile: a fault is
		   fine, another value is not. */
		e = hal_probe_read64(va, &v);
		if (e == 0 && v != sp->val) {
			/* An earlier frame's (or its poison): a translation
			   of an earlier cycle was left behind. */
			if (!sk.skip_remote)
				SK_FAIL(h, "shoot page %#lx holds %#llx, "
				    "expected %#llx", (unsigned long)va,
				    (unsigned long long)v,
				    (unsigned long long)sp->val);
			ck_pr_inc_64(&sk.stale);
		} else if (e != 0 && ck_pr_load_64(&sp->state) == SH_MAPPED)
			SK_FAIL(h, "shoot page %#lx: load faulted while mapped",
			    (unsigned long)va);
		if (e == 0)
			ck_pr_store_64(&sp->looked, st);
		/* Read-only on every hart when vm_mprotect returned.  (Not
		   with the deliberate bug: the store could land in the frame
		   after it was freed.) */
		if (st == SH_RO && !sk.skip_remote &&
		    hal_probe_write64(va, ~sp->val) != -EFAULT)
			sk_stale(h, "store after vm_mprotect(R) did not fault",
			    va);
		break;
	case SH_GONE:
		/* Gone from every hart when vm_munmap returned. */
		if (hal_probe_read64(va, &v) != -EFAULT)
			sk_stale(h, "load after vm_munmap did not fault", va);
		ck_pr_fence_store();
		ck_pr_store_64(&sp->state, SH_IDLE);
		break;
	default:
		return;
	}
	h->ops.watched++;
}

static void
sk_shoot_op(struct sk_hart *h)
{
	unsigned n = hal_ncpus();

	if (!sk.paired)
		return;
	if ((h->cpu & 1) == 0 && h->cpu + 1 < n)
		sk_shoot_lead(h);
	else if ((h->cpu & 1) != 0)
		sk_shoot_watch(h);
}

static void
sk_map_op(struct sk_hart *h)
{
	unsigned i = (unsigned)rng_below(&h->r, SK_SLOTS);
	struct sk_slot *s = &h->slot[i];
	unsigned what = (unsigned)rng_below(&h->r, 16);

	if (s->kind == SK_FREE) {
		sk_mmap(h, s, i);
	} else if (what < 7) {
		if (!s->ro)
			sk_store_page(h, s, (unsigned)rng_below(&h->r,
			    s->npages));
		else
			sk_check_page(h, s, (unsigned)rng_below(&h->r,
			    s->npages), "read-only page");
	} else if (what < 10) {
		sk_check_slot(h, s, "check");
	} else if (what < 12) {
		sk_munmap(h, s);
	} else if (what < 14) {
		sk_mprotect(h, s);
	} else if (what < 15) {
		sk_global_op(h);
	} else {
		sk_fork(h);
	}
}

/* ---- a round ---------------------------------------------------------- */

static void
sk_release(struct sk_hart *h)
{
	for (unsigned i = 0; i < SK_BLOCKS; i++)
		if (h->blk[i].pg != NULL) {
			sk_block_fill(&h->blk[i], true, h);
			page_free(h->blk[i].pg, h->blk[i].order);
			h->blk[i].pg = NULL;
		}
	for (unsigned i = 0; i < SK_ALLOCS; i++)
		if (h->al[i].p != NULL)
			sk_alloc_free(h, &h->al[i]);
}

/*
 * Whether the hart goes on: until the round's deadline; in stale_caught
 * until its pair's leader made SK_STALE_CYCLES cycles of the shoot page
 * (the deadline, far off then, only guards against a hang).
 */
#define SK_STALE_CYCLES 8

static bool
sk_busy(struct sk_hart *h)
{
	unsigned n = hal_ncpus();

	if (hal_time_ns() >= ck_pr_load_64(&sk.deadline))
		return false;
	if (!sk.skip_remote)
		return true;
	if ((h->cpu & 1) == 0)
		return h->cpu + 1 < n && h->ops.shoots < 4 * SK_STALE_CYCLES;
	return ck_pr_load_64(&sk.pair[h->cpu - 1].done) == 0;
}

/* Sixteen operations drawn from the hart's generator. */
static void
sk_batch(struct sk_hart *h)
{
	for (unsigned k = 0; k < 16 && (!sk.skip_remote || sk_busy(h));
	    k++) {
		unsigned what = (unsigned)rng_below(&h->r, 8);
		if (sk.skip_remote)
			sk_shoot_op(h);
		else if (what < 2)
			sk_page_op(h);
		else if (what < 4)
			sk_alloc_op(h);
		else if (what < 7)
			sk_map_op(h);
		else
			sk_shoot_op(h);
	}
}

static void
sk_worker(void *arg)
{
	struct sk_hart *h = &sk.hart[hal_cpu_id()];
	unsigned n = hal_ncpus();
	long a;

	(void)arg;
	memset(h, 0, sizeof(*h));
	h->cpu = hal_cpu_id();
	rng_seed(&h->r, ktest_seed() + sk.round * 0x10001ull, h->cpu);
	h->map = sk.maps[h->cpu];
	h->obj = vm_object_anon_create(SK_OBJ_PAGES * PG);
	if (h->obj == NULL)
		SK_FAIL(h, "vm_object_anon_create failed");
	vm_map_activate(h->map);
	a = vm_mmap(h->map, sk_global_va(h->cpu), SK_GLOBAL_PAGES * PG, RW,
	    VM_MAP_SHARED | VM_MAP_FIXED, sk.global, 0);
	if (a != (long)sk_global_va(h->cpu))
		SK_FAIL(h, "vm_mmap of the global object = %ld", a);
	if (sk.skip_remote && (h->cpu & 1) == 0 && h->cpu + 1 < n) {
		/* A neighbour keeps the shoot page's table: with the
		   deliberate bug, no table is freed under a stale walk. */
		vaddr_t nb = sk_shoot_va(h->cpu) + PG;
		if (vm_mmap(h->map, nb, PG, RW, VM_MAP_PRIVATE | VM_MAP_ANON |
		    VM_MAP_FIXED, NULL, 0) != (long)nb || sk_store(h, nb, 1))
			SK_FAIL(h, "neighbour of the shoot page");
	}
	smp_barrier_wait(&sk.bar, n);

	/* One batch at least, however late this hart started.  SUM held
	   set across the batches, so the probes do not flush QEMU's TLB
	   and a translation a shootdown missed stays visible
	   (ut_sum_hold). */
	ut_sum_hold(true);
	if (h->obj != NULL && a >= 0) {
		do
			sk_batch(h);
		while (sk_busy(h));
	}
	ut_sum_hold(false);

	if (sk.skip_remote && (h->cpu & 1) == 0)
		ck_pr_store_64(&sk.pair[h->cpu].done, 1);

	/* Everything back: a last look at every slot, the child goes. */
	for (unsigned i = 0; i < SK_SLOTS; i++)
		if (h->slot[i].kind != SK_FREE)
			sk_check_slot(h, &h->slot[i], "end of round");
	if (h->child != NULL) {
		vm_map_destroy(h->child);
		h->child = NULL;
	}
	sk_release(h);
	vm_map_activate(NULL);
	if (h->obj != NULL)
		vm_object_release(h->obj);
	smp_barrier_wait(&sk.bar, n);
}

/* ---- the case -------------------------------------------------------- */

struct sk_counts {
	struct vm_stats vs;
	size_t free;
	uint64_t large_pages, large_live;
	size_t class_in_use[32];
	size_t zone_in_use;
};

static void
sk_counts(struct sk_counts *c)
{
	struct kmalloc_stats ks;
	struct zone_stats zs;
	unsigned nc = kmalloc_nclasses();

	memset(c, 0, sizeof(*c));
	vm_map_activate(NULL);
	zone_reap_everything();
	page_drain_all();
	vm_stats(&c->vs);
	c->free = page_free_count();
	kmalloc_stats(&ks);
	c->large_pages = ks.large_pages;
	c->large_live = ks.large_allocs - ks.large_frees;
	for (unsigned i = 0; i < nc && i < 32; i++) {
		zone_stats(kmalloc_class_zone(i), &zs);
		c->class_in_use[i] = zs.objs_in_use;
	}
	zone_stats(sk.zone, &zs);
	c->zone_in_use = zs.objs_in_use;
}

/* Everything the round took is back. */
static void
sk_counts_check(const struct sk_counts *a, unsigned round)
{
	struct sk_counts b;
	unsigned f0 = ktest_failures();

	sk_counts(&b);
	KT_EXPECT_EQ(b.vs.maps, a->vs.maps);
	KT_EXPECT_EQ(b.vs.entries, a->vs.entries);
	KT_EXPECT_EQ(b.vs.anons, a->vs.anons);
	KT_EXPECT_EQ(b.vs.objects, a->vs.objects);
	KT_EXPECT_EQ(b.vs.slot_nodes, a->vs.slot_nodes);
	KT_EXPECT_EQ(b.free, a->free);
	KT_EXPECT_EQ(b.large_pages, a->large_pages);
	KT_EXPECT_EQ(b.large_live, a->large_live);
	for (unsigned i = 0; i < kmalloc_nclasses() && i < 32; i++)
		if (b.class_in_use[i] != a->class_in_use[i])
			KT_FAIL("kmalloc class %zu: %zu objects in use, %zu at "
			    "the start", kmalloc_class_size(i),
			    b.class_in_use[i], a->class_in_use[i]);
	KT_EXPECT_EQ(b.zone_in_use, 0);
	if (ktest_failures() != f0)
		ktest_note("soak: seed %llu: counts not back after round %u",
		    (unsigned long long)ktest_seed(), round);
}

static uint64_t
sk_arg(const char *name, uint64_t dflt)
{
	const char *s = ktest_arg(name);
	uint64_t v;

	if (s == NULL)
		return dflt;
	if (!bootarg_parse_u64(s, &v) || v == 0) {
		KT_FAIL("bootarg %s=%s: not a positive number", name, s);
		return 0;
	}
	return v;
}

/*
 * One round: the maps (paired: the odd hart of each pair shares its even
 * neighbour's), the global object, every hart at work until the deadline,
 * then the global object's words, the maps' validity, and the counts.
 * Adds the round's operation counts to *total.
 */
static void
sk_round(unsigned round, bool paired, uint64_t round_ms,
    const struct sk_counts *start, struct sk_ops *total)
{
	unsigned n = hal_ncpus();

	sk.round = round;
	sk.paired = paired;
	memset(sk.pair, 0, sizeof(sk.pair));
	ck_pr_store_64(&sk.bad, 0);
	ck_pr_store_64(&sk.stale, 0);
	for (unsigned c = 0; c < n; c++) {
		if (paired && (c & 1) != 0) {
			sk.maps[c] = sk.maps[c - 1];
			continue;
		}
		sk.maps[c] = vm_map_create(0);
		KT_ASSERT(sk.maps[c] != NULL);
	}
	sk.global = vm_object_anon_create(SK_GLOBAL_PAGES * PG);
	KT_ASSERT(sk.global != NULL);
	ck_pr_store_64(&sk.deadline, hal_time_ns() + round_ms * 1000000ull);

	smp_run(sk_worker, NULL);

	/* Every hart's last word of every page of the global object. */
	for (unsigned p = 0; p < SK_GLOBAL_PAGES; p++) {
		paddr_t pa;
		if (vm_object_page(sk.global, p * PG, &pa, NULL) != 0) {
			KT_FAIL("vm_object_page(global, page %u)", p);
			continue;
		}
		const uint64_t *w = hal_phys_to_virt(pa);
		for (unsigned c = 0; c < n; c++)
			if (w[1 + c] != sk.hart[c].gval[p])
				KT_FAIL("soak: seed %llu round %u: global page "
				    "%u, word of cpu %u holds %#llx, expected "
				    "%#llx", (unsigned long long)ktest_seed(),
				    round, p, c, (unsigned long long)w[1 + c],
				    (unsigned long long)sk.hart[c].gval[p]);
	}
	for (unsigned c = 0; c < n; c++)
		KT_EXPECT(vm_map_is_valid(sk.maps[c]));
	for (unsigned c = 0; c < n; c++) {
		if (!paired || (c & 1) == 0)
			vm_map_destroy(sk.maps[c]);
		sk.maps[c] = NULL;
	}
	vm_object_release(sk.global);
	sk.global = NULL;
	sk_counts_check(start, round);

	for (unsigned c = 0; c < n; c++) {
		const uint64_t *x = (const uint64_t *)&sk.hart[c].ops;
		uint64_t *y = (uint64_t *)total;
		for (size_t i = 0; i < sizeof(*total) / 8; i++)
			y[i] += x[i];
	}
}

static void
sk_begin(struct sk_counts *start)
{
	mt_prepare();
	memset(&sk, 0, sizeof(sk));
	sk.zone = zone_create("soak", SK_ZONE_SIZE, 0, NULL, NULL, 0);
	sk_counts(start);
}

KTEST(soak, mix)
{
	uint64_t secs = sk_arg("soak_s", 2);
	uint64_t round_ms = sk_arg("soak_round_ms", 500);
	unsigned n = hal_ncpus();
	struct sk_counts start;
	struct sk_ops total, prev;
	uint64_t t0, end;
	unsigned rounds = 0;

	if (secs == 0 || round_ms == 0)
		return;
	sk_begin(&start);
	KT_ASSERT(sk.zone != NULL);
	memset(&total, 0, sizeof(total));
	t0 = hal_time_ns();
	end = t0 + secs * 1000000000ull;
	ktest_note("soak: %u harts, seed %llu, %llu s in rounds of %llu ms",
	    n, (unsigned long long)ktest_seed(), (unsigned long long)secs,
	    (unsigned long long)round_ms);

	for (unsigned round = 0; hal_time_ns() < end; round++) {
		bool paired = (round & 1) != 0 && n > 1;
		struct sk_ops o;

		prev = total;
		sk_round(round, paired, round_ms, &start, &total);
		{
			const uint64_t *x = (const uint64_t *)&total;
			const uint64_t *y = (const uint64_t *)&prev;
			uint64_t *z = (uint64_t *)&o;
			for (size_t i = 0; i < sizeof(o) / 8; i++)
				z[i] = x[i] - y[i];
		}
		ktest_note("soak round %u (%s, %llu s): pages %llu zone %llu "
		    "kmalloc %llu mmap %llu munmap %llu split %llu mprotect "
		    "%llu denied %llu fork %llu global %llu stores %llu loads "
		    "%llu shoot %llu watched %llu; bad %llu",
		    round, paired ? "paired maps" : "own maps",
		    (unsigned long long)((hal_time_ns() - t0) / 1000000000ull),
		    (unsigned long long)o.pages, (unsigned long long)o.zallocs,
		    (unsigned long long)o.kmallocs, (unsigned long long)o.mmaps,
		    (unsigned long long)o.munmaps, (unsigned long long)o.splits,
		    (unsigned long long)o.mprotects,
		    (unsigned long long)o.denied, (unsigned long long)o.forks,
		    (unsigned long long)o.global, (unsigned long long)o.stores,
		    (unsigned long long)o.loads, (unsigned long long)o.shoots,
		    (unsigned long long)o.watched,
		    (unsigned long long)ck_pr_load_64(&sk.bad));
		rounds++;
		if (ktest_failures() != 0)
			break;
	}
	uint64_t all = total.pages + total.zallocs + total.kmallocs +
	    total.mmaps + total.munmaps + total.splits + total.mprotects +
	    total.forks + total.global + total.stores + total.loads +
	    total.shoots + total.watched;
	ktest_note("soak: %u rounds in %llu s on %u harts, %llu operations "
	    "(%llu forks, %llu munmaps, %llu mprotects, %llu mmaps, %llu "
	    "shoot-page checks), %u failures", rounds,
	    (unsigned long long)((hal_time_ns() - t0) / 1000000000ull), n,
	    (unsigned long long)all, (unsigned long long)total.forks,
	    (unsigned long long)(total.munmaps + total.splits),
	    (unsigned long long)total.mprotects,
	    (unsigned long long)total.mmaps,
	    (unsigned long long)total.watched, ktest_failures());
	KT_EXPECT_GT(rounds, 0);
	KT_EXPECT_GT(total.forks + total.mmaps, 0);
	KT_EXPECT_EQ(zone_destroy(sk.zone), 0);
}

static void
sk_flush_local(void *arg)
{
	(void)arg;
	hal_mmu_flush_local_all();
}

/*
 * The soak's shoot-page check can fail: with the deliberate bug of
 * pmap_debug_skip_remote (shootdowns flush the calling hart only), one
 * paired round of shoot-page steps alone (SK_STALE_CYCLES cycles per
 * pair) sees stale translations.
 */
KTEST(soak, stale_caught)
{
	struct sk_counts start;
	struct sk_ops total;
	hal_cpuset_t all;

	if (hal_ncpus() < 2) {
		ktest_note("one hart: no pair");
		return;
	}
	sk_begin(&start);
	KT_ASSERT(sk.zone != NULL);
	memset(&total, 0, sizeof(total));
	sk.skip_remote = true;
	pmap_debug_skip_remote(true);
	sk_round(0, true, 60000, &start, &total);
	pmap_debug_skip_remote(false);
	/* No stale translation outlives the case. */
	hal_cpuset_clear(&all);
	for (unsigned c = 0; c < hal_ncpus(); c++)
		hal_cpuset_add(&all, c);
	smp_call(&all, sk_flush_local, NULL);
	ktest_note("%llu shoot steps, %llu checks, %llu stale translations "
	    "seen", (unsigned long long)total.shoots,
	    (unsigned long long)total.watched,
	    (unsigned long long)ck_pr_load_64(&sk.stale));
	KT_EXPECT_GT(ck_pr_load_64(&sk.stale), 0);
	KT_EXPECT_EQ(total.shoots, (hal_ncpus() / 2) * 4 * SK_STALE_CYCLES);
	KT_EXPECT_EQ(ck_pr_load_64(&sk.bad), 0);
	sk.skip_remote = false;
	KT_EXPECT_EQ(zone_destroy(sk.zone), 0);
}
