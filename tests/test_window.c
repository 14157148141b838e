/*
 * test_window.c: the user address window (pmap.h section 1).
 *
 * Runs under whichever window the boot chose (bootarg uwin=low|high): the
 * rules are checked against pmap_user_min()/pmap_user_max(), and the cases
 * that only the low window [0, 2 GiB) can show (a mapping at 0x10000 or at
 * address 0) run when user space starts at 0 and say so otherwise.
 *
 * pmap_set_user_window() itself may only run before vm_boot(); its
 * validation is pmap_check_user_window(), which changes nothing and is
 * tested here directly.
 */
#include <errno.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "tests/ktest.h"
#include "tests/map_util.h"

#define GIB PMAP_SIZE_1G
#define RW (VM_PROT_READ | VM_PROT_WRITE)
#define PA (VM_MAP_PRIVATE | VM_MAP_ANON)
#define FX VM_MAP_FIXED

static bool
low_window(void)
{
	if (pmap_user_min() == 0)
		return true;
	ktest_note("user window %#llx-%#llx: the low-window case needs "
	    "uwin=low", (unsigned long long)pmap_user_min(),
	    (unsigned long long)pmap_user_max());
	return false;
}

/* ------------------------------------------------------------------ */
/* Validation.                                                         */

KTEST(pmap, user_window_check)
{
	const struct hal_mem_range *ram;
	unsigned n = hal_mem_regions(&ram);
	bool ram_low = false;

	/* The current window is valid; so are both standard layouts when
	   RAM allows (the ports' RAM is at 2 GiB and above). */
	KT_EXPECT_EQ(pmap_check_user_window(pmap_user_min(), pmap_user_max()),
	    0);
	for (unsigned i = 0; i < n; i++)
		if (ram[i].base < PMAP_USER_LOW_MAX)
			ram_low = true;
	KT_EXPECT_EQ(pmap_check_user_window(PMAP_USER_LOW_MIN,
	    PMAP_USER_LOW_MAX), ram_low ? -EINVAL : 0);
	KT_EXPECT_EQ(pmap_check_user_window(PMAP_USER_DEFAULT_MIN,
	    PMAP_USER_DEFAULT_MAX), 0);
	KT_EXPECT_EQ(pmap_check_user_window(0, GIB), 0);
	KT_EXPECT_EQ(pmap_check_user_window(PMAP_LOWER_END - GIB,
	    PMAP_LOWER_END), 0);

	/* Granularity: one root slot (1 GiB). */
	KT_EXPECT_EQ(pmap_check_user_window(PG, PMAP_USER_LOW_MAX), -EINVAL);
	KT_EXPECT_EQ(pmap_check_user_window(0, PMAP_USER_LOW_MAX - PG),
	    -EINVAL);
	KT_EXPECT_EQ(pmap_check_user_window(0, PMAP_SIZE_2M), -EINVAL);
	/* Empty, reversed, beyond the lower half, upper half. */
	KT_EXPECT_EQ(pmap_check_user_window(GIB, GIB), -EINVAL);
	KT_EXPECT_EQ(pmap_check_user_window(2 * GIB, GIB), -EINVAL);
	KT_EXPECT_EQ(pmap_check_user_window(PMAP_USER_DEFAULT_MIN,
	    PMAP_LOWER_END + GIB), -EINVAL);
	KT_EXPECT_EQ(pmap_check_user_window(PMAP_MMIO_ALIAS,
	    PMAP_MMIO_ALIAS + GIB), -EINVAL);
	KT_EXPECT_EQ(pmap_check_user_window(0, ~(vaddr_t)0 - GIB + 1),
	    -EINVAL);
	/* Any window that meets a RAM region, even by one page. */
	for (unsigned i = 0; i < n; i++) {
		vaddr_t s = ram[i].base & ~(GIB - 1);
		vaddr_t e = (ram[i].base + ram[i].size + GIB - 1) & ~(GIB - 1);
		KT_EXPECT_EQ(pmap_check_user_window(s, e), -EINVAL);
		KT_EXPECT_EQ(pmap_check_user_window(s, s + GIB), -EINVAL);
		KT_EXPECT_EQ(pmap_check_user_window(e - GIB, e), -EINVAL);
		if (s >= GIB)
			KT_EXPECT_EQ(pmap_check_user_window(0, s + GIB),
			    -EINVAL);
	}
	/* Nothing changed. */
	KT_EXPECT_EQ(pmap_check_user_window(pmap_user_min(), pmap_user_max()),
	    0);
}

