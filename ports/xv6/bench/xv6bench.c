/*
 * xv6bench: the workloads of the xv6 side-by-side benchmark, one user program
 * that runs unchanged on stock xv6 and on xv6 over rvmm (ci/bench xv6).
 *
 * 1. What it measures.  Each phase repeats one operation a fixed number of
 *    times:
 *      fork4m    fork of a process whose 4 MiB heap is written, the child
 *                exiting at once, the parent waiting for it
 *      forkexec  fork, the child exec'ing this program with "-x" (which
 *                exits at once), the parent waiting
 *      sbrk      grow the heap by SBRK_PAGES pages, write one byte in each,
 *                give them back
 *      syscall   getpid()
 *      pipe      one byte from this process to a partner and back, over two
 *                pipes (one round trip = one op)
 *      free      not a timed phase: the pages a user process can still get,
 *                counted by a child that grows its heap one written page at
 *                a time until sbrk fails (or the kernel kills it for want of
 *                memory) and reports every page through a pipe
 *
 * 2. Timing.  Stock xv6 lets user mode read neither the time CSR nor a clock
 *    finer than its 100 ms tick, so the program keeps no time: it prints a
 *    "start" line before a phase and an "end" line after it, and the harness
 *    timestamps the lines as they arrive on the console.  A phase repeats
 *    chunks of a fixed count of operations until it has lasted at least
 *    -t ticks of the kernel's clock (uptime(), default 10: one second with
 *    xv6's 100 ms tick), so that it lasts a second or more on the faster
 *    kernel too and the stamping's resolution does not matter; the "end"
 *    line gives the operations done.  A scale factor (-s) multiplies the
 *    chunks.  With -r R the phases run R
 *    rounds, one of each phase per round, so that a slow spell of the host
 *    does not fall on one phase only (the harness keeps the best round).
 *
 * 3. Protocol with the harness (lines on the console):
 *      xv6bench: wait              then reads one line from the console; the
 *                                  harness may send Ctrl-P (the kernel's
 *                                  statistics) before the newline
 *      xv6bench: start NAME
 *      xv6bench: end NAME ops=N [key=value ...]
 *      xv6bench: free pages=N
 *      xv6bench: done
 *    Every phase has a "wait" right before its start line and one right
 *    after its end line, so that statistics read at the two waits span
 *    the phase alone: set-up (the partner of the pipe phase, the 4 MiB
 *    heap) comes before the first, tear-down after the second.  With -a
 *    the program does not wait (a run by hand).
 *
 * usage: xv6bench [-a] [-s SCALE] [-r ROUNDS] [-t TICKS] [NAME ...]
 *                                              (all phases without NAMEs)
 *        xv6bench -x                           (exit at once: forkexec's child)
 */
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"

#define PGSIZE 4096
#define FORK4M_BYTES (4 * 1024 * 1024)
#define SBRK_PAGES 16

/* Operations per chunk at scale 1: about a second each on stock xv6 under
 * QEMU on an idle 2-core host. */
#define N_FORK4M 50
#define N_FORKEXEC 150
#define N_SBRK 1500
#define N_SYSCALL 60000
#define N_PIPE 2000

static int nowait;
static int scale = 1;
static int rounds = 1;
static int minticks = 10;
static char *self = "/xv6bench";

static void
die(char *what)
{
  printf("xv6bench: FAIL %s\n", what);
  exit(1);
}

/* The synchronisation point with the harness (section 3). */
static void
waitline(void)
{
  char buf[32];

  printf("xv6bench: wait\n");
  if(nowait)
    return;
  if(read(0, buf, sizeof(buf)) < 0)
    die("read of the console");
}

static void
start(char *name)
{
  printf("xv6bench: start %s\n", name);
}

/* The end of a chunk: the operations done so far; 1 when the phase that
 * started at tick t0 has lasted long enough. */
static int
enough(int *done, int n, int t0)
{
  *done += n;
  return uptime() - t0 >= minticks;
}

static int
reap(void)
{
  int status = -1;

  if(wait(&status) < 0)
    die("wait");
  return status;
}

static void
phase_fork4m(int n)
{
  char *heap = sbrk(FORK4M_BYTES);
  int i, pid, t0, done = 0;
  uint64 pages;

  if(heap == (char *)-1)
    die("fork4m: sbrk of the heap");
  for(i = 0; i < FORK4M_BYTES; i += PGSIZE)
    heap[i] = (char)i;
  /* Every page below the break, text and stack included. */
  pages = ((uint64)sbrk(0) + PGSIZE - 1) / PGSIZE;
  waitline();
  start("fork4m");
  t0 = uptime();
  do {
    for(i = 0; i < n; i++){
      pid = fork();
      if(pid < 0)
        die("fork4m: fork");
      if(pid == 0)
        exit(0);
      if(reap() != 0)
        die("fork4m: child status");
    }
  } while(!enough(&done, n, t0));
  printf("xv6bench: end fork4m ops=%d pages=%l\n", done, pages);
  waitline();
  if(sbrk(-FORK4M_BYTES) == (char *)-1)
    die("fork4m: sbrk release");
}

static void
phase_forkexec(int n)
{
  char *argv[] = { self, "-x", 0 };
  int i, pid, t0, done = 0;
  uint64 pages = ((uint64)sbrk(0) + PGSIZE - 1) / PGSIZE;

  waitline();
  start("forkexec");
  t0 = uptime();
  do {
    for(i = 0; i < n; i++){
      pid = fork();
      if(pid < 0)
        die("forkexec: fork");
      if(pid == 0){
        exec(self, argv);
        printf("xv6bench: FAIL forkexec: exec %s\n", self);
        exit(1);
      }
      if(reap() != 0)
        die("forkexec: child status");
    }
  } while(!enough(&done, n, t0));
  printf("xv6bench: end forkexec ops=%d pages=%l\n", done, pages);
  waitline();
}

