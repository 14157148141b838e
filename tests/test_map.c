/*
 * Tests of maps (vm/map.c): mmap/munmap/mprotect bookkeeping, splitting and
 * merging, the O(log n) gap search against a brute-force reference, every
 * bad input (the map compared entry by entry after each), -ENOMEM by
 * failure injection, faults and their statistics, the kernel map; the
 * reference-model suite (tests/map_model.c); the wrong-use suites.
 */
#include <errno.h>
#include <string.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/rand.h"
#include "tests/ktest.h"
#include "tests/map_model.h"
#include "tests/map_util.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/object.h"

static struct entry_snap mt_snap_now, mt_snap_before;

#define RW (VM_PROT_READ | VM_PROT_WRITE)
#define PA (VM_MAP_PRIVATE | VM_MAP_ANON)

static size_t
nentries(vm_map_t m)
{
	return vm_map_entries(m, NULL, 0);
}

KTEST(map, mmap_basic)
{
	struct leak_snap l;
	struct vm_map_entry_info ei;
	vm_map_t m;
	long a, b;
	uint64_t v;

	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	/* First fit from the bottom of user space. */
	a = vm_mmap(m, 0, 4 * PG, RW, PA, NULL, 0);
	KT_EXPECT_EQ(a, UBASE);
	b = vm_mmap(m, 0, 4 * PG, RW, PA, NULL, 0);
	KT_EXPECT_EQ(b, UBASE + 4 * PG);
	/* Compatible neighbours merge into one entry. */
	KT_EXPECT_EQ(nentries(m), 1);
	KT_ASSERT(vm_map_lookup(m, UBASE + 5 * PG, &ei));
	KT_EXPECT_EQ(ei.start, UBASE);
	KT_EXPECT_EQ(ei.end, UBASE + 8 * PG);
	KT_EXPECT(ei.object == NULL);
	KT_EXPECT_EQ(ei.prot, RW);
	KT_EXPECT_EQ(ei.maxprot, VM_PROT_ALL);

	vm_map_activate(m);
	KT_EXPECT(vm_map_current() == m);
	for (unsigned i = 0; i < 8; i++)
		KT_EXPECT_EQ(uread(UBASE + i * PG + 8), 0);	/* zero-fill */
	for (unsigned i = 0; i < 8; i++)
		uwrite(UBASE + i * PG + 16, cookie(i, 1));
	for (unsigned i = 0; i < 8; i++)
		KT_EXPECT_EQ(uread(UBASE + i * PG + 16), cookie(i, 1));
	/* Outside every entry. */
	KT_EXPECT_EQ(hal_probe_read64(UBASE + 8 * PG, &v), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, UBASE + 8 * PG, HAL_FAULT_READ), -EFAULT);

	/* Punch a hole: two entries, the hole faults, the rest keeps data. */
	KT_EXPECT_EQ(vm_munmap(m, UBASE + 3 * PG, 2 * PG), 0);
	KT_EXPECT_EQ(nentries(m), 2);
	KT_EXPECT_EQ(hal_probe_read64(UBASE + 3 * PG, &v), -EFAULT);
	KT_EXPECT_EQ(uread(UBASE + 5 * PG + 16), cookie(5, 1));
	KT_EXPECT_EQ(uread(UBASE + 2 * PG + 16), cookie(2, 1));
	/* The hole is the lowest gap again; refilling it merges all. */
	a = vm_mmap(m, 0, 2 * PG, RW, PA, NULL, 0);
	KT_EXPECT_EQ(a, UBASE + 3 * PG);
	KT_EXPECT_EQ(nentries(m), 1);
	KT_EXPECT_EQ(uread(UBASE + 3 * PG + 16), 0);	/* fresh pages */
	KT_EXPECT(vm_map_is_valid(m));

	struct vm_map_stats ms;
	vm_map_stats(m, &ms);
	KT_EXPECT_EQ(ms.entries, 1);
	KT_EXPECT_EQ(ms.mapped, 8 * PG);
	KT_EXPECT_EQ(ms.anons, 7);	/* 8 touched, 2 dropped, 1 read */
	vm_map_activate(NULL);
	KT_EXPECT(vm_map_current() == NULL);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Gap search against brute force.                                     */

/* The rule of map.h over a snapshot: lowest gap at or above lo. */
static vaddr_t
ref_gap(const struct entry_snap *s, vaddr_t size, vaddr_t align, vaddr_t lo)
{
	vaddr_t need = size + align - PG, gs = UBASE;

	for (size_t i = 0; i <= s->n; i++) {
		vaddr_t ge = i < s->n ? s->e[i].start : pmap_user_max();
		vaddr_t st = gs > lo ? gs : lo;
		if (ge > st && ge - st >= need)
			return (st + align - 1) & ~(align - 1);
		if (i < s->n)
			gs = s->e[i].end;
	}
	return 0;
}

static bool
ref_free(const struct entry_snap *s, vaddr_t a, vaddr_t size)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].start < a + size && a < s->e[i].end)
			return false;
	return true;
}

