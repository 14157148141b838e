/*
 * Tests of the Sv39 pmap (hal/pmap.h, hal/sv39): the boot-time kernel map,
 * argument checking, leaf sizes and superpage splits, a random sequence
 * against a reference model (checked with pmap_extract and through the
 * MMU), page-table accounting and ENOMEM, and on several harts: stale
 * translations after remap, protect and kernel (global) remap, ASID
 * rollover, shootdown targeting.  The wrong-use suites at the end must
 * panic (W^X, destroying an active pmap).
 *
 * "Through the MMU" means hal_probe_read64/_write64/_exec: on riscv64 a
 * real access that may fault, on the host the software MMU with its
 * per-hart TLB (hal/host/mmu.c).  So a missing shootdown shows as a stale
 * read on both; pmap.stale_check_can_fail proves that the checks can see
 * one by switching remote flushes off on purpose.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "hal/sv39/pte.h"
#include "lib/bootargs.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "tests/probe_util.h"
#include "vm/page.h"

#if !defined(__riscv)
#include "hal/host/mmu.h"
#endif

#define PG PMAP_SIZE_4K
#define RW (PMAP_PROT_READ | PMAP_PROT_WRITE)
#define RO PMAP_PROT_READ
/*
 * User space for the tests: UBASE is its start, USLOT(k) the k-th 1 GiB
 * root slot of it, wrapping around in a small window (the low window has
 * 2 slots, the default 128), so a test that uses several slots uses
 * different ones wherever the window allows.
 */
#define UBASE pmap_user_min()
#define USLOT(k) (UBASE + ((vaddr_t)(k) % \
	((pmap_user_max() - pmap_user_min()) / PMAP_SIZE_1G)) * PMAP_SIZE_1G)

static bool
on_host(void)
{
	return strcmp(RVMM_TARGET, "host") == 0;
}

/* Scales a base count: QEMU's TCG is far slower than the host. */
static uint64_t
iters(uint64_t host, uint64_t qemu)
{
	return ktest_iters(on_host() ? host : qemu);
}

static void
frame_set(paddr_t pa, uint64_t v)
{
	ck_pr_store_64((uint64_t *)hal_phys_to_virt(pa), v);
}

static uint64_t
cookie_of(paddr_t pa)
{
	return 0xc0de000000000000ull | (pa >> 12);
}

static paddr_t
frame_new(uint64_t cookie)
{
	struct vm_page *pg = page_alloc(0, PAGE_ZERO);

	if (pg == NULL)
		return 0;
	frame_set(page_to_pa(pg), cookie);
	return page_to_pa(pg);
}

static void
frame_free(paddr_t pa)
{
	if (pa != 0)
		page_free(pa_to_page(pa), 0);
}

/* Memory accounting around a test: free frames and table pages. */
struct acct {
	size_t free_pages;
	size_t tables;
};

static void
acct_take(struct acct *a)
{
	struct pmap_stats st;

	page_drain_all();
	a->free_pages = page_free_count();
	pmap_stats(&st);
	a->tables = st.table_pages;
}

static void
acct_expect_same(const struct acct *a)
{
	struct acct b;

	acct_take(&b);
	KT_EXPECT_EQ(b.tables, a->tables);
	KT_EXPECT_EQ(b.free_pages, a->free_pages);
}

static bool
expect_map(pmap_t p, vaddr_t va, paddr_t pa, unsigned prot, uint64_t size)
{
	struct pmap_mapping m;
	int err = pmap_extract(p, va, &m);

	if (err != 0) {
		KT_FAIL("extract(%#lx): %d, expected %#llx", (unsigned long)va,
		    err, (unsigned long long)pa);
		return false;
	}
	if (m.pa != pa || m.prot != prot || m.size != size) {
		KT_FAIL("extract(%#lx): pa %#llx prot %u size %#llx, expected "
		    "%#llx %u %#llx", (unsigned long)va,
		    (unsigned long long)m.pa, m.prot,
		    (unsigned long long)m.size, (unsigned long long)pa, prot,
		    (unsigned long long)size);
		return false;
	}
	return true;
}

static void
expect_unmapped(pmap_t p, vaddr_t va)
{
	struct pmap_mapping m;
	int err = pmap_extract(p, va, &m);

	if (err != -ENOENT)
		KT_FAIL("extract(%#lx): %d (pa %#llx), expected -ENOENT",
		    (unsigned long)va, err, (unsigned long long)m.pa);
}

/*
 * Waiting harts sleep (hal_cpu_idle) rather than spin: under QEMU with more
 * harts than host cores a spinning hart holds a host core that the harts
 * doing the work (or answering a shootdown) need.  They wake on any IPI:
 * the shootdown's own, or nap_wake_all() from whoever changed the state.
 */
static void
nap_wake_all(void)
{
	hal_cpuset_t s;
	unsigned self = hal_cpu_id();

	hal_cpuset_clear(&s);
	for (unsigned i = 0; i < hal_ncpus(); i++)
		if (i != self)
			hal_cpuset_add(&s, i);
	if (hal_ncpus() > 1)
		hal_ipi_send(&s);
}

/* Sleeps while *w == v (eq), or while *w < v (!eq). */
static void
nap_while(unsigned *w, unsigned v, bool eq)
{
	for (;;) {
		hal_intr_t s = hal_intr_disable();
		unsigned x = ck_pr_load_uint(w);
		if (eq ? x != v : x >= v) {
			hal_intr_restore(s);
			break;
		}
		hal_cpu_idle();
		hal_intr_restore(s);
	}
	ck_pr_fence_load();
}

static void
nap_while_eq(unsigned *w, unsigned v)
{
	nap_while(w, v, true);
}

/* smp_barrier_wait with sleeping waiters. */
static void
nap_barrier(struct smp_barrier *b, unsigned n)
{
	unsigned sense = ck_pr_load_uint(&b->sense);

	if (ck_pr_faa_uint(&b->count, 1) == n - 1) {
		ck_pr_store_uint(&b->count, 0);
		ck_pr_fence_store();
		ck_pr_store_uint(&b->sense, sense ^ 1);
		nap_wake_all();
		return;
	}
	nap_while_eq(&b->sense, sense);
}

/* ------------------------------------------------------------------ */
/* The kernel map.                                                     */

static unsigned satp_bad;

static void
satp_worker(void *arg)
{
	uint64_t s = hal_mmu_satp_read();

	(void)arg;
	if (satp_mode(s) != SATP_MODE_SV39 || pmap_current() != pmap_kernel())
		ck_pr_inc_uint(&satp_bad);
}

KTEST(pmap, bootstrap_state)
{
	pmap_t k = pmap_kernel();
	const struct hal_mem_range *ram;
	unsigned nram = hal_mem_regions(&ram);
	struct hal_kernel_image ki;
	struct pmap_stats st;
	bool super = false;

	satp_bad = 0;
	smp_run(satp_worker, NULL);
	KT_EXPECT_EQ(satp_bad, 0);
	pmap_stats(&st);
	ktest_note("Sv39 on %u harts; ASID bits %u (hardware %u), svpbmt %s, "
	    "shootdown %s, %zu table pages", hal_ncpus(), st.asid_bits,
	    st.asid_bits_hw, st.svpbmt ? "yes" : "no",
	    pmap_shootdown_name(pmap_get_shootdown()), st.table_pages);
	KT_EXPECT(pmap_is_valid(k));

	/* Every RAM page is mapped identity, global, never user. */
	hal_kernel_image(&ki);
	for (unsigned r = 0; r < nram; r++) {
		for (paddr_t pa = ram[r].base; pa < ram[r].base + ram[r].size;
		    pa += PMAP_SIZE_2M) {
			struct pmap_mapping m;
			KT_ASSERT(pmap_extract(k, pmap_direct_va(pa), &m) == 0);
			KT_EXPECT_EQ(m.pa, pa);
			KT_EXPECT(m.global && !m.user);
			if (pa >= ki.text_start && pa < ki.data_end)
				continue;
			KT_EXPECT_EQ(m.prot, RW);
			if (m.size > PG)
				super = true;
		}
	}
	KT_EXPECT(super);
	/* The image, 4 KiB by 4 KiB, W^X. */
	for (paddr_t pa = ki.text_start; pa < ki.data_end; pa += PG) {
		unsigned want = pa < ki.rodata_start ?
		    PMAP_PROT_READ | PMAP_PROT_EXEC :
		    pa < ki.data_start ? RO : RW;
		if (!expect_map(k, pa, pa, want, PG))
			break;
	}
	/* Beyond the window and in user space: nothing. */
	expect_unmapped(k, pmap_user_min());
	expect_unmapped(k, SV39_UPPER_START);
	/* The direct map works through the MMU. */
	paddr_t f = frame_new(0x1234);
	uint64_t v = 0;
	KT_EXPECT_EQ(hal_probe_read64(pmap_direct_va(f), &v), 0);
	KT_EXPECT_EQ(v, 0x1234);
	KT_EXPECT_EQ(hal_probe_write64(pmap_direct_va(f) + 8, 77), 0);
	KT_EXPECT_EQ(((uint64_t *)hal_phys_to_virt(f))[1], 77);
	frame_free(f);
}

