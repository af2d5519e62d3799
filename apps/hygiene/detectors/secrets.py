"""Credentials: vendor keys and tokens, JWTs, private keys, passwords in URLs and prose,
and high-entropy values assigned to secret-sounding names.

Vendor formats come from detect-secrets' plugins where their patterns are exact
(AWS key ids, GitHub, Slack, GitLab, SendGrid, npm, PyPI, Square, Mailchimp, Discord,
Telegram) and its JWT validity check, entropy measure and templated-value filter.
Formats the plugins miss or cut short (OpenAI project keys, Anthropic, fine-grained
GitHub tokens, Google API keys, Stripe keys longer than 24 characters, private key
blocks BEGIN to END, prose passwords) are written here.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector

from apps.hygiene.detectors.gates import long_tokens, mentions
from apps.hygiene.detectors.placeholders import is_placeholder
from apps.hygiene.findings import Finding

_ENTROPY = Base64HighEntropyString()


def entropy(value: str) -> float:
    return float(_ENTROPY.calculate_shannon_entropy(value))


def _bounded(pattern: str) -> str:
    # Library patterns are unanchored; a token glued to other word characters is
    # part of something else (a hash, a longer id).
    return rf"(?<![\w-])(?:{pattern})(?![\w])"


def _plugin(detector: type, index: int = 0) -> str:
    return str(detector.denylist[index].pattern)  # type: ignore[attr-defined]


# (type, literals, pattern): the whole match is the secret, and every match contains
# one of the literals (checked first: a substring test costs far less than the pattern).
_VENDOR_PATTERNS: list[tuple[str, tuple[str, ...], str]] = [
    ("aws_key", ("A3T", "ABIA", "ACCA", "AKIA", "ASIA"), _bounded(_plugin(AWSKeyDetector))),
    ("github_token", ("gh",), _bounded(_plugin(GitHubTokenDetector))),
    ("github_token", ("github_pat_",), _bounded(r"github_pat_[A-Za-z0-9_]{50,255}")),
    (
        "github_token",
        ("gl", "GR1348941"),
        _bounded(_plugin(GitLabTokenDetector).removesuffix(r"(?!\w)")),
    ),
    ("slack_token", ("xox",), _bounded(r"xox[abposre]-(?:[0-9]+-)+[A-Za-z0-9-]{6,}")),
    ("slack_token", ("xapp-",), _bounded(r"xapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{32,}")),
    ("slack_token", ("hooks.slack",), _plugin(SlackDetector, 1) + r"[a-zA-Z0-9_]*"),
    ("stripe_key", ("_live_", "_test_"), _bounded(r"(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{20,247}")),
    ("stripe_key", ("whsec_",), _bounded(r"whsec_[0-9a-zA-Z]{24,}")),
    ("openai_key", ("sk-",), _bounded(r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}")),
    ("openai_key", ("T3BlbkFJ",), _bounded(r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}")),
    ("openai_key", ("sk-",), _bounded(r"sk-[A-Za-z0-9]{32,64}")),
    ("generic_api_key", ("sk-ant-",), _bounded(r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{40,}")),
    ("google_api_key", ("AIza",), _bounded(r"AIza[0-9A-Za-z_-]{35}")),
    ("generic_api_key", ("GOCSPX-",), _bounded(r"GOCSPX-[0-9A-Za-z_-]{28}")),
    ("generic_api_key", ("ya29.",), _bounded(r"ya29\.[0-9A-Za-z_-]{30,}")),
    ("generic_api_key", ("hf_",), _bounded(r"hf_[A-Za-z0-9]{34,40}")),
    ("generic_api_key", ("gsk_",), _bounded(r"gsk_[A-Za-z0-9]{48,56}")),
    ("generic_api_key", ("r8_",), _bounded(r"r8_[A-Za-z0-9]{37,40}")),
    ("generic_api_key", ("npm_",), _bounded(r"npm_[A-Za-z0-9]{36}")),
    ("generic_api_key", ("dop_v1_",), _bounded(r"dop_v1_[a-f0-9]{64}")),
    ("generic_api_key", ("SK", "AC"), _bounded(r"(?:SK|AC)[0-9a-f]{32}")),
    ("generic_api_key", ("SG.",), _bounded(_plugin(SendGridDetector))),
    ("generic_api_key", ("pypi-",), _bounded(_plugin(PypiTokenDetector))),
    ("generic_api_key", ("pypi-",), _bounded(_plugin(PypiTokenDetector, 1))),
    ("generic_api_key", ("sq0csp-",), _bounded(_plugin(SquareOAuthDetector))),
    ("generic_api_key", ("-us",), _bounded(_plugin(MailchimpDetector))),
    ("generic_api_key", (".",), _bounded(_plugin(DiscordBotTokenDetector))),
    ("generic_api_key", (":",), _bounded(_plugin(TelegramBotTokenDetector))),
]
_VENDOR = [(kind, literals, re.compile(pattern)) for kind, literals, pattern in _VENDOR_PATTERNS]
_JWT = re.compile(_bounded(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"))

_KEY_BLOCK = re.compile(
    r"-----BEGIN (?P<label>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP |SSH2 ENCRYPTED )?"
    r"PRIVATE KEY(?: BLOCK)?)-----"
    r"(?P<body>.*?)"
    r"(?:-----END (?P=label)-----|(?=-----BEGIN )|\Z)",
    re.DOTALL,
)
_PUTTY = re.compile(
    r"PuTTY-User-Key-File-\d: [^\n]+\n(?P<body>.*?)(?:Private-MAC: [0-9a-fA-F]+|\Z)",
    re.DOTALL,
)

# scheme://user:password@host; the password is the span. The user may be empty, as in
# redis://:password@host, where the server knows no user names.
_URL_PASSWORD = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://(?P<user>[^:/\s@]{0,64}):(?P<password>[^@/\s]{1,128})@"
    r"(?P<host>[\w.-]+)"
)
_WORDS_FOR_PASSWORD = {"password", "passwd", "pass", "pwd", "pw", "secret", "mypassword"}

# A value assigned to a secret-sounding name: API_KEY=..., "client_secret": "...",
# token: ..., Authorization: Bearer ...
# A value assigned to a secret-sounding name: API_KEY=..., "client_secret": "...",
# token: ..., Authorization: Bearer ... The secret word is found first, then the name
# around it and the assignment after it.
_SECRET_WORD = re.compile(
    r"api[_ -]?key|apikey|secret|access[_ -]?key|auth[_ -]?token|access[_ -]?token|"
    r"refresh[_ -]?token|bearer|token|private[_ -]?key|credentials?|signing[_ -]?key|"
    r"encryption[_ -]?key|master[_ -]?key|account[_ -]?key|shared[_ -]?access[_ -]?key|"
    r"(?:app|application|client|licen[cs]e|subscription|service|admin|deploy|ingest(?:ion)?|"
    r"write|read)[_ -]?key|"
    r"passwd|password|passphrase|pwd|(?<![a-z])pass(?![a-z])",
    re.IGNORECASE,
)
_NAME_CHARS = re.compile(r"[\w.-]{0,40}$")
_NAME_TAIL = re.compile(r"[\w-]{0,20}")
_ASSIGNMENT_TAIL = re.compile(
    r"[\"'\]]{0,2}[ \t]*(?::=|=>|=|:|[ \t]is[ \t]|[ \t]was[ \t])[ \t]*"
    r"(?:Bearer[ \t]+|Basic[ \t]+|Token[ \t]+)?"
    r"(?P<quote>[\"'`]?)(?P<value>[^\s\"'`,;)}\]]{4,256})",
    re.IGNORECASE,
)
# "Twilio auth token for the SMS reminders: <value>": a short qualifier between the name
# and a colon. Only a colon or "is" after it, and the value must still look random.
_QUALIFIED_TAIL = re.compile(
    r"[ \t]+(?:for|of|on|in|to|from|used by|for use in)[ \t]+(?:[\w.@'’#-]+[ \t]+){0,4}?"
    r"[\w.@'’#-]+[ \t]*(?::|[ \t]is[ \t])[ \t]*"
    r"(?P<quote>[\"'`]?)(?P<value>[^\s\"'`,;)}\]]{4,256})",
    re.IGNORECASE,
)
_NOT_A_SECRET_NAME = re.compile(
    r"(?:_|-|\b)(?:id|ids|uuid|name|type|url|uri|path|file|count|length|len|expires?|expiry|"
    r"ttl|limit|format|field|header|param|env|var|hash|fingerprint|prefix|hint|policy|"
    r"rotation|manager|store|vault|endpoint|scope|scopes)$",
    re.IGNORECASE,
)
_BASIC = re.compile(r"\bBasic[ \t]+(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![\w+/=])")


def _is_basic_credentials(value: str) -> bool:
    """HTTP Basic credentials: base64 of "user:password" with a real password."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except ValueError:
        return False
    user, colon, password = decoded.partition(":")
    return bool(colon and user and password.isprintable() and not is_placeholder(password))


