"""The one reading of a yes/no value (pure Python, no Django): OpenNebula's yes/no, the
environment's true/false, 1/0 and on/off, and booleans as they are. Callers turn the
ValueError into their own error (a 400 naming the field, a template error, a settings error)."""

YES = ("yes", "true", "1", "on")
NO = ("no", "false", "0", "off")


def parse_yes_no(value) -> bool:
    """`value` as a boolean; ValueError when it is none of the words above."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(f"{value!r} is not yes or no")
