"""The product registry: products, product networks and their memberships (through the services)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from .. import services
from ..models import (
    NetworkMembership,
    Participant,
    Product,
    ProductNetwork,
    ProductStatus,
    Role,
)
from .common import NoRelatedButtons, RowCount, apply_each, console_time


def refuse_overlong_names(form):
    """A name longer than its field is refused with a message, not cut by the browser (the maxlength attribute
    truncates a paste silently)."""
    if "name" in form.fields:
        form.fields["name"].widget.attrs.pop("maxlength", None)


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["lender", *services.PRODUCT_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_overlong_names(self)
        if "lender" in self.fields:
            self.fields["lender"].queryset = (
                Participant.objects.holding_place().filter(role=Role.LENDER).select_related("organisation")
            )

    def validate_unique(self):
        """Every constraint, including those whose condition reads the status, a field the form does not
        edit (Django's own check skips them): one name per lender, said on the form, not as an error page."""
        super().validate_unique()
        try:
            self.instance.validate_constraints()
        except ValidationError as exc:
            self._update_errors(exc)

    def clean_lender(self):
        lender = self.cleaned_data.get("lender")
        problem = services.product_owner_problem(lender)
        if problem:
            raise ValidationError(problem)
        return lender


@admin.register(Product)
class ProductAdmin(NoRelatedButtons, ModelAdmin):
    form = ProductForm
    list_display = ("name", "lender", "status", "is_private", "network_count", "updated_at")
    list_filter = ("status", "is_private")
    list_select_related = ("lender__organisation",)
    search_fields = ("name", "lender__organisation__name", "=id")
    show_full_result_count = False
    readonly_fields = ("id", "status", "withdrawn_at", "created_at", "updated_at")
    actions = ["withdraw"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_networks=RowCount(ProductNetwork.objects.filter(product=OuterRef("pk"))))
        )

    @admin.display(description="networks", ordering="_networks")
    def network_count(self, product):
        return product._networks

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "lender") if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        actor = services.Actor.from_request(request)
        fields = {name: form.cleaned_data[name] for name in services.PRODUCT_FIELDS if name in form.cleaned_data}
        if change:
            services.update_product(product=obj, actor=actor, **fields)
        else:
            created = services.create_product(lender=form.cleaned_data["lender"], actor=actor, **fields)
            obj.pk, obj._state.adding = created.pk, False

    @admin.action(
        description="Withdraw selected products (their networks stop listing participants)", permissions=["change"]
    )
    def withdraw(self, request, queryset):
        actor = services.Actor.from_request(request)
        done = apply_each(self, request, queryset, lambda p: services.withdraw_product(product=p, actor=actor))
        if done:
            self.message_user(request, f"Withdrew {len(done)} product(s).", messages.SUCCESS)


class ShownAs(forms.Widget):
    """A value shown as text, not offered for editing (its field is disabled, so what is posted is ignored)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, name, value, attrs=None, renderer=None):
        return format_html('<span class="shown-as">{}</span>', self.text)


class MembershipForm(forms.ModelForm):
    """A new row picks a participant (it joins in its own role); an existing row is shown, and ended with Delete."""

    class Meta:
        model = NetworkMembership
        fields = ["participant"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["participant"]
        if self.instance.pk:
            field.disabled, field.widget = True, ShownAs(str(self.instance.participant))
        else:
            field.queryset = Participant.objects.active().select_related("organisation")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and cleaned.get("participant"):
            network = getattr(self.instance, "network", None)
            problem = services.membership_problem(network if network and network.pk else None, cleaned["participant"])
            if problem:
                self.add_error("participant", problem)
        return cleaned


class MembershipInline(NoRelatedButtons, TabularInline):
    """Current members. Add a row to add a participant; its bin icon ends a membership (kept as history)."""

    model = NetworkMembership
    form = MembershipForm
    extra = 1
    fields = ("participant", "role_in_network", "added_by", "added")
    readonly_fields = ("role_in_network", "added_by", "added")
    verbose_name = "member"
    verbose_name_plural = "members"

    def get_queryset(self, request):
        return super().get_queryset(request).current().select_related("participant__organisation")

    @admin.display(description="role in the network")
    def role_in_network(self, membership):
        return membership.get_role_display() if membership.pk else "its own role"

    @admin.display(description="added at")
    def added(self, membership):
        return console_time(membership.added_at) if membership.pk else ""


class NetworkForm(forms.ModelForm):
    class Meta:
        model = ProductNetwork
        fields = ["name", "description", "product", "created_by"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_overlong_names(self)
        if "product" in self.fields:
            product = self.fields["product"]
            product.queryset = Product.objects.filter(status=ProductStatus.ACTIVE).select_related(
                "lender__organisation"
            )
            product.label_from_instance = lambda p: f"{p.name} — {p.lender.organisation.name}"
        if "created_by" in self.fields:
            self.fields["created_by"].queryset = (
                Participant.objects.holding_place().filter(role=Role.LOAN_AGENT).select_related("organisation")
            )

    def clean_created_by(self):
        creator = self.cleaned_data.get("created_by")
        problem = services.network_creator_problem(creator)
        if problem:
            raise ValidationError(problem)
        return creator


@admin.register(ProductNetwork)
class ProductNetworkAdmin(NoRelatedButtons, ModelAdmin):
    form = NetworkForm
    list_display = ("name", "product", "created_by", "member_count", "updated_at")
    list_select_related = ("product", "created_by__organisation")
    search_fields = ("name", "product__name", "created_by__organisation__name", "=id")
    show_full_result_count = False
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        current = NetworkMembership.objects.filter(network=OuterRef("pk"), ended_at__isnull=True)
        return super().get_queryset(request).annotate(_members=RowCount(current))

    @admin.display(description="current members", ordering="_members")
    def member_count(self, network):
        return network._members

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "product", "created_by") if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        actor = services.Actor.from_request(request)
        if change:
            services.update_network(
                network=obj, actor=actor, name=form.cleaned_data["name"], description=form.cleaned_data["description"]
            )
        else:
            created = services.create_network(
                product=form.cleaned_data["product"],
                loan_agent=form.cleaned_data["created_by"],
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=actor,
            )
            obj.pk, obj._state.adding = created.pk, False

    def save_formset(self, request, form, formset, change):
        """Memberships change only through the services: add for new rows, end for deleted ones."""
        actor = services.Actor.from_request(request)
        network = ProductNetwork.objects.select_related("product").get(pk=form.instance.pk)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for member_form in formset.forms:
            if member_form in formset.deleted_forms:
                if member_form.instance.pk:
                    services.remove_network_member(
                        membership=member_form.instance, actor=actor, reason="removed in the admin"
                    )
                    formset.deleted_objects.append(member_form.instance)
            elif member_form.instance.pk is None and member_form.cleaned_data.get("participant"):
                self._add_member(request, network, member_form.cleaned_data["participant"], actor, formset)

    def _add_member(self, request, network, participant, actor, formset):
        founder = participant.pk in (network.created_by_id, network.product.lender_id)
        if founder and network.memberships.current().filter(participant=participant).exists():
            self.message_user(
                request,
                f"{participant} is a member already: a network's loan agent and its product's lender join it "
                "automatically when it is created.",
                messages.INFO,
            )
            return
        try:
            membership = services.add_network_member(network=network, participant=participant, actor=actor)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.WARNING)
        else:
            formset.new_objects.append(membership)
