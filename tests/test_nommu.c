/*
 * Tests of the no-MMU map layer (vm/map_nommu.c, meson -Dmmu=false): one
 * shared map over physical memory whose segments record their owner,
 * process maps at physical addresses, objects as segments, and the calls
 * that need an MMU returning -ENOTSUP with nothing changed.  Built only
 * into the no-MMU test programs (tests/meson.build).
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "tests/map_util.h"
#include "vm/fault.h"
#include "vm/kmalloc.h"
#include "vm/map.h"
#include "vm/object.h"
#include "vm/page.h"

#if HAL_MMU
#error "test_nommu.c belongs to the no-MMU build"
#endif

#define RW (VM_PROT_READ | VM_PROT_WRITE)
#define PA (VM_MAP_PRIVATE | VM_MAP_ANON)
#define SA (VM_MAP_SHARED | VM_MAP_ANON)

static struct entry_snap mt_snap_now, mt_snap_before, mt_snap_k;

static uint64_t *
ptr(vaddr_t a)
{
	return hal_phys_to_virt((paddr_t)a);
}

/* Bytes of segments `owner` holds in the shared map, and their count. */
static size_t
owned_bytes(vm_map_t owner, size_t *count)
{
	static struct vm_map_entry_info e[SNAP_MAX];
	size_t n = vm_map_entries(vm_map_kernel(), e, SNAP_MAX), sum = 0;

	if (n > SNAP_MAX)
		KT_FAIL("%zu segments: more than the test can hold", n);
	if (count != NULL)
		*count = 0;
	for (size_t i = 0; i < n && i < SNAP_MAX; i++) {
		if (e[i].owner != owner)
			continue;
		sum += e[i].end - e[i].start;
		if (count != NULL)
			(*count)++;
	}
	return sum;
}

/* A case's start: a leak snapshot, then one new process map. */
#define BEGIN_ONE_MAP(l, m)                                                    \
	do {                                                                   \
		leak_start(l);                                                 \
		(m) = vm_map_create(0);                                        \
		KT_ASSERT((m) != NULL);                                        \
	} while (0)

/* The same with two process maps. */
#define BEGIN_TWO_MAPS(l, m, o)                                                \
	do {                                                                   \
		leak_start(l);                                                 \
		(m) = vm_map_create(0);                                        \
		(o) = vm_map_create(0);                                        \
		KT_ASSERT((m) != NULL && (o) != NULL);                         \
	} while (0)

/* Free frames now, with every cache drained. */
static size_t
free_now(void)
{
	page_drain_all();
	return page_free_count();
}

/* The length of the page-allocator run that starts at a, or 0. */
static size_t
run_pages(vaddr_t a)
{
	struct vm_page *pg = pa_to_page((paddr_t)a);

	if (pg == NULL || pg_state(pg) != PG_ALLOC ||
	    !(pg->pg_flags & PGF_CONTIG))
		return 0;
	return pg->pg_npages;
}

/* Whether every frame of [a, a + size) is free in the page allocator. */
static bool
frames_free(vaddr_t a, size_t size)
{
	struct vm_page *pg;

	if (page_alloc_range((paddr_t)a, size / PG, 0, &pg) != 0)
		return false;
	page_free_contig(pg, size / PG);
	return true;
}

static bool
all_words(vaddr_t a, size_t size, uint64_t v)
{
	for (size_t i = 0; i < size / 8; i++)
		if (ptr(a)[i] != v)
			return false;
	return true;
}

static void
fill_words(vaddr_t a, size_t size, uint64_t v)
{
	for (size_t i = 0; i < size / 8; i++)
		ptr(a)[i] = v;
}

/* ------------------------------------------------------------------ */

KTEST(nommu, bare_mode_and_a_shared_map_over_ram)
{
	const struct hal_mem_range *r;
	unsigned n = hal_mem_regions(&r);
	vaddr_t min, max;

	mt_prepare();
	/* satp MODE (bits 63:60) is Bare: nothing switched paging on. */
	KT_EXPECT_EQ(hal_mmu_satp_read() >> 60, 0);
	KT_ASSERT(vm_map_kernel() != NULL);
	vm_map_window(vm_map_kernel(), &min, &max);
	for (unsigned i = 0; i < n; i++) {
		KT_EXPECT_LE(min, r[i].base);
		KT_EXPECT_GE(max, r[i].base + r[i].size);
	}
	KT_EXPECT(vm_map_is_valid(vm_map_kernel()));
}