KTEST(map, gap_search)
{
	static struct entry_snap s;
	struct leak_snap l;
	struct rng r;
	vm_map_t m;
	unsigned placed = 0, checked = 0;

	rng_seed(&r, ktest_seed(), 11);
	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	/* Scatter fixed entries over 4096 pages, protections mixed. */
	for (unsigned i = 0; i < ktest_iters(120); i++) {
		vaddr_t a = UBASE + rng_below(&r, 4096) * PG;
		size_t n = 1 + rng_below(&r, 6);
		unsigned prot = rng_below(&r, 2) ? RW : VM_PROT_READ;
		if (vm_mmap(m, a, n * PG, prot, PA | VM_MAP_FIXED, NULL, 0) ==
		    (long)a)
			placed++;
	}
	KT_EXPECT(vm_map_is_valid(m));
	for (unsigned i = 0; i < ktest_iters(200); i++) {
		vaddr_t size = (1 + rng_below(&r, 24)) * PG;
		unsigned ashift = rng_below(&r, 3) ? 0 : 12 + rng_below(&r, 5);
		vaddr_t align = ashift ? (vaddr_t)1 << ashift : PG;
		vaddr_t hint = rng_below(&r, 3) ? UBASE + rng_below(&r, 4600) *
		    PG : 0;
		vaddr_t want = 0;
		snap_entries(m, &s);
		KT_ASSERT(s.n < SNAP_MAX);
		if (hint != 0 && (hint & (align - 1)) == 0 &&
		    ref_free(&s, hint, size))
			want = hint;
		if (want == 0 && hint > UBASE)
			want = ref_gap(&s, size, align, hint);
		if (want == 0)
			want = ref_gap(&s, size, align, UBASE);
		long got = vm_mmap(m, hint, size, VM_PROT_READ,
		    PA | (ashift ? VM_MAP_ALIGNED(ashift) : 0), NULL, 0);
		if (got != (long)want) {
			KT_FAIL("mmap(hint %#lx, %#lx, align %#lx) = %#lx, "
			    "reference %#lx", (unsigned long)hint,
			    (unsigned long)size, (unsigned long)align,
			    (unsigned long)got, (unsigned long)want);
			break;
		}
		checked++;
		/* Keep the map sparse: drop about half again. */
		if (rng_below(&r, 2))
			KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)got, size), 0);
	}
	KT_EXPECT(vm_map_is_valid(m));
	struct vm_map_stats ms;
	vm_map_stats(m, &ms);
	ktest_note("%u fixed entries placed, %u searches checked, %zu "
	    "entries, largest gap %#zx", placed, checked, ms.entries,
	    ms.largest_gap);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* A huge map: the search stays fast with many entries. */
