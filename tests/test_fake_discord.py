"""Self-test of the fake Discord server, driven by the real discord.py client.

The bot here is a throwaway defined in this file (not newsbot's): it proves the fixture speaks
enough of Discord's gateway and REST dialect for discord.py 2.7.1 to log in, receive slash
commands and mentions, reply, fetch messages and sync commands -- all on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
import zlib

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import Route
from fake_discord import (  # noqa: F401 (fake_discord_fixture registers `fake_discord`)
    FakeDiscord,
    assert_private,
    fake_discord_fixture,
    is_private,
    running_bot,
)

pytestmark = pytest.mark.server  # every test runs the fake Discord on loopback


def make_bot() -> commands.Bot:
    """A tiny bot: ``/echo`` (defer + followup), ``/size`` (Manage Server, attachment), mention replies."""
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(
        command_prefix="!",
        intents=intents,
        help_command=None,
        allowed_mentions=discord.AllowedMentions.none(),
        guild_ready_timeout=0.05,  # discord.py waits 2 s for more GUILD_CREATEs by default
    )

    @bot.tree.command(name="echo", description="Echo text back")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"echo: {text}")

    @bot.tree.command(name="size", description="Size of an uploaded file")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def size(interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()  # downloaded from the fake's own CDN route
        await interaction.response.send_message(f"{file.filename}: {len(data)} bytes")

    @size.error
    async def size_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await interaction.response.send_message(f"denied: {type(error).__name__}", ephemeral=True)

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author == bot.user or bot.user not in message.mentions:
            return
        parent = "none"
        if message.reference and message.reference.message_id:
            parent = (await message.channel.fetch_message(message.reference.message_id)).content
        await message.reply(f"pong (parent: {parent})")

    return bot


@pytest.mark.asyncio(loop_scope="function")
async def test_slash_command_mention_reply_and_sync(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = make_bot()
    async with running_bot(bot, fake):
        # Ready: logged in over REST, IDENTIFYed with our intents, both guilds cached with the bot member.
        await fake.wait_ready()
        assert bot.user is not None and str(bot.user.id) == fake.bot_user["id"]
        assert {g.id for g in bot.guilds} == {g.id for g in fake.guilds}
        for fg in fake.guilds:
            guild = bot.get_guild(fg.id)
            assert (
                guild is not None
                and guild.me is not None
                and guild.get_channel(fg.channel_id) is not None
            )
        assert fake.identify is not None and fake.identify["intents"] & (1 << 15)

        # tree.sync() -> bulk overwrite; the fake assigns command ids.
        synced = await bot.tree.sync()
        put = await fake.wait_for_call(lambda c: c.matches("PUT", "/applications/*/commands"))
        assert {c["name"] for c in put.json} == {"echo", "size"}
        assert {c.name for c in synced} == {"echo", "size"} and all(c.id for c in synced)

        # /echo: deferred callback (type 5), then a followup carrying the text.
        await fake.send_interaction("echo", {"text": "hello"}, user=fake.alice)
        cb = await fake.wait_for_call(lambda c: c.matches("POST", "/interactions/*/*/callback"))
        assert cb.json["type"] == 5
        follow = await fake.wait_for_call(
            lambda c: (
                c.method in ("POST", "PATCH")
                and c.path.startswith("/webhooks/")
                and "echo: hello" in (c.json or {}).get("content", "")
            )
        )
        assert fake.calls.index(cb) < fake.calls.index(follow)

        # A mention gets a reply referencing it, with allowed_mentions from AllowedMentions.none().
        channel_id = fake.guilds[0].channel_id
        first = await fake.send_message(
            channel_id, f"{fake.mention(fake.bot_user)} hi", author=fake.alice
        )
        reply = await fake.wait_for_call(
            lambda c: (
                c.matches("POST", f"/channels/{channel_id}/messages")
                and str(c.json["message_reference"]["message_id"]) == first["id"]
            )
        )
        assert reply.json["content"] == "pong (parent: none)"
        assert reply.json["allowed_mentions"]["parse"] == []
        assert "replied_user" not in reply.json["allowed_mentions"]  # omitted unless True

        # Reply chain: answering the bot's reply makes it fetch the parent via REST.
        bot_reply = next(
            m
            for m in fake.messages.values()
            if m["author"]["id"] == fake.bot_user["id"] and m["content"] == "pong (parent: none)"
        )
        await fake.send_message(
            channel_id,
            f"{fake.mention(fake.bot_user)} again",
            author=fake.admin,
            message_reference=int(bot_reply["id"]),
        )
        await fake.wait_for_call(
            lambda c: c.matches("GET", f"/channels/{channel_id}/messages/{bot_reply['id']}")
        )
        await fake.wait_for_call(
            lambda c: (
                c.matches("POST", "/channels/*/messages")
                and c.json["content"] == "pong (parent: pong (parent: none))"
            )
        )

        # Files go out as multipart/form-data; payload_json and the file parts are both recorded,
        # and the returned attachment is downloadable from the fake.
        channel = bot.get_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("report", file=discord.File(io.BytesIO(b"abc"), "r.txt"))
        upload = await fake.wait_for_call(lambda c: c.files != [])
        assert upload.json["content"] == "report" and upload.files == [("r.txt", b"abc")]
        assert await sent.attachments[0].read() == b"abc"

    assert bot.is_closed()
    assert not [c for c in fake.calls if c.status == 404], [
        c.path for c in fake.calls if c.status == 404
    ]
    assert fake.blocked == []


@pytest.mark.asyncio(loop_scope="function")
async def test_permissions_and_attachment_option(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = make_bot()
    async with running_bot(bot, fake):
        await bot.tree.sync(guild=None)
        notes = fake.attachment("notes.txt", b"hello world")

        # Without Manage Server the check fails and the error handler answers ephemerally.
        await fake.send_interaction("size", {"file": notes}, user=fake.alice)
        denied = await fake.wait_for_call(lambda c: c.matches("POST", "/interactions/*/*/callback"))
        assert denied.json["type"] == 4
        assert denied.json["data"]["content"] == "denied: MissingPermissions"
        assert denied.json["data"]["flags"] & 64

        # With it, the bot downloads the attachment from the fake (127.0.0.1) and answers.
        await fake.send_interaction(
            "size", {"file": notes}, user=fake.admin, guild_id=fake.guilds[1].id
        )
        ok = await fake.wait_for_call(
            lambda c: (
                c.matches("POST", "/interactions/*/*/callback")
                and c.json["data"].get("content") == "notes.txt: 11 bytes"
            )
        )
        assert "flags" not in ok.json["data"] or not ok.json["data"]["flags"] & 64
    assert fake.blocked == []


@pytest.mark.asyncio(loop_scope="function")
async def test_message_content_intent_is_enforced(fake_discord: FakeDiscord) -> None:
    """Without the message_content intent Discord blanks content unless the bot is mentioned."""
    fake = fake_discord
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    seen: list[tuple[str, bool]] = []
    got_two = asyncio.Event()

    @client.event
    async def on_message(message: discord.Message) -> None:
        assert isinstance(
            message.author, discord.Member
        )  # built from the event's member + guild roles
        seen.append((message.content, message.author.guild_permissions.manage_guild))
        if len(seen) == 2:
            got_two.set()

    async with running_bot(client, fake):
        channel_id = fake.guilds[1].channel_id
        await fake.send_message(channel_id, "plain chatter")
        await fake.send_message(
            channel_id, f"{fake.mention(fake.bot_user)} hello", author=fake.admin
        )
        await asyncio.wait_for(got_two.wait(), 5)
    assert seen == [("", False), (f"<@{fake.bot_user['id']}> hello", True)]


@pytest.mark.parametrize("compress", ["zlib-stream", "zstd-stream", None])
@pytest.mark.asyncio(loop_scope="function")
async def test_gateway_transport_compression(compress: str | None) -> None:
    """HELLO arrives the way discord.py's decompressors expect for each ``compress`` query value."""
    if compress == "zstd-stream":
        zstandard = pytest.importorskip("zstandard")
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        url = (
            fake.gateway_url + "?v=10&encoding=json" + (f"&compress={compress}" if compress else "")
        )
        async with session.ws_connect(url) as ws:
            frame = await ws.receive(timeout=5)
            if compress is None:
                hello = json.loads(frame.data)
            elif compress == "zlib-stream":
                assert frame.data.endswith(b"\x00\x00\xff\xff")  # discord.py waits for this marker
                hello = json.loads(zlib.decompressobj().decompress(frame.data))
            else:
                hello = json.loads(
                    zstandard.ZstdDecompressor().decompressobj().decompress(frame.data)
                )
            assert hello == {"op": 10, "d": {"heartbeat_interval": 45000}}
            await ws.send_str(json.dumps({"op": 1, "d": None}))
            ack = await ws.receive(timeout=5)
            assert (
                ack.type is aiohttp.WSMsgType.TEXT if compress is None else aiohttp.WSMsgType.BINARY
            )
    assert Route.BASE == "https://discord.com/api/v10"  # patches undone on exit


