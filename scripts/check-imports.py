#!/usr/bin/env python3
"""The house rules for the workspace's Rust sources, checked (issue 26).

For every crate root (src/lib.rs, src/main.rs) of the workspace's members this
walks the module tree (`mod x;` declarations, `#[cfg(test)]` modules left out; the
roots: src/lib.rs, src/main.rs, src/bin/*.rs, benches/*.rs, fuzz_targets/*.rs),
reads every path a module names outside its test module -- `use crate::…`,
`use super::…`, `use self::…`, a child module's name, and the same paths written
inline (`crate::nat::tcp::established(…)`) -- and reports:

* circles: two modules that import from each other, directly or around a ring.
  An arrow between two files is lifted to the children of their lowest common
  ancestor (`crate::config::ipfix` → `crate::config::validate::range` is the arrow
  ipfix → validate inside `config`), so a circle is a ring among the siblings of
  one module, at any depth: `config` → `nat` and `nat` → `config` is a circle at
  the root even when the files involved differ.
* arrows back up: a module that names an item an ancestor above its parent defines
  itself (not one the ancestor re-exports from elsewhere: a re-export is followed to
  where the item lives) while that ancestor uses the module's branch -- a circle
  through two levels, e.g. `lab` calls `routers::run` and `lab::routers::probe`
  takes `SERVER_V4` from `lab`. The shared items belong in a leaf module the
  branch and its ancestor both import (`lab/args.rs`).
  A child may use its own parent's items: in Rust a child module is part of its
  parent's implementation (`router/ipv4.rs` holds `impl Router` for the `Router`
  that `router/mod.rs` declares, `rewrite`'s `translate/to_ipv4.rs` returns the
  parent's `Result`), and so is any module that writes `impl` blocks for an
  ancestor's type (`router/xlat/nat64.rs`'s `impl Router`): it may use that
  ancestor's items. And a branch may read an ancestor that never calls into it
  (`stats::exposition` renders the `stats::Snapshot` it is given).
* files longer than 600 lines before their inline test module;
* functions longer than 80 lines outside test modules.

Exit status 1 when anything is reported. `--self-test` runs the checker on a small
fixture with one of each violation and on a clean one, and fails unless it finds
exactly those.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_LINES = 600
MAX_FN_LINES = 80


# ---------------------------------------------------------------- lexing


def strip_code(text: str) -> str:
    """Blank out comments, strings and char literals, keeping every newline and
    every other character's position, so braces and paths can be found by regex."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        two = text[i : i + 2]
        if two == "//":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif two == "/*":
            depth, j = 1, i + 2
            while j < n and depth:
                if text[j : j + 2] == "/*":
                    depth, j = depth + 1, j + 2
                elif text[j : j + 2] == "*/":
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F}', '{'), not a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code: str, open_at: int) -> int:
    """Index of the `}` closing the `{` at `open_at` (in stripped code)."""
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


CFG_TEST = re.compile(r"#\[cfg\(\s*(test|all\(\s*test[^\]]*)\)\]")


def test_spans(code: str) -> list[tuple[int, int]]:
    """Character spans of items under `#[cfg(test)]` (inline modules, functions,
    impls, use lines), which the checks leave out."""
    spans = []
    for m in CFG_TEST.finditer(code):
        k = m.end()
        # The item the attribute covers: up to its `;` or its `{ … }`, whichever first.
        semi = code.find(";", k)
        brace = code.find("{", k)
        if brace >= 0 and (semi < 0 or brace < semi):
            spans.append((m.start(), matching_brace(code, brace) + 1))
        elif semi >= 0:
            spans.append((m.start(), semi + 1))
    return spans


def blank_spans(code: str, spans: list[tuple[int, int]]) -> str:
    chars = list(code)
    for a, b in spans:
        for k in range(a, min(b, len(chars))):
            if chars[k] != "\n":
                chars[k] = " "
    return "".join(chars)


# ---------------------------------------------------------------- modules


@dataclass
class Module:
    path: tuple[str, ...]  # ("config", "validate") for crate::config::validate
    file: Path
    code: str = ""  # stripped, test items blanked
    raw_code: str = ""  # stripped, test items kept (for spans)
    children: dict[str, "Module"] = field(default_factory=dict)
    # name -> absolute path the module's `use` declarations bind it to
    imports: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # names the module defines itself (fn, struct, const, …)
    items: set[str] = field(default_factory=set)
    inline: dict[str, "Module"] = field(default_factory=dict)


MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
INLINE_MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{", re.M)
ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:(?:const|async|unsafe|extern\s+\"C\")\s+)*"
    r"(fn|struct|enum|union|trait|type|const|static|macro_rules!)\s+(?:mut\s+)?(\w+)",
    re.M,
)
USE = re.compile(r"\buse\s+([^;]*);")


def load_module(path: tuple[str, ...], file: Path, modules: dict) -> Module:
    raw = strip_code(file.read_text())
    code = blank_spans(raw, test_spans(raw))
    mod = Module(path, file, code, raw)
    modules[path] = mod
    subdir = file.parent if file.name == "mod.rs" or not path else file.with_suffix("")
    # `#[path = "shared/feed.rs"] mod feed;` (fuzz targets): the file named.
    pathed = dict(
        (m.group(2), file.parent / m.group(1))
        for m in re.finditer(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', file.read_text())
    )
    for m in MOD_DECL.finditer(code):
        name = m.group(1)
        for cand in ([pathed[name]] if name in pathed else []) + [subdir / f"{name}.rs", subdir / name / "mod.rs"]:
            if cand.exists():
                mod.children[name] = load_module(path + (name,), cand, modules)
                break
    for m in INLINE_MOD.finditer(code):
        # An inline module's items count as the file's own; its name is a path step.
        mod.inline[m.group(1)] = mod
    for m in ITEM.finditer(code):
        mod.items.add(m.group(2))
    return mod


def parse_use_tree(s: str) -> list[tuple[list[str], str | None]]:
    """`a::{b, c::d as e, f::*}` → [(["a","b"], None), (["a","c","d"], "e"), (["a","f","*"], None)]."""
    s = re.sub(r"\s+", "", s)
    out: list[tuple[list[str], str | None]] = []

    def walk(prefix: list[str], t: str) -> None:
        if not t:
            return
        if t.startswith("{") and t.endswith("}"):
            depth, start = 0, 1
            for k, ch in enumerate(t):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                if (ch == "," and depth == 1) or k == len(t) - 1:
                    walk(prefix, t[start:k])
                    start = k + 1
            return
        head, sep, rest = t.partition("::")
        if sep and rest:
            walk(prefix + [head], rest)
            return
        alias = None
        if "as" in head and re.match(r"^[\w*]+as\w+$", head):
            head, alias = re.match(r"^([\w*]+?)as(\w+)$", head).groups()
        out.append((prefix + [head], alias))

    walk([], s)
    return out


def absolute(mod: Module, segs: list[str], root: Module) -> tuple[str, ...] | None:
    """The crate path `segs` names when written in `mod`, or None for an outside crate."""
    if not segs:
        return None
    cur = list(mod.path)
    if segs[0] == "crate":
        return tuple(segs[1:])
    if segs[0] in ("self", "super"):
        k = 0
        while k < len(segs) and segs[k] in ("self", "super"):
            if segs[k] == "super":
                cur = cur[:-1]
            k += 1
        return tuple(cur) + tuple(segs[k:])
    if segs[0] in mod.children or segs[0] in mod.inline:
        return tuple(cur) + tuple(segs)
    if segs[0] in mod.imports:
        return mod.imports[segs[0]] + tuple(segs[1:])
    return None


def collect_imports(mods: dict, root: Module) -> None:
    for mod in mods.values():
        for m in USE.finditer(mod.code):
            for segs, alias in parse_use_tree(m.group(1)):
                if segs[-1] == "*" or segs[-1] == "self":
                    continue
                p = absolute(mod, segs, root)
                if p is not None:
                    mod.imports[alias or segs[-1]] = p


def resolve(mods: dict, p: tuple[str, ...], seen=None) -> tuple[tuple[str, ...], str | None]:
    """The module that defines what `p` names, and the item name in it (None when
    `p` names a module). Re-exports are followed."""
    seen = seen or set()
    k = 0
    while k < len(p) and p[: k + 1] in mods:
        k += 1
    owner = p[:k]
    if k == len(p):
        return owner, None
    name = p[k]
    m = mods.get(owner)
    if m is not None and name in m.imports and name not in m.items and (owner, name) not in seen:
        seen.add((owner, name))
        return resolve(mods, m.imports[name] + p[k + 1 :], seen)
    return owner, name


IMPL = re.compile(r"\bimpl\s*(?:<[^>{]*>)?\s*(?:[\w:]+(?:<[^>{]*>)?\s+for\s+)?([\w:]+)")


def extended(mod: Module, mods: dict, root: Module) -> set[tuple[str, ...]]:
    """The modules whose own types `mod` writes `impl` blocks for: it is part of
    their implementation, as a child module is of its parent's."""
    out = set()
    for m in IMPL.finditer(mod.code):
        segs = m.group(1).split("::")
        if len(segs) == 1:
            if segs[0] in mod.imports:
                p = mod.imports[segs[0]]
            else:
                continue
        else:
            p = absolute(mod, segs, root)
            if p is None:
                continue
        owner, item = resolve(mods, p)
        if item is not None and item in mods[owner].items if owner in mods else False:
            out.add(owner)
    return out


PATH_REF = re.compile(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)")


def references(mod: Module, root: Module) -> list[tuple[tuple[str, ...], int]]:
    """Every crate path the module names outside its tests, with its line."""
    refs = []
    for m in USE.finditer(mod.code):
        line = mod.code.count("\n", 0, m.start()) + 1
        for segs, _ in parse_use_tree(m.group(1)):
            if segs[-1] in ("*", "self"):
                segs = segs[:-1]
            p = absolute(mod, segs, root)
            if p is not None:
                refs.append((p, line))
    no_use = USE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), mod.code)
    for m in PATH_REF.finditer(no_use):
        p = absolute(mod, m.group(1).split("::"), root)
        if p is not None:
            refs.append((p, no_use.count("\n", 0, m.start()) + 1))
    # A child or imported module used by name (`table::Table::new()`).
    for m in re.finditer(r"(?<![\w:])(\w+)::\w+", no_use):
        name = m.group(1)
        if name in ("crate", "super", "self", "Self"):
            continue
        line = no_use.count("\n", 0, m.start()) + 1
        if name in mod.children:
            refs.append((mod.path + (name,), line))
        elif name in mod.imports and mod.imports[name] in MODS_CURRENT:
            refs.append((mod.imports[name], line))
    return refs


MODS_CURRENT: dict = {}


def fmt(p: tuple[str, ...]) -> str:
    return "::".join(("crate",) + p)


def check_crate(root_file: Path, rel) -> list[str]:
    global MODS_CURRENT
    mods: dict[tuple[str, ...], Module] = {}
    root = load_module((), root_file, mods)
    MODS_CURRENT = mods
    collect_imports(mods, root)
    problems = []
    seen_up: set = set()
    edges: dict[tuple[str, ...], dict[tuple[str, ...], tuple[Path, int]]] = {}
    refs = {m.path: [(resolve(mods, p), line) for p, line in references(m, root)] for m in mods.values()}
    extends = {m.path: extended(m, mods, root) for m in mods.values()}
    uses = {path: {owner for (owner, _), _ in r} for path, r in refs.items()}
    for mod in mods.values():
        for (owner, item), line in refs[mod.path]:
            if owner == mod.path or owner not in mods:
                continue
            a, b = mod.path, owner
            if a[: len(b)] == b:
                # b is an ancestor of a: fine when it names one of b's child modules
                # (or nothing b defines itself), an arrow back up when it is b's own item.
                branch = a[: len(b) + 1]
                if (
                    len(b) < len(a) - 1
                    and any(u[: len(branch)] == branch for u in uses[b])
                    and b not in extends[a]
                    and item is not None
                    and item in mods[b].items
                    and (a, b, item) not in seen_up
                ):
                    seen_up.add((a, b, item))
                    problems.append(
                        f"arrow back up: {rel(mod.file)}:{line}: {fmt(a)} uses {fmt(b)}::{item}, "
                        f"which its ancestor {rel(mods[b].file)} defines"
                    )
                continue
            if b[: len(a)] == a:
                continue  # down into a descendant
            k = 0
            while k < min(len(a), len(b)) and a[k] == b[k]:
                k += 1
            lca, x, y = a[:k], a[: k + 1], b[: k + 1]
            edges.setdefault(lca, {}).setdefault(x, {}).setdefault(y, (mod.file, line, a, b))
    for lca, graph in sorted(edges.items()):
        for ring, comp in cycles(graph):
            steps = []
            for i, x in enumerate(ring):
                y = ring[(i + 1) % len(ring)]
                file, line, a, b = graph[x][y]
                steps.append(f"{x[-1]} → {y[-1]} ({rel(file)}:{line}: {fmt(a)} uses {fmt(b)})")
            members = ", ".join(sorted(m[-1] for m in comp))
            problems.append(f"circle in {fmt(lca)} among {{{members}}}: " + "; ".join(steps))
    for mod in mods.values():
        problems += lengths(mod, rel)
    return problems


def cycles(graph: dict) -> list[list]:
    """One ring per strongly connected component with more than one member (Tarjan),
    walked from its smallest member so the report names an actual circle."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                strong(w)
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
            if len(comp) > 1:
                comps.append(set(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    rings = []
    for comp in comps:
        start = min(comp)
        # Shortest way back to start inside the component (BFS).
        prev, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph.get(v, {})):
                    if w not in comp:
                        continue
                    if w == start:
                        found = v
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        ring, v = [], found
        while v is not None:
            ring.append(v)
            v = prev[v]
        rings.append((list(reversed(ring)), comp))
    return rings


FN = re.compile(r"(?<![\w])fn\s+(\w+)")


def lengths(mod: Module, rel) -> list[str]:
    problems = []
    raw = mod.raw_code
    spans = test_spans(raw)
    # The file's length before its inline test module: the first `#[cfg(test)]`
    # whose item is a `mod … {`.
    body = raw.count("\n") + 1
    for a, b in spans:
        if re.match(r"#\[cfg\([^\]]*\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", raw[a:b]):
            body = raw.count("\n", 0, a)
            break
    if body > MAX_FILE_LINES:
        problems.append(f"file too long: {rel(mod.file)}: {body} lines before its test module (at most {MAX_FILE_LINES})")
    code = mod.code
    for m in FN.finditer(code):
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue  # a declaration without a body
        end = matching_brace(code, brace)
        start_line = code.count("\n", 0, m.start()) + 1
        n = code.count("\n", m.start(), end) + 1
        if n > MAX_FN_LINES:
            problems.append(
                f"fn too long: {rel(mod.file)}:{start_line}: fn {m.group(1)} is {n} lines (at most {MAX_FN_LINES})"
            )
    return problems


# ---------------------------------------------------------------- driver


def crate_roots(workspace: Path) -> list[Path]:
    members = re.search(r"members\s*=\s*\[([^\]]*)\]", (workspace / "Cargo.toml").read_text())
    roots = []
    for m in re.findall(r'"([^"]+)"', members.group(1)):
        for name in ("lib.rs", "main.rs"):
            f = workspace / m / "src" / name
            if f.exists():
                roots.append(f)
        # Binaries, benches and fuzz targets are crate roots of their own.
        for d in ("src/bin", "benches", "fuzz_targets"):
            roots += sorted((workspace / m / d).glob("*.rs"))
    return roots


def run(workspace: Path) -> list[str]:
    problems = []
    rel = lambda f: os.path.relpath(f, workspace)
    for root in crate_roots(workspace):
        problems += check_crate(root, rel)
    return problems


def self_test() -> None:
    bad = {
        "Cargo.toml": 'members = ["a"]\n',
        "a/src/lib.rs": "mod x;\nmod y;\nmod lab;\nmod long;\npub use x::Thing;\n",
        # A circle x ↔ y, one arrow inline (`crate::y::f()`).
        "a/src/x.rs": "use crate::y::Other;\npub struct Thing;\npub fn g(_: Other) {}\n",
        "a/src/y.rs": "pub struct Other;\npub fn f() { crate::x::g(Other) }\n",
        # lab/mod.rs defines Args and CONST; lab/routers.rs takes CONST back up
        # (Thing is a re-export of x's, which is no arrow back up).
        "a/src/lab/mod.rs": "mod sub;\nmod leaf;\npub use leaf::Leafy;\npub struct Args;\npub const CONST: u8 = 1;\npub fn run() { sub::s(Args) }\n"
        "#[cfg(test)]\nmod tests {\n    use super::routers::*;\n}\n",
        "a/src/lab/sub/mod.rs": "mod routers;\nuse super::Args;\npub fn s(_: Args) {}\n",
        "a/src/lab/sub/routers.rs": "use crate::lab::{CONST, Leafy};\nuse crate::Thing;\n// use super::super::Args; (a comment)\n"
        'const S: &str = "super::Args";\npub fn r() -> u8 { CONST }\n'
        "#[cfg(test)]\nmod tests {\n    use super::super::super::Args;\n}\n",
        "a/src/lab/leaf.rs": "pub struct Leafy;\n",
        # 601 lines before the tests, and a fn of 81 lines; a long test fn is fine.
        "a/src/long.rs": "pub fn big() {\n" + "    let _ = 1;\n" * 79 + "}\n" + "\n" * 520
        + "#[cfg(test)]\nmod tests {\n    fn t() {\n" + "        let _ = 1;\n" * 100 + "    }\n}\n",
    }
    good = {
        "Cargo.toml": 'members = ["a"]\n',
        "a/src/lib.rs": "mod x;\nmod y;\nmod lab;\nmod hub;\n",
        # hub/part/deep.rs extends Hub (impl Hub): part of its implementation.
        "a/src/hub/mod.rs": "mod part;\npub struct Hub {\n    n: u8,\n}\npub struct Verdict;\npub fn go(h: &Hub) -> u8 {\n    part::deep::get(h)\n}\n",
        "a/src/hub/part/mod.rs": "pub mod deep;\n",
        "a/src/hub/part/deep.rs": "use crate::hub::{Hub, Verdict};\nimpl Hub {\n    pub fn v(&self) -> Verdict {\n        Verdict\n    }\n}\npub fn get(h: &Hub) -> u8 {\n    h.n\n}\n",
        "a/src/x.rs": "use crate::y::Other;\npub fn g(_: Other) {}\n",
        "a/src/y.rs": "pub struct Other;\n#[cfg(test)]\nmod tests {\n    use crate::x::g;\n}\n",
        "a/src/lab/mod.rs": "mod routers;\nmod args;\nmod sub;\npub use args::{Args, CONST};\npub struct Own;\n",
        "a/src/lab/sub/mod.rs": "mod deep;\nuse super::Own;\npub fn s(_: Own) {}\n",
        "a/src/lab/sub/deep.rs": "use crate::lab::{Args, CONST, Own};\npub fn d(_: Args, _: Own) -> u8 { CONST }\n",
        "a/src/lab/args.rs": "pub struct Args;\npub const CONST: u8 = 1;\n",
        "a/src/lab/routers.rs": "use super::args::CONST;\nuse super::Args;\npub fn r(_: Args) -> u8 { CONST }\n"
        "pub fn exactly80() {\n" + "    let _ = 1;\n" * 78 + "}\n",
    }
    with tempfile.TemporaryDirectory() as d:
        for name, files in (("bad", bad), ("good", good)):
            base = Path(d) / name
            for f, text in files.items():
                (base / f).parent.mkdir(parents=True, exist_ok=True)
                (base / f).write_text(text)
        got_bad = run(Path(d) / "bad")
        got_good = run(Path(d) / "good")
    want = [
        ("arrow back up: a/src/lab/sub/routers.rs:1: crate::lab::sub::routers uses crate::lab::CONST", 1),
        ("circle in crate among {x, y}: x → y (a/src/x.rs:1: crate::x uses crate::y); y → x (a/src/y.rs:2", 1),
        ("file too long: a/src/long.rs: 601 lines", 1),
        ("fn too long: a/src/long.rs:1: fn big is 81 lines", 1),
    ]
    ok = len(got_bad) == len(want) and not got_good
    for prefix, count in want:
        if sum(p.startswith(prefix) for p in got_bad) != count:
            ok = False
    if not ok:
        print("self-test FAILED", file=sys.stderr)
        print("on the bad fixture:", *got_bad, sep="\n  ", file=sys.stderr)
        print("on the good fixture:", *got_good, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"self-test: {len(got_bad)} violations found in the bad fixture as expected, none in the good one")


def main() -> None:
    if "--self-test" in sys.argv:
        self_test()
        return
    workspace = Path(__file__).resolve().parent.parent
    problems = run(workspace)
    for p in problems:
        print(p)
    if problems:
        print(f"\n{len(problems)} problem(s): see scripts/check-imports.py for the rules", file=sys.stderr)
        sys.exit(1)
    print("imports: no circle, no arrow back up; no file over 600 lines, no fn over 80")


if __name__ == "__main__":
    main()
