"""Django's Redis cache, with one Redis client per connection pool instead of a new one for every call.

Django builds a `redis.Redis` object on each cache operation; building it costs more than the round trip to Redis
itself, and every API request makes several (its session, its throttle). Clients are safe to share between
threads, each command borrows a connection from the pool, so one per pool is enough.
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write: bool = False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # Two threads may both build one at first; either will do, and the pool outlives both.
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
