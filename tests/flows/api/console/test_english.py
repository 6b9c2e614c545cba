"""With ``CONVOY_LOCALE=en`` every console page speaks English: the page's language, its
navigation, headings and buttons (the data — place names, enterprises — stay as recorded)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.flows.api.console.site import BUS, Site, sign_in, site

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("console-en"), CONVOY_LOCALE="en") as s:
        yield s


def test_the_pages_are_english(op: Site) -> None:
    with op.client() as c:
        login = c.get("/console/login").text
        assert '<html lang="en">' in login and not CJK.search(login)
        sign_in(c, op.tokens["coordinator"])
        for path, words in {
            "/console/": ("Every convoy", "Sign out", "unacknowledged"),
            f"/console/convoys/{BUS}": ("Stage timeline", "Seat roster (masked)", "Acknowledge"),
            "/console/alerts": ("Alert inbox", "Snooze"),
            "/console/intake": ("Upload and import",),
            "/console/overview": ("Operation overview", "officers sent"),
            "/console/permits": ("Vehicle-pass applications", "h to midnight", "same day missed"),
        }.items():
            page = c.get(path).text.replace("王协调", "")  # the user's name is data
            for word in words:
                assert word in page, (path, word)
            chrome = re.sub(r"<(td|option|h1|title|a)\b[^>]*>.*?</\1>", "", page, flags=re.S)
            assert not CJK.search(chrome), (path, CJK.findall(chrome)[:10])
