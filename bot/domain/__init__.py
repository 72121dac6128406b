"""Pure domain rules: no database, no Telegram; testable on their own."""
