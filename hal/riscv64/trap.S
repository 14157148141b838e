/*
 * trap.S: the S-mode trap vector (direct mode).
 *
 * A trap from S-mode is taken on the current kernel stack: push a struct
 * rv_trapframe, call rv_trap(frame), restore, sret.  sepc and sstatus are
 * restored from the frame, so the C handler may change them (skip an
 * instruction, return elsewhere).  sstatus.SUM (user memory access) is
 * saved and restored with the rest of sstatus: a trap taken inside a
 * user-access routine (usercopy.S, probe.S), which runs with SUM set,
 * resumes the routine with SUM set (or at its recovery code, which
 * clears it), and a trap taken anywhere else returns with SUM clear.
 * The handler runs with the interrupted SUM; it is not cleared here
 * because QEMU flushes the hart's whole TLB on every change of SUM (the
 * shootdown tests could no longer see a stale translation across an
 * interrupt), and the handlers touch no user memory.
 *
 * User mode (issue 6).  sscratch is 0 while the hart runs the kernel and
 * holds the kernel's user-context block (struct rv_uctx, below) while it
 * runs user code: the first instruction swaps it with sp, so a non-zero
 * sp means "from U-mode".  Then the frame goes below the block, the user
 * sp is saved from sscratch, sscratch becomes 0 again and tp/gp are
 * reloaded from the block (U-mode owns them).  Returning to U-mode (frame
 * sstatus.SPP clear) puts the block back into sscratch.
 * rv_user_enter() builds the block on the kernel stack and srets to the
 * user entry; rv_user_leave() (called from rv_trap on an ecall or a fault
 * it does not resolve) returns from rv_user_enter as if from a call.
 */
#include "hal/riscv64/rv.h"

/* struct rv_uctx: the kernel's callee-saved state around a user run. */
#define UCTX_RA (0 * 8)
#define UCTX_S0 (1 * 8)		/* s0..s11 at 1..12 */
#define UCTX_GP (13 * 8)
#define UCTX_TP (14 * 8)
#define UCTX_SSTATUS (15 * 8)
#define UCTX_SIZE (16 * 8)
#define SSTATUS_SIE_BIT 0x2
#define SSTATUS_SPIE_BIT 0x20
#define SSTATUS_SPP_BIT 0x100

/* Stores x1 and x3..x31 into the struct rv_trapframe at sp (x2 is sp). */
.macro SAVE_GPRS
	sd	x1, 1*8(sp)
	.irp n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	sd	x\n, \n*8(sp)
	.endr
.endm

	.section .text
	.globl rv_trap_entry
	.balign 4
rv_trap_entry:
	csrrw	sp, sscratch, sp
	bnez	sp, rv_trap_from_user
	csrrw	sp, sscratch, sp	/* from S: sp back, sscratch 0 again */
	addi	sp, sp, -TF_SIZE
	SAVE_GPRS
	addi	t0, sp, TF_SIZE
	sd	t0, 2*8(sp)
rv_trap_saved:
	csrr	t0, sepc
	sd	t0, TF_SEPC(sp)
	csrr	t0, sstatus
	sd	t0, TF_SSTATUS(sp)
	csrr	t0, scause
	sd	t0, TF_SCAUSE(sp)
	csrr	t0, stval
	sd	t0, TF_STVAL(sp)

	mv	a0, sp
	call	rv_trap

	ld	t0, TF_SEPC(sp)
	csrw	sepc, t0
	ld	t0, TF_SSTATUS(sp)
	csrw	sstatus, t0
	andi	t0, t0, SSTATUS_SPP_BIT
	bnez	t0, 1f
	addi	t0, sp, TF_SIZE		/* back to U: the block into sscratch */
	csrw	sscratch, t0
1:
	ld	x1, 1*8(sp)
	ld	x3, 3*8(sp)
	ld	x4, 4*8(sp)
	ld	x5, 5*8(sp)
	ld	x6, 6*8(sp)
	ld	x7, 7*8(sp)
	ld	x8, 8*8(sp)
	ld	x9, 9*8(sp)
	ld	x10, 10*8(sp)
	ld	x11, 11*8(sp)
	ld	x12, 12*8(sp)
	ld	x13, 13*8(sp)
	ld	x14, 14*8(sp)
	ld	x15, 15*8(sp)
	ld	x16, 16*8(sp)
	ld	x17, 17*8(sp)
	ld	x18, 18*8(sp)
	ld	x19, 19*8(sp)
	ld	x20, 20*8(sp)
	ld	x21, 21*8(sp)
	ld	x22, 22*8(sp)
	ld	x23, 23*8(sp)
	ld	x24, 24*8(sp)
	ld	x25, 25*8(sp)
	ld	x26, 26*8(sp)
	ld	x27, 27*8(sp)
	ld	x28, 28*8(sp)
	ld	x29, 29*8(sp)
	ld	x30, 30*8(sp)
	ld	x31, 31*8(sp)
	ld	sp, 2*8(sp)		/* S: frame + TF_SIZE; U: the user sp */
	sret

