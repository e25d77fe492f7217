"""The Redis cache every request uses (sessions, API throttles): values round-trip, clients are reused."""

import threading

import pytest
from django.conf import settings
from django.core.cache import cache


@pytest.fixture
def redis_cache():
    if not settings.REDIS_URL:
        pytest.skip("the embedded defaults use a file cache; CI runs this with Redis")
    return cache


def test_values_round_trip_and_one_client_serves_every_call(redis_cache):
    redis_cache.set("cache-test-key", {"good_qty": "10"}, 30)
    clients = {id(redis_cache._cache.get_client()) for _ in range(5)}

    assert redis_cache.get("cache-test-key") == {"good_qty": "10"}
    assert redis_cache.add("cache-test-key-n", 1, 30) and redis_cache.incr("cache-test-key-n") == 2
    assert len(clients) == 1
    redis_cache.delete_many(["cache-test-key", "cache-test-key-n"])


def test_threads_share_the_client_without_mixing_answers(redis_cache):
    errors = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                redis_cache.set(f"cache-test-{n}", i, 30)
                if redis_cache.get(f"cache-test-{n}") != i:
                    errors.append((n, i))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    redis_cache.delete_many([f"cache-test-{n}" for n in range(8)])