KTEST(pmap, pte_encoding)
{
	pte_t e = pte_make_leaf(0x80201000ull, PTE_R | PTE_W | PTE_A | PTE_D);

	KT_EXPECT(pte_valid(e) && pte_leaf(e) && !pte_table(e));
	KT_EXPECT_EQ(pte_pa(e), 0x80201000ull);
	KT_EXPECT_EQ(e, (0x80201ull << 10) | 0xc7);
	e = pte_make_table(0x1234567000ull);
	KT_EXPECT(pte_table(e));
	KT_EXPECT_EQ(pte_pa(e), 0x1234567000ull);
	KT_EXPECT_EQ(pte_pbmt(pte_pbmt_bits(PTE_PBMT_IO)), PTE_PBMT_IO);
	KT_EXPECT_EQ(pte_pbmt_bits(PTE_PBMT_IO), 1ull << 62);
	KT_EXPECT_EQ(sv39_index(0x40201000ull, 2), 1);
	KT_EXPECT_EQ(sv39_index(0x40201000ull, 1), 1);
	KT_EXPECT_EQ(sv39_index(0x40201000ull, 0), 1);
	KT_EXPECT(sv39_va_canonical(0x3fffffffffull));
	KT_EXPECT(!sv39_va_canonical(0x4000000000ull));
	KT_EXPECT(sv39_va_canonical(0xffffffc000000000ull));
	uint64_t s = satp_make(SATP_MODE_SV39, 0xabcd, 0x80400000ull);
	KT_EXPECT_EQ(s, (8ull << 60) | (0xabcdull << 44) | 0x80400ull);
	KT_EXPECT_EQ(satp_asid(s), 0xabcd);
	KT_EXPECT_EQ(satp_root_pa(s), 0x80400000ull);
	KT_EXPECT_EQ(satp_mode(s), SATP_MODE_SV39);
}

KTEST(pmap, user_range_rule)
{
	KT_EXPECT(pmap_user_range_ok(pmap_user_min(), PG));
	KT_EXPECT(pmap_user_range_ok(pmap_user_max() - PG, PG));
	KT_EXPECT(pmap_user_range_ok(pmap_user_min(),
	    pmap_user_max() - pmap_user_min()));
	KT_EXPECT(!pmap_user_range_ok(pmap_user_min() - PG, PG));
	KT_EXPECT(!pmap_user_range_ok(pmap_user_max() - PG, 2 * PG));
	KT_EXPECT(!pmap_user_range_ok(pmap_user_min() + 1, PG));
	KT_EXPECT(!pmap_user_range_ok(pmap_user_min(), 0));
	KT_EXPECT(!pmap_user_range_ok(pmap_user_min(), 100));
	KT_EXPECT(!pmap_user_range_ok(pmap_user_min(), ~(size_t)0 - 4095));
	KT_EXPECT(!pmap_user_range_ok(0x80000000ull, PG));
	/* RAM (the direct map) is outside user space. */
	const struct hal_mem_range *ram;
	unsigned n = hal_mem_regions(&ram);
	for (unsigned i = 0; i < n; i++)
		KT_EXPECT(ram[i].base + ram[i].size <= pmap_user_min() ||
		    ram[i].base >= pmap_user_max());
}

/* ------------------------------------------------------------------ */
/* Argument checking.                                                  */

KTEST(pmap, invalid_input_changes_nothing)
{
	struct acct a;
	pmap_t p, k = pmap_kernel();
	paddr_t f;

	acct_take(&a);
	p = pmap_create();
	KT_ASSERT(p != NULL);
	f = frame_new(1);
	KT_ASSERT(f != 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + 0x800, f, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f + 8, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PG, f, RW, PMAP_ENTER_2M), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RW, PMAP_ENTER_2M), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PMAP_SIZE_2M, 0x80000000ull, RW,
	    PMAP_ENTER_1G), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, 1ull << 40, f, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, 0xffffffc000000000ull, f, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, 0x80000000ull, f, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, pmap_user_max(), f, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, PMAP_PROT_WRITE, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f,
	    PMAP_PROT_WRITE | PMAP_PROT_EXEC, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, 0, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, 8, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RW, 0x1000), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RW, 3), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RW,
	    PMAP_ATTR_IO | PMAP_ATTR_NC), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, 1ull << 56, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(NULL, UBASE, f, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_enter(k, pmap_user_min(), f, RW, 0), -EINVAL);
	KT_EXPECT_EQ(pmap_remove(p, UBASE + 1, UBASE + PG), -EINVAL);
	KT_EXPECT_EQ(pmap_remove(p, UBASE + PG, UBASE), -EINVAL);
	KT_EXPECT_EQ(pmap_remove(p, 0x80000000ull, 0x80001000ull), -EINVAL);
	KT_EXPECT_EQ(pmap_remove(p, UBASE, 1ull << 40), -EINVAL);
	KT_EXPECT_EQ(pmap_protect(p, UBASE, UBASE + PG, PMAP_PROT_WRITE),
	    -EINVAL);
	KT_EXPECT_EQ(pmap_protect(p, UBASE, UBASE + PG, 16), -EINVAL);
	KT_EXPECT_EQ(pmap_remove(p, UBASE, UBASE), 0);
	struct pmap_mapping m;
	KT_EXPECT_EQ(pmap_extract(p, 1ull << 40, &m), -EINVAL);
	expect_unmapped(p, UBASE);
	KT_EXPECT_EQ(pmap_table_pages(p), 1);
	KT_EXPECT(pmap_is_valid(p));

	/* NOREPLACE on a page and inside a superpage. */
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RW, 0), 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RO, PMAP_ENTER_NOREPLACE), -EEXIST);
	expect_map(p, UBASE, f, RW, PG);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PMAP_SIZE_2M, 0x80000000ull, RO,
	    PMAP_ENTER_2M), 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PMAP_SIZE_2M + 5 * PG, f, RW,
	    PMAP_ENTER_NOREPLACE), -EEXIST);
	expect_map(p, UBASE + PMAP_SIZE_2M + 5 * PG, 0x80005000ull, RO,
	    PMAP_SIZE_2M);
	KT_EXPECT(pmap_is_valid(p));
	pmap_destroy(p);
	frame_free(f);
	acct_expect_same(&a);
}

/* ------------------------------------------------------------------ */
/* Sizes, splits, replacement.                                         */

KTEST(pmap, leaf_sizes_through_the_mmu)
{
	struct acct a;
	struct vm_page *blk;
	paddr_t b, f;
	pmap_t p;
	uint64_t v = 0;

	acct_take(&a);
	blk = page_alloc(9, PAGE_ZERO);		/* 2 MiB, 2 MiB-aligned */
	KT_ASSERT(blk != NULL);
	b = page_to_pa(blk);
	for (unsigned i = 0; i < 512; i++)
		frame_set(b + i * PG, cookie_of(b + i * PG));
	p = pmap_create();
	KT_ASSERT(p != NULL);
	f = b + 7 * PG;

	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RW, 0), 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PG, f, RO, 0), 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + 2 * PG, f, PMAP_PROT_EXEC, 0), 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PMAP_SIZE_2M, b, RW,
	    PMAP_ENTER_2M), 0);
	/* 1 GiB leaf over the GiB of RAM that holds b (RAM starts 1 GiB-aligned). */
	paddr_t g = b & ~(PMAP_SIZE_1G - 1);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PMAP_SIZE_1G, g, RO,
	    PMAP_ENTER_1G), 0);
	KT_EXPECT(pmap_is_valid(p));
	expect_map(p, UBASE, f, RW, PG);
	expect_map(p, UBASE + PMAP_SIZE_2M + 9 * PG + 16, b + 9 * PG + 16, RW,
	    PMAP_SIZE_2M);
	expect_map(p, UBASE + PMAP_SIZE_1G + (b - g) + 3 * PG, b + 3 * PG, RO,
	    PMAP_SIZE_1G);
	struct pmap_mapping m;
	KT_ASSERT(pmap_extract(p, UBASE, &m) == 0);
	KT_EXPECT(m.user && !m.global);

	pmap_activate(p);
	KT_EXPECT_EQ(hal_probe_read64(UBASE, &v), 0);
	KT_EXPECT_EQ(v, cookie_of(f));
	KT_EXPECT_EQ(hal_probe_write64(UBASE + 8, 0x55), 0);
	KT_EXPECT_EQ(((uint64_t *)hal_phys_to_virt(f))[1], 0x55);
	KT_EXPECT_EQ(hal_probe_read64(UBASE + PG, &v), 0);
	KT_EXPECT_EQ(v, cookie_of(f));
	KT_EXPECT_EQ(hal_probe_write64(UBASE + PG, 1), -EFAULT);
	KT_EXPECT_EQ(hal_probe_read64(UBASE + 2 * PG, &v), -EFAULT);	/* X only */
	KT_EXPECT_EQ(hal_probe_exec(UBASE + 2 * PG), -EFAULT);	/* U: never from S */
	KT_EXPECT_EQ(hal_probe_read64(UBASE + 3 * PG, &v), -EFAULT);
	KT_EXPECT_EQ(hal_probe_read64(UBASE + PMAP_SIZE_2M + 100 * PG, &v), 0);
	KT_EXPECT_EQ(v, cookie_of(b + 100 * PG));
	KT_EXPECT_EQ(hal_probe_read64(UBASE + PMAP_SIZE_1G + (b - g) + 200 * PG,
	    &v), 0);
	KT_EXPECT_EQ(v, cookie_of(b + 200 * PG));
	KT_EXPECT_EQ(hal_probe_write64(UBASE + PMAP_SIZE_1G + (b - g), 1),
	    -EFAULT);
	/* Unaligned probes are refused. */
	KT_EXPECT_EQ(hal_probe_read64(UBASE + 4, &v), -EINVAL);
	/* The kernel stays visible from a user pmap. */
	KT_EXPECT_EQ(hal_probe_read64(pmap_direct_va(f), &v), 0);
	KT_EXPECT_EQ(v, cookie_of(f));
	pmap_activate(pmap_kernel());
	/* ... and user space is not visible from the kernel pmap. */
	KT_EXPECT_EQ(hal_probe_read64(UBASE, &v), -EFAULT);

	KT_EXPECT_EQ(pmap_remove(p, UBASE, UBASE + 2 * PMAP_SIZE_1G), 0);
	KT_EXPECT_EQ(pmap_table_pages(p), 1);
	pmap_destroy(p);
	page_free(blk, 9);
	acct_expect_same(&a);
}

