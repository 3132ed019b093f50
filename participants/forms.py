from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from .keys import MAX_INPUT_BYTES
from .models import Organisation, Participant, Role
from .validators import LOGO_MAX_BYTES, logo_content_type, normalise_base_url

KEY_HELP = (
    "An X.509 certificate (PEM), a public key (PEM, BEGIN PUBLIC KEY) or a public JWK (JSON). "
    "Never paste a private key: it is refused."
)


class PublicKeyInputForm(forms.Form):
    """A public key, pasted or uploaded; `key_input()` gives whichever was provided."""

    public_key = forms.CharField(
        label="Public key (paste)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "spellcheck": "false", "class": "vLargeTextField"}),
        help_text=KEY_HELP,
    )
    public_key_file = forms.FileField(label="…or upload the key file", required=False)

    def clean(self):
        cleaned = super().clean()
        pasted, upload = cleaned.get("public_key", "").strip(), cleaned.get("public_key_file")
        if pasted and upload:
            raise ValidationError("Paste the key or upload a file, not both.")
        if not pasted and not upload:
            self.add_error("public_key", "Give the participant's public key: paste it or upload the file.")
        elif upload and upload.size > MAX_INPUT_BYTES:
            self.add_error("public_key_file", f"The file is too large for a key (at most {MAX_INPUT_BYTES} bytes).")
        return cleaned

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if not valid:
            self._ask_for_the_file_again()
        return valid

    def _ask_for_the_file_again(self) -> None:
        """A refused form comes back without the file that was attached: say so, by its name."""
        upload = self.files.get(self.add_prefix("public_key_file"))
        if upload and "public_key_file" not in self.errors:
            self.add_error(
                "public_key_file", f"Attach {upload.name} again: a browser does not keep a file across a refused form."
            )

    def key_input(self) -> str | bytes:
        upload = self.cleaned_data.get("public_key_file")
        if upload:
            upload.seek(0)
            return upload.read()
        return self.cleaned_data["public_key"]

    def add_service_errors(self, error: ValidationError, field_map: dict | None = None) -> None:
        """Show a service's ValidationError on the fields it names (or on the form)."""
        field_map = field_map or {}
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        self._ask_for_the_file_again()
        refused_private = any(e.code == "private_key_material" for e in error.error_dict.get("public_key", []))
        if refused_private:  # the page says nothing was stored: it must not show the private key back either
            self.data = self.data.copy()
            self.data[self.add_prefix("public_key")] = ""
        for name, messages in error.message_dict.items():
            target = field_map.get(name, name)
            self.add_error(target if target in self.fields else None, messages)


class OnboardingForm(PublicKeyInputForm):
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.all(),
        required=False,
        empty_label="— a new organisation —",
        help_text="Choose a registered organisation, or leave this and name a new one below.",
    )
    new_organisation_name = forms.CharField(label="New organisation name", max_length=200, required=False)
    role = forms.ChoiceField(choices=[("", "—"), *Role.choices], label="Participant role")
    base_url = forms.CharField(
        label="API base URL",
        max_length=500,
        widget=forms.URLInput(attrs={"class": "vURLField", "placeholder": "https://lender.example.in/ocen"}),
    )

    as_application = forms.BooleanField(
        label="Record as an application received",
        required=False,
        help_text="Status Applied: nothing is approved (and no token issued) until its review is started and decided.",
    )
    key_only = forms.BooleanField(
        label="Key only (no client secret)",
        required=False,
        help_text="Issue no client secret: the participant gets tokens with private_key_jwt, signed by its key.",
    )

    field_order = [
        "organisation",
        "new_organisation_name",
        "role",
        "base_url",
        "public_key",
        "public_key_file",
        "as_application",
        "key_only",
    ]
    SERVICE_FIELDS = {"org_name": "new_organisation_name", "org_id": "organisation"}

    def clean(self):
        cleaned = super().clean()
        org, name = cleaned.get("organisation"), cleaned.get("new_organisation_name", "").strip()
        if org and name:
            self.add_error("new_organisation_name", "Choose an organisation or name a new one, not both.")
        elif not org and not name:
            self.add_error("organisation", "Choose the participant's organisation, or name a new one.")
        elif name and (existing := Organisation.objects.named(name).first()):
            self.add_error(  # a "new" organisation must be new: attaching to an existing one is a choice made above
                "new_organisation_name",
                f"An organisation named “{existing.name}” already exists: choose it under Organisation, or give "
                "the new one a name of its own.",
            )
        return cleaned

    def clean_base_url(self):
        return normalise_base_url(self.cleaned_data["base_url"])


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, widget=forms.TextInput(attrs={"size": 80}), label="Reason (for the audit trail)"
    )

    confirm_name = forms.CharField(max_length=200, required=False, label="Type the organisation's name to confirm")

    def __init__(self, *args, reason_required=False, type_to_confirm=None, **kwargs):
        """reason_required None: the operation takes no reason (no field). type_to_confirm: a name the operator
        must type, exactly, before an irreversible operation."""
        super().__init__(*args, **kwargs)
        if reason_required is None:
            del self.fields["reason"]
        else:
            self.fields["reason"].required = reason_required
        self.type_to_confirm = type_to_confirm
        if type_to_confirm is None:
            del self.fields["confirm_name"]
        else:
            self.fields["confirm_name"].required = True
            self.fields["confirm_name"].help_text = f"“{type_to_confirm}”: this cannot be undone."

    def clean_confirm_name(self):
        typed = self.cleaned_data["confirm_name"].strip()
        if typed != self.type_to_confirm:
            raise forms.ValidationError(f"Type “{self.type_to_confirm}” exactly, to confirm.")
        return typed


