"""Contacts from a CSV or NDJSON file, one record at a time, each checked on its own.

CSV: UTF-8 (a byte order mark is fine), a header row naming the columns, in any order and case;
`tags` is a comma-separated list in one cell, `traits` a JSON object in one cell. NDJSON: one
JSON object per line, `tags` a list of strings (or one comma-separated string), `traits` an
object. Columns (or keys): email, phone, first_name, last_name, store_id and external_id (the
shop's customer reference, both or neither), accepts_marketing (true/false, yes/no, 1/0; empty:
no statement), marketing_consent_at (RFC 3339 with an offset), tags, traits, country (ISO
3166-1 alpha-2, the region of a local phone number), and in NDJSON `identities`, more identities
as the export lists them (`[{"kind": "store_ref", "value": "c-1", "store_id": "demo"}]`), and
`consents`, decisions per channel and purpose as the export lists them (they replace
`accepts_marketing`), so an export imports again. Others are ignored.

Rows are numbered from 1: the first record after the CSV header, the first non-blank NDJSON line.
A record that breaks a rule gives one error per field at fault and is not imported; the others
go on.
"""

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Annotated, Any, Self

from crm_common.http import WithoutNul
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentStatus, IdentityKind
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from customer_profile.attributes.rules import TAGS_MAX, TRAITS_MAX_BYTES, traits_size
from customer_profile.attributes.schemas import Tag
from customer_profile.consents.schemas import in_utc
from customer_profile.contacts.schemas import Contact, StatedConsent
from customer_profile.customers.identities import normalise_email, normalise_phone

COLUMNS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "store_id",
    "external_id",
    "accepts_marketing",
    "marketing_consent_at",
    "tags",
    "traits",
    "country",
)
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})
_TEXT_MAX = 320
_CHECK_CHUNK = 64 * 1024


class Format(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (not UTF-8, no CSV header): nothing is imported."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedRow:
    row: int
    contact: Contact | None
    """None when the record breaks a rule (see `errors`)."""
    errors: tuple[RowError, ...] = ()


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("must be true or false (yes/no, 1/0), or empty")
    return value


def _reference(value: Any) -> Any:
    # An int is exact; a float has already lost the digits of a long id.
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("must be a string or an integer")
    return str(value) if isinstance(value, int) else value


def _tag_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    return [] if value is None else value


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ValueError(f"must be a JSON object: {error}") from error
    if value is not None and not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    return value


Text = Annotated[
    Annotated[str, Field(max_length=_TEXT_MAX), WithoutNul] | None, BeforeValidator(_blank_to_none)
]


class ExtraIdentity(BaseModel):
    """An identity as `GET /v1/customers:export` lists it (NDJSON only)."""

    model_config = ConfigDict(extra="ignore")

    kind: IdentityKind
    value: Annotated[
        str, BeforeValidator(_reference), Field(min_length=1, max_length=_TEXT_MAX), WithoutNul
    ]
    store_id: Text = None


class ListedConsent(BaseModel):
    """A consent decision as `GET /v1/customers:export` lists it (NDJSON only)."""

    model_config = ConfigDict(extra="ignore")

    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    changed_at: Annotated[AwareDatetime, AfterValidator(in_utc)] | None = None


class ImportRow(BaseModel):
    """One record as the import reads it; `contact_errors` adds the rules across fields."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    email: Text = None
    phone: Text = None
    first_name: Text = None
    last_name: Text = None
    store_id: Text = None
    external_id: Annotated[Text, BeforeValidator(_reference)] = None
    accepts_marketing: Annotated[
        bool | None, BeforeValidator(_flag), BeforeValidator(_blank_to_none)
    ] = None
    marketing_consent_at: Annotated[AwareDatetime | None, BeforeValidator(_blank_to_none)] = None
    tags: Annotated[list[Tag], BeforeValidator(_tag_list), BeforeValidator(_blank_to_none)] = Field(
        default_factory=list, max_length=TAGS_MAX
    )
    traits: Annotated[
        dict[str, Any] | None, BeforeValidator(_json_object), BeforeValidator(_blank_to_none)
    ] = None
    country: Annotated[
        Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None, BeforeValidator(_blank_to_none)
    ] = None
    identities: list[ExtraIdentity] = Field(default_factory=list, max_length=100)
    consents: list[ListedConsent] = Field(default_factory=list, max_length=20)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is not None and normalise_email(value) is None:
            raise ValueError("not a valid email address")
        return value

    @model_validator(mode="after")
    def _consents_or_flag(self) -> Self:
        # An export line states email marketing twice: its decisions (an empty list: none)
        # say it with their time, where its accepts_marketing false only means "not granted".
        if "consents" in self.model_fields_set:
            self.accepts_marketing = None
        return self

    @field_validator("marketing_consent_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC):
            raise ValueError("a decision cannot have been taken in the future")
        return in_utc(value) if value is not None else None

    @field_validator("traits")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and traits_size(value) > TRAITS_MAX_BYTES:
            raise ValueError(f"traits take at most {TRAITS_MAX_BYTES} bytes as compact JSON")
        return value

    def contact_errors(self) -> list[tuple[str, str]]:
        """(field, reason) for the rules that span fields."""
        errors = []
        if self.phone is not None and normalise_phone(self.phone, region=self.country) is None:
            errors.append(
                ("phone", "not a valid phone number (give +<country code>, or a country)")
            )
        if (self.store_id is None) != (self.external_id is None):
            missing = "store_id" if self.store_id is None else "external_id"
            errors.append((missing, "store_id and external_id go together"))
        if any(i.kind is IdentityKind.STORE_REF and not i.store_id for i in self.identities):
            errors.append(("identities", "a store_ref identity needs its store_id"))
        if not (self.email or self.phone or self.external_id or self.identities):
            errors.append(
                ("identity", "give at least one of email, phone or store_id with external_id")
            )
        return errors

    def contact(self) -> Contact:
        return Contact(
            email=self.email,
            phone=self.phone,
            first_name=self.first_name,
            last_name=self.last_name,
            store_id=self.store_id,
            external_id=self.external_id,
            region=self.country.upper() if self.country else None,
            accepts_marketing=self.accepts_marketing,
            marketing_consent_at=self.marketing_consent_at,
            tags=tuple(dict.fromkeys(self.tags)),
            traits=self.traits,
            identities=tuple((i.kind, i.value, i.store_id) for i in self.identities),
            consents=tuple(
                StatedConsent(c.channel, c.purpose, c.status, c.changed_at) for c in self.consents
            ),
        )


def parse_record(row: int, record: dict[str, Any]) -> ParsedRow:
    """One record (CSV cells as strings, or an NDJSON object) as a contact, or its errors."""
    try:
        parsed = ImportRow.model_validate(record)
    except ValidationError as error:
        return ParsedRow(row, None, tuple(_errors(row, error)))
    spanning = parsed.contact_errors()
    if spanning:
        return ParsedRow(row, None, tuple(RowError(row, f, reason) for f, reason in spanning))
    return ParsedRow(row, parsed.contact())


def _errors(row: int, error: ValidationError) -> Iterator[RowError]:
    for item in error.errors(include_url=False):
        location = item["loc"]
        field = str(location[0]) if location else "row"
        message = item["msg"].removeprefix("Value error, ")
        yield RowError(row, field, message)


def check(file: IO[bytes], fmt: Format) -> list[str]:
    """Read the whole file once without applying anything: it must be UTF-8 and, for CSV, start
    with a header naming at least one known column. Returns the columns (keys) that are
    ignored, for CSV; raises ImportFormatError. Leaves the file at its start."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while chunk := file.read(_CHECK_CHUNK):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise ImportFormatError(
                f"the file is not UTF-8 (byte {offset + error.start})"
            ) from error
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise ImportFormatError("the file is not UTF-8 (it ends inside a character)") from error
    file.seek(0)
    ignored: list[str] = []
    if fmt is Format.CSV:
        header = _header(file)
        if not set(header) & set(COLUMNS):
            raise ImportFormatError(
                "the CSV has no header naming a known column (" + ", ".join(COLUMNS) + ")"
            )
        ignored = [name for name in header if name not in COLUMNS]
        file.seek(0)
    return ignored


