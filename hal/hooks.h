/*
 * hooks.h: every function the embedding kernel defines for librvmm.a.
 *
 * This is the whole list: `nm -u librvmm.a` names these hal_* symbols and
 * no others (ci/check-lib checks it, per build), plus C library functions
 * (memcpy, memset, memcmp, strlen, ...: picolibc or the kernel's own) and
 * compiler runtime helpers (libgcc).  Included by hal/hal.h; do not
 * include it alone.
 *
 * What is NOT a hook, because librvmm.a has it (hal/hal.h):
 *	hal_intr_disable/restore/enabled	inline in hal_md.h (riscv64:
 *						sstatus.SIE)
 *	hal_preempt_disable/enable		inline (compiler barriers unless
 *						hal_md.h says otherwise)
 *	hal_cpu_relax, hal_cpu_idle, hal_mmu_*	hal/riscv64/cpu.c
 *	hal_copyin/out/instr, hal_copy_fixup	hal/riscv64/usercopy.S
 *	smp_ipi_entry()				the kernel's IPI dispatch calls it
 *						(lib/smp.h)
 *	vm_fault_trap()				the kernel's trap handler calls
 *						it for every page fault
 *						(vm/fault.h)
 * What rvmm's own test kernels have beyond this: hal/hal_test.h.
 *
 * Count (riscv64, default hal_md.h): 15 hooks with an MMU (meson
 * -Dmmu=true), 11 without (-Dmmu=false: the four marked [mmu] are not
 * called; a kernel may still define them).  A hal_md.h that makes
 * hal_cpu_id() inline removes one.
 *
 * The link also provides __start_rvmm_extable and __stop_rvmm_extable,
 * the bounds of the section rvmm_extable (the user-copy routines'
 * recovery points, hal/riscv64/usercopy.S): GNU ld defines them by itself
 * for an orphan section; a kernel linker script that places the section
 * (keep it in read-only data, with KEEP) defines them around it.
 *
 * Contexts.  "Any context": thread or interrupt context, interrupts on or
 * off, on any online hart (vm/vm.h); a hook called so must not sleep or
 * take a lock that an interrupt handler of the kernel may hold.  Every
 * hook may be called before paging is on (from vm_boot) and after.
 */
#ifndef RVMM_HAL_HOOKS_H
#define RVMM_HAL_HOOKS_H

#ifndef RVMM_HAL_HAL_H
#error "include hal/hal.h, not hal/hooks.h"
#endif

/* ------------------------------------------------------------------ */
/* Harts.                                                              */

/*
 * hal_ncpus: how many harts rvmm may ever run on: cpu ids are
 * 0 .. hal_ncpus() - 1, at most HAL_MAX_CPUS.  Counts the harts the kernel
 * will start later too; fixed from vm_boot() on (per-cpu arrays are sized
 * by it).  pre: any context.
 */
unsigned hal_ncpus(void);

/*
 * hal_cpu_hartid: the hardware hart id (mhartid, as SBI wants it) of cpu
 * `id`.  Used for SBI RFENCE: MMU builds only ([mmu]).
 * pre: id < hal_ncpus(); any context.
 */
unsigned long hal_cpu_hartid(unsigned id);	/* [mmu] */

#ifdef HAL_MD_CPU_HOOK
/*
 * hal_cpu_id: the calling hart's cpu id (< hal_ncpus()), cheap: it is on
 * every allocation's fast path.  The kernel keeps it where it likes (xv6:
 * the hart id in tp, so `return r_tp();` when hart ids are dense).  Only
 * with a hal_md.h that defines HAL_MD_CPU_HOOK (the riscv64 default).
 * pre: any context; the caller is not migrated meanwhile.
 */
unsigned hal_cpu_id(void);
#endif

/* ------------------------------------------------------------------ */
/* Inter-processor interrupts.                                         */

/*
 * hal_ipi_send: raises an IPI on every cpu in the set (the caller's own
 * cpu is allowed and gets one too).  Returns at once; delivery is
 * asynchronous.  On each target the kernel's interrupt dispatch calls
 * smp_ipi_entry() (lib/smp.h) with interrupts off, at least once after
 * this call (IPIs sent while one is pending may merge into one call).
 * Stores made before the call are visible to the target by then.
 * riscv64: SBI IPI (sbi_send_ipi with the hart ids) and, on the target,
 * the supervisor software interrupt (clear sip.SSIP, then call
 * smp_ipi_entry); the kernel may share the IPI with its own uses.
 * pre: any context; the targets are online (vm/vm.h).
 */
void hal_ipi_send(const hal_cpuset_t *set);

/* ------------------------------------------------------------------ */
/* Time, console, stopping.                                            */

/*
 * hal_time_ns: monotonic nanoseconds (from any fixed origin), the same
 * clock on every hart.  riscv64: rdtime scaled by the device tree's
 * timebase-frequency.  pre: any context.
 */
