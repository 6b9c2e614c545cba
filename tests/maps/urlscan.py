"""Find every absolute or protocol-relative URL in saved map files (the "no CDN" check).

Licence and doc comments of the vendored libraries are skipped; every URL left must be in
:data:`ALLOWED`, each with the reason it is never fetched.
"""

from __future__ import annotations

import re
from pathlib import Path

URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+[^\s"'`<>()\\]*""")
# Licence headers (/*! … */, /** … */, /* @preserve … */, any block mentioning a licence)
# and comments that start a line. Comments inside code are left in place (and scanned).
COMMENT = re.compile(
    r"/\*(?:!|\*|\s*@preserve|[^*]*?(?:Copyright|License|Licensed|\(c\)))[\s\S]*?\*/"
    r"|^[ \t]*/\*[\s\S]*?\*/|^[ \t]*//[^\n]*",
    re.M,
)

ALLOWED: dict[str, str] = {
    "http://www.w3.org/2000/svg": "XML namespace name in Leaflet and Bootstrap SVG code",
    "https://leafletjs.com": "attribution text: the link behind 'Leaflet' in the corner",
    "https://popper.js.org": "text of a Bootstrap error message",
    "https://github.com/nezasa/iso8601-js-period": "text of a TimeDimension error message",
    "http://momentjs.com/guides/#/warnings/define-locale/": "text of a moment.js warning",
    "http://momentjs.com/guides/#/warnings/js-date/": "text of a moment.js warning",
    "http://momentjs.com/guides/#/warnings/min-max/": "text of a moment.js warning",
    "http://momentjs.com/guides/#/warnings/add-inverted-param/": "text of a moment.js warning",
    "http://momentjs.com/guides/#/warnings/zone/": "text of a moment.js warning",
    "http://momentjs.com/guides/#/warnings/dst-shifted/": "text of a moment.js warning",
}


def urls_in(text: str) -> dict[str, str]:
    """URL -> surrounding text, for every URL outside licence/doc comments."""
    stripped = COMMENT.sub("", text)
    found: dict[str, str] = {}
    for match in URL.finditer(stripped):
        start = match.start()
        before = stripped[start - 1] if start else ""
        if not match.group(0).startswith("http") and (before == ":" or before.isalnum()):
            continue  # "a//b" in code or the tail of a scheme we do not care about
        found.setdefault(match.group(0), stripped[max(0, start - 60) : match.end() + 40])
    return found


def disallowed_urls(text: str, extra_allowed: tuple[str, ...] = ()) -> dict[str, str]:
    """The URLs in ``text`` that are neither allowed nor in ``extra_allowed``."""
    return {
        url: context
        for url, context in urls_in(text).items()
        if url not in ALLOWED and url not in extra_allowed
    }


def referenced_files(html_path: Path) -> list[Path]:
    """The local scripts and stylesheets a folder-mode page links (relative to the page)."""
    text = html_path.read_text(encoding="utf-8")
    refs = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', text)
    return [(html_path.parent / ref).resolve() for ref in refs]