static void
phase_sbrk(int n)
{
  int i, j, t0, done = 0;
  char *p;

  waitline();
  start("sbrk");
  t0 = uptime();
  do {
    for(i = 0; i < n; i++){
      p = sbrk(SBRK_PAGES * PGSIZE);
      if(p == (char *)-1)
        die("sbrk: grow");
      for(j = 0; j < SBRK_PAGES; j++)
        p[j * PGSIZE] = 1;
      if(sbrk(-SBRK_PAGES * PGSIZE) == (char *)-1)
        die("sbrk: shrink");
    }
  } while(!enough(&done, n, t0));
  printf("xv6bench: end sbrk ops=%d pages_per_op=%d\n", done, SBRK_PAGES);
  waitline();
}

static void
phase_syscall(int n)
{
  int i, t0, done = 0, pid = getpid();

  waitline();
  start("syscall");
  t0 = uptime();
  do {
    for(i = 0; i < n; i++)
      if(getpid() != pid)
        die("syscall: getpid");
  } while(!enough(&done, n, t0));
  printf("xv6bench: end syscall ops=%d\n", done);
  waitline();
}

static void
phase_pipe(int n)
{
  int there[2], back[2];
  int i, pid, t0, done = 0;
  char c = 0;

  if(pipe(there) < 0 || pipe(back) < 0)
    die("pipe: pipe");
  pid = fork();
  if(pid < 0)
    die("pipe: fork");
  if(pid == 0){
    close(there[1]);
    close(back[0]);
    /* Echo every byte until the parent closes its end. */
    while(read(there[0], &c, 1) == 1)
      if(write(back[1], &c, 1) != 1)
        exit(1);
    exit(0);
  }
  close(there[0]);
  close(back[1]);
  waitline();
  start("pipe");
  t0 = uptime();
  do {
    for(i = 0; i < n; i++){
      c = (char)i;
      if(write(there[1], &c, 1) != 1)
        die("pipe: write");
      if(read(back[0], &c, 1) != 1 || c != (char)i)
        die("pipe: read");
    }
  } while(!enough(&done, n, t0));
  printf("xv6bench: end pipe ops=%d\n", done);
  waitline();
  close(there[1]);
  close(back[0]);
  if(reap() != 0)
    die("pipe: partner status");
}

/*
 * The pages a user process can get: a child grows its heap one page at a
 * time, writes the page (so that a kernel that fills pages lazily has to
 * give it one) and reports it with one byte on a pipe, until sbrk fails or
 * the kernel kills it for want of memory.  The parent counts the bytes.
 */
static void
phase_free(void)
{
  int fds[2], pid;
  char *p, buf[64];
  uint64 pages = 0;
  int got;

  if(pipe(fds) < 0)
    die("free: pipe");
  pid = fork();
  if(pid < 0)
    die("free: fork");
  if(pid == 0){
    close(fds[0]);
    for(;;){
      p = sbrk(PGSIZE);
      if(p == (char *)-1)
        exit(0);
      p[PGSIZE - 1] = 1;
      if(write(fds[1], "+", 1) != 1)
        exit(1);
    }
  }
  close(fds[1]);
  while((got = read(fds[0], buf, sizeof(buf))) > 0)
    pages += got;
  close(fds[0]);
  reap();
  printf("xv6bench: free pages=%l\n", pages);
}

static int
selected(int argc, char **argv, int first, char *name)
{
  int i;

  if(first >= argc)
    return 1;
  for(i = first; i < argc; i++)
    if(strcmp(argv[i], name) == 0)
      return 1;
  return 0;
}

int
main(int argc, char **argv)
{
  int first = 1, r;

  if(argc > 1 && strcmp(argv[1], "-x") == 0)
    exit(0);
  while(first < argc && argv[first][0] == '-'){
    if(strcmp(argv[first], "-a") == 0){
      nowait = 1;
      first++;
    } else if(strcmp(argv[first], "-s") == 0 && first + 1 < argc){
      scale = atoi(argv[first + 1]);
      first += 2;
    } else if(strcmp(argv[first], "-r") == 0 && first + 1 < argc){
      rounds = atoi(argv[first + 1]);
      first += 2;
    } else if(strcmp(argv[first], "-t") == 0 && first + 1 < argc){
      minticks = atoi(argv[first + 1]);
      first += 2;
    } else {
      fprintf(2, "usage: xv6bench [-a] [-s SCALE] [-r ROUNDS] [-t TICKS] "
                 "[free fork4m forkexec sbrk syscall pipe ...]\n");
      exit(1);
    }
  }
  if(scale < 1)
    scale = 1;
  if(rounds < 1)
    rounds = 1;
  if(selected(argc, argv, first, "free"))
    phase_free();
  for(r = 0; r < rounds; r++){
    if(selected(argc, argv, first, "syscall"))
      phase_syscall(N_SYSCALL * scale);
    if(selected(argc, argv, first, "pipe"))
      phase_pipe(N_PIPE * scale);
    if(selected(argc, argv, first, "sbrk"))
      phase_sbrk(N_SBRK * scale);
    if(selected(argc, argv, first, "forkexec"))
      phase_forkexec(N_FORKEXEC * scale);
    if(selected(argc, argv, first, "fork4m"))
      phase_fork4m(N_FORK4M * scale);
  }
  printf("xv6bench: done\n");
  exit(0);
}