KTEST(pmap, user_window_layout)
{
	const struct hal_mem_range *ram, *mmio;
	unsigned n = hal_mem_regions(&ram), nm = hal_mmio_regions(&mmio);
	vaddr_t klo, khi;
	vm_map_t k;

	KT_EXPECT(pmap_user_min() % GIB == 0 && pmap_user_max() % GIB == 0);
	KT_EXPECT(pmap_user_min() < pmap_user_max());
	KT_EXPECT(pmap_user_max() <= PMAP_LOWER_END);
	/* RAM, the kernel map and the device aliases: kernel window. */
	for (unsigned i = 0; i < n; i++) {
		KT_EXPECT(!pmap_user_range_ok(ram[i].base, PG));
		KT_EXPECT(!pmap_user_range_ok(ram[i].base + ram[i].size - PG,
		    PG));
	}
	KT_EXPECT(!pmap_user_range_ok(0x80000000ull, PG));
	pmap_kernel_map_range(&klo, &khi);
	k = vm_map_kernel();
	if (k != NULL) {
		vaddr_t kmin, kmax;
		vm_map_window(k, &kmin, &kmax);
		KT_EXPECT(kmin == klo && kmax == khi && klo < khi);
		KT_EXPECT(!pmap_user_range_ok(klo, PG));
		KT_EXPECT(!pmap_user_range_ok(khi - PG, PG));
		KT_EXPECT(khi <= pmap_user_min() || klo >= pmap_user_max());
		KT_EXPECT(khi <= PMAP_LOWER_END);
		for (unsigned i = 0; i < n; i++)
			KT_EXPECT(ram[i].base + ram[i].size <= klo);
	}
	for (unsigned i = 0; i < nm; i++) {
		paddr_t pa = mmio[i].base;
		vaddr_t va = pmap_mmio_va(pa);
		struct pmap_mapping m;
		bool in = pa >= pmap_user_min() && pa < pmap_user_max();
		KT_EXPECT_EQ(va, in ? PMAP_MMIO_ALIAS + pa : pa);
		KT_EXPECT(!pmap_user_range_ok(va, PG));
		KT_ASSERT(pmap_extract(pmap_kernel(), va, &m) == 0);
		KT_EXPECT(m.pa == pa && m.global && !m.user);
		if (in)
			KT_EXPECT_EQ(pmap_extract(pmap_kernel(), pa, &m),
			    -ENOENT);
	}
	KT_EXPECT(pmap_is_valid(pmap_kernel()));
}

/* A user pmap sees the kernel window and the device alias (shared slots)
 * and nothing of the kernel in its own window. */
