"""The verbs that change the inbox, by concern. Each validates, writes in a transaction and records an Event."""