def _header(file: IO[bytes]) -> list[str]:
    text = _text(file)
    try:
        first = next(csv.reader(text), [])
    except csv.Error as error:
        raise ImportFormatError(f"the CSV header cannot be read: {error}") from error
    finally:
        text.detach()
    return [name.strip().lower() for name in first]


def _text(file: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(file, encoding="utf-8-sig", newline="")


def read_rows(file: IO[bytes], fmt: Format) -> Iterator[ParsedRow]:
    """Every record of a file `check` accepted, in order, one at a time."""
    if fmt is Format.CSV:
        yield from _csv_rows(file)
    else:
        yield from _ndjson_rows(file)


def _csv_rows(file: IO[bytes]) -> Iterator[ParsedRow]:
    text = _text(file)
    reader = csv.reader(text)
    header = [name.strip().lower() for name in next(reader, [])]
    row = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            row += 1
            yield ParsedRow(row, None, (RowError(row, "row", f"not valid CSV: {error}"),))
            continue
        if not any(cell.strip() for cell in cells):
            continue
        row += 1
        if len(cells) != len(header):
            reason = f"has {len(cells)} fields where the header names {len(header)}"
            yield ParsedRow(row, None, (RowError(row, "row", reason),))
            continue
        record = {name: cell for name, cell in zip(header, cells, strict=True) if name in COLUMNS}
        yield parse_record(row, record)
    text.detach()


def _ndjson_rows(file: IO[bytes]) -> Iterator[ParsedRow]:
    row = 0
    for line in file:
        if not line.strip():
            continue
        row += 1
        try:
            record = json.loads(line)
        except ValueError as error:
            yield ParsedRow(row, None, (RowError(row, "row", f"not valid JSON: {error}"),))
            continue
        if not isinstance(record, dict):
            yield ParsedRow(row, None, (RowError(row, "row", "must be a JSON object"),))
            continue
        yield parse_record(row, record)
