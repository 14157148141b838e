/*
 * hal_host.c: the host port of rvmm.  Harts are pthreads, physical memory
 * is an mmap'd arena, IPIs are signals.
 *
 * 1. Harts.  main() becomes cpu 0; it creates one thread per further cpu
 *    (bootarg harts=N, default 4), each with a thread-local pointer to its
 *    struct hal_cpu: hal_cpu() is that pointer, as `tp` is on riscv64.
 *    Every cpu checks in before kmain()/kmain_secondary() run.
 *
 * 2. Interrupts.  "Interrupts enabled" is a per-thread flag.  An IPI is a
 *    pending bit in the target's cpu record plus SIGUSR1 sent to its
 *    thread, so it arrives asynchronously, as on hardware (the handler
 *    calls smp_ipi_entry(), as a kernel's IPI dispatch does): a thread
 *    spinning with interrupts on takes it in the middle of its loop.  With
 *    interrupts off the signal handler only leaves the bit set, and
 *    hal_intr_restore() takes the interrupt when the flag comes back on.
 *    hal_cpu_idle() sleeps on a semaphore that every IPI posts, so an idle
 *    host hart costs no CPU (the machine may have fewer cores than harts).
 *
 * 3. Physical memory.  Region 0 is an arena of mem= bytes (default 64 MiB,
 *    at most 16 GiB) at simulated physical address 0x80000000; mem2=SIZE
 *    adds a second, disjoint region at 0x100000000 (or at the first 1 GiB
 *    boundary above region 0 when mem is above 2 GiB), so multi-region
 *    code is exercised.  The arenas are reserved, not committed
 *    (MAP_NORESERVE): only the frames used take host memory.
 *    The first 2 MiB of region 0 are reserved, as OpenSBI's are on QEMU.
 *    hal_phys_to_virt() turns a simulated physical address into the arena
 *    pointer: the host's "direct map".
 *
 * 3a. MMU.  mmu.c is a software Sv39 MMU with a small TLB per hart over
 *    the arena: the hal.h MMU primitives and the probes go through it, so
 *    the pmap's page tables and TLB shootdowns are exercised here too.  A
 *    simulated kernel image is reserved right after the firmware range.
 *    Bootarg uwin=low|high picks the user window before kmain()
 *    (pmap_set_user_window(): [0, 2 GiB) below the arena, or the default);
 *    with the low window the simulated device page (0x10000000) is
 *    reached at its alias, pmap_mmio_va().
 *    Its page faults go to vm_fault_trap(), as the riscv64 trap handler's
 *    do; it also holds the user copies (hal_copyin/out/instr).
 *
 * 4. Power.  hal_poweroff() flushes and _exit()s with the code; other
 *    threads die with the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "hal/hal_test.h"
#include "hal/pmap.h"
#include "hal/host/hal_host.h"
#include "hal/host/mmu.h"
#include "lib/assert.h"
#include "lib/bootargs.h"
#include "lib/smp.h"

struct host_cpu {
	struct hal_cpu hc;		/* must be first */
	pthread_t thread;
	sem_t wake;			/* posted by every IPI */
	unsigned ipi_pending;		/* (A) */
} HAL_CACHE_ALIGNED;

static struct host_cpu host_cpus[HAL_MAX_CPUS];
static unsigned host_ncpus = 1;
static unsigned host_checked_in;
/* The thread's cpu and interrupt flag, read inline by hal_md.h. */
HAL_HOST_TLS struct hal_cpu *hal_host_self;
HAL_HOST_TLS unsigned hal_host_cpu_id;
HAL_HOST_TLS volatile sig_atomic_t hal_host_intr_on;
/* Set by the signal handler when it found interrupts off. */
HAL_HOST_TLS volatile sig_atomic_t hal_host_ipi_waiting;

#define host_self ((struct host_cpu *)hal_host_self)
#define host_intr_on hal_host_intr_on
static char host_bootargs[1024];
static struct timespec host_t0;

#define HOST_REGION0_BASE 0x80000000ull
#define HOST_REGION1_BASE 0x100000000ull
#define HOST_FW_RESERVED (2ull << 20)
/* Smallest mem=: the smallest at which every suite passes (the page
   suite keeps contiguous runs of up to 12 MiB live at once, beside the
   firmware reserve, the frame array and the caches). */
#define HOST_MEM_MIN (40ull << 20)
#define HOST_MEM_MAX (16ull << 30)

static struct hal_mem_range host_regions[2];
static void *host_arena[2];
static unsigned host_nregions;
static struct hal_mem_range host_reserved[2];
static unsigned host_nreserved;

unsigned
hal_ncpus(void)
{
	return host_ncpus;
}

unsigned long
hal_cpu_hartid(unsigned id)
{
	VM_ASSERT(id < host_ncpus);
	return host_cpus[id].hc.hartid;
}

