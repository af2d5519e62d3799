"""Configuration from the environment: bad values stop the process with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings


def settings_error(**env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "memoryweb.settings", **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    assert result.returncode != 0
    return result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "perhaps"}, "DEBUG must be true or false"),
        ({"MEMORYWEB_EMBEDDING_BATCH_SIZE": "many"}, "EMBEDDING_BATCH_SIZE must be an integer"),
        ({"MEMORYWEB_SEARCH_IN_CONTEXT_WEIGHT": "-1"}, "IN_CONTEXT_WEIGHT must be at least 0"),
        ({"MEMORYWEB_SEARCH_IN_CONTEXT_WEIGHT": "nan"}, "IN_CONTEXT_WEIGHT must be at least 0"),
        ({"DATABASE_URL": "mysql://u:p@h/db"}, "must point at PostgreSQL"),
        ({"DATABASE_REPLICA_URLS": "postgres://u:p@h/db,not a url"}, "entry 2 is not a valid"),
        ({"DATABASE_REPLICA_URLS": "mysql://u:p@h/db"}, "entry 1 must be a PostgreSQL URL"),
        ({"MEMORYWEB_REPLICA_STICKY_SECONDS": "soon"}, "STICKY_SECONDS must be an integer"),
        ({"MEMORYWEB_EMBEDDING_BACKEND": "word2vec"}, "must be minilm, openai or hashing"),
        (
            {
                "MEMORYWEB_EMBEDDING_BACKEND": "openai",
                "MEMORYWEB_OPENAI_BASE_URL": "http://x/v1",
                "MEMORYWEB_OPENAI_EMBEDDING_MODEL": "m",
                "MEMORYWEB_OPENAI_EMBEDDING_DIMENSIONS": "1536",
            },
            "makes 1536-dimensional vectors",
        ),
        ({"MEMORYWEB_PROFILE": "staging"}, "MEMORYWEB_PROFILE must be one of"),
        (
            {"MEMORYWEB_EMBEDDING_PRECISION": "float16"},
            "MEMORYWEB_EMBEDDING_PRECISION must be one of auto, float32, bfloat16",
        ),
    ],
)
def test_a_bad_setting_stops_startup_with_a_message_naming_it(env, message):
    assert message in settings_error(**env)
