#!/usr/bin/env python3
"""Runs a command in a real pseudo-terminal of a given size (columns may be 0, as some CI runners and
`docker exec` without a size report), optionally types Ctrl-C N seconds after the child's first output, and prints one JSON line:
{"exitCode": int|null, "signal": int|null, "timedOut": bool, "bytes": int, "tail": str}.
Usage: pty-run.py COLS ROWS INTERRUPT_AFTER_S TIMEOUT_S -- command args...
A child that is still running at TIMEOUT_S is killed (SIGKILL to its process group) and reported as timedOut."""
import fcntl, json, os, select, signal, struct, subprocess, sys, termios, time

cols, rows, interrupt_after, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
cmd = sys.argv[sys.argv.index('--') + 1:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))

def controlling_tty():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_tty, close_fds=True)
os.close(slave)
start = time.monotonic()
total, tail, interrupted, timed_out = 0, b'', False, False
first_output = None
while True:
    now = time.monotonic() - start
    if interrupt_after >= 0 and not interrupted and first_output is not None and now - first_output >= interrupt_after:
        os.write(master, b'\x03')  # the terminal driver turns this into SIGINT for the foreground process group
        interrupted = True
    if now >= timeout:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    r, _, _ = select.select([master], [], [], 0.05)
    if r:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            chunk = b''
        if not chunk:
            break
        if first_output is None:
            first_output = now
        total += len(chunk)
        tail = (tail + chunk)[-4000:]
    elif proc.poll() is not None and not r:
        # drain what is left, then stop
        try:
            while select.select([master], [], [], 0.05)[0]:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                total += len(chunk)
                tail = (tail + chunk)[-4000:]
        except OSError:
            pass
        break
proc.wait()
code = proc.returncode
print(json.dumps({'exitCode': code if code >= 0 else None, 'signal': -code if code < 0 else None,
                  'timedOut': timed_out, 'bytes': total, 'tail': tail.decode('utf8', 'replace')}))
