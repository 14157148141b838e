/*
 * rvmm_xv6.h: what the port's C files (and ports/xv6/mmap.c) include: the
 * rvmm headers first, then xv6's kernel headers.
 *
 * Names.  librvmm.a exports panic() and kfree() with meanings of its own
 * (printf-style panic; kmalloc's free).  xv6's patched kernel/defs.h
 * renames xv6's two (#define panic xv6_panic, #define kfree xv6_kfree),
 * so every xv6 file calls xv6's.  In the port's files the rvmm names are
 * the rvmm functions (the macros are undone below, after the rvmm
 * declarations): xv6's page free is xv6_kfree(), its panic xv6_panic().
 */
#ifndef RVMM_XV6_H
#define RVMM_XV6_H

#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/assert.h"
#include "lib/kprintf.h"
#include "lib/smp.h"
#include "vm/copy.h"
#include "vm/fault.h"
#include "vm/kmalloc.h"
#include "vm/map.h"
#include "vm/object.h"
#include "vm/page.h"
#include "vm/vm.h"
#include "vm/zone.h"

#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "file.h"
#include "proc.h"
#include "defs.h"

#include "rvmm_port.h"

#undef panic
#undef kfree

/* proc_map: the process's rvmm map (NULL once exit has destroyed it). */
vm_map_t proc_map(struct proc *p);

/* rvmm_start.c */
extern int rvmm_boot_hartid;
void rvmm_sbi_set_timer(uint64 when);
void rvmm_cpu_setup(void);

#endif /* RVMM_XV6_H */
