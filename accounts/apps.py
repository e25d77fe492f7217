from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and audit")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import user_cache
        from accounts.backends import keep_signed_in_user

        user_cache.connect()
        user_logged_in.connect(keep_signed_in_user, dispatch_uid="keep_signed_in_user")
