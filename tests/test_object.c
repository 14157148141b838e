/*
 * Tests of memory objects (vm/object.c), copy-on-write and fork
 * (vm/amap.c, vm/fault.c, vm_map_copy), and the multi-hart fault path
 * with a hart mapping, unmapping and forking in the same map meanwhile.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "tests/map_util.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/object.h"

#define RW (VM_PROT_READ | VM_PROT_WRITE)
#define PA (VM_MAP_PRIVATE | VM_MAP_ANON)
#define FX VM_MAP_FIXED

/* ------------------------------------------------------------------ */
/* Objects.                                                            */

KTEST(vmobj, anon_object_shared_by_two_maps)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	vm_map_t a, b;
	vm_object_t o;

	leak_start(&l);
	o = vm_object_anon_create(4 * PG);
	a = vm_map_create(0);
	b = vm_map_create(0);
	KT_ASSERT(o != NULL && a != NULL && b != NULL);
	KT_EXPECT_EQ(vm_object_kind(o), VM_OBJ_ANON);
	KT_EXPECT_EQ(vm_object_size(o), 4 * PG);
	KT_EXPECT_EQ(vm_mmap(a, UBASE, 4 * PG, RW, VM_MAP_SHARED | FX, o, 0),
	    UBASE);
	KT_EXPECT_EQ(vm_mmap(b, UBASE + 8 * PG, 2 * PG, RW, VM_MAP_SHARED | FX,
	    o, 2 * PG), UBASE + 8 * PG);
	KT_EXPECT_EQ(vm_object_refs(o), 3);
	vm_fault_stats(&s0);
	vm_map_activate(a);
	uwrite(UBASE + 3 * PG + 8, 0xabc);
	vm_map_activate(b);
	KT_EXPECT_EQ(uread(UBASE + 9 * PG + 8), 0xabc);
	uwrite(UBASE + 8 * PG, 0xdef);
	vm_map_activate(a);
	KT_EXPECT_EQ(uread(UBASE + 2 * PG), 0xdef);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.zero_fill, 2);	/* pages 3 and 2 of the object */
	KT_EXPECT_EQ(d.obj_hit, 2);
	KT_EXPECT_EQ(vm_object_resident(o), 2);
	vm_map_activate(NULL);
	vm_map_destroy(a);
	KT_EXPECT_EQ(vm_object_refs(o), 2);
	vm_map_destroy(b);
	KT_EXPECT_EQ(vm_object_refs(o), 1);
	KT_EXPECT_EQ(vm_object_resident(o), 2);
	vm_object_release(o);
	LEAK_CHECK(&l);
}

/* A pager that counts its calls and can be told to fail. */
struct test_pager {
	unsigned gets, puts, releases;
	uint64_t put_mask;		/* bit per page offset put */
	int fail_at[2];			/* offsets (pages) that fail, -1 */
	int fail_err[2];
};

static int
tp_get(void *priv, uint64_t offset, struct vm_page *pg)
{
	struct test_pager *tp = priv;
	uint64_t *p = page_to_kva(pg);

	for (int i = 0; i < 2; i++)
		if (tp->fail_at[i] == (int)(offset / PG))
			return tp->fail_err[i];
	tp->gets++;
	p[0] = cookie(offset, 1000);
	p[511] = cookie(offset, 2000);
	return 0;
}

static void
tp_put(void *priv, uint64_t offset, struct vm_page *pg)
{
	struct test_pager *tp = priv;

	KT_EXPECT_EQ(*(uint64_t *)page_to_kva(pg) != 0, 1);
	tp->puts++;
	tp->put_mask |= 1ull << (offset / PG);
}

static void
tp_release(void *priv)
{
	((struct test_pager *)priv)->releases++;
}

static const struct vm_pager_ops tp_ops = {
	"test", tp_get, tp_put, tp_release,
};

