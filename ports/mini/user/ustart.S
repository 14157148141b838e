/*
 * ustart.S: entry of the minimal kernel's user program: a0 = scenario,
 * a1 = its pid, sp = the top of its stack.  exit(umain(a0, a1)).
 */
#include "../mini.h"

	.section .text.start, "ax"
	.globl _start
_start:
	call	umain
	li	a7, SYS_EXIT
	ecall
1:	j	1b