KTEST(nommu, anon_private_is_a_zeroed_segment)
{
	struct vm_map_entry_info info;
	struct leak_snap l;
	size_t cnt;
	vm_map_t m;
	long a;

	BEGIN_ONE_MAP(&l, m);
	a = vm_mmap(m, 0, 3 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0);
	/* The address is the memory: a run taken from the page allocator. */
	KT_EXPECT_EQ(run_pages((vaddr_t)a), 3);
	KT_EXPECT(all_words((vaddr_t)a, 3 * PG, 0));
	uwrite((vaddr_t)a + 2 * PG + 8, 0x1234);
	KT_EXPECT_EQ(ptr((vaddr_t)a + 2 * PG)[1], 0x1234);
	KT_ASSERT(vm_map_lookup(m, (vaddr_t)a + PG, &info));
	KT_EXPECT_EQ(info.start, (vaddr_t)a);
	KT_EXPECT_EQ(info.end, (vaddr_t)a + 3 * PG);
	KT_EXPECT(info.object == NULL);
	KT_EXPECT(info.owner == m);
	KT_EXPECT_EQ(owned_bytes(m, &cnt), 3 * PG);
	KT_EXPECT_EQ(cnt, 1);
	KT_EXPECT(vm_map_is_valid(m));
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, 3 * PG), 0);
	KT_EXPECT_EQ(owned_bytes(m, NULL), 0);
	KT_EXPECT(frames_free((vaddr_t)a, 3 * PG));
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

KTEST(nommu, partial_munmap_cuts_the_segment)
{
	struct leak_snap l;
	size_t cnt;
	vm_map_t m;
	long a;

	BEGIN_ONE_MAP(&l, m);
	a = vm_mmap(m, 0, 8 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0);
	for (unsigned i = 0; i < 8; i++)
		fill_words((vaddr_t)a + i * PG, PG, cookie(i, 7));
	/* A hole in the middle, then the head's first page, then the tail. */
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a + 3 * PG, 2 * PG), 0);
	KT_EXPECT(frames_free((vaddr_t)a + 3 * PG, 2 * PG));
	KT_EXPECT_EQ(run_pages((vaddr_t)a), 3);
	KT_EXPECT_EQ(run_pages((vaddr_t)a + 5 * PG), 3);
	KT_EXPECT_EQ(owned_bytes(m, &cnt), 6 * PG);
	KT_EXPECT_EQ(cnt, 2);
	KT_EXPECT(vm_map_is_valid(m));
	KT_EXPECT(vm_map_is_valid(vm_map_kernel()));
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, PG), 0);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a + 7 * PG, PG), 0);
	KT_EXPECT(frames_free((vaddr_t)a, PG));
	KT_EXPECT(frames_free((vaddr_t)a + 7 * PG, PG));
	KT_EXPECT_EQ(run_pages((vaddr_t)a + PG), 2);
	KT_EXPECT_EQ(run_pages((vaddr_t)a + 5 * PG), 2);
	KT_EXPECT(vm_map_is_valid(m));
	/* What stays holds what was written. */
	for (unsigned i = 1; i < 7; i++)
		if (i < 3 || i > 4)
			KT_EXPECT(all_words((vaddr_t)a + i * PG, PG,
			    cookie(i, 7)));
	/* Unmapping what is not mapped (the hole, again) is fine. */
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, 8 * PG), 0);
	KT_EXPECT(frames_free((vaddr_t)a, 8 * PG));
	KT_EXPECT_EQ(owned_bytes(m, NULL), 0);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

KTEST(nommu, fixed_only_where_free)
{
	struct entry_snap *s0 = &mt_snap_before, *k0 = &mt_snap_k;
	const struct hal_mem_range *r;
	struct leak_snap l;
	vm_map_t m, o;
	void *kobj;
	long a, b;

	BEGIN_TWO_MAPS(&l, m, o);
	/* Find a free range, give it back, take it again at that address. */
	a = vm_mmap(m, 0, 4 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, 4 * PG), 0);
	KT_EXPECT_EQ(vm_mmap(m, (vaddr_t)a, 4 * PG, RW, PA | VM_MAP_FIXED,
	    NULL, 0), a);
	KT_EXPECT(all_words((vaddr_t)a, 4 * PG, 0));
	snap_entries(m, s0);
	snap_entries(vm_map_kernel(), k0);
	/* Taken, by this map or another, in part or whole: -EEXIST. */
	KT_EXPECT_EQ(vm_mmap(o, (vaddr_t)a, 4 * PG, RW, PA | VM_MAP_FIXED,
	    NULL, 0), -EEXIST);
	KT_EXPECT_EQ(vm_mmap(o, (vaddr_t)a + 3 * PG, 2 * PG, RW,
	    PA | VM_MAP_FIXED_NOREPLACE, NULL, 0), -EEXIST);
	KT_EXPECT_EQ(vm_mmap(m, (vaddr_t)a, PG, RW, PA | VM_MAP_FIXED, NULL,
	    0), -EEXIST);
	/* Frames the kernel holds (a kmalloc object's page): -EEXIST. */
	kobj = kmalloc(64, 0);
	KT_ASSERT(kobj != NULL);
	b = (long)(hal_virt_to_phys(kobj) & ~(PG - 1));
	KT_EXPECT_EQ(vm_mmap(o, (vaddr_t)b, PG, RW, PA | VM_MAP_FIXED, NULL,
	    0), -EEXIST);
	kfree(kobj);
	/* Not RAM: below the first region (or past the last): -EINVAL. */
	hal_mem_regions(&r);
	b = r[0].base > 2 * PG ? (long)(r[0].base - 2 * PG) :
	    (long)(r[0].base + r[0].size + (1ull << 40));
	KT_EXPECT_EQ(vm_mmap(o, (vaddr_t)b, PG, RW, PA | VM_MAP_FIXED, NULL,
	    0), -EINVAL);
	EXPECT_UNCHANGED(m, s0);
	EXPECT_UNCHANGED(vm_map_kernel(), k0);
	KT_EXPECT_EQ(vm_map_entries(o, NULL, 0), 0);
	/* A hint is taken when free, else anything will do. */
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, 4 * PG), 0);
	KT_EXPECT_EQ(vm_mmap(o, (vaddr_t)a + PG, 2 * PG, RW, PA, NULL, 0),
	    a + (long)PG);
	b = vm_mmap(m, (vaddr_t)a + PG, 2 * PG, RW, PA, NULL, 0);
	KT_EXPECT(b > 0 && b != a + (long)PG);
	vm_map_destroy(m);
	vm_map_destroy(o);
	LEAK_CHECK(&l);
}

