"""A fake Discord (REST + gateway + CDN) on 127.0.0.1 for driving the *real* discord.py client.

Why: mocking discord.py objects tests our assumptions about discord.py, not discord.py. Here the
real client (2.7.1) logs in, opens its gateway websocket, parses READY/GUILD_CREATE and
INTERACTION_CREATE, and sends its REST calls over real sockets -- only the far end is fake, and it
only ever listens on 127.0.0.1, so nothing can reach discord.com.

Usage::

    from fake_discord import FakeDiscord, running_bot

    async with FakeDiscord() as fake:             # two guilds, one text channel each
        bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        async with running_bot(bot, fake):        # login + connect() task; bot.close() on exit
            await fake.send_message(fake.guilds[0].channel_id, f"{fake.mention(fake.bot_user)} hi",
                                    author=fake.alice)
            call = await fake.wait_for_call(lambda c: c.matches("POST", "/channels/*/messages"))
            assert call.json["allowed_mentions"]["parse"] == []

Pass ``guild_ready_timeout`` (e.g. 0.05) to the bot: discord.py otherwise waits 2 s after the last
GUILD_CREATE before firing ``on_ready``. A pytest fixture, ``fake_discord``, is provided as well
(import ``fake_discord_fixture`` into the test module to register it).
Modelled from Discord's own documentation (github.com/discord/discord-api-docs, the files named
at each rule): the first follow-up after a deferred response takes the defer's visibility; which
callback types each kind of interaction accepts; string option lengths; threads started from a
message (same id as the message, PUBLIC_THREAD, THREAD_CREATE, the THREAD_STARTER_MESSAGE, active
threads in GUILD_CREATE after a reconnect); message components (buttons, type-3 interactions with
``custom_id``; link buttons have none); autocomplete (type-4 interactions, type-8 responses);
reactions; sharding (each connection gets the servers, and their events, of the ``shard`` it
IDENTIFYs with, by the gateway docs' Sharding Formula -- so several bot processes, each
running some shards, can share one fake). Not modelled: rate limits, DMs, private threads, RESUME state, permission overwrites,
MESSAGE_UPDATE. One FakeDiscord at a time per process: it patches discord.py's class-level URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import json
import re
import secrets
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import discord
import pytest_asyncio
import yarl
from aiohttp import BodyPartReader, WSMsgType, web
from discord.asset import Asset
from discord.gateway import DiscordWebSocket
from discord.http import Route

Json = dict[str, Any]

# Permission bits (https://discord.com/developers/docs/topics/permissions).
MANAGE_GUILD = 0x20
EVERYONE_PERMS = (
    (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 31)
    | (1 << 35)
    | (1 << 38)
)  # add reactions, view, send, embed links, attach files, read history, use app commands,
# create public threads, send messages in threads
EPHEMERAL, LOADING = 1 << 6, 1 << 7  # message flags (resources/message.mdx, Message Flags)
SUPPRESS_EMBEDS = 1 << 2  # the same table, as are the three below
CREATE_MESSAGE_FLAGS = SUPPRESS_EMBEDS | 1 << 12 | 1 << 13 | 1 << 15  # see _r_create_message
# Interaction types and the callback types each accepts (interactions/receiving-and-responding.mdx:
# "Interaction Type" and "Interaction Callback Type" -- DEFERRED_UPDATE_MESSAGE and UPDATE_MESSAGE
# are "only valid for component-based interactions"; APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
# "respond[s] to an autocomplete interaction").
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 2, 3, 4
CALLBACKS_FOR = {
    APPLICATION_COMMAND: {4, 5, 9},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
}
GUILD_TEXT, PUBLIC_THREAD = 0, 11  # resources/channel.mdx, Channel Types
THREAD_STARTER_MESSAGE = 21  # resources/message.mdx, Message Types
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
API_PREFIX = "/api/v10"

_counter = itertools.count(1)
_ABSENT = object()


def snowflake() -> int:
    """A fresh, unique snowflake carrying the current time (so ``created_at`` looks right)."""
    return discord.utils.time_snowflake(datetime.now(UTC)) + next(_counter) % 4096


def shard_of(guild_id: int, num_shards: int) -> int:
    """The shard a server's events go to (discord-api-docs topics/gateway.mdx, Sharding)."""
    return (guild_id >> 22) % num_shards


def _now() -> str:
    return datetime.now(UTC).isoformat()


