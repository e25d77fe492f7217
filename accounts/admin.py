from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from accounts import services
from accounts.errors import ApplicationError
from accounts.models import ApiKey, AuditEvent, Team, User


class AuditedAdmin(admin.ModelAdmin):
    """Admin writes leave the same AuditEvent as the services do."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = {name: services.model_changes(obj, [name])[name] for name in form.changed_data if hasattr(obj, name)}
        verb = f"{obj._meta.model_name}.{'update' if change else 'create'}"
        services.audit_record(actor=request.user, verb=f"admin.{verb}", obj=obj, changes=changed)

    def delete_model(self, request, obj):
        services.audit_record(actor=request.user, verb=f"admin.{obj._meta.model_name}.delete", obj=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.audit_record(actor=request.user, verb=f"admin.{obj._meta.model_name}.delete", obj=obj)
        super().delete_queryset(request, queryset)


class UserPinForm(UserChangeForm):
    new_pin = forms.CharField(
        label=_("New PIN"),
        required=False,
        min_length=4,
        max_length=8,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("4 to 8 digits, for signing in on a tablet. Leave empty to keep the current PIN."),
    )

    class Meta(UserChangeForm.Meta):
        model = User

    def clean_new_pin(self):
        pin = self.cleaned_data.get("new_pin", "")
        if pin and not pin.isdigit():
            raise forms.ValidationError(_("A PIN is 4 to 8 digits."))
        return pin


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    form = UserPinForm
    list_display = [
        "username",
        "get_full_name",
        "employee_number",
        "team",
        "is_active",
        "is_staff",
        "pin_locked_until",
    ]
    list_filter = ["groups", "team", "is_active", "is_staff", "preferred_language"]
    search_fields = ["username", "first_name", "last_name", "employee_number", "phone", "email"]
    actions = ["issue_new_badges", "unlock_pins", "unlock_sign_in"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            _("Loopline"),
            {
                "fields": (
                    "employee_number",
                    "phone",
                    "team",
                    "preferred_language",
                    "dingtalk_user_id",
                    "wecom_user_id",
                    "badge_code",
                    "new_pin",
                    "pin_locked_until",
                )
            },
        ),
    )

    def save_model(self, request, obj, form, change):
        pin = form.cleaned_data.get("new_pin")
        if pin:
            obj.set_pin(pin)
            obj.failed_pin_attempts = 0
            obj.pin_locked_until = None
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Issue new badge codes (old badges stop working)"))
    def issue_new_badges(self, request, queryset):
        for user in queryset:
            services.user_new_badge(user=user, by=request.user)
        self.message_user(request, _("New badge codes issued."), messages.SUCCESS)

    @admin.action(description=_("Lift PIN lockouts"))
    def unlock_pins(self, request, queryset):
        for user in queryset:
            user.pin_locked_until = None
            user.failed_pin_attempts = 0
            user.save(update_fields=["pin_locked_until", "failed_pin_attempts"])
            services.audit_record(actor=request.user, verb="user.unlock_pin", obj=user)
        self.message_user(request, _("PIN lockouts lifted."), messages.SUCCESS)

    @admin.action(description=_("Lift sign-in lockouts (wrong passwords and PINs)"), permissions=["change"])
    def unlock_sign_in(self, request, queryset):
        for user in queryset:
            services.user_unlock_sign_in(user=user, by=request.user)
        self.message_user(request, _("Sign-in lockouts lifted."), messages.SUCCESS)


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["code", "name", "leader"]
    search_fields = ["code", "name", "leader__username", "leader__last_name"]
    autocomplete_fields = ["leader"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "verb", "content_type", "object_repr", "ip"]
    list_filter = ["verb", "content_type", "at"]
    search_fields = ["actor_label", "verb", "object_repr", "object_id", "ip"]
    date_hierarchy = "at"

    # The trail is append-only: nobody edits or deletes it, not even IT.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "role"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """IT creates keys for other systems (the key is shown once, on the page after saving) and revokes them."""

    list_display = ["name", "role", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    readonly_fields = [
        "name",
        "role",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ["name", "role"]

    def save_model(self, request, obj, form, change):
        try:
            key, raw_key = services.api_key_create(name=obj.name, role=obj.role, by=request.user)
        except ApplicationError as exc:
            # Checked by the form already (unique name, role choices); a race is still reported, not a 500.
            raise forms.ValidationError(exc.message) from exc
        obj.__dict__.update({k: v for k, v in key.__dict__.items() if not k.startswith("_")})
        request.loopline_new_api_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": obj,
            "raw_key": request.loopline_new_api_key,
            "title": _("API key created"),
        }
        # Rendered in this response only: the key never goes into a message cookie, the session or a log.
        return TemplateResponse(request, "admin/accounts/apikey/created.html", context)

    def has_change_permission(self, request, obj=None):
        # Keys are not edited: revoke one and create another; the change page only shows it.
        return False

    def has_delete_permission(self, request, obj=None):
        # Kept after revocation: the audit trail refers to it.
        return False

    @admin.action(description=_("Revoke the selected API keys"), permissions=["revoke"])
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key=key, by=request.user)
        self.message_user(request, _("API keys revoked; requests with them are refused from now on."), messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.revoke_apikey")


# Other apps' admins (roles, sign-in lockouts, schedules): the same audit trail for what IT changes there, e.g.
# lifting a lockout or changing when a pull runs. Their admin modules are imported before this one.
def _audited(model) -> None:
    other = type(admin.site._registry[model])
    admin.site.unregister(model)
    admin.site.register(model, type(f"Audited{other.__name__}", (AuditedAdmin, other), {"__module__": __name__}))


for _model in [Group, AccessAttempt, AccessFailureLog, AccessLog, PeriodicTask, IntervalSchedule, CrontabSchedule,
               SolarSchedule, ClockedSchedule]:  # fmt: skip
    if admin.site.is_registered(_model):
        _audited(_model)
