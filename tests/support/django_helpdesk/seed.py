"""Create the database: ``python -m tests.support.django_helpdesk.seed USER PASSWORD QUEUE_SLUG``.

Runs the migrations, then adds a staff user (also a superuser, for /admin/)
with a REST framework API token, and a queue that accepts public
submissions; prints the queue id and the token.
"""

from __future__ import annotations

import os
import sys

import django


def main(username: str, password: str, queue_slug: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.django_helpdesk.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from helpdesk.models import Queue
    from rest_framework.authtoken.models import Token

    call_command("migrate", interactive=False, verbosity=0)
    user = get_user_model().objects.create_superuser(username, f"{username}@example.com", password)
    token = Token.objects.create(user=user)  # a random key
    queue = Queue.objects.create(
        title="Support", slug=queue_slug, allow_public_submission=True, email_address="support@example.com"
    )
    print(queue.id, token.key)


if __name__ == "__main__":
    main(*sys.argv[1:4])
