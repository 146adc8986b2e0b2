"""Settings load from the environment and .env, and document themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord_bot.settings import DiscordSettings
from retrieval.config import Settings


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSBOT_DATA_DIR")
    settings = Settings()
    assert settings.llm == "extractive"
    assert settings.chroma_url is None
    assert settings.data_dir == Path.home() / ".local" / "share" / "newsbot"
    assert settings.chroma_path == settings.data_dir / "chroma"


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEWSBOT_TOP_K=7\nDISCORD_TOKEN=abc.def\n")
    monkeypatch.setenv("NEWSBOT_CHROMA_URL", "http://127.0.0.1:8000")
    settings = Settings()
    assert settings.top_k == 7
    assert settings.chroma_url == "http://127.0.0.1:8000"
    discord = DiscordSettings()
    assert discord.token is not None
    assert discord.token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(discord) and "abc.def" not in str(discord.model_dump())


def test_every_setting_is_described() -> None:
    for settings in (Settings, DiscordSettings):
        for name, field in settings.model_fields.items():
            assert field.description, f"{settings.__name__}.{name}"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TOP_K", "0")
    with pytest.raises(ValueError, match="top_k"):
        Settings()