KTEST(pmap, superpage_split_and_replace)
{
	struct acct a;
	struct vm_page *blk;
	paddr_t b, f, g;
	pmap_t p;
	vaddr_t s2 = UBASE, s1 = UBASE + PMAP_SIZE_1G;
	uint64_t v;

	acct_take(&a);
	blk = page_alloc(9, PAGE_ZERO);
	KT_ASSERT(blk != NULL);
	b = page_to_pa(blk);
	g = b & ~(PMAP_SIZE_1G - 1);
	for (unsigned i = 0; i < 512; i++)
		frame_set(b + i * PG, cookie_of(b + i * PG));
	f = frame_new(0xf00d);
	p = pmap_create();
	KT_ASSERT(p != NULL && f != 0);
	pmap_activate(p);

	/* 2 MiB leaf, read through it (TLB), then a 4 KiB page inside it. */
	KT_EXPECT_EQ(pmap_enter(p, s2, b, RW, PMAP_ENTER_2M), 0);
	size_t t0 = pmap_table_pages(p);
	KT_EXPECT_EQ(hal_probe_read64(s2 + 5 * PG, &v), 0);
	KT_EXPECT_EQ(pmap_enter(p, s2 + 5 * PG, f, RO, 0), 0);
	KT_EXPECT_EQ(pmap_table_pages(p), t0 + 1);
	expect_map(p, s2 + 5 * PG, f, RO, PG);
	expect_map(p, s2 + 4 * PG, b + 4 * PG, RW, PG);
	expect_map(p, s2 + 511 * PG, b + 511 * PG, RW, PG);
	KT_EXPECT_EQ(hal_probe_read64(s2 + 5 * PG, &v), 0);
	KT_EXPECT_EQ(v, 0xf00d);	/* not the superpage's stale entry */
	KT_EXPECT_EQ(hal_probe_write64(s2 + 5 * PG, 1), -EFAULT);
	KT_EXPECT_EQ(hal_probe_read64(s2 + 6 * PG, &v), 0);
	KT_EXPECT_EQ(v, cookie_of(b + 6 * PG));
	KT_EXPECT(pmap_is_valid(p));

	/* Superpage over the table: the table goes. */
	KT_EXPECT_EQ(pmap_enter(p, s2, b, RO, PMAP_ENTER_2M), 0);
	KT_EXPECT_EQ(pmap_table_pages(p), t0);
	expect_map(p, s2 + 5 * PG, b + 5 * PG, RO, PMAP_SIZE_2M);
	KT_EXPECT_EQ(hal_probe_read64(s2 + 5 * PG, &v), 0);
	KT_EXPECT_EQ(v, cookie_of(b + 5 * PG));

	/* Partial remove and protect split it again. */
	KT_EXPECT_EQ(pmap_remove(p, s2 + 10 * PG, s2 + 20 * PG), 0);
	expect_unmapped(p, s2 + 10 * PG);
	expect_unmapped(p, s2 + 19 * PG);
	expect_map(p, s2 + 20 * PG, b + 20 * PG, RO, PG);
	expect_map(p, s2 + 9 * PG, b + 9 * PG, RO, PG);
	KT_EXPECT_EQ(hal_probe_read64(s2 + 12 * PG, &v), -EFAULT);
	KT_EXPECT_EQ(pmap_protect(p, s2, s2 + PG, PMAP_PROT_EXEC), 0);
	expect_unmapped(p, s2);		/* R|X & X-only of an R page: nothing */
	KT_EXPECT(pmap_is_valid(p));

	/* 1 GiB leaf; a 4 KiB page inside splits it twice. */
	KT_EXPECT_EQ(pmap_enter(p, s1, g, RW, PMAP_ENTER_1G), 0);
	t0 = pmap_table_pages(p);
	KT_EXPECT_EQ(hal_probe_read64(s1 + (b - g) + 3 * PG, &v), 0);
	KT_EXPECT_EQ(v, cookie_of(b + 3 * PG));
	vaddr_t in = s1 + (b - g) + 3 * PG;
	KT_EXPECT_EQ(pmap_enter(p, in, f, RW, 0), 0);
	KT_EXPECT_EQ(pmap_table_pages(p), t0 + 2);
	expect_map(p, in, f, RW, PG);
	expect_map(p, in + PG, b + 4 * PG, RW, PG);
	expect_map(p, s1 + (b - g) + PMAP_SIZE_2M, b + PMAP_SIZE_2M, RW,
	    PMAP_SIZE_2M);
	expect_map(p, s1, g, RW, PMAP_SIZE_2M);
	KT_EXPECT_EQ(hal_probe_read64(in, &v), 0);
	KT_EXPECT_EQ(v, 0xf00d);
	/* Protect a range that cuts 2 MiB leaves of the split GiB. */
	KT_EXPECT_EQ(pmap_protect(p, s1 + PMAP_SIZE_2M - 2 * PG,
	    s1 + 2 * PMAP_SIZE_2M + 2 * PG, RO), 0);
	expect_map(p, s1 + PMAP_SIZE_2M - 3 * PG, g + PMAP_SIZE_2M - 3 * PG,
	    RW, PG);
	expect_map(p, s1 + PMAP_SIZE_2M - 2 * PG, g + PMAP_SIZE_2M - 2 * PG,
	    RO, PG);
	expect_map(p, s1 + PMAP_SIZE_2M, g + PMAP_SIZE_2M, RO, PMAP_SIZE_2M);
	expect_map(p, s1 + 2 * PMAP_SIZE_2M + PG, g + 2 * PMAP_SIZE_2M + PG,
	    RO, PG);
	expect_map(p, s1 + 2 * PMAP_SIZE_2M + 2 * PG,
	    g + 2 * PMAP_SIZE_2M + 2 * PG, RW, PG);
	KT_EXPECT(pmap_is_valid(p));
	/* 1 GiB over all that. */
	KT_EXPECT_EQ(pmap_enter(p, s1, g, RO, PMAP_ENTER_1G), 0);
	KT_EXPECT_EQ(pmap_table_pages(p), t0);
	KT_EXPECT_EQ(hal_probe_read64(in, &v), 0);
	KT_EXPECT_EQ(v, cookie_of(b + 3 * PG));
	KT_EXPECT(pmap_is_valid(p));

	pmap_activate(pmap_kernel());
	pmap_destroy(p);
	frame_free(f);
	page_free(blk, 9);
	acct_expect_same(&a);
}

/* ------------------------------------------------------------------ */
/* Random operations against a reference model.                        */

#define RM_PAGES 1024		/* two 2 MiB chunks */
#define RM_CHUNK 512

struct rm_page {
	paddr_t pa;
	uint8_t prot;		/* 0: unmapped */
	uint8_t big;		/* part of a 2 MiB leaf */
};

static struct rm_page rm[RM_PAGES];
static const unsigned rm_prots[] = {
	RO, RW, PMAP_PROT_READ | PMAP_PROT_EXEC, PMAP_PROT_ALL, PMAP_PROT_EXEC,
};

static void
rm_demote_partial(unsigned s, unsigned e)
{
	for (unsigned c = s / RM_CHUNK; c * RM_CHUNK < e; c++) {
		if (!rm[c * RM_CHUNK].big)
			continue;
		if (s <= c * RM_CHUNK && e >= (c + 1) * RM_CHUNK)
			continue;
		for (unsigned k = 0; k < RM_CHUNK; k++)
			rm[c * RM_CHUNK + k].big = 0;
	}
}

