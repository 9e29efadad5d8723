"""What the Claude Code hook does, one module per concern.

`call` turns one payload into what the hook prints and its exit code, `route`
decides whether the hook process answers it or hands it to `ctui serve` on this
host (`serve` is that server's side), `session` finds the store and the instance
behind a payload, `edits` enforces leases around Write/Edit/MultiEdit/NotebookEdit
and Bash, `lifecycle` handles the session events, `context` writes the
`additionalContext` Claude reads, and `settings` installs the hook into
`.claude/settings*.json`. Everything except `settings` and `serve` runs inside the
hook process: stdlib and `ctui.core` only.
"""
