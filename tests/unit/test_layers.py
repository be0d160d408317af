"""The layers' import contract (pyproject.toml) holds for the tree, and breaks the build when a
pure core module imports an adapter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=folder, capture_output=True, text=True, timeout=120
    )


def test_the_tree_keeps_its_import_contract() -> None:
    """What `make lint` runs: every contract kept."""
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


def test_a_core_module_importing_an_adapter_breaks_the_contract(tmp_path: Path) -> None:
    """A copy of the tree where the pure model imports the Firestore store fails the lint,
    naming the import."""
    for name in ("shared", "functions"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    model = tmp_path / "shared" / "core" / "model.py"
    model.write_text(model.read_text() + "\nfrom shared.adapters.stores import firestore  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode == 1
    assert "shared.core.model -> shared.adapters.stores.firestore" in result.stdout