_BEARER = re.compile(r"\bBearer[ \t]+(?P<value>[A-Za-z0-9._~+/=-]{20,})")

# Prose: "the wifi password is hunter2", "pw: Tr0ub4dor&3", "contraseña: ...".
_PASSWORD_NAMES = (
    r"pass(?:word|wd|code)|pass[ -]?phrase|pwd|pw|PIN|(?:door|alarm|gate|safe|lock|entry)[ -]code|"
    r"contrase[ñn]a|mot de passe|passwort|kennwort|senha|wachtwoord|has[łl]o|lösenord|"
    r"adgangskode|salasana|parola|пароль|パスワード|密码|密碼|비밀번호"
)
# "for the encrypted backup drive", "im Ferienhaus", "de la box"
# "(Sofia asked me to remember it)": an aside in brackets may follow.
_QUALIFIER = (
    r"(?:[ \t]+(?:for|to|of|on|at|in|im|am|für|zum|zur|del|de|du|da|do|pour|para|per|van|"
    r"voor|för|til)[ \t]+(?:[\w.@'’-]+[ \t]+){0,3}?[\w.@'’-]+)?(?:[ \t]*\([^()\n]{1,60}\))?"
)
_PASSWORD_VALUE = r"(?P<quote>[\"'`“«„]?)(?P<value>[^\s\"'`”»“]{3,128})"
# "password for the router: X", "WLAN-Passwort im Ferienhaus ist X"
_PROSE_PASSWORD = re.compile(
    rf"(?P<name>\b(?:{_PASSWORD_NAMES})|\b(?:wi-?fi|wlan)){_QUALIFIER}"
    r"(?:[ \t]*(?::|=|->|→)[ \t]*|[ \t]+(?:is|was|es|est|ist|é|è|är|er|jest|remains|stays)"
    r"[ \t]+(?:(?:still|now|just|currently|set to|changed to)[ \t]+)?)"
    rf"{_PASSWORD_VALUE}",
    re.IGNORECASE,
)
# "pw Girassol#2019", "set the password to X": no "is" or colon, so the value itself
# must leave no doubt.
_BARE_PASSWORD = re.compile(
    rf"(?P<name>\b(?:{_PASSWORD_NAMES}))[ \t]+(?:(?:set|changed|reset|updated)[ \t]+)?"
    rf"(?:to[ \t]+)?{_PASSWORD_VALUE}",
    re.IGNORECASE,
)
# A login written as a pair, "user / password" or "user | password", after a word that
# says it is one: "login for the school portal: alfie.b / N0rth!Star_2024".
_LOGIN_PAIR = re.compile(
    r"\b(?:log-?ins?|sign-?in|credentials|creds|user(?:name)? and password)\b"
    r"[^:\n]{0,60}:[ \t]*[^\s/|]{2,80}[ \t]+[/|][ \t]+"
    r"(?P<quote>[\"'`]?)(?P<value>[^\s\"'`]{4,128})",
    re.IGNORECASE,
)
# A passphrase is several words: "passphrase for the backup drive: copper lantern orbit 42".
_PASSPHRASE = re.compile(
    rf"\bpass[ -]?phrase{_QUALIFIER}[ \t]*(?::|[ \t]is[ \t])[ \t]*(?P<quote>[\"'“«„]?)"
    r"(?P<value>[^\s\"”»]+(?:[ \t]+[^\s\"”»]+){1,7}?)[\"”»]?[ \t]*(?=[.;!?]?(?:\s*$|\n)|[.;!?]\s)",
    re.IGNORECASE,
)
# The AWS secret access key: 40 characters of base64 named as the secret, in a memory
# that is about AWS.
_AWS_SECRET = re.compile(
    r"\bsecret(?:[ \t_-]?access)?(?:[ \t_-]?key)?[\"']?[ \t]*(?:[:=]|is|was)?[ \t]*[\"']?"
    r"(?P<value>(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
    re.IGNORECASE,
)
_AWS_CONTEXT = re.compile(r"\baws|amazon|\bs3\b|\biam\b|\bsts\b|(?:AKIA|ASIA)[0-9A-Z]{16}", re.I)
# Words that follow "password is" in talk about passwords, not in a password.
_PROSE_NOT_A_VALUE = frozenset(
    """
    a an the my your his her their our its this that these those what which who same
    different required incorrect wrong invalid correct expired stored saved managed kept
    shared long short weak strong secure insecure reset changed set unchanged hidden
    visible written missing empty blank case sensitive needed mandatory optional rotated
    updated encrypted hashed known unknown too now still also not never in on at by for
    from with being going easy hard simple complex secret private protected locked
    unlocked compromised leaked taped on off please see check ask asked sent given
    available generated random temporary temp new old default usual standard forgotten
    lost expiring valid enabled disabled active inactive printed listed noted here there
    below above attached inside under somewhere stored-in managed-by 1password bitwarden
    lastpass keychain keepass vault either neither none nothing something anything
    everything only just so very really quite pretty way more less much many changed.
    reset. required. incorrect. wrong. expired. correct. stored. saved.
    """.split()  # noqa: SIM905 (prose reads better than 150 quoted words)
)
_PROSE_WORDS = (
    "login", "log-in", "sign-in", "signin", "credentials", "creds",
    "pass", "pwd", "pw", "pin", "code", "wi-fi", "wifi", "wlan", "contrase", "mot de passe",
    "passwort", "kennwort", "senha", "wachtwoord", "hasło", "haslo", "lösenord",
    "adgangskode", "salasana", "parola", "пароль", "パスワード", "密码", "密碼", "비밀번호",
)  # fmt: skip
_ASSIGN_WORDS = (
    "key", "secret", "token", "bearer", "credential", "pass", "pwd", "basic ",
)  # fmt: skip


