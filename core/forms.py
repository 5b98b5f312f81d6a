from django import forms
from django.core.exceptions import ValidationError


def add_validation_error(form: forms.Form, exc: ValidationError) -> None:
    """Show a service-layer ValidationError on a form: on its field when the form has one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'laptop CLI'.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Leave blank for a token that does not expire.",
    )


class SSHKeyForm(forms.Form):
    ssh_public_key = forms.CharField(
        label="SSH public key",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "spellcheck": "false"}),
        help_text="The contents of your ~/.ssh/id_ed25519.pub (or another .pub file). "
        "Leave empty to remove it.",
    )