KTEST(map, gap_search_many_entries)
{
	struct leak_snap l;
	vm_map_t m;
	unsigned n = (unsigned)ktest_iters(2000);
	uint64_t t0, t1, t2;

	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	/* n one-page entries with one-page holes: no gap of 2 pages. */
	for (unsigned i = 0; i < n; i++)
		KT_ASSERT_EQ(vm_mmap(m, UBASE + 2 * i * PG, PG, VM_PROT_READ,
		    PA | VM_MAP_FIXED, NULL, 0), UBASE + 2 * i * PG);
	KT_EXPECT_EQ(nentries(m), n);
	/* One wider hole in the middle. */
	KT_EXPECT_EQ(vm_munmap(m, UBASE + n * PG, PG), 0);
	t0 = hal_time_ns();
	long a = vm_mmap(m, 0, 2 * PG, VM_PROT_READ, PA, NULL, 0);
	t1 = hal_time_ns();
	KT_EXPECT_EQ(a, UBASE + (n - 1) * PG);
	/* A hole holding one page: found at the bottom. */
	long b = vm_mmap(m, 0, PG, VM_PROT_READ, PA, NULL, 0);
	t2 = hal_time_ns();
	KT_EXPECT_EQ(b, UBASE + PG);
	KT_EXPECT(vm_map_is_valid(m));
	ktest_note("%u entries: a 2-page search took %llu ns, a 1-page one "
	    "%llu ns", n, (unsigned long long)(t1 - t0),
	    (unsigned long long)(t2 - t1));
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Bad input: every error, the map unchanged entry by entry.           */

static unsigned pager_gets;

static int
ro_get(void *priv, uint64_t offset, struct vm_page *pg)
{
	uint64_t *p = page_to_kva(pg);

	(void)priv;
	p[0] = cookie(offset, 77);
	ck_pr_inc_uint(&pager_gets);
	return 0;
}

static const struct vm_pager_ops ro_pager = { "ro", ro_get, NULL, NULL };

struct bad_mmap {
	const char *what;
	vaddr_t addr;
	size_t size;
	unsigned prot, flags;
	int obj;		/* 0 none, 1 anon object, 2 ro pager, 3 phys */
	uint64_t offset;
	long want;
};

#define FX VM_MAP_FIXED
#define SA (VM_MAP_SHARED | VM_MAP_ANON)


struct bad_range {
	const char *what;
	vaddr_t addr;
	size_t size;
	unsigned prot;
	int want_unmap, want_protect;
};


KTEST(map, bad_input)
{
	static struct entry_snap *before = &mt_snap_before;
	struct leak_snap l;
	vm_object_t objs[4] = { NULL, NULL, NULL, NULL };
	struct vm_page *phys;
	vm_map_t m, m2;
	unsigned i;
	/* Below the map: wraps to the top when the window starts at 0. */
	const struct bad_mmap bad_mmaps[] = {
		{ "size 0", 0, 0, RW, PA, 0, 0, -EINVAL },
		{ "unaligned size", 0, PG + 1, RW, PA, 0, 0, -EINVAL },
		{ "unaligned addr", UBASE + 100 * PG + 8, PG, RW, PA | FX, 0, 0, -EINVAL },
		{ "unaligned hint", UBASE + 8, PG, RW, PA, 0, 0, -EINVAL },
		{ "unaligned offset", 0, PG, VM_PROT_READ, VM_MAP_SHARED, 1, 8, -EINVAL },
		{ "addr + size wraps", ~(vaddr_t)0 - PG + 1, 2 * PG, RW, PA | FX, 0, 0, -EINVAL },
		{ "size wraps", UBASE, ~(size_t)0 - PG + 1, RW, PA, 0, 0, -EINVAL },
		{ "fixed below the map", pmap_user_min() - PG, PG, RW, PA | FX, 0, 0, -EINVAL },
		{ "fixed above the map", pmap_user_max() - PG, 2 * PG, RW, PA | FX, 0, 0, -EINVAL },
		{ "fixed in the kernel window", 0x80000000ul, PG, RW, PA | FX, 0, 0, -EINVAL },
		{ "unknown flag", 0, PG, RW, PA | 0x8000u, 0, 0, -EINVAL },
		{ "unknown prot", 0, PG, RW | 0x10u, PA, 0, 0, -EINVAL },
		{ "W without R", 0, PG, VM_PROT_WRITE, PA, 0, 0, -EINVAL },
		{ "shared and private", 0, PG, RW, PA | VM_MAP_SHARED, 0, 0, -EINVAL },
		{ "neither shared nor private", 0, PG, RW, VM_MAP_ANON, 0, 0, -EINVAL },
		{ "FIXED and FIXED_NOREPLACE", UBASE + 200 * PG, PG, RW, PA | FX | VM_MAP_FIXED_NOREPLACE, 0, 0, -EINVAL },
		{ "anon with an object", 0, PG, RW, PA, 1, 0, -EINVAL },
		{ "anon with an offset", 0, PG, RW, PA, 0, PG, -EINVAL },
		{ "no object, not anon", 0, PG, RW, VM_MAP_PRIVATE, 0, 0, -EINVAL },
		{ "beyond the object", 0, 2 * PG, VM_PROT_READ, VM_MAP_SHARED, 1, 7 * PG, -EINVAL },
		{ "object offset wraps", 0, PG, VM_PROT_READ, VM_MAP_SHARED, 1, ~0ull - PG + 1, -EINVAL },
		{ "device on anon memory", 0, PG, RW, SA | VM_MAP_DEVICE, 0, 0, -EINVAL },
		{ "device on an anon object", 0, PG, RW, VM_MAP_SHARED | VM_MAP_DEVICE, 1, 0, -EINVAL },
		{ "device and uncached", 0, PG, RW, VM_MAP_SHARED | VM_MAP_DEVICE | VM_MAP_UNCACHED, 3, 0, -EINVAL },
		{ "physical object private", 0, PG, VM_PROT_READ, VM_MAP_PRIVATE, 3, 0, -EINVAL },
		{ "device private", 0, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_DEVICE, 3, 0, -EINVAL },
		{ "alignment too small", 0, PG, RW, PA | VM_MAP_ALIGNED(5), 0, 0, -EINVAL },
		{ "alignment too large", 0, PG, RW, PA | VM_MAP_ALIGNED(31), 0, 0, -EINVAL },
		{ "fixed addr misaligned", UBASE + 3 * PG, PG, RW, PA | FX | VM_MAP_ALIGNED(16), 0, 0, -EINVAL },
		{ "shared W on a read-only object", 0, PG, RW, VM_MAP_SHARED, 2, 0, -EACCES },
		{ "X on a read-write object", 0, PG, VM_PROT_READ | VM_PROT_EXEC, VM_MAP_SHARED, 3, 0, -EACCES },
		{ "W+X in a W^X map", 0, PG, VM_PROT_ALL, PA, 0, 0, -EACCES },
		{ "NOREPLACE over an entry", UBASE + PG, PG, RW, PA | VM_MAP_FIXED_NOREPLACE, 0, 0, -EEXIST },
		{ "larger than the map", 0, pmap_user_max() - pmap_user_min() + PG, RW, PA, 0, 0, -ENOMEM },
	};

	const struct bad_range bad_ranges[] = {
		{ "size 0", UBASE, 0, RW, -EINVAL, -EINVAL },
		{ "unaligned addr", UBASE + 8, PG, RW, -EINVAL, -EINVAL },
		{ "unaligned size", UBASE, PG - 8, RW, -EINVAL, -EINVAL },
		{ "wraps", ~(vaddr_t)0 - PG + 1, 2 * PG, RW, -EINVAL, -EINVAL },
		{ "below the map", pmap_user_min() - PG, 2 * PG, RW, -EINVAL, -EINVAL },
		{ "above the map", pmap_user_max() - PG, 2 * PG, RW, -EINVAL, -EINVAL },
		{ "unknown prot", UBASE, PG, 0x9u, 0, -EINVAL },
		{ "W without R", UBASE, PG, VM_PROT_WRITE, 0, -EINVAL },
		{ "W+X in a W^X map", UBASE, PG, VM_PROT_ALL, 0, -EACCES },
		{ "beyond maxprot", UBASE + 16 * PG, PG, RW, 0, -EACCES },
		{ "a hole", UBASE, 12 * PG, VM_PROT_READ, 0, -ENOMEM },
	};

	leak_start(&l);
	phys = page_alloc_contig(4, 0, PAGE_ZERO);
	KT_ASSERT(phys != NULL);
	objs[1] = vm_object_anon_create(8 * PG);
	objs[2] = vm_object_pager_create(8 * PG, VM_PROT_READ | VM_PROT_EXEC,
	    &ro_pager, NULL);
	objs[3] = vm_object_phys_create(page_to_pa(phys), 4 * PG,
	    VM_PROT_READ | VM_PROT_WRITE);
	KT_ASSERT(objs[1] != NULL && objs[2] != NULL && objs[3] != NULL);
	m = vm_map_create(VM_MAPF_WXORX);
	KT_ASSERT(m != NULL);
	/* Some entries to keep: anon, a hole, a read-only object. */
	KT_EXPECT_EQ(vm_mmap(m, UBASE, 4 * PG, RW, PA | FX, NULL, 0), UBASE);
	KT_EXPECT_EQ(vm_mmap(m, UBASE + 8 * PG, 4 * PG, VM_PROT_READ,
	    VM_MAP_PRIVATE | VM_MAP_NOINHERIT | FX, objs[1], 0),
	    UBASE + 8 * PG);
	KT_EXPECT_EQ(vm_mmap(m, UBASE + 16 * PG, 2 * PG, VM_PROT_READ,
	    VM_MAP_SHARED | FX, objs[2], 2 * PG), UBASE + 16 * PG);
	vm_map_activate(m);
	uwrite(UBASE + PG, 42);
	KT_EXPECT_EQ(uread(UBASE + 16 * PG), cookie(2 * PG, 77));
	snap_entries(m, before);
	KT_EXPECT_EQ(before->n, 3);

	for (i = 0; i < sizeof(bad_mmaps) / sizeof(bad_mmaps[0]); i++) {
		const struct bad_mmap *b = &bad_mmaps[i];
		long got = vm_mmap(m, b->addr, b->size, b->prot, b->flags,
		    objs[b->obj], b->offset);
		if (got != b->want)
			KT_FAIL("mmap %s: %ld, want %ld", b->what, got, b->want);
		EXPECT_UNCHANGED(m, before);
	}
	for (i = 0; i < sizeof(bad_ranges) / sizeof(bad_ranges[0]); i++) {
		const struct bad_range *b = &bad_ranges[i];
		int got;
		if (b->want_unmap != 0) {
			got = vm_munmap(m, b->addr, b->size);
			if (got != b->want_unmap)
				KT_FAIL("munmap %s: %d, want %d", b->what, got,
				    b->want_unmap);
			EXPECT_UNCHANGED(m, before);
		}
		got = vm_mprotect(m, b->addr, b->size, b->prot);
		if (got != b->want_protect)
			KT_FAIL("mprotect %s: %d, want %d", b->what, got,
			    b->want_protect);
		EXPECT_UNCHANGED(m, before);
	}
	/* Fork into itself, into a non-empty map, from the kernel map. */
	KT_EXPECT_EQ(vm_map_copy(m, m), -EINVAL);
	m2 = vm_map_create(0);
	KT_ASSERT(m2 != NULL);
	KT_EXPECT_EQ(vm_mmap(m2, 0, PG, RW, PA, NULL, 0), UBASE);
	KT_EXPECT_EQ(vm_map_copy(m2, m), -EINVAL);
	/* A W^X child of a parent that allows W+X. */
	vm_map_t m3 = vm_map_create(VM_MAPF_WXORX);
	KT_ASSERT(m3 != NULL);
	KT_EXPECT_EQ(vm_map_copy(m3, m2), -EINVAL);
	KT_EXPECT_EQ(nentries(m3), 0);
	vm_map_destroy(m3);
	if (vm_map_kernel() != NULL) {
		KT_EXPECT_EQ(vm_map_copy(m2, vm_map_kernel()), -EINVAL);
		KT_EXPECT_EQ(vm_map_copy(vm_map_kernel(), m), -EINVAL);
	}
	EXPECT_UNCHANGED(m, before);
	/* Faults: nothing there, no permission, user access rules. */
	KT_EXPECT_EQ(vm_fault(m, UBASE + 5 * PG, HAL_FAULT_READ), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, UBASE + 8 * PG, HAL_FAULT_WRITE), -EACCES);
	KT_EXPECT_EQ(vm_fault(m, UBASE, HAL_FAULT_EXEC), -EACCES);
	KT_EXPECT_EQ(vm_fault(m, UBASE, HAL_FAULT_EXEC | HAL_FAULT_USER),
	    -EACCES);
	KT_EXPECT_EQ(vm_fault(m, UBASE - PG, HAL_FAULT_READ), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, pmap_user_max(), HAL_FAULT_READ), -EFAULT);
	if (vm_map_kernel() != NULL) {
		vaddr_t kmin, kmax;
		vm_map_window(vm_map_kernel(), &kmin, &kmax);
		KT_EXPECT_EQ(vm_fault(vm_map_kernel(), kmin,
		    HAL_FAULT_READ | HAL_FAULT_USER), -EACCES);
	}
	/* The entries' content survived. */
	KT_EXPECT_EQ(uread(UBASE + PG), 42);
	/* Bad object constructors. */
	KT_EXPECT(vm_object_anon_create(0) == NULL);
	KT_EXPECT(vm_object_anon_create(PG + 1) == NULL);
	KT_EXPECT(vm_object_anon_create(VM_OBJECT_MAX_SIZE + PG) == NULL);
	KT_EXPECT(vm_object_phys_create(8, PG, VM_PROT_READ) == NULL);
	KT_EXPECT(vm_object_phys_create(0, PG, 0x10) == NULL);
	KT_EXPECT(vm_object_pager_create(PG, VM_PROT_READ, NULL, NULL) == NULL);
	KT_EXPECT(vm_map_create(0x100) == NULL);

	vm_map_activate(NULL);
	vm_map_destroy(m2);
	vm_map_destroy(m);
	for (i = 1; i < 4; i++)
		vm_object_release(objs[i]);
	page_free_contig(phys, 4);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Splitting and merging.                                              */