uint64_t hal_time_ns(void);

/*
 * hal_console_write: writes n bytes of text (kprintf's output, panic
 * messages).  rvmm itself prints only on panic and on request (dumps,
 * statistics); SBI putchar is enough.  pre: any context; the caller
 * serialises (kprintf holds its own lock; a panic writes without it).
 */
void hal_console_write(const char *s, size_t n);

/*
 * hal_poweroff: stops the machine; called by panic() (lib/assert.h) with
 * PANIC_EXIT_CODE after the message and hal_dump_state(), and by rvmm's
 * tests with their result.  Never returns.  A kernel may halt this hart
 * and the others, reset, or enter its own panic loop; code 0 is success,
 * anything else a failure (rvmm's kernels make QEMU exit with it).
 * pre: any context, interrupts off or on.
 */
_Noreturn void hal_poweroff(int code);

/*
 * hal_dump_state: prints what helps debug a panic (registers, a
 * backtrace of the calling context), or nothing.  Must not panic.
 * pre: any context, from panic().
 */
void hal_dump_state(void);

/* ------------------------------------------------------------------ */
/* Physical memory.                                                    */

struct hal_mem_range {
	paddr_t base;
	paddr_t size;
};

#define HAL_MAX_MEM_REGIONS 8
#define HAL_MAX_RESERVED 16

/*
 * hal_mem_regions, hal_mem_reserved: RAM regions (sorted by base,
 * disjoint, at most HAL_MAX_MEM_REGIONS) and the ranges inside them rvmm
 * must not hand out (at most HAL_MAX_RESERVED): firmware, the kernel image
 * with its stacks and bss, the device tree, an initrd, and any memory the
 * kernel keeps for itself.  rvmm's page allocator owns the rest from
 * vm_boot() on.  *out points at arrays that stay valid and unchanged.
 * With an MMU, RAM must lie below the kernel window's end (hal/pmap.h).
 * pre: any context, from vm_boot() on.
 */
unsigned hal_mem_regions(const struct hal_mem_range **out);
unsigned hal_mem_reserved(const struct hal_mem_range **out);

/*
 * hal_phys_to_virt, hal_virt_to_phys: the kernel's view of RAM: every RAM
 * address is reachable at hal_phys_to_virt(pa), before paging and after.
 * On riscv64 rvmm maps RAM identity (hal/pmap.h), so both are the identity
 * (a cast); a kernel with another direct map changes the pmap too.
 * pre: any context; pa inside RAM, va inside the direct map.
 */
void *hal_phys_to_virt(paddr_t pa);
paddr_t hal_virt_to_phys(const void *va);

/* ------------------------------------------------------------------ */
/* Machine facts for the pmap (MMU builds only: [mmu]).                */

/*
 * hal_kernel_image: the kernel image, for a W^X kernel mapping: physical
 * (== virtual: the kernel runs identity-mapped) page-aligned ranges from
 * the kernel's linker script.  text (with the trap vector and anything
 * executed) is mapped RX, rodata R, data (data, bss, stacks, up to the
 * image's end) RW; text < rodata <= data, no overlap.  Any RAM outside
 * the three is mapped RW, never X.
 * ret_insn and probe_word are read by rvmm's own tests only
 * (hal/hal_test.h); an embedding kernel sets them to 0.
 * pre: from vm_boot() on.
 */
struct hal_kernel_image {
	paddr_t text_start, text_end;
	paddr_t rodata_start, rodata_end;
	paddr_t data_start, data_end;
	vaddr_t ret_insn;	/* tests: a `ret` instruction inside text */
	vaddr_t probe_word;	/* tests: an unused 8-byte word in data */
};
void hal_kernel_image(struct hal_kernel_image *out);	/* [mmu] */

/*
 * hal_mmio_regions: device ranges (UART, PLIC, CLINT, virtio, the test
 * finisher ...) the kernel reaches once paging is on: mapped read-write,
 * never executable, with the Svpbmt IO type if the harts have Svpbmt, in
 * the kernel pmap (so in every address space): identity, except inside
 * the user window, where the kernel reaches them at pmap_mmio_va(pa)
 * (hal/pmap.h).  Page-aligned.
 * 0 ranges is fine.  *out stays valid.  pre: from vm_boot() on.
 */
unsigned hal_mmio_regions(const struct hal_mem_range **out);	/* [mmu] */

/*
 * hal_mmu_has_svpbmt: true when every hart implements Svpbmt (the device
 * tree's riscv,isa string has "_svpbmt"); rvmm then marks device mappings
 * IO.  false is always safe on QEMU virt.  pre: from vm_boot() on.
 */
bool hal_mmu_has_svpbmt(void);	/* [mmu] */

#endif /* RVMM_HAL_HOOKS_H */
