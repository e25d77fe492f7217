from django.utils.translation import gettext_lazy as _

from accounts.errors import ApplicationError


class ProductionError(ApplicationError):
    """A production rule was broken."""


class BomCycleError(ProductionError):
    code = "bom_cycle"
    default_message = _("This BOM line would make an item a component of itself.")