KTEST(pmap, user_window_shared_slots)
{
	const struct hal_mem_range *ram, *mmio;
	unsigned nm = hal_mmio_regions(&mmio);
	pmap_t p = pmap_create();
	struct pmap_mapping m;
	paddr_t f;

	(void)hal_mem_regions(&ram);
	KT_ASSERT(p != NULL);
	KT_EXPECT_EQ(pmap_extract(p, pmap_user_min(), &m), -ENOENT);
	KT_EXPECT_EQ(pmap_extract(p, pmap_user_max() - PG, &m), -ENOENT);
	KT_ASSERT(pmap_extract(p, ram[0].base + ram[0].size - PG, &m) == 0);
	KT_EXPECT(m.global && !m.user);
	for (unsigned i = 0; i < nm; i++) {
		KT_ASSERT(pmap_extract(p, pmap_mmio_va(mmio[i].base), &m) == 0);
		KT_EXPECT_EQ(m.pa, mmio[i].base);
	}
	/* A user pmap maps user space only; the kernel's, never it. */
	f = ram[0].base + ram[0].size - PG;
	KT_EXPECT_EQ(pmap_enter(p, ram[0].base, f, PMAP_PROT_READ, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, pmap_user_max(), f, PMAP_PROT_READ, 0),
	    -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, PMAP_MMIO_ALIAS + pmap_user_min(), f,
	    PMAP_PROT_READ, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(pmap_kernel(), pmap_user_min(), f,
	    PMAP_PROT_READ, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(pmap_kernel(), pmap_user_max() - PG, f,
	    PMAP_PROT_READ, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, pmap_user_min(), f, PMAP_PROT_READ, 0), 0);
	KT_EXPECT(pmap_is_valid(p));
	KT_EXPECT_EQ(pmap_remove(p, pmap_user_min(), pmap_user_min() + PG), 0);
	KT_EXPECT_EQ(pmap_table_pages(p), 1);
#if !defined(__riscv)
	/* The simulated device page reads through the alias from a user
	   address space too (QEMU's finisher takes 32-bit accesses only). */
	pmap_activate(p);
	for (unsigned i = 0; i < nm; i++) {
		uint64_t v;
		KT_EXPECT_EQ(hal_probe_read64(pmap_mmio_va(mmio[i].base), &v),
		    0);
	}
	pmap_activate(pmap_kernel());
#endif
	pmap_destroy(p);
}

/* ------------------------------------------------------------------ */
/* Maps in the window.                                                 */

/* Non-fixed placement never returns page 0, whatever the window. */
KTEST(map, placement_never_page0)
{
	vaddr_t floor = pmap_user_min() < PG ? PG : pmap_user_min();
	struct leak_snap l;
	vm_map_t m;
	long a, b, c, d;

	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	a = vm_mmap(m, 0, PG, RW, PA, NULL, 0);
	KT_EXPECT_EQ(a, (long)floor);
	/* A hint at the window's start (0 in the low window) or below 4
	   KiB: not taken below 4 KiB. */
	b = vm_mmap(m, pmap_user_min(), PG, RW, PA, NULL, 0);
	KT_EXPECT(b >= (long)PG && b >= (long)pmap_user_min());
	KT_EXPECT(b != a);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)a, PG), 0);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)b, PG), 0);
	/* Aligned placements too: 2 MiB alignment from an empty map. */
	c = vm_mmap(m, 0, PG, RW, PA | VM_MAP_ALIGNED(21), NULL, 0);
	KT_EXPECT(c >= (long)PG && c >= (long)pmap_user_min());
	KT_EXPECT_EQ((vaddr_t)c % PMAP_SIZE_2M, 0);
	KT_EXPECT_EQ(vm_munmap(m, (vaddr_t)c, PG), 0);
	if (pmap_user_min() == 0) {
		/* Page 0 free, everything else taken up to 16 pages: the
		   search skips page 0 and goes above. */
		KT_EXPECT_EQ(vm_mmap(m, PG, 15 * PG, RW, PA | FX, NULL, 0),
		    (long)PG);
		d = vm_mmap(m, 0, PG, RW, PA, NULL, 0);
		KT_EXPECT_EQ(d, (long)(16 * PG));
		d = vm_mmap(m, 8 * PG, PG, RW, PA, NULL, 0);	/* a taken hint */
		KT_EXPECT_EQ(d, (long)(17 * PG));
	}
	KT_EXPECT(vm_map_is_valid(m));
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* A program linked at 0x10000 (or 0) maps where it was linked. */
KTEST(map, low_window_fixed_low)
{
	struct leak_snap l;
	vm_map_t m;
	uint64_t v;

	if (!low_window())
		return;
	leak_start(&l);
	m = vm_map_create(VM_MAPF_WXORX);
	KT_ASSERT(m != NULL);
	KT_EXPECT_EQ(vm_mmap(m, 0x10000, 4 * PG, RW, PA | FX, NULL, 0),
	    0x10000);
	vm_map_activate(m);
	/* Nothing at page 0 yet: a user access there faults. */
	KT_EXPECT_EQ(hal_probe_read64(0, &v), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, 0, HAL_FAULT_READ | HAL_FAULT_USER), -EFAULT);
	KT_EXPECT_EQ(vm_fault(m, 0x8, HAL_FAULT_WRITE | HAL_FAULT_USER),
	    -EFAULT);
	uwrite(0x10000, 0x1234);
	uwrite(0x13ff8, 0x5678);
	KT_EXPECT_EQ(uread(0x10000), 0x1234);
	KT_EXPECT_EQ(uread(0x13ff8), 0x5678);
	KT_EXPECT_EQ(hal_probe_read64(0x14000, &v), -EFAULT);
	/* FIXED at 0 works, and the page reads and writes. */
	KT_EXPECT_EQ(vm_mmap(m, 0, PG, RW, PA | FX, NULL, 0), 0);
	uwrite(0, 0xabcd);
	KT_EXPECT_EQ(uread(0), 0xabcd);
	struct vm_map_entry_info ei;
	KT_ASSERT(vm_map_lookup(m, 0, &ei));
	KT_EXPECT(ei.start == 0 && ei.end == PG);
	/* The top page of the window too; the kernel window is not user. */
	KT_EXPECT_EQ(vm_mmap(m, pmap_user_max() - PG, PG, RW, PA | FX, NULL,
	    0), (long)(pmap_user_max() - PG));
	uwrite(pmap_user_max() - 8, 7);
	KT_EXPECT_EQ(uread(pmap_user_max() - 8), 7);
	KT_EXPECT_EQ(vm_mmap(m, pmap_user_max(), PG, RW, PA | FX, NULL, 0),
	    -EINVAL);
	KT_EXPECT_EQ(vm_mmap(m, pmap_user_max() - PG, 2 * PG, RW, PA | FX,
	    NULL, 0), -EINVAL);
	KT_EXPECT_EQ(vm_munmap(m, 0, PG), 0);
	KT_EXPECT_EQ(hal_probe_read64(0, &v), -EFAULT);
	/* A fork (copy-on-write) keeps the low mappings where they are. */
	vm_map_t c = vm_map_create(VM_MAPF_WXORX);
	KT_ASSERT(c != NULL);
	KT_ASSERT(vm_map_copy(c, m) == 0);
	vm_map_activate(c);
	KT_EXPECT_EQ(uread(0x10000), 0x1234);
	uwrite(0x10000, 0x4321);
	KT_EXPECT_EQ(uread(0x10000), 0x4321);
	KT_EXPECT_EQ(hal_probe_read64(0, &v), -EFAULT);
	vm_map_activate(m);
	KT_EXPECT_EQ(uread(0x10000), 0x1234);
	KT_EXPECT(vm_map_is_valid(m) && vm_map_is_valid(c));
	KT_EXPECT(pmap_is_valid(vm_map_pmap(m)));
	vm_map_activate(NULL);
	vm_map_destroy(c);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* Kernel-window addresses are never user ranges. */
