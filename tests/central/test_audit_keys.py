"""The audit package's pure core and key files: round trips, placeholders, racing creators."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.audit import chain as ac
from onshi.audit import keys

SIGNER = Ed25519PrivateKey.generate()
hexes = st.binary(min_size=32, max_size=32).map(bytes.hex)
chains = st.lists(
    st.builds(ac.ChainHead, st.text(min_size=1, max_size=64), st.integers(1, 2**62), hexes),
    max_size=8,
    unique_by=lambda c: c.chain,
)
times = st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=9))))


@settings(max_examples=60, deadline=None)
@given(chains, times)
def test_a_signed_checkpoint_reads_back_as_written(
    heads: list[ac.ChainHead], at: dt.datetime
) -> None:
    made = ac.sign(ac.Checkpoint(at, tuple(heads), "ab" * 8), SIGNER)
    read = ac.parse_and_verify(made.to_json(), SIGNER.public_key())
    assert read.time == at and set(read.chains) == set(heads)
    assert read.head == made.head and read.count == sum(h.count for h in heads)


@settings(max_examples=60, deadline=None)
@given(chains)
def test_the_tree_head_ignores_listing_order_but_not_content(heads: list[ac.ChainHead]) -> None:
    assert ac.tree_head(heads) == ac.tree_head(list(reversed(heads)))
    if heads:
        first = heads[0]
        longer = [ac.ChainHead(first.chain, first.count + 1, first.head), *heads[1:]]
        assert ac.tree_head(longer) != ac.tree_head(heads)


@given(st.text(max_size=80))
def test_canonical_fields_cannot_bleed_into_each_other(text: str) -> None:
    assert ac.canonical([text, "x"]) != ac.canonical([text + "x"])


def test_the_link_depends_on_key_previous_and_entry() -> None:
    base = ac.link(b"k" * 32, ac.GENESIS, b"[1]")
    assert base != ac.link(b"j" * 32, ac.GENESIS, b"[1]")
    assert base != ac.link(b"k" * 32, "11" * 32, b"[1]")
    assert base != ac.link(b"k" * 32, ac.GENESIS, b"[2]")


@pytest.mark.parametrize(
    "text", ["", "not hex", "00" * 32, "ab" * 16, "0102030405060708" * 2, "ff" * 64]
)
def test_placeholder_or_short_audit_keys_are_refused(text: str) -> None:
    with pytest.raises(keys.KeyFileError):
        keys.parse_audit_key(text)


def test_an_audit_key_is_made_once_0600_and_never_by_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "central" / "audit.key"
    with pytest.raises(keys.KeyFileError, match="no audit key"):
        keys.audit_key(path, create=False)
    assert not path.exists()
    made = keys.audit_key(path, create=True)
    assert len(made) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.audit_key(path, create=True) == made == keys.audit_key(path, create=False)
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # nothing left aside


def _make(path: str, out: multiprocessing.Queue[bytes]) -> None:  # type: ignore[type-arg]
    out.put(keys.audit_key(Path(path), create=True))


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[bytes] = context.Queue()
    makers = [
        context.Process(target=_make, args=(str(tmp_path / "audit.key"), out)) for _ in range(6)
    ]
    for m in makers:
        m.start()
    made = {out.get(timeout=30) for _ in makers}
    for m in makers:
        m.join(30)
    assert len(made) == 1


def test_the_signing_key_and_its_public_half(tmp_path: Path) -> None:
    path = tmp_path / "audit-checkpoint.key"
    with pytest.raises(keys.KeyFileError):
        keys.signing_key(path, create=False)
    private = keys.signing_key(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = keys.public_key_path(path)
    for source in (public, path):  # the public file, or the public half of the private one
        assert ac.public_key_id(keys.verification_key(source)) == ac.public_key_id(
            private.public_key()
        )
    public.write_text("not a key")
    with pytest.raises(keys.KeyFileError):
        keys.verification_key(public)
