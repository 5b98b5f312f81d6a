import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first operator account if there is none, and say how to log in."

    def handle(self, *args, **options):
        User = get_user_model()
        operators = list(
            User.objects.filter(is_staff=True, is_active=True).values_list("username", flat=True)[
                :5
            ]
        )
        url = f"http://{os.environ.get('PORTAL_BIND', '127.0.0.1:8000')}/"
        if operators:
            self.stdout.write(
                f"Operator account(s): {', '.join(operators)}. Log in at {url} "
                f"(forgot the password? `.venv/bin/python manage.py changepassword {operators[0]}`)"
            )
            return
        username = os.environ.get("PORTAL_ADMIN_USER", "admin")
        password = os.environ.get("PORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created operator account. Log in at {url} as {username} / {password}\n"
                "(the password is shown only now; change it with `manage.py changepassword`)"
            )
        )
