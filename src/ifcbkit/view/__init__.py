"""Pictures: notebook display helpers and mosaics."""