KTEST(map, clip_merge)
{
	struct leak_snap l;
	struct vm_map_entry_info ei;
	vm_object_t o;
	vm_map_t m;
	vaddr_t a = UBASE + 64 * PG;

	leak_start(&l);
	m = vm_map_create(0);
	o = vm_object_anon_create(32 * PG);
	KT_ASSERT(m != NULL && o != NULL);
	KT_EXPECT_EQ(vm_mmap(m, a, 16 * PG, RW, PA | FX, NULL, 0), (long)a);
	vm_map_activate(m);
	for (unsigned i = 0; i < 16; i++)
		uwrite(a + i * PG, cookie(i, 9));
	/* mprotect the middle: three entries. */
	KT_EXPECT_EQ(vm_mprotect(m, a + 4 * PG, 4 * PG, VM_PROT_READ), 0);
	KT_EXPECT_EQ(nentries(m), 3);
	KT_ASSERT(vm_map_lookup(m, a + 5 * PG, &ei));
	KT_EXPECT_EQ(ei.start, a + 4 * PG);
	KT_EXPECT_EQ(ei.end, a + 8 * PG);
	KT_EXPECT_EQ(ei.prot, VM_PROT_READ);
	KT_EXPECT_EQ(hal_probe_write64(a + 5 * PG, 1), -EFAULT);
	KT_EXPECT_EQ(uread(a + 5 * PG), cookie(5, 9));
	/* Back to RW: one entry again; writes work, data kept. */
	KT_EXPECT_EQ(vm_mprotect(m, a + 4 * PG, 4 * PG, RW), 0);
	KT_EXPECT_EQ(nentries(m), 1);
	uwrite(a + 5 * PG, 55);
	KT_EXPECT_EQ(uread(a + 5 * PG), 55);
	/* mprotect to the same prot: nothing changes, nothing splits. */
	KT_EXPECT_EQ(vm_mprotect(m, a + PG, PG, RW), 0);
	KT_EXPECT_EQ(nentries(m), 1);
	/* PROT_NONE hides the pages, keeps them. */
	KT_EXPECT_EQ(vm_mprotect(m, a, 2 * PG, VM_PROT_NONE), 0);
	KT_EXPECT_EQ(hal_probe_write64(a, 1), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, a, HAL_FAULT_READ), -EACCES);
	KT_EXPECT_EQ(vm_mprotect(m, a, 2 * PG, RW), 0);
	KT_EXPECT_EQ(uread(a), cookie(0, 9));
	/* munmap the middle: two entries; the anons of the hole are gone. */
	struct vm_map_stats ms;
	vm_map_stats(m, &ms);
	KT_EXPECT_EQ(ms.anons, 16);
	KT_EXPECT_EQ(vm_munmap(m, a + 6 * PG, 3 * PG), 0);
	KT_EXPECT_EQ(nentries(m), 2);
	vm_map_stats(m, &ms);
	KT_EXPECT_EQ(ms.anons, 13);
	/* Fill the hole: the three merge. */
	KT_EXPECT_EQ(vm_mmap(m, a + 6 * PG, 3 * PG, RW, PA | FX, NULL, 0),
	    (long)(a + 6 * PG));
	KT_EXPECT_EQ(nentries(m), 1);
	KT_EXPECT_EQ(uread(a + 7 * PG), 0);
	/* FIXED replacement in the middle with another prot: three. */
	KT_EXPECT_EQ(vm_mmap(m, a + 2 * PG, 2 * PG, VM_PROT_READ, PA | FX,
	    NULL, 0), (long)(a + 2 * PG));
	KT_EXPECT_EQ(nentries(m), 3);
	KT_EXPECT_EQ(uread(a + 2 * PG), 0);
	KT_EXPECT_EQ(uread(a + PG), cookie(1, 9));
	/* One mprotect over all three: one entry. */
	KT_EXPECT_EQ(vm_mprotect(m, a, 16 * PG, VM_PROT_READ), 0);
	KT_EXPECT_EQ(nentries(m), 1);
	/* Object entries merge only at contiguous offsets. */
	vaddr_t b = UBASE + 256 * PG;
	KT_EXPECT_EQ(vm_mmap(m, b, 4 * PG, RW, VM_MAP_SHARED | FX, o, 0),
	    (long)b);
	KT_EXPECT_EQ(vm_mmap(m, b + 4 * PG, 4 * PG, RW, VM_MAP_SHARED | FX, o,
	    4 * PG), (long)(b + 4 * PG));
	KT_EXPECT_EQ(nentries(m), 2);
	KT_EXPECT_EQ(vm_object_refs(o), 2);	/* merged: one entry's ref */
	KT_EXPECT_EQ(vm_mmap(m, b + 8 * PG, 4 * PG, RW, VM_MAP_SHARED | FX, o,
	    16 * PG), (long)(b + 8 * PG));
	KT_EXPECT_EQ(nentries(m), 3);
	KT_EXPECT_EQ(vm_object_refs(o), 3);
	/* Split an object entry: one more reference; unmap: fewer. */
	KT_EXPECT_EQ(vm_munmap(m, b + 2 * PG, PG), 0);
	KT_EXPECT_EQ(vm_object_refs(o), 4);
	KT_ASSERT(vm_map_lookup(m, b + 3 * PG, &ei));
	KT_EXPECT_EQ(ei.offset, 3 * PG);
	KT_EXPECT_EQ(vm_munmap(m, b, 16 * PG), 0);
	KT_EXPECT_EQ(vm_object_refs(o), 1);
	KT_EXPECT(vm_map_is_valid(m));
	vm_map_activate(NULL);
	vm_map_destroy(m);
	vm_object_release(o);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* -ENOMEM everywhere: failure injection.                              */

