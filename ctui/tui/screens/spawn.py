"""`SpawnScreen`: the form behind `s` — start an agent run as a thread.

Fields mirror `ctui spawn`: name, template, mode, agent (and a command for the
`command` profile), a prompt, the context JSON that fills the template's
`{{var}}`s, whether to use a worktree, and its base branch. The result is the
keyword arguments for `threads.create`; a refusal from the core (a name already
taken, a missing template, an unknown base) is shown under the field it is about.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select

from ctui.tui.screens.form import FormScreen, Invalid, Submit

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MODES = ("automatic", "semi-auto", "interactive")
AGENTS = ("claude", "codex", "command")


class SpawnScreen(FormScreen):
    """Spawn a thread: an agent run in its own worktree."""

    TITLE = "Spawn a thread"
    OK = "Spawn"
    REFUSALS: ClassVar[tuple[tuple[str, str], ...]] = (
        (r"thread name|already exists|another name", "name"),
        (r"context", "context"),
        (r"template", "template"),
        (r"needs a prompt", "prompt"),
        (r"unknown agent", "agent"),
        (r"unknown mode", "mode"),
        (r"command", "command"),
        (r"\bbase\b|branch or commit", "base"),
        (r"git repository|no commits|worktree", "worktree"),
    )

    def __init__(
        self, root: Path | None = None, *, agent: str = "claude", submit: Submit | None = None
    ) -> None:
        super().__init__(submit=submit)
        self.root = root
        self.agent = agent if agent in AGENTS else "claude"

    def fields(self) -> Iterable[Widget]:
        yield from self.labelled(
            "Name",
            Input(placeholder="fix-login", id="name"),
            "a slug: lowercase letters, digits, - and _",
        )
        yield from self.labelled(
            "Template",
            Input(placeholder="prompts/task.md", id="template"),
            "a file in the repository or a built-in (fixer.md...); {{var}} comes from the context",
        )
        yield from self.labelled(
            "Prompt",
            Input(placeholder="Fix the failing login test", id="prompt"),
            "used when there is no template",
        )
        yield from self.labelled(
            "Mode", Select([(m, m) for m in MODES], value="automatic", allow_blank=False, id="mode")
        )
        yield from self.labelled(
            "Agent",
            Select([(a, a) for a in AGENTS], value=self.agent, allow_blank=False, id="agent"),
        )
        yield from self.labelled(
            "Command",
            Input(placeholder="python -m mybot {prompt}", id="command"),
            "only for the 'command' agent; {prompt} is filled in",
        )
        yield from self.labelled("Context JSON", Input(value="{}", id="context"))
        yield from self.labelled(
            "Worktree", Checkbox("run in its own git worktree", value=True, id="worktree")
        )
        yield from self.labelled("Base branch", Input(placeholder="the current branch", id="base"))

    def _template(self, text: str) -> str | None:
        """A path in the repository becomes absolute; a bare name (a built-in or one in
        `.ctui/templates/`) is left for the core to find."""
        if not text:
            return None
        if self.root is not None and (self.root / text).is_file():
            return str(self.root / text)
        if "/" in text and not Path(text).is_file():
            raise Invalid("template", f"Template: no file {text!r} in the repository.")
        return text

    def collect(self) -> dict[str, Any]:
        name = self.value("name")
        if not NAME_RE.match(name):
            raise Invalid(
                "name",
                "Name: up to 63 lowercase letters, digits, - or _; start with a letter or digit.",
            )
        template = self._template(self.value("template"))
        prompt = self.value("prompt") or None
        if not template and not prompt:
            raise Invalid("prompt", "Give a prompt, or a template file to fill.")
        agent = str(self.query_one("#agent", Select).value)
        command = self.value("command") or None
        if agent == "command" and not command:
            raise Invalid("command", "The 'command' agent needs a command line (with {prompt}).")
        try:
            context = json.loads(self.value("context") or "{}")
        except json.JSONDecodeError as exc:
            raise Invalid(
                "context", f"Context: not valid JSON ({exc.msg} at column {exc.colno})."
            ) from None
        if not isinstance(context, dict):
            raise Invalid("context", 'Context: a JSON object, such as {"issue": 42}.')
        return {
            "name": name,
            "template": template,
            "prompt": prompt,
            "mode": str(self.query_one("#mode", Select).value),
            "agent": agent,
            "command": command,
            "context": context,
            "worktree": self.query_one("#worktree", Checkbox).value,
            "base": self.value("base") or None,
        }
