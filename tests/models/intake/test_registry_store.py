"""The stored registry: synced from the configured lists, checked for every active convoy in
one query (real files, real database)."""

from __future__ import annotations

import os
from collections.abc import Callable

from config import Settings
from models.convoy.store import get_convoy, passengers
from models.db import session_scope
from models.intake.registry_store import check_stored, stored_lists, sync_registry


def ids_of(code: str) -> list[str]:
    with session_scope() as s:
        return [p.id_number for p in passengers(s, get_convoy(s, code))]


def test_check_every_active_convoy_against_the_stored_lists(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    a, b, c = (
        make_convoy(code, n=5, seed=i) for i, code in enumerate(("BUS-R1", "BUS-R2", "BUS-R3"))
    )
    folder = settings.var_dir / "registry"
    folder.mkdir(parents=True)
    listed_a, listed_b, listed_c = ids_of(a)[1], ids_of(b)[3], ids_of(c)[0]
    (folder / "quarantine.csv").write_text(
        f"身份证号,类别,原因\n{listed_a},隔离,居家隔离\n{listed_b},隔离,\n{listed_a},隔离,again\n"
        f"{listed_c},隔离,\n",
        encoding="utf-8",
    )
    (folder / "restricted.csv").write_text(
        f"id_number,category,reason\n{listed_a},限制出行,高风险\n", encoding="utf-8"
    )
    with session_scope() as s:
        get_convoy(s, c).stage = "closed"
    with session_scope() as s:
        synced = sync_registry(s)
        assert [x.source for x in synced.loaded] == ["quarantine.csv", "restricted.csv"]
        lists = {r["file"].rsplit("/", 1)[-1]: r for r in stored_lists(s)}
        assert lists["quarantine.csv"]["repeated"] == 1 and lists["quarantine.csv"]["entries"] == 3
        results = check_stored(s)
    assert [(r.code, r.checked, len(r.flagged)) for r in results] == [
        ("BUS-R1", 5, 1),
        ("BUS-R2", 5, 1),
    ]  # fmt: skip  (the closed convoy is not checked)
    flag = results[0].flagged[0]
    assert flag["seat"] == 2 and flag["id"] == f"{listed_a[:4]}**********{listed_a[-4:]}"
    assert flag["category"] == "quarantine_order; travel_restriction"
    assert flag["source"] == "quarantine.csv; restricted.csv"
    # Unchanged lists are not read again; a changed one is, a removed one is forgotten.
    with session_scope() as s:
        assert sync_registry(s).unchanged == 2
    (folder / "restricted.csv").write_text("id_number,category\n", encoding="utf-8")
    st = (folder / "restricted.csv").stat()
    os.utime(folder / "restricted.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    (folder / "quarantine.csv").unlink()
    with session_scope() as s:
        synced = sync_registry(s)
        assert (len(synced.loaded), synced.removed) == (1, 1)
        assert [len(r.flagged) for r in check_stored(s)] == [0, 0]
        one = check_stored(s, [c])  # a convoy named is checked whatever its stage
        assert [(r.code, r.checked) for r in one] == [("BUS-R3", 5)]
