#!/usr/bin/env python3
"""run_fuzz.py FUZZER CORPUS (--replay | --seconds N): run a libFuzzer target.

--replay     runs every input of the seed corpus once (a regression test).
--seconds N  fuzzes for N seconds starting from the seed corpus; new inputs
             go to a temporary folder, so the corpus in the repository is
             never written.  A crash input is copied next to the build
             (fuzz-crash-*) and the test fails.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    fuzzer, corpus, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    seeds = sorted(glob.glob(os.path.join(corpus, '*')))
    if not seeds:
        sys.exit(f'run_fuzz: no seed inputs in {corpus}')
    common = ['-rss_limit_mb=4096', '-timeout=30', '-print_final_stats=1']
    if mode == '--replay':
        r = subprocess.run([fuzzer] + common + seeds)
        return r.returncode
    secs = sys.argv[4]
    with tempfile.TemporaryDirectory(prefix='rvmm-fuzz-') as tmp:
        work = os.path.join(tmp, 'corpus')
        os.mkdir(work)
        cmd = [fuzzer] + common + [f'-max_total_time={secs}',
                                   f'-artifact_prefix={tmp}/', '-max_len=4096',
                                   work, corpus]
        print('#', ' '.join(cmd), flush=True)
        r = subprocess.run(cmd)
        for f in glob.glob(os.path.join(tmp, 'crash-*')) + \
                glob.glob(os.path.join(tmp, 'leak-*')) + \
                glob.glob(os.path.join(tmp, 'timeout-*')):
            dst = os.path.join(os.getcwd(), 'fuzz-' + os.path.basename(f))
            shutil.copy(f, dst)
            print(f'# saved {dst}', flush=True)
        print(f'# {len(os.listdir(work))} new inputs', flush=True)
        return r.returncode


if __name__ == '__main__':
    sys.exit(main())
