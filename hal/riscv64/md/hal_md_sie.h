/*
 * hal_md_sie.h (riscv64): interrupt masking through sstatus.SIE, inline,
 * the same for every S-mode kernel.  Included by the riscv64 hal_md.h
 * headers (hal/riscv64/md, rvmm's default; hal/riscv64/include, rvmm's tp
 * convention), never alone.
 */
#ifndef RVMM_HAL_RISCV64_MD_HAL_MD_SIE_H
#define RVMM_HAL_RISCV64_MD_HAL_MD_SIE_H

#define HAL_MD_SSTATUS_SIE 0x2ul

static inline hal_intr_t
hal_intr_disable(void)
{
	unsigned long v;

	__asm__ __volatile__("csrrci %0, sstatus, 2" : "=r"(v)::"memory");
	return v & HAL_MD_SSTATUS_SIE;
}

static inline void
hal_intr_restore(hal_intr_t state)
{
	if (state & HAL_MD_SSTATUS_SIE)
		__asm__ __volatile__("csrsi sstatus, 2" ::: "memory");
}

static inline bool
hal_intr_enabled(void)
{
	unsigned long v;

	__asm__ __volatile__("csrr %0, sstatus" : "=r"(v)::"memory");
	return (v & HAL_MD_SSTATUS_SIE) != 0;
}

#endif /* RVMM_HAL_RISCV64_MD_HAL_MD_SIE_H */
