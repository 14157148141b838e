/*
 * Host-port extras that host-only code (the software MMU, host tests) may
 * use.  Machine-independent code never includes this.
 */
#ifndef RVMM_HAL_HOST_HAL_HOST_H
#define RVMM_HAL_HOST_HAL_HOST_H

#include "hal/hal.h"


#endif
