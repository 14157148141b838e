/*
 * Supervisor CSRs and the few instructions the riscv64 port needs.
 * Only hal/riscv64 includes this.
 */
#ifndef RVMM_HAL_RISCV64_CSR_H
#define RVMM_HAL_RISCV64_CSR_H

#include <stdint.h>

#define SSTATUS_SIE (1ul << 1)
#define SSTATUS_SPIE (1ul << 5)
#define SSTATUS_SPP (1ul << 8)
#define SSTATUS_FS_INITIAL (1ul << 13)
#define SSTATUS_FS_MASK (3ul << 13)
#define SSTATUS_SUM (1ul << 18)
#define SSTATUS_MXR (1ul << 19)

#define SIE_SSIE (1ul << 1)
#define SIE_STIE (1ul << 5)
#define SIE_SEIE (1ul << 9)
#define SIP_SSIP (1ul << 1)

#define SCAUSE_INTR (1ul << 63)
#define IRQ_S_SOFT 1
#define IRQ_S_TIMER 5
#define IRQ_S_EXT 9

#define EXC_INST_MISALIGNED 0
#define EXC_INST_ACCESS 1
#define EXC_ILLEGAL 2
#define EXC_BREAKPOINT 3
#define EXC_LOAD_MISALIGNED 4
#define EXC_LOAD_ACCESS 5
#define EXC_STORE_MISALIGNED 6
#define EXC_STORE_ACCESS 7
#define EXC_ECALL_U 8
#define EXC_ECALL_S 9
#define EXC_INST_PAGE_FAULT 12
#define EXC_LOAD_PAGE_FAULT 13
#define EXC_STORE_PAGE_FAULT 15

#define csr_read(csr)                                                          \
	({                                                                     \
		unsigned long v_;                                              \
		__asm__ __volatile__("csrr %0, " #csr : "=r"(v_)::"memory");   \
		v_;                                                            \
	})

#define csr_write(csr, val)                                                    \
	__asm__ __volatile__("csrw " #csr ", %0" ::"rK"((unsigned long)(val))  \
	    : "memory")

#define csr_set(csr, val)                                                      \
	__asm__ __volatile__("csrs " #csr ", %0" ::"rK"((unsigned long)(val))  \
	    : "memory")

#define csr_clear(csr, val)                                                    \
	__asm__ __volatile__("csrc " #csr ", %0" ::"rK"((unsigned long)(val))  \
	    : "memory")

#define csr_read_clear(csr, val)                                               \
	({                                                                     \
		unsigned long v_;                                              \
		__asm__ __volatile__("csrrc %0, " #csr ", %1"                  \
		    : "=r"(v_) : "rK"((unsigned long)(val)) : "memory");       \
		v_;                                                            \
	})

static inline uint64_t
rv_rdtime(void)
{
	uint64_t t;

	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t;
}

static inline void
rv_wfi(void)
{
	__asm__ __volatile__("wfi" ::: "memory");
}

#endif /* RVMM_HAL_RISCV64_CSR_H */
