"""The wheel carries the course: `pip install .` into a clean virtualenv, then `course check` from elsewhere."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.packaging
def test_installed_wheel_checks_its_bundled_course(tmp_path):
    """A fresh venv with only the built package validates the course copy inside the wheel."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    # A real (non-editable) install with dependency resolution; pip's wheel cache keeps it to seconds.
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    # An empty working directory and a clean environment: nothing may lead back to the checkout.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"COURSE_DIR", "PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import course; print(course.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), f"imported course from {where.stdout.strip()}"

    check = subprocess.run(
        [str(bin_dir / "course"), "check"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # The bundled copy holds every exercise and lesson of the checkout, no more, no fewer.
    content = next(venv.glob("lib/python*/site-packages/course/_content"))
    for kind in ("exercises", "lessons"):
        bundled = sorted(p.name for p in (content / kind).iterdir())
        assert bundled == sorted(p.name for p in (REPO / kind).iterdir() if not p.name.startswith("."))
