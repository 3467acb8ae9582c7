"""The hub's settings: read only from the mapping given, defaults as documented, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import Settings
from hub.contract.errors import ConfigError
from hub.contract.tls import TlsSettings


def test_defaults_and_a_given_mapping_ignore_the_process_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAATWERK_HTTP_PORT", "9999")
    s = Settings.from_env({"MAATWERK_REGISTRY": "", "MAATWERK_LOG_LEVEL": "debug",
                           "MAATWERK_TLS_CA": "  ca.pem ", "MAATWERK_WATCH_SECONDS": "0.5"})
    assert s.http_port == 8080 and s.registry_path is None and s.log_level == "DEBUG"
    assert s.tls == TlsSettings(ca=Path("ca.pem")) and s.watch_seconds == 0.5
    assert (s.max_message_bytes, s.hash_key, s.keys_dir) == (262144, b"maatwerk-dev-hash-key",
                                                             Path("keys"))
    assert Settings.from_env().http_port == 9999


def test_wrong_values_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="MAATWERK_PREFETCH='many'"):
        Settings.from_env({"MAATWERK_PREFETCH": "many"})
    with pytest.raises(ConfigError, match="MAATWERK_WATCH_SECONDS=''"):
        Settings.from_env({"MAATWERK_WATCH_SECONDS": ""})


def test_replace_validates_and_refuses_unknown_fields() -> None:
    base = Settings.from_env({})
    changed = base.replace(http_port="0", keys_dir="elsewhere")
    assert changed.http_port == 0 and changed.keys_dir == Path("elsewhere")
    assert base.http_port == 8080 and changed.amqp_url == base.amqp_url
    with pytest.raises(TypeError, match="htp_port"):
        base.replace(htp_port=1)
    with pytest.raises(ConfigError, match="prefetch"):
        base.replace(prefetch="lots")
