"""What one test's `asb serve` is started with: its record mode, upstream and recording path,
each from the test's marker, else the command line, else the ini file, else the environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from .server import AsbError

# pytest option → `asb serve --mode` (the same names, as vcrpy's record modes).
MODES = ("none", "once", "new_episodes", "all")


@dataclass
class Settings:
    mode: str
    upstream: Optional[str]
    model: Optional[str]
    extra: List[str]

    @classmethod
    def of(cls, node, config) -> "Settings":
        marker = node.get_closest_marker("asb")
        kw = marker.kwargs if marker else {}
        mode = kw.get("record_mode") or config.getoption("asb_record_mode") or config.getini("asb_record_mode") or "none"
        if mode not in MODES:
            raise AsbError(f"record mode {mode!r} is not one of {', '.join(MODES)}")
        upstream = (config.getoption("asb_upstream") or config.getini("asb_upstream")
                    or os.environ.get("ASB_UPSTREAM") or os.environ.get("ASB_ENDPOINT"))
        model = config.getoption("asb_model") or config.getini("asb_model") or os.environ.get("ASB_MODEL")
        extra = [*config.getini("asb_serve_args"), *kw.get("serve_args", ())]
        return cls(mode, upstream, model, extra)

    def effective_mode(self, cassette: Path) -> str:
        """`once` with a recording already there only replays it (and needs no upstream)."""
        if self.mode == "once" and cassette.exists() and cassette.stat().st_size > 0:
            return "none"
        return self.mode

    def serve_args(self) -> List[str]:
        """`asb serve` arguments besides the recording and mode."""
        args = list(self.extra)
        if self.mode != "none":
            if not self.upstream:
                raise AsbError(f"record mode {self.mode} calls an upstream for what is not recorded: "
                               "pass --asb-upstream URL (or set ASB_UPSTREAM)")
            # serve's record modes need a model for the calls they translate between APIs;
            # calls that are not translated keep the client's model.
            args += ["-e", self.upstream, "-m", self.model or "asb-client-model"]
        return args


def cassette_path(node, config) -> Path:
    """The test's recording: the marker's `cassette` (relative to the test file's folder),
    else <folder>/<asb_cassette_dir>/<module>/<test><asb_cassette_suffix>."""
    here = Path(str(node.fspath)).parent
    marker = node.get_closest_marker("asb")
    if marker and marker.kwargs.get("cassette"):
        return here / marker.kwargs["cassette"]
    module = Path(str(node.fspath)).stem
    name = node.name if getattr(node, "cls", None) is None else f"{node.cls.__name__}.{node.name}"
    name = re.sub(r"[^A-Za-z0-9_.\-\[\]]", "_", name)
    return here / config.getini("asb_cassette_dir") / module / f"{name}{config.getini('asb_cassette_suffix')}"
