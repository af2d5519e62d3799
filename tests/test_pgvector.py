import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from apps.core.pgvector import ensure_vector_extension


def test_it_reports_the_installed_pgvector(db):
    version = ensure_vector_extension(connection)
    assert tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)


def test_a_database_without_the_extension_gets_an_error_that_says_so(db):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        ensure_vector_extension(connection, extension="vector_not_installed_here")
    message = str(excinfo.value)
    assert "no `vector_not_installed_here` extension available" in message
    assert "unset DATABASE_URL" in message
