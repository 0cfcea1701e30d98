"""The MkDocs integration: the ``attention-atlas`` plugin, the ``attention`` fence, its config."""
