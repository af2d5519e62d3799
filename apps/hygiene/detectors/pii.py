"""Data about a person: email addresses, phone numbers, payment cards, IBANs, national
ids and passports, home addresses, dates of birth and home IP addresses.

Phone numbers are parsed and validated by `phonenumbers` (Google's libphonenumber
metadata). Cards pass Luhn, IBANs their mod-97 check, national ids their own check
digits where the format has them. Shared mailboxes, published service lines, public
venues, pets' birthdays and server or resolver IPs are not data about a person.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

import phonenumbers
from phonenumbers import PhoneNumberType

from apps.hygiene.detectors.gates import mentions
from apps.hygiene.findings import Finding

_PUNCT_END = ".,;:!?)"


def _sentence_before(text: str, start: int, reach: int = 80) -> str:
    """The text before `start` back to the sentence start (at most `reach` chars)."""
    head = text[max(0, start - reach) : start]
    cut = max(head.rfind("\n"), head.rfind("; "), head.rfind("! "))
    for stop in _SENTENCE_STOP.finditer(head):
        cut = max(cut, stop.start())
    return head[cut + 1 :].lower() if cut >= 0 else head.lower()


_SENTENCE_STOP = re.compile(r"(?<!\b\w)\.\s")  # not after an initial ("b. 1984", "J. Doe")


def _sentence_after(text: str, end: int, reach: int = 80) -> str:
    """The text after `end` up to the sentence end (at most `reach` chars)."""
    return re.split(r"\.\s|\n|;\s|!\s", text[end : end + reach])[0].lower()


# ---------------------------------------------------------------- email
_EMAIL = re.compile(
    r"(?<![\w.+%/-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
)
_RESERVED_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost|local|internal|"
    r"lan|home\.arpa)$",
    re.IGNORECASE,
)
# Shared, role and robot mailboxes: nobody's personal data.
_ROLE_MAILBOX = re.compile(
    r"^(?:no-?reply|do-?not-?reply|donotreply|support|help|helpdesk|info|information|contact|"
    r"contactus|sales|admin|administrator|hello|hi|team|billing|invoices?|accounts?|security|"
    r"privacy|dpo|press|media|pr|jobs|careers|recruiting|hr|office|notifications?|alerts?|"
    r"mailer-daemon|postmaster|webmaster|hostmaster|abuse|enquiries|inquiries|service|"
    r"customerservice|customer-service|care|feedback|marketing|legal|compliance|reception|"
    r"frontdesk|bookings?|reservations?|orders?|newsletter|news|bot|ops|devops|it|root|"
    r"finance|payroll|team-\w+|general|admissions|events|partners?|community|git|ci|"
    r"noc|status|updates|receipts?|shop|store|accounting|payments?|ap|ar|procurement|"
    r"purchasing|operations|logistics|shipping|returns|warranty|claims|membership|"
    r"registrar|editors?|desk|tips|studio|mail|email|webmail|enquiry|inquiry)$",
    re.IGNORECASE,
)


# "owen dot brennan at fastmail dot com": addresses spelled out to dodge harvesters.
_SPELLED_EMAIL = re.compile(
    r"\b[A-Za-z0-9][\w-]*(?:[ \t]*(?:\.|\(dot\)|\[dot\]|[ \t]dot[ \t])[ \t]*[\w-]+)*"
    r"[ \t]*(?:\(at\)|\[at\]|\{at\}|[ \t]at[ \t])[ \t]*"
    r"[A-Za-z0-9][\w-]*(?:[ \t]*(?:\(dot\)|\[dot\]|\{dot\}|[ \t]dot[ \t])[ \t]*[\w-]+)*"
    r"[ \t]*(?:\(dot\)|\[dot\]|\{dot\}|[ \t]dot[ \t])[ \t]*"
    r"(?:com|net|org|io|co|edu|gov|me|info|dev|app|ai|uk|de|fr|es|it|nl|pt|br|in|au|ca|ch|"
    r"se|no|dk|fi|pl|jp|cn|ru|us|eu)\b",
    re.IGNORECASE,
)


def _in_url_userinfo(text: str, start: int) -> bool:
    """True when `start` lies in a URL's user:password part (scheme://user:pw@host)."""
    token_start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1
    head = text[token_start:start]
    return "://" in head and not head.lower().startswith("mailto:")


