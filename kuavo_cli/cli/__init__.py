"""Typer front-end: one module per command; each parses flags, calls one library function, prints."""
