"""The browser UI: server-rendered pages (Jinja2, autoescaped) and small ES modules.

Nothing is loaded from another origin and nothing inline runs, so the pages work under
the default Content-Security-Policy unchanged.
"""
