"""The IX parser: real fixtures, flat vs indented layouts, round trips, hostile input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.edge.ixconfig.model import load
from onshi.edge.ixconfig.parser import Command, ConfigTree, parse
from onshi.edge.lint import lint_text

from .conftest import line_of, read_fixture


def test_seed_router1_tree_and_lines() -> None:
    text = read_fixture("seed_router1.cfg")
    tree = parse(text)
    wan = next(tree.top("interface", "GigaEthernet0.0"))
    assert wan.line == line_of(text, "interface GigaEthernet0.0")
    assert [c.text for c in wan.children][:3] == [
        "description ## WAN ##",
        "no ip address",
        "ipv6 enable",
    ]
    assert wan.child("ipv6", "nd", "proxy") is not None
    filt = wan.child("ipv6", "filter", "v6-deny-list")
    assert filt is not None and filt.line == line_of(text, "ipv6 filter v6-deny-list 200 in")
    # a flat block ends at "!": the next interface is top level, not a child
    assert len(list(tree.top("interface"))) == 3
    profile = next(tree.top("ipv6", "dhcp", "client-profile"))
    assert [c.text for c in profile.children] == [
        "option-request dns-servers",
        "ia-pd subscriber GigaEthernet2.0",
    ]


def test_seed_router3_mixes_indented_and_flat_blocks() -> None:
    tree = parse(read_fixture("seed_router3.cfg"))
    names = [c.words[1] for c in tree.top("interface")]
    assert names == [
        "GigaEthernet0.0",
        "GigaEthernet1.0",
        "GigaEthernet2:1.0",
        "GigaEthernet2:2.0",
        "GigaEthernet2:3.0",
    ]
    linkage = next(tree.top("interface", "GigaEthernet2:2.0"))
    assert [c.text for c in linkage.children] == [
        "description ## Online Shikaku Tanmatsu (Iryou System Renkei) ##",
        "ip vrf forwarding VRF1",
        "ip address 192.168.0.254/24",
        "ip filter v4-deny-list 100 in",
        "ip filter v4-dflt-list 100 out",
        "no shutdown",
    ]
    device = next(tree.top("device"))
    assert len(device.children) == 3


def test_indented_block_ends_at_an_unindented_line_without_bang() -> None:
    tree = parse("interface GigaEthernet0.0\n  ipv6 enable\nproxy-dns ipv6 enable\n")
    assert [c.text for c in tree.commands] == ["interface GigaEthernet0.0", "proxy-dns ipv6 enable"]
    assert tree.commands[1].line == 3


def test_unknown_parent_by_indentation() -> None:
    tree = parse("ike proposal p1\n  encryption aes-cbc-256\nhostname ix\n")
    assert [c.text for c in tree.commands[0].children] == ["encryption aes-cbc-256"]
    assert tree.commands[1].text == "hostname ix"


def test_model_reads_the_seed() -> None:
    text = read_fixture("seed_router3_east.cfg")
    config = load(text)
    assert set(config.interfaces) == {
        "GigaEthernet0.0",
        "GigaEthernet1.0",
        "GigaEthernet2:1.0",
        "GigaEthernet2:2.0",
        "GigaEthernet2:3.0",
    }
    assert next(d for d, _ in config.url_lists["online-sikaku"]) == "*onshikaku.org"
    assert (6, "v6-dflt-list") in config.dynamic_lists and (
        4,
        "v4-dflt-list",
    ) in config.dynamic_lists
    assert len(config.access_lists[(6, "v6-permit-list")].entries) == 3
    assert config.interfaces["GigaEthernet2:2.0"].vrf == (
        "VRF1",
        line_of(text, "interface GigaEthernet2:2.0") + 2,
    )
    assert config.syntax_problems == []


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./:#", min_size=1, max_size=10)
LEAF = st.lists(WORD, min_size=1, max_size=5).filter(lambda ws: not ws[0].startswith(("!", "#")))
NODE = st.tuples(LEAF, st.lists(LEAF, max_size=4))


@settings(max_examples=200, deadline=None)
@given(st.lists(NODE, max_size=12))
def test_dump_then_parse_round_trips(nodes: list[tuple[list[str], list[list[str]]]]) -> None:
    tree = ConfigTree(
        [Command(0, tuple(head), [Command(0, tuple(c)) for c in kids]) for head, kids in nodes]
    )
    again = parse(tree.dump())
    assert [(c.words, [k.words for k in c.children]) for c in again.commands] == [
        (c.words, [k.words for k in c.children]) for c in tree.commands
    ]
    assert again.dump() == tree.dump()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_hostile_text_never_breaks_parse_or_lint(text: str) -> None:
    tree = parse(text)
    assert all(1 <= c.line <= max(1, len(text.splitlines())) for _, c in tree.walk())
    for finding in lint_text(text).findings:
        assert finding.line >= 1


SEED_LINES = read_fixture("seed_router3_east.cfg").splitlines()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *SEED_LINES,
                "ipv6 access-list x permit tcp src",
                "interface",
                "ipv6 filter a b c",
                "proxy-dns server zz url-list",
                "bridge 1",
                "ip access-list dynamic",
            ]
        ),
        max_size=60,
    )
)
def test_shuffled_and_truncated_configs_never_break_lint(lines: list[str]) -> None:
    text = "\n".join(lines)
    report = lint_text(text, "east")
    assert all(1 <= f.line <= max(1, len(lines)) for f in report.findings)


def test_hostile_filter_sets_are_bounded() -> None:
    import random
    import time

    rnd = random.Random(1)
    forms = ["any", "fe80::/10", "2001:db8::/32", "2001:db8:{:x}::/48", "host 2001:db8::{:x}"]

    def prefix() -> str:
        return rnd.choice(forms).format(rnd.randrange(1, 5000))

    lines = [
        f"ipv6 access-list big {rnd.choice(['permit', 'deny'])} {rnd.choice(['tcp', 'udp'])} "
        f"src {prefix()} sport range {rnd.randrange(0, 3000)} {rnd.randrange(3000, 9000)} "
        f"dest {prefix()} dport eq {rnd.randrange(1, 9000)}"
        for _ in range(200)
    ]
    lines += [
        "interface GigaEthernet0.0",
        "  description WAN",
        "  ipv6 enable",
        "  ipv6 filter big 10 in",
        "!",
    ]
    start = time.perf_counter()
    report = lint_text("\n".join(lines))
    assert time.perf_counter() - start < 5
    budget = [f for f in report.findings if "too complex" in f.message]
    assert [f.rule for f in budget] == ["wan-inbound-default-deny"]
    assert budget[0].severity == "warning" and 1 <= budget[0].line <= 200