class RevokeKeyForm(ReasonForm):
    """A key's revocation: the reason, and for the primary key (publicKey) the key made primary in its place."""

    successor = forms.ChoiceField(
        label="Primary key from now on",
        help_text="This key is the participant's primary key (publicKey): the key chosen here takes its place at "
        "once, in the same operation, so the participant is never left without one.",
    )

    def __init__(self, *args, successors=(), **kwargs):
        super().__init__(*args, reason_required=True, **kwargs)
        if successors:
            self.fields["successor"].choices = [("", "—"), *((k.kid, f"{k.kid} ({k.alg})") for k in successors)]
        else:
            del self.fields["successor"]


class ParticipantChangeForm(forms.ModelForm):
    base_url = forms.CharField(
        label="API base URL", max_length=500, widget=forms.URLInput(attrs={"class": "vURLField"})
    )

    class Meta:
        model = Participant
        fields = ["base_url"]

    def clean_base_url(self):
        return normalise_base_url(self.cleaned_data["base_url"])


class SignatureCheckForm(forms.Form):
    body = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80, "spellcheck": "false", "class": "vLargeTextField"}),
        help_text="The exact request or response body that was signed.",
    )
    signature = forms.CharField(
        widget=forms.TextInput(attrs={"size": 100}), help_text="The x-jws-signature (or Signature) header value."
    )


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, refusing a user name longer than any user can have before anything (the
    lockout's attempt log included) stores it: Django sets the field's max_length after creating it, so
    the stock form never checks it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].validators.append(MaxLengthValidator(self.fields["username"].max_length))


class OrganisationForm(forms.ModelForm):
    """An organisation's fields, and its logo (uploaded, checked by content: PNG or JPEG, at most LOGO_MAX_BYTES)."""

    website = forms.URLField(required=False, max_length=200, assume_scheme="https")
    logo_file = forms.FileField(
        label="Upload a logo", required=False, help_text=f"PNG or JPEG, at most {LOGO_MAX_BYTES // 1024} KB."
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    class Meta:
        model = Organisation
        fields = ["name", "description", "website", "email", "phone"]

    def clean_logo_file(self):
        upload = self.cleaned_data.get("logo_file")
        if upload:
            if upload.size > LOGO_MAX_BYTES:
                raise ValidationError(f"A logo may be at most {LOGO_MAX_BYTES // 1024} KB.")
            logo_content_type(upload.read())
            upload.seek(0)
        return upload


SWITCH_CHOICES = [
    ("later", "Later: publish it, make it primary when I promote it"),
    ("now", "Now: publicKey names it from now on"),
    ("at", "At a time: publicKey switches to it then"),
]


class SwitchTimeMixin(forms.Form):
    """When a key becomes the participant's primary key (the one publicKey names)."""

    switch = forms.ChoiceField(
        label="Primary key", choices=SWITCH_CHOICES, widget=forms.RadioSelect, initial="later", required=False
    )
    switch_at = forms.DateTimeField(
        label="Switch at",
        required=False,
        help_text="In the console's time zone (India Standard Time).",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("switch") == "at" and not cleaned.get("switch_at") and "switch_at" not in self.errors:
            self.add_error("switch_at", "Give the time of the switch.")
        return cleaned

    def switch_time(self):
        """None (not scheduled), now, or the time given."""
        choice = self.cleaned_data.get("switch")
        return timezone.now() if choice == "now" else self.cleaned_data.get("switch_at") if choice == "at" else None


class AddKeyForm(SwitchTimeMixin, PublicKeyInputForm):
    pass


class PromoteKeyForm(SwitchTimeMixin):
    switch = forms.ChoiceField(label="Primary key", choices=SWITCH_CHOICES[1:], widget=forms.RadioSelect, initial="now")
