/*
 * rvmm_start.c: start-up of xv6 on rvmm, its SBI calls and the hooks
 * librvmm.a needs (hal/hooks.h).
 *
 * 1. Machine.  QEMU virt under OpenSBI (-bios default): the kernel is
 *    loaded at 0x80200000 and entered in S-mode on one hart (any hart id);
 *    RAM is [0x80000000, PHYSTOP) as far as xv6 is concerned (-m 128M);
 *    OpenSBI keeps [0x80000000, 0x80200000) for itself.  A 10 MHz timebase.
 *    Hart ids are dense from 0 (counted with SBI HSM); cpu id = hart id,
 *    kept in tp, as xv6 keeps it (cpuid()).
 *
 * 2. Boot order (vm/vm.h).  rvmm_start() on the boot hart: its CSRs
 *    (stvec = xv6's kernelvec, sie = external, timer and software
 *    interrupts), the hooks' answers, the low user window ([0, 2 GiB),
 *    xv6 links its programs at 0), vm_boot() (pages, zones, the kernel
 *    pmap with paging on), then the other harts through SBI HSM, then
 *    xv6's main().  The others enter rvmm_start_secondary() and main(),
 *    which waits for the boot hart and calls vm_boot_cpu()
 *    (rvmm_cpu_online()) before it uses anything of rvmm.  Devices are
 *    reached at pmap_mmio_va(pa) (memlayout.h: RVMM_MMIO); paging is on
 *    before xv6 touches the UART.
 *
 * 3. Interrupts.  Stock xv6 takes the CLINT timer in M-mode (timervec)
 *    and forwards it as a software interrupt.  Here OpenSBI owns M-mode:
 *    the timer is SBI set_timer, a supervisor timer interrupt (scause 5),
 *    and the supervisor software interrupt (scause 1) is the IPI, for
 *    rvmm's cross-calls and TLB shootdowns (smp_ipi_entry()).
 */
#include "rvmm_xv6.h"

#define RAM_BASE 0x80000000ull
#define FINISHER 0x100000ull		/* sifive,test0: poweroff with status */
#define TIMEBASE_HZ 10000000ull
#define TIMER_INTERVAL 1000000ull	/* ticks: 1/10 s, as stock xv6 */

#define SSTATUS_FS_MASK (3ul << 13)

extern char _kernel_end[];
extern char _text_start[], _text_end[], _rodata_start[], _rodata_end[];
extern char _data_start[];
extern unsigned long rvmm_release[RVMM_MAX_HARTS];
void rvmm_secondary_entry(void);
void kernelvec(void);
void main(void);

void rvmm_start(unsigned long hartid, const void *dtb);
void rvmm_start_secondary(unsigned long hartid);

int rvmm_boot_hartid = -1;
static unsigned ncpus;
static struct hal_mem_range ram[1], reserved[2], mmio[4];
static unsigned nreserved;

/* ------------------------------------------------------------------ */
/* SBI.                                                                */

struct sbiret {
	long error;
	long value;
};

static struct sbiret
sbi(unsigned long ext, unsigned long fid, unsigned long a0, unsigned long a1,
    unsigned long a2)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r6 __asm__("a6") = fid;
	register unsigned long r7 __asm__("a7") = ext;
	struct sbiret r;

	__asm__ __volatile__("ecall"
	    : "+r"(r0), "+r"(r1)
	    : "r"(r2), "r"(r6), "r"(r7)
	    : "memory");
	r.error = (long)r0;
	r.value = (long)r1;
	return r;
}

#define EXT_PUTCHAR 0x01
#define EXT_TIME 0x54494D45
#define EXT_IPI 0x735049
#define EXT_HSM 0x48534D
#define EXT_SRST 0x53525354

void
rvmm_sbi_set_timer(uint64 when)
{
	(void)sbi(EXT_TIME, 0, when, 0, 0);
}

/* HSM status (0 started, 1 stopped, ...) or a negative SBI error. */
static long
sbi_hart_status(unsigned long hartid)
{
	struct sbiret r = sbi(EXT_HSM, 2, hartid, 0, 0);

	return r.error ? r.error : r.value;
}

/* ------------------------------------------------------------------ */
/* Start-up.                                                           */