def make_user(name: str, *, user_id: int | None = None, bot: bool = False) -> Json:
    """A user payload as Discord sends it (``avatar`` and ``discriminator`` are required keys)."""
    return {
        "id": str(user_id or snowflake()),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class FakeAttachment:
    """A file to attach to an injected message or pass as a slash-command attachment option."""

    filename: str
    data: bytes
    content_type: str = "text/plain"
    id: int = field(default_factory=snowflake)


@dataclass
class FakeGuild:
    """A guild with one text channel. Roles: @everyone (id = guild id), Managers (Manage Server)."""

    name: str
    id: int = field(default_factory=snowflake)
    channel_id: int = field(default_factory=snowflake)
    channel_name: str = "general"
    manager_role_id: int = field(default_factory=snowflake)
    members: dict[str, Json] = field(default_factory=dict)  # user id -> member payload (with user)
    threads: dict[int, Json] = field(default_factory=dict)  # thread id -> thread channel payload

    def channel(self) -> Json:
        return {
            "id": str(self.channel_id),
            "type": 0,
            "guild_id": str(self.id),
            "name": self.channel_name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    def permissions_of(self, user_id: str) -> int:
        roles = self.members[user_id]["roles"]
        return EVERYONE_PERMS | (MANAGE_GUILD if str(self.manager_role_id) in roles else 0)

    def payload(self) -> Json:
        """The GUILD_CREATE body: channels, roles and members (incl. the bot) so permission math works."""
        roles = [
            {
                "id": str(self.id),
                "name": "@everyone",
                "permissions": str(EVERYONE_PERMS),
                "position": 0,
            },
            {
                "id": str(self.manager_role_id),
                "name": "Managers",
                "permissions": str(MANAGE_GUILD),
                "position": 1,
            },
        ]
        return {
            "id": str(self.id),
            "name": self.name,
            "unavailable": False,
            "owner_id": None,
            "member_count": len(self.members),
            "large": False,
            "features": [],
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "channels": [self.channel()],
            # "Guild Create contains a field, threads, ... all active threads in the guild that
            # the current user is able to view" (topics/threads.mdx, Gateway Events): how a
            # restarted bot knows the threads it answered in.
            "threads": list(self.threads.values()),
            "members": list(self.members.values()),
            "presences": [],
            "voice_states": [],
            "preferred_locale": "en-US",
            "joined_at": _now(),
        }


@dataclass
class Call:
    """One REST request the client made. ``json`` is the JSON body, or ``payload_json`` of a multipart body."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/123/messages"
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    status: int = 200
    # The message this call created or edited, as the channel now has it (the fake's record,
    # so a test can ask whether what the bot sent is private: ``flags & EPHEMERAL``).
    message: Json | None = None

    def matches(self, method: str, pattern: str) -> bool:
        """``call.matches("POST", "/interactions/*/*/callback")`` -- glob match on method and path."""
        return self.method == method and fnmatch.fnmatchcase(self.path, pattern)


class _GatewaySession:
    """One client websocket: its negotiated transport compression, intents and sequence number."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws, self.seq, self.intents = ws, 0, 0
        self.shard: tuple[int, int] = (0, 1)  # [shard_id, num_shards] from its IDENTIFY
        self.lock = asyncio.Lock()  # compression is a stream: frames must go out in order
        self.encode: Callable[[bytes], bytes] | None = _stream_compressor(compress)

    def has_guild(self, guild_id: int) -> bool:
        """Whether Discord sends this server's events on this connection: the Sharding
        Formula of discord-api-docs' topics/gateway.mdx, ``shard_id = (guild_id >> 22) %
        num_shards``."""
        shard_id, num_shards = self.shard
        return shard_of(guild_id, num_shards) == shard_id

    async def send(self, payload: Json) -> None:
        async with self.lock:
            if payload["op"] == 0:
                self.seq += 1
                payload = {**payload, "s": self.seq}
            raw = json.dumps(payload)
            if self.encode is None:
                await self.ws.send_str(raw)
            else:
                await self.ws.send_bytes(self.encode(raw.encode()))

    async def dispatch(self, event: str, data: Json) -> None:
        await self.send({"op": 0, "t": event, "d": data})


def _stream_compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    """Compress like Discord's transport compression: one stream per connection, flushed per message.

    discord.py asks for ``compress=zstd-stream`` when ``zstandard`` (or 3.14's ``compression.zstd``)
    is importable, else ``zlib-stream``; its zlib reader only decodes once a frame ends in the
    Z_SYNC_FLUSH marker ``00 00 ff ff``. Without the query parameter we send plain text frames.
    """
    if kind == "zlib-stream":
        z = zlib.compressobj()
        return lambda b: z.compress(b) + z.flush(zlib.Z_SYNC_FLUSH)
    if kind == "zstd-stream":
        try:
            import zstandard

            zc = zstandard.ZstdCompressor().compressobj()
            return lambda b: zc.compress(b) + zc.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        except ImportError:  # Python 3.14+
            from compression import zstd  # type: ignore[import-not-found]

            sc = zstd.ZstdCompressor()
            return lambda b: sc.compress(b, mode=zstd.ZstdCompressor.FLUSH_BLOCK)
    return None


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly "application/json";
    # web.json_response appends "; charset=utf-8", which makes the client treat it as text.
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


class FakeDiscord:
    """The fake server. ``async with FakeDiscord() as fake`` starts it and points discord.py at it."""

    def __init__(
        self,
        guilds: list[FakeGuild] | None = None,
        *,
        bot_name: str = "newsbot",
        echo_bot_messages: bool = True,
    ) -> None:
        self.guilds = guilds or [FakeGuild("Guild One"), FakeGuild("Guild Two")]
        self.bot_user = make_user(bot_name, bot=True)
        self.application = {
            "id": self.bot_user["id"],
            "name": bot_name,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": make_user("owner"),
            "flags": 0,
            "team": None,
        }
        self.echo_bot_messages = (
            echo_bot_messages  # real Discord echoes the bot's own messages back
        )
        self.calls: list[Call] = []
        self.messages: dict[int, Json] = {}  # every message known, injected or sent by the bot
        self.commands: dict[
            int | None, list[Json]
        ] = {}  # guild id (None = global) -> synced commands
        self.interactions: dict[str, Json] = {}  # token -> INTERACTION_CREATE payload
        self.originals: dict[str, Json] = {}  # token -> original interaction response message
        self.identify: Json | None = None
        self.files: dict[int, FakeAttachment] = {}
        self.users: dict[str, Json] = {self.bot_user["id"]: self.bot_user}
        self._sessions: list[_GatewaySession] = []
        self._ready = asyncio.Event()
        self._calls_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._patched: list[tuple[Any, str, Any]] = []
        self.blocked: list[str] = []  # non-loopback connects/lookups that the guard refused
        self.root_url = self.base_url = self.gateway_url = ""
        for g in self.guilds:
            self._add_member(g, self.bot_user, manage_guild=False)
        self.alice = self.add_user("alice")  # plain member
        self.admin = self.add_user("admin", manage_guild=True)  # has Manage Server via a role

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._gateway)
        app.router.add_get("/attachments/{id}/{filename}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = self.root_url + API_PREFIX
        self.gateway_url = f"ws://127.0.0.1:{port}/ws"
        # Every URL discord.py builds for REST, gateway and CDN must point here, never at discord.com.
        for owner, attr, value in (
            (Route, "BASE", self.base_url),
            (Asset, "BASE", self.root_url),
            (DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url)),
        ):
            self._patched.append((owner, attr, getattr(owner, attr)))
            setattr(owner, attr, value)
        self._guard_loopback(asyncio.get_running_loop())

    async def stop(self) -> None:
        for owner, attr, value in reversed(self._patched):
            if value is _ABSENT:
                delattr(owner, attr)
            else:
                setattr(owner, attr, value)
        self._patched.clear()
        for s in list(self._sessions):
            await s.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _guard_loopback(self, loop: asyncio.AbstractEventLoop) -> None:
        """Belt and braces: on this loop, refuse (and record) any DNS lookup or connect not to loopback.

        aiohttp resolves names with ``loop.getaddrinfo`` and connects with ``loop.sock_connect``
        (via aiohappyeyeballs); other asyncio clients use ``loop.create_connection(host=...)``.
        """

        def check(what: str, host: Any) -> None:
            if host not in (None, "127.0.0.1", "localhost", "::1"):
                self.blocked.append(f"{what} {host}")
                raise ConnectionRefusedError(
                    f"fake_discord blocked a non-loopback {what} to {host!r}"
                )

        sock_connect, getaddrinfo, create_connection = (
            loop.sock_connect,
            loop.getaddrinfo,
            loop.create_connection,
        )

        async def guarded_sock_connect(sock: Any, address: Any) -> None:
            check("connect", address[0] if isinstance(address, tuple) else None)
            return await sock_connect(sock, address)

        async def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            check("DNS lookup", host)
            return await getaddrinfo(host, *args, **kwargs)

        async def guarded_create_connection(
            factory: Any, host: Any = None, *args: Any, **kwargs: Any
        ) -> Any:
            check("connect", host)
            return await create_connection(factory, host, *args, **kwargs)

        for attr, value in (
            ("sock_connect", guarded_sock_connect),
            ("getaddrinfo", guarded_getaddrinfo),
            ("create_connection", guarded_create_connection),
        ):
            self._patched.append(
                (loop, attr, vars(loop).get(attr, _ABSENT))
            )  # usually absent: a bound method
            setattr(loop, attr, value)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- test API

    def add_user(self, name: str, *, manage_guild: bool = False) -> Json:
        """Create a user who is a member of every guild, optionally holding Manage Server (0x20)."""
        user = make_user(name)
        self.users[user["id"]] = user
        for g in self.guilds:
            self._add_member(g, user, manage_guild=manage_guild)
        return user

    @staticmethod
    def mention(user: Json) -> str:
        return f"<@{user['id']}>"

    def guild_of(self, channel_id: int | str) -> FakeGuild:
        return next(
            g
            for g in self.guilds
            if g.channel_id == int(channel_id) or int(channel_id) in g.threads
        )

    def channel_payload(self, channel_id: int | str) -> Json:
        """The channel or thread with this id, as GET /channels/{id} returns it."""
        guild = self.guild_of(channel_id)
        return guild.threads.get(int(channel_id)) or guild.channel()

    def thread_of(self, message: Json) -> Json | None:
        """The thread started from ``message`` (it has the message's id), if any."""
        return self.guild_of(message["channel_id"]).threads.get(int(message["id"]))

    def channel_messages(self, channel_id: int | str) -> list[Json]:
        """The messages of one channel or thread, oldest first."""
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]

    def _sessions_of(self, guild_id: int) -> list[_GatewaySession]:
        """The connections that get a server's events: each connection only its shard's."""
        return [s for s in self._sessions if s.has_guild(guild_id)]

    @property
    def connected_shards(self) -> list[tuple[int, int]]:
        """The ``(shard_id, num_shards)`` of each identified connection, in connection order
        (several bot processes, each running some of the shards, can share one fake)."""
        return [s.shard for s in self._sessions if s.intents]

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until READY and every GUILD_CREATE went out (the client fires on_ready a bit later)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def wait_for_call(self, predicate: Callable[[Call], bool], timeout: float = 5.0) -> Call:
        """Return the first recorded call (past or future) matching ``predicate``."""

        def find() -> Call | None:
            return next((c for c in self.calls if predicate(c)), None)

        async with self._calls_changed:
            try:
                found = await asyncio.wait_for(self._calls_changed.wait_for(find), timeout)
                assert found is not None
                return found
            except TimeoutError:
                seen = "\n  ".join(f"{c.method} {c.path} -> {c.status}" for c in self.calls)
                raise AssertionError(
                    f"no matching REST call within {timeout}s; calls so far:\n  {seen}"
                ) from None

    async def send_message(
        self,
        channel_id: int | str,
        content: str,
        *,
        author: Json | None = None,
        mentions: list[Json] | None = None,
        message_reference: Json | int | None = None,
        attachments: list[FakeAttachment] | None = None,
    ) -> Json:
        """Inject MESSAGE_CREATE from ``author`` (default alice). Mentions default to ``<@id>`` in content."""
        author = author or self.alice
        if mentions is None:
            mentions = [
                self.users[i] for i in re.findall(r"<@!?(\d+)>", content) if i in self.users
            ]
        guild = self.guild_of(channel_id)
        msg = self._message(
            channel_id,
            author,
            content=content,
            reference=message_reference,
            attachments=[self._attachment(a, channel_id) for a in attachments or []],
        )
        msg["mentions"] = [
            {**u, **({"member": m} if (m := self._partial_member(guild, u)) else {})}
            for u in mentions
        ]
        msg["mention_roles"] = re.findall(r"<@&(\d+)>", content)
        msg["mention_everyone"] = "@everyone" in content or "@here" in content
        if int(channel_id) in guild.threads:
            guild.threads[int(channel_id)]["message_count"] += 1
            guild.threads[int(channel_id)]["total_message_sent"] += 1
        await self._broadcast_message(msg)
        return msg

    def attachment(
        self, filename: str, data: bytes, content_type: str = "text/plain"
    ) -> FakeAttachment:
        return FakeAttachment(filename, data, content_type)

    async def send_interaction(
        self,
        command_name: str,
        options: dict[str, Any] | None = None,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user: Json | None = None,
        permissions: str | None = None,
        locale: str = "en-US",
        focused: str | None = None,
    ) -> Json:
        """Inject a slash-command INTERACTION_CREATE (type 2), as if ``user`` ran ``/command_name``;
        with ``focused`` (an option's name), the autocomplete interaction (type 4) Discord sends
        while that option is being typed.

        Option types come from the synced command when there is one (else inferred from the Python
        value); ``FakeAttachment`` values become type-11 options with ``data.resolved.attachments``
        whose URL is served by this fake. ``permissions`` defaults to the member's role permissions.
        User/role/channel options get no ``resolved`` entry (the bot sees a ``discord.Object``).
        A string longer than the synced option's ``max_length`` is refused: Discord's client never
        sends it (interactions/application-commands.mdx, Application Command Option Structure:
        ``min_length``/``max_length`` "for option type STRING").
        """
        guild = next(g for g in self.guilds if g.id == guild_id) if guild_id else self.guilds[0]
        channel_id = channel_id or guild.channel_id
        registered = {c["name"]: c for c in self.commands.get(None, [])}
        registered.update({c["name"]: c for c in self.commands.get(guild.id, [])})
        command = registered.get(command_name, {"id": str(snowflake()), "name": command_name})
        declared = {o["name"]: o for o in command.get("options", [])}
        data: Json = {"id": command["id"], "name": command_name, "type": 1, "options": []}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]  # the tree looks guild commands up by this
        for name, value in (options or {}).items():
            if isinstance(value, FakeAttachment):
                data.setdefault("resolved", {}).setdefault("attachments", {})[str(value.id)] = (
                    self._attachment(value, channel_id)
                )
                value = str(value.id)
            kind = declared.get(name, {}).get("type") or _infer_option_type(value)
            limit = declared.get(name, {}).get("max_length")
            if kind == 3 and limit is not None and len(value) > limit and name != focused:
                raise ValueError(f"Discord never sends /{command_name} {name}: over {limit} chars")
            if kind == 7:  # CHANNEL: "Partial Channel objects only have id, name, type and
                # permissions fields" (receiving-and-responding.mdx, Resolved Data Structure)
                channel = self.channel_payload(value)
                data.setdefault("resolved", {}).setdefault("channels", {})[str(value)] = {
                    "id": channel["id"],
                    "name": channel["name"],
                    "type": channel["type"],
                    "permissions": str(
                        guild.permissions_of(user["id"] if user else self.alice["id"])
                    ),
                }
            option: Json = {"name": name, "type": kind, "value": value}
            if name == focused:
                # "The option the user is currently typing will be sent with a `focused: true`
                # boolean field" (application-commands.mdx, Autocomplete)
                option["focused"] = True
            data["options"].append(option)
        kind = AUTOCOMPLETE if focused else APPLICATION_COMMAND
        return await self._interact(kind, data, guild, channel_id, user, permissions, locale)

    async def click(self, message: Json, custom_id: str, *, user: Json | None = None) -> Json:
        """Inject the INTERACTION_CREATE (type 3, MESSAGE_COMPONENT) of ``user`` pressing the
        button ``custom_id`` under ``message``. Only a button the message carries can be pressed,
        and link buttons (style 5) have none: components/reference.mdx, Button -- "Link buttons
        **must** have a `url`, and cannot have a `custom_id`"; "Link buttons do not send an
        interaction to your app when clicked"."""
        buttons = [c for row in message.get("components", []) for c in row.get("components", [])]
        if not any(b.get("custom_id") == custom_id for b in buttons):
            raise ValueError(f"message {message['id']} has no button {custom_id!r}: {buttons}")
        guild = self.guild_of(message["channel_id"])
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(
            MESSAGE_COMPONENT, data, guild, int(message["channel_id"]), user, None, "en-US",
            message=message,
        )  # fmt: skip

    async def _interact(
        self,
        kind: int,
        data: Json,
        guild: FakeGuild,
        channel_id: int,
        user: Json | None,
        permissions: str | None,
        locale: str,
        *,
        message: Json | None = None,
    ) -> Json:
        user = user or self.alice
        token = secrets.token_urlsafe(24)
        bot_perms = guild.permissions_of(self.bot_user["id"])
        member_perms = (
            permissions if permissions is not None else str(guild.permissions_of(user["id"]))
        )
        payload = {
            "id": str(snowflake()),
            "application_id": self.application["id"],
            "type": kind,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": self.channel_payload(channel_id),
            "member": {**guild.members[user["id"]], "permissions": member_perms},
            "token": token,
            "version": 1,
            "app_permissions": str(bot_perms),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "context": 0,
            "authorizing_integration_owners": {"0": str(guild.id)},
            "attachment_size_limit": 10 * 1024 * 1024,  # required by discord.py >= 2.5
        }
        if message is not None:
            payload["message"] = message
        self.interactions[token] = payload
        for s in self._sessions_of(guild.id):
            await s.dispatch("INTERACTION_CREATE", payload)
        return payload

    # ---------------------------------------------------------------- payload builders

    def _add_member(self, guild: FakeGuild, user: Json, *, manage_guild: bool) -> None:
        roles = [str(guild.manager_role_id)] if manage_guild else []
        guild.members[user["id"]] = {
            "user": user,
            "roles": roles,
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "pending": False,
        }

    def _partial_member(self, guild: FakeGuild, user: Json) -> Json | None:
        member = guild.members.get(user["id"])
        return None if member is None else {k: v for k, v in member.items() if k != "user"}

    def _attachment(self, a: FakeAttachment, channel_id: int | str) -> Json:
        self.files[a.id] = a
        url = f"{self.root_url}/attachments/{a.id}/{a.filename}"  # served by _cdn, on loopback
        return {
            "id": str(a.id),
            "filename": a.filename,
            "size": len(a.data),
            "url": url,
            "proxy_url": url,
            "content_type": a.content_type,
        }

    def _message(
        self,
        channel_id: int | str,
        author: Json,
        *,
        content: str = "",
        embeds: list[Json] | None = None,
        reference: Json | int | None = None,
        attachments: list[Json] | None = None,
        flags: int = 0,
        msg_type: int = 0,
        webhook_id: str | None = None,
        components: list[Json] | None = None,
    ) -> Json:
        """A full message object, stored so GET /channels/{id}/messages/{mid} can find it later."""
        msg: Json = {
            "id": str(snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "embeds": embeds or [],
            "attachments": attachments or [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "type": msg_type,
            "timestamp": _now(),
            "edited_timestamp": None,
            "flags": flags,
            "components": components or [],
        }
        if webhook_id:
            msg["webhook_id"] = webhook_id
        if reference is not None:
            ref_id = str(
                reference
                if isinstance(reference, (int, str))
                else reference.get("message_id", reference.get("id"))
            )
            msg["type"] = msg_type or 19  # REPLY
            msg["message_reference"] = {
                "type": 0,
                "message_id": ref_id,
                "channel_id": str(channel_id),
                "guild_id": str(self.guild_of(channel_id).id),
            }
            referenced = self.messages.get(int(ref_id))
            if referenced is not None:  # Discord includes the replied-to message, one level deep
                msg["referenced_message"] = {
                    k: v for k, v in referenced.items() if k != "referenced_message"
                }
        self.messages[int(msg["id"])] = msg
        return msg

    async def _broadcast_message(self, msg: Json) -> None:
        """Send MESSAGE_CREATE to every client, applying the intents each one IDENTIFYed with."""
        guild = self.guild_of(msg["channel_id"])
        event = {**msg, "guild_id": str(guild.id)}
        if (member := self._partial_member(guild, msg["author"])) is not None:
            event["member"] = member
        mentioned = any(u["id"] == self.bot_user["id"] for u in msg["mentions"])
        for s in self._sessions_of(guild.id):
            if not s.intents & INTENT_GUILD_MESSAGES:
                continue
            data = event
            if (
                not s.intents & INTENT_MESSAGE_CONTENT
                and not mentioned
                and msg["author"]["id"] != self.bot_user["id"]
            ):
                data = {**event, "content": "", "embeds": [], "attachments": [], "components": []}
            await s.dispatch("MESSAGE_CREATE", data)

    async def _bot_message(
        self,
        channel_id: int | str,
        body: Json,
        files: list[Json],
        *,
        msg_type: int = 0,
        webhook: bool = False,
        extra_flags: int = 0,
    ) -> Json:
        msg = self._message(
            channel_id,
            self.bot_user,
            content=body.get("content") or "",
            embeds=body.get("embeds"),
            reference=body.get("message_reference"),
            attachments=files,
            flags=(body.get("flags") or 0) | extra_flags,
            msg_type=msg_type,
            webhook_id=self.application["id"] if webhook else None,
            components=_check_components(body.get("components")),
        )
        guild = self.guild_of(channel_id)
        if int(channel_id) in guild.threads:
            guild.threads[int(channel_id)]["message_count"] += 1
            guild.threads[int(channel_id)]["total_message_sent"] += 1
        if (
            self.echo_bot_messages and not msg["flags"] & 64
        ):  # ephemeral messages are never broadcast
            await self._broadcast_message(msg)
        return msg

    # ---------------------------------------------------------------- gateway & CDN

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = _GatewaySession(ws, request.query.get("compress"))
        self._sessions.append(session)
        try:
            await session.send({"op": 10, "d": {"heartbeat_interval": 45000}})
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                op, d = (p := json.loads(frame.data))["op"], p.get("d")
                if op == 1:  # HEARTBEAT
                    await session.send({"op": 11})
                elif op == 2:  # IDENTIFY
                    self.identify, session.intents = d, d.get("intents", 0)
                    shard_id, num_shards = d.get("shard") or (0, 1)
                    assert 0 <= shard_id < num_shards, f"shard {shard_id} of {num_shards}"
                    session.shard = (shard_id, num_shards)
                    theirs = [g for g in self.guilds if session.has_guild(g.id)]
                    await session.dispatch(
                        "READY",
                        {
                            "v": 10,
                            "user": self.bot_user,
                            "session_id": secrets.token_hex(16),
                            "resume_gateway_url": self.gateway_url,
                            "shard": list(session.shard),
                            "application": {
                                "id": self.application["id"],
                                "flags": self.application["flags"],
                            },
                            "guilds": [{"id": str(g.id), "unavailable": True} for g in theirs],
                        },
                    )
                    for g in theirs:
                        await session.dispatch("GUILD_CREATE", g.payload())
                    self._ready.set()
                elif op == 6:  # RESUME: nothing was missed, so just confirm
                    await session.dispatch("RESUMED", {})
                elif op == 8:  # REQUEST_GUILD_MEMBERS (chunking, when the members intent is on)
                    g = next(g for g in self.guilds if g.id == int(d["guild_id"]))
                    await session.dispatch(
                        "GUILD_MEMBERS_CHUNK",
                        {
                            "guild_id": str(g.id),
                            "members": list(g.members.values()),
                            "chunk_index": 0,
                            "chunk_count": 1,
                            "nonce": d.get("nonce"),
                        },
                    )
        finally:
            self._sessions.remove(session)
        return ws

    async def _cdn(self, request: web.Request) -> web.Response:
        a = self.files.get(int(request.match_info["id"]))
        if a is None:
            return web.Response(status=404)
        return web.Response(body=a.data, headers={"Content-Type": a.content_type})

    # ---------------------------------------------------------------- REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix(API_PREFIX)
        call = Call(request.method, path, query=dict(request.query))
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()  # discord.py sends files this way
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    call.json = json.loads(await part.text())
                else:
                    call.files.append((part.filename or part.name or "", await part.read()))
        elif request.can_read_body:
            call.json = await request.json()
        response = _json({"message": "Unknown", "code": 0}, 404)
        if request.path.startswith(API_PREFIX + "/"):
            for method, pattern, handler in self._routes():
                m = re.fullmatch(pattern, path)
                if m and method == request.method:
                    try:
                        response = await handler(call, **m.groupdict())
                    except AssertionError as broken:  # a payload Discord would refuse
                        response = _json({"message": f"Invalid Form Body: {broken}", "code": 50035}, 400)  # fmt: skip
                    break
        call.status = response.status
        async with self._calls_changed:
            self.calls.append(call)
            self._calls_changed.notify_all()
        return response

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        s, t = r"(?P<cid>\d+)", r"(?P<token>[^/]+)"
        cmds = r"/applications/\d+(?:/guilds/(?P<gid>\d+))?/commands"
        return [
            ("GET", r"/users/@me", self._r_value(self.bot_user)),
            ("GET", r"/oauth2/applications/@me", self._r_value(self.application)),
            (
                "GET",
                r"/gateway(?:/bot)?",
                self._r_value(
                    {
                        "url": self.gateway_url,
                        "shards": 1,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 1000,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    }
                ),
            ),
            ("GET", rf"/channels/{s}", self._r_channel),
            ("POST", rf"/channels/{s}/messages/(?P<mid>\d+)/threads", self._r_start_thread),
            (
                "PUT",
                rf"/channels/{s}/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._r_react,
            ),
            ("POST", rf"/channels/{s}/messages", self._r_create_message),
            ("GET", rf"/channels/{s}/messages", self._r_history),
            ("GET", rf"/channels/{s}/messages/(?P<mid>\d+)", self._r_get_message),
            ("PATCH", rf"/channels/{s}/messages/(?P<mid>\d+)", self._r_edit_message),
            ("DELETE", rf"/channels/{s}/messages/(?P<mid>\d+)", self._r_delete_message),
            ("POST", rf"/channels/{s}/typing", self._r_no_content),
            ("POST", rf"/interactions/\d+/{t}/callback", self._r_callback),
            ("POST", rf"/webhooks/\d+/{t}", self._r_followup),
            ("GET", rf"/webhooks/\d+/{t}/messages/(?P<mid>@original|\d+)", self._r_webhook_get),
            ("PATCH", rf"/webhooks/\d+/{t}/messages/(?P<mid>@original|\d+)", self._r_webhook_edit),
            (
                "DELETE",
                rf"/webhooks/\d+/{t}/messages/(?P<mid>@original|\d+)",
                self._r_webhook_delete,
            ),
            ("PUT", cmds, self._r_sync_commands),
            ("GET", cmds, self._r_get_commands),
        ]

    @staticmethod
    def _r_value(value: Any) -> Callable[..., Any]:
        async def handler(call: Call) -> web.Response:
            return _json(value)

        return handler

    async def _r_no_content(self, call: Call, **_: str) -> web.Response:
        return web.Response(status=204)

    def _files_as_attachments(self, call: Call, channel_id: int | str) -> list[Json]:
        return [
            self._attachment(FakeAttachment(name, data, "application/octet-stream"), channel_id)
            for name, data in call.files
        ]

    async def _r_channel(self, call: Call, cid: str) -> web.Response:
        return _json(self.channel_payload(cid))

    async def _r_start_thread(self, call: Call, cid: str, mid: str) -> web.Response:
        """Start Thread from Message (resources/channel.mdx): on a GUILD_TEXT channel it creates
        a PUBLIC_THREAD whose id "will be the same as the id of the source message, and as such a
        message can only have a single thread created from it"; name "1-100 character"; it
        "Fires a Thread Create and a Message Update Gateway event". The thread's first message is
        a THREAD_STARTER_MESSAGE that "_only_ contains a message reference" to the source
        message (topics/threads.mdx, New Message Types)."""
        guild, msg, body = self.guild_of(cid), self.messages.get(int(mid)), call.json or {}
        if msg is None or msg["channel_id"] != cid:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if int(cid) != guild.channel_id:  # a thread's message cannot start another thread
            return _json({"message": "Cannot execute action on this channel type", "code": 50024}, 400)  # fmt: skip
        if int(mid) in guild.threads:
            return _json({"message": "A thread has already been created for this message", "code": 160004}, 400)  # fmt: skip
        if not 1 <= len(body.get("name") or "") <= 100:
            return _json({"message": "Invalid Form Body", "code": 50035}, 400)
        thread = {
            "id": mid,
            "guild_id": str(guild.id),
            "parent_id": cid,
            "owner_id": self.bot_user["id"],
            "type": PUBLIC_THREAD,
            "name": body["name"],
            "last_message_id": None,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 4320,
                "archive_timestamp": _now(),
                "locked": False,
            },
        }
        guild.threads[int(mid)] = thread
        msg["thread"] = thread
        for s in self._sessions_of(guild.id):
            await s.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        starter = self._message(
            mid, self.bot_user, reference=int(mid), msg_type=THREAD_STARTER_MESSAGE
        )
        starter["message_reference"]["channel_id"] = cid
        starter.pop("referenced_message", None)
        await self._broadcast_message(starter)
        return _json(thread, 201)

    async def _r_react(self, call: Call, cid: str, mid: str, emoji: str) -> web.Response:
        msg = self.messages.get(int(mid))
        if msg is None or msg["channel_id"] != cid:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        msg.setdefault("reactions", []).append({"emoji": {"name": emoji}, "me": True, "count": 1})
        return web.Response(status=204)

    async def _r_create_message(self, call: Call, cid: str) -> web.Response:
        body = call.json or {}
        # resources/message.mdx, Create Message, JSON/Form Params: "content ... Message
        # contents (up to 2000 characters)"; "embeds ... Up to 10 `rich` embeds"; "flags ...
        # (only `SUPPRESS_EMBEDS`, `SUPPRESS_NOTIFICATIONS`, `IS_VOICE_MESSAGE`, and
        # `IS_COMPONENTS_V2` can be set)".
        if (
            len(body.get("content") or "") > 2000
            or len(body.get("embeds") or []) > 10
            or (body.get("flags") or 0) & ~CREATE_MESSAGE_FLAGS
        ):
            return _json({"message": "Invalid Form Body", "code": 50035}, 400)
        ref = (body.get("message_reference") or {}).get("message_id")
        if ref is not None and (self.messages.get(int(ref)) or {}).get("channel_id") != cid:
            # A reply answers a message of its own channel: "`channel_id` is optional when
            # creating a reply" (resources/message.mdx, Message Reference Structure) because it
            # is the channel the reply is posted in, and `fail_if_not_exists` defaults to true.
            # (Inferred from those two lines; the docs give no error code for it.)
            return _json({"message": "Invalid Form Body", "code": 50035}, 400)
        call.message = await self._bot_message(cid, body, self._files_as_attachments(call, cid))
        return _json(call.message)

    async def _r_history(self, call: Call, cid: str) -> web.Response:
        before, after = int(call.query.get("before", 1 << 63)), int(call.query.get("after", 0))
        found = sorted(
            (m for i, m in self.messages.items() if m["channel_id"] == cid and after < i < before),
            key=lambda m: int(m["id"]),
            reverse=True,
        )
        return _json(found[: int(call.query.get("limit", 50))])

    async def _r_get_message(self, call: Call, cid: str, mid: str) -> web.Response:
        msg = self.messages.get(int(mid))
        if msg is None or msg["channel_id"] != cid:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return _json(msg)

    async def _r_edit_message(self, call: Call, cid: str, mid: str) -> web.Response:
        msg = self.messages.get(int(mid))
        if msg is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        msg.update(
            {k: v for k, v in (call.json or {}).items() if k in ("content", "embeds", "flags")}
        )
        msg["edited_timestamp"] = _now()
        return _json(msg)

    async def _r_delete_message(self, call: Call, cid: str, mid: str) -> web.Response:
        self.messages.pop(int(mid), None)
        return web.Response(status=204)

    async def _r_callback(self, call: Call, token: str) -> web.Response:
        interaction = self.interactions.get(token)
        if interaction is None:
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        if token in self.originals:
            return _json(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
            )
        kind, body = call.json["type"], call.json.get("data") or {}
        if kind not in CALLBACKS_FOR[interaction["type"]]:
            return _json({"message": "Interaction callback type not allowed", "code": 50035}, 400)
        result: Json = {
            "id": interaction["id"],
            "type": interaction["type"],
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool((body.get("flags") or 0) & EPHEMERAL),
        }
        response: Json = {"interaction": result}
        if kind in (4, 5):  # CHANNEL_MESSAGE_WITH_SOURCE / DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            msg = await self._bot_message(
                interaction["channel_id"],
                body,
                self._files_as_attachments(call, interaction["channel_id"]),
                msg_type=20,
                webhook=True,
                extra_flags=LOADING if kind == 5 else 0,
            )
            self.originals[token] = msg
            call.message = msg
            result["response_message_id"] = msg["id"]
            response["resource"] = {"type": kind, "message": msg}
        elif kind == 7:  # UPDATE_MESSAGE: edits the message the component is on
            target = self.messages[int(interaction["message"]["id"])]
            target.update(
                {k: v for k, v in body.items() if k in ("content", "embeds", "components")}
            )
            self.originals[token] = call.message = target
        else:  # 6 (DEFERRED_UPDATE_MESSAGE), 8 (autocomplete choices), 9 (modal)
            if kind == 8:
                choices = body.get("choices")
                # "autocomplete choices (max of 25 choices)", each name and value 1-100 chars
                # (receiving-and-responding.mdx; application-commands.mdx, Option Choice)
                if (
                    not isinstance(choices, list)
                    or len(choices) > 25
                    or any(
                        not 1 <= len(c["name"]) <= 100 or not 1 <= len(str(c["value"])) <= 100
                        for c in choices
                    )
                ):
                    return _json({"message": "Invalid Form Body", "code": 50035}, 400)
            self.originals[token] = {}
        return _json(response)

    async def _r_followup(self, call: Call, token: str) -> web.Response:
        interaction = self.interactions.get(token)
        if interaction is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        original = self.originals.get(token) or {}
        if original.get("flags", 0) & LOADING and int(original["id"]) in self.messages:
            # interactions/receiving-and-responding.mdx, Create Followup Message: "When using
            # this endpoint directly after responding to an interaction with
            # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, this endpoint will function as Edit Original
            # Interaction Response ... no new message will be created, and the loading message
            # will be edited instead. The ephemeral flag will be ignored, and the value you
            # provided in the initial defer response will be preserved" (and issue 2866 there:
            # an "ephemeral" first follow-up to a public defer is seen by the whole channel).
            body = call.json or {}
            original.update(
                {k: v for k, v in body.items() if k in ("content", "embeds")}
                | {"components": _check_components(body.get("components"))}
            )
            original["flags"] &= ~LOADING  # the flags otherwise stay the defer's
            if call.files:
                original["attachments"] = self._files_as_attachments(call, original["channel_id"])
            call.message = original
            return _json(original)
        # Otherwise a follow-up is a new message with its own flags. After the loading message
        # was deleted there is nothing left to edit, so the next follow-up is a new message too
        # (the docs describe only the edit of an existing loading message).
        cid = interaction["channel_id"]
        call.message = await self._bot_message(
            cid, call.json or {}, self._files_as_attachments(call, cid), webhook=True
        )
        return _json(call.message)

    def _webhook_message(self, token: str, mid: str) -> Json | None:
        return self.originals.get(token) if mid == "@original" else self.messages.get(int(mid))

    async def _r_webhook_get(self, call: Call, token: str, mid: str) -> web.Response:
        msg = self._webhook_message(token, mid)
        return _json(msg) if msg else _json({"message": "Unknown Message", "code": 10008}, 404)

    async def _r_webhook_edit(self, call: Call, token: str, mid: str) -> web.Response:
        msg = self._webhook_message(token, mid)
        if not msg:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        body = call.json or {}
        msg.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
        msg["flags"] &= ~LOADING  # editing the deferred response clears LOADING
        if call.files:
            msg["attachments"] = self._files_as_attachments(call, msg["channel_id"])
        msg["edited_timestamp"] = _now()
        call.message = msg
        return _json(msg)

    async def _r_webhook_delete(self, call: Call, token: str, mid: str) -> web.Response:
        msg = self._webhook_message(token, mid)
        if not msg:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        self.messages.pop(int(msg["id"]), None)
        return web.Response(status=204)

    async def _r_sync_commands(self, call: Call, gid: str | None = None) -> web.Response:
        """Bulk overwrite (``tree.sync``): keep ids stable per name, like Discord does."""
        key = int(gid) if gid else None
        old = {c["name"]: c["id"] for c in self.commands.get(key, [])}
        self.commands[key] = [
            {
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                **c,
                "id": old.get(c["name"]) or str(snowflake()),
                "application_id": self.application["id"],
                "version": str(snowflake()),
                **({"guild_id": gid} if gid else {}),
            }
            for c in call.json or []
        ]
        return _json(self.commands[key])

    async def _r_get_commands(self, call: Call, gid: str | None = None) -> web.Response:
        return _json(self.commands.get(int(gid) if gid else None, []))


