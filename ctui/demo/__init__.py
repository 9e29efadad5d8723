"""The demo: a scratch repository, simulated agents and a fake agent binary.

`ctui demo` uses these so a new user sees the control room alive without any
agent installed; the tests and the screenshot script use them for seeded stores.
"""
