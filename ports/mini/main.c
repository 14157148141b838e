/*
 * main.c: a minimal kernel that embeds rvmm, the proof that librvmm.a and
 * its hook header are enough (issue 12).  Nothing here comes from
 * hal/riscv64 (rvmm's own test kernel): its start-up, trap entry, SBI
 * calls, hooks (hooks.c), processes and system calls are its own, and it
 * links librvmm.a like any other kernel would.
 *
 * 1. Boot order (vm/vm.h).  The boot hart sets up its CSRs, chooses the
 *    low user window ([0, 2 GiB), below RAM) and calls vm_boot(); only
 *    then does it start the other harts with SBI HSM.  Each of them sets
 *    up its CSRs, calls vm_boot_cpu() and runs the scheduler.
 *
 * 2. Traps (start.S, mini_trap_kernel, run).  The supervisor software
 *    interrupt is the IPI: clear sip.SSIP, call smp_ipi_entry().  Page
 *    faults go to vm_fault_trap(): from user mode an unresolved one kills
 *    the process; from the kernel it is resolved, or recovered inside
 *    vm_copyin/vm_copyout (sepc moves to the recovery code), or a panic.
 *    sstatus.SUM stays clear: only rvmm's user-copy routines set it.
 *
 * 3. Processes.  A process is a map (vm_map_create), a user register frame
 *    and a state.  Any hart runs any runnable process (or the one it is
 *    pinned to) until it exits, is killed, or waits for a child that is
 *    still running: wait() then puts the ecall back and yields (the kernel
 *    keeps no per-process kernel stack: a system call either finishes or
 *    is retried).  A new process gets the ELF image of user/user.c (linked
 *    at 0x10000) loaded with vm_mmap(FIXED) + vm_copyout + vm_mprotect;
 *    fork is vm_map_copy (copy-on-write).
 *
 * 4. Tests.  The boot hart prints KTAP: boot, then one user scenario per
 *    test (system calls; fork and COW; copyin/copyout with bad pointers;
 *    munmap shooting down a translation another hart uses).
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/assert.h"
#include "lib/kprintf.h"
#include "lib/smp.h"
#include "vm/copy.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/vm.h"
#include "mini.h"

#define SSTATUS_SIE (1ul << 1)
#define SSTATUS_FS_MASK (3ul << 13)
#define SSTATUS_FS_INITIAL (1ul << 13)
#define SSTATUS_SUM (1ul << 18)
#define SIE_SSIE (1ul << 1)
#define SIP_SSIP (1ul << 1)
#define SCAUSE_INTR (1ul << 63)
#define IRQ_S_SOFT 1
#define EXC_ECALL_U 8
#define EXC_INST_PAGE_FAULT 12
#define EXC_LOAD_PAGE_FAULT 13
#define EXC_STORE_PAGE_FAULT 15

#define LOW_WINDOW_END 0x80000000ul	/* user space: [0, 2 GiB) */

struct mini_cpu mini_cpus[MINI_MAX_HARTS];

void mini_main(unsigned long hartid, const void *dtb);
_Noreturn void mini_secondary(unsigned long hartid);

/* The user program (user/user.c), an ELF image embedded by meson. */
extern const char mini_user_elf[], mini_user_elf_end[];

static void
intr_on(void)
{
	__asm__ __volatile__("csrs sstatus, %0" ::"r"(SSTATUS_SIE) : "memory");
}

static void
intr_off(void)
{
	__asm__ __volatile__("csrc sstatus, %0" ::"r"(SSTATUS_SIE) : "memory");
}

void
mini_cpu_setup(unsigned long hartid)
{
	(void)hartid;
	__asm__ __volatile__("csrw stvec, %0" ::"r"(mini_trap_vector));
	__asm__ __volatile__("csrw sscratch, zero");
	__asm__ __volatile__("csrc sstatus, %0" ::"r"(SSTATUS_FS_MASK |
	    SSTATUS_SUM | SSTATUS_SIE));
	__asm__ __volatile__("csrs sstatus, %0" ::"r"(SSTATUS_FS_INITIAL));
	__asm__ __volatile__("csrw sie, %0" ::"r"(SIE_SSIE));
	__asm__ __volatile__("csrc sip, %0" ::"r"(SIP_SSIP));
}

