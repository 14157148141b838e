/*
 * pmap.c: Sv39 page tables for rvmm (the contract is hal/pmap.h).
 *
 * 1. Tables.  Three levels of 512 eight-byte entries (pte.h).  A pmap owns
 *    its root and every table below a root slot of its window; page-table
 *    pages are frames from page_alloc(0, PAGE_ZERO) reached through
 *    hal_phys_to_virt(), and their struct vm_page holds the count of valid
 *    entries (PT_COUNT), so an emptied table is unlinked and freed at once.
 *    Leaves are 4 KiB, 2 MiB or 1 GiB as the caller asks (pmap_enter
 *    flags).  Entering a smaller leaf inside a superpage first demotes the
 *    superpage: a new table whose 512 entries give the same translations
 *    (no flush is needed for that step), then the one entry changes.  A
 *    superpage entered over smaller leaves replaces the whole subtree.
 *    pmap_remove and pmap_protect demote superpages that straddle either
 *    end of their range, so the outside keeps its translation.
 *
 * 2. Address spaces (pmap.h section 1).  The user window [user_lo,
 *    user_hi) is a run of root slots, [128 GiB, 256 GiB) by default or
 *    [0, 2 GiB) in the low layout (slots 0 and 1), fixed by
 *    pmap_set_user_window() before pmap_bootstrap and constant after;
 *    every other root slot (the rest of the lower half, the whole upper
 *    half) is a kernel slot.  The kernel pmap maps all RAM identity
 *    (VA == PA) with 1 GiB and 2 MiB leaves where alignment allows,
 *    global, never user, read-write and never executable, except the
 *    kernel image, mapped with 4 KiB leaves by section: text RX, rodata R,
 *    data and bss RW (W^X), and the port's device ranges (RW, Svpbmt IO
 *    when the harts have Svpbmt): identity, or at PMAP_MMIO_ALIAS + pa in
 *    the upper half for the parts that lie inside the user window (QEMU
 *    virt's devices sit below 2 GiB, in the low user window).  A user
 *    pmap's root copies every kernel slot, so both share the kernel's
 *    lower tables; every change of a kernel root slot (a new table, a
 *    1 GiB leaf split or replaced) is copied into every pmap under
 *    pmap_list_lock.  User mappings are U and never G; S-mode reaches
 *    them only with sstatus.SUM set, inside the port's user-access
 *    routines (copyin/copyout, the probes), and never executes them.
 *
 * 3. A and D.  rvmm does not rely on the hardware to set A/D, nor does it
 *    take A/D faults: pmap_enter sets A on every leaf and D on writable
 *    ones, so the hardware (Svade or Svadu) never writes a PTE, and the
 *    only writer of an entry is the pmap under its lock.  (Page aging and
 *    dirty tracking, when the VM wants them, will clear A/D and take the
 *    fault: the fault path then sets them with pmap_enter.)
 *
 * 4. Concurrency.  Updates to a pmap's tables are serialised by its lock
 *    (pmap_lock, which serves cross-calls while it spins with interrupts
 *    off).  Hardware walkers, the host's software walker and
 *    pmap_fault_fixup read entries with no lock, so every store of a live
 *    entry is one ck_pr_store_64 and every walker load ck_pr_load_64; a
 *    new table is filled before the store that links it (store fence).
 *    Changes that remove or narrow a translation are collected in a
 *    struct pmap_flush and committed (shootdown.c) before the lock is
 *    released: when a call returns, no hart can use what it removed, and
 *    unlinked tables were freed only after every hart acknowledged.
 *    Invalid-to-valid changes are not flushed anywhere (FreeBSD does the
 *    same): Sv39 without Svvptc may have cached the invalid entry, so a
 *    hart may fault once on a brand-new mapping; pmap_fault_fixup()
 *    recognises that (QEMU and the host model never cache invalid
 *    entries).
 *
 * 5. Failure.  Every argument is checked before anything changes
 *    (-EINVAL).  Page-table pages come from a small pool filled before the
 *    lock is taken: the call measures under the lock how many pages it
 *    needs (missing tables, demotions: at most 2 for an enter, 4 for a
 *    remove or protect), and if the pool is short it unlocks, allocates
 *    and measures again.  So -ENOMEM leaves nothing half-built, and no
 *    allocation (which may drain other harts' caches by IPI) runs under a
 *    pmap lock.
 *
 * 6. Context switch: pmap_activate (ASIDs: asid.c; deferred flushes:
 *    shootdown.c section 3).  Order on the switching hart: ASID (may write
 *    p->asid_ctx), set the hart in p->active, full fence, take the owed
 *    bit, write satp, flush as needed, then remove the hart from the old
 *    pmap's active set.
 *
 * 7. Observability: pmap_stats() (table pages, pmaps, ASID state) and the
 *    per-cpu counters; pmap_is_valid() walks every table and checks the
 *    invariants of pmap_impl.h.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/sv39/pmap_impl.h"
#include "lib/assert.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "lib/smp.h"
#include "vm/vm.h"
#include "lib/stat.h"

struct pmap pmap_kernel_store;
struct pmap_cpu pmap_cpus[HAL_MAX_CPUS];

static ck_spinlock_t pmap_list_lock = CK_SPINLOCK_INITIALIZER;
static CK_LIST_HEAD(pmap_list_head, pmap) pmap_list =
    CK_LIST_HEAD_INITIALIZER(pmap_list);
static uint64_t total_tables;		/* (A) */
static uint64_t npmaps;			/* (A) kernel included */
static bool have_svpbmt;		/* (C) */
static vaddr_t user_lo = PMAP_USER_DEFAULT_MIN;	/* (C) set before bootstrap */
static vaddr_t user_hi = PMAP_USER_DEFAULT_MAX;	/* (C) */
static bool window_final;		/* (C) set by pmap_bootstrap */

#define ROOT SV39_ROOT_LEVEL
#define PMAP_POOL_MAX 4

/* ------------------------------------------------------------------ */
/* Small helpers.                                                      */

