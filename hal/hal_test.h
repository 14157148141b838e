/*
 * hal_test.h: what rvmm's own kernels (the riscv64 test and benchmark
 * kernels, the host programs) provide beyond hal/hooks.h, for rvmm's tests
 * and benchmarks only.  librvmm.a never calls any of it; an embedding
 * kernel neither defines nor includes this.
 */
#ifndef RVMM_HAL_HAL_TEST_H
#define RVMM_HAL_HAL_TEST_H

#include <stdint.h>

#include "hal/hal.h"

/*
 * Entry.  rvmm's ports bring up every hart, then call kmain() on cpu 0 and
 * kmain_secondary() on every other cpu, each with interrupts enabled.
 * Neither returns; kmain() ends by calling hal_poweroff().  The test and
 * benchmark kmain() run vm_boot() and let the others call vm_boot_cpu()
 * and smp_idle_loop() (tests/kmain_test.c).
 */
/* pre: cpu 0, interrupts enabled, every cpu has checked in. */
void kmain(void);
/* pre: cpu != 0, interrupts enabled.  Never returns. */
_Noreturn void kmain_secondary(void);

#ifndef HAL_MD_CPU
/*
 * hal_cpu: the calling cpu's struct hal_cpu (rvmm's ports keep one per
 * hart).  Inline when hal_md.h defines HAL_MD_CPU, else out of line.
 */
struct hal_cpu *hal_cpu(void);
#endif

/* The kernel command line (DTB /chosen/bootargs, argv on the host). */
const char *hal_bootargs(void);

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
 * Returns 0 if it ran, -EFAULT if the fetch faulted.  Test targets inside
 * the kernel image: hal_kernel_image()'s ret_insn and probe_word.
 * pre: thread context, interrupts on or off.
 */
int hal_probe_read64(vaddr_t va, uint64_t *out);
int hal_probe_write64(vaddr_t va, uint64_t value);
int hal_probe_exec(vaddr_t va);

#endif /* RVMM_HAL_HAL_TEST_H */