KTEST(nommu, shared_anon_seen_by_both_maps)
{
	struct vm_map_entry_info ia, ib;
	struct leak_snap l;
	vm_map_t p, q;
	long a, b;

	BEGIN_TWO_MAPS(&l, p, q);
	a = vm_mmap(p, 0, 4 * PG, RW, SA, NULL, 0);
	KT_ASSERT(a > 0);
	KT_ASSERT(vm_map_lookup(p, (vaddr_t)a, &ia));
	KT_ASSERT(ia.object != NULL);
	KT_EXPECT_EQ(vm_object_kind(ia.object), VM_OBJ_ANON);
	KT_EXPECT_EQ(vm_object_phys_addr(ia.object), (paddr_t)a);
	KT_EXPECT(all_words((vaddr_t)a, 4 * PG, 0));
	/* The other process maps the same object: the same memory. */
	b = vm_mmap(q, 0, 2 * PG, RW, VM_MAP_SHARED, ia.object, 2 * PG);
	KT_EXPECT_EQ(b, a + 2 * (long)PG);
	KT_ASSERT(vm_map_lookup(q, (vaddr_t)b, &ib));
	KT_EXPECT(ib.object == ia.object && ib.owner == q);
	KT_EXPECT_EQ(vm_object_refs(ia.object), 2);
	uwrite((vaddr_t)b + 16, 0xfeed);
	KT_EXPECT_EQ(uread((vaddr_t)a + 2 * PG + 16), 0xfeed);
	/* Shared memory is the object's, not a segment of either map. */
	KT_EXPECT_EQ(owned_bytes(p, NULL), 0);
	KT_EXPECT_EQ(owned_bytes(q, NULL), 0);
	/* Mapping it twice in one map cannot be done: one address. */
	KT_EXPECT_EQ(vm_mmap(q, 0, PG, RW, VM_MAP_SHARED, ia.object, 2 * PG),
	    -EEXIST);
	vm_map_destroy(p);
	KT_EXPECT_EQ(vm_object_refs(ib.object), 1);
	KT_EXPECT_EQ(uread((vaddr_t)b + 16), 0xfeed);
	vm_map_destroy(q);
	LEAK_CHECK(&l);
}

/* A pager that fills page i with cookie(i, 99) and counts its calls. */
struct np_pager {
	unsigned gets, puts, releases;
	int fail_at;
};

static int
np_get(void *priv, uint64_t offset, struct vm_page *pg)
{
	struct np_pager *p = priv;
	uint64_t *w = page_to_kva(pg);

	p->gets++;
	if (p->fail_at >= 0 && offset >> PAGE_SHIFT == (uint64_t)p->fail_at)
		return -EIO;
	for (size_t i = 0; i < PG / 8; i++)
		w[i] = cookie(offset >> PAGE_SHIFT, 99);
	return 0;
}

static void
np_put(void *priv, uint64_t offset, struct vm_page *pg)
{
	(void)offset, (void)pg;
	((struct np_pager *)priv)->puts++;
}

static void
np_release(void *priv)
{
	((struct np_pager *)priv)->releases++;
}

static const struct vm_pager_ops np_ops = {
	"nommu-test", np_get, np_put, np_release,
};

