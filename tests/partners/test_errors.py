"""Every kind of profile error names the file, the line and the key path; all are reported, not the first."""

from __future__ import annotations

import pytest

from hub.partners import ProfileError, check_profiles, load_profile, load_profiles
from tests.partners.helpers import ACME, GLOBEX, write


def errors_of(tmp_path, text, name="acme.yaml"):
    path = write(tmp_path, name, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    prefix = f"{path}:"
    assert all(m.startswith(prefix) for m in info.value.messages), info.value.messages
    return [m[len(prefix) :] for m in info.value.messages]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "direction: inbound",
            "direction: sideways",
            "9: documents[0].direction: 'sideways' is not one of ['inbound', 'outbound']",
        ),
        ("type: 850", "type: 940", "8: documents[0].type: '940' is not one of"),
        ("name: ACME Corp\n", "", "1: 'name' is a required property"),
        ("    mapping: common/850.004010\n", "", "8: documents[0]: 'mapping' is a required property"),
        ("mapping: common/850.004010", "mapping: 850.004010", "11: documents[0].mapping: '850.004010' does not match"),
        ("version: 004010", "version: D96A", "10: documents[0].version: 'D96A' does not match"),
        ("qualifier: ZZ, id: ACMEBUYER", "qualifier: Z, id: ACMEBUYER", "5: identities.x12.sender.qualifier: 'Z'"),
        ("path: outbound/acme/", "path: [a, b]", "14: channels.outbound.path: ['a', 'b'] is not of type 'string'"),
        ("inbound: {type: folder,", "inbound: {type: ftp,", "13: channels.inbound.type: 'ftp' is not one of"),
        ("  x12:\n", "  x12:\n    isa05: ZZ\n", "5: identities.x12.isa05: unknown key (expected one of: sender,"),
        ("name: ACME Corp", "name: ACME Corp\nnmae: typo", "3: nmae: unknown key (expected one of: id, name,"),
        ("id: acme", "id: Acme", "1: id: 'Acme' does not match"),
        ("channels:", "leniency: {997: warning}\nchannels:", "12: leniency.997: not a finding code"),
        ("id: acme", "id: other", "1: id: 'other' must equal the file name (acme.yaml)"),
        (
            "channels:\n",
            "channels:\n  inbound: {type: folder, path: x}\n",
            "14: channels.inbound: duplicate key (first at line 13)",
        ),
    ],
)
def test_each_schema_error_names_its_line_and_key(tmp_path, old, new, expected):
    assert old in ACME
    messages = errors_of(tmp_path, ACME.replace(old, new))
    assert any(m.startswith(expected) for m in messages), messages


def test_the_brief_example_exactly(tmp_path):
    folder = tmp_path / "partner_profiles"
    messages = errors_of(folder, ACME.replace("direction: inbound", "direction: sideways"))
    assert messages == ["9: documents[0].direction: 'sideways' is not one of ['inbound', 'outbound']"]


