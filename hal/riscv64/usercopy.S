/*
 * usercopy.S: the riscv64 user-access routines of hal.h (hal_copyin,
 * hal_copyout, hal_copyinstr) and the exception table behind
 * hal_copy_fixup.
 *
 * 1. SUM.  sstatus.SUM is clear everywhere in the kernel: an S-mode load
 *    or store to a U page faults, so a stray kernel access to user memory
 *    is caught (vm_fault_trap refuses it) instead of reading whatever the
 *    current process mapped there.  These routines set SUM on entry and
 *    clear it on every way out (return, recovery).  A trap taken inside
 *    one (a page fault, an IPI) saves sstatus with SUM set in the trap
 *    frame and sret restores it, so the copy resumes with SUM set; a
 *    kernel with its own trap entry must restore sstatus from its frame
 *    too (it may clear SUM for its handlers, as Linux does).
 *    No stack, no calls: ra and sp stay as the caller left them, so the
 *    recovery code is a plain return.
 *
 * 2. The exception table.  Every instruction here that touches user
 *    memory is emitted by UACCESS, which adds a (pc, fixup) pair to the
 *    section rvmm_extable; other files may add theirs (the test port's
 *    probes do).  hal_copy_fixup(pc) looks pc up there.  Kernel-side
 *    accesses (the kernel buffer) have no entry, so a bad kernel pointer
 *    still panics.  The linker gathers the section and defines
 *    __start_rvmm_extable and __stop_rvmm_extable (GNU ld does so for any
 *    referenced section whose name is a C identifier; the kernel's linker
 *    script may also place it, with KEEP, as kernel.ld does).
 *
 * 3. Fault path: the load or store faults; the trap handler calls
 *    vm_fault_trap(stval, access, &sepc); if vm_fault resolves the fault
 *    the instruction is retried, else sepc becomes the entry's fixup,
 *    which clears SUM and returns HAL_COPY_FAULT (vm/copy.c: -EFAULT).
 *
 * 4. The copy: bytes until both pointers are 8-byte aligned (when they
 *    can both be), then 8-byte words, then bytes, in increasing address
 *    order (vm/copy.h: what a failed copy may have written).  An aligned
 *    word never crosses a page, so a fault always leaves everything
 *    before the faulting page copied and nothing after it.
 */
#define SSTATUS_SUM_BIT 0x40000
#define HAL_COPY_FAULT (-1)	/* hal.h */
#define HAL_COPY_NONUL 1

/* One instruction that may fault on user memory, with its table entry. */
.macro UACCESS insn:vararg
99:	\insn
	.pushsection rvmm_extable, "a"
	.balign 8
	.dword	99b, rv_ucopy_fault
	.popsection
.endm

/* An instruction that touches user memory when u is 1. */
.macro UA_IF u, insn:vararg
	.if \u
	UACCESS \insn
	.else
	\insn
	.endif
.endm

/*
 * int name(dst, src, len): copies len bytes (a2) from src (a1) to dst
 * (a0); the loads touch user memory if uload, the stores if ustore.
 */
.macro COPY_ROUTINE name, uload, ustore
	.globl \name
	.balign 4
\name:
	li	t6, SSTATUS_SUM_BIT
	csrs	sstatus, t6
	beqz	a2, 9f
	xor	t0, a0, a1
	andi	t0, t0, 7
	bnez	t0, 5f			/* never both aligned: bytes */
	sltiu	t0, a2, 16
	bnez	t0, 5f			/* short: bytes */
1:	andi	t0, a0, 7		/* head: bytes up to alignment */
	beqz	t0, 2f
	UA_IF	\uload, lbu t1, 0(a1)
	UA_IF	\ustore, sb t1, 0(a0)
	addi	a0, a0, 1
	addi	a1, a1, 1
	addi	a2, a2, -1
	j	1b
2:	li	t2, 32			/* four words at a time */
3:	bltu	a2, t2, 4f
	UA_IF	\uload, ld t1, 0(a1)
	UA_IF	\ustore, sd t1, 0(a0)
	UA_IF	\uload, ld t1, 8(a1)
	UA_IF	\ustore, sd t1, 8(a0)
	UA_IF	\uload, ld t1, 16(a1)
	UA_IF	\ustore, sd t1, 16(a0)
	UA_IF	\uload, ld t1, 24(a1)
	UA_IF	\ustore, sd t1, 24(a0)
	addi	a0, a0, 32
	addi	a1, a1, 32
	addi	a2, a2, -32
	j	3b
4:	li	t2, 8			/* single words */
	bltu	a2, t2, 5f
	UA_IF	\uload, ld t1, 0(a1)
	UA_IF	\ustore, sd t1, 0(a0)
	addi	a0, a0, 8
	addi	a1, a1, 8
	addi	a2, a2, -8
	j	4b
5:	beqz	a2, 9f			/* tail (or everything): bytes */
	UA_IF	\uload, lbu t1, 0(a1)
	UA_IF	\ustore, sb t1, 0(a0)
	addi	a0, a0, 1
	addi	a1, a1, 1
	addi	a2, a2, -1
	j	5b
9:	csrc	sstatus, t6
	li	a0, 0
	ret
.endm

	.section .text
	.balign 4

/* int hal_copyin(void *dst, vaddr_t usrc, size_t len) */
	COPY_ROUTINE hal_copyin, 1, 0
/* int hal_copyout(vaddr_t udst, const void *src, size_t len) */
	COPY_ROUTINE hal_copyout, 0, 1

/* int hal_copyinstr(char *dst, vaddr_t usrc, size_t max) */
	.globl hal_copyinstr
	.balign 4
hal_copyinstr:
	li	t6, SSTATUS_SUM_BIT
	csrs	sstatus, t6
1:	beqz	a2, 2f
	UACCESS	lbu t1, 0(a1)
	sb	t1, 0(a0)
	addi	a0, a0, 1
	addi	a1, a1, 1
	addi	a2, a2, -1
	bnez	t1, 1b
	csrc	sstatus, t6
	li	a0, 0
	ret
2:	csrc	sstatus, t6
	li	a0, HAL_COPY_NONUL
	ret

/* The recovery code of every entry above: SUM off, HAL_COPY_FAULT. */
	.globl rv_ucopy_fault
rv_ucopy_fault:
	li	t6, SSTATUS_SUM_BIT
	csrc	sstatus, t6
	li	a0, HAL_COPY_FAULT
	ret

/*
 * vaddr_t hal_copy_fixup(vaddr_t pc): the fixup of pc's table entry, or
 * 0.  A linear walk: the table holds a few dozen entries.
 */
	.globl hal_copy_fixup
hal_copy_fixup:
	la	t0, __start_rvmm_extable
	la	t1, __stop_rvmm_extable
1:	bgeu	t0, t1, 2f
	ld	t2, 0(t0)
	addi	t0, t0, 16
	bne	t2, a0, 1b
	ld	a0, -8(t0)
	ret
2:	li	a0, 0
	ret
