/*
 * vm.h: bring-up of the rvmm VM layers, bottom up.
 */
#ifndef RVMM_VM_VM_H
#define RVMM_VM_VM_H

/*
 * vm_boot: initialises every layer in dependency order.
 * pre: boot cpu, after smp_init(), once.
 */
void vm_boot(void);

#endif /* RVMM_VM_VM_H */
