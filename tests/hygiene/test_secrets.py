"""Secret detectors: vendor formats, JWTs, key blocks, passwords in URLs and prose, and
the placeholders, masked values and identifiers that must stay clean."""

from __future__ import annotations

import base64
import json

import pytest

from apps.hygiene.scanner import scan
from tests.hygiene.fakes import ALNUM, UPPER_ALNUM, fake


def secrets_in(text: str) -> list[tuple[str, str]]:
    return [(f.type, f.span(text)) for f in scan(text) if f.category == "secret"]


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_it_flags_an_aws_access_key_id_with_its_exact_span():
    key = "AKIA" + fake(UPPER_ALNUM, 16)
    text = f"Deploy user for the staging bucket: {key} (rotated in March)."
    assert secrets_in(text) == [("aws_key", key)]


def test_it_leaves_the_aws_documentation_key_alone():
    assert secrets_in("The SDK guide uses AKIAIOSFODNN7EXAMPLE as its sample id.") == []


def test_it_flags_github_classic_and_fine_grained_tokens():
    classic = "ghp_" + fake(ALNUM, 36)
    fine = "github_pat_" + fake(ALNUM, 22) + "_" + fake(ALNUM, 59)
    text = f"CI pushes with {classic}; the release bot has {fine}."
    assert [kind for kind, _ in secrets_in(text)] == ["github_token", "github_token"]
    assert [value for _, value in secrets_in(text)] == [classic, fine]


def test_it_flags_a_slack_bot_token_and_a_whole_webhook_url():
    bot = "xoxb-" + fake("0123456789", 12) + "-" + fake("0123456789", 13) + "-" + fake(ALNUM, 24)
    hook = (
        "https://hooks.slack.com/services/T"
        + fake(UPPER_ALNUM, 8)
        + "/B"
        + fake(UPPER_ALNUM, 10)
        + "/"
        + fake(ALNUM, 24)
    )
    text = f"Standup bot token {bot}. Alerts post to {hook}"
    assert secrets_in(text) == [("slack_token", bot), ("slack_token", hook)]


def test_it_flags_a_live_stripe_secret_key_but_not_a_publishable_one():
    secret = "sk_live_" + fake(ALNUM, 32)
    public = "pk_live_" + fake(ALNUM, 32, seed=3)
    text = f"Billing service: secret {secret}, checkout page uses {public}."
    assert secrets_in(text) == [("stripe_key", secret)]


def test_it_flags_model_provider_keys():
    project = "sk-proj-" + fake(ALNUM + "_-", 74)
    google = "AIza" + fake(ALNUM + "_-", 35)
    text = f"Summariser runs on {project} and the maps widget on {google}."
    assert secrets_in(text) == [("openai_key", project), ("google_api_key", google)]


def test_it_flags_a_signed_jwt_but_not_the_jwt_io_sample():
    header = b64url({"alg": "HS256", "typ": "JWT"})
    token = f"{header}.{b64url({'sub': 'u_8812', 'exp': 1767225600})}.{fake(ALNUM, 43)}"
    sample = f"{header}.{b64url({'sub': '1234567890', 'name': 'John Doe', 'iat': 1516239022})}."
    sample += fake(ALNUM, 43, seed=9)
    assert secrets_in(f"Session cookie was {token}") == [("jwt", token)]
    assert secrets_in(f"The tutorial decodes {sample} step by step.") == []


def test_it_flags_a_whole_private_key_block():
    body = "\n".join(fake(ALNUM + "+/", 64, seed=i) for i in range(5))
    block = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    text = f"Old deploy key, pasted by Jun:\n{block}\nDo not reuse."
    assert secrets_in(text) == [("private_key", block)]


def test_it_flags_an_openssh_key_as_an_ssh_key():
    body = "\n".join(fake(ALNUM + "+/", 70, seed=i) for i in range(4))
    block = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"
    assert secrets_in(block) == [("ssh_key", block)]


def test_it_leaves_public_keys_and_elided_key_samples_alone():
    public = "ssh-ed25519 " + fake(ALNUM + "+/", 68) + " jun@laptop"
    elided = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq...\n-----END PRIVATE KEY-----"
    assert secrets_in(f"Add {public} to authorized_keys.") == []
    assert secrets_in(f"The README shows the shape:\n{elided}") == []


def test_it_flags_only_the_password_inside_a_connection_url():
    text = "Reporting DB is mysql://report_ro:Vv7#pLq2zR@10.2.0.14:3306/sales"
    assert secrets_in(text) == [("password_in_url", "Vv7#pLq2zR")]


