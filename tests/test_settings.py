"""Configuration: safe defaults, clear one-line errors, a generated demo secret that is reused."""

import os
import stat

import pytest

from server.settings import DEFAULT_DATABASE_URL, ConfigError, Settings


def test_defaults_are_local_and_safe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.base_url == "http://127.0.0.1:8000"
    assert not settings.production


def test_demo_secret_is_generated_once_with_private_permissions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = Settings.from_env({}).secret_key
    second = Settings.from_env({}).secret_key
    assert first == second and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / ".cadence-secret").st_mode)
    assert mode == 0o600


def test_production_requires_a_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="CADENCE_SECRET_KEY: required"):
        Settings.from_env({"CADENCE_ENV": "production"})
    assert not (tmp_path / ".cadence-secret").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CADENCE_PORT": "eighty"}, "CADENCE_PORT: expected a whole number"),
        ({"CADENCE_PORT": "70000"}, "CADENCE_PORT: must be between 1 and 65535"),
        ({"CADENCE_DATABASE_URL": "mysql://x"}, "CADENCE_DATABASE_URL: expected"),
        ({"CADENCE_SECRET_KEY": "short"}, "CADENCE_SECRET_KEY: must be at least 32"),
        ({"CADENCE_ENV": "staging"}, "CADENCE_ENV: expected"),
    ],
)
def test_bad_settings_name_the_variable(env, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_base_url_and_port_from_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {"CADENCE_PORT": "9000", "CADENCE_BASE_URL": "https://cadence.example.org/", "CADENCE_SECRET_KEY": "x" * 40}
    )
    assert settings.port == 9000
    assert settings.base_url == "https://cadence.example.org"