KTEST(vmobj, pager_lifecycle)
{
	static struct test_pager tp;
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	vm_map_t a, b;
	vm_object_t o;
	paddr_t pa;

	leak_start(&l);
	memset(&tp, 0, sizeof(tp));
	tp.fail_at[0] = tp.fail_at[1] = -1;
	o = vm_object_pager_create(8 * PG, RW, &tp_ops, &tp);
	a = vm_map_create(0);
	b = vm_map_create(0);
	KT_ASSERT(o != NULL && a != NULL && b != NULL);
	KT_EXPECT_EQ(vm_object_maxprot(o), RW);
	/* Private in a, shared in b. */
	KT_EXPECT_EQ(vm_mmap(a, UBASE, 8 * PG, RW, VM_MAP_PRIVATE | FX, o, 0),
	    UBASE);
	KT_EXPECT_EQ(vm_mmap(b, UBASE, 8 * PG, RW, VM_MAP_SHARED | FX, o, 0),
	    UBASE);
	vm_fault_stats(&s0);
	vm_map_activate(a);
	for (unsigned i = 0; i < 4; i++)
		KT_EXPECT_EQ(uread(UBASE + i * PG), cookie(i * PG, 1000));
	KT_EXPECT_EQ(tp.gets, 4);
	vm_map_activate(b);
	KT_EXPECT_EQ(uread(UBASE + PG + 511 * 8), cookie(PG, 2000));
	uwrite(UBASE, 77);		/* the object's page 0 */
	vm_map_activate(a);
	KT_EXPECT_EQ(uread(UBASE), 77);	/* a has not copied it: sees it */
	uwrite(UBASE + 2 * PG, 88);	/* a's private copy */
	KT_EXPECT_EQ(uread(UBASE + 2 * PG + 511 * 8), cookie(2 * PG, 2000));
	vm_map_activate(b);
	KT_EXPECT_EQ(uread(UBASE + 2 * PG), cookie(2 * PG, 1000));
	uwrite(UBASE + 2 * PG, 99);	/* the object changes... */
	vm_map_activate(a);
	KT_EXPECT_EQ(uread(UBASE + 2 * PG), 88);	/* ...not a's copy */
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.pagein, 4);
	KT_EXPECT_EQ(d.cow_copy, 1);
	KT_EXPECT_GE(d.obj_hit, 3);
	KT_EXPECT_EQ(tp.gets, 4);
	KT_EXPECT_EQ(vm_object_resident(o), 4);
	KT_EXPECT(vm_object_lookup(o, 2 * PG, &pa));
	KT_EXPECT_EQ(*(uint64_t *)hal_phys_to_virt(pa), 99);
	KT_EXPECT(!vm_object_lookup(o, 5 * PG, &pa));
	vm_map_activate(NULL);
	vm_map_destroy(a);
	vm_map_destroy(b);
	KT_EXPECT_EQ(tp.puts, 0);
	vm_object_release(o);
	KT_EXPECT_EQ(tp.puts, 4);
	KT_EXPECT_EQ(tp.put_mask, 0xfull);
	KT_EXPECT_EQ(tp.releases, 1);
	LEAK_CHECK(&l);
}

KTEST(vmobj, pager_errors)
{
	static struct test_pager tp;
	struct leak_snap l;
	vm_map_t m;
	vm_object_t o;
	uint64_t v;

	leak_start(&l);
	memset(&tp, 0, sizeof(tp));
	tp.fail_at[0] = 0;
	tp.fail_err[0] = -EIO;
	tp.fail_at[1] = 1;
	tp.fail_err[1] = -ENOMEM;
	o = vm_object_pager_create(4 * PG, VM_PROT_READ, &tp_ops, &tp);
	m = vm_map_create(0);
	KT_ASSERT(o != NULL && m != NULL);
	/* A read-only object mapped private may still be written (COW). */
	KT_EXPECT_EQ(vm_mmap(m, UBASE, 4 * PG, RW, VM_MAP_PRIVATE | FX, o, 0),
	    UBASE);
	KT_EXPECT_EQ(vm_fault(m, UBASE, HAL_FAULT_READ), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, UBASE + PG, HAL_FAULT_WRITE), -ENOMEM);
	vm_map_activate(m);
	KT_EXPECT_EQ(hal_probe_read64(UBASE, &v), -EFAULT);
	KT_EXPECT_EQ(vm_object_resident(o), 0);
	/* The pager recovers: the same faults now succeed. */
	tp.fail_at[0] = tp.fail_at[1] = -1;
	KT_EXPECT_EQ(uread(UBASE), cookie(0, 1000));
	uwrite(UBASE + PG, 5);
	KT_EXPECT_EQ(uread(UBASE + PG), 5);
	KT_EXPECT_EQ(uread(UBASE + PG + 511 * 8), cookie(PG, 2000));
	vm_map_activate(NULL);
	vm_map_destroy(m);
	vm_object_release(o);
	KT_EXPECT_EQ(tp.puts, 2);
	LEAK_CHECK(&l);
}

