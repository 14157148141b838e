#!/usr/bin/env python3
"""harness.py: stock xv6 against xv6 on rvmm, the same user workloads on both.

usage: harness.py [--harts 1,2] [--usertests] [--no-micro] [--scale N]
                  [--rounds N] [--src XV6DIR] [--impl stock,rvmm] [--own-disk]
                  [NAME ...]

The xv6 part of ci/bench (which imports this file); runnable alone as well.

1. What runs.  Two kernels, built here from the same xv6 source:
     stock  xv6 as it is, booted as it boots (QEMU -bios none, its own
            M-mode start), built into build/xv6-stock with the benchmark
            program ports/xv6/bench/xv6bench.c added to its user programs;
     rvmm   xv6 on rvmm, built by `ci/xv6 build --extra-user
            ports/xv6/bench/xv6bench.c --out build/xv6-bench` (under
            OpenSBI, -bios default).
   Each boots at every hart count on the same QEMU (virt, -m 128M,
   -nographic), with virtio-blk on a fresh copy of one disk image: stock's
   build of xv6's user programs, README and xv6bench, written by the port's
   mkfs.py, so that both kernels run byte for byte the same programs
   (--own-disk: xv6 on rvmm boots the image ci/xv6 built for it instead).  At the shell
   prompt the harness types `xv6bench` (the workloads, see xv6bench.c) and,
   when asked for, `usertests -q`.

2. Timing.  On the host: every console line is stamped with the time it
   arrived; a phase is the time between its "start" and "end" lines
   (xv6bench.c section 2); usertests is the time from typing the command to
   its verdict.  Every phase lasts at least a second (xv6bench repeats
   chunks of operations until 10 ticks of the guest's clock have passed and
   prints the operations done), so the stamping's jitter (ms) does not
   matter.  xv6bench runs 3 rounds of every phase (-r), one of
   each phase per round; a row is the best round (ops_per_s, with ns and
   ops of that round), ops_per_s_min the slowest.

3. Counts.  On rvmm, at every "xv6bench: wait" the harness sends Ctrl-P and
   reads the kernel's statistics line ("rvmm: free_pages=N ... key=value");
   a phase's counters are the differences between the lines of the waits
   right before and right after it (set-up and tear-down fall outside),
   summed over its rounds and divided by their operations (`<key>_per_op`).  Stock xv6 has no counters:
   its rows carry what its code implies, marked `counts=derived`: every page
   below the break copied at fork (uvmcopy), per trap one satp write and two
   full sfence.vma on the way in (trampoline uservec) and the same on the way
   out (userret), no IPIs ever (it has no remote shootdown: every trap
   flushes).  Free memory: `free_pages` is the user-level count of
   xv6bench's "free" phase on both (pages a process can grow by and write),
   `kfree_pages` the kernel's own figure (rvmm: the free_pages of the first
   statistics line; stock: derived, the pages kinit hands to kalloc,
   (PHYSTOP - end) / 4096, before the boot takes its share).

4. Output: one JSON line per bench, impl and hart count (../shared/BENCH.md),
   then, from summary(), rvmm/stock per row against the goals of the issue.
   Console logs go to build/bench/xv6-<impl>-<harts>.log.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BUILD = os.path.join(TOP, 'build')
LOGS = os.path.join(BUILD, 'bench')
SRC = next((d for d in (os.environ.get('RVMM_XV6_SRC', ''),
                        os.path.join(os.path.dirname(__file__), '..', '..',
                                     '..', '..', 'shared', 'xv6', 'xv6-riscv'),
                        '/work/shared/xv6/xv6-riscv')
            if d and os.path.isdir(d)), '/work/shared/xv6/xv6-riscv')
PROGRAM = os.path.join(HERE, 'xv6bench.c')
TOOLPREFIX = 'riscv64-unknown-elf-'

MICRO = ['fork4m', 'forkexec', 'sbrk', 'syscall', 'pipe']
# rvmm/stock goals of the issue (ops/s ratio at least this).
GOALS = {'xv6.fork4m': 10.0, 'xv6.syscall': 2.0, 'xv6.pipe': 2.0,
         'xv6.usertests': 1.0}

# Stock xv6, derived from its code: user/kernel crossings per operation.
# A crossing in (uservec) or out (userret) writes satp once and runs
# sfence.vma twice.
#   syscall:  getpid in and out                                  2
#   pipe:     parent write + read, partner read + write          8
#   sbrk:     grow and shrink                                    4
#   forkexec: parent fork + wait (4), child out of fork, exec in
#             and out, exit in (4)                               8
#   fork4m:   parent fork + wait (4), child out of fork, exit in 6
STOCK_CROSSINGS = {'syscall': 2, 'pipe': 8, 'sbrk': 4, 'forkexec': 8,
                   'fork4m': 6}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    log('# ' + ' '.join(cmd))
    return subprocess.run(cmd, **kw)


def stock_uprogs(src):
    """The user programs of stock xv6's Makefile (UPROGS), as make targets."""
    with open(os.path.join(src, 'Makefile')) as f:
        text = f.read()
    block = re.search(r'^UPROGS=\\\n((?:\t.*\\\n)+)', text, re.M)
    return [p.replace('$U/', 'user/') for p in
            re.findall(r'\$U/_\w+', block.group(1))]


