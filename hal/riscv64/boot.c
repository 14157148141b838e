/*
 * boot.c: the riscv64 port of hal.h on QEMU virt through OpenSBI.
 *
 * 1. Boot.  OpenSBI enters _start on one hart (any hart may win its
 *    lottery) with the device tree in a1.  rv_boot() parses the tree,
 *    which is the only source of machine facts (RAM, harts, timebase,
 *    reserved ranges, bootargs), numbers the usable harts with the boot
 *    hart as cpu 0 and the others in tree order, and starts each with SBI
 *    HSM hart_start at rv_secondary_entry with its struct rv_cpu as the
 *    opaque argument.  Each hart points tp at its struct rv_cpu (so
 *    rv_self() is one register read), installs the trap vector, enables
 *    the supervisor software interrupt and checks in.  When every hart has
 *    checked in, cpu 0 calls kmain() and the others kmain_secondary().
 *
 * 2. Interrupts.  Only the supervisor software interrupt is used: SBI IPI
 *    sets SSIP on the targets; the trap handler clears it and calls
 *    smp_ipi_entry().  hal_intr_disable/restore toggle sstatus.SIE.
 *
 * 3. Reserved memory.  The device tree's /memreserve/ and /reserved-memory
 *    entries (OpenSBI adds its own firmware range there), the kernel image
 *    [_kernel_start, _kernel_end), the device tree blob itself and an
 *    initrd, if any.
 *
 * 4. Power.  hal_poweroff() uses SBI SRST (shutdown; reason "system
 *    failure" for a non-zero code).  OpenSBI 1.1 turns either reason into
 *    a clean QEMU exit (status 0), so for a failure the port first writes
 *    FINISHER_FAIL with the code to the "sifive,test0" device the device
 *    tree names, which makes QEMU exit with that code; SRST stays the
 *    path for success and the fallback.  The port also prints
 *    "rvmm: poweroff N" first, for wrappers and for humans.
 *
 * 5. Floating point.  sstatus.FS is set to Initial on every hart so code
 *    compiled for rv64gc may use FP registers; trap entry does not save
 *    them, so interrupt handlers must not use floating point.
 *
 * 6. Paging.  The harts start in Bare mode; vm_boot() -> pmap_bootstrap()
 *    (hal/sv39) builds the kernel page table and switches cpu 0 to Sv39;
 *    the others switch themselves in vm_boot_cpu(), which the test
 *    kernel's kmain_secondary() calls once vm_boot() has returned.  RAM
 *    is mapped identity, so hal_phys_to_virt() stays the identity and
 *    nothing the port set up moves; the port tells the pmap what to map
 *    with hal_kernel_image() (W^X sections from the linker script) and
 *    hal_mmio_regions() (the test finisher), and whether Svpbmt exists
 *    (the ISA string).  Bootarg uwin=low puts user space at [0, 2 GiB)
 *    (pmap.h section 1); the finisher, below 2 GiB, then sits at its
 *    alias pmap_mmio_va(), which hal_poweroff uses once satp is not Bare.
 *    sstatus.SUM is cleared on every hart here and stays clear: the
 *    kernel reaches user pages only through the user-access routines
 *    (usercopy.S: copyin, copyout, copyinstr; probe.S: the test probes),
 *    which set it around their accesses.  A stray kernel access to a user
 *    page then faults and panics (vm_fault_trap refuses it) instead of
 *    touching whatever the current process mapped there.  (QEMU flushes
 *    its whole TLB when SUM changes, so a probe of a user page costs a
 *    flush there; the tests that must see stale translations hold SUM set
 *    across their probes, which then leave it as they found it.)
 */
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "hal/hal_test.h"
#include "hal/pmap.h"
#include "hal/riscv64/csr.h"
#include "hal/riscv64/dtb.h"
#include "hal/riscv64/rv.h"
#include "hal/riscv64/sbi.h"
#include "lib/assert.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"

