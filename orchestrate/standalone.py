"""Run `airflow standalone` so that Ctrl-C stops all of it: `meltano invoke airflow:standalone`.

Ctrl-C in a terminal signals the whole foreground process group. Airflow 3.3's standalone then
stops badly: its scheduler gets SIGINT from the terminal and SIGTERM from standalone, takes the
second signal as "do not wait", and hangs at exit joining LocalExecutor workers that were never
told to stop; Meltano has exited by then, so the prompt returns with Airflow still holding port
8080. Here Airflow runs in a process group of its own, and the first Ctrl-C (or SIGTERM) is passed
to the standalone process alone, which stops each component once, cleanly. Whatever is still
running STOP_TIMEOUT_S later, or at a second Ctrl-C, is killed.
"""

# ruff: noqa: INP001  (a script run by path, not part of a package)

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

STOP_TIMEOUT_S = 60
AIRFLOW = Path(sys.executable).with_name("airflow")


def _kill_group(leader_pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # nothing left to kill
        os.killpg(leader_pid, signal.SIGKILL)


def main() -> int:
    """Run `airflow standalone` with the given extra arguments until it exits or is stopped."""
    airflow = subprocess.Popen([str(AIRFLOW), "standalone", *sys.argv[1:]], start_new_session=True)
    stop_requested_at: list[float] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stop_requested_at:
            stop_requested_at.append(time.monotonic())
            airflow.send_signal(signal.SIGINT)  # standalone's own, orderly shutdown
        else:
            kill_all(f"signal {signal.Signals(signum).name} again")

    def kill_all(reason: str) -> None:
        sys.stderr.write(f"standalone.py: {reason}: killing what is left of Airflow\n")
        _kill_group(airflow.pid)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    while True:
        try:
            returncode = airflow.wait(timeout=1)
            break
        except subprocess.TimeoutExpired:
            if stop_requested_at and time.monotonic() - stop_requested_at[0] > STOP_TIMEOUT_S:
                kill_all(f"still running {STOP_TIMEOUT_S} s after the stop request")
    # The components are standalone's children, in its group: none may outlive it.
    _kill_group(airflow.pid)
    return 0 if stop_requested_at else returncode


if __name__ == "__main__":
    sys.exit(main())