def _emails(text: str) -> Iterator[Finding]:
    if " dot " in text or "(dot)" in text or "[dot]" in text:
        for match in _SPELLED_EMAIL.finditer(text):
            yield Finding("pii", "email", match.start(), match.end(), "email_spelled")
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        local, domain = match.group("local"), match.group("domain")
        start = match.start()
        if _in_url_userinfo(text, start):
            continue
        if _RESERVED_DOMAIN.search(domain) or _ROLE_MAILBOX.match(local.split("+")[0]):
            continue
        yield Finding("pii", "email", start, match.end(), "email")


# ---------------------------------------------------------------- phone
# A run of digits with the separators people write in phone numbers; at least 7 digits.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+./-])(?:\+|00)?\(?\d[\d \t().-]{5,20}\d(?![\w/-]|\.\d)"
    r"(?:[ \t]*(?:ext\.?|x|#)[ \t]*\d{1,5})?"
)
_PHONE_CUE = re.compile(
    r"phone|mobile|cell|tel\b|telephone|call|text|sms|whatsapp|signal|telegram|reach|ring|"
    r"fax|number|contact|line|handy|móvil|movil|teléfono|telefono|portable|téléphone|"
    r"telefon|celular|numéro|nummer|номер|電話",
    re.IGNORECASE,
)
# A business's published line, or a conference dial-in, is not personal data.
_SERVICE_LINE = re.compile(
    r"support|help ?line|hotline|customer (?:service|care)|service desk|front desk|reception|"
    r"switchboard|toll[- ]free|main (?:line|number)|general (?:line|enquiries)|booking line|"
    r"reservations|call cent(?:er|re)|helpdesk|(?:published|public|listed|official|"
    r"company|business|office) (?:phone )?(?:number|line)|dial[- ]in|conference (?:line|"
    r"bridge|call)|bridge line|\b(?:clinic|restaurant|hotel|shop|store|bank|airline|"
    r"pharmacy|farmácia|farmacia|pharmacie|apotheke|museum|library|cinema|theatre|theater|"
    r"caf[eé]|bakery|salon|garage|agency|embassy|consulate|council|hospital)\b",
    re.IGNORECASE,
)
# ...unless the number is said to be somebody's own.
_PERSONAL_LINE = re.compile(
    r"\b(?:direct|personal|private|own|home|cell|mobile|work cell)[ \t]+(?:line|number|phone|"
    r"cell|mobile)|\b(?:cell|mobile|whatsapp|cellphone|handy)\b"
    r"|(?P<owner>\w+'s|\bhis|\bher|\bmy|\btheir)[ \t]+(?P<what>\w+[ \t]+)?(?:phone|number|line)",
    re.IGNORECASE,
)
_BUSINESS_WORDS = re.compile(
    r"published|public|listed|official|main|general|company|business|office|support|"
    r"reservations?|booking|front|service|sales",
    re.IGNORECASE,
)


def _said_to_be_personal(sentence: str) -> bool:
    for match in _PERSONAL_LINE.finditer(sentence):
        owner, what = match.group("owner"), match.group("what")
        if owner is None:
            return True
        if _SERVICE_LINE.search(owner) or (what and _BUSINESS_WORDS.search(what)):
            continue
        return True
    return False


# Identifiers that come with digit runs: "meeting ID 912 3344 5521", "order no. 5512 ...".
_ID_BEFORE = re.compile(
    r"(?:\bid|\bno\.?|#|\bnr\.?|order|invoice|ticket|ref(?:erence)?|tracking|account|"
    r"case|booking|confirmation|passcode|pin|code)[ \t:#.]*$",
    re.IGNORECASE,
)
_NOT_PERSONAL_TYPES = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
}
# Regions tried for numbers written without a country code, when the text says it is
# a phone number.
_NATIONAL_REGIONS = (
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "PT", "IE", "PL", "SE", "CH", "AT", "BE",
    "IN", "JP", "KR", "CN", "SG", "AU", "NZ", "ZA", "NG", "KE", "BR", "MX", "CA",
)  # fmt: skip
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


