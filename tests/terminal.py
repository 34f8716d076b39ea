"""Run a program in a real pseudo-terminal and read the screen a person would see.

The program gets a terminal of the given size on stdin, stdout and stderr (so it
draws what it draws for a person: progress bars, cursor moves); everything it writes
is fed to pyte, a terminal emulator, whose final screen is what was left to read.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pyte


def run_in_terminal(
    argv: list[str], *, columns: int = 80, rows: int = 200, timeout: float = 120
) -> tuple[int, bytes, str]:
    """(exit code, the raw bytes written, the final screen as text, rows joined by
    newlines and stripped at the right)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            process.kill()
            raise TimeoutError(f"{argv[0]} still running after {timeout} s")
        code = process.wait(timeout=timeout)
    finally:
        os.close(master)
    raw = b"".join(chunks)
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    stream.feed(raw)
    return code, raw, "\n".join(line.rstrip() for line in screen.display).rstrip()
