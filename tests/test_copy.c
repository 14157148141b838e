/*
 * Tests of copyin, copyout and copyinstr (vm/copy.h) and of the fault
 * entry's recovery path (vm_fault_trap, hal_copy_fixup): round trips at
 * every alignment, copyout onto pages not yet faulted in, bad pointers
 * (NULL, kernel addresses, wrap-around, unmapped holes, ranges that run
 * from mapped into unmapped or read-only memory), copyinstr's three
 * answers, copy-on-write after fork in both directions, and copies on
 * every hart while one hart unmaps and remaps the range.  A kernel access
 * to user memory outside the copy routines faults (sstatus.SUM is clear):
 * the host shows it through its software MMU; wrong_copy_kernel_load
 * must panic on both targets.
 *
 * "Nothing beyond" checks: a failed copy may have written the part before
 * the faulting page (vm/copy.h); the checks verify that the rest of the
 * destination kept its fill pattern and that the copied prefix, if any,
 * is right.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "tests/map_util.h"
#include "vm/copy.h"
#include "vm/fault.h"
#include "vm/map.h"

#if !defined(__riscv)
#include "hal/host/mmu.h"
#endif

#define RW (VM_PROT_READ | VM_PROT_WRITE)
#define RO VM_PROT_READ
#define PA (VM_MAP_PRIVATE | VM_MAP_ANON)
#define FX VM_MAP_FIXED
#define FILL 0xa5

static uint8_t cbuf[4 * HAL_PAGE_SIZE] __attribute__((aligned(16)));
static uint8_t cbuf2[4 * HAL_PAGE_SIZE] __attribute__((aligned(16)));

static uint8_t
pat(size_t i, unsigned salt)
{
	return (uint8_t)(i * 7 + salt * 31 + (i >> 8));
}

/* sstatus.SUM is clear (riscv64; the host checks it in kernel_access). */
static __attribute__((unused)) bool
sum_clear(void)
{
#if defined(__riscv)
	unsigned long v;

	__asm__ __volatile__("csrr %0, sstatus" : "=r"(v));
	return (v & (1ul << 18)) == 0;
#else
	return true;
#endif
}

#if HAL_MMU

/* A fresh map with npages RW at UBASE, active on this hart. */
static vm_map_t
copy_map(size_t npages)
{
	vm_map_t m = vm_map_create(0);

	if (m == NULL)
		return NULL;
	if (vm_mmap(m, UBASE, npages * PG, RW, PA | FX, NULL, 0) !=
	    (long)UBASE) {
		vm_map_destroy(m);
		return NULL;
	}
	vm_map_activate(m);
	return m;
}

static void
copy_unmap(vm_map_t m)
{
	vm_map_activate(NULL);
	vm_map_destroy(m);
}

/* ------------------------------------------------------------------ */
/* Round trips.                                                        */

