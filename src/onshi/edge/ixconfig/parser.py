"""IX configuration text → a tree of commands, each with its 1-based line number.

IX prints child commands indented under their parent and ends each block with ``!``; samples
copied out of documents often lose the indentation (the seed's router ① is flat). So a block is
opened by a known parent command (``interface …``, ``ipv6 dhcp client-profile …``) or by any line
followed by indented lines, and closed by a ``!`` line, by a new parent, or — when its children
were indented — by the first line that is not. Comments and blank lines are not commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

# Top-level commands that open a configuration mode (their children follow, maybe unindented).
_OPENERS = (
    ("interface",),
    ("ipv6", "dhcp", "client-profile"),
    ("ipv6", "dhcp", "server-profile"),
    ("ip", "dhcp", "profile"),
    ("device",),
    ("ppp", "profile"),
    ("router",),
    ("ike", "proposal"),
    ("ike", "policy"),
    ("ipsec", "autokey-proposal"),
    ("ipsec", "autokey-map"),
    ("watch-group",),
    ("network-monitor",),
)


@dataclass
class Command:
    """One configuration command: its words, its line, and (for a mode) its children."""

    line: int
    words: tuple[str, ...]
    children: list[Command] = field(default_factory=list)
    indented: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def startswith(self, *prefix: str) -> bool:
        return self.words[: len(prefix)] == prefix

    def child(self, *prefix: str) -> Command | None:
        return next((c for c in self.children if c.startswith(*prefix)), None)


@dataclass
class ConfigTree:
    commands: list[Command]

    def walk(self) -> Iterator[tuple[Command | None, Command]]:
        """Every command with its parent (None at the top level), in file order."""
        for command in self.commands:
            yield None, command
            for child in command.children:
                yield command, child

    def top(self, *prefix: str) -> Iterator[Command]:
        return (c for c in self.commands if c.startswith(*prefix))

    def dump(self) -> str:
        """The tree in IX's own layout (children indented two spaces, ``!`` after each mode)."""
        lines: list[str] = []
        for command in self.commands:
            lines.append(command.text)
            if command.children:
                lines += ["  " + c.text for c in command.children]
                lines.append("!")
        return "\n".join(lines) + ("\n" if lines else "")


def _is_opener(words: tuple[str, ...]) -> bool:
    return any(words[: len(p)] == p for p in _OPENERS) and len(words) > 1


def parse(text: str) -> ConfigTree:
    """Parse IX configuration text. Never fails: anything is a command or a comment."""
    commands: list[Command] = []
    block: Command | None = None
    block_indented: bool | None = None  # how the open block's children are written
    attachable = False  # may an indented line make the previous top-level command a parent?
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(("!", "#")):
            if stripped.startswith("!"):
                block, block_indented, attachable = None, None, False
            continue
        indented = raw[:1] in (" ", "\t")
        command = Command(number, tuple(stripped.split()), indented=indented)
        if block is not None and not _is_opener(command.words):
            if block_indented is None:
                block_indented = indented
            if indented or not block_indented:
                block.children.append(command)
                continue
        if indented and attachable and block is None and not commands[-1].children:
            # An indented line under a command not known as a mode: that command is a parent.
            parent = commands[-1]
            parent.children.append(command)
            block, block_indented = parent, True
            continue
        commands.append(command)
        block = command if _is_opener(command.words) else None
        block_indented = None
        attachable = True
    return ConfigTree(commands)
