"""Django's model backend, with the signed-in user and their permissions read in one plain statement."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from accounts.models import User
from accounts.user_cache import cache_user, cached_user
from config.prepared import PreparedStatement


def _permissions_sql(user_param: str = "%s") -> str:
    """The permissions a user holds directly or through their roles' groups, as "app_label.codename" rows.

    Written out once: building the same two-subquery ORM query on every API request cost more CPU than running
    it. Table names come from the models, so a renamed table cannot go stale here."""
    permission, content_type = Permission._meta.db_table, ContentType._meta.db_table
    own = User.user_permissions.through._meta.db_table
    of_groups, membership = Group.permissions.through._meta.db_table, User.groups.through._meta.db_table
    return (
        f"SELECT ct.app_label || '.' || p.codename FROM {permission} p "
        f"JOIN {content_type} ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN (SELECT permission_id FROM {own} WHERE user_id = {user_param}) "
        f"OR p.id IN (SELECT gp.permission_id FROM {of_groups} gp JOIN {membership} ug ON ug.group_id = gp.group_id "
        f"WHERE ug.user_id = {user_param})"
    )


def _user_statement() -> PreparedStatement:
    """The user's row and, in the same round trip, their permissions (PostgreSQL's ARRAY of a subquery)."""
    columns = ", ".join(f"u.{connection.ops.quote_name(field.column)}" for field in User._meta.concrete_fields)
    table, pk = User._meta.db_table, User._meta.pk.column
    return PreparedStatement(
        "auth_user_with_permissions",
        f"SELECT {columns}, ARRAY({_permissions_sql('u.' + pk)}) FROM {table} u WHERE u.{pk} = %(user)s",
        {"user": "bigint"},
    )


class PermissionsInOneQueryBackend(ModelBackend):
    """Every request fetches its signed-in user afresh and nearly every one checks a permission: on PostgreSQL
    the user and all their permissions (own and through their roles' groups) come back in one round trip, where
    Django's backend takes three queries, and are then kept in Redis until they change (accounts.user_cache)."""

    _user_statement: PreparedStatement | None = None
    _permissions_sql: str | None = None

    def get_user(self, user_id) -> User | None:
        if connection.vendor != "postgresql":
            return super().get_user(user_id)
        try:
            user_id = User._meta.pk.to_python(user_id)
        except Exception:
            return None
        attnames = [field.attname for field in User._meta.concrete_fields]
        version, kept = cached_user(user_id)
        if kept is not None and kept[0] == version:
            _version, values, permissions = kept
        else:
            if PermissionsInOneQueryBackend._user_statement is None:
                PermissionsInOneQueryBackend._user_statement = _user_statement()
            with connection.cursor() as cursor:
                self._user_statement.execute(cursor, {"user": user_id})
                row = cursor.fetchone()
            if row is None:
                return None
            values = tuple(row[:-1])
            # A superuser's permissions are all of them, read when first asked for.
            permissions = None if values[attnames.index("is_superuser")] else frozenset(row[-1])
            cache_user(user_id, version, values, permissions)
        # PostgreSQL's values need no converters for these fields (psycopg2 gives aware datetimes, booleans).
        user = User.from_db(connection.alias, attnames, values)
        if permissions is not None:
            user._perm_cache = set(permissions)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj: User, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                rows = Permission.objects.values_list("content_type__app_label", "codename").order_by()
                user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}
            else:
                if PermissionsInOneQueryBackend._permissions_sql is None:
                    PermissionsInOneQueryBackend._permissions_sql = _permissions_sql()
                with connection.cursor() as cursor:
                    cursor.execute(self._permissions_sql, [user_obj.pk, user_obj.pk])
                    user_obj._perm_cache = {name for (name,) in cursor.fetchall()}
        return user_obj._perm_cache


def keep_signed_in_user(sender, request, user, **kwargs) -> None:
    """At sign-in, so that already the first request finds the user kept (accounts.user_cache)."""
    if connection.vendor == "postgresql" and user.pk is not None:
        PermissionsInOneQueryBackend().get_user(user.pk)