@pytest.mark.asyncio(loop_scope="function")
async def test_non_loopback_traffic_is_refused() -> None:
    """The loop guard refuses DNS lookups and connects to anything but loopback (checked offline:
    the loop's real methods are swapped for recorders first, so nothing can leave the machine)."""
    loop = asyncio.get_running_loop()
    reached: list[object] = []

    async def recorder(*args: object, **kwargs: object) -> None:
        reached.append(args[0])

    for attr in ("getaddrinfo", "sock_connect", "create_connection"):
        setattr(loop, attr, recorder)
    try:
        async with FakeDiscord() as fake:
            with pytest.raises(ConnectionRefusedError):
                await loop.getaddrinfo("discord.com", 443)
            with pytest.raises(ConnectionRefusedError):
                await loop.sock_connect(None, ("162.159.128.233", 443))  # type: ignore[arg-type]
            with pytest.raises(ConnectionRefusedError):
                await loop.create_connection(asyncio.Protocol, "gateway.discord.gg", 443)
            await loop.getaddrinfo("127.0.0.1", 80)  # loopback passes through to the real method
            assert fake.blocked == [
                "DNS lookup discord.com",
                "connect 162.159.128.233",
                "connect gateway.discord.gg",
            ]
        assert reached == ["127.0.0.1"]
        assert loop.getaddrinfo is recorder  # the guard was removed on stop()
    finally:
        for attr in ("getaddrinfo", "sock_connect", "create_connection"):
            delattr(loop, attr)


