from django import forms

from providers.models import Provider


class StoreForm(forms.Form):
    name = forms.CharField(max_length=64)
    endpoint = forms.CharField(max_length=255, help_text="e.g. https://fra1.digitaloceanspaces.com")
    region = forms.CharField(max_length=32, help_text="e.g. fra1")
    bucket = forms.CharField(max_length=63)
    access_key = forms.CharField(max_length=128)
    secret_key = forms.CharField(widget=forms.PasswordInput, help_text="never shown again")
    provider = forms.ModelChoiceField(
        Provider.objects.none(),
        required=False,
        help_text="empty: your default store, for VMs on providers without a store of their own",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = Provider.objects.for_user(user, "change")
