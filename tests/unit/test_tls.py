"""AMQPS settings: a throwaway CA and certificates, a real in-memory TLS handshake, clear errors."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.contract.errors import ConfigError
from hub.contract.tls import TlsSettings, connect_kwargs, connect_kwargs_from_env, ssl_context


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _issue(ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, cn: str, *,
           server: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Maatwerk Test CA")
    now = datetime.now(UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    server, server_key = _issue(ca_key, ca_name, "localhost", server=True)
    client, client_key = _issue(ca_key, ca_name, "maatwerk-hub", server=False)
    (d / "server.pem").write_bytes(server.public_bytes(pem))
    _write_key(d / "server.key", server_key)
    (d / "client.pem").write_bytes(client.public_bytes(pem))
    _write_key(d / "client.key", client_key)
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem",
               d / "client.key")


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> ssl.SSLObject:
    """Run a TLS handshake between two in-memory endpoints; return the server side."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for side, obj, outgoing, other_in in (("c", c, c_out, s_in), ("s", s, s_out, c_in)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
            other_in.write(outgoing.read())
        if all(done.values()):
            return s
    raise AssertionError("handshake did not finish")


def _broker_context(pki: Pki) -> ssl.SSLContext:
    """What RabbitMQ does with verify_peer and fail_if_no_peer_cert."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.server_cert, pki.server_key)
    server.load_verify_locations(pki.ca)
    server.verify_mode = ssl.CERT_REQUIRED
    return server


def test_unset_means_plain_amqp() -> None:
    tls = TlsSettings.from_env({})
    assert not tls.enabled and ssl_context(tls) is None
    assert connect_kwargs("amqp://guest:guest@127.0.0.1:5672/", tls) == {}
    assert connect_kwargs_from_env("amqp://h/", {"MAATWERK_TLS_CA": ""}) == {}


def test_context_loads_the_chain_and_passes_a_handshake(pki: Pki) -> None:
    tls = TlsSettings.from_env({"MAATWERK_TLS_CA": str(pki.ca),
                                "MAATWERK_TLS_CERT": str(pki.client_cert),
                                "MAATWERK_TLS_KEY": str(pki.client_key)})
    context = ssl_context(tls)
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    subjects = [dict(x[0] for x in c["subject"]) for c in context.get_ca_certs()]
    assert {"commonName": "Maatwerk Test CA"} in subjects
    server_side = _handshake(context, _broker_context(pki))
    peer = server_side.getpeercert()
    assert peer is not None
    assert dict(x[0] for x in peer["subject"])["commonName"] == "maatwerk-hub"


def test_a_broker_outside_the_ca_is_refused(pki: Pki, tmp_path: Path) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    rogue, rogue_key = _issue(other_key, _name("Rogue CA"), "localhost", server=True)
    (tmp_path / "rogue.pem").write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    _write_key(tmp_path / "rogue.key", rogue_key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "rogue.pem", tmp_path / "rogue.key")
    context = ssl_context(TlsSettings(ca=pki.ca))
    assert context is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(context, server)


def test_connect_kwargs_choose_external_only_without_password(pki: Pki) -> None:
    with_cert = TlsSettings(ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    kwargs = connect_kwargs("amqps://broker:5671/", with_cert)
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["auth"] == "EXTERNAL"
    assert "auth" not in connect_kwargs("amqps://hub:secret@broker:5671/", with_cert)
    assert "auth" not in connect_kwargs("amqps://broker:5671/", TlsSettings(ca=pki.ca))


def _one_line(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_bad_paths_give_one_clear_line(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        ssl_context(TlsSettings(ca=tmp_path / "nope.pem"))
    assert _one_line(missing).startswith(f"MAATWERK_TLS_CA={tmp_path / 'nope.pem'}: cannot read")

    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(ConfigError) as not_pem:
        ssl_context(TlsSettings(ca=junk))
    assert "not a PEM file" in _one_line(not_pem)

    with pytest.raises(ConfigError) as alone:
        ssl_context(TlsSettings(ca=pki.ca, cert=pki.client_cert))
    assert "set both or neither" in _one_line(alone)

    with pytest.raises(ConfigError) as mismatch:
        ssl_context(TlsSettings(ca=pki.ca, cert=pki.client_cert, key=pki.server_key))
    assert "cannot load the certificate and key" in _one_line(mismatch)

    with pytest.raises(ConfigError) as bad_ca:
        ssl_context(TlsSettings(ca=pki.client_key))
    assert "MAATWERK_TLS_CA" in _one_line(bad_ca)

    with pytest.raises(ConfigError) as scheme:
        connect_kwargs("amqp://broker:5672/", TlsSettings(ca=pki.ca))
    assert "use amqps://" in _one_line(scheme)
