"""The console in a real headless browser: Debian's chromium driven by Playwright (no browser
download: ``executable_path=/usr/bin/chromium``). scripts/test installs chromium when it can."""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from adapters.sdk import Delivery, Reply
from hub.service import HubService
from tests.conftest import ClientFactory
from tests.helpers import BSN
from tests.integration.test_console import CASE, ConsoleHub, console_hub, play_case

pytestmark = [pytest.mark.broker, pytest.mark.timeout(150)]
__all__ = ["console_hub"]  # the fixture, imported for pytest

CHROMIUM = os.environ.get("MAATWERK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, bytes per pixel, rows) of an 8-bit RGB or RGBA PNG, unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, chunk = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up, up_left = previous[x], previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


REF = "ML-2026-31"


async def until_state(service: HubService, check: str, within: float = 20) -> None:
    for _ in range(int(within / 0.1)):
        status = await service.case(CASE)
        states = {e.state for e in status.escalations} | {r.state for r in status.bridging}
        if check in states:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the case never reached {check}")


async def play_escalation(service: HubService, client: ClientFactory) -> None:
    """The same case escalated: accepted, prefinanced, referred, decided (UWV), asked back and
    repaid, each step after the hub recorded the previous one."""
    gm, loket = await client("gm0193"), await client("loket")
    let, uwv = await client("let"), await client("uwv")

    async def loket_answers(d: Delivery) -> Reply:
        if d.envelope.type != "escalation.request":
            return None
        return d.reply("escalation.response", {"outcome": "accepted", "loket_reference": REF,
                                               "next_step": "bridging"})

    async def let_decides(d: Delivery) -> Reply:
        if d.envelope.type != "let.referral":
            return None
        return d.reply("let.decision", {"loket_reference": REF, "responsible_party": "uwv",
                                        "decision": "responsible_party_named"})

    async def uwv_repays(d: Delivery) -> Reply:
        if d.envelope.type != "bridging.settlement":
            return None
        return d.reply("bridging.repaid", {"loket_reference": REF, "amount_cents": 245000,
                                           "repaid_on": date.today().isoformat()})

    await loket.consume(loket_answers)
    await let.consume(let_decides)
    await uwv.consume(uwv_repays)
    await gm.send(gm.message(type="escalation.request", recipient="loket", case_id=CASE, body={
        "bsn": BSN, "municipality": "GM0193", "problem_areas": ["housing"],
        "agencies_involved": ["uwv"], "urgency": "urgent", "situation_summary": "Rent arrears.",
        "contact": {"name": "Maatwerk", "email": "m@zwolle.example", "phone": "+31 38 000 0007"}}))
    await until_state(service, "accepted")
    await loket.send(loket.message(type="bridging.decision", recipient="gm0193", case_id=CASE,
                                   body={"loket_reference": REF, "decision": "prefinance",
                                         "amount_cents": 245000, "referred_to_let": True,
                                         "creditor_kind": "housing_corporation"}))
    await until_state(service, "decided")  # the bridging decision
    await loket.send(loket.message(type="let.referral", recipient="let", case_id=CASE, body={
        "loket_reference": REF, "agencies_involved": ["uwv"], "problem_areas": ["housing"],
        "question": "Who repays the rent arrears?"}))
    for _ in range(200):
        if any(e.state == "decided" for e in (await service.case(CASE)).escalations):
            break
        await asyncio.sleep(0.1)
    await loket.send(loket.message(type="bridging.settlement", recipient="uwv", case_id=CASE,
                                   body={"loket_reference": REF, "responsible_party": "uwv",
                                         "amount_cents": 245000, "due_on": (
                                             date.today() + timedelta(days=30)).isoformat()}))
    await until_state(service, "repaid")


async def test_console_in_chromium(console_hub: ConsoleHub, client: ClientFactory,
                                   tmp_path: Path) -> None:
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (scripts/test does "
                    "that as root on Debian)")
    await play_case(console_hub.service, client)
    await play_escalation(console_hub.service, client)
    shot = tmp_path / "console.png"
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            response = await page.goto(f"{console_hub.base}/console?refresh=0")
            assert response is not None and response.status == 200
            assert await page.title() == "Maatwerk Hub console"
            await page.get_by_role("heading", name="Cases and time-outs per agency").wait_for()
            cases = page.locator("table").first
            row = cases.locator("tr", has_text=CASE)
            assert await row.count() == 1
            # the header names the agencies; SVB's cell says requested, answer overdue
            headers = [h.strip() for h in await cases.locator("th").all_inner_texts()]
            svb_cell = row.locator("td").nth(headers.index("svb"))
            assert "requested" in await svb_cell.inner_text()
            assert "answer overdue" in await svb_cell.inner_text()
            duo_cell = row.locator("td").nth(headers.index("duo"))
            assert "declined" in await duo_cell.inner_text()
            assert "other_route_applies" in await duo_cell.inner_text()
            body = await page.locator("body").inner_text()
            assert "policy_special_category" in body  # the hub's refusal, by reason
            assert "123456782" not in body
            overdue = page.locator("span.a-overdue").first
            colour = await overdue.evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(179, 38, 30)"  # styled: red
            # the escalation and the overbrugging ledger, with totals per party
            ladder = page.locator("table", has=page.locator("th", has_text="escalated by"))
            assert "decided" in await ladder.inner_text() and REF in await ladder.inner_text()
            ledger = page.locator("table", has=page.locator("th", has_text="prefinanced"))
            uwv_row = await ledger.locator("tr", has_text="uwv").inner_text()
            assert uwv_row.split("\t")[1:6] == ["2,450.00", "0.00", "2,450.00", "2,450.00",
                                                 "0.00"], uwv_row
            await page.screenshot(path=str(shot), full_page=True)

            await row.locator("a", has_text=CASE).click()
            await page.wait_for_url(f"**/console/cases/{CASE}")
            assert "overdue, reminded" in await page.locator("pre").text_content()

            # the case as a picture: one lane per organisation, an arrow per message
            status = await console_hub.service.case(CASE)
            await page.reload()
            svg = page.locator("svg#case-picture")
            assert await svg.count() == 1
            lanes = await svg.locator("g.lane").evaluate_all(
                "gs => gs.map(g => g.dataset.participant)")
            parties = {m.sender for m in status.messages} | {m.recipient for m in
                                                             status.messages} | {"hub"}
            assert sorted(lanes) == sorted(parties) and len(lanes) == len(set(lanes))
            arrows = svg.locator("line.arrow")
            assert await arrows.count() == len(status.messages) + len(status.hub_messages)
            assert await svg.locator("line.arrow-refused").count() == sum(
                1 for m in status.messages if m.status == "refused")
            assert await svg.locator("line.arrow-refused").count() == 1  # the policy's refusal
            assert await svg.locator("g.mark-overdue").count() >= 1  # SVB's answer
            assert await svg.locator("g.bar.pause").count() == 1  # CJIB's accepted pause
            bars = " ".join(await svg.locator("g.bar title").all_text_contents())
            for state in ("submitted", "accepted", "referred to let", "decided"):
                assert state in bars, bars
            assert "prefinance EUR 2,450.00: repaid, open EUR 0.00" in bars
            box = await svg.bounding_box()
            assert box is not None and box["height"] >= 60 * len(lanes)
            await svg.screenshot(path=str(tmp_path / "case.png"))
        finally:
            await browser.close()

    data = shot.read_bytes()
    assert len(data) > 20_000, len(data)
    width, height, bpp, rows = decode_png(data)
    assert width == 1400 and height >= 900
    pixels = {row[x:x + 3] for row in rows[:height:7] for x in range(0, width * bpp, 7 * bpp)}
    assert len(pixels) > 20, "the screenshot looks blank"
    white = (b"\xff\xff\xff",)
    assert sum(1 for row in rows for x in range(0, width * bpp, bpp * 11)
               if row[x:x + 3] not in white) > 2000, "hardly anything drawn"
    Path(os.environ.get("MAATWERK_SCREENSHOT_DIR") or tmp_path).joinpath(
        "console.png").write_bytes(data)

    case_png = (tmp_path / "case.png").read_bytes()
    width, height, bpp, rows = decode_png(case_png)
    assert width >= 600 and height >= 300
    colours = {row[x:x + 3] for row in rows for x in range(0, width * bpp, bpp * 3)}
    for rgb in ((0x2b, 0x4a, 0x6f), (0xb3, 0x26, 0x1e), (0xdf, 0xf3, 0xe0)):
        assert bytes(rgb) in colours, f"no {rgb} drawn (arrows, refusals, pauses)"
    Path(os.environ.get("MAATWERK_SCREENSHOT_DIR") or tmp_path).joinpath(
        "case.png").write_bytes(case_png)