/* The IPI: rvmm's share of it is smp_ipi_entry().  Interrupts off. */
static void
mini_interrupt(unsigned long cause)
{
	if ((cause & ~SCAUSE_INTR) != IRQ_S_SOFT)
		panic("mini: unexpected interrupt, scause %#lx", cause);
	__asm__ __volatile__("csrc sip, %0" ::"r"(SIP_SSIP));
	smp_ipi_entry();
}

static unsigned
fault_access(unsigned long cause)
{
	switch (cause) {
	case EXC_INST_PAGE_FAULT:
		return HAL_FAULT_EXEC;
	case EXC_LOAD_PAGE_FAULT:
		return HAL_FAULT_READ;
	case EXC_STORE_PAGE_FAULT:
		return HAL_FAULT_WRITE;
	}
	return 0;
}

/* A trap taken in S-mode (start.S saved the frame on the stack). */
void
mini_trap_kernel(struct mini_frame *tf)
{
	unsigned long cause = tf->scause;
	unsigned access = fault_access(cause);

	if (cause & SCAUSE_INTR) {
		mini_interrupt(cause);
		return;
	}
	if (access != 0) {
		vaddr_t pc = tf->sepc;
		int err = vm_fault_trap(tf->stval, access, &pc);
		if (err == 0) {
			tf->sepc = pc;	/* retry, or a user copy's recovery */
			return;
		}
		panic("mini: kernel page fault at %#lx, sepc %#lx (%d)",
		    tf->stval, tf->sepc, err);
	}
	panic("mini: unexpected kernel trap: scause %#lx sepc %#lx stval %#lx",
	    cause, tf->sepc, tf->stval);
}

/* ------------------------------------------------------------------ */
/* Processes.                                                          */

enum { P_FREE, P_EMBRYO, P_RUNNABLE, P_RUNNING, P_ZOMBIE };

struct proc {
	int state;		/* (P) proc_lock */
	int pid;		/* (P) */
	int parent;		/* (P) pid, 0: the kernel */
	int cpu;		/* (P) pinned to this cpu, -1: any */
	vm_map_t map;
	struct mini_frame tf;	/* (R) the hart running it */
	long xstatus;		/* (R) then (P) once a zombie */
	vaddr_t fault_va;	/* (R) the fault that killed it, if any */
	unsigned long fault_cause;
	uint64_t handoff_va;	/* (A) SYS_HANDOFF */
	unsigned handoff;	/* (A) 0, 1: waiting for the driver, 2: go on */
};

#define NPROC 16
#define KILLED_FAULT 139	/* exit status of a process killed by a fault */
#define KILLED_TRAP 132		/* ... by another exception */

static struct proc procs[NPROC];
static ck_spinlock_t proc_lock = CK_SPINLOCK_INITIALIZER;
static int next_pid = 1;	/* (P) */
static unsigned next_pick;	/* (P) round robin */

static struct proc *
proc_alloc(void)
{
	struct proc *p = NULL;

	ck_spinlock_lock(&proc_lock);
	for (unsigned i = 0; i < NPROC; i++) {
		if (procs[i].state == P_FREE) {
			p = &procs[i];
			memset(p, 0, sizeof(*p));
			p->state = P_EMBRYO;
			p->pid = next_pid++;
			p->cpu = -1;
			break;
		}
	}
	ck_spinlock_unlock(&proc_lock);
	return p;
}

static void
proc_set_state(struct proc *p, int state)
{
	ck_spinlock_lock(&proc_lock);
	p->state = state;
	ck_spinlock_unlock(&proc_lock);
}

static int
proc_state(struct proc *p)
{
	ck_spinlock_lock(&proc_lock);
	int s = p->state;
	ck_spinlock_unlock(&proc_lock);
	return s;
}

/* Wakes the other harts' schedulers (they idle in wfi). */
static void
wake_others(void)
{
	hal_cpuset_t s;

	smp_online_set(&s);
	s.bits[hal_cpu_id() / 64] &= ~(1ull << (hal_cpu_id() % 64));
	hal_ipi_send(&s);
}

static void
proc_make_runnable(struct proc *p)
{
	proc_set_state(p, P_RUNNABLE);
	wake_others();
}