KTEST(vmobj, physical_object)
{
	struct vm_fault_stats s0, d;
	struct pmap_mapping pm;
	struct pmap_stats ps;
	struct leak_snap l;
	struct vm_page *run;
	vm_object_t o;
	vm_map_t m;

	leak_start(&l);
	run = page_alloc_contig(4, 0, PAGE_ZERO);
	KT_ASSERT(run != NULL);
	for (unsigned i = 0; i < 4; i++)
		*(uint64_t *)page_to_kva(&run[i]) = cookie(i, 3);
	o = vm_object_phys_create(page_to_pa(run), 4 * PG, RW);
	m = vm_map_create(0);
	KT_ASSERT(o != NULL && m != NULL);
	KT_EXPECT_EQ(vm_object_phys_addr(o), page_to_pa(run));
	KT_EXPECT_EQ(vm_mmap(m, UBASE, 2 * PG, RW,
	    VM_MAP_SHARED | VM_MAP_DEVICE | FX, o, 0), UBASE);
	KT_EXPECT_EQ(vm_mmap(m, UBASE + 4 * PG, 2 * PG, VM_PROT_READ,
	    VM_MAP_SHARED | VM_MAP_UNCACHED | FX, o, 2 * PG), UBASE + 4 * PG);
	vm_fault_stats(&s0);
	vm_map_activate(m);
	KT_EXPECT_EQ(uread(UBASE + PG), cookie(1, 3));
	uwrite(UBASE, 123);
	KT_EXPECT_EQ(*(uint64_t *)page_to_kva(&run[0]), 123);
	KT_EXPECT_EQ(uread(UBASE + 5 * PG), cookie(3, 3));
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.phys, 3);
	KT_ASSERT(pmap_extract(vm_map_pmap(m), UBASE + PG, &pm) == 0);
	KT_EXPECT_EQ(pm.pa, page_to_pa(run) + PG);
	pmap_stats(&ps);
	KT_EXPECT_EQ(pm.attr, ps.svpbmt ? PMAP_ATTR_IO : 0u);
	KT_ASSERT(pmap_extract(vm_map_pmap(m), UBASE + 5 * PG, &pm) == 0);
	KT_EXPECT_EQ(pm.attr, ps.svpbmt ? PMAP_ATTR_NC : 0u);
	KT_EXPECT_EQ(pm.prot, VM_PROT_READ);
	KT_EXPECT_EQ(vm_object_resident(o), 0);
	vm_map_activate(NULL);
	vm_map_destroy(m);
	vm_object_release(o);
	/* The object never owned the frames. */
	KT_EXPECT_EQ(*(uint64_t *)page_to_kva(&run[0]), 123);
	page_free_contig(run, 4);
	LEAK_CHECK(&l);
}

KTEST(vmobj, references)
{
	struct leak_snap l;
	vm_object_t o;
	vm_map_t m;

	leak_start(&l);
	o = vm_object_anon_create(16 * PG);
	m = vm_map_create(0);
	KT_ASSERT(o != NULL && m != NULL);
	vm_object_ref(o);
	KT_EXPECT_EQ(vm_object_refs(o), 2);
	vm_object_release(o);
	KT_EXPECT_EQ(vm_object_refs(o), 1);
	/* Each entry holds one; splits add, merges and unmaps drop. */
	KT_EXPECT_EQ(vm_mmap(m, UBASE, 16 * PG, RW, VM_MAP_SHARED | FX, o, 0),
	    UBASE);
	KT_EXPECT_EQ(vm_object_refs(o), 2);
	KT_EXPECT_EQ(vm_mprotect(m, UBASE + 4 * PG, 4 * PG, VM_PROT_READ), 0);
	KT_EXPECT_EQ(vm_object_refs(o), 4);
	KT_EXPECT_EQ(vm_mprotect(m, UBASE + 4 * PG, 4 * PG, RW), 0);
	KT_EXPECT_EQ(vm_object_refs(o), 2);
	/* The caller's reference can go first: the map keeps the object. */
	vm_object_release(o);
	KT_EXPECT_EQ(vm_object_refs(o), 1);
	vm_map_activate(m);
	uwrite(UBASE + 15 * PG, 1);
	KT_EXPECT_EQ(uread(UBASE + 15 * PG), 1);
	vm_map_activate(NULL);
	vm_map_destroy(m);	/* the last reference: pages freed */
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Copy-on-write and fork.                                             */

static void
fill(vm_map_t m, vaddr_t a, unsigned n, uint64_t salt)
{
	vm_map_activate(m);
	for (unsigned i = 0; i < n; i++)
		uwrite(a + i * PG, cookie(i, salt));
}

static unsigned
check(vm_map_t m, vaddr_t a, unsigned first, unsigned n, uint64_t salt)
{
	unsigned bad = 0;

	vm_map_activate(m);
	for (unsigned i = first; i < first + n; i++)
		if (uread(a + i * PG) != cookie(i, salt))
			bad++;
	return bad;
}

KTEST(cow, fork_parent_writes)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	vm_map_t p, c;

	leak_start(&l);
	p = vm_map_create(0);
	c = vm_map_create(0);
	KT_ASSERT(p != NULL && c != NULL);
	KT_EXPECT_EQ(vm_mmap(p, UBASE, 8 * PG, RW, PA | FX, NULL, 0), UBASE);
	fill(p, UBASE, 8, 1);
	KT_EXPECT_EQ(vm_map_copy(c, p), 0);
	KT_EXPECT(vm_map_is_valid(c));
	/* The parent's translations lost W at the fork. */
	struct pmap_mapping pm;
	KT_ASSERT(pmap_extract(vm_map_pmap(p), UBASE, &pm) == 0);
	KT_EXPECT_EQ(pm.prot, VM_PROT_READ);
	vm_fault_stats(&s0);
	KT_EXPECT_EQ(check(c, UBASE, 0, 8, 1), 0);
	fill(p, UBASE, 8, 2);		/* 8 copies */
	KT_EXPECT_EQ(check(c, UBASE, 0, 8, 1), 0);	/* child: old */
	fill(c, UBASE, 4, 3);		/* sole owner now: 4 reuses */
	KT_EXPECT_EQ(check(p, UBASE, 0, 8, 2), 0);
	KT_EXPECT_EQ(check(c, UBASE, 0, 4, 3), 0);
	KT_EXPECT_EQ(check(c, UBASE, 4, 4, 1), 0);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.cow_copy, 8);
	KT_EXPECT_EQ(d.cow_reuse, 4);
	KT_EXPECT_EQ(d.zero_fill, 0);
	vm_map_activate(NULL);
	vm_map_destroy(p);
	KT_EXPECT_EQ(check(c, UBASE, 4, 4, 1), 0);
	vm_map_activate(NULL);
	vm_map_destroy(c);
	LEAK_CHECK(&l);
}

