"""AMQPS: TLS to the broker, optionally with a client certificate (SASL EXTERNAL).

Environment (all unset by default, which means plain AMQP on ``AMQP_URL``):

| Variable | Default | Meaning |
| --- | --- | --- |
| ``MAATWERK_TLS_CA`` | (unset) | PEM file of the CA(s) that signed the broker's certificate |
| ``MAATWERK_TLS_CERT`` | (unset) | PEM client certificate (chain) of this hub or adapter |
| ``MAATWERK_TLS_KEY`` | (unset) | PEM private key of that certificate (unencrypted) |

When any of them is set, ``AMQP_URL`` must be ``amqps://`` (port 5671); the broker's certificate
is verified against ``MAATWERK_TLS_CA`` (or the system store when only a client certificate is
given) and its host name is checked. A client certificate without a password in the URL
authenticates with SASL ``EXTERNAL``: the broker takes the user name from the certificate's
common name (``ssl_cert_login_from = common_name``). With a password in the URL the connection is
TLS with ``PLAIN`` login.

aio-pika note: the SASL mechanism is chosen with the URL query ``auth`` (``auth=external``);
:func:`connect_kwargs` returns ``auth="EXTERNAL"``, which ``aio_pika.connect_robust`` puts in the
URL query for aiormq. (pika's ``login_method`` is not understood by aio-pika.)
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.contract.errors import ConfigError

VARIABLES: dict[str, tuple[str, str]] = {
    "MAATWERK_TLS_CA": ("(unset: plain AMQP)", "PEM CA file that signed the broker certificate"),
    "MAATWERK_TLS_CERT": ("(unset)", "PEM client certificate; with no URL password: "
                                     "SASL EXTERNAL login as its common name"),
    "MAATWERK_TLS_KEY": ("(unset)", "PEM private key of MAATWERK_TLS_CERT"),
}


@dataclass(frozen=True)
class TlsSettings:
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TlsSettings:
        env = os.environ if env is None else env

        def path(name: str) -> Path | None:
            value = env.get(name, "").strip()
            return Path(value) if value else None

        return cls(ca=path("MAATWERK_TLS_CA"), cert=path("MAATWERK_TLS_CERT"),
                   key=path("MAATWERK_TLS_KEY"))

    @property
    def enabled(self) -> bool:
        return any((self.ca, self.cert, self.key))

    @property
    def client_certificate(self) -> bool:
        return self.cert is not None


def _readable(name: str, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise ConfigError(f"{name}={path}: cannot read: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in head:
        raise ConfigError(f"{name}={path}: not a PEM file (no -----BEGIN line)")


def ssl_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """A client-side context verifying the broker (and presenting our certificate), or None."""
    if not tls.enabled:
        return None
    if (tls.cert is None) != (tls.key is None):
        raise ConfigError("MAATWERK_TLS_CERT and MAATWERK_TLS_KEY go together: set both or "
                          "neither")
    for name, path in (("MAATWERK_TLS_CA", tls.ca), ("MAATWERK_TLS_CERT", tls.cert),
                       ("MAATWERK_TLS_KEY", tls.key)):
        if path is not None:
            _readable(name, path)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.ca is not None:
        try:
            context.load_verify_locations(cafile=str(tls.ca))
        except ssl.SSLError as exc:
            raise ConfigError(f"MAATWERK_TLS_CA={tls.ca}: not a usable CA certificate: "
                              f"{exc.reason or exc}") from None
    if tls.cert is not None and tls.key is not None:
        try:
            context.load_cert_chain(certfile=str(tls.cert), keyfile=str(tls.key))
        except ssl.SSLError as exc:
            raise ConfigError(f"MAATWERK_TLS_CERT={tls.cert} / MAATWERK_TLS_KEY={tls.key}: "
                              f"cannot load the certificate and key: {exc.reason or exc}") from None
    return context


def connect_kwargs(amqp_url: str, tls: TlsSettings) -> dict[str, Any]:
    """Keyword arguments for ``aio_pika.connect_robust(amqp_url, **kwargs)``.

    Empty for plain AMQP. With TLS: ``ssl_context``, and ``auth="EXTERNAL"`` when a client
    certificate is configured and the URL carries no password.
    """
    scheme = urlsplit(amqp_url).scheme
    if not tls.enabled:
        return {}
    if scheme != "amqps":
        raise ConfigError(f"MAATWERK_TLS_* is set but AMQP_URL uses {scheme}://: use "
                          f"amqps://HOST:5671/ (or unset MAATWERK_TLS_* for plain AMQP)")
    kwargs: dict[str, Any] = {"ssl_context": ssl_context(tls)}
    if tls.client_certificate and not urlsplit(amqp_url).password:
        kwargs["auth"] = "EXTERNAL"
    return kwargs


def connect_kwargs_from_env(amqp_url: str,
                            env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """:func:`connect_kwargs` with settings from the environment."""
    return connect_kwargs(amqp_url, TlsSettings.from_env(env))
