"""Refresh the vendored JS/CSS/font/image files that offline folium maps load.

This is a build-time tool, not part of the runtime. It needs ``npm`` (the npm registry) and
``pip`` (PyPI, for folium's source distribution) and rewrites, under ``maps/assets/``:

* ``vendor/<name>/…`` – only the dist files folium 0.20 and the plugins we use reference,
  with CSS ``url()`` references pointing at local files (fonts reduced to WOFF2, the
  protocol-relative ``//netdna…`` font URLs of Leaflet.TimeDimension replaced) and source-map
  comments removed;
* ``manifest.json`` – which CDN URL maps to which vendored file, plus size and SHA-256 of every
  file (``maps/offline.py`` reads it at run time);
* the "vendored assets" section of ``SOURCES.md``.

Run it from the repository root, as a module of the ``scripts`` package::

    .venv/bin/python -m scripts.fetch_assets

then run ``.venv/bin/pytest tests/maps`` and review the diff before committing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parents[1] / "maps" / "assets"
VENDOR_DIR = ASSETS_DIR / "vendor"
MANIFEST = ASSETS_DIR / "manifest.json"
SOURCES = ASSETS_DIR / "SOURCES.md"
FOLIUM_SDIST_VERSION = "0.20.0"

Transform = Callable[[str, Path], str]


@dataclass(frozen=True)
class Package:
    """One npm (or PyPI) package and the files vendored from it."""

    key: str  # folder under vendor/
    registry: str  # "npm" or "pypi-sdist"
    name: str
    version: str
    licence: str
    files: dict[str, str]  # path inside the package -> path under vendor/<key>/
    urls: dict[str, str] = field(default_factory=dict)  # CDN URL -> path under vendor/<key>/
    transforms: dict[str, tuple[Transform, ...]] = field(default_factory=dict)
    note: str = ""


# --------------------------------------------------------------------------- transforms

_SOURCE_MAP_RE = re.compile(
    r"^\s*//# sourceMappingURL=\S*\s*$|/\*# sourceMappingURL=[^*]*\*/", re.M
)
_FONT_FACE_RE = re.compile(r"@font-face\s*\{[^}]*\}")
_URL_RE = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")
_SRC_DECL_RE = re.compile(r"\bsrc\s*:[^;}]*;?")


def strip_source_map(text: str, _path: Path) -> str:
    """Remove ``sourceMappingURL`` comments (the ``.map`` files are not vendored)."""
    return _SOURCE_MAP_RE.sub("", text)


def woff2_only(font_map: dict[str, str] | None = None) -> Transform:
    """Rewrite every ``@font-face`` to a single WOFF2 ``src``.

    Without ``font_map`` the block's own ``.woff2`` URL is kept. With it, the file stem of the
    block's first URL (e.g. ``glyphicons-halflings-regular``) is looked up to find the new,
    local, WOFF2 path – used where the original points at a CDN.
    """

    def transform(css: str, path: Path) -> str:
        def rewrite(match: re.Match[str]) -> str:
            block = match.group(0)
            urls = [u for _, u in _URL_RE.findall(block)]
            if not urls:
                raise SystemExit(f"{path}: an @font-face block has no url(): {block[:80]!r}")
            if font_map is not None:
                stem = urls[0].split("?")[0].split("#")[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
                if stem not in font_map:
                    raise SystemExit(f"{path}: no local font is configured for {urls[0]!r}.")
                target = font_map[stem]
            else:
                woff2 = sorted({u for u in urls if u.split("?")[0].endswith(".woff2")})
                if len(woff2) != 1:
                    raise SystemExit(f"{path}: expected one .woff2 URL in {block[:120]!r}.")
                target = woff2[0]
            body = _SRC_DECL_RE.sub("", block[:-1]).rstrip().rstrip(";")
            return f'{body};src:url("{target}") format("woff2")}}'

        return _FONT_FACE_RE.sub(rewrite, css)

    return transform


def extract_glyphicons(css: str, path: Path) -> str:
    """Keep only the Glyphicons Halflings ``@font-face`` and ``.glyphicon*`` rules of Bootstrap 3.

    folium loads Bootstrap 3's ``bootstrap-glyphicons.css`` next to Bootstrap 5 for the
    awesome-markers ``glyphicon`` prefix; the rest of Bootstrap 3 would fight Bootstrap 5.
    """
    header = (
        "/*!\n * Glyphicons Halflings rules extracted from Bootstrap v3.4.1\n"
        " * Copyright 2011-2019 Twitter, Inc.\n * Licensed under the MIT license\n */\n"
    )
    out: list[str] = []
    for match in re.finditer(r"(@font-face\s*|[^{}@]+)\{([^{}]*)\}", css):
        selector, body = match.group(1).strip(), match.group(2)
        if selector == "@font-face":
            if "Glyphicons Halflings" in body:
                compact = ";".join(line.strip().rstrip(";") for line in body.strip().splitlines())
                out.insert(0, f"@font-face{{{compact}}}")
            continue
        selectors = [s.strip() for s in selector.split(",")]
        if selectors and all(s.startswith(".glyphicon") for s in selectors):
            compact = ";".join(line.strip().rstrip(";") for line in body.strip().splitlines())
            out.append(f"{','.join(selectors)}{{{compact}}}")
    if len(out) < 200 or not out[0].startswith("@font-face"):
        raise SystemExit(f"{path}: the glyphicon rules were not found; the layout changed.")
    return header + "\n".join(out) + "\n"


def compact_css(css: str, _path: Path) -> str:
    """Collapse the indentation of folium's generated rotate CSS (1,000 near-identical lines)."""
    return "\n".join(line.strip() for line in css.splitlines() if line.strip()) + "\n"


