"""Put this backend's security rules fragment into a whole ruleset: the CVPlus app's (a rules
deploy replaces the project's whole ruleset, so the app's rules and ours must be one file), or
the standalone one this repository deploys to the emulator and CI.

    venv/bin/python -m tools.merge_rules firestore APP/firestore.rules -o merged/firestore.rules
    venv/bin/python -m tools.merge_rules storage APP/storage.rules -o merged/storage.rules
    venv/bin/python -m tools.merge_rules --standalone [--check]   # firestore.rules, storage.rules

The fragment (rules/firestore.video.rules, rules/storage.video.rules) goes first inside
``match /databases/{database}/documents`` (Firestore) or ``match /b/{bucket}/o`` (Storage).
Rules grant access when any matching rule allows it, so a merge is refused, naming the cause,
when the app's ruleset already matches one of the fragment's top-level paths, has a wildcard
match there that allows anything, or defines a function of the same name: the fragment could
not then keep those paths as protected as it says.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAGMENTS = {
    "firestore": ROOT / "rules" / "firestore.video.rules",
    "storage": ROOT / "rules" / "storage.video.rules",
}
STANDALONE = {
    "firestore": (ROOT / "rules" / "firestore.standalone.rules", ROOT / "firestore.rules"),
    "storage": (ROOT / "rules" / "storage.standalone.rules", ROOT / "storage.rules"),
}
ANCHORS = {
    "firestore": re.compile(r"match\s+/databases/\{\w+\}/documents\s*\{"),
    "storage": re.compile(r"match\s+/b/\{\w+\}/o\s*\{"),
}
SERVICES = {"firestore": "cloud.firestore", "storage": "firebase.storage"}
BEGIN = "// --- BEGIN cvplus-video rules (tools/merge_rules.py; do not edit here) ---"
END = "// --- END cvplus-video rules ---"
_MATCH = re.compile(r"match\s+(/[^\s]+)\s*\{")
_FUNCTION = re.compile(r"function\s+(\w+)\s*\(")
_ALLOW = re.compile(r"allow\s+[\w\s,]+?(?::\s*if\s+([^;]+))?;")


class MergeRefusedError(ValueError):
    """The app's ruleset cannot take the fragment as it is; the message says why."""


@dataclass(frozen=True)
class Block:
    """A ``match`` at the level scanned: its first path segment and its body's text."""

    segment: str
    body: str


def _blank(text: str) -> str:
    """``text`` with comments and string literals replaced by spaces (offsets kept)."""
    out = list(text)
    for found in re.finditer(
        r"//[^\n]*|/\*.*?\*/|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", text, re.S
    ):
        keep_quotes = found.group()[0] in "'\""
        for i in range(found.start() + keep_quotes, found.end() - keep_quotes):
            if out[i] != "\n":
                out[i] = " "
    return "".join(out)


def _closing(code: str, opening: int) -> int:
    """The index of the brace closing the one at ``opening``."""
    depth = 0
    for i in range(opening, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise MergeRefusedError("unbalanced braces")


def _children(code: str, start: int, end: int) -> tuple[list[Block], list[str]]:
    """The matches and functions directly inside ``code[start:end]`` (not nested deeper)."""
    blocks: list[Block] = []
    functions: list[str] = []
    i = start
    while i < end:
        if code[i] == "{":
            i = _closing(code, i) + 1
            continue
        match = _MATCH.match(code, i)
        if match:
            opening = match.end() - 1
            close = _closing(code, opening)
            blocks.append(Block(match.group(1).split("/")[1], code[opening + 1 : close]))
            i = close + 1
            continue
        function = _FUNCTION.match(code, i)
        if function:
            functions.append(function.group(1))
            opening = code.index("{", function.end())
            i = _closing(code, opening) + 1
            continue
        i += 1
    return blocks, functions


def _allows_anything(body: str) -> bool:
    return any((cond or "true").strip() != "false" for cond in _ALLOW.findall(body))


def merge(kind: str, app_rules: str, fragment: str) -> str:
    """``app_rules`` with ``fragment`` first in its documents (or bucket objects) block."""
    code = _blank(app_rules)
    if not re.search(rf"service\s+{re.escape(SERVICES[kind])}\s*\{{", code):
        raise MergeRefusedError(f"not a {SERVICES[kind]} ruleset")
    anchor = ANCHORS[kind].search(code)
    if anchor is None:
        raise MergeRefusedError(f"no {ANCHORS[kind].pattern} block to put the fragment in")
    if BEGIN in app_rules:
        raise MergeRefusedError("the ruleset already holds the cvplus-video fragment")
    opening = anchor.end() - 1
    app_blocks, app_functions = _children(code, opening + 1, _closing(code, opening))
    fragment_code = _blank(fragment)
    ours, our_functions = _children(fragment_code, 0, len(fragment_code))
    our_segments = {b.segment for b in ours}
    problems = [
        f"the app's rules already match /{b.segment}/ (the fragment's path)"
        for b in app_blocks
        if b.segment in our_segments
    ]
    problems += [
        f"the app's rules match /{b.segment}/ and allow access there, which would reach the "
        "fragment's paths too (rules grant access when any rule does)"
        for b in app_blocks
        if b.segment.startswith("{") and _allows_anything(b.body)
    ]
    problems += [
        f"the app's rules define function {name}()"
        for name in our_functions
        if name in app_functions
    ]
    if problems:
        raise MergeRefusedError("; ".join(problems))
    line_end = app_rules.index("\n", anchor.end()) + 1
    indent = " " * (len(app_rules[: anchor.start()].rsplit("\n", 1)[-1]) + 2)
    lines = [BEGIN, *fragment.strip("\n").splitlines(), END]
    inserted = "".join(f"{indent}{line}\n" if line.strip() else "\n" for line in lines)
    return app_rules[:line_end] + inserted + "\n" + app_rules[line_end:]


def standalone(kind: str) -> str:
    base, _ = STANDALONE[kind]
    return merge(kind, base.read_text(), FRAGMENTS[kind].read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", choices=sorted(FRAGMENTS))
    parser.add_argument("app_rules", nargs="?", type=Path, help="the app's rules file")
    parser.add_argument("-o", "--out", type=Path, help="write here (default: stdout)")
    parser.add_argument("--standalone", action="store_true", help="rewrite firestore/storage.rules")
    parser.add_argument("--check", action="store_true", help="with --standalone: fail if stale")
    args = parser.parse_args(argv)
    if args.standalone:
        stale = []
        for kind, (_, target) in STANDALONE.items():
            text = standalone(kind)
            if args.check:
                if not target.exists() or target.read_text() != text:
                    stale.append(target.name)
            else:
                target.write_text(text)
        if stale:
            print(
                f"stale: {', '.join(stale)}: run venv/bin/python -m tools.merge_rules --standalone"
            )
            return 1
        return 0
    if args.kind is None or args.app_rules is None:
        parser.error("give the kind and the app's rules file, or --standalone")
    try:
        merged = merge(args.kind, args.app_rules.read_text(), FRAGMENTS[args.kind].read_text())
    except MergeRefusedError as refused:
        print(f"refused: {args.app_rules}: {refused}", file=sys.stderr)
        return 1
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(merged)
    else:
        sys.stdout.write(merged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
