/*
 * hal.h: the contract every rvmm port provides.
 *
 * rvmm's machine-independent layers (lib/, vm/) see the machine only through
 * this header (and, for address translation, hal/pmap.h).  Two ports exist:
 *
 *	hal/riscv64/	a freestanding kernel on QEMU virt through OpenSBI
 *	hal/host/	harts as pthreads, a simulated physical memory arena,
 *			IPIs as signals, for unit tests and sanitizers
 *
 * Every entry point below lists its preconditions with "pre:" lines.
 * "Any context" means: thread or interrupt context, interrupts on or off.
 * docs/PORTING.md explains how to write a new port.
 *
 * Logical CPUs.  The port numbers the harts it runs on 0 .. hal_ncpus()-1
 * (the "cpu id"); the boot hart is cpu 0.  Hardware hart ids may be sparse
 * and are only needed to talk to firmware; hal_cpu_hartid() maps.
 *
 * Entry.  The port brings up every hart, then calls the kernel's kmain() on
 * cpu 0 and kmain_secondary() on every other cpu, each with interrupts
 * enabled.  Neither returns; kmain() ends by calling hal_poweroff().
 */
#ifndef RVMM_HAL_HAL_H
#define RVMM_HAL_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t;
typedef uintptr_t vaddr_t;

#define HAL_PAGE_SHIFT 12
#define HAL_PAGE_SIZE (1ul << HAL_PAGE_SHIFT)
#define HAL_CACHE_LINE 64

#ifndef HAL_MAX_CPUS
#define HAL_MAX_CPUS 16
#endif

/*
 * HAL_MMU: 1 when addresses are translated (hal/sv39 implements
 * hal/pmap.h), 0 for the no-MMU build (meson -Dmmu=false): satp stays
 * Bare, every address is physical, and hal/nommu/pmap.c implements
 * hal/pmap.h as the identity.  A constant, so the layers above test it in
 * plain C (`if (!HAL_MMU)`) and both builds compile the same sources.
 */
#ifndef HAL_MMU
#define HAL_MMU 1
#endif

#define HAL_CACHE_ALIGNED __attribute__((aligned(HAL_CACHE_LINE)))

/* ------------------------------------------------------------------ */
/* Provided by the kernel image, called by the port.                   */

/* pre: cpu 0, interrupts enabled, every cpu has checked in. */
void kmain(void);
/* pre: cpu != 0, interrupts enabled.  Never returns. */
_Noreturn void kmain_secondary(void);

/* ------------------------------------------------------------------ */
/* CPUs and the per-CPU area.                                          */

/*
 * The port's per-CPU area starts with this header.  Machine-independent
 * code keeps its own per-CPU state in arrays indexed by hal_cpu()->id
 * (cache-line aligned), so the port need not know about it.
 */
struct hal_cpu {
	unsigned id;		/* (C) logical cpu id */
	unsigned long hartid;	/* (C) hardware hart id */
	uint64_t intr_count;	/* (L) interrupts taken on this cpu */
	uint64_t ipi_count;	/* (L) IPIs received on this cpu */
};

/*
 * The fast-path primitives below are static inline functions that each
 * port defines in its own "hal_md.h" (hal/<port>/include/), included at
 * the end of this section, so that a per-CPU fast path costs a register
 * read and a CSR access, not function calls:
 *
 *	struct hal_cpu *hal_cpu(void);
 *		the calling cpu's per-CPU area.
 *		pre: the caller is not migrated meanwhile (rvmm kernels do
 *		not preempt kernel code; a preemptive kernel disables
 *		preemption around use).
 *	hal_intr_t hal_intr_disable(void);
 *		disables interrupts on this cpu, returns the previous state;
 *		nests.
 *	void hal_intr_restore(hal_intr_t state);
 *		restores a state returned by hal_intr_disable(); an interrupt
 *		that became pending meanwhile is taken now.
 *	bool hal_intr_enabled(void);
 */
typedef unsigned long hal_intr_t;

