#!/usr/bin/env python3
"""Prints the parrot crate's module dependency graph and checks it has no
cycles: between the top-level modules, and between the sibling modules of
every directory. Test code (`tests.rs`, `#[cfg(test)]` modules,
`test_support.rs`) is left out: tests may reach anywhere.

It also checks that the sans-IO floors (message, transaction, dialog,
proxy, auth, sdp, the protocol logic of media (all of it but the
UDP sessions and port binding), the rules of locate: locate::select,
locate::records and locate::error, and the call-flow renderer
trace::ladder) name no tokio item: they perform no I/O and read no
clock, so tests drive them directly. An entry names a module and
everything below it.

Usage: scripts/module-deps.py [SRC_DIR]   (default parrot/src)
Exit status 1 when a cycle or a sans-IO module using tokio is found.
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "parrot", "src")
TEST_FILES = {"tests.rs", "test_support.rs"}
SANS_IO = {"message", "transaction", "dialog", "proxy", "auth", "sdp",
           "media::rtp", "media::rtcp", "media::receive", "media::jitter",
           "media::conceal", "media::g711", "media::dtmf", "media::tone",
           "media::wav", "media::negotiate", "media::latch", "media::pacer",
           "locate::select", "locate::records", "locate::error",
           "trace::ladder"}


def module_of(path):
    """The module path of a source file, e.g. ['server', 'handler']."""
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return rel


def strip_tests(src):
    """Drops `#[cfg(test)]` items (a module or a function) from the text."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", src):
        if m.start() < i:
            continue
        out.append(src[i:m.start()])
        j = m.end()
        semi, brace = src.find(";", j), src.find("{", j)
        if brace == -1 or (semi != -1 and semi < brace):
            i = semi + 1
            continue
        depth = 0
        for k in range(brace, len(src)):
            if src[k] == "{":
                depth += 1
            elif src[k] == "}":
                depth -= 1
                if depth == 0:
                    i = k + 1
                    break
    out.append(src[i:])
    return "".join(out)


def strip_comments(src):
    return re.sub(r"//[^\n]*", "", src)


def references(path, mod):
    """Module paths a file names: `crate::a::b` and `super::b`."""
    src = strip_comments(strip_tests(open(path, encoding="utf-8").read()))
    refs = set()
    for t in re.findall(r"\bcrate::((?:\w+::)*\w+)", src):
        refs.add(tuple(t.split("::")))
    # `super` of a file `a/b.rs` (module a::b) is `a`; of `a/mod.rs` too
    # is a's parent — module_of already maps mod.rs to `a`.
    for t in re.findall(r"\bsuper::((?:\w+::)*\w+)", src):
        refs.add(tuple(mod[:-1] + t.split("::")))
    return refs


def collect():
    files = {}
    for d, _, fs in os.walk(ROOT):
        for f in fs:
            if f.endswith(".rs") and f not in TEST_FILES:
                p = os.path.join(d, f)
                files[p] = module_of(p)
    modules = {tuple(m) for m in files.values()}
    return files, modules


def sccs(nodes, edges):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    files, modules = collect()
    # Edges between siblings under the same parent, at every level.
    edges = {}
    for path, mod in files.items():
        for ref in references(path, mod):
            # The longest known module the reference names.
            target = None
            for k in range(len(ref), 0, -1):
                if tuple(ref[:k]) in modules:
                    target = ref[:k]
                    break
            if target is None:
                continue
            # The first level where source and target part ways.
            common = 0
            while (common < len(mod) and common < len(target)
                   and mod[common] == target[common]):
                common += 1
            if common == len(mod) or common == len(target):
                continue  # a module and its own ancestor or descendant
            a = tuple(mod[:common + 1])
            b = tuple(target[:common + 1])
            edges.setdefault(tuple(mod[:common]), {}).setdefault(a, set()).add(b)
    bad = False
    for parent in sorted(edges):
        level = edges[parent]
        nodes = {n for n in level} | {m for s in level.values() for m in s}
        name = "::".join(parent) or "crate"
        print(f"{name}:")
        comps = sccs(nodes, level)
        # Tarjan yields components in reverse topological order: the
        # lowest floor first.
        for comp in comps:
            label = ", ".join("::".join(c[len(parent):]) for c in sorted(comp))
            deps = sorted({"::".join(d[len(parent):]) for c in comp
                           for d in level.get(c, ()) if d not in comp})
            if len(comp) > 1:
                bad = True
                print(f"  CYCLE {{{label}}} -> {', '.join(deps) or '-'}")
            else:
                print(f"  {label} -> {', '.join(deps) or '-'}")
    for path, mod in sorted(files.items()):
        if any("::".join(mod[:k]) in SANS_IO for k in range(1, len(mod) + 1)):
            src = strip_comments(strip_tests(open(path, encoding="utf-8").read()))
            if re.search(r"\btokio\b", src):
                bad = True
                print(f"sans-IO module {'::'.join(mod)} uses tokio ({path})")
    print("sans-IO floors: " + ", ".join(sorted(SANS_IO)))
    if bad:
        print("module dependency cycles or sans-IO violations found", file=sys.stderr)
        return 1
    print("no cycles: each module above uses only modules listed before it; "
          "the sans-IO floors use no tokio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
