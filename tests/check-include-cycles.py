#!/usr/bin/env python3
# Fails (exit 1) if the headers of sdk/ (public and private) include one
# another in a cycle, and prints each cycle as a chain of file names.
# #pragma once hides a cycle from the compiler: whichever header is read
# first decides what the other sees, so the build can break from a mere
# change in include order.
#
# Usage: check-include-cycles.py SDK_DIR
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def graph(sdk):
    headers = {n for n in os.listdir(sdk) if n.endswith(".h") or n.endswith(".h.in")}
    edges = {}
    for name in sorted(headers):
        with open(os.path.join(sdk, name), encoding="utf-8") as f:
            text = f.read()
        edges[name] = [h for h in INCLUDE.findall(text) if h in headers]
    return edges


def cycles(edges):
    found = []
    state = {}   # name -> 1 on the stack, 2 done
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in edges.get(n, ()):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    return found


def main():
    if len(sys.argv) != 2:
        print("usage: check-include-cycles.py SDK_DIR", file=sys.stderr)
        return 2
    edges = graph(sys.argv[1])
    if not edges:
        print(f"{sys.argv[1]}: no headers", file=sys.stderr)
        return 2
    found = cycles(edges)
    for c in found:
        print("include cycle: " + " -> ".join(c))
    if not found:
        print(f"{len(edges)} headers, {sum(map(len, edges.values()))} includes, no cycle")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
