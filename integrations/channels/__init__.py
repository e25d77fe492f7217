"""Marketplace clients: one module per protocol (taobao, jd, shopify), all speaking channels.base."""

from integrations.channels.base import ChannelClient, HttpTransport


def client_for(
    kind: str, *, base_url: str, app_key: str, credentials: dict[str, str], transport: HttpTransport | None = None
) -> ChannelClient:
    """The client for a channel account's marketplace."""
    if kind == "taobao":
        from integrations.channels.taobao import TaobaoClient

        return TaobaoClient(base_url=base_url, app_key=app_key, credentials=credentials, transport=transport)
    if kind == "jd":
        from integrations.channels.jd import JdClient

        return JdClient(base_url=base_url, app_key=app_key, credentials=credentials, transport=transport)
    if kind == "shopify":
        from integrations.channels.shopify import ShopifyClient

        return ShopifyClient(base_url=base_url, app_key=app_key, credentials=credentials, transport=transport)
    raise ValueError(f"unknown channel kind {kind!r}")
