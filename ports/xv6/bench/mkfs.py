#!/usr/bin/env python3
"""mkfs.py: write an xv6 file-system image (the format of xv6's kernel/fs.h).

usage: mkfs.py [--src XV6DIR] OUT.img FILE ...

The copy of xv6-riscv the project builds from comes without its mkfs tool,
so the benchmark harness writes the disk image itself.  The layout follows
the comment and structures of kernel/fs.h, the sizes come from
kernel/param.h (FSSIZE blocks, LOGSIZE log blocks) and 200 inodes:

    [ boot | super | log | inodes | free bitmap | data ... ]

Block 1 holds the superblock; inode 1 is the root directory with "." and
"..", then one inode and one root entry per FILE, named after the file with
its directory and a leading "_" dropped (user/_sh -> sh), its contents in
data blocks allocated in order (12 direct blocks, then one indirect block).
The root directory's size is rounded up to a whole block past its last
entry, and the bitmap marks every block in use up to the last one written.
"""
import os
import re
import struct
import sys

BSIZE = 1024
NDIRECT = 12
NINDIRECT = BSIZE // 4
DINODE = 64                      # short type, major, minor, nlink; uint size,
IPB = BSIZE // DINODE            # addrs[NDIRECT + 1]
DIRSIZ = 14
FSMAGIC = 0x10203040
T_DIR, T_FILE = 1, 2
NINODES = 200
ROOTINO = 1


def param(src, name):
    with open(os.path.join(src, 'kernel', 'param.h')) as f:
        text = f.read()
    defs = dict(re.findall(r'#define\s+(\w+)\s+([^/\n]+)', text))

    def value(n):
        expr = defs[n].strip()
        expr = re.sub(r'[A-Za-z_]\w*', lambda m: str(value(m.group(0))), expr)
        return int(eval(expr, {'__builtins__': {}}))
    return value(name)


class Image:
    def __init__(self, fssize, nlog):
        self.size = fssize
        nbitmap = fssize // (BSIZE * 8) + 1
        ninodeblocks = NINODES // IPB + 1
        self.logstart = 2
        self.inodestart = 2 + nlog
        self.bmapstart = 2 + nlog + ninodeblocks
        nmeta = 2 + nlog + ninodeblocks + nbitmap
        self.nblocks = fssize - nmeta
        self.nlog = nlog
        self.img = bytearray(fssize * BSIZE)
        self.freeblock = nmeta
        self.freeinode = 1
        self.inodes = {}
        struct.pack_into('<8I', self.img, BSIZE, FSMAGIC, fssize, self.nblocks,
                         NINODES, nlog, self.logstart, self.inodestart,
                         self.bmapstart)

    def ialloc(self, typ):
        inum = self.freeinode
        self.freeinode += 1
        self.inodes[inum] = {'type': typ, 'nlink': 1, 'size': 0,
                             'addrs': [0] * (NDIRECT + 1)}
        return inum

    def balloc(self):
        b = self.freeblock
        if b >= self.size:
            raise SystemExit('mkfs.py: image full')
        self.freeblock += 1
        return b

    def block_of(self, ino, fbn):
        addrs = ino['addrs']
        if fbn < NDIRECT:
            if addrs[fbn] == 0:
                addrs[fbn] = self.balloc()
            return addrs[fbn]
        fbn -= NDIRECT
        if fbn >= NINDIRECT:
            raise SystemExit('mkfs.py: file too large')
        if addrs[NDIRECT] == 0:
            addrs[NDIRECT] = self.balloc()
        at = addrs[NDIRECT] * BSIZE + 4 * fbn
        b = struct.unpack_from('<I', self.img, at)[0]
        if b == 0:
            b = self.balloc()
            struct.pack_into('<I', self.img, at, b)
        return b

    def append(self, inum, data):
        ino = self.inodes[inum]
        off, pos = ino['size'], 0
        while pos < len(data):
            b = self.block_of(ino, off // BSIZE)
            n = min(len(data) - pos, BSIZE - off % BSIZE)
            at = b * BSIZE + off % BSIZE
            self.img[at:at + n] = data[pos:pos + n]
            off += n
            pos += n
        ino['size'] = off

    def dirent(self, dir_inum, inum, name):
        raw = name.encode()[:DIRSIZ]
        self.append(dir_inum, struct.pack('<H', inum) + raw.ljust(DIRSIZ, b'\0'))

    def finish(self):
        root = self.inodes[ROOTINO]
        root['size'] = (root['size'] // BSIZE + 1) * BSIZE
        for inum, ino in self.inodes.items():
            at = self.inodestart * BSIZE + inum * DINODE   # IPB * DINODE == BSIZE
            struct.pack_into('<4hI13I', self.img, at, ino['type'], 0, 0,
                             ino['nlink'], ino['size'], *ino['addrs'])
        used = self.freeblock
        if used > BSIZE * 8:
            raise SystemExit('mkfs.py: bitmap of one block only')
        bm = self.bmapstart * BSIZE
        for b in range(used):
            self.img[bm + b // 8] |= 1 << (b % 8)


def mkfs(src, out, files):
    im = Image(param(src, 'FSSIZE'), param(src, 'LOGSIZE'))
    root = im.ialloc(T_DIR)
    im.dirent(root, root, '.')
    im.dirent(root, root, '..')
    for path in files:
        name = os.path.basename(path)
        if name.startswith('_'):
            name = name[1:]
        inum = im.ialloc(T_FILE)
        im.dirent(root, inum, name)
        with open(path, 'rb') as f:
            im.append(inum, f.read())
    im.finish()
    with open(out, 'wb') as f:
        f.write(im.img)


def main():
    args = sys.argv[1:]
    src = None
    if args[:1] == ['--src'] and len(args) > 1:
        src = args[1]
        args = args[2:]
    if len(args) < 2 or args[0] in ('-h', '--help'):
        print(__doc__.strip())
        return 0 if args[:1] in (['-h'], ['--help']) else 2
    if src is None:
        src = os.path.dirname(os.path.abspath(args[0]))
    mkfs(src, args[0], args[1:])
    return 0


if __name__ == '__main__':
    sys.exit(main())
