/*
 * user.c: the user program of the minimal kernel (ports/mini), linked at
 * 0x10000, no libc.  Each scenario checks what the kernel and rvmm must
 * do and exits with 0, or with the number of the first check that failed.
 */
#include <stddef.h>
#include <stdint.h>

#include "../mini.h"

#define EFAULT 14
#define PROT_RW 3

static long
sys3(long n, long a0, long a1, long a2)
{
	register long r0 __asm__("a0") = a0;
	register long r1 __asm__("a1") = a1;
	register long r2 __asm__("a2") = a2;
	register long r7 __asm__("a7") = n;

	__asm__ __volatile__("ecall" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7)
	    : "memory");
	return r0;
}

static size_t
slen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

static int
seq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static long
say(const char *s)
{
	return sys3(SYS_WRITE, 1, (long)s, (long)slen(s));
}

static long
write_raw(uintptr_t p, long len)
{
	return sys3(SYS_WRITE, 1, (long)p, len);
}

static long fork_(void) { return sys3(SYS_FORK, 0, 0, 0); }
static long getpid_(void) { return sys3(SYS_GETPID, 0, 0, 0); }
static long wait_(long pid, int *st) { return sys3(SYS_WAIT, pid, (long)st, 0); }
static long mmap_(long len) { return sys3(SYS_MMAP, len, PROT_RW, 0); }
static long munmap_(long va, long len) { return sys3(SYS_MUNMAP, va, len, 0); }
static long getmsg(uintptr_t p, long len) { return sys3(SYS_GETMSG, (long)p, len, 0); }

static _Noreturn void
exit_(long code)
{
	sys3(SYS_EXIT, code, 0, 0);
	for (;;)
		;
}

static volatile int counter = 42;			/* .data */
static char cow_buf[64] = "parent's data";		/* .data */
static char fresh[8192] __attribute__((aligned(4096)));	/* .bss, untouched */

static int
scenario_syscalls(long pid)
{
	static const char hello[] = "hello from U-mode at 0x10000\n";

	if (say(hello) != (long)slen(hello))
		return 1;
	if (getpid_() != pid)
		return 2;
	if ((uintptr_t)&scenario_syscalls < 0x10000 ||
	    (uintptr_t)&scenario_syscalls >= 0x20000)
		return 3;
	return 0;
}

static int
scenario_fork(void)
{
	long parent = getpid_();
	int st = -1;
	long child = fork_();

	if (child < 0)
		return 1;
	if (child == 0) {
		if (getpid_() == parent)
			exit_(100);
		counter += 1;		/* a copy-on-write fault */
		say("child: counter is now 43\n");
		exit_(counter);
	}
	if (wait_(child, &st) != child)
		return 2;
	if (st != 43)
		return 3;
	if (counter != 42)
		return 4;		/* the child's write leaked */
	say("parent: child exited 43, counter still 42\n");
	return 0;
}

static int
scenario_copy(void)
{
	/* Bad pointers: -EFAULT, never a panic or a fault loop. */
	if (write_raw(0, 4) != -EFAULT)
		return 1;				/* NULL */
	if (write_raw(0x80200000ul, 4) != -EFAULT)
		return 2;				/* the kernel */
	if (write_raw(USER_HOLE, 4) != -EFAULT)
		return 3;				/* unmapped */
	long m = mmap_(8192);
	if (m < 0 || munmap_(m + 4096, 4096) != 0)
		return 4;
	char *p = (char *)m;
	for (int i = 0; i < 4096; i++)
		p[i] = 'x';
	if (write_raw((uintptr_t)p + 4092, 8) != -EFAULT)
		return 5;				/* mapped into a hole */
	if (write_raw((uintptr_t)p + 4092, 4) != 4)
		return 6;				/* the mapped part */
	if (getmsg(0x10000, 8) != -EFAULT)
		return 7;				/* read-only text */
	/* copyout onto a page never touched: the fault fills it. */
	if (getmsg((uintptr_t)fresh + 4096, 64) != 0 ||
	    !seq(fresh + 4096, "hello from the kernel"))
		return 8;
	/* copyout onto a copy-on-write page: copied, not shared. */
	long child = fork_();
	if (child < 0)
		return 9;
	if (child == 0) {
		if (getmsg((uintptr_t)cow_buf, 64) != 0)
			exit_(1);
		exit_(seq(cow_buf, "hello from the kernel") ? 0 : 2);
	}
	int st = -1;
	if (wait_(child, &st) != child || st != 0)
		return 10;
	if (!seq(cow_buf, "parent's data"))
		return 11;
	/* wait's status copyout to a bad pointer: -EFAULT. */
	child = fork_();
	if (child == 0)
		exit_(5);
	if (wait_(child, (int *)0x80200000ul) != -EFAULT)
		return 12;
	say("copy: every check passed\n");
	return 0;
}

/* Killed by the fault of its last access when the kernel got it right. */
static int
scenario_shootdown(void)
{
	long m = mmap_(4096);
	volatile int *p = (volatile int *)m;

	if (m < 0)
		return 1;
	*p = 1;
	for (int i = 0; i < 100; i++)
		if (*p != 1)
			return 2;
	if (sys3(SYS_HANDOFF, m, 0, 0) != 0)
		return 3;
	(void)*p;		/* must fault: the page is gone */
	return 4;
}

long umain(long scenario, long pid);
long
umain(long scenario, long pid)
{
	switch (scenario) {
	case USER_SYSCALLS:
		return scenario_syscalls(pid);
	case USER_FORK:
		return scenario_fork();
	case USER_COPY:
		return scenario_copy();
	case USER_SHOOTDOWN:
		return scenario_shootdown();
	}
	return 99;
}