/* pre: any context. */
unsigned hal_ncpus(void);
/* pre: id < hal_ncpus(). */
unsigned long hal_cpu_hartid(unsigned id);

#include "hal_md.h"

/*
 * hal_cpu_id: hal_cpu()->id.  A port whose hal_cpu() is itself a load
 * (the host: a thread-local pointer) may keep the id at hand and define
 * HAL_MD_CPU_ID and its own hal_cpu_id().
 */
#ifndef HAL_MD_CPU_ID
static inline unsigned
hal_cpu_id(void)
{
	return hal_cpu()->id;
}
#endif

/*
 * hal_preempt_disable, hal_preempt_enable: keep the calling thread on this
 * cpu in between (nesting), without disabling interrupts: the zone fast
 * path's bracket (vm/zone_impl.h, "Exclusion").  rvmm's own ports never
 * preempt kernel code, so by default they are compiler barriers only; the
 * port of a preemptive kernel defines HAL_MD_PREEMPT and its own pair
 * (a per-thread counter, as FreeBSD's critical_enter).
 */
#ifndef HAL_MD_PREEMPT
static inline void
hal_preempt_disable(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static inline void
hal_preempt_enable(void)
{
	__asm__ __volatile__("" ::: "memory");
}
#endif

/* ------------------------------------------------------------------ */
/* Interrupts (hal_intr_disable/restore/enabled: see hal_md.h above).  */

/* Spin-wait hint for busy loops.  pre: any context. */
void hal_cpu_relax(void);

/*
 * hal_cpu_idle: waits until an interrupt is pending or has been taken,
 * like `wfi`; may return spuriously.
 * pre: interrupts disabled (the caller checks its wake-up condition with
 *      interrupts off, then idles, so no wake-up is lost).  Interrupts are
 *      still disabled on return; a pending one is taken when the caller
 *      restores them.
 */
void hal_cpu_idle(void);

/* ------------------------------------------------------------------ */
/* Inter-processor interrupts.                                         */

/*
 * The kernel registers one handler; the port calls it in interrupt context,
 * interrupts disabled, on the target cpu once per received IPI (IPIs sent
 * while one is pending may be merged: the handler must drain all work).
 */
typedef void (*hal_ipi_handler_t)(void);
void hal_ipi_set_handler(hal_ipi_handler_t fn);

/* A set of logical cpus. */
typedef struct {
	uint64_t bits[(HAL_MAX_CPUS + 63) / 64];
} hal_cpuset_t;

static inline void
hal_cpuset_clear(hal_cpuset_t *s)
{
	for (unsigned i = 0; i < sizeof(s->bits) / sizeof(s->bits[0]); i++)
		s->bits[i] = 0;
}

static inline void
hal_cpuset_add(hal_cpuset_t *s, unsigned cpu)
{
	s->bits[cpu / 64] |= 1ull << (cpu % 64);
}

static inline bool
hal_cpuset_has(const hal_cpuset_t *s, unsigned cpu)
{
	return (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

/*
 * hal_ipi_send: raises an IPI on every cpu in the set (the caller's own cpu
 * is allowed and gets one too).  Returns at once; delivery is asynchronous.
 * Stores made before the call are visible to the handler on the target.
 * pre: any context.
 */
void hal_ipi_send(const hal_cpuset_t *set);

/* ------------------------------------------------------------------ */
/* Page faults (the port's trap handler calls vm_fault_trap, vm/fault.h). */

#define HAL_FAULT_READ 0x1u
#define HAL_FAULT_WRITE 0x2u
#define HAL_FAULT_EXEC 0x4u
#define HAL_FAULT_USER 0x8u	/* the faulting access came from user mode */

/* ------------------------------------------------------------------ */
/* Time, console, power.                                               */

/* Monotonic nanoseconds since boot.  pre: any context. */
uint64_t hal_time_ns(void);

/* Writes bytes to the console.  pre: the caller serialises (kprintf does). */
void hal_console_write(const char *s, size_t n);

/*
 * Stops every hart and ends the machine.  code 0 is success; anything else
 * makes QEMU (or the host program) exit with a non-zero status.
 */
_Noreturn void hal_poweroff(int code);

/* Prints registers and a backtrace of the calling context (for panic). */
void hal_dump_state(void);

/* The kernel command line (DTB /chosen/bootargs, argv on the host). */
const char *hal_bootargs(void);

/* ------------------------------------------------------------------ */
/* Physical memory.                                                    */

struct hal_mem_range {
	paddr_t base;
	paddr_t size;
};

#define HAL_MAX_MEM_REGIONS 8
#define HAL_MAX_RESERVED 16

/*
 * RAM regions, sorted by base, disjoint, and the reserved ranges inside
 * them (firmware, the kernel image, the device tree, an initrd).  The page
 * allocator manages regions minus reserved ranges.  Pointers stay valid.
 * pre: after boot, any context.
 */
unsigned hal_mem_regions(const struct hal_mem_range **out);
unsigned hal_mem_reserved(const struct hal_mem_range **out);

/*
 * The kernel's view of physical memory: every RAM address is reachable at
 * hal_phys_to_virt(pa) (a direct map, or identity before paging).
 */
void *hal_phys_to_virt(paddr_t pa);
paddr_t hal_virt_to_phys(const void *va);

/* ------------------------------------------------------------------ */
/* MMU primitives (paging ports; used by hal/sv39 and by tests).       */

/*
 * What a port with an Sv39 MMU gives hal/sv39 (the pmap), which is plain C
 * and never touches a CSR itself.  The riscv64 port implements these with
 * csrr/csrw satp, sfence.vma and SBI RFENCE; the host port with its software
 * MMU (hal/host/mmu.c: a walker over the simulated physical memory and a
 * small per-hart TLB).  The satp value is opaque here: hal/sv39/pte.h
 * defines its fields.
 *
 * No primitive below implies another: writing satp does not flush, a local
 * flush does not reach other harts, a remote fence does not flush the
 * caller.  "Local" means the calling hart; callers keep interrupts off (or
 * otherwise stay on one hart) around a sequence that must stay there.
 */

/* pre: any context; the calling hart's satp. */
uint64_t hal_mmu_satp_read(void);
/* pre: interrupts off; the new root maps the running code and stack. */
void hal_mmu_satp_write(uint64_t satp);

/* sfence.vma x0, x0: every entry of this hart's TLB, global ones too. */
void hal_mmu_flush_local_all(void);
/* sfence.vma x0, asid: non-global entries of one address space. */
void hal_mmu_flush_local_asid(unsigned asid);
/* sfence.vma va, asid: the non-global leaf entry that maps va in asid. */
void hal_mmu_flush_local_va(vaddr_t va, unsigned asid);
/* sfence.vma va, x0: the leaf entries that map va in every space, global too. */
void hal_mmu_flush_local_va_all(vaddr_t va);

#define HAL_MMU_ASID_ANY (-1l)		/* remote fence: every address space */
#define HAL_MMU_SIZE_ALL (~(size_t)0)	/* remote fence: the whole space */

/*
 * hal_mmu_remote_fence: the SBI RFENCE path.  Every cpu in `set` (the
 * caller's own is ignored) invalidates the translations of
 * [start, start + size) in address space `asid` (HAL_MMU_ASID_ANY: every
 * address space and the global entries; size HAL_MMU_SIZE_ALL: the whole
 * space) and the call returns once every target has done so, whatever the
 * targets' interrupt state (the firmware does the work in M-mode).
 * Returns 0, or a negative errno if the firmware refuses (no RFENCE).
 * pre: thread context.  Stores made before the call are visible to the
 *      targets' page-table walks after their flush.
 */
int hal_mmu_remote_fence(const hal_cpuset_t *set, vaddr_t start, size_t size,
    long asid);

/* True when the harts implement Svpbmt (the device tree's ISA string). */
bool hal_mmu_has_svpbmt(void);

/*
 * The kernel image, for a W^X kernel mapping: physical (== virtual, the
 * kernel runs identity-mapped) page-aligned ranges.  text is mapped RX,
 * rodata R, data (data and bss) RW.  ret_insn is the address of a `ret`
 * instruction inside text, and probe_word an 8-byte word inside data that
 * nothing else uses: tests point hal_probe_exec()/hal_probe_write64() at them.
 */
struct hal_kernel_image {
	paddr_t text_start, text_end;
	paddr_t rodata_start, rodata_end;
	paddr_t data_start, data_end;
	vaddr_t ret_insn;
	vaddr_t probe_word;
};
void hal_kernel_image(struct hal_kernel_image *out);

/*
 * Device (MMIO) ranges the kernel must keep mapped once paging is on (the
 * riscv64 port's test finisher, used by hal_poweroff).  Page-aligned; the
 * pmap maps them identity, read-write, with the Svpbmt IO type if present,
 * except inside the user window, where they are at pmap_mmio_va() (pmap.h).
 */
unsigned hal_mmio_regions(const struct hal_mem_range **out);

/*
 * Probes: one access through the MMU of the calling hart, as the kernel
 * would make it (S-mode; the load and store probes set sstatus.SUM around
 * their access so user pages are reachable, as copyin/copyout do).  A page
 * or access fault does not panic: vm_fault_trap() is asked first (the
 * probes are user-access routines for hal_copy_fixup), and if it does not
 * resolve the fault the probe returns -EFAULT and changes nothing.  va
 * must be 8-byte aligned (else -EINVAL).
 *
 * hal_probe_exec() calls va as a function: it must hold a `ret` (the
 * caller wrote it and the port makes the instruction fetch see it).
 * Returns 0 if it ran, -EFAULT if the fetch faulted.
 * pre: thread context, interrupts on or off.
 */
int hal_probe_read64(vaddr_t va, uint64_t *out);
int hal_probe_write64(vaddr_t va, uint64_t value);
int hal_probe_exec(vaddr_t va);

/* ------------------------------------------------------------------ */
/* User copies (the machine half of vm/copy.h).                        */

/*
 * The port's user-access routines: copy between kernel memory and user
 * memory of the calling hart's current address space, with user access
 * enabled (riscv64: sstatus.SUM set) only inside them.  The caller
 * (vm/copy.c) has checked that the user range lies in user space and is
 * not empty.  A page fault taken inside goes to vm_fault_trap(); if that
 * resolves it the access is retried, else the routine returns
 * HAL_COPY_FAULT through its recovery point (see hal_copy_fixup).  Bytes
 * are copied in increasing address order, so after a fault a prefix of
 * the destination, ending before the byte that faulted, may have been
 * written.  They return 0 on success.  (Plain numbers, not errno values,
 * so that assembly routines need no libc header; vm/copy.c turns them
 * into -EFAULT and -ENAMETOOLONG.)
 *
 * hal_copyinstr copies bytes until it has copied a NUL (0) or max bytes
 * without one (HAL_COPY_NONUL); max >= 1.
 * pre: thread context (they may fault), interrupts on or off.
 */
#define HAL_COPY_FAULT (-1)
#define HAL_COPY_NONUL 1
int hal_copyin(void *dst, vaddr_t usrc, size_t len);
int hal_copyout(vaddr_t udst, const void *src, size_t len);
int hal_copyinstr(char *dst, vaddr_t usrc, size_t max);

/*
 * hal_copy_fixup: if pc is an instruction of a user-access routine that
 * may fault (the copies above, the port's probes), the address of the
 * recovery code that makes the routine fail (HAL_COPY_FAULT; -EFAULT for
 * a probe); else 0.  vm_fault_trap() calls it for every kernel-mode fault.
 * pre: any context; pc is a kernel address.
 */
vaddr_t hal_copy_fixup(vaddr_t pc);

#endif /* RVMM_HAL_HAL_H */
