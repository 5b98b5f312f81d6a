from django import forms
from django.core.exceptions import ValidationError

from core.groups import Group, Role


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
    group = forms.ModelChoiceField(
        queryset=Group.objects.none(),
        required=False,
        empty_label="all my groups",
        help_text="Limit the token to one group's objects.",
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.MEMBER,
        required=False,
        help_text="With a group: the token's role there, at most yours.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            groups = Group.objects.all()
            if not user.is_staff:
                groups = groups.filter(memberships__user=user)
            self.fields["group"].queryset = groups.order_by("name")


class SSHKeyForm(forms.Form):
    ssh_public_key = forms.CharField(
        label="SSH public key",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "spellcheck": "false"}),
        help_text="The contents of your ~/.ssh/id_ed25519.pub (or another .pub file). "
        "Leave empty to remove it.",
    )


def errors_text(form: forms.Form) -> str:
    """A bound form's errors as one line, `field: what was wrong; ...`, for a page that answers
    with a message instead of showing the form again."""
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