KTEST(cow, three_generations)
{
	struct leak_snap l;
	vm_map_t g0, g1, g2;

	leak_start(&l);
	g0 = vm_map_create(0);
	g1 = vm_map_create(0);
	g2 = vm_map_create(0);
	KT_ASSERT(g0 != NULL && g1 != NULL && g2 != NULL);
	KT_EXPECT_EQ(vm_mmap(g0, UBASE, 8 * PG, RW, PA | FX, NULL, 0), UBASE);
	fill(g0, UBASE, 8, 10);
	KT_EXPECT_EQ(vm_map_copy(g1, g0), 0);
	fill(g1, UBASE, 2, 11);			/* g1: pages 0-1 */
	KT_EXPECT_EQ(vm_map_copy(g2, g1), 0);
	fill(g2, UBASE, 1, 12);			/* g2: page 0 */
	vm_map_activate(g0);
	uwrite(UBASE + 7 * PG, 1234);		/* g0: page 7 */
	/* Everyone sees their own history. */
	KT_EXPECT_EQ(check(g0, UBASE, 0, 7, 10), 0);
	KT_EXPECT_EQ(uread(UBASE + 7 * PG), 1234);
	KT_EXPECT_EQ(check(g1, UBASE, 0, 2, 11), 0);
	KT_EXPECT_EQ(check(g1, UBASE, 2, 6, 10), 0);
	KT_EXPECT_EQ(check(g2, UBASE, 0, 1, 12), 0);
	KT_EXPECT_EQ(check(g2, UBASE, 1, 1, 11), 0);
	KT_EXPECT_EQ(check(g2, UBASE, 2, 6, 10), 0);
	/* The middle generation goes first; the others are unaffected. */
	vm_map_activate(NULL);
	vm_map_destroy(g1);
	KT_EXPECT_EQ(check(g2, UBASE, 1, 1, 11), 0);
	KT_EXPECT_EQ(check(g2, UBASE, 2, 6, 10), 0);
	fill(g2, UBASE, 8, 13);
	KT_EXPECT_EQ(check(g0, UBASE, 0, 7, 10), 0);
	KT_EXPECT_EQ(check(g2, UBASE, 0, 8, 13), 0);
	KT_EXPECT(vm_map_is_valid(g0) && vm_map_is_valid(g2));
	vm_map_activate(NULL);
	vm_map_destroy(g0);
	vm_map_destroy(g2);
	LEAK_CHECK(&l);
}

KTEST(cow, shared_writes_visible)
{
	struct leak_snap l;
	vm_map_t p, c;
	vaddr_t priv = UBASE + 16 * PG;

	leak_start(&l);
	p = vm_map_create(0);
	c = vm_map_create(0);
	KT_ASSERT(p != NULL && c != NULL);
	KT_EXPECT_EQ(vm_mmap(p, UBASE, 4 * PG, RW,
	    VM_MAP_SHARED | VM_MAP_ANON | FX, NULL, 0), UBASE);
	KT_EXPECT_EQ(vm_mmap(p, priv, 4 * PG, RW, PA | FX, NULL, 0),
	    (long)priv);
	fill(p, UBASE, 2, 20);
	fill(p, priv, 4, 21);
	KT_EXPECT_EQ(vm_map_copy(c, p), 0);
	/* Shared: both ways. */
	KT_EXPECT_EQ(check(c, UBASE, 0, 2, 20), 0);
	fill(c, UBASE, 4, 22);
	KT_EXPECT_EQ(check(p, UBASE, 0, 4, 22), 0);
	fill(p, UBASE, 3, 23);
	KT_EXPECT_EQ(check(c, UBASE, 0, 3, 23), 0);
	/* Private next to it: copies. */
	fill(c, priv, 4, 24);
	KT_EXPECT_EQ(check(p, priv, 0, 4, 21), 0);
	vm_map_activate(NULL);
	vm_map_destroy(p);
	KT_EXPECT_EQ(check(c, UBASE, 0, 3, 23), 0);
	vm_map_activate(NULL);
	vm_map_destroy(c);
	LEAK_CHECK(&l);
}

