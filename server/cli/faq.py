"""`frontdesk faq import|export`: a site's FAQ from and to CSV, JSON or Markdown files.

CSV: a header with ``question,answer,category,lang`` (``order``, ``published`` and
``phrasings`` — one per line, or separated by `` | `` — may follow). JSON: a list of
such objects (or ``{"articles": [...]}``). Markdown: a folder of ``*.md`` files, each an
answer under front matter::

    ---
    question: How long does delivery take?
    lang: en
    category: Delivery
    order: 1
    published: true
    phrasings:
      - When will my parcel arrive?
    ---
    We ship within one business day…

Import is idempotent: the same question in the same language updates that article.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

from ..config import Settings
from ..errors import FrontdeskError, NotFound
from .support import CliError, opened

FORMATS = ("csv", "json", "md")
_CSV_FIELDS = ["question", "answer", "category", "lang", "order", "published", "phrasings"]


def read_articles(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, article data) for each article in ``path``: a CSV or JSON file, or a folder of Markdown."""
    if path.is_dir():
        files = sorted(path.glob("*.md"))
        if not files:
            raise CliError(f"{path}: no *.md files in this folder")
        for file in files:
            yield file.name, read_markdown(file.read_text(encoding="utf-8-sig"))
        return
    if not path.is_file():
        raise CliError(f"{path}: no such file or folder")
    raw = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" or raw.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CliError(f"{path}: not JSON ({exc})") from None
        items = data.get("articles") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise CliError(f"{path}: expected a list of articles (or {{\"articles\": [...]}})")
        for index, item in enumerate(items, 1):
            yield f"article {index}", item if isinstance(item, dict) else {}
        return
    reader = csv.DictReader(io.StringIO(raw))
    missing = {"question", "answer", "lang"} - set(reader.fieldnames or [])
    if missing:
        raise CliError(f"{path}: the CSV header lacks {', '.join(sorted(missing))} "
                       "(expected question,answer,category,lang)")
    for row in reader:
        item: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        if "phrasings" in item:
            item["phrasings"] = [p.strip() for p in re.split(r"\n| \| ", item["phrasings"]) if p.strip()]
        yield f"line {reader.line_num}", item


def read_markdown(text: str) -> dict[str, Any]:
    """Front matter (``key: value`` lines, lists as ``- item``) and the answer below it."""
    lines = text.splitlines()
    data: dict[str, Any] = {}
    if not lines or lines[0].strip() != "---":
        return {"answer": text}
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return {"answer": text}
    key: str | None = None
    for line in lines[1:end]:
        item = re.match(r"^\s+-\s+(.*)$", line)
        if item and key:
            data.setdefault(key, [])
            if isinstance(data[key], list):
                data[key].append(_unquote(item.group(1)))
            continue
        pair = re.match(r"^([A-Za-z_]+):\s*(.*)$", line)
        if pair:
            key, value = pair.group(1).lower(), pair.group(2).strip()
            data[key] = _unquote(value) if value else []
    data["answer"] = "\n".join(lines[end + 1:]).strip()
    return data


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


async def import_faq(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import sites

    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    async with opened(settings) as state:
        site = await sites.site_by_key(state.db, args.site)
        if site is None:
            raise NotFound("site_not_found", field="site")
        for where, item in read_articles(Path(args.path)):
            try:
                article, done = await state.faq.save(site, item)
            except FrontdeskError as exc:
                from ..catalogs import Catalogs

                counts["failed"] += 1
                field = f" ({exc.field})" if exc.field else ""
                print(f"{where}: skipped{field}: {Catalogs().first('en', exc.message_keys, **exc.message_params)}",
                      file=sys.stderr)
                continue
            counts[done] += 1
            if done != "unchanged":
                print(f"{where}: {done} [{article.language}] {article.question}")
        if counts["created"] or counts["updated"]:
            await state.faq.optimize()
    print(", ".join(f"{n} {what}" for what, n in counts.items()))
    if counts["failed"]:
        raise CliError(f"{counts['failed']} article(s) not imported (see above)")


def _md_name(index: int, article: dict[str, Any]) -> str:
    slug = re.sub(r"[^\w]+", "-", article["question"].lower()).strip("-")[:60] or "article"
    return f"{index:03d}-{article['lang']}-{slug}.md"


def _front_value(value: str) -> str:
    return json.dumps(value, ensure_ascii=False) if (":" in value or value[:1] in "\"'-[{#") else value


def to_markdown(article: dict[str, Any]) -> str:
    lines = ["---", f"question: {_front_value(article['question'])}", f"lang: {article['lang']}"]
    if article["category"]:
        lines.append(f"category: {_front_value(article['category'])}")
    lines += [f"order: {article['order']}", f"published: {str(article['published']).lower()}"]
    if article["phrasings"]:
        lines.append("phrasings:")
        lines += [f"  - {_front_value(p)}" for p in article["phrasings"]]
    return "\n".join(lines + ["---", article["answer"], ""])


async def export_faq(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import sites

    async with opened(settings) as state:
        site = await sites.site_by_key(state.db, args.site)
        if site is None:
            raise NotFound("site_not_found", field="site")
        articles = [a.exported() for a in await state.faq.articles(site)]
    if args.format == "md":
        if not args.out:
            raise CliError("--format md writes a folder of files: give it with --out DIR")
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        for index, article in enumerate(articles, 1):
            (folder / _md_name(index, article)).write_text(to_markdown(article), encoding="utf-8")
        print(f"{len(articles)} article(s) written to {folder}", file=sys.stderr)
        return
    if args.format == "json":
        text = json.dumps(articles, ensure_ascii=False, indent=2) + "\n"
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for article in articles:
            writer.writerow({**article, "published": str(article["published"]).lower(),
                             "phrasings": "\n".join(article["phrasings"])})
        text = out.getvalue()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(articles)} article(s) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
