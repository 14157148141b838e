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
	/*
	 * Only one hart may boot.  OpenSBI 1.1 on QEMU virt sometimes lets
	 * two harts in here (the winner of its lottery and the domain's boot
	 * hart): the first to swap the lottery word boots, any other parks.
	 */
	la	t0, rv_boot_lottery
	li	t1, 1
	amoadd.w.aq t1, t1, (t0)
	bnez	t1, rv_park_hart
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

/*
 * A hart that lost the lottery (a0 = its hart id) waits, touching neither
 * the stack nor .bss (the boot hart clears it), until the boot hart
 * publishes a slot {hart id + 1, struct rv_cpu *} for it in rv_park, then
 * enters as a secondary.
 */
rv_park_hart:
	addi	t3, a0, 1
1:	la	t0, rv_park
	li	t2, RV_MAX_PARK
2:	ld	t1, 0(t0)
	bne	t1, t3, 3f
	fence	r, r
	ld	a1, 8(t0)
	bnez	a1, rv_secondary_entry
3:	addi	t0, t0, 16
	addi	t2, t2, -1
	bnez	t2, 2b
	li	t1, 1000
4:	addi	t1, t1, -1
	bnez	t1, 4b
	j	1b

	.globl rv_secondary_entry
	.balign 4
rv_secondary_entry:
	/* Diagnostics for bring-up: count arrivals, remember (hart, a1). */
	la	t0, rv_secondary_arrivals
	li	t1, 1
	amoadd.w t1, t1, (t0)
	andi	t1, t1, RV_MAX_PARK - 1
	slli	t1, t1, 4
	la	t0, rv_secondary_log
	add	t0, t0, t1
	sd	a0, 0(t0)
	sd	a1, 8(t0)
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

	/* In .data, not .bss: parked harts read these before .bss is clear. */
	.section .data
	.balign 8
	.globl rv_boot_lottery
rv_boot_lottery:
	.word	0
	.balign 8
	.globl rv_park
rv_park:
	.space	RV_MAX_PARK * 16
	.balign 8
	.globl rv_secondary_arrivals
rv_secondary_arrivals:
	.word	0
	.balign 8
	.globl rv_secondary_log
rv_secondary_log:
	.space	RV_MAX_PARK * 16