KTEST(map, enomem_unchanged)
{
	static struct entry_snap *before = &mt_snap_before;
	struct leak_snap l;
	unsigned enomem = 0, ok = 0;

	leak_start(&l);
	for (unsigned n = 1; n <= 6; n++) {
		vm_map_t m = vm_map_create(0), c;
		vaddr_t a = UBASE + 16 * PG;
		KT_ASSERT(m != NULL);
		KT_EXPECT_EQ(vm_mmap(m, a, 16 * PG, RW, PA | FX, NULL, 0),
		    (long)a);
		vm_map_activate(m);
		for (unsigned i = 0; i < 16; i++)
			uwrite(a + i * PG, cookie(i, n));
		for (unsigned round = 0; round < 8; round++) {
			long r;
			snap_entries(m, before);
			vm_debug_set_fail_every(n);
			switch (round) {
			case 0:	/* FIXED over the middle: a split */
				r = vm_mmap(m, a + 4 * PG, 2 * PG, VM_PROT_READ,
				    PA | FX, NULL, 0);
				break;
			case 1:	/* munmap the middle: a split */
				r = vm_munmap(m, a + 9 * PG, PG);
				break;
			case 2:	/* mprotect inside: two splits */
				r = vm_mprotect(m, a + 11 * PG, 2 * PG,
				    VM_PROT_NONE);
				break;
			case 3:
				r = vm_mmap(m, 0, 8 * PG, RW,
				    VM_MAP_SHARED | VM_MAP_ANON, NULL, 0);
				break;
			case 4:	/* a fault that may need a new anon */
				r = vm_fault(m, a + 4 * PG, HAL_FAULT_READ);
				break;
			default:
				c = vm_map_create(0);
				if (c == NULL) {
					r = -ENOMEM;
					break;
				}
				r = vm_map_copy(c, m);
				vm_debug_set_fail_every(0);
				if (r == 0)
					KT_EXPECT(nentries(c) > 0);
				else
					KT_EXPECT_EQ(nentries(c), 0);
				vm_map_destroy(c);
				break;
			}
			vm_debug_set_fail_every(0);
			if (r == -ENOMEM) {
				enomem++;
				EXPECT_UNCHANGED(m, before);
			} else {
				ok++;
				KT_EXPECT(r >= 0);
			}
		}
		/* Faults under injection: -ENOMEM, then fine. */
		KT_EXPECT_EQ(vm_munmap(m, a, 16 * PG), 0);
		KT_EXPECT_EQ(vm_mmap(m, a, 4 * PG, RW, PA | FX, NULL, 0),
		    (long)a);
		vm_debug_set_fail_every(1);
		KT_EXPECT_EQ(vm_fault(m, a, HAL_FAULT_WRITE), -ENOMEM);
		vm_debug_set_fail_every(0);
		KT_EXPECT_EQ(vm_fault(m, a, HAL_FAULT_WRITE), 0);
		KT_EXPECT(vm_map_is_valid(m));
		vm_map_activate(NULL);
		vm_map_destroy(m);
	}
	KT_EXPECT_GT(enomem, 0);
	KT_EXPECT_GT(ok, 0);
	ktest_note("%u operations failed with -ENOMEM (map unchanged), %u "
	    "succeeded", enomem, ok);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Faults, statistics, the kernel map.                                 */

KTEST(map, fault_kinds)
{
	struct vm_fault_stats s0, d;
	struct pmap_mapping pm;
	struct leak_snap l;
	vm_map_t m;
	vaddr_t a = UBASE + 32 * PG;

	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	KT_EXPECT_EQ(vm_mmap(m, a, 4 * PG, RW, PA | FX, NULL, 0), (long)a);
	KT_EXPECT_EQ(vm_mmap(m, a + 4 * PG, PG, VM_PROT_READ | VM_PROT_EXEC,
	    PA | FX, NULL, 0), (long)(a + 4 * PG));
	vm_fault_stats(&s0);
	/* Direct faults: zero-fill by read, then the write needs nothing. */
	KT_EXPECT_EQ(vm_fault(m, a, HAL_FAULT_READ), 0);
	KT_ASSERT(pmap_extract(vm_map_pmap(m), a, &pm) == 0);
	KT_EXPECT_EQ(pm.prot, RW);	/* a lone anon: writable at once */
	KT_EXPECT(pm.user);
	KT_EXPECT_EQ(vm_fault(m, a + PG + 123, HAL_FAULT_WRITE), 0);
	/* The user may execute an X page, the kernel may not. */
	KT_EXPECT_EQ(vm_fault(m, a + 4 * PG, HAL_FAULT_EXEC), -EACCES);
	KT_EXPECT_EQ(vm_fault(m, a + 4 * PG, HAL_FAULT_EXEC | HAL_FAULT_USER),
	    0);
	KT_ASSERT(pmap_extract(vm_map_pmap(m), a + 4 * PG, &pm) == 0);
	KT_EXPECT_EQ(pm.prot, VM_PROT_READ | VM_PROT_EXEC);
	KT_EXPECT_EQ(vm_fault(m, a + 4 * PG, HAL_FAULT_WRITE), -EACCES);
	/* A second fault on a present page maps the same anon again. */
	KT_EXPECT_EQ(vm_fault(m, a, HAL_FAULT_READ), 0);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.faults, 6);
	KT_EXPECT_EQ(d.resolved, 4);
	KT_EXPECT_EQ(d.zero_fill, 3);
	KT_EXPECT_EQ(d.anon_hit, 1);
	KT_EXPECT_EQ(d.eacces, 2);
	KT_EXPECT_EQ(d.cow_copy, 0);
	/* Through the MMU: the fault hook resolves the probe. */
	vm_map_activate(m);
	vm_fault_stats(&s0);
	uwrite(a + 2 * PG, 5);
	KT_EXPECT_EQ(uread(a + 2 * PG), 5);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.zero_fill, 1);
	KT_EXPECT_EQ(d.resolved, 1);
	vm_map_activate(NULL);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

