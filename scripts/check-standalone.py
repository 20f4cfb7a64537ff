#!/usr/bin/env python3
"""Compiles each C++ source changed since REV on its own, as a build without unity batches does
(GEX_UNITY_BUILD=OFF, the `dev` preset): the unity build that ./test.sh makes compiles eight files
as one, so a file that uses what only a neighbour in its batch includes builds there and breaks
here. Syntax only (-fsyntax-only), with each target's precompiled header: about 10 s a file.

    scripts/check-standalone.py [REV] [--build DIR]     (REV: default HEAD~20; DIR: build-standalone)

Exit status 0 when every changed file compiles alone, 1 otherwise (the compiler's errors shown).
"""
import argparse
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))


def changed_sources(rev):
    out = subprocess.run(["git", "diff", "--name-only", rev, "--", "*.cpp"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "*.cpp"], cwd=ROOT,
                               check=True, capture_output=True, text=True).stdout.split()
    return [os.path.join(ROOT, f) for f in out + untracked if os.path.exists(os.path.join(ROOT, f))]


def configure(build):
    subprocess.run(["cmake", "-S", ROOT, "-B", build, "-DGEX_UNITY_BUILD=OFF", "-DCMAKE_BUILD_TYPE=Release",
                    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(build, "compile_commands.json")) as f:
        return {os.path.realpath(c["file"]): c for c in json.load(f)}


def build_headers(build, commands):
    """The precompiled headers the files' commands include (one per target, or one reused)."""
    for pch in sorted({m.group(1) for c in commands if (m := re.search(r"-include (\S+)/cmake_pch\.hxx", c["command"]))}):
        rel = os.path.relpath(pch, build)
        subprocess.run(["make", "-f", f"{rel}/build.make", f"{rel}/cmake_pch.hxx.gch"], cwd=build, check=True,
                       stdout=subprocess.DEVNULL)


def check(command):
    cmd = re.sub(r" -o \S+", " -o /dev/null", command["command"]) + " -fsyntax-only"
    result = subprocess.run(cmd, shell=True, cwd=command["directory"], capture_output=True, text=True)
    return command["file"], result.returncode, result.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", nargs="?", default="HEAD~20")
    parser.add_argument("--build", default=os.path.join(ROOT, "build-standalone"))
    args = parser.parse_args()
    commands = configure(os.path.realpath(args.build))
    files = changed_sources(args.rev)
    chosen = [commands[os.path.realpath(f)] for f in files if os.path.realpath(f) in commands]
    print(f"{len(chosen)} file(s) changed since {args.rev} are in the build", flush=True)
    build_headers(os.path.realpath(args.build), chosen)
    failed = 0
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for file, code, err in pool.map(check, chosen):
            print(("ok    " if code == 0 else "FAILED ") + os.path.relpath(file, ROOT), flush=True)
            if code:
                failed += 1
                print("\n".join(line for line in err.splitlines() if "error" in line), flush=True)
    print(f"{failed} file(s) do not compile alone" if failed else "every changed file compiles alone")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
