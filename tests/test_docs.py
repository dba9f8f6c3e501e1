"""Docs that cannot drift: settings, events, catalogues, the snippet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from server.config import markdown_table
from server.services.events import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent


def test_readme_configuration_table_matches_the_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "regenerate the table: python -c 'from server.config import markdown_table as t; print(t())'"


def test_every_event_type_is_documented() -> None:
    realtime = (ROOT / "docs" / "realtime.md").read_text()
    for event_type in CATALOGUE:
        assert f"`{event_type}`" in realtime, event_type


# Keys, placeholders and plural forms of every catalogue: tests/test_catalogs.py.


def test_catalogue_values_are_translated() -> None:
    """A string identical to the English one is a string someone forgot."""
    for folder in ("server/i18n", "widget/i18n", "demo_site/i18n"):
        base = ROOT / folder
        en = json.loads((base / "en.json").read_text(encoding="utf-8"))
        for lang in ("ru", "uk", "kk"):
            other = json.loads((base / f"{lang}.json").read_text(encoding="utf-8"))
            same = [
                k for k, v in en.items()
                if other.get(k) == v and not k.startswith("lang.")  # language names are written in themselves
                and any(c.isalpha() for c in re.sub(r"\{\w+\}|Frontdesk|_count", "", json.dumps(v, ensure_ascii=False)))
            ]
            assert not same, f"{folder}/{lang}: untranslated {same}"


def test_every_error_code_has_a_message() -> None:
    from server import errors

    en = json.loads((ROOT / "server" / "i18n" / "en.json").read_text(encoding="utf-8"))
    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.FrontdeskError)}
    codes |= {"site_not_found", "origin_not_allowed", "csrf_failed"}
    codes.discard("error")
    missing = [c for c in codes if f"error.{c}" not in en]
    assert not missing, missing


def _readme_outside_the_settings_table() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- generated from server/config.py")
    end = readme.index("\n\n", start)
    return readme[:start] + readme[end:]


def _readme_commands() -> list[str]:
    """Every command the README shows: the lines of its sh blocks and its code spans that
    start like a command."""
    readme = _readme_outside_the_settings_table()
    shown = []
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        block = block.replace("\\\n", " ")  # a command continued on the next line is one command
        shown += [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", readme, flags=re.S))
    shown += [span for span in spans if re.match(r"(\./dev|frontdesk) +\S", span)]
    return shown


def test_every_readme_command_runs_as_written_from_a_checkout() -> None:
    """On a fresh machine only ./dev is there: `frontdesk` itself is in .venv, off the PATH."""
    import shlex

    from server.cli import build_parser

    dev_commands = set(re.findall(r"^\s+(\w+)\)", (ROOT / "dev").read_text(), re.M))
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices  # noqa: SLF001
    commands = _readme_commands()
    assert any(c.startswith("./dev frontdesk create-site") for c in commands), commands
    for command in commands:
        words = shlex.split(command.replace("…", ""))
        assert words[0] == "./dev" and words[1] in dev_commands, f"not runnable from a checkout: {command}"
        rest = words[2:] if words[1] == "frontdesk" else words[1:]  # `./dev demo` is `frontdesk demo`
        if rest and rest[0] in subcommands:
            sub = subcommands[rest[0]]
            nested = [a for a in sub._actions if a.choices and a.dest.endswith("_command")]  # noqa: SLF001
            if nested and len(rest) > 1 and rest[1] in nested[0].choices:  # `faq import`
                sub, rest = nested[0].choices[rest[1]], rest[1:]
            options = sub._option_string_actions  # noqa: SLF001
            for word in rest[1:]:
                flag = word.strip("[]").split("=")[0]
                assert not flag.startswith("--") or flag in options, f"{command}: {flag} is not an option of {rest[0]}"


def test_every_option_the_readme_names_exists() -> None:
    from server.cli import build_parser

    parser = build_parser()
    options = set(parser._option_string_actions)  # noqa: SLF001
    for sub in next(a for a in parser._actions if a.dest == "command").choices.values():  # noqa: SLF001
        options |= set(sub._option_string_actions)  # noqa: SLF001
    named = re.findall(r"`(--[a-z-]+)", _readme_outside_the_settings_table())
    assert named and not [o for o in named if o not in options], [o for o in named if o not in options]


def _dev(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.prefix)  # the tests' own environment, which ./dev test made
    extra = {"FRONTDESK_VENV": str(venv)} if (venv / "bin" / "frontdesk").exists() else {}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    return subprocess.run(
        list(args), cwd=ROOT, env={**clean, **extra, **env}, capture_output=True, text=True, timeout=300,
    )


def test_dev_frontdesk_runs_the_readmes_commands(tmp_path: Path) -> None:
    import shlex

    helped = _dev("./dev", "frontdesk", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "create-site" in helped.stdout and "FRONTDESK_PORT" in helped.stdout
    create_site = next(c for c in _readme_commands() if c.startswith("./dev frontdesk create-site"))
    created = _dev(*shlex.split(create_site), FRONTDESK_DATA_DIR=str(tmp_path))
    assert created.returncode == 0, created.stderr
    assert re.search(r"^key: fd_\S+$", created.stdout, re.M), created.stdout