def _check_components(components: Any) -> list[Json]:
    """Buttons as components/reference.mdx allows them: action rows (type 1) of at most 5
    buttons (type 2); "Non-link ... buttons **must** have a `custom_id`, and cannot have a
    `url`"; "Link buttons **must** have a `url`, and cannot have a `custom_id`"; custom_id
    1-100 characters, unique per message; label at most 80 characters; url at most 512."""
    rows = components or []
    ids = []
    for row in rows:
        assert row["type"] == 1 and 1 <= len(row["components"]) <= 5, row
        for button in row["components"]:
            assert button["type"] == 2, button
            if button["style"] == 5:
                assert "custom_id" not in button and 0 < len(button["url"]) <= 512, button
            else:
                assert "url" not in button and 1 <= len(button["custom_id"]) <= 100, button
                ids.append(button["custom_id"])
            assert len(button.get("label") or "") <= 80, button
    assert len(rows) <= 5 and len(ids) == len(set(ids)), rows
    return rows


def _infer_option_type(value: Any) -> int:
    """Slash-command option type for a Python value when the command was never synced."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3  # STRING (attachment ids are handled by the caller)


def is_private(call: Call) -> bool:
    """Whether what ``call`` posted is seen only by the member (EPHEMERAL), as Discord shows it:
    after the fake applied its rules, not as the bot asked."""
    assert call.message is not None, f"{call.method} {call.path} posted no message"
    return bool(call.message["flags"] & EPHEMERAL)


def assert_private(call: Call) -> None:
    assert is_private(call), f"seen by the whole channel: {call.message}"


@contextlib.asynccontextmanager
async def running_bot(
    client: discord.Client, fake: FakeDiscord, *, token: str = "fake-token", timeout: float = 5.0
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in and run its gateway loop as a task until it is ready; on exit close and reap it.

    If the client dies before it is ready (bad payload, missing route), its exception is raised here
    instead of the test hanging on ``wait_until_ready``.
    """
    task: asyncio.Task[None] | None = None
    ready = asyncio.create_task(asyncio.sleep(0))  # replaced once login() created the ready event
    try:
        await client.login(token)  # what client.start() does, split so wait_until_ready() is safe
        task = asyncio.create_task(client.connect(), name="fake-discord-bot")
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()  # raises the client's error
            raise AssertionError("client.connect() returned before the client was ready")
        if ready not in done:
            raise AssertionError(
                f"client not ready within {timeout}s; calls: {[c.path for c in fake.calls]}"
            )
        yield client
    finally:
        ready.cancel()
        await client.close()
        for t in (ready, task):
            if t is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(t, timeout)


@pytest_asyncio.fixture(name="fake_discord", loop_scope="function")
async def fake_discord_fixture() -> AsyncIterator[FakeDiscord]:
    """Fixture ``fake_discord``: a started FakeDiscord with the default two guilds, stopped afterwards.

    Use it with ``from fake_discord import fake_discord_fixture  # noqa: F401`` in a test module.
    """
    async with FakeDiscord() as fake:
        yield fake
