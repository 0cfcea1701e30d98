"""A user's own attention: read and validate dumps, stream long ones, chart them, build reports."""