def _parse_phone(candidate: str, national: bool) -> phonenumbers.PhoneNumber | None:
    """The number `candidate` stands for, if it is a valid personal-type number: with its
    country code as written, or else (when the text calls it a phone number) in the
    first region where it is valid and not a service line."""
    body = candidate.strip()
    if body.startswith("00"):
        body = "+" + body[2:]
    regions: tuple[str | None, ...] = (None,) if body.startswith("+") else ()
    if not regions and national:
        regions = _NATIONAL_REGIONS
    fallback = None
    for region in regions:
        try:
            number = phonenumbers.parse(body, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            if phonenumbers.number_type(number) not in _NOT_PERSONAL_TYPES:
                return number
            fallback = fallback or number
    return fallback


def _phones(text: str) -> Iterator[Finding]:
    for match in _PHONE_CANDIDATE.finditer(text):
        candidate = match.group()
        digits = sum(c.isdigit() for c in candidate)
        if not 7 <= digits <= 15 or _DATE_LIKE.match(candidate.strip()):
            continue
        if len(re.findall(r"(?<!\d)\d(?!\d)", candidate)) > 1:
            continue  # "4 8 15 16 23 42": numbers in a row, not one number
        before = _sentence_before(text, match.start(), 60)
        international = candidate.lstrip("(").startswith(("+", "00"))
        spaced = bool(re.search(r"\d[ ().-]+\d", candidate))
        national = spaced and bool(_PHONE_CUE.search(before))
        number = _parse_phone(candidate, national)
        if number is None or (not international and not national):
            continue
        if phonenumbers.number_type(number) in _NOT_PERSONAL_TYPES:
            continue
        if _ID_BEFORE.search(text[max(0, match.start() - 20) : match.start()]):
            continue
        after = re.split(r"\.\s|\n", text[match.start() : match.end() + 60])[0]
        sentence = _sentence_before(text, match.start(), 120) + after
        if _SERVICE_LINE.search(sentence) and not _said_to_be_personal(sentence):
            continue
        end = match.end()
        while text[end - 1] in _PUNCT_END + "(-. ":
            end -= 1
        yield Finding("pii", "phone", match.start(), end, "phonenumbers")


# ---------------------------------------------------------------- cards and IBANs
_CARD = re.compile(r"(?<![\d.-])(?:\d[ -]?){12,18}\d(?![\d-]|\.\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(text: str) -> Iterator[Finding]:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        # Issuer ranges start 2-6 (Mastercard 2-series, Amex, Visa, Mastercard,
        # Discover/UnionPay/Maestro); other Luhn-valid runs are account or parcel numbers.
        if not 13 <= len(digits) <= 19 or digits[0] not in "23456":
            continue
        if len(set(digits)) > 2 and luhn_valid(digits):
            yield Finding("pii", "credit_card", match.start(), match.end(), "luhn")


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "")
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ibans(text: str) -> Iterator[Finding]:
    for match in _IBAN.finditer(text):
        value = match.group()
        # The greedy optional groups can swallow a following word; shrink to fit.
        compact = value.replace(" ", "")
        length = _IBAN_LENGTHS.get(compact[:2])
        if length and len(compact) > length:
            kept, count = 0, 0
            for kept, ch in enumerate(value, 1):  # noqa: B007 (kept is read after)
                count += ch != " "
                if count == length:
                    break
            value = value[:kept]
        if iban_valid(value):
            yield Finding("pii", "iban", match.start(), match.start() + len(value), "iban_mod97")


# ---------------------------------------------------------------- national ids, passports
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_SSN_CUE = re.compile(r"\b(?:ssn|social security|soc\.? sec\.?)\b", re.IGNORECASE)
_SSN_PLAIN = re.compile(
    r"(?<![\d-])(?!000|666|9\d\d)\d{3}[ ]?(?!00)\d{2}[ ]?(?!0000)\d{4}(?![\d-])"
)

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _spanish_id_valid(value: str) -> bool:
    compact = value.replace("-", "").upper()
    number = compact[:-1].replace("X", "0").replace("Y", "1").replace("Z", "2")
    return number.isdigit() and _DNI_LETTERS[int(number) % 23] == compact[-1]


def _cpf_valid(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for n in (9, 10):
        check = sum(d * w for d, w in zip(digits[:n], range(n + 1, 1, -1), strict=False))
        if (check * 10 % 11) % 10 != digits[n]:
            return False
    return True


def _nir_valid(value: str) -> bool:
    compact = value.replace(" ", "").upper().replace("2A", "19").replace("2B", "18")
    return compact.isdigit() and 97 - int(compact[:13]) % 97 == int(compact[13:])


def _nric_valid(value: str) -> bool:
    weights = (2, 7, 6, 5, 4, 3, 2)
    total = sum(int(d) * w for d, w in zip(value[1:8], weights, strict=True))
    if value[0] in "TG":
        total += 4
    letters = "JZIHGFEDCBA" if value[0] in "ST" else "XWUTRQPNMLK"
    return letters[total % 11] == value[8]


# (format, check digit test or None). Digit-heavy and letter-heavy formats are two
# alternations, each run only when the memory has a run its formats need.
_DIGIT_ID_FORMATS: list[tuple[str, Callable[[str], bool] | None]] = [
    # UK National Insurance number (prefix rules of HMRC).
    (
        r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2}"
        r" ?[A-D]\b",
        None,
    ),
    # Spanish DNI and NIE with their check letter.
    (r"\b(?:\d{8}|[XYZ]-?\d{7})-?[A-HJ-NP-TV-Z]\b", _spanish_id_valid),
    # Brazilian CPF.
    (r"(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d{2}(?!\d)", _cpf_valid),
    # French NIR (numéro de sécurité sociale) with its key.
    (
        r"(?<!\d)[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}"
        r"(?!\d)",
        _nir_valid,
    ),
    # Singapore NRIC / FIN.
    (r"\b[STFGM]\d{7}[A-Z]\b", _nric_valid),
]
_LETTER_ID_FORMATS: list[tuple[str, Callable[[str], bool] | None]] = [
    # Italian codice fiscale.
    (r"\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b", None),
    # Indian PAN.
    (r"\b[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z]\b", None),
]


def _alternation(
    formats: list[tuple[str, Callable[[str], bool] | None]],
) -> tuple[re.Pattern[str], dict[str, Callable[[str], bool] | None]]:
    pattern = "|".join(f"(?P<f{i}>{regex})" for i, (regex, _) in enumerate(formats))
    return re.compile(pattern), {f"f{i}": check for i, (_, check) in enumerate(formats)}


_DIGIT_IDS = _alternation(_DIGIT_ID_FORMATS)
_LETTER_IDS = _alternation(_LETTER_ID_FORMATS)
_SIX_DIGITS = re.compile(r"\d(?:[ .-]?\d){5}")
_FIVE_DIGITS = re.compile(r"\d(?:[ .-]?\d){4}")
_CAPITALS = re.compile(r"[A-Z]{3}[A-Z0-9]{5}")
# "of Mr. Raghavan", "for Yusuf's visa application", "voor de huurovereenkomst".
_OWNER = (
    r"[ \t]+(?:of|for|do|da|de|del|du|di|von|van|voor|für|pour|para|per)[ \t]+"
    r"(?:[\w'’.-]+[ \t]+){0,2}?[\w'’-]+"
)
# Formats too plain to trust without the document named before them.
_NAMED_ID = re.compile(
    r"\b(?P<name>national (?:id(?:entity)?|insurance)(?: card)?(?: number)?|"
    r"(?:personal |citizen |resident |voter )?id(?:entity)? (?:card|number|no\.?)|"
    r"\bNI (?:number|no\.?)|social insurance(?: number)?|\bSIN\b|aadhaa?r|\bBSN\b|"
    r"burgerservicenummer|"
    r"personnummer|henkilötunnus|\bPESEL\b|\bCURP\b|\bRUT\b|\bRUN\b|\bDNI\b|\bNIE\b|\bNIF\b|"
    r"\bCPF\b|codice fiscale|steuer-?id|steueridentifikationsnummer|personalausweis(?:nummer)?|"
    r"tax (?:id|identification number|file number)|\bTIN\b|\bTFN\b|\bNINO\b|my number|"
    r"carte d'identité|numéro de sécurité sociale|cédula|documento de identidad|"
    r"teudat zehut|emirates id|hkid|\bNRIC\b|\bFIN\b)"
    r"(?:[ \t]+(?:number|no\.?|nr\.?|#))?"
    # Whose it is and what for: "of Mr. Raghavan (for KYC)", "van Sanne voor de huur".
    rf"(?:{_OWNER}|[ \t]*\([^)\n]{{1,40}}\)){{0,3}}"
    r"[ \t]*(?:is[ \t]+|:|#|=|-)?[ \t]*"
    # A value starts with its digits or a short letter prefix (NINO, CURP), not a word.
    r"(?P<value>(?=[A-Z]{0,4}[ .-]?\d)[A-Z0-9][A-Z0-9 .-]{4,22}[A-Z0-9])",
    re.IGNORECASE,
)
_PASSPORT = re.compile(
    r"\b(?:passport|reisepass|pasaporte|passeport|passaporto|passaporte|paspoort|paszport|"
    r"паспорт|护照|パスポート)"
    r"(?:[ \t]+(?:number|no\.?|nr\.?|num(?:ber|éro|ero)?|#|n[ºo°]\.?))?"
    rf"(?:{_OWNER}(?=[ \t]*:))?"
    r"[ \t]*(?:is[ \t]+|:|#|=|-)?[ \t]*(?P<value>[A-Z0-9]{1,3}[ ]?[0-9][A-Z0-9]{4,9})\b",
    re.IGNORECASE,
)
_PASSPORT_LATER = re.compile(
    r"\b(?:passport|reisepass|pasaporte|passeport|passaporto|passaporte|paspoort)\b"
    r"[^.\n]{0,60}?\b(?:number|no\.?|nr\.?|n[ºo°]|num[ée]ro|nummer|número)[ \t]*"
    r"(?:is|:|#|=|-|es|est|ist|é)?[ \t]*(?P<value>[A-Z0-9]{1,3}[ ]?[0-9][A-Z0-9]{4,9})\b",
    re.IGNORECASE,
)
_PASSPORT_WORDS = (
    "passport", "reisepass", "pasaporte", "passeport", "passaport", "paspoort", "paszport",
    "паспорт", "护照", "パスポート",
)  # fmt: skip
_NAMED_ID_WORDS = (
    "id ", "id:", "id#", "identity", "identidad", "identité", "national", "insurance", "ni ",
    "sin", "aadha", "bsn", "burgerservice", "personnummer", "henkilö", "pesel", "curp", "rut",
    "run", "dni", "nie", "nif", "cpf", "codice", "steuer", "personalausweis", "tax", "tin",
    "tfn", "nino", "my number", "sécurité sociale", "cédula", "teudat", "hkid", "nric", "fin",
)  # fmt: skip


def _national_ids(text: str) -> Iterator[Finding]:
    seen: list[tuple[int, int]] = []

    def fresh(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in seen)

    if "-" in text:
        for match in _SSN.finditer(text):
            seen.append(match.span())
            yield Finding("pii", "ssn", match.start(), match.end(), "ssn_format")
    if mentions(text, ("ssn", "social security", "soc sec", "soc. sec")):
        for match in _SSN_PLAIN.finditer(text):
            if fresh(*match.span()) and _SSN_CUE.search(_sentence_before(text, match.start())):
                seen.append(match.span())
                yield Finding("pii", "ssn", match.start(), match.end(), "ssn_named")
    passports = mentions(text, _PASSPORT_WORDS)
    for match in [*_PASSPORT.finditer(text), *_PASSPORT_LATER.finditer(text)] if passports else []:
        value = match.group("value")
        digits = sum(c.isdigit() for c in value)
        if digits >= 3 and len(value) >= 7 and fresh(*match.span("value")):
            seen.append(match.span("value"))
            yield Finding("pii", "passport", *match.span("value"), "passport_named")
    five_digits = _FIVE_DIGITS.search(text) is not None
    named = five_digits and mentions(text, _NAMED_ID_WORDS)
    for match in _NAMED_ID.finditer(text) if named else []:
        value = match.group("value").rstrip(" .-")
        if sum(c.isdigit() for c in value) < 5 or not fresh(*match.span("value")):
            continue
        start = match.start("value")
        seen.append((start, start + len(value)))
        yield Finding("pii", "national_id", start, start + len(value), "national_id_named")
    alternations = []
    if five_digits and _SIX_DIGITS.search(text):
        alternations.append(_DIGIT_IDS)
    if _CAPITALS.search(text):
        alternations.append(_LETTER_IDS)
    for pattern, checks in alternations:
        for match in pattern.finditer(text):
            check = checks[match.lastgroup or ""]
            if not fresh(*match.span()) or (check and not check(match.group())):
                continue
            seen.append(match.span())
            yield Finding("pii", "national_id", match.start(), match.end(), "national_id_format")


# ---------------------------------------------------------------- dates of birth
_MONTHS = (
    r"jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|june?|july?|"
    r"aug(?:ust|\.)?|sep(?:t(?:ember)?|\.)?|oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?|"
    r"januar|februar|märz|mai|juni|juli|oktober|dezember|"
    r"janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|"
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|"
    r"diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    r"janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|dezembro"
)
_DATE = re.compile(
    rf"(?<![\w/.-])(?:"
    rf"(?:19|20)\d{{2}}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])"
    rf"|(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|1[0-2])[./-](?:19|20)?\d{{2}}"
    rf"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:19|20)?\d{{2}}"
    rf"|(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th|\.|º)?(?:[ \t]+(?:of|de))?[ \t]+(?:{_MONTHS})"
    rf"(?:,?[ \t]+(?:de[ \t]+)?(?:19|20)\d{{2}})?"
    rf"|(?:{_MONTHS})[ \t]+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?(?:,?[ \t]+(?:19|20)\d{{2}})?"
    rf")(?![\w/-]|\.\d)",
    re.IGNORECASE,
)
_BIRTH_CUE = re.compile(
    r"\bborn\b|\bbirth|\bd\.?o\.?b\b|\bb\.[ \t]|birthday|\bbday\b|b-day|geboren|\bgeb\.|"
    r"geburts|\bné\b|\bnée\b|naissance|anniversaire|nacid[oa]|nacimiento|cumpleaños|"
    r"nascid[oa]|nascimento|aniversário|\bnat[oa]\b|nascita|compleanno|родил|生日|生年月日",
    re.IGNORECASE,
)
_NOT_A_PERSON = re.compile(
    r"\b(?:dog|cat|puppy|kitten|pet|horse|parrot|hamster|rabbit|fish|company|firm|startup|"
    r"business|shop|store|restaurant|founded|incorporated|established|launch|release|"
    r"anniversary|wedding|project|app|repo|product|brand|band|website|blog|account|"
    r"campaign|team|club|school|church|city|country)\b",
    re.IGNORECASE,
)


# "birthday dinner is on March 3": the date of an event, not necessarily of a birth.
_BIRTHDAY_EVENT = re.compile(
    r"\b(?:birthday|bday|b-day)[ \t]+(?:party|dinner|lunch|brunch|drinks|celebration|gift|"
    r"present|card|cake|trip|plans?|surprise|reservation|booking|event)\b",
    re.IGNORECASE,
)


_BIRTH_WORDS = (
    "born", "birth", "dob", "d.o.b", "b.", "bday", "b-day", "geboren", "geb.", "geburts",
    "né", "née", "naissance", "anniversaire", "nacid", "nacimiento", "cumpleaños", "nascid",
    "nascimento", "aniversário", "nato", "nata", "nascita", "compleanno", "родил", "生日",
    "生年月日",
)  # fmt: skip


def _dates_of_birth(text: str) -> Iterator[Finding]:
    if not mentions(text, _BIRTH_WORDS) or not _BIRTH_CUE.search(text):
        return
    for match in _DATE.finditer(text):
        before = _sentence_before(text, match.start(), 70)
        after = text[match.end() : match.end() + 25].lower()
        cue = _BIRTH_CUE.search(before) or re.match(r"[ \t]*\(?(?:dob|birthday|born)", after)
        if not cue:
            continue
        if _NOT_A_PERSON.search(before) or _BIRTHDAY_EVENT.search(before):
            continue
        yield Finding("pii", "date_of_birth", match.start(), match.end(), "birth_date")


# ---------------------------------------------------------------- addresses
_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|"
    r"terrace|ter|close|crescent|cres|parkway|pkwy|highway|hwy|square|sq|circle|cir|trail|"
    r"trl|row|mews|gardens|grove|walk|alley|loop|green|rise|hill|view|park"
)
_UNIT = r"(?:,?[ \t]+(?:apt|apartment|unit|suite|ste|flat|fl|floor|#)\.?[ \t]*#?[\w-]+)?"
_PLACE_TAIL = (
    r"(?:,[ \t]*[A-Z][\w'.-]*(?:[ \t]+[A-Z][\w'.-]*){0,2}){0,2}"
    r"(?-i:(?:,?[ \t]+[A-Z]{2})?"
    r"(?:,?[ \t]+(?:\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|"
    r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d))?)"
)
# (words every match contains, pattern); see gates.py.
_ADDRESSES: list[tuple[tuple[str, ...], re.Pattern[str]]] = [
    # 221B Baker Street, London NW1 6XE / 1600 Elm Ave, Apt 4, Springfield, IL 62704
    (
        tuple(f" {kind}" for kind in _STREET_TYPES.split("|")),
        re.compile(
            rf"(?<![\w-])\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,4}})?[ \t]+(?:[NSEW]\.?[ \t]+)?"
            rf"(?:[A-Z][\w'.-]*[ \t]+){{1,3}}(?:{_STREET_TYPES})\b\.?{_UNIT}{_PLACE_TAIL}",
            re.IGNORECASE,
        ),
    ),
    # Hauptstraße 12, 10115 Berlin / Keizersgracht 123, 1015 CJ Amsterdam
    (
        (
            "straße",
            "strasse",
            "str.",
            "weg ",
            "gasse",
            "platz",
            "allee",
            "ring ",
            "damm",
            "ufer",
            "laan",
            "straat",
            "gracht",
            "plein",
            "kade",
            "vej ",
            "gade",
            "gatan",
            "gata ",
            "veien",
            "vägen",
        ),
        re.compile(
            r"\b[A-ZÄÖÜ][\wäöüßéè-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|"
            r"ufer|laan|straat|gracht|plein|kade|vej|gade|gatan|gata|veien|vägen)"
            r"[ \t]+\d{1,4}[a-z]?(?:,?[ \t]+\d{4,5}(?:[ \t]?[A-Z]{2})?[ \t]+[A-ZÄÖÜ][\wäöüß-]+)?"
        ),
    ),
    # 12 rue de la Paix, 75002 Paris
    (
        (
            "rue ",
            "avenue",
            "boulevard",
            "bd ",
            "place",
            "impasse",
            "allée",
            "chemin",
            "quai",
            "cours",
            "route",
        ),
        re.compile(
            r"\b\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?:rue|avenue|boulevard|bd|place|impasse|"
            r"allée|chemin|quai|cours|route)[ \t]+[\w'’ -]{2,40}?(?:,?[ \t]+\d{5}[ \t]+"
            r"[A-Z][\w-]+)",
            re.IGNORECASE,
        ),
    ),
    # Calle Mayor 5, 28013 Madrid / Via Roma 10, 00184 Roma / Rua Augusta 100. Written
    # with a capital: "via" and "largo" are English words too.
    (
        (
            "calle",
            "c/",
            "avenida",
            "avda.",
            "paseo",
            "plaza",
            "via ",
            "viale",
            "piazza",
            "corso",
            "rua ",
            "travessa",
            "largo",
            "carrer",
            "ulica",
            "ul.",
        ),
        re.compile(
            r"\b(?:Calle|C/|Avenida|Avda\.|Paseo|Plaza|Via|Viale|Piazza|Corso|Rua|Travessa|"
            r"Largo|Carrer|[Uu]lica|ul\.)[ \t]+[\w'’ .-]{2,40}?,?[ \t]+(?:n[ºo°]\.?[ \t]*)?"
            r"\d{1,4}[a-z]?(?:,[ \t]*\d{1,2}[ºª]?[ \t]*\w?)?"
            r"(?:,?[ \t]+\d{4,5}(?:-\d{3})?[ \t]+[A-Z][\w-]+)?"
        ),
    ),
]
_HOME_CUE = re.compile(
    r"\blives?\b|\bliving\b|\bhome\b|\bhouse\b|\bflat\b|\bapartment\b|\bmoved\b|\bmoving\b|"
    r"\bresid|\baddress\b|\bmailing\b|\bship(?:ping)?\b|\bdeliver|\bsend (?:it|the)|"
    r"\bstays?\b|\bparents'?\b|\bmom'?s\b|\bdad'?s\b|\bwohnt|\bhabite|\bvive\b|\bmora\b|"
    r"\babita\b|\bdomicil|\bwoont\b|\bpostal\b|\bpost to\b",
    re.IGNORECASE,
)
_PUBLIC_PLACE = re.compile(
    r"\b(?:restaurant|caf[eé]|coffee|bar|pub|museum|gallery|theat(?:er|re)|cinema|hotel|"
    r"hostel|office|offices|hq|headquarters|store|shop|mall|market|venue|conference|"
    r"stadium|arena|station|airport|library|park|church|hospital|clinic|pharmacy|gym|"
    r"school|university|campus|embassy|consulate|company|bank|branch|bakery|bistro|"
    r"salon|studio|center|centre|hall|club|tavern|brewery|cowork\w*|meetup|event|"
    r"located|our (?:new )?office|viewing|open house|for sale|for rent|listing)\b",
    re.IGNORECASE,
)
_ADDRESS_GATE = re.compile(r"\d")


