"""Running the bt program: where it is, and its errors as exceptions."""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Sequence


class BacktestError(RuntimeError):
    """bt failed; the message is the program's own (key, file, line, what to do)."""

    def __init__(self, message: str, returncode: int = 1, command: Sequence[str] = ()):
        super().__init__(message)
        self.returncode = returncode
        self.command = list(command)


def bt_path() -> str:
    """The bt program: $BT_BIN, else $BT_BIN_DIR/bt, else bt on PATH."""
    if os.environ.get("BT_BIN"):
        return os.environ["BT_BIN"]
    if os.environ.get("BT_BIN_DIR"):
        return os.path.join(os.environ["BT_BIN_DIR"], "bt")
    found = shutil.which("bt")
    if not found:
        raise BacktestError("cannot find the bt program: install it (cmake --install build) or "
                            "set BT_BIN=/path/to/bt")
    return found


def run_bt(args: Sequence[str], ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess:
    """Runs bt with args; raises BacktestError with bt's stderr unless the exit code is in ok."""
    cmd = [bt_path(), *args]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in ok:
        msg = "\n".join(line for line in p.stderr.splitlines()
                        if not line[:2].isdigit() or " error" in line or " warn" in line)
        raise BacktestError(msg.strip() or f"bt exited with {p.returncode}", p.returncode, cmd)
    return p
