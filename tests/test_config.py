"""Settings from the environment and flags, with errors that name the setting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from server.config import Settings, SettingsError


def test_environment_then_overrides() -> None:
    settings = Settings.from_env({"FRONTDESK_PORT": "9001", "FRONTDESK_HOST": "0.0.0.0"}, port=9002)
    assert settings.port == 9002 and settings.host == "0.0.0.0"
    assert settings.resolved_database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"FRONTDESK_PORT": "eighty"}, "FRONTDESK_PORT"),
        ({"FRONTDESK_PORT": "70000"}, "FRONTDESK_PORT"),
        ({"FRONTDESK_MAX_BODY_BYTES": "0"}, "FRONTDESK_MAX_BODY_BYTES"),
        ({"FRONTDESK_DATABASE_URL": "mysql://x/y"}, "FRONTDESK_DATABASE_URL"),
        ({"FRONTDESK_SQLITE_SYNCHRONOUS": "SOMETIMES"}, "FRONTDESK_SQLITE_SYNCHRONOUS"),
        ({"FRONTDESK_WORKERS": "2"}, "FRONTDESK_REDIS_URL"),
        ({"FRONTDESK_REDIS_URL": "http://cache:6379"}, "FRONTDESK_REDIS_URL"),
        ({"FRONTDESK_LOG_FORMAT": "xml"}, "FRONTDESK_LOG_FORMAT"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env)


def test_generated_secret_key_is_kept(tmp_path: object) -> None:
    settings = Settings.from_env({}, data_dir=str(tmp_path))
    assert settings.resolved_secret_key() == settings.resolved_secret_key()
    assert len(settings.resolved_secret_key()) > 40


def test_cli_help_documents_every_setting() -> None:
    out = subprocess.run([sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for f in Settings.fields():
        assert "--" + f.name.replace("_", "-") in out
        assert Settings.env_name(f.name) in out


def test_cli_bad_flag_value_is_a_clear_error(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "create-site", "Shop", "--origin", "ftp://shop.test",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "origin" in result.stderr.lower()
