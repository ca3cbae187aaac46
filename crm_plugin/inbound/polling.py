"""Polling mode, for an install without a public URL: Telegram getUpdates, VK Bots Long Poll and Slack Socket
Mode (bots with an app-level token) feed the same engine as the webhooks (crm_plugin.inbound.accept), one
thread per bot. Which bots can poll is the channels' say: a Pollable channel class whose ``can_poll`` accepts
the bot's credentials.

The cursor (Telegram offset, VK long-poll state, Slack envelopes to acknowledge) is kept in
crm_plugin_settings, so a restart resumes where it stopped; the platforms' dedupe keys make an update seen
twice harmless.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import select

from ..channels import channel_class, channel_for
from ..channels.base import Pollable, SendError
from ..core.models import Bot, PluginSetting
from ..core.state import PluginState
from . import receive

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class Poller:
    def __init__(self, state: PluginState, *, timeout: int = 25) -> None:
        self.state = state
        self.timeout = timeout
        self.stopping = threading.Event()

    def bots(self) -> list[Bot]:
        with self.state.db.session() as session:
            bots = list(session.scalars(select(Bot).where(Bot.active).order_by(Bot.id)))
        return [bot for bot in bots if self._can_poll(bot)]

    def _can_poll(self, bot: Bot) -> bool:
        cls = channel_class(bot.platform)
        if not issubclass(cls, Pollable):
            return False  # webhooks only (Viber, the web chat): nothing to log, nothing to open
        try:
            credentials = self.state.secrets.open(bot.credentials_encrypted)
        except Exception as error:  # noqa: BLE001 - one unreadable bot must not stop the others
            log.error("bot %s: credentials cannot be opened, not polled: %s", bot.id, error)
            return False
        if cls.can_poll(credentials):
            return True
        log.info("bot %s: not polled: its %s keys do not allow polling (Slack Socket Mode needs an app-level "
                 "token, xapp-...); add the key in the admin, or set CRM_PLUGIN_PUBLIC_URL for webhooks",
                 bot.id, cls.platform.value)
        return False

    def prepare(self, bot: Bot) -> Pollable:
        channel = channel_for(self.state, bot)
        if not isinstance(channel, Pollable):
            raise TypeError(f"bot {bot.id}: {bot.platform.value} cannot be polled")
        channel.prepare_for_polling()  # e.g. Telegram drops its webhook: getUpdates refuses to run beside one
        return channel

    def poll_once(self, bot: Bot, channel: Pollable) -> int:
        """One long poll for one bot; returns how many new updates were stored."""
        cursor = self._load_cursor(bot.id)
        requests, cursor = channel.poll(cursor, self.timeout)
        stored = sum(receive.accept(self.state, bot.id, parsed) for parsed in requests)
        self._save_cursor(bot.id, cursor)
        return stored

    def run_bot(self, bot: Bot) -> None:
        backoff = 1.0
        channel = self.prepare(bot)
        while not self.stopping.is_set():
            try:
                self.poll_once(bot, channel)
                backoff = 1.0
            except SendError as error:
                if error.permanent:
                    log.error("bot %s: polling stopped: %s", bot.id, error)
                    return
                log.warning("bot %s: polling failed, retrying in %.0f s: %s", bot.id, backoff, error)
                self.stopping.wait(error.retry_after or backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def run_forever(self) -> None:
        bots = self.bots()
        if not bots:
            log.warning("no active Telegram, VK or Slack (Socket Mode) bots to poll; add one in the admin")
            return
        threads = [threading.Thread(target=self.run_bot, args=(bot,), name=f"poll-{bot.id}", daemon=True)
                   for bot in bots]
        for thread in threads:
            thread.start()
        log.info("polling %d bot(s): %s", len(bots), ", ".join(str(bot) for bot in bots))
        for thread in threads:
            while thread.is_alive() and not self.stopping.is_set():
                thread.join(1.0)

    def stop(self) -> None:
        self.stopping.set()

    def _key(self, bot_id: int) -> str:
        return f"poll-cursor:{bot_id}"

    def _load_cursor(self, bot_id: int) -> Any:
        with self.state.db.session() as session:
            row = session.get(PluginSetting, self._key(bot_id))
            return row.value.get("cursor") if row else None

    def _save_cursor(self, bot_id: int, cursor: Any) -> None:
        with self.state.db.session() as session:
            row = session.get(PluginSetting, self._key(bot_id)) or PluginSetting(key=self._key(bot_id))
            row.value = {"cursor": cursor}
            session.add(row)
