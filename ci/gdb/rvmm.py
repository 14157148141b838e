# rvmm.py: gdb helpers for a kernel that links rvmm (QEMU test kernel,
# benchmark kernel, an embedding kernel) or for the host test program.
#
#   (gdb) source ci/gdb/rvmm.py
#   (gdb) help rvmm
#
# Commands (all read memory only; none calls a function of the target):
#   rvmm harts               each cpu's current map, pmap and ASID
#   rvmm walk VA [PMAP]      walk VA through a pmap's Sv39 tables (default:
#                            the selected hart's satp)
#   rvmm zones [NAME]        zones with their statistics
#   rvmm map [MAP]           a map's entries in address order (default: the
#                            selected hart's current map, else the kernel map)
#   rvmm page PA|&PAGE       a frame's struct vm_page
#
# Physical addresses: on riscv64 the kernel reaches RAM identity-mapped, so
# a physical address is read as is.  The host program keeps its simulated
# RAM in arenas (hal/host/hal_host.c): the helpers translate through
# host_regions[] and host_arena[] when those symbols exist.

import gdb

PAGE = 4096
MASK64 = (1 << 64) - 1
PT_MAGIC = 0x5039746162        # hal/sv39/pmap_impl.h PT_MAGIC_VALUE
PTE_BITS = [(0, 'V'), (1, 'R'), (2, 'W'), (3, 'X'), (4, 'U'), (5, 'G'),
            (6, 'A'), (7, 'D')]
PAGE_STATES = ['RESERVED', 'FREE', 'PCP', 'ALLOC', 'TAIL']
VM_PROT = [(1, 'r'), (2, 'w'), (4, 'x')]


def sym(name):
    """A global or file-static symbol's value, or None."""
    for expr in (name,) + tuple(f"'{f}'::{name}" for f in (
            'vm/fault.c', 'vm/page.c', 'vm/zone.c', 'vm/map.c',
            'hal/host/hal_host.c', 'hal/riscv64/boot.c')):
        try:
            return gdb.parse_and_eval(expr)
        except gdb.error:
            continue
    return None


def read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return int.from_bytes(bytes(mem), 'little')


def phys_ptr(pa):
    """The address gdb reads to see physical address pa."""
    regions, arenas, n = sym('host_regions'), sym('host_arena'), sym('host_nregions')
    if regions is None or arenas is None or n is None:
        return pa
    for i in range(int(n)):
        base, size = int(regions[i]['base']), int(regions[i]['size'])
        if base <= pa < base + size:
            return int(arenas[i]) + (pa - base)
    raise gdb.GdbError(f'physical address {pa:#x} is outside the simulated RAM')


