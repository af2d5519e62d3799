"""Values that look like credentials but stand for one: documentation samples, template
slots, masked or truncated copies. Flagging these would teach curators to ignore flags."""

from __future__ import annotations

import re

from detect_secrets.filters.heuristic import is_sequential_string, is_templated_secret

# Words vendors and tutorials put inside sample values (AKIAIOSFODNN7EXAMPLE,
# sk-your-key-here, <insert-token>).
_SAMPLE_WORDS = re.compile(
    r"example|your|here|placeholder|dummy|sample|redacted|changeme|change_me|insert|"
    r"replace|foobar|lorem|xxxx|0000000000|1234567890abcdef",
    re.IGNORECASE,
)
# Masking and truncation: sk_live_••••4Xq9, ghp_****, AKIA…, "abc...xyz".
_MASKED = re.compile(r"[*•●·…]|\.\.\.|\[(?:redacted|hidden|masked)\]", re.IGNORECASE)
# Environment and template references: ${VAR}, $VAR, {{ var }}, %(var)s, <var>.
_REFERENCE = re.compile(r"^\$\w+$|\$\{|\{\{|%\(|^<[^>]*>$|^\{[^}]*\}$")


def is_placeholder(value: str) -> bool:
    """True for a sample, template slot, reference or masked copy of a secret."""
    stripped = value.strip("\"'`")
    if not stripped:
        return True
    if _SAMPLE_WORDS.search(stripped) or _MASKED.search(stripped):
        return True
    if _REFERENCE.search(stripped) or is_templated_secret(stripped):
        return True
    if len(set(stripped.lower())) <= 2:
        return True
    return is_sequential_string(stripped)
