/*
 * Private definitions of the riscv64 port, shared by its C and assembly.
 */
#ifndef RVMM_HAL_RISCV64_RV_H
#define RVMM_HAL_RISCV64_RV_H

#define RV_STACK_SIZE 16384
#define RV_CPU_STACK_TOP 32	/* offsetof(struct rv_cpu, stack_top) */
#define RV_MAX_PARK 8		/* harts that may enter _start at once */

/* Trap frame: x1..x31 at 8*i, then sepc, sstatus, scause, stval. */
#define TF_SEPC (32 * 8)
#define TF_SSTATUS (33 * 8)
#define TF_SCAUSE (34 * 8)
#define TF_STVAL (35 * 8)
#define TF_SIZE (36 * 8)

#ifndef __ASSEMBLER__
#include <stdint.h>

#include "hal/hal.h"

struct rv_cpu {
	struct hal_cpu hc;	/* must be first: hal_cpu() casts tp */
	uintptr_t stack_top;	/* (C) at RV_CPU_STACK_TOP */
	unsigned started;	/* (A) set when the hart runs C code */
	uintptr_t probe_exec_va;	/* (L) target of hal_probe_exec, or 0 */
} HAL_CACHE_ALIGNED;

/* A parked hart's slot (start.S): written by the boot hart. */
struct rv_park_slot {
	unsigned long hartid_plus1;	/* 0: free */
	struct rv_cpu *cpu;
};
extern struct rv_park_slot rv_park[RV_MAX_PARK];

struct rv_trapframe {
	unsigned long x[32];	/* x[0] unused; x[2] is the interrupted sp */
	unsigned long sepc;
	unsigned long sstatus;
	unsigned long scause;
	unsigned long stval;
};

void rv_trap(struct rv_trapframe *tf);
void rv_trap_entry(void);
void rv_secondary_entry(void);
void rv_dump_frame(const struct rv_trapframe *tf);
void rv_backtrace(unsigned long fp, unsigned long pc);
extern hal_ipi_handler_t rv_ipi_handler;

/* probe.S: the exec probe's fixup (see trap.c), a `ret` in the text. */
extern char rv_probe_exec_fixup[], rv_ret_insn[];
#endif

#endif /* RVMM_HAL_RISCV64_RV_H */
