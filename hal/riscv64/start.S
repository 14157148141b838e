/*
 * start.S: entry points of the riscv64 kernel image.
 *
 * _start: the boot hart, from OpenSBI (-bios default, fw_jump): S-mode,
 *   satp Bare, a0 = hart id, a1 = physical address of the device tree.
 *   Set up the boot stack, clear .bss, call rv_boot(hartid, dtb).
 * rv_secondary_entry: every other hart, started by SBI HSM hart_start
 *   with a1 = its struct rv_cpu: tp = that, sp = its stack, then
 *   rv_secondary(cpu).
 */
#include "hal/riscv64/rv.h"

	.section .text.boot, "ax"
	.globl _start
_start:
	la	sp, rv_boot_stack_top
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	mv	fp, zero
	call	rv_boot
3:	wfi
	j	3b

	.globl rv_secondary_entry
	.balign 4
rv_secondary_entry:
	mv	tp, a1
	ld	sp, RV_CPU_STACK_TOP(a1)
	mv	fp, zero
	mv	a0, a1
	call	rv_secondary
4:	wfi
	j	4b

	.section .bss.stack, "aw", @nobits
	.balign 16
rv_boot_stack:
	.space	RV_STACK_SIZE
	.globl rv_boot_stack_top
rv_boot_stack_top:
