"""Page forms of the VM app. Rules live in services; a form only reads the fields."""

from django import forms

from vms.models import VMTemplate


class TemplateForm(forms.ModelForm):
    """A template's sizing, limits and isolation. LXC_UNPRIVILEGED = no is refused by the
    services for anyone but an operator (the page shows why, with a 403)."""

    lxc_unprivileged = forms.TypedChoiceField(
        label="LXC_UNPRIVILEGED",
        choices=[("yes", "yes (user-namespace id map)"), ("no", "no (privileged: operators only)")],
        coerce=lambda value: value == "yes",
        empty_value=True,
    )

    class Meta:
        model = VMTemplate
        fields = [
            "cpu",
            "memory_mb",
            "disk_mb",
            "cpu_quota",
            "pids_max",
            "swap_mb",
            "lxc_unprivileged",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["lxc_unprivileged"] = "yes" if self.instance.lxc_unprivileged else "no"
        if user is None or not user.is_staff:
            self.fields["lxc_unprivileged"].help_text = "only an operator may set no"

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class ResizeForm(forms.Form):
    """A VM's CPU, memory and CPU quota, shown with its current values; an empty quota means
    none. Bounds and every other rule are the services' (vms/resize.py)."""

    cpu = forms.DecimalField(label="CPU", max_digits=5, decimal_places=2)
    memory_mb = forms.IntegerField(label="Memory (MiB)")
    cpu_quota = forms.DecimalField(
        label="CPU quota", max_digits=5, decimal_places=2, required=False, help_text="empty: none"
    )

    @classmethod
    def of(cls, vm, data=None) -> "ResizeForm":
        initial = {"cpu": vm.cpu, "memory_mb": vm.memory_mb, "cpu_quota": vm.cpu_quota}
        return cls(data, initial=initial, prefix="resize")
