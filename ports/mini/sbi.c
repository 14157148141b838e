/*
 * sbi.c: the minimal kernel's own SBI calls (librvmm.a has its own private
 * RFENCE call and exports none).
 */
#include "mini.h"

struct mini_sbiret {
	long error;
	long value;
};

static struct mini_sbiret
sbi(unsigned long ext, unsigned long fid, unsigned long a0, unsigned long a1,
    unsigned long a2)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r6 __asm__("a6") = fid;
	register unsigned long r7 __asm__("a7") = ext;
	struct mini_sbiret r;

	__asm__ __volatile__("ecall"
	    : "+r"(r0), "+r"(r1)
	    : "r"(r2), "r"(r6), "r"(r7)
	    : "memory");
	r.error = (long)r0;
	r.value = (long)r1;
	return r;
}

#define EXT_PUTCHAR 0x01
#define EXT_IPI 0x735049
#define EXT_HSM 0x48534D
#define EXT_SRST 0x53525354

long
mini_sbi_hart_start(unsigned long hartid, unsigned long pc,
    unsigned long opaque)
{
	return sbi(EXT_HSM, 0, hartid, pc, opaque).error;
}

/* HSM status (0 started, 1 stopped, ...) or a negative SBI error. */
long
mini_sbi_hart_status(unsigned long hartid)
{
	struct mini_sbiret r = sbi(EXT_HSM, 2, hartid, 0, 0);

	return r.error ? r.error : r.value;
}

long
mini_sbi_send_ipi(unsigned long mask, unsigned long base)
{
	return sbi(EXT_IPI, 0, mask, base, 0).error;
}

void
mini_sbi_putchar(int c)
{
	(void)sbi(EXT_PUTCHAR, 0, (unsigned long)c, 0, 0);
}

void
mini_sbi_shutdown(int failure)
{
	(void)sbi(EXT_SRST, 0, 0, failure ? 1 : 0, 0);
}
