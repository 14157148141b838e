/*
 * U-mode payloads (riscv64 only): small position-independent programs
 * copied into a user map run in U-mode (rv_user_run, hal/riscv64/trap.c)
 * and report back with an ecall.  Their page faults reach vm_fault through
 * the trap handler with HAL_FAULT_USER: an instruction fetch from a page
 * mapped R|X but not yet faulted in, zero-fill loads and stores, a
 * read-only page; and the faults that must not be resolved are reported:
 * a store to a read-only page, a jump into a data page, a load from a
 * kernel page, an illegal instruction.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "tests/map_util.h"
#include "vm/fault.h"
#include "vm/map.h"

#if defined(__riscv)

long rv_user_run(unsigned long pc, unsigned long sp, unsigned long a0,
    unsigned long a1, unsigned long out[4]);

/* The payloads: assembled into .rodata, copied into a user page. */
__asm__(
"	.pushsection .rodata.umode, \"a\"\n"
"	.balign 8\n"
"	.globl umode_code, umode_code_end, umode_ok, umode_store_ro\n"
"	.globl umode_jump, umode_load, umode_illegal\n"
"umode_code:\n"
"umode_ok:\n"			/* a0: data page, a1: read-only page */
"	ld	t0, 0(a0)\n"
"	addi	t0, t0, 42\n"
"	sd	t0, 8(a0)\n"
"	ld	t1, 0(a1)\n"
"	sd	t1, 16(a0)\n"
"	mv	a0, t0\n"
"	ecall\n"
"umode_store_ro:\n"		/* a1: a read-only page */
"	sd	a0, 0(a1)\n"
"	ecall\n"
"umode_jump:\n"			/* a0: a page without X */
"	jr	a0\n"
"umode_load:\n"			/* a1: an address the user may not read */
"	ld	t0, 0(a1)\n"
"	ecall\n"
"umode_illegal:\n"
"	.word	0\n"
"umode_code_end:\n"
"	.popsection\n");

extern const char umode_code[], umode_code_end[], umode_ok[];
extern const char umode_store_ro[], umode_jump[], umode_load[];
extern const char umode_illegal[];

#define RW (VM_PROT_READ | VM_PROT_WRITE)
#define PA (VM_MAP_PRIVATE | VM_MAP_ANON)
#define STACK_PAGES 2
#define UMODE_LINK_VA 0x10000
#define EXC_ILLEGAL 2
#define EXC_ECALL_U 8
#define EXC_INST_PF 12
#define EXC_LOAD_PF 13
#define EXC_STORE_PF 15

struct umode {
	vm_map_t m;
	vaddr_t code, ro, data, stack;	/* data: one page per hart */
};

static struct umode um;
static uint64_t um_words[HAL_PAGE_SIZE / 8];

static vaddr_t
entry(const char *label)
{
	return um.code + (vaddr_t)(label - umode_code);
}

static long
run(const char *label, unsigned long a0, unsigned long a1,
    unsigned long out[4])
{
	vaddr_t sp = um.stack + (hal_cpu_id() + 1) * STACK_PAGES * PG;

	return rv_user_run(entry(label), sp, a0, a1, out);
}

/* A map with the payload at um.code (R|X), a read-only page, data. */
static bool
umode_setup(void)
{
	size_t n = (size_t)(umode_code_end - umode_code);
	long a;

	memset(&um, 0, sizeof(um));
	um.m = vm_map_create(VM_MAPF_WXORX);
	if (um.m == NULL)
		return false;
	/* Where a program is linked (0x10000) if the window has it (uwin=low). */
	if (pmap_user_range_ok(UMODE_LINK_VA, PG))
		um.code = (vaddr_t)vm_mmap(um.m, UMODE_LINK_VA, PG, RW,
		    PA | VM_MAP_FIXED, NULL, 0);
	else
		um.code = (vaddr_t)vm_mmap(um.m, 0, PG, RW, PA, NULL, 0);
	um.ro = (vaddr_t)vm_mmap(um.m, 0, PG, RW, PA, NULL, 0);
	um.data = (vaddr_t)vm_mmap(um.m, 0, hal_ncpus() * PG, RW, PA, NULL, 0);
	a = vm_mmap(um.m, 0, hal_ncpus() * STACK_PAGES * PG, RW, PA, NULL, 0);
	um.stack = (vaddr_t)a;
	if (a < 0 || n > PG)
		return false;
	memset(um_words, 0, sizeof(um_words));
	memcpy(um_words, umode_code, n);
	vm_map_activate(um.m);
	for (size_t i = 0; i < (n + 7) / 8; i++)
		uwrite(um.code + i * 8, um_words[i]);
	uwrite(um.ro, 0x5eed);
	/* W^X: the code becomes R|X, the other page read-only. */
	if (vm_mprotect(um.m, um.code, PG, VM_PROT_READ | VM_PROT_EXEC) != 0 ||
	    vm_mprotect(um.m, um.ro, PG, VM_PROT_READ) != 0)
		return false;
	__asm__ __volatile__("fence.i" ::: "memory");
	return true;
}