KTEST(copy, round_trip_every_alignment)
{
	static const size_t lens[] = { 1, 7, 8, 15, 16, 31, 33, 100, 4095,
	    4096, 4097, 3 * 4096 + 5 };
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	vm_map_t m;
	unsigned bad = 0;

	leak_start(&l);
	m = copy_map(4);
	KT_ASSERT(m != NULL);
	vm_fault_stats(&s0);
	/* Not yet faulted in: copyout fills the pages (zero-fill). */
	for (size_t i = 0; i < 4 * PG; i++)
		cbuf[i] = pat(i, 1);
	KT_EXPECT_EQ(vm_copyout(UBASE, cbuf, 4 * PG), 0);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.zero_fill, 4);
	KT_EXPECT_EQ(uread(UBASE + PG), ((uint64_t *)cbuf)[PG / 8]);
	KT_EXPECT_EQ(uread(UBASE + 4 * PG - 8), ((uint64_t *)cbuf)[PG / 2 - 1]);
	for (unsigned salt = 2; salt < 6; salt++) {
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			size_t len = lens[li];
			for (size_t uo = 0; uo < 9; uo++) {
				size_t ko = (salt * 3 + uo) % 9;
				if (uo + len > 4 * PG || ko + len > 4 * PG)
					continue;
				for (size_t i = 0; i < len; i++)
					cbuf[ko + i] = pat(i, salt + uo);
				if (vm_copyout(UBASE + uo, cbuf + ko, len) != 0)
					bad++;
				memset(cbuf2, FILL, len + 32);
				if (vm_copyin(cbuf2 + 8 + ko, UBASE + uo, len) !=
				    0)
					bad++;
				if (memcmp(cbuf2 + 8 + ko, cbuf + ko, len) != 0)
					bad++;
				if (cbuf2[8 + ko - 1] != FILL ||
				    cbuf2[8 + ko + len] != FILL)
					bad++;
			}
		}
	}
	KT_EXPECT_EQ(bad, 0);
	/* len 0 is 0, whatever the address. */
	KT_EXPECT_EQ(vm_copyin(cbuf, 0, 0), 0);
	KT_EXPECT_EQ(vm_copyout((vaddr_t)cbuf, cbuf, 0), 0);
	KT_EXPECT(sum_clear());
	copy_unmap(m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Bad pointers.                                                       */

KTEST(copy, bad_pointers)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	uint64_t kword = 0x1234;
	vm_map_t m;
	vaddr_t hole = UBASE + 2 * PG, ro = UBASE + 4 * PG;

	leak_start(&l);
	/* Pages 0-1 RW, 2-3 a hole, 4 read-only, 5 RW. */
	m = copy_map(2);
	KT_ASSERT(m != NULL);
	KT_ASSERT(vm_mmap(m, ro, 2 * PG, RW, PA | FX, NULL, 0) == (long)ro);
	memset(cbuf, 0x11, 2 * PG);
	KT_ASSERT(vm_copyout(ro, cbuf, PG) == 0);
	KT_ASSERT(vm_mprotect(m, ro, PG, RO) == 0);
	vm_fault_stats(&s0);

	/* Outside user space: refused before any access. */
	KT_EXPECT_EQ(vm_copyin(cbuf, 0, 8), -EFAULT);
	KT_EXPECT_EQ(vm_copyout(0, cbuf, 8), -EFAULT);
	KT_EXPECT_EQ(vm_copyin(cbuf, (vaddr_t)&kword, 8), -EFAULT);
	KT_EXPECT_EQ(vm_copyout((vaddr_t)&kword, cbuf, 8), -EFAULT);
	KT_EXPECT_EQ(kword, 0x1234);
	KT_EXPECT_EQ(vm_copyin(cbuf, UBASE - 8, 16), -EFAULT);
	KT_EXPECT_EQ(vm_copyin(cbuf, (vaddr_t)-8, 16), -EFAULT);
	KT_EXPECT_EQ(vm_copyin(cbuf, UBASE, (size_t)-1), -EFAULT);
	KT_EXPECT_EQ(vm_copyout(UBASE + 8, cbuf, (size_t)0 - 8), -EFAULT);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.faults, 0);

	/* Unmapped hole: recovered, not resolved, nothing written. */
	memset(cbuf2, FILL, sizeof(cbuf2));
	KT_EXPECT_EQ(vm_copyin(cbuf2, hole, 16), -EFAULT);
	KT_EXPECT_EQ(cbuf2[0], FILL);
	KT_EXPECT_EQ(vm_copyout(hole + PG - 8, cbuf, 8), -EFAULT);
	/* From mapped into the hole: the mapped part at most. */
	for (size_t i = 0; i < PG; i++)
		cbuf[i] = pat(i, 9);
	KT_EXPECT_EQ(vm_copyout(hole - PG / 2, cbuf, PG), -EFAULT);
	KT_EXPECT_EQ(vm_copyin(cbuf2, hole - 100, 300), -EFAULT);
	for (size_t i = 0; i < 100; i++)
		if (cbuf2[i] != FILL && cbuf2[i] != cbuf[PG / 2 - 100 + i]) {
			KT_FAIL("byte %zu of the mapped part: %#x", i, cbuf2[i]);
			break;
		}
	for (size_t i = 100; i < 300 + 64; i++)
		if (cbuf2[i] != FILL) {
			KT_FAIL("byte %zu beyond the mapped part written", i);
			break;
		}
	/* The mapped part of the copyout is there (in order, up to the hole). */
	KT_EXPECT_EQ(vm_copyin(cbuf2, hole - PG / 2, PG / 2), 0);
	KT_EXPECT_EQ(memcmp(cbuf2, cbuf, PG / 2), 0);

	/* Read-only page: copyin fine, copyout -EFAULT, the page unchanged. */
	KT_EXPECT_EQ(vm_copyin(cbuf2, ro, 64), 0);
	KT_EXPECT_EQ(cbuf2[63], 0x11);
	memset(cbuf, 0x77, 2 * PG);
	KT_EXPECT_EQ(vm_copyout(ro + 8, cbuf, 8), -EFAULT);
	/* From the read-only page into the RW one: fails at once. */
	KT_EXPECT_EQ(vm_copyout(ro + PG - 8, cbuf, 16), -EFAULT);
	KT_EXPECT_EQ(vm_copyin(cbuf2, ro, PG), 0);
	for (size_t i = 0; i < PG; i++)
		if (cbuf2[i] != 0x11) {
			KT_FAIL("read-only page changed at %zu", i);
			break;
		}
	/* ... and wrote nothing into the RW page after it either. */
	KT_EXPECT_EQ(vm_copyin(cbuf2, ro + PG, 8), 0);
	KT_EXPECT_EQ(cbuf2[0], 0);
	fault_delta(&s0, &d);
	KT_EXPECT_GE(d.recovered, 6);
	KT_EXPECT(sum_clear());

	/* No user map on this hart: every user address fails. */
	vm_map_activate(NULL);
	KT_EXPECT_EQ(vm_copyin(cbuf2, UBASE, 8), -EFAULT);
	KT_EXPECT_EQ(vm_copyout(UBASE, cbuf, 8), -EFAULT);
	KT_EXPECT_EQ(vm_copyinstr((char *)cbuf2, UBASE, 8), -EFAULT);
	KT_EXPECT(sum_clear());
	copy_unmap(m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* copyinstr.                                                          */

/* Writes s (with its NUL) at user address va. */
static void
put_str(vaddr_t va, const char *s)
{
	KT_EXPECT_EQ(vm_copyout(va, s, strlen(s) + 1), 0);
}

KTEST(copy, copyinstr)
{
	static const char word[] = "hello, user";
	char *d = (char *)cbuf2;
	struct leak_snap l;
	vm_map_t m;
	vaddr_t end;

	leak_start(&l);
	m = copy_map(2);
	KT_ASSERT(m != NULL);
	end = UBASE + 2 * PG;		/* unmapped from here */

	put_str(UBASE + 100, word);
	memset(d, FILL, 64);
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE + 100, 64), 0);
	KT_EXPECT_STREQ(d, word);
	KT_EXPECT_EQ((uint8_t)d[sizeof(word)], FILL);
	/* Exactly enough room, one byte short, none. */
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE + 100, sizeof(word)), 0);
	KT_EXPECT_STREQ(d, word);
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE + 100, sizeof(word) - 1),
	    -ENAMETOOLONG);
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE + 100, 0), -ENAMETOOLONG);
	/* The empty string. */
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE + PG + 200, 8), 0);
	KT_EXPECT_EQ(d[0], 0);
	/* Across a page boundary. */
	put_str(UBASE + PG - 5, word);
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE + PG - 5, 100), 0);
	KT_EXPECT_STREQ(d, word);
	/* Ends with the last byte before the unmapped page: fine. */
	put_str(end - sizeof(word), word);
	KT_EXPECT_EQ(vm_copyinstr(d, end - sizeof(word), 4 * PG), 0);
	KT_EXPECT_STREQ(d, word);
	/* Runs into it: -EFAULT (max would allow more), not too long. */
	memset(cbuf, 'x', 64);
	KT_EXPECT_EQ(vm_copyout(end - 64, cbuf, 64), 0);
	KT_EXPECT_EQ(vm_copyinstr(d, end - 64, 4 * PG), -EFAULT);
	KT_EXPECT_EQ(vm_copyinstr(d, end - 64, 64), -ENAMETOOLONG);
	/* A long string over both pages, and no NUL in 2 pages. */
	memset(cbuf, 'y', 2 * PG);
	cbuf[2 * PG - 2] = 0;
	KT_EXPECT_EQ(vm_copyout(UBASE, cbuf, 2 * PG), 0);
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE, 2 * PG), 0);
	KT_EXPECT_EQ(strlen(d), 2 * PG - 2);
	KT_EXPECT_EQ(vm_copyinstr(d, UBASE, 2 * PG - 2), -ENAMETOOLONG);
	/* Bad pointers. */
	KT_EXPECT_EQ(vm_copyinstr(d, 0, 16), -EFAULT);
	KT_EXPECT_EQ(vm_copyinstr(d, (vaddr_t)word, 16), -EFAULT);
	KT_EXPECT_EQ(vm_copyinstr(d, end, 16), -EFAULT);
	KT_EXPECT_EQ(vm_copyinstr(d, (vaddr_t)-4, 16), -EFAULT);
	KT_EXPECT(sum_clear());
	copy_unmap(m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Copy-on-write after fork.                                           */

/* The len bytes at va in map m are pat(first + i, salt). */
static bool
user_is(vm_map_t m, vaddr_t va, size_t len, unsigned salt, size_t first)
{
	vm_map_activate(m);
	if (vm_copyin(cbuf2, va, len) != 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (cbuf2[i] != pat(first + i, salt))
			return false;
	return true;
}

static int
user_fill(vm_map_t m, vaddr_t va, size_t len, unsigned salt)
{
	vm_map_activate(m);
	for (size_t i = 0; i < len; i++)
		cbuf[i] = pat(i, salt);
	return vm_copyout(va, cbuf, len);
}

KTEST(copy, copy_on_write_after_fork)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	vm_map_t p, c;

	leak_start(&l);
	p = copy_map(2);
	KT_ASSERT(p != NULL);
	c = vm_map_create(0);
	KT_ASSERT(c != NULL);
	KT_EXPECT_EQ(user_fill(p, UBASE, 2 * PG, 1), 0);
	KT_EXPECT_EQ(vm_map_copy(c, p), 0);
	vm_fault_stats(&s0);
	/* Page 0: the child writes first; page 1: the parent does. */
	KT_EXPECT_EQ(user_fill(c, UBASE + 10, 100, 2), 0);
	KT_EXPECT(user_is(p, UBASE, PG, 1, 0));
	KT_EXPECT_EQ(user_fill(p, UBASE + PG + 20, 200, 3), 0);
	KT_EXPECT(user_is(c, UBASE + PG, PG, 1, PG));
	KT_EXPECT(user_is(c, UBASE + 10, 100, 2, 0));
	KT_EXPECT(user_is(c, UBASE, 10, 1, 0));
	KT_EXPECT(user_is(p, UBASE + PG + 20, 200, 3, 0));
	KT_EXPECT(user_is(p, UBASE + PG, 20, 1, PG));
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.cow_copy, 2);
	/* Now each is alone on its copy: writes reuse, the other unchanged. */
	KT_EXPECT_EQ(user_fill(p, UBASE, 64, 4), 0);
	KT_EXPECT(user_is(c, UBASE + 10, 100, 2, 0));
	KT_EXPECT(user_is(p, UBASE, 64, 4, 0));
	/* Read-only after mprotect in the child: copyout fails there only. */
	KT_EXPECT_EQ(vm_mprotect(c, UBASE, 2 * PG, RO), 0);
	KT_EXPECT_EQ(user_fill(c, UBASE + PG, 8, 5), -EFAULT);
	KT_EXPECT_EQ(user_fill(p, UBASE + PG, 8, 5), 0);
	KT_EXPECT(user_is(c, UBASE + PG, PG, 1, PG));
	vm_map_activate(NULL);
	vm_map_destroy(c);
	copy_unmap(p);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Copies while another hart unmaps and remaps the range.              */

#define RACE_PAGES 2		/* per copying hart */
#define RACE_MIN_REMAPS 32
#define RACE_WORDS (RACE_PAGES * HAL_PAGE_SIZE / 8)

static uint64_t race_out[HAL_MAX_CPUS][RACE_WORDS];	/* (L) */
static uint64_t race_in[HAL_MAX_CPUS][RACE_WORDS];	/* (L) */

static struct {
	vm_map_t m;
	vaddr_t base;
	size_t len;
	uint64_t iters;
	unsigned copiers;	/* harts 1.. copy; hart 0 remaps */
	unsigned done;		/* (A) copiers finished */
	uint64_t ok, efault, bad, remaps;	/* (A) */
	uint64_t progress;	/* (A) copy pairs finished */
} race;

/* Word w of the copy of hart cpu, iteration it. */
static uint64_t
race_word(unsigned cpu, uint64_t it, size_t w)
{
	return (uint64_t)(cpu + 1) << 56 | it << 16 | (w & 0xffff);
}

static void
race_copier(unsigned cpu, unsigned slot)
{
	vaddr_t va = race.base + (vaddr_t)slot * RACE_PAGES * PG + 8;
	size_t nw = (RACE_PAGES * PG - 16) / 8;
	uint64_t *out = race_out[cpu], *in = race_in[cpu];
	uint64_t ok = 0, ef = 0, bad = 0;

	vm_map_activate(race.m);
	/* Overlap for sure: start after the first remap, stop after many. */
	while (race.copiers != 0 && ck_pr_load_64(&race.remaps) == 0)
		hal_cpu_relax();
	for (uint64_t it = 1; it <= race.iters || (race.copiers != 0 &&
	    ck_pr_load_64(&race.remaps) < RACE_MIN_REMAPS); it++) {
		for (size_t w = 0; w < nw; w++)
			out[w] = race_word(cpu, it, w);
		int e1 = vm_copyout(va, out, nw * 8);
		int e2 = vm_copyin(in, va, nw * 8);
		if ((e1 != 0 && e1 != -EFAULT) || (e2 != 0 && e2 != -EFAULT))
			bad++;
		if (e1 == 0)
			ok++;
		else
			ef++;
		ck_pr_inc_64(&race.progress);
		if (e2 != 0)
			continue;
		/* Each word: zero (a fresh page) or one of ours, in place. */
		for (size_t w = 0; w < nw; w++) {
			uint64_t v = in[w];
			if (v != 0 && (v >> 56 != cpu + 1 ||
			    (v & 0xffff) != (w & 0xffff) ||
			    ((v >> 16) & 0xffffffffffull) > it)) {
				bad++;
				break;
			}
		}
	}
	vm_map_activate(NULL);
	ck_pr_add_64(&race.ok, ok);
	ck_pr_add_64(&race.efault, ef);
	ck_pr_add_64(&race.bad, bad);
}

static void
race_remap_once(void)
{
	KT_EXPECT_EQ(vm_munmap(race.m, race.base, race.len), 0);
	KT_EXPECT_EQ(vm_mmap(race.m, race.base, race.len, RW, PA | FX, NULL,
	    0), (long)race.base);
	ck_pr_inc_64(&race.remaps);
}

static void
race_worker(void *arg)
{
	unsigned cpu = hal_cpu_id();

	(void)arg;
	if (race.copiers == 0) {
		/* One hart: remap between copies. */
		for (uint64_t k = 0; k < 8; k++) {
			race_copier(cpu, 0);
			race_remap_once();
		}
		return;
	}
	if (cpu == 0) {
		/* Both states get their turn: a pause after each change. */
		while (ck_pr_load_uint(&race.done) != race.copiers) {
			KT_EXPECT_EQ(vm_munmap(race.m, race.base, race.len), 0);
			for (int k = 0; k < 4; k++)
				hal_cpu_relax();
			KT_EXPECT_EQ(vm_mmap(race.m, race.base, race.len, RW,
			    PA | FX, NULL, 0), (long)race.base);
			ck_pr_inc_64(&race.remaps);
			/* Mapped until a copy has finished (or a while). */
			uint64_t p0 = ck_pr_load_64(&race.progress);
			for (int k = 0; k < 100000 &&
			    ck_pr_load_64(&race.progress) == p0 &&
			    ck_pr_load_uint(&race.done) != race.copiers; k++)
				hal_cpu_relax();
		}
		return;
	}
	race_copier(cpu, cpu - 1);
	ck_pr_inc_uint(&race.done);
}

KTEST(copy, unmap_while_copying)
{
	struct leak_snap l;
	bool host = strcmp(RVMM_TARGET, "host") == 0;

	leak_start(&l);
	memset(&race, 0, sizeof(race));
	race.copiers = hal_ncpus() - 1;
	race.len = (race.copiers ? race.copiers : 1) * RACE_PAGES * PG;
	race.base = UBASE + 16 * PG;
	race.iters = ktest_iters(host ? 400 : 60);
	race.m = vm_map_create(0);
	KT_ASSERT(race.m != NULL);
	KT_ASSERT(vm_mmap(race.m, race.base, race.len, RW, PA | FX, NULL, 0) ==
	    (long)race.base);
	/*
	 * Nothing else is mapped in the range's page-table page, so every
	 * munmap frees that table while copies on other harts may be inside
	 * pmap_fault_fixup's lockless walk of it (hal/sv39/shootdown.c
	 * section 7 keeps the table until those walks end).
	 */
	smp_run(race_worker, NULL);
	ktest_note("%u copiers: %llu copyouts ok, %llu -EFAULT, %llu remaps",
	    race.copiers, (unsigned long long)ck_pr_load_64(&race.ok),
	    (unsigned long long)ck_pr_load_64(&race.efault),
	    (unsigned long long)ck_pr_load_64(&race.remaps));
	KT_EXPECT_EQ(ck_pr_load_64(&race.bad), 0);
	KT_EXPECT_GT(ck_pr_load_64(&race.ok) + ck_pr_load_64(&race.efault), 0);
	KT_EXPECT(vm_map_is_valid(race.m));
	/* Mapped again at the end: copies work as before. */
	vm_map_activate(race.m);
	race_out[0][0] = 99;
	KT_EXPECT_EQ(vm_copyout(race.base + race.len - 4, race_out[0], 4), 0);
	KT_EXPECT_EQ(vm_copyin(race_in[0], race.base + race.len - 4, 4), 0);
	KT_EXPECT_EQ(race_in[0][0] & 0xffffffffu, 99);
	vm_map_activate(NULL);
	KT_EXPECT(sum_clear());
	vm_map_destroy(race.m);
	LEAK_CHECK(&l);
}

/* ------------------------------------------------------------------ */
/* Kernel accesses outside the copy routines.                          */

KTEST(copy, kernel_access_outside_copies_faults)
{
	struct leak_snap l;
	vm_map_t m;
	uint64_t w = 42;

	leak_start(&l);
	m = copy_map(1);
	KT_ASSERT(m != NULL);
	KT_EXPECT_EQ(vm_copyout(UBASE, &w, 8), 0);	/* mapped now */
#if !defined(__riscv)
	struct vm_fault_stats s0, d;
	uint64_t v = 0;

	vm_fault_stats(&s0);
	/* SUM clear: refused at once (no endless resolve-and-retry). */
	KT_EXPECT_EQ(host_mmu_kernel_access(UBASE, HAL_FAULT_READ, &v),
	    -EPERM);
	KT_EXPECT_EQ(host_mmu_kernel_access(UBASE + 8, HAL_FAULT_WRITE, &v),
	    -EPERM);
	fault_delta(&s0, &d);
	KT_EXPECT_EQ(d.eperm, 2);
	KT_EXPECT_EQ(d.faults, 0);
#endif
	/* The copy routines and the probes still reach it. */
	KT_EXPECT_EQ(uread(UBASE), 42);
	KT_EXPECT_EQ(vm_copyin(&w, UBASE, 8), 0);
	KT_EXPECT_EQ(w, 42);
	KT_EXPECT(sum_clear());
	copy_unmap(m);
	LEAK_CHECK(&l);
}

/* Wrong use: a plain kernel load from a mapped user page must panic. */
KTEST_EXPLICIT(wrong_copy_kernel_load, load_user_page)
{
	uint64_t w = 7;
	vm_map_t m;

	mt_prepare();
	m = copy_map(1);
	KT_ASSERT(m != NULL);
	KT_ASSERT(vm_copyout(UBASE, &w, 8) == 0);
#if defined(__riscv)
	w = *(volatile uint64_t *)UBASE;
#else
	w = host_mmu_access_or_panic(UBASE, HAL_FAULT_READ, 0);
#endif
	KT_FAIL("a kernel load from a user page did not fault (%llu)",
	    (unsigned long long)w);
}

#else /* !HAL_MMU */

/* Without an MMU: checked against the current map's entries. */
KTEST(copy, nommu_checks_entries)
{
	struct leak_snap l;
	vm_map_t m;
	long a, b;
	char *d = (char *)cbuf2;

	leak_start(&l);
	m = vm_map_create(0);
	KT_ASSERT(m != NULL);
	a = vm_mmap(m, 0, 2 * PG, RW, PA, NULL, 0);
	KT_ASSERT(a > 0);
	vm_map_activate(m);
	for (size_t i = 0; i < 2 * PG; i++)
		cbuf[i] = pat(i, 1);
	KT_EXPECT_EQ(vm_copyout((vaddr_t)a + 3, cbuf, 2 * PG - 3), 0);
	KT_EXPECT_EQ(vm_copyin(cbuf2, (vaddr_t)a + 3, 2 * PG - 3), 0);
	KT_EXPECT_EQ(memcmp(cbuf, cbuf2, 2 * PG - 3), 0);
	/* Past the end: nothing copied at all. */
	memset(cbuf2, FILL, 64);
	KT_EXPECT_EQ(vm_copyin(cbuf2, (vaddr_t)a + 2 * PG - 8, 16), -EFAULT);
	KT_EXPECT_EQ(cbuf2[0], FILL);
	KT_EXPECT_EQ(vm_copyout((vaddr_t)a + 2 * PG - 8, cbuf, 16), -EFAULT);
	KT_EXPECT_EQ(vm_copyin(cbuf2, (vaddr_t)cbuf, 8), -EFAULT);
	/* copyinstr. */
	KT_EXPECT_EQ(vm_copyout((vaddr_t)a + PG - 3, "abcdef", 7), 0);
	KT_EXPECT_EQ(vm_copyinstr(d, (vaddr_t)a + PG - 3, 64), 0);
	KT_EXPECT_STREQ(d, "abcdef");
	KT_EXPECT_EQ(vm_copyinstr(d, (vaddr_t)a + PG - 3, 6), -ENAMETOOLONG);
	memset(cbuf, 'z', 16);
	KT_EXPECT_EQ(vm_copyout((vaddr_t)a + 2 * PG - 16, cbuf, 16), 0);
	KT_EXPECT_EQ(vm_copyinstr(d, (vaddr_t)a + 2 * PG - 16, 64), -EFAULT);
	/* Read-only: copyout refused. */
	b = vm_mmap(m, 0, PG, RO, PA, NULL, 0);
	KT_ASSERT(b > 0);
	KT_EXPECT_EQ(vm_copyout((vaddr_t)b, cbuf, 8), -EFAULT);
	KT_EXPECT_EQ(vm_copyin(cbuf2, (vaddr_t)b, 8), 0);
	vm_map_activate(NULL);
	KT_EXPECT_EQ(vm_copyin(cbuf2, (vaddr_t)a, 8), -EFAULT);
	vm_map_destroy(m);
	LEAK_CHECK(&l);
}

#endif /* HAL_MMU */
