"""Options of the live monitor, read from settings named ``CIAM_MONITOR_<NAME>``."""

from __future__ import annotations

from common.app_settings import BaseAppSettings, Setting


class AppSettings(BaseAppSettings):
    prefix = "CIAM_MONITOR_"

    GROUP = Setting(str, "monitor", "The channel layer group every monitor socket joins.")
    WINDOW_MINUTES = Setting(
        int, 15, "The counters and the per-minute sign-in chart cover this many minutes."
    )
    SNAPSHOT_SECONDS = Setting(
        float,
        5.0,
        "Each open monitor recounts from the outbox this often (the live messages in between "
        "only increment the counters).",
    )
    QUEUE_SIZE = Setting(
        int,
        1000,
        "Messages waiting to reach the channel layer; beyond it new ones are dropped (and "
        "counted), never making a request wait.",
    )
    SEND_TIMEOUT_SECONDS = Setting(
        float, 2.0, "One hand-over to the channel layer gives up after this many seconds."
    )
    TICKET_SECONDS = Setting(
        int,
        60,
        "The page (and, before each reconnect, its ticket view) gives its socket a signed "
        "ticket bound to the session, valid this long and checked only at the handshake: the "
        "socket has no middleware asking for a second factor or a step-up, the page had.",
    )
    HELLO_SECONDS = Setting(
        float, 10.0, "A socket that sent no ticket within this many seconds is closed."
    )
    SOCKETS_PER_SESSION = Setting(
        int, 5, "Open monitor sockets one session may hold in one process; more are refused."
    )
    FEED_ROWS = Setting(int, 100, "Rows the live feed keeps (newest first).")


app_settings = AppSettings()
