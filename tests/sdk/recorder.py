"""Runs `asb record` as a user would (a real process, Ctrl+C to stop) and reads what it wrote."""

import json
import signal
import subprocess
import time

from conftest import spawn_asb


class Recorder:
    def __init__(self, endpoint, tmp_path, *args, model="asb-mock"):
        self.path = tmp_path / f"rec-{time.monotonic_ns()}.jsonl"
        self.proc, self.url = spawn_asb("record", "-e", endpoint, "-m", model, "-o", str(self.path), "-P", "0", *args)
        self.summary = None

    def lines(self, expect=None, timeout=10.0):
        """Recorded lines in seq order; waits until at least `expect` are written."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.path.read_text() if self.path.exists() else ""
            # Whole lines only: the last one may be being written just now.
            text = text[: text.rfind("\n") + 1]
            lines = [json.loads(l) for l in text.splitlines() if l.strip()]
            if expect is None or len(lines) >= expect or time.monotonic() > deadline:
                return sorted(lines, key=lambda l: l["seq"])
            time.sleep(0.02)

    def stop(self, timeout=30):
        """Ctrl+C, as a user stops it; returns (exit code: 130 after a clean stop, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.summary = err
        return self.proc.returncode, err


def raw_bytes(line):
    """The response body of a recorded streamed call, rebuilt from its events."""
    resp = line["response"]
    return "".join(e["raw"] for e in resp["events"]) + resp.get("tail", "")
