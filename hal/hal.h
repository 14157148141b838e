/*
 * hal.h: what rvmm's machine-independent layers (lib/, vm/) and its pmap
 * need from the machine, and who provides it.
 *
 * rvmm is a library, librvmm.a (meson target `rvmm`): lib/, vm/, the pmap
 * (hal/sv39, or hal/nommu with -Dmmu=false) and, on riscv64, the CPU-level
 * primitives every S-mode kernel shares (hal/riscv64/cpu.c: satp,
 * sfence.vma, SBI RFENCE, wfi).  The kernel that links it provides the
 * rest, the hooks of hal/hooks.h (included below), and its own boot, trap
 * entry and IPI dispatch.  rvmm's own two kernels are such users:
 *
 *	hal/riscv64/	a freestanding test kernel on QEMU virt through
 *			OpenSBI (start.S, trap.S, boot.c, trap.c, dtb.c ...)
 *	hal/host/	harts as pthreads, a simulated physical memory arena
 *			and software MMU, IPIs as signals, for unit tests and
 *			sanitizers (it also provides the CPU primitives)
 *
 * and ports/mini/ is a minimal third one.  What only rvmm's own test
 * kernels and tests need (probes, bootargs, the kmain entry) is in
 * hal/hal_test.h, not here.
 *
 * This header: the types and constants every layer uses, the inline fast
 * paths (hal_md.h, below), the hooks (hal/hooks.h), and the CPU and MMU
 * primitives.  Every entry point lists its preconditions with "pre:"
 * lines.  "Any context" means: thread or interrupt context, interrupts on
 * or off.  docs/PORTING.md and docs/INTEGRATION.md explain how to embed.
 *
 * Logical CPUs.  rvmm numbers harts 0 .. hal_ncpus()-1 (the "cpu id", as
 * the kernel assigns them); hardware hart ids may be sparse and are only
 * needed to talk to firmware (hal_cpu_hartid() maps).
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
/* CPUs and the per-CPU area.                                          */

/*
 * The per-CPU area of rvmm's own ports (hal/riscv64, hal/host) starts with
 * this header.  The library never reads it: machine-independent code keeps
 * its per-CPU state in arrays indexed by hal_cpu_id() (cache-line
 * aligned), so an embedding kernel needs no struct hal_cpu at all.
 */
struct hal_cpu {
	unsigned id;		/* (C) logical cpu id */
	unsigned long hartid;	/* (C) hardware hart id */
	uint64_t intr_count;	/* (L) interrupts taken on this cpu */
	uint64_t ipi_count;	/* (L) IPIs received on this cpu */
};

typedef unsigned long hal_intr_t;

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
 * The fast paths: "hal_md.h" (found on the include path; the build picks
 * it, meson -Dhal_md_dir=DIR), so that a per-CPU fast path costs a
 * register read and a CSR access, not function calls.  It defines, as
 * static inline functions:
 *
 *	hal_intr_t hal_intr_disable(void);
 *		disables interrupts on this cpu, returns the previous state;
 *		nests.
 *	void hal_intr_restore(hal_intr_t state);
 *		restores a state returned by hal_intr_disable(); an interrupt
 *		that became pending meanwhile is taken now.
 *	bool hal_intr_enabled(void);
 *
 * and the calling cpu's id, one of three ways:
 *
 *	HAL_MD_CPU_HOOK defined: hal_cpu_id() is a hook the kernel defines
 *		out of line (hal/hooks.h).  The default riscv64 header
 *		(hal/riscv64/md/hal_md.h) does this: it assumes nothing about
 *		tp, gp or sscratch, so a kernel that keeps its own per-CPU
 *		data (xv6: the hart id in tp) needs nothing more.
 *	HAL_MD_CPU_ID defined: hal_cpu_id() is inline (the host port: a
 *		thread-local; a kernel's own header: its tp convention).
 *	neither: hal_md.h defines an inline struct hal_cpu *hal_cpu(void)
 *		and hal_cpu_id() is hal_cpu()->id (rvmm's tp convention,
 *		hal/riscv64/include/hal_md.h: tp points at a per-CPU area
 *		that starts with struct hal_cpu).
 *
 * A header that defines hal_cpu() inline also defines HAL_MD_CPU.  The
 * library is compiled with one hal_md.h, and the kernel must be compiled
 * with the same one (meson install puts it in include/rvmm/md/).
 * pre (hal_cpu_id): the caller is not migrated meanwhile (rvmm kernels do
 * not preempt kernel code; a preemptive kernel disables preemption around
 * use, see hal_preempt_disable below).
 */
#include "hal_md.h"

#if !defined(HAL_MD_CPU_HOOK) && !defined(HAL_MD_CPU_ID)
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

/* The hooks the embedding kernel provides. */
#include "hal/hooks.h"

/* ------------------------------------------------------------------ */
/* CPU primitives (riscv64: in librvmm.a, hal/riscv64/cpu.c; host:     */
/* hal/host).                                                          */

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
/* Page faults (the kernel's trap handler calls vm_fault_trap, vm/fault.h). */

#define HAL_FAULT_READ 0x1u
#define HAL_FAULT_WRITE 0x2u
#define HAL_FAULT_EXEC 0x4u
#define HAL_FAULT_USER 0x8u	/* the faulting access came from user mode */

/* ------------------------------------------------------------------ */
/* MMU primitives (riscv64: in librvmm.a; host: the software MMU).    */

/*
 * What hal/sv39 (the pmap), which is plain C and never touches a CSR
 * itself, needs from an Sv39 MMU.  On riscv64 the library implements these
 * (hal/riscv64/cpu.c) with csrr/csrw satp, sfence.vma and SBI RFENCE; the
 * host port with its software MMU (hal/host/mmu.c: a walker over the
 * simulated physical memory and a small per-hart TLB).  The satp value is opaque here: hal/sv39/pte.h
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

/* ------------------------------------------------------------------ */
/* User copies, the machine half of vm/copy.h (riscv64: in librvmm.a,  */
/* hal/riscv64/usercopy.S; host: the software MMU).                    */

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