KTEST(nommu, objects_shared_private_and_copied)
{
	struct np_pager pg = { 0, 0, 0, -1 }, bad = { 0, 0, 0, 2 };
	struct vm_map_entry_info info;
	struct leak_snap l;
	vm_object_t o;
	vm_map_t m;
	paddr_t base;
	long a, b, c;

	leak_start(&l);
	/* A pager object is read in whole when it is made. */
	o = vm_object_pager_create(4 * PG, VM_PROT_READ, &np_ops, &pg);
	KT_ASSERT(o != NULL);
	KT_EXPECT_EQ(pg.gets, 4);
	KT_EXPECT_EQ(vm_object_resident(o), 4);
	base = vm_object_phys_addr(o);
	KT_EXPECT(all_words((vaddr_t)base + 3 * PG, PG, cookie(3, 99)));
	/* A failing pager: no object (LEAK_CHECK: nothing kept). */
	KT_EXPECT(vm_object_pager_create(4 * PG, VM_PROT_READ, &np_ops,
	    &bad) == NULL);
	KT_EXPECT_EQ(bad.gets, 3);
	KT_EXPECT_EQ(bad.releases, 0);

	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	/* Shared, and private read-only: the object where it lies. */
	a = vm_mmap(m, 0, 2 * PG, VM_PROT_READ, VM_MAP_SHARED, o, 0);
	KT_EXPECT_EQ(a, (long)base);
	b = vm_mmap(m, 0, PG, VM_PROT_READ, VM_MAP_PRIVATE, o, 3 * PG);
	KT_EXPECT_EQ(b, (long)(base + 3 * PG));
	/* Beyond what the object allows, elsewhere, misaligned: refused. */
	KT_EXPECT_EQ(vm_mmap(m, 0, PG, RW, VM_MAP_SHARED, o, 2 * PG),
	    -EACCES);
	KT_EXPECT_EQ(vm_mmap(m, (vaddr_t)base + 8 * PG, PG, VM_PROT_READ,
	    VM_MAP_SHARED | VM_MAP_FIXED, o, 2 * PG), -EINVAL);
	/* Private and writable: a copy, owned by the map. */
	c = vm_mmap(m, 0, 2 * PG, RW, VM_MAP_PRIVATE, o, 2 * PG);
	KT_ASSERT(c > 0);
	KT_EXPECT(c != (long)(base + 2 * PG));
	KT_EXPECT_EQ(run_pages((vaddr_t)c), 2);
	KT_EXPECT(all_words((vaddr_t)c, PG, cookie(2, 99)));
	KT_EXPECT(all_words((vaddr_t)c + PG, PG, cookie(3, 99)));
	fill_words((vaddr_t)c, PG, 5);
	KT_EXPECT(all_words((vaddr_t)base + 2 * PG, PG, cookie(2, 99)));
	KT_ASSERT(vm_map_lookup(m, (vaddr_t)c, &info));
	KT_EXPECT(info.object == NULL && (info.flags & VM_MAP_PRIVATE));
	KT_EXPECT_EQ(owned_bytes(m, NULL), 2 * PG);
	KT_EXPECT_EQ(vm_object_refs(o), 3);	/* ours, a and b */
	KT_EXPECT(vm_map_is_valid(m));
	vm_map_destroy(m);
	KT_EXPECT_EQ(vm_object_refs(o), 1);
	KT_EXPECT_EQ(pg.puts, 0);
	vm_object_release(o);
	KT_EXPECT_EQ(pg.puts, 4);
	KT_EXPECT_EQ(pg.releases, 1);
	LEAK_CHECK(&l);
}

KTEST(nommu, physical_object_maps_in_place)
{
	struct leak_snap l;
	vm_object_t o;
	vm_map_t m;
	void *k;
	paddr_t pa;

	leak_start(&l);
	/* A kernel page stands in for a device's registers. */
	k = kmalloc(PG, 0);
	KT_ASSERT(k != NULL);
	pa = hal_virt_to_phys(k);
	KT_ASSERT((pa & (PG - 1)) == 0);
	o = vm_object_phys_create(pa, PG, RW);
	m = vm_map_create(0);
	KT_ASSERT(o != NULL && m != NULL);
	KT_EXPECT_EQ(vm_mmap(m, 0, PG, RW, VM_MAP_SHARED | VM_MAP_DEVICE, o,
	    0), (long)pa);
	uwrite((vaddr_t)pa + 24, 77);
	KT_EXPECT_EQ(((uint64_t *)k)[3], 77);
	KT_EXPECT_EQ(owned_bytes(m, NULL), 0);
	vm_map_destroy(m);
	vm_object_release(o);
	kfree(k);
	LEAK_CHECK(&l);
}

KTEST(nommu, mmu_calls_return_enotsup)
{
	struct entry_snap *s0 = &mt_snap_before, *k0 = &mt_snap_k;
	struct leak_snap l;
	vm_map_t m, child;
	size_t before;
	long a;

	BEGIN_TWO_MAPS(&l, m, child);
	a = vm_mmap(m, 0, 4 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0);
	fill_words((vaddr_t)a, 4 * PG, 3);
	snap_entries(m, s0);
	snap_entries(vm_map_kernel(), k0);
	before = free_now();
	KT_EXPECT_EQ(vm_mprotect(m, (vaddr_t)a, 4 * PG, VM_PROT_READ),
	    -ENOTSUP);
	KT_EXPECT_EQ(vm_mprotect(m, (vaddr_t)a + PG, PG, VM_PROT_NONE),
	    -ENOTSUP);
	KT_EXPECT_EQ(vm_map_copy(child, m), -ENOTSUP);
	KT_EXPECT_EQ(vm_fault(m, (vaddr_t)a, HAL_FAULT_WRITE), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, (vaddr_t)a + 64 * PG, HAL_FAULT_READ),
	    -EFAULT);
	EXPECT_UNCHANGED(m, s0);
	EXPECT_UNCHANGED(vm_map_kernel(), k0);
	KT_EXPECT_EQ(vm_map_entries(child, NULL, 0), 0);
	KT_EXPECT_EQ(free_now(), before);
	KT_EXPECT(all_words((vaddr_t)a, 4 * PG, 3));
	/* Still writable: nothing narrowed it. */
	uwrite((vaddr_t)a, 9);
	vm_map_destroy(child);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

