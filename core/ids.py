"""What counts as an object's ID, one rule for the server and the CLI (pure Python, no Django)."""

# The largest ID the databases store (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def is_whole_number(text, maximum: int = MAX_ID) -> bool:
    """Whether `text` is written as a whole number with no more digits than `maximum` has:
    ASCII digits only (str.isdigit() also accepts '²', which int() refuses), and a bounded
    length (int() refuses strings past 4300 digits)."""
    text = str(text)
    return text.isascii() and text.isdigit() and len(text) <= len(str(maximum))


def is_id(ref) -> bool:
    """Whether a reference to an object is its ID (else it is its name)."""
    return is_whole_number(ref)
