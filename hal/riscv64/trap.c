/*
 * trap.c: S-mode trap dispatch for the riscv64 port.
 *
 *	supervisor software interrupt	-> IPI handler (SSIP cleared first,
 *					   so an IPI raised meanwhile is
 *					   taken again, never lost)
 *	load/store/instruction page fault -> vm_fault_trap(): resolved
 *					   (retry), or recovered inside a
 *					   user-access routine (copyin,
 *					   copyout, the probes: they return
 *					   -EFAULT); else an instruction
 *					   fault of hal_probe_exec() returns
 *					   -EFAULT; else panic
 *	load/store access fault		-> a user-access routine's fixup
 *					   (hal_copy_fixup), else panic
 *	instruction access fault	-> hal_probe_exec()'s fixup, else
 *					   panic
 *	anything else			-> panic with scause, stval, sepc
 *					   and the register file
 */
#include <errno.h>

#include "hal/hal.h"
#include "hal/riscv64/csr.h"
#include "hal/riscv64/rv.h"
#include "lib/assert.h"
#include "lib/kprintf.h"
#include "vm/fault.h"

static const char *const exc_names[] = {
	[EXC_INST_MISALIGNED] = "instruction address misaligned",
	[EXC_INST_ACCESS] = "instruction access fault",
	[EXC_ILLEGAL] = "illegal instruction",
	[EXC_BREAKPOINT] = "breakpoint",
	[EXC_LOAD_MISALIGNED] = "load address misaligned",
	[EXC_LOAD_ACCESS] = "load access fault",
	[EXC_STORE_MISALIGNED] = "store address misaligned",
	[EXC_STORE_ACCESS] = "store access fault",
	[EXC_ECALL_U] = "ecall from U-mode",
	[EXC_ECALL_S] = "ecall from S-mode",
	[EXC_INST_PAGE_FAULT] = "instruction page fault",
	[EXC_LOAD_PAGE_FAULT] = "load page fault",
	[EXC_STORE_PAGE_FAULT] = "store page fault",
};