KTEST(cow, last_reference_reuse)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	vm_map_t p, c;

	leak_start(&l);
	p = vm_map_create(0);
	KT_ASSERT(p != NULL);
	KT_EXPECT_EQ(vm_mmap(p, UBASE, 4 * PG, RW, PA | FX, NULL, 0), UBASE);
	fill(p, UBASE, 4, 30);
	/* Fork, the child dies: the parent's writes copy nothing. */
	c = vm_map_create(0);
	KT_ASSERT(c != NULL);
	KT_EXPECT_EQ(vm_map_copy(c, p), 0);
	vm_map_activate(NULL);
	vm_map_destroy(c);
	vm_fault_stats(&s0);
	fill(p, UBASE, 4, 31);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.cow_reuse, 4);
	KT_EXPECT_EQ(d.cow_copy, 0);
	/* Fork, the child unmaps half: those pages are reused too. */
	c = vm_map_create(0);
	KT_ASSERT(c != NULL);
	KT_EXPECT_EQ(vm_map_copy(c, p), 0);
	KT_EXPECT_EQ(vm_munmap(c, UBASE, 2 * PG), 0);
	vm_fault_stats(&s0);
	fill(p, UBASE, 4, 32);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.cow_reuse, 2);
	KT_EXPECT_EQ(d.cow_copy, 2);
	KT_EXPECT_EQ(check(c, UBASE, 2, 2, 31), 0);
	vm_map_activate(NULL);
	vm_map_destroy(c);
	vm_map_destroy(p);
	LEAK_CHECK(&l);
}

KTEST(cow, noinherit_and_private_object)
{
	static struct test_pager tp;
	struct vm_map_entry_info ei;
	struct leak_snap l;
	vm_map_t p, c;
	vm_object_t o;
	uint64_t v;

	leak_start(&l);
	memset(&tp, 0, sizeof(tp));
	tp.fail_at[0] = tp.fail_at[1] = -1;
	o = vm_object_pager_create(4 * PG, VM_PROT_READ, &tp_ops, &tp);
	p = vm_map_create(0);
	c = vm_map_create(0);
	KT_ASSERT(o != NULL && p != NULL && c != NULL);
	KT_EXPECT_EQ(vm_mmap(p, UBASE, 2 * PG, RW,
	    PA | VM_MAP_NOINHERIT | FX, NULL, 0), UBASE);
	KT_EXPECT_EQ(vm_mmap(p, UBASE + 4 * PG, 4 * PG, RW,
	    VM_MAP_PRIVATE | FX, o, 0), UBASE + 4 * PG);
	fill(p, UBASE, 2, 40);
	vm_map_activate(p);
	KT_EXPECT_EQ(uread(UBASE + 4 * PG), cookie(0, 1000));
	uwrite(UBASE + 5 * PG, 555);
	KT_EXPECT_EQ(vm_map_copy(c, p), 0);
	KT_EXPECT(!vm_map_lookup(c, UBASE, &ei));
	KT_ASSERT(vm_map_lookup(c, UBASE + 4 * PG, &ei));
	KT_EXPECT(ei.object == o);
	KT_EXPECT_EQ(vm_object_refs(o), 3);
	vm_map_activate(c);
	KT_EXPECT_EQ(hal_probe_read64(UBASE, &v), -EFAULT);
	KT_EXPECT_EQ(uread(UBASE + 5 * PG), 555);	/* the shared copy */
	vm_map_activate(p);
	uwrite(UBASE + 4 * PG, 444);			/* parent's COW */
	uwrite(UBASE + 5 * PG, 556);
	vm_map_activate(c);
	KT_EXPECT_EQ(uread(UBASE + 4 * PG), cookie(0, 1000));	/* object */
	KT_EXPECT_EQ(uread(UBASE + 5 * PG), 555);
	KT_EXPECT_EQ(uread(UBASE + 6 * PG + 511 * 8), cookie(2 * PG, 2000));
	vm_map_activate(NULL);
	vm_map_destroy(p);
	vm_map_destroy(c);
	vm_object_release(o);
	KT_EXPECT_EQ(tp.releases, 1);
	LEAK_CHECK(&l);
}

