"""Everything between page contexts and Markdown: templates, math, assets, embedding."""
