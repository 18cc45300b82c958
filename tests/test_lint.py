"""The code base stays clean under the project's ruff rules (pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install '.[test]')")
    targets = [d for d in ("gmmspeech", "tests", "benchmarks", "scripts") if (REPO / d).is_dir()]
    r = subprocess.run([ruff, "check", "--quiet", *targets], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
