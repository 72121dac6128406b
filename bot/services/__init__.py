"""Use cases: plain async functions and classes that own their transaction; no Telegram here."""
