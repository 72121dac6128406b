"""Self-service: /profile shows every answer with an edit button (`card`), each edit is a short
conversation (`edit`), and /pause and /resume stop and restart the offers (`pause`)."""
