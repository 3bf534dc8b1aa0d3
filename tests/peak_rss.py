#!/usr/bin/python3
"""tests/peak_rss.py LIST: runs each command of LIST (lines "name<TAB>shell command") in its own
process and prints "<peak RSS in KiB>|<report>": the largest resident size any of them (or any
process they started, e.g. medtrain's DICOM decoder) reached, and for each command that did not
exit with 1 or 2 (a refusal) its name and status. Used by tests/test_robust_input.c: this
process is small, so the peak is the commands' own, not a large caller's."""
import resource
import subprocess
import sys

report = []
with open(sys.argv[1]) as f:
    for line in f:
        name, cmd = line.rstrip("\n").split("\t", 1)
        r = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode not in (1, 2):
            report.append("%s: %s %d; " % (name, "exit" if r.returncode >= 0 else "signal", abs(r.returncode)))
print("%d|%s" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "".join(report)))