def _vendor_matches(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    # Every vendor format is a long token; most memories have none.
    for start, end in long_tokens(text):
        token = text[start:end]
        for kind, literals, pattern in _VENDOR:
            if any(literal in token for literal in literals):
                for match in pattern.finditer(text, start, end):
                    yield kind, match


# Keys vendors print in their own documentation, copied into countless tutorials.
_DOCUMENTED_SAMPLES = frozenset(
    {
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    }
)


def _vendor(text: str) -> Iterator[Finding]:
    for kind, match in _vendor_matches(text):
        value = match.group()
        if is_placeholder(value) or value in _DOCUMENTED_SAMPLES:
            continue
        if kind == "generic_api_key" and entropy(value) < 3.0:
            continue  # the vendor prefix vouches for the format; a repeated run does not
        if kind == "openai_key" and not _looks_random(value[3:], min_length=20):
            continue
        yield Finding("secret", kind, match.start(), match.end(), "vendor_format")


def _is_sample_jwt(token: str) -> bool:
    # jwt.io's sample token (sub 1234567890, John Doe) sits in countless tutorials.
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return False
    return isinstance(claims, dict) and claims.get("sub") == "1234567890"


def _jwts(text: str) -> Iterator[Finding]:
    if "eyJ" not in text:
        return
    for match in _JWT.finditer(text):
        token = match.group()
        if JwtTokenDetector.is_formally_valid(token) and not _is_sample_jwt(token):
            yield Finding("secret", "jwt", match.start(), match.end(), "detect_secrets.jwt")


def _key_body_is_real(body: str) -> bool:
    # A block with the body elided ("MIIE...") or left as a slot is a sample.
    if "..." in body or "…" in body or "<" in body:
        return False
    payload = [
        line for line in body.strip().splitlines() if line and ":" not in line
    ]  # PEM headers such as Proc-Type: carry no key material
    return sum(len(line.strip()) for line in payload) >= 60


def _private_keys(text: str) -> Iterator[Finding]:
    if "PRIVATE KEY" in text:
        for match in _KEY_BLOCK.finditer(text):
            if _key_body_is_real(match.group("body")):
                kind = "ssh_key" if "OPENSSH" in match.group("label") else "private_key"
                end = match.end()
                while end > match.start() and text[end - 1].isspace():
                    end -= 1
                yield Finding("secret", kind, match.start(), end, "private_key_block")
    if "PuTTY-User-Key-File" in text:
        for match in _PUTTY.finditer(text):
            if _key_body_is_real(match.group("body")):
                yield Finding("secret", "ssh_key", match.start(), match.end(), "putty_key")


def _url_passwords(text: str) -> Iterator[Finding]:
    if "://" not in text:
        return
    for match in _URL_PASSWORD.finditer(text):
        password = match.group("password")
        if password.lower() in _WORDS_FOR_PASSWORD or is_placeholder(password):
            continue
        if password.isdigit() and len(password) <= 5:
            continue  # host:port mistaken for user:password (user@host:port forms)
        yield Finding(
            "secret",
            "password_in_url",
            match.start("password"),
            match.end("password"),
            "detect_secrets.basic_auth",
        )


def _looks_random(value: str, min_length: int = 16) -> bool:
    """A machine-made token: long, mixed letters and digits, high character entropy."""
    if len(value) < min_length:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    if not (has_digit and has_alpha):
        return False
    threshold = 3.0 if len(value) < 24 else 3.3
    return entropy(value) >= threshold


def _looks_like_password(value: str, strict: bool = False) -> bool:
    """Could `value` be a password? `strict` asks for one beyond doubt (letters with
    digits or symbols), for values not introduced by "is" or a colon."""
    if value.lower().rstrip(".,!?:;") in _PROSE_NOT_A_VALUE or is_placeholder(value):
        return False
    if value.lower() in _WORDS_FOR_PASSWORD:
        return False
    if value.startswith(("http", "www.")) or ("@" in value[1:-1] and "." in value):
        return False
    if _DATE_OR_VERSION.match(value):
        return False
    letters = sum(c.isalpha() for c in value)
    digits = sum(c.isdigit() for c in value)
    symbols = len(value) - letters - digits
    if strict:
        return len(value) >= 6 and letters >= 2 and (digits + symbols) >= 1 and digits >= 1
    mixed_case = any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)
    if (digits and letters) or (symbols and (letters or digits)) or mixed_case:
        return True
    if value.isdigit():
        return len(value) >= 4
    return letters >= 6  # a single lower-case word is a weak password, but a password


