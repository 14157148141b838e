#!/usr/bin/env python3
"""mkfs.py: makes an xv6 file system image (kernel/fs.h's on-disk format).

usage: mkfs.py [--param kernel/param.h] IMAGE FILE...

The xv6 tree this port builds from carries no mkfs/, so ci/xv6 makes fs.img
with this one (the xv6 Makefile's MKFS).  Layout, in 1024-byte blocks:

    [ boot | super | log (LOGSIZE) | inodes | free bitmap | data ... ]

FSSIZE blocks in all and LOGSIZE log blocks (from param.h), 200 inodes
(64-byte dinodes, 16 per block).  Inode 1 is the root directory, holding
".", ".." and one entry per FILE, named after its base name without a
leading "_" (user/_cat -> cat); files get inodes 2, 3, ... in argument
order and their data blocks in order from the first data block (an
indirect block is taken when a file passes NDIRECT blocks).  The root
directory's size is rounded up past a whole block (the block is not
allocated: the kernel does on first use); every block in use is marked in
the bitmap.
"""
import os
import re
import struct
import sys

BSIZE = 1024
NDIRECT = 12
NINDIRECT = BSIZE // 4
NINODES = 200
ROOTINO = 1
FSMAGIC = 0x10203040
T_DIR, T_FILE = 1, 2
DIRSIZ = 14
DINODE = struct.Struct('<hhhhI13I')  # type major minor nlink size addrs
IPB = BSIZE // DINODE.size


def params(path):
    defs = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*#define\s+(\w+)\s+([^/\n]+)', line)
            if m:
                defs[m.group(1)] = m.group(2).strip()

    def value(name):
        expr = defs[name]
        expr = re.sub(r'[A-Za-z_]\w*', lambda m: str(value(m.group(0))), expr)
        return int(eval(expr, {'__builtins__': {}}))
    return value('FSSIZE'), value('LOGSIZE')


class Fs:
    def __init__(self, fssize, nlog):
        self.size = fssize
        nbitmap = fssize // (BSIZE * 8) + 1
        ninodeblocks = NINODES // IPB + 1
        self.logstart = 2
        self.inodestart = 2 + nlog
        self.bmapstart = self.inodestart + ninodeblocks
        nmeta = self.bmapstart + nbitmap
        self.nlog = nlog
        self.nblocks = fssize - nmeta
        self.img = bytearray(fssize * BSIZE)
        self.freeblock = nmeta
        self.freeinode = 1
        self.inodes = {}

    def block(self, b):
        return memoryview(self.img)[b * BSIZE:(b + 1) * BSIZE]

    def ialloc(self, typ):
        inum = self.freeinode
        self.freeinode += 1
        self.inodes[inum] = [typ, 0, 0, 1, 0] + [0] * (NDIRECT + 1)
        return inum

    def balloc_one(self):
        b = self.freeblock
        if b >= self.size:
            raise SystemExit('mkfs.py: file system full')
        self.freeblock += 1
        return b

    def iappend(self, inum, data):
        ino = self.inodes[inum]
        off = ino[4]
        data = memoryview(bytes(data))
        while len(data) > 0:
            fbn = off // BSIZE
            if fbn >= NDIRECT + NINDIRECT:
                raise SystemExit('mkfs.py: file too large')
            if fbn < NDIRECT:
                if ino[5 + fbn] == 0:
                    ino[5 + fbn] = self.balloc_one()
                b = ino[5 + fbn]
            else:
                if ino[5 + NDIRECT] == 0:
                    ino[5 + NDIRECT] = self.balloc_one()
                ind = self.block(ino[5 + NDIRECT])
                slot = (fbn - NDIRECT) * 4
                b = struct.unpack_from('<I', ind, slot)[0]
                if b == 0:
                    b = self.balloc_one()
                    struct.pack_into('<I', ind, slot, b)
            n = min(len(data), (fbn + 1) * BSIZE - off)
            start = b * BSIZE + off - fbn * BSIZE
            self.img[start:start + n] = data[:n]
            data = data[n:]
            off += n
        ino[4] = off

    def dirent(self, dinum, inum, name):
        raw = name.encode()[:DIRSIZ]
        self.iappend(dinum, struct.pack('<H', inum) + raw.ljust(DIRSIZ, b'\0'))

    def finish(self):
        for inum, ino in self.inodes.items():
            blk = inum // IPB + self.inodestart
            DINODE.pack_into(self.img, blk * BSIZE + (inum % IPB) * DINODE.size,
                             *ino)
        struct.pack_into('<8I', self.img, BSIZE, FSMAGIC, self.size,
                         self.nblocks, NINODES, self.nlog, self.logstart,
                         self.inodestart, self.bmapstart)
        used = self.freeblock
        if used > BSIZE * 8:
            raise SystemExit('mkfs.py: more than one bitmap block in use')
        bm = self.block(self.bmapstart)
        for b in range(used):
            bm[b // 8] |= 1 << (b % 8)


def main(argv):
    param = None
    if len(argv) > 1 and argv[0] == '--param':
        param, argv = argv[1], argv[2:]
    if len(argv) < 1:
        print(__doc__)
        return 2
    image, files = argv[0], argv[1:]
    param = param or os.path.join(os.path.dirname(image) or '.', 'kernel',
                                  'param.h')
    fssize, nlog = params(param)
    fs = Fs(fssize, nlog)
    root = fs.ialloc(T_DIR)
    assert root == ROOTINO
    fs.dirent(root, root, '.')
    fs.dirent(root, root, '..')
    for path in files:
        name = os.path.basename(path)
        if name.startswith('_'):
            name = name[1:]
        inum = fs.ialloc(T_FILE)
        fs.dirent(root, inum, name)
        with open(path, 'rb') as f:
            fs.iappend(inum, f.read())
    fs.inodes[root][4] = (fs.inodes[root][4] // BSIZE + 1) * BSIZE
    fs.finish()
    with open(image, 'wb') as f:
        f.write(fs.img)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