KTEST(cow, fork_many_pages)
{
	struct vm_map_stats ms;
	struct leak_snap l;
	unsigned n = (unsigned)ktest_iters(256);
	vm_map_t p, c;
	uint64_t t0, t1;

	leak_start(&l);
	p = vm_map_create(0);
	c = vm_map_create(0);
	KT_ASSERT(p != NULL && c != NULL);
	KT_EXPECT_EQ(vm_mmap(p, UBASE, n * PG, RW, PA | FX, NULL, 0), UBASE);
	fill(p, UBASE, n, 50);
	t0 = hal_time_ns();
	KT_EXPECT_EQ(vm_map_copy(c, p), 0);
	t1 = hal_time_ns();
	vm_map_stats(c, &ms);
	KT_EXPECT_EQ(ms.anons, n);
	KT_EXPECT_EQ(check(c, UBASE, 0, n, 50), 0);
	ktest_note("fork of %u pages: %llu us", n,
	    (unsigned long long)((t1 - t0) / 1000));
	vm_map_activate(NULL);
	vm_map_destroy(p);
	vm_map_destroy(c);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Multi-hart.                                                         */

#define MT_PAGES 48
#define MT_ROUNDS 4

struct mt_ctx {
	vm_map_t m;
	unsigned faulters;		/* harts that fault */
	unsigned mapper;		/* the hart that maps, or ~0 */
	unsigned done;			/* (A) faulters finished */
	uint64_t bad;			/* (A) */
	uint64_t mapper_ops;		/* (A) */
	uint64_t forks;			/* (A) */
	vm_map_t child;			/* the mapper's last fork */
	unsigned mapper_target;		/* the mapper's operations */
	unsigned mapper_done;		/* (A) faulters go on until then */
};

static struct mt_ctx mt;

static vaddr_t
mt_region(unsigned cpu)
{
	return UBASE + (vaddr_t)cpu * (MT_PAGES + 16) * PG;
}

/* The mapper: mmap, touch, mprotect, munmap, fork, above the regions. */
static void
mt_map_work(struct rng *r, unsigned iters)
{
	vaddr_t lo = mt_region(HAL_MAX_CPUS + 1);

	for (unsigned i = 0; i < iters; i++) {
		size_t n = 1 + rng_below(r, 8);
		long a = vm_mmap(mt.m, lo + rng_below(r, 64) * PG, n * PG, RW,
		    PA, NULL, 0);
		if (a < 0 || (vaddr_t)a < lo) {
			ck_pr_inc_64(&mt.bad);
			continue;
		}
		uwrite((vaddr_t)a, cookie(a, i));
		if (uread((vaddr_t)a) != cookie(a, i))
			ck_pr_inc_64(&mt.bad);
		if (n > 2 && vm_mprotect(mt.m, (vaddr_t)a + PG, PG,
		    VM_PROT_READ) != 0)
			ck_pr_inc_64(&mt.bad);
		if (vm_munmap(mt.m, (vaddr_t)a, n * PG) != 0)
			ck_pr_inc_64(&mt.bad);
		if (i % 4 == 0) {
			/* The child lives until the next fork: the faulters'
			   writes meanwhile copy. */
			if (mt.child != NULL)
				vm_map_destroy(mt.child);
			mt.child = vm_map_create(0);
			if (mt.child == NULL || vm_map_copy(mt.child, mt.m) != 0)
				ck_pr_inc_64(&mt.bad);
			ck_pr_inc_64(&mt.forks);
		}
		ck_pr_inc_64(&mt.mapper_ops);
	}
}

/*
 * A faulter: its own region, every page written and checked per round
 * (the mapper's forks make the next round's writes copy or reuse).  With
 * one or two faulters they go on until the mapper is done; with more,
 * MT_ROUNDS rounds, then they leave the map (a busy hart is a target of
 * every shootdown, and under QEMU with more harts than host cores each
 * costs milliseconds).
 */
static unsigned mt_last_round[HAL_MAX_CPUS];

static void
mt_fault_work(unsigned cpu)
{
	vaddr_t base = mt_region(cpu);
	unsigned round;

	for (round = 0; round < MT_ROUNDS || (mt.faulters <= 2 &&
	    !ck_pr_load_uint(&mt.mapper_done)); round++) {
		for (unsigned p = 0; p < MT_PAGES; p++) {
			vaddr_t va = base + p * PG + (round % 8) * 8;
			uwrite(va, cookie(cpu * 1000 + p, round));
		}
		for (unsigned p = 0; p < MT_PAGES; p++) {
			vaddr_t va = base + p * PG + (round % 8) * 8;
			if (uread(va) != cookie(cpu * 1000 + p, round))
				ck_pr_inc_64(&mt.bad);
		}
	}
	mt_last_round[cpu] = round - 1;
}

static void
mt_worker(void *arg)
{
	unsigned cpu = hal_cpu_id();
	struct rng r;

	(void)arg;
	rng_seed(&r, ktest_seed(), cpu);
	vm_map_activate(mt.m);
	if (cpu == mt.mapper) {
		/* Its share, while the faulters fault. */
		mt_map_work(&r, mt.mapper_target);
		ck_pr_store_uint(&mt.mapper_done, 1);
	} else {
		mt_fault_work(cpu);
		ck_pr_inc_uint(&mt.done);
	}
	vm_map_activate(NULL);
}

KTEST(mapmt, faults_while_mapping)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	unsigned n = hal_ncpus();

	leak_start(&l);
	memset(&mt, 0, sizeof(mt));
	mt.m = vm_map_create(0);
	KT_ASSERT(mt.m != NULL);
	mt.mapper = n > 1 ? n - 1 : ~0u;
	mt.faulters = n > 1 ? n - 1 : 1;
	/*
	 * Each mapper operation shoots down on every hart; with more harts
	 * than host cores under QEMU that costs milliseconds: fewer then.
	 */
	mt.mapper_target = (unsigned)ktest_iters(n > 2 ? 16 : 48);
	mt.mapper_done = n == 1;
	/* One entry per faulter, with holes between (the mapper's gaps). */
	for (unsigned c = 0; c < mt.faulters; c++)
		KT_ASSERT_EQ(vm_mmap(mt.m, mt_region(c), MT_PAGES * PG, RW,
		    PA | FX, NULL, 0), mt_region(c));
	vm_fault_stats(&s0);
	smp_run(mt_worker, NULL);
	if (n == 1) {
		struct rng r;
		rng_seed(&r, ktest_seed(), 0);
		vm_map_activate(mt.m);
		mt_map_work(&r, 16);
		vm_map_activate(NULL);
	}
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(ck_pr_load_64(&mt.bad), 0);
	KT_EXPECT(vm_map_is_valid(mt.m));
	if (mt.child != NULL) {
		KT_EXPECT(vm_map_is_valid(mt.child));
		vm_map_destroy(mt.child);
	}
	/* Every faulter's pages are still there, with the last values. */
	vm_map_activate(mt.m);
	for (unsigned c = 0; c < mt.faulters; c++)
		for (unsigned p = 0; p < MT_PAGES; p++) {
			unsigned last = mt_last_round[c];
			vaddr_t va = mt_region(c) + p * PG + (last % 8) * 8;
			if (uread(va) != cookie(c * 1000 + p, last)) {
				KT_FAIL("cpu %u page %u lost its value", c, p);
				break;
			}
		}
	vm_map_activate(NULL);
	KT_EXPECT_GE(d.zero_fill, mt.faulters * MT_PAGES);
	ktest_note("%u faulters, %u rounds, mapper ops %llu, forks %llu; "
	    "faults %llu: zero %llu cow copy %llu reuse %llu", mt.faulters,
	    mt_last_round[0] + 1,
	    (unsigned long long)mt.mapper_ops, (unsigned long long)mt.forks,
	    (unsigned long long)d.faults, (unsigned long long)d.zero_fill,
	    (unsigned long long)d.cow_copy, (unsigned long long)d.cow_reuse);
	vm_map_destroy(mt.m);
	LEAK_CHECK(&l);
}

