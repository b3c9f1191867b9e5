"""Reading an intake file as numbered text lines, finding the bytes that are not UTF-8.

Insurers' systems often write Shift_JIS (cp932). Decoding the whole file at once would only say
"invalid byte at offset 1234567"; decoding line by line names the line an operator must fix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

BOM = "\ufeff"
NOT_UTF8 = "holds bytes that are not UTF-8 (Shift_JIS?): save the file as UTF-8"


@dataclass
class TextLines:
    """Iterates the text lines; ``undecodable`` collects the numbers of non-UTF-8 lines.

    Undecodable bytes become U+FFFD so parsing can go on and report every other problem too.
    ``skipped``: lines of the file left out after the first (a header followed by a later part of
    the file), so that every line keeps its number in the whole file.
    """

    stream: Iterable[bytes]
    skipped: int = 0
    undecodable: set[int] = field(default_factory=set)

    def __iter__(self) -> Iterator[str]:
        lines = iter(self.stream)
        numbered = enumerate(lines, start=2 + self.skipped)
        for number, raw in itertools.chain(zip((1,), lines, strict=False), numbered):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.undecodable.add(number)
                line = raw.decode("utf-8", errors="replace")
            if number == 1 and line.startswith(BOM):
                line = line[1:]
            yield line
