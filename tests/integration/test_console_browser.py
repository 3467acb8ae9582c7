"""The console in a real headless browser: Debian's chromium driven by Playwright (no browser
download: ``executable_path=/usr/bin/chromium``). scripts/test installs chromium when it can."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from tests.conftest import ClientFactory
from tests.integration.test_console import CASE, ConsoleHub, console_hub, play_case

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]
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


async def test_console_in_chromium(console_hub: ConsoleHub, client: ClientFactory,
                                   tmp_path: Path) -> None:
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (scripts/test does "
                    "that as root on Debian)")
    await play_case(console_hub.service, client)
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
            await page.screenshot(path=str(shot), full_page=True)

            await row.locator("a", has_text=CASE).click()
            await page.wait_for_url(f"**/console/cases/{CASE}")
            assert "overdue, reminded" in await page.locator("pre").inner_text()
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
