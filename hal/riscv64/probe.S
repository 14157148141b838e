/*
 * probe.S: memory accesses that may fault without panicking (see hal.h,
 * "Probes").  Each faulting instruction has a label; trap.c sends a page
 * or access fault taken at one of them to the matching fixup, with a0 set
 * to -EFAULT.  sstatus.SUM is set on every hart from boot on (boot.c,
 * section 6), so user pages are reachable without toggling it here.
 *
 * rv_probe_exec_call(va) calls va (which must hold a `ret`); an
 * instruction fault there is recognised by trap.c through the per-cpu
 * probe_exec_va and resumed at rv_probe_exec_fixup, with sp unchanged.
 */
	.section .text
	.balign 4

	.globl rv_probe_read64, rv_probe_ld
rv_probe_read64:		/* int (vaddr_t va, uint64_t *out) */
rv_probe_ld:
	ld	t0, 0(a0)
	sd	t0, 0(a1)
	li	a0, 0
	ret

	.globl rv_probe_write64, rv_probe_sd
rv_probe_write64:		/* int (vaddr_t va, uint64_t value) */
rv_probe_sd:
	sd	a1, 0(a0)
	li	a0, 0
	ret

	.globl rv_probe_fixup
rv_probe_fixup:			/* a0 = -EFAULT, set by trap.c */
	ret

	.globl rv_probe_exec_call, rv_probe_exec_fixup
rv_probe_exec_call:		/* int (vaddr_t va) */
	addi	sp, sp, -16
	sd	ra, 8(sp)
	jalr	a0
	li	a0, 0
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
rv_probe_exec_fixup:
	li	a0, -14		/* -EFAULT */
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret

	/* A `ret` inside the kernel text, for hal_probe_exec() tests. */
	.globl rv_ret_insn
	.balign 4
rv_ret_insn:
	ret
