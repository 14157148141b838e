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

static inline unsigned
hal_cpu_id(void)
{
	return hal_cpu()->id;
}

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
/* Page-fault hook (filled by the VM layer).                           */

#define HAL_FAULT_READ 0x1u
#define HAL_FAULT_WRITE 0x2u
#define HAL_FAULT_EXEC 0x4u
#define HAL_FAULT_USER 0x8u	/* the faulting access came from user mode */

/*
 * Called in trap context for a page fault.  Returns 0 when the fault was
 * resolved (the access is retried), or a negative errno (the port then
 * applies the kernel's policy: a registered recovery point, else panic).
 */
typedef int (*hal_fault_handler_t)(vaddr_t addr, unsigned access,
    vaddr_t pc);
void hal_fault_set_handler(hal_fault_handler_t fn);

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

#endif /* RVMM_HAL_HAL_H */
