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
        ({"FRONTDESK_SQLITE_WAL_PAGES": "10"}, "FRONTDESK_SQLITE_WAL_PAGES"),
        ({"FRONTDESK_SQLITE_WAL_PAGES": "many"}, "FRONTDESK_SQLITE_WAL_PAGES"),
        ({"FRONTDESK_WORKERS": "2"}, "FRONTDESK_REDIS_URL"),
        ({"FRONTDESK_REDIS_URL": "http://cache:6379"}, "FRONTDESK_REDIS_URL"),
        ({"FRONTDESK_LOG_FORMAT": "xml"}, "FRONTDESK_LOG_FORMAT"),
        ({"FRONTDESK_WEBHOOK_RETRY_SECONDS": "5,soon"}, "FRONTDESK_WEBHOOK_RETRY_SECONDS"),
        ({"FRONTDESK_WEBHOOK_RETRY_SECONDS": "-1"}, "FRONTDESK_WEBHOOK_RETRY_SECONDS"),
        ({"FRONTDESK_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "perhaps"}, "FRONTDESK_WEBHOOK_ALLOW_PRIVATE_NETWORKS"),
        ({"FRONTDESK_WEBHOOK_TIMEOUT_SECONDS": "30", "FRONTDESK_WORKER_LEASE_SECONDS": "30"},
         "FRONTDESK_WORKER_LEASE_SECONDS"),
        ({"FRONTDESK_WORKER_POLL_SECONDS": "0"}, "FRONTDESK_WORKER_POLL_SECONDS"),
        ({"FRONTDESK_WORKER_POLL_SECONDS": "often"}, "FRONTDESK_WORKER_POLL_SECONDS"),
        ({"FRONTDESK_WEBHOOK_CONCURRENCY": "0"}, "FRONTDESK_WEBHOOK_CONCURRENCY"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env)


def test_webhook_settings_are_read() -> None:
    settings = Settings.from_env({
        "FRONTDESK_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "yes", "FRONTDESK_WEBHOOK_RETRY_SECONDS": "1, 2,3",
        "FRONTDESK_WORKER_POLL_SECONDS": "0.25",
    })
    assert settings.webhook_allow_private_networks is True
    assert settings.webhook_retry_schedule == (1, 2, 3)
    assert settings.worker_poll_seconds == 0.25
    assert Settings.from_env({"FRONTDESK_WEBHOOK_RETRY_SECONDS": ""}).webhook_retry_schedule == ()
    assert Settings.from_env({}).webhook_allow_private_networks is False


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
