"""Shared fixtures: the fake provider server, provider environment, a fresh engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from memories_magics.config import Config
from memories_magics.engine import Engine
from tests.fakes import FakeLLMServer, Reply

#: provider -> (key variable, base-URL variable, path appended to the fake server's URL)
PROVIDERS = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"),
    "deepseek": ("DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", ""),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""),
    "cohere": ("COHERE_API_KEY", "COHERE_BASE_URL", ""),
    "mistral": ("MISTRAL_API_KEY", "MISTRAL_BASE_URL", ""),
}
#: A key planted in every provider variable; no output, cache file or message may contain it.
PLANTED_KEY_PREFIX = "sk-planted-SECRET-"


def planted_key(provider: str) -> str:
    return f"{PLANTED_KEY_PREFIX}{provider}-0123456789"


def provider_environment(server_url: str, config_path: Path, cache_dir: Path) -> dict[str, str]:
    """Environment variables that point every provider at the fake server."""
    env = {"MEMORIES_MAGICS_CONFIG": str(config_path), "MEMORIES_MAGICS_CACHE_DIR": str(cache_dir)}
    for provider, (key_var, url_var, suffix) in PROVIDERS.items():
        env[key_var] = planted_key(provider)
        env[url_var] = server_url + suffix
    return env


def write_test_config(path: Path, **settings: object) -> Path:
    """A user model_config.json with no retries and a short timeout (tests stay fast)."""
    path.write_text(json.dumps({"global_settings": {"max_retries": 0, "timeout_s": 20,
                                                    **settings}}))
    return path


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeLLMServer) -> FakeLLMServer:
    """The fake provider server, with an empty script and no recorded requests."""
    fake_server.reset()
    fake_server.default = Reply()
    return fake_server


@pytest.fixture
def provider_env(fake: FakeLLMServer, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every provider pointed at the fake server with a planted key; a fresh cache dir."""
    env = provider_environment(fake.url, write_test_config(tmp_path / "model_config.json"),
                               tmp_path / "cache")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CO_API_KEY", raising=False)
    return env


@pytest.fixture
def engine(provider_env: dict[str, str]) -> Engine:
    """A new engine reading the test environment."""
    return Engine(Config.load())


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, FakeLLMServer]]:
    """One fake server per provider, so each model's reply is scripted independently."""
    with FakeLLMServer() as a, FakeLLMServer() as b, FakeLLMServer() as c:
        env = {"OPENAI_BASE_URL": a.url + "/v1", "ANTHROPIC_BASE_URL": b.url,
               "COHERE_BASE_URL": c.url, "OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2",
               "COHERE_API_KEY": "k3", "MEMORIES_MAGICS_CACHE_DIR": str(tmp_path / "cache"),
               "MEMORIES_MAGICS_CONFIG": str(write_test_config(tmp_path / "config.json"))}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield {"openai": a, "anthropic": b, "cohere": c, "env": env}  # type: ignore[dict-item]
