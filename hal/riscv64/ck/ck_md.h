/*
 * ck_md.h for the freestanding riscv64 build of rvmm.
 *
 * Debian's libck-dev ships a ck_md.h configured for x86_64 (TSO ordering,
 * 48 VMA bits, pointer packing).  RISC-V's RVWMO is weaker than TSO, so the
 * riscv64 build puts this header ahead of the packaged headers: ck's fences
 * then emit real `fence` instructions, and ck uses the compiler builtins
 * (CK_USE_CC_BUILTINS) since it has no hand-written riscv64 port.
 */
#ifndef CK_MD_H
#define CK_MD_H

#define CK_MD_CACHELINE (64)
#define CK_MD_PAGESIZE (4096)
#define CK_MD_RTM_DISABLE
#define CK_MD_LSE_DISABLE
/* Sv39/Sv48 leave no spare high bits we may rely on: never pack pointers. */
#define CK_MD_POINTER_PACK_DISABLE
#define CK_MD_VMA_BITS 39ULL
/* RVWMO: relaxed memory order, every ck fence must be a hardware fence. */
#define CK_MD_RMO
#define CK_PR_DISABLE_DOUBLE

#define CK_VERSION "0.7.1"
#define CK_GIT_SHA ""

#endif /* CK_MD_H */
