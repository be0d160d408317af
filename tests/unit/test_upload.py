"""What `firebase deploy` uploads for the functions: firebase-tools' own packaging (its
fsAsync.readdirRecursive with firebase.json's ignore list, tools/upload-list.cjs) run under node.
A custom ignore list replaces firebase-tools' default, so anything it forgets is uploaded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTER = ROOT / "tools" / "upload-list.cjs"
FIREBASE_TOOLS = ROOT / "tools" / "node_modules" / "firebase-tools" / "lib" / "fsAsync.js"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not FIREBASE_TOOLS.exists(),
    reason="needs node and tools/node_modules (make install)",
)

# What the functions need at run time: the code, the requirements and their lock, the
# dashboard page's static files (functions/dashboard_page.py serves web/dashboard).
RUNTIME = re.compile(
    r"main\.py|requirements\.txt|requirements\.lock|functions/\w+\.py"
    r"|shared/(\w+/)*\w+\.py|web/dashboard/[\w.-]+\.(html|css|js)"
)
SECRET = re.compile(r"(^|/)(\.env|\.secret|.*\.(pem|key|p12)$|.*credentials.*|.*service.?account)")
DEV = re.compile(
    r"(^|/)(tests?|bench|tools|docs|\.benchmarks|\.coverage|htmlcov|\.ci|venv|node_modules"
    r"|__pycache__|\.\w+_cache|\.hypothesis|run)(/|$)|requirements-\w+|\.md$|\.pyc$|(^|/)\.git"
)


def upload_list(project: Path, codebase: str = "video") -> list[str]:
    done = subprocess.run(
        ["node", str(LISTER), str(project), codebase],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


def flagged(paths: list[str]) -> list[str]:
    """The paths that look like a secret or a development file, or that the runtime needs not."""
    return [p for p in paths if SECRET.search(p) or DEV.search(p) or not RUNTIME.fullmatch(p)]


def test_the_upload_holds_the_runtime_files_and_nothing_else() -> None:
    """Every uploaded file is code, requirements or a dashboard asset; the entry points are in."""
    uploaded = upload_list(ROOT)
    assert flagged(uploaded) == []
    assert {"main.py", "requirements.txt", "requirements.lock"} <= set(uploaded)
    assert "functions/jobs.py" in uploaded
    assert "web/dashboard/index.html" in uploaded


def test_secrets_and_dev_files_planted_in_the_project_are_not_uploaded(tmp_path: Path) -> None:
    """The local stack's .secret.local, .env files, benchmark and coverage data, nested tests;
    firebase-tools' default list (node_modules, .git) would upload every one."""
    (tmp_path / "firebase.json").write_text((ROOT / "firebase.json").read_text())
    planted = [
        ".secret.local",
        ".env.local",
        ".env.demo-cvplus",
        ".benchmarks/Linux/0001.json",
        ".coverage",
        ".coverage.host.1234",
        "htmlcov/index.html",
        "docs/OPERATIONS.md",
        "requirements-dev.txt",
        "shared/core/tests/test_x.py",
        "shared/core/__pycache__/x.cpython-311.pyc",
        "tools/stack/_stack.py",
        "web/client/index.ts",
        "run/stack.log",
        "firebase-debug.log",
    ]
    kept = ["main.py", "requirements.txt", "shared/core/x.py", "web/dashboard/app.js"]
    for name in planted + kept:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert upload_list(tmp_path) == sorted(kept)

    config = json.loads((ROOT / "firebase.json").read_text())
    del config["functions"][0]["ignore"]
    (tmp_path / "firebase.json").write_text(json.dumps(config))
    with_defaults = upload_list(tmp_path)
    assert set(flagged(with_defaults)) == set(planted) - {"firebase-debug.log"} | {"firebase.json"}


def test_no_ignore_pattern_drops_a_file_the_runtime_needs() -> None:
    """Slash-less patterns match a name at any depth (``tests`` drops shared/x/tests too): every
    tracked file of the runtime's folders is uploaded."""
    runtime = [
        "main.py",
        "requirements.txt",
        "requirements.lock",
        "functions",
        "shared",
        "web/dashboard",
    ]
    tracked = subprocess.run(
        ["git", "ls-files", *runtime],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert len(tracked) > 50
    assert set(tracked) - set(upload_list(ROOT)) == set()
