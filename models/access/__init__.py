"""People and rights: users, roles, tokens, the acting person, and the audit of every write."""
