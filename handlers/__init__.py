"""Telegram-facing layer: parse the update, call one service, render the answer.

`handlers.registry.register_handlers` is the one place where every handler is attached.
"""
