"""A pytest plugin (loaded with `-p` from pyproject's addopts, before pytest-django reads the
settings): prepares the local environment, starting or joining the embedded PostgreSQL, because
importing the settings no longer does."""

from __future__ import annotations

import os

from config.embedded_db import local_environment_prepare

local_environment_prepare(os.environ)