def test_it_leaves_template_connection_urls_alone():
    for url in (
        "postgres://user:password@localhost/db",
        "redis://:${REDIS_PASSWORD}@cache:6379",
        "amqp://guest:<password>@broker:5672",
        "https://admin:****@grafana.internal",
    ):
        assert secrets_in(f"Config template: {url}") == [], url


def test_it_flags_a_password_stated_in_prose():
    assert secrets_in("Guest network password is Orchid!2291, router in hallway.") == [
        ("password_in_text", "Orchid!2291")
    ]
    assert secrets_in("Priya's VPN pw: tangerine-77-lamp") == [
        ("password_in_text", "tangerine-77-lamp")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Priya forgot her password again and asked how to reset it.",
        "The password is stored in the team vault, ask Noor for access.",
        "Password must be at least 14 characters and include a symbol.",
        "She changed the Wi-Fi password yesterday; the new one is on the fridge.",
        "Set DB_PASSWORD=${DB_PASSWORD} in the compose file.",
        "Default login is admin / changeme on first boot.",
    ],
)
def test_it_leaves_talk_about_passwords_alone(text):
    assert secrets_in(text) == []


def test_it_flags_a_random_value_assigned_to_a_secret_name():
    value = fake(ALNUM, 40)
    assert secrets_in(f"MAILER_API_KEY={value}") == [("generic_api_key", value)]


@pytest.mark.parametrize(
    "text",
    [
        "Commit 3f9c2a7be41d08c5a6f7e9b0d1c2e3f4a5b6c7d8 fixed the retry bug.",
        "Trace id 7d9f0c3e-2b1a-4c5d-9e8f-6a7b8c9d0e1f for the failed upload.",
        "sha256: 9b74c9897bac770ffc029102a200c5de3a3dbfd6e4fa9a61cb8e3e3e0bdfdef1",
        "api_key: sk-your-key-here",
        "The Stripe key on the dashboard shows as sk_live_••••Hq2k.",
        "token_expiry = 2026-01-31T00:00:00Z",
        "Set OPENAI_API_KEY in your shell before running the notebook.",
    ],
)
def test_it_leaves_identifiers_placeholders_and_masked_values_alone(text):
    assert secrets_in(text) == []


def test_it_flags_the_password_of_a_url_with_no_user_name():
    password = "Tide" + fake(ALNUM, 10, seed=31)
    text = f"Queue broker: redis://:{password}@queue.internal:6379/2"
    assert secrets_in(text) == [("password_in_url", password)]


def test_it_leaves_a_url_with_a_port_and_no_password_alone():
    assert secrets_in("Queue broker: redis://queue.internal:6379/2") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Login for the school portal: alfie.b / N0rth!Star_2024", "N0rth!Star_2024"),
        ("Gym app credentials: s.abadi@proton.me | Lantern!Moss3", "Lantern!Moss3"),
    ],
)
def test_it_flags_the_password_of_a_login_written_as_a_pair(text, value):
    assert secrets_in(text) == [("password_in_text", value)]


@pytest.mark.parametrize(
    "text",
    [
        "Login for the wiki: SSO / Okta, no separate account.",
        "Credentials: see 1Password / Engineering vault.",
        "Log-in page layout: header / footer / sidebar.",
    ],
)
def test_it_leaves_pairs_that_are_not_logins_alone(text):
    assert secrets_in(text) == []


def test_it_flags_a_password_after_an_aside_in_brackets():
    text = "Vault master passphrase (Sofia asked me to keep it): tangerine7Rover"
    assert secrets_in(text) == [("password_in_text", "tangerine7Rover")]


def test_it_leaves_an_aside_that_points_to_a_vault_alone():
    assert secrets_in("The NAS password (see the team vault): stored in 1Password") == []


def test_it_flags_a_credential_named_app_key():
    value = fake(ALNUM, 40, seed=33)
    text = f'datadog:\n  app_key: "{value}"\n  site: datadoghq.eu'
    assert secrets_in(text) == [("generic_api_key", value)]


@pytest.mark.parametrize(
    "text",
    [
        'datadog:\n  app_key: "<your-app-key>"',
        "index:\n  sort_key: created_at_descending_order",
    ],
)
def test_it_leaves_app_key_placeholders_and_other_keys_alone(text):
    assert secrets_in(text) == []


def test_it_flags_a_token_named_with_what_it_is_for():
    value = fake("0123456789abcdef", 32, seed=35)
    text = f"Twilio auth token for the SMS reminders: {value}"
    assert secrets_in(text) == [("generic_api_key", value)]


def test_it_leaves_a_token_named_with_what_it_is_for_but_no_value_alone():
    assert secrets_in("Twilio auth token for the SMS reminders: ask Priya") == []
