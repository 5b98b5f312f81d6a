"""The page's form for a provision template: one field per input of the template, as
FireEdge builds it (list -> select, number -> bounded field, boolean -> checkbox)."""

from django import forms

MAX_TEXT = 128


def _field(spec: dict) -> forms.Field:
    kind = spec.get("type", "text")
    label = spec.get("description") or spec["name"]
    common = {"label": label, "initial": spec.get("default")}
    if kind == "list":
        choices = [(str(o), str(o)) for o in spec["options"]]
        return forms.ChoiceField(choices=choices, **common)
    if kind == "number":
        whole = all(
            isinstance(spec.get(k), int | None) for k in ("default", "min_value", "max_value")
        )
        field_class = forms.IntegerField if whole else forms.FloatField
        return field_class(
            min_value=spec.get("min_value"), max_value=spec.get("max_value"), **common
        )
    if kind == "boolean":
        return forms.BooleanField(required=False, **common)
    return forms.CharField(max_length=MAX_TEXT, required="default" not in spec, **common)


class TemplateInputsForm(forms.Form):
    def __init__(self, *args, specs: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.specs = specs
        for spec in specs:
            self.fields[f"input_{spec['name']}"] = _field(spec)

    def user_inputs(self) -> dict[str, str]:
        """The values as `--user-inputs` gives them (text; booleans as yes/no)."""
        values = {}
        for spec in self.specs:
            value = self.cleaned_data[f"input_{spec['name']}"]
            if isinstance(value, bool):
                value = "yes" if value else "no"
            values[spec["name"]] = "" if value is None else str(value)
        return values