/*
 * Every hart writes its own word of the same pages while cpu 0 forks
 * the map again and again: the copy-on-write breaks race with each other
 * on every page, and no write may be lost.
 */
#define SP_PAGES 16		/* at most */
static unsigned sp_pages;

static struct smp_barrier sp_bar = SMP_BARRIER_INIT;
static uint64_t sp_bad;

static unsigned sp_harts;

static void
sp_worker(void *arg)
{
	unsigned cpu = hal_cpu_id(), n = sp_harts;
	unsigned rounds = (unsigned)ktest_iters(n > 2 ? 3 : 12);

	(void)arg;
	if (cpu >= n)
		return;
	vm_map_activate(mt.m);
	for (unsigned round = 0; round < rounds; round++) {
		smp_barrier_wait(&sp_bar, n);
		if (cpu == 0) {
			/* A child lives for two rounds: the writes of the
			   first copy, those of the second reuse or copy. */
			if (mt.child != NULL && (round % 3) != 1) {
				vm_map_destroy(mt.child);
				mt.child = NULL;
			}
			if (mt.child == NULL) {
				mt.child = vm_map_create(0);
				if (mt.child == NULL ||
				    vm_map_copy(mt.child, mt.m) != 0)
					ck_pr_inc_64(&sp_bad);
			}
		}
		for (unsigned p = 0; p < sp_pages; p++)
			uwrite(UBASE + p * PG + cpu * 8, cookie(p, round * 64 +
			    cpu));
		for (unsigned p = 0; p < sp_pages; p++)
			if (uread(UBASE + p * PG + cpu * 8) !=
			    cookie(p, round * 64 + cpu))
				ck_pr_inc_64(&sp_bad);
	}
	smp_barrier_wait(&sp_bar, n);
	if (cpu == 0 && mt.child != NULL) {
		vm_map_destroy(mt.child);
		mt.child = NULL;
	}
	/* Everyone's last words, read by everyone. */
	for (unsigned p = 0; p < sp_pages; p++)
		for (unsigned c = 0; c < n; c++)
			if (uread(UBASE + p * PG + c * 8) !=
			    cookie(p, (rounds - 1) * 64 + c))
				ck_pr_inc_64(&sp_bad);
	vm_map_activate(NULL);
}

