#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Without DATABASE_URL it starts (or joins) the embedded PostgreSQL first, so every command works
on its own on a local install; the server stops when the last process using it exits.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.embedded_db import DataDirectoryError, local_environment_prepare

    try:
        local_environment_prepare(os.environ)
    except DataDirectoryError as exc:
        sys.exit(str(exc))
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
