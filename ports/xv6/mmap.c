/*
 * mmap.c: the mmap and munmap system calls of xv6 on rvmm.
 *
 * Not implemented yet: sys_mmap() and sys_munmap() fail (-1), and a
 * process never has mappings of its own (p->mmap stays NULL), so fork and
 * exit have nothing to do.  The interface is the one the rest of the
 * port calls (kernel/defs.h, section "ports/xv6").
 */
#include "rvmm_xv6.h"

void
mmap_init(void)
{
}

uint64
sys_mmap(void)
{
	return -1;
}

uint64
sys_munmap(void)
{
	return -1;
}

int
mmap_fork(struct proc *parent, struct proc *child)
{
	(void)parent;
	child->mmap = 0;
	return 0;
}

void
mmap_exit(struct proc *p)
{
	p->mmap = 0;
}
