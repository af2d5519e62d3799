"""Personal-data detectors: each with a true case and the look-alikes that must stay
clean (shared mailboxes, service lines, parcel numbers, pets' birthdays, servers)."""

from __future__ import annotations

import pytest

from apps.hygiene.scanner import scan
from tests.hygiene.fakes import iban, luhn_complete


def pii_in(text: str) -> list[tuple[str, str]]:
    return [(f.type, f.span(text)) for f in scan(text) if f.category == "pii"]


def test_it_flags_a_personal_email():
    text = "Reply to Marguerite at m.okafor@northwind-mail.net about the lease."
    assert pii_in(text) == [("email", "m.okafor@northwind-mail.net")]


@pytest.mark.parametrize(
    "text",
    [
        "Receipts come from no-reply@shopfront.io every Monday.",
        "Escalate outages to support@acmecloud.com.",
        "The sample config uses jane@example.com as the admin.",
        "Clone with git@github.com:team/app.git",
    ],
)
def test_it_leaves_shared_sample_and_ssh_addresses_alone(text):
    assert pii_in(text) == []


def test_it_flags_international_phone_numbers():
    text = "Kofi's mobile is +233 24 412 7789; his sister uses +49 1512 3456789."
    assert pii_in(text) == [("phone", "+233 24 412 7789"), ("phone", "+49 1512 3456789")]


def test_it_flags_a_national_format_number_named_as_a_phone():
    assert pii_in("Call Rosa on her cell, (312) 555-7841, after six.") == [
        ("phone", "(312) 555-7841")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Parcel 4417 2290 118 arrives Friday.",
        "The airline's support hotline is +1 800 555 0199.",
        "Meeting ID 845 2291 0034, passcode in the invite.",
        "Invoice 2024-118-5521 is overdue.",
    ],
)
def test_it_leaves_other_digit_runs_and_service_lines_alone(text):
    assert pii_in(text) == []


def test_it_flags_a_card_number_that_passes_luhn_only():
    card = luhn_complete("453201511283036")
    spaced = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    wrong = spaced[:-1] + str((int(spaced[-1]) + 1) % 10)
    assert pii_in(f"Paid the deposit with {spaced}.") == [("credit_card", spaced)]
    assert pii_in(f"Reference {wrong} on the statement.") == []


def test_it_flags_an_iban_whose_checksum_holds():
    account = iban("DE", "370400440532013000")
    spaced = " ".join(account[i : i + 4] for i in range(0, len(account), 4))
    assert pii_in(f"Rent goes to {spaced} monthly.") == [("iban", spaced)]
    broken = account[:2] + ("00" if account[2:4] != "00" else "01") + account[4:]
    assert pii_in(f"Rent goes to {broken} monthly.") == []


def test_it_flags_a_us_ssn_and_a_uk_national_insurance_number():
    assert pii_in("Tax form: SSN 512-44-9081.") == [("ssn", "512-44-9081")]
    assert pii_in("Her NI number is JT 48 21 90 B for payroll.")[0][0] == "national_id"


def test_it_flags_a_passport_number_named_as_one():
    assert pii_in("Passport no. K4829103 expires in 2031.") == [("passport", "K4829103")]


def test_it_flags_a_date_of_birth_but_not_other_dates():
    assert pii_in("Leila was born on 14 March 1988 in Tabriz.") == [
        ("date_of_birth", "14 March 1988")
    ]
    assert pii_in("DOB: 1979-11-02") == [("date_of_birth", "1979-11-02")]
    assert pii_in("Our dog Biscuit's birthday is 3 June 2019.") == []
    assert pii_in("The grant report is due 2025-06-30.") == []


def test_it_flags_a_home_address_but_not_a_venue():
    home = "1427 Alder Creek Road, Boulder, CO 80302"
    assert pii_in(f"Ines lives at {home} with two cats.") == [("address", home)]
    assert pii_in("The team dinner is at the restaurant at 18 Harbour Street.") == []


def test_it_flags_a_residential_ip_but_not_private_or_resolver_ones():
    assert pii_in("Yusuf's home IP is 86.142.17.203, whitelist it.") == [
        ("ip_address", "86.142.17.203")
    ]
    for text in (
        "The NAS sits at 192.168.1.40.",
        "Point DNS at 1.1.1.1 and 8.8.8.8.",
        "Upgraded the agent to version 4.12.1.9 today.",
        "Docs use 203.0.113.7 in every example.",
    ):
        assert pii_in(text) == [], text


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Passport no. for Yusuf's visa application: 548127390 (US).", "passport", "548127390"),
        ("Reisepass von Frau Lindqvist: C4J8R2T71", "passport", "C4J8R2T71"),
        ("Aadhaar of Mr. Raghavan (for KYC): 5911 7424 9727", "national_id", "5911 7424 9727"),
        ("BSN van Sanne voor de huurovereenkomst: 436206730", "national_id", "436206730"),
    ],
)
def test_it_flags_ids_named_with_their_owner_or_purpose(text, kind, value):
    assert pii_in(text) == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        "Passport photo for Yusuf's visa application: 2 copies, 35x45.",
        "ID card of Mr. Raghavan (for KYC): expires 2031.",
        "BSN van Sanne voor de huurovereenkomst: nog opvragen.",
    ],
)
def test_it_leaves_id_talk_without_a_number_alone(text):
    assert pii_in(text) == []
