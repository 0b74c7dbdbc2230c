"""Reading import files: CSV and NDJSON records into contacts, and each rule a record can break."""

import io
import json
from datetime import UTC, datetime

import pytest
from crm_events.customer import IdentityKind
from customer_profile.bulk.parsing import (
    Format,
    ImportFormatError,
    ParsedRow,
    RowError,
    check,
    read_rows,
)


def csv_rows(text: str) -> list[ParsedRow]:
    file = io.BytesIO(text.encode())
    check(file, Format.CSV)
    return list(read_rows(file, Format.CSV))


def ndjson_rows(*records: object) -> list[ParsedRow]:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    file = io.BytesIO("\n".join(lines).encode())
    check(file, Format.NDJSON)
    return list(read_rows(file, Format.NDJSON))


def errors(rows: list[ParsedRow]) -> list[RowError]:
    return [error for row in rows for error in row.errors]


def test_a_csv_record_becomes_a_contact() -> None:
    text = (
        "\ufeffEmail,First_Name,last_name,Phone,country,store_id,external_id,"
        "accepts_marketing,marketing_consent_at,tags,traits\n"
        ' Ann@Example.com ,"Ann, Jr.",Lee,(415) 555-0101,us,demo,9007199254740993,'
        'yes,2026-01-02T03:04:05+01:00,"VIP, newsletter ,vip","{""size"": ""M""}"\n'
    )

    [row] = csv_rows(text)

    assert row.errors == ()
    contact = row.contact
    assert contact is not None
    assert contact.email == "Ann@Example.com"
    assert (contact.first_name, contact.last_name) == ("Ann, Jr.", "Lee")
    assert (contact.phone, contact.region) == ("(415) 555-0101", "US")
    # Ids are kept as the exact digits, never through a float.
    assert (contact.store_id, contact.external_id) == ("demo", "9007199254740993")
    assert contact.accepts_marketing is True
    assert contact.marketing_consent_at == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert contact.tags == ("vip", "newsletter")
    assert contact.traits == {"size": "M"}


def test_empty_csv_cells_state_nothing() -> None:
    [row] = csv_rows("email,accepts_marketing,tags,traits,phone\nbo@example.com,,,,\n")

    assert row.contact is not None
    assert row.contact.accepts_marketing is None
    assert row.contact.tags == ()
    assert row.contact.traits is None
    assert row.contact.phone is None


def test_csv_rows_are_numbered_from_the_first_record_and_blank_lines_skipped() -> None:
    text = "email\na@example.com\n\nnot-an-email\n,\nc@example.com\n"

    rows = csv_rows(text)

    assert [row.row for row in rows] == [1, 2, 3]
    assert errors(rows) == [RowError(2, "email", "not a valid email address")]


@pytest.mark.parametrize(
    ("columns", "values", "field", "reason"),
    [
        ("email", "ann@", "email", "not a valid email address"),
        ("phone", "555-0101", "phone", "not a valid phone number"),
        ("email,store_id", "a@example.com,demo", "external_id", "go together"),
        ("email,external_id", "a@example.com,c-1", "store_id", "go together"),
        ("email,accepts_marketing", "a@example.com,maybe", "accepts_marketing", "true or false"),
        ("email,traits", "a@example.com,{size}", "traits", "must be a JSON object"),
        ("email,traits", "a@example.com,[1]", "traits", "must be a JSON object"),
        ("email,tags", "a@example.com," + "x" * 65, "tags", "at most 64 characters"),
        ("email,marketing_consent_at", "a@example.com,2026-01-01T00:00:00", "", "timezone"),
        ("email,marketing_consent_at", "a@example.com,2999-01-01T00:00:00Z", "", "future"),
        ("email,country", "a@example.com,USA", "country", "pattern"),
        # What PostgreSQL cannot hold is the row's error, not a failed import.
        ("email,store_id,external_id", "a@example.com,de\x00mo,c-1", "store_id", "NUL"),
        ("email,first_name", "a@example.com,A\x00nn", "first_name", "NUL"),
        ("email,marketing_consent_at", "a@example.com,0001-01-01T00:00:00+14:00", "", "range"),
        ("first_name", "Ann", "identity", "at least one of email, phone"),
    ],
)
def test_a_record_breaking_a_rule_names_the_field(columns, values, field, reason) -> None:
    [row] = csv_rows(f"{columns}\n{values}\n")

    assert row.contact is None
    [error] = row.errors
    assert error.row == 1
    assert error.field == (field or "marketing_consent_at")
    assert reason in error.reason


def test_several_fields_at_fault_give_one_error_each() -> None:
    [row] = csv_rows("email,accepts_marketing,traits\nann@,maybe,nope\n")

    assert sorted(error.field for error in row.errors) == ["accepts_marketing", "email", "traits"]