/* Takes pending IPIs.  pre: interrupts enabled on this thread. */
static void
host_take_interrupts(void)
{
	struct host_cpu *c = host_self;

	hal_host_ipi_waiting = 0;
	while (ck_pr_load_uint(&c->ipi_pending) != 0) {
		host_intr_on = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (ck_pr_fas_uint(&c->ipi_pending, 0) != 0) {
			c->hc.intr_count++;
			c->hc.ipi_count++;
			smp_ipi_entry();
		}
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		host_intr_on = 1;
	}
}

static void
host_sigusr1(int sig)
{
	int saved = errno;

	(void)sig;
	if (host_self != NULL) {
		if (host_intr_on)
			host_take_interrupts();
		else
			hal_host_ipi_waiting = 1;
	}
	errno = saved;
}

void
hal_host_intr_pending(void)
{
	if (host_intr_on)
		host_take_interrupts();
}

void
hal_cpu_relax(void)
{
	/* More harts than cores: let the lock holder run. */
	sched_yield();
}

/*
 * Waits for an IPI, or at most HOST_IDLE_TICK_NS, as a hart's idle wait
 * ends at its next timer interrupt.  The bound is a backstop: under TSan
 * (which defers signals) mapmodel at 4 harts hung about once in 20-30 runs
 * with cpu 0 in smp_call and the other harts in this wait or the idle
 * loop; the cause was not found, and with the bound the wait cannot last.
 */
#define HOST_IDLE_TICK_NS 10000000l	/* 10 ms */

void
hal_cpu_idle(void)
{
	struct timespec ts;

	VM_ASSERT(!host_intr_on);
	if (ck_pr_load_uint(&host_self->ipi_pending) != 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += HOST_IDLE_TICK_NS;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	while (sem_timedwait(&host_self->wake, &ts) != 0 && errno == EINTR)
		;
}

void
hal_ipi_send(const hal_cpuset_t *set)
{
	ck_pr_fence_store();
	for (unsigned i = 0; i < host_ncpus; i++) {
		if (!hal_cpuset_has(set, i))
			continue;
		struct host_cpu *c = &host_cpus[i];
		ck_pr_store_uint(&c->ipi_pending, 1);
		sem_post(&c->wake);
		if (c == host_self) {
			if (host_intr_on)
				host_take_interrupts();
		} else {
			pthread_kill(c->thread, SIGUSR1);
		}
	}
}

uint64_t
hal_time_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)(ts.tv_sec - host_t0.tv_sec) * 1000000000ull +
	    (uint64_t)ts.tv_nsec - (uint64_t)host_t0.tv_nsec;
}

void
hal_console_write(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

_Noreturn void
hal_poweroff(int code)
{
	fflush(stdout);
	fflush(stderr);
	_exit(code);
}

void
hal_dump_state(void)
{
	void *frames[32];
	int n = backtrace(frames, 32);

	fprintf(stderr, "backtrace (cpu %u):\n", host_self ? host_self->hc.id : 0);
	backtrace_symbols_fd(frames, n, 2);
}

const char *
hal_bootargs(void)
{
	return host_bootargs;
}

unsigned
hal_mem_regions(const struct hal_mem_range **out)
{
	*out = host_regions;
	return host_nregions;
}

unsigned
hal_mem_reserved(const struct hal_mem_range **out)
{
	*out = host_reserved;
	return host_nreserved;
}

void *
hal_phys_to_virt(paddr_t pa)
{
	for (unsigned i = 0; i < host_nregions; i++) {
		const struct hal_mem_range *r = &host_regions[i];
		if (pa >= r->base && pa - r->base < r->size)
			return (char *)host_arena[i] + (pa - r->base);
	}
	panic("hal_phys_to_virt(%#llx): not RAM", (unsigned long long)pa);
}

paddr_t
hal_virt_to_phys(const void *va)
{
	uintptr_t v = (uintptr_t)va;

	for (unsigned i = 0; i < host_nregions; i++) {
		uintptr_t a = (uintptr_t)host_arena[i];
		if (v >= a && v - a < host_regions[i].size)
			return host_regions[i].base + (v - a);
	}
	panic("hal_virt_to_phys(%p): not in the arena", va);
}

static void
host_add_region(paddr_t base, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "hal_host: cannot map %llu bytes of arena\n",
		    (unsigned long long)size);
		exit(2);
	}
	host_arena[host_nregions] = p;
	host_regions[host_nregions].base = base;
	host_regions[host_nregions].size = size;
	host_nregions++;
}

static void
host_cpu_enter(struct host_cpu *c)
{
	hal_host_self = &c->hc;
	hal_host_cpu_id = c->hc.id;
	host_intr_on = 1;
	ck_pr_inc_uint(&host_checked_in);
	while (ck_pr_load_uint(&host_checked_in) != host_ncpus)
		sched_yield();
}

