"""Custom Leaflet elements of the Convoy Ops maps, each drawn by one small script.

folium's ``Marker``/``Popup``/``Tooltip`` elements compile a Jinja template per instance; with
hundreds of markers that dominated the build time of the overview. Here markers and lines are
data (:class:`BadgeMarkers`, :class:`Lines`), popups and tooltips of existing layers are bound
in one script (:class:`Bindings`). Badges are round Font Awesome icons (vendored with folium's
assets).

branca places each rendered part of every element (a marker's script, say) in the page as
``Element(text)``, which compiles that finished text as a Jinja template and renders it a second
time: about a third of a route map's build. Within :func:`raw_rendering` (``maps.offline``
renders every map in it) folium's own elements place their parts as finished text, as
:class:`RawMacroElement` does; outside it, and in other threads, branca renders as it always has.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from maps.style import esc
from models.errors import ConfigurationError

__all__ = [
    "BadgeMarkers",
    "Bindings",
    "Lines",
    "RawMacroElement",
    "RawText",
    "badge",
    "badge_icon",
    "raw_rendering",
]

# --------------------------------------------------------------------------- elements


class RawText(Element):
    """Finished text in the page: rendered as is, not compiled as a Jinja template."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class RawMacroElement(MacroElement):
    """A ``MacroElement`` whose rendered header/html/script is placed in the page as finished
    text. (branca wraps each rendered part in ``Element(text)``, which compiles the text as a
    Jinja template again; for elements carrying hundreds of markers' data that was slow.)"""

    def render(self, **kwargs: Any) -> str:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise ConfigurationError("The map element is not part of a page (folium Figure).")
        module = self._template.module
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = getattr(module, part, None)
            if macro is not None:
                target.add_child(RawText(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)
        return ""


_raw = threading.local()  # .on: this thread renders within ``raw_rendering``
_branca_render = MacroElement.render


def _render(self: MacroElement, **kwargs: Any) -> Any:
    """``MacroElement.render`` from this module's import on: branca's own, except within
    ``raw_rendering`` in this thread."""
    if getattr(_raw, "on", False):
        return RawMacroElement.render(self, **kwargs)  # type: ignore[arg-type]
    return _branca_render(self, **kwargs)


MacroElement.render = _render  # type: ignore[method-assign]


@contextmanager
def raw_rendering() -> Iterator[None]:
    """Within the block, this thread renders folium's elements as :class:`RawMacroElement`
    does: each rendered part goes into the page as it is, not compiled as a template again."""
    before = getattr(_raw, "on", False)
    _raw.on = True
    try:
        yield
    finally:
        _raw.on = before


# --------------------------------------------------------------------------- badges


def badge(
    icon: str,
    colour: str,
    *,
    kind: str,
    size: int = 26,
    offset: tuple[int, int] = (0, 0),
    text: str = "",
    ring: str = "#ffffff",
) -> dict[str, Any]:
    """A round badge with a Font Awesome icon (or short text) as Leaflet ``divIcon`` options;
    its CSS class is ``convoy-marker convoy-marker-{kind}``.

    ``offset`` moves the badge by that many pixels (x right, y down) from its point, so badges
    of one place (muster and screening at the origin) sit side by side.
    """
    inner = f'<i class="fa-solid {icon}"></i>' if icon else ""
    if text:
        inner += f'<span class="convoy-badge-text">{esc(text)}</span>'
    font = max(10, size // 2)
    width = size if not text or icon else max(size, round(10 + 0.68 * font * len(text)))
    style = (
        f"background:{colour};border-color:{ring};width:{width}px;height:{size}px;"
        f"line-height:{size - 4}px;font-size:{font}px"
    )
    return {
        "html": f'<div class="convoy-badge" style="{style}">{inner}</div>',
        "iconSize": [width, size],
        "iconAnchor": [width // 2 - offset[0], size // 2 - offset[1]],
        "className": f"convoy-marker convoy-marker-{kind}",
    }


def badge_icon(icon: str, colour: str, *, kind: str, **kwargs: Any) -> folium.DivIcon:
    """:func:`badge` as a ``folium.DivIcon`` (for single ``folium.Marker`` objects)."""
    spec = badge(icon, colour, kind=kind, **kwargs)
    return folium.DivIcon(
        html=spec["html"],
        icon_size=tuple(spec["iconSize"]),
        icon_anchor=tuple(spec["iconAnchor"]),
        class_name=spec["className"],
    )


class _DataLayer(RawMacroElement):
    """Many features drawn by one script from data: popup and tooltip texts are stored once
    and referred to by index (``items`` rows hold the indices)."""

    def __init__(self, max_width: int = 320) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.items: list[list[Any]] = []
        self.max_width = int(max_width)
        self._text_index: dict[str, int] = {}

    def _text(self, text: str | None) -> int | None:
        if text is None:
            return None
        if text not in self._text_index:
            self._text_index[text] = len(self.texts)
            self.texts.append(text)
        return self._text_index[text]


class BadgeMarkers(_DataLayer):
    """Many badge markers drawn by one script into the parent layer (map, FeatureGroup or
    MarkerCluster), with their popups and tooltips.

    A ``folium.Marker`` with a ``DivIcon``, popup and tooltip is five elements, each rendered
    through its own Jinja template; for the hundreds of markers of an overview that was most of
    the build time. Here the markers are data (icons and texts stored once) and the browser
    builds the same Leaflet markers.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var texts = {{ this.texts|tojson }};
            var icons = {{ this.icons|tojson }}.map(function (o) { return L.divIcon(o); });
            var items = {{ this.items|tojson }};
            var parent = {{ this._parent.get_name() }};
            var markers = items.map(function (it) {
                var m = L.marker([it[0], it[1]], {icon: icons[it[2]], zIndexOffset: it[6]});
                if (it[3] !== null) {
                    m.bindPopup(texts[it[3]], {maxWidth: {{ this.max_width }}});
                }
                if (it[4] !== null) { m.bindTooltip(texts[it[4]], it[5]); }
                return m;
            });
            if (parent.addLayers) { parent.addLayers(markers); }
            else { markers.forEach(function (m) { parent.addLayer(m); }); }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, max_width: int = 320) -> None:
        super().__init__(max_width)
        self._name = "BadgeMarkers"
        self.icons: list[dict[str, Any]] = []
        self._icon_index: dict[str, int] = {}

    def add(
        self,
        point: Sequence[float],
        icon: dict[str, Any],
        *,
        popup: str | None = None,
        tooltip: str | None = None,
        z_index_offset: int = 0,
        **tooltip_options: Any,
    ) -> None:
        """One marker at ``point`` (as drawn) with a :func:`badge` icon; popup and tooltip are
        HTML, already escaped."""
        key = repr(sorted(icon.items()))
        if key not in self._icon_index:
            self._icon_index[key] = len(self.icons)
            self.icons.append(icon)
        wrapped = f'<div class="convoy-popup">{popup}</div>' if popup is not None else None
        opts = {"sticky": True, **tooltip_options}
        self.items.append(
            [
                round(float(point[0]), 6),
                round(float(point[1]), 6),
                self._icon_index[key],
                self._text(wrapped),
                self._text(tooltip),
                opts,
                int(z_index_offset),
            ]
        )

    def __len__(self) -> int:
        return len(self.items)


class Lines(_DataLayer):
    """Many polylines drawn by one script into the parent layer, with popups and tooltips
    (the line counterpart of :class:`BadgeMarkers`)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var texts = {{ this.texts|tojson }};
            var items = {{ this.items|tojson }};
            var parent = {{ this._parent.get_name() }};
            items.forEach(function (it) {
                var line = L.polyline(it[0], it[1]);
                if (it[2] !== null) {
                    line.bindPopup(texts[it[2]], {maxWidth: {{ this.max_width }}});
                }
                if (it[3] !== null) { line.bindTooltip(texts[it[3]], {sticky: true}); }
                parent.addLayer(line);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, max_width: int = 320) -> None:
        super().__init__(max_width)
        self._name = "Lines"

    def add(
        self,
        points: Sequence[Sequence[float]],
        *,
        popup: str | None = None,
        tooltip: str | None = None,
        **path_options: Any,
    ) -> None:
        """One polyline through ``points`` (as drawn); ``path_options`` are Leaflet's
        (``color``, ``weight``, ``opacity``, ``dashArray``, ``className``)."""
        wrapped = f'<div class="convoy-popup">{popup}</div>' if popup is not None else None
        coords = [[round(float(p[0]), 6), round(float(p[1]), 6)] for p in points]
        self.items.append([coords, path_options, self._text(wrapped), self._text(tooltip)])

    def __len__(self) -> int:
        return len(self.items)


# --------------------------------------------------------------------------- bindings


class Bindings(RawMacroElement):
    """Popups and tooltips of many layers, bound in one script after the layers exist.

    folium's ``Popup``/``Tooltip`` elements compile a Jinja template per instance (branca's
    ``Html``); with hundreds of markers that dominated the build time of the overview. Here every
    text is stored once (a convoy's popup is shared by its line and markers) and bound with
    Leaflet's ``bindPopup``/``bindTooltip``. Add this element to the map after all layers.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var texts = {{ this.texts|tojson }};
            {%- for name, p, t, topts in this.items %}
            {{ name }}
            {%- if p is not none %}.bindPopup(texts[{{ p }}], {maxWidth: {{ this.max_width }}})
            {%- endif %}
            {%- if t is not none %}.bindTooltip(texts[{{ t }}], {{ topts|tojson }}){% endif %};
            {%- endfor %}
        })();
        {% endmacro %}
        """
    )

    def __init__(self, max_width: int = 320) -> None:
        super().__init__()
        self._name = "Bindings"
        self.texts: list[str] = []
        self._index: dict[str, int] = {}
        self.items: list[tuple[str, int | None, int | None, dict[str, Any]]] = []
        self.max_width = int(max_width)

    def _text(self, text: str | None) -> int | None:
        if text is None:
            return None
        if text not in self._index:
            self._index[text] = len(self.texts)
            self.texts.append(text)
        return self._index[text]

    def bind(
        self,
        layer: Element,
        *,
        popup: str | None = None,
        tooltip: str | None = None,
        **tooltip_options: Any,
    ) -> None:
        """Bind popup HTML and tooltip HTML (both already escaped) to a layer."""
        wrapped = f'<div class="convoy-popup">{popup}</div>' if popup is not None else None
        opts = {"sticky": True, **tooltip_options}
        if opts.get("permanent"):
            opts.pop("sticky")
        self.items.append((layer.get_name(), self._text(wrapped), self._text(tooltip), opts))