static uint64
page_up(uint64 a)
{
	return (a + PGSIZE - 1) & ~(uint64)(PGSIZE - 1);
}

static uint64
be32(const void *p)
{
	const unsigned char *b = p;

	return (uint64)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

static void
hooks_init(unsigned long boot_hart, const void *dtb)
{
	unsigned n = 0;

	while (n < RVMM_MAX_HARTS && n < HAL_MAX_CPUS &&
	    sbi_hart_status(n) >= 0)
		n++;
	if (boot_hart >= n)
		n = (unsigned)boot_hart + 1;
	ncpus = n;

	ram[0].base = RAM_BASE;
	ram[0].size = PHYSTOP - RAM_BASE;
	/* OpenSBI below the kernel, and the kernel image with its bss. */
	reserved[0].base = RAM_BASE;
	reserved[0].size = page_up((uintptr_t)_kernel_end) - RAM_BASE;
	nreserved = 1;
	/* The device tree, where QEMU put it (the top of RAM). */
	uint64 d = (uintptr_t)dtb, dsize = be32((const char *)dtb + 4);
	if (d >= RAM_BASE && d < PHYSTOP) {
		uint64 e = page_up(d + dsize);
		if (e > PHYSTOP)
			e = PHYSTOP;
		reserved[1].base = d & ~(uint64)(PGSIZE - 1);
		reserved[1].size = e - reserved[1].base;
		nreserved = 2;
	}
	/* xv6's devices; the kernel pmap maps them at pmap_mmio_va(pa). */
	mmio[0].base = 0x10000000ull;	/* UART0 */
	mmio[0].size = PGSIZE;
	mmio[1].base = 0x10001000ull;	/* VIRTIO0 */
	mmio[1].size = PGSIZE;
	mmio[2].base = 0x0c000000ull;	/* PLIC */
	mmio[2].size = 0x400000;
	mmio[3].base = FINISHER;
	mmio[3].size = PGSIZE;
}

/* Per-hart CSRs: traps to xv6's kernelvec, interrupts masked, SUM and FS
 * clear (xv6 neither saves FP state nor touches user memory directly),
 * supervisor external, timer and software interrupts enabled, the first
 * timer tick armed. */
void
rvmm_cpu_setup(void)
{
	w_stvec((uint64)kernelvec);
	__asm__ __volatile__("csrw sscratch, zero");
	w_sstatus(r_sstatus() & ~(SSTATUS_SIE | SSTATUS_FS_MASK | (1ul << 18)));
	w_sie(r_sie() | SIE_SEIE | SIE_STIE | SIE_SSIE);
	w_sip(r_sip() & ~2ul);
	rvmm_sbi_set_timer(r_time() + TIMER_INTERVAL);
}

/* Ticks taken since the hart last asked (rvmm_tick_taken), per hart. */
static int ticks_taken[RVMM_MAX_HARTS];

/* devintr(): a supervisor timer interrupt; the next one in 1/10 s. */
void
rvmm_timer_next(void)
{
	ticks_taken[cpuid()] = 1;
	rvmm_sbi_set_timer(r_time() + TIMER_INTERVAL);
}

/*
 * usertrap(), on the way back to user mode: whether this hart took a tick
 * since the last call.  Kernel code is not preempted at a tick (rvmm's
 * per-CPU paths must not migrate), so a process that spends its time in
 * system calls takes most ticks in the kernel; it yields here instead, or
 * it would keep a single hart to itself (usertests killstatus at 1 hart
 * waited forever: its parent stayed runnable).  The caller is not migrated
 * meanwhile (no kernel preemption).
 */
int
rvmm_tick_taken(void)
{
	int t = ticks_taken[cpuid()];

	ticks_taken[cpuid()] = 0;
	return t;
}

void
rvmm_start(unsigned long hartid, const void *dtb)
{
	rvmm_boot_hartid = (int)hartid;
	rvmm_cpu_setup();
	hooks_init(hartid, dtb);
	if (pmap_set_user_window(PMAP_USER_LOW_MIN, PMAP_USER_LOW_MAX) != 0)
		panic("xv6: pmap_set_user_window");
#ifdef RVMM_XV6_BOOTARGS
	vm_set_bootargs(RVMM_XV6_BOOTARGS);
#endif
	vm_boot();
	if (pmap_mmio_va(0x10000000ull) != (vaddr_t)UART0 ||
	    pmap_mmio_va(0x10001000ull) != (vaddr_t)VIRTIO0 ||
	    pmap_mmio_va(0x0c000000ull) != (vaddr_t)PLIC)
		panic("xv6: memlayout.h's device addresses are not "
		    "pmap_mmio_va()'s");

	/* The other harts: started by SBI HSM, or released if already in. */
	for (unsigned h = 0; h < ncpus; h++) {
		if (h == hartid)
			continue;
		if (sbi_hart_status(h) == 0)
			ck_pr_store_64((uint64_t *)&rvmm_release[h], 1);
		else
			(void)sbi(EXT_HSM, 0, h,
			    (unsigned long)rvmm_secondary_entry, 0);
	}
	main();
}

void
rvmm_start_secondary(unsigned long hartid)
{
	(void)hartid;
	rvmm_cpu_setup();
	main();
}

int
rvmm_is_boot_hart(void)
{
	return cpuid() == rvmm_boot_hartid;
}

void
rvmm_cpu_online(void)
{
	vm_boot_cpu();
}

/* The IPI: rvmm's share (xv6 sends none of its own).  Interrupts off. */
void
rvmm_ipi(void)
{
	smp_ipi_entry();
}

/* ------------------------------------------------------------------ */
/* The hooks (hal/hooks.h).                                            */

unsigned
hal_ncpus(void)
{
	return ncpus;
}

unsigned long
hal_cpu_hartid(unsigned id)
{
	return id;
}

unsigned
hal_cpu_id(void)
{
	return (unsigned)r_tp();
}

void
hal_ipi_send(const hal_cpuset_t *set)
{
	unsigned long mask = 0;

	for (unsigned i = 0; i < ncpus; i++)
		if (hal_cpuset_has(set, i))
			mask |= 1ul << i;
	ck_pr_fence_store();
	if (mask != 0)
		(void)sbi(EXT_IPI, 0, mask, 0, 0);
}

uint64_t
hal_time_ns(void)
{
	return r_time() * (1000000000ull / TIMEBASE_HZ);
}

void
hal_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		(void)sbi(EXT_PUTCHAR, 0, (unsigned char)s[i], 0, 0);
}

