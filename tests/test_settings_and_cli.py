"""Settings parsing and the command line's answers when something is missing or unreachable."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import DEFAULT_DATABASE_URL, RunMode, Settings
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[1]


def _run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BRIGADE_")}
    clean["PYTHONPATH"] = str(REPO)

    async def run() -> subprocess.CompletedProcess[str]:
        # An asyncio child, not subprocess.run(timeout=…): under libfaketime with the clock moved
        # back (make test-clock), the latter's time.sleep() fails with EINVAL.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=tmp_path,  # no .env there
            env=clean | env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return subprocess.CompletedProcess(
            list(args), process.returncode, stdout.decode(), stderr.decode()
        )

    return asyncio.run(run())


@pytest.mark.usefixtures("clean_env")
def test_defaults_are_french_paris_sqlite_and_polling() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.bot_token is None
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.default_language, settings.timezone) == ("fr", "Europe/Paris")
    assert settings.run_mode is RunMode.POLLING
    assert settings.api_base_url == "https://api.telegram.org/bot"


@pytest.mark.usefixtures("clean_env")
def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIGADE_COORDINATOR_IDS", "111, 222;333")
    monkeypatch.setenv("BRIGADE_BOT_API_BASE_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("BRIGADE_DEFAULT_LANGUAGE", "nl")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.coordinator_ids == (111, 222, 333)
    assert settings.api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.default_language == "nl"


@pytest.mark.usefixtures("clean_env")
def test_lifetimes_take_fractions(monkeypatch: pytest.MonkeyPatch) -> None:
    # The soak benchmark shortens every lifetime to minutes.
    monkeypatch.setenv("BRIGADE_RETENTION_DAYS", "0.007")
    monkeypatch.setenv("BRIGADE_AUDIT_RETENTION_MONTHS", "0.0002")
    monkeypatch.setenv("BRIGADE_PROCESSED_UPDATES_KEEP_HOURS", "0.1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.retention_days, settings.audit_retention_months) == (0.007, 0.0002)
    assert settings.processed_updates_keep_hours == 0.1


@pytest.mark.usefixtures("clean_env")
def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BRIGADE_BOT_TOKEN=42:abc\nBRIGADE_TOWN_NAME=Chambéry\n")
    settings = Settings()
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == "42:abc"
    assert settings.town_name == "Chambéry"
    assert "42:abc" not in repr(settings)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_language", "de"),
        ("timezone", "Mars/Olympus"),
        ("webhook_port", 0),
        # Past a week Telegram may restart its update ids: an old row would hide a new update.
        ("processed_updates_keep_hours", 145),
        ("retention_days", 0),
        ("audit_retention_months", 0),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        make_settings(tmp_path, **{field: value})


def test_webhook_mode_needs_a_public_url(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="BRIGADE_WEBHOOK_URL"):
        make_settings(tmp_path, run_mode="webhook", webhook_secret=GOOD_SECRET)


GOOD_SECRET = "Abc-def_0123456789" * 2  # 36 characters of Telegram's alphabet


@pytest.mark.parametrize(
    "secret",
    [
        None,  # anyone who knows the URL could post updates "from" the coordinator
        "",
        "short-but-valid-chars",  # 21 characters: guessable
        "a" * 31,
        "x" * 40 + " spaces",  # Telegram refuses characters outside A-Z a-z 0-9 _ -
        "é" * 40,
        "y" * 257,
    ],
)
def test_webhook_mode_refuses_a_missing_or_weak_secret(tmp_path: Path, secret: str | None) -> None:
    with pytest.raises(ValidationError, match="BRIGADE_WEBHOOK_SECRET must be 32 to 256"):
        make_settings(
            tmp_path,
            run_mode="webhook",
            webhook_url="https://brigade.example.org",
            webhook_secret=secret,
        )


def test_webhook_mode_takes_a_strong_secret(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        run_mode="webhook",
        webhook_url="https://brigade.example.org",
        webhook_secret=GOOD_SECRET,
    )
    assert settings.webhook_secret is not None
    assert GOOD_SECRET not in repr(settings)


def test_starting_a_webhook_without_a_secret_is_one_clear_line(tmp_path: Path) -> None:
    result = _run_cli(
        tmp_path,
        BRIGADE_BOT_TOKEN="1:x",
        BRIGADE_RUN_MODE="webhook",
        BRIGADE_WEBHOOK_URL="https://brigade.example.org",
    )
    assert result.returncode == 2
    assert "BRIGADE_WEBHOOK_SECRET must be 32 to 256 characters" in result.stderr
    assert "python -m bot secret" in result.stderr
    assert "Value error" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_secret_command_prints_a_secret_the_settings_accept(tmp_path: Path) -> None:
    first, second = _run_cli(tmp_path, "secret"), _run_cli(tmp_path, "secret")
    assert first.returncode == second.returncode == 0
    secret = first.stdout.strip()
    assert secret != second.stdout.strip()
    settings = make_settings(
        tmp_path, run_mode="webhook", webhook_url="https://x.example", webhook_secret=secret
    )
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == secret


def test_starting_without_a_token_says_what_to_do(tmp_path: Path) -> None:
    result = _run_cli(tmp_path)
    assert result.returncode == 2
    assert "BRIGADE_BOT_TOKEN is not set" in result.stderr
    assert "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_invalid_setting_is_one_clear_line(tmp_path: Path) -> None:
    result = _run_cli(tmp_path, BRIGADE_BOT_TOKEN="1:x", BRIGADE_DEFAULT_LANGUAGE="de")
    assert result.returncode == 2
    assert "BRIGADE_DEFAULT_LANGUAGE" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_api_fails_cleanly_without_leaking_the_token(tmp_path: Path) -> None:
    token = "123456:SECRET-TOKEN-VALUE"
    result = _run_cli(
        tmp_path,
        BRIGADE_BOT_TOKEN=token,
        # Port 9 on loopback: nothing listens, the connection is refused at once.
        BRIGADE_BOT_API_BASE_URL="http://127.0.0.1:9",
        BRIGADE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert result.returncode == 1
    assert "cannot reach the Bot API at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
    assert token not in result.stderr + result.stdout


def test_migrate_command_creates_the_schema(tmp_path: Path) -> None:
    db_file = tmp_path / "nested" / "brigade.sqlite3"
    result = _run_cli(tmp_path, "migrate", BRIGADE_DATABASE_URL=f"sqlite+aiosqlite:///{db_file}")
    assert result.returncode == 0, result.stderr
    assert db_file.exists()
    import sqlite3

    with sqlite3.connect(db_file) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"members", "requests", "claims", "alembic_version"} <= tables
