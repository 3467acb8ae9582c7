"""The trust document over the hub (issue 12): each new serial is broadcast as ``trust.update`` to
every participant once, by one of two replicas sharing the state, and audited once; a
``trust.query`` is answered with the current document. Real broker, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import Settings
from hub.contract import trust
from hub.contract.notary import notice_id
from hub.contract.registry import Registry
from hub.service import HubService
from hub.state import trust_serials
from hub.state.audit_events import EVENT_TRUST
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import collect, wait_for

pytestmark = [pytest.mark.broker]


def _serial(hub: HubService) -> int | None:
    held = hub.trust.current if hub.trust is not None else None
    return held.serial if held is not None else None


@pytest.fixture
async def replicas(federation: tuple[Path, Path, bytes], hub_settings: Settings,
                   registry: Registry, clock: FakeClock,
                   state_url: str) -> AsyncIterator[list[HubService]]:
    own, trust_file, _ = federation
    settings = hub_settings.replace(keys_dir=own, trust_file=trust_file, state_url=state_url,
                                    reload_seconds=0.2)
    hubs = [HubService(settings, registry=registry, clock=clock) for _ in range(2)]
    for hub in hubs:
        await hub.start()
    yield hubs
    for hub in hubs:
        await hub.stop()


async def test_each_serial_is_broadcast_once_audited_once_and_a_query_is_answered(
    replicas: list[HubService], federation: tuple[Path, Path, bytes], client: ClientFactory,
) -> None:
    _, trust_file, authority = federation
    gm, cjib = await client("gm0193"), await client("cjib")
    gm_got, cjib_got = await collect(gm, "trust.update"), await collect(cjib, "trust.update")

    assert await asyncio.to_thread(main, ["trust", "sign"]) == 0  # serial 1
    await wait_for(lambda: len(gm_got) == 1 and len(cjib_got) == 1, timeout=10)
    update = gm_got[0].envelope
    assert update.sender == "hub" and update.body.serial == 1  # type: ignore[attr-defined]
    assert update.id == trust.broadcast_id(1, trust.document_sha256(trust_file.read_bytes()),
                                           "gm0193")
    # the document inside verifies under the authority key, byte-independent of the wrapping
    document = trust.verify(json.dumps(update.body.document).encode(),  # type: ignore[attr-defined]
                            authority, now=replicas[0].clock())
    assert document.serial == 1

    assert await asyncio.to_thread(main, ["trust", "sign"]) == 0  # serial 2
    await wait_for(lambda: len(gm_got) == 2 and len(cjib_got) == 2, timeout=10)
    assert [d.envelope.body.serial for d in gm_got] == [1, 2]  # type: ignore[attr-defined]

    query = gm.message(type="trust.query", recipient="hub", case_id="trust",
                       body={"known_serial": 1})
    await gm.send(query)
    await wait_for(lambda: len(gm_got) == 3, timeout=10)
    answer = gm_got[2].envelope
    assert str(answer.in_reply_to) == query["id"]
    assert answer.id == notice_id("trust.update", answer.in_reply_to)  # type: ignore[arg-type]
    assert answer.body.serial == 2  # type: ignore[attr-defined]

    await asyncio.sleep(1.0)  # both replicas have checked the file several times since
    assert len(gm_got) == 3 and len(cjib_got) == 2  # nothing sent twice
    assert sum(hub.trust.broadcasts for hub in replicas) == 2  # type: ignore[union-attr]
    assert all(hub.trust.current.serial == 2 for hub in replicas)  # type: ignore[union-attr]
    assert replicas[0]._db is not None
    published = await trust_serials.published(replicas[0]._db)
    assert [p.serial for p in published] == [1, 2]
    assert published[1].sha256 == trust.document_sha256(trust_file.read_bytes())

    audit = replicas[0].audit
    assert audit is not None
    records = await audit.of_event(EVENT_TRUST)
    assert [r.attributes["maatwerk.trust.serial"] for r in records] == ["1", "2"]
    assert records[1].body_hash == published[1].sha256
    assert records[1].attributes["maatwerk.trust.policy"] == document.policy.version
    assert records[1].attributes["maatwerk.trust.registry"] == document.registry_version
    assert "maatwerk.trust.agreements_sha256" in records[1].attributes
    assert (await audit.verify()).ok


async def test_an_older_or_tampered_file_is_refused_and_not_broadcast(
    replicas: list[HubService], federation: tuple[Path, Path, bytes], client: ClientFactory,
) -> None:
    _, trust_file, _ = federation
    gm = await client("gm0193")
    got = await collect(gm, "trust.update")
    assert await asyncio.to_thread(main, ["trust", "sign"]) == 0
    first = trust_file.read_bytes()
    assert await asyncio.to_thread(main, ["trust", "sign"]) == 0
    # two signs in a row: a replica may see only serial 2 (serial 1 is then never broadcast)
    await wait_for(lambda: any(d.envelope.body.serial == 2 for d in got),  # type: ignore
                   timeout=10)
    before = len(got)
    await wait_for(lambda: all(_serial(h) == 2 for h in replicas), timeout=10)

    trust_file.write_bytes(first)  # an older serial
    await wait_for(lambda: all(h.trust.error for h in replicas), timeout=10)  # type: ignore
    assert "older" in (replicas[0].trust.error or "")  # type: ignore[union-attr]
    assert "trust" in replicas[0].readiness_details()["degraded"]  # type: ignore[operator]
    tampered = json.loads(first)
    tampered["serial"] = 9
    trust_file.write_text(json.dumps(tampered))
    await wait_for(lambda: "signature" in (replicas[1].trust.error or ""),  # type: ignore
                   timeout=10)
    await asyncio.sleep(0.5)
    assert len(got) == before
    assert all(h.trust.current.serial == 2 for h in replicas)  # type: ignore[union-attr]


async def test_rotate_revoke_and_suspend_re_sign_and_the_hub_broadcasts(
    federation: tuple[Path, Path, bytes], hub_settings: Settings, registry_file: Path,
    client: ClientFactory, clock: FakeClock, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    own, trust_file, authority = federation
    own_registry = Path(shutil.copy(registry_file, tmp_path / "registry.yaml"))
    settings = hub_settings.replace(keys_dir=own, trust_file=trust_file,
                                    registry_path=own_registry, reload_seconds=0.2)
    hub = HubService(settings, clock=clock)
    await hub.start()
    try:
        gm = await client("gm0193")
        got = await collect(gm, "trust.update")

        def serials() -> list[int]:
            return [d.envelope.body.serial for d in got]  # type: ignore[attr-defined]

        assert await asyncio.to_thread(main, ["keys", "rotate", "cjib"]) == 0
        assert "trust document re-signed" in capsys.readouterr().out
        await wait_for(lambda: serials() == [1], timeout=10)
        document = trust.verify(json.dumps(got[0].envelope.body.document).encode(),  # type: ignore
                                authority, now=clock())
        cjib_keys = next(p for p in document.participants if p.id == "cjib").keys
        assert len(cjib_keys) == 2  # the rotation's new key is in the broadcast document
        old = cjib_keys[0].kid

        assert await asyncio.to_thread(main, ["keys", "revoke", "cjib", "--", old]) == 0
        await wait_for(lambda: serials() == [1, 2], timeout=10)
        document = trust.verify(json.dumps(got[1].envelope.body.document).encode(),  # type: ignore
                                authority, now=clock())
        revoked = next(p for p in document.participants if p.id == "cjib").keys[0]
        assert revoked.kid == old and revoked.revoked_at is not None

        assert await asyncio.to_thread(main, [
            "participant", "suspend", "duo", "--registry", str(own_registry)]) == 0
        await wait_for(lambda: serials() == [1, 2, 3], timeout=10)
        assert hub.audit is not None
        assert len(await hub.audit.of_event(EVENT_TRUST)) == 3
    finally:
        await hub.stop()

    (own / "private" / "registry-authority.pem").unlink()  # no authority key here
    (own / "registry-authority.json").unlink()
    assert main(["keys", "rotate", "svb"]) == 0
    out = capsys.readouterr().out
    assert "trust document not re-signed" in out and "maatwerk-hub trust sign" in out
    assert json.loads(trust_file.read_text())["serial"] == 3