KTEST(mapmt, shared_pages_cow_race)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;

	leak_start(&l);
	memset(&mt, 0, sizeof(mt));
	sp_bad = 0;
	/* Four harts at most: every copy shoots down on all of them. */
	sp_harts = hal_ncpus() < 4 ? hal_ncpus() : 4;
	sp_pages = hal_ncpus() > 2 ? SP_PAGES / 2 : SP_PAGES;
	mt.m = vm_map_create(0);
	KT_ASSERT(mt.m != NULL);
	KT_ASSERT_EQ(vm_mmap(mt.m, UBASE, sp_pages * PG, RW, PA | FX, NULL, 0),
	    UBASE);
	vm_fault_stats(&s0);
	smp_run(sp_worker, NULL);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(ck_pr_load_64(&sp_bad), 0);
	KT_EXPECT_EQ(d.zero_fill, sp_pages);
	KT_EXPECT_GT(d.cow_copy, 0);
	ktest_note("faults %llu: zero %llu cow copy %llu reuse %llu hit %llu",
	    (unsigned long long)d.faults, (unsigned long long)d.zero_fill,
	    (unsigned long long)d.cow_copy, (unsigned long long)d.cow_reuse,
	    (unsigned long long)d.anon_hit);
	KT_EXPECT(vm_map_is_valid(mt.m));
	vm_map_destroy(mt.m);
	LEAK_CHECK(&l);
}

/*
 * Every hart reads every page of a pager object through a shared mapping
 * and writes its own word of a private mapping of the same object, all at
 * once: each page is paged in exactly once, and the private copies keep
 * the object's data plus every hart's word.
 */
#define PR_PAGES 16

static unsigned pr_gets;		/* (A) */
static uint64_t pr_bad;			/* (A) */

static int
pr_get(void *priv, uint64_t offset, struct vm_page *pg)
{
	uint64_t *p = page_to_kva(pg);

	(void)priv;
	ck_pr_inc_uint(&pr_gets);
	p[0] = cookie(offset, 1000);
	p[511] = cookie(offset, 2000);
	return 0;
}

static const struct vm_pager_ops pr_ops = { "race", pr_get, NULL, NULL };

static void
pr_worker(void *arg)
{
	unsigned cpu = hal_cpu_id(), n = hal_ncpus() < 4 ? hal_ncpus() : 4;
	vaddr_t priv = UBASE + 2 * PR_PAGES * PG;

	(void)arg;
	if (cpu >= n)
		return;
	vm_map_activate(mt.m);
	/* Same pages in the same order, from the same instant. */
	smp_barrier_wait(&sp_bar, n);
	for (unsigned i = 0; i < PR_PAGES; i++) {
		unsigned p = i;
		if (uread(UBASE + p * PG) != cookie(p * PG, 1000))
			ck_pr_inc_64(&pr_bad);
		uwrite(priv + p * PG + (1 + cpu) * 8, cookie(p, cpu));
	}
	for (unsigned p = 0; p < PR_PAGES; p++)
		if (uread(priv + p * PG + 511 * 8) != cookie(p * PG, 2000) ||
		    uread(priv + p * PG + (1 + cpu) * 8) != cookie(p, cpu))
			ck_pr_inc_64(&pr_bad);
	vm_map_activate(NULL);
}

KTEST(mapmt, pagein_race)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	vm_object_t o;

	leak_start(&l);
	memset(&mt, 0, sizeof(mt));
	pr_gets = 0;
	pr_bad = 0;
	o = vm_object_pager_create(PR_PAGES * PG, VM_PROT_READ, &pr_ops, NULL);
	mt.m = vm_map_create(0);
	KT_ASSERT(o != NULL && mt.m != NULL);
	KT_ASSERT_EQ(vm_mmap(mt.m, UBASE, PR_PAGES * PG, VM_PROT_READ,
	    VM_MAP_SHARED | FX, o, 0), UBASE);
	KT_ASSERT_EQ(vm_mmap(mt.m, UBASE + 2 * PR_PAGES * PG, PR_PAGES * PG,
	    RW, VM_MAP_PRIVATE | FX, o, 0), UBASE + 2 * PR_PAGES * PG);
	vm_fault_stats(&s0);
	smp_run(pr_worker, NULL);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(ck_pr_load_64(&pr_bad), 0);
	KT_EXPECT_EQ(pr_gets, PR_PAGES);
	KT_EXPECT_EQ(d.pagein, PR_PAGES);
	KT_EXPECT_EQ(d.cow_copy, PR_PAGES);
	KT_EXPECT_EQ(vm_object_resident(o), PR_PAGES);
	KT_EXPECT(vm_map_is_valid(mt.m));
	ktest_note("faults %llu: pagein %llu obj hit %llu copy %llu reuse %llu",
	    (unsigned long long)d.faults, (unsigned long long)d.pagein,
	    (unsigned long long)d.obj_hit, (unsigned long long)d.cow_copy,
	    (unsigned long long)d.cow_reuse);
	vm_map_destroy(mt.m);
	vm_object_release(o);
	LEAK_CHECK(&l);
}
