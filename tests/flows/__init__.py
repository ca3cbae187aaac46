"""End-to-end flow drivers: a person on Telegram, VK, Viber or Slack whose every action is a platform update
POSTed, validly signed, to the plugin's webhook route; the real delivery worker then runs the bot and sends
the replies through the real client library (telebot, vk_api, viberbot, slack_sdk) to the platform's fake.
What the fake received comes back as ``Seen`` messages, so a test taps buttons by the labels people read.

Speed: the worker paces each chat to the platform's real ~1 message a second, and a job card is a text plus a
location pin; so the worker's per-chat pace is raised (``Policy.per_chat_rate``) and the fakes' per-chat
windows widened to match (FakeTelegram ``per_chat``, FakeSlack ``per_channel``). Per-bot limits stay real.

Modules: ``world`` (the demo CRM, the worker and the CRM-side steps), ``people`` (what a person sees and does on
any messenger), and one module a platform (its person, its fake with relaxed per-chat limits, a bot pointed at
the fake). Test modules import the fixtures they use by name (``flow_fixture``, ``telegram_fixture``…).
"""