def make_fs(tree, img, progs):
    """The disk image, by the port's mkfs (the xv6 tree has no mkfs/)."""
    sh([sys.executable, os.path.join(TOP, 'ports', 'xv6', 'mkfs.py'),
        '--param', os.path.join(tree, 'kernel', 'param.h'), img,
        os.path.join(tree, 'README')] + [os.path.join(tree, p) for p in progs],
       check=True)


def build_stock(src):
    """Stock xv6 plus xv6bench in build/xv6-stock: (kernel, fs.img)."""
    tree = os.path.join(BUILD, 'xv6-stock')
    stamp = os.path.join(tree, '.from')
    if not os.path.exists(stamp) or open(stamp).read() != src:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(src, tree)
        with open(stamp, 'w') as f:
            f.write(src)
    shutil.copyfile(PROGRAM, os.path.join(tree, 'user', 'xv6bench.c'))
    progs = stock_uprogs(tree) + ['user/_xv6bench']
    sh(['make', '-C', tree, f'TOOLPREFIX={TOOLPREFIX}', 'kernel/kernel'] + progs,
       check=True, stdout=subprocess.DEVNULL)
    img = os.path.join(tree, 'fs.img')
    make_fs(tree, img, progs)
    return os.path.join(tree, 'kernel', 'kernel'), img


def build_rvmm(src):
    """xv6 on rvmm with xv6bench, by ci/xv6: (kernel, fs.img), or None with
    the reason printed when the port is not there or does not build."""
    ci = os.path.join(TOP, 'ci', 'xv6')
    if not os.path.exists(ci):
        log('xv6 bench: no ci/xv6 here (the port is not merged): rvmm rows '
            'skipped')
        return None
    out = os.path.join(BUILD, 'xv6-bench')
    r = sh([ci, 'build', '--src', src, '--extra-user', PROGRAM, '--out', out],
           cwd=TOP)
    if r.returncode != 0:
        log(f'xv6 bench: ci/xv6 build exited {r.returncode}: rvmm rows skipped')
        return None
    kernel = img = None
    for d, _, files in os.walk(out):
        if os.path.basename(d) == 'kernel' and 'kernel' in files:
            kernel = os.path.join(d, 'kernel')
        if 'fs.img' in files and img is None:
            img = os.path.join(d, 'fs.img')
    if not kernel or not img:
        log(f'xv6 bench: no kernel/kernel or fs.img under {out}: rvmm rows '
            'skipped')
        return None
    return kernel, img


