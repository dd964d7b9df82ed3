"""The documentation keeps up with the code: man pages lint clean, every
command and option is documented, every config key is in mpos.toml(5), and
shell completion works."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

REPO = Path(__file__).resolve().parents[1]
MAN = REPO / "man"
PAGES = sorted(p for p in MAN.iterdir() if re.fullmatch(r".+\.[1-8]", p.name))

# Commands documented on another command's page (mpos-refund(1) covers void).
DOCUMENTED_WITH = {"void": "refund"}


def roff_text(path: Path) -> str:
    """The words of a roff page, with font changes and escapes taken out, so
    that ``.B mpos journal list`` and ``\\-\\-json`` read as they render."""
    text = path.read_text()
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)
    for escape, plain in (("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\ ", " "), ("\\&", ""), ("\\e", "\\")):
        text = text.replace(escape, plain)
    return text


def commands():
    """(path, click command) for every command and subcommand of the app."""
    from mpos_cli.cli import app

    def walk(command, path):
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    return list(walk(typer.main.get_command(app), ()))


def page_for(path: tuple[str, ...]) -> Path:
    if not path:
        return MAN / "mpos.1"
    top = DOCUMENTED_WITH.get(path[0], path[0])
    return MAN / f"mpos-{top}.1"


def test_there_are_pages_for_every_group():
    from mpos_cli.commands import GROUPS

    assert {page.name for page in PAGES} >= {"mpos.1", "mpos.toml.5"} | {f"mpos-{group}.1" for group in GROUPS}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_passes_mandoc_lint(page):
    if shutil.which("mandoc") is None:
        pytest.skip("mandoc is not installed (tests/run.sh installs it)")
    result = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", str(page)], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("path, command", commands(), ids=lambda item: " ".join(item) if isinstance(item, tuple) else "")
def test_command_has_help_and_a_man_page_that_names_it(path, command):
    name = " ".join(("mpos", *path))
    assert (command.help or command.short_help or "").strip(), f"{name} has no help text"
    for param in command.params:
        if param.param_type_name == "option":
            assert (param.help or "").strip(), f"{name} {param.opts[0]} has no help text"
    page = page_for(path)
    assert page.exists(), f"{name} has no man page ({page.name})"
    text = roff_text(page)
    assert name in text, f"{page.name} does not mention {name}"
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in text, f"{page.name} does not document {name} {opt}"


def test_mpos_1_lists_every_command():
    text = roff_text(MAN / "mpos.1")
    for path, _ in commands():
        if len(path) == 1:
            assert f"mpos {path[0]}" in text
            assert f"mpos-{DOCUMENTED_WITH.get(path[0], path[0])}(1)" in text.replace(".BR ", "").replace(" (1)", "(1)")


def _toml_literal(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def test_every_config_key_is_in_mpos_toml_5_with_its_default():
    from mpos_cli.config import ENV_KEYS, SCHEMA

    text = roff_text(MAN / "mpos.toml.5")
    # Each key's entry runs from its ".TP / .B key" to the next paragraph macro.
    entries = dict(re.findall(r"^\.TP\n\.B (\S+)\n(.*?)(?=^\.(?:TP|SS|SH|PP)\b)", text, flags=re.M | re.S))
    for key, spec in SCHEMA.items():
        assert key in entries, f"{key} is not documented in man/mpos.toml.5"
        assert f"default {_toml_literal(spec.default)}" in " ".join(entries[key].split()), f"{key}: default not documented"
    for env_name, key in ENV_KEYS.items():
        assert env_name in entries, f"{env_name} is not documented in man/mpos.toml.5"
        assert key in entries[env_name]


def test_the_example_in_mpos_toml_5_is_a_valid_config(tmp_path):
    from mpos_cli import config

    text = roff_text(MAN / "mpos.toml.5")
    example = text.split("\n.SH EXAMPLES", 1)[1].split("\n.EX\n", 1)[1].split("\n.EE", 1)[0]
    path = tmp_path / "config.toml"
    path.write_text(example + "\n")
    loaded = config.load(path, {})
    assert loaded.file_values and set(loaded.file_values) <= set(config.SCHEMA)
    for key, value in loaded.file_values.items():
        assert loaded[key] == config.SCHEMA[key].parse(value)


def _mpos_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("_MPOS_")} | env
    return subprocess.run(
        [sys.executable, "-m", "mpos_cli", *args], capture_output=True, text=True, env=environ, timeout=60, cwd=REPO
    )


@pytest.mark.parametrize("args", [("--show-completion",), ("--show-completion", "bash")])
def test_show_completion_prints_a_script(args):
    result = _mpos_process(*args, env={"SHELL": "/bin/bash"})
    assert result.returncode == 0, result.stderr
    # Whatever shell is detected, the script calls mpos back through its completion variable.
    assert "_MPOS_COMPLETE" in result.stdout
    assert "mpos" in result.stdout.split("_MPOS_COMPLETE", 1)[1]


def test_completion_completes_commands_and_subcommands():
    def complete(words: str) -> list[str]:
        cword = len(words.split(" ")) - 1
        result = _mpos_process(env={"_MPOS_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("mpos rep") == ["report"]
    assert set(complete("mpos journal ")) == {"list", "show", "verify"}
    assert "--format" in complete("mpos export --for")
