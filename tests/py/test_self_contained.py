"""The repository stands alone: nothing that builds, tests, demos or benchmarks it may read a
`shared/` folder beside the clone (a user's `git clone` has none)."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"\.(c|h|py|sh|cmake|txt|in|yaml|yml)$|(^|/)(Makefile|Dockerfile|run)$")
PATTERN = re.compile(r"\.\./shared|parents\[3\]\s*/\s*[\"']shared")


def test_no_code_reads_a_shared_folder_beside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    offenders = []
    for rel in files:
        if not CODE.search(rel) or rel.startswith("tests/data/"):
            continue
        text = (ROOT / rel).read_text(errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if PATTERN.search(line) and rel != "tests/py/test_self_contained.py":
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "reads ../shared:\n" + "\n".join(offenders)