def _addresses(text: str) -> Iterator[Finding]:
    if not _ADDRESS_GATE.search(text):
        return
    taken: list[tuple[int, int]] = []
    for words, pattern in _ADDRESSES:
        if not mentions(text, words):
            continue
        for match in pattern.finditer(text):
            start, end = match.span()
            value = match.group()
            while end > start and text[end - 1] in _PUNCT_END + " ":
                end -= 1
            if any(s < end and start < e for s, e in taken):
                continue
            before = _sentence_before(text, start, 90)
            if _PUBLIC_PLACE.search(before) and not re.search(
                r"\b(?:lives?|home|moved|house)\b", before
            ):
                continue
            if not (_HOME_CUE.search(before) or _has_postcode(value)):
                continue
            taken.append((start, end))
            yield Finding("pii", "address", start, end, "street_address")


def _has_postcode(value: str) -> bool:
    return bool(re.search(r"\b\d{4,5}\b.*[A-Za-z]|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b", value))


# ---------------------------------------------------------------- IP addresses
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d)"
)
_PUBLIC_RESOLVERS = {
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
    "208.67.222.222", "208.67.220.220", "64.6.64.6", "64.6.65.6", "94.140.14.14",
    "94.140.15.15", "76.76.2.0", "76.76.10.0", "185.228.168.9", "4.2.2.2", "4.2.2.1",
}  # fmt: skip
_VERSION_CUE = re.compile(
    r"\b(?:v|ver|version|release|build|firmware|update|upgrade|patch|bump|tag|sdk|"
    r"package|library|node|python|chrome|ios|android|oid)\W{0,3}$",
    re.IGNORECASE,
)
_SERVER_CUE = re.compile(
    r"\b(?:server|host|instance|droplet|ec2|vm|vps|load balancer|lb|dns|a record|"
    r"nameserver|resolver|endpoint|gateway|proxy|cluster|node|deploy\w*|prod\w*|staging|"
    r"api|cdn|router|subnet|cidr|firewall|allowlist|whitelist|blocklist|bastion|"
    r"database|db|mail server|smtp|ntp|runs on|running on|hosted|behind|grafana|"
    r"kubernetes|k8s|nginx|vpc|static ip|elastic ip|public ip of the)\b",
    re.IGNORECASE,
)
_PERSON_IP_CUE = re.compile(
    r"\bhome\b|residential|\bhis\b|\bher\b|\btheir\b|\bmy\b|user'?s|customer'?s|"
    r"logged in from|signed in from|connect(?:ed|ing|s) from|\bfrom ip\b|her ip|his ip|"
    r"isp|broadband|\bvpn\b",
    re.IGNORECASE,
)


