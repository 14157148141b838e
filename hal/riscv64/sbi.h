/*
 * SBI calls used by the riscv64 port (SBI v0.3+ as OpenSBI 1.1 implements
 * it; the console falls back to the legacy putchar extension).
 */
#ifndef RVMM_HAL_RISCV64_SBI_H
#define RVMM_HAL_RISCV64_SBI_H

#include <stdint.h>

#define SBI_EXT_BASE 0x10
#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_IPI 0x735049		/* "sPI" */
#define SBI_EXT_HSM 0x48534D		/* "HSM" */
#define SBI_EXT_SRST 0x53525354		/* "SRST" */

#define SBI_SRST_TYPE_SHUTDOWN 0
#define SBI_SRST_REASON_NONE 0
#define SBI_SRST_REASON_SYSFAIL 1

#define SBI_SUCCESS 0
#define SBI_ERR_ALREADY_AVAILABLE (-6)

struct sbiret {
	long error;
	long value;
};

struct sbiret sbi_call(unsigned long ext, unsigned long fid, unsigned long a0,
    unsigned long a1, unsigned long a2, unsigned long a3, unsigned long a4);

long sbi_probe_extension(unsigned long ext);
void sbi_console_putchar(int c);
long sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base);
long sbi_hart_start(unsigned long hartid, unsigned long start_pa,
    unsigned long opaque);
long sbi_hart_status(unsigned long hartid);
void sbi_system_reset(unsigned long type, unsigned long reason);

#endif /* RVMM_HAL_RISCV64_SBI_H */
