/*
 * start.S: entry points and trap vector of the minimal kernel.
 *
 * _start: OpenSBI (-bios default) enters here on the boot hart in S-mode,
 *   satp Bare, a0 = hart id, a1 = device tree.  tp = hart id (the kernel
 *   keeps its hart id in tp, as xv6 does; hal_cpu_id() returns it), one
 *   stack per hart, .bss cleared, then mini_main(hartid, dtb).  OpenSBI 1.1
 *   on QEMU virt sometimes lets a second hart in: the first to take the
 *   lottery boots, any other waits for mini_release[hartid] (set by the
 *   boot hart when SBI HSM says that hart is already running).
 * mini_secondary_entry: SBI HSM hart_start target (a0 = hart id).
 *
 * Trap vector.  sscratch is 0 while a hart runs the kernel and holds the
 * hart's struct mini_cpu while it runs user code.  Swapping tp with
 * sscratch on entry tells the two apart:
 *   from S: the frame goes on the current stack, mini_trap_kernel(frame),
 *           everything (sstatus too) restored, sret;
 *   from U: the user registers go to the frame mini_user_run() was given
 *           (cpu->tf), then the kernel context mini_user_run() saved is
 *           restored and it returns to its caller, which handles the trap.
 */
#include "mini.h"

	.section .text.boot, "ax"
	.globl _start
_start:
	la	t0, mini_lottery
	li	t1, 1
	amoadd.w.aq t1, t1, (t0)
	bnez	t1, 3f
	mv	tp, a0
	addi	t1, a0, 1
	li	t2, MINI_STACK_SIZE
	mul	t1, t1, t2
	la	sp, mini_stacks
	add	sp, sp, t1
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	mv	fp, zero
	call	mini_main
	j	.
	/* Lost the lottery: wait until released, then enter as a secondary. */
3:	la	t0, mini_release
	slli	t1, a0, 3
	add	t0, t0, t1
4:	ld	t1, 0(t0)
	bnez	t1, mini_secondary_entry
	li	t2, 1000
5:	addi	t2, t2, -1
	bnez	t2, 5b
	j	4b

	.text
	.globl mini_secondary_entry
	.balign 4
mini_secondary_entry:
	mv	tp, a0
	addi	t1, a0, 1
	li	t2, MINI_STACK_SIZE
	mul	t1, t1, t2
	la	sp, mini_stacks
	add	sp, sp, t1
	mv	fp, zero
	call	mini_secondary
	j	.

	.globl mini_trap_vector
	.balign 4
mini_trap_vector:
	csrrw	tp, sscratch, tp
	bnez	tp, from_user
	/* From S: tp = 0, sscratch = the kernel's tp; put both back. */
	csrrw	tp, sscratch, zero
	addi	sp, sp, -TF_SIZE
	sd	x1, 1*8(sp)
	sd	x3, 3*8(sp)
	sd	x4, 4*8(sp)
	sd	x5, 5*8(sp)
	sd	x6, 6*8(sp)
	sd	x7, 7*8(sp)
	sd	x8, 8*8(sp)
	sd	x9, 9*8(sp)
	sd	x10, 10*8(sp)
	sd	x11, 11*8(sp)
	sd	x12, 12*8(sp)
	sd	x13, 13*8(sp)
	sd	x14, 14*8(sp)
	sd	x15, 15*8(sp)
	sd	x16, 16*8(sp)
	sd	x17, 17*8(sp)
	sd	x18, 18*8(sp)
	sd	x19, 19*8(sp)
	sd	x20, 20*8(sp)
	sd	x21, 21*8(sp)
	sd	x22, 22*8(sp)
	sd	x23, 23*8(sp)
	sd	x24, 24*8(sp)
	sd	x25, 25*8(sp)
	sd	x26, 26*8(sp)
	sd	x27, 27*8(sp)
	sd	x28, 28*8(sp)
	sd	x29, 29*8(sp)
	sd	x30, 30*8(sp)
	sd	x31, 31*8(sp)
	addi	t0, sp, TF_SIZE
	sd	t0, 2*8(sp)
	csrr	t0, sepc
	sd	t0, TF_SEPC(sp)
	csrr	t0, sstatus
	sd	t0, TF_SSTATUS(sp)
	csrr	t0, scause
	sd	t0, TF_SCAUSE(sp)
	csrr	t0, stval
	sd	t0, TF_STVAL(sp)
	mv	a0, sp
	call	mini_trap_kernel
	/* sepc may have moved (a user-copy recovery); sstatus keeps SUM. */
	ld	t0, TF_SEPC(sp)
	csrw	sepc, t0
	ld	t0, TF_SSTATUS(sp)
	csrw	sstatus, t0
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
	ld	x2, 2*8(sp)
	sret

