"""The centre's SQLite database: schema and migrations, row mapping, accounts, backups."""
