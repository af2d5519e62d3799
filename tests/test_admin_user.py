from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command


def test_ensure_admin_generates_and_prints_a_password_once(db, monkeypatch):
    monkeypatch.delenv("MEMORYWEB_ADMIN_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert password not in again.getvalue()
    assert "unchanged" in again.getvalue()


def test_ensure_admin_takes_the_password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("MEMORYWEB_ADMIN_PASSWORD", "from-the-env-123")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "from-the-env-123" not in out.getvalue()
    assert get_user_model().objects.get(username="admin").check_password("from-the-env-123")