/* Checks pages [s, e) against the model; through the MMU too if asked. */
static unsigned
rm_check(pmap_t p, vaddr_t base, unsigned s, unsigned e, bool mmu,
    unsigned stride)
{
	unsigned bad = 0;

	for (unsigned i = s; i < e && bad < 5; i += stride) {
		vaddr_t va = base + (vaddr_t)i * PG;
		struct pmap_mapping m;
		int err = pmap_extract(p, va, &m);
		uint64_t v = 0;

		if (rm[i].prot == 0) {
			if (err != -ENOENT) {
				KT_FAIL("page %u: mapped (pa %#llx), model says "
				    "not", i, (unsigned long long)m.pa);
				bad++;
			}
		} else if (err != 0 || m.pa != rm[i].pa ||
		    m.prot != rm[i].prot ||
		    m.size != (rm[i].big ? PMAP_SIZE_2M : PG) || !m.user) {
			KT_FAIL("page %u: extract %d pa %#llx prot %u size %#llx, "
			    "model pa %#llx prot %u big %u", i, err,
			    (unsigned long long)m.pa, m.prot,
			    (unsigned long long)m.size,
			    (unsigned long long)rm[i].pa, rm[i].prot, rm[i].big);
			bad++;
		}
		if (!mmu)
			continue;
		err = hal_probe_read64(va, &v);
		if (rm[i].prot & PMAP_PROT_READ) {
			if (err != 0 || v != cookie_of(rm[i].pa)) {
				KT_FAIL("page %u: read through the MMU: %d %#llx, "
				    "expected %#llx", i, err,
				    (unsigned long long)v,
				    (unsigned long long)cookie_of(rm[i].pa));
				bad++;
			}
		} else if (err != -EFAULT) {
			KT_FAIL("page %u: read through the MMU did not fault "
			    "(%d, %#llx)", i, err, (unsigned long long)v);
			bad++;
		}
		if (rm[i].prot != 0) {
			err = hal_probe_write64(va, cookie_of(rm[i].pa));
			if ((err == 0) != ((rm[i].prot & PMAP_PROT_WRITE) != 0)) {
				KT_FAIL("page %u: write through the MMU: %d with "
				    "prot %u", i, err, rm[i].prot);
				bad++;
			}
		}
	}
	return bad;
}

KTEST(pmap, random_against_model)
{
	struct acct a;
	struct vm_page *blk[2];
	paddr_t bpa[2];
	struct rng r;
	pmap_t p;
	vaddr_t base = USLOT(2);
	uint64_t nops = iters(700, 120);
	unsigned full_every = on_host() ? 4 : 24;
	uint64_t counts[4] = { 0 };

	acct_take(&a);
	for (int i = 0; i < 2; i++) {
		blk[i] = page_alloc(9, 0);
		KT_ASSERT(blk[i] != NULL);
		bpa[i] = page_to_pa(blk[i]);
		for (unsigned k = 0; k < 512; k++)
			frame_set(bpa[i] + k * PG, cookie_of(bpa[i] + k * PG));
	}
	p = pmap_create();
	KT_ASSERT(p != NULL);
	memset(rm, 0, sizeof(rm));
	rng_seed(&r, ktest_seed(), 0x9a9);
	pmap_activate(p);
	for (uint64_t op = 0; op < nops && ktest_failures() == 0; op++) {
		unsigned kind = (unsigned)rng_below(&r, 10);
		unsigned prot = rm_prots[rng_below(&r, 5)];
		unsigned s, e;
		int err;

		if (kind < 4) {		/* 4 KiB enter */
			s = (unsigned)rng_below(&r, RM_PAGES);
			e = s + 1;
			paddr_t pa = bpa[rng_below(&r, 2)] +
			    rng_below(&r, 512) * PG;
			err = pmap_enter(p, base + (vaddr_t)s * PG, pa, prot, 0);
			KT_EXPECT_EQ(err, 0);
			rm_demote_partial(s, e);
			rm[s] = (struct rm_page){ pa, (uint8_t)prot, 0 };
			counts[0]++;
		} else if (kind == 4) {	/* 2 MiB enter */
			unsigned c = (unsigned)rng_below(&r, 2);
			paddr_t pa = bpa[rng_below(&r, 2)];
			s = c * RM_CHUNK;
			e = s + RM_CHUNK;
			err = pmap_enter(p, base + (vaddr_t)s * PG, pa, prot,
			    PMAP_ENTER_2M);
			KT_EXPECT_EQ(err, 0);
			for (unsigned k = 0; k < RM_CHUNK; k++)
				rm[s + k] = (struct rm_page){ pa + k * PG,
				    (uint8_t)prot, 1 };
			counts[1]++;
		} else {		/* remove or protect a range */
			s = (unsigned)rng_below(&r, RM_PAGES);
			unsigned len = 1 + (unsigned)rng_below(&r,
			    rng_below(&r, 3) == 0 ? 700 : 12);
			e = s + len > RM_PAGES ? RM_PAGES : s + len;
			rm_demote_partial(s, e);
			if (kind < 8) {
				err = pmap_remove(p, base + (vaddr_t)s * PG,
				    base + (vaddr_t)e * PG);
				for (unsigned i = s; i < e; i++)
					rm[i] = (struct rm_page){ 0, 0, 0 };
				counts[2]++;
			} else {
				unsigned pp = rng_below(&r, 6) == 0 ? 0 : prot;
				if (pp == PMAP_PROT_EXEC && rng_below(&r, 2))
					pp = RO;
				err = pmap_protect(p, base + (vaddr_t)s * PG,
				    base + (vaddr_t)e * PG, pp);
				for (unsigned i = s; i < e; i++) {
					unsigned np = rm[i].prot & pp;
					if (!(np & (PMAP_PROT_READ |
					    PMAP_PROT_EXEC)))
						rm[i] = (struct rm_page){ 0, 0, 0 };
					else
						rm[i].prot = (uint8_t)np;
				}
				counts[3]++;
			}
			KT_EXPECT_EQ(err, 0);
		}
		/* The pages touched, through the MMU; now and then all. */
		unsigned lo = s > 2 ? s - 2 : 0, hi = e + 2 > RM_PAGES ?
		    RM_PAGES : e + 2;
		rm_check(p, base, lo, hi, true, hi - lo > 64 ? 7 : 1);
		if (op % full_every == 0) {
			rm_check(p, base, 0, RM_PAGES, on_host(),
			    1);
			KT_EXPECT(pmap_is_valid(p));
		}
	}
	if (!on_host())
		rm_check(p, base, 0, RM_PAGES, true, 1);
	KT_EXPECT(pmap_is_valid(p));
	pmap_activate(pmap_kernel());
	ktest_note("%llu ops: %llu 4K enters, %llu 2M enters, %llu removes, "
	    "%llu protects; %zu table pages at the end", (unsigned long long)nops,
	    (unsigned long long)counts[0], (unsigned long long)counts[1],
	    (unsigned long long)counts[2], (unsigned long long)counts[3],
	    pmap_table_pages(p));
	pmap_destroy(p);
	for (int i = 0; i < 2; i++)
		page_free(blk[i], 9);
	acct_expect_same(&a);
}

/* ------------------------------------------------------------------ */
/* Accounting and failure.                                             */

KTEST(pmap, destroy_frees_every_table)
{
	struct acct a;
	pmap_t p[3];
	struct rng r;

	acct_take(&a);
	rng_seed(&r, ktest_seed(), 3);
	for (int k = 0; k < 3; k++) {
		p[k] = pmap_create();
		KT_ASSERT(p[k] != NULL);
		for (int i = 0; i < 200; i++) {
			/* Anywhere but UBASE's slot (its 1 GiB leaf below). */
			vaddr_t va = USLOT(1) + rng_below(&r, (pmap_user_max() -
			    USLOT(1)) / PG) * PG;
			KT_EXPECT_EQ(pmap_enter(p[k], va, 0x80000000ull +
			    rng_below(&r, 1000) * PG, RW, 0), 0);
		}
		KT_EXPECT_EQ(pmap_enter(p[k], UBASE, 0x80000000ull, RO,
		    PMAP_ENTER_1G), 0);
		KT_EXPECT_EQ(pmap_enter(p[k], UBASE + PG, 0x80000000ull, RO, 0),
		    0);
		KT_EXPECT(pmap_table_pages(p[k]) > 100);
		KT_EXPECT(pmap_is_valid(p[k]));
	}
	for (int k = 0; k < 3; k++)
		pmap_destroy(p[k]);
	acct_expect_same(&a);
}

