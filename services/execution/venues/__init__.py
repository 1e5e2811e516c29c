"""Venue adapters behind one interface (`base.Venue`): `paper` is built in."""
