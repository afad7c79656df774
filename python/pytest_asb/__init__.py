"""pytest-asb: each test's LLM calls answered offline by `asb serve` from the test's own
recording, recorded from an upstream when a record mode says so (as vcrpy's cassettes,
but language-neutral: an agent started as a subprocess is answered too).

The plugin is `pytest_asb.plugin`; the server handle is `pytest_asb.server.AsbServer`.
"""

from .server import AsbServer

__all__ = ["AsbServer"]
