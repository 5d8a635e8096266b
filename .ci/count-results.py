#!/usr/bin/env python3
"""Counts real test results from meson's testlog.json files.

A GTest program run with TAP counts each `ok` / `not ok` line; a pytest run
counts its summary line; any other test counts as one. A test that failed
(crash, timeout) without a failing line of its own counts as one failure.
Prints `N passed, N failed[, N skipped]` and exits 1 if anything failed or
nothing ran.
"""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            ok = entry.get("result") in ("OK", "EXPECTEDFAIL")
            skip = entry.get("result") == "SKIP"
            p = fl = s = 0
            tap = re.findall(r"^(ok|not ok)\b(.*)$", out, re.M)
            summary = re.search(r"^=+ (.*) in [\d.]+s", out, re.M)
            if tap:
                for verdict, rest in tap:
                    if "# SKIP" in rest or "# skip" in rest:
                        s += 1
                    elif verdict == "ok" or "# TODO" in rest:
                        p += 1
                    else:
                        fl += 1
            elif summary and "pytest" in " ".join(entry.get("command", [])):
                for n, what in re.findall(r"(\d+) (passed|failed|skipped|error|errors)", summary.group(1)):
                    if what == "passed":
                        p += int(n)
                    elif what == "skipped":
                        s += int(n)
                    else:
                        fl += int(n)
            elif skip:
                s = 1
            elif ok:
                p = 1
            if not ok and not skip and fl == 0:
                fl = 1
            print(f"  {entry['name']}: {p} passed, {fl} failed, {s} skipped ({entry.get('result')})",
                  file=sys.stderr)
            passed += p
            failed += fl
            skipped += s

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
