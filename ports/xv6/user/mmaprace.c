// mmaprace: several processes map one file MAP_SHARED and fault the same
// pages at the same moment, so that while the pager reads a page from the
// disk (and sleeps there) the others find the page busy and sleep in rvmm
// until it is in.  Each process checks every byte it reads; the first maps
// the file writable and writes one byte into every page, which must reach
// the file (the others map it read-only: rvmm keeps no dirty bits, so every
// writable shared mapping writes all its resident pages back).
//
// Usage: mmaprace [rounds]       prints "mmaprace: ok" or "mmaprace: FAILED ..."

#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/riscv.h"
#include "user/user.h"

#define NPAGES 16
#define NCHILD 4
#define CHUNK 4096

static char chunk[CHUNK];

static void
fail(char *why, int round, int at)
{
  printf("mmaprace: FAILED %s (round %d, offset %d, pid %d)\n",
         why, round, at, getpid());
  exit(1);
}

static char
pattern(int i, int round)
{
  return (char)((i * 7 + round * 13) & 0xff);
}

static void
makefile(char *name, int round)
{
  unlink(name);
  int fd = open(name, O_CREATE | O_WRONLY);
  if(fd < 0)
    fail("create", round, 0);
  for(int off = 0; off < NPAGES * PGSIZE; off += CHUNK){
    for(int i = 0; i < CHUNK; i++)
      chunk[i] = pattern(off + i, round);
    if(write(fd, chunk, CHUNK) != CHUNK)
      fail("write", round, off);
  }
  close(fd);
}

// One child: wait for the start, map, read every page, write its bytes.
static void
child(char *name, int k, int round, int startfd)
{
  char go;
  int fd = open(name, O_RDWR);
  if(fd < 0)
    fail("open (child)", round, 0);
  if(read(startfd, &go, 1) != 1)
    fail("start", round, 0);
  int prot = k == 0 ? PROT_READ | PROT_WRITE : PROT_READ;
  char *p = mmap(0, NPAGES * PGSIZE, prot, MAP_SHARED, fd, 0);
  if(p == (char *)-1)
    fail("mmap (child)", round, 0);
  close(fd);
  // Every child walks the pages in the same order: their first touches
  // of a page meet while the pager fills it.
  for(int pg = 0; pg < NPAGES; pg++){
    for(int i = 0; i < PGSIZE; i++){
      // The first byte of a page is the writer's.
      int at = pg * PGSIZE + i;
      if(i > 0 && p[at] != pattern(at, round))
        fail("read mismatch", round, at);
    }
  }
  if(k == 0)
    for(int pg = 0; pg < NPAGES; pg++)
      p[pg * PGSIZE] = 'W';
  if(munmap(p, NPAGES * PGSIZE) < 0)
    fail("munmap (child)", round, 0);
  exit(0);
}

int
main(int argc, char *argv[])
{
  char *name = "mmaprace.f";
  int rounds = argc > 1 ? atoi(argv[1]) : 3;

  for(int round = 0; round < rounds; round++){
    int start[2];
    makefile(name, round);
    if(pipe(start) < 0)
      fail("pipe", round, 0);
    for(int k = 0; k < NCHILD; k++){
      int pid = fork();
      if(pid < 0)
        fail("fork", round, 0);
      if(pid == 0){
        close(start[1]);
        child(name, k, round, start[0]);
      }
    }
    close(start[0]);
    char go[NCHILD];
    memset(go, 'g', sizeof(go));
    if(write(start[1], go, NCHILD) != NCHILD)
      fail("go", round, 0);
    close(start[1]);
    for(int k = 0; k < NCHILD; k++){
      int st = -1;
      wait(&st);
      if(st != 0)
        fail("a child failed", round, k);
    }
    // The writer's bytes reached the file; nothing else changed.
    int fd = open(name, O_RDONLY);
    if(fd < 0)
      fail("open (check)", round, 0);
    for(int off = 0; off < NPAGES * PGSIZE; off += CHUNK){
      if(read(fd, chunk, CHUNK) != CHUNK)
        fail("read back", round, off);
      for(int i = 0; i < CHUNK; i++){
        int at = off + i, in = at % PGSIZE;
        char want = in == 0 ? 'W' : pattern(at, round);
        if(chunk[i] != want)
          fail("file content", round, at);
      }
    }
    close(fd);
  }
  // A pipe write straight from a file page not read in yet: the copy runs
  // under the pipe's spinlock, where the pager cannot sleep on the disk.
  // It must not bring the kernel down; it may refuse (0 or -1) or copy.
  makefile(name, 0);
  int fd = open(name, O_RDONLY), pp[2];
  char *q = mmap(0, NPAGES * PGSIZE, PROT_READ, MAP_PRIVATE, fd, 0);
  if(fd < 0 || q == (char *)-1 || pipe(pp) < 0)
    fail("pipe from a mapping: setup", 0, 0);
  close(fd);
  int n = write(pp[1], q + 3 * PGSIZE, 16);
  if(n != 16 && n != 0 && n != -1)
    fail("pipe from a mapping: short write", 0, n);
  if(n == 16){
    if(read(pp[0], chunk, 16) != 16)
      fail("pipe from a mapping: read", 0, 0);
    for(int i = 0; i < 16; i++)
      if(chunk[i] != pattern(3 * PGSIZE + i, 0))
        fail("pipe from a mapping: content", 0, i);
  }
  printf("mmaprace: pipe write from an unread file page: %s\n",
         n == 16 ? "copied" : "refused");
  close(pp[0]);
  close(pp[1]);
  munmap(q, NPAGES * PGSIZE);
  unlink(name);
  printf("mmaprace: ok\n");
  exit(0);
}