KTEST(pmap, enomem_leaves_nothing)
{
	struct acct a;
	pmap_t p;
	unsigned enomem = 0;

	acct_take(&a);
	page_set_fail_every(1);
	KT_EXPECT(pmap_create() == NULL);
	page_set_fail_every(0);
	p = pmap_create();
	KT_ASSERT(p != NULL);

	/* An enter that needs two table pages, with every n-th allocation
	 * failing: either it works or nothing changed. */
	for (unsigned n = 1; n <= 4; n++) {
		vaddr_t va = USLOT(n) + 7 * PG;
		for (unsigned t = 0; t < 3; t++) {
			page_set_fail_every(n);
			int err = pmap_enter(p, va, 0x80000000ull, RW, 0);
			page_set_fail_every(0);
			if (err == -ENOMEM) {
				enomem++;
				expect_unmapped(p, va);
				KT_EXPECT_EQ(pmap_table_pages(p), 1);
			} else {
				KT_EXPECT_EQ(err, 0);
				KT_EXPECT_EQ(pmap_table_pages(p), 3);
				KT_EXPECT_EQ(pmap_remove(p, va, va + PG), 0);
			}
			KT_EXPECT(pmap_is_valid(p));
		}
	}
	KT_EXPECT_GE(enomem, 4);

	/* Splits: remove and protect inside a 1 GiB leaf. */
	KT_EXPECT_EQ(pmap_enter(p, UBASE, 0x80000000ull, RW, PMAP_ENTER_1G), 0);
	page_set_fail_every(1);
	KT_EXPECT_EQ(pmap_remove(p, UBASE + PG, UBASE + 2 * PG), -ENOMEM);
	KT_EXPECT_EQ(pmap_protect(p, UBASE + PMAP_SIZE_2M, UBASE +
	    2 * PMAP_SIZE_2M, RO), -ENOMEM);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + 3 * PG, 0x80000000ull, RW, 0),
	    -ENOMEM);
	page_set_fail_every(0);
	expect_map(p, UBASE + PG, 0x80001000ull, RW, PMAP_SIZE_1G);
	expect_map(p, UBASE + PMAP_SIZE_2M, 0x80200000ull, RW, PMAP_SIZE_1G);
	KT_EXPECT_EQ(pmap_table_pages(p), 1);
	/* A remove that needs no split works even with no memory at all. */
	page_set_fail_every(1);
	KT_EXPECT_EQ(pmap_remove(p, UBASE, UBASE + PMAP_SIZE_1G), 0);
	page_set_fail_every(0);
	expect_unmapped(p, UBASE);
	KT_EXPECT(pmap_is_valid(p));
	pmap_destroy(p);
	acct_expect_same(&a);
	ktest_note("%u enters failed with ENOMEM and left nothing behind",
	    enomem);
}

/* ------------------------------------------------------------------ */
/* Multi-hart: strict rounds.                                          */

/*
 * A round: the readers touch the page (so their TLBs hold the
 * translation, with write permission for the protect case); barrier; the
 * writer changes the mapping; barrier; every reader must see the change
 * at once (the new frame's cookie; a fault for a write once the write
 * permission is gone); barrier.
 *
 * Pair segments run many rounds between one writer and one reader, the
 * pair changing each segment so that every hart plays both parts; the
 * other harts sleep with the pmap inactive, and the pair too waits
 * asleep, so QEMU's few host cores go to whoever has work and a round is
 * cheap even when several emulators share the machine.  Broadcast rounds follow: every hart
 * reads every round and the writer rotates, so each shootdown reaches
 * every other hart.
 */
enum strict_mode { STRICT_REMAP, STRICT_PROTECT, STRICT_KERNEL };

#define STRICT_FRAMES 8

struct strict_cfg {
	enum strict_mode mode;
	pmap_t p;
	vaddr_t va;
	unsigned segments;	/* pair segments */
	unsigned seg_rounds;	/* rounds per pair segment */
	unsigned bcast_rounds;	/* broadcast rounds after the segments */
	paddr_t frames[STRICT_FRAMES];
	bool skip_remote;	/* the deliberate bug (broadcast, writer cpu 0) */
	unsigned seg_done;	/* (A) pair segments finished */
	unsigned checks;	/* (A) reader checks made */
	unsigned stale;		/* (A) stale observations */
	unsigned faults;	/* (A) reads that faulted */
};

static struct strict_cfg scfg;
static struct smp_barrier sbar = SMP_BARRIER_INIT;

/*
 * The pair barrier: a generation count, not a sense bit, because the next
 * pair reuses it while a member of the last one may not have seen its
 * release yet (a sense bit could flip back under it).
 */
static struct {
	unsigned count;		/* (A) */
	unsigned gen;		/* (A) */
} pbar;

static void
sync_all(void)
{
	nap_barrier(&sbar, hal_ncpus());
}

/* The other member of the running pair (set before each segment). */
static unsigned pair_of[HAL_MAX_CPUS];

static void
sync_pair(void)
{
	unsigned gen = ck_pr_load_uint(&pbar.gen);

	if (ck_pr_faa_uint(&pbar.count, 1) == 1) {
		hal_cpuset_t s;
		ck_pr_store_uint(&pbar.count, 0);
		ck_pr_fence_store();
		ck_pr_store_uint(&pbar.gen, gen + 1);
		hal_cpuset_clear(&s);
		hal_cpuset_add(&s, pair_of[hal_cpu_id()]);
		hal_ipi_send(&s);
		return;
	}
	nap_while_eq(&pbar.gen, gen);
}

static void
set_skip(const struct strict_cfg *c, bool on)
{
	if (c->skip_remote)
		pmap_debug_skip_remote(on);
}

/* Round number g: the page holds cookie g before it, g + 1 after. */
static void
strict_round(struct strict_cfg *c, uint64_t g, bool writer, bool reader,
    void (*sync)(void))
{
	unsigned self = hal_cpu_id();
	paddr_t cur = c->frames[g % STRICT_FRAMES];
	paddr_t next = c->frames[(g + 1) % STRICT_FRAMES];
	uint64_t v = 0;
	int err;

	if (reader) {
		err = hal_probe_read64(c->va, &v);
		if ((err != 0 || v != g) && !c->skip_remote)
			KT_FAIL("round %llu cpu %u: before: %d %#llx",
			    (unsigned long long)g, self, err,
			    (unsigned long long)v);
		if (c->mode == STRICT_PROTECT &&
		    hal_probe_write64(c->va + 8, self) != 0 && !c->skip_remote)
			KT_FAIL("round %llu cpu %u: write to RW page faulted",
			    (unsigned long long)g, self);
	}
	sync();
	if (writer) {
		set_skip(c, true);
		if (c->mode == STRICT_PROTECT) {
			KT_EXPECT_EQ(pmap_protect(c->p, c->va, c->va + PG, RO),
			    0);
		} else {
			frame_set(next, g + 1);
			/* Remove then enter; the kernel case replaces. */
			if (c->mode == STRICT_REMAP)
				KT_EXPECT_EQ(pmap_remove(c->p, c->va,
				    c->va + PG), 0);
			KT_EXPECT_EQ(pmap_enter(c->p, c->va, next, RW, 0), 0);
		}
		set_skip(c, false);
	}
	sync();
	if (reader) {
		ck_pr_inc_uint(&c->checks);
		if (c->mode == STRICT_PROTECT) {
			err = hal_probe_write64(c->va + 8, 0xbad);
			if (err == 0)
				ck_pr_inc_uint(&c->stale);
			else if (err != -EFAULT)
				KT_FAIL("write after protect: %d", err);
		} else {
			err = hal_probe_read64(c->va, &v);
			if (err != 0)
				ck_pr_inc_uint(&c->faults);
			else if (v != g + 1)
				ck_pr_inc_uint(&c->stale);
		}
	}
	sync();
	if (c->mode != STRICT_PROTECT)
		return;
	if (writer) {
		/* No write after the protect may have landed. */
		if (((uint64_t *)hal_phys_to_virt(cur))[1] == 0xbad &&
		    !c->skip_remote)
			KT_FAIL("round %llu: a write landed after protect",
			    (unsigned long long)g);
		/* Back to RW on the next frame, with the next cookie. */
		set_skip(c, true);
		frame_set(next, g + 1);
		KT_EXPECT_EQ(pmap_remove(c->p, c->va, c->va + PG), 0);
		KT_EXPECT_EQ(pmap_enter(c->p, c->va, next, RW, 0), 0);
		set_skip(c, false);
	}
	sync();
}

/* Strict rounds hold SUM set (ut_sum_hold, tests/probe_util.h). */
#define sum_hold(on) ut_sum_hold(on)

static void
strict_worker(void *arg)
{
	struct strict_cfg *c = arg;
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	bool kernel = c->mode == STRICT_KERNEL;
	uint64_t g = 0;

	sum_hold(true);
	for (unsigned s = 0; s < c->segments && n > 1; s++) {
		unsigned a = s % n, b = (a + 1 + (s / n) % (n - 1)) % n;
		if (self != a && self != b) {
			nap_while(&c->seg_done, s + 1, false);
			g += c->seg_rounds;
			continue;
		}
		pair_of[self] = self == a ? b : a;
		if (!kernel)
			pmap_activate(c->p);
		sync_pair();
		for (unsigned r = 0; r < c->seg_rounds; r++, g++)
			strict_round(c, g, self == a, self == b, sync_pair);
		if (!kernel)
			pmap_activate(pmap_kernel());
		sync_pair();
		if (self == a) {
			ck_pr_store_uint(&c->seg_done, s + 1);
			nap_wake_all();
		}
	}
	if (!kernel)
		pmap_activate(c->p);
	sync_all();
	for (unsigned r = 0; r < c->bcast_rounds; r++, g++) {
		unsigned w = c->skip_remote ? 0 : r % n;
		strict_round(c, g, self == w, !c->skip_remote || self != 0,
		    sync_all);
	}
	if (!kernel)
		pmap_activate(pmap_kernel());
	sum_hold(false);
}