def stock_kalloc_pages(kernel):
    """Pages stock xv6's kinit gives kalloc: PGROUNDUP(end) to PHYSTOP
    (KERNBASE + 128 MiB, kernel/memlayout.h)."""
    out = subprocess.run([TOOLPREFIX + 'nm', kernel], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    end = int(re.search(r'^([0-9a-f]+) \w end$', out, re.M).group(1), 16)
    phystop = 0x80000000 + 128 * 1024 * 1024
    return (phystop - ((end + 4095) & ~4095)) // 4096


def image_pages(kernel):
    """Pages the kernel's ELF image spans in RAM (its PT_LOAD segments, bss
    included), from the lowest physical address to the highest, rounded up:
    what stays out of the allocator whatever the kernel does."""
    with open(kernel, 'rb') as f:
        elf = f.read()
    phoff, = struct.unpack_from('<Q', elf, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', elf, 0x36)
    lo, hi = None, 0
    for i in range(phnum):
        typ, _, _, _, paddr, _, memsz, _ = struct.unpack_from(
            '<IIQQQQQQ', elf, phoff + i * phentsize)
        if typ == 1 and memsz:
            lo = paddr if lo is None else min(lo, paddr)
            hi = max(hi, paddr + memsz)
    return (hi - lo + 4095) // 4096, lo


class Guest:
    """One QEMU boot: console lines stamped on arrival, typed input."""

    def __init__(self, cmd, logfile):
        self.lines = []          # (time, text)
        self.partial = ''
        self.cv = threading.Condition()
        self.log = open(logfile, 'w', buffering=1)
        self.log.write('# ' + ' '.join(cmd) + '\n')
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        fd = self.p.stdout.fileno()
        while True:
            chunk = os.read(fd, 4096)
            now = time.monotonic()
            with self.cv:
                if not chunk:
                    self.lines.append((now, None))
                    self.cv.notify_all()
                    return
                text = self.partial + chunk.decode(errors='replace')
                parts = text.split('\n')
                self.partial = parts.pop()
                for s in parts:
                    s = s.rstrip('\r')
                    self.lines.append((now, s))
                    self.log.write(f'[{now - self.t0:8.3f}] {s}\n')
                self.cv.notify_all()

    def type(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def expect(self, pattern, pos, timeout, prompt=False):
        """Waits for a line from index pos matching pattern (or, with
        prompt, for the shell's "$ " at the end of the unfinished line).
        Returns (index after it, time, match); raises on timeout, on QEMU
        exiting or on a kernel panic."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                while pos < len(self.lines):
                    t, s = self.lines[pos]
                    pos += 1
                    if s is None:
                        raise RuntimeError('QEMU exited')
                    if s.startswith('panic') or 'PANIC' in s:
                        raise RuntimeError(f'kernel: {s}')
                    m = rx.search(s)
                    if m:
                        return pos, t, m
                if prompt and self.partial.endswith('$ '):
                    self.partial = ''
                    return pos, time.monotonic(), None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f'timeout waiting for {pattern!r}')
                self.cv.wait(min(left, 1.0))

    def find(self, pattern):
        """The first line so far matching pattern (a match), or None."""
        rx = re.compile(pattern)
        with self.cv:
            for _, s in self.lines:
                m = rx.search(s) if s is not None else None
                if m:
                    return m
        return None

    def close(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.reader.join(5)
        self.log.close()


STATS = r'^rvmm: (free_pages=.*)$'


def parse_kv(text):
    out = {}
    for k, v in re.findall(r'(\w+)=(-?\d+)\b', text):
        out[k] = int(v)
    return out


# Figures of the statistics line that are levels or constants, not counters.
NOT_COUNTERS = ('free_pages', 'boot_free_pages', 'committed', 'asid_bits')


def counter_deltas(before, after):
    """What the counters of two statistics lines moved by."""
    return {k: v - before[k] for k, v in after.items()
            if k in before and k not in NOT_COUNTERS}


def per_op(d, ops):
    """Counter deltas per operation: the names stock's rows carry (pages
    copied at fork, TLB flushes, IPIs and remote fences, satp writes), then
    every other counter that moved."""
    d = dict(d)

    def rate(n):
        return round(n / ops, 3)
    # rvmm copies no page at fork (vm_map_copy shares them); the pages a
    # fork costs are copied later, by the copy-on-write faults (cow_copy).
    out = {'pages_copied_per_op': rate(d.get('cow_copy', 0)),
           'tlb_flushes_per_op': rate(d.pop('tlb_local_flushes', 0)),
           'ipis_per_op': rate(d.get('shootdown_ipis', 0) +
                               d.get('rfences', 0)),
           'satp_writes_per_op': rate(d.pop('switches', 0))}
    if 'ipis' in d:             # every IPI the kernel sent, shootdowns or not
        d['all_ipis'] = d.pop('ipis')
    for k, v in d.items():
        if v:
            out[f'{k}_per_op'] = rate(v)
    return out


def stock_counts(name, pages):
    n = STOCK_CROSSINGS[name]
    c = {'counts': 'derived', 'satp_writes_per_op': n,
         'tlb_flushes_per_op': 2 * n, 'ipis_per_op': 0}
    if name in ('fork4m', 'forkexec'):
        c['pages_copied_per_op'] = pages
    return c


def boot(impl, kernel, img, harts, phases, usertests, scale, nrounds, emit):
    """Boots one kernel, runs the selected phases and usertests -q, returns
    the result rows (each also passed to emit as soon as it is known)."""
    os.makedirs(LOGS, exist_ok=True)
    disk = os.path.join(LOGS, f'xv6-{impl}-{harts}.img')
    shutil.copyfile(img, disk)
    cmd = ['qemu-system-riscv64', '-machine', 'virt',
           '-bios', 'none' if impl == 'stock' else 'default',
           '-kernel', kernel, '-m', '128M', '-smp', str(harts), '-nographic',
           '-global', 'virtio-mmio.force-legacy=false',
           '-drive', f'file={disk},if=none,format=raw,id=x0',
           '-device', 'virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0']
    logfile = os.path.join(LOGS, f'xv6-{impl}-{harts}.log')
    g = Guest(cmd, logfile)
    rounds, fixed, out = [], {}, []
    stats = impl != 'stock'
    try:
        pos, _, _ = g.expect(r'^$a', 0, 300, prompt=True)
        args = ['xv6bench'] + (['-s', str(scale)] if scale != 1 else []) + \
            ['-r', str(nrounds), 'free'] + phases
        g.type(' '.join(args) + '\n')
        last = {}
        cur, t0, first = None, None, None
        while True:
            pos, t, m = g.expect(r'^xv6bench: (wait|start|end|free|done|FAIL)'
                                 r'(.*)$', pos, 600)
            what, rest = m.group(1), m.group(2).strip()
            if what == 'FAIL':
                raise RuntimeError(f'xv6bench: FAIL {rest}')
            if what == 'wait':
                if stats:
                    g.type('\x10')
                    pos, _, sm = g.expect(STATS, pos, 60)
                    kv = parse_kv(sm.group(1))
                    if first is None:
                        first = kv
                    if cur is not None:
                        cur['counters'] = counter_deltas(last, kv)
                        cur = None
                    last = kv
                g.type('\n')
            elif what == 'start':
                t0 = t
            elif what == 'end':
                name, kv = rest.split()[0], parse_kv(rest)
                ns = int((t - t0) * 1e9)
                cur = {'name': name, 'ops': kv['ops'], 'ns': ns,
                       'pages': kv.get('pages'), 'counters': {}}
                rounds.append(cur)
            elif what == 'free':
                fixed['free_pages'] = parse_kv(rest)['pages']
            elif what == 'done':
                break
        # The host's 1-minute load average when the phases ended: on a
        # shared 2-core host, what the figures were measured under.
        fixed['host_load'] = round(os.getloadavg()[0], 1)
        fixed['image_pages'], base = image_pages(kernel)
        # RAM below the kernel's image (QEMU virt's RAM starts at
        # 0x80000000): OpenSBI's 2 MiB under -bios default.
        fixed['below_image_pages'] = (base - 0x80000000) // 4096
        if stats:
            # The figure printed once when boot is done (before init
            # runs), else the first Ctrl-P line's (xv6bench alive).
            bm = g.find(r'^rvmm: boot free_pages=(\d+)')
            fixed['kfree_pages'] = int(bm.group(1)) if bm else \
                first['free_pages']
            if bm:
                for k, v in parse_kv(bm.string).items():
                    if k in ('total_pages', 'commit_limit'):
                        fixed[k] = v
        elif not stats:
            fixed['kfree_pages_derived'] = stock_kalloc_pages(kernel)
        for name in [p for p in MICRO if any(r['name'] == p for r in rounds)]:
            mine = [r for r in rounds if r['name'] == name]
            rates = [r['ops'] * 1e9 / max(r['ns'], 1) for r in mine]
            r = mine[rates.index(max(rates))]     # the best round
            line = {'bench': 'xv6.' + name, 'impl': impl,
                    'target': 'qemu', 'harts': harts, 'ops': r['ops'],
                    'ns': r['ns'], 'ops_per_s': int(max(rates)),
                    'rounds': len(mine), 'ops_per_s_min': int(min(rates))}
            if stats:
                if r['pages'] is not None:
                    line['pages'] = r['pages']
                total = {}
                for x in mine:
                    for k, v in x['counters'].items():
                        total[k] = total.get(k, 0) + v
                line.update(per_op(total, sum(x['ops'] for x in mine)))
            else:
                line.update(stock_counts(name, r['pages']))
            line.update(fixed)
            emit(line)
            out.append(line)
        if usertests:
            pos, _, _ = g.expect(r'^$a', pos, 60, prompt=True)
            t0 = time.monotonic()
            start_pos = pos
            g.type('usertests -q\n')
            pos, t, m = g.expect(r'(ALL TESTS PASSED|SOME TESTS FAILED|'
                                 r'FAILED)', pos, 3600)
            line = {'bench': 'xv6.usertests', 'impl': impl, 'target': 'qemu',
                    'harts': harts, 'ops': 1, 'ns': int((t - t0) * 1e9),
                    'ops_per_s': 0,
                    'passed': int(m.group(1) == 'ALL TESTS PASSED')}
            line['ops_per_s'] = round(1e9 / line['ns'], 6)
            line['s'] = round(line['ns'] / 1e9, 1)
            line.update(fixed)
            line['host_load'] = round(os.getloadavg()[0], 1)
            with open(usertests_file(impl, harts), 'w') as f:
                json.dump(test_times(g, start_pos), f)
            emit(line)
            out.append(line)
            if not line['passed']:
                log(f'xv6 bench: usertests -q failed on {impl} at {harts} '
                    f'harts (console: {logfile})')
                return out, 1
        return out, 0
    except RuntimeError as e:
        log(f'xv6 bench: {impl} at {harts} harts: {e} (console: {logfile})')
        return out, 1
    finally:
        g.close()


def usertests_file(impl, harts):
    return os.path.join(LOGS, f'xv6-usertests-{impl}-{harts}.json')


def test_times(g, pos):
    """Seconds per test of a usertests run, from the stamps of its "test
    NAME: OK" lines (each test's time runs from the line before)."""
    out, prev = {}, None
    with g.cv:
        lines = list(g.lines[pos:])
    for t, s in lines:
        if s is None:
            break
        if 'usertests starting' in s:
            prev = t
        m = re.search(r'test (\w+): (OK|FAILED)', s)
        if m and prev is not None:
            out[m.group(1)] = round(t - prev, 2)
            prev = t
    return out


def selection(names, usertests_opt):
    """(micro phases, usertests?) selected by ci/bench NAMEs: a phase runs
    when a NAME is part of its bench name (xv6, xv6.pipe, fork, ...);
    usertests only when a NAME names it (xv6.usertests, usertests) or with
    the option, since it takes minutes."""
    if not names:
        return list(MICRO), usertests_opt

    def hit(bench):
        return any(n in bench or n in bench.replace('.', '_') for n in names)
    phases = [p for p in MICRO if hit('xv6.' + p)]
    ut = usertests_opt or any('usertests' in n and hit('xv6.usertests')
                              for n in names)
    return phases, ut


def run(names=(), harts=('1', '2'), usertests=False, scale=1, src=SRC,
        impls=('stock', 'rvmm'), emit=None, micro=True, own_disk=False,
        rounds=3):
    """Builds both kernels, boots each at each hart count; returns (rows,
    status).  emit(row) is called for every row as soon as it is known.
    Both boot copies of one disk image (stock's build: xv6's user programs,
    README and xv6bench, byte for byte the same programs on both kernels);
    with own_disk, xv6 on rvmm boots the image ci/xv6 built for it."""
    phases, ut = selection(list(names), usertests)
    if not micro:
        phases = []
    if not phases and not ut:
        return [], 0
    t_start = time.monotonic()
    if emit is None:
        def emit(row):
            print(f'[{time.monotonic() - t_start:7.1f}s] {json.dumps(row)}',
                  flush=True)
    kernels, status = {}, 0
    kernels['stock'] = build_stock(src)
    if 'rvmm' in impls:
        k = build_rvmm(src)
        if k:
            kernels['rvmm'] = k if own_disk else (k[0], kernels['stock'][1])
        elif os.path.exists(os.path.join(TOP, 'ci', 'xv6')):
            status = 1          # the port is there and does not build
    rows = []
    for h in harts:
        for impl in impls:
            if impl not in kernels or impl not in ('stock', 'rvmm'):
                continue
            res, rc = boot(impl, *kernels[impl], int(h), phases, ut, scale,
                           rounds, emit)
            rows += res
            status |= rc
    return rows, status


def summary(rows):
    """rvmm against stock per bench and hart count, with the goals, and the
    free memory after boot."""
    by = {(r['bench'], r['impl'], r['harts']): r for r in rows}
    out = ['xv6: rvmm against stock (same QEMU, -m 128M, same workloads)',
           f"{'bench':15} {'harts':>5} {'stock ops/s':>12} {'rvmm ops/s':>12} "
           f"{'rvmm/stock':>10}  goal"]
    seen = []
    for r in rows:
        k = (r['bench'], r['harts'])
        if k in seen:
            continue
        seen.append(k)
        s, v = by.get((k[0], 'stock', k[1])), by.get((k[0], 'rvmm', k[1]))
        ratio = v['ops_per_s'] / s['ops_per_s'] if s and v and \
            s['ops_per_s'] else None
        goal = GOALS.get(k[0])
        verdict = ''
        if goal and ratio is not None:
            verdict = f">= {goal:g}x: {'met' if ratio >= goal else 'MISSED'}"
        elif goal:
            verdict = f'>= {goal:g}x'
        fmt = (lambda x: f"{x['ops_per_s']:,.0f}" if x['bench'] !=
               'xv6.usertests' else f"{x['ns'] / 1e9:.1f} s") 
        out.append(f"{k[0]:15} {k[1]:>5} {fmt(s) if s else '-':>12} "
                   f"{fmt(v) if v else '-':>12} "
                   f"{f'{ratio:.2f}' if ratio else '-':>10}  {verdict}")
    for h in sorted({r['harts'] for r in rows if r['bench'] == 'xv6.usertests'}):
        try:
            with open(usertests_file('stock', h)) as f:
                st = json.load(f)
            with open(usertests_file('rvmm', h)) as f:
                rv = json.load(f)
        except (OSError, ValueError):
            continue
        diff = sorted(((rv[k] - st[k], k) for k in st if k in rv),
                      reverse=True)
        if diff:
            out.append(f'usertests at {h} hart(s), the tests rvmm takes longest '
                       f'over stock: ' + ', '.join(
                           f'{k} {st[k]:.1f} s -> {rv[k]:.1f} s'
                           for _, k in diff[:3]) +
                       f'; all others together: '
                       f'{sum(st[k] for _, k in diff[3:]):.1f} s -> '
                       f'{sum(rv[k] for _, k in diff[3:]):.1f} s')
    loads = []
    for r in rows:
        if 'host_load' in r and r['bench'] != 'xv6.usertests':
            k = f"{r['impl']} {r['harts']}"
            if k not in [x[0] for x in loads]:
                loads.append((k, r['host_load']))
    if loads:
        out.append('host load average (2 cores) after each boot\'s phases: ' +
                   ', '.join(f'{k}: {v}' for k, v in loads))
    out.append('')
    out.append('free memory after boot (pages of 4 KiB): user = what a '
               'process can grow by and write; kernel = the allocator\'s '
               'own figure')
    for h in sorted({r['harts'] for r in rows}):
        s = next((r for r in rows if r['impl'] == 'stock' and
                  r['harts'] == h and 'free_pages' in r), None)
        v = next((r for r in rows if r['impl'] == 'rvmm' and
                  r['harts'] == h and 'free_pages' in r), None)
        parts = []
        if s:
            parts.append(f"stock user {s['free_pages']}, kernel (derived) "
                         f"{s['kfree_pages_derived']}")
        if v:
            parts.append(f"rvmm user {v['free_pages']}, kernel "
                         f"{v.get('kfree_pages', '-')}")
        if s and v:
            d = (v['free_pages'] - s['free_pages']) / s['free_pages'] * 100
            parts.append(f'rvmm/stock user {d:+.2f}% (goal: within 4%)')
            if 'kfree_pages' in v:
                d = (v['kfree_pages'] - s['kfree_pages_derived']) / \
                    s['kfree_pages_derived'] * 100
                parts.append(f'kernel {d:+.2f}%')
        if parts:
            out.append(f'  {h} hart(s): ' + '; '.join(parts))
        if s and v and 'kfree_pages' in v:
            out += ['    ' + x for x in free_accounting(s, v)]
    return '\n'.join(out)


RAM_PAGES = 128 * 1024 * 1024 // 4096


def free_accounting(s, v):
    """Where rvmm's user-visible pages went, against stock's, in pages:
    user = RAM - below the image - image - boot (taken before the kernel's
    free figure) - gap (kernel free figure minus what a user process can
    get: other processes, page tables, kernel stacks, reserves).  Lines."""
    def parts(r, kfree):
        below, image = r['below_image_pages'], r['image_pages']
        boot = RAM_PAGES - below - image - kfree
        return below, image, boot, kfree - r['free_pages']
    sb, si, sboot, sgap = parts(s, s['kfree_pages_derived'])
    vb, vi, vboot, vgap = parts(v, v['kfree_pages'])
    d = v['free_pages'] - s['free_pages']
    meta = RAM_PAGES * 64 // 4096
    out = [f"rvmm - stock = {d:+d} pages ({d / s['free_pages'] * 100:+.2f}%):",
           f"  {sb - vb:+6d}  RAM below the kernel (OpenSBI under -bios "
           f"default)",
           f"  {si - vi:+6d}  kernel image ({vi} pages against {si})",
           f"  {sboot - vboot:+6d}  taken by the kernel before its free "
           f"figure (64 B of metadata per frame: {meta} pages for 128 MiB)",
           f"  {sgap - vgap:+6d}  from the kernel's free figure to the user "
           f"count: {vgap} pages on rvmm, {sgap} on stock (whose figure "
           f"precedes its boot allocations, 64 kernel stacks among them)"]
    if 'commit_limit' in v:
        out.append(f"          of rvmm's {vgap}: "
                   f"{v['kfree_pages'] - v['commit_limit']} commit reserve "
                   f"(sbrk fails that far short of the free pages)")
    return out


def figure(plt, rows, png):
    """Bars: rvmm/stock ops/s per bench, one bar per hart count, the goals
    of the issue as black marks; written to png.  False without both."""
    benches = [b for b in ['xv6.' + m for m in MICRO] + ['xv6.usertests']
               if any(r['bench'] == b for r in rows)]
    by = {(r['bench'], r['impl'], r['harts']): r for r in rows}
    harts = sorted({r['harts'] for r in rows})
    if not any(by.get((b, 'rvmm', h)) and by.get((b, 'stock', h))
               for b in benches for h in harts):
        return False
    fig, ax = plt.subplots(figsize=(1.6 * len(benches) + 2, 4.6))
    width = 0.8 / len(harts)
    colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd']
    for k, h in enumerate(harts):
        xs, ys = [], []
        for i, b in enumerate(benches):
            v, st = by.get((b, 'rvmm', h)), by.get((b, 'stock', h))
            if v and st and st['ops_per_s']:
                xs.append(i + (k - (len(harts) - 1) / 2) * width)
                ys.append(v['ops_per_s'] / st['ops_per_s'])
        ax.bar(xs, ys, width, color=colors[k % len(colors)],
               label=f'{h} hart{"s" if h > 1 else ""}')
        for x, y in zip(xs, ys):
            ax.annotate(f'{y:.2f}', (x, y), ha='center', fontsize=8,
                        textcoords='offset points', xytext=(0, 3))
    for i, b in enumerate(benches):
        if b in GOALS:
            ax.plot([i - 0.45, i + 0.45], [GOALS[b]] * 2, color='black',
                    lw=2)
    ax.axhline(1.0, color='#7f7f7f', ls=':', lw=1)
    ax.set_yscale('log')
    ax.set_xticks(range(len(benches)))
    ax.set_xticklabels(benches, fontsize=9)
    ax.set_ylabel('rvmm / stock (ops/s; usertests: 1 / wall time)')
    ax.set_title('xv6 on rvmm against stock xv6 (QEMU virt, -m 128M)\n'
                 'black marks: the goals', fontsize=10)
    ax.legend(fontsize=9)
    ax.grid(True, axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True


def main():
    args = sys.argv[1:]
    harts, usertests, scale, src = ['1', '2'], False, 1, SRC
    impls, micro, names, own_disk = ['stock', 'rvmm'], True, [], False
    rounds = 3
    while args:
        a = args.pop(0)
        if a in ('-h', '--help'):
            print(__doc__.strip())
            return 0
        if a in ('--harts', '--scale', '--src', '--impl', '--rounds') and \
                not args:
            print(f'harness.py: {a} needs a value', file=sys.stderr)
            return 2
        if a == '--harts':
            harts = args.pop(0).split(',')
        elif a == '--scale':
            scale = int(args.pop(0))
        elif a == '--rounds':
            rounds = int(args.pop(0))
        elif a == '--src':
            src = os.path.abspath(args.pop(0))
        elif a == '--impl':
            impls = args.pop(0).split(',')
        elif a == '--usertests':
            usertests = True
        elif a == '--no-micro':
            micro = False
        elif a == '--own-disk':
            own_disk = True
        elif a.startswith('-'):
            print(f'harness.py: unknown option {a}', file=sys.stderr)
            return 2
        else:
            names.append(a)
    rows, status = run(names, harts, usertests, scale, src, impls,
                       micro=micro, own_disk=own_disk, rounds=rounds)
    print()
    print(summary(rows) if rows else '(no results)')
    return status


if __name__ == '__main__':
    sys.exit(main())
