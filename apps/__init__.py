"""Command-line apps (installed as ``tfxai.apps``): option parsing, progress and errors only."""
