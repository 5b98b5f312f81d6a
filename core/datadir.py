"""The portal's data directory (./var or PORTAL_DATA_DIR): private to the user it runs as.

It holds the SQLite database, the generated SECRET_KEY and Fernet key, and static files: the
database has every provider's encrypted token and the Fernet key decrypts them, so no other
local user may read any of it. The directory is kept 0700 (which protects everything inside,
whatever a library's umask made of a file) and the database file is created 0600 before SQLite
opens it (SQLite gives its -wal and -shm files the database file's mode).
"""

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if missing; tighten it to 0600 if it is ours."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_uid == os.getuid():
            path.chmod(0o600)
    return path