static struct proc *
proc_pick(unsigned cpu)
{
	struct proc *p = NULL;

	ck_spinlock_lock(&proc_lock);
	for (unsigned i = 0; i < NPROC; i++) {
		struct proc *q = &procs[(next_pick + i) % NPROC];
		if (q->state == P_RUNNABLE && (q->cpu < 0 ||
		    (unsigned)q->cpu == cpu)) {
			q->state = P_RUNNING;
			next_pick = (next_pick + i + 1) % NPROC;
			p = q;
			break;
		}
	}
	ck_spinlock_unlock(&proc_lock);
	return p;
}

/* Frees a zombie's map and slot; returns its exit status. */
static long
proc_reap(struct proc *p)
{
	long x = p->xstatus;

	vm_map_destroy(p->map);
	p->map = NULL;
	proc_set_state(p, P_FREE);
	return x;
}

/* ------------------------------------------------------------------ */
/* Loading the user program.                                           */

struct elf64_ehdr {
	unsigned char ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

#define PT_LOAD 1
#define PF_X 1
#define PF_W 2
#define PF_R 4

/*
 * Maps each PT_LOAD segment where it was linked (FIXED), copies its bytes
 * in with vm_copyout (the map is active on this hart meanwhile), then
 * gives it its own protection.  The rest of a segment stays zero-fill.
 */
static int
load_elf(vm_map_t map, const char *img, size_t size, vaddr_t *entry)
{
	const struct elf64_ehdr *eh = (const void *)img;
	int err = 0;

	if (size < sizeof(*eh) || memcmp(eh->ident, "\177ELF", 4) != 0 ||
	    eh->ident[4] != 2 || eh->machine != 243 ||
	    eh->phoff + (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > size)
		return -ENOEXEC;
	vm_map_activate(map);
	for (unsigned i = 0; i < eh->phnum && err == 0; i++) {
		const struct elf64_phdr *ph = (const void *)(img + eh->phoff +
		    i * sizeof(*ph));
		if (ph->type != PT_LOAD || ph->memsz == 0)
			continue;
		vaddr_t va = ph->vaddr & ~(HAL_PAGE_SIZE - 1);
		vaddr_t end = (ph->vaddr + ph->memsz + HAL_PAGE_SIZE - 1) &
		    ~(HAL_PAGE_SIZE - 1);
		unsigned prot = ((ph->flags & PF_R) ? VM_PROT_READ : 0) |
		    ((ph->flags & PF_W) ? VM_PROT_WRITE : 0) |
		    ((ph->flags & PF_X) ? VM_PROT_EXEC : 0);
		long r = vm_mmap(map, va, end - va, VM_PROT_READ | VM_PROT_WRITE,
		    VM_MAP_PRIVATE | VM_MAP_ANON | VM_MAP_FIXED, NULL, 0);
		if (r < 0) {
			err = (int)r;
			break;
		}
		if (ph->offset + ph->filesz > size) {
			err = -ENOEXEC;
			break;
		}
		err = vm_copyout(ph->vaddr, img + ph->offset, ph->filesz);
		if (err == 0 && prot != (VM_PROT_READ | VM_PROT_WRITE))
			err = vm_mprotect(map, va, end - va, prot);
	}
	vm_map_activate(NULL);
	*entry = eh->entry;
	return err;
}

static struct proc *
spawn(int scenario, int cpu)
{
	struct proc *p = proc_alloc();
	vaddr_t entry;
	long r;

	VM_PANIC_IF(p == NULL, "mini: no free process slot");
	p->map = vm_map_create(VM_MAPF_WXORX);
	VM_PANIC_IF(p->map == NULL, "mini: vm_map_create failed");
	r = load_elf(p->map, mini_user_elf,
	    (size_t)(mini_user_elf_end - mini_user_elf), &entry);
	VM_PANIC_IF(r != 0, "mini: cannot load the user program (%ld)", r);
	r = vm_mmap(p->map, USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_SIZE,
	    VM_PROT_READ | VM_PROT_WRITE,
	    VM_MAP_PRIVATE | VM_MAP_ANON | VM_MAP_FIXED, NULL, 0);
	VM_PANIC_IF(r < 0, "mini: cannot map the user stack (%ld)", r);
	p->tf.sepc = entry;
	p->tf.x[2] = USER_STACK_TOP;
	p->tf.x[10] = (unsigned long)scenario;
	p->tf.x[11] = (unsigned long)p->pid;
	p->cpu = cpu;
	proc_make_runnable(p);
	return p;
}

/* ------------------------------------------------------------------ */
/* System calls.                                                       */

enum { SYS_GO_ON, SYS_YIELD, SYS_EXITED };

static const char mini_msg[] = "hello from the kernel";

static long
sys_write(struct proc *p, vaddr_t ubuf, size_t len)
{
	char kbuf[128], line[160];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(kbuf) ? len - done : sizeof(kbuf);
		int err = vm_copyin(kbuf, ubuf + done, n);
		if (err != 0)
			return err;
		/* One line per call: "# [pid N] text" keeps the TAP clean. */
		size_t m = n;
		while (m > 0 && kbuf[m - 1] == '\n')
			m--;
		ksnprintf(line, sizeof(line), "# [pid %d] %.*s\n", p->pid,
		    (int)m, kbuf);
		kprintf("%s", line);
		done += n;
	}
	return (long)len;
}

static long
sys_fork(struct proc *p)
{
	struct proc *c = proc_alloc();
	int err;

	if (c == NULL)
		return -EAGAIN;
	c->map = vm_map_create(VM_MAPF_WXORX);
	if (c->map == NULL) {
		proc_set_state(c, P_FREE);
		return -ENOMEM;
	}
	err = vm_map_copy(c->map, p->map);
	if (err != 0) {
		vm_map_destroy(c->map);
		proc_set_state(c, P_FREE);
		return err;
	}
	c->tf = p->tf;
	c->tf.x[10] = 0;	/* fork() returns 0 in the child */
	c->parent = p->pid;
	proc_make_runnable(c);
	return c->pid;
}

/* wait(pid, &status): reaps the child, or retries the call later. */
static int
sys_wait(struct proc *p, int pid, vaddr_t ustatus, long *ret)
{
	struct proc *c = NULL;

	for (unsigned i = 0; i < NPROC; i++) {
		int s = proc_state(&procs[i]);
		if (s != P_FREE && procs[i].pid == pid &&
		    procs[i].parent == p->pid)
			c = &procs[i];
	}
	if (c == NULL) {
		*ret = -ECHILD;
		return SYS_GO_ON;
	}
	if (proc_state(c) != P_ZOMBIE) {
		p->tf.sepc -= 4;	/* the ecall again, later */
		return SYS_YIELD;
	}
	int status = (int)c->xstatus;
	*ret = pid;
	if (ustatus != 0) {
		int err = vm_copyout(ustatus, &status, sizeof(status));
		if (err != 0)
			*ret = err;
	}
	(void)proc_reap(c);
	return SYS_GO_ON;
}

/*
 * SYS_HANDOFF(va): the shootdown test.  A pinned process hands va to the
 * driver (the boot hart) and waits in the kernel, its map still active on
 * this hart, interrupts on, until the driver has unmapped va; then it
 * returns to user mode and touches va again.  An unpinned process (one
 * hart) unmaps va itself.
 */
static long
sys_handoff(struct proc *p, vaddr_t va)
{
	if (p->cpu < 0)
		return vm_munmap(p->map, va, HAL_PAGE_SIZE);
	ck_pr_store_64(&p->handoff_va, va);
	ck_pr_fence_store();
	ck_pr_store_uint(&p->handoff, 1);
	while (ck_pr_load_uint(&p->handoff) != 2)
		hal_cpu_relax();
	ck_pr_fence_load();
	return 0;
}

static int
syscall(struct proc *p)
{
	unsigned long *a = &p->tf.x[10];	/* a0 .. a7 */
	long r = -ENOSYS;
	int what = SYS_GO_ON;

	switch (a[7]) {
	case SYS_EXIT:
		p->xstatus = (long)a[0];
		return SYS_EXITED;
	case SYS_WRITE:
		r = sys_write(p, a[1], a[2]);
		break;
	case SYS_GETPID:
		r = p->pid;
		break;
	case SYS_FORK:
		r = sys_fork(p);
		break;
	case SYS_WAIT:
		what = sys_wait(p, (int)a[0], a[1], &r);
		if (what == SYS_YIELD)
			return what;
		break;
	case SYS_MMAP:
		r = vm_mmap(p->map, 0, a[0], (unsigned)a[1],
		    VM_MAP_PRIVATE | VM_MAP_ANON, NULL, 0);
		break;
	case SYS_MUNMAP:
		r = vm_munmap(p->map, a[0], a[1]);
		break;
	case SYS_HANDOFF:
		r = sys_handoff(p, a[0]);
		break;
	case SYS_GETMSG:
		r = vm_copyout(a[0], mini_msg,
		    a[1] < sizeof(mini_msg) ? a[1] : sizeof(mini_msg));
		break;
	}
	a[0] = (unsigned long)r;
	return what;
}

/* ------------------------------------------------------------------ */
/* Running a process on this hart.                                     */

static void
run(struct proc *p)
{
	int what = SYS_GO_ON;

	vm_map_activate(p->map);
	while (what == SYS_GO_ON) {
		intr_off();
		mini_user_run(&p->tf);
		unsigned long cause = p->tf.scause;
		if (cause & SCAUSE_INTR) {
			mini_interrupt(cause);
			intr_on();
			continue;
		}
		intr_on();
		if (cause == EXC_ECALL_U) {
			p->tf.sepc += 4;
			what = syscall(p);
			continue;
		}
		unsigned access = fault_access(cause);
		if (access != 0) {
			vaddr_t pc = p->tf.sepc;
			if (vm_fault_trap(p->tf.stval, access | HAL_FAULT_USER,
			    &pc) == 0) {
				p->tf.sepc = pc;
				continue;
			}
		}
		/* Killed: an unresolved fault or another exception. */
		p->fault_va = p->tf.stval;
		p->fault_cause = cause;
		p->xstatus = access != 0 ? KILLED_FAULT : KILLED_TRAP;
		what = SYS_EXITED;
	}
	/* Off the map before anyone else may run or destroy it. */
	vm_map_activate(NULL);
	proc_set_state(p, what == SYS_EXITED ? P_ZOMBIE : P_RUNNABLE);
	if (what == SYS_YIELD)
		wake_others();
}

/* Runs processes on this hart until p is a zombie (the driver's wait). */
static void
run_until_zombie(struct proc *p)
{
	unsigned self = hal_cpu_id();

	while (proc_state(p) != P_ZOMBIE) {
		struct proc *q = proc_pick(self);
		if (q != NULL)
			run(q);
		else
			hal_cpu_relax();
	}
}

_Noreturn void
mini_secondary(unsigned long hartid)
{
	mini_cpu_setup(hartid);
	vm_boot_cpu();
	intr_on();
	for (;;) {
		struct proc *p = proc_pick(hal_cpu_id());
		if (p != NULL) {
			run(p);
			continue;
		}
		/* wfi wakes on a pending IPI even with interrupts off. */
		intr_off();
		bool any = false;
		ck_spinlock_lock(&proc_lock);
		for (unsigned i = 0; i < NPROC; i++)
			any |= procs[i].state == P_RUNNABLE;
		ck_spinlock_unlock(&proc_lock);
		if (!any)
			hal_cpu_idle();
		intr_on();
	}
}

/* ------------------------------------------------------------------ */
/* The tests (KTAP on the console, read by ci/qemu-run and meson).     */

static unsigned ntests, nfailed;

static void
tap(bool ok, const char *fmt, const char *detail)
{
	ntests++;
	if (!ok)
		nfailed++;
	kprintf("%s %u %s%s%s\n", ok ? "ok" : "not ok", ntests, fmt,
	    detail[0] ? " # " : "", detail);
}

static void
test_user(int scenario, const char *name)
{
	char note[96];
	struct proc *p = spawn(scenario, -1);

	run_until_zombie(p);
	long x = proc_reap(p);
	ksnprintf(note, sizeof(note), "exit status %ld", x);
	tap(x == 0, name, x == 0 ? "" : note);
}

/*
 * The shootdown: a process pinned to another hart maps a page, touches
 * it (its TLB holds the translation) and hands the address over from a
 * system call, its map still active there.  The driver unmaps the page
 * from here: the pmap must shoot the translation down on that hart
 * (remote requests counted here), so the process's next access faults
 * and kills it there.  With one hart the process unmaps the page itself.
 */
static void
test_shootdown(void)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	struct pmap_cpu_stats before, after;
	char note[128];
	bool ok;

