"""Sample files to try the import commands on: `python -m ctui.examples` prints their folder.

`decision-log.json` is a SkillForge decision log (`ctui decisions import`);
`tasks.json` is a `.coordination/tasks.json` task list (`ctui task import`).
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