def ncpus():
    for name in ('rv_ncpus', 'host_ncpus'):
        v = sym(name)
        if v is not None:
            return int(v)
    v = sym('pmap_cpus')
    return int(v.type.sizeof // v[0].type.sizeof) if v is not None else 1


def cpu_thread(c):
    """The gdb thread number of logical cpu c: QEMU numbers its threads by
    hart id + 1; rvmm's riscv64 port keeps each cpu's hart id in rv_cpus[]
    (another kernel: cpu c is taken to be hart c)."""
    cpus = sym('rv_cpus')
    if cpus is not None:
        return int(cpus[c]['hc']['hartid']) + 1
    return c + 1


def thread_cpu(num):
    for c in range(ncpus()):
        if cpu_thread(c) == num:
            return c
    return None


def pte_str(pte):
    flags = ''.join(c if pte >> b & 1 else '-' for b, c in PTE_BITS)
    pbmt = (pte >> 61) & 3
    extra = {0: '', 1: ' NC', 2: ' IO', 3: ' PBMT=3?'}[pbmt]
    return f'{pte:#018x} [{flags}{extra}] ppn {pte >> 10 & ((1 << 44) - 1):#x}'


def prot_str(p):
    return ''.join(c if p & b else '-' for b, c in VM_PROT)


class Rvmm(gdb.Command):
    """rvmm: helpers for rvmm's data structures.  Subcommands: harts, walk,
zones, map, page.  `help rvmm SUBCOMMAND` for each."""

    def __init__(self):
        super().__init__('rvmm', gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class Harts(gdb.Command):
    """rvmm harts: for each cpu, rvmm's current map (vm_map_activate), the
pmap in its satp, the ASID it runs with, and its satp as gdb reads it for
the matching gdb thread (QEMU: one thread per hart)."""

    def __init__(self):
        super().__init__('rvmm harts', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pc = sym('pmap_cpus')
        fc = sym('fault_cpus')
        kpm = sym('pmap_kernel_store')
        kaddr = int(kpm.address) if kpm is not None else None
        satps = {}
        cur = gdb.selected_thread()
        for t in gdb.selected_inferior().threads():
            try:
                t.switch()
                satps[t.num] = int(gdb.parse_and_eval('$satp')) & MASK64
            except gdb.error:
                pass
        if cur is not None:
            cur.switch()
        for c in range(ncpus()):
            pm = int(pc[c]['cur']) if pc is not None else 0
            asid = int(pc[c]['cur_asid']) if pc is not None else 0
            vm = int(fc[c]['cur']) if fc is not None else 0
            kind = 'kernel' if pm == kaddr else ('user' if pm else 'none')
            line = (f'cpu {c}: map {vm:#x} pmap {pm:#x} ({kind}) asid {asid}')
            s = satps.get(cpu_thread(c))
            if s is not None:
                line += (f'  satp {s:#x} (mode {s >> 60}, asid {s >> 44 & 0xffff}, '
                         f'root {(s & ((1 << 44) - 1)) << 12:#x})')
            print(line)


class Walk(gdb.Command):
    """rvmm walk VA [PMAP]: walks VA through the Sv39 tables of PMAP (a
struct pmap pointer), or of the root in the selected hart's satp, and
prints each level's entry and the physical address it reaches."""

    def __init__(self):
        super().__init__('rvmm walk', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError('usage: rvmm walk VA [PMAP]')
        va = int(gdb.parse_and_eval(argv[0])) & ((1 << 64) - 1)
        if len(argv) > 1:
            p = gdb.parse_and_eval(argv[1])
            if p.type.strip_typedefs().code != gdb.TYPE_CODE_PTR:
                p = p.address
            p = p.cast(gdb.lookup_type('struct pmap').pointer())
            root = int(p['root_pa'])
            print(f'pmap {int(p):#x} root {root:#x}'
                  f" ({'kernel' if bool(p['kernel']) else 'user'})")
        else:
            satp = int(gdb.parse_and_eval('$satp')) & MASK64
            if satp >> 60 == 0:
                print('satp is Bare: VA == PA')
                return
            root = (satp & ((1 << 44) - 1)) << 12
            print(f'satp {satp:#x} root {root:#x} asid {satp >> 44 & 0xffff}')
        top = va >> 38
        if top not in (0, (1 << 26) - 1):
            print(f'{va:#x} is not canonical for Sv39')
            return
        table = root
        for level in (2, 1, 0):
            idx = va >> (12 + 9 * level) & 511
            pte = read_u64(phys_ptr(table + 8 * idx))
            print(f'  L{level}[{idx:3}] @ {table + 8 * idx:#x}: {pte_str(pte)}')
            if not pte & 1:
                print('  -> not mapped')
                return
            ppn = pte >> 10 & ((1 << 44) - 1)
            if pte & 0xe:
                size = 1 << (12 + 9 * level)
                pa = (ppn << 12) + (va & (size - 1))
                print(f'  -> leaf of {size // 1024} KiB: pa {pa:#x}')
                return
            table = ppn << 12
        print('  -> level 0 entry is not a leaf (malformed)')


class Zones(gdb.Command):
    """rvmm zones [NAME]: every zone (or those whose name contains NAME):
object size and stride, objects in use in slabs, slabs, magazine depot,
and allocs/frees summed over its cpus."""

    def __init__(self):
        super().__init__('rvmm zones', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        head = sym('zone_list')
        if head is None:
            raise gdb.GdbError('no zone_list symbol (is this an rvmm image?)')
        z = head['clh_first']
        print(f"{'zone':20} {'size':>6} {'stride':>6} {'inuse':>8} {'slabs':>6} "
              f"{'depot f/e':>10} {'allocs':>10} {'frees':>10}")
        while int(z) != 0:
            name = z['z_name'].string()
            if not arg or arg in name:
                allocs = frees = 0
                for c in range(int(z['z_ncpus'])):
                    zc = z['z_cpu'][c]
                    allocs += int(zc['zc_allocs'])
                    frees += int(zc['zc_frees'])
                d, s = z['z_depot'], z['z_slab']
                print(f"{name:20} {int(z['z_size']):6} {int(z['z_stride']):6} "
                      f"{int(s['sl_inuse']):8} {int(s['sl_nslabs']):6} "
                      f"{int(d['d_nfull']):>4}/{int(d['d_nempty']):<5} "
                      f"{allocs:10} {frees:10}")
            z = z['z_link']['cle_next']


class Map(gdb.Command):
    """rvmm map [MAP]: the entries of a vm_map (a struct vm_map pointer) in
address order: range, size, protection/max, object and offset, flags.
Without MAP: the selected hart's current map, else the kernel map."""

    def __init__(self):
        super().__init__('rvmm map', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg:
            m = gdb.parse_and_eval(arg)
        else:
            m = None
            fc = sym('fault_cpus')
            t = gdb.selected_thread()
            c = thread_cpu(t.num) if t is not None else None
            if fc is not None and c is not None:
                cur = fc[c]['cur']
                if int(cur) != 0:
                    m = cur
            if m is None:
                m = sym('kernel_map')
        etype = gdb.lookup_type('struct vm_map_entry').pointer()
        m = m.cast(gdb.lookup_type('struct vm_map').pointer())
        print(f"map {int(m):#x}: [{int(m['m_min']):#x}, {int(m['m_max']):#x}) "
              f"pmap {int(m['m_pmap']):#x}, {int(m['m_nentries'])} entries, "
              f"{int(m['m_mapped']) // 1024} KiB mapped")
        stack, node = [], m['m_tree']['root']
        while stack or int(node) != 0:
            while int(node) != 0:
                stack.append(node)
                node = node['left']
            node = stack.pop()
            e = node.cast(etype)
            s, t = int(e['e_start']), int(e['e_end'])
            obj = int(e['e_obj'])
            what = f"obj {obj:#x} +{int(e['e_offset']):#x}" if obj else 'anon'
            print(f"  {s:#014x}-{t:#014x} {(t - s) // 1024:8} KiB "
                  f"{prot_str(int(e['e_prot']))}/{prot_str(int(e['e_maxprot']))} "
                  f"{what} flags {int(e['e_flags']):#x}")
            node = node['right']


class Page(gdb.Command):
    """rvmm page PA|&PAGE: the struct vm_page of the frame holding physical
address PA (or the given struct vm_page pointer): state, order, run
length, flags and the owner words (zone slab, object and offset)."""

    def __init__(self):
        super().__init__('rvmm page', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if not arg:
            raise gdb.GdbError('usage: rvmm page PA|&PAGE')
        v = gdb.parse_and_eval(arg)
        ptype = gdb.lookup_type('struct vm_page').pointer()
        if v.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
            pg = v.cast(ptype)
        else:
            pa = int(v)
            regs, n = sym('regions'), sym('nregions')
            pg = None
            for i in range(int(n)):
                r = regs[i]
                base, np_ = int(r['base']), int(r['npages'])
                if base <= pa < base + np_ * PAGE:
                    pg = r['pages'] + (pa - base) // PAGE
                    break
            if pg is None:
                raise gdb.GdbError(f'{pa:#x} is not in managed memory')
        st = int(pg['pg_state'])
        o = pg['pg_owner']
        print(f"vm_page {int(pg):#x}: pa {int(pg['pg_pa']):#x} "
              f"state {PAGE_STATES[st] if st < len(PAGE_STATES) else st} "
              f"order {int(pg['pg_order'])} npages {int(pg['pg_npages'])} "
              f"region {int(pg['pg_region'])} flags {int(pg['pg_flags']):#x}")
        w = [int(o['word'][i]) for i in range(3)]
        if w[2] == PT_MAGIC:
            print(f'  page-table page: {w[0]} valid entries')
        else:
            print(f'  owner words {w[0]:#x} {w[1]:#x} {w[2]:#x} '
                  '(zone: slab, zone; object page: object, offset, refs)')


Rvmm()
Harts()
Walk()
Zones()
Map()
Page()
print('rvmm gdb helpers loaded: help rvmm')
