"""The page's form for a provision template: one field per input, the template's and those of
its provider the template uses, as FireEdge builds it (list -> select, number -> bounded field,
boolean -> checkbox). The form checks what a browser can; template_format checks it all again
when the provision is created (the CLI's and the API's values go only through that)."""

from django import forms

from provisions.template_inputs import NUMBER_TYPES

MAX_TEXT = 128


def _field(spec: dict, help_text: str = "") -> forms.Field:
    kind = spec.get("type", "text")
    label = spec.get("description") or spec["name"]
    common = {"label": label, "initial": spec.get("default"), "help_text": help_text}
    if kind == "list":
        choices = [(str(o), str(o)) for o in spec["options"]]
        return forms.ChoiceField(choices=choices, **common)
    if kind in NUMBER_TYPES:
        whole = not kind.endswith("-float") and all(
            isinstance(spec.get(k), int | None) for k in ("default", "min_value", "max_value")
        )
        field_class = forms.IntegerField if whole else forms.FloatField
        field = field_class(
            min_value=spec.get("min_value"), max_value=spec.get("max_value"), **common
        )
        if not whole:
            field.widget.attrs["step"] = "any"
        return field
    if kind == "boolean":
        return forms.BooleanField(required=False, **common)
    return forms.CharField(max_length=MAX_TEXT, required="default" not in spec, **common)


class TemplateInputsForm(forms.Form):
    """`inputs`: template_inputs.Inputs (the template's own and the provider's it uses)."""

    def __init__(self, *args, inputs, **kwargs):
        super().__init__(*args, **kwargs)
        self.specs = inputs.specs
        self.own_names = [spec["name"] for spec in inputs.own]
        self.provider_names = [spec["name"] for spec in inputs.provider]
        for spec in inputs.own:
            self.fields[f"input_{spec['name']}"] = _field(spec)
        for spec in inputs.provider:
            help_text = f"{spec['name']}: gives {inputs.uses[spec['name']]}"
            self.fields[f"input_{spec['name']}"] = _field(spec, help_text)

    def template_fields(self):
        return [self[f"input_{name}"] for name in self.own_names]

    def provider_fields(self):
        return [self[f"input_{name}"] for name in self.provider_names]

    def user_inputs(self) -> dict[str, str]:
        """The values as `--user-inputs` gives them (text; booleans as yes/no)."""
        values = {}
        for spec in self.specs:
            value = self.cleaned_data[f"input_{spec['name']}"]
            if isinstance(value, bool):
                value = "yes" if value else "no"
            values[spec["name"]] = "" if value is None else str(value)
        return values
