#!/usr/bin/env python3
"""The docs test (issue 26): README.md, CHANGELOG.md and every page under docs/.

* Every relative link resolves: the file exists, and a `#anchor` names a heading
  of that file (GitHub's slugs: lower case, punctuation dropped, spaces to `-`,
  a repeated heading gets `-1`, `-2`, ...).
* Every complete configuration, fenced ```toml, passes `sixfold check --config`.
  A part of one is fenced ```toml fragment and skipped; an example of refused
  input is fenced ```toml refused and must be refused (exit status 1).
* Every `sixfold ...` command line in a code block (sh, console, text, none)
  parses: it is run with SIXFOLD_PARSE_ONLY=1, which makes the binary stop after
  parsing its arguments (exit 0) or report clap's error (exit 2).
* docs/architecture.md's layout block and the tree agree: every path it names
  exists, and every module at the router's root, in base/ and router/ is named.
* With --subjects: every heading of the README as it was before the docs split
  (docs/readme-headings.txt, kept from commit 6bd0b0c's README) is found as a
  heading in README.md or docs/ -- nothing the old README covered is lost.

Usage: scripts/check-docs.py [--sixfold PATH] [--subjects] [--self-test]
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE)
    return text.replace(" ", "-")


def headings(md: str) -> list[tuple[int, str]]:
    """(level, text) of every ATX heading outside code blocks."""
    out, fence = [], None
    for line in md.splitlines():
        m = re.match(r"^(```+|~~~+)", line)
        if m:
            fence = None if fence and line.startswith(fence) else (fence or m.group(1))
            continue
        if fence:
            continue
        h = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if h:
            out.append((len(h.group(1)), h.group(2)))
    return out


def anchors(md: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, text in headings(md):
        s = slug(text)
        n = seen.get(s, 0)
        out.add(s if n == 0 else f"{s}-{n}")
        seen[s] = n + 1
    # Explicit HTML anchors.
    out |= set(re.findall(r'<a\s+(?:name|id)="([^"]+)"', md))
    return out


def blocks(md: str) -> list[tuple[str, str, int]]:
    """(info string, body, first line) of every fenced code block."""
    out, lines, k = [], md.splitlines(), 0
    while k < len(lines):
        m = re.match(r"^(```+|~~~+)\s*(.*)$", lines[k])
        if not m:
            k += 1
            continue
        fence, info, start = m.group(1), m.group(2).strip(), k + 1
        k += 1
        body = []
        while k < len(lines) and not lines[k].startswith(fence):
            body.append(lines[k])
            k += 1
        out.append((info, "\n".join(body) + "\n", start + 1))
        k += 1
    return out


def strip_code(md: str) -> str:
    """The text without fenced blocks and inline code (links there are examples)."""
    md = re.sub(r"(?ms)^(```+|~~~+).*?^\1\s*$", "", md)
    return re.sub(r"`[^`\n]*`", "", md)


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")


def check_links(path: Path, md: str, problems: list[str]) -> None:
    for m in LINK.finditer(strip_code(md)):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        where = f"{path.relative_to(ROOT)}: link {target}"
        if not dest.exists():
            problems.append(f"{where}: no such file {os.path.relpath(dest, ROOT)}")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
            problems.append(f"{where}: no heading #{anchor} in {os.path.relpath(dest, ROOT)}")


def check_toml(path: Path, md: str, sixfold: str, problems: list[str]) -> int:
    n = 0
    for info, body, line in blocks(md):
        words = info.split()
        if not words or words[0] != "toml" or "fragment" in words[1:]:
            continue
        refused = "refused" in words[1:]
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(body)
        try:
            r = subprocess.run([sixfold, "check", "--config", f.name], capture_output=True, text=True)
        finally:
            os.unlink(f.name)
        n += 1
        where = f"{path.relative_to(ROOT)}:{line}"
        if refused and r.returncode != 1:
            problems.append(f"{where}: a ```toml refused block that sixfold check does not refuse (exit {r.returncode})")
        elif not refused and r.returncode != 0:
            problems.append(
                f"{where}: sixfold check refuses this ```toml block (fence it `toml fragment` if it is a part, "
                f"`toml refused` if that is its point):\n    " + (r.stdout + r.stderr).strip().replace("\n", "\n    ")
            )
    return n


SHELLS = {"", "sh", "bash", "console", "shell", "text"}


def command_lines(body: str) -> list[str]:
    """The `sixfold …` invocations of a code block, prompts and continuations handled."""
    out, joined = [], body.replace("\\\n", " ")
    for line in joined.splitlines():
        line = re.sub(r"^\s*(\$|#)\s+", "", line.strip())
        for part in re.split(r"\s*(?:\|\||&&|\||;)\s*", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            while words and (re.match(r"^\w+=", words[0]) or words[0] in ("sudo", "env", "exec", "time")):
                words = words[1:]
            if words and words[0] in ("sixfold", "target/debug/sixfold", "target/release/sixfold", "./sixfold"):
                # Redirections end the arguments.
                args = []
                for w in words[1:]:
                    if re.match(r"^\d*[<>]", w) or w == "&":
                        break
                    args.append(w)
                out.append(args)
    return out


def check_commands(path: Path, md: str, sixfold: str, problems: list[str]) -> int:
    n = 0
    env = dict(os.environ, SIXFOLD_PARSE_ONLY="1")
    for info, body, line in blocks(md):
        kind = info.split()[0] if info.split() else ""
        if kind not in SHELLS:
            continue
        for args in command_lines(body):
            n += 1
            r = subprocess.run([sixfold, *args], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line}: `sixfold {' '.join(args)}` does not parse: "
                    + r.stderr.strip().splitlines()[0]
                )
    return n


def layout_paths(block: str) -> list[str]:
    """The paths a layout block names: `dir/` at column 0, then by indentation
    (two spaces a level) under the last directory above; in a comma list a bare
    name sits beside the item before it. The description follows two spaces."""
    parents: dict[int, str] = {}
    out = []
    for line in block.splitlines():
        if not line.strip() or len(line) - len(line.lstrip()) >= 20:
            continue  # a continuation of the description
        indent = len(line) - len(line.lstrip())
        items = re.split(r"\s{2,}", line.strip())[0]
        base = parents.get(indent - 2, "") if indent else ""
        prev_dir = base
        for item in re.split(r",\s*", items):
            if not re.match(r"^[\w./{}-]+$", item):
                break
            path = (base if "/" in item.rstrip("/") or item == items.split(",")[0] else prev_dir) + item
            out.append(path)
            prev_dir = path.rstrip("/").rsplit("/", 1)[0] + "/" if "/" in path.rstrip("/") else ""
            if item.endswith("/") and item == items.split(",")[0]:
                parents[indent] = path
    return out


def check_layout(problems: list[str]) -> int:
    """docs/architecture.md's layout and the tree agree: every path it names
    exists, and every module at the router's root, in base/ and in router/ is named."""
    page = ROOT / "docs" / "architecture.md"
    if not page.exists():
        return 0
    blocks_ = [b for info, b, _ in blocks(page.read_text()) if info == "text" and "reference-router/" in b]
    if not blocks_:
        problems.append("docs/architecture.md: no layout block")
        return 0
    named = layout_paths(blocks_[0])
    for p in named:
        if not (ROOT / p).exists():
            problems.append(f"docs/architecture.md: the layout names {p}, which does not exist")
    have = set(p.rstrip("/") for p in named)
    for d in ["reference-router/src", "reference-router/src/base", "reference-router/src/router"]:
        for f in sorted((ROOT / d).iterdir()):
            rel = f"{d}/{f.name}"
            if f.name in ("lib.rs", "mod.rs") and rel not in have:
                continue
            if rel not in have:
                problems.append(f"docs/architecture.md: the layout does not name {rel}")
    return len(named)


