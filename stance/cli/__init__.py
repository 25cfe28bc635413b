"""Command-line entry points (thin: parse config/arguments, call the library, print)."""