# --------------------------------------------------------------------------- package list

CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
JSDELIVR = "https://cdn.jsdelivr.net"

PACKAGES: tuple[Package, ...] = (
    Package(
        key="leaflet",
        registry="npm",
        name="leaflet",
        version="1.9.3",
        licence="BSD-2-Clause",
        files={
            "dist/leaflet.js": "leaflet.js",
            "dist/leaflet.css": "leaflet.css",
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
            "dist/images/marker-icon.png": "images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "images/marker-shadow.png",
            "LICENSE": "LICENSE",
        },
        urls={
            f"{JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet.js",
            f"{JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet.css",
        },
        transforms={"leaflet.js": (strip_source_map,)},
    ),
    Package(
        key="jquery",
        registry="npm",
        name="jquery",
        version="3.7.1",
        licence="MIT",
        files={"dist/jquery.min.js": "jquery.min.js", "LICENSE.txt": "LICENSE.txt"},
        urls={
            "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
            f"{CDNJS}/jquery/3.7.1/jquery.min.js": "jquery.min.js",
        },
    ),
    Package(
        key="bootstrap",
        registry="npm",
        name="bootstrap",
        version="5.2.2",
        licence="MIT",
        files={
            "dist/js/bootstrap.bundle.min.js": "bootstrap.bundle.min.js",
            "dist/css/bootstrap.min.css": "bootstrap.min.css",
            "LICENSE": "LICENSE",
        },
        urls={
            f"{JSDELIVR}/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
                "bootstrap.bundle.min.js"
            ),
            f"{JSDELIVR}/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": "bootstrap.min.css",
        },
        transforms={
            "bootstrap.bundle.min.js": (strip_source_map,),
            "bootstrap.min.css": (strip_source_map,),
        },
        note="Includes Popper (MIT) in the bundle.",
    ),
    Package(
        key="glyphicons",
        registry="npm",
        name="bootstrap",
        version="3.4.1",
        licence="MIT",
        files={
            "dist/css/bootstrap.css": "glyphicons.css",
            "dist/fonts/glyphicons-halflings-regular.woff2": "glyphicons-halflings-regular.woff2",
            "LICENSE": "LICENSE",
        },
        urls={
            "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
                "glyphicons.css"
            ),
        },
        transforms={
            "glyphicons.css": (
                extract_glyphicons,
                woff2_only({"glyphicons-halflings-regular": "glyphicons-halflings-regular.woff2"}),
            )
        },
        note=(
            "folium links Bootstrap 3.0.0's `bootstrap-glyphicons.css`, which is not on npm; the "
            "`@font-face` and `.glyphicon*` rules are extracted from Bootstrap 3.4.1 (same code "
            "points). The Glyphicons Halflings font is distributed with Bootstrap under its MIT "
            "licence by permission of its author."
        ),
    ),
    Package(
        key="fontawesome",
        registry="npm",
        name="@fortawesome/fontawesome-free",
        version="6.2.0",
        licence="CC-BY-4.0 (icons) AND OFL-1.1 (fonts) AND MIT (code)",
        files={
            "css/all.min.css": "css/all.min.css",
            "webfonts/fa-brands-400.woff2": "webfonts/fa-brands-400.woff2",
            "webfonts/fa-regular-400.woff2": "webfonts/fa-regular-400.woff2",
            "webfonts/fa-solid-900.woff2": "webfonts/fa-solid-900.woff2",
            "webfonts/fa-v4compatibility.woff2": "webfonts/fa-v4compatibility.woff2",
            "LICENSE.txt": "LICENSE.txt",
        },
        urls={
            f"{JSDELIVR}/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
                "css/all.min.css"
            ),
        },
        transforms={"css/all.min.css": (woff2_only(),)},
        note="Fonts reduced to WOFF2 (the TTF fallbacks are not vendored).",
    ),
    Package(
        key="awesome-markers",
        registry="npm",
        name="drmonty-leaflet-awesome-markers",
        version="2.0.2",
        licence="MIT",
        files={
            "js/leaflet.awesome-markers.js": "leaflet.awesome-markers.js",
            "css/leaflet.awesome-markers.css": "leaflet.awesome-markers.css",
            "css/images/markers-soft.png": "images/markers-soft.png",
            "css/images/markers-soft@2x.png": "images/markers-soft@2x.png",
            "css/images/markers-shadow.png": "images/markers-shadow.png",
            "css/images/markers-shadow@2x.png": "images/markers-shadow@2x.png",
        },
        urls={
            f"{CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (
                "leaflet.awesome-markers.js"
            ),
            f"{CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (
                "leaflet.awesome-markers.css"
            ),
        },
        note=(
            "npm mirror of Leaflet.awesome-markers 2.0.2 by Lennard Voogdt; the package ships no "
            "licence file, so `LICENSE` here is the MIT text with the copyright line of the "
            "source header."
        ),
    ),
    Package(
        key="folium",
        registry="pypi-sdist",
        name="folium",
        version=FOLIUM_SDIST_VERSION,
        licence="MIT",
        files={
            "folium/templates/leaflet.awesome.rotate.css": "leaflet.awesome.rotate.css",
            "LICENSE.txt": "LICENSE.txt",
        },
        urls={
            f"{JSDELIVR}/gh/python-visualization/folium/folium/templates/"
            "leaflet.awesome.rotate.min.css": "leaflet.awesome.rotate.css",
        },
        transforms={"leaflet.awesome.rotate.css": (compact_css,)},
        note="From folium's source distribution on PyPI (the wheel does not include it).",
    ),
    Package(
        key="leaflet-fullscreen",
        registry="npm",
        name="leaflet.fullscreen",
        version="3.0.0",
        licence="MIT",
        files={
            "Control.FullScreen.js": "Control.FullScreen.js",
            "Control.FullScreen.css": "Control.FullScreen.css",
            "icon-fullscreen.svg": "icon-fullscreen.svg",
            "LICENSE": "LICENSE",
        },
        urls={
            f"{JSDELIVR}/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
                "Control.FullScreen.js"
            ),
            f"{JSDELIVR}/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
                "Control.FullScreen.css"
            ),
        },
        note="The package ships no minified file; the unminified one is 8 KB.",
    ),
    Package(
        key="leaflet-markercluster",
        registry="npm",
        name="leaflet.markercluster",
        version="1.1.0",
        licence="MIT",
        files={
            "dist/leaflet.markercluster.js": "leaflet.markercluster.js",
            "dist/MarkerCluster.css": "MarkerCluster.css",
            "dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
            "MIT-LICENCE.txt": "MIT-LICENCE.txt",
        },
        urls={
            f"{CDNJS}/leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
                "leaflet.markercluster.js"
            ),
            f"{CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.css": "MarkerCluster.css",
            f"{CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (
                "MarkerCluster.Default.css"
            ),
        },
        transforms={"leaflet.markercluster.js": (strip_source_map,)},
    ),
    Package(
        key="leaflet-timedimension",
        registry="npm",
        name="leaflet-timedimension",
        version="1.1.1",
        licence="MIT",
        files={
            "dist/leaflet.timedimension.min.js": "leaflet.timedimension.min.js",
            "dist/leaflet.timedimension.control.css": "leaflet.timedimension.control.css",
            "LICENSE": "LICENSE",
        },
        urls={
            f"{JSDELIVR}/npm/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.min.js": (
                "leaflet.timedimension.min.js"
            ),
            f"{JSDELIVR}/npm/leaflet-timedimension@1.1.1/dist/"
            "leaflet.timedimension.control.css": "leaflet.timedimension.control.css",
        },
        transforms={
            "leaflet.timedimension.control.css": (
                woff2_only(
                    {
                        "glyphicons-halflings-regular": (
                            "../glyphicons/glyphicons-halflings-regular.woff2"
                        )
                    }
                ),
            )
        },
        note=(
            "The control CSS loaded Glyphicons from protocol-relative `//netdna.bootstrapcdn.com` "
            "URLs; they now point at the vendored Glyphicons WOFF2."
        ),
    ),
    Package(
        key="iso8601-js-period",
        registry="npm",
        name="iso8601-js-period",
        version="0.2.1",
        licence="Apache-2.0",
        files={"iso8601.js": "iso8601.js"},
        urls={f"{JSDELIVR}/npm/iso8601-js-period@0.2.1/iso8601.min.js": "iso8601.js"},
        note=(
            "The package ships no minified file and no licence file; `LICENSE` here is the "
            "Apache-2.0 text (from Debian's common-licenses)."
        ),
    ),
    Package(
        key="jquery-ui",
        registry="npm",
        name="jquery-ui-dist",
        version="1.13.3",
        licence="MIT",
        files={"jquery-ui.min.js": "jquery-ui.min.js", "LICENSE.txt": "LICENSE.txt"},
        urls={f"{CDNJS}/jqueryui/1.10.2/jquery-ui.min.js": "jquery-ui.min.js"},
        note=(
            "folium links jQuery UI 1.10.2, which npm does not have as a built file; 1.13.3 is "
            "used instead (it fixes the XSS advisories of 1.10–1.13.1 and supports jQuery 3.7). "
            "Neither TimestampedGeoJson's template nor Leaflet.TimeDimension calls jQuery UI."
        ),
    ),
    Package(
        key="moment",
        registry="npm",
        name="moment",
        version="2.30.1",
        licence="MIT",
        files={"min/moment.min.js": "moment.min.js", "LICENSE": "LICENSE"},
        urls={f"{CDNJS}/moment.js/2.18.1/moment.min.js": "moment.min.js"},
        transforms={"moment.min.js": (strip_source_map,)},
        note=(
            "folium links moment 2.18.1, which has ReDoS advisories (CVE-2017-18214, "
            "CVE-2022-31129); 2.30.1 is API-compatible and fixed."
        ),
    ),
    Package(
        key="highlight-js",
        registry="npm",
        name="highlight.js",
        version="8.4.0",
        licence="BSD-3-Clause",
        files={"styles/default.css": "default.css", "LICENSE": "LICENSE"},
        urls={f"{CDNJS}/highlight.js/8.4/styles/default.min.css": "default.css"},
        note="Only the stylesheet (no script) – TimestampedGeoJson links it.",
    ),
)

