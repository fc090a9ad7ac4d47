#!/usr/bin/env python3
"""Runs the recipes of a Markdown file as tests: each ```sh block followed by an ```output block.

usage: cookbook.py [--update] [--only REGEX] PPIPE_DIR REPO FILE.md...

Each recipe runs with bash in a scratch directory where `sample-data` and `tests` are the
repository's (so recipes name the files a reader of the repository has), with PPIPE_DIR first on
PATH (so `ppipe` is the built one). Its stdout must equal the output block byte for byte (a
recipe shows exit codes or stderr itself when they matter, e.g. `echo "exit $?"`). A recipe gets
60 s. --update rewrites the output blocks from the runs (then review the diff). Prints TAP-ish
lines `ok - FILE: TITLE` / `not ok - ...` and exits 1 when one failed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\w*)\s*$")


def recipes(text):
    """(title, sh, output, (start, end) of the output block's body lines) for each recipe."""
    lines = text.split("\n")
    blocks = []  # (lang, body, first body line, end line)
    title = ""
    titles = []
    i = 0
    while i < len(lines):
        heading = re.match(r"^#{2,4} (.*)", lines[i])
        if heading:
            title = heading.group(1).strip()
        m = FENCE.match(lines[i])
        if m:
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            blocks.append((m.group(1), "\n".join(lines[i + 1:j]), i + 1, j))
            titles.append(title)
            i = j + 1
            continue
        i += 1
    out = []
    for k, (lang, body, start, end) in enumerate(blocks):
        if lang == "sh" and k + 1 < len(blocks) and blocks[k + 1][0] == "output":
            nxt = blocks[k + 1]
            out.append((titles[k], body, nxt[1], (nxt[2], nxt[3])))
    return out, lines


def run(sh, ppipe_dir, repo):
    work = tempfile.mkdtemp(prefix="ppipe-cookbook-")
    try:
        for name in ("sample-data", "tests"):
            os.symlink(os.path.join(repo, name), os.path.join(work, name))
        env = dict(os.environ)
        env["PATH"] = ppipe_dir + os.pathsep + env.get("PATH", "")
        try:
            p = subprocess.run(["bash", "-c", "set -o pipefail\n" + sh], cwd=work, env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            return None, "timed out after 60 s"
        return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv):
    update = "--update" in argv
    argv = [a for a in argv if a != "--update"]
    only = None
    if "--only" in argv:
        k = argv.index("--only")
        only = re.compile(argv[k + 1])
        del argv[k:k + 2]
    ppipe_dir, repo, files = os.path.abspath(argv[0]), os.path.abspath(argv[1]), argv[2:]
    failed = 0
    count = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        found, lines = recipes(text)
        if not found:
            print(f"not ok - {path}: no recipes (```sh then ```output blocks) found")
            failed += 1
        replacements = []
        for title, sh, want, span in found:
            name = f"{os.path.basename(path)}: {title}"
            if only and not only.search(name):
                continue
            count += 1
            got, err = run(sh, ppipe_dir, repo)
            if got is None:
                print(f"not ok - {name}\n#   {err}")
                failed += 1
                continue
            got_block = got[:-1] if got.endswith("\n") else got
            if update:
                replacements.append((span, got_block))
                print(f"ok - {name} (updated)")
            elif got_block == want:
                print(f"ok - {name}")
            else:
                failed += 1
                print(f"not ok - {name}")
                import difflib
                diff = difflib.unified_diff(want.split("\n"), got_block.split("\n"), "expected", "actual", lineterm="")
                for line in list(diff)[:30]:
                    print(f"#   {line[:300]}")
                for line in err.strip().split("\n")[-5:]:
                    if line:
                        print(f"#   stderr: {line[:300]}")
        if update and replacements:
            for (start, end), body in sorted(replacements, reverse=True):
                lines[start:end] = body.split("\n") if body else []
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
    print(f"# {count - failed} of {count} recipes passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
