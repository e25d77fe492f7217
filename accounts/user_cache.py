"""The signed-in user and their permissions, kept in Redis between requests.

Every request reads its user afresh, and nearly every one checks a permission; the row and the permission set
change rarely. They are kept under the user's id together with a version number, and both come back in one
round trip. Anything that changes what a user may do (the row itself: password, active flag, superuser; their
roles; their own permissions; a role's permissions; a deleted role or permission) raises the version, at once
and again when the change commits, so the next request reads the database. A copy read before a change but
stored after it carries the old version and is never used. `user_auth_changed` is for writes that send no
signals (QuerySet.update on users).

Only with Redis: an invalidation must reach every process, which the embedded defaults' caches cannot promise.
After restoring the database from a backup, clear Redis as well (it holds the sessions too).
"""

from collections.abc import Iterable
from typing import Any

from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from config.cache import RedisCache

USER_SECONDS = 300  # also bounds how long a change made behind the signals' back (raw SQL) can go unseen
_ROW = "auth:user:%s"
_VERSION = "auth:version:%s"


def _redis() -> RedisCache | None:
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def cached_user(user_id: int) -> tuple[int, Any]:
    """(current version, (version, field values, permissions) or None) for the user, in one round trip;
    version 0 when there is no cache to ask."""
    backend = _redis()
    if backend is None:
        return 0, None
    found = backend.get_many([_ROW % user_id, _VERSION % user_id])
    return int(found.get(_VERSION % user_id, 0)), found.get(_ROW % user_id)


def cache_user(user_id: int, version: int, values: tuple, permissions: frozenset[str] | None) -> None:
    """Keep what the database said, marked with the version read before reading it."""
    backend = _redis()
    if backend is not None:
        backend.set(_ROW % user_id, (version, values, permissions), USER_SECONDS)


def _bump(user_ids: set[int]) -> None:
    backend = _redis()
    if backend is None or not user_ids:
        return
    client = backend._cache.get_client(write=True)
    with client.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.incr(backend.make_and_validate_key(_VERSION % user_id))
            pipe.delete(backend.make_and_validate_key(_ROW % user_id))
        pipe.execute()


def user_auth_changed(user_ids: Iterable[int]) -> None:
    """What these users may do has changed: their next request reads the database."""
    ids = {int(pk) for pk in user_ids if pk is not None}
    if not ids:
        return
    _bump(ids)
    # Again once the change is visible to others: a request that read the old rows meanwhile stored them
    # under the version raised above.
    transaction.on_commit(lambda: _bump(ids))


def _members_of(group_ids: Iterable[int]) -> set[int]:
    from accounts.models import User

    return set(User.groups.through.objects.filter(group_id__in=list(group_ids)).values_list("user_id", flat=True))


def _holders_of(permission_ids: Iterable[int]) -> set[int]:
    from django.contrib.auth.models import Group

    from accounts.models import User

    ids = list(permission_ids)
    direct = User.user_permissions.through.objects.filter(permission_id__in=ids).values_list("user_id", flat=True)
    groups = Group.permissions.through.objects.filter(permission_id__in=ids).values_list("group_id", flat=True)
    return set(direct) | _members_of(groups)


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # each sign-in writes it; nothing a request is allowed to do depends on it
    user_auth_changed([instance.pk])


def _user_links_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A user's roles or own permissions (either side of the relation)."""
    from accounts.models import User

    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        user_auth_changed([instance.pk])
    elif action == "pre_clear":  # a role or permission taken from everyone who has it
        holders = sender.objects.filter(**{_other_side(sender, User): instance.pk}).values_list("user_id", flat=True)
        user_auth_changed(holders)
    else:
        user_auth_changed(pk_set or ())


def _other_side(through, user_model) -> str:
    return next(f.attname for f in through._meta.concrete_fields if f.is_relation and f.related_model is not user_model)


def _role_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:  # a role's permissions
        user_auth_changed(_members_of([instance.pk]))
    elif action == "pre_clear":  # a permission taken from every role
        user_auth_changed(_holders_of([instance.pk]))
    else:  # a permission given to or taken from some roles
        user_auth_changed(_members_of(pk_set or ()))


def _group_deleted(sender, instance, **kwargs) -> None:
    user_auth_changed(_members_of([instance.pk]))


def _permission_deleted(sender, instance, **kwargs) -> None:
    user_auth_changed(_holders_of([instance.pk]))


def connect() -> None:
    from django.contrib.auth.models import Group, Permission

    from accounts.models import User

    post_save.connect(_user_saved, sender=User, dispatch_uid="user_cache_user_saved")
    post_delete.connect(_user_saved, sender=User, dispatch_uid="user_cache_user_deleted")
    m2m_changed.connect(_user_links_changed, sender=User.groups.through, dispatch_uid="user_cache_roles")
    m2m_changed.connect(_user_links_changed, sender=User.user_permissions.through, dispatch_uid="user_cache_perms")
    m2m_changed.connect(
        _role_permissions_changed, sender=Group.permissions.through, dispatch_uid="user_cache_role_perms"
    )
    pre_delete.connect(_group_deleted, sender=Group, dispatch_uid="user_cache_group_deleted")
    pre_delete.connect(_permission_deleted, sender=Permission, dispatch_uid="user_cache_permission_deleted")
