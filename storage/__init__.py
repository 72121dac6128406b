"""Persistence: SQLAlchemy models, the database wrapper, repository functions and migrations.

Repository functions add and flush; they never commit. The use case (a service in `bot.services`)
opens the transaction with `Database.transaction()` and owns it.
"""
