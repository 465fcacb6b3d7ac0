"""Password files (the broker's account, the status page's): one reading for every user of
them, done when the config loads, so a file the station could not use is refused there,
naming the field, and never found out by the thread that connects or serves.

The password is the file's first line, spaces around it dropped (an editor's trailing
newline or CRLF is no part of it). A file that is not UTF-8, or whose first line is blank,
is refused: an empty password would let anyone in who sends none.
"""

from pathlib import Path

from flashjig.errors import PasswordError


def read_password(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PasswordError(f"cannot read {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PasswordError(
            f"{path} is not UTF-8 text (byte {e.start} is {raw[e.start]:#04x}): save the "
            "password as UTF-8"
        ) from None
    lines = text.splitlines()
    password = lines[0].strip() if lines else ""
    if not password:
        raise PasswordError(f"{path}: the first line is blank: the password goes there")
    return password