/*
 * Runs pair segments (about `pair_rounds` rounds in all) then
 * `bcast_rounds` broadcast rounds; returns the stale observations.
 */
static unsigned
strict_run(enum strict_mode mode, vaddr_t va, unsigned pair_rounds,
    unsigned bcast_rounds, bool skip)
{
	struct strict_cfg *c = &scfg;
	pmap_t k = pmap_kernel();
	unsigned n = hal_ncpus();

	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->va = va;
	c->segments = n > 1 ? 2 * n : 0;
	c->seg_rounds = c->segments ? (pair_rounds + c->segments - 1) /
	    c->segments : 0;
	c->bcast_rounds = bcast_rounds;
	c->skip_remote = skip;
	for (int i = 0; i < STRICT_FRAMES; i++) {
		c->frames[i] = frame_new(0);
		if (c->frames[i] == 0) {
			KT_FAIL("no memory");
			return 0;
		}
	}
	if (mode == STRICT_KERNEL) {
		c->p = k;
		KT_EXPECT_EQ(pmap_enter(k, va, c->frames[0], RW, 0), 0);
	} else {
		c->p = pmap_create();
		if (c->p == NULL) {
			KT_FAIL("no memory");
			return 0;
		}
		/* A neighbour keeps the table alive: per-page flushes. */
		KT_EXPECT_EQ(pmap_enter(c->p, va + PG, c->frames[1], RO, 0), 0);
		KT_EXPECT_EQ(pmap_enter(c->p, va, c->frames[0], RW, 0), 0);
	}
	smp_run(strict_worker, c);
	if (mode == STRICT_KERNEL) {
		KT_EXPECT_EQ(pmap_remove(k, va, va + PG), 0);
	} else {
		KT_EXPECT(pmap_is_valid(c->p));
		pmap_destroy(c->p);
	}
	for (int i = 0; i < STRICT_FRAMES; i++)
		frame_free(c->frames[i]);
	return ck_pr_load_uint(&c->stale);
}

static void
strict_note(const char *what, unsigned stale)
{
	const struct strict_cfg *c = &scfg;

	ktest_note("%s: %u pair rounds (%u segments), %u broadcast rounds on "
	    "%u harts: %u checks, %u stale, %u faults", what,
	    c->segments * c->seg_rounds, c->segments, c->bcast_rounds,
	    hal_ncpus(), c->checks, stale, c->faults);
}

KTEST(pmap, remap_seen_by_every_hart)
{
	struct acct a;
	struct pmap_stats s0, s1;

	acct_take(&a);
	pmap_stats(&s0);
	unsigned stale = strict_run(STRICT_REMAP, UBASE,
	    (unsigned)iters(600, 1200), (unsigned)iters(60, 24), false);
	pmap_stats(&s1);
	KT_EXPECT_EQ(stale, 0);
	KT_EXPECT_EQ(scfg.faults, 0);
	strict_note("remap", stale);
	ktest_note("%llu remote requests, %llu local flushes, %llu deferred "
	    "flushes", (unsigned long long)(s1.sum.remote_requests -
	    s0.sum.remote_requests), (unsigned long long)(s1.sum.local_flushes -
	    s0.sum.local_flushes), (unsigned long long)(s1.sum.lazy_flushes -
	    s0.sum.lazy_flushes));
	acct_expect_same(&a);
}

KTEST(pmap, protect_seen_by_every_hart)
{
	struct acct a;

	acct_take(&a);
	unsigned stale = strict_run(STRICT_PROTECT, UBASE,
	    (unsigned)iters(400, 600), (unsigned)iters(40, 16), false);
	KT_EXPECT_EQ(stale, 0);
	strict_note("protect", stale);
	acct_expect_same(&a);
}

/* A hole in the kernel window: 2 MiB-aligned, unmapped, below RAM. */
/*
 * A free 2 MiB of the kernel window, outside RAM and the kernel map: in
 * [1 GiB, 2 GiB) with the default window, below the kernel map with a
 * window that covers [1 GiB, 2 GiB).
 */
static vaddr_t
kernel_hole(void)
{
	struct pmap_mapping m;
	vaddr_t lo = pmap_user_min() >= 0x80000000ull ? 0x40000000ull :
	    PMAP_KERNEL_MAP_MIN - PMAP_SIZE_1G;

	for (vaddr_t va = lo; va < lo + PMAP_SIZE_1G; va += PMAP_SIZE_2M)
		if (pmap_extract(pmap_kernel(), va, &m) == -ENOENT &&
		    pmap_extract(pmap_kernel(), va + PMAP_SIZE_2M - PG, &m) ==
		    -ENOENT)
			return va;
	return 0;
}

KTEST(pmap, kernel_remap_is_global)
{
	struct acct a;
	pmap_t k = pmap_kernel(), u;
	vaddr_t va = kernel_hole();
	paddr_t f = frame_new(0x77);
	uint64_t v;

	KT_ASSERT(va != 0 && f != 0);
	acct_take(&a);
	/* A user pmap made before the kernel mapping sees it (shared slots). */
	u = pmap_create();
	KT_ASSERT(u != NULL);
	KT_EXPECT_EQ(pmap_enter(k, va, f, RW, 0), 0);
	struct pmap_mapping m;
	KT_EXPECT(pmap_extract(k, va, &m) == 0 && m.global && !m.user);
	pmap_activate(u);
	KT_EXPECT_EQ(hal_probe_read64(va, &v), 0);
	KT_EXPECT_EQ(v, 0x77);
	pmap_activate(k);
	KT_EXPECT(pmap_is_valid(u));
	KT_EXPECT_EQ(pmap_remove(k, va, va + PG), 0);
	KT_EXPECT_EQ(hal_probe_read64(va, &v), -EFAULT);
	KT_EXPECT(pmap_is_valid(u));
	KT_EXPECT(pmap_is_valid(k));

	unsigned stale = strict_run(STRICT_KERNEL, va,
	    (unsigned)iters(400, 400), (unsigned)iters(40, 16), false);
	KT_EXPECT_EQ(stale, 0);
	KT_EXPECT_EQ(scfg.faults, 0);
	strict_note("kernel remap", stale);
	KT_EXPECT(pmap_is_valid(u));
	pmap_destroy(u);
	KT_EXPECT(pmap_is_valid(k));
	acct_expect_same(&a);
	frame_free(f);
}

/*
 * The same rounds with remote flushes switched off: the readers must see
 * stale values, else the checks above could never fail.
 */
KTEST(pmap, stale_check_can_fail)
{
	unsigned rounds = 24;

	if (hal_ncpus() < 2) {
		ktest_note("needs 2 harts: skipped");
		return;
	}
	unsigned stale = strict_run(STRICT_REMAP, UBASE, 0, rounds, true);
	unsigned wstale = strict_run(STRICT_PROTECT, UBASE, 0, rounds, true);
	vaddr_t kva = kernel_hole();
	unsigned kstale = kva ? strict_run(STRICT_KERNEL, kva, 0, rounds,
	    true) : 0;
	unsigned checks = rounds * (hal_ncpus() - 1);
	ktest_note("remote flushes off: stale in %u of %u remap reads, %u of "
	    "%u writes after protect, %u of %u kernel remap reads", stale,
	    checks, wstale, checks, kstale, checks);
	KT_EXPECT_GT(stale, 0);
	KT_EXPECT_GT(wstale, 0);
	KT_EXPECT_GT(kstale, 0);
}

/* ------------------------------------------------------------------ */
/* Multi-hart: concurrent remaps.                                      */

/*
 * The workers remap their own page again and again (remove, enter the
 * next frame of a ring, publish the generation) and read the others':
 * a read must show at least the generation published before it started
 * (or fault, in the gap between a remove and its enter).  On QEMU only
 * 2 harts work (spinning harts beyond the host's cores only slow
 * everything down); the rest hold every page in their TLB, sleep, and at
 * the end must see every page's last generation exactly.
 */
#define HAM_RING 16

struct ham_cfg {
	pmap_t p;
	uint64_t iters;
	unsigned workers;
	uint64_t published[HAL_MAX_CPUS];	/* (A) generation mapped */
	paddr_t ring[HAL_MAX_CPUS][HAM_RING];
	unsigned finished, all_done;		/* (A) */
	unsigned stale, faults, reads;		/* (A) */
};

static struct ham_cfg hcfg;

static vaddr_t
ham_va(unsigned cpu)
{
	return USLOT(3) + (vaddr_t)cpu * 2 * PG;
}

static void
ham_check_all(struct ham_cfg *c)
{
	unsigned self = hal_cpu_id();

	for (unsigned j = 0; j < hal_ncpus(); j++) {
		uint64_t v = 0, want = (uint64_t)j << 32 |
		    ck_pr_load_64(&c->published[j]);
		int err = hal_probe_read64(ham_va(j), &v);
		if (err != 0 || v != want) {
			ck_pr_inc_uint(&c->stale);
			KT_FAIL("cpu %u at the end: page of cpu %u: %d %#llx, "
			    "expected %#llx", self, j, err,
			    (unsigned long long)v, (unsigned long long)want);
		}
	}
}

