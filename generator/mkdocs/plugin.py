"""The ``attention-atlas`` MkDocs plugin: one line in ``mkdocs.yml`` enables the fence.

``plugins: [search, attention-atlas]`` does three things:

- registers the ``attention`` custom fence with ``pymdownx.superfences``, adding the
  extension when the site does not use it yet and keeping its other custom fences;
- writes the chart assets (the Vega bundle, the chart renderer, its CSS) into the
  built site and adds them to ``extra_javascript`` / ``extra_css``, unless the site
  already lists or ships them;
- tells the fence the docs folder (``file:`` paths) and the page being built (errors).

Zensical ignores plugins: the plugin-less set-up in the "Embedding charts in MkDocs"
guide gives the same result there.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from attention_atlas.mkdocs.config import AtlasPluginConfig
from attention_atlas.mkdocs.fence import FENCE_NAME, custom_fence, set_context

log = get_plugin_logger(__name__)

SUPERFENCES = "pymdownx.superfences"

#: Assets written once per process: folder -> the names write_assets returned.
_written: dict[str, tuple[Path, list[str]]] = {}


def _assets(prefix: str) -> tuple[Path, list[str]]:
    """The assets under ``<tmp>/<prefix>/``, written on first use in this process."""
    if prefix not in _written:
        from attention_atlas.render.assets import write_assets

        root = Path(tempfile.mkdtemp(prefix="attention-atlas-assets-"))
        atexit.register(shutil.rmtree, root, True)
        names = [str(n).replace("\\", "/") for n in write_assets(root / prefix)]
        _written[prefix] = (root, names)
    return _written[prefix]


def register_fence(config: MkDocsConfig) -> None:
    """Add superfences (if missing) and the ``attention`` fence to the Markdown config."""
    extensions = config.markdown_extensions
    if SUPERFENCES not in extensions:
        extensions.append(SUPERFENCES)
    settings: dict[str, Any] = config.mdx_configs.setdefault(SUPERFENCES, {})
    fences = list(settings.get("custom_fences") or [])
    if not any(isinstance(f, dict) and f.get("name") == FENCE_NAME for f in fences):
        fences.append(custom_fence())
    settings["custom_fences"] = fences


class AtlasPlugin(BasePlugin[AtlasPluginConfig]):
    """Registers the ``attention`` fence and ships the chart assets."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._names: list[str] = []

    @property
    def _prefix(self) -> str:
        return self.config.assets_dir.strip("/")

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        register_fence(config)
        set_context(docs_dir=config.docs_dir, page=None)
        if not self.config.assets:
            return config
        self._root, self._names = _assets(self._prefix)
        scripts = {str(s) for s in config.extra_javascript}
        styles = {str(s) for s in config.extra_css}
        for name in self._names:
            url = f"{self._prefix}/{name}"
            if name.endswith(".js") and url not in scripts:
                config.extra_javascript.append(url)
            elif name.endswith(".css") and url not in styles:
                config.extra_css.append(url)
        return config

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        if self._root is None:
            return files
        for name in self._names:
            rel = f"{self._prefix}/{name}"
            if files.get_file_from_path(rel) is None:
                files.append(
                    File(
                        rel,
                        src_dir=str(self._root),
                        dest_dir=config.site_dir,
                        use_directory_urls=config.use_directory_urls,
                    )
                )
        return files

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        set_context(docs_dir=config.docs_dir, page=page.file.src_uri)
        return markdown

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        set_context(docs_dir=config.docs_dir, page=None)
        return html

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        set_context()

    def on_build_error(self, *, error: Exception) -> None:
        set_context()
