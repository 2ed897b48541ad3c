"""Example projects shipped with evergreen (generated, seeded: no download)."""
