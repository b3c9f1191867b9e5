"""Values at the edges of what the file format allows, stored alike on both databases.

PostgreSQL receives rows as COPY text (tab-separated, backslash escapes), SQLite as parameters:
whatever a file may hold must come back as it was given, or be refused as a problem on its line
— never a database error halfway through an import.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import text

from onshi.central.errors import IntakeRejected
from onshi.central.intake import insured_store
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage.database import Database

from .support import HEADER, counts, csv_bytes, row


@pytest.mark.parametrize("symbol", ["12\x0034", "記号\t1", "a\nb", "a\x1fb", "a\x7fb"])
@pytest.mark.parametrize("chunk_size", [1, 5000])
def test_a_card_symbol_with_a_control_character_is_refused(
    database: Database, symbol: str, chunk_size: int
) -> None:
    """A NUL cannot be stored in PostgreSQL text at all; the others are no printed symbol."""
    rows = [row(1), row(2, InsuredCardSymbol=symbol), row(3)]
    with pytest.raises(IntakeRejected) as caught:
        import_insured(database, io.BytesIO(csv_bytes(rows)), chunk_size=chunk_size)
    assert [(p.line, p.column) for p in caught.value.problems] == [(3, "InsuredCardSymbol")]
    assert "5002" not in str(caught.value.problems) and symbol not in str(caught.value.problems)
    assert set(counts(database).values()) == {0}


WIDE = {
    "Name": "髙橋　𠮷子",  # full-width space, a character outside the BMP
    "InsuredName": "\\\\server\\share ＼ ¥",  # backslashes, full-width backslash, yen sign
    "Address": "東京都千代田区１－２－３\u3000ｶﾀｶﾅ\u2028ビル\\N",  # a line separator, \\N
    "InsuredCardSymbol": "\\.",
}


def test_full_width_and_backslashes_come_back_as_given(database: Database) -> None:
    rows = [row(1, **WIDE), row(2), row(3, InsuredCardSymbol="")]
    for _ in range(2):
        with database.engine.begin() as c:  # a first load, then the merge way
            c.execute(text("DELETE FROM qualification"))
            c.execute(text("DELETE FROM individual"))
        assert import_insured(database, io.BytesIO(csv_bytes(rows))) == ImportCounts(inserted=3)
        assert import_insured(database, io.BytesIO(csv_bytes(rows))) == ImportCounts(unchanged=3)
        with database.engine.connect() as c:
            got = c.execute(
                text(
                    'SELECT "Name", "InsuredName", "Address", "InsuredCardSymbol" '
                    "FROM qualification WHERE \"InsuredIdentificationNumber\" = '5001'"
                )
            ).one()
        assert tuple(got) == tuple(WIDE.values())
        assert import_insured(database, io.BytesIO(csv_bytes([row(9), *rows]))) == ImportCounts(
            inserted=1, unchanged=3
        )
        with database.engine.begin() as c:
            c.execute(text("DELETE FROM qualification"))


def test_a_header_alone_stores_nothing(database: Database) -> None:
    for _ in range(2):  # an empty database (a first load), then one with rows
        empty = import_insured(database, io.BytesIO(csv_bytes([], header=HEADER)))
        assert empty == ImportCounts()
        import_insured(database, io.BytesIO(csv_bytes([row(1)])))
    assert counts(database)["qualification"] == 1


def test_an_empty_file_is_refused(database: Database) -> None:
    with pytest.raises(IntakeRejected) as caught:
        import_insured(database, io.BytesIO(b""))
    assert [(p.line, p.column) for p in caught.value.problems] == [(1, "(record)")]


@pytest.mark.postgres
def test_copy_text_escapes_what_the_text_format_would_misread(postgres_url: str) -> None:
    """The parser lets only backslashes through; the COPY text is right whatever a value holds."""
    values = ["a\tb", "a\nb", "a\rb", "a\\b", "\\N", "\\.", "髙橋　𠮷子＼", "plain", None, ""]
    rows = [(v, w) for v in values for w in ("x", None, "\\")]
    database = Database(postgres_url)
    try:
        with database.engine.begin() as c:
            c.exec_driver_sql("CREATE TEMPORARY TABLE t (n serial, a text, b text)")
            raw = c.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor, cursor.copy("COPY t (a, b) FROM STDIN") as copy:
                copy.write("\n".join(insured_store._text_lines(rows)) + "\n")
            assert [tuple(r) for r in c.exec_driver_sql("SELECT a, b FROM t ORDER BY n")] == rows
            plain = [("x", None), ("y", "z")]  # nothing to escape: the joins as they are
            assert insured_store._text_lines(plain) == ["x\t\\N", "y\tz"]
    finally:
        database.dispose()