EXTRA_LICENCES: dict[str, tuple[str, str]] = {
    # key -> (file name, text source) for packages that ship no licence file.
    "iso8601-js-period": ("LICENSE", "/usr/share/common-licenses/Apache-2.0"),
    "awesome-markers": ("LICENSE", "mit:Copyright (c) 2012-2013 Lennard Voogdt"),
}

MIT_TEXT = """MIT License

{copyright}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


# --------------------------------------------------------------------------- fetching


def _run(cmd: list[str], cwd: Path) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr.strip()}")
    return result.stdout


def _unpack(pkg: Package, work: Path) -> Path:
    """Download one package into ``work`` and return the folder its files are relative to."""
    target = work / f"{pkg.key}-{pkg.version}"
    target.mkdir()
    if pkg.registry == "npm":
        out = _run(["npm", "pack", "--silent", f"{pkg.name}@{pkg.version}"], cwd=target)
        tarball = target / out.strip().splitlines()[-1]
        inner = "package"
    else:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(target),
                f"{pkg.name}=={pkg.version}",
            ],
            cwd=target,
        )
        tarball = next(target.glob(f"{pkg.name}-{pkg.version}.tar.gz"))
        inner = f"{pkg.name}-{pkg.version}"
    with tarfile.open(tarball) as tar:
        tar.extractall(target / "x", filter="data")
    return target / "x" / inner


def _check_css_urls(path: Path) -> None:
    """Fail unless every ``url()`` in a vendored CSS file is a data URI or an existing file."""
    for _, url in _URL_RE.findall(path.read_text(encoding="utf-8")):
        if url.startswith(("data:", "#")):
            continue
        local = (path.parent / url.split("?")[0].split("#")[0]).resolve()
        if "//" in url or ":" in url or not local.is_file():
            raise SystemExit(f"{path}: url({url}) is not a vendored local file.")


def fetch(work: Path) -> dict[str, object]:
    """Download, extract and transform every package; return the manifest."""
    if VENDOR_DIR.exists():
        shutil.rmtree(VENDOR_DIR)
    urls: dict[str, str] = {}
    packages: list[dict[str, object]] = []
    for pkg in PACKAGES:
        print(f"fetching {pkg.name}@{pkg.version}", file=sys.stderr)
        root = _unpack(pkg, work)
        dest = VENDOR_DIR / pkg.key
        for src, rel in pkg.files.items():
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / src, out)
        if pkg.key in EXTRA_LICENCES:
            name, source = EXTRA_LICENCES[pkg.key]
            if source.startswith("mit:"):
                text = MIT_TEXT.format(copyright=source[4:])
            else:
                text = Path(source).read_text(encoding="utf-8")
            (dest / name).write_text(text, encoding="utf-8")
        for rel, steps in pkg.transforms.items():
            out = dest / rel
            text = out.read_text(encoding="utf-8")
            for step in steps:
                text = step(text, out)
            out.write_text(text, encoding="utf-8")
        for url, rel in pkg.urls.items():
            urls[url] = f"vendor/{pkg.key}/{rel}"
        packages.append(
            {
                "key": pkg.key,
                "registry": pkg.registry,
                "name": pkg.name,
                "version": pkg.version,
                "licence": pkg.licence,
                "note": pkg.note,
            }
        )
    files: dict[str, dict[str, object]] = {}
    for path in sorted(VENDOR_DIR.rglob("*")):
        if path.is_file():
            if path.suffix == ".css":
                _check_css_urls(path)
            data = path.read_bytes()
            files[path.relative_to(ASSETS_DIR).as_posix()] = {
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    return {
        "about": "Written by scripts/fetch_assets.py; do not edit by hand.",
        "urls": dict(sorted(urls.items())),
        "packages": packages,
        "files": files,
    }


def _sources_section(manifest: dict[str, object]) -> str:
    files = manifest["files"]
    assert isinstance(files, dict)
    rows = [
        "| folder | package | version | registry | licence | bytes | notes |",
        "| --- | --- | --- | --- | --- | ---: | --- |",
    ]
    packages = manifest["packages"]
    assert isinstance(packages, list)
    total = 0
    for pkg in packages:
        prefix = f"vendor/{pkg['key']}/"
        size = sum(int(v["bytes"]) for k, v in files.items() if k.startswith(prefix))
        total += size
        registry = "npm" if pkg["registry"] == "npm" else "PyPI (sdist)"
        rows.append(
            f"| `{prefix}` | `{pkg['name']}` | {pkg['version']} | {registry} | {pkg['licence']} "
            f"| {size:,} | {pkg['note']} |"
        )
    rows.append(f"| **total** | | | | | **{total:,}** | |")
    return "\n".join(rows)


def replace_section(text: str, name: str, body: str) -> str:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + block + rest.split(end, 1)[1]
    return text.rstrip() + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="convoy-assets-") as tmp:
        manifest = fetch(Path(tmp))
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
    text = SOURCES.read_text(encoding="utf-8") if SOURCES.exists() else "# Asset sources\n"
    SOURCES.write_text(replace_section(text, "vendor", _sources_section(manifest)), "utf-8")
    files = manifest["files"]
    assert isinstance(files, dict)
    print(f"{len(files)} files, {sum(int(v['bytes']) for v in files.values()):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