_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,6}|[0-9A-Fa-f]{1,4})"
    r"(?![\w:])"
)


def _ip_addresses(text: str) -> Iterator[Finding]:
    candidates: list[re.Match[str]] = []
    if text.count(".") >= 3:
        candidates.extend(_IPV4.finditer(text))
    if text.count(":") >= 3:
        candidates.extend(_IPV6.finditer(text))
    for match in candidates:
        value = match.group()
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            continue  # a time like 12:30:45:10 or a MAC-like run
        if value in _PUBLIC_RESOLVERS or not address.is_global:
            continue
        before = text[max(0, match.start() - 25) : match.start()]
        if _VERSION_CUE.search(before):
            continue
        sentence = (
            _sentence_before(text, match.start(), 100) + " " + _sentence_after(text, match.end())
        )
        if _SERVER_CUE.search(sentence) and not _PERSON_IP_CUE.search(sentence):
            continue
        yield Finding("pii", "ip_address", match.start(), match.end(), "public_ip")


DETECTORS = (
    _emails,
    _cards,
    _ibans,
    _national_ids,
    _phones,
    _dates_of_birth,
    _addresses,
    _ip_addresses,
)


def find_pii(text: str) -> list[Finding]:
    return [finding for detector in DETECTORS for finding in detector(text)]
