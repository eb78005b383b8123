"""Connectors: each turns what one kind of source sends into IncomingMentions for inbox.services.ingest."""
