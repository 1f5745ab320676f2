#!/usr/bin/env python3
"""The source tree reads bottom-up: a file includes headers of its own
layer or of layers below it, never above (README.md, "Layout").

  lib      pure helpers: the snapshot wire format, the virtual clock
  bus      the physical address space the CPU and devices see
  cpu      the hart
  dev      every device (CLINT, PLIC, UART, virtio, ...) and its host backend
  board    what makes them the virt board: memory map, device tree, boot
  vm       the machine object, run loop, event boundary, state, taps
  svc      services above the machine (through vm/taps.h)
  host     running a VM on this host: terminal, pacing, control socket, clones
  cli      the keel command

Also: nothing under src/svc/ includes a src/cpu/ header (services see the
hart only through vm/taps.h), and no two modules (a .c/.h pair) of
different directories include each other, directly or around a longer
circle.  Circles inside one directory (a hart and its MMU) are printed as
notes: a directory is one component.

Usage: check_layers.py SRC_DIR.  Prints every violation; exit 1 if any."""
import os
import re
import sys

LAYERS = [["lib"], ["bus"], ["cpu"], ["dev"], ["board"], ["vm"], ["svc"], ["host"], ["cli"]]
RANK = {d: i for i, group in enumerate(LAYERS) for d in group}
FORBIDDEN = {("svc", "cpu"): "services use vm/taps.h, never the hart's headers"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(src):
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                path = os.path.join(root, f)
                yield os.path.relpath(path, src), open(path, encoding="utf-8").read()


def layer_violations(src):
    bad = []
    for rel, text in sources(src):
        here = rel.split(os.sep)[0]
        if here not in RANK:
            bad.append(f"{rel}: directory '{here}' is in no layer (add it to {__file__})")
            continue
        for inc in INCLUDE.findall(text):
            there = inc.split("/")[0]
            if there not in RANK:
                continue  # same-directory or generated includes
            if RANK[there] > RANK[here]:
                bad.append(f"{rel}: includes {inc}, a layer above {here}/")
            elif (here, there) in FORBIDDEN:
                bad.append(f"{rel}: includes {inc}: {FORBIDDEN[(here, there)]}")
    return bad


def module_cycles(src):
    """Modules are paths without their extension; X -> Y when X.c or X.h
    includes Y.h.  Report each strongly connected group of more than one."""
    edges = {}
    for rel, text in sources(src):
        mod = os.path.splitext(rel)[0]
        for inc in INCLUDE.findall(text):
            dep = os.path.splitext(inc)[0]
            if dep != mod and os.path.exists(os.path.join(src, inc)):
                edges.setdefault(mod, set()).add(dep)
    index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "src")
    bad = layer_violations(src)
    for group in module_cycles(src):
        dirs = {os.path.dirname(m) for m in group}
        line = f"include circle: {' <-> '.join(group)}"
        if len(dirs) > 1:
            bad.append(line)
        else:
            print(f"note: {line} (one directory)")
    for b in bad:
        print(b)
    print(f"check_layers: {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