/* From U-mode: sp is the user-context block, sscratch the user sp. */
rv_trap_from_user:
	addi	sp, sp, -TF_SIZE
	SAVE_GPRS
	csrrw	t0, sscratch, zero	/* the user sp; in the kernel now */
	sd	t0, 2*8(sp)
	ld	tp, TF_SIZE + UCTX_TP(sp)
	ld	gp, TF_SIZE + UCTX_GP(sp)
	j	rv_trap_saved

/*
 * long rv_user_enter(pc, sp, a0, a1): runs user code at pc (U-mode, user
 * stack sp, arguments a0 and a1, interrupts on) until rv_user_leave(),
 * whose value it returns.  pre: interrupts in any state; the hart's
 * address space maps pc for U-mode.
 */
	.globl rv_user_enter
rv_user_enter:
	addi	sp, sp, -UCTX_SIZE
	sd	ra, UCTX_RA(sp)
	sd	s0, UCTX_S0 + 0*8(sp)
	sd	s1, UCTX_S0 + 1*8(sp)
	sd	s2, UCTX_S0 + 2*8(sp)
	sd	s3, UCTX_S0 + 3*8(sp)
	sd	s4, UCTX_S0 + 4*8(sp)
	sd	s5, UCTX_S0 + 5*8(sp)
	sd	s6, UCTX_S0 + 6*8(sp)
	sd	s7, UCTX_S0 + 7*8(sp)
	sd	s8, UCTX_S0 + 8*8(sp)
	sd	s9, UCTX_S0 + 9*8(sp)
	sd	s10, UCTX_S0 + 10*8(sp)
	sd	s11, UCTX_S0 + 11*8(sp)
	sd	gp, UCTX_GP(sp)
	sd	tp, UCTX_TP(sp)
	/* No interrupt between here and sret: sscratch says "user". */
	csrrci	t0, sstatus, SSTATUS_SIE_BIT
	sd	t0, UCTX_SSTATUS(sp)
	csrw	sepc, a0
	li	t0, SSTATUS_SPP_BIT
	csrc	sstatus, t0
	li	t0, SSTATUS_SPIE_BIT
	csrs	sstatus, t0
	csrw	sscratch, sp
	mv	sp, a1
	mv	a0, a2
	mv	a1, a3
	/* Leave the user no kernel values. */
	li	ra, 0
	li	gp, 0
	li	tp, 0
	li	t0, 0
	li	t1, 0
	li	t2, 0
	li	s0, 0
	li	s1, 0
	li	a2, 0
	li	a3, 0
	li	a4, 0
	li	a5, 0
	li	a6, 0
	li	a7, 0
	li	s2, 0
	li	s3, 0
	li	s4, 0
	li	s5, 0
	li	s6, 0
	li	s7, 0
	li	s8, 0
	li	s9, 0
	li	s10, 0
	li	s11, 0
	li	t3, 0
	li	t4, 0
	li	t5, 0
	li	t6, 0
	sret

/*
 * rv_user_leave(block, value): back to rv_user_enter's caller, which sees
 * `value` returned.  Called from rv_trap for a trap from U-mode, on the
 * kernel stack below the block; the frames in between are dropped.
 * Interrupts get the state they had at rv_user_enter.
 */
	.globl rv_user_leave
rv_user_leave:
	mv	sp, a0
	ld	ra, UCTX_RA(sp)
	ld	s0, UCTX_S0 + 0*8(sp)
	ld	s1, UCTX_S0 + 1*8(sp)
	ld	s2, UCTX_S0 + 2*8(sp)
	ld	s3, UCTX_S0 + 3*8(sp)
	ld	s4, UCTX_S0 + 4*8(sp)
	ld	s5, UCTX_S0 + 5*8(sp)
	ld	s6, UCTX_S0 + 6*8(sp)
	ld	s7, UCTX_S0 + 7*8(sp)
	ld	s8, UCTX_S0 + 8*8(sp)
	ld	s9, UCTX_S0 + 9*8(sp)
	ld	s10, UCTX_S0 + 10*8(sp)
	ld	s11, UCTX_S0 + 11*8(sp)
	ld	gp, UCTX_GP(sp)
	ld	tp, UCTX_TP(sp)
	ld	t0, UCTX_SSTATUS(sp)
	addi	sp, sp, UCTX_SIZE
	mv	a0, a1
	andi	t0, t0, SSTATUS_SIE_BIT
	csrs	sstatus, t0
	ret