_DATE_OR_VERSION = re.compile(r"^v?\d+(?:[.:/-]\d+)+[a-z]?$|^\d+(?:st|nd|rd|th|am|pm|h|min)$", re.I)


def _trim(value: str) -> str:
    return value.rstrip(".,!?:;)")


def _assignments(text: str) -> Iterator[Finding]:
    if not mentions(text, _ASSIGN_WORDS):
        return
    done = -1
    for word in _SECRET_WORD.finditer(text):
        if word.start() < done:
            continue  # a second secret word in one name (SECRET_ACCESS_KEY)
        head = _NAME_CHARS.search(text, max(0, word.start() - 40), word.start())
        tail = _NAME_TAIL.match(text, word.end())
        name_end = tail.end() if tail else word.end()
        name = text[head.start() if head else word.start() : name_end]
        done = name_end
        match = _ASSIGNMENT_TAIL.match(text, name_end) or _QUALIFIED_TAIL.match(text, name_end)
        if match is None:
            continue
        value = _trim(match.group("value"))
        if _NOT_A_SECRET_NAME.search(name) or is_placeholder(value):
            continue
        start = match.start("value")
        is_password = re.search(r"pass|pwd", name, re.IGNORECASE) is not None
        if is_password:
            if not _looks_like_password(value):
                continue
            kind = "password_in_text"
        else:
            if not _looks_random(value):
                continue
            kind = "generic_api_key"
        yield Finding("secret", kind, start, start + len(value), "secret_assignment")
    if "Basic" in text:
        for match in _BASIC.finditer(text):
            if _is_basic_credentials(match.group("value")):
                yield Finding("secret", "generic_api_key", *match.span("value"), "basic_auth")
    if "Bearer" in text:
        for match in _BEARER.finditer(text):
            value = _trim(match.group("value"))
            if not is_placeholder(value) and _looks_random(value, min_length=20):
                start = match.start("value")
                yield Finding(
                    "secret", "generic_api_key", start, start + len(value), "bearer_token"
                )


