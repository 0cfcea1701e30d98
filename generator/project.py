"""A project folder: the paths a build derives from it, and the checks made before any work.

Light on purpose: the command runs these checks before it loads the build machinery
(Altair, the scenarios), so a wrong ``--out`` or ``--site-url`` is refused in a
fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import attention_atlas
from attention_atlas import publish
from attention_atlas.errors import AtlasError
from attention_atlas.render import templating


@dataclass(frozen=True)
class Project:
    """Every path a build derives, computed in one place."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "mkdocs.yml"

    @property
    def docs(self) -> Path:
        return self.root / "site_src"

    @property
    def assets(self) -> Path:
        return self.docs / "assets" / "atlas"

    @property
    def cache(self) -> Path:
        return self.root / ".atlas-cache"

    def site(self, out: Path | None = None) -> Path:
        """Where the site goes: ``out``, or ``site/`` in the project folder; resolved."""
        return (out or self.root / "site").resolve()

    def protected(self) -> dict[Path, str]:
        """Folders an output folder may never be nor contain."""
        return {
            self.root: "the project folder",
            self.docs: "the docs folder (site_src/)",
            self.root / "templates": "the templates folder",
            templating.templates_dir(): "the templates folder",
            Path(attention_atlas.__file__).parent: "the package's source folder",
            self.cache: "the build cache (.atlas-cache/)",
        }

    def check_out(self, out: Path) -> None:
        """Refuse an output folder the site cannot go to, before any work: one inside the
        docs folder (MkDocs would copy it into itself), a protected folder, a folder the
        package did not make, or a place that cannot be written."""
        docs = self.docs.resolve()
        if docs in out.resolve().parents:
            msg = f"--out {out}: is inside the docs folder {docs}; choose a folder outside it"
            raise AtlasError(msg)
        publish.check_out(out, protected=self.protected())

    def check_layout(self) -> None:
        if not self.config.is_file():
            msg = f"{self.config}: not found; run attention-atlas from the project folder"
            raise AtlasError(msg)
        if not self.docs.is_dir():
            msg = f"{self.docs}: the docs folder (site_src/) is missing"
            raise AtlasError(msg)


def check_site_url(url: str) -> str:
    """``--site-url``: an absolute http(s) URL, returned ending in ``/``.

    The deployed site's address: MkDocs writes it into every page's canonical link and
    the sitemap, and Material's instant navigation runs only on that origin.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        msg = (
            f"--site-url {url!r}: expected the absolute http(s) address the site is served "
            "from, such as https://example.org/atlas/"
        )
        raise AtlasError(msg)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
