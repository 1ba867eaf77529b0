#!/usr/bin/env python3
"""Compare two reproduction results.json files number for number.

    python3 docs/reproductions/compare_results.py OLD NEW [--ignore a.b.c ...] [--common-cells]

Drops `git_revision` (always) and every `--ignore` dotted path from both files, then compares the
rest exactly (floats are compared as parsed f64, i.e. bit for bit). `--common-cells` compares only
the cells present in both and nothing else; NEW may then be a run folder (its `cells/*.json`),
for a run that has not finished every cell.
Exit status 0 when identical.
"""
import json
import sys


def drop(obj, path):
    head, _, rest = path.partition(".")
    if isinstance(obj, dict) and head in obj:
        if rest:
            drop(obj[head], rest)
        else:
            del obj[head]


def diff(a, b, path, out):
    if type(a) is not type(b):
        out.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'new' if k in b else 'old'}")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")


def load(p):
    """A results.json, or a run folder whose cells/*.json are read as the cells of a partial run."""
    import os

    if os.path.isdir(p):
        cells = []
        for f in sorted(os.listdir(os.path.join(p, "cells"))):
            if f.endswith(".json"):
                c = json.load(open(os.path.join(p, "cells", f)))
                cells.append({k: c[k] for k in ("id", "config", "result")})
        return {"cells": cells}
    return json.load(open(p))


def main():
    args = sys.argv[1:]
    common = "--common-cells" in args
    args = [a for a in args if a != "--common-cells"]
    ignore = ["git_revision"]
    while "--ignore" in args:
        i = args.index("--ignore")
        ignore.append(args[i + 1])
        del args[i : i + 2]
    old, new = (load(p) for p in args[:2])
    for p in ignore:
        drop(old, p)
        drop(new, p)
    if common:
        ids = {c["id"] for c in old["cells"]} & {c["id"] for c in new["cells"]}
        for d in (old, new):
            d["cells"] = sorted((c for c in d["cells"] if c["id"] in ids), key=lambda c: c["id"])
            for k in [k for k in d if k != "cells"]:
                del d[k]
        print(f"comparing {len(ids)} common cells")
    out = []
    diff(old, new, "", out)
    for line in out:
        print(line)
    print("identical" if not out else f"{len(out)} differences")
    sys.exit(1 if out else 0)


main()
