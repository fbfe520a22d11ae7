"""Tools shipped with the template."""
