"""The guides as antsibull-docs extra docs: RST made from the Markdown guides at build time (one source).

    docs_rst.py --dest DIR        # writes DIR/<guide>.rst for every guide docs/docsite/extra-docs.yml names

The Markdown files stay the source (GitHub renders them, the README links them); `make docs` and
`make release-check` run this, nothing generated is committed. pandoc (PyPI pypandoc-binary, in
requirements-docs.txt) converts; before that, links between the guides are pointed at the built pages, links to
the README and the roles' READMEs at the collection's and roles' pages, and links to files that are not part of
the site (lab, bench, playbooks) become the file's name in the repository.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pypandoc
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXTRA_DOCS = ROOT / "docs" / "docsite" / "extra-docs.yml"
# Guide name (as in extra-docs.yml) -> its Markdown source.
SOURCES = {
    "quickstart": "docs/quickstart.md",
    "runbook": "docs/runbook.md",
    "ceremony": "docs/ceremony.md",
    "awx": "docs/awx.md",
    "readiness": "docs/readiness.md",
    "modules": "docs/modules.md",
    "drlab": "lab/README.md",
    "reliability": "docs/reliability.md",
    "troubleshooting": "docs/troubleshooting.md",
}
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)")
COMMENT = re.compile(r"<!--.*?-->\n?", re.S)


def guides() -> list[str]:
    doc = yaml.safe_load(EXTRA_DOCS.read_text())
    names = [name for section in doc["sections"] for name in section["toctree"]]
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        sys.exit(f"docs_rst.py: extra-docs.yml names {', '.join(unknown)}, which SOURCES in {__file__} "
                 "does not map to a Markdown file: add them there")
    return names


def rewrite_links(text: str, source: Path, pages: dict[Path, str]) -> str:
    def fix(match: re.Match) -> str:
        label, target = match["text"], match["target"]
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match[0]  # a URL, or an anchor in the same page
        path, _sep, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        hash_ = f"#{anchor}" if anchor else ""
        if resolved in pages:
            return f"[{label}]({pages[resolved]}.html{hash_})"
        if resolved == ROOT / "README.md":
            return f"[{label}](../index.html)"  # the collection's page: antsibull-docs renders its plugin index
        role = re.fullmatch(r"roles/([a-z_]+)/README\.md", resolved.relative_to(ROOT).as_posix()) \
            if resolved.is_relative_to(ROOT) else None
        if role:
            return f"[{label}](../{role[1]}_role.html)"
        where = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else path
        return label if label.strip("`") == where else f"{label} (`{where}` in the repository)"

    out, fence = [], False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        out.append(line if fence else LINK.sub(fix, line))
    return "".join(out)


def convert(name: str, pages: dict[Path, str]) -> str:
    source = ROOT / SOURCES[name]
    if not source.exists():
        sys.exit(f"docs_rst.py: the guide '{name}' has no source: {source.relative_to(ROOT)} does not exist "
                 "(write it, or take the guide out of docs/docsite/extra-docs.yml)")
    markdown = rewrite_links(COMMENT.sub("", source.read_text()), source, pages)
    rst = pypandoc.convert_text(markdown, "rst", format="gfm-gfm_auto_identifiers", extra_args=["--wrap=preserve"])
    # A label per page, as antsibull-docs' own pages have, so other RST can :ref: a guide.
    return (f".. Generated from {SOURCES[name]} by hacking/docs_rst.py: edit the Markdown, not this file.\n\n"
            f".. _ansible_collections.vaultops.dr.docsite.{name}:\n\n{rst}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", required=True, type=Path)
    args = ap.parse_args()
    names = guides()
    pages = {(ROOT / SOURCES[n]).resolve(): n for n in names}
    args.dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        (args.dest / f"{name}.rst").write_text(convert(name, pages))
    print(f"{len(names)} guides -> {args.dest}: {', '.join(names)}")


if __name__ == "__main__":
    main()