_Static_assert(__builtin_offsetof(struct rv_cpu, stack_top) == RV_CPU_STACK_TOP,
    "RV_CPU_STACK_TOP must match struct rv_cpu");

extern char _kernel_start[], _kernel_end[];
extern char _text_start[], _text_end[], _rodata_start[], _rodata_end[];
extern char _data_start[];
extern char rv_boot_stack_top[];
/* start.S bring-up diagnostics: (hart id, a1) of each arrival. */
extern unsigned rv_secondary_arrivals;
extern unsigned rv_boot_lottery;
struct rv_arrival {
	unsigned long hartid;	/* a0 at rv_secondary_entry */
	unsigned long a1;	/* the opaque argument it came with */
};
extern struct rv_arrival rv_secondary_log[RV_MAX_PARK];

/* Generous: on a loaded 2-core machine a vCPU may wait long for a core. */
#define RV_CHECKIN_TIMEOUT_NS 10000000000ull
#define RV_PARK_FALLBACK_NS 1000000000ull

static struct rv_cpu rv_cpus[HAL_MAX_CPUS];
static uint8_t rv_stacks[HAL_MAX_CPUS][RV_STACK_SIZE] __attribute__((aligned(16)));
static unsigned rv_ncpus;
static unsigned rv_checked_in;
static struct dtb_info rv_dtb;
static struct hal_mem_range rv_reserved[HAL_MAX_RESERVED];
static unsigned rv_nreserved;
static uint64_t rv_time_base;
static uint64_t rv_timebase_freq;


unsigned
hal_ncpus(void)
{
	return rv_ncpus;
}

unsigned long
hal_cpu_hartid(unsigned id)
{
	VM_ASSERT(id < rv_ncpus);
	return rv_cpus[id].hc.hartid;
}

#ifndef HAL_MD_CPU
struct hal_cpu *
hal_cpu(void)
{
	return &rv_self()->hc;
}
#endif

#ifdef HAL_MD_CPU_HOOK
unsigned
hal_cpu_id(void)
{
	return rv_self()->hc.id;
}
#endif

void
hal_ipi_send(const hal_cpuset_t *set)
{
	/*
	 * SBI takes a 64-bit mask of hart ids relative to a base; hart ids
	 * may be sparse, so send one call per 64-hart window in use.
	 */
	unsigned long base = ~0ul, mask = 0;

	ck_pr_fence_store();
	for (unsigned i = 0; i < rv_ncpus; i++) {
		if (!hal_cpuset_has(set, i))
			continue;
		unsigned long h = rv_cpus[i].hc.hartid;
		if (base != ~0ul && (h < base || h - base >= 64)) {
			(void)sbi_send_ipi(mask, base);
			base = ~0ul;
		}
		if (base == ~0ul) {
			base = h;
			mask = 0;
		}
		mask |= 1ul << (h - base);
	}
	if (base != ~0ul)
		(void)sbi_send_ipi(mask, base);
}

uint64_t
hal_time_ns(void)
{
	uint64_t t = rv_rdtime() - rv_time_base, f = rv_timebase_freq;

	return (t / f) * 1000000000ull + (t % f) * 1000000000ull / f;
}

void
hal_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbi_console_putchar((unsigned char)s[i]);
}

_Noreturn void
hal_poweroff(int code)
{
	kprintf("rvmm: poweroff %d\n", code);
	if (code != 0 && rv_dtb.finisher != 0) {
		/* QEMU's test finisher: 0x3333 = fail, exit status in 31:16.
		   Once paging is on it may sit at its alias (section 6). */
		uintptr_t pa = (uintptr_t)rv_dtb.finisher;
		volatile uint32_t *fin = (volatile uint32_t *)(uintptr_t)
		    ((csr_read(satp) >> 60) != 0 ?
		    pmap_mmio_va(pa) : pa);
		*fin = 0x3333u | ((uint32_t)(code & 0xffff) << 16);
	}
	sbi_system_reset(SBI_SRST_TYPE_SHUTDOWN,
	    code == 0 ? SBI_SRST_REASON_NONE : SBI_SRST_REASON_SYSFAIL);
	/* No SRST: park. The wrapper reads the code printed above. */
	(void)hal_intr_disable();
	for (;;)
		rv_wfi();
}