KTEST(umode, payload_faults)
{
	struct vm_fault_stats s0, d;
	unsigned long out[4];
	struct leak_snap l;
	long r;

	leak_start(&l);
	KT_ASSERT(umode_setup());
	vm_fault_stats(&s0);
	/* Fetch, zero-fill load and store, read-only load: all resolved. */
	r = run(umode_ok, um.data, um.ro, out);
	KT_EXPECT_EQ(r, 0);
	KT_EXPECT_EQ(out[0], EXC_ECALL_U);
	KT_EXPECT_EQ(out[3], 42);
	KT_EXPECT(hal_intr_enabled());
	KT_EXPECT_EQ(uread(um.data + 8), 42);
	KT_EXPECT_EQ(uread(um.data + 16), 0x5eed);
	fault_delta(&s0, &d);
	KT_EXPECT_GE(d.resolved, 2);	/* the code page, the data page */
	KT_EXPECT_GE(d.zero_fill, 1);
	/* A store to the read-only page: reported, the page unchanged. */
	r = run(umode_store_ro, 7, um.ro, out);
	KT_EXPECT_EQ(r, -EFAULT);
	KT_EXPECT_EQ(out[0], EXC_STORE_PF);
	KT_EXPECT_EQ(out[1], um.ro);
	KT_EXPECT_EQ(out[2], entry(umode_store_ro));
	KT_EXPECT_EQ(uread(um.ro), 0x5eed);
	/* A jump into a data page (no X). */
	r = run(umode_jump, um.data, 0, out);
	KT_EXPECT_EQ(r, -EFAULT);
	KT_EXPECT_EQ(out[0], EXC_INST_PF);
	KT_EXPECT_EQ(out[1], um.data);
	/* Kernel memory: the direct map (global, not U) and unmapped user. */
	r = run(umode_load, 0, (unsigned long)&um, out);
	KT_EXPECT_EQ(r, -EFAULT);
	KT_EXPECT_EQ(out[0], EXC_LOAD_PF);
	KT_EXPECT_EQ(out[1], (unsigned long)&um);
	r = run(umode_load, 0, um.code + 64 * PG, out);
	KT_EXPECT_EQ(r, -EFAULT);
	KT_EXPECT_EQ(out[0], EXC_LOAD_PF);
	/* Page 0 (user space in the low window): never mapped unless
	   asked for with VM_MAP_FIXED, so a null pointer faults. */
	r = run(umode_load, 0, 0, out);
	KT_EXPECT_EQ(r, -EFAULT);
	KT_EXPECT_EQ(out[0], EXC_LOAD_PF);
	KT_EXPECT_EQ(out[1], 0);
	if (pmap_user_range_ok(UMODE_LINK_VA, PG))
		KT_EXPECT_EQ(um.code, UMODE_LINK_VA);
	/* Anything else ends the run too. */
	r = run(umode_illegal, 0, 0, out);
	KT_EXPECT_EQ(r, -EINVAL);
	KT_EXPECT_EQ(out[0], EXC_ILLEGAL);
	KT_EXPECT(hal_intr_enabled());
	fault_delta(&s0, &d);
	ktest_note("faults %llu: resolved %llu zero %llu eacces %llu efault "
	    "%llu", (unsigned long long)d.faults,
	    (unsigned long long)d.resolved, (unsigned long long)d.zero_fill,
	    (unsigned long long)d.eacces, (unsigned long long)d.efault);
	vm_map_activate(NULL);
	vm_map_destroy(um.m);
	LEAK_CHECK(&l);
}

static uint64_t um_bad;		/* (A) */

static void
umode_worker(void *arg)
{
	unsigned cpu = hal_cpu_id();
	vaddr_t data = um.data + cpu * PG;
	unsigned long out[4];

	(void)arg;
	vm_map_activate(um.m);
	__asm__ __volatile__("fence.i" ::: "memory");
	for (int i = 0; i < 4; i++) {
		if (run(umode_ok, data, um.ro, out) != 0 || out[3] != 42 + 42 *
		    (unsigned long)i)
			ck_pr_inc_64(&um_bad);
		/* The next run starts from this run's result. */
		uint64_t v = 0;
		if (hal_probe_read64(data + 8, &v) != 0 || v != out[3] ||
		    hal_probe_write64(data, v) != 0)
			ck_pr_inc_64(&um_bad);
	}
	vm_map_activate(NULL);
}

/* Every hart runs the payload on its own data page of one map. */
KTEST(umode, every_hart)
{
	struct leak_snap l;

	leak_start(&l);
	KT_ASSERT(umode_setup());
	vm_map_activate(NULL);
	um_bad = 0;
	smp_run(umode_worker, NULL);
	KT_EXPECT_EQ(ck_pr_load_64(&um_bad), 0);
	vm_map_destroy(um.m);
	LEAK_CHECK(&l);
}

#else

KTEST(umode, payload_faults)
{
	ktest_note("U-mode payloads run on riscv64 only");
}

#endif
