"""How tests authenticate: the admin key setting (`IMON_ADMIN_KEY`), set in conftest."""

from __future__ import annotations

import os

#: The default tenant's admin key in every test process (set before any Settings is built).
ADMIN_KEY = os.environ.setdefault("IMON_ADMIN_KEY", "test-admin-key-4f1c9a7e2b6d8035")
#: Headers that authenticate a test client as the default tenant's admin.
AUTH_HEADERS = {"X-API-Key": ADMIN_KEY}
