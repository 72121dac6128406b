"""Guided multi-step conversations (sign-up, posting a request…), one module each."""