KTEST(nommu, bad_input_changes_nothing)
{
	struct entry_snap *k0 = &mt_snap_k;
	struct leak_snap l;
	vm_object_t o;
	vm_map_t m;

	leak_start(&l);
	m = vm_map_create(0);
	o = vm_object_anon_create(2 * PG);
	KT_ASSERT(m != NULL && o != NULL);
	snap_entries(vm_map_kernel(), k0);
	KT_EXPECT_EQ(vm_mmap(m, 0, 0, RW, PA, NULL, 0), -EINVAL);
	KT_EXPECT_EQ(vm_mmap(m, 0, PG + 1, RW, PA, NULL, 0), -EINVAL);
	KT_EXPECT_EQ(vm_mmap(m, 1, PG, RW, PA | VM_MAP_FIXED, NULL, 0),
	    -EINVAL);
	KT_EXPECT_EQ(vm_mmap(m, 0, PG, VM_PROT_WRITE, PA, NULL, 0), -EINVAL);
	KT_EXPECT_EQ(vm_mmap(m, 0, PG, RW, VM_MAP_ANON, NULL, 0), -EINVAL);
	KT_EXPECT_EQ(vm_mmap(m, 0, 4 * PG, RW, VM_MAP_SHARED, o, 0), -EINVAL);
	KT_EXPECT_EQ(vm_mmap(m, 0, PG, RW, VM_MAP_SHARED, o, 1), -EINVAL);
	/* The shared map takes the kernel's anonymous memory only. */
	KT_EXPECT_EQ(vm_mmap(vm_map_kernel(), 0, PG, RW, VM_MAP_SHARED, o, 0),
	    -EINVAL);
	KT_EXPECT_EQ(vm_mmap(vm_map_kernel(), 0, PG, RW, SA, NULL, 0),
	    -EINVAL);
	KT_EXPECT_EQ(vm_munmap(m, 0, PG), -EINVAL);
	KT_EXPECT_EQ(vm_munmap(m, PG, PG - 1), -EINVAL);
	/* More than memory holds. */
	KT_EXPECT_EQ(vm_mmap(m, 0, (size_t)1 << 40, RW, PA, NULL, 0),
	    -ENOMEM);
	EXPECT_UNCHANGED(vm_map_kernel(), k0);
	KT_EXPECT_EQ(vm_map_entries(m, NULL, 0), 0);
	KT_EXPECT_EQ(vm_object_refs(o), 1);
	vm_object_release(o);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

KTEST(nommu, kernel_segments_in_the_shared_map)
{
	vm_map_t k = vm_map_kernel(), m;
	struct vm_map_entry_info info;
	struct leak_snap l;
	long a, b;

	BEGIN_ONE_MAP(&l, m);
	a = vm_mmap(k, 0, 2 * PG, RW, PA, NULL, 0);
	b = vm_mmap(m, 0, 2 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0 && b > 0);
	KT_ASSERT(vm_map_lookup(k, (vaddr_t)a, &info));
	KT_EXPECT(info.owner == k);
	KT_ASSERT(vm_map_lookup(k, (vaddr_t)b, &info));
	KT_EXPECT(info.owner == m);
	KT_EXPECT_EQ(owned_bytes(k, NULL), 2 * PG);
	fill_words((vaddr_t)b, 2 * PG, 0x42);
	/* The kernel unmapping the process's range frees nothing of it. */
	KT_EXPECT_EQ(vm_munmap(k, (vaddr_t)b, 2 * PG), 0);
	KT_EXPECT_EQ(owned_bytes(m, NULL), 2 * PG);
	KT_EXPECT(all_words((vaddr_t)b, 2 * PG, 0x42));
	KT_EXPECT_EQ(vm_munmap(k, (vaddr_t)a, 2 * PG), 0);
	KT_EXPECT_EQ(owned_bytes(k, NULL), 0);
	KT_EXPECT(vm_map_is_valid(k));
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

KTEST(nommu, destroy_frees_exactly_its_ranges)
{
	struct leak_snap l;
	vm_map_t p, q;
	long pa[6], qa[6];

	BEGIN_TWO_MAPS(&l, p, q);
	for (unsigned i = 0; i < 6; i++) {
		pa[i] = vm_mmap(p, 0, (i + 1) * PG, RW, PA, NULL, 0);
		qa[i] = vm_mmap(q, 0, (i + 1) * PG, RW, PA, NULL, 0);
		KT_ASSERT(pa[i] > 0 && qa[i] > 0);
		fill_words((vaddr_t)qa[i], (i + 1) * PG, cookie(i, 1));
	}
	KT_EXPECT_EQ(owned_bytes(p, NULL), 21 * PG);
	vm_map_destroy(p);
	for (unsigned i = 0; i < 6; i++) {
		KT_EXPECT(frames_free((vaddr_t)pa[i], (i + 1) * PG));
		KT_EXPECT_EQ(run_pages((vaddr_t)qa[i]), i + 1);
	}
	KT_EXPECT_EQ(owned_bytes(p, NULL), 0);
	KT_EXPECT_EQ(owned_bytes(q, NULL), 21 * PG);
	for (unsigned i = 0; i < 6; i++)
		KT_EXPECT(all_words((vaddr_t)qa[i], (i + 1) * PG,
		    cookie(i, 1)));
	KT_EXPECT(vm_map_is_valid(q));
	KT_EXPECT(vm_map_is_valid(vm_map_kernel()));
	vm_map_destroy(q);
	LEAK_CHECK(&l);
}

/* Every n-th allocation of the layer fails: each failure changes nothing. */
KTEST(nommu, failure_injection_changes_nothing)
{
	struct entry_snap *s0 = &mt_snap_before, *k0 = &mt_snap_k;
	unsigned fails = 0, oks = 0;
	struct leak_snap l;
	vm_object_t o;
	vm_map_t m;

	leak_start(&l);
	m = vm_map_create(0);
	o = vm_object_anon_create(4 * PG);
	KT_ASSERT(m != NULL && o != NULL);
	for (unsigned n = 1; n <= 4; n++) {
		for (unsigned i = 0; i < 12; i++) {
			long a;
			snap_entries(m, s0);
			snap_entries(vm_map_kernel(), k0);
			vm_debug_set_fail_every(n);
			switch (i % 4) {
			case 0:
				a = vm_mmap(m, 0, 2 * PG, RW, PA, NULL, 0);
				break;
			case 1:
				a = vm_mmap(m, 0, 2 * PG, RW, SA, NULL, 0);
				break;
			case 2:
				a = vm_mmap(m, 0, 2 * PG, RW, VM_MAP_PRIVATE,
				    o, PG);
				break;
			default:
				a = vm_mmap(m, 0, 4 * PG, RW, VM_MAP_SHARED,
				    o, 0);
				break;
			}
			vm_debug_set_fail_every(0);
			if (a == -ENOMEM) {
				fails++;
				EXPECT_UNCHANGED(m, s0);
				EXPECT_UNCHANGED(vm_map_kernel(), k0);
				continue;	/* frames: LEAK_CHECK below */
			}
			KT_ASSERT(a > 0);
			oks++;
			snap_entries(m, s0);
			snap_entries(vm_map_kernel(), k0);
			vm_debug_set_fail_every(n);
			int err = vm_munmap(m, (vaddr_t)a, (i % 4) == 3 ?
			    4 * PG : 2 * PG);
			vm_debug_set_fail_every(0);
			if (err != 0) {
				KT_EXPECT_EQ(err, -ENOMEM);
				EXPECT_UNCHANGED(m, s0);
				EXPECT_UNCHANGED(vm_map_kernel(), k0);
				fails++;
				KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a,
				    (i % 4) == 3 ? 4 * PG : 2 * PG), 0);
			}
		}
	}
	KT_EXPECT_GT(fails, 0);
	KT_EXPECT_GT(oks, 0);
	KT_EXPECT_EQ(vm_map_entries(m, NULL, 0), 0);
	KT_EXPECT_EQ(vm_object_refs(o), 1);
	vm_object_release(o);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Two process maps on every hart at once.                             */

#define MT_LIVE 24
#define MT_ROUNDS 600

struct mt_range {
	vm_map_t map;
	vaddr_t a;
	size_t size;
	uint64_t c;
};

static struct {
	vm_map_t maps[2];
	vm_object_t shm;	/* mapped shared in both */
	vaddr_t shm_p, shm_q;
	uint64_t bad, ops;
	struct mt_range live[HAL_MAX_CPUS][MT_LIVE];
} mt2;

static bool
range_ok(const struct mt_range *r)
{
	return all_words(r->a, r->size, r->c);
}

static void
mt2_worker(void *arg)
{
	unsigned cpu = hal_cpu_id();
	struct mt_range *live = mt2.live[cpu];
	struct rng r;

	(void)arg;
	rng_seed(&r, ktest_seed(), cpu + 1);
	for (unsigned k = 0; k < MT_ROUNDS; k++) {
		struct mt_range *x = &live[rng_below(&r, MT_LIVE)];
		if (x->size != 0) {
			/* Check, then drop all, the head, or the tail. */
			if (!range_ok(x))
				ck_pr_inc_64(&mt2.bad);
			size_t cut = x->size > PG && rng_below(&r, 2) ?
			    (1 + rng_below(&r, x->size / PG - 1)) * PG : x->size;
			bool head = rng_below(&r, 2);
			vaddr_t at = head ? x->a : x->a + x->size - cut;
			if (vm_munmap(x->map, at, cut) != 0)
				ck_pr_inc_64(&mt2.bad);
			if (head)
				x->a += cut;
			x->size -= cut;
		} else {
			vm_map_t m = mt2.maps[rng_below(&r, 2)];
			size_t size = (1 + rng_below(&r, 8)) * PG;
			long a = vm_mmap(m, 0, size, RW, PA, NULL, 0);
			if (a < 0) {
				if (a != -ENOMEM)
					ck_pr_inc_64(&mt2.bad);
				continue;
			}
			if (!all_words((vaddr_t)a, size, 0))
				ck_pr_inc_64(&mt2.bad);
			*x = (struct mt_range){ m, (vaddr_t)a, size,
			    cookie(cpu, k) };
			fill_words(x->a, size, x->c);
		}
		/* The shared page, at one address in both maps. */
		ck_pr_inc_64(ptr(k & 1 ? mt2.shm_p : mt2.shm_q));
		ck_pr_inc_64(&mt2.ops);
	}
}

static int
cmp_range(const void *a, const void *b)
{
	const struct mt_range *x = a, *y = b;

	return x->a < y->a ? -1 : x->a > y->a;
}

static void
sort_ranges(struct mt_range *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && cmp_range(&v[j - 1], &v[j]) > 0;
		    j--) {
			struct mt_range t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

KTEST(nommu, two_process_maps_on_every_hart)
{
	static struct mt_range all[HAL_MAX_CPUS * MT_LIVE];
	size_t n = 0, bytes[2] = { 0, 0 };
	struct leak_snap l;

	leak_start(&l);
	memset(&mt2, 0, sizeof(mt2));
	mt2.maps[0] = vm_map_create(0);
	mt2.maps[1] = vm_map_create(0);
	mt2.shm = vm_object_anon_create(PG);
	KT_ASSERT(mt2.maps[0] && mt2.maps[1] && mt2.shm);
	mt2.shm_p = (vaddr_t)vm_mmap(mt2.maps[0], 0, PG, RW, VM_MAP_SHARED,
	    mt2.shm, 0);
	mt2.shm_q = (vaddr_t)vm_mmap(mt2.maps[1], 0, PG, RW, VM_MAP_SHARED,
	    mt2.shm, 0);
	KT_EXPECT_EQ(mt2.shm_p, mt2.shm_q);
	smp_run(mt2_worker, NULL);
	KT_EXPECT_EQ(ck_pr_load_64(&mt2.bad), 0);
	KT_EXPECT_EQ(mt2.ops, (uint64_t)MT_ROUNDS * hal_ncpus());
	KT_EXPECT_EQ(*ptr(mt2.shm_p), mt2.ops);
	/* No overlap between what the harts hold, in either map. */
	for (unsigned c = 0; c < hal_ncpus(); c++)
		for (unsigned i = 0; i < MT_LIVE; i++)
			if (mt2.live[c][i].size != 0) {
				all[n++] = mt2.live[c][i];
				bytes[mt2.live[c][i].map == mt2.maps[1]] +=
				    mt2.live[c][i].size;
			}
	sort_ranges(all, n);
	for (size_t i = 1; i < n; i++)
		if (all[i - 1].a + all[i - 1].size > all[i].a)
			KT_FAIL("[%#lx, +%#zx) overlaps [%#lx, +%#zx)",
			    (unsigned long)all[i - 1].a, all[i - 1].size,
			    (unsigned long)all[i].a, all[i].size);
	for (size_t i = 0; i < n; i++)
		KT_EXPECT(range_ok(&all[i]));
	/* Nothing lost: each map owns exactly what its ranges add up to. */
	KT_EXPECT_EQ(owned_bytes(mt2.maps[0], NULL), bytes[0]);
	KT_EXPECT_EQ(owned_bytes(mt2.maps[1], NULL), bytes[1]);
	KT_EXPECT(vm_map_is_valid(mt2.maps[0]));
	KT_EXPECT(vm_map_is_valid(mt2.maps[1]));
	KT_EXPECT(vm_map_is_valid(vm_map_kernel()));
	vm_map_destroy(mt2.maps[0]);
	vm_map_destroy(mt2.maps[1]);
	vm_object_release(mt2.shm);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Wrong use.                                                          */

KTEST_EXPLICIT(wrong_nommu_destroy_shared, destroy_shared)
{
	mt_prepare();
	vm_map_destroy(vm_map_kernel());
	KT_FAIL("destroying the shared map did not panic");
}



/* MAP_SHARED|MAP_ANON|MAP_FIXED at an address whose frames are free. */
KTEST(nommu, shared_anon_fixed_where_free)
{
	struct leak_snap l;
	vm_map_t m;
	long c[6], b;

	BEGIN_ONE_MAP(&l, m);
	for (unsigned i = 0; i < 6; i++) {
		c[i] = vm_mmap(m, 0, 4 * PG, RW, PA, NULL, 0);
		KT_ASSERT(c[i] > 0);
	}
	/* Two free holes: the first fit is c[1]'s, we ask for c[4]'s. */
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)c[1], 4 * PG), 0);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)c[4], 4 * PG), 0);
	KT_EXPECT(frames_free((vaddr_t)c[4], 4 * PG));
	b = vm_mmap(m, (vaddr_t)c[4], 4 * PG, RW, SA | VM_MAP_FIXED, NULL, 0);
	KT_EXPECT_EQ(b, c[4]);
	KT_EXPECT(all_words((vaddr_t)b, 4 * PG, 0));
	/* At a busy address: -EEXIST, as for private memory. */
	KT_EXPECT_EQ(vm_mmap(m, (vaddr_t)c[0], PG, RW, SA | VM_MAP_FIXED,
	    NULL, 0), -EEXIST);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* The shared map takes the kernel's anonymous memory and nothing else. */
