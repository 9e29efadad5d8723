"""What the Claude Code hook does, one module per concern.

`session` finds the store and the instance behind a payload, `edits` enforces
leases around Write/Edit/MultiEdit/NotebookEdit and Bash, `lifecycle` handles
the session events, `context` writes the `additionalContext` Claude reads, and
`settings` installs the hook into `.claude/settings*.json`. Everything except
`settings` runs inside the hook process: stdlib and `ctui.core` only.
"""