_MEETING = re.compile(
    r"\b(?:meeting|zoom|webex|teams|webinar|join|dial-?in|conference|call|event)\b", re.I
)


def _prose_passwords(text: str) -> Iterator[Finding]:
    if not mentions(text, _PROSE_WORDS):
        return
    for match in _PASSPHRASE.finditer(text):
        value = match.group("value").rstrip(".,;!?")
        first = value.split()[0].lower()
        if first not in _PROSE_NOT_A_VALUE and not is_placeholder(value):
            start = match.start("value")
            yield Finding("secret", "password_in_text", start, start + len(value), "passphrase")
    if "/" in text or "|" in text:
        for match in _LOGIN_PAIR.finditer(text):
            value = _trim(match.group("value"))
            if _looks_like_password(value, strict=True):
                start = match.start("value")
                yield Finding("secret", "password_in_text", start, start + len(value), "login_pair")
    matches = [(m, False) for m in _PROSE_PASSWORD.finditer(text)]
    matches += [(m, True) for m in _BARE_PASSWORD.finditer(text)]
    for match, bare in matches:
        value = match.group("value")
        value = value.rstrip(".,!?:;)") if match.group("quote") else _trim(value)
        name = match.group("name").lower()
        strict = bare or name.replace("-", "") in ("wifi", "wlan")
        if name == "pin" or name.endswith("code"):
            if not (value.isdigit() and 4 <= len(value) <= 8) or is_placeholder(value):
                continue
            if _MEETING.search(text[max(0, match.start() - 80) : match.start()]):
                continue  # a meeting's join code is shared with every invitee
        elif not _looks_like_password(value, strict=strict):
            continue
        start = match.start("value")
        yield Finding("secret", "password_in_text", start, start + len(value), "prose_password")


def _aws_secrets(text: str) -> Iterator[Finding]:
    if "ecret" not in text or not _AWS_CONTEXT.search(text):
        return
    for match in _AWS_SECRET.finditer(text):
        value = match.group("value")
        has_cases = any(c.isupper() for c in value) and any(c.islower() for c in value)
        if has_cases and not is_placeholder(value) and entropy(value) >= 4.0:
            yield Finding("secret", "aws_key", *match.span("value"), "aws_secret_key")


DETECTORS = (
    _vendor,
    _aws_secrets,
    _jwts,
    _private_keys,
    _url_passwords,
    _assignments,
    _prose_passwords,
)


def find_secrets(text: str) -> list[Finding]:
    return [finding for detector in DETECTORS for finding in detector(text)]
