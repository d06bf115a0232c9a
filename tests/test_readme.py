"""The commands the README shows work as shown, in the environment `./scripts/run` leaves behind."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from web.manage import upgrade

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_readme_admin_command_works_as_shown(tmp_path):
    """`... course user create --role admin ...` from the README makes an admin, with no SECRET_KEY exported.

    The shell after `./scripts/run` has neither SECRET_KEY nor APP_ENV: the README command must carry what it
    needs. The database is a scratch copy; the command itself is run word for word from the README.
    """
    (line,) = [ln for ln in README.splitlines() if "course user create --role admin" in ln and "`" not in ln]
    words = shlex.split(line)
    env_assignments = {w.split("=", 1)[0]: w.split("=", 1)[1] for w in words if re.fullmatch(r"[A-Z_]+=\S*", w)}
    command = [w for w in words if w not in {f"{k}={v}" for k, v in env_assignments.items()}]
    assert command[0] == ".venv/bin/course"
    command[0] = str(Path(sys.executable).parent / "course")  # the suite's own virtualenv
    url = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "APP_ENV", "FLASK_ENV")}
    env.update(env_assignments, DATABASE_URL=url)
    result = subprocess.run(command, cwd=REPO, env=env, input="an-admin-password-1\n", capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "created admin you@example.org" in result.stdout
