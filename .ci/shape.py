#!/usr/bin/env python3
"""The codebase's shape, checked: no Rust file over 700 lines outside its inline test module, and
no import circle among the modules of any module.

A file's length counts every line up to its inline test module (`#[cfg(test)]`, maybe further
attributes, then `mod tests {`), which by convention closes the file.

An import is a `use` of, or a qualified path through, `crate::`, `super::`, `self::` or a child
module (`bearer::verify` in verify/mod.rs) that names a module held in another file of the same
crate; the path resolves to the deepest module that is a file of its own. A name under which
another crate's item is merely re-exported leads to that crate, not into the file.

The modules are read as a reader of one folder sees them: for each module (lib.rs, main.rs or a
mod.rs), its child modules are rooms, each taken whole (its file and every file below it), and a
room imports another when any file of the one imports any file of the other. A circle is rooms
of one folder that import each other, at any depth: `state` and `verify` are a circle when
state.rs imports verify/mod.rs and verify/bearer.rs imports state.rs. A parent file's own
arrows to and from its children are not counted: a module's face (mod.rs) declares and
assembles its children, which use what it defines. Cargo already forbids circles between
crates.

Usage: .ci/shape.py [REPO]   (exits 1 and names each breach)
"""

import re
import subprocess
import sys
from pathlib import Path

LIMIT = 700
# `#[cfg(test)]`, any further attributes (`#[expect(…)]`, over several lines too), `mod x {`.
TEST_MODULE = re.compile(
    r"^\s*#\[cfg\(test\)\](?:\s*#\[(?:[^\[\]]|\[[^\]]*\])*\])*\s*(pub(\(crate\))?\s+)?mod\s+\w+\s*\{",
    re.M,
)
PATH = re.compile(r"\b(crate|super|self)((?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))+)")
CHILD_PATH = re.compile(r"\b([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]*);", re.S)
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def tracked_rust_files(repo):
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "*.rs"], check=True, capture_output=True, text=True
    ).stdout
    return [repo / line for line in out.splitlines() if line]


def counted_lines(text):
    match = TEST_MODULE.search(text)
    if match:
        text = text[: match.start()]
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def module_of(src, path):
    """The module path of a file under a crate's `src/` (lib.rs and main.rs are the root)."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand_use(tree):
    """Every path a `use` tree names: `crate::a::{b, c::d}` -> crate::a::b, crate::a::c::d
    (a renaming `x as y` stays as `x@as@y`)."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@as@", tree))
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    paths = []
    for item in items:
        if item:
            paths.extend(expand_use(prefix + item))
    return paths


def resolve(here, head, rest, modules):
    """The file module a path names and the name it takes from it, or (None, None)."""
    segments = [s for s in rest.split("::") if s]
    if head == "crate":
        base = ()
    elif head == "self":
        base = here
    else:
        base = here[:-1]
    while segments and segments[0] == "super":
        base = base[:-1]
        segments = segments[1:]
    target = base
    found, name = (base, segments[0] if segments else None) if base in modules else (None, None)
    for i, segment in enumerate(segments):
        target = target + (segment,)
        if target in modules:
            found, name = target, segments[i + 1] if i + 1 < len(segments) else None
    return found, name


def foreign_names(text):
    """Names a file only re-exports from another crate (`pub use other::secrets;`): a path
    through them leads to that crate, not into this file."""
    names = set()
    for tree in re.findall(r"\buse\s+([^;]*);", text, re.S):
        for path in expand_use(tree):
            head = path.split("::")[0]
            if head in ("crate", "super", "self"):
                continue
            names.add(path.split("@as@")[-1].split("::")[-1])
    return names


def import_graph(src):
    files = {module_of(src, f): f for f in src.rglob("*.rs") if "bin" not in f.relative_to(src).parts}
    texts = {}
    for module, path in files.items():
        text = path.read_text(encoding="utf-8")
        match = TEST_MODULE.search(text)
        if match:
            text = text[: match.start()]
        texts[module] = STRING.sub('""', COMMENT.sub("", text))
    foreign = {module: foreign_names(text) for module, text in texts.items()}
    graph = {}
    for module, text in texts.items():
        named = []
        for tree in USE.findall(text):
            named.extend(path.split("@as@")[0] for path in expand_use(tree))
        named.extend(m.group(0) for m in PATH.finditer(USE.sub("", text)))
        # A path through a child module needs no prefix: `bearer::verify` in verify/mod.rs.
        children = {m[-1] for m in files if len(m) == len(module) + 1 and m[:-1] == module}
        for m in CHILD_PATH.finditer(text):
            if m.group(1) in children and text[max(0, m.start() - 2) : m.start()] != "::":
                named.append("self::" + m.group(0))
        edges = set()
        for name in named:
            head, _, rest = name.partition("::")
            target, name = resolve(module, head, "::" + rest, files)
            if target is not None and target != module and name not in foreign[target]:
                edges.add(target)
        graph[module] = edges
    return files, graph


def sibling_circles(graph):
    """Circles between the child modules of each module, each child taken whole (its file and
    every file below it): what a reader of one folder sees as rooms that import each other."""
    found = []
    parents = {m[:-1] for m in graph if m}
    for parent in sorted(parents):
        depth = len(parent)
        children = {}
        for a, targets in graph.items():
            if len(a) <= depth or a[:depth] != parent:
                continue
            for b in targets:
                if len(b) <= depth or b[:depth] != parent or a[depth] == b[depth]:
                    continue
                children.setdefault(a[depth], set()).add(b[depth])
        for component in circles(children):
            found.append((parent, component))
    return found


def circles(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def main():
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    breaches = []
    files = tracked_rust_files(repo)
    for path in files:
        lines = counted_lines(path.read_text(encoding="utf-8"))
        if lines > LIMIT:
            breaches.append(f"{path.relative_to(repo)}: {lines} lines outside its test module (limit {LIMIT})")
    crates = sorted({p.parent for p in repo.glob("**/Cargo.toml") if (p.parent / "src").is_dir()})
    for crate in crates:
        if "target" in crate.relative_to(repo).parts:
            continue
        names, graph = import_graph(crate / "src")
        for parent, component in sibling_circles(graph):
            where = names[parent].relative_to(repo) if parent in names else parent
            ring = " <-> ".join(sorted(component))
            breaches.append(f"import circle among the modules of {where}: {ring}")
    for breach in breaches:
        print(breach)
    print(f"shape: {len(files)} Rust files, {len(crates)} crates, {len(breaches)} breaches")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