KTEST(map, kernel_window_not_user)
{
	const struct hal_mem_range *ram;
	unsigned n = hal_mem_regions(&ram);
	struct leak_snap l;
	vm_map_t m;

	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	for (unsigned i = 0; i < n; i++) {
		KT_EXPECT_EQ(vm_mmap(m, ram[i].base, PG, RW, PA | FX, NULL, 0),
		    -EINVAL);
		KT_EXPECT_EQ(vm_munmap(m, ram[i].base, PG), -EINVAL);
	}
	KT_EXPECT_EQ(vm_mmap(m, 0x80000000ull, PG, RW, PA | FX, NULL, 0),
	    -EINVAL);
	if (vm_map_kernel() != NULL) {
		vaddr_t kmin, kmax;
		vm_map_window(vm_map_kernel(), &kmin, &kmax);
		KT_EXPECT_EQ(vm_mmap(m, kmin, PG, RW, PA | FX, NULL, 0),
		    -EINVAL);
	}
	KT_EXPECT_EQ(vm_mmap(m, PMAP_MMIO_ALIAS, PG, RW, PA | FX, NULL, 0),
	    -EINVAL);
	/* A hint in the kernel window is ignored, not followed. */
	long a = vm_mmap(m, ram[0].base, PG, RW, PA, NULL, 0);
	KT_EXPECT(a > 0 && pmap_user_range_ok((vaddr_t)a, PG));
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Wrong use.                                                          */

KTEST_EXPLICIT(wrong_uwin_after_boot, set_after_boot)
{
	/* Even the window in force: the pmap is built, nothing may move. */
	(void)pmap_set_user_window(pmap_user_min(), pmap_user_max());
	KT_FAIL("pmap_set_user_window after vm_boot() returned");
}