	if (n == 1) {
		struct proc *p = spawn(USER_SHOOTDOWN, -1);
		run_until_zombie(p);
		vaddr_t fva = p->fault_va;
		long x = proc_reap(p);
		ksnprintf(note, sizeof(note), "one hart: local unmap; exit %ld, "
		    "fault at %#lx", x, (unsigned long)fva);
		tap(x == KILLED_FAULT, "munmap, then the process faults", note);
		return;
	}
	int target = (int)((self + 1) % n);
	struct proc *p = spawn(USER_SHOOTDOWN, target);
	while (ck_pr_load_uint(&p->handoff) != 1)
		hal_cpu_relax();
	ck_pr_fence_load();
	vaddr_t va = (vaddr_t)ck_pr_load_64(&p->handoff_va);
	pmap_cpu_stats(self, &before);
	int err = vm_munmap(p->map, va, HAL_PAGE_SIZE);
	pmap_cpu_stats(self, &after);
	ck_pr_fence_store();
	ck_pr_store_uint(&p->handoff, 2);
	while (proc_state(p) != P_ZOMBIE)
		hal_cpu_relax();
	vaddr_t fva = p->fault_va;
	long x = proc_reap(p);
	uint64_t remote = after.remote_requests - before.remote_requests;
	ok = err == 0 && remote >= 1 && x == KILLED_FAULT && fva == va;
	ksnprintf(note, sizeof(note), "cpu %d: %llu remote request(s) from cpu "
	    "%u, exit %ld, fault at %#lx (unmapped %#lx)", target,
	    (unsigned long long)remote, self, x, (unsigned long)fva,
	    (unsigned long)va);
	tap(ok, "munmap shoots down the translation another hart uses", note);
}

