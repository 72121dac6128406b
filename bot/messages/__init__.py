"""Every message Brigade sends, in one place: notices, their renderers, and the messenger.

Use cases emit notices (`base.Notice`: values, never ORM objects) through the `Messenger`, which
renders each for each reader in the reader's language and queues the outbox rows in the use
case's transaction. One module per area (offers, claims, closing, cases, series, announcements,
reports) holds its notices and the texts and buttons of the direct answers handlers give.
"""