_Noreturn void
hal_poweroff(int code)
{
	kprintf("rvmm: poweroff %d\n", code);
	if (code != 0) {
		/* QEMU's finisher: 0x3333 = fail, exit status in 31:16. */
		volatile uint32_t *fin = (volatile uint32_t *)(uintptr_t)
		    (r_satp() == 0 ? FINISHER : pmap_mmio_va(FINISHER));
		*fin = 0x3333u | ((uint32_t)(code & 0xffff) << 16);
	}
	(void)sbi(EXT_SRST, 0, 0, code != 0 ? 1 : 0, 0);
	for (;;)
		__asm__ __volatile__("wfi");
}

void
hal_dump_state(void)
{
}

unsigned
hal_mem_regions(const struct hal_mem_range **out)
{
	*out = ram;
	return 1;
}

unsigned
hal_mem_reserved(const struct hal_mem_range **out)
{
	*out = reserved;
	return nreserved;
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

void
hal_kernel_image(struct hal_kernel_image *out)
{
	out->text_start = (uintptr_t)_text_start;
	out->text_end = page_up((uintptr_t)_text_end);
	out->rodata_start = (uintptr_t)_rodata_start;
	out->rodata_end = page_up((uintptr_t)_rodata_end);
	out->data_start = (uintptr_t)_data_start;
	out->data_end = page_up((uintptr_t)_kernel_end);
	out->ret_insn = 0;
	out->probe_word = 0;
}

unsigned
hal_mmio_regions(const struct hal_mem_range **out)
{
	*out = mmio;
	return 4;
}

bool
hal_mmu_has_svpbmt(void)
{
	return false;
}

/* ------------------------------------------------------------------ */
/* C library functions librvmm.a uses that xv6's string.c lacks.       */

char *
strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (*s == 0)
			return 0;
	}
}

int
strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

char *
strstr(const char *h, const char *n)
{
	size_t ln = strlen(n);

	for (; *h; h++)
		if (strncmp(h, n, ln) == 0)
			return (char *)h;
	return ln == 0 ? (char *)h : 0;
}
