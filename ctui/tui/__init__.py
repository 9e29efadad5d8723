"""The control room: a Textual app that reads the core and calls it (`ctui` or `ctui tui`).

Importing this package imports nothing heavy; `ctui.tui.app.ControlRoom` is the app.
"""