def make_responding_bot() -> commands.Bot:
    """A bot that answers the ways a Discord front end may: a refusal sent as an "ephemeral"
    follow-up after a public or a private defer, threads, buttons and autocomplete."""
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)

    @bot.tree.command(name="refuse", description="Defer, then refuse privately")
    async def refuse(interaction: discord.Interaction, private_defer: bool) -> None:
        await interaction.response.defer(thinking=True, ephemeral=private_defer)
        await interaction.followup.send("no", ephemeral=True)
        await interaction.followup.send("and no again", ephemeral=True)

    @bot.tree.command(name="pick", description="Autocompleted")
    async def pick(interaction: discord.Interaction, fruit: str) -> None:
        await interaction.response.send_message(fruit)

    @pick.autocomplete("fruit")
    async def fruits(
        interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f, value=f) for f in ("apple", "apricot", "pear") if f.startswith(typed)]  # fmt: skip

    class Vote(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)
            self.add_item(discord.ui.Button(label="Read", url="https://example.com/a"))

        @discord.ui.button(label="Up", custom_id="vote:up")
        async def up(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.send_message("thanks", ephemeral=True)

    bot.add_view(Vote())

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot or message.type is not discord.MessageType.default:
            return
        if isinstance(message.channel, discord.Thread):
            history = [m.content async for m in message.channel.history(oldest_first=True)]
            await message.channel.send(f"seen {len(history)}: {history}")
            return
        thread = await message.create_thread(name=message.content[:100])
        await thread.send("in the thread", view=Vote())

    return bot


@pytest.mark.asyncio(loop_scope="function")
async def test_the_first_follow_up_after_a_defer_keeps_the_defers_visibility(
    fake_discord: FakeDiscord,
) -> None:
    """Discord's rule, held by the fake: an "ephemeral" refusal after a PUBLIC defer is seen
    by the whole channel, so a bot that does it fails `assert_private`."""
    fake = fake_discord
    async with running_bot(make_responding_bot(), fake) as bot:
        await bot.tree.sync()
        for private_defer in (False, True):
            token = (await fake.send_interaction("refuse", {"private_defer": private_defer}))["token"]  # fmt: skip
            first, second = [
                await fake.wait_for_call(
                    lambda c, text=text, token=token: (
                        c.matches("POST", f"/webhooks/*/{token}") and c.json["content"] == text
                    )
                )
                for text in ("no", "and no again")
            ]
            assert first.json["flags"] & 64  # the bot asked for ephemeral each time
            assert is_private(first) is private_defer  # ... Discord kept the defer's choice
            assert first.message is fake.originals[token]  # the loading message, edited
            assert_private(second)  # later follow-ups are new messages with their own flags
        public_refusal = next(c for c in fake.calls if c.path.startswith("/webhooks/") and c.json["content"] == "no")  # fmt: skip
        with pytest.raises(AssertionError, match="seen by the whole channel"):
            assert_private(public_refusal)


@pytest.mark.asyncio(loop_scope="function")
async def test_threads_buttons_and_autocomplete(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with running_bot(make_responding_bot(), fake) as bot:
        await bot.tree.sync()
        channel = fake.guilds[0].channel_id
        question = await fake.send_message(channel, "Where is the ferry?")
        start = await fake.wait_for_call(lambda c: c.matches("POST", f"/channels/{channel}/messages/{question['id']}/threads"))  # fmt: skip
        thread = fake.thread_of(question)
        assert start.status == 201 and thread is not None
        assert thread["id"] == question["id"] and thread["type"] == 11  # same id; PUBLIC_THREAD
        assert thread["parent_id"] == str(channel) and thread["name"] == "Where is the ferry?"
        sent = await fake.wait_for_call(lambda c: c.matches("POST", f"/channels/{thread['id']}/messages"))  # fmt: skip
        assert sent.message is not None and sent.message["content"] == "in the thread"
        # a second thread from the same message is refused, as Discord does
        with pytest.raises(discord.HTTPException, match="already been created"):
            await bot.http.start_thread_with_message(channel, question["id"], name="again", auto_archive_duration=60)  # fmt: skip

        # A member's message in the thread: MESSAGE_CREATE with the thread as channel; the
        # history endpoint reads the thread back (the THREAD_STARTER_MESSAGE is its first).
        await fake.send_message(thread["id"], "and when does it leave?")
        seen = await fake.wait_for_call(lambda c: c.matches("POST", f"/channels/{thread['id']}/messages") and c.json["content"].startswith("seen"))  # fmt: skip
        assert seen.json["content"] == "seen 3: ['', 'in the thread', 'and when does it leave?']"

        # Buttons: the one with a custom_id sends a type-3 interaction; a link button has none.
        [link] = [b for row in sent.message["components"] for b in row["components"] if b["style"] == 5]  # fmt: skip
        assert "custom_id" not in link and link["url"] == "https://example.com/a"
        with pytest.raises(ValueError, match="no button"):
            await fake.click(sent.message, "https://example.com/a")
        click = await fake.click(sent.message, "vote:up")
        answer = await fake.wait_for_call(lambda c: c.matches("POST", f"/interactions/*/{click['token']}/callback"))  # fmt: skip
        assert answer.json["type"] == 4 and is_private(answer)

        # Autocomplete: a type-4 interaction, answered with type 8 and at most 25 choices.
        typed = await fake.send_interaction("pick", {"fruit": "ap"}, focused="fruit")
        choices = await fake.wait_for_call(lambda c: c.matches("POST", f"/interactions/*/{typed['token']}/callback"))  # fmt: skip
        assert choices.json["type"] == 8
        assert [c["value"] for c in choices.json["data"]["choices"]] == ["apple", "apricot"]