def test_a_local_phone_number_needs_its_country() -> None:
    [local, national] = csv_rows("phone,country\n(415) 555-0101,\n(415) 555-0101,US\n")

    assert [e.field for e in local.errors] == ["phone"]
    assert national.contact is not None


def test_a_record_with_the_wrong_number_of_fields_is_an_error_of_its_own() -> None:
    rows = csv_rows("email,first_name\na@example.com,Ann,extra\nb@example.com,Bo\n")

    assert errors(rows) == [RowError(1, "row", "has 3 fields where the header names 2")]
    assert rows[1].contact is not None


def test_unknown_csv_columns_are_ignored_and_reported() -> None:
    file = io.BytesIO(b"email,loyalty_points\na@example.com,12\n")

    assert check(file, Format.CSV) == ["loyalty_points"]
    [row] = read_rows(file, Format.CSV)
    assert row.contact is not None


def test_a_csv_without_a_known_header_is_refused_as_a_whole() -> None:
    with pytest.raises(ImportFormatError, match="no header"):
        check(io.BytesIO(b"a@example.com,Ann\n"), Format.CSV)


def test_a_file_that_is_not_utf8_is_refused_as_a_whole() -> None:
    with pytest.raises(ImportFormatError, match="not UTF-8"):
        check(io.BytesIO("email\nzoë@example.com\n".encode("latin-1")), Format.CSV)


def test_an_ndjson_record_becomes_a_contact() -> None:
    [row] = ndjson_rows(
        {
            "email": "ann@example.com",
            "store_id": "demo",
            "external_id": 9007199254740993,
            "accepts_marketing": False,
            "tags": ["VIP"],
            "traits": {"size": "M", "pets": ["cat"]},
            "identities": [
                {"kind": "store_ref", "value": "w-7", "store_id": "woo"},
                {"kind": "phone", "value": "+14155550101", "store_id": None},
            ],
            "unknown_key": "ignored",
        }
    )

    contact = row.contact
    assert contact is not None
    assert contact.external_id == "9007199254740993"
    assert contact.accepts_marketing is False
    assert contact.tags == ("vip",)
    assert contact.traits == {"size": "M", "pets": ["cat"]}
    assert contact.identities == (
        (IdentityKind.STORE_REF, "w-7", "woo"),
        (IdentityKind.PHONE, "+14155550101", None),
    )


def test_ndjson_records_that_break_rules() -> None:
    rows = ndjson_rows(
        {"email": "a@example.com", "store_id": "demo", "external_id": 9.007199254740993e15},
        "{not json",
        "[1, 2]",
        "",
        {"email": "b@example.com", "identities": [{"kind": "store_ref", "value": "c-1"}]},
        {"email": "c@example.com", "tags": "vip, gold"},
    )

    assert [(e.row, e.field) for e in errors(rows)] == [
        (1, "external_id"),
        (2, "row"),
        (3, "row"),
        (4, "identities"),
    ]
    assert rows[4].contact is not None
    assert rows[4].contact.tags == ("vip", "gold")


def test_ndjson_values_postgresql_cannot_hold_are_errors_of_their_row() -> None:
    consent = {"channel": "email", "purpose": "marketing", "status": "granted"}
    rows = ndjson_rows(
        {"email": "a@example.com", "identities": [{"kind": "phone", "value": "+1415\x00"}]},
        {
            "email": "b@example.com",
            "consents": [{**consent, "changed_at": "0001-01-01T00:00+01:00"}],
        },
        {
            "email": "c@example.com",
            "consents": [{**consent, "changed_at": "9999-12-31T23:59-01:00"}],
        },
    )

    assert [(e.row, e.field) for e in errors(rows)] == [
        (1, "identities"),
        (2, "consents"),
        (3, "consents"),
    ]


def test_an_export_line_states_its_consents_not_its_flag() -> None:
    """`accepts_marketing: false` on an export line only means "not granted": the line's
    consents say what was decided, with their times."""
    [decided, undecided] = ndjson_rows(
        {
            "email": "a@example.com",
            "accepts_marketing": True,
            "consents": [
                {
                    "channel": "sms",
                    "purpose": "marketing",
                    "status": "withdrawn",
                    "source": "api",
                    "changed_at": "2026-01-02T03:04:05Z",
                }
            ],
        },
        {"email": "b@example.com", "accepts_marketing": False, "consents": []},
    )

    assert decided.contact is not None
    assert decided.contact.accepts_marketing is None
    [consent] = decided.contact.consents
    assert (consent.channel, consent.purpose, consent.status) == ("sms", "marketing", "withdrawn")
    assert consent.changed_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert undecided.contact is not None
    assert undecided.contact.accepts_marketing is None
    assert undecided.contact.consents == ()