static void
ham_worker(void *arg)
{
	struct ham_cfg *c = arg;
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	struct rng r;
	unsigned faults = 0, reads = 0;

	rng_seed(&r, ktest_seed(), 100 + self);
	pmap_activate(c->p);
	ham_check_all(c);		/* every page now in this TLB */
	sync_all();
	if (self < c->workers) {
		for (uint64_t g = 1; g <= c->iters; g++) {
			paddr_t f = c->ring[self][g % HAM_RING];
			frame_set(f, (uint64_t)self << 32 | g);
			KT_EXPECT_EQ(pmap_remove(c->p, ham_va(self),
			    ham_va(self) + PG), 0);
			KT_EXPECT_EQ(pmap_enter(c->p, ham_va(self), f, RW, 0),
			    0);
			ck_pr_store_64(&c->published[self], g);
			for (int k = 0; k < 4; k++) {
				unsigned j = (unsigned)rng_below(&r, n);
				uint64_t pub = ck_pr_load_64(&c->published[j]);
				uint64_t v;
				int err = hal_probe_read64(ham_va(j), &v);
				reads++;
				if (err != 0) {
					faults++;	/* in j's remap gap */
					continue;
				}
				if ((v >> 32) != j ||
				    (v & 0xffffffffu) < pub) {
					ck_pr_inc_uint(&c->stale);
					KT_FAIL("cpu %u read %#llx at cpu %u's "
					    "page, published %llu", self,
					    (unsigned long long)v, j,
					    (unsigned long long)pub);
				}
			}
		}
		if (ck_pr_faa_uint(&c->finished, 1) == c->workers - 1) {
			ck_pr_store_uint(&c->all_done, 1);
			nap_wake_all();
		}
	}
	nap_while_eq(&c->all_done, 0);
	sync_all();
	ham_check_all(c);
	ck_pr_add_uint(&c->faults, faults);
	ck_pr_add_uint(&c->reads, reads);
	sync_all();
	pmap_activate(pmap_kernel());
}

KTEST(pmap, concurrent_remaps)
{
	struct acct a;
	struct ham_cfg *c = &hcfg;
	unsigned n = hal_ncpus();

	acct_take(&a);
	memset(c, 0, sizeof(*c));
	c->p = pmap_create();
	KT_ASSERT(c->p != NULL);
	c->workers = on_host() ? n : n < 2 ? n : 2;
	c->iters = iters(300, 100);
	for (unsigned i = 0; i < n; i++) {
		for (int k = 0; k < HAM_RING; k++) {
			c->ring[i][k] = frame_new((uint64_t)i << 32);
			KT_ASSERT(c->ring[i][k] != 0);
		}
		KT_EXPECT_EQ(pmap_enter(c->p, ham_va(i), c->ring[i][0], RW, 0), 0);
		/* A neighbour per hart keeps the tables alive. */
		KT_EXPECT_EQ(pmap_enter(c->p, ham_va(i) + PG, c->ring[i][1], RO,
		    0), 0);
	}
	smp_run(ham_worker, c);
	KT_EXPECT_EQ(c->stale, 0);
	KT_EXPECT(pmap_is_valid(c->p));
	pmap_destroy(c->p);
	for (unsigned i = 0; i < n; i++)
		for (int k = 0; k < HAM_RING; k++)
			frame_free(c->ring[i][k]);
	acct_expect_same(&a);
	ktest_note("%llu remaps on each of %u workers (%u harts): %u reads, "
	    "%u stale, %u faults (in a remap's gap)",
	    (unsigned long long)c->iters, c->workers, n, c->reads, c->stale,
	    c->faults);
}

/* ------------------------------------------------------------------ */
/* ASIDs.                                                              */

#define ROLL_MAX 64

struct roll_cfg {
	unsigned npmaps;
	pmap_t p[ROLL_MAX];
	paddr_t f[ROLL_MAX];
	uint64_t iters;
	unsigned foreign;	/* (A) */
};

static struct roll_cfg rcfg;

static uint64_t
roll_cookie(unsigned k)
{
	return 0x5a5a000000000000ull | k;
}

static void
roll_worker(void *arg)
{
	struct roll_cfg *c = arg;
	unsigned self = hal_cpu_id();
	struct rng r;

	rng_seed(&r, ktest_seed(), 200 + self);
	for (uint64_t i = 0; i < c->iters; i++) {
		unsigned k = (unsigned)rng_below(&r, c->npmaps);
		uint64_t v = 0;
		pmap_activate(c->p[k]);
		int err = hal_probe_read64(UBASE, &v);
		if (err != 0 || v != roll_cookie(k)) {
			if (ck_pr_faa_uint(&c->foreign, 1) < 5)
				KT_FAIL("cpu %u in pmap %u read %d %#llx", self,
				    k, err, (unsigned long long)v);
		}
		if (rng_below(&r, 8) == 0) {
			/* A shootdown while others may run it or hold its ASID. */
			KT_EXPECT_EQ(pmap_protect(c->p[k], UBASE, UBASE + PG,
			    RO), 0);
			KT_EXPECT_EQ(pmap_enter(c->p[k], UBASE, c->f[k], RW, 0),
			    0);
		}
	}
	pmap_activate(pmap_kernel());
}

static void
roll_run(unsigned bits, unsigned npmaps)
{
	struct roll_cfg *c = &rcfg;
	struct pmap_stats s0, s1;

	memset(c, 0, sizeof(*c));
	c->npmaps = npmaps;
	c->iters = iters(800, 800 / hal_ncpus() < 60 ? 60 :
	    800 / hal_ncpus());
	for (unsigned k = 0; k < npmaps; k++) {
		c->p[k] = pmap_create();
		c->f[k] = frame_new(roll_cookie(k));
		KT_ASSERT(c->p[k] != NULL && c->f[k] != 0);
		KT_EXPECT_EQ(pmap_enter(c->p[k], UBASE, c->f[k], RW, 0), 0);
	}
	pmap_debug_set_asid_bits(bits);
	pmap_stats(&s0);
	smp_run(roll_worker, c);
	pmap_stats(&s1);
	KT_EXPECT_EQ(c->foreign, 0);
	ktest_note("asid_bits %u (in use %u), %u pmaps, %u harts: %llu "
	    "switches, %llu ASIDs assigned, %llu rollovers, %llu full flushes "
	    "on switch, %llu deferred ASID flushes", bits, s1.asid_bits, npmaps,
	    hal_ncpus(), (unsigned long long)(s1.sum.switches - s0.sum.switches),
	    (unsigned long long)(s1.sum.asid_allocs - s0.sum.asid_allocs),
	    (unsigned long long)(s1.sum.rollovers - s0.sum.rollovers),
	    (unsigned long long)(s1.sum.switch_flushes -
	    s0.sum.switch_flushes),
	    (unsigned long long)(s1.sum.lazy_flushes - s0.sum.lazy_flushes));
	if (s1.asid_bits > 0 && npmaps >= (1u << s1.asid_bits))
		KT_EXPECT_GT(s1.sum.rollovers, s0.sum.rollovers);
	for (unsigned k = 0; k < npmaps; k++) {
		pmap_destroy(c->p[k]);
		frame_free(c->f[k]);
	}
}

KTEST(pmap, asid_rollover_cookies)
{
	struct pmap_stats st;
	struct acct a;
	unsigned n = hal_ncpus(), bits = 1;

	acct_take(&a);
	pmap_stats(&st);
	unsigned saved = st.asid_bits;
	while ((1u << bits) < n + 2)
		bits++;
	if (bits > st.asid_bits_hw) {
		ktest_note("hardware has %u ASID bits, %u needed: flush on "
		    "switch only", st.asid_bits_hw, bits);
		bits = 0;
	}
	unsigned np = bits ? 3u << bits : 8;
	if (np > ROLL_MAX)
		np = ROLL_MAX;
	roll_run(bits, np);
	roll_run(0, 8);		/* no ASIDs: flush on every switch */
	pmap_debug_set_asid_bits(saved);
	pmap_stats(&st);
	KT_EXPECT_EQ(st.asid_bits, saved);
	acct_expect_same(&a);
}

/* ------------------------------------------------------------------ */
/* Shootdown targeting.                                                */

struct tgt_cfg {
	pmap_t p;
	unsigned active;
	unsigned ops;
	unsigned done;			/* (A) */
	uint64_t remote, ipis, rfence;	/* cpu 0's deltas over the removes */
};

static struct tgt_cfg tcfg;

static void
tgt_worker(void *arg)
{
	struct tgt_cfg *c = arg;
	unsigned self = hal_cpu_id(), n = hal_ncpus();

	if (self < c->active)
		pmap_activate(c->p);
	nap_barrier(&sbar, n);
	if (self == 0) {
		for (unsigned i = 0; i < c->ops; i++) {
			struct pmap_cpu_stats a, b;
			for (unsigned k = 0; k < 16; k++)
				KT_EXPECT_EQ(pmap_enter(c->p, UBASE + k * PG,
				    0x80000000ull + k * PG, RW, 0), 0);
			pmap_cpu_stats(0, &a);
			KT_EXPECT_EQ(pmap_remove(c->p, UBASE, UBASE + 16 * PG),
			    0);
			pmap_cpu_stats(0, &b);
			c->remote += b.remote_requests - a.remote_requests;
			c->ipis += b.ipis_sent - a.ipis_sent;
			c->rfence += b.rfence_calls - a.rfence_calls;
		}
		ck_pr_store_uint(&c->done, 1);
		nap_wake_all();
	} else {
		nap_while_eq(&c->done, 0);
	}
	nap_barrier(&sbar, n);
	pmap_activate(pmap_kernel());
}

