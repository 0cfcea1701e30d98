"""Options of the ``attention-atlas`` MkDocs plugin."""

from __future__ import annotations

from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class AtlasPluginConfig(Config):
    """``plugins: [attention-atlas]`` options.

    Attributes
    ----------
    assets_dir : str
        Folder of the built site (and URL path) the chart assets go to.
    assets : bool
        Ship the assets and list them in ``extra_javascript``/``extra_css``; turn off
        when the site already provides them (it runs ``attention-atlas assets``).
    """

    assets_dir = c.Type(str, default="assets/atlas")
    assets = c.Type(bool, default=True)
