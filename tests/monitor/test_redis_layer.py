"""With channels-redis, a message sent from one layer instance (another process: the WSGI
worker that committed the event) reaches a socket held by another."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels_redis.core import RedisChannelLayer

from console.monitor.publisher import publisher
from tests.factories import UserFactory
from tests.redis_server import redis_url  # noqa: F401 - fixture

from .helpers import hello, operator, run_async, session_of, socket
from .test_consumer import _emit

# Channels closes connections around every database_sync_to_async call (close_old_connections):
# inside a test transaction that would close the test's own connection on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_layer(settings, redis_url):  # noqa: F811 - the fixture
    """The application's channel layer on the test Redis (a prefix of its own)."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix},
        }
    }
    return {"hosts": [redis_url], "prefix": prefix}


def test_message_from_another_layer_instance_reaches_the_socket(redis_layer):
    """A group_send on a separate RedisChannelLayer (as another process would make it)
    reaches the operator's socket."""
    user = operator()
    key = session_of(user)
    # The operator's own events (created, signed in) are sent before the socket opens.
    assert publisher.flush()

    async def scenario() -> dict[str, Any]:
        communicator = socket(session_key=key, user=user)
        assert await hello(communicator, user=user, session_key=key)
        assert (await communicator.receive_json_from(timeout=5))["kind"] == "snapshot"
        other = RedisChannelLayer(**redis_layer)
        await other.group_send(
            "monitor",
            {"type": "monitor.event", "event": {"id": "e-1", "type": "user.created"}},
        )
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        await other.flush()
        return message

    message = run_async(scenario)
    assert message == {"kind": "event", "event": {"id": "e-1", "type": "user.created"}}


def test_committed_event_goes_through_redis(redis_layer):
    """The publisher's thread sends a committed event through Redis (its own event loop):
    the socket receives it."""
    user = operator()
    key = session_of(user)
    customer = UserFactory(email="ana@example.com")
    # The customer's own events (created, updated) are sent before the socket opens.
    assert publisher.flush()

    async def scenario() -> dict[str, Any]:
        communicator = socket(session_key=key, user=user)
        assert await hello(communicator, user=user, session_key=key)
        await communicator.receive_json_from(timeout=5)
        await database_sync_to_async(_emit)("user.signed_in", customer, method="passkey")
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    message = run_async(scenario)
    assert message["event"]["type"] == "user.signed_in"
    assert message["event"]["method"] == "passkey"
