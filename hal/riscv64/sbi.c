/*
 * sbi.c: the SBI calls of the riscv64 port.  Arguments in a0-a5, function
 * id in a6, extension id in a7; error in a0 and value in a1 on return.
 */
#include "hal/riscv64/sbi.h"

struct sbiret
sbi_call(unsigned long ext, unsigned long fid, unsigned long a0,
    unsigned long a1, unsigned long a2, unsigned long a3, unsigned long a4)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r3 __asm__("a3") = a3;
	register unsigned long r4 __asm__("a4") = a4;
	register unsigned long r6 __asm__("a6") = fid;
	register unsigned long r7 __asm__("a7") = ext;
	struct sbiret ret;

	__asm__ __volatile__("ecall"
	    : "+r"(r0), "+r"(r1)
	    : "r"(r2), "r"(r3), "r"(r4), "r"(r6), "r"(r7)
	    : "memory");
	ret.error = (long)r0;
	ret.value = (long)r1;
	return ret;
}

long
sbi_probe_extension(unsigned long ext)
{
	struct sbiret r = sbi_call(SBI_EXT_BASE, 3, ext, 0, 0, 0, 0);

	return r.error ? 0 : r.value;
}

void
sbi_console_putchar(int c)
{
	(void)sbi_call(SBI_EXT_LEGACY_PUTCHAR, 0, (unsigned long)c, 0, 0, 0, 0);
}

long
sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base)
{
	return sbi_call(SBI_EXT_IPI, 0, hart_mask, hart_mask_base, 0, 0, 0).error;
}

long
sbi_hart_start(unsigned long hartid, unsigned long start_pa,
    unsigned long opaque)
{
	return sbi_call(SBI_EXT_HSM, 0, hartid, start_pa, opaque, 0, 0).error;
}

long
sbi_hart_status(unsigned long hartid)
{
	struct sbiret r = sbi_call(SBI_EXT_HSM, 2, hartid, 0, 0, 0, 0);

	return r.error ? r.error : r.value;
}

void
sbi_system_reset(unsigned long type, unsigned long reason)
{
	(void)sbi_call(SBI_EXT_SRST, 0, type, reason, 0, 0, 0);
}