KTEST(nommu, kernel_private_object_copy)
{
	struct leak_snap l;
	vm_object_t o;
	long a;

	leak_start(&l);
	o = vm_object_anon_create(2 * PG);
	KT_ASSERT(o != NULL);
	a = vm_mmap(vm_map_kernel(), 0, PG, RW, VM_MAP_PRIVATE, o, 0);
	KT_EXPECT_EQ(a, -EINVAL);
	if (a > 0)
		vm_munmap(vm_map_kernel(), (vaddr_t)a, PG);
	vm_object_release(o);
	LEAK_CHECK(&l);
}

/* A frame sitting in this hart's per-CPU cache is free: FIXED takes it. */
KTEST(nommu, fixed_on_cached_frame)
{
	struct leak_snap l;
	struct vm_page *pg;
	vm_map_t m;
	long a;

	BEGIN_ONE_MAP(&l, m);
	page_set_mode(PAGE_MODE_PERCPU);
	pg = page_alloc(0, 0);
	KT_ASSERT(pg != NULL);
	paddr_t pa = page_to_pa(pg);
	page_free(pg, 0);
	a = vm_mmap(m, (vaddr_t)pa, PG, RW, PA | VM_MAP_FIXED, NULL, 0);
	KT_EXPECT_EQ(a, (long)pa);
	KT_EXPECT(vm_map_is_valid(m));
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* Two adjacent segments merged into one process entry, then cut. */
KTEST(nommu, merged_entries_cut)
{
	struct vm_map_entry_info info;
	struct leak_snap l;
	size_t cnt;
	vm_map_t m;
	long a;

	BEGIN_ONE_MAP(&l, m);
	a = vm_mmap(m, 0, 12 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, 12 * PG), 0);
	for (unsigned i = 0; i < 3; i++)
		KT_ASSERT_EQ(vm_mmap(m, (vaddr_t)a + i * 4 * PG, 4 * PG, RW,
		    PA | VM_MAP_FIXED, NULL, 0), a + (long)(i * 4 * PG));
	KT_ASSERT(vm_map_lookup(m, (vaddr_t)a, &info));
	KT_EXPECT_EQ(info.end - info.start, 12 * PG);	/* merged */
	KT_EXPECT_EQ(owned_bytes(m, &cnt), 12 * PG);
	KT_EXPECT_EQ(cnt, 3);
	fill_words((vaddr_t)a, 12 * PG, 0x77);
	/* straddles both ends of the entry and of segment 0 */
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a + PG, PG), 0);
	/* across the boundary of segments 1 and 2 */
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a + 6 * PG, 4 * PG), 0);
	/* covering segment 0's tail, whole gap, segment 1's head */
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a + 3 * PG, 2 * PG), 0);
	KT_EXPECT(vm_map_is_valid(m));
	KT_EXPECT(vm_map_is_valid(vm_map_kernel()));
	KT_EXPECT_EQ(owned_bytes(m, NULL), 5 * PG);
	KT_EXPECT_EQ(run_pages((vaddr_t)a), 1);
	KT_EXPECT_EQ(run_pages((vaddr_t)a + 2 * PG), 1);
	KT_EXPECT_EQ(run_pages((vaddr_t)a + 5 * PG), 1);
	KT_EXPECT_EQ(run_pages((vaddr_t)a + 10 * PG), 2);
	KT_EXPECT(all_words((vaddr_t)a + 10 * PG, 2 * PG, 0x77));
	vm_map_destroy(m);
	KT_EXPECT(frames_free((vaddr_t)a, 12 * PG));
	LEAK_CHECK(&l);
}

