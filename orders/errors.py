from accounts.errors import ApplicationError


class OrderError(ApplicationError):
    """A sales order rule was broken."""
