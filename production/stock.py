"""Stock scoped to warehouses: who keeps which warehouse (django-guardian), the stock a user may see or change,
and the keepers' writes (a count, an adjustment), each audited.

Holders of production.view_stocklevel / change_stocklevel (production manager, IT, …) see or change every
warehouse's stock. A warehouse keeper holds neither: IT grants production.keep_warehouse on each warehouse they
keep, and they see and change the stock of those only; any other stock level is as absent as one that does not
exist (404).
"""

from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, get_objects_for_user, get_users_with_perms, remove_perm

from accounts.models import User
from accounts.roles import Role
from accounts.services import audit_record
from production.errors import ProductionError
from production.models import StockLevel, Warehouse

KEEP = "production.keep_warehouse"


class NotKept(ProductionError):
    code = "not_found"
    status = 404


def kept_warehouses(user: User) -> QuerySet[Warehouse]:
    """The warehouses granted to `user` one by one (a role-wide grant does not count: it would mean all)."""
    if not user.is_authenticated or not user.is_active:
        return Warehouse.objects.none()
    return get_objects_for_user(user, KEEP, klass=Warehouse, accept_global_perms=False, with_superuser=False)


def stock_levels_for(user: User, action: str = "view") -> QuerySet[StockLevel]:
    """The stock levels `user` may `action` (view or change): every one with the model permission, else those
    of the warehouses they keep."""
    levels = StockLevel.objects.select_related("warehouse", "item")
    if not user.is_authenticated or not user.is_active:
        return levels.none()
    if user.has_perm(f"production.{action}_stocklevel"):
        return levels
    return levels.filter(Q(warehouse__in=kept_warehouses(user)) | Q(pk__in=_granted_levels(user, action)))


def _granted_levels(user: User, action: str) -> QuerySet[StockLevel]:
    # Single stock levels may also be granted one by one (django-guardian), e.g. to a planner for one item.
    return get_objects_for_user(
        user, f"production.{action}_stocklevel", klass=StockLevel, accept_global_perms=False, with_superuser=False
    ).values("pk")


def may_use_stock(user: User, action: str = "view") -> bool:
    """Whether the stock pages and endpoints open for `user` at all (objects are then restricted)."""
    if not user.is_authenticated:
        return False
    return (
        user.has_perm(f"production.{action}_stocklevel")
        or kept_warehouses(user).exists()
        or _granted_levels(user, action).exists()
    )


def keepers_of(warehouse: Warehouse) -> list[User]:
    """The users granted this warehouse one by one."""
    return list(get_users_with_perms(warehouse, only_with_perms_in=["keep_warehouse"], with_group_users=False))


def keeper_candidates() -> QuerySet[User]:
    """Active members of the warehouse-keeper role, whom a warehouse may be given to."""
    return User.objects.filter(is_active=True, groups__in=Group.objects.filter(name=Role.WAREHOUSE_KEEPER.value))


@transaction.atomic
def warehouse_set_keepers(*, warehouse: Warehouse, keepers: Iterable[User], by: User | None) -> list[User]:
    """Make exactly `keepers` the keepers of `warehouse`; audited with who was added and removed."""
    wanted = {user.pk: user for user in keepers}
    current = {user.pk: user for user in keepers_of(warehouse)}
    for pk in wanted.keys() - current.keys():
        assign_perm(KEEP, wanted[pk], warehouse)
    for pk in current.keys() - wanted.keys():
        remove_perm(KEEP, current[pk], warehouse)
    if wanted.keys() != current.keys():
        names = [sorted(user.username for user in side.values()) for side in (current, wanted)]
        audit_record(actor=by, verb="warehouse.keepers_set", obj=warehouse, changes={"keepers": names})
    return list(wanted.values())


def _locked(level: StockLevel, user: User) -> StockLevel:
    # Re-checked under the lock: the keeper may have lost the warehouse since the page was loaded.
    try:
        return stock_levels_for(user, "change").select_for_update(of=("self",)).get(pk=level.pk)
    except StockLevel.DoesNotExist as exc:
        raise NotKept(_("This stock is not in a warehouse you keep.")) from exc


@transaction.atomic
def stock_count(*, level: StockLevel, counted: Decimal, by: User, note: str = "") -> StockLevel:
    """Record a stock count: the quantity on hand becomes what was counted; the difference is audited."""
    if counted < 0:
        raise ProductionError(_("Stock on hand cannot be negative."), code="stock_negative")
    level = _locked(level, by)
    before = level.qty_on_hand
    level.qty_on_hand = counted
    level.save(update_fields=["qty_on_hand", "updated_at"])
    audit_record(
        actor=by,
        verb="stock_level.count",
        obj=level,
        changes={"qty_on_hand": [str(before), str(counted)], "note": note},
    )
    return level


@transaction.atomic
def stock_adjust(*, level: StockLevel, delta: Decimal, reason: str, by: User) -> StockLevel:
    """Add `delta` (negative to take away) to the quantity on hand, with a reason; never below zero; audited."""
    if len(reason.strip()) < 4:
        raise ProductionError(_("Say why the stock changes (at least 4 characters)."), code="reason_required")
    if delta == 0:
        raise ProductionError(_("The change must not be zero."), code="invalid")
    level = _locked(level, by)
    before = level.qty_on_hand
    if before + delta < 0:
        raise ProductionError(
            _("Only %(qty)s are on hand; taking %(delta)s away would make it negative.")
            % {"qty": f"{before.normalize():f}", "delta": f"{(-delta).normalize():f}"},
            code="stock_negative",
        )
    level.qty_on_hand = before + delta
    level.save(update_fields=["qty_on_hand", "updated_at"])
    audit_record(
        actor=by,
        verb="stock_level.adjust",
        obj=level,
        changes={"qty_on_hand": [str(before), str(level.qty_on_hand)], "reason": reason.strip()},
    )
    return level