static void *
host_secondary(void *arg)
{
	host_cpu_enter(arg);
	kmain_secondary();
}

/*
 * Early arguments (before any cpu exists, so no panic): a value that is
 * not a number stops the program with a message.
 */
static uint64_t
host_arg_u64(const char *key, uint64_t dflt)
{
	char buf[32];
	uint64_t v;

	if (!bootarg_get(host_bootargs, key, buf, sizeof(buf)))
		return dflt;
	if (!bootarg_parse_u64(buf, &v)) {
		fprintf(stderr, "hal_host: %s=%s: not a number\n", key, buf);
		exit(2);
	}
	return v;
}

/* Bootarg uwin=low|high: the user window (pmap.h), before vm_boot(). */
static bool
host_user_window(void)
{
	char buf[16];
	int err = 0;

	if (!bootarg_get(host_bootargs, "uwin", buf, sizeof(buf)))
		return true;
	if (strcmp(buf, "low") == 0) {
		err = pmap_set_user_window(PMAP_USER_LOW_MIN, PMAP_USER_LOW_MAX);
	} else if (strcmp(buf, "high") != 0) {
		fprintf(stderr, "hal_host: bootarg uwin=%s: unknown user window "
		    "(low or high)\n", buf);
		return false;
	}
	if (err != 0) {
		fprintf(stderr, "hal_host: bootarg uwin=%s: "
		    "pmap_set_user_window failed (%d)\n", buf, err);
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	size_t off = 0;
	uint64_t mem, mem2;
	struct sigaction sa;
	sigset_t set;

	clock_gettime(CLOCK_MONOTONIC, &host_t0);
	for (int i = 1; i < argc; i++) {
		int n = snprintf(host_bootargs + off, sizeof(host_bootargs) - off,
		    "%s%s", off ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(host_bootargs) - off) {
			fprintf(stderr, "hal_host: command line too long\n");
			return 2;
		}
		off += (size_t)n;
	}
	setvbuf(stdout, NULL, _IONBF, 0);

	host_ncpus = (unsigned)host_arg_u64("harts", 4);
	if (host_ncpus < 1 || host_ncpus > HAL_MAX_CPUS) {
		fprintf(stderr, "hal_host: harts=%u out of range 1..%u\n",
		    host_ncpus, HAL_MAX_CPUS);
		return 2;
	}
	mem = host_arg_u64("mem", 64ull << 20);
	mem2 = host_arg_u64("mem2", 0);
	if (mem < HOST_MEM_MIN || mem % HAL_PAGE_SIZE || mem2 % HAL_PAGE_SIZE ||
	    mem > HOST_MEM_MAX || mem2 > HOST_MEM_MAX ||
	    (mem2 != 0 && mem2 < (1ull << 20))) {
		fprintf(stderr, "hal_host: mem=%llu, mem2=%llu: mem must be "
		    "a multiple of 4K from %lluM to %lluM, mem2 0 or at least "
		    "1M\n", (unsigned long long)mem, (unsigned long long)mem2,
		    (unsigned long long)(HOST_MEM_MIN >> 20),
		    (unsigned long long)(HOST_MEM_MAX >> 20));
		return 2;
	}
	host_add_region(HOST_REGION0_BASE, mem);
	if (mem2 != 0)
		host_add_region(HOST_REGION0_BASE + mem <= HOST_REGION1_BASE ?
		    HOST_REGION1_BASE : (HOST_REGION0_BASE + mem +
		    (1ull << 30) - 1) & ~((1ull << 30) - 1), mem2);
	host_reserved[0].base = HOST_REGION0_BASE;
	host_reserved[0].size = HOST_FW_RESERVED;
	/* The simulated kernel image the pmap maps W^X (mmu.h). */
	host_reserved[1].base = HOST_KIMAGE_BASE;
	host_reserved[1].size = HOST_KIMAGE_SIZE;
	host_nreserved = 2;
	host_mmu_init();
	if (!host_user_window())
		return 2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = host_sigusr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (unsigned i = 0; i < host_ncpus; i++) {
		host_cpus[i].hc.id = i;
		/* Sparse hart ids, as real machines may have. */
		host_cpus[i].hc.hartid = i * 2 + 1;
		sem_init(&host_cpus[i].wake, 0, 0);
	}
	host_cpus[0].thread = pthread_self();
	for (unsigned i = 1; i < host_ncpus; i++) {
		if (pthread_create(&host_cpus[i].thread, NULL, host_secondary,
		    &host_cpus[i]) != 0) {
			fprintf(stderr, "hal_host: pthread_create failed\n");
			return 2;
		}
	}
	host_cpu_enter(&host_cpus[0]);
	kmain();
	hal_poweroff(0);
}