def pages() -> list[Path]:
    out = [ROOT / "README.md"]
    if (ROOT / "CHANGELOG.md").exists():
        out.append(ROOT / "CHANGELOG.md")
    out += sorted((ROOT / "docs").glob("**/*.md"))
    return out


def check_subjects(problems: list[str]) -> int:
    listed = ROOT / "docs" / "readme-headings.txt"
    have = set()
    for p in pages():
        have |= {slug(t) for _, t in headings(p.read_text())}
    n = 0
    for line in listed.read_text().splitlines():
        if not line.strip() or line.startswith("#!"):
            continue
        n += 1
        text = re.sub(r"^#+\s*", "", line)
        if slug(text) not in have:
            problems.append(f"the old README's heading {line!r} is in no page of docs/ (nor README.md)")
    return n


def self_test(sixfold: str) -> None:
    """The checks find what they should: a broken link, a missing anchor, a
    refused config, a refused example that is accepted, a command that does not
    parse; and pass a page without them."""
    global ROOT
    bad = """# Title

## A `code` heading, with punctuation!

[ok](#a-code-heading-with-punctuation) [gone](#nowhere) [file](other.md#sub) [none](missing.md)

```toml
[nat]
pool = ["203.0.113.1"]
bogus_key = 1
```

```toml refused
[nat]
pool = ["203.0.113.1"]
```

```toml fragment
this is not toml at all
```

```sh
$ sixfold lab --routers N
sixfold lab --routers 2 | head
```
"""
    other = "# Other\n\n## Sub\n"
    saved = ROOT
    with tempfile.TemporaryDirectory() as d:
        ROOT = Path(d)
        (ROOT / "docs").mkdir()
        (ROOT / "README.md").write_text(bad)
        (ROOT / "other.md").write_text(other)
        problems: list[str] = []
        md = bad
        check_links(ROOT / "README.md", md, problems)
        check_toml(ROOT / "README.md", md, sixfold, problems)
        check_commands(ROOT / "README.md", md, sixfold, problems)
        ROOT = saved
    block = "a/     x\n  src/b/    y\n    c.rs, d.rs   z\n                        more of z\n  src/e.rs, f.rs  w\n"
    got = layout_paths(block)
    if got != ["a/", "a/src/b/", "a/src/b/c.rs", "a/src/b/d.rs", "a/src/e.rs", "a/src/f.rs"]:
        print(f"docs self-test FAILED: the layout block read as {got}", file=sys.stderr)
        sys.exit(1)
    want = ["no heading #nowhere", "no such file missing.md", "sixfold check refuses", "toml refused block", "--routers N"]
    ok = len(problems) == len(want) and all(any(w in p for p in problems) for w in want)
    if not ok:
        print("docs self-test FAILED; found:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"docs self-test: the {len(want)} planted problems found, nothing else")


def main() -> None:
    argv = sys.argv[1:]
    sixfold = str(ROOT / "target" / "debug" / "sixfold")
    if "--sixfold" in argv:
        sixfold = argv[argv.index("--sixfold") + 1]
    if "--self-test" in argv:
        self_test(sixfold)
        return
    problems: list[str] = []
    configs = commands = 0
    for p in pages():
        md = p.read_text()
        check_links(p, md, problems)
        configs += check_toml(p, md, sixfold, problems)
        commands += check_commands(p, md, sixfold, problems)
    subjects = check_subjects(problems) if "--subjects" in argv else 0
    layout = check_layout(problems)
    for p in problems:
        print(p)
    if problems:
        print(f"\n{len(problems)} problem(s) in the docs", file=sys.stderr)
        sys.exit(1)
    print(
        f"docs: {len(pages())} pages, links resolve, {configs} configurations checked, "
        f"{commands} command lines parse, {layout} layout paths exist"
        + (f", {subjects} old README headings found" if subjects else "")
    )


if __name__ == "__main__":
    main()
