/*
 * probe.S: memory accesses that may fault without panicking (see hal.h,
 * "Probes").  The load and store probes set sstatus.SUM around their one
 * access (SUM is clear everywhere else: usercopy.S section 1) and put it
 * back as it was (QEMU flushes the whole TLB on each change of SUM, so a
 * test that must see stale translations holds SUM set across its probes:
 * test_pmap.c's strict rounds), and list
 * it in the exception table (rvmm_extable, usercopy.S section 2), so a
 * fault there goes to vm_fault_trap like a copyin's: resolved, or
 * resumed at rv_probe_fixup, which clears SUM and returns -EFAULT.  (An
 * access fault, which is no page fault, is sent to the same fixup by
 * trap.c through hal_copy_fixup.)
 *
 * rv_probe_exec_call(va) calls va (which must hold a `ret`); an
 * instruction fault there is recognised by trap.c through the per-cpu
 * probe_exec_va and resumed at rv_probe_exec_fixup, with sp unchanged.
 */
#define SSTATUS_SUM_BIT 0x40000

	.section .text
	.balign 4

	.globl rv_probe_read64, rv_probe_ld
/* SUM back as it was before the probe (t5: sstatus at entry). */
.macro SUM_RESTORE
	and	t5, t5, t6
	bnez	t5, 98f
	csrc	sstatus, t6
98:
.endm

rv_probe_read64:		/* int (vaddr_t va, uint64_t *out) */
	li	t6, SSTATUS_SUM_BIT
	csrrs	t5, sstatus, t6
rv_probe_ld:
	ld	t0, 0(a0)
	SUM_RESTORE
	sd	t0, 0(a1)
	li	a0, 0
	ret

	.globl rv_probe_write64, rv_probe_sd
rv_probe_write64:		/* int (vaddr_t va, uint64_t value) */
	li	t6, SSTATUS_SUM_BIT
	csrrs	t5, sstatus, t6
rv_probe_sd:
	sd	a1, 0(a0)
	SUM_RESTORE
	li	a0, 0
	ret

	.globl rv_probe_fixup
rv_probe_fixup:			/* from a fault at rv_probe_ld or _sd */
	SUM_RESTORE
	li	a0, -14		/* -EFAULT */
	ret

	.pushsection rvmm_extable, "a"
	.balign 8
	.dword	rv_probe_ld, rv_probe_fixup
	.dword	rv_probe_sd, rv_probe_fixup
	.popsection

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
