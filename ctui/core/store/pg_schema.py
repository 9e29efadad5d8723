"""The schema on PostgreSQL: SQLite's migrations, translated, plus what SQLite has built in.

One source of truth: `schema.MIGRATIONS[i]` is translated statement by
statement (`ddl(i)`), so a new migration reaches both backends and the
version numbers mean the same. The translation maps SQLite's types onto
PostgreSQL's: `REAL` is `double precision`, `INTEGER` is `bigint`
(`AUTOINCREMENT` a `bigserial`) and every `TEXT` compares byte by byte
(`COLLATE "C"`, SQLite's `BINARY`), so range scans over lease paths and
`ORDER BY` agree. What has no PostgreSQL twin is replaced here:

- the FTS5 table and its triggers become a generated `tsvector` column with a
  GIN index (`decision_search` in `postgres.py` queries it);
- tables that ordered by SQLite's `rowid` get a `rowid bigserial` column;
- `glob_regex` (for `x GLOB ?`, as `x ~ glob_regex(?)`), `json_extract`,
  `json_set`, `json_remove` and `json_each(text)` are SQL functions of the
  schema, so domain SQL keeps its words.

No psycopg here: `postgres.py` is the only module that imports it.
"""

from __future__ import annotations

import re

from ctui.core.store import schema

VERSION = schema.VERSION

FUNCTIONS = r"""
CREATE FUNCTION glob_regex(pattern text) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    out text := '^';
    i int := 1;
    j int;
    n int := length(pattern);
    ch text;
BEGIN
    WHILE i <= n LOOP
        ch := substr(pattern, i, 1);
        IF ch = '*' THEN
            out := out || '.*';
        ELSIF ch = '?' THEN
            out := out || '.';
        ELSIF ch = '[' THEN
            j := i + 1;
            IF j <= n AND substr(pattern, j, 1) = '^' THEN j := j + 1; END IF;
            IF j <= n AND substr(pattern, j, 1) = ']' THEN j := j + 1; END IF;
            WHILE j <= n AND substr(pattern, j, 1) <> ']' LOOP j := j + 1; END LOOP;
            IF j > n THEN
                RETURN NULL;  -- as SQLite: a '[' never closed matches nothing
            ELSE
                out := out || '[' || replace(substr(pattern, i + 1, j - i - 1), '\', '\\') || ']';
                i := j;
            END IF;
        ELSIF strpos('.^$+(){}|\]', ch) > 0 THEN
            out := out || '\' || ch;
        ELSE
            out := out || ch;
        END IF;
        i := i + 1;
    END LOOP;
    RETURN out || '$';
END
$$;
CREATE FUNCTION json_path(path text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT string_to_array(substr(path, 3), '.')
$$;
CREATE FUNCTION json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT doc::jsonb #>> @.json_path(path) $$;
CREATE FUNCTION json_set(doc text, path text, value bigint) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_set(doc::jsonb, @.json_path(path), to_jsonb(value))::text
$$;
CREATE FUNCTION json_set(doc text, path text, value text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_set(doc::jsonb, @.json_path(path), to_jsonb(value))::text
$$;
CREATE FUNCTION json_remove(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT (doc::jsonb #- @.json_path(path))::text $$;
CREATE FUNCTION json_each(doc text) RETURNS TABLE(value text)
    LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_array_elements_text(doc::jsonb) $$;
"""

SEARCH = """
ALTER TABLE decisions ADD COLUMN rowid BIGSERIAL;
ALTER TABLE decisions ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', title || ' ' || description || ' ' || category)) STORED;
CREATE INDEX decisions_search ON decisions USING gin(search);
"""

EXTRA = {
    0: [FUNCTIONS, SEARCH],
    2: ["ALTER TABLE orchestrator_runs ADD COLUMN rowid BIGSERIAL;"],
}
"""PostgreSQL-only statements run at the end of migration i (scripts of `;`-ended statements)."""

SKIPPED = re.compile(r"\s*CREATE\s+(VIRTUAL\s+TABLE|TRIGGER)\b", re.I)

TYPES = [  # case-sensitive: the DDL writes types in capitals, names in small letters
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b"), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
]


def ddl(step: int, name: str) -> list[str]:
    """The PostgreSQL statements of migration `step` (SQLite's, translated, then EXTRA's)
    for the schema `name` (function bodies name it: they run under any search_path)."""
    out = [_translate(s) for s in split(schema.MIGRATIONS[step]) if not SKIPPED.match(s)]
    for script in EXTRA.get(step, []):
        out += split(script.replace("@.", f"{name}."))
    return out


def _translate(statement: str) -> str:
    for pattern, replacement in TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


def split(script: str) -> list[str]:
    """Statements of a script: split at `;` outside quotes, dollar quotes and trigger bodies."""
    out, buffer, quote, depth = [], "", "", 0
    i = 0
    while i < len(script):
        ch = script[i]
        if quote:
            if script.startswith(quote, i):
                buffer += quote
                i += len(quote)
                quote = ""
                continue
        elif ch == "'":
            quote = "'"
        elif script.startswith("$$", i):
            quote = "$$"
            buffer += "$$"
            i += 2
            continue
        elif re.match(r"\bBEGIN\b", script[i : i + 6], re.I) and _word_start(script, i):
            depth += 1
        elif re.match(r"\bEND\b", script[i : i + 4], re.I) and _word_start(script, i):
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            if buffer.strip():
                out.append(buffer.strip())
            buffer = ""
            i += 1
            continue
        buffer += ch
        i += 1
    if buffer.strip():
        out.append(buffer.strip())
    return out


def _word_start(text: str, i: int) -> bool:
    return i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
