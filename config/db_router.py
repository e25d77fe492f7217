"""Send reads marked for the replica there when DATABASE_REPLICA_URL is set; every write goes to default."""

from django.conf import settings

REPLICA = "replica"


def read_database() -> str:
    """The alias dashboard selectors read from: the replica when configured, else default."""
    return REPLICA if REPLICA in settings.DATABASES else "default"


class ReplicaRouter:
    """Both aliases hold the same data, so relations between them are allowed and only default migrates."""

    def db_for_read(self, model, **hints):
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
