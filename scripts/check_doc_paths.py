#!/usr/bin/env python3
"""Checks that the links and file paths the docs mention exist.

Reads every Markdown file of the repository outside build/ (README.md,
docs/*.md, the folders' README.md) and checks:
  - Markdown links [text](target): the target file exists (relative to the
    Markdown file), and a #fragment names one of its headings;
  - sections named in the text (docs/kafka.md, "Warm start"): the file has a
    heading that starts with that name;
  - paths in the text, backticked or not (`engine/pipeline.h`,
    docs/kafka.md): a path with a '/' exists relative to the repository root
    or to the Markdown file's folder; a bare file name (`pipeline.h`) exists
    somewhere in the repository.
Paths under build/, ~/ and ../shared/ (made by a build, or outside the
repository), the few that the docs' commands make (SKIP_PREFIXES), URLs and
placeholders (NAME, PORT, FILE, *) are skipped.

Usage: scripts/check_doc_paths.py [REPO_ROOT]. Prints each missing path as
FILE:LINE: message and exits 1 when there is any.
"""

import os
import re
import sys

# Extensions of files a doc may name as part of the repository.
SOURCE_EXT = r"(?:h|cc|md|sh|py|proto|textproto|cmake|txt|json)"
# A path with at least one '/', ending in a known extension or '/'.
PATH_RE = re.compile(
    r"(?<![\w./~-])((?:\.\./|\./)?(?:[\w.-]+/)+(?:[\w.-]+\." + SOURCE_EXT + r"|))"
    r"(?![\w/-])")
# A bare file name in backticks: `pipeline.h`.
BARE_RE = re.compile(r"`([\w-]+\." + SOURCE_EXT + r")`")
LINK_RE = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# A section named in the text: docs/kafka.md, "Warm start".
SECTION_RE = re.compile(r"([\w./-]+\.md)\)?,? \"([^\"]+)\"")
SKIP_PREFIXES = ("build/", "~/", "../shared/", "http://", "https://", "/",
                 # Made by the commands the docs show (protoc --python_out=gen,
                 # scripts/kafka.sh --dir, Maven), or the compiler's own imports.
                 "gen/", "data/", "target/", "google/protobuf/",
                 # Google Benchmark filters, not paths.
                 "BM_")
# Besides the root and the Markdown file's folder, paths are looked up under
# these (`protoc -I proto ... ebb/v1/alert.proto`).
INCLUDE_ROOTS = ("proto",)
# Folders of things that are not part of the repository's own docs.
SKIP_DIRS = {"build", ".git"}


def slug(heading):
    """GitHub's anchor of a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def headings(path):
    anchors = set()
    in_code = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            elif not in_code and line.startswith("#"):
                anchors.add(slug(line.lstrip("#")))
    return anchors


def repo_files(root):
    names = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", "build")]
        names.update(filenames)
    return names


def markdown_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(".md"):
                yield os.path.join(dirpath, name)


def exists(root, md_dir, path):
    path = path.rstrip("/") or "/"
    return any(
        os.path.exists(os.path.normpath(os.path.join(base, path)))
        for base in (root, md_dir) +
        tuple(os.path.join(root, d) for d in INCLUDE_ROOTS))


def check(root):
    problems = []
    names = repo_files(root)
    for md in markdown_files(root):
        md_dir = os.path.dirname(md)
        rel = os.path.relpath(md, root)
        with open(md, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for number, line in enumerate(lines, 1):
            where = f"{rel}:{number}"
            for target in LINK_RE.findall(line):
                if target.startswith(("http://", "https://", "mailto:")):
                    continue
                file_part, _, fragment = target.partition("#")
                target_path = (os.path.normpath(os.path.join(md_dir, file_part))
                               if file_part else md)
                if not os.path.exists(target_path):
                    problems.append(f"{where}: link to a missing file: {target}")
                    continue
                if fragment and target_path.endswith(".md"):
                    if fragment not in headings(target_path):
                        problems.append(
                            f"{where}: link to a missing heading: {target}")
            text = LINK_RE.sub(" ", line)
            for path in PATH_RE.findall(text):
                if path.startswith(SKIP_PREFIXES) or "*" in path:
                    continue
                if any(re.fullmatch(r"[A-Z][A-Z_]+", part)
                       for part in path.split("/")):  # NAME, DIR: placeholders
                    continue
                if not exists(root, md_dir, path):
                    problems.append(f"{where}: missing path: {path}")
            for name in BARE_RE.findall(text):
                if name not in names and not exists(root, md_dir, name):
                    problems.append(f"{where}: no file of this name: {name}")
        # Section names may wrap onto the next line: read the file as one.
        flat = "\n".join(lines)
        for m in SECTION_RE.finditer(flat.replace("\n", " ")):
            doc, section = m.group(1), re.sub(r"\s+", " ", m.group(2))
            doc_path = next((os.path.normpath(os.path.join(base, doc))
                             for base in (md_dir, root)
                             if os.path.exists(os.path.join(base, doc))), None)
            wanted = slug(section)
            if doc_path is None or any(
                    h.startswith(wanted) for h in headings(doc_path)):
                continue
            number = flat.count("\n", 0, m.start()) + 1
            problems.append(f"{rel}:{number}: no section \"{section}\" in {doc}")
    return problems


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} missing link(s) or path(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