static inline pte_t *
table_at(paddr_t pa)
{
	return hal_phys_to_virt(pa);
}

static inline pte_t
pte_load(pte_t *e)
{
	return ck_pr_load_64(e);
}

static inline struct vm_page *
table_page(paddr_t pa)
{
	struct vm_page *pg = pa_to_page(pa);

	VM_PANIC_IF(pg == NULL || PT_MAGIC(pg) != PT_MAGIC_VALUE,
	    "pmap: %#llx is not a page-table page", (unsigned long long)pa);
	return pg;
}

static void
pmap_lock(pmap_t p)
{
	while (!ck_spinlock_trylock(&p->lock)) {
		if (!hal_intr_enabled())
			smp_call_poll();
		hal_cpu_relax();
	}
}

static void
pmap_unlock(pmap_t p)
{
	ck_spinlock_unlock(&p->lock);
}

/* Page-table pages allocated before the lock is taken. */
struct pmap_pool {
	unsigned n;
	struct vm_page *pg[PMAP_POOL_MAX];
};

static int
pool_fill(struct pmap_pool *pool, unsigned need)
{
	VM_ASSERT(need <= PMAP_POOL_MAX);
	while (pool->n < need) {
		struct vm_page *pg = page_alloc(0, PAGE_ZERO);
		if (pg == NULL)
			return -ENOMEM;
		pool->pg[pool->n++] = pg;
	}
	return 0;
}

static void
pool_drain(struct pmap_pool *pool)
{
	while (pool->n > 0)
		page_free(pool->pg[--pool->n], 0);
}

/* A zeroed table page for p.  pre: p locked (or bootstrap). */
static struct vm_page *
table_new(pmap_t p, struct pmap_pool *pool)
{
	VM_ASSERT(pool->n > 0);
	struct vm_page *pg = pool->pg[--pool->n];

	PT_COUNT(pg) = 0;
	PT_NEXT(pg) = 0;
	PT_MAGIC(pg) = PT_MAGIC_VALUE;
	p->table_pages++;
	ck_pr_inc_64(&total_tables);
	return pg;
}

/* Unlinked table: freed once the batch is committed. */
static void
table_release(pmap_t p, struct vm_page *pg, struct pmap_flush *f)
{
	p->table_pages--;
	ck_pr_dec_64(&total_tables);
	pmap_flush_free_table(f, pg);
}

/*
 * Stores entry i of table t at `level`; a kernel root slot is copied into
 * every pmap.  pre: p locked.
 */
static void
slot_store(pmap_t p, pte_t *t, unsigned level, unsigned i, pte_t v)
{
	ck_pr_store_64(&t[i], v);
	if (p->kernel && level == ROOT) {
		struct pmap *q;

		ck_spinlock_lock(&pmap_list_lock);
		CK_LIST_FOREACH(q, &pmap_list, link)
			ck_pr_store_64(&q->root[i], v);
		ck_spinlock_unlock(&pmap_list_lock);
	}
}

/* Root slot i belongs to the user window. */
static inline bool
slot_user(unsigned i)
{
	return i >= (unsigned)(user_lo >> 30) && i < (unsigned)(user_hi >> 30);
}

/*
 * [s, e) lies in p's window: user space for a user pmap; for the kernel's,
 * the lower half outside user space, or the device alias of user space.
 */
static bool
range_in_window(pmap_t p, vaddr_t s, vaddr_t e)
{
	if (s > e)
		return false;
	if (!p->kernel)
		return s >= user_lo && e <= user_hi;
	if (e <= PMAP_LOWER_END)
		return e <= user_lo || s >= user_hi;
	return s >= PMAP_MMIO_ALIAS && s - PMAP_MMIO_ALIAS >= user_lo &&
	    e - PMAP_MMIO_ALIAS <= user_hi;
}

/* ------------------------------------------------------------------ */
/* The user window.                                                    */

vaddr_t
pmap_user_min(void)
{
	return user_lo;
}

vaddr_t
pmap_user_max(void)
{
	return user_hi;
}

vaddr_t
pmap_mmio_va(paddr_t pa)
{
	if (pa >= user_lo && pa < user_hi)
		return PMAP_MMIO_ALIAS + pa;
	return pa;
}

/* The kernel map's range for user window [lo, hi) (pmap.h). */
static void
kernel_map_range(vaddr_t lo, vaddr_t hi, vaddr_t *klo, vaddr_t *khi)
{
	const struct hal_mem_range *r;
	unsigned n = hal_mem_regions(&r);
	vaddr_t s = 0;

	for (unsigned i = 0; i < n; i++)
		if (r[i].base + r[i].size > s)
			s = r[i].base + r[i].size;
	s = (s + PMAP_SIZE_1G - 1) & ~(PMAP_SIZE_1G - 1);
	if (s < PMAP_KERNEL_MAP_MIN)
		s = PMAP_KERNEL_MAP_MIN;
	if (lo <= s && hi > s)
		s = hi;
	*khi = lo > s ? lo : PMAP_LOWER_END;
	*klo = s < *khi ? s : *khi;
}

void
pmap_kernel_map_range(vaddr_t *lo, vaddr_t *hi)
{
	kernel_map_range(user_lo, user_hi, lo, hi);
}

int
pmap_check_user_window(vaddr_t lo, vaddr_t hi)
{
	const struct hal_mem_range *r;
	unsigned n = hal_mem_regions(&r);

	if (((lo | hi) & (PMAP_SIZE_1G - 1)) != 0 || lo >= hi ||
	    hi > PMAP_LOWER_END)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (r[i].base < hi && r[i].base + r[i].size > lo)
			return -EINVAL;
	return 0;
}

int
pmap_set_user_window(vaddr_t lo, vaddr_t hi)
{
	int err;

	VM_PANIC_IF(ck_pr_load_8((uint8_t *)&window_final),
	    "pmap_set_user_window(%#llx, %#llx): after vm_boot()",
	    (unsigned long long)lo, (unsigned long long)hi);
	if ((err = pmap_check_user_window(lo, hi)) != 0)
		return err;
	user_lo = lo;
	user_hi = hi;
	return 0;
}

