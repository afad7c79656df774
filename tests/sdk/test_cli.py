"""The command line's conventions, driven as a user would: `--version` says what was built
and when; `asb completions SHELL` prints a script the shell really loads."""

import re
import subprocess

from conftest import asb_bin


def test_version_names_the_commit_and_build_date():
    out = subprocess.run([asb_bin(), "--version"], capture_output=True, text=True, check=True).stdout
    assert re.fullmatch(r"asb \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown), built \d{4}-\d\d-\d\d\)\n", out), out


def test_bash_completion_completes_subcommands_and_flags():
    script = subprocess.run([asb_bin(), "completions", "bash"], capture_output=True, text=True, check=True).stdout
    def complete(*words):
        # As bash calls it: the command, the word being completed, the word before it.
        cmd = (script + "\nCOMP_WORDS=(" + " ".join(words) + "); COMP_CWORD=" + str(len(words) - 1)
               + f"; _asb asb {words[-1]} {words[-2]}; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True).stdout.split()
    assert "record" in complete("asb", "rec")
    assert "--drain-timeout" in complete("asb", "record", "--drain")
    p = subprocess.run([asb_bin(), "completions", "tcsh"], capture_output=True, text=True)
    assert p.returncode != 0 and "bash" in p.stderr


def test_every_fatal_error_has_one_prefix(tmp_path):
    """Whatever command fails, its stderr says `asb: error: …`, once, and nothing else."""
    missing = str(tmp_path / "nope.jsonl")
    for args in (["inspect", missing], ["serve", "-w", missing, "-P", "0"], ["replay", "-w", missing, "--dry-run"],
                 ["report", "--input", missing]):
        r = subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith("asb: error: ") , (args, r.stderr)
        assert not re.search(r"^(Error|ERROR)\b", r.stderr, re.M), (args, r.stderr)