void
mini_main(unsigned long hartid, const void *dtb)
{
	char note[96];

	mini_cpu_setup(hartid);
	mini_hooks_init(hartid, dtb);
	kprintf("TAP version 13\n1..6\n");

	/* Boot: user space below RAM, then rvmm, then the other harts. */
	int err = pmap_set_user_window(0, LOW_WINDOW_END);
	tap(err == 0, "pmap_set_user_window(0, 2 GiB)", "");
	vm_boot();
	intr_on();
	for (unsigned h = 0; h < hal_ncpus(); h++) {
		if (h == hartid)
			continue;
		long e = mini_sbi_hart_start(h,
		    (unsigned long)mini_secondary_entry, 0);
		/* -6: SBI_ERR_ALREADY_AVAILABLE (the hart is parked in _start) */
		if (e != 0 && e != -6)
			panic("mini: SBI hart_start(%u) failed: %ld", h, e);
		/*
		 * Release it from _start's parking loop in either case:
		 * OpenSBI 1.1 may also report success for a hart that it
		 * let into _start; one that did start at
		 * mini_secondary_entry never looks at mini_release.
		 */
		ck_pr_fence_store();
		ck_pr_store_64((uint64_t *)&mini_release[h], 1);
	}
	uint64_t t0 = hal_time_ns();
	while (smp_online_count() != hal_ncpus() &&
	    hal_time_ns() - t0 < 20000000000ull)
		hal_cpu_relax();
	ksnprintf(note, sizeof(note), "%u of %u harts online, boot hart %lu",
	    smp_online_count(), hal_ncpus(), hartid);
	tap(smp_online_count() == hal_ncpus(),
	    "vm_boot, then the other harts start and call vm_boot_cpu", note);

	test_user(USER_SYSCALLS, "a program linked at 0x10000 runs in U-mode "
	    "(write, getpid, exit)");
	test_user(USER_FORK, "fork (vm_map_copy) and copy-on-write");
	test_user(USER_COPY, "copyin/copyout: bad pointers, first touch, COW");
	test_shootdown();

	struct vm_fault_stats fs;
	vm_fault_stats(&fs);
	kprintf("# faults %llu resolved %llu zero-fill %llu cow-copy %llu "
	    "cow-reuse %llu\n", (unsigned long long)fs.faults,
	    (unsigned long long)fs.resolved, (unsigned long long)fs.zero_fill,
	    (unsigned long long)fs.cow_copy, (unsigned long long)fs.cow_reuse);
	kprintf("# %u passed, %u failed\n", ntests - nfailed, nfailed);
	hal_poweroff(nfailed == 0 ? 0 : 1);
}