KTEST(pmap, shootdown_targets_active_harts)
{
	struct tgt_cfg *c = &tcfg;
	enum pmap_shootdown saved = pmap_get_shootdown();
	unsigned n = hal_ncpus();
	static const enum pmap_shootdown hows[] = { PMAP_SHOOTDOWN_IPI,
	    PMAP_SHOOTDOWN_RFENCE };

	for (unsigned h = 0; h < 2; h++) {
		pmap_set_shootdown(hows[h]);
		for (unsigned act = 1; act <= n; act = act < n && act * 2 > n ?
		    n : act * 2) {
			memset(c, 0, sizeof(*c));
			c->p = pmap_create();
			KT_ASSERT(c->p != NULL);
			/* A neighbour keeps the table: per-page flushes. */
			KT_EXPECT_EQ(pmap_enter(c->p, UBASE + 100 * PG,
			    0x80000000ull, RO, 0), 0);
			c->active = act;
			c->ops = 20;
			smp_run(tgt_worker, c);
			uint64_t want = (uint64_t)c->ops * (act - 1);
			KT_EXPECT_EQ(c->remote, want);
			if (hows[h] == PMAP_SHOOTDOWN_IPI)
				KT_EXPECT_EQ(c->ipis, want);
			else
				KT_EXPECT_EQ(c->ipis, 0);
			KT_EXPECT_LE(c->rfence, c->ops);
			ktest_note("%s, active on %u of %u harts: %llu remote "
			    "requests, %llu IPIs for %u removes of 16 pages",
			    pmap_shootdown_name(hows[h]), act, n,
			    (unsigned long long)c->remote,
			    (unsigned long long)c->ipis, c->ops);
			pmap_destroy(c->p);
			if (act == n)
				break;
		}
	}
	pmap_set_shootdown(saved);
}

/* ------------------------------------------------------------------ */
/* W^X, devices, fixup.                                                */

KTEST(pmap, kernel_image_is_wx)
{
	struct hal_kernel_image ki;
	uint64_t v = 0, old;

	hal_kernel_image(&ki);
	KT_EXPECT_EQ(hal_probe_read64(ki.text_start, &v), 0);
	KT_EXPECT_EQ(hal_probe_write64(ki.text_start, v), -EFAULT);
	KT_EXPECT_EQ(hal_probe_write64(ki.text_end - 8, 0), -EFAULT);
	KT_EXPECT_EQ(hal_probe_read64(ki.rodata_start, &v), 0);
	KT_EXPECT_EQ(hal_probe_write64(ki.rodata_start, v), -EFAULT);
	KT_EXPECT_EQ(hal_probe_exec(ki.rodata_start), -EFAULT);
	KT_EXPECT_EQ(hal_probe_exec(ki.ret_insn), 0);
	/* Data is writable; with a `ret` in it, still not executable. */
	KT_EXPECT_EQ(hal_probe_read64(ki.probe_word, &old), 0);
	KT_EXPECT_EQ(hal_probe_write64(ki.probe_word, 0x00008067u), 0);
	KT_EXPECT_EQ(hal_probe_exec(ki.probe_word), -EFAULT);
	KT_EXPECT_EQ(hal_probe_write64(ki.probe_word, old), 0);
	/* Nor is the direct map of RAM. */
	paddr_t f = frame_new(0x00008067u);
	KT_EXPECT_EQ(hal_probe_exec(pmap_direct_va(f)), -EFAULT);
	frame_free(f);
	/* The whole image: no page both writable and executable. */
	for (paddr_t pa = ki.text_start; pa < ki.data_end; pa += PG) {
		struct pmap_mapping m;
		KT_ASSERT(pmap_extract(pmap_kernel(), pa, &m) == 0);
		KT_EXPECT(!((m.prot & PMAP_PROT_WRITE) &&
		    (m.prot & PMAP_PROT_EXEC)));
	}
}

KTEST(pmap, svpbmt_attributes)
{
	const struct hal_mem_range *mmio;
	unsigned n = hal_mmio_regions(&mmio);
	bool sv = hal_mmu_has_svpbmt();
	const char *want = ktest_arg("expect_svpbmt");
	pmap_t p;
	uint64_t v;

	if (want != NULL)
		KT_EXPECT_EQ(sv, want[0] == '1');
	for (unsigned i = 0; i < n; i++) {
		struct pmap_mapping m;
		vaddr_t va = pmap_mmio_va(mmio[i].base);
		KT_ASSERT(pmap_extract(pmap_kernel(), va, &m) == 0);
		KT_EXPECT_EQ(m.pa, mmio[i].base);
		KT_EXPECT_EQ(m.attr, sv ? PMAP_ATTR_IO : 0);
		KT_EXPECT_EQ(pte_pbmt(m.pte), sv ? PTE_PBMT_IO : PTE_PBMT_PMA);
		KT_EXPECT_EQ(m.prot, RW);
#if !defined(__riscv)
		/* Reading the (simulated) device through its mapping works;
		 * QEMU's test finisher takes 32-bit accesses only. */
		KT_EXPECT_EQ(hal_probe_read64(va, &v), 0);
#endif
	}
	p = pmap_create();
	KT_ASSERT(p != NULL);
	paddr_t f = frame_new(0x4e43);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RW, PMAP_ATTR_NC), 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE + PG, f, RW, 0), 0);
	struct pmap_mapping m;
	KT_ASSERT(pmap_extract(p, UBASE, &m) == 0);
	KT_EXPECT_EQ(m.attr, sv ? PMAP_ATTR_NC : 0);
	KT_EXPECT_EQ(pte_pbmt(m.pte), sv ? PTE_PBMT_NC : PTE_PBMT_PMA);
	KT_ASSERT(pmap_extract(p, UBASE + PG, &m) == 0);
	KT_EXPECT_EQ(m.attr, 0);
	pmap_activate(p);
	KT_EXPECT_EQ(hal_probe_read64(UBASE, &v), 0);
	KT_EXPECT_EQ(v, 0x4e43);
	pmap_activate(pmap_kernel());
	pmap_destroy(p);
	frame_free(f);
	ktest_note("svpbmt %s, %u device ranges", sv ? "present" : "absent", n);
}

KTEST(pmap, fault_fixup)
{
	pmap_t p = pmap_create();
	paddr_t f = frame_new(9);
	hal_intr_t s;

	KT_ASSERT(p != NULL && f != 0);
	KT_EXPECT_EQ(pmap_enter(p, UBASE, f, RO, 0), 0);
	pmap_activate(p);
	s = hal_intr_disable();
	KT_EXPECT_EQ(pmap_fault_fixup(UBASE, HAL_FAULT_READ), 0);
	KT_EXPECT_EQ(pmap_fault_fixup(UBASE, HAL_FAULT_WRITE), -EFAULT);
	KT_EXPECT_EQ(pmap_fault_fixup(UBASE, HAL_FAULT_EXEC), -EFAULT);
	KT_EXPECT_EQ(pmap_fault_fixup(UBASE + PG, HAL_FAULT_READ), -EFAULT);
	KT_EXPECT_EQ(pmap_fault_fixup(pmap_direct_va(f), HAL_FAULT_WRITE), 0);
	KT_EXPECT_EQ(pmap_fault_fixup(pmap_direct_va(f),
	    HAL_FAULT_WRITE | HAL_FAULT_USER), -EFAULT);
	hal_intr_restore(s);
	pmap_activate(pmap_kernel());
	pmap_destroy(p);
	frame_free(f);
}

/* ---- wrong use: each suite must panic with the message in meson ---- */

KTEST_EXPLICIT(wrong_wx_text_write, store_to_kernel_text)
{
	struct hal_kernel_image ki;

	hal_kernel_image(&ki);
#if defined(__riscv)
	*(volatile uint64_t *)ki.text_start = 0;
#else
	(void)host_mmu_access_or_panic(ki.text_start, HAL_FAULT_WRITE, 0);
#endif
	KT_FAIL("a store to kernel text did not fault");
}

KTEST_EXPLICIT(wrong_wx_exec_data, execute_kernel_data)
{
	struct hal_kernel_image ki;

	hal_kernel_image(&ki);
#if defined(__riscv)
	*(volatile uint32_t *)ki.probe_word = 0x00008067u;	/* ret */
	__asm__ __volatile__("fence.i" ::: "memory");
	((void (*)(void))ki.probe_word)();
#else
	(void)host_mmu_access_or_panic(ki.probe_word, HAL_FAULT_EXEC, 0);
#endif
	KT_FAIL("executing kernel data did not fault");
}

KTEST_EXPLICIT(wrong_pmap_destroy_active, destroy_active)
{
	pmap_t p = pmap_create();

	pmap_activate(p);
	pmap_destroy(p);
	KT_FAIL("destroying an active pmap was not detected");
}
