/*
 * hooks.c: the minimal kernel's side of hal/hooks.h: every function
 * librvmm.a needs from a kernel (15 with an MMU), and nothing else.
 *
 * The machine is QEMU virt, and the kernel knows it the way small teaching
 * kernels do: RAM at 0x80000000 (only the first MINI_RAM_SIZE bytes are
 * used, whatever -m says, as long as it is at least that), a 10 MHz
 * timebase, the sifive,test0 finisher at 0x100000; hart ids are dense
 * from 0 (counted with SBI HSM), and cpu id == hart id, kept in tp.
 */
#include <ck_pr.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/kprintf.h"
#include "mini.h"

#define MINI_RAM_BASE 0x80000000ull
#define MINI_RAM_SIZE (128ull << 20)
#define MINI_FW_SIZE (2ull << 20)	/* OpenSBI, below the kernel */
#define MINI_TIMEBASE_HZ 10000000ull
#define MINI_FINISHER 0x100000ull

extern char _kernel_end[];
extern char _text_start[], _text_end[], _rodata_start[], _rodata_end[];
extern char _data_start[];

static unsigned mini_ncpus;
static struct hal_mem_range ram[1], reserved[2], mmio[1];
static unsigned nreserved;

static uint64_t
be32(const void *p)
{
	const unsigned char *b = p;

	return (uint64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

static uint64_t
page_up(uint64_t a)
{
	return (a + HAL_PAGE_SIZE - 1) & ~(uint64_t)(HAL_PAGE_SIZE - 1);
}

/* Before anything of rvmm runs: what the hooks answer from then on. */
void
mini_hooks_init(unsigned long boot_hart, const void *dtb)
{
	unsigned n = 0;

	/* Dense hart ids: the first id SBI does not know ends the list. */
	while (n < MINI_MAX_HARTS && n < HAL_MAX_CPUS &&
	    mini_sbi_hart_status(n) >= 0)
		n++;
	if (boot_hart >= n)
		n = (unsigned)boot_hart + 1;
	mini_ncpus = n;

	ram[0].base = MINI_RAM_BASE;
	ram[0].size = MINI_RAM_SIZE;
	/* Firmware and the kernel image (with its stacks and bss). */
	reserved[0].base = MINI_RAM_BASE;
	reserved[0].size = page_up((uintptr_t)_kernel_end) - MINI_RAM_BASE;
	nreserved = 1;
	/* The device tree, if QEMU put it inside the RAM we use. */
	uint64_t d = (uintptr_t)dtb, dsize = be32((const char *)dtb + 4);
	if (d >= MINI_RAM_BASE && d < MINI_RAM_BASE + MINI_RAM_SIZE) {
		uint64_t e = page_up(d + dsize);
		if (e > MINI_RAM_BASE + MINI_RAM_SIZE)
			e = MINI_RAM_BASE + MINI_RAM_SIZE;
		reserved[1].base = d & ~(uint64_t)(HAL_PAGE_SIZE - 1);
		reserved[1].size = e - reserved[1].base;
		nreserved = 2;
	}
	mmio[0].base = MINI_FINISHER;
	mmio[0].size = HAL_PAGE_SIZE;
}

/* ---- harts ---- */

unsigned
hal_ncpus(void)
{
	return mini_ncpus;
}

unsigned long
hal_cpu_hartid(unsigned id)
{
	return id;
}

unsigned
hal_cpu_id(void)
{
	unsigned long tp;

	__asm__("mv %0, tp" : "=r"(tp));
	return (unsigned)tp;
}

/* ---- IPIs: SBI IPI; the trap handler calls smp_ipi_entry() ---- */

void
hal_ipi_send(const hal_cpuset_t *set)
{
	unsigned long mask = 0;

	for (unsigned i = 0; i < mini_ncpus; i++)
		if (hal_cpuset_has(set, i))
			mask |= 1ul << i;
	ck_pr_fence_store();
	if (mask != 0)
		(void)mini_sbi_send_ipi(mask, 0);
}

/* ---- time, console, stopping ---- */

uint64_t
hal_time_ns(void)
{
	uint64_t t;

	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t * (1000000000ull / MINI_TIMEBASE_HZ);
}

void
hal_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mini_sbi_putchar((unsigned char)s[i]);
}

_Noreturn void
hal_poweroff(int code)
{
	unsigned long satp;

	kprintf("rvmm: poweroff %d\n", code);
	if (code != 0) {
		/* QEMU's finisher: 0x3333 = fail, exit status in 31:16. */
		__asm__ __volatile__("csrr %0, satp" : "=r"(satp));
		volatile uint32_t *fin = (volatile uint32_t *)(uintptr_t)
		    (satp == 0 ? MINI_FINISHER : pmap_mmio_va(MINI_FINISHER));
		*fin = 0x3333u | ((uint32_t)(code & 0xffff) << 16);
	}
	mini_sbi_shutdown(code != 0);
	for (;;)
		__asm__ __volatile__("wfi");
}

void
hal_dump_state(void)
{
	kprintf("(mini: no register dump)\n");
}

/* ---- physical memory: identity ---- */

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

/* ---- machine facts for the pmap ---- */

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
	return 1;
}

bool
hal_mmu_has_svpbmt(void)
{
	return false;
}
