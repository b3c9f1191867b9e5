"""Reading an intake file as numbered text lines, finding the bytes that are not UTF-8.

Insurers' systems often write Shift_JIS (cp932). Decoding the whole file at once would only say
"invalid byte at offset 1234567"; decoding line by line names the line an operator must fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

BOM = "\ufeff"
NOT_UTF8 = "holds bytes that are not UTF-8 (Shift_JIS?): save the file as UTF-8"


@dataclass
class TextLines:
    """Iterates ``(number, text)``; ``undecodable`` collects the numbers of non-UTF-8 lines.

    Undecodable bytes become U+FFFD so parsing can go on and report every other problem too.
    """

    stream: BinaryIO
    undecodable: set[int] = field(default_factory=set)

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self.stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.undecodable.add(number)
                line = raw.decode("utf-8", errors="replace")
            if number == 1 and line.startswith(BOM):
                line = line[1:]
            yield line
