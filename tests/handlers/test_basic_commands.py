"""Fast handler tests: the real application, real Update objects, Bot API calls recorded."""

from __future__ import annotations

from typing import Any

import pytest

from bot.services.members import MemberService
from storage import members as member_store
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID


async def test_start_greets_a_newcomer_in_french_with_a_join_button(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    zoe = world.add_user("Zoé", language_code="fr")
    zoe.send_command("start")
    await brigade.deliver()
    reply = zoe.last_message
    assert reply.text.startswith("Bonjour Zoé\u202f!")
    assert "pas encore membre de la brigade (Chambéry)" in reply.text
    assert reply.labels == ["🙋 Devenir bénévole"]
    assert world.unsupported_calls == []


async def test_start_speaks_english_to_an_english_telegram(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    tom = world.add_user("Tom", language_code="en-GB")
    tom.send_command("start")
    await brigade.deliver()
    assert tom.last_message.text.startswith("Hello Tom!")
    assert "Send /help to see your commands." in tom.last_message.text


async def test_start_greets_the_coordinator_from_settings_by_role(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="fr")
    claire.send_command("start")
    await brigade.deliver()
    assert "Vous coordonnez la brigade (Chambéry)" in claire.last_message.text
    # Nobody waits: the applications' button has no count; no "Become a volunteer" here.
    assert claire.last_message.labels == ["📝 Candidatures", "📋 Demandes ouvertes", "📊 Chiffres"]
    # The coordinator's own menu lists coordinator commands, in French.
    names = [command["command"] for command in claire.menu]
    assert {"pending", "invite"} <= set(names)


async def test_help_lists_only_the_commands_of_the_role(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    newcomer = world.add_user("Ana", language_code="fr")
    coordinator = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    newcomer.send_command("help")
    coordinator.send_command("help")
    await brigade.deliver()
    assert newcomer.last_message.text.startswith("Vos commandes\u202f:")
    assert "/join" in newcomer.last_message.text
    assert "/pending" not in newcomer.last_message.text
    assert coordinator.last_message.text.startswith("Your commands:")
    assert "/pending — Volunteer applications waiting for you" in coordinator.last_message.text


async def test_language_switch_changes_every_later_answer(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    ana = world.add_user("Ana", language_code="fr")
    ana.send_command("language")
    await brigade.deliver()
    assert ana.last_message.text == "Choisissez votre langue\u202f:"
    ana.tap("English")
    await brigade.deliver()
    assert ana.callback_answers  # the tap was answered: no endless spinner
    assert ana.last_message.text == "Language set: English."
    ana.send_command("start")
    await brigade.deliver()
    assert ana.last_message.text.startswith("Hello Ana!")
    ana.send_command("language")
    await brigade.deliver()
    ana.tap("Nederlands")
    await brigade.deliver()
    assert ana.last_message.text == "Taal ingesteld: Nederlands."
    # The personal menu follows the chosen language.
    assert any(command["description"] == "Uw taal kiezen" for command in ana.menu)


async def test_the_default_menus_exist_in_every_language(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    for language, start in (("fr", "Commencer"), ("en", "Start"), ("nl", "Beginnen")):
        person = world.add_user(f"P-{language}", language_code=language)
        descriptions = [command["description"] for command in person.menu]
        assert descriptions[0].startswith(start), (language, descriptions)


async def test_bad_input_gets_a_clear_answer(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    ana = world.add_user("Ana", language_code="fr")
    ana.send_sticker()
    await brigade.deliver()
    assert "Je n’attendais pas de message ici" in ana.last_message.text
    ana.send_command("frobnicate")
    await brigade.deliver()
    assert "Je ne connais pas cette commande" in ana.last_message.text
    ana.send_text("x" * 4096)
    await brigade.deliver()
    assert "Je n’attendais pas de message ici" in ana.last_message.text


async def test_a_forged_or_stale_button_is_answered_and_changes_nothing(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    ana = world.add_user("Ana", language_code="fr")
    ana.send_command("language")
    await brigade.deliver()
    menu_message = ana.last_message
    for forged in (
        "lang:de",
        "lang:fr:extra",
        "totally-unknown",
        "vet:approve:1",
        "inv:coordinator",
    ):
        ana.tap_data(menu_message, forged)
    await brigade.deliver()
    answers = [answer.text for answer in ana.callback_answers]
    assert len(answers) == 5
    assert answers[0] == "Ce bouton n’est plus valable."
    assert "réservée aux coordinateur" in (answers[3] or "")
    assert "réservée aux coordinateur" in (answers[4] or "")
    member = await brigade.services.members.find(ana.id)
    assert member is not None
    assert member.chosen_language is None
    assert member.roles == frozenset()


async def test_a_failing_handler_apologises_in_the_persons_language(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    tom = world.add_user("Tom", language_code="en")
    world.faults.fail("sendMessage", status=500, times=1)
    tom.send_command("start")
    await brigade.deliver()
    assert tom.last_message.text == (
        "Sorry, something went wrong on our side. Please try again in a moment."
    )


async def test_a_command_reads_its_sender_once_and_a_known_coordinator_writes_nothing(
    world: FakeTelegram, brigade: InProcessBrigade, monkeypatch: pytest.MonkeyPatch
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("help")  # the first time: her row and her role are written
    await brigade.deliver()
    reads: list[int] = []
    refreshes: list[int] = []
    transactions: list[object] = []
    read_identity = member_store.identity_of
    read_identities = member_store.identities_of
    read_identities_plain = member_store.identities_plain
    refresh = MemberService._refresh
    database = brigade.services.database
    transaction, core_transaction = database.transaction, database.core_transaction
    one_trip = database.write_in_one_trip

    async def counted_read(session: Any, telegram_id: int) -> Any:
        reads.append(telegram_id)
        return await read_identity(session, telegram_id)

    async def counted_reads(session: Any, telegram_ids: Any) -> Any:
        telegram_ids = list(telegram_ids)
        reads.extend(telegram_ids)
        return await read_identities(session, telegram_ids)

    def counted_plain_reads(connection: Any, dialect: Any, telegram_ids: Any) -> Any:
        telegram_ids = list(telegram_ids)
        reads.extend(telegram_ids)
        return read_identities_plain(connection, dialect, telegram_ids)

    async def counted_refresh(self: MemberService, who: Any) -> Any:
        refreshes.append(who.telegram_id)
        return await refresh(self, who)

    def counted_transaction(*args: Any, **kwargs: Any) -> Any:
        transactions.append("session")
        return transaction(*args, **kwargs)

    def counted_core_transaction() -> Any:
        transactions.append("core")
        return core_transaction()

    def counted_one_trip(work: Any) -> Any:
        transactions.append("one trip")
        return one_trip(work)

    monkeypatch.setattr(member_store, "identity_of", counted_read)
    monkeypatch.setattr(member_store, "identities_of", counted_reads)
    monkeypatch.setattr(member_store, "identities_plain", counted_plain_reads)
    monkeypatch.setattr(MemberService, "_refresh", counted_refresh)
    monkeypatch.setattr(database, "core_transaction", counted_core_transaction)
    monkeypatch.setattr(database, "transaction", counted_transaction)
    monkeypatch.setattr(database, "write_in_one_trip", counted_one_trip)
    claire.send_command("help")
    await brigade.deliver()
    assert claire.last_message.text.startswith("Your commands:")
    # /help, then the charter reminder after every command: one read for both handlers, made
    # by the update gate in its own transaction, and the coordinator named in the settings,
    # who holds the role already, is not written again.
    assert reads == [COORDINATOR_ID]
    assert refreshes == []
    # The gate's insert and the identity read share one transaction (on SQLite, one trip to
    # the connection's thread); no read session follows (`identity_of`, which opens one, was
    # not called).
    assert transactions == ["one trip" if database.writes_in_one_trip else "core"]
