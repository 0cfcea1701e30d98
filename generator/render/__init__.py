"""Rendering: the Jinja2 environment, LaTeX to MathML, and the browser assets pages load."""