from_user:
	/* tp = this hart's struct mini_cpu, sscratch = the user's tp. */
	sd	t0, CPU_SCRATCH(tp)
	ld	t0, CPU_TF(tp)
	sd	x1, 1*8(t0)
	sd	x2, 2*8(t0)
	sd	x3, 3*8(t0)
	sd	x6, 6*8(t0)
	sd	x7, 7*8(t0)
	sd	x8, 8*8(t0)
	sd	x9, 9*8(t0)
	sd	x10, 10*8(t0)
	sd	x11, 11*8(t0)
	sd	x12, 12*8(t0)
	sd	x13, 13*8(t0)
	sd	x14, 14*8(t0)
	sd	x15, 15*8(t0)
	sd	x16, 16*8(t0)
	sd	x17, 17*8(t0)
	sd	x18, 18*8(t0)
	sd	x19, 19*8(t0)
	sd	x20, 20*8(t0)
	sd	x21, 21*8(t0)
	sd	x22, 22*8(t0)
	sd	x23, 23*8(t0)
	sd	x24, 24*8(t0)
	sd	x25, 25*8(t0)
	sd	x26, 26*8(t0)
	sd	x27, 27*8(t0)
	sd	x28, 28*8(t0)
	sd	x29, 29*8(t0)
	sd	x30, 30*8(t0)
	sd	x31, 31*8(t0)
	ld	t1, CPU_SCRATCH(tp)
	sd	t1, 5*8(t0)
	csrr	t1, sscratch
	sd	t1, 4*8(t0)
	csrw	sscratch, zero
	csrr	t1, sepc
	sd	t1, TF_SEPC(t0)
	csrr	t1, sstatus
	sd	t1, TF_SSTATUS(t0)
	csrr	t1, scause
	sd	t1, TF_SCAUSE(t0)
	csrr	t1, stval
	sd	t1, TF_STVAL(t0)
	/* Back into mini_user_run's caller, with its registers. */
	ld	sp, CPU_KSP(tp)
	ld	tp, CPU_HARTID(tp)
	ld	ra, 0(sp)
	ld	s0, 8(sp)
	ld	s1, 16(sp)
	ld	s2, 24(sp)
	ld	s3, 32(sp)
	ld	s4, 40(sp)
	ld	s5, 48(sp)
	ld	s6, 56(sp)
	ld	s7, 64(sp)
	ld	s8, 72(sp)
	ld	s9, 80(sp)
	ld	s10, 88(sp)
	ld	s11, 96(sp)
	addi	sp, sp, 112
	ret

/*
 * void mini_user_run(struct mini_frame *tf): runs the user context in tf
 * until it traps; returns with tf updated, interrupts off.
 * pre: interrupts off (from here to sret sscratch says "user").
 */
	.globl mini_user_run
	.balign 4
mini_user_run:
	addi	sp, sp, -112
	sd	ra, 0(sp)
	sd	s0, 8(sp)
	sd	s1, 16(sp)
	sd	s2, 24(sp)
	sd	s3, 32(sp)
	sd	s4, 40(sp)
	sd	s5, 48(sp)
	sd	s6, 56(sp)
	sd	s7, 64(sp)
	sd	s8, 72(sp)
	sd	s9, 80(sp)
	sd	s10, 88(sp)
	sd	s11, 96(sp)
	la	t0, mini_cpus
	li	t1, CPU_SIZE
	mul	t1, t1, tp
	add	t0, t0, t1
	sd	sp, CPU_KSP(t0)
	sd	a0, CPU_TF(t0)
	sd	tp, CPU_HARTID(t0)
	csrw	sscratch, t0
	ld	t1, TF_SEPC(a0)
	csrw	sepc, t1
	li	t1, 0x100		/* SPP: return to U */
	csrc	sstatus, t1
	li	t1, 0x20		/* SPIE: interrupts on in U */
	csrs	sstatus, t1
	ld	x1, 1*8(a0)
	ld	x2, 2*8(a0)
	ld	x3, 3*8(a0)
	ld	x4, 4*8(a0)
	ld	x5, 5*8(a0)
	ld	x6, 6*8(a0)
	ld	x7, 7*8(a0)
	ld	x8, 8*8(a0)
	ld	x9, 9*8(a0)
	ld	x11, 11*8(a0)
	ld	x12, 12*8(a0)
	ld	x13, 13*8(a0)
	ld	x14, 14*8(a0)
	ld	x15, 15*8(a0)
	ld	x16, 16*8(a0)
	ld	x17, 17*8(a0)
	ld	x18, 18*8(a0)
	ld	x19, 19*8(a0)
	ld	x20, 20*8(a0)
	ld	x21, 21*8(a0)
	ld	x22, 22*8(a0)
	ld	x23, 23*8(a0)
	ld	x24, 24*8(a0)
	ld	x25, 25*8(a0)
	ld	x26, 26*8(a0)
	ld	x27, 27*8(a0)
	ld	x28, 28*8(a0)
	ld	x29, 29*8(a0)
	ld	x30, 30*8(a0)
	ld	x31, 31*8(a0)
	ld	x10, 10*8(a0)
	sret

	.section .bss.stack, "aw", @nobits
	.balign 16
	.globl mini_stacks
mini_stacks:
	.space	(MINI_MAX_HARTS + 1) * MINI_STACK_SIZE

	/* In .data: a parked hart reads them before .bss is cleared. */
	.data
	.balign 8
mini_lottery:
	.word	0
	.balign 8
	.globl mini_release
mini_release:
	.space	MINI_MAX_HARTS * 8
