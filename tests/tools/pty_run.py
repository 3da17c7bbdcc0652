#!/usr/bin/env python3
"""Run a command on a pseudo-terminal of a given width, as a person's terminal would.

    pty_run.py COLS TIMEOUT_S RAW_OUT SCREEN_OUT -- CMD [ARGS...]

RAW_OUT gets every byte the command wrote (stdout and stderr share the terminal);
SCREEN_OUT gets what the terminal shows at the end: \\r, \\n, ESC[K (clear to end of
line) and plain text are applied to a screen of COLS columns that wraps long lines;
other escape sequences (colours) are dropped. Exits with the command's status, or 124
after TIMEOUT_S seconds (the command is killed)."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def render(raw: bytes, cols: int) -> str:
    lines, row, col = [[]], 0, 0
    text = raw.decode("utf-8", "replace")
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\x1b":
            m = re.match(r"\x1b\[([0-9;]*)([A-Za-z])", text[i:])
            if m:
                if m.group(2) == "K":
                    del lines[row][col:]
                i += m.end()
                continue
        if c == "\r":
            col = 0
        elif c == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append([])
        elif c >= " ":
            if col == cols:  # the terminal wraps
                row, col = row + 1, 0
                if row == len(lines):
                    lines.append([])
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = c
            else:
                line.append(c)
            col += 1
        i += 1
    return "\n".join("".join(x) for x in lines)


def main() -> int:
    cols, timeout, raw_out, screen_out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    env = dict(os.environ, COLUMNS=str(cols), TERM="xterm")
    env.pop("NO_COLOR", None)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.close(slave)
        os.execvpe(cmd[0], cmd, env)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    status = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = 124
            break
        r, _, _ = select.select([master], [], [], min(left, 0.5))
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                data = b""
            if not data:
                break
            out += data
    if status is None:
        _, st = os.waitpid(pid, 0)
        status = os.waitstatus_to_exitcode(st)
        status = status if status >= 0 else 128 - status
    with open(raw_out, "wb") as f:
        f.write(out)
    with open(screen_out, "w") as f:
        f.write(render(bytes(out), cols))
    return status


if __name__ == "__main__":
    sys.exit(main())
