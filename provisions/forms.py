from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from provisions.choices import PlacementPolicy
from provisions.services.create import (
    DEFAULT_IMAGE,
    DEFAULT_SIZE,
    IMAGE_INPUTS,
    SIZE_INPUTS,
    choose_size_and_image,
)


def _options(provider, names):
    for name in names:
        options = provider.input_options(name)
        if options:
            return [(str(o), str(o)) for o in options], provider.input_default(name)
    return None, None


class ProvisionForm(forms.Form):
    name = forms.CharField(
        max_length=40,
        help_text="Letters, digits and dashes; it names the "
        "cluster, hosts, networks and datastores.",
    )
    hosts = forms.IntegerField(min_value=1, initial=1)
    # Without a list in the provider's inputs, the same defaults the API applies.
    size = forms.CharField(max_length=64, initial=DEFAULT_SIZE, help_text="a droplet size slug")
    image = forms.CharField(max_length=64, initial=DEFAULT_IMAGE, help_text="a droplet image slug")
    placement_policy = forms.ChoiceField(
        choices=PlacementPolicy.choices,
        initial=PlacementPolicy.STRIPING,
        required=False,  # not given: striping, as the API
        help_text="how VMs are placed on the hosts with room; changeable later",
    )

    def __init__(self, *args, provider, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider = provider
        self.fields["hosts"].max_value = settings.PROVISION_MAX_HOSTS
        self.fields["hosts"].widget.attrs["max"] = settings.PROVISION_MAX_HOSTS
        for field, names in (("size", SIZE_INPUTS), ("image", IMAGE_INPUTS)):
            choices, default = _options(provider, names)
            if choices:
                self.fields[field] = forms.ChoiceField(choices=choices, initial=default)

    def clean(self):
        # Checked before the review step, so the review never shows a size that cannot be had.
        data = super().clean()
        if "size" in data and "image" in data:
            try:
                data["size"], data["image"] = choose_size_and_image(
                    self.provider, data["size"], data["image"]
                )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    for message in messages:
                        self.add_error(field, message)
        return data
