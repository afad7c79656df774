"""The pytest plugin (entry point `pytest11: asb`): options, the `asb` marker, the `asb_serve`
fixture, and the report hook that turns a call serve had no answer for into the test's
failure, with serve's closest-match diff.

Inert unless a test asks for it: nothing starts, and no option is required, until a test
uses the `asb_serve` fixture or the `@pytest.mark.asb(...)` marker (which uses the fixture).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .server import AsbError, AsbServer, validate
from .settings import MODES, Settings, cassette_path

SERVER_KEY = pytest.StashKey[AsbServer]()

HOW_TO_GET_ASB = (
    "build it from the asb repository (`cargo build --release`, then put target/release/asb on PATH, "
    "or `cargo install --path .`), or name it with --asb-bin PATH or ASB_BIN=PATH"
)


def pytest_addoption(parser):
    group = parser.getgroup("asb", "LLM calls answered by `asb serve` from per-test recordings")
    group.addoption("--asb-bin", help="the asb binary (default: $ASB_BIN, else `asb` on PATH)")
    group.addoption("--asb-record-mode", choices=MODES,
                    help="none (default): answer from the recording only; once: record a test whose recording "
                         "does not exist; new_episodes: record calls not in it; all: record everything afresh")
    group.addoption("--asb-upstream", help="the endpoint the record modes call (default: $ASB_UPSTREAM, $ASB_ENDPOINT)")
    group.addoption("--asb-model", help="model for calls the record modes translate (default: $ASB_MODEL)")
    parser.addini("asb_record_mode", "default record mode (none, once, new_episodes, all)", default="none")
    parser.addini("asb_cassette_dir", "recordings folder, beside each test file", default="cassettes")
    parser.addini("asb_cassette_suffix", "recording file suffix (.jsonl, .jsonl.zst, .jsonl.gz)", default=".jsonl")
    parser.addini("asb_upstream", "the endpoint the record modes call")
    parser.addini("asb_model", "model for calls the record modes translate")
    parser.addini("asb_serve_args", "more `asb serve` arguments (e.g. --allow-repeats last)", type="args", default=[])


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "asb(record_mode=None, cassette=None, serve_args=()): answer this test's LLM calls with asb serve "
        "from its recording (cassettes/<module>/<test>.jsonl unless `cassette` names one)",
    )


def pytest_collection_modifyitems(items):
    # The marker alone is enough: it brings the fixture in.
    for item in items:
        if item.get_closest_marker("asb") and "asb_serve" not in getattr(item, "fixturenames", ["asb_serve"]):
            item.fixturenames.append("asb_serve")


def find_asb(config) -> str:
    named = config.getoption("asb_bin") or os.environ.get("ASB_BIN")
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            raise AsbError(f"asb binary {named!r} (from --asb-bin or ASB_BIN) is not an executable file")
        return named
    found = shutil.which("asb")
    if not found:
        raise AsbError(f"the `asb` binary is not on PATH: {HOW_TO_GET_ASB}")
    return found


@pytest.fixture
def asb_serve(request, monkeypatch):
    """`asb serve` answering this test's LLM calls from its own recording.

    Sets OPENAI_BASE_URL and ANTHROPIC_BASE_URL (and placeholder API keys when none are
    set) for the test and anything it starts; yields the server (`.url`,
    `.openai_base_url`, `.anthropic_base_url`, `.env`, `.cassette`, `.requests()`)."""
    cassette = cassette_path(request.node, request.config)
    try:
        settings = Settings.of(request.node, request.config)
        settings.mode = settings.effective_mode(cassette)
        binary = find_asb(request.config)
        args = settings.serve_args()
    except AsbError as e:
        problem = str(e)
    else:
        problem = None
    if problem:
        pytest.fail(problem, pytrace=False)
    if settings.mode == "none" and not cassette.exists():
        pytest.fail(
            f"no recording for this test at {cassette}: record it with "
            f"`pytest --asb-record-mode once --asb-upstream URL` (or @pytest.mark.asb(record_mode='once'))",
            pytrace=False,
        )
    if settings.mode != "none":
        cassette.parent.mkdir(parents=True, exist_ok=True)
    before = _stat(cassette)
    server = AsbServer(binary, cassette, settings.mode, args)
    try:
        server.start()
    except AsbError as e:
        server.cleanup()
        problem = str(e)
    if problem:
        pytest.fail(problem, pytrace=False)
    request.node.stash[SERVER_KEY] = server
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        if not os.environ.get(name):
            monkeypatch.setenv(name, "asb-serve-needs-no-key")
    try:
        yield server
        server.stop()
    finally:
        server.cleanup()
    if settings.mode != "none" and _stat(cassette) != before and cassette.stat().st_size > 0:
        problems = validate(binary, cassette)
        if problems:
            pytest.fail(f"the recording this test wrote does not pass `asb validate`:\n{problems}", pytrace=False)


def _stat(path: Path):
    try:
        s = path.stat()
        return (s.st_size, s.st_mtime_ns)
    except OSError:
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call":
        return
    server = item.stash.get(SERVER_KEY, None)
    if server is None:
        return
    report = outcome.get_result()
    problems = server.misses()
    died = server.exited_badly()
    if not problems and not died:
        return
    text = []
    if problems:
        text.append(f"{len(problems)} LLM call(s) had no recorded answer in {server.cassette} "
                    f"(record mode {server.mode}):\n\n" + "\n\n".join(problems))
        text.append("To record them: --asb-record-mode new_episodes --asb-upstream URL "
                    "(or @pytest.mark.asb(record_mode='new_episodes')).")
    if died:
        text.append(died)
    if report.failed and report.longrepr is not None:
        crash = getattr(report.longrepr, "reprcrash", None)
        where = f"{crash.path}:{crash.lineno + 1}: {crash.message}" if crash else str(report.longrepr)
        text.append(f"The test's own failure (its traceback follows, under 'the test's traceback'):\n{where}")
        report.sections.append(("the test's traceback", str(report.longrepr)))
    report.outcome = "failed"
    report.longrepr = "\n\n".join(text)