static const char *const reg_names[32] = {
	"zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0",
	"a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6",
	"s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

void
rv_backtrace(unsigned long fp, unsigned long pc)
{
	const struct rv_cpu *c = (const struct rv_cpu *)hal_cpu();
	unsigned long top = c->stack_top, bottom = top - RV_STACK_SIZE;

	kprintf("backtrace:\n  %#lx\n", pc);
	/*
	 * With -fno-omit-frame-pointer: ra at fp-8, caller's fp at fp-16.
	 * Only frames inside this cpu's stack are followed, so a corrupt
	 * chain cannot fault inside a panic.
	 */
	for (int depth = 0; depth < 16 && fp - 16 >= bottom && fp <= top &&
	    (fp & 7) == 0; depth++) {
		unsigned long ra = ((unsigned long *)fp)[-1];
		unsigned long next = ((unsigned long *)fp)[-2];
		if (ra == 0)
			break;
		kprintf("  %#lx\n", ra);
		if (next <= fp)
			break;
		fp = next;
	}
}

void
rv_dump_frame(const struct rv_trapframe *tf)
{
	char line[160];
	int n = 0;

	kprintf("sepc 0x%016lx sstatus 0x%016lx scause %#lx stval %#lx\n",
	    tf->sepc, tf->sstatus, tf->scause, tf->stval);
	for (int i = 1; i < 32; i++) {
		n += ksnprintf(line + n, sizeof(line) - (size_t)n, "%4s 0x%016lx%s",
		    reg_names[i], tf->x[i], (i % 4 == 3) ? "" : "  ");
		if (i % 4 == 3 || i == 31) {
			kprintf("%s\n", line);
			n = 0;
		}
	}
	rv_backtrace(tf->x[8], tf->sepc);
}

static _Noreturn void
rv_trap_panic(struct rv_trapframe *tf, const char *what)
{
	rv_dump_frame(tf);
	panic("unexpected trap: %s (scause %#lx) at sepc %#lx, stval %#lx, "
	    "from %s mode", what, tf->scause, tf->sepc, tf->stval,
	    (tf->sstatus & SSTATUS_SPP) ? "S" : "U");
}

/*
 * The test kernel's policy for what vm_fault_trap() left unresolved: an
 * access fault (no page fault: PMP, no memory there) inside a user-access
 * routine resumes at its fixup, as a page fault would have; a fetch fault
 * of hal_probe_exec() resumes at its fixup with -EFAULT.  Returns true if
 * it was one.
 */
static bool
rv_probe_recover(struct rv_trapframe *tf, unsigned long cause)
{
	struct rv_cpu *c = (struct rv_cpu *)hal_cpu();
	vaddr_t fixup;

	if (cause == EXC_LOAD_ACCESS || cause == EXC_STORE_ACCESS) {
		fixup = hal_copy_fixup(tf->sepc);
		if (fixup == 0)
			return false;
		tf->sepc = fixup;
		return true;
	}
	if (cause == EXC_INST_PAGE_FAULT || cause == EXC_INST_ACCESS) {
		if (c->probe_exec_va == 0 || tf->sepc != c->probe_exec_va)
			return false;
		tf->sepc = (unsigned long)rv_probe_exec_fixup;
		return true;
	}
	return false;
}

/* A page fault: vm_fault_trap(), then 0 (resume at tf->sepc) or its error. */
static int
rv_page_fault(struct rv_trapframe *tf, unsigned long cause, bool user)
{
	unsigned access = cause == EXC_INST_PAGE_FAULT ? HAL_FAULT_EXEC :
	    cause == EXC_LOAD_PAGE_FAULT ? HAL_FAULT_READ : HAL_FAULT_WRITE;
	vaddr_t pc = tf->sepc;
	int err;

	if (user)
		access |= HAL_FAULT_USER;
	err = vm_fault_trap(tf->stval, access, &pc);
	if (err == 0)
		tf->sepc = pc;
	return err;
}

/* ------------------------------------------------------------------ */
/* User mode (issue 6; see trap.S).                                    */

long rv_user_enter(unsigned long pc, unsigned long sp, unsigned long a0,
    unsigned long a1);
_Noreturn void rv_user_leave(void *block, long value);
long rv_user_run(unsigned long pc, unsigned long sp, unsigned long a0,
    unsigned long a1, unsigned long out[4]);

static unsigned long *rv_user_out[HAL_MAX_CPUS];	/* (L) */

/*
 * rv_user_run: runs user code at pc in the hart's current address space
 * (U-mode, stack sp, arguments a0 and a1) until it makes an ecall (returns
 * 0), takes a page fault the VM does not resolve (-EFAULT) or another
 * exception (-EINVAL).  out[] gets scause, stval, sepc and the user's a0 at
 * that point.  Page faults the VM resolves and interrupts are served and
 * the user code goes on.  pre: thread context; the caller does not migrate.
 */
long
rv_user_run(unsigned long pc, unsigned long sp, unsigned long a0,
    unsigned long a1, unsigned long out[4])
{
	rv_user_out[hal_cpu()->id] = out;
	return rv_user_enter(pc, sp, a0, a1);
}

/* An exception from U-mode: resolve and go on, or end the user run. */
static void
rv_trap_user(struct rv_trapframe *tf, unsigned long cause)
{
	unsigned long *out = rv_user_out[hal_cpu()->id];
	long value = -EINVAL;

	if (cause == EXC_INST_PAGE_FAULT || cause == EXC_LOAD_PAGE_FAULT ||
	    cause == EXC_STORE_PAGE_FAULT) {
		if (rv_page_fault(tf, cause, true) == 0)
			return;
		value = -EFAULT;
	} else if (cause == EXC_ECALL_U) {
		tf->sepc += 4;
		value = 0;
	}
	VM_PANIC_IF(out == NULL, "trap from U-mode outside rv_user_run "
	    "(scause %#lx, sepc %#lx)", cause, tf->sepc);
	out[0] = cause;
	out[1] = tf->stval;
	out[2] = tf->sepc;
	out[3] = tf->x[10];
	rv_user_out[hal_cpu()->id] = NULL;
	rv_user_leave((char *)tf + TF_SIZE, value);
}

void
rv_trap(struct rv_trapframe *tf)
{
	unsigned long cause = tf->scause;
	struct hal_cpu *c = hal_cpu();

	if (cause & SCAUSE_INTR) {
		c->intr_count++;
		if ((cause & ~SCAUSE_INTR) == IRQ_S_SOFT) {
			csr_clear(sip, SIP_SSIP);
			c->ipi_count++;
			if (rv_ipi_handler != NULL)
				rv_ipi_handler();
			return;
		}
		rv_trap_panic(tf, "unexpected interrupt");
	}

	if (!(tf->sstatus & SSTATUS_SPP)) {
		rv_trap_user(tf, cause);
		return;
	}

	const char *name = cause < sizeof(exc_names) / sizeof(exc_names[0]) &&
	    exc_names[cause] != NULL ? exc_names[cause] : "unknown exception";
	int err = 0;

	if (cause == EXC_INST_PAGE_FAULT || cause == EXC_LOAD_PAGE_FAULT ||
	    cause == EXC_STORE_PAGE_FAULT) {
		err = rv_page_fault(tf, cause, false);
		if (err == 0)
			return;
	}
	if (rv_probe_recover(tf, cause))
		return;
	if (err == -EPERM) {
		rv_dump_frame(tf);
		panic("unexpected trap: %s (scause %#lx) at sepc %#lx, stval "
		    "%#lx, from S mode: kernel access to user memory outside "
		    "the user-copy routines (sstatus.SUM is clear)", name,
		    tf->scause, tf->sepc, tf->stval);
	}
	rv_trap_panic(tf, name);
}
