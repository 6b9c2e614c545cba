"""Legend and table HTML of the Convoy Ops maps (shown in :class:`maps.leaflet.InfoPanel`).

Plain HTML, escaped and masked through :func:`maps.style.esc`; styled by the page stylesheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from maps.style import STATUS_COLOURS, MapOptions, esc
from models.views.mapdata import MapStatus

__all__ = ["legend_html", "table_html"]


def legend_html(
    options: MapOptions,
    *,
    statuses: Iterable[MapStatus] = tuple(MapStatus),
    lines: Sequence[tuple[str, str, bool | str]] = (),
    symbols: Sequence[tuple[str, str, str]] = (),
    notes: Sequence[str] = (),
) -> str:
    """Legend HTML: status colours, line styles ``(label, colour, style)`` (style ``True`` or
    ``"dash"``: dashed, ``"track"``: broad and translucent, ``"band"``: a wide band), badge symbols
    ``(label, icon, colour)`` and explanatory ``notes`` (one line each)."""
    rows = [f"<h4>{esc(options.t('legend'))}</h4>"]
    for status in statuses:
        colour = STATUS_COLOURS[status]
        rows.append(
            f'<div><i class="swatch" style="border-color:{colour}"></i>'
            f"{esc(options.t('status.' + status.value))}</div>"
        )
    for label, colour, dashed in lines:
        style = "dash" if dashed is True else (dashed or "")
        cls = f"swatch {style}".strip()
        rows.append(f'<div><i class="{cls}" style="border-color:{colour}"></i>{esc(label)}</div>')
    for label, icon, colour in symbols:
        rows.append(
            f'<div><i class="dot fa-solid {icon}" style="background:{colour}"></i>'
            f"{esc(label)}</div>"
        )
    for text in notes:
        rows.append(f'<div class="note">{esc(text)}</div>')
    note = options.t("scale_note_gcj" if options.shift else "scale_note")
    rows.append(f'<div style="color:#777;margin-top:3px">{esc(note)}</div>')
    return "".join(rows)


def table_html(rows: Sequence[tuple[str, object]], *, title: str = "") -> str:
    """A two-column label/number table (numbers right-aligned)."""
    head = f"<h4>{esc(title)}</h4>" if title else ""
    body = "".join(
        f'<tr><td>{esc(label)}</td><td class="n">{esc(value)}</td></tr>' for label, value in rows
    )
    return f"{head}<table>{body}</table>"