void
hal_dump_state(void)
{
	unsigned long fp, ra;

	__asm__("mv %0, s0" : "=r"(fp));
	__asm__("mv %0, ra" : "=r"(ra));
	rv_backtrace(fp, ra);
}

const char *
hal_bootargs(void)
{
	return rv_dtb.bootargs;
}

unsigned
hal_mem_regions(const struct hal_mem_range **out)
{
	*out = rv_dtb.mem;
	return rv_dtb.nmem;
}

unsigned
hal_mem_reserved(const struct hal_mem_range **out)
{
	*out = rv_reserved;
	return rv_nreserved;
}

void *
hal_phys_to_virt(paddr_t pa)
{
	return (void *)(uintptr_t)pa;
}

paddr_t
hal_virt_to_phys(const void *va)
{
	return (paddr_t)(uintptr_t)va;
}

/* ---- what the pmap needs to know about this machine (hal.h, MMU) ---- */

static struct hal_mem_range rv_mmio[1];
static unsigned rv_nmmio;
static uint64_t rv_probe_word[2];	/* bss: inside the data range */

static uintptr_t
rv_page_up(uintptr_t a)
{
	return (a + HAL_PAGE_SIZE - 1) & ~(uintptr_t)(HAL_PAGE_SIZE - 1);
}

void
hal_kernel_image(struct hal_kernel_image *out)
{
	out->text_start = (uintptr_t)_text_start;
	out->text_end = rv_page_up((uintptr_t)_text_end);
	out->rodata_start = (uintptr_t)_rodata_start;
	out->rodata_end = rv_page_up((uintptr_t)_rodata_end);
	out->data_start = (uintptr_t)_data_start;
	out->data_end = (uintptr_t)_kernel_end;
	out->ret_insn = (uintptr_t)rv_ret_insn;
	out->probe_word = (uintptr_t)&rv_probe_word[0];
}

unsigned
hal_mmio_regions(const struct hal_mem_range **out)
{
	*out = rv_mmio;
	return rv_nmmio;
}

/* "svpbmt" as a whole extension name in the ISA string (after '_'). */
bool
hal_mmu_has_svpbmt(void)
{
	const char *p = rv_dtb.isa;

	while ((p = strchr(p, '_')) != NULL) {
		p++;
		if (strncmp(p, "svpbmt", 6) == 0 &&
		    (p[6] == '\0' || p[6] == '_'))
			return true;
	}
	return false;
}

static void
rv_reserve(uint64_t base, uint64_t end)
{
	const uint64_t pm = HAL_PAGE_SIZE - 1;

	if (end <= base)
		return;
	if (rv_nreserved == HAL_MAX_RESERVED)
		panic("rv_reserve(%#llx, %#llx): too many reserved ranges",
		    (unsigned long long)base, (unsigned long long)end);
	base &= ~pm;
	end = (end + pm) & ~pm;
	rv_reserved[rv_nreserved].base = base;
	rv_reserved[rv_nreserved].size = end - base;
	rv_nreserved++;
}

/* Per-hart setup common to the boot hart and the others. */
static void
rv_cpu_setup(struct rv_cpu *c)
{
	__asm__ __volatile__("mv tp, %0" ::"r"(c));
	csr_write(stvec, (unsigned long)rv_trap_entry);
	csr_write(sscratch, 0);
	csr_clear(sstatus, SSTATUS_FS_MASK);
	csr_set(sstatus, SSTATUS_FS_INITIAL);
	csr_clear(sstatus, SSTATUS_SUM);	/* see section 6 */
	csr_write(sie, SIE_SSIE);
	csr_clear(sip, SIP_SSIP);
	ck_pr_store_uint(&c->started, 1);
	ck_pr_inc_uint(&rv_checked_in);
}

