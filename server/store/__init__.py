"""Storage: schema, queries per aggregate, the group-commit writer, migrations."""