static int
prot_to_pte(unsigned prot, pte_t *out)
{
	pte_t b = PTE_A;

	if (prot & ~PMAP_PROT_ALL)
		return -EINVAL;
	if (!(prot & (PMAP_PROT_READ | PMAP_PROT_EXEC)))
		return -EINVAL;
	if ((prot & PMAP_PROT_WRITE) && !(prot & PMAP_PROT_READ))
		return -EINVAL;
	if (prot & PMAP_PROT_READ)
		b |= PTE_R;
	if (prot & PMAP_PROT_WRITE)
		b |= PTE_W | PTE_D;
	if (prot & PMAP_PROT_EXEC)
		b |= PTE_X;
	*out = b;
	return 0;
}

static unsigned
pte_to_prot(pte_t v)
{
	return ((v & PTE_R) ? PMAP_PROT_READ : 0) |
	    ((v & PTE_W) ? PMAP_PROT_WRITE : 0) |
	    ((v & PTE_X) ? PMAP_PROT_EXEC : 0);
}

static pte_t
attr_to_pte(unsigned attr)
{
	if (!have_svpbmt)
		return 0;
	if (attr & PMAP_ATTR_IO)
		return pte_pbmt_bits(PTE_PBMT_IO);
	if (attr & PMAP_ATTR_NC)
		return pte_pbmt_bits(PTE_PBMT_NC);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Demotion and subtree release.                                       */

/*
 * Replaces the superpage leaf v at t[i] (level l >= 1) by a table of 512
 * leaves one level down with the same translations.  pre: p locked.
 */
static void
demote(pmap_t p, pte_t *t, unsigned l, unsigned i, pte_t v,
    struct pmap_pool *pool)
{
	struct vm_page *npg = table_new(p, pool);
	pte_t *nt = table_at(page_to_pa(npg));
	uint64_t sub = sv39_level_size(l - 1);
	paddr_t base = pte_pa(v);

	VM_ASSERT(l >= 1 && pte_leaf(v));
	for (unsigned k = 0; k < SV39_ENTRIES; k++)
		ck_pr_store_64(&nt[k], pte_with_pa(v, base + k * sub));
	PT_COUNT(npg) = SV39_ENTRIES;
	ck_pr_fence_store();
	slot_store(p, t, l, i, pte_make_table(page_to_pa(npg)));
}

/* Releases the table at pa (level l) and every table under it. */
static void
subtree_release(pmap_t p, paddr_t pa, unsigned l, struct pmap_flush *f)
{
	pte_t *t = table_at(pa);

	if (l > 0)
		for (unsigned k = 0; k < SV39_ENTRIES; k++) {
			pte_t v = pte_load(&t[k]);
			if (pte_table(v))
				subtree_release(p, pte_pa(v), l - 1, f);
		}
	table_release(p, table_page(pa), f);
}

/* ------------------------------------------------------------------ */
/* pmap_enter.                                                         */

struct enter_probe {
	unsigned need;		/* table pages the enter will allocate */
	bool occupied;		/* something maps va already */
};

static struct enter_probe
enter_check(pmap_t p, vaddr_t va, unsigned level)
{
	struct enter_probe r = { 0, false };
	pte_t *t = p->root;

	for (unsigned l = ROOT; l > level; l--) {
		pte_t v = pte_load(&t[sv39_index(va, l)]);
		if (!pte_valid(v)) {
			r.need = l - level;
			return r;
		}
		if (pte_leaf(v)) {
			r.need = l - level;
			r.occupied = true;
			return r;
		}
		t = table_at(pte_pa(v));
	}
	r.occupied = pte_valid(pte_load(&t[sv39_index(va, level)]));
	return r;
}

/* pre: p locked, the pool holds enter_check's need. */
static void
enter_locked(pmap_t p, vaddr_t va, paddr_t pa, unsigned level, pte_t bits,
    struct pmap_pool *pool, struct pmap_flush *f)
{
	pte_t *t = p->root;
	struct vm_page *tpg = table_page(p->root_pa);

	for (unsigned l = ROOT; l > level; l--) {
		unsigned i = sv39_index(va, l);
		pte_t v = pte_load(&t[i]);

		if (!pte_valid(v)) {
			struct vm_page *npg = table_new(p, pool);
			ck_pr_fence_store();	/* its zeroes before the link */
			slot_store(p, t, l, i, pte_make_table(page_to_pa(npg)));
			PT_COUNT(tpg)++;
			v = pte_load(&t[i]);
		} else if (pte_leaf(v)) {
			demote(p, t, l, i, v, pool);
			v = pte_load(&t[i]);
		}
		tpg = table_page(pte_pa(v));
		t = table_at(pte_pa(v));
	}

	unsigned i = sv39_index(va, level);
	pte_t old = pte_load(&t[i]);
	pte_t nv = pte_make_leaf(pa, bits);

	slot_store(p, t, level, i, nv);
	if (!pte_valid(old)) {
		PT_COUNT(tpg)++;
	} else if (pte_leaf(old)) {
		if (old != nv)
			pmap_flush_add(f, va);
	} else {
		/* A superpage over a subtree of smaller leaves. */
		subtree_release(p, pte_pa(old), level - 1, f);
	}
}

int
pmap_enter(pmap_t p, vaddr_t va, paddr_t pa, unsigned prot, unsigned flags)
{
	unsigned level = flags & PMAP_ENTER_SIZE_MASK;
	struct pmap_pool pool = { 0 };
	struct pmap_flush f;
	pte_t bits;
	int err;

	if (p == NULL || level > 2 ||
	    (flags & ~(PMAP_ENTER_SIZE_MASK | PMAP_ATTR_MASK |
	    PMAP_ENTER_NOREPLACE)) != 0 ||
	    (flags & PMAP_ATTR_MASK) == PMAP_ATTR_MASK)
		return -EINVAL;
	uint64_t size = sv39_level_size(level);
	if ((va & (size - 1)) != 0 || (pa & (size - 1)) != 0 ||
	    (pa >> (PTE_PPN_BITS + SV39_PAGE_SHIFT)) != 0 ||
	    !sv39_va_canonical(va) || va > ~(vaddr_t)0 - size ||
	    !range_in_window(p, va, va + size))
		return -EINVAL;
	if ((err = prot_to_pte(prot, &bits)) != 0)
		return err;
	bits |= (p->kernel ? PTE_G : PTE_U) | attr_to_pte(flags);

	pmap_flush_init(&f, p);
	for (;;) {
		pmap_lock(p);
		struct enter_probe pr = enter_check(p, va, level);
		if ((flags & PMAP_ENTER_NOREPLACE) && pr.occupied) {
			pmap_unlock(p);
			err = -EEXIST;
			goto out;
		}
		if (pool.n >= pr.need)
			break;
		pmap_unlock(p);
		if (pool_fill(&pool, pr.need) != 0) {
			err = -ENOMEM;
			goto out;
		}
	}
	enter_locked(p, va, pa, level, bits, &pool, &f);
	pmap_flush_commit(&f);
	pmap_unlock(p);
	err = 0;
out:
	pool_drain(&pool);
	return err;
}

/* ------------------------------------------------------------------ */
/* pmap_remove, pmap_protect.                                          */

struct range_op {
	pmap_t p;
	bool protect;
	pte_t keep;		/* protect: bits a leaf keeps */
	struct pmap_pool *pool;
	struct pmap_flush *f;
};

/* Table pages a range operation needs to split a superpage at boundary b. */
static unsigned
boundary_need(pmap_t p, vaddr_t b)
{
	pte_t *t = p->root;

	for (unsigned l = ROOT; l > 0; l--) {
		pte_t v = pte_load(&t[sv39_index(b, l)]);
		if (!pte_valid(v))
			return 0;
		if (pte_leaf(v)) {
			if ((b & (sv39_level_size(l) - 1)) == 0)
				return 0;
			unsigned m = 0;
			while (m + 1 < l && (b & (sv39_level_size(m + 1) - 1)) == 0)
				m++;
			return l - m;
		}
		t = table_at(pte_pa(v));
	}
	return 0;
}

static void
leaf_remove(struct range_op *op, pte_t *t, struct vm_page *tpg, unsigned l,
    unsigned i, vaddr_t va)
{
	slot_store(op->p, t, l, i, 0);
	PT_COUNT(tpg)--;
	pmap_flush_add(op->f, va);
}

static void
range_walk(struct range_op *op, pte_t *t, struct vm_page *tpg, unsigned l,
    vaddr_t base, vaddr_t s, vaddr_t e)
{
	uint64_t sz = sv39_level_size(l);
	unsigned i0 = sv39_index(s, l), i1 = sv39_index(e - 1, l);

	for (unsigned i = i0; i <= i1; i++) {
		vaddr_t va0 = base + (vaddr_t)i * sz, va1 = va0 + sz;
		vaddr_t lo = s > va0 ? s : va0, hi = e < va1 ? e : va1;
		pte_t v = pte_load(&t[i]);

		if (!pte_valid(v))
			continue;
		if (pte_leaf(v)) {
			if (lo == va0 && hi == va1) {
				pte_t nv = v & op->keep;
				if (!op->protect || !(nv & (PTE_R | PTE_X)))
					leaf_remove(op, t, tpg, l, i, va0);
				else if (nv != v) {
					slot_store(op->p, t, l, i, nv);
					pmap_flush_add(op->f, va0);
				}
				continue;
			}
			demote(op->p, t, l, i, v, op->pool);
			v = pte_load(&t[i]);
		}
		paddr_t cpa = pte_pa(v);
		struct vm_page *cpg = table_page(cpa);
		range_walk(op, table_at(cpa), cpg, l - 1, va0, lo, hi);
		if (PT_COUNT(cpg) == 0) {
			slot_store(op->p, t, l, i, 0);
			PT_COUNT(tpg)--;
			table_release(op->p, cpg, op->f);
		}
	}
}

static int
range_op(pmap_t p, vaddr_t s, vaddr_t e, bool protect, unsigned prot)
{
	struct pmap_pool pool = { 0 };
	struct pmap_flush f;
	struct range_op op;
	int err = 0;

	if (p == NULL || (s & (HAL_PAGE_SIZE - 1)) != 0 ||
	    (e & (HAL_PAGE_SIZE - 1)) != 0 || s > e ||
	    !range_in_window(p, s, e))
		return -EINVAL;
	if (protect && ((prot & ~PMAP_PROT_ALL) ||
	    ((prot & PMAP_PROT_WRITE) && !(prot & PMAP_PROT_READ))))
		return -EINVAL;
	if (s == e)
		return 0;
	op.p = p;
	op.protect = protect;
	op.keep = ~PTE_RWX;
	if (protect) {
		if (prot & PMAP_PROT_READ)
			op.keep |= PTE_R;
		if (prot & PMAP_PROT_WRITE)
			op.keep |= PTE_W;
		if (prot & PMAP_PROT_EXEC)
			op.keep |= PTE_X;
	}
	op.pool = &pool;
	op.f = &f;
	pmap_flush_init(&f, p);
	for (;;) {
		pmap_lock(p);
		unsigned need = boundary_need(p, s) + boundary_need(p, e);
		if (pool.n >= need)
			break;
		pmap_unlock(p);
		if (pool_fill(&pool, need) != 0) {
			err = -ENOMEM;
			goto out;
		}
	}
	range_walk(&op, p->root, table_page(p->root_pa), ROOT, 0, s, e);
	pmap_flush_commit(&f);
	pmap_unlock(p);
out:
	pool_drain(&pool);
	return err;
}

int
pmap_remove(pmap_t p, vaddr_t start, vaddr_t end)
{
	return range_op(p, start, end, false, 0);
}

int
pmap_protect(pmap_t p, vaddr_t start, vaddr_t end, unsigned prot)
{
	return range_op(p, start, end, true, prot);
}

/* ------------------------------------------------------------------ */
/* Lookups.                                                            */

/*
 * Walks p for va: 0 and the leaf, or -ENOENT.  Under p's lock, or as a
 * lockless walker (walk_lockless): then a table it reaches may be
 * unlinked meanwhile, but is not freed before the walk ends.  At debug
 * level 1 a walk that still finds itself in a freed table (its magic
 * gone) panics: the protection of shootdown.c section 7 failed.
 */
static int
walk(pmap_t p, vaddr_t va, pte_t *leaf, unsigned *level)
{
	pte_t *t = p->root;

	for (unsigned l = ROOT;; l--) {
		pte_t v = pte_load(&t[sv39_index(va, l)]);
#if VM_DEBUG_LEVEL >= 1
		if (l != ROOT) {
			ck_pr_fence_load();
			struct vm_page *tpg = pa_to_page(hal_virt_to_phys(t));
			VM_PANIC_IF(tpg == NULL || PT_MAGIC(tpg) !=
			    PT_MAGIC_VALUE, "pmap walk(%p, %#lx): walked a freed "
			    "page-table page at level %u", (void *)p,
			    (unsigned long)va, l);
		}
#endif
		if (!pte_valid(v))
			return -ENOENT;
		if (pte_leaf(v)) {
			*leaf = v;
			*level = l;
			return 0;
		}
		if (l == 0)
			return -ENOENT;
		t = table_at(pte_pa(v));
#if VM_DEBUG_LEVEL >= 1
		for (unsigned i = ck_pr_load_uint(&pmap_walk_delay); i > 0; i--)
			hal_cpu_relax();	/* debug: widen the race */
#endif
	}
}

/*
 * walk_lockless: walk() without p's lock, announced in this hart's
 * walk_seq so that no page-table page it may reach is freed before it
 * ends (shootdown.c section 7).  pre: interrupts off, p this hart's.
 */
static int
walk_lockless(struct pmap_cpu *pc, pmap_t p, vaddr_t va, pte_t *leaf,
    unsigned *level)
{
	uint64_t seq = pc->walk_seq;
	int r;

	ck_pr_store_64(&pc->walk_seq, seq + 1);
	/* The announcement before any table load (Dekker with the freer). */
	ck_pr_fence_memory();
	r = walk(p, va, leaf, level);
	/* Every table load before the end. */
	ck_pr_fence_memory();
	ck_pr_store_64(&pc->walk_seq, seq + 2);
	return r;
}

int
pmap_extract(pmap_t p, vaddr_t va, struct pmap_mapping *out)
{
	pte_t v;
	unsigned l;
	int err;

	if (p == NULL || !sv39_va_canonical(va))
		return -EINVAL;
	pmap_lock(p);
	err = walk(p, va, &v, &l);
	pmap_unlock(p);
	if (err != 0)
		return err;
	uint64_t size = sv39_level_size(l);
	out->pa = pte_pa(v) + (va & (size - 1));
	out->size = size;
	out->prot = pte_to_prot(v);
	out->attr = pte_pbmt(v) == PTE_PBMT_IO ? PMAP_ATTR_IO :
	    pte_pbmt(v) == PTE_PBMT_NC ? PMAP_ATTR_NC : 0;
	out->global = (v & PTE_G) != 0;
	out->user = (v & PTE_U) != 0;
	out->pte = v;
	return 0;
}

int
pmap_fault_fixup(vaddr_t va, unsigned access)
{
	struct pmap_cpu *pc = &pmap_cpus[hal_cpu_id()];
	pmap_t p = pc->cur;
	pte_t v;
	unsigned l;

	if (p == NULL || !sv39_va_canonical(va))
		return -EFAULT;
	if (walk_lockless(pc, p, va, &v, &l) != 0 || !(v & PTE_A))
		return -EFAULT;
	if ((access & HAL_FAULT_READ) && !(v & PTE_R))
		return -EFAULT;
	if ((access & HAL_FAULT_WRITE) && (!(v & PTE_W) || !(v & PTE_D)))
		return -EFAULT;
	if ((access & HAL_FAULT_EXEC) && (!(v & PTE_X) || (v & PTE_U)))
		return -EFAULT;
	if ((access & HAL_FAULT_USER) && !(v & PTE_U))
		return -EFAULT;
	if (v & PTE_G)
		pmap_local_flush_va_all(va);
	else
		pmap_local_flush_va(va, pc->cur_asid);
	return 0;
}

size_t
pmap_table_pages(pmap_t p)
{
	pmap_lock(p);
	size_t n = p->table_pages;
	pmap_unlock(p);
	return n;
}

/* ------------------------------------------------------------------ */
/* Create, destroy, activate.                                          */

pmap_t
pmap_kernel(void)
{
	return &pmap_kernel_store;
}

pmap_t
pmap_current(void)
{
	return ck_pr_load_ptr(&pmap_cpus[hal_cpu_id()].cur);
}

pmap_t
pmap_create(void)
{
	struct vm_page *spg, *rpg;
	pmap_t p, k = &pmap_kernel_store;

	VM_STATIC_ASSERT(sizeof(struct pmap) <= HAL_PAGE_SIZE, "pmap size");
	spg = page_alloc(0, PAGE_ZERO);
	if (spg == NULL)
		return NULL;
	rpg = page_alloc(0, PAGE_ZERO);
	if (rpg == NULL) {
		page_free(spg, 0);
		return NULL;
	}
	p = page_to_kva(spg);
	ck_spinlock_init(&p->lock);
	p->magic = PMAP_MAGIC;
	p->kernel = false;
	p->self_pg = spg;
	p->root_pa = page_to_pa(rpg);
	p->root = page_to_kva(rpg);
	PT_COUNT(rpg) = 0;
	PT_NEXT(rpg) = 0;
	PT_MAGIC(rpg) = PT_MAGIC_VALUE;
	p->table_pages = 1;
	ck_pr_inc_64(&total_tables);

	ck_spinlock_lock(&pmap_list_lock);
	for (unsigned i = 0; i < SV39_ENTRIES; i++)
		if (!slot_user(i))
			ck_pr_store_64(&p->root[i], pte_load(&k->root[i]));
	CK_LIST_INSERT_HEAD(&pmap_list, p, link);
	ck_spinlock_unlock(&pmap_list_lock);
	ck_pr_inc_64(&npmaps);
	return p;
}

/* Frees a table and everything under it at once.  pre: no hart walks it. */
static void
subtree_free_now(pmap_t p, paddr_t pa, unsigned l)
{
	pte_t *t = table_at(pa);
	struct vm_page *pg = table_page(pa);

	if (l > 0)
		for (unsigned k = 0; k < SV39_ENTRIES; k++) {
			pte_t v = pte_load(&t[k]);
			if (pte_table(v))
				subtree_free_now(p, pte_pa(v), l - 1);
		}
	p->table_pages--;
	ck_pr_dec_64(&total_tables);
	PT_MAGIC(pg) = 0;
	page_free(pg, 0);
}

void
pmap_destroy(pmap_t p)
{
	VM_PANIC_IF(p == NULL || p == &pmap_kernel_store,
	    "pmap_destroy(%p): not a user pmap", (void *)p);
	VM_PANIC_IF(ck_pr_load_64(&p->magic) != PMAP_MAGIC,
	    "pmap_destroy(%p): not a live pmap (destroyed already?)",
	    (void *)p);
	for (unsigned c = 0; c < hal_ncpus(); c++)
		VM_PANIC_IF(ck_pr_load_64(&p->active[c / 64]) >> (c % 64) & 1,
		    "pmap_destroy(%p): still active on cpu %u", (void *)p, c);

	ck_spinlock_lock(&pmap_list_lock);
	CK_LIST_REMOVE(p, link);
	ck_spinlock_unlock(&pmap_list_lock);

	/*
	 * No hart has p in satp, so no walker can be in its tables; stale TLB
	 * entries tagged with its ASID are unusable until a rollover recycles
	 * the number, and a rollover flushes everything first.
	 */
	pmap_lock(p);
	for (unsigned i = (unsigned)(user_lo >> 30);
	    i < (unsigned)(user_hi >> 30); i++) {
		pte_t v = pte_load(&p->root[i]);
		if (pte_table(v))
			subtree_free_now(p, pte_pa(v), ROOT - 1);
		ck_pr_store_64(&p->root[i], 0);
	}
	VM_PANIC_IF(p->table_pages != 1, "pmap_destroy(%p): %zu table pages "
	    "left after the walk", (void *)p, p->table_pages);
	pmap_unlock(p);
	struct vm_page *rpg = table_page(p->root_pa);
	PT_MAGIC(rpg) = 0;
	page_free(rpg, 0);
	ck_pr_dec_64(&total_tables);
	ck_pr_dec_64(&npmaps);
	ck_pr_store_64(&p->magic, PMAP_DEAD);
	page_free(p->self_pg, 0);
}

void
pmap_activate(pmap_t p)
{
	hal_intr_t s = hal_intr_disable();
	unsigned cpu = hal_cpu_id();
	struct pmap_cpu *pc = &pmap_cpus[cpu];
	pmap_t old = pc->cur;
	unsigned asid = 0;
	bool asids = asid_enabled(), flush_all = false, flush_asid = false;

	if (old == p) {
		hal_intr_restore(s);
		return;
	}
	if (!p->kernel) {
		if (asids)
			asid = asid_switch(p, cpu, &flush_all);
		pmap_cpuset_add(p->active, cpu);
		ck_pr_fence_memory();
		if (asids && pmap_owed_take(p, cpu))
			flush_asid = true;
	}
	hal_mmu_satp_write(satp_make(SATP_MODE_SV39, asid, p->root_pa));
	if (!asids) {
		pmap_local_flush_asid(0);
		stat_inc(&pc->st.switch_flushes);
	} else if (flush_all) {
		pmap_local_flush_all();
		stat_inc(&pc->st.switch_flushes);
	} else if (flush_asid) {
		pmap_local_flush_asid(asid);
		stat_inc(&pc->st.lazy_flushes);
	}
	ck_pr_store_ptr(&pc->cur, p);
	pc->cur_asid = asid;
	if (old != NULL && !old->kernel)
		pmap_cpuset_del(old->active, cpu);
	stat_inc(&pc->st.switches);
	hal_intr_restore(s);
}

/* ------------------------------------------------------------------ */
/* Bootstrap.                                                          */

/* Maps [va, va + size) -> pa in the kernel pmap, largest leaves allowed. */
static void
kmap_range(vaddr_t va, paddr_t pa, uint64_t size, unsigned prot,
    unsigned attr, bool super)
{
	pmap_t k = &pmap_kernel_store;

	while (size > 0) {
		unsigned flags = PMAP_ENTER_4K;
		uint64_t step = PMAP_SIZE_4K;
		if (super && ((va | pa) & (PMAP_SIZE_1G - 1)) == 0 &&
		    size >= PMAP_SIZE_1G) {
			flags = PMAP_ENTER_1G;
			step = PMAP_SIZE_1G;
		} else if (super && ((va | pa) & (PMAP_SIZE_2M - 1)) == 0 &&
		    size >= PMAP_SIZE_2M) {
			flags = PMAP_ENTER_2M;
			step = PMAP_SIZE_2M;
		}
		int err = pmap_enter(k, va, pa, prot, flags | attr);
		VM_PANIC_IF(err != 0, "pmap_bootstrap: cannot map %#llx -> "
		    "%#llx (%d)", (unsigned long long)va,
		    (unsigned long long)pa, err);
		va += step;
		pa += step;
		size -= step;
	}
}

/* Maps [s, e) of RAM, the parts inside [is, ie) skipped. */
static void
kmap_ram(paddr_t s, paddr_t e, paddr_t is, paddr_t ie)
{
	const unsigned rw = PMAP_PROT_READ | PMAP_PROT_WRITE;

	if (ie <= s || is >= e) {
		kmap_range(s, s, e - s, rw, 0, true);
		return;
	}
	if (s < is)
		kmap_range(s, s, is - s, rw, 0, true);
	if (ie < e)
		kmap_range(ie, ie, e - ie, rw, 0, true);
}

/*
 * Maps device range [s, e) at pmap_mmio_va(): the part inside the user
 * window at its alias, the rest identity.
 */
static void
kmap_mmio(paddr_t s, paddr_t e)
{
	const unsigned rw = PMAP_PROT_READ | PMAP_PROT_WRITE;

	while (s < e) {
		paddr_t t = e;
		if (s < user_lo && t > user_lo)
			t = user_lo;
		else if (s >= user_lo && s < user_hi && t > user_hi)
			t = user_hi;
		kmap_range(pmap_mmio_va(s), s, t - s, rw, PMAP_ATTR_IO, false);
		s = t;
	}
}

void
pmap_bootstrap_cpu(void)
{
	pmap_t k = &pmap_kernel_store;
	hal_intr_t s = hal_intr_disable();
	struct pmap_cpu *pc = &pmap_cpus[hal_cpu_id()];

	VM_PANIC_IF(k->root == NULL, "pmap_bootstrap_cpu(): cpu %u: no kernel "
	    "pmap yet (pmap_bootstrap)", hal_cpu_id());
	VM_PANIC_IF(ck_pr_load_ptr(&pc->cur) != NULL, "pmap_bootstrap_cpu(): "
	    "cpu %u has paging on already", hal_cpu_id());
	/*
	 * The caller is online already (lib/smp.c section 3): a shootdown
	 * that missed it was committed before this write, and the full
	 * flush drops whatever the hart cached before.
	 */
	hal_mmu_satp_write(satp_make(SATP_MODE_SV39, 0, k->root_pa));
	hal_mmu_flush_local_all();
	ck_pr_store_ptr(&pc->cur, k);
	pc->cur_asid = 0;
	hal_intr_restore(s);
}

void
pmap_bootstrap(void)
{
	pmap_t k = &pmap_kernel_store;
	const struct hal_mem_range *ram, *mmio;
	unsigned nram = hal_mem_regions(&ram), nmmio = hal_mmio_regions(&mmio);
	struct hal_kernel_image ki;
	struct vm_page *rpg;
	char buf[16];

	ck_pr_store_8((uint8_t *)&window_final, 1);
	ck_spinlock_init(&k->lock);
	k->kernel = true;
	rpg = page_alloc(0, PAGE_ZERO);
	VM_PANIC_IF(rpg == NULL, "pmap_bootstrap: no page for the root");
	k->root_pa = page_to_pa(rpg);
	k->root = page_to_kva(rpg);
	PT_COUNT(rpg) = 0;
	PT_MAGIC(rpg) = PT_MAGIC_VALUE;
	k->table_pages = 1;
	ck_pr_store_64(&total_tables, 1);
	ck_pr_store_64(&npmaps, 1);
	have_svpbmt = hal_mmu_has_svpbmt();

	hal_kernel_image(&ki);
	VM_PANIC_IF(ki.text_start >= ki.text_end || ki.text_end > ki.rodata_start ||
	    ki.rodata_end > ki.data_start || ki.data_start >= ki.data_end ||
	    ((ki.text_start | ki.rodata_start | ki.rodata_end | ki.data_start |
	    ki.data_end) & (HAL_PAGE_SIZE - 1)) != 0,
	    "pmap_bootstrap: bad kernel image layout");
	for (unsigned i = 0; i < nram; i++) {
		paddr_t s = ram[i].base, e = ram[i].base + ram[i].size;
		VM_PANIC_IF(e > PMAP_LOWER_END || !range_in_window(k, s, e),
		    "pmap_bootstrap: RAM %#llx-%#llx lies outside the kernel "
		    "window (user space %#llx-%#llx)", (unsigned long long)s,
		    (unsigned long long)e, (unsigned long long)user_lo,
		    (unsigned long long)user_hi);
		kmap_ram(s, e, ki.text_start, ki.data_end);
	}
	/* The image, 4 KiB pages, W^X. */
	kmap_range(ki.text_start, ki.text_start, ki.rodata_start - ki.text_start,
	    PMAP_PROT_READ | PMAP_PROT_EXEC, 0, false);
	if (ki.rodata_end > ki.rodata_start)
		kmap_range(ki.rodata_start, ki.rodata_start,
		    ki.data_start - ki.rodata_start, PMAP_PROT_READ, 0, false);
	kmap_range(ki.data_start, ki.data_start, ki.data_end - ki.data_start,
	    PMAP_PROT_READ | PMAP_PROT_WRITE, 0, false);
	for (unsigned i = 0; i < nmmio; i++)
		kmap_mmio(mmio[i].base, mmio[i].base + mmio[i].size);

	/*
	 * Bare -> Sv39 on this hart; every other hart switches itself when
	 * it comes online (vm_boot_cpu -> pmap_bootstrap_cpu).
	 */
	pmap_bootstrap_cpu();
	ck_pr_store_8((uint8_t *)&pmap_paging_on, 1);

	unsigned hw = asid_probe_bits();
	asid_init(hw, (unsigned)bootarg_u64(vm_bootargs(), "asid_bits",
	    SATP_ASID_BITS));
	if (bootarg_get(vm_bootargs(), "shootdown", buf, sizeof(buf))) {
		unsigned h = 0;
		while (h < 3 && strcmp(buf, pmap_shootdown_name(h)) != 0)
			h++;
		if (h == 3)
			panic("bootarg shootdown=%s: expected ipi, rfence or "
			    "flushall", buf);
		pmap_set_shootdown(h);
	}
	/* Nothing printed: the test images' first line must be TAP's. */
}

/* ------------------------------------------------------------------ */
/* Statistics and validation.                                          */

void
pmap_cpu_stats(unsigned cpu, struct pmap_cpu_stats *out)
{
	const struct pmap_cpu_stats *s = &pmap_cpus[cpu].st;

	VM_ASSERT(cpu < hal_ncpus());
	out->local_flushes = stat_read(&s->local_flushes);
	out->shootdowns = stat_read(&s->shootdowns);
	out->remote_requests = stat_read(&s->remote_requests);
	out->ipis_sent = stat_read(&s->ipis_sent);
	out->rfence_calls = stat_read(&s->rfence_calls);
	out->lazy_flushes = stat_read(&s->lazy_flushes);
	out->switches = stat_read(&s->switches);
	out->switch_flushes = stat_read(&s->switch_flushes);
	out->asid_allocs = stat_read(&s->asid_allocs);
	out->rollovers = stat_read(&s->rollovers);
}

void
pmap_stats(struct pmap_stats *out)
{
	struct pmap_cpu_stats c;
	struct pmap_cpu_stats *s = &out->sum;

	*s = (struct pmap_cpu_stats){ 0 };
	for (unsigned i = 0; i < hal_ncpus(); i++) {
		pmap_cpu_stats(i, &c);
		s->local_flushes += c.local_flushes;
		s->shootdowns += c.shootdowns;
		s->remote_requests += c.remote_requests;
		s->ipis_sent += c.ipis_sent;
		s->rfence_calls += c.rfence_calls;
		s->lazy_flushes += c.lazy_flushes;
		s->switches += c.switches;
		s->switch_flushes += c.switch_flushes;
		s->asid_allocs += c.asid_allocs;
		s->rollovers += c.rollovers;
	}
	out->table_pages = (size_t)ck_pr_load_64(&total_tables);
	out->pmaps = (size_t)ck_pr_load_64(&npmaps);
	out->asid_bits_hw = asid_bits_hw();
	out->asid_bits = asid_bits_used();
	out->asid_generation = asid_generation();
	out->svpbmt = have_svpbmt;
}

/* Checks one table and its subtree; returns the tables counted. */
static size_t
table_is_valid(pmap_t p, paddr_t pa, unsigned l, bool *ok)
{
	pte_t *t = table_at(pa);
	struct vm_page *pg = pa_to_page(pa);
	size_t tables = 1;
	unsigned valid = 0;

	if (pg == NULL || PT_MAGIC(pg) != PT_MAGIC_VALUE) {
		kprintf("pmap_is_valid: %#llx is not a table page\n",
		    (unsigned long long)pa);
		*ok = false;
		return 0;
	}
	for (unsigned i = 0; i < SV39_ENTRIES; i++) {
		pte_t v = pte_load(&t[i]);
		if (!pte_valid(v))
			continue;
		/* The root: p's own slots only (the kernel's are shared). */
		if (l == ROOT && slot_user(i) == p->kernel)
			continue;
		valid++;
		if (v & (PTE_RESERVED_MASK | PTE_N))
			*ok = false;
		if (pte_leaf(v)) {
			bool bad = ((v & PTE_W) && !(v & PTE_R)) ||
			    !(v & PTE_A) || ((v & PTE_W) && !(v & PTE_D)) ||
			    (pte_pa(v) & (sv39_level_size(l) - 1)) != 0 ||
			    (p->kernel ? !(v & PTE_G) || (v & PTE_U) :
			    (v & PTE_G) || !(v & PTE_U)) ||
			    (!have_svpbmt && pte_pbmt(v) != 0);
			if (bad) {
				kprintf("pmap_is_valid: bad leaf %#llx at level "
				    "%u index %u\n", (unsigned long long)v, l, i);
				*ok = false;
			}
		} else {
			if (l == 0 || (v & (PTE_A | PTE_D | PTE_U |
			    PTE_PBMT_MASK))) {
				kprintf("pmap_is_valid: bad table entry %#llx\n",
				    (unsigned long long)v);
				*ok = false;
				continue;
			}
			tables += table_is_valid(p, pte_pa(v), l - 1, ok);
		}
	}
	if (PT_COUNT(pg) != valid || (l < ROOT && valid == 0)) {
		kprintf("pmap_is_valid: table %#llx level %u counts %zu, has "
		    "%u valid entries\n", (unsigned long long)pa, l,
		    (size_t)PT_COUNT(pg), valid);
		*ok = false;
	}
	return tables;
}

bool
pmap_is_valid(pmap_t p)
{
	pmap_t k = &pmap_kernel_store;
	bool ok = true;
	size_t tables;

	pmap_lock(p);
	tables = table_is_valid(p, p->root_pa, ROOT, &ok);
	if (tables != p->table_pages) {
		kprintf("pmap_is_valid: %zu tables found, %zu counted\n",
		    tables, p->table_pages);
		ok = false;
	}
	/* Root slots outside p's window are empty (kernel: not canonical
	   user space or unused upper half; user: shared, checked below). */
	for (unsigned i = 0; i < SV39_ENTRIES; i++) {
		vaddr_t va = i < SV39_ENTRIES / 2 ? (vaddr_t)i << 30 :
		    PMAP_MMIO_ALIAS + ((vaddr_t)(i - SV39_ENTRIES / 2) << 30);
		if (p->kernel && pte_load(&p->root[i]) != 0 &&
		    !range_in_window(p, va, va + PMAP_SIZE_1G)) {
			kprintf("pmap_is_valid: kernel slot %u outside its "
			    "window\n", i);
			ok = false;
		}
	}
	if (!p->kernel)
		for (unsigned i = 0; i < SV39_ENTRIES; i++)
			if (!slot_user(i) &&
			    pte_load(&p->root[i]) != pte_load(&k->root[i])) {
				kprintf("pmap_is_valid: kernel slot %u differs\n",
				    i);
				ok = false;
			}
	pmap_unlock(p);
	return ok;
}
