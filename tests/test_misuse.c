/*
 * test_misuse.c: the contracts the headers promise on misuse (issue 15):
 * bad arguments come back as errors, and use of a dead object, pmap or a
 * missing zone panics naming the function, instead of reading freed
 * memory or faulting with no message.
 */
#include <errno.h>

#include "hal/pmap.h"
#include "tests/ktest.h"
#include "tests/map_util.h"
#include "vm/amap.h"
#include "vm/object.h"
#include "vm/page.h"
#include "vm/zone.h"

#define PG ((vaddr_t)PAGE_SIZE)

KTEST(zone, create_rejects_bad_arguments)
{
	zone_init();
	KT_EXPECT(zone_create(NULL, 64, 0, NULL, NULL, 0) == NULL);
	KT_EXPECT(zone_create("mz", 64, 0, NULL, NULL, 0x80000000u) == NULL);
	KT_EXPECT(zone_create("mz", 64, 0, NULL, NULL, 0x8u) == NULL);
	KT_EXPECT(zone_create("mz", 0, 0, NULL, NULL, 0) == NULL);
	/* The same call with good arguments works. */
	zone_t z = zone_create("mz", 64, 0, NULL, NULL, ZONE_NOMAG);
	KT_ASSERT(z != NULL);
	void *p = zone_alloc(z, 0);
	KT_EXPECT(p != NULL);
	zone_free(z, p);
	KT_EXPECT_EQ(zone_destroy(z), 0);
}

KTEST(vmobj, object_page_how_is_optional)
{
	paddr_t pa = 0, pa2 = 0;
	enum vm_object_found how;
	vm_object_t o;

	mt_prepare();
	o = vm_object_anon_create(4 * PG);
	KT_ASSERT(o != NULL);
	KT_EXPECT_EQ(vm_object_page(o, PG, &pa, NULL), 0);
	KT_EXPECT(pa != 0);
	KT_EXPECT_EQ(vm_object_page(o, PG, &pa2, &how), 0);
	KT_EXPECT_EQ(pa2, pa);
	KT_EXPECT_EQ(how, VM_OBJPG_RESIDENT);
	vm_object_release(o);
}

KTEST_EXPLICIT(wrong_object_double_release, double_release)
{
	vm_object_t o;

	mt_prepare();
	o = vm_object_anon_create(PG);
	KT_ASSERT(o != NULL);
	vm_object_release(o);
	vm_object_release(o);
	KT_FAIL("a second release of a dead object did not panic");
}

KTEST_EXPLICIT(wrong_mmap_released_object, mmap_released)
{
	vm_object_t o;
	vm_map_t m;

	mt_prepare();
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	o = vm_object_anon_create(PG);
	KT_ASSERT(o != NULL);
	vm_object_release(o);
	(void)vm_mmap(m, 0, PG, VM_PROT_READ, VM_MAP_SHARED, o, 0);
	KT_FAIL("vm_mmap of a released object did not panic");
}

KTEST_EXPLICIT(wrong_zone_alloc_null, alloc_null)
{
	zone_init();
	(void)zone_alloc(NULL, 0);
	KT_FAIL("zone_alloc(NULL) did not panic");
}

KTEST_EXPLICIT(wrong_zone_free_stack, free_stack)
{
	uint64_t local[2] = { 0, 0 };

	zone_init();
	zone_t z = zone_create("wz", 16, 0, NULL, NULL, ZONE_DEBUG);
	KT_ASSERT(z != NULL);
	zone_free(z, &local[1]);
	KT_FAIL("zone_free of a stack address did not panic");
}

KTEST_EXPLICIT(wrong_pmap_double_destroy, double_destroy)
{
	pmap_t p = pmap_create();

	KT_ASSERT(p != NULL);
	pmap_destroy(p);
	pmap_destroy(p);
	KT_FAIL("a second pmap_destroy did not panic");
}

/*
 * A failed fault may leave the slot-table nodes on its page's path (the
 * bound fault.c section 2 states): never more than VM_SLOT_LEVELS for
 * pages under one leaf node however many faults fail, no anon, and none
 * at all once the range is unmapped.
 */
KTEST(map, failed_fault_leaves_bounded_nodes)
{
	struct leak_snap l;
	struct vm_map_stats st;
	unsigned ok = 0, failed = 0;
	vm_map_t m;
	long a;

	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	a = vm_mmap(m, 0, 64 * PG, VM_PROT_READ | VM_PROT_WRITE,
	    VM_MAP_PRIVATE | VM_MAP_ANON, NULL, 0);
	KT_ASSERT(a > 0);
	for (unsigned i = 0; i < 64; i++) {
		vm_debug_set_fail_every(1 + i % 8);
		int r = vm_fault(m, (vaddr_t)a + i * PG, VM_PROT_WRITE);
		vm_debug_set_fail_every(0);
		KT_EXPECT(r == 0 || r == -ENOMEM);
		ok += r == 0;
		failed += r == -ENOMEM;
		vm_map_stats(m, &st);
		KT_EXPECT(st.amap_nodes <= VM_SLOT_LEVELS);
		KT_EXPECT_EQ(st.anons, ok);
	}
	ktest_note("%u faults resolved, %u failed with -ENOMEM", ok, failed);
	KT_EXPECT(failed > 0);
	KT_EXPECT(ok > 0);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, 64 * PG), 0);
	vm_map_stats(m, &st);
	KT_EXPECT_EQ(st.amap_nodes, 0);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}