void rv_secondary(struct rv_cpu *c);
void
rv_secondary(struct rv_cpu *c)
{
	rv_cpu_setup(c);
	while (ck_pr_load_uint(&rv_checked_in) != rv_ncpus)
		hal_cpu_relax();
	csr_set(sstatus, SSTATUS_SIE);
	kmain_secondary();
}

/* Bootarg uwin=low|high: the user window (section 6), before vm_boot(). */
static void
rv_user_window(void)
{
	char buf[16];
	int err = 0;

	if (!bootarg_get(hal_bootargs(), "uwin", buf, sizeof(buf)))
		return;
	if (strcmp(buf, "low") == 0)
		err = pmap_set_user_window(PMAP_USER_LOW_MIN, PMAP_USER_LOW_MAX);
	else if (strcmp(buf, "high") != 0)
		panic("rv_boot: bootarg uwin=%s: unknown user window (low or "
		    "high)", buf);
	if (err != 0)
		panic("rv_boot: bootarg uwin=%s: pmap_set_user_window failed "
		    "(%d)", buf, err);
}

void rv_boot(unsigned long hartid, const void *dtb);
void
rv_boot(unsigned long hartid, const void *dtb)
{
	struct rv_cpu *boot = &rv_cpus[0];
	int err;

	boot->hc.id = 0;
	boot->hc.hartid = hartid;
	boot->stack_top = (uintptr_t)rv_boot_stack_top;
	rv_ncpus = 1;
	rv_timebase_freq = 10000000;	/* until the tree says otherwise */
	rv_cpu_setup(boot);

	err = dtb_parse(dtb, 1u << 24, &rv_dtb);
	if (err != 0)
		panic("rv_boot: cannot parse the device tree at %p (%d)", dtb,
		    err);
	if (rv_dtb.timebase_freq == 0)
		panic("rv_boot: device tree has no timebase-frequency");
	if (rv_dtb.nmem == 0)
		panic("rv_boot: device tree has no memory node");
	rv_timebase_freq = rv_dtb.timebase_freq;
	rv_time_base = rv_rdtime();

	for (unsigned i = 0; i < rv_dtb.nrsv; i++)
		rv_reserve(rv_dtb.rsv[i].base,
		    rv_dtb.rsv[i].base + rv_dtb.rsv[i].size);
	rv_reserve((uintptr_t)_kernel_start, (uintptr_t)_kernel_end);
	rv_reserve((uintptr_t)dtb, (uintptr_t)dtb + rv_dtb.totalsize);
	if (rv_dtb.initrd_end > rv_dtb.initrd_start)
		rv_reserve(rv_dtb.initrd_start, rv_dtb.initrd_end);
	if (rv_dtb.finisher != 0) {
		/* hal_poweroff writes it: it stays mapped once paging is on. */
		rv_mmio[0].base = rv_dtb.finisher & ~(uint64_t)(HAL_PAGE_SIZE - 1);
		rv_mmio[0].size = HAL_PAGE_SIZE;
		rv_nmmio = 1;
	}

	/* Number the harts: boot hart first, then tree order. */
	bool boot_found = false;
	for (unsigned i = 0; i < rv_dtb.ncpus; i++) {
		unsigned long h = rv_dtb.hartids[i];
		if (h == hartid) {
			boot_found = true;
			continue;
		}
		if (rv_ncpus == HAL_MAX_CPUS) {
			kprintf("rvmm: hart %lu ignored (HAL_MAX_CPUS %u)\n", h,
			    HAL_MAX_CPUS);
			continue;
		}
		struct rv_cpu *c = &rv_cpus[rv_ncpus];
		c->hc.id = rv_ncpus;
		c->hc.hartid = h;
		c->stack_top = (uintptr_t)&rv_stacks[rv_ncpus][RV_STACK_SIZE];
		rv_ncpus++;
	}
	if (!boot_found)
		panic("rv_boot: boot hart %lu is not in the device tree",
		    hartid);

	/*
	 * Start the others with SBI HSM; they spin until everyone has checked
	 * in.  A hart that answers "already available" is one the firmware
	 * released into _start as well (see start.S): hand it its slot.
	 */
	uint64_t t0 = hal_time_ns();
	unsigned parked = 0;
	for (unsigned i = 1; i < rv_ncpus; i++) {
		unsigned long h = rv_cpus[i].hc.hartid;
		long e = sbi_hart_start(h, (unsigned long)rv_secondary_entry,
		    (unsigned long)&rv_cpus[i]);
		if (e == SBI_SUCCESS)
			continue;
		if (e != SBI_ERR_ALREADY_AVAILABLE || parked == RV_MAX_PARK)
			panic("rv_boot: SBI hart_start(%lu) failed: %ld", h, e);
		/*
		 * Already running: the firmware let it into _start too, where
		 * it lost the lottery and waits for its slot.
		 */
		ck_pr_store_ptr(&rv_park[parked].cpu, &rv_cpus[i]);
		ck_pr_fence_store();
		ck_pr_store_64((uint64_t *)&rv_park[parked].hartid_plus1, h + 1);
		parked++;
		kprintf("# rvmm: hart %lu entered the kernel with the boot hart; "
		    "released from its parking slot\n", h);
	}
	bool offered = false;
	while (ck_pr_load_uint(&rv_checked_in) != rv_ncpus) {
		/*
		 * Seen under heavy host load: OpenSBI lets a second hart into
		 * _start (it lost the lottery and parks) and yet answers
		 * hart_start for it with success, so it waits for a slot that
		 * is never given.  After a second, offer every hart that has
		 * not started a slot: one that parked takes it; one that HSM
		 * does start never looks at it.
		 */
		if (!offered && ck_pr_load_uint(&rv_boot_lottery) > 1 + parked &&
		    hal_time_ns() - t0 > RV_PARK_FALLBACK_NS) {
			offered = true;
			for (unsigned i = 1; i < rv_ncpus &&
			    parked < RV_MAX_PARK; i++) {
				if (ck_pr_load_uint(&rv_cpus[i].started))
					continue;
				unsigned long h = rv_cpus[i].hc.hartid;
				ck_pr_store_ptr(&rv_park[parked].cpu, &rv_cpus[i]);
				ck_pr_fence_store();
				ck_pr_store_64(
				    (uint64_t *)&rv_park[parked].hartid_plus1,
				    h + 1);
				parked++;
				kprintf("# rvmm: hart %lu not in after 1 s with "
				    "%u harts in _start: parking slot offered\n",
				    h, ck_pr_load_uint(&rv_boot_lottery));
			}
		}
		if (hal_time_ns() - t0 > RV_CHECKIN_TIMEOUT_NS) {
			kprintf("rvmm: %u arrivals at rv_secondary_entry, %u "
			    "at _start\n", ck_pr_load_uint(&rv_secondary_arrivals),
			    ck_pr_load_uint(&rv_boot_lottery));
			for (unsigned i = 0; i < RV_MAX_PARK; i++)
				if (rv_secondary_log[i].a1 != 0)
					kprintf("rvmm: arrival: hart %lu a1 %#lx\n",
					    rv_secondary_log[i].hartid,
					    rv_secondary_log[i].a1);
			for (unsigned i = 1; i < rv_ncpus; i++)
				if (!ck_pr_load_uint(&rv_cpus[i].started))
					kprintf("rvmm: hart %lu never started "
					    "(HSM status %ld)\n",
					    rv_cpus[i].hc.hartid,
					    sbi_hart_status(rv_cpus[i].hc.hartid));
			panic("rv_boot: only %u of %u harts checked in",
			    ck_pr_load_uint(&rv_checked_in), rv_ncpus);
		}
		hal_cpu_relax();
	}
	rv_user_window();
	csr_set(sstatus, SSTATUS_SIE);
	kmain();
	hal_poweroff(0);
}
