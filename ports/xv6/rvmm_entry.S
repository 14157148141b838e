/*
 * rvmm_entry.S: entry points of xv6 on rvmm (ports/xv6), and its user trap
 * entry and exit.
 *
 * _entry: OpenSBI (-bios default) jumps here in S-mode on the boot hart,
 *   satp Bare, a0 = hart id, a1 = device tree.  The first hart to take the
 *   lottery boots: tp = hart id (xv6's cpuid()), sp = its stack in stack0,
 *   .bss cleared, rvmm_start(hartid, dtb).  A hart OpenSBI lets in too
 *   (OpenSBI 1.1 on QEMU virt sometimes does) parks until the boot hart
 *   releases it (rvmm_release[hartid], when SBI HSM says it already runs).
 * rvmm_secondary_entry: the SBI HSM hart_start target (a0 = hart id).
 *
 * uservec / userret: the user trap entry and exit.  Stock xv6 enters the
 * kernel through a trampoline page that switches satp (and flushes the
 * TLB) on every trap from and return to user mode.  Here the kernel is
 * mapped in every rvmm address space (the user window is [0, 2 GiB), the
 * kernel lives above it), so the entry stays in the process's address
 * space: sscratch holds the process's trapframe (a kernel address) while
 * user code runs, the user registers go there, and usertrap() runs on the
 * process's kernel stack with the user map still active.  The trapframe
 * layout is xv6's (kernel/proc.h); kernel_satp is unused.
 */
#include "rvmm_port.h"

	.section .text.boot, "ax"
	.globl _entry
_entry:
	la	t0, rvmm_lottery
	li	t1, 1
	amoadd.w.aq t1, t1, (t0)
	bnez	t1, 3f
	mv	tp, a0
	addi	t1, a0, 1
	li	t2, RVMM_BOOT_STACK
	mul	t1, t1, t2
	la	sp, stack0
	add	sp, sp, t1
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	mv	fp, zero
	call	rvmm_start
	j	.
	/* Lost the lottery: wait to be released, then enter as a secondary. */
3:	la	t0, rvmm_release
	slli	t1, a0, 3
	add	t0, t0, t1
4:	ld	t1, 0(t0)
	bnez	t1, rvmm_secondary_entry
	li	t2, 1000
5:	addi	t2, t2, -1
	bnez	t2, 5b
	j	4b

	.text
	.globl rvmm_secondary_entry
	.balign 4
rvmm_secondary_entry:
	mv	tp, a0
	addi	t1, a0, 1
	li	t2, RVMM_BOOT_STACK
	mul	t1, t1, t2
	la	sp, stack0
	add	sp, sp, t1
	mv	fp, zero
	call	rvmm_start_secondary
	j	.

/*
 * uservec: stvec while the hart runs user code.  sscratch = the process's
 * trapframe (usertrapret put it there).
 */
	.globl uservec
	.balign 4
uservec:
	csrrw	a0, sscratch, a0
	sd	ra, 40(a0)
	sd	sp, 48(a0)
	sd	gp, 56(a0)
	sd	tp, 64(a0)
	sd	t0, 72(a0)
	sd	t1, 80(a0)
	sd	t2, 88(a0)
	sd	s0, 96(a0)
	sd	s1, 104(a0)
	sd	a1, 120(a0)
	sd	a2, 128(a0)
	sd	a3, 136(a0)
	sd	a4, 144(a0)
	sd	a5, 152(a0)
	sd	a6, 160(a0)
	sd	a7, 168(a0)
	sd	s2, 176(a0)
	sd	s3, 184(a0)
	sd	s4, 192(a0)
	sd	s5, 200(a0)
	sd	s6, 208(a0)
	sd	s7, 216(a0)
	sd	s8, 224(a0)
	sd	s9, 232(a0)
	sd	s10, 240(a0)
	sd	s11, 248(a0)
	sd	t3, 256(a0)
	sd	t4, 264(a0)
	sd	t5, 272(a0)
	sd	t6, 280(a0)
	csrr	t0, sscratch
	sd	t0, 112(a0)
	ld	sp, 8(a0)		/* kernel_sp */
	ld	tp, 32(a0)		/* kernel_hartid */
	ld	t0, 16(a0)		/* kernel_trap: usertrap() */
	jr	t0

/*
 * void userret(struct trapframe *tf): back to user mode.  usertrapret()
 * has set stvec = uservec, sepc, sstatus (SPP clear, SPIE set) and
 * interrupts are off.  No satp write: the user map is already active.
 */
	.globl userret
	.balign 4
userret:
	csrw	sscratch, a0
	ld	ra, 40(a0)
	ld	sp, 48(a0)
	ld	gp, 56(a0)
	ld	tp, 64(a0)
	ld	t0, 72(a0)
	ld	t1, 80(a0)
	ld	t2, 88(a0)
	ld	s0, 96(a0)
	ld	s1, 104(a0)
	ld	a1, 120(a0)
	ld	a2, 128(a0)
	ld	a3, 136(a0)
	ld	a4, 144(a0)
	ld	a5, 152(a0)
	ld	a6, 160(a0)
	ld	a7, 168(a0)
	ld	s2, 176(a0)
	ld	s3, 184(a0)
	ld	s4, 192(a0)
	ld	s5, 200(a0)
	ld	s6, 208(a0)
	ld	s7, 216(a0)
	ld	s8, 224(a0)
	ld	s9, 232(a0)
	ld	s10, 240(a0)
	ld	s11, 248(a0)
	ld	t3, 256(a0)
	ld	t4, 264(a0)
	ld	t5, 272(a0)
	ld	t6, 280(a0)
	ld	a0, 112(a0)
	sret

	.section .bss.stack, "aw", @nobits
	.balign 16
	.globl stack0
stack0:
	.space	(RVMM_MAX_HARTS + 1) * RVMM_BOOT_STACK

	/* In .data: a parked hart reads them before .bss is cleared. */
	.data
	.balign 8
rvmm_lottery:
	.word	0
	.balign 8
	.globl rvmm_release
rvmm_release:
	.space	RVMM_MAX_HARTS * 8