/* A failing pager: the pages it handed out are put back. */
KTEST(nommu, pager_failure_puts)
{
	struct np_pager bad = { 0, 0, 0, 2 };

	mt_prepare();
	KT_EXPECT(vm_object_pager_create(4 * PG, VM_PROT_READ, &np_ops,
	    &bad) == NULL);
	KT_EXPECT_EQ(bad.gets, 3);
	KT_EXPECT_EQ(bad.puts, 2);
	KT_EXPECT_EQ(bad.releases, 0);
}

/* A hint whose frames are busy: one look, no drain, no failure counted. */
KTEST(nommu, hint_miss_cost)
{
	struct page_stats s0, s1;
	vm_map_t m;
	long a, b;

	mt_prepare();
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	a = vm_mmap(m, 0, PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0);
	/* fill this hart's cache */
	struct vm_page *p = page_alloc(0, 0);
	page_free(p, 0);
	page_stats(&s0);
	b = vm_mmap(m, (vaddr_t)a, PG, RW, PA, NULL, 0);	/* hint, busy */
	page_stats(&s1);
	KT_ASSERT(b > 0 && b != a);
	KT_EXPECT_EQ(s1.failures - s0.failures, 0);
	KT_EXPECT_EQ(s1.drains - s0.drains, 0);
	vm_map_destroy(m);
}