def test_every_error_of_a_file_is_reported_in_line_order(tmp_path):
    text = (
        ACME.replace("name: ACME Corp", "name: ''")
        .replace("direction: inbound", "direction: up")
        .replace("path: outbound/acme/", "path: ''")
        + "leniency:\n  se01_count: warning\n  SE01_COUNT: loud\n"
    )
    messages = errors_of(tmp_path, text)
    assert [m.split(":")[0] for m in messages] == ["2", "9", "14", "16", "17"]
    assert (
        messages[3] == "16: leniency.se01_count: not a finding code (upper-case letters, digits and _, e.g. SE01_COUNT)"
    )
    assert messages[4] == "17: leniency.SE01_COUNT: 'loud' is not one of ['error', 'warning', 'ignore']"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("syntax:\n  x12: {element: '*', segment: '*'}\n", "16: syntax.x12.segment: segment '*' is the same character"),
        ("syntax:\n  x12: {component: 'A'}\n", "16: syntax.x12.component: 'A' does not match"),
        ('syntax:\n  edifact: {una: ":+.??\'"}\n', "16: syntax.edifact.una: repetition '?' is the same character"),
        ('syntax:\n  edifact: {una: ":+;? \'"}\n', "16: syntax.edifact.una: the decimal mark"),
        ('syntax:\n  edifact: {una: ":+.?"}\n', "16: syntax.edifact.una: ':+.?' is too short"),
        ("control_numbers:\n  group: {start: 1000, width: 3}\n", "16: control_numbers.group.start: 1000 does not fit"),
        ("control_numbers:\n  interchange: {width: 6}\n", "16: control_numbers.interchange.width: ISA13 takes 9"),
        ("control_numbers:\n  transaction: {width: 2}\n", "16: control_numbers.transaction.width: ST02 takes 4 to 9"),
        ("acknowledgments:\n  x12: {ta1: sometimes}\n", "16: acknowledgments.x12.ta1: 'sometimes' is not one of"),
        ("acknowledgments:\n  expected_within_minutes: 0\n", "16: acknowledgments.expected_within_minutes: 0 is less"),
        (
            "  - {type: ORDERS, direction: inbound, version: D96A, mapping: common/ORDERS.D96A}\n",
            "12: documents[1].type: ORDERS is an EDIFACT document but identities.edifact is missing",
        ),
        (
            "  - {type: '850', direction: inbound, version: '004010', mapping: acme/850.004010}\n",
            "12: documents[1]: 850 inbound 004010 is listed twice (also documents[0])",
        ),
    ],
)
def test_cross_field_errors_name_their_line(tmp_path, extra, expected):
    text = ACME.replace("channels:", extra.rstrip("\n") + "\nchannels:", 1) if extra.startswith("  -") else ACME + extra
    messages = errors_of(tmp_path, text)
    assert any(m.startswith(expected) for m in messages), messages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1: the file is empty"),
        ("- acme\n", "1: the top level must be a mapping"),
        ("id: acme\nname: [unclosed\n", "3: YAML syntax:"),
        ("id: acme\n\tname: tab\n", "2: YAML syntax:"),
        ("id: acme\nname: &x [*x]\n", "2: name[0]: an alias refers to itself"),
        ("id: acme\n[a]: b\n", "2: YAML syntax: while constructing a mapping a key must be text"),
    ],
)
def test_unreadable_yaml_names_its_line(tmp_path, text, expected):
    messages = errors_of(tmp_path, text)
    assert len(messages) == 1 and messages[0].startswith(expected), messages


def test_a_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "nope.yaml")
    with pytest.raises(ProfileError, match="no such folder"):
        load_profiles(tmp_path / "nope")


def test_every_file_is_reported_not_only_the_first(tmp_path):
    write(tmp_path, "a.yaml", ACME.replace("id: acme", "id: a").replace("direction: inbound", "direction: x"))
    write(tmp_path, "acme.yaml", ACME)
    write(tmp_path, "b.yaml", GLOBEX.replace("id: globex", "id: b").replace("version: D96A", "version: 96A", 1))
    with pytest.raises(ProfileError) as info:
        load_profiles(tmp_path)
    messages = info.value.messages
    assert len(messages) == 2
    assert messages[0].startswith(f"{tmp_path / 'a.yaml'}:9: documents[0].direction:")
    assert messages[1].startswith(f"{tmp_path / 'b.yaml'}:8: documents[0].version: '96A' does not match")
    assert info.value.errors == messages


def test_duplicate_identities_across_files_name_both(tmp_path):
    write(tmp_path, "acme.yaml", ACME)
    write(tmp_path, "zeta.yaml", "# the same buyer under another name\n" + ACME.replace("id: acme", "id: zeta"))
    with pytest.raises(ProfileError) as info:
        load_profiles(tmp_path)
    (message,) = info.value.messages
    assert message == (
        f"{tmp_path / 'zeta.yaml'}:6: identities.x12.sender: X12 identity ZZ/ACMEBUYER is already "
        f"partner 'acme' ({tmp_path / 'acme.yaml'}:5)"
    )


def test_duplicate_ids_across_folders_name_both(tmp_path):
    first = write(tmp_path / "one", "acme.yaml", ACME)
    second = write(tmp_path / "two", "acme.yaml", ACME.replace("ACMEBUYER", "OTHER"))
    profiles, messages = check_profiles([first, second])
    assert list(profiles) == ["acme"]
    assert messages == [f"{second}:1: id: 'acme' is already used by {first}:1"]
