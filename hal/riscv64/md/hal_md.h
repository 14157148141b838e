/*
 * hal_md.h (riscv64, librvmm.a's default): the inline fast paths of
 * hal/hal.h for any S-mode kernel.
 *
 * Interrupts are sstatus.SIE, inline.  The cpu id is a hook the kernel
 * defines out of line (HAL_MD_CPU_HOOK: unsigned hal_cpu_id(void), see
 * hal/hooks.h), so rvmm assumes nothing about tp, gp or sscratch: the
 * kernel keeps its per-CPU data its own way.  One call per use; a kernel
 * that wants it inline builds rvmm with meson -Dhal_md_dir=DIR, DIR
 * holding its own hal_md.h (copy this one and define HAL_MD_CPU_ID and an
 * inline hal_cpu_id(), as hal/riscv64/include/hal_md.h does for rvmm's tp
 * convention).  Included by hal/hal.h only.
 */
#ifndef RVMM_HAL_RISCV64_MD_HAL_MD_H
#define RVMM_HAL_RISCV64_MD_HAL_MD_H

#define HAL_MD_CPU_HOOK 1

#include "hal_md_sie.h"

#endif /* RVMM_HAL_RISCV64_MD_HAL_MD_H */
