from django import forms

from providers.choices import DIGITALOCEAN_REGIONS

IMAGE_INPUT = "digitalocean_image"
SIZE_INPUT = "digitalocean_size"


def _list_field(label, help_text):
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"placeholder": "comma-separated"}),
    )


class ProviderForm(forms.Form):
    """A provider as a form; `to_data()` turns it into the document's mapping for services."""

    name = forms.CharField(max_length=128)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    region = forms.ChoiceField(choices=[(k, f"{k} - {v}") for k, v in DIGITALOCEAN_REGIONS.items()])
    token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="DigitalOcean API token. Write-only: it is stored encrypted and never shown.",
    )
    images = _list_field("Droplet images", "Image slugs offered for hosts, e.g. ubuntu-22-04-x64")
    sizes = _list_field("Droplet sizes", "Size slugs offered for hosts, e.g. s-1vcpu-2gb")

    def __init__(self, *args, provider=None, **kwargs):
        self.provider = provider
        if provider is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": provider.name,
                "description": provider.description,
                "region": provider.region,
                "images": ", ".join(map(str, provider.input_options(IMAGE_INPUT))),
                "sizes": ", ".join(map(str, provider.input_options(SIZE_INPUT))),
            }
        super().__init__(*args, **kwargs)
        if provider is not None:
            hint = provider.token_hint or "not set"
            self.fields["token"].help_text = f"Current: {hint}. Leave blank to keep it."
            self.fields["token"].widget.attrs["placeholder"] = hint

    @staticmethod
    def _split(value):
        return [item.strip() for item in (value or "").split(",") if item.strip()]

    def to_data(self) -> dict:
        cleaned = self.cleaned_data
        inputs = []
        if self.provider is not None:
            inputs = [
                i for i in self.provider.inputs if i.get("name") not in (IMAGE_INPUT, SIZE_INPUT)
            ]
        for name, values in ((IMAGE_INPUT, cleaned["images"]), (SIZE_INPUT, cleaned["sizes"])):
            options = self._split(values)
            if options:
                inputs.append({"name": name, "type": "list", "options": options})
        plain = self.provider.plain if self.provider is not None else {}
        return {
            "name": cleaned["name"],
            "description": cleaned["description"],
            "provider": "digitalocean",
            "plain": plain,
            "connection": {"region": cleaned["region"], "token": cleaned["token"]},
            "inputs": inputs,
        }


class ProviderYAMLForm(forms.Form):
    yaml = forms.CharField(
        label="Provider YAML",
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "class": "mono", "spellcheck": "false"}),
    )
    upload = forms.FileField(label="or upload provider.yaml", required=False)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("upload")
        if upload:
            if upload.size > 64 * 1024:
                raise forms.ValidationError("the uploaded file is larger than 64 KiB")
            try:
                cleaned["yaml"] = upload.read().decode()
            except UnicodeDecodeError:
                raise forms.ValidationError("the uploaded file is not UTF-8 text") from None
            cleaned["source"] = upload.name
        else:
            cleaned["source"] = "pasted YAML"
        if not cleaned.get("yaml", "").strip():
            raise forms.ValidationError("paste the provider YAML or upload a file")
        return cleaned
