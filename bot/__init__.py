"""Brigade: a Telegram bot with which towns run neighbourhood volunteer brigades."""
