/*
 * mini.h: shared definitions of the minimal embedding kernel (C and
 * assembly).  See main.c for what the kernel is and does.
 */
#ifndef MINI_MINI_H
#define MINI_MINI_H

#define MINI_STACK_SIZE 16384
#define MINI_MAX_HARTS 16	/* hart ids 0 .. 15 (QEMU virt: -smp <= 16) */

/* struct mini_cpu field offsets (start.S uses them). */
#define CPU_KSP 0		/* kernel sp saved by mini_user_run */
#define CPU_TF 8		/* the user frame being run */
#define CPU_HARTID 16		/* the kernel's tp on this hart */
#define CPU_SCRATCH 24		/* one register saved on entry from U */
#define CPU_SIZE 64

/* Trap frame: x1..x31 at 8*i, then sepc, sstatus, scause, stval. */
#define TF_SEPC (32 * 8)
#define TF_SSTATUS (33 * 8)
#define TF_SCAUSE (34 * 8)
#define TF_STVAL (35 * 8)
#define TF_SIZE (36 * 8)

/* System calls: number in a7, arguments in a0..a2, result in a0. */
#define SYS_EXIT 1
#define SYS_WRITE 2
#define SYS_GETPID 3
#define SYS_FORK 4
#define SYS_WAIT 5
#define SYS_MMAP 6
#define SYS_MUNMAP 7
#define SYS_HANDOFF 8		/* the shootdown test: see main.c */
#define SYS_GETMSG 9		/* copies a kernel string out (copyout) */

/* Scenarios of the user program (a0 at its entry). */
#define USER_SYSCALLS 1
#define USER_FORK 2
#define USER_COPY 3
#define USER_SHOOTDOWN 4

/* User layout: the program is linked at 0x10000 (user/user.ld). */
#define USER_STACK_TOP 0x40000000ul
#define USER_STACK_SIZE 0x4000ul
#define USER_HOLE 0x50000000ul		/* never mapped */

#ifndef __ASSEMBLER__
#include <stdint.h>

struct mini_cpu {
	unsigned long ksp;
	unsigned long tf;
	unsigned long hartid;
	unsigned long scratch;
	unsigned long pad[4];
};

struct mini_frame {
	unsigned long x[32];	/* x[0] unused */
	unsigned long sepc;
	unsigned long sstatus;
	unsigned long scause;
	unsigned long stval;
};

_Static_assert(sizeof(struct mini_cpu) == CPU_SIZE, "CPU_SIZE");
_Static_assert(sizeof(struct mini_frame) == TF_SIZE, "TF_SIZE");

extern struct mini_cpu mini_cpus[MINI_MAX_HARTS];

/* start.S */
void mini_trap_vector(void);
void mini_secondary_entry(void);
void mini_user_run(struct mini_frame *tf);
extern unsigned long mini_release[MINI_MAX_HARTS];

/* sbi.c (the kernel's own SBI calls) */
long mini_sbi_hart_start(unsigned long hartid, unsigned long pc,
    unsigned long opaque);
long mini_sbi_hart_status(unsigned long hartid);
long mini_sbi_send_ipi(unsigned long mask, unsigned long base);
void mini_sbi_putchar(int c);
void mini_sbi_shutdown(int failure);

/* hooks.c */
void mini_hooks_init(unsigned long boot_hart, const void *dtb);
void mini_cpu_setup(unsigned long hartid);

/* main.c */
void mini_trap_kernel(struct mini_frame *tf);
#endif

#endif /* MINI_MINI_H */
