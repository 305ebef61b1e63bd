"""Rendering results: MIME bundles, streaming output, tables, diff views and widgets."""
