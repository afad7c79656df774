"""One `asb serve` process for one test: started on a free port with the test's recording,
asked for its request journal, stopped (and its recording checked) after the test.

The port is picked by serve itself (`-P 0`) and read from the line it prints (a pipe, read
as soon as the line is written: start → URL ≈ the process's own start-up), so two
test processes (pytest-xdist) never race for a port. Serve binds its port before it loads
the recording: the URL is handed to the test at once, and the first call waits for the
load. Serve's stderr goes to a file, where its miss reports (the closest recorded call and
the fields that differ) are read back for the test's failure message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

# How long serve may take to print its URL (a large recording loads after that).
START_TIMEOUT = 20.0
# How long a stop may take: serve's record modes write what is queued before exiting.
STOP_TIMEOUT = 30.0
# Serve's reports of a call it had no answer for, as it prints them on stderr.
MISS_STARTS = ("asb serve: no recorded call matches", "asb serve: all ")


class AsbError(Exception):
    """`asb` could not be started or said something went wrong; the message says what."""


@dataclass
class AsbServer:
    """A running `asb serve`; `url` is the base for Anthropic, `openai_base_url` for OpenAI."""

    binary: str
    cassette: Path
    mode: str
    args: List[str] = field(default_factory=list)
    url: str = ""
    _proc: Optional[subprocess.Popen] = None
    _stderr: Optional[Path] = None
    _dir: Optional[tempfile.TemporaryDirectory] = None

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def env(self) -> dict:
        """The variables that point the OpenAI and Anthropic SDKs (and agents built on them) here."""
        return {"OPENAI_BASE_URL": self.openai_base_url, "ANTHROPIC_BASE_URL": self.anthropic_base_url}

    def start(self) -> "AsbServer":
        self._dir = tempfile.TemporaryDirectory(prefix="pytest-asb-")
        self._stderr = Path(self._dir.name) / "stderr"
        cmd = [self.binary, "serve", "-P", "0", "-w", str(self.cassette), "--mode", self.mode, *self.args]
        with open(self._stderr, "wb") as err:
            try:
                # stdout is a pipe read up to the URL line: serve prints a few lines at start only.
                self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
            except OSError as e:
                raise AsbError(f"cannot run {self.binary}: {e}") from e
        timer = threading.Timer(START_TIMEOUT, self._proc.kill)
        timer.start()
        try:
            for line in self._proc.stdout:
                m = re.search(rb"http://[0-9.]+:\d+", line)
                if m:
                    self.url = m.group(0).decode()
                    return self
        finally:
            timer.cancel()
        self._proc.wait()
        raise AsbError(f"`{' '.join(cmd)}` exited with code {self._proc.returncode} before printing its URL "
                       f"(killed after {START_TIMEOUT:.0f} s if it printed nothing):\n{self.stderr()}")

    def stderr(self) -> str:
        return self._stderr.read_text(errors="replace") if self._stderr and self._stderr.exists() else ""

    def requests(self) -> list:
        """Serve's journal: every request since start, `matched` or with its `miss` (GET /__asb/requests)."""
        with urllib.request.urlopen(self.url + "/__asb/requests", timeout=10) as r:
            return json.load(r)["requests"]

    def misses(self) -> List[str]:
        """Serve's full report of each request it had no answer for (closest recorded call, the
        fields that differ), or the journal's first line when the report is not on stderr."""
        reports = [b.strip() for b in self.stderr().split("\n\n") if is_miss(b.strip())]
        if reports:
            return reports
        if self._proc is None or self._proc.poll() is not None:
            return []
        try:
            # Forwarded calls of the record modes are journalled unmatched too, with another note.
            return [r["miss"] for r in self.requests() if not r.get("matched") and is_miss(str(r.get("miss", "")))]
        except OSError:
            return []

    def exited_badly(self) -> Optional[str]:
        """Serve's error when it stopped on its own (a recording that cannot be read…)."""
        if self._proc is not None and self._proc.poll() not in (None, 0, 130, 143):
            return f"asb serve exited with code {self._proc.returncode}:\n{self.stderr()}"
        return None

    def stop(self) -> None:
        """Ctrl+C, as a user stops it: in a record mode it writes what is queued first."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise AsbError(f"asb serve did not stop within {STOP_TIMEOUT:.0f} s after Ctrl+C; killed")

    def cleanup(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._proc.stdout.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def is_miss(report: str) -> bool:
    """A report of a call serve had no answer for (not one a record mode forwarded)."""
    first = report.split("\n", 1)[0]
    return first.startswith(MISS_STARTS) and "forwarded to the upstream" not in first and "not served from" not in first


def validate(binary: str, recording: Path) -> Optional[str]:
    """`asb validate RECORDING`: None when it passes, else what it found (secrets, bad lines)."""
    p = subprocess.run([binary, "validate", str(recording)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "NO_COLOR": "1"})
    if p.returncode == 0:
        return None
    return (p.stdout + p.stderr).strip()
