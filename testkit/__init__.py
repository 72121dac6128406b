"""Test helpers for Brigade: simulated Telegram and friends."""
