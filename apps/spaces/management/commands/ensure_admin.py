import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the administrator account if it does not exist. The password comes from "
        "MEMORYWEB_ADMIN_PASSWORD, or is generated and printed this once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = os.environ.get("MEMORYWEB_ADMIN_USER", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} exists; its password is unchanged.")
            return
        password = os.environ.get("MEMORYWEB_ADMIN_PASSWORD") or ""
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"\n  Created admin user {username!r} with password: {password}\n"
                    "  It is shown only now; change it with "
                    f"`python manage.py changepassword {username}`.\n"
                )
            )
        else:
            self.stdout.write(f"Created admin user {username!r} (password from the environment).")
