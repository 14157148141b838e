/*
 * pte.h: the Sv39 page-table entry and the satp register, defined once.
 *
 * This is the only file in rvmm that knows where a PTE or satp field sits.
 * hal/sv39 (the pmap) and hal/host/mmu.c (the software walker) use the
 * accessors below; nothing else shifts PTE or satp bits.
 *
 *   PTE (64 bits, RISC-V privileged spec 1.12, Svpbmt, Svnapot):
 *	63	N	NAPOT (Svnapot; rvmm never sets it)
 *	62:61	PBMT	page-based memory type (Svpbmt): 0 PMA, 1 NC, 2 IO
 *	60:54	-	reserved, must be zero
 *	53:10	PPN	physical page number (44 bits: PPN[2] 26, PPN[1] 9, PPN[0] 9)
 *	9:8	RSW	reserved for software
 *	7	D	dirty
 *	6	A	accessed
 *	5	G	global (in every address space)
 *	4	U	user accessible
 *	3	X	executable
 *	2	W	writable
 *	1	R	readable
 *	0	V	valid
 *   A valid PTE with R = W = X = 0 points to the next-level table; any of
 *   R/W/X makes it a leaf.  W without R is reserved.  For non-leaf PTEs
 *   D, A, U (and PBMT, N) must be zero.
 *
 *   Virtual address (39 bits, sign-extended to 64): VPN[2] 38:30,
 *   VPN[1] 29:21, VPN[0] 20:12, offset 11:0.  Level 2 is the root; a leaf
 *   at level 2 maps 1 GiB, at level 1 2 MiB, at level 0 4 KiB, and its PPN
 *   must be aligned to that size.
 *
 *   satp (64 bits): MODE 63:60 (0 Bare, 8 Sv39), ASID 59:44, PPN 43:0.
 */
#ifndef RVMM_HAL_SV39_PTE_H
#define RVMM_HAL_SV39_PTE_H

#include <stdbool.h>
#include <stdint.h>

#include "hal/hal.h"

typedef uint64_t pte_t;

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_RWX (PTE_R | PTE_W | PTE_X)

#define PTE_RSW_SHIFT 8
#define PTE_RSW_MASK (3ull << PTE_RSW_SHIFT)
#define PTE_PPN_SHIFT 10
#define PTE_PPN_BITS 44
#define PTE_PPN_MASK (((1ull << PTE_PPN_BITS) - 1) << PTE_PPN_SHIFT)
#define PTE_RESERVED_MASK (0x7full << 54)
#define PTE_PBMT_SHIFT 61
#define PTE_PBMT_MASK (3ull << PTE_PBMT_SHIFT)
#define PTE_N (1ull << 63)

/* PBMT values (Svpbmt). */
#define PTE_PBMT_PMA 0u
#define PTE_PBMT_NC 1u
#define PTE_PBMT_IO 2u

/* Geometry. */
#define SV39_LEVELS 3
#define SV39_ROOT_LEVEL 2
#define SV39_VPN_BITS 9
#define SV39_ENTRIES 512u
#define SV39_VA_BITS 39
#define SV39_PAGE_SHIFT 12

/* Bytes mapped by one entry of a table at `level` (0: 4 KiB). */
static inline uint64_t
sv39_level_size(unsigned level)
{
	return 1ull << (SV39_PAGE_SHIFT + SV39_VPN_BITS * level);
}

/* Index of va's entry in a table at `level`. */
static inline unsigned
sv39_index(uint64_t va, unsigned level)
{
	return (unsigned)(va >> (SV39_PAGE_SHIFT + SV39_VPN_BITS * level)) &
	    (SV39_ENTRIES - 1);
}

/* Bits 63:38 all equal: the address is a valid Sv39 virtual address. */
static inline bool
sv39_va_canonical(uint64_t va)
{
	uint64_t top = va >> (SV39_VA_BITS - 1);

	return top == 0 || top == (~0ull >> (SV39_VA_BITS - 1));
}

/* The lower half of the Sv39 space: [0, 2^38). */
#define SV39_LOWER_END (1ull << (SV39_VA_BITS - 1))
/* The upper half starts here (sign-extended bit 38). */
#define SV39_UPPER_START (~0ull << (SV39_VA_BITS - 1))

static inline bool pte_valid(pte_t p) { return (p & PTE_V) != 0; }
static inline bool pte_leaf(pte_t p) { return (p & PTE_RWX) != 0; }
static inline bool pte_table(pte_t p) { return pte_valid(p) && !pte_leaf(p); }

static inline paddr_t
pte_pa(pte_t p)
{
	return ((p & PTE_PPN_MASK) >> PTE_PPN_SHIFT) << SV39_PAGE_SHIFT;
}

static inline unsigned
pte_pbmt(pte_t p)
{
	return (unsigned)((p & PTE_PBMT_MASK) >> PTE_PBMT_SHIFT);
}

static inline pte_t
pte_pbmt_bits(unsigned pbmt)
{
	return ((pte_t)pbmt << PTE_PBMT_SHIFT) & PTE_PBMT_MASK;
}

/* A leaf: pa, permission and attribute bits (V R W X U G A D PBMT). */
static inline pte_t
pte_make_leaf(paddr_t pa, pte_t bits)
{
	return ((pa >> SV39_PAGE_SHIFT) << PTE_PPN_SHIFT & PTE_PPN_MASK) |
	    (bits & ~PTE_PPN_MASK) | PTE_V;
}

/* A pointer to the next-level table at table_pa. */
static inline pte_t
pte_make_table(paddr_t table_pa)
{
	return ((table_pa >> SV39_PAGE_SHIFT) << PTE_PPN_SHIFT & PTE_PPN_MASK) |
	    PTE_V;
}

/* Same leaf with a different physical address (demotion, remap). */
static inline pte_t
pte_with_pa(pte_t p, paddr_t pa)
{
	return (p & ~PTE_PPN_MASK) |
	    ((pa >> SV39_PAGE_SHIFT) << PTE_PPN_SHIFT & PTE_PPN_MASK);
}

/* Fields of satp. */
#define SATP_MODE_SHIFT 60
#define SATP_MODE_MASK (0xfull << SATP_MODE_SHIFT)
#define SATP_MODE_BARE 0ull
#define SATP_MODE_SV39 8ull
#define SATP_ASID_SHIFT 44
#define SATP_ASID_BITS 16
#define SATP_ASID_MASK (((1ull << SATP_ASID_BITS) - 1) << SATP_ASID_SHIFT)
#define SATP_PPN_MASK ((1ull << 44) - 1)

static inline uint64_t
satp_make(uint64_t mode, unsigned asid, paddr_t root_pa)
{
	return (mode << SATP_MODE_SHIFT) |
	    (((uint64_t)asid << SATP_ASID_SHIFT) & SATP_ASID_MASK) |
	    ((root_pa >> SV39_PAGE_SHIFT) & SATP_PPN_MASK);
}

static inline uint64_t satp_mode(uint64_t s) { return s >> SATP_MODE_SHIFT; }

static inline unsigned
satp_asid(uint64_t s)
{
	return (unsigned)((s & SATP_ASID_MASK) >> SATP_ASID_SHIFT);
}

static inline paddr_t
satp_root_pa(uint64_t s)
{
	return (s & SATP_PPN_MASK) << SV39_PAGE_SHIFT;
}

static inline uint64_t
satp_with_asid(uint64_t s, unsigned asid)
{
	return (s & ~SATP_ASID_MASK) |
	    (((uint64_t)asid << SATP_ASID_SHIFT) & SATP_ASID_MASK);
}

#endif /* RVMM_HAL_SV39_PTE_H */
