"""Widgets of the control room: the panes and the status bar."""