KTEST(map, kernel_map)
{
	vm_map_t k = vm_map_kernel();
	struct leak_snap l;
	vaddr_t kmin, kmax;
	long a;

	if (k == NULL) {
		ktest_note("no kernel map on this machine");
		return;
	}
	leak_start(&l);
	vm_map_window(k, &kmin, &kmax);
	vaddr_t rlo, rhi;
	pmap_kernel_map_range(&rlo, &rhi);
	KT_EXPECT(kmin >= PMAP_KERNEL_MAP_MIN && kmin == rlo && kmax == rhi);
	/* In the kernel window: outside user space, in the lower half. */
	KT_EXPECT(kmax <= pmap_user_min() || kmin >= pmap_user_max());
	KT_EXPECT(kmax <= PMAP_LOWER_END);
	a = vm_mmap(k, 0, 4 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a >= (long)kmin);
	/* Kernel accesses fault the pages in through the hook. */
	uwrite((vaddr_t)a, 0x1234);
	KT_EXPECT_EQ(uread((vaddr_t)a), 0x1234);
	KT_EXPECT_EQ(uread((vaddr_t)a + 3 * PG), 0);
	struct pmap_mapping pm;
	KT_ASSERT(pmap_extract(pmap_kernel(), (vaddr_t)a, &pm) == 0);
	KT_EXPECT(!pm.user);
	KT_EXPECT(pm.global);
	/* W^X: write a `ret` (twice: both halves), then make it R+X. */
	KT_EXPECT_EQ(vm_mprotect(k, (vaddr_t)a + PG, PG, VM_PROT_ALL), -EACCES);
	uwrite((vaddr_t)a + PG, 0x0000806700008067ull);
	KT_EXPECT_EQ(hal_probe_exec((vaddr_t)a + PG), -EFAULT);
	KT_EXPECT_EQ(vm_mprotect(k, (vaddr_t)a + PG, PG,
	    VM_PROT_READ | VM_PROT_EXEC), 0);
	KT_EXPECT_EQ(hal_probe_exec((vaddr_t)a + PG), 0);
	KT_EXPECT_EQ(hal_probe_write64((vaddr_t)a + PG, 0), -EFAULT);
	KT_EXPECT(vm_map_is_valid(k));
	KT_EXPECT_EQ(vm_munmap(k, (vaddr_t)a, 4 * PG), 0);
	KT_EXPECT_EQ(hal_probe_read64((vaddr_t)a, (uint64_t *)&a), -EFAULT);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* The reference model.                                                */

static void
model_fail(const char *msg)
{
	KT_FAIL("%s", msg);
}

KTEST(mapmodel, random_sessions)
{
	unsigned sessions = 3, steps = (unsigned)ktest_iters(150);
	unsigned ops = 0, errs = 0, enomem = 0, forks = 0;
	struct vm_fault_stats s0, d;

	vm_fault_stats(&s0);
	for (unsigned s = 0; s < sessions; s++) {
		struct mm_result res;
		struct rng r;
		rng_seed(&r, ktest_seed(), 100 + s);
		mm_session(NULL, 0, &r, steps, model_fail, &res);
		ops += res.ok_ops;
		errs += res.err_ops;
		enomem += res.enomem;
		forks += res.forks;
		if (res.failures != 0) {
			KT_FAIL("session %u (seed %llu): %u mismatches", s,
			    (unsigned long long)ktest_seed(), res.failures);
			break;
		}
	}
	fault_delta(&s0, &d);
	ktest_note("%u sessions of %u steps: %u ok, %u errors (%u -ENOMEM "
	    "injected), %u forks", sessions, steps, ops, errs, enomem, forks);
	ktest_note("faults %llu: zero %llu copy %llu reuse %llu pagein %llu "
	    "objhit %llu anonhit %llu phys %llu efault %llu eacces %llu",
	    (unsigned long long)d.faults, (unsigned long long)d.zero_fill,
	    (unsigned long long)d.cow_copy, (unsigned long long)d.cow_reuse,
	    (unsigned long long)d.pagein, (unsigned long long)d.obj_hit,
	    (unsigned long long)d.anon_hit, (unsigned long long)d.phys,
	    (unsigned long long)d.efault, (unsigned long long)d.eacces);
}

/* A fixed input: the decoder and the model agree on a known stream. */
KTEST(mapmodel, fixed_stream)
{
	static uint8_t in[2048];
	struct mm_result res;
	struct rng r;

	rng_seed(&r, 4242, 0);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(rng_next(&r) >> 56);
	mm_session(in, sizeof(in), NULL, 100000, model_fail, &res);
	KT_EXPECT_EQ(res.failures, 0);
	KT_EXPECT_GT(res.ok_ops, 0);
	ktest_note("%u steps, %u ok, %u errors", res.steps, res.ok_ops,
	    res.err_ops);
}

/* ------------------------------------------------------------------ */
/* Wrong use: each must panic with its message.                        */

KTEST_EXPLICIT(wrong_map_destroy_active, destroy_active)
{
	vm_map_t m;

	mt_prepare();
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	vm_map_activate(m);
	vm_map_destroy(m);
	KT_FAIL("destroying an active map did not panic");
}

KTEST_EXPLICIT(wrong_map_destroy_kernel, destroy_kernel)
{
	mt_prepare();
	vm_map_destroy(vm_map_kernel());
	KT_FAIL("destroying the kernel map did not panic");
}

KTEST_EXPLICIT(wrong_map_use_after_destroy, use_after_destroy)
{
	vm_map_t m;

	mt_prepare();
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	vm_map_destroy(m);
	(void)vm_mmap(m, 0, PG, RW, PA, NULL, 0);
	KT_FAIL("using a destroyed map did not panic");
}
