#!/usr/bin/env python3
"""embed.py ELF OUT.S: an assembly file that embeds ELF in .rodata as
mini_user_elf .. mini_user_elf_end (the minimal kernel's user program)."""
import os
import sys

elf, out = sys.argv[1], sys.argv[2]
with open(out, 'w') as f:
    f.write('\t.section .rodata.user, "a"\n'
            '\t.balign 16\n'
            '\t.globl mini_user_elf, mini_user_elf_end\n'
            'mini_user_elf:\n'
            '\t.incbin "%s"\n'
            'mini_user_elf_end:\n' % os.path.abspath(elf))
