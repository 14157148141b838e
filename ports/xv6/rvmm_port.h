/*
 * rvmm_port.h: constants of xv6 on rvmm shared by the port's C and
 * assembly files (no xv6 or rvmm header here: rvmm_entry.S includes it).
 */
#ifndef RVMM_XV6_PORT_H
#define RVMM_XV6_PORT_H

#define RVMM_MAX_HARTS 8		/* xv6's NCPU: hart ids 0 .. 7 */
#define RVMM_BOOT_STACK 16384		/* per hart: start-up, then scheduler() */
#define RVMM_KSTACK_ORDER 2		/* per process: 2^2 frames */
#define RVMM_KSTACK_SIZE (4096 << RVMM_KSTACK_ORDER)

#endif /* RVMM_XV6_PORT_H */
