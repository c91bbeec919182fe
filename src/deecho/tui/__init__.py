"""The Textual workspace; `DeechoApp` lives in `deecho.tui.app`. Nothing heavy here."""
